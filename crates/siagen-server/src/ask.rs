//! Sourced answers over HTTP: `POST /api/ask`, `POST /api/ask/save` and
//! `GET /api/documents/{id}/sources`. The workflow (retrieval, refusal when not covered,
//! generation, citations, claim check, saving) is `siagen_app::ask`.

use crate::auth::Auth;
use crate::problem::{ApiJson, ApiPath, Problem};
use crate::{app_result, AppState};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use siagen_app::ask::{AskBody, SaveBody};

/// `POST /api/ask`.
pub(crate) async fn ask(
    State(state): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AskBody>,
) -> Result<Response, Problem> {
    let patient_ref = headers
        .get("x-siagen-patient-ref")
        .map(|v| v.to_str().unwrap_or("\u{0}").to_string());
    let a = app_result(siagen_app::ask::answer(&state.app, &actor, patient_ref, body).await)?;
    Ok(Json(a).into_response())
}

/// `POST /api/ask/save`.
pub(crate) async fn save(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<SaveBody>,
) -> Result<Response, Problem> {
    let (view, sources) = app_result(siagen_app::ask::save_answer(&state.app, &actor, body).await)?;
    let location = format!("/api/documents/{}", view.id);
    let mut v = serde_json::to_value(&view).map_err(|e| Problem::internal(&e))?;
    v["sources"] = json!(sources);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(v)).into_response())
}

/// `GET /api/documents/{id}/sources`: the numbered sources of a sourced answer.
pub(crate) async fn document_sources(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, Problem> {
    let sources = app_result(siagen_app::ask::document_sources(&state.app, &actor, id).await)?;
    Ok(Json(json!({ "document_id": id, "sources": sources })))
}
