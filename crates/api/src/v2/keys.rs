//! `/v2/keys`: prekey upload, counts, bundle fetch and the consistency check.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json as JsonResponse, Router};
use serde::Deserialize;

use heliograph_chat::keys::{self as domain, Access, DeviceSelector};
use heliograph_chat::ChatError;
use heliograph_protocol::json::{
    CheckKeysRequest, PreKeyCountResponse, PreKeyResponse, SetKeysRequest,
};
use heliograph_storage::IdentityType;
use heliograph_types::{DeviceId, ServiceId};

use crate::auth::{access_key, group_send_token, Auth, MaybeAuth};
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

/// Key routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v2/keys", get(get_keys).put(put_keys))
        .route("/v2/keys/", get(get_keys).put(put_keys))
        .route("/v2/keys/check", post(post_check))
        .route("/v2/keys/{service_id}/{device}", get(get_prekeys))
}

/// `?identity=aci|pni`.
#[derive(Debug, Deserialize)]
pub struct IdentityQuery {
    identity: Option<String>,
}

fn identity(q: &IdentityQuery) -> ApiResult<IdentityType> {
    match q
        .identity
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("aci") => Ok(IdentityType::Aci),
        Some("pni") => Ok(IdentityType::Pni),
        Some(_) => Err(ApiError::bad_request("identity must be aci or pni")),
    }
}

/// `GET /v2/keys?identity=aci|pni`: how many one-time EC and KEM keys the device has left.
pub async fn get_keys(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Query(q): Query<IdentityQuery>,
) -> ApiResult<JsonResponse<PreKeyCountResponse>> {
    let counts = domain::count(&state.deps, &auth, identity(&q)?).await?;
    Ok(JsonResponse(PreKeyCountResponse {
        count: counts.ec,
        pq_count: counts.kem,
    }))
}

/// `PUT /v2/keys?identity=aci|pni`: stores prekeys after checking every signature against the
/// account's identity key (422 otherwise). Non-empty one-time lists replace the stored ones.
pub async fn put_keys(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Query(q): Query<IdentityQuery>,
    Json(req): Json<SetKeysRequest>,
) -> ApiResult<StatusCode> {
    let keys = convert::set_keys(req)?;
    domain::set_keys(&state.deps, &auth, identity(&q)?, keys).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v2/keys/{serviceId}/{deviceId|*}`: the bundle, consuming one one-time EC and one KEM
/// key per device (falling back to the last-resort KEM key). Account auth or an
/// `Unidentified-Access-Key`; credentials together with an access key are a 400.
pub async fn get_prekeys(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: HeaderMap,
    Path((target, device)): Path<(String, String)>,
) -> ApiResult<JsonResponse<PreKeyResponse>> {
    let target: ServiceId = target.parse().map_err(|_| ApiError(ChatError::NotFound))?;
    let selector = if device == "*" {
        DeviceSelector::All
    } else {
        DeviceSelector::One(
            device
                .parse::<DeviceId>()
                .map_err(|_| ApiError::unprocessable("invalid device id"))?,
        )
    };
    let key = access_key(&headers)?;
    let token = group_send_token(&headers)?;
    let access = match (auth, key, token) {
        (Some(a), None, None) => Access::Account(Box::new(a)),
        (None, Some(k), None) => Access::AccessKey(k),
        (None, None, Some(t)) => {
            state
                .zk
                .verify_group_send_token(&t, &[target], state.deps.clock.now_ms())?;
            Access::GroupSendToken
        }
        (None, None, None) => Access::None,
        _ => {
            return Err(ApiError::bad_request(
                "use exactly one of credentials, an access key or a group send token",
            ))
        }
    };
    let bundle = domain::fetch_bundle(&state.deps, target, selector, &access).await?;
    Ok(JsonResponse(convert::pre_key_response(bundle)?))
}

/// `POST /v2/keys/check`: 200 if the client's digest matches the stored identity key, signed
/// prekey and last-resort key, 409 otherwise.
pub async fn post_check(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(req): Json<CheckKeysRequest>,
) -> ApiResult<StatusCode> {
    let identity = match req.identity_type {
        heliograph_protocol::json::IdentityType::Aci => IdentityType::Aci,
        heliograph_protocol::json::IdentityType::Pni => IdentityType::Pni,
    };
    if domain::check_digest(&state.deps, &auth, identity, &req.digest).await? {
        Ok(StatusCode::OK)
    } else {
        Ok(StatusCode::CONFLICT)
    }
}
