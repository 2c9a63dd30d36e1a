//! Drafting over HTTP: `POST /api/drafts` (draft a document of a kind from a stay's notes) and
//! `POST /api/drafts/check` (check any text against notes). The workflow is
//! `siagen_app::draft`.

use crate::auth::Auth;
use crate::problem::{ApiJson, Problem};
use crate::{app_result, AppState};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use siagen_app::draft::{CheckBody, DraftBody};

/// `POST /api/drafts` → 201 with the draft, its sections and sentences, alerts, model input.
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<DraftBody>,
) -> Result<Response, Problem> {
    let d = app_result(siagen_app::draft::draft(&state.app, &actor, body, None).await)?;
    let location = format!("/api/documents/{}", d.document_id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(d)).into_response())
}

/// `POST /api/drafts/check` → the sentences of `text` with their status and sources.
pub(crate) async fn check(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<CheckBody>,
) -> Result<Json<Value>, Problem> {
    let s = app_result(siagen_app::draft::check(&state.app, &actor, body).await)?;
    Ok(Json(json!({ "sentences": s })))
}
