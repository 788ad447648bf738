//! `/v1/devices`, `/v1/provisioning` and `/v1/accounts/name`: linking and managing devices.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use axum::{Json as JsonResponse, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use heliograph_chat::linking::{DeviceSummary, LinkInput};
use heliograph_chat::registration::AttributesInput;
use heliograph_chat::ChatError;
use heliograph_protocol::json::{DeviceName, LinkDeviceRequest, ProvisioningMessage};
use heliograph_types::DeviceId;

use crate::auth::{basic_credentials, Auth};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

/// Largest provisioning envelope relayed.
pub const MAX_PROVISIONING_BYTES: usize = 256 * 1024;

/// Device routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/devices/provisioning/code", get(get_provisioning_code))
        .route("/v1/devices/link", put(put_link))
        .route("/v1/devices", get(get_devices))
        .route("/v1/devices/", get(get_devices))
        .route("/v1/devices/{id}", delete(delete_device))
        .route("/v1/devices/capabilities", put(put_capabilities))
        .route(
            "/v1/devices/wait_for_linked_device/{token_identifier}",
            get(get_wait_for_linked_device),
        )
        .route("/v1/provisioning/{address}", put(put_provisioning))
        .route("/v1/accounts/name", put(put_device_name))
        .route("/v1/accounts/name/", put(put_device_name))
}

fn device_json(d: &DeviceSummary) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({
        "id": d.id.get(),
        "name": d.name.as_deref().map(|n| b64.encode(n)),
        "lastSeen": d.last_seen_ms,
        "registrationId": d.registration_id,
        "createdAtCiphertext": base64::engine::general_purpose::STANDARD_NO_PAD.encode(&d.created_at_ciphertext),
    })
}

/// `GET /v1/devices/provisioning/code`: a single-use link token valid for ten minutes
/// (primary device only; 411 when the account has the maximum number of devices).
pub async fn get_provisioning_code(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> ApiResult<JsonResponse<Value>> {
    let token = state.linking.provisioning_code(&auth)?;
    Ok(JsonResponse(
        json!({ "verificationCode": token.token, "tokenIdentifier": token.identifier }),
    ))
}

/// `PUT /v1/devices/link`: links a new device. Basic auth carries only the new device's
/// password (the username is ignored but must not be blank).
pub async fn put_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<LinkDeviceRequest>,
) -> ApiResult<JsonResponse<Value>> {
    let (user, password) = basic_credentials(&headers)?.ok_or(ApiError(ChatError::Unauthorized))?;
    if user.trim().is_empty()
        || password.expose().is_empty()
        || password.expose().len() > heliograph_chat::auth::MAX_PASSWORD_LEN
    {
        return Err(ApiError(ChatError::Unauthorized));
    }
    let sig = |s: &[u8]| {
        heliograph_types::Signature::from_bytes(s)
            .map_err(|_| ApiError::unprocessable("invalid signature"))
    };
    let ec = |k: &heliograph_protocol::json::EcSignedPreKey| -> ApiResult<_> {
        Ok(heliograph_chat::keys::SignedEcPreKey {
            key_id: k.key_id,
            public_key: k.public_key,
            signature: sig(&k.signature)?,
        })
    };
    let kem = |k: &heliograph_protocol::json::KemSignedPreKey| -> ApiResult<_> {
        Ok(heliograph_chat::keys::SignedKemPreKey {
            key_id: k.key_id,
            public_key: k.public_key.clone(),
            signature: sig(&k.signature)?,
        })
    };
    let a = &req.account_attributes;
    let input = LinkInput {
        verification_code: req.verification_code.clone(),
        password,
        attributes: AttributesInput {
            fetches_messages: a.fetches_messages,
            registration_id: Some(a.registration_id.get()),
            pni_registration_id: a.pni_registration_id.map(|r| r.get()),
            name: a.name.clone(),
            capabilities: AttributesInput::capabilities_from(a.capabilities.iter()),
            unrestricted_unidentified_access: true,
            ..Default::default()
        },
        aci_signed_pre_key: ec(&req.aci_signed_pre_key)?,
        aci_pq_last_resort_pre_key: kem(&req.aci_pq_last_resort_pre_key)?,
        pni_signed_pre_key: req.pni_signed_pre_key.as_ref().map(ec).transpose()?,
        pni_pq_last_resort_pre_key: req
            .pni_pq_last_resort_pre_key
            .as_ref()
            .map(kem)
            .transpose()?,
        apn_token: req.apn_token.map(|t| t.apn_registration_id),
        gcm_token: req.gcm_token.map(|t| t.gcm_registration_id),
    };
    let identifier = heliograph_chat::linking::token_identifier(&input.verification_code);
    let (account, device) = state.linking.link(input).await?;
    // Wake a primary waiting in wait_for_linked_device, on whichever node it waits.
    let _ = state
        .bus
        .send_provisioning(&wait_address(&identifier), Vec::new())
        .await;
    Ok(JsonResponse(
        json!({ "uuid": account.aci.to_string(), "pni": account.pni.to_string(), "deviceId": device.get() }),
    ))
}

fn wait_address(identifier: &str) -> String {
    format!("linkwait.{identifier}")
}

/// `GET /v1/devices`: every device with its name, day-truncated last-seen time, registration
/// id and HPKE-sealed creation time.
pub async fn get_devices(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> ApiResult<JsonResponse<Value>> {
    let devices: Vec<Value> = state
        .linking
        .list(&auth.account)?
        .iter()
        .map(device_json)
        .collect();
    Ok(JsonResponse(json!({ "devices": devices })))
}

/// `DELETE /v1/devices/{id}`: removes a linked device (its sockets close with 4401).
pub async fn delete_device(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: DeviceId = id
        .parse()
        .map_err(|_| ApiError::unprocessable("invalid device id"))?;
    state.linking.remove(&auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/devices/capabilities`: `{name: bool}` for the calling device.
pub async fn put_capabilities(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(caps): Json<std::collections::BTreeMap<String, bool>>,
) -> ApiResult<StatusCode> {
    state
        .linking
        .set_capabilities(&auth, AttributesInput::capabilities_from(caps.iter()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?timeout=` in seconds (1 to 3600, default 30).
#[derive(Debug, Deserialize)]
pub struct WaitQuery {
    timeout: Option<u64>,
}

/// `GET /v1/devices/wait_for_linked_device/{tokenIdentifier}?timeout=`: long poll that
/// answers 200 with the device once a device links with that token, or 204 after the timeout.
pub async fn get_wait_for_linked_device(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Path(identifier): Path<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<Response> {
    let timeout = q.timeout.unwrap_or(30);
    if !(1..=3600).contains(&timeout) {
        return Err(ApiError::bad_request("timeout must be 1 to 3600 seconds"));
    }
    let valid = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(identifier.trim_end_matches('='))
        .is_ok_and(|b| b.len() == 32);
    if !valid {
        return Err(ApiError::bad_request("invalid token identifier"));
    }
    let found = |account: &heliograph_storage::Account| -> ApiResult<Option<Value>> {
        let Some(id) = state.linking.recently_linked(account, &identifier) else {
            return Ok(None);
        };
        Ok(state
            .linking
            .list(account)?
            .iter()
            .find(|d| d.id == id)
            .map(device_json))
    };
    let address = wait_address(&identifier);
    let mut wake = state
        .bus
        .register_provisioning(&address)
        .await
        .map_err(|e| ApiError(ChatError::Internal(e.to_string())))?;
    let aci = auth.aci();
    let fresh = |state: AppState| async move { state.deps.stores.accounts.get_by_aci(aci).await };
    let result: ApiResult<Option<Value>> = async {
        if let Some(account) = fresh(state.clone()).await.map_err(|e| ApiError(e.into()))? {
            if let Some(d) = found(&account)? {
                return Ok(Some(d));
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Ok(None),
                _ = state.shutdown.cancelled() => return Ok(None),
                woke = wake.recv() => {
                    if woke.is_none() {
                        return Ok(None);
                    }
                    if let Some(account) = fresh(state.clone()).await.map_err(|e| ApiError(e.into()))? {
                        if let Some(d) = found(&account)? {
                            return Ok(Some(d));
                        }
                    }
                }
            }
        }
    }
    .await;
    state.bus.unregister_provisioning(&address).await;
    Ok(match result? {
        Some(d) => JsonResponse(d).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// `PUT /v1/provisioning/{address}`: relays the primary's encrypted provisioning envelope
/// (`{body: base64}`) to the provisioning socket with that address, on any node. 204 when
/// delivered, 404 when no socket listens there, 400 when the envelope is over 256 KiB.
pub async fn put_provisioning(
    State(state): State<AppState>,
    Auth(_auth): Auth,
    Path(address): Path<String>,
    Json(req): Json<ProvisioningMessage>,
) -> ApiResult<StatusCode> {
    let compact: String = req
        .body
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.trim_end_matches('='))
        })
        .map_err(|_| ApiError::bad_request("body is not base64"))?;
    if body.len() > MAX_PROVISIONING_BYTES {
        return Err(ApiError::bad_request("provisioning message too large"));
    }
    match state.bus.send_provisioning(&address, body).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError(ChatError::NotFound)),
        Err(e) => Err(ApiError(ChatError::Internal(e.to_string()))),
    }
}

/// `?deviceId=`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameQuery {
    device_id: Option<String>,
}

/// `PUT /v1/accounts/name/?deviceId=N`: sets a device's encrypted name (a linked device may
/// rename only itself: 403; unknown device: 404).
pub async fn put_device_name(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Query(q): Query<NameQuery>,
    Json(req): Json<DeviceName>,
) -> ApiResult<StatusCode> {
    let id = match q.device_id {
        Some(s) => s
            .parse::<DeviceId>()
            .map_err(|_| ApiError::unprocessable("invalid device id"))?,
        None => auth.device,
    };
    state.linking.set_name(&auth, id, req.device_name).await?;
    Ok(StatusCode::NO_CONTENT)
}
