//! « Questions au corpus »: ask a question in a knowledge-base collection, read the answer with
//! each sentence coloured by its claim-check verdict (with a legend and the reasons), and the
//! numbered sources with title, page and licence; save the answer as a draft « réponse sourcée ».
//!
//! Everything goes through the API's code (`siagen_app::ask`): same limits, role check, privacy
//! shield, audit entries. The question travels in the POST body only.

use super::html::{app_error_message, csrf_field, error_banner, esc, html, page};
use super::{CheckedForm, WebSession};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use siagen_app::ask::{AskAnswer, AskBody, SaveBody};
use siagen_kb::claim::Verdict;

const TITLE: &str = "Questions au corpus";
const WHAT: &str = "La consultation du corpus";

fn intro() -> &'static str {
    r#"<h1>Questions au corpus</h1>
<p class="lead">Posez une question : la réponse est rédigée uniquement à partir des passages du corpus choisi par l'établissement, chaque phrase cite ses sources et est vérifiée contre les passages qu'elle cite. Quand le corpus ne couvre pas la question, siagen le dit au lieu de répondre. Une réponse enregistrée reste un brouillon tant qu'un validateur ne l'a pas validée.</p>"#
}

async fn collection_names(state: &AppState, sess: &WebSession) -> Vec<String> {
    siagen_app::ask::collections(&state.app, &sess.actor).await
}

/// Models that can answer: the local chat models, then the upstreams' (by name). The first is
/// what the API uses when none is named.
async fn answer_models(state: &AppState) -> Vec<String> {
    state.app.answer_models().await
}

/// The form's choices and values.
struct FormState<'a> {
    collections: &'a [String],
    models: &'a [String],
    question: &'a str,
    collection: &'a str,
    model: &'a str,
}

fn form_html(sess: &WebSession, f: &FormState<'_>) -> String {
    let (collections, question, chosen) = (f.collections, f.question, f.collection);
    let mut model_opts = String::new();
    for (i, m) in f.models.iter().enumerate() {
        let sel = if m == f.model || (f.model.is_empty() && i == 0) {
            " selected"
        } else {
            ""
        };
        model_opts.push_str(&format!(
            r#"<option value="{v}"{sel}>{v}</option>"#,
            v = esc(m)
        ));
    }
    let model_field = if f.models.len() > 1 {
        format!(
            r#"<div class="field narrow"><label for="model">Modèle</label><select id="model" name="model">{model_opts}</select></div>"#
        )
    } else {
        String::new()
    };
    let mut opts = String::new();
    for c in collections {
        let sel = if c == chosen { " selected" } else { "" };
        opts.push_str(&format!(
            r#"<option value="{v}"{sel}>{v}</option>"#,
            v = esc(c)
        ));
    }
    let none = if collections.is_empty() {
        r#"<p class="hint" id="no-collection">Aucune collection n'est accessible : demandez à un administrateur d'en créer une (<code>siagen kb</code>).</p>"#
    } else {
        ""
    };
    format!(
        r#"<form method="post" action="/questions" class="stack wide" id="ask-form">
{csrf}
<div class="field narrow"><label for="collection">Collection</label><select id="collection" name="collection" required>{opts}</select>{none}</div>
{model_field}
<div class="field"><label for="question">Question</label>
<textarea id="question" name="question" rows="3" maxlength="4000" required aria-describedby="question-hint">{q}</textarea>
<p class="hint" id="question-hint">Les données identifiantes éventuelles sont pseudonymisées avant d'atteindre le modèle.</p></div>
<div class="buttons"><button type="submit" class="primary" id="btn-ask">Poser la question</button></div>
</form>"#,
        csrf = csrf_field(sess),
        q = esc(question),
    )
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Supported => "verdict-supported",
        Verdict::Partial => "verdict-partial",
        Verdict::Unsupported => "verdict-unsupported",
        Verdict::NotAClaim => "verdict-none",
    }
}

fn legend() -> String {
    let mut out = String::from(r#"<ul class="verdict-legend" id="legend" aria-label="Légende">"#);
    for v in [
        Verdict::Supported,
        Verdict::Partial,
        Verdict::Unsupported,
        Verdict::NotAClaim,
    ] {
        out.push_str(&format!(
            r#"<li><span class="verdict {}">{}</span></li>"#,
            verdict_class(v),
            esc(v.label_fr())
        ));
    }
    out.push_str("</ul>");
    out
}

fn answer_html(sess: &WebSession, a: &AskAnswer, question: &str) -> String {
    if !a.covered {
        return format!(
            r#"<section class="card" id="answer" data-covered="false"><h2>Réponse</h2>
<div class="alert alert-warn" role="status" id="not-covered"><p>{}</p></div>
<p class="hint">Aucun passage de la collection « {} » n'est assez pertinent (meilleur score {:.2}, seuil {:.2}). Reformulez la question ou choisissez une autre collection.</p></section>"#,
            esc(a.message.as_deref().unwrap_or(siagen_app::ask::NOT_COVERED)),
            esc(&a.collection),
            a.best_relevance,
            a.min_relevance
        );
    }
    let mut sentences = String::new();
    for (i, s) in a.sentences.iter().enumerate() {
        let cites: String = s
            .citations
            .iter()
            .map(|n| format!(r##"<a href="#source-{n}" class="cite">[{n}]</a>"##))
            .collect();
        let invalid: String = s
            .invalid_citations
            .iter()
            .map(|n| format!(r#"<span class="cite cite-invalid">[{n}?]</span>"#))
            .collect();
        let reasons: Vec<String> = s.reasons.iter().map(|r| esc(&r.detail)).collect();
        sentences.push_str(&format!(
            r#"<li class="sentence {cls}" id="sentence-{i}" data-verdict="{v}"><span class="sentence-text">{t}</span> {cites}{invalid}
<span class="verdict {cls}">{label} ({score:.2})</span>
<details class="reasons"><summary>Pourquoi ?</summary><ul><li>{reasons}</li></ul></details></li>"#,
            cls = verdict_class(s.verdict),
            v = s.verdict.as_str(),
            t = esc(&s.text),
            label = esc(s.verdict.label_fr()),
            score = s.score,
            reasons = reasons.join("</li><li>"),
        ));
    }
    let mut sources = String::new();
    for s in &a.sources {
        let page = s.page.map(|p| format!(", p. {p}")).unwrap_or_default();
        let heading = s
            .heading
            .as_ref()
            .filter(|h| **h != s.title)
            .map(|h| format!(" — {}", esc(h)))
            .unwrap_or_default();
        let meta: Vec<String> = [s.publisher.clone(), s.date.clone()]
            .into_iter()
            .flatten()
            .map(|m| esc(&m))
            .collect();
        sources.push_str(&format!(
            r#"<li id="source-{n}" value="{n}"><strong class="source-title">{title}</strong>{page}{heading}
<br><span class="source-licence">Licence : {licence}</span>{meta}
<details><summary>Passage</summary><blockquote>{text}</blockquote><p class="hint">{src}</p></details></li>"#,
            n = s.n,
            title = esc(&s.title),
            licence = esc(&s.licence),
            meta = if meta.is_empty() {
                String::new()
            } else {
                format!(" — {}", meta.join(", "))
            },
            text = esc(&s.text),
            src = esc(&s.source),
        ));
    }
    let title: String = question.chars().take(120).collect();
    format!(
        r#"<section class="card" id="answer" data-covered="true"><h2>Réponse</h2>
{legend}
<ol class="sentences" id="sentences">{sentences}</ol>
<p class="hint">Modèle : {model}. Chaque phrase est comparée aux passages qu'elle cite (mots, nombres et unités, négations, quantités) ; la vérification ne remplace pas la lecture des sources.</p>
<h3>Sources</h3>
<ol class="sources" id="sources">{sources}</ol>
<form method="post" action="/questions/enregistrer" class="stack wide" id="save-form">
{csrf}
<input type="hidden" name="generation_id" value="{gen}">
<div class="field"><label for="save-title">Titre du brouillon</label><input type="text" id="save-title" name="title" maxlength="200" required value="{title}"></div>
<div class="field narrow"><label for="save-patient">Référence patient (pseudonyme, facultative)</label><input type="text" id="save-patient" name="patient_ref" maxlength="64" pattern="[A-Za-z0-9._:\-]{{1,64}}"></div>
<div class="buttons"><button type="submit" class="primary" id="btn-save">Enregistrer comme brouillon</button></div>
</form></section>"#,
        legend = legend(),
        model = esc(a.model.as_deref().unwrap_or("")),
        csrf = csrf_field(sess),
        gen = esc(a.generation_id.as_deref().unwrap_or("")),
        title = esc(&format!("Réponse sourcée : {title}")),
    )
}

pub(crate) async fn form(State(state): State<AppState>, sess: WebSession) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, WHAT) {
        return r;
    }
    let collections = collection_names(&state, &sess).await;
    let models = answer_models(&state).await;
    let first = collections.first().cloned().unwrap_or_default();
    let form = FormState {
        collections: &collections,
        models: &models,
        question: "",
        collection: &first,
        model: "",
    };
    let body = format!("{}{}", intro(), form_html(&sess, &form));
    html(
        StatusCode::OK,
        page(TITLE, Some(&sess), "/questions", &body),
    )
}

#[derive(Deserialize)]
pub(crate) struct AskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    collection: String,
    /// Empty: the default model.
    #[serde(default)]
    model: String,
}

pub(crate) async fn ask(
    State(state): State<AppState>,
    CheckedForm { sess, form: f }: CheckedForm<AskForm>,
) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, WHAT) {
        return r;
    }
    let collections = collection_names(&state, &sess).await;
    let models = answer_models(&state).await;
    let render = |status: StatusCode, error: Option<&str>, result: &str| {
        let form = FormState {
            collections: &collections,
            models: &models,
            question: &f.question,
            collection: &f.collection,
            model: f.model.trim(),
        };
        let body = format!(
            "{}{}{}{}",
            intro(),
            error_banner(error),
            form_html(&sess, &form),
            result
        );
        html(status, page(TITLE, Some(&sess), "/questions", &body))
    };
    if f.question.trim().is_empty() {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Saisissez une question."),
            "",
        );
    }
    let body = AskBody {
        question: f.question.clone(),
        collection: f.collection.clone(),
        k: None,
        // The chosen model, else the first offered (an upstream where no local model is
        // installed: the API's own default is local models only).
        model: Some(f.model.trim().to_string())
            .filter(|m| !m.is_empty())
            .or_else(|| models.first().cloned()),
        max_tokens: None,
    };
    match siagen_app::ask::answer(&state.app, &sess.actor, None, body).await {
        Ok(a) => render(StatusCode::OK, None, &answer_html(&sess, &a, &f.question)),
        Err(e) => render(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Some(&app_error_message(&e)),
            "",
        ),
    }
}

#[derive(Deserialize)]
pub(crate) struct SaveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    generation_id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    patient_ref: String,
}

pub(crate) async fn save(
    State(state): State<AppState>,
    CheckedForm { sess, form: f }: CheckedForm<SaveForm>,
) -> Response {
    let body = SaveBody {
        generation_id: f.generation_id,
        title: f.title.trim().to_string(),
        patient_ref: Some(f.patient_ref.trim().to_string()),
    };
    match siagen_app::ask::save_answer(&state.app, &sess.actor, body).await {
        Ok((doc, _)) => Redirect::to(&format!("/documents/{}?msg=created", doc.id)).into_response(),
        Err(e) => super::html::app_error_page(Some(&sess), &e),
    }
}

super::csrf_forms!(AskForm, SaveForm);
