//! `/v4/...` routes.

pub mod attachments;

use axum::Router;

use crate::state::AppState;

/// Every `/v4` route.
pub fn router() -> Router<AppState> {
    Router::new().merge(attachments::router())
}
