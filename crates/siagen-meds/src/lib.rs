//! Medication safety for siagen: drug–drug interaction checking on the French national reference,
//! the ANSM "Thésaurus des interactions médicamenteuses".
//!
//! The answer is deterministic: every finding is an entry of the thesaurus edition named in the
//! answer, reached through the thesaurus's own substance index and class memberships. Nothing is
//! inferred by a model. Drug lines as clinicians write them ("KARDEGIC 75 mg 1 sachet/j",
//! "chlorhydrate de ciprofloxacine 500 mg") are mapped to thesaurus substances, through French brand
//! names and ATC codes where needed, and a line that cannot be mapped is reported as unknown rather
//! than silently dropped.
//!
//! ```
//! let thesaurus = siagen_meds::Thesaurus::builtin(None).unwrap();
//! let check = thesaurus.check(&["Kardégic 75 mg 1 sachet/j", "Eliquis 5mg x2/j"]);
//! assert_eq!(&*check.edition, thesaurus.edition());
//! assert!(!check.interactions.is_empty());
//! ```

mod check;
mod normalize;
mod thesaurus;

pub use check::{Check, DrugLine, DrugStatus, Interaction, LevelDetail};
pub use normalize::fold;
pub use thesaurus::{builtin_editions, Severity, Thesaurus, ThesaurusStats};

use std::path::PathBuf;

/// Errors of the medication crate. Loading is the only fallible step: checking a prescription
/// always answers, with unknown drugs listed as such.
#[derive(Debug, thiserror::Error)]
pub enum MedsError {
    /// The requested edition is not available where it was looked for.
    #[error("thesaurus edition {edition:?} is not available; available editions: {available}")]
    UnknownEdition { edition: String, available: String },
    /// An edition name must be a plain label such as "2020-01" (it becomes part of a file name).
    #[error("invalid thesaurus edition name {0:?}")]
    InvalidEdition(String),
    /// The directory holds no `thesaurus-<edition>.json` file.
    #[error("no thesaurus edition found in {0}")]
    NoEdition(PathBuf),
    /// A data file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A data file is not the expected JSON.
    #[error("invalid JSON in {what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A batch request line is not `{"id": ..., "drugs": ["...", ...]}`.
    #[error("invalid request line: {0}")]
    Request(String),
}
