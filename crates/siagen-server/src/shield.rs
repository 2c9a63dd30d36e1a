//! The privacy shield over HTTP: detect identifiers, pseudonymise a text for a patient, and put
//! identifiers back (re-identification, audited) for the clinician allowed to see them.

use crate::auth::Auth;
use crate::problem::{ApiJson, Problem};
use crate::{blocking, AppState, ShieldState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use siagen_shield::{PseudoOptions, SurrogateStyle};
use siagen_store::{Role, StoreError};
use std::sync::Arc;

/// Longest text accepted (characters).
const MAX_CHARS: usize = 500_000;

pub(crate) fn state(app: &AppState) -> Result<Arc<ShieldState>, Problem> {
    app.services.shield.clone().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no-shield",
            "the privacy shield is not configured",
        )
    })
}

/// A patient reference as accepted for documents: pseudonymous, short, URL-safe.
pub(crate) fn check_patient_ref(r: &str) -> Result<(), Problem> {
    let ok = !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "patient_ref must be 1 to 64 characters among A-Z, a-z, 0-9, '.', '_', ':' and '-'",
        ))
    }
}

fn check_text(t: &str) -> Result<(), Problem> {
    if t.chars().count() > MAX_CHARS {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!("text too long: at most {MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetectBody {
    text: String,
}

pub(crate) async fn detect(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<DetectBody>,
) -> Result<Json<Value>, Problem> {
    check_text(&body.text)?;
    let sh = state(&app)?;
    let store = app.store.clone();
    blocking(move || {
        store.authorize(&actor, "shield.detect", "shield", |a| {
            a.require_clinical("the privacy shield")
        })?;
        let spans = sh.shield.detect(&body.text);
        store.audit_event(
            &actor.audit_label(),
            "shield.detect",
            "shield",
            "ok",
            json!({ "spans": spans.len() }),
        )?;
        Ok(json!({ "spans": spans }))
    })
    .await
    .map(Json)
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
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<PseudoBody>,
) -> Result<Json<Value>, Problem> {
    check_text(&body.text)?;
    check_patient_ref(&body.patient_ref)?;
    let sh = state(&app)?;
    let store = app.store.clone();
    let opts = PseudoOptions {
        style: body.style.unwrap_or_default(),
    };
    let result = blocking(move || {
        store.authorize(&actor, "shield.pseudonymize", "shield", |a| {
            a.require_clinical("the privacy shield")
        })?;
        let p = siagen_shield::pseudonymize_with(
            &sh.shield,
            &body.text,
            &body.patient_ref,
            &sh.vault,
            &opts,
        )
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        store.audit_event(
            &actor.audit_label(),
            "shield.pseudonymize",
            &format!("patient:{}", siagen_store::sha256_hex(&body.patient_ref)),
            "ok",
            json!({ "replaced": p.replaced }),
        )?;
        Ok(p)
    })
    .await?;
    Ok(Json(json!(result)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReidBody {
    text: String,
    patient_ref: String,
}

/// Puts the identifiers back: only clinicians, and every call is audited.
pub(crate) async fn reidentify(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<ReidBody>,
) -> Result<Json<Value>, Problem> {
    check_text(&body.text)?;
    check_patient_ref(&body.patient_ref)?;
    let sh = state(&app)?;
    let store = app.store.clone();
    let text = blocking(move || {
        store.authorize(&actor, "shield.reidentify", "shield", |a| {
            a.require(Role::Clinician)
        })?;
        let text = siagen_shield::reidentify_with_dates(
            &sh.shield,
            &body.text,
            &body.patient_ref,
            &sh.vault,
        )
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        store.audit_event(
            &actor.audit_label(),
            "shield.reidentify",
            &format!("patient:{}", siagen_store::sha256_hex(&body.patient_ref)),
            "ok",
            json!({ "text_sha256": siagen_store::sha256_hex(&body.text) }),
        )?;
        Ok(text)
    })
    .await?;
    Ok(Json(json!({ "text": text })))
}

/// Re-identifies a streamed output incrementally: identifiers come back only once a whole
/// surrogate has arrived, by holding back a tail as long as the longest surrogate.
pub(crate) struct StreamReidentifier {
    shield: Arc<ShieldState>,
    patient_ref: String,
    raw: String,
    emitted: usize,
}

/// Longer than any surrogate the shield writes.
const HOLD_BACK: usize = 64;

impl StreamReidentifier {
    pub(crate) fn new(shield: Arc<ShieldState>, patient_ref: String) -> Self {
        Self {
            shield,
            patient_ref,
            raw: String::new(),
            emitted: 0,
        }
    }

    fn restored(&self) -> String {
        siagen_shield::reidentify_with_dates(
            &self.shield.shield,
            &self.raw,
            &self.patient_ref,
            &self.shield.vault,
        )
        .unwrap_or_else(|_| self.raw.clone())
    }

    /// Adds model text; returns what can be shown now.
    pub(crate) fn push(&mut self, delta: &str) -> String {
        self.raw.push_str(delta);
        let re = self.restored();
        let total = re.chars().count();
        let stable = total.saturating_sub(HOLD_BACK);
        if stable <= self.emitted {
            return String::new();
        }
        let out: String = re
            .chars()
            .skip(self.emitted)
            .take(stable - self.emitted)
            .collect();
        self.emitted = stable;
        out
    }

    /// The rest, at the end of the generation.
    pub(crate) fn finish(&mut self) -> String {
        let re = self.restored();
        let out: String = re.chars().skip(self.emitted).collect();
        self.emitted = re.chars().count();
        out
    }
}
