//! `POST /v1/registration`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json as JsonResponse, Router};

use heliograph_chat::ChatError;
use heliograph_protocol::json::{AccountCreationResponse, RegistrationRequest};
use heliograph_types::E164;

use crate::auth::basic_credentials;
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

/// The registration route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/registration", post(post_registration))
}

/// `POST /v1/registration`: creates (or re-registers) the account of the number in the Basic
/// auth username, with the Basic password as the primary device's password. Reads the header
/// itself, so it also works on an unauthenticated WebSocket.
pub async fn post_registration(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<RegistrationRequest>,
) -> ApiResult<JsonResponse<AccountCreationResponse>> {
    let (user, password) = basic_credentials(&headers)?.ok_or(ApiError(ChatError::Unauthorized))?;
    let number = E164::parse(&user).map_err(|_| ApiError(ChatError::Unauthorized))?;
    if password.expose().is_empty()
        || password.expose().len() > heliograph_chat::auth::MAX_PASSWORD_LEN
    {
        return Err(ApiError(ChatError::Unauthorized));
    }
    let agent = headers
        .get("x-signal-agent")
        .or_else(|| headers.get(http::header::USER_AGENT))
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect());
    let input = convert::registration_input(req, number, password, agent)?;
    let outcome = state.registration.register(input).await?;
    Ok(JsonResponse(convert::account_creation(
        &outcome.account,
        outcome.reregistration,
    )))
}
