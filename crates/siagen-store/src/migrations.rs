//! Versioned schema migrations, applied in order at start, each in its own transaction.

use crate::Result;
use rusqlite::Connection;

/// (version, SQL). Append only: a released migration is never edited.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    roles INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    patient_ref TEXT NOT NULL,
    state TEXT NOT NULL,
    current_revision_id INTEGER,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX documents_state ON documents(state, id);
CREATE INDEX documents_kind ON documents(kind, id);
CREATE INDEX documents_author ON documents(created_by, id);
CREATE TABLE revisions (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    number INTEGER NOT NULL,
    parent_id INTEGER REFERENCES revisions(id),
    text TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    author_kind TEXT NOT NULL CHECK (author_kind IN ('human', 'model')),
    user_id INTEGER NOT NULL REFERENCES users(id),
    model_id TEXT,
    model_version TEXT,
    model_params TEXT,
    seed INTEGER,
    prompt_sha256 TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (document_id, number)
);
CREATE TABLE validations (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    revision_id INTEGER NOT NULL REFERENCES revisions(id),
    validator_id INTEGER NOT NULL REFERENCES users(id),
    validated_at TEXT NOT NULL,
    machine_revision_id INTEGER REFERENCES revisions(id),
    edit_distance REAL,
    diff TEXT
);
CREATE INDEX validations_doc ON validations(document_id, id);
CREATE TABLE document_events (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    revision_id INTEGER REFERENCES revisions(id),
    event TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    at TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX document_events_doc ON document_events(document_id, id);
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    ts TEXT NOT NULL
);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE generations (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    model TEXT NOT NULL,
    route TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    joules REAL NOT NULL,
    co2e_g REAL NOT NULL,
    energy_method TEXT NOT NULL
);
CREATE INDEX generations_at ON generations(at);
ALTER TABLE revisions ADD COLUMN generation_id TEXT REFERENCES generations(id);
"#,
    ),
    // Version 3: which watermark marked each generation (`mark_scheme` gumbel / kgw / none,
    // `mark_key_id`: the key's id, never its secret). Rows written before it stay NULL: unknown.
    (
        3,
        r#"
ALTER TABLE generations ADD COLUMN mark_scheme TEXT;
ALTER TABLE generations ADD COLUMN mark_key_id TEXT;
"#,
    ),
    // Version 4: the origin map of each
    // revision (JSON, siagen_mark::origin::OriginMap), computed in the transaction that writes
    // the revision. Rows written before it stay NULL and are derived on read by replaying the
    // document's revisions, which gives the same map (the derivation is deterministic).
    (
        4,
        r#"
ALTER TABLE revisions ADD COLUMN origin_map TEXT;
"#,
    ),
    // Version 5: the numbered sources a sourced answer (kind reponse_sourcee) was written from,
    // one JSON object per passage (title, page, licence, chunk id...), kept with the document.
    (
        5,
        r#"
CREATE TABLE document_sources (
    document_id INTEGER NOT NULL REFERENCES documents(id),
    n INTEGER NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (document_id, n)
);
"#,
    ),
    // Version 6: results a user may still save as a draft (a sourced answer between /api/ask
    // and /api/ask/save), so that a restart loses none; they expire.
    (
        6,
        r#"
CREATE TABLE pending_results (
    key TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX pending_results_expiry ON pending_results(expires_at);
"#,
    ),
];

/// Applies every migration not yet recorded in `schema_migrations`.
pub(crate) fn apply(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let applied = conn.execute_batch(sql).and_then(|_| {
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![version, crate::now()],
            )
        });
        match applied {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
    }
    Ok(())
}
