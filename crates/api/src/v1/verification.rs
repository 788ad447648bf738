//! `/v1/verification/session`: registration verification sessions (no authentication).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json as JsonResponse, Router};
use serde_json::Value;

use heliograph_chat::codes::Transport;
use heliograph_chat::registration::{parse_session_id, Registration};
use heliograph_protocol::json::{
    CreateVerificationSessionRequest, SubmitVerificationCodeRequest,
    UpdateVerificationSessionRequest, VerificationCodeRequest, VerificationTransport,
};
use heliograph_types::E164;

use crate::convert;
use crate::error::{session_json, ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

/// Verification session routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/verification/session", post(post_session))
        .route(
            "/v1/verification/session/{id}",
            get(get_session).patch(patch_session),
        )
        .route(
            "/v1/verification/session/{id}/code",
            post(post_code).put(put_code),
        )
}

/// `POST /v1/verification/session`: starts a session for a number; captcha (and a push
/// challenge when a push token is given) must be answered before a code can be requested.
pub async fn post_session(
    State(state): State<AppState>,
    Json(req): Json<CreateVerificationSessionRequest>,
) -> ApiResult<JsonResponse<Value>> {
    let number =
        E164::parse(&req.number).map_err(|_| ApiError::bad_request("invalid phone number"))?;
    let update = convert::session_update(
        req.push_token,
        req.push_token_type,
        req.push_challenge,
        req.captcha,
    )?;
    let view = state.registration.create_session(number, update).await?;
    Ok(JsonResponse(session_json(&view)))
}

/// `GET /v1/verification/session/{id}`.
pub async fn get_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Value>> {
    let id = parse_session_id(&id)?;
    Ok(JsonResponse(session_json(
        &state.registration.get_session(&id).await?,
    )))
}

/// `PATCH /v1/verification/session/{id}`: push token, push challenge answer or captcha. A
/// wrong answer is a 403 whose body is the session; a malformed captcha is a 400.
pub async fn patch_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(req): Json<UpdateVerificationSessionRequest>,
) -> ApiResult<JsonResponse<Value>> {
    let id = parse_session_id(&id)?;
    if req
        .captcha
        .as_deref()
        .is_some_and(|c| !Registration::captcha_well_formed(c))
    {
        return Err(ApiError::bad_request("malformed captcha"));
    }
    let update = convert::session_update(
        req.push_token,
        req.push_token_type,
        req.push_challenge,
        req.captcha,
    )?;
    Ok(JsonResponse(session_json(
        &state.registration.update_session(&id, update).await?,
    )))
}

/// `POST /v1/verification/session/{id}/code`: sends a code by SMS or voice.
pub async fn post_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _headers: HeaderMap,
    Json(req): Json<VerificationCodeRequest>,
) -> ApiResult<JsonResponse<Value>> {
    let id = parse_session_id(&id)?;
    let transport = match req.transport {
        VerificationTransport::Sms => Transport::Sms,
        VerificationTransport::Voice => Transport::Voice,
    };
    Ok(JsonResponse(session_json(
        &state.registration.request_code(&id, transport).await?,
    )))
}

/// `PUT /v1/verification/session/{id}/code`: checks a code; the response says `verified`.
pub async fn put_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(req): Json<SubmitVerificationCodeRequest>,
) -> ApiResult<JsonResponse<Value>> {
    let id = parse_session_id(&id)?;
    Ok(JsonResponse(session_json(
        &state.registration.submit_code(&id, &req.code).await?,
    )))
}
