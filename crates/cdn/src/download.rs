//! Unauthenticated downloads: `GET`/`HEAD /cdn3/attachments/{key}` and
//! `GET`/`HEAD /cdn0/profiles/{id}`, with single byte ranges (206, 416).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::keys::{AttachmentKey, AvatarKey, AVATAR_PREFIX};
use crate::range::{parse_range, RangeRequest};
use crate::{http_date, tus, Cdn};

/// The download routes.
pub fn router() -> Router<Cdn> {
    Router::new()
        .route(
            "/cdn3/attachments/{key}",
            get(get_attachment).head(head_attachment),
        )
        .route("/cdn0/profiles/{id}", get(get_avatar).head(get_avatar))
}

fn set(resp: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        resp.headers_mut().insert(name, v);
    }
}

/// Serves the object at `path`: the whole of it (200), one range (206), or 416 for a range
/// outside it. `HEAD` gets the same headers without the body.
async fn serve(cdn: &Cdn, path: &str, method: &Method, headers: &HeaderMap) -> Response {
    let meta = match cdn.0.store.head(path).await {
        Ok(Some(m)) => m,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "blob store failure during a download");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let size = meta.size;
    let range = headers
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok());
    let (status, wanted) = match parse_range(range, size) {
        RangeRequest::Full => (StatusCode::OK, None),
        RangeRequest::Partial(r) => (StatusCode::PARTIAL_CONTENT, Some(r)),
        RangeRequest::Unsatisfiable => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            set(&mut resp, "content-range", format!("bytes */{size}"));
            set(&mut resp, "accept-ranges", "bytes");
            return resp;
        }
    };
    let length = wanted.as_ref().map_or(size, |r| r.end - r.start);
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        match cdn.0.store.read(path, wanted.clone()).await {
            Ok(Some((_, stream))) => Body::from_stream(stream),
            Ok(None) => return StatusCode::NOT_FOUND.into_response(),
            Err(e) => {
                tracing::error!(error = %e, "blob store failure during a download");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    };
    let mut resp = (status, body).into_response();
    set(&mut resp, "content-type", "application/octet-stream");
    set(&mut resp, "content-length", length);
    set(&mut resp, "accept-ranges", "bytes");
    set(&mut resp, "last-modified", http_date(meta.last_modified_ms));
    if let Some(tag) = &meta.e_tag {
        let quoted = if tag.starts_with('"') {
            tag.clone()
        } else {
            format!("\"{tag}\"")
        };
        set(&mut resp, "etag", quoted);
    }
    if let Some(r) = wanted {
        set(
            &mut resp,
            "content-range",
            format!("bytes {}-{}/{size}", r.start, r.end - 1),
        );
    }
    resp
}

/// `GET /cdn3/attachments/{key}`: the finished attachment, for anyone who knows the key (its
/// contents are end-to-end encrypted). An upload whose bytes are all stored but whose
/// composing node stopped is finished here first.
pub async fn get_attachment(
    State(cdn): State<Cdn>,
    Path(key): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let Ok(key) = AttachmentKey::parse(&key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let path = key.object_path();
    if let Ok(None) = cdn.0.store.head(&path).await {
        if let Err(e) = cdn.0.uploads.recover(&key).await {
            tracing::warn!(error = %e, "could not finish a complete upload");
        }
    }
    serve(&cdn, &path, &method, &headers).await
}

/// `HEAD /cdn3/attachments/{key}`: with `Tus-Resumable` a tus offset query (authenticated,
/// see `tus::head_upload`), otherwise the download's headers.
pub async fn head_attachment(
    State(cdn): State<Cdn>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key("tus-resumable") {
        return tus::head_upload(&cdn, &key, &headers)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    get_attachment(State(cdn), Path(key), Method::HEAD, headers).await
}

/// `GET /cdn0/profiles/{id}`: an avatar, at its key under the CDN0 base.
pub async fn get_avatar(
    State(cdn): State<Cdn>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let Ok(key) = AvatarKey::parse(&format!("{AVATAR_PREFIX}{id}")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    serve(&cdn, key.as_str(), &method, &headers).await
}
