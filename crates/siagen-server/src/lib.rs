//! # siagen-server
//!
//! The only crate that knows HTTP. It maps requests to the workflows of `siagen-app` and to
//! store calls (which enforce every rule), renders results as JSON, SSE or HTML and errors as
//! RFC 7807 problems, authenticates callers, and adds the security headers. Handlers stay thin:
//! no SQL, no workflow rule, and no call into the engine, the shield or the upstreams lives here.

mod ask;
mod auth;
mod documents;
mod drafts;
mod mark;
mod meds;
mod openai;
mod problem;
mod session;
mod shield;
mod web;

pub use auth::{CSRF_HEADER, SESSION_COOKIE};
pub use problem::Problem;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use siagen_app::App;
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

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    /// The workflows (and the capabilities they use).
    pub app: Arc<App>,
    /// The store (documents, accounts, audit: each method enforces its own rules).
    pub store: Arc<Store>,
    /// HTTP settings.
    pub config: Arc<ServerConfig>,
    throttle: Arc<auth::Throttle>,
}

impl AppState {
    /// State over the application layer.
    pub fn new(app: Arc<App>, config: ServerConfig) -> Self {
        Self {
            store: app.store.clone(),
            app,
            config: Arc::new(config),
            throttle: Arc::default(),
        }
    }
}

/// Runs a workflow's result through the error table.
pub(crate) fn app_result<T>(r: siagen_app::Result<T>) -> Result<T, Problem> {
    r.map_err(Problem::from)
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
        .route("/api/drafts", post(drafts::create))
        .route("/api/drafts/check", post(drafts::check))
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
    let Some(e) = &state.app.services.energy else {
        return Problem::new(StatusCode::NOT_FOUND, "no-metrics", "metrics are disabled")
            .into_response();
    };
    let _ = e.metrics.observe_totals(&e.accountant.totals());
    for (model, depth) in state.app.queue_depths() {
        if let Ok(g) = e.metrics.queue_depth.with(&[model.as_str()]) {
            g.set(depth as f64);
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
