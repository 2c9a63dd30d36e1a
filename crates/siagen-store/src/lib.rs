//! # siagen-store
//!
//! The store owns everything that must survive a restart and every rule that must hold whatever
//! the caller: accounts and their roles, API tokens and web sessions, documents and their
//! revisions, the human-validation workflow, and the hash-chained audit trail.
//!
//! Why the rules live here and not in HTTP handlers: the CLI, the server and any future worker
//! all go through the same methods, so "only a human validator validates one exact revision" and
//! "nothing is exported before validation" cannot be bypassed by a new entry point.
//!
//! Every mutating method appends its audit entry in the *same* SQLite transaction as the change,
//! so the trail and the data can never disagree, even after `kill -9`.
//!
//! The backend is SQLite (WAL, foreign keys on). All SQL sits in this crate behind the [`Store`]
//! methods; a PostgreSQL backend is added by giving these methods a second implementation behind
//! the same signatures (see ARCHITECTURE.md), without touching callers.

mod accounts;
mod audit;
pub mod diff;
mod documents;
mod energy;
mod error;
mod migrations;
mod pending;
mod roles;

pub use accounts::{generate_password, Actor, LoginOutcome, NewUser, Session, TokenInfo, User};
pub use audit::{AuditEntry, VerifyProblem, VerifyReport};
pub use documents::{
    Author, DocState, DocumentEnergy, DocumentFilter, DocumentKind, DocumentSummary, DocumentView,
    HistoryEvent, ModelAuthor, NewDocument, Page, ProvenanceRecord, RevisionView, ValidationInfo,
};
pub use energy::{EnergyBy, EnergyRow, GenerationRecord};
pub use error::{Result, StoreError};
pub use roles::{Role, Roles};

use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Settings of the store, usually read from the server's configuration.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Directory holding the database, the audit signing key and other state.
    pub data_dir: PathBuf,
    /// Small sites: may a validator validate a revision they are responsible for?
    pub allow_self_validation: bool,
    /// A signed audit checkpoint is written every this many entries (and at shutdown).
    pub checkpoint_every: u64,
    /// `synchronous=FULL` (survives power loss) instead of `NORMAL` (survives process crashes).
    pub sync_full: bool,
}

impl StoreConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            allow_self_validation: false,
            checkpoint_every: 1000,
            sync_full: false,
        }
    }
}

struct Inner {
    conn: Connection,
}

/// The store: one SQLite database in the data directory.
///
/// Writes are serialised through one connection (SQLite has one writer anyway); each method is
/// short and synchronous, so async callers run them on a blocking thread.
pub struct Store {
    inner: Mutex<Inner>,
    /// Read-only connections: in WAL mode readers never wait for the writer, so token checks and
    /// listings do not queue behind writes.
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    signer: SigningKey,
    config: StoreConfig,
}

/// The database file inside a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("siagen.db")
}

impl Store {
    /// Opens (creating if needed) the data directory and database, and applies migrations.
    pub fn open(config: StoreConfig) -> Result<Store> {
        std::fs::create_dir_all(&config.data_dir)?;
        let conn = open_connection(&database_path(&config.data_dir), config.sync_full)?;
        migrations::apply(&conn)?;
        let signer = audit::load_or_create_key(&config.data_dir)?;
        let readers = (0..READERS)
            .map(|_| open_reader(&database_path(&config.data_dir)).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(Store {
            inner: Mutex::new(Inner { conn }),
            readers,
            next_reader: Default::default(),
            signer,
            config,
        })
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// A cheap query proving the database answers (for `/readyz`).
    pub fn ping(&self) -> Result<()> {
        let inner = self.lock();
        inner.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Runs `f` on a read-only connection (one that is free, if any).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        for r in &self.readers {
            if let Ok(conn) = r.try_lock() {
                return f(&conn);
            }
        }
        let i = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.readers.len();
        let conn = self.readers[i].lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave SQLite half-written (the transaction is
        // rolled back on drop), so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Read-only connections kept open.
const READERS: usize = 4;

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn open_connection(path: &Path, sync_full: bool) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(
        None,
        "synchronous",
        if sync_full { "FULL" } else { "NORMAL" },
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Current time as RFC 3339 UTC with milliseconds: sortable as text.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data.as_ref()))
}
