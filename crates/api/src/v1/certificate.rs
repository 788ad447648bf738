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
    Router::new()
        .route("/v1/certificate/delivery", get(get_delivery_certificate))
        .route("/v1/certificate/auth/group", get(get_group_auth))
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

/// `?redemptionStartSeconds=&redemptionEndSeconds=`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupAuthQuery {
    redemption_start_seconds: u64,
    redemption_end_seconds: u64,
}

/// `GET /v1/certificate/auth/group`: one zkgroup `AuthCredentialWithPni` (zkc) per day of the
/// requested window (day-aligned, from yesterday, at most 7 days apart; 400 otherwise).
/// `callLinkAuthCredentials` is empty: call-link credentials need the generic server params,
/// which Heliograph does not issue yet.
pub async fn get_group_auth(
    State(state): State<AppState>,
    Auth(auth): Auth,
    q: Result<Query<GroupAuthQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<JsonResponse<Value>> {
    let Query(q) = q.map_err(|_| {
        ApiError::bad_request("redemptionStartSeconds and redemptionEndSeconds are required")
    })?;
    let creds = state.zk.group_auth_credentials(
        &auth.account,
        q.redemption_start_seconds,
        q.redemption_end_seconds,
        state.deps.clock.now_ms(),
    )?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let credentials: Vec<Value> = creds
        .iter()
        .map(|c| json!({ "credential": b64.encode(&c.credential), "redemptionTime": c.redemption_time }))
        .collect();
    Ok(JsonResponse(json!({
        "credentials": credentials,
        "callLinkAuthCredentials": [],
        "pni": auth.account.pni.to_string(),
    })))
}
