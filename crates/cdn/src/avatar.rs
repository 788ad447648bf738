//! CDN0 avatar uploads: `POST /cdn0/` with multipart/form-data fields of an S3 POST-policy
//! form, checked as S3 checks them, the `file` field last.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::keys::AvatarKey;
use crate::policy::{PolicyError, MAX_AVATAR_BYTES};
use crate::Cdn;

/// Form fields other than the file are small; refuse larger ones.
const MAX_FIELD_BYTES: usize = 16 * 1024;

/// The avatar upload route (with and without the trailing slash).
pub fn router() -> Router<Cdn> {
    let limit = DefaultBodyLimit::max(MAX_AVATAR_BYTES as usize + 256 * 1024);
    Router::new()
        .route("/cdn0", post(post_avatar).layer(limit))
        .route("/cdn0/", post(post_avatar).layer(limit))
}

/// An S3-style XML error.
fn s3_error(status: u16, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message></Error>",
        message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    );
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
        .into_response();
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

fn policy_error(e: PolicyError) -> Response {
    s3_error(e.status(), e.code(), &e.to_string())
}

fn invalid(message: &str) -> Response {
    s3_error(400, "InvalidArgument", message)
}

/// `POST /cdn0/`: stores the `file` field at the form's `key` if the policy's signature,
/// expiry and conditions hold (403 otherwise) and its size is inside the policy's
/// `content-length-range` (400 EntityTooLarge / EntityTooSmall). 204 on success, as S3.
/// Fields after `file` are ignored, as S3 does.
pub async fn post_avatar(State(cdn): State<Cdn>, mut form: Multipart) -> Response {
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return invalid("POST requires exactly one file upload per request"),
            Err(e) => return invalid(&format!("malformed multipart body: {e}")),
        };
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        if name != "file" {
            let mut value = Vec::new();
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        value.extend_from_slice(&chunk);
                        if value.len() > MAX_FIELD_BYTES {
                            return invalid("form field too large");
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return invalid(&format!("malformed multipart body: {e}")),
                }
            }
            let Ok(value) = String::from_utf8(value) else {
                return invalid("form fields must be UTF-8");
            };
            fields.push((name, value));
            continue;
        }

        let policy = match cdn.0.policies.verify(&fields, cdn.0.clock.now_ms()) {
            Ok(p) => p,
            Err(e) => return policy_error(e),
        };
        let range = match policy.check_fields(&fields) {
            Ok(r) => r,
            Err(e) => return policy_error(e),
        };
        let key = fields
            .iter()
            .find(|(k, _)| k == "key")
            .and_then(|(_, v)| AvatarKey::parse(v).ok());
        let Some(key) = key else {
            return s3_error(403, "AccessDenied", "this CDN only stores profile avatars");
        };
        let max = (*range.end()).min(MAX_AVATAR_BYTES);
        let mut writer = match cdn.0.store.writer(key.as_str()) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "blob store failure during an avatar upload");
                return s3_error(500, "InternalError", "storage failure");
            }
        };
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if writer.written() + chunk.len() as u64 > max {
                        writer.abort().await;
                        return policy_error(PolicyError::EntityTooLarge);
                    }
                    if let Err(e) = writer.write(&chunk).await {
                        writer.abort().await;
                        tracing::error!(error = %e, "blob store failure during an avatar upload");
                        return s3_error(500, "InternalError", "storage failure");
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    writer.abort().await;
                    return invalid(&format!("malformed multipart body: {e}"));
                }
            }
        }
        if writer.written() < *range.start() {
            writer.abort().await;
            return policy_error(PolicyError::EntityTooSmall);
        }
        return match writer.finish().await {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => {
                tracing::error!(error = %e, "blob store failure during an avatar upload");
                s3_error(500, "InternalError", "storage failure")
            }
        };
    }
}
