//! `/v1/messages`: single-recipient sends and the HTTP fallback for fetching and
//! acknowledging queued messages.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, put};
use axum::{Json as JsonResponse, Router};
use base64::Engine;
use prost::Message as _;
use serde::Deserialize;
use serde_json::{json, Value};

use heliograph_chat::messages::Sender;
use heliograph_chat::ChatError;
use heliograph_protocol::json::IncomingMessageList;
use heliograph_protocol::proto::textsecure::Envelope;
use heliograph_types::{MessageGuid, ServiceId};

use crate::auth::{access_key, group_send_token, Auth, MaybeAuth};
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;

/// Message routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/messages/{destination}", put(put_message))
        .route("/v1/messages", axum::routing::get(get_messages))
        .route("/v1/messages/", axum::routing::get(get_messages))
        .route("/v1/messages/uuid/{guid}", delete(delete_message))
}

/// `?story=true`.
#[derive(Debug, Deserialize)]
pub struct StoryQuery {
    #[serde(default)]
    story: Option<String>,
}

/// `PUT /v1/messages/{destination}[?story=true]`: an identified send (account auth), a sync
/// message (to the caller's own ACI), a sealed-sender send (`Unidentified-Access-Key`) or a
/// story. 409/410 report a wrong device set or stale registration ids (410 first).
pub async fn put_message(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: HeaderMap,
    Path(destination): Path<String>,
    Query(q): Query<StoryQuery>,
    Json(body): Json<IncomingMessageList>,
) -> ApiResult<JsonResponse<Value>> {
    let destination: ServiceId = destination
        .parse()
        .map_err(|_| ApiError(ChatError::NotFound))?;
    let story = q
        .story
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("true"));
    let key = access_key(&headers)?;
    let token = group_send_token(&headers)?;
    if token.is_some() && (auth.is_some() || key.is_some()) {
        return Err(ApiError::bad_request(
            "a group send token cannot be combined with other credentials",
        ));
    }
    let sender = if story {
        Sender::Story
    } else if let Some(a) = auth {
        Sender::Device(Box::new(a))
    } else if let Some(k) = key {
        Sender::AccessKey(k)
    } else if let Some(t) = token {
        state
            .zk
            .verify_group_send_token(&t, &[destination], state.deps.clock.now_ms())?;
        Sender::GroupSendToken
    } else {
        return Err(ApiError(ChatError::Unauthorized));
    };
    let req = convert::send_request(destination, story, body)?;
    let outcome = state.messages.send(sender, req).await?;
    Ok(JsonResponse(json!({ "needsSync": outcome.needs_sync })))
}

/// `GET /v1/messages`: the HTTP fallback for clients without a socket (retired upstream in
/// 2026-06, kept for older clients). Up to 100 queued messages, oldest first.
pub async fn get_messages(
    State(state): State<AppState>,
    Auth(auth): Auth,
    headers: HeaderMap,
) -> ApiResult<JsonResponse<Value>> {
    let stories = headers
        .get("x-signal-receive-stories")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let batch = state
        .messages
        .read(auth.aci(), auth.device, None, 101)
        .await?;
    let more = batch.len() > 100;
    let b64 = base64::engine::general_purpose::STANDARD;
    let messages: Vec<Value> = batch
        .into_iter()
        .take(100)
        .filter(|m| stories || !m.story)
        .filter_map(|m| {
            let env = Envelope::decode(m.envelope.as_slice()).ok()?;
            let source = env
                .source_service_id
                .as_deref()
                .and_then(|b| ServiceId::from_binary(b).ok());
            let destination = env
                .destination_service_id
                .as_deref()
                .and_then(|b| ServiceId::from_binary(b).ok());
            Some(json!({
                "guid": m.guid.to_string(),
                "type": env.r#type.unwrap_or(0),
                "timestamp": env.client_timestamp(),
                "sourceUuid": source.map(|s| s.to_string()),
                "sourceDevice": env.source_device.unwrap_or(0),
                "destinationUuid": destination.map(|s| s.to_string()),
                "content": env.content.as_deref().map(|c| b64.encode(c)),
                "serverTimestamp": env.server_timestamp(),
                "urgent": env.urgent(),
                "story": env.story(),
            }))
        })
        .collect();
    Ok(JsonResponse(json!({ "messages": messages, "more": more })))
}

/// `DELETE /v1/messages/uuid/{guid}`: acknowledges a message fetched over HTTP (and sends the
/// delivery receipt), like a 200 answer on the socket.
pub async fn delete_message(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Path(guid): Path<String>,
) -> ApiResult<StatusCode> {
    let guid: MessageGuid = guid
        .parse()
        .map_err(|_| ApiError::bad_request("invalid message guid"))?;
    state
        .messages
        .acknowledge(auth.aci(), auth.device, guid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
