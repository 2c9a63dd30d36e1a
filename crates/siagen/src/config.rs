//! Configuration: flags and `SIAGEN_*` variables win over the TOML file, which wins over the
//! defaults. The file is `--config`/`SIAGEN_CONFIG`, else `siagen.toml` in the data directory.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Keys of the TOML file (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Listen address, `host:port`.
    pub addr: Option<String>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Small sites: may validators validate their own revisions?
    pub allow_self_validation: Option<bool>,
    /// Signed audit checkpoint every N entries.
    pub audit_checkpoint_every: Option<u64>,
    /// SQLite `synchronous=FULL` (power-loss safe) instead of `NORMAL` (crash safe).
    pub sync_full: Option<bool>,
    /// Largest request body, in bytes.
    pub max_body_bytes: Option<usize>,
    /// Web session lifetime, in hours.
    pub session_ttl_hours: Option<i64>,
    /// `Secure` flag on cookies (turn off only behind plain HTTP on a non-local host).
    pub secure_cookies: Option<bool>,
    /// Directory with newer ANSM thesaurus editions (`thesaurus-<edition>.json`...).
    pub meds_thesaurus_dir: Option<PathBuf>,
    /// Edition used when a request names none (default: the newest).
    pub meds_default_edition: Option<String>,
    /// Directory of GGUF models (default: `models` in the data directory).
    pub models_dir: Option<PathBuf>,
    /// CPU threads per inference (default: all cores).
    pub engine_threads: Option<usize>,
    /// Requests allowed to wait per model before 429 (default 16).
    pub engine_max_queue: Option<usize>,
    /// Requests decoded together per model (continuous batching; default 1).
    pub engine_parallel: Option<usize>,
    /// Model layers offloaded to the GPU (default: all of them on a build with the `cuda`
    /// feature, 0 otherwise; more than 0 on a CPU-only build is refused).
    pub engine_gpu_layers: Option<u32>,
    /// Upper bound of the context window in tokens (default 8192).
    pub engine_max_context: Option<usize>,
    /// Unload a model after this many idle seconds (default: keep loaded).
    pub engine_idle_unload_secs: Option<u64>,
    /// Grid carbon intensity in gCO2e/kWh (default: France, see siagen-energy).
    pub grid_g_per_kwh: Option<f64>,
    /// Data-centre PUE (default 1.0).
    pub pue: Option<f64>,
    /// May the local engine receive identifying data? (default: no, texts are pseudonymised)
    pub engine_may_receive_identifying: Option<bool>,
    /// Surrogates: `realistic` (default) or `tags` (`[NOM_1]`).
    pub surrogate_style: Option<String>,
    /// OpenAI-compatible engines serving models by name (`[[upstreams]]` tables).
    pub upstreams: Option<Vec<siagen_app::upstream::UpstreamConfig>>,
    /// Watermark of local generations: `gumbel` (default, distortion-free), `kgw` or `off`.
    pub mark_scheme: Option<String>,
    /// Models whose generations are not watermarked.
    pub mark_off_models: Option<Vec<String>>,
    /// False-positive rate of watermark verdicts (default 1e-3).
    pub mark_fpr: Option<f64>,
    /// Knowledge base: installed embedding model (GGUF name) for dense and hybrid retrieval
    /// (default: none, BM25 only).
    pub kb_embedding_model: Option<String>,
    /// Knowledge base: refuse to answer when the best passage's relevance is below this
    /// (0..1, default 0.5, see `siagen_kb::Hit::relevance`).
    pub kb_min_relevance: Option<f32>,
    /// Knowledge base: words per passage when chunking (default 200).
    pub kb_chunk_words: Option<usize>,
    /// Sourced answers: chat model (local or upstream name) asked whether each cited passage
    /// entails the sentence citing it; its score joins the claim check (default: none).
    pub kb_entailment_model: Option<String>,
    /// Knowledge base: installed chat model (GGUF name) that reranks the best fused passages,
    /// asked per passage whether it answers the question (`siagen kb search --rerank`, and
    /// `/api/ask` when set; default: none, no reranking).
    pub kb_reranker_model: Option<String>,
    /// Knowledge base: how many fused passages the reranker reads (1..=1000, default 20).
    pub kb_rerank_depth: Option<usize>,
}

impl FileConfig {
    /// Reads the file, failing with its path and the TOML error on any mistake.
    pub fn load(path: &Path) -> Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// The explicit file, else `siagen.toml` in the data directory if present, else defaults.
    pub fn discover(explicit: Option<&Path>, data_dir: Option<&Path>) -> Result<FileConfig> {
        if let Some(p) = explicit {
            return Self::load(p);
        }
        let dir = data_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(default_data_dir);
        let candidate = dir.join("siagen.toml");
        if candidate.exists() {
            Self::load(&candidate)
        } else {
            Ok(FileConfig::default())
        }
    }
}

/// `./siagen-data`.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("siagen-data")
}

/// `127.0.0.1:8080`.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
