//! siagen's local inference engine.
//!
//! Runs open-weight GGUF models (Llama, Mistral, Qwen, Gemma, Phi families)
//! in-process through llama.cpp, with sampling done in Rust over the model's
//! logits so that other crates can hook into it ([`LogitsProcessor`]).
//! It knows nothing of documents or HTTP: the server builds on
//! [`Engine`].
//!
//! ```no_run
//! use siagen_engine::{ChatMessage, Engine, EngineConfig, GenerateRequest, SamplingParams};
//! let engine = Engine::new(EngineConfig { models_dir: "models".into(), ..Default::default() })?;
//! let prompt = engine.chat_prompt("qwen2.5-0.5b", &[ChatMessage::new("user", "Bonjour")])?;
//! let out = engine.generate_blocking(GenerateRequest::new("qwen2.5-0.5b", prompt, SamplingParams::default()))?;
//! println!("{}", out.text);
//! # Ok::<(), siagen_engine::EngineError>(())
//! ```

pub mod backend;
pub mod constrain;
pub mod engine;
pub mod error;
pub mod gguf;
pub mod json_schema;
pub mod registry;
pub mod sampling;
pub mod template;
pub mod testmodel;

pub use backend::Accelerator;
pub use constrain::{JsonConstraint, TokenTrie};
pub use engine::{
    DoneEvent, Embeddings, Engine, EngineConfig, EngineStats, FinishReason, GenerateRequest,
    Generation, GenerationEvent, GenerationStream, Timings, TokenEvent, TopLogprob, Usage,
    ALL_LAYERS,
};
pub use error::{EngineError, Result};
pub use json_schema::JsonSchema;
pub use registry::ModelInfo;
pub use sampling::{
    Candidate, LogitBias, LogitsProcessor, Penalties, SamplingParams, TokenContext, TokenId,
};
pub use template::ChatMessage;

/// Compile-time check that the engine can be shared across threads.
#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Engine>();
}
