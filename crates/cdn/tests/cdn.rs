//! The CDN routes end to end (in process, through the axum router), on the local filesystem
//! and on S3: tus creation, chunked PATCHes, interruption and resumption, several nodes on one
//! store, concurrent writers, limits and statuses, ranged downloads, expiry, and avatars.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use common::{store, Backend, TestStore};
use heliograph_cdn::{AvatarKey, BlobStore, Cdn, CdnConfig, Clock, UploadForm};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

const BASE: &str = "https://cdn.test";
const MIB: usize = 1024 * 1024;
const DAY_MS: i64 = 24 * 3600 * 1000;

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl TestClock {
    fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

struct Node {
    cdn: Cdn,
    router: Router,
}

struct Env {
    t: TestStore,
    clock: Arc<TestClock>,
}

impl Env {
    async fn new(backend: Backend) -> Env {
        Env {
            t: store(backend).await,
            clock: Arc::new(TestClock(AtomicI64::new(
                chrono::Utc::now().timestamp_millis(),
            ))),
        }
    }

    /// A node: its own `Cdn` over the same store and secrets (what another server process
    /// sharing the bucket would have).
    fn node(&self) -> Node {
        self.node_on(self.t.store.clone())
    }

    fn node_on(&self, store: BlobStore) -> Node {
        let mut config = CdnConfig::for_origin(BASE, [9; 32]);
        config.max_attachment_bytes = 20 * MIB as u64;
        config.s3_identity = self.t.s3.clone();
        let cdn = Cdn::with_clock(store, config, self.clock.clone());
        Node {
            router: cdn.router(),
            cdn,
        }
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn offset(&self) -> u64 {
        self.header("upload-offset")
            .expect("Upload-Offset")
            .parse()
            .unwrap()
    }
}

async fn send(router: &Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

fn data(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x: u32 = 0x1234_5678;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn path_of(url: &str) -> &str {
    url.strip_prefix(BASE).expect("URL under the CDN base")
}

/// A tus request with the form's headers, as every client request carries them.
fn tus_req(form: &UploadForm, method: Method, url: &str) -> axum::http::request::Builder {
    let mut b = Request::builder()
        .method(method)
        .uri(path_of(url))
        .header("tus-resumable", "1.0.0");
    for (k, v) in &form.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b
}

fn resume_url(form: &UploadForm) -> String {
    format!("{}/{}", form.signed_upload_location, form.key)
}

async fn create(node: &Node, form: &UploadForm, len: usize) -> Resp {
    send(
        &node.router,
        tus_req(form, Method::POST, &form.signed_upload_location)
            .header("upload-length", len.to_string())
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn patch(node: &Node, form: &UploadForm, offset: u64, body: Body) -> Resp {
    send(
        &node.router,
        tus_req(form, Method::PATCH, &resume_url(form))
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(body)
            .unwrap(),
    )
    .await
}

async fn head_offset(node: &Node, form: &UploadForm) -> Resp {
    send(
        &node.router,
        tus_req(form, Method::HEAD, &resume_url(form))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn download(node: &Node, key: &str, range: Option<&str>) -> Resp {
    let mut b = Request::get(format!("/cdn3/attachments/{key}"));
    if let Some(r) = range {
        b = b.header("range", r);
    }
    send(&node.router, b.body(Body::empty()).unwrap()).await
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// A body that delivers `bytes` and then fails, as a connection dropped mid-request does.
fn broken_body(bytes: Vec<u8>) -> Body {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(bytes)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    Body::from_stream(futures::stream::iter(chunks))
}

async fn chunked_upload_resume_and_download(backend: Backend) {
    let env = Env::new(backend).await;
    let node = env.node();
    let file = data(6 * MIB + 321);
    let form = node
        .cdn
        .attachment_upload_form(Some(file.len() as u64))
        .unwrap();

    let r = create(&node, &form, file.len()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.offset(), 0);
    assert_eq!(r.header("location"), Some(resume_url(&form).as_str()));
    assert_eq!(r.header("tus-resumable"), Some("1.0.0"));
    assert!(r.header("upload-expires").unwrap().ends_with("GMT"));

    // Chunk 1, then a chunk whose connection breaks after 700 KiB.
    let chunk = 2 * MIB;
    let r = patch(&node, &form, 0, Body::from(file[..chunk].to_vec())).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(r.offset(), chunk as u64);
    let cut = chunk + 700 * 1024;
    patch(
        &node,
        &form,
        chunk as u64,
        broken_body(file[chunk..cut].to_vec()),
    )
    .await;

    // Resume after asking where we are: the bytes that arrived were kept.
    let r = head_offset(&node, &form).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.offset(), cut as u64);
    assert_eq!(
        r.header("upload-length"),
        Some(file.len().to_string().as_str())
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(download(&node, &form.key, None).await.status == StatusCode::NOT_FOUND);

    let mut offset = cut;
    while offset < file.len() {
        let end = (offset + chunk).min(file.len());
        let r = patch(
            &node,
            &form,
            offset as u64,
            Body::from(file[offset..end].to_vec()),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(r.offset(), end as u64);
        offset = end;
    }

    let r = download(&node, &form.key, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-length"),
        Some(file.len().to_string().as_str())
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(sha(&r.body), sha(&file));

    let r = download(&node, &form.key, Some("bytes=1000-1999")).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 1000-1999/{}", file.len()).as_str())
    );
    assert_eq!(&r.body[..], &file[1000..2000]);
    let r = download(&node, &form.key, Some("bytes=-10")).await;
    assert_eq!(&r.body[..], &file[file.len() - 10..]);
    let r = download(&node, &form.key, Some(&format!("bytes={}-", file.len()))).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{}", file.len()).as_str())
    );

    // A plain HEAD is the download's; a tus HEAD now reports the finished length.
    let r = send(
        &node.router,
        Request::head(format!("/cdn3/attachments/{}", form.key))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-length"),
        Some(file.len().to_string().as_str())
    );
    assert!(r.body.is_empty());
    let r = head_offset(&node, &form).await;
    assert_eq!(r.offset(), file.len() as u64);
    assert!(
        node.cdn.store().list("tus").await.unwrap().is_empty(),
        "upload state is removed once the attachment is composed"
    );
}

async fn creation_with_upload_in_one_post(backend: Backend) {
    let env = Env::new(backend).await;
    let node = env.node();
    let file = data(5 * MIB + 17);
    let form = node.cdn.attachment_upload_form(None).unwrap();
    let r = send(
        &node.router,
        tus_req(&form, Method::POST, &form.signed_upload_location)
            .header("upload-length", file.len().to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(Body::from(file.clone()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.offset(), file.len() as u64);
    let r = download(&node, &form.key, None).await;
    assert_eq!(sha(&r.body), sha(&file));

    // A creation-with-upload cut short is resumed with HEAD + PATCH at location/key.
    let form = node.cdn.attachment_upload_form(Some(3000)).unwrap();
    let file = data(3000);
    send(
        &node.router,
        tus_req(&form, Method::POST, &form.signed_upload_location)
            .header("upload-length", "3000")
            .header("content-type", "application/offset+octet-stream")
            .body(broken_body(file[..1234].to_vec()))
            .unwrap(),
    )
    .await;
    let at = head_offset(&node, &form).await.offset();
    assert_eq!(at, 1234);
    let r = patch(&node, &form, at, Body::from(file[1234..].to_vec())).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(download(&node, &form.key, None).await.body, file);
}

async fn nodes_sharing_a_store_continue_each_others_uploads(backend: Backend) {
    let env = Env::new(backend).await;
    let a = env.node();
    let file = data(3 * MIB);
    let form = a
        .cdn
        .attachment_upload_form(Some(file.len() as u64))
        .unwrap();
    assert_eq!(
        create(&a, &form, file.len()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        patch(&a, &form, 0, Body::from(file[..MIB].to_vec()))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Node A "restarts" (a new instance), node B takes the next chunk.
    drop(a);
    let b = env.node();
    assert_eq!(head_offset(&b, &form).await.offset(), MIB as u64);
    assert_eq!(
        patch(
            &b,
            &form,
            MIB as u64,
            Body::from(file[MIB..2 * MIB].to_vec())
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let a2 = env.node();
    assert_eq!(
        patch(
            &a2,
            &form,
            2 * MIB as u64,
            Body::from(file[2 * MIB..].to_vec())
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(sha(&download(&b, &form.key, None).await.body), sha(&file));
}

async fn concurrent_patches_at_one_offset_do_not_corrupt(backend: Backend) {
    let env = Env::new(backend).await;
    let (a, b) = (env.node(), env.node());
    let len = 600 * 1024;
    let form = a.cdn.attachment_upload_form(Some(len as u64)).unwrap();
    create(&a, &form, len).await;
    let (one, two) = (data(len), vec![0x5a; len]);
    let (ra, rb) = tokio::join!(
        patch(&a, &form, 0, Body::from(one.clone())),
        patch(&b, &form, 0, Body::from(two.clone()))
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::CONFLICT]);
    let got = download(&a, &form.key, None).await.body;
    assert!(
        got == one || got == two,
        "the result is one writer's bytes, whole"
    );
}

async fn statuses_and_limits(backend: Backend) {
    let env = Env::new(backend).await;
    let node = env.node();
    let form = node.cdn.attachment_upload_form(Some(1000)).unwrap();

    // OPTIONS advertises the protocol.
    let r = send(
        &node.router,
        Request::options("/cdn3/attachments")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.header("tus-version"), Some("1.0.0"));
    assert_eq!(
        r.header("tus-max-size"),
        Some((20 * MIB).to_string().as_str())
    );
    assert!(r
        .header("tus-extension")
        .unwrap()
        .contains("creation-with-upload"));

    // 413: over the credential's maxLen, and over the configured maximum.
    assert_eq!(
        create(&node, &form, 1001).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let big = node.cdn.attachment_upload_form(None).unwrap();
    assert_eq!(
        create(&node, &big, 20 * MIB + 1).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert!(node
        .cdn
        .attachment_upload_form(Some(20 * MIB as u64 + 1))
        .is_err());

    // 412 without Tus-Resumable; 401 without, with a forged, or with an expired credential;
    // 403 with another key's credential; 400 without a length or a filename.
    let no_version = Request::post("/cdn3/attachments")
        .header("authorization", &form.headers["Authorization"])
        .header("upload-metadata", &form.headers["Upload-Metadata"])
        .header("upload-length", "10")
        .body(Body::empty())
        .unwrap();
    let r = send(&node.router, no_version).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.header("tus-version"), Some("1.0.0"));
    let anonymous = Request::post("/cdn3/attachments")
        .header("tus-resumable", "1.0.0")
        .header("upload-metadata", &form.headers["Upload-Metadata"])
        .header("upload-length", "10")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&node.router, anonymous).await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut forged = form.clone();
    forged.headers.insert(
        "Authorization".into(),
        format!("{}x", form.headers["Authorization"]),
    );
    assert_eq!(
        create(&node, &forged, 10).await.status,
        StatusCode::UNAUTHORIZED
    );
    let other = node.cdn.attachment_upload_form(Some(1000)).unwrap();
    let mut stolen = form.clone();
    stolen.headers.insert(
        "Authorization".into(),
        other.headers["Authorization"].clone(),
    );
    assert_eq!(
        create(&node, &stolen, 10).await.status,
        StatusCode::FORBIDDEN
    );
    let mut nameless = form.clone();
    nameless.headers.remove("Upload-Metadata");
    assert_eq!(
        create(&node, &nameless, 10).await.status,
        StatusCode::BAD_REQUEST
    );
    let r = send(
        &node.router,
        tus_req(&form, Method::POST, &form.signed_upload_location)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // 415 for another body type; 404 before creation.
    let r = send(
        &node.router,
        tus_req(&form, Method::POST, &form.signed_upload_location)
            .header("upload-length", "10")
            .header("content-type", "text/plain")
            .body(Body::from("0123456789"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        patch(&node, &form, 0, Body::from("x")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        head_offset(&node, &form).await.status,
        StatusCode::NOT_FOUND
    );

    // Created: 409 at the wrong offset (with the right one in the answer), 415 for PATCH
    // without the tus content type, 413 past the length.
    assert_eq!(create(&node, &form, 10).await.status, StatusCode::CREATED);
    let r = patch(&node, &form, 3, Body::from("abc")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.offset(), 0);
    let r = send(
        &node.router,
        tus_req(&form, Method::PATCH, &resume_url(&form))
            .header("upload-offset", "0")
            .body(Body::from("abc"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        patch(&node, &form, 0, Body::from("0123456789X"))
            .await
            .status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        head_offset(&node, &form).await.offset(),
        0,
        "nothing of it was kept"
    );
    assert_eq!(
        patch(&node, &form, 0, Body::from("01234")).await.offset(),
        5
    );
    // Creating again once bytes are stored is a conflict.
    assert_eq!(create(&node, &form, 10).await.status, StatusCode::CONFLICT);
    let r = send(
        &node.router,
        tus_req(&form, Method::PATCH, &resume_url(&form))
            .header("upload-offset", "5")
            .header("upload-length", "11")
            .header("content-type", "application/offset+octet-stream")
            .body(Body::from("56789"))
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "Upload-Length cannot change"
    );
    assert_eq!(
        patch(&node, &form, 5, Body::from("56789")).await.offset(),
        10
    );
    assert_eq!(
        &download(&node, &form.key, None).await.body[..],
        b"0123456789"
    );
    // Finished: nothing more can be written.
    assert_eq!(
        patch(&node, &form, 10, Body::from("!")).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(create(&node, &form, 10).await.status, StatusCode::CONFLICT);

    // Credentials expire.
    let late = node.cdn.attachment_upload_form(Some(10)).unwrap();
    env.clock.advance(8 * DAY_MS);
    assert_eq!(
        create(&node, &late, 10).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Keys that are not keys.
    assert_eq!(
        download(&node, "..", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        download(&node, "AAAAAAAAAAAAAAAAAAAA", None).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn expiry_and_retention(backend: Backend) {
    let env = Env::new(backend).await;
    let node = env.node();

    let done = node.cdn.attachment_upload_form(Some(4)).unwrap();
    create(&node, &done, 4).await;
    patch(&node, &done, 0, Body::from("done")).await;
    let open = node.cdn.attachment_upload_form(Some(8)).unwrap();
    create(&node, &open, 8).await;
    patch(&node, &open, 0, Body::from("half")).await;
    let avatar = AvatarKey::random();
    node.cdn
        .store()
        .put(avatar.as_str(), Bytes::from_static(b"face"))
        .await
        .unwrap();

    assert!(
        node.cdn.sweep().await.unwrap().is_empty(),
        "nothing is due yet"
    );

    // After a week the unfinished upload is removed; the finished attachment stays.
    env.clock.advance(7 * DAY_MS);
    let report = node.cdn.sweep().await.unwrap();
    assert_eq!(report.expired_uploads, 1);
    assert_eq!(report.deleted_attachments, 0);
    assert!(node
        .cdn
        .store()
        .list(&format!("tus/{}", open.key))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        download(&node, &done.key, None).await.status,
        StatusCode::OK
    );

    // After the retention the finished attachment is deleted; avatars stay.
    env.clock.advance(24 * DAY_MS);
    let report = node.cdn.sweep().await.unwrap();
    assert_eq!(report.deleted_attachments, 1);
    assert_eq!(
        download(&node, &done.key, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(node
        .cdn
        .store()
        .head(avatar.as_str())
        .await
        .unwrap()
        .is_some());
}

async fn expired_uploads_answer_410(backend: Backend) {
    let env = Env::new(backend).await;
    let mut config = CdnConfig::for_origin(BASE, [9; 32]);
    config.incomplete_upload_ttl_ms = 60_000;
    let cdn = Cdn::with_clock(env.t.store.clone(), config, env.clock.clone());
    let node = Node {
        router: cdn.router(),
        cdn,
    };
    let form = node.cdn.attachment_upload_form(Some(8)).unwrap();
    create(&node, &form, 8).await;
    env.clock.advance(60_000);
    assert_eq!(head_offset(&node, &form).await.status, StatusCode::GONE);
    assert_eq!(
        patch(&node, &form, 0, Body::from("x")).await.status,
        StatusCode::GONE
    );
    assert_eq!(node.cdn.sweep().await.unwrap().expired_uploads, 1);
    assert_eq!(
        head_offset(&node, &form).await.status,
        StatusCode::NOT_FOUND
    );
}

/// A multipart/form-data body with the form's fields (in the order clients send them) and
/// the file last.
fn avatar_body(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----heliograph-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"avatar\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_avatar(node: &Node, form: &heliograph_cdn::PostPolicyForm, file: &[u8]) -> Resp {
    post_avatar_with(node, form, file, |_| {}).await
}

async fn post_avatar_with(
    node: &Node,
    form: &heliograph_cdn::PostPolicyForm,
    file: &[u8],
    edit: impl FnOnce(&mut Vec<(&str, String)>),
) -> Resp {
    let mut fields: Vec<(&str, String)> = vec![
        ("acl", form.acl.clone()),
        ("key", form.key.clone()),
        ("policy", form.policy.clone()),
        ("x-amz-algorithm", form.algorithm.clone()),
        ("x-amz-credential", form.credential.clone()),
        ("x-amz-date", form.date.clone()),
        ("x-amz-signature", form.signature.clone()),
        ("Content-Type", "application/octet-stream".into()),
    ];
    edit(&mut fields);
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (content_type, body) = avatar_body(&refs, file);
    send(
        &node.router,
        Request::post("/cdn0/")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

async fn avatar_round_trip_and_policy_checks(backend: Backend) {
    let env = Env::new(backend).await;
    let node = env.node();
    let key = AvatarKey::random();
    let form = node.cdn.avatar_upload_form(key.as_str());
    assert_eq!(form.key, key.as_str());
    if let Some(s3) = &env.t.s3 {
        assert!(
            form.credential
                .starts_with(&format!("{}/", s3.access_key_id)),
            "with S3, forms are signed with the bucket's identity"
        );
    }
    let picture = data(64 * 1024);

    let r = post_avatar(&node, &form, &picture).await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let id = key.as_str().strip_prefix("profiles/").unwrap();
    let r = send(
        &node.router,
        Request::get(format!("/cdn0/profiles/{id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], &picture[..]);
    let r = send(
        &node.router,
        Request::get(format!("/cdn0/profiles/{id}"))
            .header("range", "bytes=0-9")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.body[..], &picture[..10]);

    // Tampering with the signature, the key or an extra field: 403; size limits: 400.
    let r = post_avatar_with(&node, &form, &picture, |f| {
        f[6].1 = "0".repeat(64);
    })
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&r.body).contains("SignatureDoesNotMatch"));
    let r = post_avatar_with(&node, &form, &picture, |f| {
        f[1].1 = AvatarKey::random().as_str().to_owned();
    })
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_avatar_with(&node, &form, &picture, |f| {
        f.push(("x-amz-meta-evil", "1".into()));
    })
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_avatar(&node, &form, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&r.body).contains("EntityTooSmall"));
    let r = post_avatar(&node, &form, &data(10 * MIB + 1)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&r.body).contains("EntityTooLarge"));
    let r = post_avatar_with(&node, &form, &picture, |f| {
        f.retain(|(k, _)| *k != "policy");
    })
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A form expires after 30 minutes.
    env.clock.advance(30 * 60 * 1000);
    let r = post_avatar(&node, &form, &picture).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&r.body).contains("AccessDenied"));

    // The avatar stays what was uploaded first, until the profile deletes it.
    let r = send(
        &node.router,
        Request::get(format!("/cdn0/profiles/{id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(&r.body[..], &picture[..]);
    node.cdn.delete(key.as_str()).await.unwrap();
    let r = send(
        &node.router,
        Request::get(format!("/cdn0/profiles/{id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The Upload-Metadata the form carries is what Desktop computes itself.
    let attachment = node.cdn.attachment_upload_form(Some(1)).unwrap();
    assert_eq!(
        attachment.headers["Upload-Metadata"],
        format!("filename {}", STANDARD.encode(&attachment.key))
    );
}

macro_rules! suite {
    ($($name:ident),*) => {
        mod local {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Local).await } )*
        }
        mod s3 {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::S3).await } )*
        }
    };
}

suite!(
    chunked_upload_resume_and_download,
    creation_with_upload_in_one_post,
    nodes_sharing_a_store_continue_each_others_uploads,
    concurrent_patches_at_one_offset_do_not_corrupt,
    statuses_and_limits,
    expiry_and_retention,
    expired_uploads_answer_410,
    avatar_round_trip_and_policy_checks
);
