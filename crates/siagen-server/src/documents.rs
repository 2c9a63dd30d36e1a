//! Document routes: thin translations between JSON and the store's workflow methods.

use crate::auth::Auth;
use crate::problem::{ApiJson, ApiPath, ApiQuery, Problem};
use crate::{blocking, AppState};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use siagen_store::{
    DocState, DocumentFilter, DocumentKind, DocumentView, ModelAuthor, NewDocument,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    kind: DocumentKind,
    title: String,
    patient_ref: String,
    text: String,
    #[serde(default)]
    generated_by: Option<ModelAuthor>,
}

fn created(view: DocumentView) -> Response {
    let location = format!("/api/documents/{}", view.id);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response()
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, Problem> {
    let store = state.store.clone();
    let view = blocking(move || {
        store.create_document(
            &actor,
            NewDocument {
                kind: body.kind,
                title: body.title,
                patient_ref: body.patient_ref,
                text: body.text,
                generated_by: body.generated_by,
            },
        )
    })
    .await?;
    Ok(created(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    state: Option<DocState>,
    kind: Option<DocumentKind>,
    author: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let filter = DocumentFilter {
        state: q.state,
        kind: q.kind,
        author: q.author,
        page: q.page,
        per_page: q.per_page,
    };
    let page = blocking(move || store.list_documents(&actor, &filter)).await?;
    Ok(Json(json!(page)))
}

pub(crate) async fn get_one(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DocumentView>, Problem> {
    let store = state.store.clone();
    Ok(Json(
        blocking(move || store.get_document(&actor, id)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviseBody {
    text: String,
    #[serde(default)]
    generated_by: Option<ModelAuthor>,
    #[serde(default)]
    base_revision_id: Option<i64>,
}

pub(crate) async fn revise(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReviseBody>,
) -> Result<Response, Problem> {
    let store = state.store.clone();
    let view = blocking(move || {
        store.add_revision(
            &actor,
            id,
            &body.text,
            body.generated_by,
            body.base_revision_id,
        )
    })
    .await?;
    Ok(created(view))
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DocumentView>, Problem> {
    let store = state.store.clone();
    Ok(Json(blocking(move || store.submit(&actor, id)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidateBody {
    revision_id: i64,
}

pub(crate) async fn validate(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ValidateBody>,
) -> Result<Json<DocumentView>, Problem> {
    let store = state.store.clone();
    Ok(Json(
        blocking(move || store.validate(&actor, id, body.revision_id)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RejectBody {
    reason: String,
}

pub(crate) async fn reject(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<DocumentView>, Problem> {
    let store = state.store.clone();
    Ok(Json(
        blocking(move || store.reject(&actor, id, &body.reason)).await?,
    ))
}

pub(crate) async fn history(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let (revisions, events) = blocking(move || store.history(&actor, id)).await?;
    Ok(Json(
        json!({ "document_id": id, "revisions": revisions, "events": events }),
    ))
}

/// The `final` view: the validated text and who validated it; refused before validation.
pub(crate) async fn final_view(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, Problem> {
    let store = state.store.clone();
    let view = blocking(move || store.export_document(&actor, id, "final")).await?;
    let v = view.validation.as_ref();
    Ok(Json(json!({
        "document_id": view.id,
        "kind": view.kind,
        "title": view.title,
        "patient_ref": view.patient_ref,
        "revision_id": view.current_revision.id,
        "text": view.current_revision.text,
        "text_sha256": view.current_revision.text_sha256,
        "origin_map": view.current_revision.origin_map,
        "validated_by": v.map(|v| &v.validator_name),
        "validated_at": v.map(|v| &v.validated_at),
        "edit_distance": v.and_then(|v| v.edit_distance),
    })))
}

pub(crate) async fn fhir(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, Problem> {
    let store = state.store.clone();
    let view = blocking(move || store.export_document(&actor, id, "fhir")).await?;
    let validation = view
        .validation
        .as_ref()
        .ok_or_else(|| Problem::internal(&"validated document without validation"))?;
    // The machine revisions behind the text, for the Provenance: those whose passages remain
    // in the validated text (by generation id, else model and version), else the last draft.
    let remaining = view.current_revision.origin_map.models();
    let info = |rev: i64, m: &siagen_store::ModelAuthor| siagen_fhir::ModelInfo {
        model: m.model.clone(),
        version: m.version.clone(),
        parameters: m.parameters.clone(),
        revision_id: rev,
    };
    let mut machines: Vec<siagen_fhir::ModelInfo> = validation
        .machine_revisions
        .iter()
        .filter(|(_, m)| {
            remaining
                .iter()
                .any(|r| match (&r.generation_id, &m.generation_id) {
                    (Some(a), Some(b)) => a == b,
                    _ => r.model == m.model && r.version == m.version,
                })
        })
        .map(|(rev, m)| info(*rev, m))
        .collect();
    if machines.is_empty() {
        machines.extend(
            validation
                .machine_revision_id
                .zip(validation.machine_author.as_ref())
                .map(|(rev, m)| info(rev, m)),
        );
    }
    // A drafted document's sections, as a Composition.
    let (kind_loinc, sections) =
        siagen_app::draft::sections_of(&state.app, view.kind.as_str(), &view.current_revision.text);
    let sections = sections
        .into_iter()
        .map(|s| siagen_fhir::Section {
            key: s.key,
            title: s.title,
            loinc: s.loinc,
            text: s.text,
        })
        .collect();
    let export = siagen_fhir::Export {
        sections,
        kind_loinc,
        document_id: view.id,
        kind: view.kind.as_str().to_string(),
        kind_label: view.kind.label_fr().to_string(),
        title: view.title.clone(),
        patient_ref: view.patient_ref.clone(),
        text: view.current_revision.text.clone(),
        revision_id: view.current_revision.id,
        revision_created_at: view.current_revision.created_at.clone(),
        validated_at: validation.validated_at.clone(),
        validator_id: validation.validator_id,
        validator_name: validation.validator_name.clone(),
        // Machine text remains while the origin map holds machine or edited characters.
        ai_content_remains: view.current_revision.origin_map.has_machine_text(),
        origin_map: Some(json!(view.current_revision.origin_map)),
        machines,
    };
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let bundle = siagen_fhir::bundle(&export, &now);
    Ok((
        [(header::CONTENT_TYPE, "application/fhir+json")],
        bundle.to_string(),
    )
        .into_response())
}
