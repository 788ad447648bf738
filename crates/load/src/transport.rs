//! Opening a chat WebSocket the way a Signal client does: TCP, TLS (rustls, verifying the
//! server against the CA file it was started with), then either an HTTP/1.1 upgrade or an
//! HTTP/2 extended CONNECT (RFC 8441), each device on its own connection.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// The name every target's certificate is issued for.
pub const SERVER_NAME: &str = "localhost";
/// Largest frame accepted from the server (heliograph's own limit is 512 KiB).
const MAX_FRAME: usize = 1024 * 1024;

/// Which HTTP version carries the WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum HttpVersion {
    /// `GET` with `Upgrade: websocket`.
    #[value(name = "1")]
    Http1,
    /// `CONNECT` with `:protocol websocket`.
    #[value(name = "2")]
    Http2,
}

/// Why a socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP connect failed.
    #[error("tcp: {0}")]
    Tcp(#[source] std::io::Error),
    /// The TLS handshake failed.
    #[error("tls: {0}")]
    Tls(#[source] std::io::Error),
    /// The server refused the upgrade with this status.
    #[error("upgrade refused with HTTP {0}")]
    Refused(u16),
    /// The WebSocket or HTTP/2 handshake failed otherwise.
    #[error("handshake: {0}")]
    Handshake(String),
}

/// A byte stream under the WebSocket: TLS directly (HTTP/1.1) or an HTTP/2 stream.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open WebSocket over either transport.
pub type Ws = WebSocketStream<Box<dyn Io>>;

/// Where and how to connect.
#[derive(Clone)]
pub struct Target {
    /// Server address.
    pub addr: SocketAddr,
    /// HTTP version for the WebSocket.
    pub http: HttpVersion,
    tls: TlsConnector,
}

impl Target {
    /// A target whose certificate chains to the PEM CA at `ca`.
    pub fn new(addr: SocketAddr, http: HttpVersion, ca: &Path) -> anyhow::Result<Target> {
        use anyhow::Context;
        let pem = std::fs::read(ca).with_context(|| format!("cannot read CA {}", ca.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots
                .add(cert.with_context(|| format!("{} is not PEM", ca.display()))?)
                .with_context(|| format!("{} is not a usable CA certificate", ca.display()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = match http {
            HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
            HttpVersion::Http2 => vec![b"h2".to_vec()],
        };
        Ok(Target {
            addr,
            http,
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Opens `path` (e.g. `/v1/websocket/`) with extra upgrade headers.
    pub async fn connect(
        &self,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<Ws, ConnectError> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(ConnectError::Tcp)?;
        let _ = tcp.set_nodelay(true);
        let name = rustls::pki_types::ServerName::try_from(SERVER_NAME)
            .map_err(|e| ConnectError::Handshake(e.to_string()))?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(ConnectError::Tls)?;
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(MAX_FRAME);
        config.max_frame_size = Some(MAX_FRAME);
        match self.http {
            HttpVersion::Http1 => self.upgrade_http1(tls, path, headers, config).await,
            HttpVersion::Http2 => self.connect_http2(tls, path, headers, config).await,
        }
    }

    async fn upgrade_http1(
        &self,
        tls: tokio_rustls::client::TlsStream<TcpStream>,
        path: &str,
        headers: &[(&str, String)],
        config: WebSocketConfig,
    ) -> Result<Ws, ConnectError> {
        let url = format!("wss://{SERVER_NAME}:{}{path}", self.addr.port());
        let mut req = url
            .into_client_request()
            .map_err(|e| ConnectError::Handshake(e.to_string()))?;
        for (name, value) in headers {
            let value = http::HeaderValue::from_str(value)
                .map_err(|e| ConnectError::Handshake(e.to_string()))?;
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| ConnectError::Handshake(e.to_string()))?;
            req.headers_mut().insert(name, value);
        }
        let io: Box<dyn Io> = Box::new(tls);
        match tokio_tungstenite::client_async_with_config(req, io, Some(config)).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                Err(ConnectError::Refused(resp.status().as_u16()))
            }
            Err(e) => Err(ConnectError::Handshake(e.to_string())),
        }
    }

    async fn connect_http2(
        &self,
        tls: tokio_rustls::client::TlsStream<TcpStream>,
        path: &str,
        headers: &[(&str, String)],
        config: WebSocketConfig,
    ) -> Result<Ws, ConnectError> {
        let hs = |e: hyper::Error| ConnectError::Handshake(e.to_string());
        let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake::<_, Empty<Bytes>>(TokioIo::new(tls))
            .await
            .map_err(hs)?;
        // The connection task ends when the server closes the connection.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(format!("https://{SERVER_NAME}:{}{path}", self.addr.port()))
            .header("sec-websocket-version", "13")
            .extension(hyper::ext::Protocol::from_static("websocket"));
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let req = req
            .body(Empty::new())
            .map_err(|e| ConnectError::Handshake(e.to_string()))?;
        let resp = send.send_request(req).await.map_err(hs)?;
        if resp.status() != http::StatusCode::OK {
            return Err(ConnectError::Refused(resp.status().as_u16()));
        }
        let upgraded = hyper::upgrade::on(resp).await.map_err(hs)?;
        // Dropping the last request handle starts a connection shutdown, so it lives as long
        // as the stream.
        let io: Box<dyn Io> = Box::new(H2Stream {
            io: TokioIo::new(upgraded),
            _send: send,
        });
        Ok(WebSocketStream::from_raw_socket(io, Role::Client, Some(config)).await)
    }
}

/// The upgraded HTTP/2 stream together with its connection's request handle.
struct H2Stream {
    io: TokioIo<hyper::upgrade::Upgraded>,
    _send: hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
}

impl AsyncRead for H2Stream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
