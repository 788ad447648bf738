//! The one table that turns domain errors into HTTP statuses and bodies, matching the official
//! server's codes. gRPC statuses are derived from the same table in `grpc`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use heliograph_chat::registration::SessionView;
use heliograph_chat::{ChatError, SessionRejection};

/// An error leaving an HTTP handler.
#[derive(Debug)]
pub struct ApiError(pub ChatError);

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        ApiError(e)
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// 400 with a short reason.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError(ChatError::BadRequest(msg.into()))
    }

    /// 422 with a short reason.
    pub fn unprocessable(msg: impl Into<String>) -> Self {
        ApiError(ChatError::Unprocessable(msg.into()))
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        status_of(&self.0)
    }
}

/// The status table.
pub fn status_of(e: &ChatError) -> StatusCode {
    let code = match e {
        ChatError::Unauthorized => 401,
        ChatError::Forbidden => 403,
        ChatError::NotFound => 404,
        ChatError::BadRequest(_) => 400,
        ChatError::Unprocessable(_) => 422,
        ChatError::Conflict => 409,
        ChatError::Gone => 410,
        ChatError::PreconditionFailed => 412,
        ChatError::Session(SessionRejection::WrongAnswer, _) => 403,
        ChatError::Session(SessionRejection::Conflict, _) => 409,
        ChatError::Session(SessionRejection::NotAllowed, _) => 429,
        ChatError::Session(SessionRejection::TransportNotAllowed, _) => 418,
        ChatError::RegistrationLocked { .. } => 423,
        ChatError::MissingCapability => 499,
        ChatError::DeviceLimit { .. } => 411,
        ChatError::CodeDelivery { .. } => 440,
        ChatError::TooLarge => 413,
        ChatError::MismatchedDevices { .. } | ChatError::MultiMismatched(_) => 409,
        ChatError::StaleDevices { .. } | ChatError::MultiStale(_) => 410,
        ChatError::RateLimited { .. } => 429,
        ChatError::Internal(_) => 500,
    };
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The JSON form of a verification session (`VerificationSessionResponse`).
pub fn session_json(view: &SessionView) -> serde_json::Value {
    use base64::Engine;
    json!({
        "id": base64::engine::general_purpose::URL_SAFE.encode(&view.id),
        "nextSms": view.next_sms,
        "nextCall": view.next_call,
        "nextVerificationAttempt": view.next_verification_attempt,
        "allowedToRequestCode": view.allowed_to_request_code,
        "requestedInformation": view.requested_information.iter().map(|r| r.wire_name()).collect::<Vec<_>>(),
        "verified": view.verified,
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self.0 {
            ChatError::Session(rejection, view) => {
                let mut resp = (status, Json(session_json(&view))).into_response();
                if rejection == SessionRejection::NotAllowed {
                    let wait = view.next_sms.or(view.next_verification_attempt).unwrap_or(60).max(1);
                    resp.headers_mut().insert("retry-after", HeaderValue::from(wait));
                }
                resp
            }
            ChatError::RegistrationLocked { time_remaining_ms } => (
                status,
                Json(json!({ "timeRemaining": time_remaining_ms, "svr2Credentials": null })),
            )
                .into_response(),
            ChatError::DeviceLimit { current, max } => {
                (status, Json(json!({ "current": current, "max": max }))).into_response()
            }
            ChatError::CodeDelivery { reason, permanent } => (
                status,
                Json(json!({ "reason": reason, "permanentFailure": permanent })),
            )
                .into_response(),
            ChatError::MismatchedDevices { missing, extra } => (
                status,
                Json(json!({ "missingDevices": missing, "extraDevices": extra })),
            )
                .into_response(),
            ChatError::StaleDevices { stale } => {
                (status, Json(json!({ "staleDevices": stale }))).into_response()
            }
            ChatError::MultiMismatched(list) => {
                let body: Vec<_> = list
                    .iter()
                    .map(|(id, missing, extra)| json!({"uuid": id.to_string(), "devices": {"missingDevices": missing, "extraDevices": extra}}))
                    .collect();
                (status, Json(body)).into_response()
            }
            ChatError::MultiStale(list) => {
                let body: Vec<_> = list
                    .iter()
                    .map(|(id, stale)| json!({"uuid": id.to_string(), "devices": {"staleDevices": stale}}))
                    .collect();
                (status, Json(body)).into_response()
            }
            ChatError::RateLimited { retry_after_secs } => {
                let mut resp = status.into_response();
                resp.headers_mut()
                    .insert("retry-after", HeaderValue::from(retry_after_secs));
                resp
            }
            ChatError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (status, Json(json!({ "code": 500, "message": "internal server error" }))).into_response()
            }
            ChatError::BadRequest(msg) | ChatError::Unprocessable(msg) => {
                (status, Json(json!({ "code": status.as_u16(), "message": msg }))).into_response()
            }
            _ => (
                status,
                Json(json!({ "code": status.as_u16(), "message": status.canonical_reason().unwrap_or("") })),
            )
                .into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heliograph_chat::registration::Requirement;

    fn view() -> SessionView {
        SessionView {
            id: vec![1, 2, 3],
            next_sms: Some(30),
            next_call: None,
            next_verification_attempt: None,
            allowed_to_request_code: false,
            requested_information: vec![Requirement::Captcha],
            verified: false,
        }
    }

    async fn body(resp: Response) -> serde_json::Value {
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    }

    #[tokio::test]
    async fn every_mapping() {
        let cases: Vec<(ChatError, u16)> = vec![
            (ChatError::Unauthorized, 401),
            (ChatError::Forbidden, 403),
            (ChatError::NotFound, 404),
            (ChatError::BadRequest("x".into()), 400),
            (ChatError::Unprocessable("x".into()), 422),
            (ChatError::Conflict, 409),
            (ChatError::Gone, 410),
            (ChatError::PreconditionFailed, 412),
            (
                ChatError::Session(SessionRejection::WrongAnswer, Box::new(view())),
                403,
            ),
            (
                ChatError::Session(SessionRejection::Conflict, Box::new(view())),
                409,
            ),
            (
                ChatError::Session(SessionRejection::NotAllowed, Box::new(view())),
                429,
            ),
            (
                ChatError::Session(SessionRejection::TransportNotAllowed, Box::new(view())),
                418,
            ),
            (
                ChatError::RegistrationLocked {
                    time_remaining_ms: 5,
                },
                423,
            ),
            (ChatError::MissingCapability, 499),
            (ChatError::DeviceLimit { current: 6, max: 6 }, 411),
            (
                ChatError::CodeDelivery {
                    reason: "providerRejected",
                    permanent: true,
                },
                440,
            ),
            (ChatError::TooLarge, 413),
            (
                ChatError::MismatchedDevices {
                    missing: vec![2],
                    extra: vec![],
                },
                409,
            ),
            (ChatError::StaleDevices { stale: vec![3] }, 410),
            (ChatError::MultiMismatched(vec![]), 409),
            (ChatError::MultiStale(vec![]), 410),
            (
                ChatError::RateLimited {
                    retry_after_secs: 7,
                },
                429,
            ),
            (ChatError::Internal("db text must not leak".into()), 500),
        ];
        for (err, code) in cases {
            let resp = ApiError(err).into_response();
            assert_eq!(resp.status().as_u16(), code);
        }
    }

    #[tokio::test]
    async fn bodies_match_the_official_shapes() {
        let resp = ApiError(ChatError::Session(
            SessionRejection::NotAllowed,
            Box::new(view()),
        ))
        .into_response();
        assert_eq!(resp.headers()["retry-after"], "30");
        let b = body(resp).await;
        assert_eq!(b["id"], "AQID");
        assert_eq!(b["requestedInformation"][0], "captcha");
        assert_eq!(b["nextCall"], serde_json::Value::Null);

        let b = body(ApiError(ChatError::DeviceLimit { current: 6, max: 6 }).into_response()).await;
        assert_eq!(b, json!({"current": 6, "max": 6}));
        let b = body(
            ApiError(ChatError::RegistrationLocked {
                time_remaining_ms: 5,
            })
            .into_response(),
        )
        .await;
        assert_eq!(b, json!({"timeRemaining": 5, "svr2Credentials": null}));
        let b = body(
            ApiError(ChatError::CodeDelivery {
                reason: "providerUnavailable",
                permanent: false,
            })
            .into_response(),
        )
        .await;
        assert_eq!(
            b,
            json!({"reason": "providerUnavailable", "permanentFailure": false})
        );
        let b = body(
            ApiError(ChatError::MismatchedDevices {
                missing: vec![2],
                extra: vec![3],
            })
            .into_response(),
        )
        .await;
        assert_eq!(b, json!({"missingDevices": [2], "extraDevices": [3]}));
        let b = body(ApiError(ChatError::StaleDevices { stale: vec![4] }).into_response()).await;
        assert_eq!(b, json!({"staleDevices": [4]}));
        let id: heliograph_types::ServiceId =
            "PNI:9d0652a3-dcc3-4d11-975f-74d61598733f".parse().unwrap();
        let b = body(ApiError(ChatError::MultiStale(vec![(id, vec![1])])).into_response()).await;
        assert_eq!(
            b,
            json!([{"uuid": "PNI:9d0652a3-dcc3-4d11-975f-74d61598733f", "devices": {"staleDevices": [1]}}])
        );
        let b = body(
            ApiError(ChatError::MultiMismatched(vec![(id, vec![1], vec![2])])).into_response(),
        )
        .await;
        assert_eq!(
            b,
            json!([{"uuid": "PNI:9d0652a3-dcc3-4d11-975f-74d61598733f", "devices": {"missingDevices": [1], "extraDevices": [2]}}])
        );
        let resp = ApiError(ChatError::RateLimited {
            retry_after_secs: 7,
        })
        .into_response();
        assert_eq!(resp.headers()["retry-after"], "7");
        let b = body(ApiError(ChatError::Internal("SELECT secret".into())).into_response()).await;
        assert!(!b.to_string().contains("SELECT"));
    }
}
