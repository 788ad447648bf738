//! `GET /v2/config`: remote configuration (feature flags) for clients.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sha2::{Digest, Sha256};

use crate::auth::Auth;
use crate::state::AppState;

/// The config route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v2/config", get(get_config))
}

/// `GET /v2/config`: `{config: {name: "value"}}` for the authenticated device, with an `ETag`;
/// `If-None-Match` with the same tag gives 304. Operators add entries under `[remote_config]`
/// (for example `"global.grpc.MessagesSendMessage" = "true"` style switches).
pub async fn get_config(
    State(state): State<AppState>,
    _auth: Auth,
    headers: HeaderMap,
) -> Response {
    let config: serde_json::Map<String, serde_json::Value> = state
        .remote_config
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let body = serde_json::json!({ "config": config });
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.to_string().as_bytes())[..16])
    );
    if headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    resp
}
