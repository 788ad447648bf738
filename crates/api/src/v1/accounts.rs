//! `/v1/accounts/...`: whoami, attributes, push tokens, registration lock, existence, deletion,
//! usernames and username links.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, head, put};
use axum::{Json as JsonResponse, Router};
use uuid::Uuid;

use heliograph_chat::accounts::{self, PushKind};
use heliograph_chat::usernames;
use heliograph_protocol::b64;
use heliograph_protocol::json::{
    AccountAttributes, AccountIdentifierResponse, AccountIdentityResponse, ApnRegistrationId,
    ConfirmUsernameHashRequest, EncryptedUsername, GcmRegistrationId, RegistrationLockRequest,
    ReserveUsernameHashRequest, ReserveUsernameHashResponse, UsernameHashResponse,
    UsernameLinkHandle,
};
use heliograph_types::ServiceId;

use crate::auth::{Anonymous, Auth};
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

/// Account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts/whoami", get(get_whoami))
        .route("/v1/accounts/attributes/", put(put_attributes))
        .route("/v1/accounts/attributes", put(put_attributes))
        .route("/v1/accounts/gcm/", put(put_gcm).delete(delete_gcm))
        .route("/v1/accounts/apn/", put(put_apn).delete(delete_apn))
        .route(
            "/v1/accounts/registration_lock",
            put(put_registration_lock).delete(delete_registration_lock),
        )
        .route("/v1/accounts/account/{service_id}", head(head_account))
        .route("/v1/accounts/me", delete(delete_me))
        .route(
            "/v1/accounts/username_hash/reserve",
            put(put_username_reserve),
        )
        .route(
            "/v1/accounts/username_hash/confirm",
            put(put_username_confirm),
        )
        .route("/v1/accounts/username_hash", delete(delete_username_hash))
        .route("/v1/accounts/username_hash/{hash}", get(get_username_hash))
        .route(
            "/v1/accounts/username_link",
            put(put_username_link).delete(delete_username_link),
        )
        .route(
            "/v1/accounts/username_link/{handle}",
            get(get_username_link),
        )
}

/// `GET /v1/accounts/whoami`: the caller's ACI, PNI, number, username hash and link handle.
pub async fn get_whoami(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> ApiResult<JsonResponse<AccountIdentityResponse>> {
    let username = state
        .deps
        .stores
        .usernames
        .state(auth.aci())
        .await
        .map_err(|e| ApiError(e.into()))?;
    let mut identity = convert::account_identity(&auth.account);
    identity.username_hash = username.hash;
    identity.username_link_handle = username.link_handle;
    Ok(JsonResponse(identity))
}

/// `PUT /v1/accounts/attributes/`: updates the calling device and the account's access
/// settings; registration ids are not changed here.
pub async fn put_attributes(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(attrs): Json<AccountAttributes>,
) -> ApiResult<StatusCode> {
    let attrs = convert::attributes(attrs)?;
    accounts::set_attributes(&state.deps, &auth, attrs).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/accounts/gcm/`: sets the FCM token (clearing any APNs token).
pub async fn put_gcm(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(req): Json<GcmRegistrationId>,
) -> ApiResult<StatusCode> {
    accounts::set_push_token(&state.deps, &auth, PushKind::Fcm, req.gcm_registration_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/accounts/gcm/`.
pub async fn delete_gcm(State(state): State<AppState>, Auth(auth): Auth) -> ApiResult<StatusCode> {
    accounts::clear_push_token(&state.deps, &auth, PushKind::Fcm).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/accounts/apn/`: sets the APNs token (clearing any FCM token).
pub async fn put_apn(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(req): Json<ApnRegistrationId>,
) -> ApiResult<StatusCode> {
    accounts::set_push_token(&state.deps, &auth, PushKind::Apns, req.apn_registration_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/accounts/apn/`.
pub async fn delete_apn(State(state): State<AppState>, Auth(auth): Auth) -> ApiResult<StatusCode> {
    accounts::clear_push_token(&state.deps, &auth, PushKind::Apns).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/accounts/registration_lock`.
pub async fn put_registration_lock(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(req): Json<RegistrationLockRequest>,
) -> ApiResult<StatusCode> {
    accounts::set_registration_lock(&state.deps, &auth, Some(req.registration_lock)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/accounts/registration_lock`.
pub async fn delete_registration_lock(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> ApiResult<StatusCode> {
    accounts::set_registration_lock(&state.deps, &auth, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `HEAD /v1/accounts/account/{serviceId}`: 200 if the account exists, 404 if not; must be
/// called without credentials.
pub async fn head_account(
    State(state): State<AppState>,
    _anonymous: Anonymous,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: ServiceId = id
        .parse()
        .map_err(|_| ApiError::bad_request("invalid service id"))?;
    Ok(if accounts::exists(&state.deps, id).await? {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

/// `DELETE /v1/accounts/me`: deletes the account, its keys and queued messages, and closes its
/// sockets with 4401.
pub async fn delete_me(State(state): State<AppState>, Auth(auth): Auth) -> ApiResult<StatusCode> {
    accounts::delete(&state.deps, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/accounts/username_hash/reserve`: reserves the first free of 1 to 20 candidate
/// hashes for five minutes. 409 when all are taken, 422 for a malformed list.
pub async fn put_username_reserve(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(req): Json<ReserveUsernameHashRequest>,
) -> ApiResult<JsonResponse<ReserveUsernameHashResponse>> {
    let username_hash = usernames::reserve(&state.deps, &auth, &req.username_hashes).await?;
    Ok(JsonResponse(ReserveUsernameHashResponse { username_hash }))
}

/// `PUT /v1/accounts/username_hash/confirm`: confirms the reserved hash after checking its
/// zero-knowledge proof (422 if it fails). 409 without that reservation, 410 if it lapsed
/// and the hash was taken.
pub async fn put_username_confirm(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(req): Json<ConfirmUsernameHashRequest>,
) -> ApiResult<JsonResponse<UsernameHashResponse>> {
    let confirmed = usernames::confirm(
        &state.deps,
        &auth,
        &req.username_hash,
        &req.zk_proof,
        req.encrypted_username.as_deref(),
    )
    .await?;
    Ok(JsonResponse(UsernameHashResponse {
        username_hash: confirmed.hash,
        username_link_handle: confirmed.link_handle,
    }))
}

/// `DELETE /v1/accounts/username_hash`: releases the username and its link (204 also when
/// there is none).
pub async fn delete_username_hash(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> ApiResult<StatusCode> {
    usernames::delete(&state.deps, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/accounts/username_hash/{hash}`: the ACI whose username has this URL-safe base64
/// hash. Must be called without credentials (400); 422 for a malformed hash, 404 if unused.
pub async fn get_username_hash(
    State(state): State<AppState>,
    _anonymous: Anonymous,
    Path(hash): Path<String>,
) -> ApiResult<JsonResponse<AccountIdentifierResponse>> {
    let hash =
        b64::decode_url(&hash).map_err(|_| ApiError::unprocessable("invalid username hash"))?;
    let uuid = usernames::lookup(&state.deps, &hash).await?;
    Ok(JsonResponse(AccountIdentifierResponse { uuid }))
}

/// `PUT /v1/accounts/username_link`: stores the encrypted username behind a link handle and
/// returns the handle. 409 if the account has no username, 422 for a bad value.
pub async fn put_username_link(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(req): Json<EncryptedUsername>,
) -> ApiResult<JsonResponse<UsernameLinkHandle>> {
    let username_link_handle = usernames::set_link(
        &state.deps,
        &auth,
        &req.username_link_encrypted_value,
        req.keep_link_handle,
    )
    .await?;
    Ok(JsonResponse(UsernameLinkHandle {
        username_link_handle,
    }))
}

/// `DELETE /v1/accounts/username_link`: removes the link (204 also when there is none).
pub async fn delete_username_link(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> ApiResult<StatusCode> {
    usernames::delete_link(&state.deps, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/accounts/username_link/{uuid}`: the encrypted username behind a link handle.
/// Must be called without credentials; 404 for an unknown handle, 400 for a malformed one.
pub async fn get_username_link(
    State(state): State<AppState>,
    _anonymous: Anonymous,
    Path(handle): Path<String>,
) -> ApiResult<JsonResponse<EncryptedUsername>> {
    let handle: Uuid = handle
        .parse()
        .map_err(|_| ApiError::bad_request("invalid link handle"))?;
    let value = usernames::lookup_link(&state.deps, handle).await?;
    Ok(JsonResponse(EncryptedUsername {
        username_link_encrypted_value: value,
        keep_link_handle: false,
    }))
}
