//! « Assistant »: a conversation with a local model, streamed by the page's script
//! (`/assets/assistant.js`) straight from the OpenAI-compatible API (`/v1/chat/completions`,
//! session cookie + `x-csrf-token`), with, for learners, each generated token's probability and
//! its alternatives. An answer can be saved as a draft document citing its generation.
//!
//! The page only renders the form and the model list; the generation itself is the API's (same
//! role check, audit entry and energy accounting). Saving goes through the store, which checks
//! that the cited generation exists.

use super::html::{csrf_field, error_banner, esc, fr_message, html, page};
use super::{textarea, CheckedForm, WebSession};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use siagen_store::{DocumentKind, ModelAuthor, NewDocument};

const TITLE: &str = "Assistant";

/// The local chat models (embedding models cannot answer).
pub(crate) async fn chat_models(state: &AppState) -> Vec<siagen_engine::ModelInfo> {
    state.app.local_chat_models().await
}

fn kind_options() -> String {
    let mut out = String::new();
    for k in DocumentKind::ALL {
        let sel = if k == DocumentKind::Libre {
            " selected"
        } else {
            ""
        };
        out.push_str(&format!(
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(k.as_str()),
            esc(k.label_fr())
        ));
    }
    out
}

fn body_html(
    sess: &WebSession,
    models: &[siagen_engine::ModelInfo],
    error: Option<&str>,
) -> String {
    let mut opts = String::new();
    for m in models {
        let detail = format!(
            "{} — {}, {:.0} M de paramètres",
            m.family,
            m.quantization,
            m.parameters as f64 / 1e6
        );
        opts.push_str(&format!(
            r#"<option value="{}">{} ({})</option>"#,
            esc(&m.name),
            esc(&m.name),
            esc(&detail)
        ));
    }
    let no_model = if models.is_empty() {
        r#"<div class="alert alert-warn" role="alert" id="no-model"><p>Aucun modèle de conversation local n'est installé : un administrateur doit en déposer un dans le dossier des modèles.</p></div>"#
    } else {
        ""
    };
    format!(
        r#"<h1>Assistant</h1>
<p class="lead">Conversation avec un modèle exécuté sur ce serveur : aucune donnée ne sort de l'établissement. Les réponses sont des brouillons à relire ; n'indiquez aucune donnée identifiante (utilisez la page Pseudonymisation au besoin).</p>
{error}{no_model}
<noscript><div class="alert alert-warn"><p>Cette page a besoin de JavaScript pour afficher la réponse au fil de l'eau.</p></div></noscript>
<section id="assistant" class="assistant" data-csrf="{csrf}" aria-labelledby="h-conv">
<h2 id="h-conv" class="sr-only">Conversation</h2>
<ol id="conversation" class="conversation" aria-live="polite"></ol>
<form id="ask-form" class="stack wide">
<div class="ask-params">
<div class="field"><label for="model">Modèle</label><select id="model" name="model" required>{opts}</select></div>
<div class="field narrow"><label for="temperature">Température <output id="temperature-value" for="temperature">0,7</output></label>
<input type="range" id="temperature" name="temperature" min="0" max="2" step="0.1" value="0.7" aria-describedby="temperature-hint">
<p class="hint" id="temperature-hint">0 : toujours le mot le plus probable ; plus haut : réponses plus variées, moins sûres.</p></div>
<div class="field narrow"><label for="max-tokens">Longueur maximale (jetons)</label><input type="number" id="max-tokens" name="max_tokens" min="1" max="2048" value="256"></div>
</div>
<div class="field"><label for="prompt">Votre message</label><textarea id="prompt" name="prompt" rows="4" required></textarea></div>
<label class="check"><input type="checkbox" id="show-probs" checked> Montrer comment le modèle a choisi chaque mot (apprentissage)</label>
<div class="buttons"><button type="submit" class="primary" id="btn-ask">Envoyer</button>
<button type="button" id="btn-stop" disabled>Arrêter</button>
<button type="button" id="btn-reset">Nouvelle conversation</button>
<span id="gen-status" class="muted" role="status"></span></div>
</form>
</section>
<section id="probs" class="probs" hidden aria-labelledby="h-probs">
<h2 id="h-probs">Comment le modèle a choisi</h2>
<p>Un modèle de langage écrit sa réponse <strong>jeton par jeton</strong> (un jeton est un mot ou un morceau de mot). À chaque pas, il calcule une probabilité pour chaque jeton possible, puis en tire un au sort selon ces probabilités. Ci-dessous, chaque jeton de la dernière réponse avec la probabilité qu'il avait d'être choisi ; les jetons <span class="tok low">surlignés</span> avaient moins de 30 % de chances : c'est là que la réponse aurait pu prendre un autre chemin. Cliquez sur un jeton pour voir les autres candidats.</p>
<p><strong>La température</strong> règle ce tirage : à 0, le modèle prend toujours le jeton le plus probable (réponse stable, parfois répétitive) ; vers 1, il suit ses probabilités telles quelles ; au-delà, les jetons peu probables gagnent des chances (réponse plus variée, mais plus d'erreurs et d'inventions). Une réponse fluide n'est pas une réponse vraie : le modèle choisit des mots plausibles, il ne vérifie pas les faits.</p>
<p id="tokens" class="tokens"></p>
<div id="tok-detail" class="tok-detail" aria-live="polite"><p class="muted">Cliquez sur un jeton pour voir ses alternatives.</p></div>
</section>
<section id="save" class="save" hidden aria-labelledby="h-save">
<h2 id="h-save">Enregistrer la dernière réponse comme brouillon</h2>
<p class="hint">Le document sera marqué « généré par un modèle » avec le modèle, la température et la génération utilisés, et devra être relu puis validé.</p>
<form method="post" action="/assistant/enregistrer" class="stack wide" id="save-form">
{csrf_field}
<input type="hidden" name="model" id="save-model">
<input type="hidden" name="generation_id" id="save-generation">
<input type="hidden" name="temperature" id="save-temperature">
<input type="hidden" name="max_tokens" id="save-max-tokens">
<div class="field"><label for="save-title">Titre</label><input type="text" id="save-title" name="title" maxlength="200" required></div>
<div class="field narrow"><label for="save-patient">Référence patient (pseudonyme)</label><input type="text" id="save-patient" name="patient_ref" maxlength="64" required pattern="[A-Za-z0-9._:\-]{{1,64}}"></div>
<div class="field narrow"><label for="save-kind">Type de document</label><select id="save-kind" name="kind">{kinds}</select></div>
<div class="field"><label for="save-text">Texte généré (tel que le modèle l'a écrit)</label><textarea id="save-text" name="text" rows="8" readonly></textarea></div>
<div class="buttons"><button type="submit" class="primary" id="btn-save">Enregistrer comme brouillon</button></div>
</form>
</section>
<script src="/assets/assistant.js" defer></script>"#,
        error = error_banner(error),
        csrf = esc(&sess.csrf),
        csrf_field = csrf_field(sess),
        kinds = kind_options(),
    )
}

pub(crate) async fn show(State(state): State<AppState>, sess: WebSession) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "L'assistant") {
        return r;
    }
    let models = chat_models(&state).await;
    html(
        StatusCode::OK,
        page(
            TITLE,
            Some(&sess),
            "/assistant",
            &body_html(&sess, &models, None),
        ),
    )
}

#[derive(Deserialize)]
pub(crate) struct SaveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    generation_id: String,
    #[serde(default)]
    temperature: String,
    #[serde(default)]
    max_tokens: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    patient_ref: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
}

pub(crate) async fn save(
    State(state): State<AppState>,
    CheckedForm { sess, form: f }: CheckedForm<SaveForm>,
) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "L'assistant") {
        return r;
    }
    let fail = |status: StatusCode, msg: &str, models: Vec<siagen_engine::ModelInfo>| {
        html(
            status,
            page(
                TITLE,
                Some(&sess),
                "/assistant",
                &body_html(&sess, &models, Some(msg)),
            ),
        )
    };
    let model = f.model.trim().to_string();
    let generation_id = f.generation_id.trim().to_string();
    if model.is_empty() || generation_id.is_empty() || f.text.trim().is_empty() {
        let models = chat_models(&state).await;
        return fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Aucune réponse à enregistrer : faites d'abord répondre le modèle.",
            models,
        );
    }
    let Ok(kind) = f.kind.parse::<DocumentKind>() else {
        let models = chat_models(&state).await;
        return fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Type de document inconnu.",
            models,
        );
    };
    let version = chat_models(&state)
        .await
        .into_iter()
        .find(|m| m.name == model)
        .map(|m| {
            format!(
                "{} {} ({} octets)",
                m.architecture, m.quantization, m.size_bytes
            )
        })
        .unwrap_or_else(|| "inconnue".into());
    let mut parameters = json!({});
    if let Ok(t) = f.temperature.trim().parse::<f64>() {
        parameters["temperature"] = json!(t);
    }
    if let Ok(n) = f.max_tokens.trim().parse::<u64>() {
        parameters["max_tokens"] = json!(n);
    }
    let new = NewDocument {
        kind,
        title: f.title.trim().to_string(),
        patient_ref: f.patient_ref.trim().to_string(),
        text: textarea(&f.text),
        generated_by: Some(ModelAuthor {
            model,
            version,
            parameters,
            seed: None,
            prompt_sha256: None,
            generation_id: Some(generation_id),
        }),
    };
    let store = state.store.clone();
    let actor = sess.actor.clone();
    match crate::blocking(move || store.create_document(&actor, new)).await {
        Ok(doc) => Redirect::to(&format!("/documents/{}?msg=created", doc.id)).into_response(),
        Err(p) => {
            let models = chat_models(&state).await;
            let msg = if p.detail.contains("is not a generation you requested") {
                "Cette génération est inconnue du serveur ou n'est pas la vôtre : relancez la réponse puis réessayez."
                    .to_string()
            } else {
                fr_message(p.status, &p.detail)
            };
            fail(p.status, &msg, models)
        }
    }
}

super::csrf_forms!(SaveForm);
