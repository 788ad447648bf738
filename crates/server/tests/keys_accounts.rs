//! Accounts and prekeys over real TLS.

mod common;

use common::*;
use heliograph_types::PrivateKey;
use rand::rngs::OsRng;
use serde_json::{json, Value};
use sha2_free::digest;

mod sha2_free {
    /// The key-check digest, computed the way clients do.
    pub fn digest(identity: &[u8], ec_id: u64, ec: &[u8], kem_id: u64, kem: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(identity);
        h.update(ec_id.to_be_bytes());
        h.update(ec);
        h.update(kem_id.to_be_bytes());
        h.update(kem);
        h.finalize().to_vec()
    }
}

fn one_time_ec(n: u32) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"keyId": 100 + i, "publicKey": b64(PrivateKey::generate(&mut OsRng).public_key().serialize())}))
        .collect()
}

fn one_time_kem(keys: &IdentityKeys, n: u32) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut k = vec![0u8; 1569];
            k[0] = 8;
            k[1] = i as u8;
            keys.kem_pre_key(200 + i, &k)
        })
        .collect()
}

#[tokio::test]
async fn whoami_attributes_exists_delete() {
    let server = TestServer::start().await;
    let c = &server.http2;
    let alice = register(&server).await;

    let me: Value = c
        .get(server.url("/v1/accounts/whoami"))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["uuid"], alice.aci);
    assert_eq!(me["pni"], alice.pni);
    assert_eq!(me["number"], alice.number);
    assert!(me.get("reregistration").is_none());

    let wrong = format!("Basic {}", b64(format!("{}.1:nope", alice.aci).as_bytes()));
    assert_eq!(
        c.get(server.url("/v1/accounts/whoami"))
            .header("authorization", wrong)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(server.url("/v1/accounts/whoami"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(server.url("/v1/accounts/whoami"))
            .header("authorization", alice.auth_for(2))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let r = c
        .put(server.url("/v1/accounts/attributes/"))
        .header("authorization", alice.auth())
        .json(
            &json!({"fetchesMessages": true, "registrationId": 1234, "pniRegistrationId": 5678,
                      "capabilities": {"spqr": true}, "unidentifiedAccessKey": b64(&[9u8; 16]),
                      "unrestrictedUnidentifiedAccess": true, "discoverableByPhoneNumber": false}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    for path in ["/v1/accounts/gcm/", "/v1/accounts/apn/"] {
        let body = if path.contains("gcm") {
            json!({"gcmRegistrationId": "t"})
        } else {
            json!({"apnRegistrationId": "t"})
        };
        assert_eq!(
            c.put(server.url(path))
                .header("authorization", alice.auth())
                .json(&body)
                .send()
                .await
                .unwrap()
                .status(),
            204
        );
        assert_eq!(
            c.delete(server.url(path))
                .header("authorization", alice.auth())
                .send()
                .await
                .unwrap()
                .status(),
            204
        );
    }

    let head = |id: String| {
        c.head(server.url(&format!("/v1/accounts/account/{id}")))
            .send()
    };
    assert_eq!(head(alice.aci.clone()).await.unwrap().status(), 200);
    assert_eq!(
        head(format!("PNI:{}", alice.pni)).await.unwrap().status(),
        200
    );
    assert_eq!(
        head(uuid::Uuid::new_v4().to_string())
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(head("garbage".into()).await.unwrap().status(), 400);
    let authed = c
        .head(server.url(&format!("/v1/accounts/account/{}", alice.aci)))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(authed.status(), 400, "must be unauthenticated");

    let cfg = c
        .get(server.url("/v2/config"))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(cfg.status(), 200);
    let etag = cfg.headers()["etag"].to_str().unwrap().to_owned();
    assert!(cfg.json::<Value>().await.unwrap()["config"].is_object());
    let again = c
        .get(server.url("/v2/config"))
        .header("authorization", alice.auth())
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    assert_eq!(
        c.get(server.url("/v1/keepalive"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    assert_eq!(
        c.delete(server.url("/v1/accounts/me"))
            .header("authorization", alice.auth())
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(head(alice.aci.clone()).await.unwrap().status(), 404);
    assert_eq!(
        c.get(server.url("/v1/accounts/whoami"))
            .header("authorization", alice.auth())
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    server.stop().await;
}

#[tokio::test]
async fn prekeys_upload_fetch_consume_and_check() {
    let server = TestServer::start().await;
    let c = &server.http1;
    let alice = register(&server).await;
    let bob = register(&server).await;

    // Upload one-time keys for Bob's ACI and PNI.
    let r = c
        .put(server.url("/v2/keys"))
        .header("authorization", bob.auth())
        .json(&json!({"preKeys": one_time_ec(2), "pqPreKeys": one_time_kem(&bob.aci_keys, 1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .put(server.url("/v2/keys?identity=pni"))
        .header("authorization", bob.auth())
        .json(&json!({"preKeys": one_time_ec(3)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let counts: Value = c
        .get(server.url("/v2/keys"))
        .header("authorization", bob.auth())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts, json!({"count": 2, "pqCount": 1}));
    let counts: Value = c
        .get(server.url("/v2/keys?identity=pni"))
        .header("authorization", bob.auth())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts, json!({"count": 3, "pqCount": 0}));

    // A KEM key signed by the wrong identity: 422. Too many keys: 422. Garbage: 400.
    let wrong = one_time_kem(&alice.aci_keys, 1);
    let r = c
        .put(server.url("/v2/keys"))
        .header("authorization", bob.auth())
        .json(&json!({"pqPreKeys": wrong}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = c
        .put(server.url("/v2/keys"))
        .header("authorization", bob.auth())
        .json(&json!({"preKeys": one_time_ec(101)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = c
        .put(server.url("/v2/keys"))
        .header("authorization", bob.auth())
        .header("content-type", "application/json")
        .body("{\"preKeys\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .put(server.url("/v2/keys"))
        .header("authorization", bob.auth())
        .json(&json!({"preKeys": [{"keyId": 1, "publicKey": "not base64!"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // Alice fetches with her account: the one-time KEM key first, then the last resort.
    let fetch = |auth: Option<String>, uak: Option<[u8; 16]>, target: String| {
        let mut req = c.get(server.url(&format!("/v2/keys/{target}/*")));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(k) = uak {
            req = req.header("unidentified-access-key", b64(&k));
        }
        req.send()
    };
    let b: Value = fetch(Some(alice.auth()), None, bob.aci.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        b["identityKey"],
        b64(bob.aci_keys.identity_public().serialize())
    );
    let d = &b["devices"][0];
    assert_eq!(d["deviceId"], 1);
    assert_eq!(d["registrationId"], 1234);
    assert_eq!(d["preKey"]["keyId"], 100);
    assert_eq!(d["pqPreKey"]["keyId"], 200);
    assert_eq!(d["signedPreKey"]["keyId"], 1);
    let b: Value = fetch(None, Some(bob.access_key), bob.aci.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b["devices"][0]["preKey"]["keyId"], 101);
    assert_eq!(
        b["devices"][0]["pqPreKey"]["keyId"], 2,
        "last-resort fallback"
    );
    let b: Value = fetch(Some(alice.auth()), None, bob.aci.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        b["devices"][0]["preKey"],
        Value::Null,
        "no one-time EC key left"
    );
    assert_eq!(b["devices"][0]["pqPreKey"]["keyId"], 2);

    // PNI target: PNI identity key and registration id; access keys never work for PNIs.
    let b: Value = fetch(Some(alice.auth()), None, format!("PNI:{}", bob.pni))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        b["identityKey"],
        b64(bob.pni_keys.identity_public().serialize())
    );
    assert_eq!(b["devices"][0]["registrationId"], 5678);
    assert_eq!(
        fetch(None, Some(bob.access_key), format!("PNI:{}", bob.pni))
            .await
            .unwrap()
            .status(),
        401
    );

    // Access rules.
    assert_eq!(
        fetch(None, None, bob.aci.clone()).await.unwrap().status(),
        401
    );
    assert_eq!(
        fetch(None, Some([0u8; 16]), bob.aci.clone())
            .await
            .unwrap()
            .status(),
        401
    );
    let nobody = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        fetch(Some(alice.auth()), None, nobody.clone())
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        fetch(None, Some([0u8; 16]), nobody).await.unwrap().status(),
        401
    );
    let r = c
        .get(server.url(&format!("/v2/keys/{}/5", bob.aci)))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "unknown device");
    let r = c
        .get(server.url(&format!("/v2/keys/{}/x", bob.aci)))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "bad device selector");
    let r = c
        .get(server.url(&format!("/v2/keys/{}/1", bob.aci)))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Key consistency check.
    let good = digest(
        bob.aci_keys.identity_public().serialize(),
        1,
        bob.aci_keys.signed.public_key().serialize(),
        2,
        &bob.aci_keys.kem_public,
    );
    let check = |d: Vec<u8>| {
        c.post(server.url("/v2/keys/check"))
            .header("authorization", bob.auth())
            .json(&json!({"identityType": "aci", "digest": b64(&d)}))
            .send()
    };
    assert_eq!(check(good).await.unwrap().status(), 200);
    assert_eq!(check(vec![0u8; 32]).await.unwrap().status(), 409);
    assert_eq!(check(vec![0u8; 5]).await.unwrap().status(), 422);
    server.stop().await;
}

#[tokio::test]
async fn one_time_keys_are_handed_out_once_under_concurrency() {
    let server = TestServer::start().await;
    let alice = register(&server).await;
    let bob = register(&server).await;
    let r = server
        .http1
        .put(server.url("/v2/keys"))
        .header("authorization", bob.auth())
        .json(&json!({"preKeys": one_time_ec(20)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let client = if i % 2 == 0 {
            server.http1.clone()
        } else {
            server.http2.clone()
        };
        let url = server.url(&format!("/v2/keys/{}/1", bob.aci));
        let auth = alice.auth();
        tasks.push(tokio::spawn(async move {
            let b: Value = client
                .get(url)
                .header("authorization", auth)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            b["devices"][0]["preKey"]["keyId"].as_u64()
        }));
    }
    let mut ids: Vec<u64> = Vec::new();
    for t in tasks {
        if let Some(id) = t.await.unwrap() {
            ids.push(id);
        }
    }
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, 20, "exactly 20 fetches got a one-time key");
    assert_eq!(ids.len(), 20, "no key was handed out twice");
    server.stop().await;
}

#[tokio::test]
async fn oversized_and_garbage_bodies_get_clear_errors() {
    let server = TestServer::start().await;
    let alice = register(&server).await;
    let c = &server.http1;
    let big = vec![b'x'; 3 * 1024 * 1024];
    let r = c
        .put(server.url("/v2/keys"))
        .header("authorization", alice.auth())
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        413,
        "bodies over the limit are refused, not buffered"
    );
    for garbage in [&b"\x00\x01\x02"[..], b"null", b"[]", b"{\"preKeys\": {}}"] {
        let r = c
            .put(server.url("/v2/keys"))
            .header("authorization", alice.auth())
            .body(garbage.to_vec())
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == 400 || r.status() == 422,
            "{:?} -> {}",
            garbage,
            r.status()
        );
    }
    // A body too large for one device: 413.
    let content = b64(&vec![1u8; 97 * 1024]);
    let body = json!({"messages": [{"type": 1, "destinationDeviceId": 1, "destinationRegistrationId": 1234, "content": content}], "timestamp": 1});
    let r = c
        .put(server.url(&format!("/v1/messages/{}", alice.aci)))
        .header("authorization", alice.auth())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    server.stop().await;
}
