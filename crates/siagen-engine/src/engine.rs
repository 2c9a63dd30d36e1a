//! The engine: loads models on demand, queues requests per model and runs
//! them on a dedicated worker thread per loaded model.
//!
//! Each model has a bounded FIFO queue (`QueueFull` beyond
//! `EngineConfig::max_queue` waiting requests) served by its worker in one of
//! two modes:
//! - `parallel = 1` (default): one request at a time. Seeded generation is
//!   then bit-for-bit reproducible whatever the load (batched matrix products
//!   change floating-point summation order), memory is one KV cache per
//!   model, and on CPU a single request already keeps every core busy.
//! - `parallel = N > 1`: continuous batching. Up to N requests decode
//!   together, one token each per step, and new prompts are evaluated in the
//!   batch room left, so a long generation no longer delays everyone queued
//!   behind it and aggregate throughput rises (decoding is memory-bound).
//!   Each slot reserves a full context of KV cache.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

use crate::backend::llama::LlamaCppBackend;
use crate::backend::{
    Accelerator, Backend, BackendModel, BatchToken, LoadOptions, Session, SessionOptions,
};
use crate::constrain::{JsonConstraint, TokenTrie};
use crate::error::{EngineError, Result};
use crate::json_schema::JsonSchema;
use crate::registry::{ModelEntry, ModelInfo, Registry};
use crate::sampling::{
    LogitsProcessor, Sampler, SamplingParams, TextAccumulator, TokenContext, TokenId,
};
use crate::template::{tokenize_prompt, ChatMessage, ChatTemplate};

/// [`EngineConfig::gpu_layers`] meaning every layer (llama.cpp clamps it to the model's).
pub const ALL_LAYERS: u32 = 999;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Directory holding the `.gguf` models.
    pub models_dir: PathBuf,
    /// CPU threads per inference; 0 means all available cores. When the
    /// cores are shared with other busy processes, run with
    /// `OMP_WAIT_POLICY=PASSIVE` (OpenMP's spinning threads otherwise
    /// collapse throughput) or use fewer threads.
    pub threads: usize,
    /// Requests allowed to wait per model (besides the running one) before
    /// `QueueFull` is returned.
    pub max_queue: usize,
    /// Upper bound on the context window (the model's trained length also bounds it).
    pub max_context: usize,
    /// Prompt-processing batch size.
    pub n_batch: usize,
    /// Unload a model after this long without requests; `None` keeps it loaded.
    pub idle_unload: Option<Duration>,
    /// Layers offloaded to the GPU. `None` (the default) offloads all of
    /// them when the backend can (the `cuda` feature) and none otherwise;
    /// `Some(n)` with n > 0 on a CPU-only backend is refused at start.
    pub gpu_layers: Option<u32>,
    /// Requests decoded together per model (continuous batching). 1 (the
    /// default) runs one request at a time, which keeps seeded outputs
    /// bit-for-bit reproducible under load; more raises throughput under
    /// concurrency (each slot reserves a full context of KV cache) but
    /// batched arithmetic may change low-order bits of the logits.
    pub parallel: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("models"),
            threads: 0,
            max_queue: 16,
            max_context: 8192,
            n_batch: 512,
            idle_unload: None,
            gpu_layers: None,
            parallel: 1,
        }
    }
}

/// A generation request.
pub struct GenerateRequest {
    /// Model name (see [`Engine::models`]).
    pub model: String,
    /// Raw prompt, already templated (see [`Engine::chat_prompt`]); special
    /// token text in it is parsed as special tokens, except inside the
    /// [`PLAIN_OPEN`](crate::template::PLAIN_OPEN)...`PLAIN_CLOSE` spans that
    /// `chat_prompt` puts around message contents holding markup, which are
    /// tokenised as plain text (a user cannot forge a turn). Raw prompts of
    /// `/v1/completions` keep their special tokens, as in OpenAI and llama-server.
    pub prompt: String,
    pub params: SamplingParams,
    /// Extra logits processors, run after `params.logit_bias`.
    pub processors: Vec<Box<dyn LogitsProcessor>>,
}

impl GenerateRequest {
    /// A request without extra processors.
    pub fn new(
        model: impl Into<String>,
        prompt: impl Into<String>,
        params: SamplingParams,
    ) -> Self {
        Self {
            model: model.into(),
            prompt: prompt.into(),
            params,
            processors: Vec::new(),
        }
    }
}

/// A likely alternative to a generated token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopLogprob {
    pub id: TokenId,
    pub text: String,
    pub logprob: f32,
}

/// One generated token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenEvent {
    /// Text released with this token. Concatenating every event's text gives
    /// the output; it may be empty (incomplete UTF-8, possible stop-string
    /// prefix held back) or carry text held back earlier.
    pub text: String,
    pub id: TokenId,
    /// Log-probability of this token (when `logprobs` or `top_logprobs` was asked).
    pub logprob: Option<f32>,
    /// Most likely tokens at this step, best first (`top_logprobs` of them).
    pub top: Vec<TopLogprob>,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End-of-generation token or stop string.
    Stop,
    /// `max_tokens` (or the context window) reached.
    Length,
    /// The consumer went away.
    Cancelled,
}

/// Token counts of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

/// Where the time went.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Timings {
    /// Waiting in the queue.
    pub queue_secs: f64,
    /// Prompt processing (up to the first token's logits).
    pub prompt_secs: f64,
    /// Generating the completion tokens.
    pub generation_secs: f64,
}

/// Final event of a generation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoneEvent {
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub model_id: String,
    /// SHA-256 of the model file, for provenance.
    pub model_sha256: String,
    pub timings: Timings,
}

/// Events of a generation stream. A stream ends with exactly one `Done` or `Error`.
#[derive(Debug)]
pub enum GenerationEvent {
    Token(TokenEvent),
    Done(DoneEvent),
    /// Internal failure mid-generation.
    Error(EngineError),
}

/// The receiving end of a generation. Dropping it cancels the generation.
#[derive(Debug)]
pub struct GenerationStream {
    rx: UnboundedReceiver<GenerationEvent>,
    prompt_tokens: usize,
}

impl GenerationStream {
    /// Next event (async); `None` after the final event.
    pub async fn next(&mut self) -> Option<GenerationEvent> {
        self.rx.recv().await
    }

    /// Next event, blocking the thread; must not be called from async code.
    pub fn blocking_next(&mut self) -> Option<GenerationEvent> {
        self.rx.blocking_recv()
    }

    /// Number of prompt tokens (known before generation starts).
    pub fn prompt_tokens(&self) -> usize {
        self.prompt_tokens
    }

    /// The underlying tokio receiver.
    pub fn into_receiver(self) -> UnboundedReceiver<GenerationEvent> {
        self.rx
    }

    /// Collects the whole generation, blocking the thread.
    pub fn collect_blocking(mut self) -> Result<Generation> {
        let mut text = String::new();
        let mut tokens = Vec::new();
        while let Some(ev) = self.blocking_next() {
            match ev {
                GenerationEvent::Token(t) => {
                    text.push_str(&t.text);
                    tokens.push(t);
                }
                GenerationEvent::Done(done) => {
                    return Ok(Generation { text, tokens, done });
                }
                GenerationEvent::Error(e) => return Err(e),
            }
        }
        Err(EngineError::Unavailable(
            "generation ended without a final event".into(),
        ))
    }
}

/// A complete generation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generation {
    pub text: String,
    pub tokens: Vec<TokenEvent>,
    pub done: DoneEvent,
}

/// Pooled, L2-normalised embeddings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: usize,
}

/// Counters since the engine started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct EngineStats {
    pub completed: u64,
    pub cancelled: u64,
    pub failed: u64,
    pub generated_tokens: u64,
}

#[derive(Default)]
struct Stats {
    completed: AtomicU64,
    cancelled: AtomicU64,
    failed: AtomicU64,
    generated_tokens: AtomicU64,
}

struct GenJob {
    prompt: Vec<TokenId>,
    params: SamplingParams,
    max_tokens: usize,
    processors: Vec<Box<dyn LogitsProcessor>>,
    tx: UnboundedSender<GenerationEvent>,
    enqueued: Instant,
}

/// What the worker sends back for an embedding job.
type EmbedReply = Result<Vec<Vec<f32>>>;

struct EmbedJob {
    inputs: Vec<Vec<TokenId>>,
    reply: oneshot::Sender<EmbedReply>,
}

enum Job {
    Generate(GenJob),
    Embed(EmbedJob),
}

/// State of a loaded model shared by the engine and its worker.
struct ModelShared {
    name: String,
    model: Arc<dyn BackendModel>,
    sha256: String,
    n_ctx: usize,
    queued: AtomicUsize,
    /// The vocabulary as a byte trie, built on the first constrained request.
    trie: OnceLock<Arc<TokenTrie>>,
    /// Exponential moving average of request durations, for `retry_after_secs`.
    avg_secs: Mutex<f64>,
}

/// A loaded model as seen by the engine: the worker's job queue.
struct Loaded {
    shared: Arc<ModelShared>,
    jobs: mpsc::Sender<Job>,
}

struct Inner {
    config: EngineConfig,
    registry: Registry,
    backend: Box<dyn Backend>,
    models: Mutex<HashMap<String, Arc<Loaded>>>,
    /// Serialises model loads without blocking requests to loaded models.
    load_lock: Mutex<()>,
    stats: Arc<Stats>,
}

/// Tokenizes text with one model's vocabulary (see [`Engine::text_tokenizer`]).
pub struct TextTokenizer(Arc<dyn BackendModel>);

impl TextTokenizer {
    /// Token ids of `text`, without BOS and with special-token text kept as text.
    pub fn tokenize(&self, text: &str) -> Result<Vec<TokenId>> {
        self.0.tokenize(text, false, false)
    }

    /// Size of the vocabulary.
    pub fn n_vocab(&self) -> usize {
        self.0.n_vocab()
    }
}

/// The inference engine: `Send + Sync`, and cheap to clone (clones share
/// the same models, queues and workers).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    /// An engine over `config.models_dir` with the llama.cpp backend.
    pub fn new(config: EngineConfig) -> Result<Self> {
        Self::with_backend(config, Box::new(LlamaCppBackend))
    }

    /// An engine with another backend.
    pub fn with_backend(mut config: EngineConfig, backend: Box<dyn Backend>) -> Result<Self> {
        if config.threads == 0 {
            config.threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        }
        match config.gpu_layers {
            Some(n) if n > 0 && !backend.gpu_capable() => {
                return Err(EngineError::NoGpuBackend(n));
            }
            None => config.gpu_layers = Some(if backend.gpu_capable() { ALL_LAYERS } else { 0 }),
            Some(_) => {}
        }
        let registry = Registry::open(&config.models_dir)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                registry,
                backend,
                models: Mutex::new(HashMap::new()),
                load_lock: Mutex::new(()),
                stats: Arc::new(Stats::default()),
            }),
        })
    }

    /// The configuration in force (threads and GPU layers resolved).
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Whether this build can offload layers to a GPU (the `cuda` feature).
    pub fn gpu_capable(&self) -> bool {
        self.inner.backend.gpu_capable()
    }

    /// The GPUs the backend sees now; empty on a CPU-only build, and on a
    /// GPU build where no device or driver is present (it then runs on the
    /// CPU). Initialises the backend.
    pub fn accelerators(&self) -> Result<Vec<Accelerator>> {
        self.inner.backend.accelerators()
    }

    /// Models available in the models directory.
    pub fn models(&self) -> Result<Vec<ModelInfo>> {
        self.inner.registry.list()
    }

    /// One model's description.
    pub fn model_info(&self, model: &str) -> Result<ModelInfo> {
        Ok(self.inner.registry.get(model)?.info)
    }

    /// Copies a GGUF file into the models directory.
    pub fn import(&self, path: &Path) -> Result<ModelInfo> {
        self.inner.registry.import(path)
    }

    /// Names of the models currently loaded in memory.
    pub fn loaded_models(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.inner.models).keys().cloned().collect();
        v.sort();
        v
    }

    /// Requests waiting per loaded model (for the `siagen_queue_depth` metric).
    pub fn queue_depths(&self) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = lock(&self.inner.models)
            .iter()
            .map(|(name, l)| (name.clone(), l.shared.queued.load(Ordering::Relaxed)))
            .collect();
        v.sort();
        v
    }

    /// Counters since start.
    pub fn stats(&self) -> EngineStats {
        let s = &self.inner.stats;
        EngineStats {
            completed: s.completed.load(Ordering::Relaxed),
            cancelled: s.cancelled.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            generated_tokens: s.generated_tokens.load(Ordering::Relaxed),
        }
    }

    /// Renders a conversation with the model's chat template (ChatML when the
    /// model has none), ending with the assistant turn opener. Does not load the model.
    pub fn chat_prompt(&self, model: &str, messages: &[ChatMessage]) -> Result<String> {
        let entry = self.inner.registry.get(model)?;
        let token = |key: &str| {
            entry
                .header
                .get_u64(key)
                .and_then(|id| entry.header.token_text(id))
                .unwrap_or("")
                .to_string()
        };
        let template = ChatTemplate::new(
            entry.header.get_str("tokenizer.chat_template"),
            token("tokenizer.ggml.bos_token_id"),
            token("tokenizer.ggml.eos_token_id"),
        )?;
        template.render(messages, true)
    }

    /// Loads a model now (otherwise the first request does); slow.
    pub fn load(&self, model: &str) -> Result<()> {
        self.loaded(model).map(|_| ())
    }

    /// Unloads a model; running and queued requests finish first. Returns
    /// whether it was loaded.
    pub fn unload(&self, model: &str) -> bool {
        lock(&self.inner.models).remove(model).is_some()
    }

    /// Tokenises `text` as a prompt would be (special tokens added and
    /// parsed, except in the plain spans [`chat_prompt`](Self::chat_prompt)
    /// marks): exactly the tokens [`generate`](Self::generate) evaluates.
    pub fn tokenize(&self, model: &str, text: &str) -> Result<Vec<TokenId>> {
        tokenize_prompt(&*self.loaded(model)?.shared.model, text)
    }

    /// A tokenizer of `model` for text as a model generated it (no BOS, special-token text
    /// left as text): the loaded model's, else its vocabulary alone, loaded without the
    /// weights (what a watermark detector needs).
    pub fn text_tokenizer(&self, model: &str) -> Result<TextTokenizer> {
        if let Some(l) = lock(&self.inner.models).get(model) {
            return Ok(TextTokenizer(l.shared.model.clone()));
        }
        let entry = self.inner.registry.get(model)?;
        let opts = LoadOptions {
            gpu_layers: 0,
            vocab_only: true,
        };
        Ok(TextTokenizer(self.inner.backend.load(&entry.path, &opts)?))
    }

    /// A processor keeping the output of `model` inside `schema`
    /// (grammar-constrained decoding; see [`crate::constrain`]). The first
    /// call per loaded model builds the vocabulary trie.
    pub fn json_constraint(&self, model: &str, schema: Arc<JsonSchema>) -> Result<JsonConstraint> {
        let loaded = self.loaded(model)?;
        let shared = &loaded.shared;
        let trie = shared
            .trie
            .get_or_init(|| {
                let m = &shared.model;
                let n = m.n_vocab() as TokenId;
                let bytes = (0..n).map(|id| m.token_bytes(id)).collect();
                let eog = (0..n).filter(|&id| m.is_eog(id)).collect();
                Arc::new(TokenTrie::new(bytes, eog))
            })
            .clone();
        Ok(JsonConstraint::new(schema, trie))
    }

    /// Tokenises with explicit options: `add_special` adds BOS/EOS as the
    /// model wants, `parse_special` turns special-token text into special
    /// tokens. Re-tokenising generated text (watermark detection) wants both off.
    pub fn tokenize_with(
        &self,
        model: &str,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<TokenId>> {
        self.loaded(model)?
            .shared
            .model
            .tokenize(text, add_special, parse_special)
    }

    /// Turns tokens back into text.
    pub fn detokenize(&self, model: &str, tokens: &[TokenId]) -> Result<String> {
        let loaded = self.loaded(model)?;
        let n_vocab = loaded.shared.model.n_vocab();
        if let Some(t) = tokens.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(EngineError::BadRequest(format!(
                "token {t} outside vocabulary"
            )));
        }
        loaded.shared.model.detokenize(tokens)
    }

    /// Context window (in tokens) requests to `model` get.
    pub fn context_length(&self, model: &str) -> Result<usize> {
        Ok(self.loaded(model)?.shared.n_ctx)
    }

    /// Vocabulary size of `model`.
    pub fn vocab_size(&self, model: &str) -> Result<usize> {
        Ok(self.loaded(model)?.shared.model.n_vocab())
    }

    fn loaded(&self, name: &str) -> Result<Arc<Loaded>> {
        if let Some(l) = lock(&self.inner.models).get(name) {
            return Ok(l.clone());
        }
        let _guard = lock(&self.inner.load_lock);
        if let Some(l) = lock(&self.inner.models).get(name) {
            return Ok(l.clone());
        }
        let entry = self.inner.registry.get(name)?;
        let loaded = self.start_model(&entry)?;
        lock(&self.inner.models).insert(name.to_string(), loaded.clone());
        Ok(loaded)
    }

    fn start_model(&self, entry: &ModelEntry) -> Result<Arc<Loaded>> {
        let cfg = &self.inner.config;
        let model = self.inner.backend.load(
            &entry.path,
            &LoadOptions {
                gpu_layers: cfg.gpu_layers.unwrap_or(0),
                vocab_only: false,
            },
        )?;
        let sha256 = self.inner.registry.sha256(entry)?;
        let n_ctx = model.n_ctx_train().min(cfg.max_context).max(8);
        let shared = Arc::new(ModelShared {
            name: entry.info.name.clone(),
            model,
            sha256,
            n_ctx,
            queued: AtomicUsize::new(0),
            trie: OnceLock::new(),
            avg_secs: Mutex::new(1.0),
        });
        let (tx, rx) = mpsc::channel();
        let worker = Worker {
            shared: shared.clone(),
            engine: Arc::downgrade(&self.inner),
            stats: self.inner.stats.clone(),
            session_opts: SessionOptions {
                n_ctx,
                n_batch: cfg.n_batch,
                threads: cfg.threads,
                embeddings: false,
                n_seq: cfg.parallel.max(1),
            },
            idle: cfg.idle_unload,
        };
        std::thread::Builder::new()
            .name(format!("siagen-engine-{}", entry.info.name))
            .spawn(move || worker.run(rx))
            .map_err(|e| EngineError::Backend(format!("cannot spawn worker: {e}")))?;
        Ok(Arc::new(Loaded { shared, jobs: tx }))
    }

    /// Queues a job, enforcing the queue bound. The map lock is held while
    /// sending so that an idle worker cannot retire between our lookup and
    /// the send (it checks its queue under the same lock).
    fn submit(&self, name: &str, make_job: impl FnOnce(&ModelShared) -> Result<Job>) -> Result<()> {
        for _ in 0..3 {
            let loaded = self.loaded(name)?;
            let map = lock(&self.inner.models);
            if !map.get(name).is_some_and(|l| Arc::ptr_eq(l, &loaded)) {
                continue; // unloaded meanwhile: load again
            }
            let shared = &loaded.shared;
            let queued = shared.queued.load(Ordering::SeqCst);
            if queued >= self.inner.config.max_queue {
                let avg = *lock(&shared.avg_secs);
                let retry_after_secs = (avg * (queued + 1) as f64).ceil().max(1.0) as u64;
                return Err(EngineError::QueueFull { retry_after_secs });
            }
            let job = make_job(shared)?;
            shared.queued.fetch_add(1, Ordering::SeqCst);
            if loaded.jobs.send(job).is_err() {
                shared.queued.fetch_sub(1, Ordering::SeqCst);
                return Err(EngineError::Unavailable(format!(
                    "worker for {name} stopped"
                )));
            }
            drop(map);
            return Ok(());
        }
        Err(EngineError::Unavailable(format!(
            "model {name} keeps unloading"
        )))
    }

    /// Starts a generation. Validation errors (unknown model, bad
    /// parameters, context overflow, full queue) are returned here, before
    /// anything is queued. May block while the model loads the first time.
    pub fn generate(&self, req: GenerateRequest) -> Result<GenerationStream> {
        let GenerateRequest {
            model,
            prompt,
            params,
            processors,
        } = req;
        let loaded = self.loaded(&model)?;
        let m = &loaded.shared.model;
        params.validate(m.n_vocab())?;
        let tokens = tokenize_prompt(&**m, &prompt)?;
        if tokens.is_empty() {
            return Err(EngineError::BadRequest("empty prompt".into()));
        }
        let n_ctx = loaded.shared.n_ctx;
        let max_tokens = match params.max_tokens {
            Some(mt) if tokens.len() + mt as usize > n_ctx => {
                return Err(EngineError::ContextOverflow {
                    prompt_tokens: tokens.len(),
                    requested_completion_tokens: mt as usize,
                    context_length: n_ctx,
                })
            }
            Some(mt) => mt as usize,
            None if tokens.len() >= n_ctx => {
                return Err(EngineError::ContextOverflow {
                    prompt_tokens: tokens.len(),
                    requested_completion_tokens: 1,
                    context_length: n_ctx,
                })
            }
            None => n_ctx - tokens.len(),
        };
        let (tx, rx) = unbounded_channel();
        let prompt_tokens = tokens.len();
        let mut job = Some(GenJob {
            prompt: tokens,
            params,
            max_tokens,
            processors,
            tx,
            enqueued: Instant::now(),
        });
        self.submit(&model, |_| {
            job.take()
                .map(Job::Generate)
                .ok_or_else(|| EngineError::Unavailable("retry after unload".into()))
        })?;
        Ok(GenerationStream { rx, prompt_tokens })
    }

    /// Generates to completion, blocking the thread (not for async code).
    pub fn generate_blocking(&self, req: GenerateRequest) -> Result<Generation> {
        self.generate(req)?.collect_blocking()
    }

    /// Embeds `texts` with `model` (pooled as the model declares, mean
    /// otherwise; L2-normalised). Blocks the thread until done (see
    /// [`embed_async`](Self::embed_async) for async code).
    pub fn embed(&self, model: &str, texts: &[String]) -> Result<Embeddings> {
        let (rx, prompt_tokens) = self.submit_embed(model, texts)?;
        let vectors = rx
            .blocking_recv()
            .map_err(|_| EngineError::Unavailable("worker stopped".into()))??;
        Ok(Embeddings {
            vectors,
            prompt_tokens,
        })
    }

    /// Async [`embed`](Self::embed): loads the model off the async runtime
    /// and awaits the worker without blocking a runtime thread.
    pub async fn embed_async(&self, model: &str, texts: &[String]) -> Result<Embeddings> {
        self.ensure_loaded_async(model).await?;
        let (rx, prompt_tokens) = self.submit_embed(model, texts)?;
        let vectors = rx
            .await
            .map_err(|_| EngineError::Unavailable("worker stopped".into()))??;
        Ok(Embeddings {
            vectors,
            prompt_tokens,
        })
    }

    /// Async [`generate`](Self::generate): a model that is not loaded yet is
    /// loaded on a separate thread so the async runtime is never blocked.
    pub async fn generate_async(&self, req: GenerateRequest) -> Result<GenerationStream> {
        self.ensure_loaded_async(&req.model).await?;
        self.generate(req)
    }

    async fn ensure_loaded_async(&self, model: &str) -> Result<()> {
        if lock(&self.inner.models).contains_key(model) {
            return Ok(());
        }
        let engine = self.clone();
        let name = model.to_string();
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("siagen-engine-load".into())
            .spawn(move || {
                let _ = tx.send(engine.load(&name));
            })
            .map_err(|e| EngineError::Backend(format!("cannot spawn loader: {e}")))?;
        rx.await
            .map_err(|_| EngineError::Unavailable("model loader stopped".into()))?
    }

    fn submit_embed(
        &self,
        model: &str,
        texts: &[String],
    ) -> Result<(oneshot::Receiver<EmbedReply>, usize)> {
        if texts.is_empty() {
            return Err(EngineError::BadRequest("no input".into()));
        }
        let loaded = self.loaded(model)?;
        let n_ctx = loaded.shared.n_ctx;
        let mut inputs = Vec::with_capacity(texts.len());
        for t in texts {
            let toks = loaded.shared.model.tokenize(t, true, false)?;
            if toks.is_empty() {
                return Err(EngineError::BadRequest("empty input text".into()));
            }
            if toks.len() > n_ctx {
                return Err(EngineError::ContextOverflow {
                    prompt_tokens: toks.len(),
                    requested_completion_tokens: 0,
                    context_length: n_ctx,
                });
            }
            inputs.push(toks);
        }
        let prompt_tokens = inputs.iter().map(Vec::len).sum();
        let (reply, rx) = oneshot::channel();
        let mut job = Some(EmbedJob { inputs, reply });
        self.submit(model, |_| {
            job.take()
                .map(Job::Embed)
                .ok_or_else(|| EngineError::Unavailable("retry after unload".into()))
        })?;
        Ok((rx, prompt_tokens))
    }
}

/// The per-model worker thread.
struct Worker {
    shared: Arc<ModelShared>,
    engine: Weak<Inner>,
    stats: Arc<Stats>,
    session_opts: SessionOptions,
    idle: Option<Duration>,
}

/// Outcome of waiting for the next job.
enum Next {
    Job(Job),
    /// Nothing queued right now (only when not blocking).
    Empty,
    /// The model was unloaded or the engine dropped: stop.
    Stop,
}

impl Worker {
    fn run(self, rx: mpsc::Receiver<Job>) {
        if self.session_opts.n_seq > 1 {
            return self.run_batched(rx);
        }
        let mut gen_session: Option<Box<dyn Session>> = None;
        let mut embed_session: Option<Box<dyn Session>> = None;
        loop {
            let job = match self.next_job(&rx, true) {
                Next::Job(j) => j,
                Next::Empty => continue,
                Next::Stop => break,
            };
            let started = Instant::now();
            match job {
                Job::Generate(job) => {
                    let tx = job.tx.clone();
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        self.generate(&mut gen_session, job)
                    }));
                    let err = match outcome {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(e),
                        Err(_) => {
                            gen_session = None; // state unknown after a panic
                            Some(EngineError::Backend("generation panicked".into()))
                        }
                    };
                    if let Some(e) = err {
                        self.fail(&tx, e);
                    }
                }
                Job::Embed(job) => self.run_embed(&mut embed_session, job),
            }
            self.record_duration(started.elapsed().as_secs_f64());
        }
    }

    fn record_duration(&self, secs: f64) {
        let mut avg = lock(&self.shared.avg_secs);
        *avg = 0.8 * *avg + 0.2 * secs;
    }

    fn fail(&self, tx: &UnboundedSender<GenerationEvent>, e: EngineError) {
        tracing::error!("generation failed on {}: {e}", self.shared.name);
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        let _ = tx.send(GenerationEvent::Error(e));
    }

    /// Takes the next job, blocking (with idle retirement) when `block`.
    fn next_job(&self, rx: &mpsc::Receiver<Job>, block: bool) -> Next {
        let got = if !block {
            match rx.try_recv() {
                Ok(j) => Some(j),
                Err(TryRecvError::Empty) => return Next::Empty,
                Err(TryRecvError::Disconnected) => return Next::Stop,
            }
        } else {
            match self.idle {
                None => rx.recv().ok(),
                Some(idle) => match rx.recv_timeout(idle) {
                    Ok(j) => Some(j),
                    Err(RecvTimeoutError::Disconnected) => None,
                    Err(RecvTimeoutError::Timeout) => self.retire_if_idle(rx),
                },
            }
        };
        match got {
            Some(j) => {
                self.shared.queued.fetch_sub(1, Ordering::SeqCst);
                Next::Job(j)
            }
            None => Next::Stop,
        }
    }

    fn run_embed(&self, session: &mut Option<Box<dyn Session>>, job: EmbedJob) {
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.embed(session, &job.inputs)))
                .unwrap_or_else(|_| {
                    *session = None;
                    Err(EngineError::Backend("embedding panicked".into()))
                });
        let _ = job.reply.send(outcome);
    }

    /// On idle timeout: under the engine's map lock, take a job that raced in
    /// or remove this model from the map and stop.
    fn retire_if_idle(&self, rx: &mpsc::Receiver<Job>) -> Option<Job> {
        let engine = self.engine.upgrade()?;
        let mut map = lock(&engine.models);
        match rx.try_recv() {
            Ok(job) => Some(job),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                if map
                    .get(&self.shared.name)
                    .is_some_and(|l| Arc::ptr_eq(&l.shared, &self.shared))
                {
                    map.remove(&self.shared.name);
                    tracing::info!("unloaded idle model {}", self.shared.name);
                }
                None
            }
        }
    }

    fn session<'a>(
        &self,
        slot: &'a mut Option<Box<dyn Session>>,
        embeddings: bool,
    ) -> Result<&'a mut Box<dyn Session>> {
        if slot.is_none() {
            let opts = SessionOptions {
                embeddings,
                ..self.session_opts.clone()
            };
            *slot = Some(self.shared.model.clone().open_session(&opts)?);
        }
        Ok(slot.as_mut().expect("just set"))
    }

    fn embed(
        &self,
        slot: &mut Option<Box<dyn Session>>,
        inputs: &[Vec<TokenId>],
    ) -> Result<Vec<Vec<f32>>> {
        let session = self.session(slot, true)?;
        inputs
            .iter()
            .map(|toks| {
                let mut v = session.embed(toks)?;
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm > 0.0 {
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                Ok(v)
            })
            .collect()
    }

    /// One request at a time on a single-sequence session.
    fn generate(&self, slot: &mut Option<Box<dyn Session>>, job: GenJob) -> Result<()> {
        if job.tx.is_closed() {
            // Consumer left while queued: skip the work entirely.
            self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let model = self.shared.model.clone();
        let mut st = GenState::new(job, model.n_vocab());
        let session = self.session(slot, false)?;
        session.clear();
        let mut logits = session.feed(&st.job.prompt)?.to_vec();
        st.prompt_done();
        loop {
            if let Some(reason) = st.step(&mut logits, &*model, self.shared.n_ctx) {
                st.finish(reason, &self.shared, &self.stats);
                return Ok(());
            }
            let next = st.next.take().expect("step sets the next token");
            logits.clear();
            logits.extend_from_slice(session.feed(&[next])?);
        }
    }

    /// Continuous batching: up to `n_seq` requests decode together, one
    /// token each per step, while waiting prompts are evaluated in the
    /// remaining batch room. Used when `EngineConfig::parallel > 1`.
    fn run_batched(self, rx: mpsc::Receiver<Job>) {
        let n_seq = self.session_opts.n_seq;
        let model = self.shared.model.clone();
        let mut session: Option<Box<dyn Session>> = None;
        let mut embed_session: Option<Box<dyn Session>> = None;
        let mut slots: Vec<Option<GenState>> = (0..n_seq).map(|_| None).collect();
        let mut round = 0usize;
        let mut stopping = false;
        loop {
            // Admit queued jobs into free slots; block only when idle.
            while let Some(free) = slots.iter().position(Option::is_none) {
                if stopping {
                    break;
                }
                let busy = slots.iter().any(Option::is_some);
                let job = match self.next_job(&rx, !busy) {
                    Next::Job(j) => j,
                    Next::Empty => break,
                    Next::Stop => {
                        stopping = true;
                        break;
                    }
                };
                match job {
                    Job::Embed(job) => self.run_embed(&mut embed_session, job),
                    Job::Generate(job) if job.tx.is_closed() => {
                        self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
                    }
                    Job::Generate(job) => {
                        let sess = match self.session(&mut session, false) {
                            Ok(s) => s,
                            Err(e) => {
                                self.fail(&job.tx, e);
                                continue;
                            }
                        };
                        sess.clear_seq(free);
                        slots[free] = Some(GenState::new(job, model.n_vocab()));
                    }
                }
            }
            if slots.iter().all(Option::is_none) {
                if stopping {
                    return;
                }
                continue;
            }
            let Some(sess) = session.as_mut() else {
                continue;
            };

            // Build the batch: decoding slots first (one token each), then
            // prompt chunks, starting from a rotating slot for fairness.
            let n_batch = sess.n_batch();
            let mut batch: Vec<BatchToken> = Vec::with_capacity(n_batch);
            let mut outputs: Vec<(usize, usize)> = Vec::new();
            for (i, slot) in slots.iter_mut().enumerate() {
                let Some(st) = slot else { continue };
                if st.job.tx.is_closed() {
                    let st = slot.take().expect("checked");
                    st.finish(FinishReason::Cancelled, &self.shared, &self.stats);
                    sess.clear_seq(i);
                    continue;
                }
                if let Some(token) = st.next.take() {
                    outputs.push((i, batch.len()));
                    batch.push(BatchToken {
                        seq: i,
                        token,
                        pos: st.job.prompt.len() + st.generated.len() - 1,
                        logits: true,
                    });
                }
            }
            for k in 0..n_seq {
                let i = (round + k) % n_seq;
                let Some(st) = slots[i].as_mut() else {
                    continue;
                };
                let remaining = st.job.prompt.len() - st.prompt_fed;
                let room = n_batch - batch.len();
                if remaining == 0 || room == 0 {
                    continue;
                }
                let take = remaining.min(room);
                for j in 0..take {
                    let pos = st.prompt_fed + j;
                    let last = pos + 1 == st.job.prompt.len();
                    if last {
                        outputs.push((i, batch.len()));
                    }
                    batch.push(BatchToken {
                        seq: i,
                        token: st.job.prompt[pos],
                        pos,
                        logits: last,
                    });
                }
                st.prompt_fed += take;
            }
            round = round.wrapping_add(1);
            if batch.is_empty() {
                continue;
            }
            if let Err(e) = sess.decode_batch(&batch) {
                // The batch state is unknown: fail every running request.
                for (i, slot) in slots.iter_mut().enumerate() {
                    if let Some(st) = slot.take() {
                        self.fail(&st.job.tx, EngineError::Backend(e.to_string()));
                        sess.clear_seq(i);
                    }
                }
                continue;
            }
            let mut logits = Vec::new();
            for (i, idx) in outputs {
                let Some(st) = slots[i].as_mut() else {
                    continue;
                };
                if st.prompt_secs.is_none() {
                    st.prompt_done();
                }
                logits.clear();
                logits.extend_from_slice(sess.batch_logits(idx));
                let step = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    st.step(&mut logits, &*model, self.shared.n_ctx)
                }));
                match step {
                    Ok(None) => {}
                    Ok(Some(reason)) => {
                        let st = slots[i].take().expect("present");
                        self.record_duration(st.started.elapsed().as_secs_f64() / n_seq as f64);
                        st.finish(reason, &self.shared, &self.stats);
                        sess.clear_seq(i);
                    }
                    Err(_) => {
                        let st = slots[i].take().expect("present");
                        self.fail(
                            &st.job.tx,
                            EngineError::Backend("generation panicked".into()),
                        );
                        sess.clear_seq(i);
                    }
                }
            }
        }
    }
}

/// Per-request generation state, shared by the sequential and batched paths.
struct GenState {
    job: GenJob,
    sampler: Sampler,
    acc: TextAccumulator,
    generated: Vec<TokenId>,
    /// Event held back while the accumulator holds text, so that the final
    /// flush always has an event to ride on.
    held: Option<TokenEvent>,
    /// Sampled token still to be fed to the model.
    next: Option<TokenId>,
    /// Prompt tokens already evaluated (batched path).
    prompt_fed: usize,
    queue_secs: f64,
    started: Instant,
    prompt_secs: Option<f64>,
}

impl GenState {
    fn new(mut job: GenJob, n_vocab: usize) -> Self {
        let sampler = Sampler::new(job.params.clone(), n_vocab, &job.prompt);
        let acc = TextAccumulator::new(std::mem::take(&mut job.params.stop));
        Self {
            queue_secs: job.enqueued.elapsed().as_secs_f64(),
            job,
            sampler,
            acc,
            generated: Vec::new(),
            held: None,
            next: None,
            prompt_fed: 0,
            started: Instant::now(),
            prompt_secs: None,
        }
    }

    fn prompt_done(&mut self) {
        self.prompt_secs = Some(self.started.elapsed().as_secs_f64());
    }

    /// Samples a token from `logits`, streams it, and says whether to stop;
    /// when not, the token to feed next is in `self.next`.
    fn step(
        &mut self,
        logits: &mut [f32],
        model: &dyn BackendModel,
        n_ctx: usize,
    ) -> Option<FinishReason> {
        if self.job.tx.is_closed() {
            return Some(FinishReason::Cancelled);
        }
        let ctx = TokenContext {
            prompt: &self.job.prompt,
            generated: &self.generated,
        };
        let s = self.sampler.sample(logits, &ctx, &mut self.job.processors);
        if !self.job.params.ignore_eos && model.is_eog(s.id) {
            return Some(FinishReason::Stop);
        }
        self.generated.push(s.id);
        let (text, stopped) = self.acc.push(&model.token_bytes(s.id));
        let top = s
            .top
            .iter()
            .map(|&(id, logprob)| TopLogprob {
                id,
                text: String::from_utf8_lossy(&model.token_bytes(id)).into_owned(),
                logprob,
            })
            .collect();
        let event = TokenEvent {
            text,
            id: s.id,
            logprob: s.logprob,
            top,
        };
        if let Some(prev) = self.held.take() {
            if self.job.tx.send(GenerationEvent::Token(prev)).is_err() {
                return Some(FinishReason::Cancelled);
            }
        }
        if self.acc.is_holding() {
            self.held = Some(event);
        } else if self.job.tx.send(GenerationEvent::Token(event)).is_err() {
            return Some(FinishReason::Cancelled);
        }
        if stopped {
            return Some(FinishReason::Stop);
        }
        // The total (prompt + completion) never exceeds the context window.
        if self.generated.len() >= self.job.max_tokens
            || self.job.prompt.len() + self.generated.len() >= n_ctx
        {
            return Some(FinishReason::Length);
        }
        self.next = Some(s.id);
        None
    }

    /// Sends the final events and updates the counters.
    fn finish(mut self, reason: FinishReason, shared: &ModelShared, stats: &Stats) {
        stats
            .generated_tokens
            .fetch_add(self.generated.len() as u64, Ordering::Relaxed);
        if reason == FinishReason::Cancelled {
            stats.cancelled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let prompt_secs = self.prompt_secs.unwrap_or_default();
        let generation_secs = self.started.elapsed().as_secs_f64() - prompt_secs;
        let rest = self.acc.finish();
        if let Some(mut ev) = self.held.take() {
            ev.text.push_str(&rest);
            let _ = self.job.tx.send(GenerationEvent::Token(ev));
        }
        stats.completed.fetch_add(1, Ordering::Relaxed);
        let _ = self.job.tx.send(GenerationEvent::Done(DoneEvent {
            finish_reason: reason,
            usage: Usage {
                prompt_tokens: self.job.prompt.len(),
                completion_tokens: self.generated.len(),
            },
            model_id: shared.name.clone(),
            model_sha256: shared.sha256.clone(),
            timings: Timings {
                queue_secs: self.queue_secs,
                prompt_secs,
                generation_secs,
            },
        }));
    }
}
