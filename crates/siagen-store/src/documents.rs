//! Documents, revisions and the human-validation workflow.
//!
//! ```text
//!   create ──► draft ──submit──► in_review ──validate(exact revision)──► validated
//!                ▲                  │  ▲ new revision stays in review       │
//!                │                  └──reject──► rejected                   │
//!                └──────────── new revision ◄───────┴───────────────────────┘
//! ```
//! The invariants are enforced here, inside the transaction that changes the state:
//! only a named human holding the validator role validates; they validate the exact current
//! revision; a later revision undoes the validation; nothing is exported unless the current
//! revision is the validated one; a validator may not validate a revision they wrote or
//! requested unless the site allows it.

use crate::accounts::Actor;
use crate::{diff, now, sha256_hex, Result, Role, Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
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

fn empty_object() -> Value {
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

/// Largest text accepted for one revision (characters).
pub const MAX_TEXT_CHARS: usize = 500_000;

fn check_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(StoreError::Invalid("text must not be empty".into()));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(StoreError::Invalid(format!(
            "text too long: at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_model(m: &Option<ModelAuthor>) -> Result<()> {
    let Some(m) = m else { return Ok(()) };
    if m.model.trim().is_empty() || m.model.len() > 200 || m.version.len() > 200 {
        return Err(StoreError::Invalid(
            "generated_by.model must be 1 to 200 characters and version at most 200".into(),
        ));
    }
    if !m.parameters.is_object() {
        return Err(StoreError::Invalid(
            "generated_by.parameters must be a JSON object".into(),
        ));
    }
    if let Some(h) = &m.prompt_sha256 {
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid(
                "generated_by.prompt_sha256 must be 64 hexadecimal characters".into(),
            ));
        }
    }
    Ok(())
}

fn check_new(new: &NewDocument) -> Result<()> {
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "title must be 1 to 200 characters".into(),
        ));
    }
    let r = &new.patient_ref;
    if r.is_empty()
        || r.len() > 64
        || !r
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
    {
        return Err(StoreError::Invalid(
            "patient_ref must be a pseudonymous reference of 1 to 64 characters among A-Z, a-z, 0-9, '.', '_', ':' and '-' (never a name)".into(),
        ));
    }
    check_text(&new.text)?;
    check_model(&new.generated_by)
}

const REV_COLS: &str = "r.id, r.number, r.parent_id, r.author_kind, r.user_id, u.name, r.model_id, r.model_version, r.model_params, r.seed, r.prompt_sha256, r.created_at, r.text_sha256, r.text, r.generation_id, r.origin_map";

/// A revision's model from the columns (model_id, model_version, model_params, seed,
/// prompt_sha256, generation_id) at these indices of `r`.
fn model_author(r: &rusqlite::Row<'_>, c: [usize; 6]) -> rusqlite::Result<ModelAuthor> {
    let params: Option<String> = r.get(c[2])?;
    Ok(ModelAuthor {
        model: r.get::<_, Option<String>>(c[0])?.unwrap_or_default(),
        version: r.get::<_, Option<String>>(c[1])?.unwrap_or_default(),
        parameters: params
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_else(empty_object),
        seed: r.get(c[3])?,
        prompt_sha256: r.get(c[4])?,
        generation_id: r.get(c[5])?,
    })
}

fn revision_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RevisionView> {
    let kind: String = r.get(3)?;
    let user_id: i64 = r.get(4)?;
    let name: String = r.get(5)?;
    let author = if kind == "model" {
        Author::Model {
            model: model_author(r, [6, 7, 8, 9, 10, 14])?,
            requested_by: user_id,
            requested_by_name: name,
        }
    } else {
        Author::Human { user_id, name }
    };
    Ok(RevisionView {
        id: r.get(0)?,
        number: r.get(1)?,
        parent_id: r.get(2)?,
        author,
        created_at: r.get(11)?,
        text_sha256: r.get(12)?,
        text: r.get(13)?,
        // NULL for revisions written before migration 4: an empty map, filled by
        // `fill_origin_maps` (a revision's text is never empty, so an empty map means missing).
        origin_map: r
            .get::<_, Option<String>>(15)?
            .and_then(|m| serde_json::from_str(&m).ok())
            .unwrap_or_default(),
    })
}

fn missing_origin(rev: &RevisionView) -> bool {
    rev.origin_map.is_empty() && !rev.text.is_empty()
}

/// Fills the origin maps missing from a document's revisions (`revs` in number order, from the
/// first): each is derived from the previous one, as it would have been when it was written.
fn fill_origin_maps(revs: &mut [RevisionView]) {
    for i in 0..revs.len() {
        if !missing_origin(&revs[i]) {
            continue;
        }
        let author = revs[i].author.origin_author();
        revs[i].origin_map = match i {
            0 => OriginMap::first(&revs[0].text, &author),
            _ => OriginMap::derive(
                &revs[i - 1].text,
                &revs[i - 1].origin_map,
                &revs[i].text,
                &author,
            ),
        };
    }
}

/// A document's revisions up to `max_number`, oldest first, with their origin maps.
fn revisions_of(conn: &Connection, doc_id: i64, max_number: i64) -> Result<Vec<RevisionView>> {
    let mut revs = conn
        .prepare_cached(&format!(
            "SELECT {REV_COLS} FROM revisions r JOIN users u ON u.id = r.user_id
             WHERE r.document_id = ?1 AND r.number <= ?2 ORDER BY r.number"
        ))?
        .query_map(params![doc_id, max_number], revision_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    fill_origin_maps(&mut revs);
    Ok(revs)
}

fn load_revision(conn: &Connection, id: i64) -> Result<RevisionView> {
    let rev = conn
        .prepare_cached(&format!(
            "SELECT {REV_COLS} FROM revisions r JOIN users u ON u.id = r.user_id WHERE r.id = ?1"
        ))?
        .query_row([id], revision_from_row)?;
    if !missing_origin(&rev) {
        return Ok(rev);
    }
    let doc_id: i64 = conn
        .prepare_cached("SELECT document_id FROM revisions WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    revisions_of(conn, doc_id, rev.number)?
        .pop()
        .ok_or_else(|| StoreError::Internal(format!("revision {id} vanished")))
}

fn load_view(conn: &Connection, id: i64) -> Result<DocumentView> {
    let row = conn
        .prepare_cached(
            "SELECT id, kind, title, patient_ref, state, current_revision_id, created_by, created_at, updated_at
             FROM documents WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
            ))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no document with id {id}")))?;
    let mut validation = conn
        .prepare_cached(
            "SELECT v.revision_id, v.validator_id, u.name, v.validated_at, v.machine_revision_id, v.edit_distance, v.diff
             FROM validations v JOIN users u ON u.id = v.validator_id
             WHERE v.document_id = ?1 ORDER BY v.id DESC LIMIT 1",
        )?
        .query_row([id], |r| {
            Ok(ValidationInfo {
                revision_id: r.get(0)?,
                validator_id: r.get(1)?,
                validator_name: r.get(2)?,
                validated_at: r.get(3)?,
                machine_revision_id: r.get(4)?,
                edit_distance: r.get(5)?,
                diff: r.get(6)?,
                machine_author: None,
                machine_revisions: Vec::new(),
            })
        })
        .optional()?;
    if let Some(v) = validation
        .as_mut()
        .filter(|v| v.machine_revision_id.is_some())
    {
        v.machine_revisions = conn
            .prepare_cached(
                "SELECT id, model_id, model_version, model_params, seed, prompt_sha256, generation_id
                 FROM revisions WHERE document_id = ?1 AND author_kind = 'model' AND id <= ?2
                 ORDER BY id",
            )?
            .query_map(params![id, v.revision_id], |r| {
                Ok((r.get::<_, i64>(0)?, model_author(r, [1, 2, 3, 4, 5, 6])?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        v.machine_author = v
            .machine_revisions
            .iter()
            .find(|(rev, _)| Some(*rev) == v.machine_revision_id)
            .map(|(_, m)| m.clone());
    }
    let energy = conn
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(joules), 0) / 3600.0, COALESCE(SUM(co2e_g), 0) FROM generations
             WHERE id IN (SELECT generation_id FROM revisions WHERE document_id = ?1)",
        )?
        .query_row([id], |r| {
            Ok(DocumentEnergy {
                generations: r.get(0)?,
                wh: r.get(1)?,
                co2e_g: r.get(2)?,
            })
        })?;
    Ok(DocumentView {
        id: row.0,
        kind: row.1.parse()?,
        title: row.2,
        patient_ref: row.3,
        state: row.4.parse()?,
        created_by: row.6,
        created_at: row.7,
        updated_at: row.8,
        current_revision: load_revision(conn, row.5)?,
        validation,
        energy,
    })
}

#[allow(clippy::too_many_arguments)]
fn insert_revision(
    conn: &Connection,
    doc_id: i64,
    number: i64,
    parent: Option<i64>,
    text: &str,
    user_id: i64,
    model: &Option<ModelAuthor>,
    at: &str,
    origin_map: &OriginMap,
) -> Result<(i64, String)> {
    let hash = sha256_hex(text);
    let origin_json = serde_json::to_string(origin_map)
        .map_err(|e| StoreError::Internal(format!("origin map: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO revisions (document_id, number, parent_id, text, text_sha256, author_kind, user_id,
                                model_id, model_version, model_params, seed, prompt_sha256, created_at, generation_id,
                                origin_map)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        doc_id,
        number,
        parent,
        text,
        hash,
        if model.is_some() { "model" } else { "human" },
        user_id,
        model.as_ref().map(|m| &m.model),
        model.as_ref().map(|m| &m.version),
        model.as_ref().map(|m| m.parameters.to_string()),
        model.as_ref().and_then(|m| m.seed),
        model.as_ref().and_then(|m| m.prompt_sha256.as_ref()),
        at,
        model.as_ref().and_then(|m| m.generation_id.as_ref()),
        origin_json,
    ])?;
    Ok((conn.last_insert_rowid(), hash))
}

/// The origin-map author of a revision written by `user`, or generated at their request.
fn writer(user: i64, generated_by: &Option<ModelAuthor>) -> origin::Author {
    match generated_by {
        Some(m) => origin::Author::Model(origin::ModelRef {
            model: m.model.clone(),
            version: m.version.clone(),
            generation_id: m.generation_id.clone(),
        }),
        None => origin::Author::Human { user_id: user },
    }
}

/// A draft may cite only a generation its author requested on this server.
fn check_generation(conn: &Connection, m: &Option<ModelAuthor>, user: i64) -> Result<()> {
    if let Some(id) = m.as_ref().and_then(|m| m.generation_id.as_ref()) {
        let known = conn
            .prepare_cached("SELECT 1 FROM generations WHERE id = ?1 AND user_id = ?2")?
            .query_row(params![id, user], |_| Ok(()))
            .optional()?
            .is_some();
        if !known {
            return Err(StoreError::Invalid(format!(
                "generated_by.generation_id '{id}' is not a generation you requested on this server"
            )));
        }
    }
    Ok(())
}

fn add_event(
    conn: &Connection,
    doc_id: i64,
    revision: Option<i64>,
    event: &str,
    user: i64,
    at: &str,
    reason: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO document_events (document_id, revision_id, event, user_id, at, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![doc_id, revision, event, user, at, reason])?;
    Ok(())
}

fn current_state(conn: &Connection, doc_id: i64) -> Result<(DocState, i64)> {
    let (state, rev): (String, i64) = conn
        .prepare_cached("SELECT state, current_revision_id FROM documents WHERE id = ?1")?
        .query_row([doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no document with id {doc_id}")))?;
    Ok((state.parse()?, rev))
}

fn set_state(conn: &Connection, doc_id: i64, state: DocState, at: &str) -> Result<()> {
    conn.prepare_cached("UPDATE documents SET state = ?1, updated_at = ?2 WHERE id = ?3")?
        .execute(params![state.as_str(), at, doc_id])?;
    Ok(())
}

impl Store {
    /// Creates a document with its first revision, as a draft (clinicians).
    pub fn create_document(&self, actor: &Actor, new: NewDocument) -> Result<DocumentView> {
        self.create_with_sources(actor, new, &[], None)
    }

    /// Creates a draft « réponse sourcée » and records its numbered sources (`sources[i]` is
    /// `[i + 1]`) in the same transaction, so that a crash can leave neither a sourced answer
    /// without its sources nor sources without their answer. Each source is a JSON object with
    /// at least `chunk_id` and `licence` (the store keeps it opaque: it does not know the
    /// knowledge base). `answer_chars` are the characters of the text the model wrote (the
    /// answer); the question and the list of sources around it are the clinician's in the
    /// origin map, not machine text.
    pub fn create_sourced_answer(
        &self,
        actor: &Actor,
        new: NewDocument,
        sources: &[Value],
        answer_chars: std::ops::Range<usize>,
    ) -> Result<DocumentView> {
        if new.kind != DocumentKind::ReponseSourcee {
            return Err(StoreError::Invalid(
                "sources are recorded only for a sourced answer".into(),
            ));
        }
        if sources.is_empty() || sources.len() > 100 {
            return Err(StoreError::Invalid(
                "sources must hold 1 to 100 passages".into(),
            ));
        }
        for s in sources {
            if !s.is_object()
                || s.get("chunk_id").and_then(Value::as_str).is_none()
                || s.get("licence").and_then(Value::as_str).is_none()
            {
                return Err(StoreError::Invalid(
                    "each source must be an object with chunk_id and licence".into(),
                ));
            }
        }
        let len = new.text.chars().count();
        if new.generated_by.is_none()
            || answer_chars.start > answer_chars.end
            || answer_chars.end > len
        {
            return Err(StoreError::Invalid(format!(
                "the answer of a sourced answer must be a model's, at characters within 0..{len}"
            )));
        }
        self.create_with_sources(actor, new, sources, Some(answer_chars))
    }

    /// `machine`: the characters a model wrote, when not the whole text (the rest is the
    /// creating user's).
    fn create_with_sources(
        &self,
        actor: &Actor,
        new: NewDocument,
        sources: &[Value],
        machine: Option<std::ops::Range<usize>>,
    ) -> Result<DocumentView> {
        let user = self.authorize(actor, "document.create", "document:?", |a| {
            a.require_human(Role::Clinician)
        })?;
        check_new(&new)?;
        self.write(&actor.audit_label(), "document.create", "document:?", |tx| {
            check_generation(tx, &new.generated_by, user)?;
            let at = now();
            tx.prepare_cached(
                "INSERT INTO documents (kind, title, patient_ref, state, created_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'draft', ?4, ?5, ?5)",
            )?
            .execute(params![new.kind.as_str(), new.title.trim(), new.patient_ref, user, at])?;
            let doc_id = tx.last_insert_rowid();
            let author = writer(user, &new.generated_by);
            let origin_map = match machine {
                None => OriginMap::first(&new.text, &author),
                Some(m) => {
                    let person = origin::Origin::Human { user_id: user };
                    let len = new.text.chars().count();
                    OriginMap::from_passages(
                        &new.text,
                        [
                            (0..m.start, person.clone()),
                            (m.clone(), origin::Origin::of(&author)),
                            (m.end..len, person),
                        ],
                    )
                    .map_err(StoreError::Invalid)?
                }
            };
            let (rev, hash) = insert_revision(
                tx,
                doc_id,
                1,
                None,
                &new.text,
                user,
                &new.generated_by,
                &at,
                &origin_map,
            )?;
            tx.prepare_cached("UPDATE documents SET current_revision_id = ?1 WHERE id = ?2")?
                .execute(params![rev, doc_id])?;
            add_event(tx, doc_id, Some(rev), "revision", user, &at, None)?;
            for (i, s) in sources.iter().enumerate() {
                tx.prepare_cached(
                    "INSERT INTO document_sources (document_id, n, source) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![doc_id, i as i64 + 1, s.to_string()])?;
            }
            let view = load_view(tx, doc_id)?;
            let mut details = json!({ "revision_id": rev, "text_sha256": hash,
                "kind": new.kind.as_str(),
                "author": if new.generated_by.is_some() { "model" } else { "human" } });
            if !sources.is_empty() {
                let chunk_ids: Vec<&str> = sources
                    .iter()
                    .filter_map(|s| s.get("chunk_id").and_then(Value::as_str))
                    .collect();
                details["sources"] = json!({ "count": sources.len(), "chunk_ids": chunk_ids });
            }
            Ok((view, format!("document:{doc_id}"), details))
        })
    }

    /// Adds a revision (clinicians). With `base_revision_id`, refuses if someone else changed
    /// the document since that revision (no lost update). A validated or rejected document goes
    /// back to draft; one in review stays in review, waiting for validation of the new text.
    pub fn add_revision(
        &self,
        actor: &Actor,
        doc_id: i64,
        text: &str,
        generated_by: Option<ModelAuthor>,
        base_revision_id: Option<i64>,
    ) -> Result<DocumentView> {
        let target = format!("document:{doc_id}");
        let user = self.authorize(actor, "document.revise", &target, |a| {
            a.require_human(Role::Clinician)
        })?;
        check_text(text)?;
        check_model(&generated_by)?;
        self.write(&actor.audit_label(), "document.revise", &target, |tx| {
            check_generation(tx, &generated_by, user)?;
            let (state, current) = current_state(tx, doc_id)?;
            if let Some(base) = base_revision_id {
                if base != current {
                    return Err(StoreError::Conflict(format!(
                        "the document changed since revision {base}: its current revision is {current}"
                    )));
                }
            }
            // The new revision's origin map, derived from the current one's in this transaction.
            let prev = load_revision(tx, current)?;
            let number = prev.number;
            let origin_map = OriginMap::derive(
                &prev.text,
                &prev.origin_map,
                text,
                &writer(user, &generated_by),
            );
            let at = now();
            let (rev, hash) = insert_revision(
                tx,
                doc_id,
                number + 1,
                Some(current),
                text,
                user,
                &generated_by,
                &at,
                &origin_map,
            )?;
            let new_state = match state {
                DocState::InReview => DocState::InReview,
                _ => DocState::Draft,
            };
            tx.prepare_cached(
                "UPDATE documents SET current_revision_id = ?1, state = ?2, updated_at = ?3 WHERE id = ?4",
            )?
            .execute(params![rev, new_state.as_str(), at, doc_id])?;
            add_event(tx, doc_id, Some(rev), "revision", user, &at, None)?;
            let view = load_view(tx, doc_id)?;
            Ok((
                view,
                target.clone(),
                json!({ "revision_id": rev, "parent_id": current, "text_sha256": hash,
                        "from": state.as_str(), "to": new_state.as_str(),
                        "author": if generated_by.is_some() { "model" } else { "human" } }),
            ))
        })
    }

    /// Sends a draft to review (clinicians).
    pub fn submit(&self, actor: &Actor, doc_id: i64) -> Result<DocumentView> {
        let target = format!("document:{doc_id}");
        let user = self.authorize(actor, "document.submit", &target, |a| {
            a.require_human(Role::Clinician)
        })?;
        self.write(&actor.audit_label(), "document.submit", &target, |tx| {
            let (state, current) = current_state(tx, doc_id)?;
            if state != DocState::Draft {
                return Err(StoreError::Conflict(format!(
                    "only a draft can be submitted; this document is {state}{}",
                    if state == DocState::Rejected {
                        " (edit it first)"
                    } else {
                        ""
                    }
                )));
            }
            let at = now();
            set_state(tx, doc_id, DocState::InReview, &at)?;
            add_event(tx, doc_id, Some(current), "submitted", user, &at, None)?;
            Ok((
                load_view(tx, doc_id)?,
                target.clone(),
                json!({ "revision_id": current }),
            ))
        })
    }

    /// Validates one exact revision (named human validators only).
    pub fn validate(&self, actor: &Actor, doc_id: i64, revision_id: i64) -> Result<DocumentView> {
        let target = format!("document:{doc_id}");
        let user = self.authorize(actor, "document.validate", &target, |a| {
            a.require_human(Role::Validator)
        })?;
        let allow_self = self.config.allow_self_validation;
        self.write(&actor.audit_label(), "document.validate", &target, |tx| {
            let (state, current) = current_state(tx, doc_id)?;
            if state != DocState::InReview {
                return Err(StoreError::Conflict(format!(
                    "only a document in review can be validated; this one is {state}"
                )));
            }
            if revision_id != current {
                return Err(StoreError::Conflict(format!(
                    "revision {revision_id} is not the current revision ({current}) of document {doc_id}: validate the text you read"
                )));
            }
            let rev = load_revision(tx, current)?;
            if !allow_self && rev.author.responsible_user() == user {
                return Err(StoreError::Forbidden(format!(
                    "you wrote or requested revision {current}: another validator must validate it"
                )));
            }
            let machine: Option<(i64, String)> = tx
                .prepare_cached(
                    "SELECT id, text FROM revisions WHERE document_id = ?1 AND author_kind = 'model' AND id <= ?2
                     ORDER BY id DESC LIMIT 1",
                )?
                .query_row(params![doc_id, current], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (machine_id, distance, diff_text) = match &machine {
                Some((id, text)) => (
                    Some(*id),
                    Some(diff::normalised_edit_distance(text, &rev.text)),
                    Some(diff::unified_diff(text, &rev.text)),
                ),
                None => (None, None, None),
            };
            let at = now();
            tx.prepare_cached(
                "INSERT INTO validations (document_id, revision_id, validator_id, validated_at, machine_revision_id, edit_distance, diff)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![doc_id, current, user, at, machine_id, distance, diff_text])?;
            set_state(tx, doc_id, DocState::Validated, &at)?;
            add_event(tx, doc_id, Some(current), "validated", user, &at, None)?;
            Ok((
                load_view(tx, doc_id)?,
                target.clone(),
                json!({ "revision_id": current, "text_sha256": rev.text_sha256,
                        "machine_revision_id": machine_id, "edit_distance": distance }),
            ))
        })
    }

    /// Sends a document in review back to its authors (validators), with a reason.
    pub fn reject(&self, actor: &Actor, doc_id: i64, reason: &str) -> Result<DocumentView> {
        let user = self.authorize(
            actor,
            "document.reject",
            &format!("document:{doc_id}"),
            |a| a.require_human(Role::Validator),
        )?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(StoreError::Invalid(
                "a rejection needs a reason of 1 to 2000 characters".into(),
            ));
        }
        let target = format!("document:{doc_id}");
        self.write(&actor.audit_label(), "document.reject", &target, |tx| {
            let (state, current) = current_state(tx, doc_id)?;
            if state != DocState::InReview {
                return Err(StoreError::Conflict(format!(
                    "only a document in review can be rejected; this one is {state}"
                )));
            }
            let at = now();
            set_state(tx, doc_id, DocState::Rejected, &at)?;
            add_event(
                tx,
                doc_id,
                Some(current),
                "rejected",
                user,
                &at,
                Some(reason),
            )?;
            Ok((
                load_view(tx, doc_id)?,
                target.clone(),
                json!({ "revision_id": current, "reason_sha256": sha256_hex(reason) }),
            ))
        })
    }

    /// Reads a document (audited as a view).
    pub fn get_document(&self, actor: &Actor, doc_id: i64) -> Result<DocumentView> {
        let target = format!("document:{doc_id}");
        self.authorize(actor, "document.view", &target, |a| {
            a.require_clinical("reading documents")
        })?;
        self.write(&actor.audit_label(), "document.view", &target, |tx| {
            let view = load_view(tx, doc_id)?;
            let rev = view.current_revision.id;
            Ok((view, target.clone(), json!({ "revision_id": rev })))
        })
    }

    /// The final view of a validated document, for export (FHIR, print, API). Refused unless the
    /// current revision is the validated one. Audited with the exported format.
    pub fn export_document(
        &self,
        actor: &Actor,
        doc_id: i64,
        format: &str,
    ) -> Result<DocumentView> {
        let target = format!("document:{doc_id}");
        self.authorize(actor, "document.export", &target, |a| {
            a.require_clinical("reading documents")
        })?;
        self.write(&actor.audit_label(), "document.export", &target, |tx| {
            let view = load_view(tx, doc_id)?;
            if !view.is_final() {
                return Err(StoreError::Conflict(format!(
                    "document {doc_id} cannot be exported: its current revision is not validated (state: {})",
                    view.state
                )));
            }
            let details = json!({ "format": format, "revision_id": view.current_revision.id,
                                  "text_sha256": view.current_revision.text_sha256 });
            Ok((view, target.clone(), details))
        })
    }

    /// What a signed provenance manifest needs about a validated document (the validated
    /// revision with its origin map, the validation, the models behind it). Same rule as
    /// [`Store::export_document`]: refused unless the current revision is the validated one;
    /// audited as an export in the `manifest` format. Clinicians, validators and auditors (the
    /// command line) may ask: a manifest holds hashes, offsets and ids, never the text.
    pub fn provenance(&self, actor: &Actor, doc_id: i64) -> Result<ProvenanceRecord> {
        let target = format!("document:{doc_id}");
        self.authorize(actor, "document.export", &target, |a| {
            if a.roles.has(Role::Auditor) {
                Ok(())
            } else {
                a.require_clinical("issuing provenance manifests")
            }
        })?;
        self.write(&actor.audit_label(), "document.export", &target, |tx| {
            let view = load_view(tx, doc_id)?;
            let validation = match (&view.validation, view.is_final()) {
                (Some(v), true) => v.clone(),
                _ => {
                    return Err(StoreError::Conflict(format!(
                        "document {doc_id} has no manifest: its current revision is not validated (state: {})",
                        view.state
                    )))
                }
            };
            let rows = tx
                .prepare_cached(
                    "SELECT model_id, model_version, generation_id FROM revisions
                     WHERE document_id = ?1 AND author_kind = 'model' AND id <= ?2 ORDER BY id",
                )?
                .query_map(params![doc_id, view.current_revision.id], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        r.get::<_, Option<String>>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut models: Vec<ManifestModel> = Vec::new();
            for (name, version, generation) in rows {
                let i = match models
                    .iter()
                    .position(|m| m.name == name && m.version == version)
                {
                    Some(i) => i,
                    None => {
                        models.push(ManifestModel {
                            name,
                            version,
                            generation_ids: vec![],
                        });
                        models.len() - 1
                    }
                };
                if let Some(g) = generation {
                    models[i].generation_ids.push(g);
                }
            }
            for m in &mut models {
                m.generation_ids.sort();
                m.generation_ids.dedup();
            }
            let details = json!({ "format": "manifest", "revision_id": view.current_revision.id,
                                  "text_sha256": view.current_revision.text_sha256 });
            Ok((
                ProvenanceRecord {
                    document_id: view.id,
                    revision: view.current_revision,
                    validation,
                    models,
                },
                target.clone(),
                details,
            ))
        })
    }

    /// Every revision of a document, oldest first, and its workflow events (audited as a view).
    pub fn history(
        &self,
        actor: &Actor,
        doc_id: i64,
    ) -> Result<(Vec<RevisionView>, Vec<HistoryEvent>)> {
        let target = format!("document:{doc_id}");
        self.authorize(actor, "document.history", &target, |a| {
            a.require_clinical("reading documents")
        })?;
        self.write(&actor.audit_label(), "document.history", &target, |tx| {
            current_state(tx, doc_id)?;
            let revisions = revisions_of(tx, doc_id, i64::MAX)?;
            let events = tx
                .prepare_cached(
                    "SELECT e.event, e.at, e.user_id, u.name, e.revision_id, e.reason
                     FROM document_events e JOIN users u ON u.id = e.user_id
                     WHERE e.document_id = ?1 ORDER BY e.id",
                )?
                .query_map([doc_id], |r| {
                    Ok(HistoryEvent {
                        event: r.get(0)?,
                        at: r.get(1)?,
                        user_id: r.get(2)?,
                        user_name: r.get(3)?,
                        revision_id: r.get(4)?,
                        reason: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(((revisions, events), target.clone(), json!({})))
        })
    }

    /// Lists documents, newest first, with filters and paging (audited).
    pub fn list_documents(
        &self,
        actor: &Actor,
        filter: &DocumentFilter,
    ) -> Result<Page<DocumentSummary>> {
        self.authorize(actor, "document.list", "documents", |a| {
            a.require_clinical("reading documents")
        })?;
        let per_page = filter.per_page.unwrap_or(50);
        if !(1..=200).contains(&per_page) {
            return Err(StoreError::Invalid(
                "per_page must be between 1 and 200".into(),
            ));
        }
        let page = filter.page.unwrap_or(1);
        if page < 1 {
            return Err(StoreError::Invalid("page starts at 1".into()));
        }
        let state = filter.state.map(|s| s.as_str());
        let kind = filter.kind.map(|k| k.as_str());
        let author = filter.author.clone();
        self.write(&actor.audit_label(), "document.list", "documents", |tx| {
            const WHERE: &str = "WHERE (?1 IS NULL OR d.state = ?1) AND (?2 IS NULL OR d.kind = ?2)
                                 AND (?3 IS NULL OR u.name = ?3)";
            let total: i64 = tx
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM documents d JOIN users u ON u.id = d.created_by {WHERE}"
                ))?
                .query_row(params![state, kind, author], |r| r.get(0))?;
            let items = tx
                .prepare_cached(&format!(
                    "SELECT d.id, d.kind, d.title, d.patient_ref, d.state, d.created_by, u.name,
                            d.current_revision_id, d.created_at, d.updated_at
                     FROM documents d JOIN users u ON u.id = d.created_by {WHERE}
                     ORDER BY d.id DESC LIMIT ?4 OFFSET ?5"
                ))?
                .query_map(
                    params![state, kind, author, per_page, (page - 1) * per_page],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, i64>(5)?,
                            r.get::<_, String>(6)?,
                            r.get::<_, i64>(7)?,
                            r.get::<_, String>(8)?,
                            r.get::<_, String>(9)?,
                        ))
                    },
                )?
                .map(|row| {
                    let row = row?;
                    Ok(DocumentSummary {
                        id: row.0,
                        kind: row.1.parse()?,
                        title: row.2,
                        patient_ref: row.3,
                        state: row.4.parse()?,
                        created_by: row.5,
                        created_by_name: row.6,
                        current_revision_id: row.7,
                        created_at: row.8,
                        updated_at: row.9,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let ids: Vec<i64> = items.iter().map(|d| d.id).collect();
            Ok((
                Page {
                    items,
                    total,
                    page,
                    per_page,
                },
                "documents".to_string(),
                json!({ "state": state, "kind": kind, "page": page, "ids": ids }),
            ))
        })
    }
}

/// Sources of sourced answers (« réponses sourcées »): the passages an answer cites, numbered as
/// in its text, kept beside the document so that API clients get them as data. The store keeps
/// each source as an opaque JSON object (it does not know the knowledge base).
impl Store {
    /// The numbered sources of a document, in order (empty when it was not built from sources).
    pub fn document_sources(&self, actor: &Actor, doc_id: i64) -> Result<Vec<Value>> {
        let target = format!("document:{doc_id}");
        self.authorize(actor, "document.sources.view", &target, |a| {
            a.require_clinical("reading documents")
        })?;
        self.write(
            &actor.audit_label(),
            "document.sources.view",
            &target,
            |tx| {
                current_state(tx, doc_id)?;
                let mut stmt = tx.prepare_cached(
                    "SELECT source FROM document_sources WHERE document_id = ?1 ORDER BY n",
                )?;
                let rows = stmt.query_map([doc_id], |r| r.get::<_, String>(0))?;
                let mut out = vec![];
                for r in rows {
                    out.push(serde_json::from_str(&r?).unwrap_or(Value::Null));
                }
                let n = out.len();
                Ok((out, target.clone(), json!({ "count": n })))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewUser, Roles, StoreConfig};
    use siagen_mark::origin::Origin;

    fn person(store: &Store, name: &str, role: Role) -> Actor {
        let u = store
            .create_user(
                &Actor::cli(),
                NewUser {
                    name: name.into(),
                    password: format!("{name}-password-123"),
                    roles: Roles::NONE.with(role),
                },
            )
            .unwrap();
        Actor {
            user_id: Some(u.id),
            name: name.into(),
            roles: u.roles,
            token_id: None,
        }
    }

    fn kinds(rev: &RevisionView) -> Vec<(String, &'static str)> {
        rev.origin_map.check(&rev.text).unwrap();
        let chars: Vec<char> = rev.text.chars().collect();
        rev.origin_map
            .spans
            .iter()
            .map(|s| (chars[s.start..s.end].iter().collect(), s.origin.kind()))
            .collect()
    }

    #[test]
    fn a_sourced_answer_and_its_sources_are_written_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let alice = person(&store, "alice", Role::Clinician);
        let text = "Question : Dose ?\n\nLa dose maximale est de 4 g par jour [1].\n\nSources :\n[1] RCP\n";
        let answer_start = "Question : Dose ?\n\n".chars().count();
        let answer_end = answer_start + "La dose maximale est de 4 g par jour [1].".chars().count();
        let answer = |kind| NewDocument {
            kind,
            title: "Paracétamol".into(),
            patient_ref: "general".into(),
            text: text.into(),
            generated_by: Some(ModelAuthor {
                model: "tiny".into(),
                version: "v1".into(),
                parameters: json!({}),
                seed: None,
                prompt_sha256: None,
                generation_id: None,
            }),
        };
        let source = json!({ "chunk_id": "c-1", "licence": "Licence Ouverte 2.0", "page": 3 });
        let count = |table: &str| -> i64 {
            let conn = rusqlite::Connection::open(crate::database_path(dir.path())).unwrap();
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        let span = answer_start..answer_end;
        let len = text.chars().count();
        // Refused before anything is written: no sources, a source without licence, another
        // kind, an answer beyond the text, a human "answer".
        let human = NewDocument {
            generated_by: None,
            ..answer(DocumentKind::ReponseSourcee)
        };
        for (new, sources, span) in [
            (answer(DocumentKind::ReponseSourcee), vec![], span.clone()),
            (
                answer(DocumentKind::ReponseSourcee),
                vec![json!({ "chunk_id": "c-1" })],
                span.clone(),
            ),
            (
                answer(DocumentKind::LettreLiaison),
                vec![source.clone()],
                span.clone(),
            ),
            (
                answer(DocumentKind::ReponseSourcee),
                vec![source.clone()],
                0..len + 1,
            ),
            (human, vec![source.clone()], span.clone()),
        ] {
            let err = store
                .create_sourced_answer(&alice, new, &sources, span)
                .unwrap_err();
            assert!(err.is_user_error(), "{err}");
        }
        assert_eq!((count("documents"), count("document_sources")), (0, 0));
        let view = store
            .create_sourced_answer(
                &alice,
                answer(DocumentKind::ReponseSourcee),
                &[source],
                span,
            )
            .unwrap();
        assert_eq!((count("documents"), count("document_sources")), (1, 1));
        let kept = store.document_sources(&alice, view.id).unwrap();
        assert_eq!(kept[0]["page"], 3);
        // Only the answer is machine text; the question and the sources are the clinician's.
        let map = &view.current_revision.origin_map;
        let kinds: Vec<(usize, usize, &str)> = map
            .spans
            .iter()
            .map(|s| (s.start, s.end, s.origin.kind()))
            .collect();
        assert_eq!(
            kinds,
            [
                (0, answer_start, "human"),
                (answer_start, answer_end, "machine"),
                (answer_end, len, "human")
            ]
        );
    }

    #[test]
    fn origin_maps_are_persisted_replayed_and_exported() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let alice = person(&store, "alice", Role::Clinician);
        let bob = person(&store, "bob", Role::Validator);
        let draft = "Patient hospitalisé pour insuffisance cardiaque. Sortie à J5.";
        let doc = store
            .create_document(
                &alice,
                NewDocument {
                    kind: DocumentKind::CompteRenduHospitalisation,
                    title: "CRH".into(),
                    patient_ref: "P-1".into(),
                    text: draft.into(),
                    generated_by: Some(ModelAuthor {
                        model: "tiny".into(),
                        version: "v1".into(),
                        parameters: json!({}),
                        seed: None,
                        prompt_sha256: None,
                        generation_id: None,
                    }),
                },
            )
            .unwrap();
        assert_eq!(
            kinds(&doc.current_revision),
            vec![(draft.into(), "machine")]
        );
        let edited = "Patient hospitalisé en urgence pour insuffisance cardiaque. Sortie à J5.";
        let v2 = store
            .add_revision(&alice, doc.id, edited, None, Some(doc.current_revision.id))
            .unwrap();
        let alice_id = alice.user_id.unwrap();
        assert_eq!(
            kinds(&v2.current_revision),
            vec![
                ("Patient hospitalisé ".into(), "machine"),
                ("en urgence ".into(), "human"),
                (
                    "pour insuffisance cardiaque. Sortie à J5.".into(),
                    "machine"
                ),
            ]
        );
        assert_eq!(
            v2.current_revision.origin_map.spans[1].origin,
            Origin::Human { user_id: alice_id }
        );

        // Persisted: a fresh store reads the same map; the API JSON carries it.
        let (revs, _) = store.history(&alice, doc.id).unwrap();
        drop(store);
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let (again, _) = store.history(&alice, doc.id).unwrap();
        assert_eq!(again, revs);
        let json = serde_json::to_value(&again[1]).unwrap();
        assert_eq!(json["origin_map"]["unit"], "char");
        assert_eq!(json["origin_map"]["spans"][1]["origin"]["kind"], "human");

        // Rows written before migration 4 (NULL) are replayed to the same maps, and a new
        // revision on top of them is derived from the replayed map.
        let raw = rusqlite::Connection::open(crate::database_path(dir.path())).unwrap();
        raw.execute("UPDATE revisions SET origin_map = NULL", [])
            .unwrap();
        let (replayed, _) = store.history(&alice, doc.id).unwrap();
        assert_eq!(replayed, revs);
        let v3 = store
            .add_revision(&alice, doc.id, &format!("{edited} Revu."), None, None)
            .unwrap();
        assert_eq!(kinds(&v3.current_revision)[2].1, "machine");
        assert_eq!(kinds(&v3.current_revision)[3], (" Revu.".into(), "human"));

        // Provenance: refused before validation, then the validated revision and its models.
        let err = store.provenance(&Actor::cli(), doc.id).unwrap_err();
        assert!(err.to_string().contains("not validated"), "{err}");
        store.submit(&alice, doc.id).unwrap();
        store
            .validate(&bob, doc.id, v3.current_revision.id)
            .unwrap();
        let p = store.provenance(&Actor::cli(), doc.id).unwrap();
        assert_eq!(p.revision.id, v3.current_revision.id);
        assert_eq!(p.revision.origin_map, v3.current_revision.origin_map);
        assert_eq!(p.validation.validator_name, "bob");
        assert_eq!(p.models.len(), 1);
        assert_eq!(
            (p.models[0].name.as_str(), p.models[0].version.as_str()),
            ("tiny", "v1")
        );
        let exports: i64 = raw
            .query_row(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'document.export' AND details LIKE '%manifest%' AND outcome = 'ok'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(exports, 1, "the manifest export is audited");
    }
}
