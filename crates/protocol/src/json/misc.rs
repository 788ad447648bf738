//! Small bodies of other endpoints: sender certificates, external-service credentials,
//! remote configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /v1/certificate/delivery` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderCertificateResponse {
    /// Serialized `SenderCertificate`, padded standard base64.
    #[serde(with = "crate::b64::standard")]
    pub certificate: Vec<u8>,
}

/// Username/password pair for an external service (SVR2, storage, …).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalServiceCredentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for ExternalServiceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalServiceCredentials")
            .finish_non_exhaustive()
    }
}

/// `423` body of registration: the account is registration-locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationLockFailure {
    /// Milliseconds until the lock lapses.
    pub time_remaining: u64,
    /// Credentials for SVR2, to recover the PIN-derived token.
    pub svr2_credentials: Option<ExternalServiceCredentials>,
}

/// `GET /v2/config` response: name → string value (`"true"`/`"false"` for flags).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteConfigResponse {
    /// The configuration entries.
    pub config: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::golden::roundtrip;

    #[test]
    fn misc_golden() {
        roundtrip(
            &SenderCertificateResponse {
                certificate: vec![1],
            },
            r#"{"certificate":"AQ=="}"#,
        );
        roundtrip(
            &ExternalServiceCredentials {
                username: "u".into(),
                password: "p".into(),
            },
            r#"{"username":"u","password":"p"}"#,
        );
        roundtrip(
            &RegistrationLockFailure {
                time_remaining: 5,
                svr2_credentials: None,
            },
            r#"{"timeRemaining":5,"svr2Credentials":null}"#,
        );
        roundtrip(
            &RemoteConfigResponse {
                config: [("global.x".to_string(), "true".to_string())]
                    .into_iter()
                    .collect(),
            },
            r#"{"config":{"global.x":"true"}}"#,
        );
    }
}
