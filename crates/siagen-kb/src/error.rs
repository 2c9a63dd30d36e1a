//! The crate's one error type. Variants callers act on (not found, forbidden, bad input) are
//! separate so that the server can map them to 404 / 403 / 400 problems; storage failures carry
//! their source.

/// Everything that can go wrong in the knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// The input is wrong (empty query, bad collection name, bad date, k out of range...).
    #[error("{0}")]
    Invalid(String),
    /// No such collection (or the viewer may not see it: the two are not distinguished, so
    /// that private collection names do not leak).
    #[error("unknown collection {0:?}")]
    UnknownCollection(String),
    /// No such document (or not visible to the viewer).
    #[error("unknown document {0:?}")]
    UnknownDocument(String),
    /// A collection with this name exists already.
    #[error("collection {0:?} already exists")]
    CollectionExists(String),
    /// The viewer may read but not change this, or may not create this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The file could not be read as its format says.
    #[error("cannot read {path}: {reason}")]
    Parse {
        /// File or source name.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The file's extension is not one the knowledge base reads.
    #[error("unsupported file type: {0} (expected .pdf, .html, .md, .txt or .docx)")]
    UnsupportedFormat(String),
    /// A dense search without an embedder configured.
    #[error("dense retrieval needs an embedding model (kb_embedding_model)")]
    NoEmbedder,
    /// The embedding model failed.
    #[error("embedding model: {0}")]
    Embedding(String),
    /// The reranker failed or returned unusable scores.
    #[error("reranker model: {0}")]
    Rerank(String),
    /// File system.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The catalog.
    #[error("catalog: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The full-text index.
    #[error("text index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The vector index file is damaged beyond what opening repairs.
    #[error("vector index: {0}")]
    Vectors(String),
}

/// Shorthand.
pub type Result<T, E = KbError> = std::result::Result<T, E>;
