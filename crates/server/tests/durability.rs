//! No acknowledged-before-durable window: SIGKILL the server during a burst of sends, restart
//! it on the same data directory, and every message that got a 200 is still delivered.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use serde_json::{json, Value};

async fn register_on(server: &BinaryServer) -> (String, String) {
    let account = register_at(&server.http1, &server.base).await;
    (account.aci.clone(), account.auth())
}

#[tokio::test]
async fn sigkill_during_a_burst_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = BinaryServer::spawn(dir.path());
    let (_alice, alice_auth) = register_on(&server).await;
    let (bob, bob_auth) = register_on(&server).await;

    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for worker in 0..8u64 {
        let client = server.http1.clone();
        let url = server.url(&format!("/v1/messages/{bob}"));
        let auth = alice_auth.clone();
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..10_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let ts = 1_000_000 + worker * 100_000 + i;
                let body = json!({"messages": [{"type": 1, "destinationDeviceId": 1, "destinationRegistrationId": 1234,
                                   "content": b64(format!("m{ts}").as_bytes())}], "online": false, "urgent": true, "timestamp": ts});
                match client.put(&url).header("authorization", &auth).json(&body).send().await {
                    Ok(r) if r.status() == 200 => acknowledged.lock().unwrap().push(ts),
                    _ => break,
                }
            }
        }));
    }
    // Let the burst run, then kill the process without warning.
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if acknowledged.lock().unwrap().len() >= 200 {
            break;
        }
    }
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        let _ = s.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 200);

    let server = BinaryServer::spawn(dir.path());
    let mut delivered = std::collections::HashSet::new();
    loop {
        let page: Value = server
            .http1
            .get(server.url("/v1/messages"))
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
            let r = server
                .http1
                .delete(server.url(&format!("/v1/messages/uuid/{guid}")))
                .header("authorization", &bob_auth)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
        }
        if !page["more"].as_bool().unwrap() && msgs.len() < 100 {
            break;
        }
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|t| !delivered.contains(t))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost of {}",
        lost.len(),
        acknowledged.len()
    );
    let mut server = server;
    server.kill9();
}
