//! Verification code delivery: a trait with three senders. `test` delivers nothing (any code is
//! accepted), `log` writes the code to the server log for local development, and `sms` talks to
//! a Twilio-style HTTP API whose base URL is configurable.

use std::time::Duration;

use async_trait::async_trait;
use heliograph_types::{Redacted, E164};

/// How the code should reach the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// A text message.
    Sms,
    /// A voice call reading the code.
    Voice,
}

/// Why a code could not be sent; maps to the 440 body clients understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The provider could not be reached or failed; retrying later may work.
    #[error("provider unavailable")]
    Unavailable,
    /// The provider refused this number or message.
    #[error("provider rejected")]
    Rejected,
    /// The request cannot be sent in this form (e.g. voice not configured).
    #[error("illegal argument")]
    IllegalArgument,
}

impl SendError {
    /// The `reason` string of the 440 response.
    pub fn reason(&self) -> &'static str {
        match self {
            SendError::Unavailable => "providerUnavailable",
            SendError::Rejected => "providerRejected",
            SendError::IllegalArgument => "illegalArgument",
        }
    }

    /// Whether retrying cannot help.
    pub fn permanent(&self) -> bool {
        !matches!(self, SendError::Unavailable)
    }
}

/// Delivers a verification code.
#[async_trait]
pub trait CodeSender: Send + Sync {
    /// Whether codes are checked at all. The `test` sender accepts any code.
    fn accepts_any_code(&self) -> bool {
        false
    }

    /// Sends `code` to `number`. `session_tag` is a short, non-identifying label for logs.
    async fn send(
        &self,
        number: &E164,
        code: &Redacted<String>,
        transport: Transport,
        session_tag: &str,
    ) -> Result<(), SendError>;
}

/// Test mode: sends nothing and accepts any code (like the official server's stub).
pub struct TestSender;

#[async_trait]
impl CodeSender for TestSender {
    fn accepts_any_code(&self) -> bool {
        true
    }

    async fn send(
        &self,
        _number: &E164,
        _code: &Redacted<String>,
        _transport: Transport,
        session_tag: &str,
    ) -> Result<(), SendError> {
        tracing::info!(
            session = session_tag,
            "test mode: verification code not sent; any code is accepted"
        );
        Ok(())
    }
}

/// Development: writes the code (never the number) to the log, so a developer can type it in.
pub struct LogSender;

#[async_trait]
impl CodeSender for LogSender {
    async fn send(
        &self,
        _number: &E164,
        code: &Redacted<String>,
        transport: Transport,
        session_tag: &str,
    ) -> Result<(), SendError> {
        tracing::warn!(
            session = session_tag,
            ?transport,
            code = code.expose().as_str(),
            "verification code (log sender: development only)"
        );
        Ok(())
    }
}

/// Settings of the Twilio-style SMS/voice provider.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// API base, e.g. `https://api.twilio.com` (or a local fake in tests).
    pub base_url: String,
    /// Account SID (the Basic auth username and part of the path).
    pub account_sid: String,
    /// Auth token (the Basic auth password).
    pub auth_token: Redacted<String>,
    /// Sender number, or empty when a messaging service SID is used.
    pub from: String,
    /// Messaging service SID, if configured instead of `from`.
    pub messaging_service_sid: Option<String>,
    /// Request timeout.
    pub timeout: Duration,
}

/// Sends codes through a Twilio-compatible REST API: `POST {base}/2010-04-01/Accounts/{sid}/
/// Messages.json` for SMS and `.../Calls.json` (with inline TwiML) for voice, form-encoded,
/// with HTTP Basic auth.
pub struct SmsSender {
    config: SmsConfig,
    http: reqwest::Client,
}

impl SmsSender {
    /// Builds the sender and its HTTP client.
    pub fn new(config: SmsConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| format!("cannot build the SMS HTTP client: {e}"))?;
        Ok(Self { config, http })
    }

    fn endpoint(&self, resource: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/{resource}.json",
            self.config.base_url.trim_end_matches('/'),
            self.config.account_sid
        )
    }
}

#[async_trait]
impl CodeSender for SmsSender {
    async fn send(
        &self,
        number: &E164,
        code: &Redacted<String>,
        transport: Transport,
        session_tag: &str,
    ) -> Result<(), SendError> {
        let mut form: Vec<(&str, String)> = vec![("To", number.as_str().to_owned())];
        match &self.config.messaging_service_sid {
            Some(sid) => form.push(("MessagingServiceSid", sid.clone())),
            None => form.push(("From", self.config.from.clone())),
        }
        let resource = match transport {
            Transport::Sms => {
                form.push(("Body", format!("Your Signal code: {}", code.expose())));
                "Messages"
            }
            Transport::Voice => {
                if self.config.messaging_service_sid.is_some() && self.config.from.is_empty() {
                    return Err(SendError::IllegalArgument);
                }
                let spoken: Vec<String> = code.expose().chars().map(String::from).collect();
                form.push((
                    "Twiml",
                    format!(
                        "<Response><Say>Your Signal code is {}.</Say></Response>",
                        spoken.join(" ")
                    ),
                ));
                "Calls"
            }
        };
        let result = self
            .http
            .post(self.endpoint(resource))
            .basic_auth(
                &self.config.account_sid,
                Some(self.config.auth_token.expose()),
            )
            .form(&form)
            .send()
            .await;
        match result {
            Ok(resp) if resp.status().is_success() => {
                tracing::info!(
                    session = session_tag,
                    ?transport,
                    "verification code handed to provider"
                );
                Ok(())
            }
            Ok(resp) if resp.status().is_client_error() && resp.status().as_u16() != 429 => {
                tracing::warn!(
                    session = session_tag,
                    status = resp.status().as_u16(),
                    "provider rejected the code message"
                );
                Err(SendError::Rejected)
            }
            Ok(resp) => {
                tracing::warn!(
                    session = session_tag,
                    status = resp.status().as_u16(),
                    "provider failed"
                );
                Err(SendError::Unavailable)
            }
            Err(e) => {
                tracing::warn!(session = session_tag, error = %e.without_url(), "provider unreachable");
                Err(SendError::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Form, Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(String, String, HashMap<String, String>)>>>;

    /// A local fake of the provider API: records requests, answers by the `To` number.
    async fn fake_provider() -> (String, Seen) {
        let seen: Seen = Arc::default();
        async fn handle(
            State(seen): State<Seen>,
            Path((sid, resource)): Path<(String, String)>,
            headers: HeaderMap,
            Form(form): Form<HashMap<String, String>>,
        ) -> StatusCode {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let to = form.get("To").cloned().unwrap_or_default();
            seen.lock()
                .unwrap()
                .push((format!("{sid}/{resource}"), auth, form));
            match to.as_str() {
                "+15550000400" => StatusCode::BAD_REQUEST,
                "+15550000500" => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::CREATED,
            }
        }
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{sid}/{resource}", post(handle))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), seen)
    }

    fn sender(base_url: String) -> SmsSender {
        SmsSender::new(SmsConfig {
            base_url,
            account_sid: "AC123".into(),
            auth_token: Redacted::new("tok".into()),
            from: "+15550009999".into(),
            messaging_service_sid: None,
            timeout: Duration::from_secs(5),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn sms_and_voice_reach_the_provider() {
        let (base, seen) = fake_provider().await;
        let s = sender(base);
        let code = Redacted::new("123456".to_string());
        let to = E164::parse("+15551230000").unwrap();
        s.send(&to, &code, Transport::Sms, "t").await.unwrap();
        s.send(&to, &code, Transport::Voice, "t").await.unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].0, "AC123/Messages.json");
        assert!(seen[0].1.starts_with("Basic "));
        assert_eq!(seen[0].2["To"], "+15551230000");
        assert_eq!(seen[0].2["From"], "+15550009999");
        assert!(seen[0].2["Body"].contains("123456"));
        assert_eq!(seen[1].0, "AC123/Calls.json");
        assert!(seen[1].2["Twiml"].contains("1 2 3 4 5 6"));
    }

    #[tokio::test]
    async fn provider_failures_map_to_reasons() {
        let (base, _) = fake_provider().await;
        let s = sender(base);
        let code = Redacted::new("1".to_string());
        let rejected = E164::parse("+15550000400").unwrap();
        let down = E164::parse("+15550000500").unwrap();
        assert_eq!(
            s.send(&rejected, &code, Transport::Sms, "t").await,
            Err(SendError::Rejected)
        );
        assert_eq!(
            s.send(&down, &code, Transport::Sms, "t").await,
            Err(SendError::Unavailable)
        );
        let unreachable = sender("http://127.0.0.1:9".into());
        assert_eq!(
            unreachable.send(&down, &code, Transport::Sms, "t").await,
            Err(SendError::Unavailable)
        );
        assert_eq!(SendError::Unavailable.reason(), "providerUnavailable");
        assert!(!SendError::Unavailable.permanent());
    }
}
