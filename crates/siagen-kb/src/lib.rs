//! # siagen-kb
//!
//! Sourced answers start here: the hospital's own corpus, ingested with its metadata and licence,
//! searched with a French BM25 index and (when an embedding model is configured) dense vectors,
//! fused by reciprocal rank fusion; then the citations of an answer are parsed and every sentence
//! is checked against the passages it cites.
//!
//! Models are reached only through the [`Embedder`]-style traits this crate defines; the server
//! and the CLI implement them with the engine.
//!
//! ## Knowledge base API (ingestion and retrieval)
//! ```text
//! let kb = Kb::open(&data_dir.join("kb"), KbOptions::default())?;   // Send + Sync, one per dir
//! kb.set_embedder(Arc::new(my_engine_embedder))?;                 // optional: dense + hybrid
//! kb.create_collection(&Viewer::cli(), "guides", Visibility::Institution)?;
//! let outcome = kb.ingest_file(&viewer, "guides", path, DocMeta::default())?;  // IngestOutcome
//! let hits = kb.search(&viewer, &SearchQuery::new("interaction AVK", "guides", 10))?;
//! if hits.first().map_or(true, |h| h.relevance < DEFAULT_MIN_RELEVANCE) { /* refuse */ }
//! let hits = kb.search_reranked(&viewer, &query, &my_reranker, DEFAULT_RERANK_DEPTH)?; // optional
//! ```
//! * **Access**: every call takes a [`Viewer`]; a private collection is read only by its owner
//!   (even administrators do not read it), a team collection by the team's members (kept in the
//!   catalog: [`Kb::add_team_member`]), an institution collection by everyone.
//! * **Relevance**: [`Hit::relevance`] (IDF-weighted fraction of the query's content words found
//!   in the passage, in [0, 1]) is the calibrated signal for refusing to answer.
//! * **Reranking** (optional): [`Kb::search_reranked`] has a [`Reranker`] read the best fused
//!   hits and re-orders them by its score ([`Hit::rerank`]); relevance is unchanged.
//! * **Audit**: this crate does not know the store; callers audit the [`IngestOutcome`],
//!   [`Deleted`] and collection changes it returns (ids and hashes only).
//! * **Atomicity**: the SQLite catalog is the source of truth; see [`kb`] for the protocol that
//!   keeps the text index and the vector file in line with it across a crash.

pub mod cite;
pub mod claim;

pub mod analyzer;
pub mod chunk;
mod error;
pub mod kb;
pub mod parse;
pub mod rerank;
pub mod testdata;
mod types;
mod vectors;

pub use error::{KbError, Result};
pub use kb::{Kb, KbOptions};
pub use rerank::{yes_share, Reranker, DEFAULT_RERANK_DEPTH};
pub use types::*;
