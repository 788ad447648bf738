//! The chat WebSocket's framing rules, tested with a raw client (libsignal never sends the
//! malformed frames these tests need).

mod common;

use std::sync::Arc;

use common::*;
use futures::{SinkExt, StreamExt};
use heliograph_protocol::proto::websocket::{
    web_socket_message, WebSocketMessage, WebSocketRequestMessage, WebSocketResponseMessage,
};
use prost::Message as _;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn connect(
    server: &TestServer,
    auth: Option<String>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let ca = std::fs::read(server.data_dir().join("public/tls-ca.der")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let mut req = format!("wss://localhost:{}/v1/websocket/", server.addr.port())
        .into_client_request()
        .unwrap();
    if let Some(a) = auth {
        req.headers_mut()
            .insert("authorization", a.parse().unwrap());
    }
    tokio_tungstenite::client_async(req, tls)
        .await
        .map(|(ws, _)| ws)
}

fn request(id: Option<u64>, verb: Option<&str>, path: &str, headers: Vec<String>) -> Vec<u8> {
    WebSocketMessage {
        r#type: Some(web_socket_message::Type::Request as i32),
        request: Some(WebSocketRequestMessage {
            verb: verb.map(str::to_owned),
            path: Some(path.to_owned()),
            body: None,
            id,
            headers,
        }),
        response: None,
    }
    .encode_to_vec()
}

async fn next_response(ws: &mut Ws) -> WebSocketResponseMessage {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Binary(b) = frame {
            let msg = WebSocketMessage::decode(b.as_ref()).unwrap();
            if let Some(r) = msg.response {
                return r;
            }
        }
    }
}

/// Waits until the socket is registered for delivery (it announces an empty queue).
async fn queue_empty(ws: &mut Ws) {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .unwrap();
        if let Some(Ok(Message::Binary(b))) = frame {
            let m = WebSocketMessage::decode(b.as_ref()).unwrap();
            if m.request.and_then(|r| r.path).as_deref() == Some("/api/v1/queue/empty") {
                return;
            }
        }
    }
}

async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn tunnelled_requests_and_framing_rules() {
    let server = TestServer::start().await;
    let alice = register(&server).await;
    let mut ws = connect(&server, Some(alice.auth())).await.unwrap();

    // Text frames are ignored; a request without an id gets no answer.
    ws.send(Message::Text("hello".into())).await.unwrap();
    ws.send(Message::Binary(
        request(None, Some("GET"), "/v1/keepalive", vec![]).into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Binary(
        request(
            Some(7),
            Some("GET"),
            "/v1/accounts/whoami",
            vec!["x-extra:a:b".into()],
        )
        .into(),
    ))
    .await
    .unwrap();
    let r = next_response(&mut ws).await;
    assert_eq!(
        (r.id, r.status, r.message.as_deref()),
        (Some(7), Some(200), Some("OK"))
    );
    assert!(r
        .headers
        .iter()
        .any(|h| h.starts_with("x-signal-timestamp:")));
    let body: serde_json::Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body["uuid"], alice.aci,
        "a tunnelled request acts as the socket's device"
    );

    // A request without a verb is refused.
    ws.send(Message::Binary(
        request(Some(8), None, "/v1/keepalive", vec![]).into(),
    ))
    .await
    .unwrap();
    let r = next_response(&mut ws).await;
    assert_eq!((r.id, r.status), (Some(8), Some(400)));

    // A response without its message field closes the socket with 1007.
    let bad = WebSocketMessage {
        r#type: Some(web_socket_message::Type::Response as i32),
        request: None,
        response: Some(WebSocketResponseMessage {
            id: Some(1),
            status: Some(200),
            message: None,
            body: None,
            headers: vec![],
        }),
    };
    ws.send(Message::Binary(bad.encode_to_vec().into()))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, 1007);
    server.stop().await;
}

#[tokio::test]
async fn garbage_frames_close_with_1007_and_bad_credentials_get_403() {
    let server = TestServer::start().await;
    let mut ws = connect(&server, None).await.unwrap();
    ws.send(Message::Binary(vec![0xff, 0xff, 0xff].into()))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws).await, 1007);

    let wrong = format!(
        "Basic {}",
        b64(format!("{}.1:nope", uuid::Uuid::new_v4()).as_bytes())
    );
    match connect(&server, Some(wrong)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403 at upgrade, got {:?}", other.map(|_| ())),
    }
    // An unauthenticated socket cannot use authenticated endpoints.
    let mut ws = connect(&server, None).await.unwrap();
    ws.send(Message::Binary(
        request(Some(1), Some("GET"), "/v1/accounts/whoami", vec![]).into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_response(&mut ws).await.status, Some(401));
    server.stop().await;
}

#[tokio::test]
async fn a_second_socket_displaces_the_first_with_4409_and_deletion_closes_with_4401() {
    let server = TestServer::start().await;
    let alice = register(&server).await;
    let mut first = connect(&server, Some(alice.auth())).await.unwrap();
    queue_empty(&mut first).await;
    let mut second = connect(&server, Some(alice.auth())).await.unwrap();
    assert_eq!(close_code(&mut first).await, 4409);
    queue_empty(&mut second).await;
    let r = server
        .http1
        .delete(server.url("/v1/accounts/me"))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(close_code(&mut second).await, 4401);
    server.stop().await;
}
