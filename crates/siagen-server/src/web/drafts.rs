//! « Rédiger »: choose a kind of document, paste the stay's notes, let the model draft it
//! section by section; read each sentence coloured by its status (supported, not found,
//! contradicted); hovering or focusing a sentence lights the passages of the notes that support
//! or contradict it; missing sections and interaction alerts come first; what the model
//! received is shown; the draft is then a document to edit and submit like any other.
//!
//! Everything goes through `siagen_app::draft`: same checks, shield, audit as the API.

use super::html::{app_error_message, csrf_field, error_banner, esc, html, page};
use super::{CheckedForm, WebSession};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use siagen_app::draft::{DraftBody, DraftOut};
use siagen_draft::{Note, Status};

const TITLE: &str = "Rédiger";
/// Note fields offered on the page.
const NOTE_SLOTS: usize = 4;

fn intro() -> &'static str {
    r#"<h1>Rédiger un document à partir des notes du séjour</h1>
<p class="lead">Choisissez le type de document et collez les notes du séjour (observation, comptes rendus, ordonnance…). Le modèle rédige chaque section à partir des notes seules — pseudonymisées avant de lui être envoyées — puis siagen vérifie chaque phrase contre les notes : <span class="status status-supported">étayée</span>, <span class="status status-unsupported">non retrouvée</span> ou <span class="status status-contradicted">contredite</span>. Rien n'est masqué. Le document reste un brouillon tant qu'un validateur ne l'a pas validé.</p>"#
}

#[derive(Deserialize, Default)]
pub(crate) struct DraftForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    patient_ref: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    title_1: String,
    #[serde(default)]
    text_1: String,
    #[serde(default)]
    title_2: String,
    #[serde(default)]
    text_2: String,
    #[serde(default)]
    title_3: String,
    #[serde(default)]
    text_3: String,
    #[serde(default)]
    title_4: String,
    #[serde(default)]
    text_4: String,
}

super::csrf_forms!(DraftForm);

impl DraftForm {
    fn slots(&self) -> [(&str, &str); NOTE_SLOTS] {
        [
            (&self.title_1, &self.text_1),
            (&self.title_2, &self.text_2),
            (&self.title_3, &self.text_3),
            (&self.title_4, &self.text_4),
        ]
    }

    /// The notes filled in, ids `n1`… by slot.
    fn notes(&self) -> Vec<Note> {
        self.slots()
            .iter()
            .enumerate()
            .filter(|(_, (_, t))| !t.trim().is_empty())
            .map(|(i, (title, text))| Note {
                id: format!("n{}", i + 1),
                title: if title.trim().is_empty() {
                    format!("Note {}", i + 1)
                } else {
                    title.trim().to_string()
                },
                date: None,
                text: super::textarea(text),
            })
            .collect()
    }
}

fn form_html(sess: &WebSession, state: &AppState, f: &DraftForm, models: &[String]) -> String {
    let templates = siagen_app::draft::templates(&state.app);
    let mut kinds = String::new();
    for t in templates.all() {
        let sel = if t.kind == f.kind { " selected" } else { "" };
        kinds.push_str(&format!(
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(&t.kind),
            esc(&t.title)
        ));
    }
    let mut model_opts = String::new();
    for (i, m) in models.iter().enumerate() {
        let sel = if *m == f.model || (f.model.is_empty() && i == 0) {
            " selected"
        } else {
            ""
        };
        model_opts.push_str(&format!(
            r#"<option value="{v}"{sel}>{v}</option>"#,
            v = esc(m)
        ));
    }
    let mut notes = String::new();
    for (i, (title, text)) in f.slots().iter().enumerate() {
        let n = i + 1;
        notes.push_str(&format!(
            r#"<fieldset class="note-slot"><legend>Note n{n}</legend>
<div class="field"><label for="title_{n}">Titre</label><input id="title_{n}" name="title_{n}" value="{t}" placeholder="Observation d'entrée, CR opératoire, ordonnance…"></div>
<div class="field"><label for="text_{n}">Texte</label><textarea id="text_{n}" name="text_{n}" rows="{rows}">{x}</textarea></div></fieldset>"#,
            t = esc(title),
            x = esc(text),
            rows = if n == 1 { 8 } else { 4 },
        ));
    }
    format!(
        r#"<form method="post" action="/rediger" class="stack wide" id="draft-form" data-busy="Rédaction en cours, section par section… (une à deux minutes sur un petit serveur)">
{csrf}
<div class="row">
<div class="field narrow"><label for="kind">Type de document</label><select id="kind" name="kind">{kinds}</select></div>
<div class="field narrow"><label for="patient_ref">Référence patient (pseudonyme)</label><input id="patient_ref" name="patient_ref" required pattern="[A-Za-z0-9._:\-]{{1,64}}" value="{pref}"></div>
<div class="field narrow"><label for="model">Modèle</label><select id="model" name="model">{model_opts}</select></div>
</div>
{notes}
<p><button type="submit" id="btn-draft">Rédiger</button> <span class="hint" id="draft-busy" aria-live="polite"></span></p>
</form>"#,
        csrf = csrf_field(sess),
        pref = esc(&f.patient_ref),
    )
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Supported => "status-supported",
        Status::Unsupported => "status-unsupported",
        Status::Contradicted => "status-contradicted",
    }
}

/// A note's text with every passage some sentence cites wrapped in a `<mark>` of id
/// `src-NOTE-START-END` (offsets in code points).
fn marked_note(note: &Note, spans: &mut Vec<(usize, usize)>) -> String {
    spans.sort_unstable();
    spans.dedup();
    let chars: Vec<char> = note.text.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    for &(a, b) in spans.iter() {
        if a < at || b > chars.len() || a >= b {
            continue;
        }
        out.push_str(&esc(&chars[at..a].iter().collect::<String>()));
        out.push_str(&format!(
            r#"<mark class="src" id="src-{}-{a}-{b}">{}</mark>"#,
            esc(&note.id),
            esc(&chars[a..b].iter().collect::<String>())
        ));
        at = b;
    }
    out.push_str(&esc(&chars[at..].iter().collect::<String>()));
    out
}

fn result_html(d: &DraftOut, notes: &[Note]) -> String {
    let mut top = String::new();
    let missing: Vec<&str> = d
        .sections
        .iter()
        .filter(|s| s.missing && s.mandatory)
        .map(|s| s.title.as_str())
        .collect();
    if !missing.is_empty() {
        top.push_str(&format!(
            r#"<div class="alert alert-warn" id="missing"><strong>À compléter :</strong> les notes ne disent rien pour {} section{} obligatoire{} : {}.</div>"#,
            missing.len(),
            if missing.len() > 1 { "s" } else { "" },
            if missing.len() > 1 { "s" } else { "" },
            esc(&missing.join(", "))
        ));
    }
    for a in &d.alerts {
        top.push_str(&format!(
            r#"<div class="alert alert-error alert-interaction"><strong>Interaction ({}) :</strong> {}</div>"#,
            esc(a.level.as_str().unwrap_or("")),
            esc(&a.substances.join(" + "))
        ));
    }
    let flagged = d.summary["unsupported"].as_u64().unwrap_or(0)
        + d.summary["contradicted"].as_u64().unwrap_or(0);
    let mut sections = String::new();
    let mut spans: std::collections::HashMap<String, Vec<(usize, usize)>> = Default::default();
    for s in &d.sections {
        let body = if s.sentences.is_empty() {
            format!(r#"<p class="missing-text">{}</p>"#, esc(&s.text))
        } else {
            let mut p = String::from(r#"<p class="draft-text">"#);
            for x in &s.sentences {
                let src: Vec<String> = x
                    .sources
                    .iter()
                    .map(|r| {
                        spans
                            .entry(r.note_id.clone())
                            .or_default()
                            .push((r.start, r.end));
                        format!("src-{}-{}-{}", r.note_id, r.start, r.end)
                    })
                    .collect();
                // List items (« - Furosémide 40 mg ») each on a line of their own.
                if x.text.starts_with(['-', '*', '•']) && !p.ends_with('>') {
                    p.push_str("<br>");
                }
                p.push_str(&format!(
                    r#"<span class="sentence {cls}" tabindex="0" data-status="{st}" data-sources="{src}" title="{label}">{t}</span> "#,
                    cls = status_class(x.status),
                    st = x.status.as_str(),
                    src = esc(&src.join(" ")),
                    label = esc(x.status.label_fr()),
                    t = esc(&x.text)
                ));
            }
            p.push_str("</p>");
            p
        };
        sections.push_str(&format!(
            r#"<section class="draft-section" id="section-{key}" data-missing="{m}"><h3>{title}{req}</h3>{body}</section>"#,
            key = esc(&s.key),
            m = s.missing,
            title = esc(&s.title),
            req = if s.mandatory { "" } else { r#" <span class="hint">(facultative)</span>"# },
        ));
    }
    let mut notes_html = String::new();
    for n in notes {
        let mut sp = spans.remove(&n.id).unwrap_or_default();
        notes_html.push_str(&format!(
            r#"<article class="note" id="note-{id}"><h3>[{id}] {title}</h3><pre class="note-text">{text}</pre></article>"#,
            id = esc(&n.id),
            title = esc(&n.title),
            text = marked_note(n, &mut sp)
        ));
    }
    let mut input = String::new();
    for m in &d.model_input {
        input.push_str(&format!(
            r#"<div class="message"><strong>{}</strong><pre>{}</pre></div>"#,
            esc(&m.role),
            esc(&m.content)
        ));
    }
    format!(
        r#"<section id="draft" data-document="{id}" aria-labelledby="h-draft">
<h2 id="h-draft">Brouillon</h2>
{top}
<p id="draft-summary">{sup} phrase(s) étayée(s), <strong>{flagged} à vérifier</strong> ({unsup} non retrouvée(s), {contra} contredite(s)). Survolez ou parcourez au clavier (Tab) les phrases : les passages des notes qui les étayent s'allument.</p>
<ul class="verdict-legend" id="legend"><li><span class="status status-supported">étayée par les notes</span></li><li><span class="status status-unsupported">non retrouvée dans les notes</span></li><li><span class="status status-contradicted">contredite par les notes</span></li></ul>
<div class="draft-grid"><div class="draft-sections">{sections}</div><div class="draft-notes"><h2>Notes</h2>{notes_html}</div></div>
<p><a class="button" id="open-draft" href="/documents/{id}">Ouvrir le brouillon pour le modifier et le soumettre à validation</a></p>
<details id="model-input"><summary>Ce que le modèle a reçu</summary><p class="hint">Exactement les messages envoyés au modèle, section par section : les identifiants ont été remplacés par des substituts avant l'envoi quand le modèle ne doit pas les recevoir.</p>{input}</details>
</section>"#,
        id = d.document_id,
        sup = d.summary["supported"],
        unsup = d.summary["unsupported"],
        contra = d.summary["contradicted"],
    )
}

/// `GET /rediger`.
pub(crate) async fn form(State(state): State<AppState>, sess: WebSession) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "La rédaction de documents") {
        return r;
    }
    let models = state.app.answer_models().await;
    let body = format!(
        "{}{}",
        intro(),
        form_html(&sess, &state, &DraftForm::default(), &models)
    );
    html(StatusCode::OK, page(TITLE, Some(&sess), "/rediger", &body))
}

/// `POST /rediger`: drafts, then shows the draft beside the notes.
pub(crate) async fn submit(
    State(state): State<AppState>,
    CheckedForm { sess, form: f }: CheckedForm<DraftForm>,
) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "La rédaction de documents") {
        return r;
    }
    let models = state.app.answer_models().await;
    let render = |status: StatusCode, error: Option<&str>, result: &str| {
        let body = format!(
            "{}{}{}{}",
            intro(),
            error_banner(error),
            form_html(&sess, &state, &f, &models),
            result
        );
        html(status, page(TITLE, Some(&sess), "/rediger", &body))
    };
    let notes = f.notes();
    if notes.is_empty() {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Collez au moins une note du séjour."),
            "",
        );
    }
    let body = DraftBody {
        kind: f.kind.clone(),
        patient_ref: f.patient_ref.trim().to_string(),
        model: f.model.trim().to_string(),
        notes: Some(notes.clone()),
        fhir: None,
        title: None,
    };
    match siagen_app::draft::draft(&state.app, &sess.actor, body, None).await {
        Ok(d) => render(StatusCode::OK, None, &result_html(&d, &notes)),
        Err(e) => render(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Some(&app_error_message(&e)),
            "",
        ),
    }
}
