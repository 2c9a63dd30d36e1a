//! The types of documents: kinds, states, authors, and the views the store returns.

use crate::{Result, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use siagen_mark::manifest::ManifestModel;
use siagen_mark::origin::{self, OriginMap};
use std::fmt;
use std::str::FromStr;

/// Kinds of hospital document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Compte-rendu d'hospitalisation (discharge summary).
    CompteRenduHospitalisation,
    /// Lettre de liaison.
    LettreLiaison,
    /// Compte-rendu opératoire.
    CompteRenduOperatoire,
    /// Compte-rendu de RCP (multidisciplinary team meeting).
    CompteRenduRcp,
    /// Lettre au patient.
    LettrePatient,
    /// Compte-rendu d'imagerie.
    CompteRenduImagerie,
    /// Réponse sourcée (answer citing the local corpus).
    ReponseSourcee,
    /// Free text.
    Libre,
}

impl DocumentKind {
    /// Every kind.
    pub const ALL: [DocumentKind; 8] = [
        Self::CompteRenduHospitalisation,
        Self::LettreLiaison,
        Self::CompteRenduOperatoire,
        Self::CompteRenduRcp,
        Self::LettrePatient,
        Self::CompteRenduImagerie,
        Self::ReponseSourcee,
        Self::Libre,
    ];

    /// The identifier used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CompteRenduHospitalisation => "compte_rendu_hospitalisation",
            Self::LettreLiaison => "lettre_liaison",
            Self::CompteRenduOperatoire => "compte_rendu_operatoire",
            Self::CompteRenduRcp => "compte_rendu_rcp",
            Self::LettrePatient => "lettre_patient",
            Self::CompteRenduImagerie => "compte_rendu_imagerie",
            Self::ReponseSourcee => "reponse_sourcee",
            Self::Libre => "libre",
        }
    }

    /// The French label shown to clinicians.
    pub fn label_fr(self) -> &'static str {
        match self {
            Self::CompteRenduHospitalisation => "Compte-rendu d'hospitalisation",
            Self::LettreLiaison => "Lettre de liaison",
            Self::CompteRenduOperatoire => "Compte-rendu opératoire",
            Self::CompteRenduRcp => "Compte-rendu de RCP",
            Self::LettrePatient => "Lettre au patient",
            Self::CompteRenduImagerie => "Compte-rendu d'imagerie",
            Self::ReponseSourcee => "Réponse sourcée",
            Self::Libre => "Document libre",
        }
    }
}

impl FromStr for DocumentKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                StoreError::Invalid(format!(
                    "unknown document kind '{s}' (expected one of: {})",
                    all.join(", ")
                ))
            })
    }
}

/// Workflow state of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocState {
    /// Being written.
    Draft,
    /// Submitted, waiting for a validator.
    InReview,
    /// A validator signed off its current revision.
    Validated,
    /// A validator sent it back.
    Rejected,
}

impl DocState {
    /// The identifier used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::InReview => "in_review",
            Self::Validated => "validated",
            Self::Rejected => "rejected",
        }
    }
}

impl fmt::Display for DocState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DocState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "draft" => Ok(Self::Draft),
            "in_review" => Ok(Self::InReview),
            "validated" => Ok(Self::Validated),
            "rejected" => Ok(Self::Rejected),
            _ => Err(StoreError::Invalid(format!(
                "unknown state '{s}' (expected draft, in_review, validated or rejected)"
            ))),
        }
    }
}

/// A model that wrote a revision: enough to reproduce or question it later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelAuthor {
    /// Model id (e.g. its registry name).
    pub model: String,
    /// Version or file hash of the weights.
    pub version: String,
    /// Sampling parameters (temperature, top_p, ...).
    #[serde(default = "empty_object")]
    pub parameters: Value,
    /// Seed of the generation, if fixed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// SHA-256 (hex) of the prompt; never the prompt itself.
    #[serde(default)]
    pub prompt_sha256: Option<String>,
    /// The generation that produced the text (id returned by the generation API), which links
    /// the revision to its energy and audit records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
}

pub(super) fn empty_object() -> Value {
    json!({})
}

/// Who wrote a revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Author {
    /// A person typed it.
    Human {
        /// Account id.
        user_id: i64,
        /// Account name.
        name: String,
    },
    /// A model generated it at a person's request.
    Model {
        /// The model and its parameters.
        #[serde(flatten)]
        model: ModelAuthor,
        /// Account id of the person who requested the generation.
        requested_by: i64,
        /// Their name.
        requested_by_name: String,
    },
}

impl Author {
    /// The person responsible for the revision (its writer or requester).
    pub fn responsible_user(&self) -> i64 {
        match self {
            Author::Human { user_id, .. } => *user_id,
            Author::Model { requested_by, .. } => *requested_by,
        }
    }

    /// True for machine-written revisions.
    pub fn is_model(&self) -> bool {
        matches!(self, Author::Model { .. })
    }

    /// The author as the origin map sees it: a model (name, version, generation) or a person.
    pub fn origin_author(&self) -> origin::Author {
        match self {
            Author::Human { user_id, .. } => origin::Author::Human { user_id: *user_id },
            Author::Model { model, .. } => origin::Author::Model(origin::ModelRef {
                model: model.model.clone(),
                version: model.version.clone(),
                generation_id: model.generation_id.clone(),
            }),
        }
    }
}

/// One revision with its full text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionView {
    /// Revision id (global).
    pub id: i64,
    /// Position in the document, from 1.
    pub number: i64,
    /// The revision it edits.
    pub parent_id: Option<i64>,
    /// Who wrote it.
    pub author: Author,
    /// When.
    pub created_at: String,
    /// SHA-256 of the text (hex).
    pub text_sha256: String,
    /// Full text.
    pub text: String,
    /// Who wrote which characters of the text (character offsets; see `siagen_mark::origin`).
    pub origin_map: OriginMap,
}

/// The last validation of a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationInfo {
    /// The exact revision validated.
    pub revision_id: i64,
    /// The validator's account id.
    pub validator_id: i64,
    /// The validator's name.
    pub validator_name: String,
    /// When.
    pub validated_at: String,
    /// Last machine-written revision before validation, if any.
    pub machine_revision_id: Option<i64>,
    /// Normalised edit distance from that machine text to the validated text (0 = unchanged).
    pub edit_distance: Option<f64>,
    /// Unified diff from the machine text to the validated text.
    pub diff: Option<String>,
    /// The model that wrote that machine revision (for provenance exports).
    pub machine_author: Option<ModelAuthor>,
    /// Every machine-written revision up to the validated one, oldest first, with its model
    /// (for provenance exports: a text may keep passages of several generations).
    #[serde(skip)]
    pub machine_revisions: Vec<(i64, ModelAuthor)>,
}

/// A document with its current revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentView {
    /// Document id.
    pub id: i64,
    /// Kind.
    pub kind: DocumentKind,
    /// Title.
    pub title: String,
    /// Pseudonymous patient reference.
    pub patient_ref: String,
    /// Workflow state.
    pub state: DocState,
    /// Creator's account id.
    pub created_by: i64,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// The current revision.
    pub current_revision: RevisionView,
    /// The most recent validation, if any (it may concern an older revision).
    pub validation: Option<ValidationInfo>,
    /// Energy of the generations behind its machine revisions.
    pub energy: DocumentEnergy,
}

/// Energy of the generations cited by a document's machine revisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentEnergy {
    /// Generations counted (each once).
    pub generations: i64,
    /// Watt-hours.
    pub wh: f64,
    /// Grams of CO2 equivalent.
    pub co2e_g: f64,
}

impl DocumentView {
    /// True when the current revision is the validated one: the only state that may leave.
    pub fn is_final(&self) -> bool {
        self.state == DocState::Validated
            && self
                .validation
                .as_ref()
                .is_some_and(|v| v.revision_id == self.current_revision.id)
    }
}

/// What a provenance manifest states about a validated document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProvenanceRecord {
    /// Document id.
    pub document_id: i64,
    /// The validated (and current) revision, with its text and origin map.
    pub revision: RevisionView,
    /// Its validation.
    pub validation: ValidationInfo,
    /// Every model that wrote a revision up to the validated one, with its generations.
    pub models: Vec<ManifestModel>,
}

/// A line of a document list (no text).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentSummary {
    /// Document id.
    pub id: i64,
    /// Kind.
    pub kind: DocumentKind,
    /// Title.
    pub title: String,
    /// Pseudonymous patient reference.
    pub patient_ref: String,
    /// Workflow state.
    pub state: DocState,
    /// Creator's account id.
    pub created_by: i64,
    /// Creator's name.
    pub created_by_name: String,
    /// Current revision id.
    pub current_revision_id: i64,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// A page of results.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// All matching items.
    pub total: i64,
    /// Page number, from 1.
    pub page: i64,
    /// Page size.
    pub per_page: i64,
}

/// Filters for listing documents.
#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    /// Only this state.
    pub state: Option<DocState>,
    /// Only this kind.
    pub kind: Option<DocumentKind>,
    /// Only documents created by this account name.
    pub author: Option<String>,
    /// Page number, from 1.
    pub page: Option<i64>,
    /// Page size (1–200, default 50).
    pub per_page: Option<i64>,
}

/// A new document.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Kind.
    pub kind: DocumentKind,
    /// Title.
    pub title: String,
    /// Pseudonymous patient reference.
    pub patient_ref: String,
    /// Text of the first revision.
    pub text: String,
    /// Set when a model wrote the text.
    pub generated_by: Option<ModelAuthor>,
}

/// One step of a document's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEvent {
    /// `revision`, `submitted`, `validated` or `rejected`.
    pub event: String,
    /// When.
    pub at: String,
    /// The person who acted.
    pub user_id: i64,
    /// Their name.
    pub user_name: String,
    /// The revision concerned.
    pub revision_id: Option<i64>,
    /// Reason of a rejection.
    pub reason: Option<String>,
}
