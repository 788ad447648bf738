//! `/v1/accounts…` bodies other than the attributes and identity (see
//! [`super::registration`]): push tokens, registration lock, device name, usernames.

use heliograph_types::Aci;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `PUT /v1/accounts/registration_lock` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationLockRequest {
    /// The registration-lock token, 64 hex characters (kept as text, checked by the caller).
    pub registration_lock: String,
}

/// `PUT /v1/accounts/name?deviceId=` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceName {
    /// Encrypted name (≤ 225 bytes), lenient standard base64.
    #[serde(with = "crate::b64::standard_lenient")]
    pub device_name: Vec<u8>,
}

/// `PUT /v1/accounts/username_hash/reserve` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReserveUsernameHashRequest {
    /// 1 to 20 candidate 32-byte hashes, URL-safe base64 without padding.
    #[serde(with = "crate::b64::url_nopad::vec")]
    pub username_hashes: Vec<Vec<u8>>,
}

/// `PUT /v1/accounts/username_hash/reserve` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReserveUsernameHashResponse {
    /// The hash that was reserved.
    #[serde(with = "crate::b64::url_nopad")]
    pub username_hash: Vec<u8>,
}

/// `PUT /v1/accounts/username_hash/confirm` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmUsernameHashRequest {
    /// The reserved hash.
    #[serde(with = "crate::b64::url_nopad")]
    pub username_hash: Vec<u8>,
    /// Proof that the hash belongs to a username.
    #[serde(with = "crate::b64::url_nopad")]
    pub zk_proof: Vec<u8>,
    /// Encrypted username for the link (1..=128 bytes).
    #[serde(default, with = "crate::b64::url_nopad::option")]
    pub encrypted_username: Option<Vec<u8>>,
}

/// `PUT /v1/accounts/username_hash/confirm` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsernameHashResponse {
    /// The confirmed hash.
    #[serde(with = "crate::b64::url_nopad")]
    pub username_hash: Vec<u8>,
    /// The username link handle, if a link was set.
    pub username_link_handle: Option<Uuid>,
}

/// `PUT /v1/accounts/username_link` body and `GET /v1/accounts/username_link/{handle}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptedUsername {
    /// Encrypted username (≤ 128 bytes), URL-safe base64 without padding.
    #[serde(with = "crate::b64::url_nopad")]
    pub username_link_encrypted_value: Vec<u8>,
    /// Keep the existing handle instead of rotating it.
    #[serde(default)]
    pub keep_link_handle: bool,
}

/// `PUT /v1/accounts/username_link` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsernameLinkHandle {
    /// The handle.
    pub username_link_handle: Uuid,
}

/// `GET /v1/accounts/username_hash/{hash}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountIdentifierResponse {
    /// The account's ACI.
    pub uuid: Aci,
}

/// `PUT /v2/accounts/phone_number_discoverability` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberDiscoverabilityRequest {
    /// Whether the number is discoverable.
    pub discoverable_by_phone_number: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::golden::roundtrip;

    #[test]
    fn small_bodies_golden() {
        roundtrip(
            &RegistrationLockRequest {
                registration_lock: "ab".repeat(32),
            },
            &format!(r#"{{"registrationLock":"{}"}}"#, "ab".repeat(32)),
        );
        roundtrip(
            &DeviceName {
                device_name: vec![1, 2],
            },
            r#"{"deviceName":"AQI"}"#,
        );
        roundtrip(
            &PhoneNumberDiscoverabilityRequest {
                discoverable_by_phone_number: true,
            },
            r#"{"discoverableByPhoneNumber":true}"#,
        );
        roundtrip(
            &AccountIdentifierResponse {
                uuid: "095be615-a8ad-4c33-8e9c-c7612fbf6c9f".parse().unwrap(),
            },
            r#"{"uuid":"095be615-a8ad-4c33-8e9c-c7612fbf6c9f"}"#,
        );
    }

    #[test]
    fn username_bodies_golden() {
        roundtrip(
            &ReserveUsernameHashRequest {
                username_hashes: vec![vec![0xfb, 0xff]],
            },
            r#"{"usernameHashes":["-_8"]}"#,
        );
        roundtrip(
            &ReserveUsernameHashResponse {
                username_hash: vec![0xfb, 0xff],
            },
            r#"{"usernameHash":"-_8"}"#,
        );
        roundtrip(
            &ConfirmUsernameHashRequest {
                username_hash: vec![0xfb, 0xff],
                zk_proof: vec![1],
                encrypted_username: Some(vec![2]),
            },
            r#"{"usernameHash":"-_8","zkProof":"AQ","encryptedUsername":"Ag"}"#,
        );
        roundtrip(
            &UsernameHashResponse {
                username_hash: vec![1],
                username_link_handle: Some(Uuid::nil()),
            },
            r#"{"usernameHash":"AQ","usernameLinkHandle":"00000000-0000-0000-0000-000000000000"}"#,
        );
        roundtrip(
            &EncryptedUsername {
                username_link_encrypted_value: vec![0xfb],
                keep_link_handle: true,
            },
            r#"{"usernameLinkEncryptedValue":"-w","keepLinkHandle":true}"#,
        );
        roundtrip(
            &UsernameLinkHandle {
                username_link_handle: Uuid::nil(),
            },
            r#"{"usernameLinkHandle":"00000000-0000-0000-0000-000000000000"}"#,
        );
    }
}
