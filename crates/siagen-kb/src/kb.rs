//! The knowledge base over one directory: `catalog.db` (SQLite: collections, teams, documents,
//! chunks), `text/` (tantivy, French BM25) and `vectors.bin` (dense vectors, see `vectors`).
//!
//! ## Atomicity
//! The catalog is the source of truth; the two indexes are derived from it and may lag behind,
//! never the other way round in a way that loses a committed document:
//! 1. one SQLite transaction records the document (`indexed = 0`) and its chunks, and, for a new
//!    version, deletes the old version's rows and queues its rowid in `pending_deletes`;
//! 2. the text index deletes the queued documents' entries, adds the new chunks and commits;
//! 3. the vectors are appended and fsynced (when an embedder is set);
//! 4. a second transaction sets `indexed = 1` and empties the queue.
//!
//! A crash (even `kill -9`) after 1 leaves a document with `indexed = 0` or a queued deletion:
//! [`Kb::open`] redoes 2 and 4 for them (deleting by document first, so it is idempotent), and
//! [`Kb::set_embedder`] drops vectors of chunks the catalog no longer has and embeds every chunk
//! that has no vector. Entries of the indexes that the
//! catalog no longer knows (a crash between 1 and 2 of a deletion) are never shown: every hit is
//! joined with the catalog, and with the viewer's readable collections, before it is returned.
//! Several processes (the server and `siagen kb ingest`) may share the directory: SQLite
//! serialises the catalog, tantivy's writer lock the text index (taken per batch, with retries),
//! and readers pick up the other's commits and vector appends.

use crate::analyzer::{self, FRENCH};
use crate::chunk::{chunk, DEFAULT_CHUNK_WORDS};
use crate::error::{KbError, Result};
use crate::parse::{parse, Parsed};
use crate::types::*;
use crate::vectors::{Record, Vectors};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Options of [`Kb::open`].
#[derive(Clone, Default)]
pub struct KbOptions {
    /// Embedding model for dense retrieval (also settable later with [`Kb::set_embedder`]).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Word budget of a chunk (default [`DEFAULT_CHUNK_WORDS`]).
    pub chunk_words: Option<usize>,
}

#[derive(Clone, Copy)]
struct Fields {
    chunk: Field,
    doc: Field,
    collection: Field,
    kind: Field,
    date: Field,
    body: Field,
}

/// Reciprocal rank fusion constant (Cormack et al.).
const RRF_K: f32 = 60.0;
/// Documents per text-index commit in batch ingestion.
const BATCH_DOCS: usize = 64;
/// Texts per call to the embedder.
const EMBED_BATCH: usize = 32;
/// Vectors per append to the vector file.
const APPEND_VECTORS: usize = 4096;

/// A knowledge base. `Send + Sync`: share it in an `Arc`.
pub struct Kb {
    dir: PathBuf,
    chunk_words: usize,
    db: Mutex<Connection>,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    vectors: RwLock<Vectors>,
    embedder: RwLock<Option<Arc<dyn Embedder>>>,
    /// Serialises writers within this process (the tantivy lock does it across processes).
    write: Mutex<()>,
}

/// A collection row.
#[derive(Debug, Clone)]
struct Coll {
    id: i64,
    name: String,
    visibility: Visibility,
}

/// A document about to be ingested.
struct Pending {
    name: String,
    bytes: Vec<u8>,
    format: Format,
    meta: DocMeta,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS collections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    visibility TEXT NOT NULL CHECK (visibility IN ('private', 'team', 'institution')),
    owner TEXT,
    team TEXT,
    created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS team_members (
    team TEXT NOT NULL,
    user_name TEXT NOT NULL,
    PRIMARY KEY (team, user_name)
);
CREATE TABLE IF NOT EXISTS documents (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    collection_id INTEGER NOT NULL REFERENCES collections(id),
    title TEXT NOT NULL,
    publisher TEXT,
    date TEXT,
    date_key INTEGER,
    source TEXT NOT NULL,
    licence TEXT NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    version INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    indexed INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS documents_source ON documents(collection_id, source);
CREATE INDEX IF NOT EXISTS documents_hash ON documents(collection_id, content_hash);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    doc INTEGER NOT NULL REFERENCES documents(rowid) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    page INTEGER,
    heading TEXT,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc);
CREATE TABLE IF NOT EXISTS pending_deletes (doc INTEGER PRIMARY KEY);
";

/// `YYYY[-MM[-DD]]` → `YYYYMMDD`, missing parts filled with `fill` (month, day).
fn date_key(date: &str, fill: (u32, u32)) -> Option<i64> {
    let parts: Vec<&str> = date.trim().split('-').collect();
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let y = num(parts.first()?, 4)?;
    let m = match parts.get(1) {
        Some(m) => num(m, 2).filter(|m| (1..=12).contains(m))?,
        None => fill.0,
    };
    let d = match parts.get(2) {
        Some(d) => num(d, 2).filter(|d| (1..=31).contains(d))?,
        None => fill.1,
    };
    if parts.len() > 3 {
        return None;
    }
    Some(y as i64 * 10_000 + m as i64 * 100 + d as i64)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Kb {
    /// Opens (creating if needed) the knowledge base in `dir` (the binary uses `DATA_DIR/kb`),
    /// and finishes any ingestion or deletion a crash interrupted.
    pub fn open(dir: &Path, options: KbOptions) -> Result<Kb> {
        std::fs::create_dir_all(dir.join("text"))?;
        let conn = Connection::open(dir.join("catalog.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;

        let mut sb = Schema::builder();
        let id_opts = NumericOptions::default().set_indexed().set_stored();
        let fields = Fields {
            chunk: sb.add_u64_field("chunk", id_opts.clone()),
            doc: sb.add_u64_field("doc", NumericOptions::default().set_indexed()),
            collection: sb.add_u64_field("collection", NumericOptions::default().set_indexed()),
            kind: sb.add_text_field("kind", STRING),
            date: sb.add_i64_field("date", NumericOptions::default().set_indexed().set_fast()),
            body: sb.add_text_field(
                "body",
                TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(FRENCH)
                        .set_index_option(IndexRecordOption::WithFreqs),
                ),
            ),
        };
        let schema = sb.build();
        let text_dir = tantivy::directory::MmapDirectory::open(dir.join("text"))
            .map_err(|e| KbError::Index(e.into()))?;
        let index = Index::open_or_create(text_dir, schema)?;
        index.tokenizers().register(FRENCH, analyzer::french());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        let kb = Kb {
            dir: dir.to_path_buf(),
            chunk_words: options.chunk_words.unwrap_or(DEFAULT_CHUNK_WORDS),
            db: Mutex::new(conn),
            index,
            reader,
            fields,
            vectors: RwLock::new(Vectors::open(&dir.join("vectors.bin"))?),
            embedder: RwLock::new(None),
            write: Mutex::new(()),
        };
        kb.recover()?;
        if let Some(e) = options.embedder {
            kb.set_embedder(e)?;
        }
        Ok(kb)
    }

    /// The knowledge base's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the embedding model. Passages without a vector of this model are embedded now
    /// (every passage when the model changed); returns how many.
    pub fn set_embedder(&self, embedder: Arc<dyn Embedder>) -> Result<usize> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        *self.embedder.write().unwrap_or_else(|p| p.into_inner()) = Some(embedder.clone());
        let live: Vec<i64> = {
            let db = self.db();
            let mut st = db.prepare("SELECT rowid FROM chunks ORDER BY rowid")?;
            let rows = st.query_map([], |r| r.get::<_, i64>(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let have = {
            let mut v = self.vectors.write().unwrap_or_else(|p| p.into_inner());
            v.refresh()?;
            if v.model != embedder.model() && v.dim != 0 {
                v.reset("", 0)?;
            }
            // Vectors of chunks the catalog no longer has (a crash mid-deletion) leave now, so
            // that they never take a place in the dense list.
            v.retain_chunks(&live.iter().copied().collect())?;
            v.chunk_set()
        };
        let missing: Vec<i64> = live.into_iter().filter(|c| !have.contains(c)).collect();
        self.embed_chunks(&missing)?;
        Ok(missing.len())
    }

    /// Whether dense retrieval is available.
    pub fn has_embedder(&self) -> bool {
        self.embedder
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    fn embedder(&self) -> Option<Arc<dyn Embedder>> {
        self.embedder
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Embeds these chunks (read from the catalog) and appends their vectors.
    fn embed_chunks(&self, chunks: &[i64]) -> Result<()> {
        let Some(embedder) = self.embedder() else {
            return Ok(());
        };
        let mut pending: Vec<Record> = Vec::new();
        for batch in chunks.chunks(EMBED_BATCH) {
            let rows: Vec<(i64, i64, i64, String)> = {
                let db = self.db();
                let mut st = db.prepare_cached(
                    "SELECT c.rowid, c.doc, d.collection_id, d.title, c.heading, c.text
                     FROM chunks c JOIN documents d ON d.rowid = c.doc WHERE c.rowid = ?1",
                )?;
                let mut out = Vec::new();
                for &c in batch {
                    if let Some(row) = st
                        .query_row([c], |r| {
                            let title: String = r.get(3)?;
                            let heading: Option<String> = r.get(4)?;
                            let text: String = r.get(5)?;
                            Ok((
                                r.get(0)?,
                                r.get(1)?,
                                r.get(2)?,
                                passage_text(&title, heading.as_deref(), &text),
                            ))
                        })
                        .optional()?
                    {
                        out.push(row);
                    }
                }
                out
            };
            if rows.is_empty() {
                continue;
            }
            let texts: Vec<String> = rows.iter().map(|r| r.3.clone()).collect();
            let vecs = embedder
                .embed(&texts, EmbedKind::Passage)
                .map_err(KbError::Embedding)?;
            if vecs.len() != rows.len() {
                return Err(KbError::Embedding(format!(
                    "{} vectors for {} texts",
                    vecs.len(),
                    rows.len()
                )));
            }
            pending.extend(rows.iter().zip(vecs).map(|(r, vector)| Record {
                chunk: r.0,
                doc: r.1,
                collection: r.2,
                vector,
            }));
            // One append (and fsync) per few thousand vectors, not per embedder call.
            if pending.len() >= APPEND_VECTORS {
                self.append_vectors(embedder.model(), std::mem::take(&mut pending))?;
            }
        }
        self.append_vectors(embedder.model(), pending)
    }

    fn append_vectors(&self, model: &str, records: Vec<Record>) -> Result<()> {
        let Some(first) = records.first() else {
            return Ok(());
        };
        let mut v = self.vectors.write().unwrap_or_else(|p| p.into_inner());
        if v.dim == 0 {
            let dim = first.vector.len();
            if dim == 0 {
                return Err(KbError::Embedding("empty vector".into()));
            }
            v.reset(model, dim)?;
        }
        v.append(records)
    }

    // ---------------------------------------------------------------- collections and teams

    fn load_collections(&self) -> Result<Vec<Coll>> {
        let db = self.db();
        let mut st = db.prepare_cached(
            "SELECT id, name, visibility, owner, team FROM collections ORDER BY name",
        )?;
        let rows = st.query_map([], |r| {
            let vis: String = r.get(2)?;
            let owner: Option<String> = r.get(3)?;
            let team: Option<String> = r.get(4)?;
            Ok(Coll {
                id: r.get(0)?,
                name: r.get(1)?,
                visibility: match vis.as_str() {
                    "private" => Visibility::Private {
                        owner: owner.unwrap_or_default(),
                    },
                    "team" => Visibility::Team {
                        team: team.unwrap_or_default(),
                    },
                    _ => Visibility::Institution,
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn teams_of(&self, user: &str) -> Result<HashSet<String>> {
        let db = self.db();
        let mut st = db.prepare_cached("SELECT team FROM team_members WHERE user_name = ?1")?;
        let rows = st.query_map([user], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn can_read(c: &Coll, viewer: &Viewer, teams: &HashSet<String>) -> bool {
        match &c.visibility {
            Visibility::Private { owner } => *owner == viewer.user_name,
            Visibility::Team { team } => teams.contains(team),
            Visibility::Institution => true,
        }
    }

    fn can_write(c: &Coll, viewer: &Viewer, teams: &HashSet<String>) -> bool {
        viewer.admin
            || match &c.visibility {
                Visibility::Private { owner } => *owner == viewer.user_name,
                Visibility::Team { team } => teams.contains(team),
                Visibility::Institution => false,
            }
    }

    fn readable(&self, viewer: &Viewer) -> Result<Vec<Coll>> {
        let teams = self.teams_of(&viewer.user_name)?;
        Ok(self
            .load_collections()?
            .into_iter()
            .filter(|c| Self::can_read(c, viewer, &teams))
            .collect())
    }

    /// A collection the viewer may read (others are "unknown", so names do not leak).
    fn readable_named(&self, viewer: &Viewer, name: &str) -> Result<Coll> {
        self.readable(viewer)?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| KbError::UnknownCollection(name.to_string()))
    }

    /// A collection the viewer may change: unknown if unreadable (and not admin), forbidden if
    /// readable only.
    fn writable_named(&self, viewer: &Viewer, name: &str) -> Result<Coll> {
        let teams = self.teams_of(&viewer.user_name)?;
        let c = self
            .load_collections()?
            .into_iter()
            .find(|c| c.name == name)
            .filter(|c| viewer.admin || Self::can_read(c, viewer, &teams))
            .ok_or_else(|| KbError::UnknownCollection(name.to_string()))?;
        if !Self::can_write(&c, viewer, &teams) {
            return Err(KbError::Forbidden(format!(
                "{} may read but not change collection {:?}",
                viewer.user_name, name
            )));
        }
        Ok(c)
    }

    /// Creates a collection. Institution collections need an administrator; team collections an
    /// administrator or a member; private ones belong to the viewer (an administrator may create
    /// one for someone else).
    pub fn create_collection(
        &self,
        viewer: &Viewer,
        name: &str,
        visibility: Visibility,
    ) -> Result<CollectionInfo> {
        if !valid_name(name) {
            return Err(KbError::Invalid(format!(
                "invalid collection name {name:?}: 1 to 64 letters, digits, '-', '_' or '.'"
            )));
        }
        let allowed = viewer.admin
            || match &visibility {
                Visibility::Private { owner } => *owner == viewer.user_name,
                Visibility::Team { team } => self.teams_of(&viewer.user_name)?.contains(team),
                Visibility::Institution => false,
            };
        if !allowed {
            return Err(KbError::Forbidden(format!(
                "{} may not create a collection visible to {visibility}",
                viewer.user_name
            )));
        }
        let (vis, owner, team) = match &visibility {
            Visibility::Private { owner } if !owner.is_empty() => ("private", Some(owner), None),
            Visibility::Team { team } if valid_name(team) => ("team", None, Some(team)),
            Visibility::Institution => ("institution", None, None),
            _ => return Err(KbError::Invalid(format!("invalid visibility {visibility}"))),
        };
        let db = self.db();
        let inserted = db.execute(
            "INSERT INTO collections (name, visibility, owner, team, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(name) DO NOTHING",
            params![name, vis, owner, team, viewer.user_name],
        )?;
        if inserted == 0 {
            return Err(KbError::CollectionExists(name.to_string()));
        }
        Ok(CollectionInfo {
            name: name.to_string(),
            visibility,
            documents: 0,
            chunks: 0,
        })
    }

    /// Adds a user to a team (administrators only). Returns `false` if already a member.
    pub fn add_team_member(&self, viewer: &Viewer, team: &str, user: &str) -> Result<bool> {
        if !viewer.admin {
            return Err(KbError::Forbidden(
                "only an administrator manages teams".into(),
            ));
        }
        if !valid_name(team) || user.trim().is_empty() {
            return Err(KbError::Invalid(format!(
                "invalid team {team:?} or user {user:?}"
            )));
        }
        let n = self.db().execute(
            "INSERT OR IGNORE INTO team_members (team, user_name) VALUES (?1, ?2)",
            params![team, user],
        )?;
        Ok(n == 1)
    }

    /// Removes a user from a team (administrators only). Returns `false` if not a member.
    pub fn remove_team_member(&self, viewer: &Viewer, team: &str, user: &str) -> Result<bool> {
        if !viewer.admin {
            return Err(KbError::Forbidden(
                "only an administrator manages teams".into(),
            ));
        }
        let n = self.db().execute(
            "DELETE FROM team_members WHERE team = ?1 AND user_name = ?2",
            params![team, user],
        )?;
        Ok(n == 1)
    }

    fn collection_info(&self, c: Coll) -> Result<CollectionInfo> {
        let db = self.db();
        let (documents, chunks): (i64, i64) = db.query_row(
            "SELECT COUNT(*), COALESCE(SUM((SELECT COUNT(*) FROM chunks WHERE doc = d.rowid)), 0)
             FROM documents d WHERE d.collection_id = ?1",
            [c.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(CollectionInfo {
            name: c.name,
            visibility: c.visibility,
            documents: documents as u64,
            chunks: chunks as u64,
        })
    }

    /// The collections the viewer may read.
    pub fn collections(&self, viewer: &Viewer) -> Result<Vec<CollectionInfo>> {
        self.readable(viewer)?
            .into_iter()
            .map(|c| self.collection_info(c))
            .collect()
    }

    /// Every collection (administrators only: names and counts, not contents).
    pub fn all_collections(&self, viewer: &Viewer) -> Result<Vec<CollectionInfo>> {
        if !viewer.admin {
            return Err(KbError::Forbidden(
                "only an administrator lists every collection".into(),
            ));
        }
        self.load_collections()?
            .into_iter()
            .map(|c| self.collection_info(c))
            .collect()
    }

    // ---------------------------------------------------------------- documents

    fn doc_infos(&self, where_sql: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<DocumentInfo>> {
        let db = self.db();
        let sql = format!(
            "SELECT d.id, c.name, d.title, d.publisher, d.date, d.source, d.licence, d.kind,
                    d.format, d.content_hash, d.version, d.pages,
                    (SELECT COUNT(*) FROM chunks WHERE doc = d.rowid)
             FROM documents d JOIN collections c ON c.id = d.collection_id WHERE {where_sql}
             ORDER BY d.title, d.id"
        );
        let mut st = db.prepare_cached(&sql)?;
        let rows = st.query_map(p, |r| {
            Ok(DocumentInfo {
                id: r.get(0)?,
                collection: r.get(1)?,
                title: r.get(2)?,
                publisher: r.get(3)?,
                date: r.get(4)?,
                source: r.get(5)?,
                licence: r.get(6)?,
                kind: r.get(7)?,
                format: r.get(8)?,
                content_hash: r.get(9)?,
                version: r.get(10)?,
                pages: r.get(11)?,
                chunks: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The documents of a collection the viewer may read.
    pub fn documents(&self, viewer: &Viewer, collection: &str) -> Result<Vec<DocumentInfo>> {
        let c = self.readable_named(viewer, collection)?;
        self.doc_infos("d.collection_id = ?1", &[&c.id])
    }

    /// One document, if the viewer may read its collection.
    pub fn document(&self, viewer: &Viewer, id: &str) -> Result<DocumentInfo> {
        let readable: HashSet<String> =
            self.readable(viewer)?.into_iter().map(|c| c.name).collect();
        self.doc_infos("d.id = ?1", &[&id])?
            .into_iter()
            .find(|d| readable.contains(&d.collection))
            .ok_or_else(|| KbError::UnknownDocument(id.to_string()))
    }

    /// Ingests one file (format from its extension). `meta` overrides what the file says; the
    /// source defaults to the path as given.
    pub fn ingest_file(
        &self,
        viewer: &Viewer,
        collection: &str,
        path: &Path,
        meta: DocMeta,
    ) -> Result<IngestOutcome> {
        let mut out = None;
        self.ingest_files(
            viewer,
            collection,
            &[path.to_path_buf()],
            &meta,
            &mut |_, r| out = Some(r),
        )?;
        out.expect("one file, one outcome")
    }

    /// Ingests bytes named `name` (its extension gives the format), e.g. an upload.
    pub fn ingest_bytes(
        &self,
        viewer: &Viewer,
        collection: &str,
        name: &str,
        bytes: Vec<u8>,
        meta: DocMeta,
    ) -> Result<IngestOutcome> {
        let format = format_of(name)?;
        let c = self.writable_named(viewer, collection)?;
        let mut results = self.ingest_batch(
            &c,
            vec![Pending {
                name: name.to_string(),
                bytes,
                format,
                meta,
            }],
            &mut |_, _| {},
        )?;
        results.pop().expect("one document, one outcome")
    }

    /// Ingests files and folders (recursively; files of unknown type inside folders are skipped,
    /// named ones are an error), calling `each` after each file with its outcome. A file that
    /// fails does not stop the others. `meta` applies to every file; `source`, when given, only
    /// makes sense for a single file and is otherwise ignored.
    pub fn ingest_files(
        &self,
        viewer: &Viewer,
        collection: &str,
        paths: &[PathBuf],
        meta: &DocMeta,
        each: &mut dyn FnMut(&Path, Result<IngestOutcome>),
    ) -> Result<()> {
        let c = self.writable_named(viewer, collection)?;
        let files = expand_paths(paths)?;
        let single = files.len() == 1;
        let mut batch = Vec::new();
        let mut names = Vec::new();
        let run = |batch: Vec<Pending>,
                   names: &mut Vec<PathBuf>,
                   each: &mut dyn FnMut(&Path, Result<IngestOutcome>)|
         -> Result<()> {
            let taken: Vec<PathBuf> = std::mem::take(names);
            let mut i = 0;
            self.ingest_batch(&c, batch, &mut |_, r| {
                each(&taken[i], r);
                i += 1;
            })?;
            Ok(())
        };
        for (path, explicit) in files {
            let format = match format_of(&path.to_string_lossy()) {
                Ok(f) => f,
                Err(e) if explicit => {
                    each(&path, Err(e));
                    continue;
                }
                Err(_) => continue,
            };
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    each(
                        &path,
                        Err(KbError::Parse {
                            path: path.display().to_string(),
                            reason: e.to_string(),
                        }),
                    );
                    continue;
                }
            };
            let mut m = meta.clone();
            if !single {
                m.source = None;
            }
            batch.push(Pending {
                name: path.display().to_string(),
                bytes,
                format,
                meta: m,
            });
            names.push(path);
            if batch.len() >= BATCH_DOCS {
                run(std::mem::take(&mut batch), &mut names, each)?;
            }
        }
        if !batch.is_empty() {
            run(batch, &mut names, each)?;
        }
        Ok(())
    }

    /// Parses and records each document (one catalog transaction each), then indexes the batch.
    /// `each` is called in order with each document's outcome once the batch is indexed.
    fn ingest_batch(
        &self,
        c: &Coll,
        batch: Vec<Pending>,
        each: &mut dyn FnMut(usize, Result<IngestOutcome>),
    ) -> Result<Vec<Result<IngestOutcome>>> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut results = Vec::with_capacity(batch.len());
        let mut touched = false;
        for p in batch {
            let r = self.record(c, p);
            if let Ok(o) = &r {
                touched |= o.status != IngestStatus::Unchanged;
            }
            results.push(r);
        }
        if touched {
            self.index_pending()?;
        }
        let out: Vec<Result<IngestOutcome>> = results;
        for (i, r) in out.iter().enumerate() {
            each(i, clone_result(r));
        }
        Ok(out)
    }

    /// Step 1 of the protocol for one document.
    fn record(&self, c: &Coll, p: Pending) -> Result<IngestOutcome> {
        let hash = sha256_hex(&p.bytes);
        let parsed: Parsed = parse(p.format, &p.bytes, &p.name)?;
        let meta = p.meta.or(parsed.meta.clone());
        let source = meta.source.clone().unwrap_or_else(|| p.name.clone());
        let chunks = chunk(&parsed.blocks, self.chunk_words);
        let title = meta
            .title
            .clone()
            .or_else(|| {
                parsed
                    .blocks
                    .iter()
                    .find(|b| matches!(b.kind, crate::parse::BlockKind::Heading(_)))
                    .map(|b| b.text.clone())
            })
            .unwrap_or_else(|| {
                Path::new(&p.name)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| p.name.clone())
            });
        let date = meta.date.clone().map(|d| d.trim().to_string());
        let dkey = match &date {
            Some(d) => Some(date_key(d, (1, 1)).ok_or_else(|| {
                KbError::Invalid(format!(
                    "invalid date {d:?} for {}: expected YYYY[-MM[-DD]]",
                    p.name
                ))
            })?),
            None => None,
        };
        let licence = meta
            .licence
            .clone()
            .filter(|l| !l.trim().is_empty())
            .unwrap_or_else(|| UNKNOWN_LICENCE.to_string());
        let kind = meta
            .kind
            .clone()
            .filter(|k| !k.trim().is_empty())
            .unwrap_or_else(|| "document".to_string());

        let mut db = self.db();
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let same_source: Option<(i64, String, String, u32)> = tx
            .query_row(
                "SELECT rowid, id, content_hash, version FROM documents
                 WHERE collection_id = ?1 AND source = ?2",
                params![c.id, source],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let same_hash: Option<String> = tx
            .query_row(
                "SELECT id FROM documents WHERE collection_id = ?1 AND content_hash = ?2",
                params![c.id, hash],
                |r| r.get(0),
            )
            .optional()?;
        let outcome = |id: String, status, version, n: usize| IngestOutcome {
            document_id: id,
            status,
            collection: c.name.clone(),
            content_hash: hash.clone(),
            version,
            title: title.clone(),
            source: source.clone(),
            pages: parsed.pages,
            chunks: n as u32,
            format: p.format,
        };
        if let Some(existing) = same_hash {
            let (version, n): (u32, usize) = tx.query_row(
                "SELECT version, (SELECT COUNT(*) FROM chunks WHERE doc = d.rowid)
                 FROM documents d WHERE id = ?1",
                [&existing],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            return Ok(outcome(existing, IngestStatus::Unchanged, version, n));
        }
        let (status, version) = match &same_source {
            Some((rowid, id, _, version)) => {
                tx.execute(
                    "INSERT OR IGNORE INTO pending_deletes (doc) VALUES (?1)",
                    [rowid],
                )?;
                tx.execute("DELETE FROM documents WHERE rowid = ?1", [rowid])?;
                (
                    IngestStatus::Replaced {
                        previous_id: id.clone(),
                    },
                    version + 1,
                )
            }
            None => (IngestStatus::New, 1),
        };
        let id =
            sha256_hex(format!("{}\0{}\0{}", c.name, source, hash).as_bytes())[..16].to_string();
        tx.execute(
            "INSERT INTO documents (id, collection_id, title, publisher, date, date_key, source,
                licence, kind, format, content_hash, version, pages, indexed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0)",
            params![
                id,
                c.id,
                title,
                meta.publisher,
                date,
                dkey,
                source,
                licence,
                kind,
                p.format.as_str(),
                hash,
                version,
                parsed.pages
            ],
        )?;
        let doc = tx.last_insert_rowid();
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO chunks (doc, ordinal, page, heading, text) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for ch in &chunks {
                st.execute(params![doc, ch.ordinal, ch.page, ch.heading, ch.text])?;
            }
        }
        tx.commit()?;
        Ok(outcome(id, status, version, chunks.len()))
    }

    fn writer(&self) -> Result<IndexWriter> {
        let mut tries = 0;
        loop {
            match self.index.writer_with_num_threads(1, 32_000_000) {
                Ok(w) => return Ok(w),
                Err(tantivy::TantivyError::LockFailure(..)) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Steps 2 to 4 for every document not yet indexed and every queued deletion.
    fn index_pending(&self) -> Result<()> {
        let (docs, deletes): (Vec<i64>, Vec<i64>) = {
            let db = self.db();
            let docs = db
                .prepare("SELECT rowid FROM documents WHERE indexed = 0")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let deletes = db
                .prepare("SELECT doc FROM pending_deletes")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            (docs, deletes)
        };
        if docs.is_empty() && deletes.is_empty() {
            return Ok(());
        }
        let f = self.fields;
        let mut writer = self.writer()?;
        for &d in deletes.iter().chain(&docs) {
            writer.delete_term(Term::from_field_u64(f.doc, d as u64));
        }
        let mut new_chunks = Vec::new();
        {
            let db = self.db();
            let mut st = db.prepare_cached(
                "SELECT c.rowid, c.heading, c.text, d.title, d.collection_id, d.kind, d.date_key
                 FROM chunks c JOIN documents d ON d.rowid = c.doc WHERE c.doc = ?1",
            )?;
            for &d in &docs {
                let rows = st.query_map([d], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ))
                })?;
                for row in rows {
                    let (chunk, heading, text, title, coll, kind, dk) = row?;
                    let mut doc = TantivyDocument::default();
                    doc.add_u64(f.chunk, chunk as u64);
                    doc.add_u64(f.doc, d as u64);
                    doc.add_u64(f.collection, coll as u64);
                    doc.add_text(f.kind, &kind);
                    doc.add_i64(f.date, dk.unwrap_or(0));
                    doc.add_text(f.body, passage_text(&title, heading.as_deref(), &text));
                    writer.add_document(doc)?;
                    new_chunks.push(chunk);
                }
            }
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        self.reader.reload()?;
        {
            let mut v = self.vectors.write().unwrap_or_else(|p| p.into_inner());
            v.refresh()?;
            v.remove_docs(&deletes.iter().chain(&docs).copied().collect())?;
        }
        self.embed_chunks(&new_chunks)?;
        let mut db = self.db();
        let tx = db.transaction()?;
        {
            let mut mark =
                tx.prepare_cached("UPDATE documents SET indexed = 1 WHERE rowid = ?1")?;
            for d in &docs {
                mark.execute([d])?;
            }
            let mut unqueue = tx.prepare_cached("DELETE FROM pending_deletes WHERE doc = ?1")?;
            for d in &deletes {
                unqueue.execute([d])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn recover(&self) -> Result<()> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        self.index_pending()
    }

    /// Deletes a document (every version's trace leaves both indexes). The viewer must be able to
    /// change its collection.
    pub fn delete_document(&self, viewer: &Viewer, id: &str) -> Result<Deleted> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let row: Option<(i64, String, String, u32)> = self
            .db()
            .query_row(
                "SELECT d.rowid, c.name, d.content_hash,
                        (SELECT COUNT(*) FROM chunks WHERE doc = d.rowid)
                 FROM documents d JOIN collections c ON c.id = d.collection_id WHERE d.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((rowid, collection, hash, chunks)) = row else {
            return Err(KbError::UnknownDocument(id.to_string()));
        };
        match self.writable_named(viewer, &collection) {
            Err(KbError::UnknownCollection(_)) => {
                return Err(KbError::UnknownDocument(id.to_string()))
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        {
            let mut db = self.db();
            let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR IGNORE INTO pending_deletes (doc) VALUES (?1)",
                [rowid],
            )?;
            tx.execute("DELETE FROM documents WHERE rowid = ?1", [rowid])?;
            tx.commit()?;
        }
        self.index_pending()?;
        Ok(Deleted {
            document_id: id.to_string(),
            collection,
            content_hash: hash,
            chunks,
        })
    }

    // ---------------------------------------------------------------- search

    /// Searches what the viewer may read. See [`Hit::relevance`] for the refusal signal.
    pub fn search(&self, viewer: &Viewer, query: &SearchQuery) -> Result<Vec<Hit>> {
        let text = query.text.trim();
        if text.is_empty() {
            return Err(KbError::Invalid("empty query".into()));
        }
        if query.k == 0 || query.k > 1000 {
            return Err(KbError::Invalid(format!(
                "k must be between 1 and 1000, not {}",
                query.k
            )));
        }
        let colls: Vec<Coll> = match &query.collection {
            Some(name) => vec![self.readable_named(viewer, name)?],
            None => self.readable(viewer)?,
        };
        let from = match &query.date_from {
            Some(d) => Some(date_key(d, (1, 1)).ok_or_else(|| {
                KbError::Invalid(format!("invalid date_from {d:?}: expected YYYY[-MM[-DD]]"))
            })?),
            None => None,
        };
        let to = match &query.date_to {
            Some(d) => Some(date_key(d, (12, 31)).ok_or_else(|| {
                KbError::Invalid(format!("invalid date_to {d:?}: expected YYYY[-MM[-DD]]"))
            })?),
            None => None,
        };
        let embedder = self.embedder();
        if query.mode == Mode::Dense && embedder.is_none() {
            return Err(KbError::NoEmbedder);
        }
        if colls.is_empty() {
            return Ok(Vec::new());
        }
        let allowed: HashMap<i64, String> = colls.iter().map(|c| (c.id, c.name.clone())).collect();
        let want = if query.mode == Mode::Hybrid {
            query.k.max(50)
        } else {
            query.k
        } * 2;

        let mut analyzer = analyzer::french();
        let qterms = analyzer::distinct_terms(&mut analyzer, text);
        let searcher = self.reader.searcher();
        let f = self.fields;

        let mut bm25: Vec<(i64, f32)> = Vec::new();
        if query.mode != Mode::Dense && !qterms.is_empty() {
            // Scored words, restricted to the viewer's collections (and kinds, when asked).
            let words = qterms.iter().map(|t| Term::from_field_text(f.body, t));
            let mut must: Vec<(Occur, Box<dyn Query>)> = vec![
                (Occur::Must, any_of(words, IndexRecordOption::WithFreqs)),
                (
                    Occur::Must,
                    any_of(
                        colls
                            .iter()
                            .map(|c| Term::from_field_u64(f.collection, c.id as u64)),
                        IndexRecordOption::Basic,
                    ),
                ),
            ];
            if !query.kinds.is_empty() {
                let kinds = query.kinds.iter().map(|k| Term::from_field_text(f.kind, k));
                must.push((Occur::Must, any_of(kinds, IndexRecordOption::Basic)));
            }
            if from.is_some() || to.is_some() {
                must.push((
                    Occur::Must,
                    Box::new(RangeQuery::new_i64_bounds(
                        "date".into(),
                        // Undated documents (date 0) never pass a date filter.
                        Bound::Included(from.unwrap_or(1)),
                        to.map_or(Bound::Unbounded, Bound::Included),
                    )),
                ));
            }
            let q = BooleanQuery::new(must);
            for (score, addr) in searcher.search(&q, &TopDocs::with_limit(want))? {
                let doc: TantivyDocument = searcher.doc(addr)?;
                if let Some(c) = doc.get_first(f.chunk).and_then(|v| v.as_u64()) {
                    bm25.push((c as i64, score));
                }
            }
        }

        let mut dense: Vec<(i64, f32)> = Vec::new();
        if query.mode != Mode::Bm25 {
            if let Some(e) = &embedder {
                let qv = e
                    .embed(&[text.to_string()], EmbedKind::Query)
                    .map_err(KbError::Embedding)?
                    .pop()
                    .ok_or_else(|| KbError::Embedding("no vector for the query".into()))?;
                let doc_filter: Option<HashSet<i64>> =
                    if query.kinds.is_empty() && from.is_none() && to.is_none() {
                        None
                    } else {
                        Some(self.filtered_docs(&colls, &query.kinds, from, to)?)
                    };
                if self
                    .vectors
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .stale()
                {
                    self.vectors
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .refresh()?;
                }
                // Searches share the read lock: they scan in parallel.
                let v = self.vectors.read().unwrap_or_else(|p| p.into_inner());
                let coll_ids: Vec<i64> = colls.iter().map(|c| c.id).collect();
                dense = v.search(&qv, want, &|doc, coll| {
                    coll_ids.contains(&coll) && doc_filter.as_ref().is_none_or(|s| s.contains(&doc))
                });
            }
        }

        // Fusion.
        let fused: Vec<(i64, f32, Option<f32>, Option<f32>)> =
            match (query.mode, embedder.is_none()) {
                (Mode::Bm25, _) | (Mode::Hybrid, true) => {
                    bm25.iter().map(|&(c, s)| (c, s, Some(s), None)).collect()
                }
                (Mode::Dense, _) => dense.iter().map(|&(c, s)| (c, s, None, Some(s))).collect(),
                (Mode::Hybrid, false) => {
                    let mut by: HashMap<i64, (f32, Option<f32>, Option<f32>)> = HashMap::new();
                    for (rank, &(c, s)) in bm25.iter().enumerate() {
                        let e = by.entry(c).or_insert((0.0, None, None));
                        e.0 += 1.0 / (RRF_K + rank as f32 + 1.0);
                        e.1 = Some(s);
                    }
                    for (rank, &(c, s)) in dense.iter().enumerate() {
                        let e = by.entry(c).or_insert((0.0, None, None));
                        e.0 += 1.0 / (RRF_K + rank as f32 + 1.0);
                        e.2 = Some(s);
                    }
                    let mut fused: Vec<_> =
                        by.into_iter().map(|(c, (s, b, d))| (c, s, b, d)).collect();
                    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    fused
                }
            };

        // IDF of each query term, for the relevance signal.
        let n_docs = searcher.num_docs().max(1) as f32;
        let idf: Vec<f32> = qterms
            .iter()
            .map(|t| {
                let df = searcher
                    .doc_freq(&Term::from_field_text(f.body, t))
                    .unwrap_or(0) as f32;
                // df counts deleted entries not yet merged away: never let it exceed n.
                let df = df.min(n_docs);
                (1.0 + (n_docs - df + 0.5) / (df + 0.5)).ln()
            })
            .collect();
        let idf_total: f32 = idf.iter().sum();

        let db = self.db();
        let mut st = db.prepare_cached(
            "SELECT d.id, d.title, d.source, c.page, c.heading, c.text, d.licence, d.publisher,
                    d.date, d.kind, d.collection_id, c.ordinal
             FROM chunks c JOIN documents d ON d.rowid = c.doc WHERE c.rowid = ?1",
        )?;
        let mut hits = Vec::new();
        for (chunk_row, score, b, d) in fused {
            if hits.len() == query.k {
                break;
            }
            let row = st
                .query_row([chunk_row], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<u32>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, String>(9)?,
                        r.get::<_, i64>(10)?,
                        r.get::<_, u32>(11)?,
                    ))
                })
                .optional()?;
            // Orphans of an interrupted deletion, or anything outside the readable collections.
            let Some((
                doc_id,
                title,
                source,
                page,
                heading,
                text,
                licence,
                publisher,
                date,
                kind,
                coll,
                ordinal,
            )) = row
            else {
                continue;
            };
            let Some(collection) = allowed.get(&coll) else {
                continue;
            };
            let hit_terms: HashSet<String> = analyzer::terms(
                &mut analyzer,
                &passage_text(&title, heading.as_deref(), &text),
            )
            .into_iter()
            .collect();
            let matched: f32 = qterms
                .iter()
                .zip(&idf)
                .filter(|(t, _)| hit_terms.contains(*t))
                .map(|(_, w)| w)
                .sum();
            let relevance = if idf_total > 0.0 {
                matched / idf_total
            } else {
                0.0
            };
            hits.push(Hit {
                rank: hits.len() + 1,
                score,
                relevance,
                chunk_id: format!("{doc_id}:{ordinal}"),
                document_id: doc_id,
                title,
                source,
                page,
                heading,
                text,
                licence,
                publisher,
                date,
                kind,
                collection: collection.clone(),
                bm25: b,
                dense: d,
                rerank: None,
            });
        }
        Ok(hits)
    }

    /// [`search`](Self::search), then `reranker` scores the best `depth` (1..=1000) fused hits
    /// against the query and they are re-ordered by its score (equal scores keep the fused
    /// order), with [`Hit::rerank`] set; hits past `depth` follow in fused order, unscored. The
    /// top `query.k` are returned, ranks renumbered. [`Hit::relevance`] is unchanged, so the
    /// refusal rule reads the same signal with or without a reranker. The reranker reads the
    /// query as given and each passage's text.
    pub fn search_reranked(
        &self,
        viewer: &Viewer,
        query: &SearchQuery,
        reranker: &dyn crate::Reranker,
        depth: usize,
    ) -> Result<Vec<Hit>> {
        if depth == 0 || depth > 1000 {
            return Err(KbError::Invalid(format!(
                "rerank depth must be between 1 and 1000, not {depth}"
            )));
        }
        // `k` is checked by `search` itself, but only on the widened query: check it here.
        if query.k == 0 || query.k > 1000 {
            return Err(KbError::Invalid(format!(
                "k must be between 1 and 1000, not {}",
                query.k
            )));
        }
        let mut wide = query.clone();
        wide.k = query.k.max(depth);
        let mut hits = self.search(viewer, &wide)?;
        let n = depth.min(hits.len());
        if n > 0 {
            let passages: Vec<&str> = hits[..n].iter().map(|h| h.text.as_str()).collect();
            let scores = reranker
                .score(query.text.trim(), &passages)
                .map_err(KbError::Rerank)?;
            if scores.len() != n {
                return Err(KbError::Rerank(format!(
                    "{} returned {} scores for {n} passages",
                    reranker.model(),
                    scores.len()
                )));
            }
            if let Some(bad) = scores.iter().find(|s| !s.is_finite()) {
                return Err(KbError::Rerank(format!(
                    "{} returned a non-finite score ({bad})",
                    reranker.model()
                )));
            }
            let mut head: Vec<Option<Hit>> = hits.drain(..n).map(Some).collect();
            let reordered: Vec<Hit> = crate::rerank::order(&scores)
                .into_iter()
                .map(|i| {
                    let mut h = head[i].take().expect("each index once");
                    h.rerank = Some(scores[i]);
                    h
                })
                .collect();
            hits.splice(0..0, reordered);
        }
        hits.truncate(query.k);
        for (i, h) in hits.iter_mut().enumerate() {
            h.rank = i + 1;
        }
        Ok(hits)
    }

    /// Document rowids of these collections passing the kind and date filters.
    fn filtered_docs(
        &self,
        colls: &[Coll],
        kinds: &[String],
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<HashSet<i64>> {
        let db = self.db();
        let mut st = db.prepare_cached(
            "SELECT rowid, kind, date_key FROM documents WHERE collection_id = ?1",
        )?;
        let mut out = HashSet::new();
        for c in colls {
            let rows = st.query_map([c.id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })?;
            for row in rows {
                let (rowid, kind, dk) = row?;
                let dated = from.is_none() && to.is_none()
                    || dk.is_some_and(|dk| {
                        from.is_none_or(|f| dk >= f) && to.is_none_or(|t| dk <= t)
                    });
                if (kinds.is_empty() || kinds.contains(&kind)) && dated {
                    out.insert(rowid);
                }
            }
        }
        Ok(out)
    }

    /// Number of vectors in the dense index (for diagnostics and tests).
    pub fn vector_count(&self) -> usize {
        self.vectors.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// What is indexed and embedded for a chunk: title and heading give the passage its context.
fn passage_text(title: &str, heading: Option<&str>, text: &str) -> String {
    match heading {
        Some(h) => format!("{title}\n{h}\n{text}"),
        None => format!("{title}\n{text}"),
    }
}

fn format_of(name: &str) -> Result<Format> {
    let ext = Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    Format::from_extension(&ext).ok_or_else(|| KbError::UnsupportedFormat(name.to_string()))
}

/// The files [`Kb::ingest_files`] would read under `paths` (folders recursively, sorted; files of
/// unknown type inside folders left out), e.g. to size a progress bar.
pub fn files_under(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    Ok(expand_paths(paths)?
        .into_iter()
        .filter(|(p, explicit)| *explicit || format_of(&p.to_string_lossy()).is_ok())
        .map(|(p, _)| p)
        .collect())
}

/// Files under `paths` (folders recursively, sorted), each with whether it was named explicitly.
fn expand_paths(paths: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool)>) -> Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().map(|n| n.to_string_lossy().starts_with('.'));
            if name == Some(true) {
                continue;
            }
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.is_file() {
                out.push((p, false));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            out.push((p.clone(), true));
        } else {
            return Err(KbError::Invalid(format!(
                "no such file or folder: {}",
                p.display()
            )));
        }
    }
    Ok(out)
}

/// `KbError` is not `Clone` (it wraps I/O and SQL errors); outcomes are reported twice (to the
/// callback and in the returned list), so errors are copied as their message.
fn clone_result(r: &Result<IngestOutcome>) -> Result<IngestOutcome> {
    match r {
        Ok(o) => Ok(o.clone()),
        Err(KbError::Parse { path, reason }) => Err(KbError::Parse {
            path: path.clone(),
            reason: reason.clone(),
        }),
        Err(KbError::UnsupportedFormat(s)) => Err(KbError::UnsupportedFormat(s.clone())),
        Err(KbError::Invalid(s)) => Err(KbError::Invalid(s.clone())),
        Err(e) => Err(KbError::Invalid(e.to_string())),
    }
}

/// A query matching documents that hold at least one of `terms` (scored by those it holds).
fn any_of(terms: impl Iterator<Item = Term>, option: IndexRecordOption) -> Box<dyn Query> {
    let should: Vec<(Occur, Box<dyn Query>)> = terms
        .map(|t| {
            (
                Occur::Should,
                Box::new(TermQuery::new(t, option)) as Box<dyn Query>,
            )
        })
        .collect();
    Box::new(BooleanQuery::new(should))
}
