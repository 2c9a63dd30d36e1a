//! # siagen-server
//!
//! The only crate that knows HTTP. It maps requests to store calls (which enforce every rule),
//! renders results as JSON and errors as RFC 7807 problems, authenticates callers, and adds the
//! security headers. Handlers stay thin: no SQL and no workflow rule lives here.

mod ask;
mod auth;
mod documents;
pub mod mark;
mod meds;
mod openai;
mod problem;
mod session;
mod shield;
pub mod upstream;
mod web;

pub use auth::{CSRF_HEADER, SESSION_COOKIE};
pub use problem::Problem;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use siagen_store::Store;
use std::sync::Arc;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Lifetime of a web session.
    pub session_ttl: chrono::Duration,
    /// Mark session cookies `Secure` (on by default; browsers accept them on localhost too).
    pub secure_cookies: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            session_ttl: chrono::Duration::hours(12),
            secure_cookies: true,
        }
    }
}

/// The capabilities the server exposes besides documents, each loaded once at start.
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
    /// The local knowledge base behind sourced answers (`/api/ask`, `/questions`).
    pub kb: Option<Arc<siagen_kb::Kb>>,
    /// Relevance of the best passage under which `/api/ask` answers that the corpus does not
    /// cover the question, without generating (default `siagen_kb::DEFAULT_MIN_RELEVANCE`).
    pub kb_min_relevance: Option<f32>,
    /// Chat model that scores entailment (passage ⇒ sentence) for the claim check, if any.
    pub kb_entailment_model: Option<String>,
    /// Optional reranker of `/api/ask`'s retrieval (a local model: it reads the question with
    /// the shield's identifiers blanked out, never the question as typed).
    pub kb_reranker: Option<Arc<dyn siagen_kb::Reranker>>,
    /// Fused passages the reranker reads (default `siagen_kb::DEFAULT_RERANK_DEPTH`).
    pub kb_rerank_depth: Option<usize>,
    /// Watermark keys and settings: marks local generations, serves `/api/mark/detect`.
    pub mark: Option<Arc<mark::MarkState>>,
}

/// The privacy shield as the server uses it.
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

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<Store>,
    /// HTTP settings.
    pub config: Arc<ServerConfig>,
    /// Loaded capabilities.
    pub services: Arc<Services>,
    throttle: Arc<auth::Throttle>,
}

impl AppState {
    /// State over an opened store and loaded services.
    pub fn new(store: Arc<Store>, config: ServerConfig, services: Services) -> Self {
        Self {
            store,
            config: Arc::new(config),
            services: Arc::new(services),
            throttle: Arc::default(),
        }
    }
}

/// Runs a store call on the blocking pool (SQLite and Argon2 are synchronous) and maps its error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, siagen_store::StoreError> + Send + 'static,
) -> Result<T, Problem> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Problem::from),
        Err(e) => Err(Problem::internal(&e)),
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(openapi))
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/me", get(session::me))
        .route(
            "/api/documents",
            post(documents::create).get(documents::list),
        )
        .route("/api/documents/{id}", get(documents::get_one))
        .route("/api/documents/{id}/revisions", post(documents::revise))
        .route("/api/documents/{id}/submit", post(documents::submit))
        .route("/api/documents/{id}/validate", post(documents::validate))
        .route("/api/documents/{id}/reject", post(documents::reject))
        .route("/api/documents/{id}/history", get(documents::history))
        .route("/api/documents/{id}/final", get(documents::final_view))
        .route("/api/documents/{id}/fhir", get(documents::fhir))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/completions", post(openai::completions))
        .route("/v1/models", get(openai::models))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/metrics", get(metrics))
        .route("/api/shield/detect", post(shield::detect))
        .route("/api/shield/pseudonymize", post(shield::pseudonymize))
        .route("/api/shield/reidentify", post(shield::reidentify))
        .route("/api/ask", post(ask::ask))
        .route("/api/ask/save", post(ask::save))
        .route("/api/documents/{id}/sources", get(ask::document_sources))
        .route("/api/mark/detect", post(mark::detect))
        .route("/api/meds/check", post(meds::check))
        .route("/api/meds/editions", get(meds::editions))
        .route("/api/audit", get(session::audit_entries))
        .route("/api/audit/verify", get(session::audit_verify))
        .merge(web::routes())
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no-route", "no such route") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// Prometheus exposition: tokens, requests, latencies, queue depth, energy per model.
async fn metrics(State(state): State<AppState>) -> Response {
    let Some(e) = &state.services.energy else {
        return Problem::new(StatusCode::NOT_FOUND, "no-metrics", "metrics are disabled")
            .into_response();
    };
    let _ = e.metrics.observe_totals(&e.accountant.totals());
    if let Some(engine) = &state.services.engine {
        for (model, depth) in engine.queue_depths() {
            if let Ok(g) = e.metrics.queue_depth.with(&[model.as_str()]) {
                g.set(depth as f64);
            }
        }
    }
    (
        [(header::CONTENT_TYPE, siagen_energy::prom::CONTENT_TYPE)],
        e.registry.render(),
    )
        .into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    match blocking(move || store.ping()).await {
        Ok(()) => "ready".into_response(),
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "the database does not answer",
        )
        .into_response(),
    }
}

/// The OpenAPI document, kept by hand next to the routes above (a test checks they agree).
pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Serves the application until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing requests in flight");
}
