//! The provisioning WebSocket at `/v1/websocket/provisioning/`: a new device learns a
//! random address (`PUT /v1/address`), shows it to the primary, and receives the primary's
//! encrypted provisioning envelope (`PUT /v1/message`) relayed through the bus from whichever
//! node the primary called; the socket then closes with 1000.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use prost::Message as _;
use rand::RngCore;

use heliograph_protocol::proto::textsecure::ProvisioningAddress;
use heliograph_protocol::proto::websocket::{
    web_socket_message, WebSocketMessage, WebSocketRequestMessage,
};

use crate::state::AppState;
use crate::timestamp::now_ms;

/// The socket closes itself after this long.
pub const PROVISIONING_TIMEOUT: Duration = Duration::from_secs(90);

/// Provisioning socket routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/websocket/provisioning/", any(get_provisioning))
        .route("/v1/websocket/provisioning", any(get_provisioning))
}

/// `GET /v1/websocket/provisioning/`: unauthenticated provisioning socket.
pub async fn get_provisioning(
    State(state): State<AppState>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return (StatusCode::UPGRADE_REQUIRED, "WebSocket upgrade required").into_response();
    };
    let tasks = state.tasks.clone();
    ws.max_message_size(64 * 1024)
        .read_buffer_size(crate::websocket::SOCKET_BUFFER_BYTES)
        .write_buffer_size(crate::websocket::SOCKET_BUFFER_BYTES)
        .on_upgrade(move |socket| tasks.track_future(run(state, socket)))
}

fn request(id: u64, path: &str, body: Vec<u8>) -> Vec<u8> {
    WebSocketMessage {
        r#type: Some(web_socket_message::Type::Request as i32),
        request: Some(WebSocketRequestMessage {
            verb: Some("PUT".into()),
            path: Some(path.into()),
            body: Some(body),
            id: Some(id),
            headers: vec![format!("X-Signal-Timestamp:{}", now_ms())],
        }),
        response: None,
    }
    .encode_to_vec()
}

async fn run(state: AppState, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let address = base64::engine::general_purpose::URL_SAFE.encode(raw);
    let mut envelopes = match state.bus.register_provisioning(&address).await {
        Ok(rx) => rx,
        Err(e) => {
            tracing::warn!(error = %e, "cannot register a provisioning address");
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code: 1011,
                    reason: "Server error".into(),
                })))
                .await;
            return;
        }
    };
    let body = ProvisioningAddress {
        address: Some(address.clone()),
    }
    .encode_to_vec();
    let mut close = if sink
        .send(Message::Binary(request(0, "/v1/address", body).into()))
        .await
        .is_err()
    {
        None
    } else {
        let deadline = tokio::time::sleep(PROVISIONING_TIMEOUT);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break Some((1000, "Timeout")),
                _ = state.shutdown.cancelled() => break Some((1001, "Server shutting down")),
                envelope = envelopes.recv() => match envelope {
                    Some(env) => {
                        if sink.send(Message::Binary(request(1, "/v1/message", env).into())).await.is_err() {
                            break None;
                        }
                        // Close only once the device acknowledged the envelope (or gave up), so
                        // the close can never overtake the envelope on the client.
                        let acked = tokio::time::timeout(ACK_WAIT, async {
                            while let Some(Ok(msg)) = stream.next().await {
                                if let Message::Binary(bytes) = msg {
                                    if is_response_to(&bytes, 1) {
                                        return;
                                    }
                                }
                            }
                        })
                        .await;
                        if acked.is_err() {
                            tracing::debug!("provisioning envelope not acknowledged in time");
                        }
                        break Some((1000, "Closed"));
                    }
                    None => break Some((1001, "Going away")),
                },
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Binary(bytes))) => {
                        if let Some(resp) = answer_keepalive(&bytes) {
                            if sink.send(Message::Binary(resp.into())).await.is_err() {
                                break None;
                            }
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(_)) => {}
                },
            }
        }
    };
    state.bus.unregister_provisioning(&address).await;
    if let Some((code, reason)) = close.take() {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    let _ = sink.close().await;
}

/// How long the socket waits for the device to acknowledge the provisioning envelope.
const ACK_WAIT: Duration = Duration::from_secs(10);

fn is_response_to(bytes: &[u8], id: u64) -> bool {
    WebSocketMessage::decode(bytes)
        .ok()
        .and_then(|m| m.response)
        .is_some_and(|r| r.id == Some(id))
}

/// Answers `GET /v1/keepalive/provisioning` (and any other request with 404) on the
/// provisioning socket; responses to our own requests need no answer.
fn answer_keepalive(bytes: &[u8]) -> Option<Vec<u8>> {
    let frame = WebSocketMessage::decode(bytes).ok()?;
    let request = frame.request?;
    let id = request.id?;
    let ok = request.verb.as_deref() == Some("GET")
        && request
            .path
            .as_deref()
            .is_some_and(|p| p.starts_with("/v1/keepalive"));
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Some(
        WebSocketMessage {
            r#type: Some(web_socket_message::Type::Response as i32),
            request: None,
            response: Some(
                heliograph_protocol::proto::websocket::WebSocketResponseMessage {
                    id: Some(id),
                    status: Some(u32::from(status.as_u16())),
                    message: Some(status.canonical_reason().unwrap_or("").to_owned()),
                    body: None,
                    headers: vec![format!("x-signal-timestamp:{}", now_ms())],
                },
            ),
        }
        .encode_to_vec(),
    )
}
