//! Connexion and déconnexion. The form is throttled by the same counters as `/api/login`, and
//! protected against login CSRF by a double-submit token (a cookie scoped to `/login` that the
//! form must echo).

use super::html::{esc, flash, fr_message, html, page};
use super::{same_secret, CheckedForm, WebForm, WebSession};
use crate::auth::cookie_value;
use crate::auth::SESSION_COOKIE;
use crate::{blocking, AppState};
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use rand::RngCore;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

const LOGIN_CSRF_COOKIE: &str = "siagen_login_csrf";

/// The client's address, when the server was started with connection info.
pub(crate) struct PeerIp(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The login form's cookie and hidden field value.
pub(crate) struct LoginCsrf(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for LoginCsrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(LoginCsrf(
            cookie_value(&parts.headers, LOGIN_CSRF_COOKIE).map(str::to_string),
        ))
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn secure(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    }
}

#[derive(Deserialize)]
pub(crate) struct MsgQuery {
    msg: Option<String>,
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
    msg: Option<&str>,
) -> Response {
    let token = random_token();
    let error = match error {
        Some(e) => format!(
            r#"<div class="alert alert-error" role="alert" id="login-error"><p>{}</p></div>"#,
            esc(e)
        ),
        None => String::new(),
    };
    let body = format!(
        r#"<div class="login-box">
<h1>Connexion</h1>
{flash}{error}
<form method="post" action="/login" class="stack">
<input type="hidden" name="csrf" value="{token}">
<div class="field"><label for="username">Identifiant</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="64" value="{user}" autofocus></div>
<div class="field"><label for="password">Mot de passe</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"></div>
<button type="submit" class="primary">Se connecter</button>
</form>
<p class="hint">Mot de passe oublié ou compte bloqué : adressez-vous à un administrateur de siagen.</p>
</div>"#,
        flash = flash(msg),
        user = esc(username),
    );
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        secure(state)
    );
    let mut resp = html(status, page("Connexion", None, "", &body));
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

pub(crate) async fn form(
    State(state): State<AppState>,
    sess: Option<WebSession>,
    Query(q): Query<MsgQuery>,
) -> Response {
    if sess.is_some() {
        return Redirect::to("/").into_response();
    }
    login_page(&state, StatusCode::OK, "", None, q.msg.as_deref())
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    LoginCsrf(cookie): LoginCsrf,
    WebForm(f): WebForm<LoginForm>,
) -> Response {
    let username = f.username.trim().to_string();
    if !cookie.is_some_and(|c| !f.csrf.is_empty() && same_secret(&c, &f.csrf)) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            &username,
            Some("Le formulaire de connexion a expiré : saisissez de nouveau vos identifiants."),
            None,
        );
    }
    // The same keys and counters as `/api/login`: the form is no way around the throttle.
    let keys = vec![
        format!("user:{username}"),
        format!("ip:{}", peer.map(|p| p.to_string()).unwrap_or_default()),
    ];
    if let Err(wait) = state.throttle.check(&keys) {
        return login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &username,
            Some(&format!(
                "Trop de tentatives de connexion échouées : réessayez dans {wait} s."
            )),
            None,
        );
    }
    let store = state.store.clone();
    let ttl = state.config.session_ttl;
    let name = username.clone();
    match blocking(move || store.login(&name, &f.password, ttl)).await {
        Ok(outcome) => {
            state.throttle.succeed(&format!("user:{username}"));
            let session = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                outcome.session_secret,
                ttl.num_seconds(),
                secure(&state)
            );
            let clear = format!(
                "{LOGIN_CSRF_COOKIE}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0{}",
                secure(&state)
            );
            let mut resp = Redirect::to("/").into_response();
            for c in [session, clear] {
                if let Ok(v) = c.parse() {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(p) => {
            if p.status == StatusCode::UNAUTHORIZED {
                state.throttle.fail(&keys);
            }
            login_page(
                &state,
                p.status,
                &username,
                Some(&fr_message(p.status, &p.detail)),
                None,
            )
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _: CheckedForm<LogoutForm>,
) -> Response {
    crate::session::end_session(&state, &headers).await;
    let clear = format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure(&state)
    );
    let mut resp = Redirect::to("/login?msg=logged_out").into_response();
    if let Ok(v) = clear.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

super::csrf_forms!(LogoutForm);
