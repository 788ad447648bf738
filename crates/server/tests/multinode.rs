//! Two `heliograph` processes sharing one PostgreSQL database and one Redis: kill one with
//! SIGKILL during a burst of sends, and every message that got a 200 is delivered through the
//! other. Needs PostgreSQL and Redis (`HELIOGRAPH_TEST_POSTGRES_URL`, `HELIOGRAPH_TEST_REDIS_URL`);
//! it fails, never skips, when they are unreachable.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value};

fn urls() -> (String, String) {
    (
        std::env::var("HELIOGRAPH_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        std::env::var("HELIOGRAPH_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    )
}

async fn register_on(server: &BinaryServer) -> (String, String) {
    let account = register_at(&server.http1, &server.base).await;
    (account.aci.clone(), account.auth())
}

fn copy_keys(from: &std::path::Path, to: &std::path::Path) {
    for sub in ["secrets", "tls", "public"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(sub).join(entry.file_name())).unwrap();
        }
    }
}

#[tokio::test]
async fn killing_a_node_during_a_burst_loses_no_acknowledged_message() {
    let (pg, redis) = urls();
    let namespace = format!("test-{}", rand::random::<u64>());
    let args = ["--database-url", pg.as_str(), "--redis-url", redis.as_str()];
    let env = [("HELIOGRAPH_BUS__NAMESPACE", namespace.as_str())];
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let mut node_a = BinaryServer::spawn_with(dir_a.path(), &args, &env);
    copy_keys(dir_a.path(), dir_b.path());
    let mut node_b = BinaryServer::spawn_with(dir_b.path(), &args, &env);

    let (_alice, alice_auth) = register_on(&node_a).await;
    let (bob, bob_auth) = register_on(&node_b).await;

    let acknowledged = Arc::new(Mutex::new(Vec::<u64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for worker in 0..8u64 {
        let client = node_a.http1.clone();
        let url = node_a.url(&format!("/v1/messages/{bob}"));
        let (auth, acknowledged, stop) = (alice_auth.clone(), acknowledged.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            for i in 0..10_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let ts = 1_000_000 + worker * 100_000 + i;
                let body = json!({"messages": [{"type": 1, "destinationDeviceId": 1, "destinationRegistrationId": 1234,
                                  "content": b64(format!("m{ts}").as_bytes())}], "timestamp": ts});
                match client.put(&url).header("authorization", &auth).json(&body).send().await {
                    Ok(r) if r.status() == 200 => acknowledged.lock().unwrap().push(ts),
                    _ => break,
                }
            }
        }));
    }
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if acknowledged.lock().unwrap().len() >= 200 {
            break;
        }
    }
    node_a.kill9();
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        let _ = s.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    // Bob reads everything through node B.
    let mut delivered = std::collections::HashSet::new();
    loop {
        let page: Value = node_b
            .http1
            .get(node_b.url("/v1/messages"))
            .header("authorization", &bob_auth)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let msgs = page["messages"].as_array().unwrap().clone();
        for m in &msgs {
            delivered.insert(m["timestamp"].as_u64().unwrap());
            let guid = m["guid"].as_str().unwrap();
            let r = node_b
                .http1
                .delete(node_b.url(&format!("/v1/messages/uuid/{guid}")))
                .header("authorization", &bob_auth)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
        }
        if msgs.is_empty() {
            break;
        }
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|t| !delivered.contains(t))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost",
        lost.len(),
        acknowledged.len()
    );
    node_b.kill9();
}
