//! The French web workspace (server-rendered pages). Routes are merged into the main router.

use crate::AppState;
use axum::Router;

/// Routes of the web pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
