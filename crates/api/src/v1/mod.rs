//! `/v1/...` routes.

pub mod accounts;
pub mod certificate;
pub mod devices;
pub mod keepalive;
pub mod messages;
pub mod multi_recipient;
pub mod profile;
pub mod registration;
pub mod verification;

use axum::Router;

use crate::state::AppState;

/// Every `/v1` route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(accounts::router())
        .merge(certificate::router())
        .merge(devices::router())
        .merge(crate::provisioning::router())
        .merge(keepalive::router())
        .merge(messages::router())
        .merge(multi_recipient::router())
        .merge(profile::router())
        .merge(registration::router())
        .merge(verification::router())
        .merge(crate::websocket::router())
}
