//! The one error table of the workflows.
//!
//! Every failure a workflow can meet is an [`AppError`]: user errors (the request cannot be
//! served as asked: 4xx) apart from internal errors (5xx, logged with a correlation id, never
//! shown). Each variant has exactly one HTTP status, one problem type (`slug`) and one French
//! message for the web pages; the API and the pages both read them from here, so nobody
//! recognises an error by matching its text.

use siagen_engine::EngineError;
use siagen_kb::KbError;
use siagen_store::StoreError;

/// A workflow error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or asks for something unsupported (400).
    #[error("{0}")]
    BadRequest(String),
    /// A field is well-formed but not acceptable (422).
    #[error("{0}")]
    Invalid(String),
    /// No (valid) credentials (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The actor may not do this; the refusal is audited (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing, or not visible to the actor (404).
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it (409).
    #[error("{0}")]
    Conflict(String),
    /// No local model and no upstream of that name (404).
    #[error("unknown model '{0}': see GET /v1/models")]
    UnknownModel(String),
    /// No knowledge-base collection of that name for the actor (404).
    #[error("{0}")]
    UnknownCollection(String),
    /// No recent answer of the actor under that id, to save (404).
    #[error("{0}")]
    UnknownAnswer(String),
    /// The prompt does not fit the model's context (400); nothing was generated.
    #[error("{0}")]
    ContextOverflow(String),
    /// The model's queue is full (429).
    #[error("the model is busy: retry in {0} s")]
    QueueFull(u64),
    /// The egress policy refuses to send anything to this destination (403).
    #[error("the egress policy refuses to send text to {0}")]
    EgressRefused(String),
    /// A capability is not configured or not up (503).
    #[error("{detail}")]
    Unavailable {
        /// Problem type.
        slug: &'static str,
        /// What is missing.
        detail: String,
        /// Seconds before a retry may succeed.
        retry_after: Option<u64>,
    },
    /// A declared upstream did not answer (502).
    #[error("the upstream for '{0}' did not answer")]
    UpstreamUnreachable(String),
    /// A declared upstream refused the request (400) or failed (502).
    #[error("upstream for '{model}': {detail}")]
    Upstream {
        /// Model asked for.
        model: String,
        /// The upstream's own message.
        detail: String,
        /// The upstream blamed the request (4xx) rather than itself.
        client_error: bool,
    },
    /// A bug or a broken dependency (500): logged, never shown.
    #[error("{0}")]
    Internal(String),
}

/// Result of a workflow.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// An internal error from anything displayable.
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }

    /// A missing capability (503).
    pub fn unavailable(slug: &'static str, detail: impl Into<String>) -> AppError {
        AppError::Unavailable {
            slug,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            AppError::BadRequest(_) | AppError::ContextOverflow(_) => 400,
            AppError::Upstream { client_error, .. } => {
                if *client_error {
                    400
                } else {
                    502
                }
            }
            AppError::Unauthenticated(_) => 401,
            AppError::Forbidden(_) | AppError::EgressRefused(_) => 403,
            AppError::NotFound(_)
            | AppError::UnknownModel(_)
            | AppError::UnknownCollection(_)
            | AppError::UnknownAnswer(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Invalid(_) => 422,
            AppError::QueueFull(_) => 429,
            AppError::Internal(_) => 500,
            AppError::UpstreamUnreachable(_) => 502,
            AppError::Unavailable { .. } => 503,
        }
    }

    /// Problem type: `urn:siagen:problem:<slug>`.
    pub fn slug(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad-request",
            AppError::Invalid(_) => "invalid",
            AppError::Unauthenticated(_) => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::UnknownModel(_) => "unknown-model",
            AppError::UnknownCollection(_) => "unknown-collection",
            AppError::UnknownAnswer(_) => "unknown-answer",
            AppError::ContextOverflow(_) => "context-overflow",
            AppError::QueueFull(_) => "queue-full",
            AppError::EgressRefused(_) => "egress-refused",
            AppError::Unavailable { slug, .. } => slug,
            AppError::UpstreamUnreachable(_) => "upstream-unreachable",
            AppError::Upstream { .. } => "upstream-error",
            AppError::Internal(_) => "internal",
        }
    }

    /// Seconds to wait before retrying (`Retry-After`), where waiting helps.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::QueueFull(s) => Some(*s),
            AppError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The caller's error (4xx) rather than siagen's (5xx).
    pub fn is_user_error(&self) -> bool {
        self.status() < 500
    }

    /// The message for a French page. Internal errors say only that something failed and where
    /// the administrators will find it (`reference`, the correlation id of the log line).
    pub fn message_fr(&self, reference: Option<&str>) -> String {
        match self {
            AppError::BadRequest(d) | AppError::Invalid(d) => format!("Demande incorrecte : {d}"),
            AppError::Unauthenticated(_) => "Connexion requise.".into(),
            AppError::Forbidden(d) => format!("Action non autorisée : {d}"),
            AppError::NotFound(d) => format!("Introuvable : {d}"),
            AppError::Conflict(d) => format!("Action impossible dans l'état actuel : {d}"),
            AppError::UnknownModel(m) => format!(
                "Le modèle « {m} » n'est pas disponible : choisissez-en un autre dans la liste."
            ),
            AppError::UnknownCollection(_) => {
                "Cette collection n'existe pas ou ne vous est pas accessible.".into()
            }
            AppError::UnknownAnswer(_) => "Cette réponse n'est plus disponible (plus de deux heures, ou donnée à une autre personne) : posez la question à nouveau.".into(),
            AppError::ContextOverflow(d) => {
                format!("Le texte est trop long pour la fenêtre du modèle : {d}")
            }
            AppError::QueueFull(s) => format!("Le modèle est occupé : réessayez dans {s} s."),
            AppError::EgressRefused(d) => {
                format!("La politique de sortie des données refuse l'envoi vers {d}.")
            }
            AppError::Unavailable { slug, detail, .. } => match *slug {
                "no-kb" => "Aucune base documentaire n'est configurée.".into(),
                "no-model" | "no-engine" => {
                    "Aucun modèle de langage n'est installé : un administrateur doit en ajouter un."
                        .into()
                }
                "no-shield" => {
                    "Le module de pseudonymisation n'est pas configuré sur ce serveur.".into()
                }
                "no-mark" => "Le tatouage des textes n'est pas configuré sur ce serveur.".into(),
                "upstream-down" => {
                    "Aucun moteur distant de ce modèle ne répond pour l'instant : réessayez dans quelques secondes.".into()
                }
                _ => format!("Service indisponible : {detail}"),
            },
            AppError::UpstreamUnreachable(m) => {
                format!("Le moteur distant du modèle « {m} » ne répond pas.")
            }
            AppError::Upstream { model, detail, .. } => {
                format!("Le moteur distant du modèle « {model} » a refusé : {detail}")
            }
            AppError::Internal(_) => match reference {
                Some(r) => format!(
                    "Erreur interne (référence {r}) : les administrateurs la trouveront dans le journal du serveur."
                ),
                None => "Erreur interne : les administrateurs la trouveront dans le journal du serveur."
                    .into(),
            },
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => AppError::NotFound(m),
            StoreError::Forbidden(m) => AppError::Forbidden(m),
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Invalid(m) => AppError::Invalid(m),
            StoreError::Unauthenticated(m) => AppError::Unauthenticated(m),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::QueueFull { retry_after_secs } => AppError::QueueFull(retry_after_secs),
            EngineError::UnknownModel(m) => AppError::UnknownModel(m),
            e @ EngineError::ContextOverflow { .. } => AppError::ContextOverflow(e.to_string()),
            e @ (EngineError::BadRequest(_) | EngineError::Unsupported { .. }) => {
                AppError::BadRequest(e.to_string())
            }
            EngineError::Unavailable(m) => AppError::Unavailable {
                slug: "engine-unavailable",
                detail: m,
                retry_after: Some(5),
            },
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<KbError> for AppError {
    fn from(e: KbError) -> Self {
        match e {
            KbError::Invalid(m) => AppError::BadRequest(m),
            e @ KbError::UnknownCollection(_) => AppError::UnknownCollection(e.to_string()),
            e @ KbError::Forbidden(_) => AppError::Forbidden(e.to_string()),
            e @ KbError::NoEmbedder => AppError::unavailable("no-embedder", e.to_string()),
            e @ KbError::Rerank(_) => AppError::unavailable("reranker", e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<siagen_shield::ShieldError> for AppError {
    fn from(e: siagen_shield::ShieldError) -> Self {
        match e {
            siagen_shield::ShieldError::EgressRefused(d) => AppError::EgressRefused(d),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(format!("a worker task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table: every variant has one status and one slug, and user errors are the 4xx.
    #[test]
    fn one_status_and_slug_per_error() {
        let cases: Vec<(AppError, u16, &str)> = vec![
            (AppError::BadRequest("x".into()), 400, "bad-request"),
            (
                AppError::ContextOverflow("x".into()),
                400,
                "context-overflow",
            ),
            (
                AppError::Unauthenticated("x".into()),
                401,
                "unauthenticated",
            ),
            (AppError::Forbidden("x".into()), 403, "forbidden"),
            (AppError::EgressRefused("x".into()), 403, "egress-refused"),
            (AppError::NotFound("x".into()), 404, "not-found"),
            (AppError::UnknownModel("m".into()), 404, "unknown-model"),
            (AppError::Conflict("x".into()), 409, "conflict"),
            (AppError::Invalid("x".into()), 422, "invalid"),
            (AppError::QueueFull(3), 429, "queue-full"),
            (AppError::Internal("x".into()), 500, "internal"),
            (
                AppError::UpstreamUnreachable("m".into()),
                502,
                "upstream-unreachable",
            ),
            (AppError::unavailable("no-engine", "x"), 503, "no-engine"),
        ];
        for (e, status, slug) in cases {
            assert_eq!((e.status(), e.slug()), (status, slug), "{e:?}");
            assert_eq!(e.is_user_error(), status < 500);
            assert!(!e.message_fr(Some("abc")).is_empty());
        }
        assert_eq!(AppError::QueueFull(3).retry_after(), Some(3));
        let e: AppError = EngineError::UnknownModel("m".into()).into();
        assert!(matches!(e, AppError::UnknownModel(_)));
        let e: AppError = StoreError::Forbidden("no".into()).into();
        assert_eq!(e.status(), 403);
        // An internal error's French message never carries the error itself.
        let secret = AppError::Internal("disk /var/x full".into());
        assert!(!secret.message_fr(Some("r1")).contains("/var/x"));
    }
}
