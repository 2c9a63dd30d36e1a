//! RFC 7807 `application/problem+json` errors, and extractors that turn every malformed request
//! into one — so a client always gets a precise, machine-readable reason and nothing changes.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use siagen_store::StoreError;

/// An API error, rendered as problem+json.
#[derive(Debug)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Short machine slug, becomes `type: urn:siagen:problem:<slug>`.
    pub slug: &'static str,
    /// Human explanation.
    pub detail: String,
    /// Seconds to wait before retrying, for 429/503.
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with a status, a slug and a detail.
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            slug,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// 401, asking for credentials.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }

    /// Logs an internal error under a new correlation id, and returns the id.
    pub fn log_internal(err: &dyn std::fmt::Display) -> String {
        let id = {
            use rand::Rng;
            format!("{:016x}", rand::thread_rng().gen::<u64>())
        };
        tracing::error!(correlation_id = %id, error = %err, "internal error");
        id
    }

    /// 500 with a correlation id; the real error is logged, never sent.
    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        let id = Self::log_internal(err);
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!(
                "internal error (reference {id}); the administrators can find it in the server log"
            ),
        )
    }
}

impl From<siagen_app::AppError> for Problem {
    /// The one mapping of workflow errors to HTTP: status, problem type and message from the
    /// error table (`siagen_app::error`); internal errors are logged with a correlation id and
    /// only that id is sent.
    fn from(e: siagen_app::AppError) -> Self {
        if e.status() == 500 {
            return Problem::internal(&e);
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut p = Problem::new(status, e.slug(), e.to_string());
        p.retry_after = e.retry_after();
        p
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        siagen_app::AppError::from(e).into()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": format!("urn:siagen:problem:{}", self.slug),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            // Extension member read by OpenAI clients, so /v1 errors show the same message.
            "error": { "message": self.detail, "type": self.slug, "code": self.status.as_u16() },
        });
        let mut resp = (self.status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// JSON body extractor whose rejections are problems (unknown fields, wrong types, bad syntax,
/// wrong content type, body too large).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_problem(rej)),
        }
    }
}

fn json_problem(rej: JsonRejection) -> Problem {
    let (status, slug) = match &rej {
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-body"),
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed-json"),
        JsonRejection::MissingJsonContentType(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "json-content-type-required",
        ),
        _ if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large")
        }
        _ => (rej.status(), "bad-body"),
    };
    Problem::new(status, slug, rej.body_text())
}

/// Query-string extractor whose rejections are problems.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| Problem::bad_request(e.body_text()))
    }
}

/// Path extractor whose rejections are problems (e.g. a non-numeric id).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| Problem::bad_request(e.body_text()))
    }
}
