//! The public vocabulary of the knowledge base: who asks ([`Viewer`]), what ([`SearchQuery`]),
//! what comes back ([`Hit`]), collections and documents, and the [`Embedder`] trait through which
//! the only model this crate uses (an embedding model) is reached.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The person a search or an ingestion is made for. The knowledge base looks up the teams of
/// `user_name` itself (team membership lives in its catalog), so callers cannot widen access by
/// passing teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Account id in the store (recorded as the owner id of private collections).
    pub user_id: i64,
    /// Account name: private collections are owned by a name, teams list names.
    pub user_name: String,
    /// Administrators manage every collection (create institution collections, delete any
    /// document) but still never *read* another user's private collection.
    pub admin: bool,
}

impl Viewer {
    /// The operator at the command line: an administrator without an account (`cli`).
    pub fn cli() -> Viewer {
        Viewer {
            user_id: 0,
            user_name: "cli".into(),
            admin: true,
        }
    }
}

/// Who may read a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Visibility {
    /// Only its owner (an account name).
    Private {
        /// Owner's account name.
        owner: String,
    },
    /// Every member of the team.
    Team {
        /// Team name.
        team: String,
    },
    /// Everyone with an account.
    Institution,
}

impl Visibility {
    /// Parses the CLI form: `private` (owner given separately), `team:NAME`, `institution`.
    pub fn parse(text: &str, owner: &str) -> Option<Visibility> {
        match text {
            "private" => Some(Visibility::Private {
                owner: owner.to_string(),
            }),
            "institution" => Some(Visibility::Institution),
            t => t
                .strip_prefix("team:")
                .filter(|n| !n.trim().is_empty())
                .map(|n| Visibility::Team {
                    team: n.trim().to_string(),
                }),
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Visibility::Private { owner } => write!(f, "private:{owner}"),
            Visibility::Team { team } => write!(f, "team:{team}"),
            Visibility::Institution => f.write_str("institution"),
        }
    }
}

/// A collection as listed to a viewer who may read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionInfo {
    /// Unique name.
    pub name: String,
    /// Who may read it.
    pub visibility: Visibility,
    /// Number of current documents.
    pub documents: u64,
    /// Number of chunks of those documents.
    pub chunks: u64,
}

/// Which retrieval to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// BM25 and dense fused by reciprocal rank fusion; BM25 alone when no embedder is set.
    #[default]
    Hybrid,
    /// French BM25 only.
    Bm25,
    /// Dense vectors only (an error without an embedder).
    Dense,
}

impl Mode {
    /// `hybrid`, `bm25` or `dense`.
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "hybrid" => Some(Mode::Hybrid),
            "bm25" => Some(Mode::Bm25),
            "dense" => Some(Mode::Dense),
            _ => None,
        }
    }
}

/// A search. Restriction to what the viewer may read is applied on top of every filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchQuery {
    /// The question or keywords, in French.
    pub text: String,
    /// One collection by name, or `None` for every collection the viewer may read.
    pub collection: Option<String>,
    /// Number of hits wanted (1..=1000).
    pub k: usize,
    /// Only documents of these kinds (e.g. `guideline`, `monograph`); empty = all.
    pub kinds: Vec<String>,
    /// Only documents dated on or after this `YYYY[-MM[-DD]]` date.
    pub date_from: Option<String>,
    /// Only documents dated on or before this `YYYY[-MM[-DD]]` date.
    pub date_to: Option<String>,
    /// Retrieval mode.
    pub mode: Mode,
}

impl SearchQuery {
    /// A hybrid query over one collection (or all when `collection` is empty).
    pub fn new(text: impl Into<String>, collection: &str, k: usize) -> SearchQuery {
        SearchQuery {
            text: text.into(),
            collection: (!collection.is_empty()).then(|| collection.to_string()),
            k,
            ..SearchQuery::default()
        }
    }
}

/// One retrieved passage, with what a citation needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// 1-based rank.
    pub rank: usize,
    /// The ranking score of the mode used: BM25 score, cosine similarity, or RRF score.
    pub score: f32,
    /// **Calibrated relevance in [0, 1]**: the IDF-weighted fraction of the query's content
    /// terms (French analysis: stop words removed, accents folded, stemmed) that occur in this
    /// passage (text, heading or title). 1.0 means every meaningful query word is there; a
    /// passage matching only a frequent word scores low. Comparable across queries and modes,
    /// unlike `score`: use it to refuse answering when the best hit is below a threshold
    /// (the binary's `kb_min_relevance`, default [`DEFAULT_MIN_RELEVANCE`]).
    pub relevance: f32,
    /// `DOCUMENT_ID:ORDINAL`.
    pub chunk_id: String,
    /// Stable id of the document version.
    pub document_id: String,
    /// Document title.
    pub title: String,
    /// Source path, URL or reference.
    pub source: String,
    /// 1-based page of the passage's first paragraph (PDF), when known.
    pub page: Option<u32>,
    /// The heading path of the section (`Titre > Sous-titre`), when any.
    pub heading: Option<String>,
    /// The passage.
    pub text: String,
    /// Licence of the source, `inconnue` when it was not given (shown to the user).
    pub licence: String,
    /// Publisher or author.
    pub publisher: Option<String>,
    /// Publication date `YYYY[-MM[-DD]]`.
    pub date: Option<String>,
    /// Document kind (`guideline`, `protocol`, `monograph`, `article`, ... or `document`).
    pub kind: String,
    /// Collection name.
    pub collection: String,
    /// BM25 score, when the passage was in the BM25 list.
    pub bm25: Option<f32>,
    /// Cosine similarity, when the passage was in the dense list.
    pub dense: Option<f32>,
    /// The reranker's score, when the hit was reranked ([`Kb::search_reranked`](crate::Kb::search_reranked)).
    pub rerank: Option<f32>,
}

/// Suggested refusal threshold on [`Hit::relevance`] of the best hit.
pub const DEFAULT_MIN_RELEVANCE: f32 = 0.5;

/// Whether a text is a question or a passage: e5-style models want `query: ` / `passage: `
/// prefixes; the embedder adds what its model needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedKind {
    /// A search query.
    Query,
    /// A passage to index.
    Passage,
}

/// An embedding model. Vectors need not be normalised (the index normalises them); all must have
/// the same dimension for a given model.
pub trait Embedder: Send + Sync {
    /// Model name, recorded in the vector index: changing it re-embeds every passage.
    fn model(&self) -> &str;
    /// One vector per text, in order.
    fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>, String>;
}

/// Document metadata. Every field may come from the file (HTML `<title>`/`<meta>`, DOCX
/// `core.xml`, PDF info, Markdown front matter) and be overridden by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DocMeta {
    /// Title (default: the first heading, else the file name).
    pub title: Option<String>,
    /// Publisher or author.
    pub publisher: Option<String>,
    /// `YYYY[-MM[-DD]]`.
    pub date: Option<String>,
    /// Source URL or reference (default: the path).
    pub source: Option<String>,
    /// Licence (default: [`UNKNOWN_LICENCE`], recorded and shown explicitly).
    pub licence: Option<String>,
    /// Kind (default `document`).
    pub kind: Option<String>,
}

impl DocMeta {
    /// `self`'s fields where set, else `other`'s.
    pub fn or(self, other: DocMeta) -> DocMeta {
        DocMeta {
            title: self.title.or(other.title),
            publisher: self.publisher.or(other.publisher),
            date: self.date.or(other.date),
            source: self.source.or(other.source),
            licence: self.licence.or(other.licence),
            kind: self.kind.or(other.kind),
        }
    }
}

/// Licence recorded when none is known.
pub const UNKNOWN_LICENCE: &str = "inconnue";

/// File formats the knowledge base reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `.txt`
    Text,
    /// `.md`, `.markdown`
    Markdown,
    /// `.html`, `.htm`
    Html,
    /// `.docx`
    Docx,
    /// `.pdf`
    Pdf,
}

impl Format {
    /// From a file extension (case-insensitive), `None` for anything else.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" | "xhtml" => Some(Format::Html),
            "docx" => Some(Format::Docx),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }

    /// Lower-case name (`pdf`, `docx`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Docx => "docx",
            Format::Pdf => "pdf",
        }
    }
}

/// What an ingestion did, for the caller's audit entry (ids and hashes only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestStatus {
    /// A new document.
    New,
    /// A new version of the document with the same source in the collection: the previous
    /// version's chunks are gone from every index.
    Replaced {
        /// Id of the replaced version.
        previous_id: String,
    },
    /// Same content already in the collection: nothing changed.
    Unchanged,
}

/// The result of ingesting one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    /// Id of the (current) document version.
    pub document_id: String,
    /// What happened.
    pub status: IngestStatus,
    /// Collection name.
    pub collection: String,
    /// SHA-256 of the file's bytes, hex.
    pub content_hash: String,
    /// Version number (1 for a new document).
    pub version: u32,
    /// Title recorded.
    pub title: String,
    /// Source recorded.
    pub source: String,
    /// Pages (PDF) or 1.
    pub pages: u32,
    /// Chunks indexed.
    pub chunks: u32,
    /// Format read.
    pub format: Format,
}

/// A document as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentInfo {
    /// Id of the current version.
    pub id: String,
    /// Collection name.
    pub collection: String,
    /// Title.
    pub title: String,
    /// Publisher or author.
    pub publisher: Option<String>,
    /// Date.
    pub date: Option<String>,
    /// Source.
    pub source: String,
    /// Licence (`inconnue` when unknown).
    pub licence: String,
    /// Kind.
    pub kind: String,
    /// Format.
    pub format: String,
    /// SHA-256 of the file, hex.
    pub content_hash: String,
    /// Version number.
    pub version: u32,
    /// Pages.
    pub pages: u32,
    /// Chunks.
    pub chunks: u32,
}

/// What a deletion removed, for the caller's audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deleted {
    /// Document id.
    pub document_id: String,
    /// Collection name.
    pub collection: String,
    /// SHA-256 of the file, hex.
    pub content_hash: String,
    /// Chunks removed.
    pub chunks: u32,
}

/// A chunk as produced by the chunker, before indexing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// 0-based position in the document.
    pub ordinal: u32,
    /// Page of the first paragraph.
    pub page: Option<u32>,
    /// Heading path.
    pub heading: Option<String>,
    /// Text (paragraphs separated by blank lines).
    pub text: String,
}
