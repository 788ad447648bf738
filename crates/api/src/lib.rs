//! Heliograph's client-facing surface: one axum router per API area (module paths follow the
//! URLs), the WebSocket session that tunnels requests into the same router, the gRPC services,
//! the auth extractors and the error table. No business rules live here.

pub mod auth;
mod convert;
mod delivery;
pub mod error;
pub mod grpc;
mod json;
pub mod provisioning;
pub mod state;
mod timestamp;
pub mod v1;
pub mod v2;
pub mod v4;
pub mod websocket;

use axum::Router;

pub use state::{AppState, StateParts};

/// Builds the complete router and remembers it for WebSocket dispatch.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .merge(v1::router())
        .merge(v2::router())
        .merge(v4::router())
        .with_state(state.clone())
        .merge(state.cdn.router())
        .merge(grpc::router(state.clone()))
        .layer(axum::middleware::map_response(timestamp::add_timestamp));
    let _ = state.dispatch.set(router.clone());
    router
}
