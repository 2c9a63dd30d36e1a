//! llama.cpp backend through the `llama-cpp-2` bindings.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use super::{Accelerator, Backend, BackendModel, BatchToken, LoadOptions, Session, SessionOptions};
use crate::error::{EngineError, Result};
use crate::sampling::TokenId;

/// llama.cpp may only be initialised once per process, whereas several
/// engines may exist (tests, tools), hence a process-wide handle.
fn global_backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
    static INIT: Mutex<()> = Mutex::new(());
    if let Some(b) = BACKEND.get() {
        return Ok(b);
    }
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = BACKEND.get() {
        return Ok(b);
    }
    // llama.cpp logs verbosely to stderr; route it through `tracing` instead
    // so the host application decides what to show.
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
    let backend = LlamaBackend::init().map_err(|e| EngineError::Backend(e.to_string()))?;
    Ok(BACKEND.get_or_init(|| backend))
}

/// The llama.cpp backend (CPU, or CUDA with the `cuda` feature).
#[derive(Debug, Default, Clone, Copy)]
pub struct LlamaCppBackend;

impl Backend for LlamaCppBackend {
    fn name(&self) -> &'static str {
        "llama.cpp"
    }

    fn gpu_capable(&self) -> bool {
        cfg!(feature = "cuda")
    }

    fn accelerators(&self) -> Result<Vec<Accelerator>> {
        use llama_cpp_2::LlamaBackendDeviceType as T;
        global_backend()?;
        Ok(llama_cpp_2::list_llama_ggml_backend_devices()
            .into_iter()
            .filter(|d| matches!(d.device_type, T::Gpu | T::IntegratedGpu | T::Accelerator))
            .map(|d| Accelerator {
                name: d.name,
                description: d.description,
                memory_total: d.memory_total as u64,
            })
            .collect())
    }

    fn load(&self, path: &Path, opts: &LoadOptions) -> Result<Arc<dyn BackendModel>> {
        let backend = global_backend()?;
        let params = LlamaModelParams::default()
            .with_n_gpu_layers(opts.gpu_layers)
            .with_vocab_only(opts.vocab_only);
        let model = LlamaModel::load_from_file(backend, path, &params)
            .map_err(|e| EngineError::Backend(format!("cannot load {}: {e}", path.display())))?;
        let pooling = model
            .meta_val_str(&format!("{}.pooling_type", arch_of(&model)))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .map(LlamaPoolingType::from);
        Ok(Arc::new(LlamaCppModel { model, pooling }))
    }
}

fn arch_of(model: &LlamaModel) -> String {
    model
        .meta_val_str("general.architecture")
        .unwrap_or_else(|_| "llama".into())
}

/// A model loaded by llama.cpp.
pub struct LlamaCppModel {
    model: LlamaModel,
    pooling: Option<LlamaPoolingType>,
}

fn to_llama(id: TokenId) -> LlamaToken {
    LlamaToken(id as i32)
}

impl BackendModel for LlamaCppModel {
    fn n_vocab(&self) -> usize {
        self.model.n_vocab().max(0) as usize
    }

    fn n_ctx_train(&self) -> usize {
        self.model.n_ctx_train() as usize
    }

    fn tokenize(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<TokenId>> {
        let toks = self
            .model
            .vocab()
            .tokenize(text.as_bytes(), add_special, parse_special);
        Ok(toks.into_iter().map(|t| t.0 as TokenId).collect())
    }

    fn token_bytes(&self, id: TokenId) -> Vec<u8> {
        self.model.vocab().token_to_piece(to_llama(id), false, None)
    }

    fn detokenize(&self, ids: &[TokenId]) -> Result<String> {
        let toks: Vec<LlamaToken> = ids.iter().map(|&t| to_llama(t)).collect();
        let bytes = self.model.vocab().detokenize(&toks, false, false);
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn is_eog(&self, id: TokenId) -> bool {
        self.model.vocab().is_eog(to_llama(id))
    }

    fn open_session(self: Arc<Self>, opts: &SessionOptions) -> Result<Box<dyn Session>> {
        let backend = global_backend()?;
        let n_ctx = opts.n_ctx.max(8);
        let n_seq = if opts.embeddings {
            1
        } else {
            opts.n_seq.max(1)
        };
        // Embedding sessions evaluate each text in a single micro-batch
        // (non-causal encoders require it), so the batch spans the context.
        // A generative batch spans the sequences (the prompts of several new
        // slots go into one decode), so it is bounded by the whole cache, not
        // by one slot's window: clamping to `n_ctx` cut the 512-token batch of
        // 8 slots x 256 tokens to 256, and 8 prompts of 64 tokens took three
        // rounds instead of two.
        let n_batch = if opts.embeddings {
            n_ctx
        } else {
            opts.n_batch.clamp(1, n_ctx * n_seq)
        };
        let threads = opts.threads.max(1) as i32;
        // With a non-unified KV cache llama.cpp gives each sequence
        // n_ctx / n_seq cells, so every slot gets the full context window.
        let mut params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new((n_ctx * n_seq) as u32))
            .with_n_batch(n_batch as u32)
            .with_n_ubatch(n_batch as u32)
            .with_n_seq_max(n_seq as u32)
            .with_kv_unified(false)
            .with_n_threads(threads)
            .with_n_threads_batch(threads)
            .with_embeddings(opts.embeddings);
        if opts.embeddings {
            let pooling = match self.pooling {
                Some(p) if p != LlamaPoolingType::None && p != LlamaPoolingType::Unspecified => p,
                _ => LlamaPoolingType::Mean,
            };
            params = params.with_pooling_type(pooling);
        }
        let ctx = self
            .model
            .new_context(backend, params)
            .map_err(|e| EngineError::Backend(format!("cannot create context: {e}")))?;
        // SAFETY: the context borrows the model, which lives in the `Arc`
        // stored alongside it in `LlamaCppSession`. The Arc keeps the model at
        // a fixed heap address for as long as the session exists, and the
        // session's field order drops the context before the Arc.
        let ctx: LlamaContext<'static> = unsafe { std::mem::transmute(ctx) };
        Ok(Box::new(LlamaCppSession {
            ctx,
            batch: LlamaBatch::new(n_batch, 1),
            n_batch,
            n_ctx,
            n_past: 0,
            _model: self,
        }))
    }
}

/// A llama.cpp context over one sequence.
///
/// Field order matters: `ctx` must be dropped before `_model`.
struct LlamaCppSession {
    ctx: LlamaContext<'static>,
    batch: LlamaBatch<'static>,
    n_batch: usize,
    n_ctx: usize,
    n_past: usize,
    _model: Arc<LlamaCppModel>,
}

impl LlamaCppSession {
    /// Evaluates `tokens` from the current position; `all_outputs` asks for
    /// an output row per token (embeddings) rather than only the last one.
    fn decode(&mut self, tokens: &[TokenId], all_outputs: bool) -> Result<i32> {
        if tokens.is_empty() {
            return Err(EngineError::BadRequest("empty input".into()));
        }
        if self.n_past + tokens.len() > self.n_ctx {
            return Err(EngineError::ContextOverflow {
                prompt_tokens: self.n_past + tokens.len(),
                requested_completion_tokens: 0,
                context_length: self.n_ctx,
            });
        }
        let mut last = 0;
        let n_chunks = tokens.len().div_ceil(self.n_batch);
        for (ci, chunk) in tokens.chunks(self.n_batch).enumerate() {
            self.batch.clear();
            let final_chunk = ci + 1 == n_chunks;
            for (i, &t) in chunk.iter().enumerate() {
                let out = all_outputs || (final_chunk && i + 1 == chunk.len());
                self.batch
                    .add(to_llama(t), self.n_past as i32, &[0], out)
                    .map_err(|e| EngineError::Backend(e.to_string()))?;
                self.n_past += 1;
            }
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| EngineError::Backend(format!("decode failed: {e}")))?;
            last = chunk.len() as i32 - 1;
        }
        Ok(last)
    }
}

impl Session for LlamaCppSession {
    fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    fn clear(&mut self) {
        self.ctx.clear_kv_cache();
        self.n_past = 0;
    }

    fn n_past(&self) -> usize {
        self.n_past
    }

    fn feed(&mut self, tokens: &[TokenId]) -> Result<&[f32]> {
        let last = self.decode(tokens, false)?;
        Ok(self.ctx.get_logits_ith(last))
    }

    fn n_batch(&self) -> usize {
        self.n_batch
    }

    fn decode_batch(&mut self, tokens: &[BatchToken]) -> Result<()> {
        if tokens.is_empty() || tokens.len() > self.n_batch {
            return Err(EngineError::Backend(format!(
                "batch of {} tokens (limit {})",
                tokens.len(),
                self.n_batch
            )));
        }
        self.batch.clear();
        for t in tokens {
            self.batch
                .add(to_llama(t.token), t.pos as i32, &[t.seq as i32], t.logits)
                .map_err(|e| EngineError::Backend(e.to_string()))?;
        }
        self.ctx
            .decode(&mut self.batch)
            .map_err(|e| EngineError::Backend(format!("decode failed: {e}")))
    }

    fn batch_logits(&self, i: usize) -> &[f32] {
        self.ctx.get_logits_ith(i as i32)
    }

    fn clear_seq(&mut self, seq: usize) {
        let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
    }

    fn embed(&mut self, tokens: &[TokenId]) -> Result<Vec<f32>> {
        if tokens.len() > self.n_batch {
            return Err(EngineError::ContextOverflow {
                prompt_tokens: tokens.len(),
                requested_completion_tokens: 0,
                context_length: self.n_batch,
            });
        }
        self.clear();
        self.decode(tokens, true)?;
        let v = self
            .ctx
            .embeddings_seq_ith(0)
            .map_err(|e| EngineError::Backend(format!("no pooled embedding: {e}")))?
            .to_vec();
        self.clear();
        Ok(v)
    }
}
