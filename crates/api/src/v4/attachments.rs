//! `GET /v4/attachments/form/upload`: upload forms for attachments, served by Heliograph's own
//! CDN3 (tus); see `heliograph_cdn`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use heliograph_cdn::UploadForm;
use heliograph_chat::limits::Limiter;
use heliograph_chat::ChatError;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The attachment routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v4/attachments/form/upload", get(get_upload_form))
}

/// Query parameters of the form request.
#[derive(Debug, Deserialize)]
pub struct UploadFormQuery {
    /// The size of the attachment to upload; optional, defaults to the maximum.
    #[serde(rename = "uploadLength")]
    pub upload_length: Option<String>,
}

/// Parses `uploadLength`: a positive integer, or absent.
pub(crate) fn upload_length(raw: Option<&str>) -> ApiResult<Option<u64>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if n > 0 && !raw.trim().starts_with('+') => Ok(Some(n)),
        _ => Err(ApiError::bad_request(
            "uploadLength must be a positive integer",
        )),
    }
}

/// `GET /v4/attachments/form/upload[?uploadLength=N]`: `{cdn: 3, key, headers,
/// signedUploadLocation}` for one tus upload of at most `N` bytes (the configured maximum
/// when `N` is absent); 413 when `N` is over the maximum, 400 when it is not a positive
/// integer. libsignal's typed `getUploadForm` calls this through the chat WebSocket unless
/// remote config `grpc.AttachmentsGetUploadForm` moves it to gRPC.
pub async fn get_upload_form(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Query(query): Query<UploadFormQuery>,
) -> ApiResult<Json<UploadForm>> {
    let length = upload_length(query.upload_length.as_deref())?;
    state
        .deps
        .limits
        .check(Limiter::AttachmentCreate, &auth.aci().to_string())
        .await?;
    let form = state
        .cdn
        .attachment_upload_form(length)
        .map_err(|_| ApiError(ChatError::TooLarge))?;
    Ok(Json(form))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_length_must_be_positive() {
        assert_eq!(upload_length(None).unwrap(), None);
        assert_eq!(upload_length(Some("5242880")).unwrap(), Some(5_242_880));
        for bad in ["0", "-1", "+5", "abc", "", "1.5", "99999999999999999999999"] {
            assert_eq!(
                upload_length(Some(bad)).unwrap_err().status(),
                400,
                "{bad:?}"
            );
        }
    }
}
