//! Checks of new texts and revisions, and the rows behind documents, revisions and events.

use super::*;
use crate::{sha256_hex, Result, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use siagen_mark::origin::{self, OriginMap};

/// Largest text accepted for one revision (characters).
pub const MAX_TEXT_CHARS: usize = 500_000;

pub(super) fn check_text(text: &str) -> Result<()> {
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

pub(super) fn check_model(m: &Option<ModelAuthor>) -> Result<()> {
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

pub(super) fn check_new(new: &NewDocument) -> Result<()> {
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

pub(super) const REV_COLS: &str = "r.id, r.number, r.parent_id, r.author_kind, r.user_id, u.name, r.model_id, r.model_version, r.model_params, r.seed, r.prompt_sha256, r.created_at, r.text_sha256, r.text, r.generation_id, r.origin_map";

/// A revision's model from the columns (model_id, model_version, model_params, seed,
/// prompt_sha256, generation_id) at these indices of `r`.
pub(super) fn model_author(r: &rusqlite::Row<'_>, c: [usize; 6]) -> rusqlite::Result<ModelAuthor> {
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

pub(super) fn revision_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RevisionView> {
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

pub(super) fn missing_origin(rev: &RevisionView) -> bool {
    rev.origin_map.is_empty() && !rev.text.is_empty()
}

/// Fills the origin maps missing from a document's revisions (`revs` in number order, from the
/// first): each is derived from the previous one, as it would have been when it was written.
pub(super) fn fill_origin_maps(revs: &mut [RevisionView]) {
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
pub(super) fn revisions_of(
    conn: &Connection,
    doc_id: i64,
    max_number: i64,
) -> Result<Vec<RevisionView>> {
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

pub(super) fn load_revision(conn: &Connection, id: i64) -> Result<RevisionView> {
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

pub(super) fn load_view(conn: &Connection, id: i64) -> Result<DocumentView> {
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
pub(super) fn insert_revision(
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
pub(super) fn writer(user: i64, generated_by: &Option<ModelAuthor>) -> origin::Author {
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
pub(super) fn check_generation(
    conn: &Connection,
    m: &Option<ModelAuthor>,
    user: i64,
) -> Result<()> {
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

pub(super) fn add_event(
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

pub(super) fn current_state(conn: &Connection, doc_id: i64) -> Result<(DocState, i64)> {
    let (state, rev): (String, i64) = conn
        .prepare_cached("SELECT state, current_revision_id FROM documents WHERE id = ?1")?
        .query_row([doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no document with id {doc_id}")))?;
    Ok((state.parse()?, rev))
}

pub(super) fn set_state(conn: &Connection, doc_id: i64, state: DocState, at: &str) -> Result<()> {
    conn.prepare_cached("UPDATE documents SET state = ?1, updated_at = ?2 WHERE id = ?3")?
        .execute(params![state.as_str(), at, doc_id])?;
    Ok(())
}
