//! Verification sessions and `POST /v1/registration` over real TLS, HTTP/1.1 and HTTP/2.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn session_state_machine() {
    let server = TestServer::start().await;
    let c = &server.http2;
    let number = random_number();

    let r = c
        .post(server.url("/v1/verification/session"))
        .json(&json!({"number": number}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-signal-timestamp"));
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["requestedInformation"], json!(["captcha"]));
    assert_eq!(s["allowedToRequestCode"], false);
    assert_eq!(s["verified"], false);
    let id = s["id"].as_str().unwrap().to_owned();

    // Asking for a code before the captcha is solved: 409 with the session.
    let r = c
        .post(server.url(&format!("/v1/verification/session/{id}/code")))
        .json(&json!({"transport": "sms", "client": "ios"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], id);

    // Submitting a code before one was sent: 409.
    let r = c
        .put(server.url(&format!("/v1/verification/session/{id}/code")))
        .json(&json!({"code": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // A wrong captcha: 403 with the session; a malformed one: 400.
    let r = c
        .patch(server.url(&format!("/v1/verification/session/{id}")))
        .json(&json!({"captcha": "noop.noop.challenge.noop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["requestedInformation"],
        json!(["captcha"])
    );
    let r = c
        .patch(server.url(&format!("/v1/verification/session/{id}")))
        .json(&json!({"captcha": "nodots"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let s: Value = c
        .patch(server.url(&format!("/v1/verification/session/{id}")))
        .json(&json!({"captcha": "noop.noop.registration.noop"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["allowedToRequestCode"], true);
    assert_eq!(s["requestedInformation"], json!([]));
    assert_eq!(s["nextSms"], 0);

    let r = c
        .post(server.url(&format!("/v1/verification/session/{id}/code")))
        .json(&json!({"transport": "sms", "client": "android-2021-03"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["nextVerificationAttempt"], 0);
    // Resend too early: 429 with Retry-After.
    let r = c
        .post(server.url(&format!("/v1/verification/session/{id}/code")))
        .json(&json!({"transport": "voice", "client": "ios"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));

    let s: Value = c
        .put(server.url(&format!("/v1/verification/session/{id}/code")))
        .json(&json!({"code": "999999"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["verified"], true, "test mode accepts any code");
    let r = c
        .put(server.url(&format!("/v1/verification/session/{id}/code")))
        .json(&json!({"code": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "already verified");

    let s: Value = c
        .get(server.url(&format!("/v1/verification/session/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["verified"], true);
    server.stop().await;
}

#[tokio::test]
async fn session_input_errors() {
    let server = TestServer::start().await;
    let c = &server.http1;
    let post = |body: Value| {
        c.post(server.url("/v1/verification/session"))
            .json(&body)
            .send()
    };
    assert_eq!(
        post(json!({"number": "5551234"})).await.unwrap().status(),
        400,
        "not E.164"
    );
    assert_eq!(
        post(json!({})).await.unwrap().status(),
        422,
        "number missing"
    );
    assert_eq!(
        post(json!({"number": random_number(), "pushToken": "t"}))
            .await
            .unwrap()
            .status(),
        422,
        "token without type"
    );
    let r = c
        .post(server.url("/v1/verification/session"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "malformed JSON");
    let r = c
        .get(server.url("/v1/verification/session/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .get(server.url("/v1/verification/session/%%%"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A push token puts the push challenge first.
    let s: Value =
        post(json!({"number": random_number(), "pushToken": "tok", "pushTokenType": "fcm"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        s["requestedInformation"],
        json!(["pushChallenge", "captcha"])
    );
    let id = s["id"].as_str().unwrap();
    let r = c
        .patch(server.url(&format!("/v1/verification/session/{id}")))
        .json(&json!({"pushChallenge": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    server.stop().await;
}

#[tokio::test]
async fn registration_checks_and_reregistration() {
    let server = TestServer::start().await;
    let c = &server.http1;
    let number = random_number();
    let aci = IdentityKeys::generate();
    let pni = IdentityKeys::generate();
    let key = [7u8; 16];
    let auth = format!("Basic {}", b64(format!("{number}:password1").as_bytes()));
    let register = |body: Value, auth: String| {
        c.post(server.url("/v1/registration"))
            .header("authorization", auth)
            .json(&body)
            .send()
    };

    // Unverified session: 401.
    let s: Value = c
        .post(server.url("/v1/verification/session"))
        .json(&json!({"number": number}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unverified = s["id"].as_str().unwrap().to_owned();
    assert_eq!(
        register(
            registration_body(&unverified, &aci, &pni, &key),
            auth.clone()
        )
        .await
        .unwrap()
        .status(),
        401
    );

    let session = verified_session(c, &server, &number).await;
    // Session for another number: 400. No auth at all: 401.
    let other = format!(
        "Basic {}",
        b64(format!("{}:pw", random_number()).as_bytes())
    );
    assert_eq!(
        register(registration_body(&session, &aci, &pni, &key), other)
            .await
            .unwrap()
            .status(),
        400
    );
    let r = c
        .post(server.url("/v1/registration"))
        .json(&registration_body(&session, &aci, &pni, &key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Each of the four signatures is checked over the serialized key: 422.
    for field in [
        "aciSignedPreKey",
        "pniSignedPreKey",
        "aciPqLastResortPreKey",
        "pniPqLastResortPreKey",
    ] {
        let mut body = registration_body(&session, &aci, &pni, &key);
        let other = IdentityKeys::generate();
        body[field] = if field.contains("Pq") {
            other.last_resort(2)
        } else {
            other.signed_pre_key(1)
        };
        assert_eq!(
            register(body, auth.clone()).await.unwrap().status(),
            422,
            "{field}"
        );
    }
    // Missing spqr capability: 499.
    let mut body = registration_body(&session, &aci, &pni, &key);
    body["accountAttributes"]["capabilities"] = json!({"spqr": false});
    assert_eq!(register(body, auth.clone()).await.unwrap().status(), 499);
    // Registration id out of range: 422. Invalid identity key: 422. Wrong-size access key: 422.
    let mut body = registration_body(&session, &aci, &pni, &key);
    body["accountAttributes"]["registrationId"] = json!(0x4000);
    assert_eq!(register(body, auth.clone()).await.unwrap().status(), 422);
    let mut body = registration_body(&session, &aci, &pni, &key);
    body["aciIdentityKey"] = json!(b64(&[5u8; 10]));
    assert_eq!(register(body, auth.clone()).await.unwrap().status(), 422);
    let mut body = registration_body(&session, &aci, &pni, &key);
    body["accountAttributes"]["unidentifiedAccessKey"] = json!(b64(&[1u8; 5]));
    assert_eq!(register(body, auth.clone()).await.unwrap().status(), 422);

    // libsignal sends the access key as an array of 16 numbers.
    let mut body = registration_body(&session, &aci, &pni, &key);
    body["accountAttributes"]["unidentifiedAccessKey"] = json!(key.to_vec());
    let r = register(body, auth.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["number"], number);
    assert_eq!(first["reregistration"], false);
    assert!(
        first["uuid"].as_str().unwrap().len() == 36 && first["pni"].as_str().unwrap().len() == 36
    );

    // The session is used up.
    assert_eq!(
        register(registration_body(&session, &aci, &pni, &key), auth.clone())
            .await
            .unwrap()
            .status(),
        401
    );

    // Re-registration keeps ACI and PNI; the old password stops working.
    let session2 = verified_session(c, &server, &number).await;
    let auth2 = format!("Basic {}", b64(format!("{number}:password2").as_bytes()));
    let second: Value = register(registration_body(&session2, &aci, &pni, &key), auth2)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["uuid"], first["uuid"]);
    assert_eq!(second["pni"], first["pni"]);
    assert_eq!(second["reregistration"], true);
    let old_auth = format!(
        "Basic {}",
        b64(format!("{}.1:password1", first["uuid"].as_str().unwrap()).as_bytes())
    );
    let new_auth = format!(
        "Basic {}",
        b64(format!("{}.1:password2", first["uuid"].as_str().unwrap()).as_bytes())
    );
    assert_eq!(
        c.get(server.url("/v1/accounts/whoami"))
            .header("authorization", old_auth)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(server.url("/v1/accounts/whoami"))
            .header("authorization", new_auth)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.stop().await;
}
