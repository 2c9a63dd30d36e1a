//! The privacy shield as a service to clinicians: detect identifiers, pseudonymise a text for a
//! patient, and put identifiers back (re-identification, clinicians only). Each call is
//! authorised first and audited with counts and hashes, never the text.

use crate::{App, AppError, Result, ShieldState};
use serde_json::json;
use siagen_shield::{PseudoOptions, Pseudonymized, Span, SurrogateStyle};
use siagen_store::{Role, StoreError};
use std::sync::Arc;

/// Longest text accepted (characters).
pub const MAX_CHARS: usize = 500_000;

/// The shield, or a 503 saying it is not configured.
pub fn shield(app: &App) -> Result<Arc<ShieldState>> {
    app.services
        .shield
        .clone()
        .ok_or_else(|| AppError::unavailable("no-shield", "the privacy shield is not configured"))
}

/// A patient reference as accepted everywhere: pseudonymous, short, URL-safe.
pub fn check_patient_ref(r: &str) -> Result<()> {
    let ok = !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AppError::Invalid(
            "patient_ref must be 1 to 64 characters among A-Z, a-z, 0-9, '.', '_', ':' and '-'"
                .into(),
        ))
    }
}

fn check_text(t: &str) -> Result<()> {
    if t.chars().count() > MAX_CHARS {
        return Err(AppError::Invalid(format!(
            "text too long: at most {MAX_CHARS} characters"
        )));
    }
    Ok(())
}

fn internal(e: siagen_shield::ShieldError) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// The identifiers of `text` (character offsets and labels).
pub async fn detect(app: &App, actor: &siagen_store::Actor, text: String) -> Result<Vec<Span>> {
    check_text(&text)?;
    let sh = shield(app)?;
    let store = app.store.clone();
    let actor = actor.clone();
    App::blocking(move || {
        store.authorize(&actor, "shield.detect", "shield", |a| {
            a.require_clinical("the privacy shield")
        })?;
        let spans = sh.shield.detect(&text);
        store.audit_event(
            &actor.audit_label(),
            "shield.detect",
            "shield",
            "ok",
            json!({ "spans": spans.len() }),
        )?;
        Ok::<_, StoreError>(spans)
    })
    .await
}

/// `text` with its identifiers replaced by the patient's surrogates (kept in the vault).
pub async fn pseudonymize(
    app: &App,
    actor: &siagen_store::Actor,
    text: String,
    patient_ref: String,
    style: Option<SurrogateStyle>,
) -> Result<Pseudonymized> {
    check_text(&text)?;
    check_patient_ref(&patient_ref)?;
    let sh = shield(app)?;
    let store = app.store.clone();
    let actor = actor.clone();
    let opts = PseudoOptions {
        style: style.unwrap_or_default(),
    };
    App::blocking(move || {
        // Authorised before the vault is touched.
        store.authorize(&actor, "shield.pseudonymize", "shield", |a| {
            a.require_clinical("the privacy shield")
        })?;
        let p = siagen_shield::pseudonymize_with(&sh.shield, &text, &patient_ref, &sh.vault, &opts)
            .map_err(internal)?;
        store.audit_event(
            &actor.audit_label(),
            "shield.pseudonymize",
            &format!("patient:{}", siagen_store::sha256_hex(&patient_ref)),
            "ok",
            json!({ "replaced": p.replaced }),
        )?;
        Ok::<_, StoreError>(p)
    })
    .await
}

/// Puts the identifiers back: clinicians only, every call audited.
pub async fn reidentify(
    app: &App,
    actor: &siagen_store::Actor,
    text: String,
    patient_ref: String,
) -> Result<String> {
    check_text(&text)?;
    check_patient_ref(&patient_ref)?;
    let sh = shield(app)?;
    let store = app.store.clone();
    let actor = actor.clone();
    App::blocking(move || {
        store.authorize(&actor, "shield.reidentify", "shield", |a| {
            a.require(Role::Clinician)
        })?;
        let out = siagen_shield::reidentify_with_dates(&sh.shield, &text, &patient_ref, &sh.vault)
            .map_err(internal)?;
        store.audit_event(
            &actor.audit_label(),
            "shield.reidentify",
            &format!("patient:{}", siagen_store::sha256_hex(&patient_ref)),
            "ok",
            json!({ "text_sha256": siagen_store::sha256_hex(&text) }),
        )?;
        Ok::<_, StoreError>(out)
    })
    .await
}
