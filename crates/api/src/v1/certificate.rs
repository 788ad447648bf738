//! `/v1/certificate/...`: sealed-sender delivery certificates.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json as JsonResponse, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use heliograph_types::DeviceId;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Certificate routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/certificate/delivery", get(get_delivery_certificate))
}

/// `?includeE164=`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryQuery {
    include_e164: Option<String>,
}

/// `GET /v1/certificate/delivery[?includeE164=true|false]`: a SenderCertificate for the caller,
/// signed by the server certificate (embedded), with the sender's ACI as 16 raw bytes and the
/// number unless `includeE164=false`.
pub async fn get_delivery_certificate(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<JsonResponse<Value>> {
    let include = match q
        .include_e164
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(ApiError::bad_request("includeE164 must be true or false")),
    };
    let device: DeviceId = auth.device;
    let cert = state.certificates.issue(
        auth.aci(),
        device,
        include.then_some(&auth.account.e164),
        &auth.account.aci_identity_key,
        state.deps.clock.now_ms(),
    );
    Ok(JsonResponse(json!({
        "certificate": base64::engine::general_purpose::STANDARD.encode(cert)
    })))
}
