//! Shared test helpers: event waiting with timeouts and Redis connections for tests.

#![allow(dead_code)]

use std::time::Duration;

use heliograph_bus::{NodeId, RedisBus, RedisBusConfig, SocketEvent};
use tokio::sync::mpsc::UnboundedReceiver;

/// How long any awaited effect may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// The next event of a socket, failing the test after [`WAIT`].
pub async fn next_event(rx: &mut UnboundedReceiver<SocketEvent>) -> Option<SocketEvent> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("timed out waiting for a socket event")
}

/// The next provisioning envelope, failing the test after [`WAIT`].
pub async fn next_body(rx: &mut UnboundedReceiver<Vec<u8>>) -> Option<Vec<u8>> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("timed out waiting for a provisioning envelope")
}

/// Polls `check` every 20 ms until it holds, failing after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The Redis URL for tests, or `None` when `HELIOGRAPH_SKIP_REDIS=1`.
pub fn redis_url() -> Option<String> {
    if std::env::var("HELIOGRAPH_SKIP_REDIS").is_ok_and(|v| v == "1") {
        eprintln!("HELIOGRAPH_SKIP_REDIS=1: skipping a Redis test");
        return None;
    }
    Some(
        std::env::var("HELIOGRAPH_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
    )
}

/// A fresh namespace, so concurrent tests and runs never share keys or channels.
pub fn namespace() -> String {
    format!("hg-test-{}", uuid::Uuid::new_v4())
}

/// A node configuration in `namespace` with short timings.
pub fn config(namespace: &str) -> RedisBusConfig {
    let mut config = RedisBusConfig::new(NodeId::random());
    config.namespace = namespace.to_owned();
    config.presence_ttl = Duration::from_millis(600);
    config.heartbeat_interval = Duration::from_millis(150);
    config.command_timeout = Duration::from_secs(2);
    config
}

/// Connects a node, failing the test (not skipping it) if Redis is unreachable.
pub async fn node(url: &str, config: RedisBusConfig) -> RedisBus {
    RedisBus::connect_with(url, config)
        .await
        .unwrap_or_else(|e| {
            panic!("Redis at {url} is unreachable ({e}); start it or set HELIOGRAPH_SKIP_REDIS=1")
        })
}

/// Two nodes sharing a fresh namespace, or `None` when Redis tests are skipped.
pub async fn two_nodes() -> Option<(RedisBus, RedisBus, String, String)> {
    let url = redis_url()?;
    let ns = namespace();
    let a = node(&url, config(&ns)).await;
    let b = node(&url, config(&ns)).await;
    Some((a, b, ns, url))
}

/// A plain connection for poking at Redis directly.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}
