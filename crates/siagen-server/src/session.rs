//! Login, logout, "who am I", and the auditors' view of the audit trail.

use crate::auth::{Auth, SESSION_COOKIE};
use crate::problem::{ApiJson, ApiQuery, Problem};
use crate::{blocking, AppState};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use siagen_store::Role;
use std::net::{IpAddr, SocketAddr};

/// The client's address, when the server was started with connection info.
pub(crate) struct ClientIp(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    username: String,
    password: String,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(peer): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, Problem> {
    let keys = vec![
        format!("user:{}", body.username),
        format!("ip:{}", peer.map(|p| p.to_string()).unwrap_or_default()),
    ];
    if let Err(wait) = state.throttle.check(&keys) {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "login-throttled",
            format!("too many failed logins: try again in {wait} s"),
        );
        p.retry_after = Some(wait);
        return Err(p);
    }
    let store = state.store.clone();
    let ttl = state.config.session_ttl;
    let name = body.username.clone();
    match blocking(move || store.login(&body.username, &body.password, ttl)).await {
        Ok(outcome) => {
            state.throttle.succeed(&format!("user:{name}"));
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                outcome.session_secret,
                ttl.num_seconds(),
                if state.config.secure_cookies {
                    "; Secure"
                } else {
                    ""
                }
            );
            let body = json!({
                "user": outcome.user,
                "csrf_token": outcome.csrf,
                "expires_at": outcome.expires_at,
            });
            Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
        }
        Err(p) => {
            if p.status == StatusCode::UNAUTHORIZED {
                state.throttle.fail(&keys);
            }
            Err(p)
        }
    }
}

/// Ends the session named by the request's cookie, if any (API and web logout).
pub(crate) async fn end_session(state: &AppState, headers: &HeaderMap) {
    if let Some(secret) = crate::auth::cookie_value(headers, SESSION_COOKIE).map(str::to_string) {
        let store = state.store.clone();
        // An unknown or expired session is already logged out.
        let _ = blocking(move || store.logout(&secret)).await;
    }
}

pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    end_session(&state, &headers).await;
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response()
}

pub(crate) async fn me(Auth(actor): Auth) -> Json<serde_json::Value> {
    Json(json!({
        "id": actor.user_id,
        "name": actor.name,
        "roles": actor.roles,
        "token_id": actor.token_id,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    since: Option<String>,
    limit: Option<i64>,
}

pub(crate) async fn audit_entries(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<serde_json::Value>, Problem> {
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let entries = blocking(move || {
        store.authorize(&actor, "audit.read", "audit", |a| a.require(Role::Auditor))?;
        store.audit_event(
            &actor.audit_label(),
            "audit.read",
            "audit",
            "ok",
            json!({ "limit": limit }),
        )?;
        store.audit_entries(q.since.as_deref(), Some(limit))
    })
    .await?;
    Ok(Json(json!({ "entries": entries })))
}

pub(crate) async fn audit_verify(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<serde_json::Value>, Problem> {
    let store = state.store.clone();
    let report = blocking(move || {
        store.authorize(&actor, "audit.verify", "audit", |a| {
            a.require(Role::Auditor)
        })?;
        store.audit_verify()
    })
    .await?;
    let key = state.store.audit_public_key();
    Ok(Json(
        json!({ "ok": report.ok(), "report": report, "public_key": key }),
    ))
}
