//! `/v1/accounts/...`: whoami, attributes, push tokens, registration lock, existence, deletion.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, head, put};
use axum::{Json as JsonResponse, Router};

use heliograph_chat::accounts::{self, PushKind};
use heliograph_protocol::json::{
    AccountAttributes, AccountIdentityResponse, ApnRegistrationId, GcmRegistrationId,
    RegistrationLockRequest,
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
}

/// `GET /v1/accounts/whoami`: the caller's ACI, PNI and number.
pub async fn get_whoami(Auth(auth): Auth) -> JsonResponse<AccountIdentityResponse> {
    JsonResponse(convert::account_identity(&auth.account))
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
