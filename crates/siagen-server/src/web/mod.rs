//! The French web workspace (server-rendered pages). Routes are merged into the main router.
//!
//! Design:
//! - every page is rendered on the server; the only script (`/assets/siagen.js`) adds comfort
//!   (print button, copy a token), never a rule;
//! - the session is the store's (same cookie as the API's `/api/login`); every form carries
//!   the session's anti-CSRF token in a hidden field, checked here before anything else;
//! - every action goes through the store with the logged-in actor, so the store's rules hold
//!   whatever the page showed; pages only *hide* what the store would refuse;
//! - URLs hold ids and fixed codes only; texts travel in POST bodies; successful POSTs
//!   redirect (POST-redirect-GET);
//! - a strict Content-Security-Policy forbids inline scripts and styles and any other origin.

mod admin;
mod assistant;
mod diff;
mod docs;
mod drafts;
mod energy;
pub(crate) mod html;
mod login;
mod meds;
mod pseudo;
mod questions;

use crate::auth::SESSION_COOKIE;
use crate::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use html::{error_page, fr_message};
use serde::de::DeserializeOwned;
use serde_json::json;
use siagen_store::Actor;

/// Content-Security-Policy of every page: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("../../assets/siagen.css");
const JS: &str = include_str!("../../assets/siagen.js");
const ASSISTANT_JS: &str = include_str!("../../assets/assistant.js");

/// A form that carries the session's anti-CSRF token in its `csrf` field.
pub(crate) trait CsrfField {
    /// The token the form sent.
    fn csrf(&self) -> &str;
}

/// Declares forms whose `csrf` field [`CheckedForm`] checks.
macro_rules! csrf_forms {
    ($($form:ty),+) => {
        $(impl $crate::web::CsrfField for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use csrf_forms;

/// A form posted by the person logged in, whose anti-CSRF token has been checked (a refusal
/// is audited and answered with a French page before the handler runs): the one CSRF check of
/// every page.
pub(crate) struct CheckedForm<T> {
    /// Who posted it.
    pub sess: WebSession,
    /// The form's fields.
    pub form: T,
}

impl<T: DeserializeOwned + CsrfField + Send> FromRequest<AppState> for CheckedForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let sess =
            <WebSession as FromRequestParts<AppState>>::from_request_parts(&mut parts, state)
                .await?;
        let WebForm(form) =
            WebForm::<T>::from_request(Request::from_parts(parts, body), state).await?;
        check_csrf(state, &sess, form.csrf()).await?;
        Ok(CheckedForm { sess, form })
    }
}

/// A form that carries only its CSRF token (buttons such as submit, revoke).
#[derive(serde::Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    pub(crate) csrf: String,
}

csrf_forms!(CsrfOnly);

/// Routes of the web pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/assets/siagen.css", get(css))
        .route("/assets/siagen.js", get(js))
        .route("/assets/assistant.js", get(assistant_js))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/documents", get(docs::list))
        .route("/documents/nouveau", get(docs::new_form).post(docs::create))
        .route("/documents/{id}", get(docs::show))
        .route(
            "/documents/{id}/modifier",
            get(docs::edit_form).post(docs::revise),
        )
        .route("/documents/{id}/soumettre", post(docs::submit))
        .route("/documents/{id}/valider", post(docs::validate))
        .route("/documents/{id}/rejeter", post(docs::reject))
        .route("/documents/{id}/imprimer", get(docs::print))
        .route("/documents/{id}/fhir", get(docs::fhir))
        .route("/ordonnance", get(meds::form).post(meds::check))
        .route("/assistant", get(assistant::show))
        .route("/assistant/enregistrer", post(assistant::save))
        .route("/rediger", get(drafts::form).post(drafts::submit))
        .route("/questions", get(questions::form).post(questions::ask))
        .route("/questions/enregistrer", post(questions::save))
        .route("/pseudonymisation", get(pseudo::form).post(pseudo::submit))
        .route("/energie", get(energy::show))
        .route("/admin", get(admin::index))
        .route("/admin/utilisateurs", post(admin::create_user))
        .route("/admin/utilisateurs/{id}/roles", post(admin::set_roles))
        .route("/admin/utilisateurs/{id}/etat", post(admin::set_disabled))
        .route("/admin/jetons", post(admin::create_token))
        .route("/admin/jetons/{id}/revoquer", post(admin::revoke_token))
        .route("/admin/journal", get(admin::journal))
        .route("/admin/journal/verifier", get(admin::verify))
        .route("/admin/journal/export", get(admin::export))
        .layer(axum::middleware::map_response(csp))
}

async fn csp(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

async fn assistant_js() -> Response {
    asset("text/javascript; charset=utf-8", ASSISTANT_JS)
}

/// The landing page of each profile.
async fn home(sess: Option<WebSession>) -> Redirect {
    match sess {
        None => Redirect::to("/login"),
        Some(s) if html::clinical(s.actor.roles) => Redirect::to("/documents"),
        Some(_) => Redirect::to("/admin"),
    }
}

/// The person logged in through the web, with the session's anti-CSRF token.
pub(crate) struct WebSession {
    pub actor: Actor,
    pub csrf: String,
}

fn to_login(code: &str) -> Response {
    Redirect::to(&format!("/login?msg={code}")).into_response()
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(secret) =
            crate::auth::cookie_value(&parts.headers, SESSION_COOKIE).map(str::to_string)
        else {
            return Err(to_login("login_required"));
        };
        let store = state.store.clone();
        match crate::blocking(move || store.session(&secret)).await {
            Ok(s) => Ok(WebSession {
                actor: s.actor,
                csrf: s.csrf,
            }),
            Err(p) if p.status == StatusCode::UNAUTHORIZED => Err(to_login("session_ended")),
            Err(p) => Err(error_page(p.status, None, &fr_message(p.status, &p.detail))),
        }
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for WebSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <WebSession as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// Constant-time comparison of two secrets.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Refuses (and audits) a form whose anti-CSRF token is not the session's.
pub(crate) async fn check_csrf(
    state: &AppState,
    sess: &WebSession,
    sent: &str,
) -> Result<(), Response> {
    if !sent.is_empty() && same_secret(sent, &sess.csrf) {
        return Ok(());
    }
    let store = state.store.clone();
    let label = sess.actor.audit_label();
    let _ = crate::blocking(move || {
        store.audit_event(
            &label,
            "auth.csrf",
            "session",
            "refused",
            json!({ "via": "web" }),
        )
    })
    .await;
    Err(error_page(
        StatusCode::FORBIDDEN,
        Some(sess),
        "Jeton de sécurité du formulaire absent ou invalide : rechargez la page puis recommencez.",
    ))
}

/// A url-encoded form whose rejections are French error pages.
pub(crate) struct WebForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for WebForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(WebForm(v)),
            Err(rej) => {
                let status = rej.status();
                let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "Le formulaire envoyé est trop volumineux."
                } else {
                    "Formulaire incomplet ou mal formé : rechargez la page puis recommencez."
                };
                Err(error_page(status, None, msg))
            }
        }
    }
}

/// A numeric id in the path; anything else is a French "not found" page.
pub(crate) struct WebPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for WebPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        axum::extract::Path::<i64>::from_request_parts(parts, state)
            .await
            .map(|p| WebPath(p.0))
            .map_err(|_| {
                error_page(
                    StatusCode::NOT_FOUND,
                    None,
                    "Cette adresse ne correspond à aucune page : revenez à la liste.",
                )
            })
    }
}

/// Maps a failed store call to a French error page.
pub(crate) fn problem_page(p: crate::Problem, sess: &WebSession) -> Response {
    error_page(p.status, Some(sess), &fr_message(p.status, &p.detail))
}

/// Normalises a textarea's text: browsers send CRLF line ends.
pub(crate) fn textarea(s: &str) -> String {
    s.replace("\r\n", "\n")
}
