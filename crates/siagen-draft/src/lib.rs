//! # siagen-draft
//!
//! What drafting a hospital document from a stay's notes needs, without a model: the kinds of
//! document and their sections ([`template`], data files), the stay's notes and their passages
//! ([`notes`], including the notes of a FHIR R4 Bundle), the prompts and the reading of the
//! model's sections ([`prompt`]), and the check of every sentence of a draft against the notes
//! ([`check`]): `supported` (with the passages that support it), `contradicted` (the notes say
//! otherwise: another number, side, status, the negation…) or `unsupported`.
//!
//! **Architecture invariant.** No model, no network, no storage: pure functions over texts, so
//! that the check holds whatever model wrote the draft, and runs the same on a hand-written
//! letter. The workflow that calls a model is `siagen_app::draft`.
//!
//! **API boundary.** [`Templates`], [`Note`], [`notes_from_fhir`], [`check_text`],
//! [`CheckedSentence`], [`Status`], [`prompt::section_messages`], [`prompt::read_section`].

pub mod check;
pub mod notes;
pub mod prompt;
pub mod template;

pub use check::{check_text, CheckedSentence, NoteChecker, SourceRef, Status};
pub use notes::{notes_from_fhir, validate_notes, Note, MAX_NOTES, MAX_NOTE_CHARS};
pub use template::{Section, Template, Templates};

/// A drafting input that cannot be used, with its precise reason.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DraftError {
    /// No template of that kind.
    #[error("unknown kind '{0}': expected one of {1}")]
    UnknownKind(String, String),
    /// The notes cannot be drafted from (none, too many, too long, duplicate ids…).
    #[error("{0}")]
    BadNotes(String),
    /// A FHIR Bundle that holds no usable note.
    #[error("{0}")]
    BadFhir(String),
    /// A template file that does not parse or breaks the shipped keys.
    #[error("template {0}: {1}")]
    BadTemplate(String, String),
}
