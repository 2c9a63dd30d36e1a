//! The privacy shield over HTTP: detect identifiers, pseudonymise a text for a patient, and put
//! identifiers back (re-identification, audited) for the clinician allowed to see them. The
//! rules live in `siagen_app::privacy`.

use crate::auth::Auth;
use crate::problem::{ApiJson, Problem};
use crate::{app_result, AppState};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use siagen_shield::SurrogateStyle;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetectBody {
    text: String,
}

pub(crate) async fn detect(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<DetectBody>,
) -> Result<Json<Value>, Problem> {
    let spans = app_result(siagen_app::privacy::detect(&state.app, &actor, body.text).await)?;
    Ok(Json(json!({ "spans": spans })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PseudoBody {
    text: String,
    patient_ref: String,
    #[serde(default)]
    style: Option<SurrogateStyle>,
}

pub(crate) async fn pseudonymize(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<PseudoBody>,
) -> Result<Json<Value>, Problem> {
    let p = siagen_app::privacy::pseudonymize(
        &state.app,
        &actor,
        body.text,
        body.patient_ref,
        body.style,
    )
    .await;
    Ok(Json(json!(app_result(p)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReidBody {
    text: String,
    patient_ref: String,
}

/// Puts the identifiers back: only clinicians, and every call is audited.
pub(crate) async fn reidentify(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<ReidBody>,
) -> Result<Json<Value>, Problem> {
    let text = siagen_app::privacy::reidentify(&state.app, &actor, body.text, body.patient_ref);
    Ok(Json(json!({ "text": app_result(text.await)? })))
}
