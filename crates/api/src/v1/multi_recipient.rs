//! `PUT /v1/messages/multi_recipient`: one sealed-sender v2 payload for many recipients.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::put;
use axum::{Json as JsonResponse, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use heliograph_chat::multi_recipient::{MultiAuth, MultiRecipientSend, Recipient, MAX_RECIPIENTS};
use heliograph_chat::ChatError;
use heliograph_protocol::ssv2;

use crate::auth::{access_key, group_send_token, MaybeAuth};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The multi-recipient route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/messages/multi_recipient", put(put_multi_recipient))
}

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct MultiQuery {
    ts: Option<u64>,
    #[serde(default)]
    online: Option<bool>,
    #[serde(default)]
    urgent: Option<bool>,
    #[serde(default)]
    story: Option<bool>,
}

/// Parses an SSv2 body into recipients with their per-recipient payloads (400 on any
/// malformation, including a device listed twice for one recipient).
pub fn parse_recipients(body: &[u8]) -> ApiResult<Vec<Recipient>> {
    if body.is_empty() {
        return Err(ApiError::bad_request("empty body"));
    }
    let parsed = ssv2::MultiRecipientMessage::parse_with_limit(body, MAX_RECIPIENTS)
        .map_err(|e| ApiError::bad_request(format!("invalid multi-recipient message: {e}")))?;
    let mut out = Vec::with_capacity(parsed.recipients.len());
    for r in &parsed.recipients {
        let mut devices: Vec<_> = r
            .devices
            .iter()
            .map(|d| (d.device_id, u32::from(d.registration_id)))
            .collect();
        let before = devices.len();
        devices.sort_by_key(|d| d.0);
        devices.dedup_by_key(|d| d.0);
        if devices.len() != before {
            return Err(ApiError::bad_request("duplicate device for one recipient"));
        }
        out.push(Recipient {
            service_id: r.service_id,
            devices,
            payload: parsed.message_for_recipient(r),
        });
    }
    Ok(out)
}

/// `PUT /v1/messages/multi_recipient?ts=&online=&urgent=&story=`: body
/// `application/vnd.signal-messenger.mrm`. Authorized by a `Group-Send-Token` covering every
/// recipient, by the combined unidentified access key (XOR of the recipients' keys) or, for
/// stories, by nothing. 409 takes precedence over 410
/// here, and the bodies list each recipient.
pub async fn put_multi_recipient(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: HeaderMap,
    Query(q): Query<MultiQuery>,
    body: Bytes,
) -> ApiResult<JsonResponse<Value>> {
    let story = q.story.unwrap_or(false);
    let key = access_key(&headers)?;
    let token = group_send_token(&headers)?;
    if auth.is_some() {
        return Err(ApiError::bad_request("multi-recipient sends are anonymous"));
    }
    if token.is_some() && key.is_some() {
        return Err(ApiError::bad_request(
            "both an access key and a group send token",
        ));
    }
    let timestamp =
        q.ts.ok_or_else(|| ApiError::bad_request("ts is required"))?;
    let recipients = parse_recipients(&body)?;
    let multi_auth = if story {
        MultiAuth::Story
    } else if let Some(k) = key {
        MultiAuth::CombinedAccessKey(k)
    } else if let Some(t) = token {
        let members: Vec<_> = recipients.iter().map(|r| r.service_id).collect();
        state
            .zk
            .verify_group_send_token(&t, &members, state.deps.clock.now_ms())?;
        MultiAuth::GroupSendToken
    } else {
        return Err(ApiError(ChatError::Unauthorized));
    };
    let missing = state
        .messages
        .send_multi_recipient(
            multi_auth,
            MultiRecipientSend {
                recipients,
                timestamp,
                online: q.online.unwrap_or(false),
                urgent: q.urgent.unwrap_or(true),
                story,
            },
        )
        .await?;
    let uuids404: Vec<String> = missing.iter().map(|id| id.to_string()).collect();
    Ok(JsonResponse(json!({ "uuids404": uuids404 })))
}
