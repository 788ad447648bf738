//! Attachments through the real server over TLS: upload forms (`GET
//! /v4/attachments/form/upload`), tus uploads to the built-in CDN3 in chunks over HTTP/1.1
//! and HTTP/2 with a dropped connection resumed, unauthenticated ranged downloads, the limits,
//! and an upload that continues across a server restart — on the local blob store and on S3
//! (the S3-protocol server named by `HELIOGRAPH_TEST_S3_URL`; unset fails these tests).

mod common;

use common::{register, Account, TestServer};
use heliograph_server::config::Overrides;
use serde_json::Value;
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug)]
enum Backend {
    Local,
    S3,
}

/// A fresh bucket on the S3 test server.
async fn fresh_bucket() -> (String, String) {
    let url = std::env::var("HELIOGRAPH_TEST_S3_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect(
            "HELIOGRAPH_TEST_S3_URL is not set: run through scripts/test (it starts moto's \
             server mode) or start `moto_server -H 127.0.0.1 -p 5000` and set \
             HELIOGRAPH_TEST_S3_URL=http://127.0.0.1:5000",
        );
    let bucket = format!("heliograph-server-{}", uuid::Uuid::new_v4().simple());
    let resp = reqwest::Client::new()
        .put(format!("{}/{bucket}", url.trim_end_matches('/')))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the S3 test server at {url} is unreachable: {e}"));
    assert!(
        resp.status().is_success(),
        "create bucket: {}",
        resp.status()
    );
    (url, bucket)
}

type Edit = Box<dyn FnOnce(&mut heliograph_server::Config) + Send>;

/// The configuration change that selects `backend` (the same bucket for every restart).
async fn backend_config(backend: Backend) -> impl Fn() -> Edit {
    let s3 = match backend {
        Backend::Local => None,
        Backend::S3 => Some(fresh_bucket().await),
    };
    move || -> Edit {
        let s3 = s3.clone();
        Box::new(move |c: &mut heliograph_server::Config| {
            c.cdn.max_attachment_bytes = 8 * MIB as u64;
            if let Some((url, bucket)) = s3 {
                c.blobs.backend = "s3".into();
                c.blobs.s3.endpoint = url;
                c.blobs.s3.bucket = bucket;
                c.blobs.s3.access_key_id = "heliograph-test".into();
                c.blobs.s3.secret_access_key = "heliograph-test-secret".into();
            }
        })
    }
}

async fn start(dir: tempfile::TempDir, edit: Edit) -> TestServer {
    TestServer::start_configured(dir, Overrides::default(), edit).await
}

fn file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 1000) as u8).collect()
}

async fn upload_form(server: &TestServer, account: &Account, query: &str) -> reqwest::Response {
    server
        .http1
        .get(server.url(&format!("/v4/attachments/form/upload{query}")))
        .header("authorization", account.auth())
        .send()
        .await
        .unwrap()
}

/// A request with the form's headers (every tus request carries them).
fn tus(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    form: &Value,
) -> reqwest::RequestBuilder {
    let mut b = client.request(method, url).header("tus-resumable", "1.0.0");
    for (k, v) in form["headers"].as_object().unwrap() {
        b = b.header(k.as_str(), v.as_str().unwrap());
    }
    b
}

fn resume_url(form: &Value) -> String {
    format!(
        "{}/{}",
        form["signedUploadLocation"].as_str().unwrap(),
        form["key"].as_str().unwrap()
    )
}

async fn offset(client: &reqwest::Client, form: &Value) -> u64 {
    let r = tus(client, reqwest::Method::HEAD, &resume_url(form), form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn patch(
    client: &reqwest::Client,
    form: &Value,
    at: u64,
    body: reqwest::Body,
) -> reqwest::Result<reqwest::Response> {
    tus(client, reqwest::Method::PATCH, &resume_url(form), form)
        .header("upload-offset", at.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(body)
        .send()
        .await
}

/// Resumes as clients do: ask for the offset, send the rest, and on a 409 (a request that was
/// cut off committed meanwhile) ask again.
async fn finish_upload(client: &reqwest::Client, form: &Value, data: &[u8]) {
    for _ in 0..10 {
        let at = offset(client, form).await;
        if at == data.len() as u64 {
            return;
        }
        let r = patch(client, form, at, data[at as usize..].to_vec().into())
            .await
            .unwrap();
        match r.status().as_u16() {
            204 => {}
            409 => continue,
            s => panic!("PATCH answered {s}"),
        }
    }
    panic!("the upload did not finish");
}

async fn attachments_end_to_end(backend: Backend) {
    let config = backend_config(backend).await;
    let server = start(tempfile::tempdir().unwrap(), config()).await;
    let alice = register(&server).await;
    let data = file(5 * MIB + 333);

    let r = upload_form(&server, &alice, &format!("?uploadLength={}", data.len())).await;
    assert_eq!(r.status(), 200);
    let form: Value = r.json().await.unwrap();
    assert_eq!(form["cdn"], 3);
    let location = form["signedUploadLocation"].as_str().unwrap();
    assert_eq!(
        location,
        format!("https://127.0.0.1:{}/cdn3/attachments", server.addr.port()),
        "the default CDN base is the server's own origin"
    );

    // Create over HTTP/2, first chunk over HTTP/1.1.
    let r = tus(&server.http2, reqwest::Method::POST, location, &form)
        .header("upload-length", data.len().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"].to_str().unwrap(), resume_url(&form));
    let r = patch(&server.http1, &form, 0, data[..2 * MIB].to_vec().into())
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    // The next chunk's connection breaks midway; the request fails on the client side.
    let sent = data[2 * MIB..3 * MIB].to_vec();
    let broken = futures::stream::iter(vec![
        Ok::<_, std::io::Error>(sent),
        Err(std::io::Error::other("unplugged")),
    ]);
    let r = patch(
        &server.http1,
        &form,
        2 * MIB as u64,
        reqwest::Body::wrap_stream(broken),
    )
    .await;
    assert!(r.is_err() || r.unwrap().status() != 204);
    let at = offset(&server.http2, &form).await;
    assert!(
        (2 * MIB as u64..=3 * MIB as u64).contains(&at),
        "offset {at}"
    );
    finish_upload(&server.http2, &form, &data).await;

    // Bob downloads without credentials; ranges work.
    let url = resume_url(&form);
    let r = server.http1.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        Sha256::digest(r.bytes().await.unwrap()),
        Sha256::digest(&data)
    );
    let r = server
        .http2
        .get(&url)
        .header("range", "bytes=5000000-5000099")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes 5000000-5000099/{}", data.len())
    );
    assert_eq!(&r.bytes().await.unwrap()[..], &data[5_000_000..5_000_100]);

    // Limits.
    assert_eq!(
        upload_form(&server, &alice, "?uploadLength=8388609")
            .await
            .status(),
        413
    );
    assert_eq!(
        upload_form(&server, &alice, "?uploadLength=0")
            .await
            .status(),
        400
    );
    assert_eq!(
        upload_form(&server, &alice, "?uploadLength=x")
            .await
            .status(),
        400
    );
    let r = server
        .http1
        .get(server.url("/v4/attachments/form/upload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let small: Value = upload_form(&server, &alice, "?uploadLength=10")
        .await
        .json()
        .await
        .unwrap();
    let r = tus(&server.http1, reqwest::Method::POST, location, &small)
        .header("upload-length", "11")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "over the credential's maxLen");
    let r = server
        .http1
        .post(location)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "5")
        .header(
            "upload-metadata",
            small["headers"]["Upload-Metadata"].as_str().unwrap(),
        )
        .header("authorization", "Bearer not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;
}

/// An upload started before a restart is finished after it (what a second node sharing the
/// store sees as well).
async fn uploads_survive_a_restart(backend: Backend) {
    let config = backend_config(backend).await;
    let server = start(tempfile::tempdir().unwrap(), config()).await;
    let alice = register(&server).await;
    let data = file(3 * MIB + 5);
    let form: Value = upload_form(&server, &alice, &format!("?uploadLength={}", data.len()))
        .await
        .json()
        .await
        .unwrap();
    let r = tus(
        &server.http1,
        reqwest::Method::POST,
        form["signedUploadLocation"].as_str().unwrap(),
        &form,
    )
    .header("upload-length", data.len().to_string())
    .header("content-type", "application/offset+octet-stream")
    .body(data[..MIB].to_vec())
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["upload-offset"], MIB.to_string().as_str());

    let dir = server.stop().await;
    let server = start(dir, config()).await;
    // The form names the old port; talk to the new one at the same paths.
    let port = server.addr.port();
    let mut moved = form.clone();
    let old = moved["signedUploadLocation"].as_str().unwrap().to_owned();
    let path = &old[old.find("/cdn3").unwrap()..];
    moved["signedUploadLocation"] = Value::String(format!("https://127.0.0.1:{port}{path}"));
    assert_eq!(offset(&server.http1, &moved).await, MIB as u64);
    finish_upload(&server.http1, &moved, &data).await;
    let got = server.http1.get(resume_url(&moved)).send().await.unwrap();
    assert_eq!(&got.bytes().await.unwrap()[..], &data[..]);
    server.stop().await;
}

#[tokio::test]
async fn local_attachments_end_to_end() {
    attachments_end_to_end(Backend::Local).await;
}

#[tokio::test]
async fn s3_attachments_end_to_end() {
    attachments_end_to_end(Backend::S3).await;
}

#[tokio::test]
async fn local_uploads_survive_a_restart() {
    uploads_survive_a_restart(Backend::Local).await;
}

#[tokio::test]
async fn s3_uploads_survive_a_restart() {
    uploads_survive_a_restart(Backend::S3).await;
}

/// One unary gRPC call over HTTP/2 by hand (length-prefixed frame, `application/grpc`).
async fn grpc_call<Resp: prost::Message + Default>(
    server: &TestServer,
    auth: &str,
    path: &str,
    request: impl prost::Message,
) -> (Option<Resp>, Option<String>) {
    let msg = request.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    frame.extend_from_slice(&msg);
    let r = server
        .http2
        .post(server.url(path))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", auth)
        .body(frame)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status = r
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = r.bytes().await.unwrap();
    if body.len() < 5 {
        return (None, status);
    }
    (Some(Resp::decode(&body[5..]).unwrap()), status)
}

#[tokio::test]
async fn grpc_get_upload_form() {
    use heliograph_protocol::grpc::attachments as pb;
    use pb::get_upload_form_response::Outcome;
    let config = backend_config(Backend::Local).await;
    let server = start(tempfile::tempdir().unwrap(), config()).await;
    let alice = register(&server).await;
    let path = "/org.signal.chat.attachments.Attachments/GetUploadForm";

    let (resp, _) = grpc_call::<pb::GetUploadFormResponse>(
        &server,
        &alice.auth(),
        path,
        pb::GetUploadFormRequest {
            upload_length: 1234,
        },
    )
    .await;
    let Some(Outcome::UploadForm(form)) = resp.unwrap().outcome else {
        panic!("expected a form");
    };
    assert_eq!(form.cdn, 3);
    assert_eq!(form.key.len(), 20);
    assert!(form.headers["Authorization"].starts_with("Bearer "));
    assert!(form.signed_upload_location.ends_with("/cdn3/attachments"));

    let (resp, _) = grpc_call::<pb::GetUploadFormResponse>(
        &server,
        &alice.auth(),
        path,
        pb::GetUploadFormRequest {
            upload_length: 8 * MIB as u64 + 1,
        },
    )
    .await;
    assert!(matches!(
        resp.unwrap().outcome,
        Some(Outcome::ExceedsMaxUploadLength(_))
    ));

    // Bad credentials and a zero length are errors, not forms (grpc-status 16 and 3).
    let (resp, status) = grpc_call::<pb::GetUploadFormResponse>(
        &server,
        "Basic eDp5",
        path,
        pb::GetUploadFormRequest { upload_length: 1 },
    )
    .await;
    assert!(resp.is_none());
    assert_eq!(status.as_deref(), Some("16"));
    let (resp, status) = grpc_call::<pb::GetUploadFormResponse>(
        &server,
        &alice.auth(),
        path,
        pb::GetUploadFormRequest { upload_length: 0 },
    )
    .await;
    assert!(resp.is_none());
    assert_eq!(status.as_deref(), Some("3"));
    server.stop().await;
}

#[tokio::test]
async fn a_missing_bucket_stops_the_start_with_a_clear_message() {
    let (url, bucket) = fresh_bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.path().to_path_buf()),
        listen: Some("127.0.0.1:0".into()),
        ..Default::default()
    };
    let mut config = heliograph_server::config::load(None, &overrides)
        .unwrap()
        .config;
    config.blobs.backend = "s3".into();
    config.blobs.s3.endpoint = url;
    config.blobs.s3.bucket = format!("{bucket}-never-created");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = heliograph_server::run(config, listener, std::future::pending(), |_| {})
        .await
        .expect_err("the server must not start without its bucket");
    let text = format!("{err:#}");
    assert!(text.contains("blobs.s3"), "{text}");
}
