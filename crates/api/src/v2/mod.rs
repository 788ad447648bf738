//! `/v2/...` routes.

pub mod config;
pub mod keys;

use axum::Router;

use crate::state::AppState;

/// Every `/v2` route.
pub fn router() -> Router<AppState> {
    Router::new().merge(config::router()).merge(keys::router())
}
