//! Error types. User errors (the request is wrong or cannot be served now)
//! are kept apart from internal ones so that the server can map them to 4xx
//! and 5xx responses without inspecting messages.

use std::path::PathBuf;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is malformed (bad parameter, template rejected the messages).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The prompt (plus requested completion) does not fit in the context window.
    #[error(
        "context window exceeded: prompt has {prompt_tokens} tokens, {requested_completion_tokens} completion tokens requested, context holds {context_length}"
    )]
    ContextOverflow {
        prompt_tokens: usize,
        requested_completion_tokens: usize,
        context_length: usize,
    },
    /// No model of that name in the registry.
    #[error("unknown model: {0}")]
    UnknownModel(String),
    /// The model cannot serve this kind of request (e.g. embeddings from a chat model).
    #[error("model {model} does not support {what}")]
    Unsupported { model: String, what: String },
    /// Too many requests are waiting for this model; retry later.
    #[error("queue full, retry after {retry_after_secs} s")]
    QueueFull { retry_after_secs: u64 },
    /// A file given to `import` is not a usable GGUF model.
    #[error("invalid model file {path}: {reason}")]
    InvalidModelFile { path: PathBuf, reason: String },
    /// Internal failure: I/O on the models directory.
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Internal failure inside the inference backend.
    #[error("backend error: {0}")]
    Backend(String),
    /// Internal failure rendering a chat template.
    #[error("chat template error: {0}")]
    Template(String),
    /// Layers were to be offloaded to a GPU, but this build has no GPU backend.
    #[error(
        "gpu_layers = {0} needs siagen built with the `cuda` feature (scripts/build-cuda.sh); this build runs on the CPU only: set it to 0"
    )]
    NoGpuBackend(u32),
    /// The engine is shutting down or its worker died.
    #[error("engine unavailable: {0}")]
    Unavailable(String),
}

impl EngineError {
    /// True when the caller is at fault or should retry (4xx-like); false for
    /// internal failures (5xx-like).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            EngineError::BadRequest(_)
                | EngineError::ContextOverflow { .. }
                | EngineError::UnknownModel(_)
                | EngineError::Unsupported { .. }
                | EngineError::QueueFull { .. }
                | EngineError::InvalidModelFile { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
