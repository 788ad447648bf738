//! One simulated device's chat socket: tunnelled requests matched to their responses by id,
//! server pushes handed to a [`PushHandler`] and acknowledged with `200 OK` as a real client
//! does, a keepalive every 30 s, and unexpected closes reported.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use heliograph_protocol::proto::textsecure::Envelope;
use heliograph_protocol::proto::websocket::{
    web_socket_message::Type, WebSocketMessage, WebSocketRequestMessage, WebSocketResponseMessage,
};
use heliograph_protocol::websocket::{encode_request, encode_response, request, response};

use crate::transport::{ConnectError, Target};

/// How long a request may wait for its response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// libsignal's keepalive period (the server closes a socket idle for 90 s).
const KEEPALIVE: Duration = Duration::from_secs(30);
/// Frames queued for the writer before senders wait.
const OUTBOUND_QUEUE: usize = 1024;

/// What a device does with what the server pushes.
pub trait PushHandler: Send + Sync + 'static {
    /// `PUT /api/v1/message`; `received` is when the frame was read. The socket acks it after
    /// this returns.
    fn envelope(&self, envelope: Envelope, received: Instant);
    /// `PUT /api/v1/queue/empty` (never acknowledged, like libsignal).
    fn queue_empty(&self) {}
    /// The server closed the socket, or the connection broke, while we had not closed it.
    fn unexpected_close(&self, _reason: &str) {}
}

/// A handler that ignores everything (request-only sockets).
pub struct Ignore;
impl PushHandler for Ignore {
    fn envelope(&self, _: Envelope, _: Instant) {}
}

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No response within [`REQUEST_TIMEOUT`].
    #[error("timed out")]
    Timeout,
    /// The socket closed first.
    #[error("socket closed")]
    Closed,
}

/// A response as the tool needs it.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Body bytes (empty if none).
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<WebSocketResponseMessage>>>>;

/// An open chat socket. Dropping it closes the connection.
pub struct Socket {
    out: mpsc::Sender<Message>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
    closing: Arc<AtomicBool>,
    closed: Arc<tokio::sync::Notify>,
    is_closed: Arc<AtomicBool>,
}

impl Socket {
    /// Opens an authenticated socket for `aci.device` with its password.
    pub async fn authenticated(
        target: &Target,
        username: &str,
        password: &str,
        handler: Arc<dyn PushHandler>,
    ) -> Result<Socket, ConnectError> {
        use base64::Engine;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let headers = [
            ("authorization", format!("Basic {basic}")),
            ("user-agent", "heliograph-load".to_owned()),
            ("x-signal-receive-stories", "false".to_owned()),
        ];
        Self::open(target, &headers, handler).await
    }

    /// Opens an unauthenticated socket (registration, sealed-sender sends).
    pub async fn unauthenticated(target: &Target) -> Result<Socket, ConnectError> {
        let headers = [("user-agent", "heliograph-load".to_owned())];
        Self::open(target, &headers, Arc::new(Ignore)).await
    }

    async fn open(
        target: &Target,
        headers: &[(&str, String)],
        handler: Arc<dyn PushHandler>,
    ) -> Result<Socket, ConnectError> {
        let ws = target.connect("/v1/websocket/", headers).await?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::channel::<Message>(OUTBOUND_QUEUE);
        let pending: Pending = Arc::default();
        let next_id = Arc::new(AtomicU64::new(1));
        let closing = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(tokio::sync::Notify::new());
        let is_closed = Arc::new(AtomicBool::new(false));

        // Writer: batches whatever is queued into one flush; sends keepalives.
        let keepalive_ids = next_id.clone();
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
            loop {
                let first = tokio::select! {
                    m = rx.recv() => match m { Some(m) => m, None => break },
                    _ = tick.tick() => {
                        let id = keepalive_ids.fetch_add(1, Ordering::Relaxed);
                        Message::binary(encode_request(request(id, "GET", "/v1/keepalive", vec![], None)))
                    }
                };
                let is_close = matches!(first, Message::Close(_));
                if sink.feed(first).await.is_err() {
                    break;
                }
                while let Ok(m) = rx.try_recv() {
                    if sink.feed(m).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() || is_close {
                    break;
                }
            }
            let _ = sink.close().await;
        });

        // Reader: responses to their waiters, pushes to the handler (then acked).
        let r_pending = pending.clone();
        let r_out = out.clone();
        let r_closing = closing.clone();
        let r_closed = closed.clone();
        let r_is_closed = is_closed.clone();
        tokio::spawn(async move {
            let reason = loop {
                let msg = match stream.next().await {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => break format!("read error: {e}"),
                    None => break "connection ended".to_owned(),
                };
                let bytes = match msg {
                    Message::Binary(b) => b,
                    Message::Close(frame) => {
                        break match frame {
                            Some(f) => {
                                format!("closed by server: {} {}", u16::from(f.code), f.reason)
                            }
                            None => "closed by server".to_owned(),
                        }
                    }
                    _ => continue,
                };
                let received = Instant::now();
                let Ok(frame) = WebSocketMessage::decode(bytes.as_ref()) else {
                    break "undecodable frame from server".to_owned();
                };
                match frame.r#type() {
                    Type::Response => {
                        if let Some(resp) = frame.response {
                            let waiter = resp.id.and_then(|id| {
                                r_pending
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .remove(&id)
                            });
                            if let Some(w) = waiter {
                                let _ = w.send(resp);
                            }
                        }
                    }
                    Type::Request => {
                        if let Some(req) = frame.request {
                            if let Some(ack) = handle_push(&*handler, req, received) {
                                if r_out.send(Message::binary(ack)).await.is_err() {
                                    break "writer gone".to_owned();
                                }
                            }
                        }
                    }
                    _ => {}
                }
            };
            r_is_closed.store(true, Ordering::SeqCst);
            r_pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            if !r_closing.load(Ordering::SeqCst) {
                handler.unexpected_close(&reason);
            }
            r_closed.notify_waiters();
        });

        Ok(Socket {
            out,
            pending,
            next_id,
            closing,
            closed,
            is_closed,
        })
    }

    /// Sends a tunnelled request and waits for its response.
    pub async fn request(
        &self,
        verb: &str,
        path: &str,
        headers: Vec<String>,
        body: Option<Vec<u8>>,
    ) -> Result<Response, RequestError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, tx);
        if self.is_closed.load(Ordering::SeqCst) {
            return Err(RequestError::Closed);
        }
        let frame = encode_request(request(id, verb, path, headers, body));
        if self.out.send(Message::binary(frame)).await.is_err() {
            return Err(RequestError::Closed);
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Ok(Ok(resp)) => Ok(Response {
                status: resp.status.unwrap_or(0) as u16,
                body: resp.body.unwrap_or_default(),
            }),
            Ok(Err(_)) => Err(RequestError::Closed),
            Err(_) => {
                self.pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
                Err(RequestError::Timeout)
            }
        }
    }

    /// A JSON request (`content-type: application/json`).
    pub async fn json<T: serde::Serialize>(
        &self,
        verb: &str,
        path: &str,
        mut headers: Vec<String>,
        body: &T,
    ) -> Result<Response, RequestError> {
        headers.push("content-type:application/json".to_owned());
        let body = serde_json::to_vec(body).unwrap_or_default();
        self.request(verb, path, headers, Some(body)).await
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.is_closed.load(Ordering::SeqCst)
    }

    /// Closes the socket normally (1000) and waits, at most 60 s, until the server closes its
    /// side. The server reads frames in order, so by then it has handled every
    /// acknowledgement sent before.
    pub async fn close(self) {
        self.closing.store(true, Ordering::SeqCst);
        let notified = self.closed.notified();
        if self.is_closed.load(Ordering::SeqCst) {
            return;
        }
        let _ = self.out.send(Message::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(60), notified).await;
    }
}

impl Drop for Socket {
    /// A dropped socket is closed normally too (the writer ends after the close frame).
    fn drop(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
        let _ = self.out.try_send(Message::Close(None));
    }
}

/// Handles a server request; returns the response frame to send, if any.
fn handle_push(
    handler: &dyn PushHandler,
    req: WebSocketRequestMessage,
    received: Instant,
) -> Option<Vec<u8>> {
    let path = req.path.as_deref().unwrap_or_default();
    match path {
        "/api/v1/message" => {
            if let Ok(env) = Envelope::decode(req.body.as_deref().unwrap_or_default()) {
                handler.envelope(env, received);
            }
        }
        "/api/v1/queue/empty" => {
            handler.queue_empty();
            // libsignal drops the responder without answering; so do we.
            return None;
        }
        _ => {}
    }
    let id = req.id?;
    Some(encode_response(response(id, 200, "OK", vec![], None)))
}
