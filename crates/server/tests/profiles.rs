//! Profiles over real TLS: versioned set and get, field validation, access rules, the
//! access-key checksum, PNI profiles, credential-type checks and the batch identity check.
//! (Credential issuance and avatars with libsignal are in `interop/test/profiles.test.mjs`.)

mod common;

use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The compressed Ristretto base point: a valid point for a well-formed commitment.
const BASEPOINT: &str = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";

fn commitment() -> Vec<u8> {
    let point = hex::decode(BASEPOINT).unwrap();
    let mut c = vec![0u8];
    for _ in 0..3 {
        c.extend_from_slice(&point);
    }
    c
}

fn version(n: u8) -> String {
    hex::encode([n; 32])
}

fn profile_body(version: &str) -> Value {
    json!({
        "version": version,
        "commitment": b64(&commitment()),
        "name": b64(&[1u8; 81]),
        "about": b64(&[2u8; 156]),
        "aboutEmoji": b64(&[3u8; 60]),
        "paymentAddress": b64(&[4u8; 582]),
        "phoneNumberSharing": b64(&[5u8; 29]),
        "avatar": false,
        "sameAvatar": false,
        "badgeIds": []
    })
}

async fn put_profile(server: &TestServer, who: &Account, body: &Value) -> reqwest::Response {
    server
        .http2
        .put(server.url("/v1/profile"))
        .header("authorization", who.auth())
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn set_and_fetch_versioned_profiles() {
    let server = TestServer::start().await;
    let c = &server.http2;
    let (alice, bob) = (register(&server).await, register(&server).await);

    let v1 = version(1);
    let resp = put_profile(&server, &bob, &profile_body(&v1)).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.bytes().await.unwrap().is_empty(),
        "no form without a new avatar"
    );

    // Alice reads it with Bob's access key.
    let got: Value = get_json(
        c,
        &server.url(&format!("/v1/profile/{}/{v1}", bob.aci)),
        Some(("unidentified-access-key", &b64(&bob.access_key))),
    )
    .await;
    assert_eq!(got["name"], b64(&[1u8; 81]));
    assert_eq!(got["about"], b64(&[2u8; 156]));
    assert_eq!(got["aboutEmoji"], b64(&[3u8; 60]));
    assert_eq!(got["paymentAddress"], b64(&[4u8; 582]));
    assert_eq!(got["phoneNumberSharing"], b64(&[5u8; 29]));
    assert_eq!(got["avatar"], Value::Null);
    assert_eq!(got["uuid"], bob.aci);
    assert_eq!(
        got["identityKey"],
        b64(bob.aci_keys.identity_public().serialize())
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&bob.access_key).unwrap();
    mac.update(&[0u8; 32]);
    assert_eq!(got["unidentifiedAccess"], b64(&mac.finalize().into_bytes()));
    assert_eq!(got["unrestrictedUnidentifiedAccess"], false);
    assert_eq!(got["capabilities"]["spqr"], true);
    assert_eq!(got["capabilities"]["profiles_v2"], false);
    assert!(
        got["capabilities"].get("storage").is_none(),
        "server-only capabilities stay hidden"
    );
    assert_eq!(got["badges"], json!([]));

    // A version never set: 200 with null fields.
    let unknown: Value = get_json(
        c,
        &server.url(&format!("/v1/profile/{}/{}", bob.aci, version(9))),
        Some(("authorization", &alice.auth())),
    )
    .await;
    assert_eq!(unknown["name"], Value::Null);
    assert_eq!(unknown["uuid"], bob.aci);

    // A second version becomes current; the old one keeps its fields but loses the payment
    // address, which only the current version shows.
    let v2 = version(2);
    let mut body = profile_body(&v2);
    body["name"] = json!(b64(&[6u8; 285]));
    assert_eq!(put_profile(&server, &bob, &body).await.status(), 200);
    let old: Value = get_json(
        c,
        &server.url(&format!("/v1/profile/{}/{v1}", bob.aci)),
        Some(("authorization", &alice.auth())),
    )
    .await;
    assert_eq!(old["name"], b64(&[1u8; 81]));
    assert_eq!(old["paymentAddress"], Value::Null);
    let new: Value = get_json(
        c,
        &server.url(&format!("/v1/profile/{}/{v2}", bob.aci)),
        Some(("authorization", &alice.auth())),
    )
    .await;
    assert_eq!(new["name"], b64(&[6u8; 285]));
    assert_eq!(new["paymentAddress"], b64(&[4u8; 582]));

    // The profile survives a restart.
    let dir = server.stop().await;
    let server = TestServer::start_in(dir).await;
    let again: Value = get_json(
        &server.http2,
        &server.url(&format!("/v1/profile/{}/{v2}", bob.aci)),
        Some(("unidentified-access-key", &b64(&bob.access_key))),
    )
    .await;
    assert_eq!(again["name"], b64(&[6u8; 285]));
}

#[tokio::test]
async fn access_rules() {
    let server = TestServer::start().await;
    let c = &server.http2;
    let (alice, bob) = (register(&server).await, register(&server).await);
    let v = version(3);
    assert_eq!(
        put_profile(&server, &bob, &profile_body(&v)).await.status(),
        200
    );
    let get = |path: String, header: Option<(&'static str, String)>| {
        let mut r = c.get(server.url(&path));
        if let Some((k, v)) = header {
            r = r.header(k, v);
        }
        r.send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();

    let versioned = format!("/v1/profile/{}/{v}", bob.aci);
    // No credentials, a wrong key, a malformed key: 401.
    assert_eq!(status(get(versioned.clone(), None).await.unwrap()), 401);
    let wrong = Some(("unidentified-access-key", b64(&[0u8; 16])));
    assert_eq!(
        status(get(versioned.clone(), wrong.clone()).await.unwrap()),
        401
    );
    let short = Some(("unidentified-access-key", b64(&[0u8; 5])));
    assert_eq!(status(get(versioned.clone(), short).await.unwrap()), 401);
    // Wrong password: 401.
    let mut bad = alice.auth_for(1);
    bad.push('x');
    assert_eq!(
        status(
            get(versioned.clone(), Some(("authorization", bad)))
                .await
                .unwrap()
        ),
        401
    );
    // Unknown account: 404 for an authenticated caller, 401 for an anonymous one (no free
    // existence check).
    let ghost = format!("/v1/profile/{}/{v}", uuid::Uuid::new_v4());
    assert_eq!(
        status(
            get(ghost.clone(), Some(("authorization", alice.auth())))
                .await
                .unwrap()
        ),
        404
    );
    let any_key = Some(("unidentified-access-key", b64(&[7u8; 16])));
    assert_eq!(status(get(ghost, any_key).await.unwrap()), 401);
    // A PNI is not a versioned-profile target.
    assert_eq!(
        status(
            get(
                format!("/v1/profile/PNI:{}/{v}", bob.pni),
                Some(("authorization", alice.auth()))
            )
            .await
            .unwrap()
        ),
        400
    );

    // Unversioned: an ACI with the key, a PNI only with account auth.
    let base: Value = get(
        format!("/v1/profile/{}", bob.aci),
        Some(("unidentified-access-key", b64(&bob.access_key))),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(base["uuid"], bob.aci);
    assert!(base.get("name").is_none());
    let pni_path = format!("/v1/profile/PNI:{}", bob.pni);
    assert_eq!(
        status(
            get(
                pni_path.clone(),
                Some(("unidentified-access-key", b64(&bob.access_key)))
            )
            .await
            .unwrap()
        ),
        401
    );
    let pni: Value = get(pni_path, Some(("authorization", alice.auth())))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pni["uuid"], format!("PNI:{}", bob.pni));
    assert_eq!(
        pni["identityKey"],
        b64(bob.pni_keys.identity_public().serialize())
    );
    assert_eq!(pni["unidentifiedAccess"], Value::Null);
    // A malformed service id.
    assert_eq!(
        status(
            get(
                "/v1/profile/not-a-uuid".into(),
                Some(("authorization", alice.auth()))
            )
            .await
            .unwrap()
        ),
        400
    );
    // A garbage group send token is refused.
    assert_eq!(
        status(
            get(
                format!("/v1/profile/{}", bob.aci),
                Some(("group-send-token", b64(&[1, 2, 3])))
            )
            .await
            .unwrap()
        ),
        401
    );
}

#[tokio::test]
async fn bad_profile_bodies() {
    let server = TestServer::start().await;
    let bob = register(&server).await;
    let v = version(4);
    let cases: Vec<(&str, Value, u16)> = vec![
        ("name size", json!(b64(&[1u8; 80])), 422),
        ("about size", json!(b64(&[1u8; 157])), 422),
        ("emoji size", json!(b64(&[1u8; 61])), 422),
        ("payment size", json!(b64(&[1u8; 581])), 422),
        ("sharing size", json!(b64(&[1u8; 28])), 422),
    ];
    for (what, value, code) in cases {
        let mut body = profile_body(&v);
        let field = match what {
            "name size" => "name",
            "about size" => "about",
            "emoji size" => "aboutEmoji",
            "payment size" => "paymentAddress",
            _ => "phoneNumberSharing",
        };
        body[field] = value;
        assert_eq!(
            put_profile(&server, &bob, &body).await.status(),
            code,
            "{what}"
        );
    }
    let mut body = profile_body("abc");
    assert_eq!(
        put_profile(&server, &bob, &body).await.status(),
        422,
        "short version"
    );
    body = profile_body(&"zz".repeat(32));
    assert_eq!(
        put_profile(&server, &bob, &body).await.status(),
        422,
        "non-hex version"
    );
    body = profile_body(&v);
    // 96 bytes that are not three Ristretto points.
    let mut bad = vec![0u8];
    bad.extend_from_slice(&[0xff; 96]);
    body["commitment"] = json!(b64(&bad));
    assert_eq!(
        put_profile(&server, &bob, &body).await.status(),
        400,
        "invalid commitment"
    );
    body["commitment"] = json!("***");
    assert_eq!(
        put_profile(&server, &bob, &body).await.status(),
        422,
        "not base64"
    );
    // Unauthenticated.
    let resp = server
        .http2
        .put(server.url("/v1/profile"))
        .json(&profile_body(&v))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Empty optional fields are allowed.
    let mut body = profile_body(&v);
    body["about"] = json!("");
    body["aboutEmoji"] = json!(null);
    body["paymentAddress"] = json!("");
    assert_eq!(put_profile(&server, &bob, &body).await.status(), 200);
}

#[tokio::test]
async fn credential_requests_need_the_right_type() {
    let server = TestServer::start().await;
    let (alice, bob) = (register(&server).await, register(&server).await);
    let v = version(5);
    assert_eq!(
        put_profile(&server, &bob, &profile_body(&v)).await.status(),
        200
    );
    let path = |suffix: &str| format!("/v1/profile/{}/{v}/{}{suffix}", bob.aci, "00".repeat(329));
    for (suffix, code) in [
        ("", 400),
        ("?credentialType=pni", 400),
        // The right type with a request that is not a valid ProfileKeyCredentialRequest.
        ("?credentialType=expiringProfileKey", 400),
    ] {
        let resp = server
            .http2
            .get(server.url(&path(suffix)))
            .header("authorization", alice.auth())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), code, "{suffix}");
    }
    // Not the current version: 200 with a null credential (no request parsing needed).
    let other = format!(
        "/v1/profile/{}/{}/{}?credentialType=expiringProfileKey",
        bob.aci,
        version(6),
        "00".repeat(329)
    );
    let body: Value = get_json(
        &server.http2,
        &server.url(&other),
        Some(("authorization", &alice.auth())),
    )
    .await;
    assert_eq!(body["credential"], Value::Null);
    assert_eq!(body["name"], Value::Null);
}

#[tokio::test]
async fn batch_identity_check_lists_mismatches() {
    let server = TestServer::start().await;
    let (alice, bob) = (register(&server).await, register(&server).await);
    let fp = |key: &[u8]| b64(&Sha256::digest(key)[..4]);
    let alice_key = alice.aci_keys.identity_public().serialize().to_vec();
    let bob_pni_key = bob.pni_keys.identity_public().serialize().to_vec();
    let body = json!({"elements": [
        {"uuid": alice.aci, "fingerprint": fp(&alice_key)},
        {"uuid": format!("PNI:{}", bob.pni), "fingerprint": b64(&[0u8; 4])},
        {"uuid": uuid::Uuid::new_v4().to_string(), "fingerprint": b64(&[0u8; 4])}
    ]});
    let resp: Value = server
        .http2
        .post(server.url("/v1/profile/identity_check/batch"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        resp,
        json!({"elements": [{"uuid": format!("PNI:{}", bob.pni), "identityKey": b64(&bob_pni_key)}]})
    );
    // More than 1000 elements: 422; a 3-byte fingerprint: 422.
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"uuid": alice.aci, "fingerprint": b64(&[0u8; 4])}))
        .collect();
    for body in [
        json!({ "elements": many }),
        json!({"elements": [{"uuid": alice.aci, "fingerprint": b64(&[0u8; 3])}]}),
    ] {
        let resp = server
            .http2
            .post(server.url("/v1/profile/identity_check/batch"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422);
    }
}

#[tokio::test]
async fn account_deletion_removes_profiles() {
    let server = TestServer::start().await;
    let (alice, bob) = (register(&server).await, register(&server).await);
    let v = version(7);
    assert_eq!(
        put_profile(&server, &bob, &profile_body(&v)).await.status(),
        200
    );
    let resp = server
        .http2
        .delete(server.url("/v1/accounts/me"))
        .header("authorization", bob.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = server
        .http2
        .get(server.url(&format!("/v1/profile/{}/{v}", bob.aci)))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
