//! The chat WebSocket at `/v1/websocket/`, over HTTP/1.1 upgrade or HTTP/2 extended CONNECT.
//!
//! Frames are binary `WebSocketMessage` protobufs. Client REQUEST frames are turned into HTTP
//! requests and sent through the same router as plain HTTPS (one copy of every handler); the
//! socket's principal is attached as [`Tunnel`] so tunnelled requests act as the socket's
//! device. Server-initiated requests (message delivery) live in `delivery`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use prost::Message as _;
use tokio::sync::mpsc;
use tower::ServiceExt;

use heliograph_protocol::proto::websocket::{
    web_socket_message::Type as WebSocketMessageType, WebSocketMessage, WebSocketRequestMessage,
    WebSocketResponseMessage,
};
use heliograph_types::{Aci, DeviceId};

use crate::auth::{authenticate_headers, Tunnel};
use crate::delivery::Delivery;
use crate::state::AppState;
use heliograph_bus::SocketEvent;

/// Largest frame accepted.
pub const MAX_FRAME_BYTES: usize = 512 * 1024;

/// Initial read and write buffer of each socket. tungstenite's default of 128 KiB per socket
/// was most of an idle connection's memory (docs/benchmarks.md); buffers still grow for
/// larger frames.
pub const SOCKET_BUFFER_BYTES: usize = 4 * 1024;
/// Largest response body returned through the socket.
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// A socket that receives nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Requests from one socket handled at the same time.
const MAX_CONCURRENT_REQUESTS: usize = 32;

/// WebSocket routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/websocket/", any(get_websocket))
        .route("/v1/websocket", any(get_websocket))
}

/// Upgrade headers that are remembered and merged into every tunnelled request.
#[derive(Debug, Clone, Default)]
pub struct UpgradeInfo {
    /// `User-Agent` of the upgrade; it overrides per-request agents.
    pub user_agent: Option<String>,
    /// `X-Signal-Receive-Stories: true`.
    pub receive_stories: bool,
    /// `X-Signal-Disable-Messages: true`: a request-only socket.
    pub disable_messages: bool,
}

/// `GET /v1/websocket/` (or HTTP/2 `CONNECT` with `:protocol websocket`): opens the chat
/// socket, authenticated when the upgrade carries Basic credentials (403 when they are wrong),
/// unauthenticated otherwise.
pub async fn get_websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return (StatusCode::UPGRADE_REQUIRED, "WebSocket upgrade required").into_response();
    };
    let principal = match authenticate_headers(&state, &headers).await {
        Ok(p) => p.map(|d| (d.aci(), d.device)),
        Err(_) => return (StatusCode::FORBIDDEN, "Unauthorized").into_response(),
    };
    let flag = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    };
    let info = UpgradeInfo {
        user_agent: headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        receive_stories: flag("x-signal-receive-stories"),
        disable_messages: flag("x-signal-disable-messages"),
    };
    let tasks = state.tasks.clone();
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .on_upgrade(move |socket| {
            tasks.track_future(async move {
                run_session(state, socket, principal, info).await;
            })
        })
}

/// Outcome of handling one incoming frame.
enum FrameOutcome {
    Continue,
    Close(u16, &'static str),
    /// The client answered a server request.
    Response {
        id: u64,
        status: u32,
    },
}

async fn run_session(
    state: AppState,
    socket: WebSocket,
    principal: Option<(Aci, DeviceId)>,
    info: UpgradeInfo,
) {
    let Some(router) = state.dispatch_router() else {
        return;
    };
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
    let limiter = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_REQUESTS));

    let registration = match principal {
        Some((aci, device)) if !info.disable_messages => {
            match state.bus.register_socket(aci, device).await {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot register the socket on the bus");
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code: 1011,
                            reason: "Server error".into(),
                        })))
                        .await;
                    return;
                }
            }
        }
        _ => None,
    };
    let (reg_id, mut commands) = match registration {
        Some(r) => (Some(r.id), Some(r.events)),
        None => (None, None),
    };
    let mut delivery = match (principal, reg_id) {
        (Some((aci, device)), Some(_)) => Some(Delivery::new(aci, device, info.receive_stories)),
        _ => None,
    };
    let initial = match delivery.as_mut() {
        Some(d) => d.refill(&state).await,
        None => Vec::new(),
    };
    let failed = send_all(&mut sink, initial).await.is_err();

    let close = loop {
        if failed {
            break None;
        }
        let idle = tokio::time::sleep(IDLE_TIMEOUT);
        tokio::select! {
            _ = state.shutdown.cancelled() => break Some((1001, "Server shutting down".to_owned())),
            _ = idle => break Some((1000, "Idle timeout".to_owned())),
            cmd = async {
                match commands.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let frames = match (cmd, delivery.as_mut()) {
                    (Some(SocketEvent::Close { code, reason }), _) => {
                        // Answer requests already being handled (e.g. the DELETE that caused
                        // this close) before closing.
                        flush_responses(&mut sink, &mut out_rx, &limiter).await;
                        break Some((code, reason));
                    }
                    (Some(SocketEvent::NewMessages), Some(d)) => d.refill(&state).await,
                    (Some(SocketEvent::Ephemeral(env)), Some(d)) => vec![d.ephemeral(env)],
                    // The bus forgot this socket without a close event (shutdown): stop.
                    (None, _) => break Some((1001, "Going away".to_owned())),
                    _ => Vec::new(),
                };
                if send_all(&mut sink, frames).await.is_err() {
                    break None;
                }
            }
            Some(frame) = out_rx.recv() => {
                if sink.send(Message::Binary(frame.into())).await.is_err() {
                    break None;
                }
            }
            incoming = stream.next() => {
                let Some(Ok(msg)) = incoming else { break None };
                match msg {
                    Message::Binary(bytes) => {
                        match handle_frame(&router, &bytes, principal, &info, &out_tx, &limiter) {
                            FrameOutcome::Continue => {}
                            FrameOutcome::Close(code, reason) => break Some((code, reason.to_owned())),
                            FrameOutcome::Response { id, status } => {
                                if let Some(d) = delivery.as_mut() {
                                    if d.on_response(&state, id, status).await {
                                        let frames = d.refill(&state).await;
                                        if send_all(&mut sink, frames).await.is_err() {
                                            break None;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    Message::Close(_) => break None,
                    // Text frames are ignored; pings are answered by the WebSocket layer.
                    _ => {}
                }
            }
        }
    };
    if let Some((code, reason)) = close {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    let _ = sink.close().await;
    if let (Some((aci, device)), Some(id)) = (principal, reg_id) {
        state.bus.unregister_socket(aci, device, id).await;
    }
}

/// Waits (at most a second) for in-flight tunnelled requests and sends their responses.
async fn flush_responses(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    out_rx: &mut mpsc::Receiver<Vec<u8>>,
    limiter: &tokio::sync::Semaphore,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        while let Ok(frame) = out_rx.try_recv() {
            if sink.send(Message::Binary(frame.into())).await.is_err() {
                return;
            }
        }
        if limiter.available_permits() == MAX_CONCURRENT_REQUESTS {
            return;
        }
        match tokio::time::timeout_at(deadline, out_rx.recv()).await {
            Ok(Some(frame)) => {
                if sink.send(Message::Binary(frame.into())).await.is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

async fn send_all(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    frames: Vec<Vec<u8>>,
) -> Result<(), axum::Error> {
    for frame in frames {
        sink.send(Message::Binary(frame.into())).await?;
    }
    Ok(())
}

fn handle_frame(
    router: &Router,
    bytes: &[u8],
    principal: Option<(Aci, DeviceId)>,
    info: &UpgradeInfo,
    out: &mpsc::Sender<Vec<u8>>,
    limiter: &std::sync::Arc<tokio::sync::Semaphore>,
) -> FrameOutcome {
    let Ok(frame) = WebSocketMessage::decode(bytes) else {
        return FrameOutcome::Close(1007, "Badly formatted");
    };
    match frame.r#type() {
        WebSocketMessageType::Request => {
            let Some(request) = frame.request else {
                return FrameOutcome::Close(1007, "Badly formatted");
            };
            let router = router.clone();
            let out = out.clone();
            let info = info.clone();
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let Ok(_permit) = limiter.acquire_owned().await else {
                    return;
                };
                let id = request.id;
                let response = dispatch(router, request, principal, &info).await;
                if let Some(id) = id {
                    let frame = WebSocketMessage {
                        r#type: Some(WebSocketMessageType::Response as i32),
                        request: None,
                        response: Some(WebSocketResponseMessage {
                            id: Some(id),
                            ..response
                        }),
                    };
                    let _ = out.send(frame.encode_to_vec()).await;
                }
            });
            FrameOutcome::Continue
        }
        WebSocketMessageType::Response => {
            let Some(response) = frame.response else {
                return FrameOutcome::Close(1007, "Badly formatted");
            };
            match (response.id, response.status, response.message.as_ref()) {
                (Some(id), Some(status), Some(_)) => FrameOutcome::Response { id, status },
                _ => FrameOutcome::Close(1007, "Badly formatted"),
            }
        }
        _ => FrameOutcome::Close(1007, "Badly formatted"),
    }
}

/// Runs one tunnelled request through the router.
async fn dispatch(
    router: Router,
    request: WebSocketRequestMessage,
    principal: Option<(Aci, DeviceId)>,
    info: &UpgradeInfo,
) -> WebSocketResponseMessage {
    let (Some(verb), Some(path)) = (request.verb.as_deref(), request.path.as_deref()) else {
        return status_only(StatusCode::BAD_REQUEST);
    };
    let mut builder = http::Request::builder().method(verb).uri(path);
    for line in &request.headers {
        if let Some((name, value)) = parse_header(line) {
            if is_excluded_header(&name) || (name == "user-agent" && info.user_agent.is_some()) {
                continue;
            }
            builder = builder.header(name, value);
        }
    }
    if let Some(agent) = &info.user_agent {
        builder = builder.header(http::header::USER_AGENT, agent);
    }
    let body = request.body.unwrap_or_default();
    let req = match builder
        .extension(Tunnel { principal })
        .body(Body::from(body))
    {
        Ok(r) => r,
        Err(_) => return status_only(StatusCode::BAD_REQUEST),
    };
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let (parts, body) = resp.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_RESPONSE_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return status_only(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let mut headers: Vec<String> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| format!("{}:{}", k.as_str(), v)))
        .collect();
    headers.push(format!("content-length:{}", body.len()));
    WebSocketResponseMessage {
        id: None,
        status: Some(u32::from(parts.status.as_u16())),
        message: Some(
            parts
                .status
                .canonical_reason()
                .unwrap_or("Unknown")
                .to_owned(),
        ),
        headers,
        body: (!body.is_empty()).then(|| Bytes::copy_from_slice(&body).to_vec()),
    }
}

/// Splits a `name:value` header line. Names are lower-cased; a value holding another `:` is
/// dropped, as the official server does.
fn parse_header(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once(':')?;
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() || value.contains(':') {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.to_owned()))
}

fn is_excluded_header(name: &str) -> bool {
    name == "connection"
        || name == "upgrade"
        || name == "x-forwarded-for"
        || name == "host"
        || name.contains("websocket-")
}

fn status_only(status: StatusCode) -> WebSocketResponseMessage {
    WebSocketResponseMessage {
        id: None,
        status: Some(u32::from(status.as_u16())),
        message: Some(status.canonical_reason().unwrap_or("Unknown").to_owned()),
        headers: vec![format!("x-signal-timestamp:{}", crate::timestamp::now_ms())],
        body: None,
    }
}
