//! A JSON body extractor with the official status split: unparseable JSON is a 400, JSON of
//! the wrong shape (missing or mistyped fields) is a 422. The content type is not enforced,
//! since some clients omit it inside WebSocket requests.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body.
pub struct Json<T>(pub T);

/// Parses `bytes` as `T` with the 400/422 split.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every request body is a JSON object; serde would otherwise accept an array for a struct.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ApiError::unprocessable("a JSON object is required")),
            Err(_) => Err(ApiError::bad_request("malformed JSON")),
        };
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let inner = e.inner();
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::bad_request("malformed JSON"))
            } else {
                Err(ApiError::unprocessable(format!(
                    "invalid field {}: {}",
                    e.path(),
                    inner
                )))
            }
        }
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(heliograph_chat::ChatError::TooLarge)
            } else {
                ApiError::bad_request("unreadable body")
            }
        })?;
        parse(&bytes).map(Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        number: String,
    }

    #[test]
    fn syntax_is_400_shape_is_422() {
        assert_eq!(parse::<Body>(b"{not json").unwrap_err().status(), 400);
        assert_eq!(parse::<Body>(b"").unwrap_err().status(), 400);
        assert_eq!(parse::<Body>(b"{}").unwrap_err().status(), 422);
        assert_eq!(parse::<Body>(b"{\"number\": 5}").unwrap_err().status(), 422);
        assert!(parse::<Body>(b"{\"number\": \"+1\", \"extra\": 1}").is_ok());
        assert_eq!(
            parse::<Body>(b"[\"+1\"]").unwrap_err().status(),
            422,
            "arrays are not objects"
        );
        assert_eq!(parse::<Body>(b"  [1,").unwrap_err().status(), 400);
    }
}
