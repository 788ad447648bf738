//! Usernames over real TLS: status codes of every username route, and uniqueness when many
//! accounts race for one hash. (libsignal's typed APIs are exercised in
//! `interop/test/usernames.test.mjs`.)

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use heliograph_zk::username::{username_hash, Username};

fn username_proof_deterministic(name: &str, randomness: &[u8; 32]) -> Option<Vec<u8>> {
    Username::parse(name)
        .ok()?
        .proof_deterministic(randomness)
        .ok()
}
use serde_json::{json, Value};

fn url64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn fresh_name() -> String {
    format!(
        "test{}.{}",
        rand::random::<u32>(),
        10 + rand::random::<u8>() % 80
    )
}

async fn put(server: &TestServer, who: &Account, path: &str, body: Value) -> reqwest::Response {
    server
        .http2
        .put(server.url(path))
        .header("authorization", who.auth())
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn username_status_codes() {
    let server = TestServer::start().await;
    let (alice, bob) = (register(&server).await, register(&server).await);
    let name = fresh_name();
    let hash = username_hash(&name).unwrap();
    let proof = username_proof_deterministic(&name, &[1; 32]).unwrap();
    let reserve = |h: &[u8]| json!({"usernameHashes": [url64(h)]});

    // Malformed reservations: 422.
    for body in [
        json!({"usernameHashes": []}),
        json!({"usernameHashes": vec![url64(&hash); 21]}),
        json!({"usernameHashes": [url64(&hash[..31])]}),
    ] {
        let resp = put(&server, &alice, "/v1/accounts/username_hash/reserve", body).await;
        assert_eq!(resp.status(), 422);
    }
    // Reserve for Alice; Bob gets 409.
    let resp = put(
        &server,
        &alice,
        "/v1/accounts/username_hash/reserve",
        reserve(&hash),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["usernameHash"], url64(&hash));
    let resp = put(
        &server,
        &bob,
        "/v1/accounts/username_hash/reserve",
        reserve(&hash),
    )
    .await;
    assert_eq!(resp.status(), 409);

    // Confirm: bad proof 422, Bob without reservation 409, oversized ciphertext 422.
    let confirm = |proof: &[u8], enc: Option<Vec<u8>>| {
        json!({"usernameHash": url64(&hash), "zkProof": url64(proof),
               "encryptedUsername": enc.map(|e| url64(&e))})
    };
    let other = username_proof_deterministic(&fresh_name(), &[1; 32]).unwrap();
    let path = "/v1/accounts/username_hash/confirm";
    assert_eq!(
        put(&server, &alice, path, confirm(&other, None))
            .await
            .status(),
        422
    );
    assert_eq!(
        put(&server, &alice, path, confirm(&proof[..64], None))
            .await
            .status(),
        422
    );
    assert_eq!(
        put(&server, &alice, path, confirm(&proof, Some(vec![1; 129])))
            .await
            .status(),
        422
    );
    assert_eq!(
        put(&server, &bob, path, confirm(&proof, None))
            .await
            .status(),
        409
    );
    let resp = put(&server, &alice, path, confirm(&proof, Some(vec![9; 40]))).await;
    assert_eq!(resp.status(), 200);
    let confirmed: Value = resp.json().await.unwrap();
    assert_eq!(confirmed["usernameHash"], url64(&hash));
    let handle = confirmed["usernameLinkHandle"].as_str().unwrap().to_owned();
    // Confirming again is idempotent and keeps the link.
    let again: Value = put(&server, &alice, path, confirm(&proof, None))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["usernameLinkHandle"], handle);

    // Lookups are anonymous only.
    let lookup = server.url(&format!("/v1/accounts/username_hash/{}", url64(&hash)));
    let found: Value = server
        .http1
        .get(&lookup)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["uuid"], alice.aci);
    let authed = server
        .http1
        .get(&lookup)
        .header("authorization", bob.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(authed.status(), 400);
    for bad in ["***", "AAAA"] {
        let resp = server
            .http1
            .get(server.url(&format!("/v1/accounts/username_hash/{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422, "{bad}");
    }
    let link: Value = server
        .http1
        .get(server.url(&format!("/v1/accounts/username_link/{handle}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(link["usernameLinkEncryptedValue"], url64(&[9; 40]));

    // Link values: 1..=128 bytes.
    for value in [vec![], vec![1u8; 129]] {
        let resp = put(
            &server,
            &alice,
            "/v1/accounts/username_link",
            json!({"usernameLinkEncryptedValue": url64(&value), "keepLinkHandle": true}),
        )
        .await;
        assert_eq!(resp.status(), 422);
    }
    let me: Value = get_json(
        &server.http2,
        &server.url("/v1/accounts/whoami"),
        Some(("authorization", &alice.auth())),
    )
    .await;
    assert_eq!(me["usernameHash"], url64(&hash));
    assert_eq!(me["usernameLinkHandle"], handle);

    // Deleting the account removes its username outright (no hold), so the hash is free.
    let resp = server
        .http2
        .delete(server.url("/v1/accounts/me"))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        server.http1.get(&lookup).send().await.unwrap().status(),
        404
    );
    let resp = put(
        &server,
        &bob,
        "/v1/accounts/username_hash/reserve",
        reserve(&hash),
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn released_usernames_are_held_for_their_owner() {
    let server = TestServer::start().await;
    let (alice, bob) = (register(&server).await, register(&server).await);
    let name = fresh_name();
    let hash = username_hash(&name).unwrap();
    let proof = username_proof_deterministic(&name, &[2; 32]).unwrap();
    let reserve = json!({"usernameHashes": [url64(&hash)]});
    assert_eq!(
        put(
            &server,
            &alice,
            "/v1/accounts/username_hash/reserve",
            reserve.clone()
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        put(
            &server,
            &alice,
            "/v1/accounts/username_hash/confirm",
            json!({"usernameHash": url64(&hash), "zkProof": url64(&proof)})
        )
        .await
        .status(),
        200
    );
    let resp = server
        .http2
        .delete(server.url("/v1/accounts/username_hash"))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // Bob cannot take it; Alice can take it back.
    assert_eq!(
        put(
            &server,
            &bob,
            "/v1/accounts/username_hash/reserve",
            reserve.clone()
        )
        .await
        .status(),
        409
    );
    assert_eq!(
        put(
            &server,
            &alice,
            "/v1/accounts/username_hash/reserve",
            reserve
        )
        .await
        .status(),
        200
    );
    // A link needs a username: Alice has only a reservation now.
    let resp = put(
        &server,
        &alice,
        "/v1/accounts/username_link",
        json!({"usernameLinkEncryptedValue": url64(&[1; 16]), "keepLinkHandle": false}),
    )
    .await;
    assert_eq!(resp.status(), 409);
}

#[tokio::test]
async fn concurrent_reservations_have_one_winner() {
    let server = TestServer::start().await;
    let mut accounts = Vec::new();
    for _ in 0..8 {
        accounts.push(register(&server).await);
    }
    let hash = username_hash(&fresh_name()).unwrap();
    let body = json!({"usernameHashes": [url64(&hash)]});
    let results = futures::future::join_all(accounts.iter().map(|a| {
        put(
            &server,
            a,
            "/v1/accounts/username_hash/reserve",
            body.clone(),
        )
    }))
    .await;
    let codes: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 409).count(), 7, "{codes:?}");
}

#[tokio::test]
async fn reservations_are_rate_limited() {
    let server =
        TestServer::start_configured(tempfile::tempdir().unwrap(), Default::default(), |c| {
            let bucket = c
                .rate_limits
                .buckets
                .get_mut("usernameReserve")
                .expect("the default configuration names every limiter");
            bucket.bucket_size = 2;
            bucket.permit_regeneration_ms = 60_000;
        })
        .await;
    let alice = register(&server).await;
    let body = || json!({"usernameHashes": [url64(&username_hash(&fresh_name()).unwrap())]});
    for _ in 0..2 {
        let resp = put(
            &server,
            &alice,
            "/v1/accounts/username_hash/reserve",
            body(),
        )
        .await;
        assert_eq!(resp.status(), 200);
    }
    let resp = put(
        &server,
        &alice,
        "/v1/accounts/username_hash/reserve",
        body(),
    )
    .await;
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // Another account has its own bucket.
    let bob = register(&server).await;
    let resp = put(&server, &bob, "/v1/accounts/username_hash/reserve", body()).await;
    assert_eq!(resp.status(), 200);
}
