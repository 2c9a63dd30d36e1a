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
//!
//! The types live in `types.rs`, the checks and the row readers and writers in `rows.rs`; this
//! file holds the workflow itself.

mod rows;
mod types;

use rows::*;
pub use types::*;

use crate::accounts::Actor;
use crate::{diff, now, sha256_hex, Result, Role, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};
use siagen_mark::manifest::ManifestModel;
use siagen_mark::origin::{self, OriginMap};

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

    /// The validation workflow as a table: each row is one action, by one person, on the
    /// document as the rows before left it, and what must follow (its new state, or the kind of
    /// refusal). The same table will run against every storage backend.
    #[test]
    fn workflow_transitions_as_a_table() {
        #[derive(Clone, Copy, Debug)]
        enum Act {
            Submit,
            ValidateCurrent,
            ValidateFirst,
            Reject,
            Revise,
            Export,
        }
        use Act::*;
        use DocState::*;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let alice = person(&store, "alice", Role::Clinician);
        let victor = person(&store, "victor", Role::Validator);
        let audra = person(&store, "audra", Role::Auditor);
        let doc = store
            .create_document(
                &alice,
                NewDocument {
                    kind: DocumentKind::LettreLiaison,
                    title: "Lettre de liaison".into(),
                    patient_ref: "P-1".into(),
                    text: "Sortie ce jour.".into(),
                    generated_by: None,
                },
            )
            .unwrap();
        let first = doc.current_revision.id;
        let kind = |e: &StoreError| match e {
            StoreError::Forbidden(_) => "forbidden",
            StoreError::Conflict(_) => "conflict",
            StoreError::Invalid(_) => "invalid",
            StoreError::NotFound(_) => "not_found",
            _ => "other",
        };
        let table: &[(&str, &Actor, Act, std::result::Result<DocState, &str>)] = &[
            ("an auditor cannot submit", &audra, Submit, Err("forbidden")),
            (
                "a draft is not validated",
                &victor,
                ValidateCurrent,
                Err("conflict"),
            ),
            (
                "nothing is exported before validation",
                &alice,
                Export,
                Err("conflict"),
            ),
            ("the author submits", &alice, Submit, Ok(InReview)),
            ("submitted twice", &alice, Submit, Err("conflict")),
            (
                "a clinician cannot validate",
                &alice,
                ValidateCurrent,
                Err("forbidden"),
            ),
            (
                "an edit in review stays in review",
                &alice,
                Revise,
                Ok(InReview),
            ),
            (
                "the revision read is no longer current",
                &victor,
                ValidateFirst,
                Err("conflict"),
            ),
            (
                "the validator validates the current one",
                &victor,
                ValidateCurrent,
                Ok(Validated),
            ),
            ("validated twice", &victor, ValidateCurrent, Err("conflict")),
            (
                "the validated text is exported",
                &alice,
                Export,
                Ok(Validated),
            ),
            ("an edit undoes the validation", &alice, Revise, Ok(Draft)),
            (
                "and the export is refused again",
                &alice,
                Export,
                Err("conflict"),
            ),
            ("resubmitted", &alice, Submit, Ok(InReview)),
            (
                "a clinician cannot reject",
                &alice,
                Reject,
                Err("forbidden"),
            ),
            ("rejected", &victor, Reject, Ok(Rejected)),
            (
                "a rejected document is not validated",
                &victor,
                ValidateCurrent,
                Err("conflict"),
            ),
            ("an edit makes it a draft again", &alice, Revise, Ok(Draft)),
        ];
        let mut n = 0;
        for (what, actor, act, expected) in table {
            let current = store
                .get_document(&alice, doc.id)
                .unwrap()
                .current_revision
                .id;
            let got = match act {
                Submit => store.submit(actor, doc.id),
                ValidateCurrent => store.validate(actor, doc.id, current),
                ValidateFirst => store.validate(actor, doc.id, first),
                Reject => store.reject(actor, doc.id, "Traitement de sortie incomplet."),
                Revise => {
                    n += 1;
                    store.add_revision(actor, doc.id, &format!("Sortie ce jour ({n})."), None, None)
                }
                Export => store.export_document(actor, doc.id, "fhir"),
            };
            match (got, expected) {
                (Ok(view), Ok(state)) => assert_eq!(view.state, *state, "{what}"),
                (Err(e), Err(k)) => assert_eq!(kind(&e), *k, "{what}: {e}"),
                (got, expected) => panic!(
                    "{what} ({act:?}): got {:?}, expected {expected:?}",
                    got.map(|v| v.state)
                ),
            }
            // A refusal changes nothing.
            if expected.is_err() {
                let after = store.get_document(&alice, doc.id).unwrap();
                assert_eq!(after.current_revision.id, current, "{what}");
            }
        }
    }
}
