//! # siagen-app
//!
//! The application layer: every workflow that reaches a model, the privacy shield or the
//! watermark keys is a plain async function here, over typed inputs, returning typed results
//! or an [`AppError`]. The HTTP server (`siagen-server`) only extracts, authenticates and
//! formats; the command line can call the same functions.
//!
//! **Architecture invariant.** The safeguards run in one order, in one place:
//! authorise (role; refusals audited) → egress decision for the destination (local engine or
//! declared upstream replica) → shield (pseudonymise, vault) → template → engine or upstream →
//! watermark → energy → audit → store → re-identification for the caller. Nothing is written to
//! the vault, sent to a model or metered before the actor is authorised.
//!
//! **API boundary.** [`App`] (the store and the loaded [`Services`]) and the workflow modules:
//! [`generate`], [`embed`], [`ask`], [`draft`], [`privacy`], [`mark`]. This crate knows no HTTP: no status
//! codes other than [`AppError::status`], no headers, no JSON wire formats of clients (the
//! OpenAI format of upstream engines is a client protocol, spoken in [`upstream`]).

pub mod ask;
pub mod draft;
pub mod egress;
pub mod embed;
pub mod error;
pub mod generate;
pub mod mark;
mod meter;
pub mod privacy;
pub mod upstream;

pub use error::{AppError, Result};

use siagen_store::Store;
use std::sync::Arc;

/// The capabilities loaded once at start.
#[derive(Clone, Default)]
pub struct Services {
    /// Thesaurus editions for drug-interaction checks; the first is the default.
    pub meds: Vec<Arc<siagen_meds::Thesaurus>>,
    /// The local inference engine, when configured.
    pub engine: Option<Arc<siagen_engine::Engine>>,
    /// Energy metering and Prometheus metrics.
    pub energy: Option<Arc<Energy>>,
    /// Pseudonymisation and the egress policy in front of every model.
    pub shield: Option<Arc<ShieldState>>,
    /// Declared OpenAI-compatible upstreams (scale-out).
    pub upstreams: Option<Arc<upstream::Upstreams>>,
    /// The local knowledge base behind sourced answers.
    pub kb: Option<Arc<siagen_kb::Kb>>,
    /// Relevance of the best passage under which a question is answered as not covered,
    /// without generating (default `siagen_kb::DEFAULT_MIN_RELEVANCE`).
    pub kb_min_relevance: Option<f32>,
    /// Chat model that scores entailment (passage ⇒ sentence) for the claim check, if any.
    pub kb_entailment_model: Option<String>,
    /// Optional reranker of retrieval (a local model: it reads the question with the shield's
    /// identifiers blanked out, never the question as typed).
    pub kb_reranker: Option<Arc<dyn siagen_kb::Reranker>>,
    /// Fused passages the reranker reads (default `siagen_kb::DEFAULT_RERANK_DEPTH`).
    pub kb_rerank_depth: Option<usize>,
    /// Watermark keys and settings: marks local generations, detects marks.
    pub mark: Option<Arc<mark::MarkState>>,
    /// Kinds of document drafted from notes and their sections (default: the shipped ones).
    pub drafting: Option<Arc<siagen_draft::Templates>>,
}

/// The privacy shield as the workflows use it.
pub struct ShieldState {
    /// The detector (dictionaries loaded once).
    pub shield: siagen_shield::Shield,
    /// The encrypted mapping of identifiers to surrogates.
    pub vault: siagen_shield::Vault,
    /// Per-destination decisions.
    pub policy: siagen_shield::EgressPolicy,
    /// The local engine as a destination (may it receive identifying data?).
    pub local_engine: siagen_shield::Destination,
}

/// Energy accounting and the metrics registry behind `/metrics`.
pub struct Energy {
    /// Shares measured (or estimated) energy among generations.
    pub accountant: siagen_energy::Accountant,
    /// The metrics registry.
    pub registry: siagen_energy::Registry,
    /// The metric families siagen updates.
    pub metrics: siagen_energy::SiagenMetrics,
    _ticker: Option<siagen_energy::Ticker>,
}

impl Energy {
    /// Probes the meters (RAPL, NVML, else estimates) and starts the 1 s ticker that keeps
    /// counters from wrapping unseen and separates idle energy.
    pub fn probe(
        carbon: siagen_energy::CarbonConfig,
    ) -> Result<Energy, siagen_energy::EnergyError> {
        let meter = siagen_energy::Meter::probe(&siagen_energy::MeterConfig::default());
        let accountant = siagen_energy::Accountant::new(meter, carbon);
        for s in accountant.statuses() {
            tracing::info!(source = %s.source, available = s.available, "energy meter: {}", s.message);
        }
        let ticker = accountant
            .spawn_ticker(std::time::Duration::from_secs(1))
            .ok();
        let registry = siagen_energy::Registry::new();
        let metrics = siagen_energy::SiagenMetrics::register(&registry)?;
        Ok(Energy {
            accountant,
            registry,
            metrics,
            _ticker: ticker,
        })
    }
}

/// The context of every workflow: the store and the services.
pub struct App {
    /// The store (accounts, documents, audit, generations).
    pub store: Arc<Store>,
    /// Loaded capabilities.
    pub services: Services,
}

/// A model as listed to clients (`/v1/models`, the pages' choices).
#[derive(Debug, Clone)]
pub enum ModelEntry {
    /// A local GGUF model.
    Local(siagen_engine::ModelInfo),
    /// A model served by declared upstreams, with its replicas.
    Upstream {
        /// Name clients ask for.
        name: String,
        /// Its replicas: operator, jurisdiction, may receive identifying data, healthy.
        replicas: Vec<(String, String, bool, bool)>,
    },
}

impl App {
    /// An application over an opened store and loaded services.
    pub fn new(store: Arc<Store>, services: Services) -> App {
        App { store, services }
    }

    /// Runs a synchronous call (SQLite, Argon2, the shield, tokenizers) on the blocking pool.
    pub async fn blocking<T: Send + 'static, E: Into<AppError> + Send + 'static>(
        f: impl FnOnce() -> std::result::Result<T, E> + Send + 'static,
    ) -> Result<T> {
        tokio::task::spawn_blocking(f).await?.map_err(Into::into)
    }

    /// The local engine, or a 503 saying there is none.
    pub fn engine(&self) -> Result<Arc<siagen_engine::Engine>> {
        self.services.engine.clone().ok_or_else(|| {
            AppError::unavailable("no-engine", "no local inference engine is configured")
        })
    }

    /// Authorises `actor` for a clinical use of a model, auditing a refusal.
    pub(crate) async fn authorize_clinical(
        &self,
        actor: &siagen_store::Actor,
        action: &'static str,
        target: &'static str,
        what: &'static str,
    ) -> Result<()> {
        let store = self.store.clone();
        let who = actor.clone();
        Self::blocking(move || store.authorize(&who, action, target, |a| a.require_clinical(what)))
            .await
    }

    /// Every model a client can ask for: local models, then upstream models.
    pub async fn models(&self) -> Result<Vec<ModelEntry>> {
        let mut out: Vec<ModelEntry> = match self.services.engine.clone() {
            Some(engine) => Self::blocking(move || engine.models())
                .await?
                .into_iter()
                .map(ModelEntry::Local)
                .collect(),
            None => vec![],
        };
        for (name, replicas) in self.services.upstreams.iter().flat_map(|u| u.models()) {
            out.push(ModelEntry::Upstream {
                name: name.to_string(),
                replicas: replicas
                    .iter()
                    .map(|r| {
                        (
                            r.config.operator.clone(),
                            r.config.jurisdiction.clone(),
                            r.config.may_receive_identifying,
                            r.healthy(),
                        )
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Local chat models (not embedding models), in the registry's order.
    pub async fn local_chat_models(&self) -> Vec<siagen_engine::ModelInfo> {
        let Some(engine) = self.services.engine.clone() else {
            return vec![];
        };
        Self::blocking(move || engine.models())
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|m| !m.is_embedding_model)
            .collect()
    }

    /// Models a clinician can choose to answer with: local chat models, then upstream models.
    pub async fn answer_models(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .local_chat_models()
            .await
            .into_iter()
            .map(|m| m.name)
            .collect();
        if let Some(u) = &self.services.upstreams {
            for (name, _) in u.models() {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
        names
    }

    /// Is `model` served by declared upstreams (rather than the local engine)?
    pub fn is_upstream_model(&self, model: &str) -> bool {
        self.services
            .upstreams
            .as_ref()
            .is_some_and(|u| u.serves(model))
    }

    /// Requests waiting per local model (for `/metrics`).
    pub fn queue_depths(&self) -> Vec<(String, usize)> {
        self.services
            .engine
            .as_ref()
            .map(|e| e.queue_depths())
            .unwrap_or_default()
    }
}
