//! Detection and pseudonymisation of patient identifiers in French clinical text.
//!
//! "There is no small datum": every identifier found here is replaced before a
//! text leaves the trust boundary, the mapping is kept in a local encrypted
//! [`Vault`], and identifiers are only restored for authorised humans through
//! [`reidentify`]. The detector is rule- and dictionary-based on purpose: it is
//! auditable, fast, and needs no model runtime. Recall is favoured over
//! precision because a missed identifier is the costly error.

mod batch;
mod detect;
mod dict;
mod egress;
pub mod eval;
mod lexicon;
mod pseudo;
mod surrogate;
mod validate;
mod vault;

pub use batch::{process_jsonl, BatchMode, BatchStats, LineError, Progress};
pub use detect::Shield;
pub use egress::{Destination, EgressDecision, EgressPolicy, Outbound};
pub use pseudo::{
    pseudonymize, pseudonymize_with, reidentify, reidentify_with_dates, PseudoOptions,
    Pseudonymized, Reidentifier, StreamReidentifier, SurrogateStyle, STREAM_HOLD_BACK,
};

pub use validate::{iban_is_valid, luhn_is_valid, nir_is_valid};
pub use vault::{Entry, PatientRecord, Vault, KEY_ENV_VAR};

use serde::{Deserialize, Serialize};

/// Kinds of identifiers. The first thirteen are the labels of AP-HP's
/// eds-pseudo so that corpora and metrics can be compared with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Label {
    #[serde(rename = "NOM")]
    Nom,
    #[serde(rename = "PRENOM")]
    Prenom,
    #[serde(rename = "DATE")]
    Date,
    #[serde(rename = "DATE_NAISSANCE")]
    DateNaissance,
    #[serde(rename = "ADRESSE")]
    Adresse,
    #[serde(rename = "VILLE")]
    Ville,
    #[serde(rename = "ZIP")]
    Zip,
    #[serde(rename = "TEL")]
    Tel,
    #[serde(rename = "MAIL")]
    Mail,
    /// French social security number (NIR), temporary NIR included.
    #[serde(rename = "SECU")]
    Secu,
    /// Permanent patient identifier of a hospital.
    #[serde(rename = "IPP")]
    Ipp,
    /// Stay / admission number.
    #[serde(rename = "NDA")]
    Nda,
    #[serde(rename = "HOPITAL")]
    Hopital,
    /// RPPS or ADELI number of a health professional.
    #[serde(rename = "RPPS")]
    Rpps,
    #[serde(rename = "FINESS")]
    Finess,
    #[serde(rename = "IBAN")]
    Iban,
    #[serde(rename = "URL")]
    Url,
    /// An age over 89, rare enough to identify on its own.
    #[serde(rename = "AGE")]
    Age,
}

impl Label {
    /// Every label, in a stable order (used for reports and tag numbering).
    pub const ALL: [Label; 18] = [
        Label::Nom,
        Label::Prenom,
        Label::Date,
        Label::DateNaissance,
        Label::Adresse,
        Label::Ville,
        Label::Zip,
        Label::Tel,
        Label::Mail,
        Label::Secu,
        Label::Ipp,
        Label::Nda,
        Label::Hopital,
        Label::Rpps,
        Label::Finess,
        Label::Iban,
        Label::Url,
        Label::Age,
    ];

    /// The wire name of the label (`"NOM"`, `"DATE_NAISSANCE"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Nom => "NOM",
            Label::Prenom => "PRENOM",
            Label::Date => "DATE",
            Label::DateNaissance => "DATE_NAISSANCE",
            Label::Adresse => "ADRESSE",
            Label::Ville => "VILLE",
            Label::Zip => "ZIP",
            Label::Tel => "TEL",
            Label::Mail => "MAIL",
            Label::Secu => "SECU",
            Label::Ipp => "IPP",
            Label::Nda => "NDA",
            Label::Hopital => "HOPITAL",
            Label::Rpps => "RPPS",
            Label::Finess => "FINESS",
            Label::Iban => "IBAN",
            Label::Url => "URL",
            Label::Age => "AGE",
        }
    }

    /// Parses a wire name; `None` for an unknown label.
    pub fn parse(s: &str) -> Option<Label> {
        Label::ALL.iter().copied().find(|l| l.as_str() == s)
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An identifier found in a text. Offsets count Unicode scalar values
/// (characters), not bytes, so that clients in any language agree on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub label: Label,
}

/// Errors of the shield. Detection itself cannot fail; only loading, the
/// vault and batch I/O can.
#[derive(Debug, thiserror::Error)]
pub enum ShieldError {
    #[error("embedded dictionary {name} is corrupt: {reason}")]
    Dictionary { name: &'static str, reason: String },
    #[error("vault I/O error on {path}: {source}")]
    VaultIo {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("vault record cannot be decrypted (wrong key or tampered file): {0}")]
    VaultDecrypt(String),
    #[error("vault record is malformed: {0}")]
    VaultFormat(String),
    #[error("invalid vault key: {0}")]
    InvalidKey(String),
    #[error("destination {0} is refused by the egress policy")]
    EgressRefused(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
