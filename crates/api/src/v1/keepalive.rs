//! Keepalive and health endpoints.

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// Keepalive and health routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keepalive", get(get_keepalive))
        .route("/v1/keepalive/provisioning", get(get_keepalive))
        .route("/health-check", get(get_keepalive))
}

/// `GET /v1/keepalive`: 200 while the connection is usable (also `/v1/keepalive/provisioning`
/// and `/health-check`).
pub async fn get_keepalive() -> StatusCode {
    StatusCode::OK
}
