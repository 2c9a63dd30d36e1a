//! The single place that decides what may leave: raw text, pseudonymised
//! text, or nothing, per destination. The default is the safe one: a
//! destination not known to be under established control receives
//! pseudonymised text only.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{pseudonymize_with, PseudoOptions, Shield, ShieldError, Vault};

/// Where a text is about to go (a model, a service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub name: String,
    /// True only for destinations whose control is established (local
    /// model on the platform's own hardware, for instance).
    pub may_receive_identifying: bool,
}

impl Destination {
    pub fn new(name: impl Into<String>, may_receive_identifying: bool) -> Destination {
        Destination {
            name: name.into(),
            may_receive_identifying,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EgressDecision {
    Raw,
    Pseudonymize,
    Refuse,
}

/// What may be sent, once the policy has been applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbound {
    pub decision: EgressDecision,
    pub text: String,
    /// Identifiers replaced (0 for raw).
    pub replaced: usize,
}

/// Per-destination egress policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EgressPolicy {
    /// Destinations that receive nothing at all.
    pub refused: BTreeSet<String>,
    /// Destinations forced to pseudonymised text even if they claim control.
    pub always_pseudonymize: BTreeSet<String>,
    pub options: PseudoOptions,
}

impl EgressPolicy {
    pub fn new() -> EgressPolicy {
        EgressPolicy::default()
    }

    pub fn refuse(mut self, name: impl Into<String>) -> EgressPolicy {
        self.refused.insert(name.into());
        self
    }

    pub fn force_pseudonymize(mut self, name: impl Into<String>) -> EgressPolicy {
        self.always_pseudonymize.insert(name.into());
        self
    }

    pub fn decide(&self, dest: &Destination) -> EgressDecision {
        if self.refused.contains(&dest.name) {
            EgressDecision::Refuse
        } else if dest.may_receive_identifying && !self.always_pseudonymize.contains(&dest.name) {
            EgressDecision::Raw
        } else {
            EgressDecision::Pseudonymize
        }
    }

    /// Applies the decision to a text. A refusal is an error so that a
    /// caller cannot send by mistake.
    pub fn prepare(
        &self,
        shield: &Shield,
        vault: &Vault,
        dest: &Destination,
        patient_ref: &str,
        text: &str,
    ) -> Result<Outbound, ShieldError> {
        match self.decide(dest) {
            EgressDecision::Refuse => Err(ShieldError::EgressRefused(dest.name.clone())),
            EgressDecision::Raw => Ok(Outbound {
                decision: EgressDecision::Raw,
                text: text.to_string(),
                replaced: 0,
            }),
            EgressDecision::Pseudonymize => {
                let p = pseudonymize_with(shield, text, patient_ref, vault, &self.options)?;
                Ok(Outbound {
                    decision: EgressDecision::Pseudonymize,
                    text: p.text,
                    replaced: p.replaced,
                })
            }
        }
    }
}
