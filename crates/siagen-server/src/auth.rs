//! Authentication: bearer API tokens for programs, session cookies (with an anti-CSRF header on
//! every state-changing request) for the web, and throttling of password guessing.

use crate::problem::Problem;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, Method, StatusCode};
use serde_json::json;
use siagen_store::{Actor, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "siagen_session";
/// Header carrying the anti-CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated person behind a request.
pub struct Auth(pub Actor);

/// The value of cookie `name` in a request's headers.
pub(crate) fn cookie_value<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                    .map(str::trim)
                    .map(str::to_string)
                    .ok_or(())
            });
        let store = state.store.clone();
        match bearer {
            Some(Ok(secret)) => {
                // A read on a read-only connection: quick, never waits for writers, so it runs
                // inline instead of hopping to the blocking pool.
                match store.authenticate_token(&secret) {
                    Ok(actor) => Ok(Auth(actor)),
                    Err(StoreError::Unauthenticated(reason)) => {
                        let detail = reason.clone();
                        crate::blocking(move || {
                            store.audit_event(
                                "anonymous",
                                "auth.token",
                                "token:?",
                                "refused",
                                json!({ "reason": reason }),
                            )
                        })
                        .await?;
                        Err(Problem::unauthenticated(detail))
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Some(Err(())) => Err(Problem::unauthenticated(
                "the Authorization header must be 'Bearer <token>'",
            )),
            None => {
                let Some(secret) = cookie_value(&parts.headers, SESSION_COOKIE).map(str::to_string)
                else {
                    return Err(Problem::unauthenticated(
                        "authentication required: send an API token as 'Authorization: Bearer <token>' or log in",
                    ));
                };
                let session = store.session(&secret)?;
                let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
                if !safe {
                    let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                    if sent != Some(session.csrf.as_str()) {
                        let store = state.store.clone();
                        let label = session.actor.audit_label();
                        crate::blocking(move || {
                            store.audit_event(&label, "auth.csrf", "session", "refused", json!({}))
                        })
                        .await?;
                        return Err(Problem::new(
                            StatusCode::FORBIDDEN,
                            "csrf",
                            format!("missing or wrong {CSRF_HEADER} header for this session"),
                        ));
                    }
                }
                Ok(Auth(session.actor))
            }
        }
    }
}

/// Counts failed logins per key (user name, client address) and locks a key out with an
/// exponential delay after a few failures, so passwords cannot be guessed online.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Failures allowed before any delay.
const FREE_FAILURES: u32 = 5;
/// Longest lock-out.
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);

impl Throttle {
    /// `Err(seconds)` while any key is locked out.
    pub fn check(&self, keys: &[String]) -> Result<(), u64> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let wait = keys
            .iter()
            .filter_map(|k| map.get(k))
            .filter(|(_, until)| *until > now)
            .map(|(_, until)| (*until - now).as_secs() + 1)
            .max();
        match wait {
            Some(w) => Err(w),
            None => Ok(()),
        }
    }

    /// Records a failure for every key.
    pub fn fail(&self, keys: &[String]) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (_, until)| *until > now);
        }
        for k in keys {
            let entry = map.entry(k.clone()).or_insert((0, now));
            entry.0 += 1;
            if entry.0 >= FREE_FAILURES {
                let exp = (entry.0 - FREE_FAILURES).min(10);
                entry.1 = now + MAX_LOCK.min(Duration::from_secs(1u64 << exp));
            }
        }
    }

    /// Forgets the failures of a key after a success.
    pub fn succeed(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}
