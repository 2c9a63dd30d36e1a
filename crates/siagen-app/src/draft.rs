//! Drafting a hospital document from a stay's notes (`POST /api/drafts`, `siagen draft`).
//!
//! 1. **authorise** the clinician (audited refusal) before anything else;
//! 2. check the input: a known kind, a pseudonymous patient reference, 1 to 50 notes (or a
//!    FHIR R4 Bundle whose DocumentReference / Composition texts are the notes), a model that
//!    exists — a refusal stores nothing;
//! 3. **section by section**, the model receives the notes through [`generate`] (so the
//!    shield pseudonymises them unless the model may receive identifiers, the generation is
//!    watermarked, metered and audited) and the section's instructions; it answers « Non
//!    renseigné » when the notes give nothing, and the section is then **missing** (mandatory
//!    ones say « À compléter : … »), never invented;
//! 4. every sentence is **checked against the notes by siagen** (`siagen_draft::check`):
//!    supported with its passages, contradicted, or unsupported — kept and shown, never dropped;
//! 5. the discharge treatment goes through the **interaction check** (ANSM thesaurus): alerts;
//! 6. the draft is **stored** as a document of its kind, in `draft`, its author the model (origin
//!    map: machine), under the usual validation; the response carries `model_input`, exactly
//!    the messages the model received.

use crate::generate::{api_sampling, generate, GenerateRequest, Prompt};
use crate::{App, AppError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use siagen_draft::{prompt, CheckedSentence, Note, NoteChecker, Status, Template, Templates};
use siagen_engine::{ChatMessage, SamplingParams};
use siagen_store::{Actor, DocumentKind, ModelAuthor, NewDocument};
use std::sync::Arc;

/// `POST /api/drafts` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    /// Kind of document (`lettre_liaison`, `crh`, `cr_operatoire`, `rcp`, `lettre_patient`,
    /// `cr_imagerie`).
    pub kind: String,
    /// Pseudonymous patient reference.
    pub patient_ref: String,
    /// Model that writes (local or upstream).
    pub model: String,
    /// The stay's notes…
    #[serde(default)]
    pub notes: Option<Vec<Note>>,
    /// …or a FHIR R4 Bundle holding them.
    #[serde(default)]
    pub fhir: Option<Value>,
    /// Title of the document (default: the kind's title).
    #[serde(default)]
    pub title: Option<String>,
}

/// `POST /api/drafts/check` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// The notes to check against.
    pub notes: Vec<Note>,
    /// Any text: a draft, a hand-written letter.
    pub text: String,
}

/// One sentence of a drafted section.
#[derive(Debug, Clone, Serialize)]
pub struct SentenceOut {
    /// The sentence.
    pub text: String,
    /// Start in the section's text, in code points.
    pub start: usize,
    /// End, in code points.
    pub end: usize,
    /// `supported`, `unsupported` or `contradicted`.
    pub status: Status,
    /// Passages of the notes (note id, code-point offsets).
    pub sources: Vec<siagen_draft::SourceRef>,
    /// Why (stable codes, French details).
    pub reasons: Vec<siagen_kb::claim::Reason>,
}

impl From<CheckedSentence> for SentenceOut {
    fn from(c: CheckedSentence) -> Self {
        SentenceOut {
            text: c.text,
            start: c.start,
            end: c.end,
            status: c.status,
            sources: c.sources,
            reasons: c.reasons,
        }
    }
}

/// One section of the draft.
#[derive(Debug, Clone, Serialize)]
pub struct SectionOut {
    /// Section key.
    pub key: String,
    /// French title.
    pub title: String,
    /// Mandatory in this kind.
    pub mandatory: bool,
    /// The notes gave nothing for it.
    pub missing: bool,
    /// The section's text as stored (« À compléter : … » when missing and mandatory).
    pub text: String,
    /// Its sentences, checked against the notes (none when missing).
    pub sentences: Vec<SentenceOut>,
    /// LOINC section code, where one exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loinc: Option<String>,
    /// The generation that wrote it.
    pub generation_id: String,
}

/// A drug-interaction alert on the discharge treatment.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// `interaction`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Level in the ANSM thesaurus (`contre_indication`, `association_deconseillee`…).
    pub level: Value,
    /// The two substances.
    pub substances: Vec<String>,
    /// The two lines of the section, as written.
    pub lines: Vec<String>,
    /// Thesaurus edition.
    pub edition: String,
}

/// The response of `POST /api/drafts`.
#[derive(Debug, Clone, Serialize)]
pub struct DraftOut {
    /// The stored document.
    pub document_id: i64,
    /// The kind.
    pub kind: String,
    /// `draft`.
    pub status: &'static str,
    /// Sections in the kind's order.
    pub sections: Vec<SectionOut>,
    /// Interaction alerts.
    pub alerts: Vec<Alert>,
    /// Exactly the messages sent to the model, section after section.
    pub model_input: Vec<ChatMessage>,
    /// Counts of sentences by status, and of missing mandatory sections.
    pub summary: Value,
}

/// Progress of a draft, section by section (for a streamed page or the CLI).
#[derive(Debug, Clone)]
pub enum Progress {
    /// The section `index` (0-based) of `total` is being written.
    Writing {
        /// Index of the section.
        index: usize,
        /// Number of sections.
        total: usize,
        /// Its key.
        key: String,
    },
    /// A section is written and checked.
    Section(SectionOut),
}

/// The templates in force.
pub fn templates(app: &App) -> Arc<Templates> {
    app.services
        .drafting
        .clone()
        .unwrap_or_else(|| Arc::new(Templates::shipped()))
}

fn bad(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(e.to_string())
}

/// The notes of a body, checked.
fn body_notes(notes: Option<Vec<Note>>, fhir: Option<Value>) -> Result<Vec<Note>> {
    let notes = match (notes, fhir) {
        (Some(n), None) => n,
        (None, Some(b)) => siagen_draft::notes_from_fhir(&b).map_err(bad)?,
        (Some(_), Some(_)) => return Err(bad("give either notes or fhir, not both")),
        (None, None) => return Err(bad("notes (or fhir) are required")),
    };
    siagen_draft::validate_notes(&notes).map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok(notes)
}

/// Does `model` exist (a local model or a declared upstream)?
async fn check_model(app: &App, model: &str) -> Result<()> {
    if app.is_upstream_model(model) {
        return Ok(());
    }
    let known = app.models().await?.iter().any(
        |m| matches!(m, crate::ModelEntry::Local(i) if i.name == model && !i.is_embedding_model),
    );
    if known {
        Ok(())
    } else {
        Err(AppError::UnknownModel(model.to_string()))
    }
}

/// The interaction alerts of the drug lines of `text`.
fn interaction_alerts(app: &App, text: &str) -> Vec<Alert> {
    let Some(t) = app.services.meds.first() else {
        return vec![];
    };
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            l.trim()
                .trim_start_matches(['-', '*', '•'])
                .trim()
                .to_string()
        })
        .filter(|l| l.chars().any(char::is_alphabetic))
        .collect();
    if lines.len() < 2 {
        return vec![];
    }
    let c = t.check(&lines);
    c.interactions
        .iter()
        .map(|i| Alert {
            kind: "interaction",
            level: serde_json::to_value(i.severity).unwrap_or(Value::Null),
            substances: vec![i.substance_a.to_string(), i.substance_b.to_string()],
            lines: vec![i.drug_a.to_string(), i.drug_b.to_string()],
            edition: c.edition.to_string(),
        })
        .collect()
}

/// Longest section a model may write, in tokens.
pub const MAX_SECTION_TOKENS: u32 = 200;

/// The sections whose drugs go through the interaction check.
const TREATMENT_SECTIONS: [&str; 2] = ["traitements_sortie", "vos_medicaments"];

/// Drafts a document for `actor`; see the module documentation. `progress` receives each
/// section as it is written.
pub async fn draft(
    app: &Arc<App>,
    actor: &Actor,
    body: DraftBody,
    progress: Option<tokio::sync::mpsc::UnboundedSender<Progress>>,
) -> Result<DraftOut> {
    app.authorize_clinical(actor, "draft.create", "draft", "drafting documents")
        .await?;
    let templates = templates(app);
    let template: Template = templates.get(&body.kind).map_err(bad)?.clone();
    crate::privacy::check_patient_ref(&body.patient_ref)?;
    let notes = body_notes(body.notes, body.fhir)?;
    let title = body
        .title
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| template.title.clone());
    let kind: DocumentKind = template
        .document_kind
        .parse()
        .map_err(|e: siagen_store::StoreError| AppError::Internal(e.to_string()))?;
    check_model(app, &body.model).await?;

    let n2 = notes.clone();
    let checker = Arc::new(App::blocking(move || Ok::<_, AppError>(NoteChecker::new(&n2))).await?);
    let params = SamplingParams {
        temperature: 0.3,
        top_p: 0.9,
        top_k: 40,
        max_tokens: Some(MAX_SECTION_TOKENS),
        ..api_sampling()
    };
    let mut sections = vec![];
    let mut model_input = vec![];
    let mut version = String::new();
    let total = template.sections.len();
    for (index, section) in template.sections.iter().enumerate() {
        if let Some(p) = &progress {
            let _ = p.send(Progress::Writing {
                index,
                total,
                key: section.key.clone(),
            });
        }
        let [(r1, c1), (r2, c2)] = prompt::section_messages(&template, section, &notes);
        let messages = vec![
            ChatMessage {
                role: r1,
                content: c1,
            },
            ChatMessage {
                role: r2,
                content: c2,
            },
        ];
        let mut req = GenerateRequest::new(&body.model, Prompt::Chat(messages), params.clone());
        req.patient_ref = Some(body.patient_ref.clone());
        for (k, v) in [
            ("temperature", json!(0.3)),
            ("top_p", json!(0.9)),
            ("max_tokens", json!(MAX_SECTION_TOKENS)),
        ] {
            req.upstream_fields.insert(k.into(), v);
        }
        let done = generate(app, actor, req).await?.collect().await?;
        version = done.finished.fingerprint();
        model_input.extend(done.model_input.iter().cloned());
        let (missing, text, sentences) = match prompt::read_section(&done.text, section) {
            None => (
                true,
                if section.mandatory {
                    prompt::missing_text(section)
                } else {
                    String::new()
                },
                vec![],
            ),
            Some(text) => {
                let (c, t) = (checker.clone(), text.clone());
                let checked =
                    App::blocking(move || Ok::<_, AppError>(c.check_all(&t, None))).await?;
                (
                    false,
                    text,
                    checked.into_iter().map(SentenceOut::from).collect(),
                )
            }
        };
        let out = SectionOut {
            key: section.key.clone(),
            title: section.title.clone(),
            mandatory: section.mandatory,
            missing,
            text,
            sentences,
            loinc: section.loinc.clone(),
            generation_id: done.id,
        };
        if let Some(p) = &progress {
            let _ = p.send(Progress::Section(out.clone()));
        }
        sections.push(out);
    }
    // One alert per pair of substances and level (the thesaurus can hold a pair under several
    // entries: substance and class).
    let mut alerts: Vec<Alert> = vec![];
    for a in sections
        .iter()
        .filter(|s| TREATMENT_SECTIONS.contains(&s.key.as_str()) && !s.missing)
        .flat_map(|s| interaction_alerts(app, &s.text))
    {
        if !alerts
            .iter()
            .any(|b| b.substances == a.substances && b.level == a.level)
        {
            alerts.push(a);
        }
    }

    let mut doc = format!("{title}\n");
    for s in &sections {
        if s.text.is_empty() {
            continue;
        }
        doc.push_str(&format!("\n{}\n{}\n", s.title, s.text));
    }
    let count = |st: Status| {
        sections
            .iter()
            .flat_map(|s| &s.sentences)
            .filter(|x| x.status == st)
            .count()
    };
    let summary = json!({
        "supported": count(Status::Supported), "unsupported": count(Status::Unsupported),
        "contradicted": count(Status::Contradicted),
        "missing_mandatory": sections.iter().filter(|s| s.missing && s.mandatory).count(),
        "alerts": alerts.len(),
    });
    let prompt_sha = siagen_store::sha256_hex(
        model_input
            .iter()
            .map(|m| format!("{}\u{1f}{}", m.role, m.content))
            .collect::<Vec<_>>()
            .join("\u{1e}"),
    );
    let new = NewDocument {
        kind,
        title,
        patient_ref: body.patient_ref.clone(),
        text: doc,
        generated_by: Some(ModelAuthor {
            model: body.model.clone(),
            version,
            parameters: json!({ "temperature": 0.3, "top_p": 0.9, "top_k": 40,
                                "max_tokens_per_section": MAX_SECTION_TOKENS, "kind": template.kind }),
            seed: None,
            prompt_sha256: Some(prompt_sha),
            generation_id: sections.last().map(|s| s.generation_id.clone()),
        }),
    };
    let store = app.store.clone();
    let who = actor.clone();
    let view = App::blocking(move || store.create_document(&who, new)).await?;
    let store = app.store.clone();
    let label = actor.audit_label();
    let details = json!({ "kind": template.kind, "document_id": view.id, "notes": notes.len(),
        "notes_sha256": notes.iter().map(|n| siagen_store::sha256_hex(&n.text)).collect::<Vec<_>>(),
        "generation_ids": sections.iter().map(|s| &s.generation_id).collect::<Vec<_>>(),
        "summary": summary });
    let target = format!("document:{}", view.id);
    App::blocking(move || store.audit_event(&label, "draft.create", &target, "ok", details))
        .await?;
    Ok(DraftOut {
        document_id: view.id,
        kind: template.kind,
        status: "draft",
        sections,
        alerts,
        model_input,
        summary,
    })
}

/// A section found in a drafted document's text.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundSection {
    /// Section key.
    pub key: String,
    /// French title.
    pub title: String,
    /// LOINC section code, where one exists.
    pub loinc: Option<String>,
    /// Its text (as validated).
    pub text: String,
}

/// The sections of a document of `document_kind` (the store's kind): the drafting template's
/// titles, each on a line of its own, split the text, in the template's order; the LOINC code
/// of the kind too. Empty when no drafting template has that kind or no title is found (a
/// document written by hand). The FHIR export carries them as a Composition.
pub fn sections_of(
    app: &App,
    document_kind: &str,
    text: &str,
) -> (Option<String>, Vec<FoundSection>) {
    let templates = templates(app);
    let Some(t) = templates
        .all()
        .iter()
        .find(|t| t.document_kind == document_kind)
    else {
        return (None, vec![]);
    };
    let mut out: Vec<FoundSection> = vec![];
    let mut next = 0;
    for line in text.lines() {
        let l = line.trim();
        if let Some(k) = t.sections[next..].iter().position(|s| s.title == l) {
            let s = &t.sections[next + k];
            next += k + 1;
            out.push(FoundSection {
                key: s.key.clone(),
                title: s.title.clone(),
                loinc: s.loinc.clone(),
                text: String::new(),
            });
            continue;
        }
        if let Some(cur) = out.last_mut() {
            if !cur.text.is_empty() || !l.is_empty() {
                cur.text.push_str(line);
                cur.text.push('\n');
            }
        }
    }
    for s in &mut out {
        s.text = s.text.trim_end().to_string();
    }
    (t.loinc.clone(), out)
}

/// Checks any text against notes (`POST /api/drafts/check`): every sentence with its status
/// and sources. Audited with hashes only.
pub async fn check(app: &App, actor: &Actor, body: CheckBody) -> Result<Vec<SentenceOut>> {
    app.authorize_clinical(actor, "draft.check", "draft", "checking a text")
        .await?;
    siagen_draft::validate_notes(&body.notes).map_err(|e| AppError::Invalid(e.to_string()))?;
    if body.text.trim().is_empty() {
        return Err(AppError::Invalid("text must not be empty".into()));
    }
    if body.text.chars().count() > siagen_draft::MAX_NOTE_CHARS {
        return Err(AppError::Invalid(format!(
            "text too long: at most {} characters",
            siagen_draft::MAX_NOTE_CHARS
        )));
    }
    let text_sha = siagen_store::sha256_hex(&body.text);
    let out =
        App::blocking(move || Ok::<_, AppError>(siagen_draft::check_text(&body.text, &body.notes)))
            .await?;
    let store = app.store.clone();
    let label = actor.audit_label();
    let details = json!({ "text_sha256": text_sha, "sentences": out.len(),
        "contradicted": out.iter().filter(|s| s.status == Status::Contradicted).count() });
    App::blocking(move || store.audit_event(&label, "draft.check", "draft", "ok", details)).await?;
    Ok(out.into_iter().map(SentenceOut::from).collect())
}
