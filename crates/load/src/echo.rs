//! `heliograph-echo`: the baseline. A minimal TLS WebSocket relay that speaks just enough of
//! the chat protocol for every load scenario to run unchanged against it, over the same stack
//! as heliograph (rustls, hyper's HTTP/1.1 + HTTP/2 auto builder with extended CONNECT,
//! WebSocket framing, protobuf frames):
//!
//! * every request is answered `200` at once, with the smallest body a client accepts;
//! * `PUT /v1/messages/{aci}` and `PUT /v1/messages/multi_recipient` turn each addressed
//!   device's ciphertext into an `Envelope` pushed to that device's socket, or kept in memory
//!   until it connects;
//! * no accounts, no authentication, no storage, no acknowledgement tracking.
//!
//! What heliograph costs beyond this is what its checks, durable queue and bus cost.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use base64::Engine;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use prost::Message as _;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use heliograph_protocol::json::IncomingMessageList;
use heliograph_protocol::proto::textsecure::{envelope, Envelope};
use heliograph_protocol::proto::websocket::{web_socket_message::Type, WebSocketMessage};
use heliograph_protocol::ssv2;
use heliograph_protocol::websocket::{encode_request, encode_response, request, response};
use heliograph_types::{Aci, ServiceId};

/// Sockets by `aci.device`, and messages for devices that are not connected.
#[derive(Default)]
struct Relay {
    sockets: Mutex<HashMap<String, mpsc::UnboundedSender<Vec<u8>>>>,
    offline: Mutex<HashMap<String, Vec<Vec<u8>>>>,
    next_id: AtomicU64,
}

impl Relay {
    fn push_frame(&self, envelope: Vec<u8>) -> Vec<u8> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        encode_request(request(
            id,
            "PUT",
            "/api/v1/message",
            vec![format!("X-Signal-Timestamp:{}", now_ms())],
            Some(envelope),
        ))
    }

    fn deliver(&self, device: String, envelope: Vec<u8>) {
        let frame = self.push_frame(envelope);
        let sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = sockets.get(&device) {
            if tx.send(frame.clone()).is_ok() {
                return;
            }
        }
        drop(sockets);
        self.offline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(device)
            .or_default()
            .push(frame);
    }
}

/// The WebSocket read buffer per socket: tungstenite's 128 KiB default, as axum (and so
/// heliograph) uses, unless `HELIOGRAPH_ECHO_READ_BUFFER` gives another size, to measure
/// what that buffer costs an idle connection.
fn read_buffer_size() -> usize {
    std::env::var("HELIOGRAPH_ECHO_READ_BUFFER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128 * 1024)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A local CA and a `localhost` certificate it signs (ECDSA P-256, as heliograph's local CA),
/// as (CA PEM, acceptor).
fn tls() -> anyhow::Result<(String, TlsAcceptor)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "heliograph-echo CA");
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::from_params(&ca_params, ca_key);
    let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let chain = vec![cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| anyhow::anyhow!("key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((ca.pem(), TlsAcceptor::from(Arc::new(config))))
}

/// Serves on `listen` until the process ends; writes the CA to `ca_out` and prints
/// `listening on https://ADDR` once ready.
pub async fn serve(listen: SocketAddr, ca_out: &Path) -> anyhow::Result<()> {
    let (ca, acceptor) = tls()?;
    std::fs::write(ca_out, ca).with_context(|| format!("cannot write {}", ca_out.display()))?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("listening on https://{}", listener.local_addr()?);
    let relay = Arc::new(Relay::default());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .enable_connect_protocol()
        .max_concurrent_streams(256);
    let builder = Arc::new(builder);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, relay, builder) = (acceptor.clone(), relay.clone(), builder.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let relay = relay.clone();
                async move { Ok::<_, std::convert::Infallible>(upgrade(relay, req)) }
            });
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Accepts a WebSocket on `/v1/websocket/` over either HTTP version.
fn upgrade(relay: Arc<Relay>, mut req: Request<Incoming>) -> Response<Empty<Bytes>> {
    let status = |s: StatusCode| {
        let mut r = Response::new(Empty::new());
        *r.status_mut() = s;
        r
    };
    if !req.uri().path().starts_with("/v1/websocket") {
        return status(StatusCode::NOT_FOUND);
    }
    let username = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(u, _)| u.to_owned()));
    let mut resp = if req.method() == http::Method::CONNECT {
        status(StatusCode::OK)
    } else {
        let Some(key) = req.headers().get("sec-websocket-key") else {
            return status(StatusCode::UPGRADE_REQUIRED);
        };
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let mut r = status(StatusCode::SWITCHING_PROTOCOLS);
        let h = r.headers_mut();
        h.insert(
            http::header::UPGRADE,
            http::HeaderValue::from_static("websocket"),
        );
        h.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("Upgrade"),
        );
        if let Ok(v) = http::HeaderValue::from_str(&accept) {
            h.insert("sec-websocket-accept", v);
        }
        r
    };
    resp.headers_mut()
        .insert("x-signal-timestamp", http::HeaderValue::from(now_ms()));
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(512 * 1024);
        config.read_buffer_size = read_buffer_size();
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        session(relay, ws, username).await;
    });
    resp
}

async fn session<S>(relay: Arc<Relay>, ws: WebSocketStream<S>, username: Option<String>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    if let Some(u) = &username {
        relay
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(u.clone(), tx.clone());
        let backlog = relay
            .offline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(u)
            .unwrap_or_default();
        for frame in backlog {
            let _ = tx.send(frame);
        }
        let id = relay.next_id.fetch_add(1, Ordering::Relaxed);
        let _ = tx.send(encode_request(request(
            id,
            "PUT",
            "/api/v1/queue/empty",
            vec![],
            None,
        )));
    }
    let sender = username
        .as_deref()
        .and_then(|u| u.split_once('.'))
        .and_then(|(aci, dev)| Some((aci.parse::<uuid::Uuid>().ok()?, dev.parse::<u32>().ok()?)));
    loop {
        tokio::select! {
            Some(frame) = rx.recv() => {
                if sink.feed(Message::binary(frame)).await.is_err() { break }
                while let Ok(f) = rx.try_recv() {
                    if sink.feed(Message::binary(f)).await.is_err() { break }
                }
                if sink.flush().await.is_err() { break }
            }
            msg = stream.next() => {
                let Some(Ok(msg)) = msg else { break };
                let Message::Binary(bytes) = msg else {
                    if msg.is_close() { break }
                    continue;
                };
                let Ok(frame) = WebSocketMessage::decode(bytes.as_ref()) else { break };
                if frame.r#type() != Type::Request {
                    continue; // acknowledgements: nothing to delete
                }
                let Some(req) = frame.request else { continue };
                let (status, body) = handle(&relay, sender, req.verb.as_deref().unwrap_or_default(), req.path.as_deref().unwrap_or_default(), req.body.as_deref().unwrap_or_default());
                if let Some(id) = req.id {
                    let frame = encode_response(response(id, status, "OK", vec![format!("x-signal-timestamp:{}", now_ms())], Some(body)));
                    let _ = tx.send(frame);
                }
            }
        }
    }
    if let Some(u) = username {
        let mut sockets = relay.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        if sockets.get(&u).is_some_and(|s| s.same_channel(&tx)) {
            sockets.remove(&u);
        }
    }
}

fn envelope(
    kind: i32,
    content: Vec<u8>,
    source: Option<(uuid::Uuid, u32)>,
    destination: ServiceId,
) -> Vec<u8> {
    let guid = uuid::Uuid::new_v4();
    let now = now_ms();
    let mut env = Envelope {
        r#type: Some(kind),
        client_timestamp: Some(now),
        server_timestamp: Some(now),
        content: Some(content),
        urgent: Some(true),
        server_guid: Some(guid.as_bytes().to_vec()),
        destination_service_id: Some(destination.to_binary()),
        ..Default::default()
    };
    if let Some((aci, device)) = source {
        env.source_service_id = Some(ServiceId::Aci(Aci::from_uuid(aci)).to_binary());
        env.source_device = Some(device);
    }
    env.fill_legacy_string_fields();
    env.encode_to_vec()
}

/// Answers one request: (status, body).
fn handle(
    relay: &Relay,
    sender: Option<(uuid::Uuid, u32)>,
    verb: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let json = |v: serde_json::Value| (200, serde_json::to_vec(&v).unwrap_or_default());
    let (route, _query) = path.split_once('?').unwrap_or((path, ""));
    match (verb, route) {
        ("PUT", "/v1/messages/multi_recipient") => {
            let Ok(m) = ssv2::parse(body) else {
                return (400, Vec::new());
            };
            for r in &m.recipients {
                let content = m.message_for_recipient(r);
                for d in &r.devices {
                    let env = envelope(
                        envelope::Type::UnidentifiedSender as i32,
                        content.clone(),
                        None,
                        r.service_id,
                    );
                    relay.deliver(format!("{}.{}", r.service_id, d.device_id.get()), env);
                }
            }
            json(json!({"uuids404": []}))
        }
        ("PUT", p) if p.starts_with("/v1/messages/") => {
            let dest = &p["/v1/messages/".len()..];
            let (Ok(list), Ok(service_id)) = (
                serde_json::from_slice::<IncomingMessageList>(body),
                dest.parse::<ServiceId>(),
            ) else {
                return (400, Vec::new());
            };
            for m in list.messages {
                let source = (m.message_type != envelope::Type::UnidentifiedSender as i32)
                    .then_some(sender)
                    .flatten();
                let env = envelope(m.message_type, m.content, source, service_id);
                relay.deliver(format!("{dest}.{}", m.destination_device_id.get()), env);
            }
            json(json!({"needsSync": false}))
        }
        (_, p) if p.starts_with("/v1/verification/session") => {
            let id = if verb == "POST" && p == "/v1/verification/session" {
                base64::engine::general_purpose::URL_SAFE.encode(uuid::Uuid::new_v4().as_bytes())
            } else {
                p.trim_start_matches("/v1/verification/session/")
                    .trim_end_matches("/code")
                    .to_owned()
            };
            let verified = verb == "PUT" && p.ends_with("/code");
            json(json!({
                "id": id, "nextSms": 0, "nextCall": 0, "nextVerificationAttempt": 0,
                "allowedToRequestCode": verb != "POST" || p.ends_with("/code"),
                "requestedInformation": [], "verified": verified
            }))
        }
        ("POST", "/v1/registration") => json(json!({
            "uuid": uuid::Uuid::new_v4(), "pni": uuid::Uuid::new_v4(), "number": null,
            "storageCapable": false, "entitlements": {"badges": []}, "reregistration": false
        })),
        _ => (200, Vec::new()),
    }
}
