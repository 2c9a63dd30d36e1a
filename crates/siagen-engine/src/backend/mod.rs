//! The inference backend abstraction.
//!
//! The engine (queueing, sampling, templates, registry) only talks to these
//! traits, so another runtime than llama.cpp can be added without touching
//! it. A backend loads a model ([`BackendModel`], shared across threads for
//! tokenisation) and opens [`Session`]s on it: a session owns the mutable
//! inference state (KV cache) and stays on the engine's worker thread.

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::sampling::TokenId;

pub mod llama;

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Layers to offload to the GPU (ignored by CPU-only builds).
    pub gpu_layers: u32,
    /// Load the vocabulary only (tokenisation without the weights; no session can be opened).
    pub vocab_only: bool,
}

/// How to open a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Context window in tokens.
    pub n_ctx: usize,
    /// Largest number of tokens evaluated in one step (prompt processing).
    pub n_batch: usize,
    /// CPU threads.
    pub threads: usize,
    /// Open an embedding session (pooled outputs) rather than a generative one.
    pub embeddings: bool,
    /// Independent sequences held at once (continuous batching); each gets
    /// `n_ctx` tokens of KV cache.
    pub n_seq: usize,
}

/// One token of a batch mixing several sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchToken {
    /// Sequence (slot) index, below [`SessionOptions::n_seq`].
    pub seq: usize,
    pub token: TokenId,
    /// Position of the token in its sequence.
    pub pos: usize,
    /// Whether logits are wanted for this token.
    pub logits: bool,
}

/// An accelerator a backend can offload layers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accelerator {
    /// Backend-side name, e.g. `CUDA0`.
    pub name: String,
    /// What the driver calls it, e.g. `NVIDIA H200`.
    pub description: String,
    /// Device memory in bytes.
    pub memory_total: u64,
}

/// A backend able to load model files.
pub trait Backend: Send + Sync {
    /// Short name, for logs.
    fn name(&self) -> &'static str;
    /// Whether this build can offload layers to an accelerator at all
    /// (llama.cpp: built with the `cuda` feature).
    fn gpu_capable(&self) -> bool {
        false
    }
    /// The accelerators visible now (empty on CPU-only builds, and on GPU
    /// builds running where no device or driver is present: they fall back
    /// to the CPU).
    fn accelerators(&self) -> Result<Vec<Accelerator>> {
        Ok(Vec::new())
    }
    /// Loads the model at `path`; slow (reads the weights).
    fn load(&self, path: &Path, opts: &LoadOptions) -> Result<Arc<dyn BackendModel>>;
}

/// A loaded model: immutable, shared by all threads.
pub trait BackendModel: Send + Sync {
    /// Vocabulary size (length of a logits row).
    fn n_vocab(&self) -> usize;
    /// Context length the model was trained with.
    fn n_ctx_train(&self) -> usize;
    /// Text to tokens. `add_special` adds BOS/EOS as the model wants;
    /// `parse_special` turns special-token text (e.g. `<|im_end|>`) into the special token.
    fn tokenize(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<TokenId>>;
    /// Bytes of one token as it appears in generated text (control tokens give nothing).
    fn token_bytes(&self, id: TokenId) -> Vec<u8>;
    /// Tokens to text.
    fn detokenize(&self, ids: &[TokenId]) -> Result<String>;
    /// Whether the token ends generation (EOS, end-of-turn...).
    fn is_eog(&self, id: TokenId) -> bool;
    /// Opens an inference session on this model.
    fn open_session(self: Arc<Self>, opts: &SessionOptions) -> Result<Box<dyn Session>>;
}

/// Mutable inference state over one sequence.
pub trait Session {
    /// Context window of this session.
    fn n_ctx(&self) -> usize;
    /// Forgets the sequence (clears the KV cache).
    fn clear(&mut self);
    /// Number of tokens currently in the sequence.
    fn n_past(&self) -> usize;
    /// Appends `tokens` to the sequence and returns the logits predicting the next token.
    fn feed(&mut self, tokens: &[TokenId]) -> Result<&[f32]>;
    /// Embeds one whole sequence (pooled as the model says, mean by default); not normalised.
    fn embed(&mut self, tokens: &[TokenId]) -> Result<Vec<f32>>;
    /// Largest number of tokens one [`decode_batch`](Self::decode_batch) accepts.
    fn n_batch(&self) -> usize;
    /// Evaluates tokens of several sequences in one pass (continuous batching).
    fn decode_batch(&mut self, tokens: &[BatchToken]) -> Result<()>;
    /// Logits of the `i`-th token of the last [`decode_batch`](Self::decode_batch)
    /// (which must have asked for them).
    fn batch_logits(&self, i: usize) -> &[f32];
    /// Forgets one sequence.
    fn clear_seq(&mut self, seq: usize);
}
