//! What may leave, per destination: raw text, pseudonymised text, or nothing.
//!
//! Every text bound for a model (local engine or upstream replica, chat, completion or
//! embedding) passes [`prepare`]; it asks the shield's policy for that destination (default: a
//! destination may not receive identifying data, so texts are pseudonymised with the patient's
//! surrogates, or the user's without a patient reference). The answer is then re-identified for
//! the caller with the [`Egress`] it returns.

use crate::{App, AppError, Result, ShieldState};
use serde_json::{json, Value};
use siagen_shield::{Destination, EgressDecision, Reidentifier, StreamReidentifier};
use std::sync::Arc;

/// The decision taken for one request, and what re-identification needs.
pub struct Egress {
    reid: Option<(Arc<ShieldState>, String)>,
    /// The audit form (`{"decision", "replaced"}`).
    pub audit: Value,
}

impl Egress {
    /// Texts went out as they were.
    fn raw(audit: Value) -> Egress {
        Egress { reid: None, audit }
    }

    /// The re-identifier of this request's answers (loads the vault record once), if texts were
    /// pseudonymised. Synchronous: call it off the async executor.
    pub fn reidentifier(&self) -> Option<(Arc<ShieldState>, Reidentifier)> {
        let (sh, pref) = self.reid.as_ref()?;
        match Reidentifier::load(pref, &sh.vault) {
            Ok(r) => Some((sh.clone(), r)),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the vault to re-identify an answer");
                None
            }
        }
    }

    /// A streamed answer's re-identifier. Synchronous.
    pub fn streamer(&self) -> Option<Streamer> {
        self.reidentifier().map(|(sh, r)| Streamer {
            shield: sh,
            inner: StreamReidentifier::new(r),
        })
    }
}

/// Re-identifies a streamed answer in linear time (see [`StreamReidentifier`]).
pub struct Streamer {
    shield: Arc<ShieldState>,
    inner: StreamReidentifier,
}

impl Streamer {
    /// Adds model text; returns what can be shown now.
    pub fn push(&mut self, delta: &str) -> String {
        self.inner.push(&self.shield.shield, delta)
    }

    /// The rest, at the end.
    pub fn finish(&mut self) -> String {
        self.inner.finish(&self.shield.shield)
    }
}

/// The patient whose surrogates a request uses: the one named, else the user's own space.
pub fn patient_space(actor: &siagen_store::Actor, patient_ref: Option<&str>) -> Result<String> {
    match patient_ref {
        Some(r) => {
            crate::privacy::check_patient_ref(r)?;
            Ok(r.to_string())
        }
        None => Ok(format!("user:{}", actor.user_id.unwrap_or(0))),
    }
}

/// Applies the egress policy of `dest` (the local engine when `None`) to `texts`. The caller
/// must have authorised the actor first: this may write to the vault.
pub async fn prepare(
    app: &App,
    patient_ref: &str,
    texts: Vec<String>,
    dest: Option<&Destination>,
) -> Result<(Vec<String>, Egress)> {
    let Some(sh) = app.services.shield.clone() else {
        return Ok((
            texts,
            Egress::raw(json!({ "decision": "raw", "shield": "off" })),
        ));
    };
    let dest = dest.unwrap_or(&sh.local_engine).clone();
    match sh.policy.decide(&dest) {
        EgressDecision::Raw => Ok((texts, Egress::raw(json!({ "decision": "raw" })))),
        EgressDecision::Refuse => Err(AppError::EgressRefused(dest.name)),
        EgressDecision::Pseudonymize => {
            let (sh2, pref) = (sh.clone(), patient_ref.to_string());
            let (out, replaced) = App::blocking(move || {
                let mut replaced = 0;
                let mut out = Vec::with_capacity(texts.len());
                for t in texts {
                    let p = siagen_shield::pseudonymize_with(
                        &sh2.shield,
                        &t,
                        &pref,
                        &sh2.vault,
                        &sh2.policy.options,
                    )?;
                    replaced += p.replaced;
                    out.push(p.text);
                }
                Ok::<_, siagen_shield::ShieldError>((out, replaced))
            })
            .await?;
            Ok((
                out,
                Egress {
                    reid: Some((sh, patient_ref.to_string())),
                    audit: json!({ "decision": "pseudonymize", "replaced": replaced }),
                },
            ))
        }
    }
}
