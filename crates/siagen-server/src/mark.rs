//! `POST /api/mark/detect {text, model?, fpr?}`: the watermark detection of
//! `siagen_app::mark::detect` over HTTP.

use crate::auth::Auth;
use crate::problem::{ApiJson, Problem};
use crate::{app_result, AppState};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetectBody {
    text: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    fpr: Option<f64>,
}

/// The scheme and key that matched, scored tokens, score, p-value and verdict.
pub(crate) async fn detect(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<DetectBody>,
) -> Result<Json<Value>, Problem> {
    let d = siagen_app::mark::detect(&state.app, &actor, body.text, body.model, body.fpr).await;
    Ok(Json(app_result(d)?))
}
