//! Drug-interaction checks on the ANSM thesaurus: deterministic, and every answer names the
//! edition it used.

use crate::auth::Auth;
use crate::problem::{ApiJson, Problem};
use crate::{blocking, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Most lines in one check.
const MAX_LINES: usize = 100;
/// Longest line.
const MAX_LINE_CHARS: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckBody {
    drugs: Vec<String>,
    #[serde(default)]
    edition: Option<String>,
}

pub(crate) async fn check(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<CheckBody>,
) -> Result<Json<Value>, Problem> {
    if body.drugs.is_empty() || body.drugs.len() > MAX_LINES {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("drugs must hold 1 to {MAX_LINES} lines"),
        ));
    }
    if let Some(i) = body
        .drugs
        .iter()
        .position(|d| d.chars().count() > MAX_LINE_CHARS)
    {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("drug line {i} is longer than {MAX_LINE_CHARS} characters"),
        ));
    }
    let editions = &state.app.services.meds;
    let thesaurus = match &body.edition {
        None => editions.first(),
        Some(e) => editions.iter().find(|t| t.edition() == e),
    }
    .cloned()
    .ok_or_else(|| {
        let available: Vec<&str> = editions.iter().map(|t| t.edition()).collect();
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-edition",
            format!(
                "thesaurus edition {:?} is not loaded; available: {}",
                body.edition.as_deref().unwrap_or("default"),
                available.join(", ")
            ),
        )
    })?;
    let store = state.store.clone();
    let lines = body.drugs.len();
    let edition = thesaurus.edition().to_string();
    blocking(move || {
        store.authorize(&actor, "meds.check", "meds", |a| {
            a.require_clinical("checking prescriptions")
        })?;
        // Drug lines are not identifying, but the trail keeps only counts anyway.
        store.audit_event(
            &actor.audit_label(),
            "meds.check",
            "meds",
            "ok",
            json!({ "lines": lines, "edition": edition }),
        )
    })
    .await?;
    let result = thesaurus.check(&body.drugs);
    Ok(Json(
        serde_json::to_value(&result).map_err(|e| Problem::internal(&e))?,
    ))
}

pub(crate) async fn editions(State(state): State<AppState>, Auth(_): Auth) -> Json<Value> {
    let list: Vec<&str> = state
        .app
        .services
        .meds
        .iter()
        .map(|t| t.edition())
        .collect();
    Json(json!({ "default": list.first(), "editions": list }))
}
