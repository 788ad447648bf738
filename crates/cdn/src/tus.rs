//! CDN3 uploads: tus 1.0.0 with the creation, creation-with-upload and expiration
//! extensions, at `POST /cdn3/attachments` and `HEAD`/`PATCH /cdn3/attachments/{key}`.
//!
//! Every request carries the form's `Authorization: Bearer <jwt>`; the JWT names the one key
//! it may write and the largest upload it allows.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{options, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::credential::{CredentialError, UploadGrant};
use crate::keys::AttachmentKey;
use crate::uploads::{UploadError, UploadState};
use crate::{http_date, Cdn};

/// The protocol version we speak.
pub const TUS_VERSION: &str = "1.0.0";
/// The only content type of upload bodies.
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// The upload routes. `HEAD /cdn3/attachments/{key}` is shared with downloads: requests with
/// `Tus-Resumable` are tus offset queries (see `download`).
pub fn router() -> Router<Cdn> {
    Router::new()
        .route(
            "/cdn3/attachments",
            post(post_attachment).options(options_attachments),
        )
        .route(
            "/cdn3/attachments/{key}",
            options(options_attachments).patch(patch_attachment),
        )
}

/// A tus response: always names the protocol version.
fn tus(status: StatusCode) -> Response {
    let mut resp = status.into_response();
    resp.headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    resp
}

/// A refused tus request: status, a short plain-text reason, and for 409 the current offset.
#[derive(Debug)]
pub struct TusError {
    status: StatusCode,
    reason: &'static str,
    offset: Option<u64>,
}

fn tus_error(status: StatusCode, reason: &'static str) -> TusError {
    TusError {
        status,
        reason,
        offset: None,
    }
}

impl IntoResponse for TusError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.reason).into_response();
        resp.headers_mut()
            .insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
        if self.status == StatusCode::PRECONDITION_FAILED {
            set(&mut resp, "tus-version", TUS_VERSION);
        }
        if let Some(offset) = self.offset {
            set(&mut resp, "upload-offset", offset);
        }
        resp
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn set(resp: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        resp.headers_mut().insert(name, v);
    }
}

/// 412 unless the request speaks tus 1.0.0.
fn check_version(headers: &HeaderMap) -> Result<(), TusError> {
    if header(headers, "tus-resumable") == Some(TUS_VERSION) {
        return Ok(());
    }
    Err(tus_error(
        StatusCode::PRECONDITION_FAILED,
        "Tus-Resumable: 1.0.0 is required",
    ))
}

/// Checks the bearer credential: 401 if missing, malformed, forged or expired; 403 if it was
/// issued for another key.
fn authorize(cdn: &Cdn, headers: &HeaderMap, key: &AttachmentKey) -> Result<UploadGrant, TusError> {
    let token = header(headers, "authorization")
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(|| tus_error(StatusCode::UNAUTHORIZED, "a bearer credential is required"))?;
    let grant = cdn
        .0
        .credentials
        .verify(token, cdn.0.clock.now_ms())
        .map_err(|e| match e {
            CredentialError::Expired => {
                tus_error(StatusCode::UNAUTHORIZED, "the upload credential expired")
            }
            CredentialError::Invalid => {
                tus_error(StatusCode::UNAUTHORIZED, "invalid upload credential")
            }
        })?;
    if &grant.key != key {
        return Err(tus_error(
            StatusCode::FORBIDDEN,
            "the credential is for another upload",
        ));
    }
    Ok(grant)
}

fn parse_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    let v = header(headers, name)?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// The `filename` entry of `Upload-Metadata` (`key b64value, key b64value`).
fn metadata_filename(headers: &HeaderMap) -> Option<String> {
    let meta = header(headers, "upload-metadata")?;
    meta.split(',').find_map(|pair| {
        let mut it = pair.trim().splitn(2, ' ');
        if it.next()? != "filename" {
            return None;
        }
        let raw = STANDARD.decode(it.next()?.trim()).ok()?;
        String::from_utf8(raw).ok()
    })
}

fn error_response(e: UploadError) -> TusError {
    match e {
        UploadError::NotFound => tus_error(StatusCode::NOT_FOUND, "no such upload"),
        UploadError::Expired => tus_error(StatusCode::GONE, "the upload expired"),
        UploadError::Conflict { current } => TusError {
            status: StatusCode::CONFLICT,
            reason: "the upload offset does not match",
            offset: Some(current),
        },
        UploadError::TooLarge => tus_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body exceeds the upload length",
        ),
        UploadError::Store(e) => {
            tracing::error!(error = %e, "blob store failure during an upload");
            tus_error(StatusCode::INTERNAL_SERVER_ERROR, "storage failure")
        }
    }
}

/// 415 unless the body (if the request announces one) is `application/offset+octet-stream`.
fn check_content_type(headers: &HeaderMap, required: bool) -> Result<bool, TusError> {
    match header(headers, "content-type") {
        Some(ct) if ct.eq_ignore_ascii_case(OFFSET_OCTET_STREAM) => Ok(true),
        None if !required => Ok(false),
        _ => Err(tus_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "upload bodies must be application/offset+octet-stream",
        )),
    }
}

/// Streams `body` into the upload in a task of its own, so that a client that disconnects
/// midway still has the bytes that arrived committed.
async fn append(
    cdn: &Cdn,
    key: AttachmentKey,
    offset: u64,
    body: Body,
) -> Result<crate::uploads::Appended, UploadError> {
    let uploads = cdn.0.uploads.clone();
    let now = cdn.0.clock.now_ms();
    let task = cdn.0.tasks.spawn(async move {
        let stream = body.into_data_stream();
        uploads.append(&key, offset, stream, now).await
    });
    match task.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "upload task failed");
            Err(UploadError::Store(crate::BlobError::Missing(
                "upload task".into(),
            )))
        }
    }
}

/// `POST /cdn3/attachments`: tus creation, and creation-with-upload when the request has an
/// `application/offset+octet-stream` body. The key comes from `Upload-Metadata: filename`
/// and must be the credential's (403 otherwise). `Upload-Length` is required (no deferred
/// lengths) and is capped by the credential's `maxLen` and the configured maximum (413).
/// Signal Desktop sends the whole file here and, if interrupted, resumes with HEAD/PATCH at
/// `<location>/<key>` without reading our `Location`.
pub async fn post_attachment(
    State(cdn): State<Cdn>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, TusError> {
    check_version(&headers)?;
    let filename = metadata_filename(&headers).ok_or(tus_error(
        StatusCode::BAD_REQUEST,
        "Upload-Metadata must name the key as filename",
    ))?;
    let key = AttachmentKey::parse(&filename)
        .map_err(|_| tus_error(StatusCode::BAD_REQUEST, "invalid upload key"))?;
    let grant = authorize(&cdn, &headers, &key)?;
    let has_body = check_content_type(&headers, false)?;
    if headers.contains_key("upload-defer-length") {
        return Err(tus_error(
            StatusCode::BAD_REQUEST,
            "deferred upload lengths are not supported",
        ));
    }
    let length = parse_u64(&headers, "upload-length").ok_or(tus_error(
        StatusCode::BAD_REQUEST,
        "Upload-Length is required",
    ))?;
    if length == 0 {
        return Err(tus_error(
            StatusCode::BAD_REQUEST,
            "Upload-Length must be positive",
        ));
    }
    if length > grant.max_len || length > cdn.0.config.max_attachment_bytes {
        return Err(tus_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Upload-Length exceeds the allowed size",
        ));
    }
    let info = cdn
        .0
        .uploads
        .create(
            &key,
            length,
            cdn.0.clock.now_ms(),
            cdn.0.config.incomplete_upload_ttl_ms,
        )
        .await
        .map_err(error_response)?;
    let offset = if has_body {
        append(&cdn, key.clone(), 0, body)
            .await
            .map_err(error_response)?
            .offset
    } else {
        0
    };
    let mut resp = tus(StatusCode::CREATED);
    set(
        &mut resp,
        "location",
        format!("{}/attachments/{key}", cdn.0.config.cdn3_base),
    );
    set(&mut resp, "upload-offset", offset);
    set(&mut resp, "upload-expires", http_date(info.expires_ms));
    Ok(resp)
}

/// `PATCH /cdn3/attachments/{key}`: appends the body at `Upload-Offset` (409 if that is not
/// the current offset, 413 past the upload length, 410 after expiry, 415 for another content
/// type). Bytes that arrived before a disconnect are kept; the last byte finishes the
/// attachment.
pub async fn patch_attachment(
    State(cdn): State<Cdn>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, TusError> {
    check_version(&headers)?;
    let key = AttachmentKey::parse(&key)
        .map_err(|_| tus_error(StatusCode::NOT_FOUND, "no such upload"))?;
    authorize(&cdn, &headers, &key)?;
    check_content_type(&headers, true)?;
    let offset = parse_u64(&headers, "upload-offset").ok_or(tus_error(
        StatusCode::BAD_REQUEST,
        "Upload-Offset is required",
    ))?;
    if let Some(declared) = parse_u64(&headers, "upload-length") {
        let state = cdn
            .0
            .uploads
            .state(&key)
            .await
            .map_err(|e| error_response(e.into()))?;
        if matches!(state, UploadState::Partial { info, .. } if info.length != declared) {
            return Err(tus_error(
                StatusCode::BAD_REQUEST,
                "Upload-Length cannot change",
            ));
        }
    }
    let done = append(&cdn, key.clone(), offset, body)
        .await
        .map_err(error_response)?;
    let mut resp = tus(StatusCode::NO_CONTENT);
    set(&mut resp, "upload-offset", done.offset);
    if !done.complete {
        if let Ok(UploadState::Partial { info, .. }) = cdn.0.uploads.state(&key).await {
            set(&mut resp, "upload-expires", http_date(info.expires_ms));
        }
    }
    Ok(resp)
}

/// `HEAD /cdn3/attachments/{key}` with `Tus-Resumable`: the current `Upload-Offset` (and
/// `Upload-Length`, `Upload-Expires`) of an unfinished upload, or offset = length for a
/// finished one; 404 for an unknown key, 410 after expiry.
pub async fn head_upload(cdn: &Cdn, key: &str, headers: &HeaderMap) -> Result<Response, TusError> {
    check_version(headers)?;
    let key = AttachmentKey::parse(key).map_err(|_| tus_error(StatusCode::NOT_FOUND, ""))?;
    authorize(cdn, headers, &key)?;
    let state = cdn
        .0
        .uploads
        .state(&key)
        .await
        .map_err(|e| error_response(e.into()))?;
    let mut resp = tus(StatusCode::OK);
    set(&mut resp, "cache-control", "no-store");
    match state {
        UploadState::Missing => return Err(tus_error(StatusCode::NOT_FOUND, "")),
        UploadState::Complete { size } => {
            set(&mut resp, "upload-offset", size);
            set(&mut resp, "upload-length", size);
        }
        UploadState::Partial { info, offset, .. } => {
            if cdn.0.clock.now_ms() >= info.expires_ms {
                return Err(tus_error(StatusCode::GONE, ""));
            }
            if offset == info.length {
                // Every byte is there; make sure the attachment is too.
                cdn.0
                    .uploads
                    .recover(&key)
                    .await
                    .map_err(|e| error_response(e.into()))?;
            }
            set(&mut resp, "upload-offset", offset);
            set(&mut resp, "upload-length", info.length);
            set(&mut resp, "upload-expires", http_date(info.expires_ms));
        }
    }
    Ok(resp)
}

/// `OPTIONS /cdn3/attachments[/{key}]`: what this tus server supports.
pub async fn options_attachments(State(cdn): State<Cdn>) -> Response {
    let mut resp = tus(StatusCode::NO_CONTENT);
    set(&mut resp, "tus-version", TUS_VERSION);
    set(&mut resp, "tus-max-size", cdn.0.config.max_attachment_bytes);
    set(
        &mut resp,
        "tus-extension",
        "creation,creation-with-upload,expiration",
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_metadata_filename() {
        let mut h = HeaderMap::new();
        h.insert(
            "upload-metadata",
            HeaderValue::from_static("other YQ==, filename YWJj"),
        );
        assert_eq!(metadata_filename(&h).as_deref(), Some("abc"));
        h.insert("upload-metadata", HeaderValue::from_static("filename"));
        assert_eq!(metadata_filename(&h), None);
        h.insert("upload-metadata", HeaderValue::from_static("filename !!!"));
        assert_eq!(metadata_filename(&h), None);
    }

    #[test]
    fn numeric_headers_are_strict() {
        let mut h = HeaderMap::new();
        for (v, want) in [
            ("12", Some(12)),
            ("+1", None),
            ("-1", None),
            ("1e3", None),
            ("", None),
        ] {
            h.insert("upload-offset", HeaderValue::from_str(v).unwrap());
            assert_eq!(parse_u64(&h, "upload-offset"), want, "{v:?}");
        }
    }
}
