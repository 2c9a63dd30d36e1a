//! One error type for the store, split between what the caller did wrong (a 4xx on the API, a
//! one-line message in the CLI) and what went wrong inside (a 5xx, logged, never shown verbatim).

/// Errors returned by every store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist (or the actor may not know it exists).
    #[error("{0}")]
    NotFound(String),
    /// The actor is authenticated but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request is well-formed but conflicts with the current state (a forbidden transition).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is invalid (a field out of range, a bad name...).
    #[error("{0}")]
    Invalid(String),
    /// Credentials were missing, wrong, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// SQLite failed.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The data directory could not be read or written.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Anything else that is our fault, not the caller's.
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    /// True when the caller can fix the error (it maps to a 4xx status).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Self::Db(_) | Self::Io(_) | Self::Internal(_))
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
