//! `/v1/profile…` bodies. Byte fields are standard base64, written padded (the official
//! `ByteArrayBase64WithPaddingAdapter`), read with or without padding.

use std::collections::BTreeMap;

use heliograph_types::ServiceId;
use serde::{Deserialize, Serialize};

/// `PUT /v1/profile` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateProfileRequest {
    /// Profile key version, 64 hex characters.
    pub version: String,
    /// Serialized `ProfileKeyCommitment`.
    #[serde(with = "crate::b64::standard")]
    pub commitment: Vec<u8>,
    /// Encrypted name.
    #[serde(default, with = "crate::b64::standard::option")]
    pub name: Option<Vec<u8>>,
    /// Encrypted about text.
    #[serde(default, with = "crate::b64::standard::option")]
    pub about: Option<Vec<u8>>,
    /// Encrypted about emoji.
    #[serde(default, with = "crate::b64::standard::option")]
    pub about_emoji: Option<Vec<u8>>,
    /// Encrypted payment address.
    #[serde(default, with = "crate::b64::standard::option")]
    pub payment_address: Option<Vec<u8>>,
    /// Encrypted phone-number sharing preference.
    #[serde(default, with = "crate::b64::standard::option")]
    pub phone_number_sharing: Option<Vec<u8>>,
    /// Whether the profile has an avatar.
    #[serde(default)]
    pub avatar: bool,
    /// Whether the avatar is the one already stored for this version.
    #[serde(default)]
    pub same_avatar: bool,
    /// Badges to show (accepted; Heliograph has no badge catalogue, so none are shown).
    #[serde(default)]
    pub badge_ids: Option<Vec<String>>,
}

/// `PUT /v1/profile` response when a new avatar was asked for: an S3 POST-policy form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileAvatarUploadAttributes {
    /// The object key, also the profile's `avatar`.
    pub key: String,
    /// The `x-amz-credential` value.
    pub credential: String,
    /// The `acl` value.
    pub acl: String,
    /// The `x-amz-algorithm` value.
    pub algorithm: String,
    /// The `x-amz-date` value.
    pub date: String,
    /// The base64 policy document.
    pub policy: String,
    /// The `x-amz-signature` value (hex).
    pub signature: String,
}

/// A profile badge. Heliograph has no badge catalogue; the type exists so the field has
/// its wire shape (always an empty list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Badge {
    /// Badge id.
    pub id: String,
}

/// `GET /v1/profile/{serviceId}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseProfileResponse {
    /// The identity key (33 bytes).
    #[serde(with = "crate::b64::standard")]
    pub identity_key: Vec<u8>,
    /// HMAC-SHA256(access key, 32 zero bytes), or null.
    #[serde(with = "crate::b64::standard::option")]
    pub unidentified_access: Option<Vec<u8>>,
    /// Whether any access key is accepted.
    pub unrestricted_unidentified_access: bool,
    /// Capabilities visible in profiles.
    pub capabilities: BTreeMap<String, bool>,
    /// Badges (always empty).
    pub badges: Vec<Badge>,
    /// The identity described: an ACI, or `PNI:<uuid>`.
    pub uuid: ServiceId,
}

/// `GET /v1/profile/{aci}/{version}` response: the base fields plus one version's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionedProfileResponse {
    /// The base profile fields, at top level.
    #[serde(flatten)]
    pub base: BaseProfileResponse,
    /// Encrypted name.
    #[serde(with = "crate::b64::standard::option")]
    pub name: Option<Vec<u8>>,
    /// Encrypted about text.
    #[serde(with = "crate::b64::standard::option")]
    pub about: Option<Vec<u8>>,
    /// Encrypted about emoji.
    #[serde(with = "crate::b64::standard::option")]
    pub about_emoji: Option<Vec<u8>>,
    /// Avatar object key under the profile CDN.
    pub avatar: Option<String>,
    /// Encrypted payment address (current version only).
    #[serde(with = "crate::b64::standard::option")]
    pub payment_address: Option<Vec<u8>>,
    /// Encrypted phone-number sharing preference.
    #[serde(with = "crate::b64::standard::option")]
    pub phone_number_sharing: Option<Vec<u8>>,
}

/// `GET /v1/profile/{aci}/{version}/{credentialRequest}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiringProfileKeyCredentialProfileResponse {
    /// The versioned profile fields, at top level.
    #[serde(flatten)]
    pub profile: VersionedProfileResponse,
    /// Serialized `ExpiringProfileKeyCredentialResponse`, or null when the version is not
    /// the current one.
    #[serde(with = "crate::b64::standard::option")]
    pub credential: Option<Vec<u8>>,
}

/// One element of `POST /v1/profile/identity_check/batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityCheckElement {
    /// The identity.
    pub uuid: ServiceId,
    /// First 4 bytes of SHA-256 of the identity key the caller holds.
    #[serde(with = "crate::b64::standard")]
    pub fingerprint: [u8; 4],
}

/// `POST /v1/profile/identity_check/batch` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchIdentityCheckRequest {
    /// Up to 1000 identities.
    pub elements: Vec<IdentityCheckElement>,
}

/// One mismatch in the batch identity check response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityCheckMismatch {
    /// The identity.
    pub uuid: ServiceId,
    /// Its current identity key.
    #[serde(with = "crate::b64::standard")]
    pub identity_key: Vec<u8>,
}

/// `POST /v1/profile/identity_check/batch` response: only the mismatches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchIdentityCheckResponse {
    /// Identities whose key differs from the caller's fingerprint.
    pub elements: Vec<IdentityCheckMismatch>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::golden::roundtrip;

    const ACI: &str = "095be615-a8ad-4c33-8e9c-c7612fbf6c9f";

    #[test]
    fn create_profile_request_golden() {
        roundtrip(
            &CreateProfileRequest {
                version: "ab".repeat(32),
                commitment: vec![0, 1],
                name: Some(vec![2]),
                about: Some(vec![]),
                about_emoji: None,
                payment_address: None,
                phone_number_sharing: Some(vec![3]),
                avatar: true,
                same_avatar: false,
                badge_ids: Some(vec!["TEST".into()]),
            },
            &format!(
                r#"{{"version":"{}","commitment":"AAE=","name":"Ag==","about":"","aboutEmoji":null,"paymentAddress":null,"phoneNumberSharing":"Aw==","avatar":true,"sameAvatar":false,"badgeIds":["TEST"]}}"#,
                "ab".repeat(32)
            ),
        );
        // Optional fields may be absent.
        let minimal: CreateProfileRequest =
            serde_json::from_str(r#"{"version":"00","commitment":"AA"}"#).unwrap();
        assert!(!minimal.avatar && minimal.name.is_none() && minimal.badge_ids.is_none());
    }

    #[test]
    fn profile_responses_golden() {
        let base = BaseProfileResponse {
            identity_key: vec![5],
            unidentified_access: Some(vec![1, 2]),
            unrestricted_unidentified_access: false,
            capabilities: [("spqr".to_string(), true)].into_iter().collect(),
            badges: vec![],
            uuid: ACI.parse().unwrap(),
        };
        roundtrip(
            &base,
            &format!(
                r#"{{"identityKey":"BQ==","unidentifiedAccess":"AQI=","unrestrictedUnidentifiedAccess":false,"capabilities":{{"spqr":true}},"badges":[],"uuid":"{ACI}"}}"#
            ),
        );
        let versioned = VersionedProfileResponse {
            base: base.clone(),
            name: Some(vec![9]),
            about: None,
            about_emoji: None,
            avatar: Some("profiles/x".into()),
            payment_address: None,
            phone_number_sharing: None,
        };
        roundtrip(
            &ExpiringProfileKeyCredentialProfileResponse {
                profile: versioned,
                credential: Some(vec![7]),
            },
            &format!(
                r#"{{"identityKey":"BQ==","unidentifiedAccess":"AQI=","unrestrictedUnidentifiedAccess":false,"capabilities":{{"spqr":true}},"badges":[],"uuid":"{ACI}","name":"CQ==","about":null,"aboutEmoji":null,"avatar":"profiles/x","paymentAddress":null,"phoneNumberSharing":null,"credential":"Bw=="}}"#
            ),
        );
        roundtrip(
            &ProfileAvatarUploadAttributes {
                key: "profiles/k".into(),
                credential: "c".into(),
                acl: "private".into(),
                algorithm: "AWS4-HMAC-SHA256".into(),
                date: "20261202T000000Z".into(),
                policy: "p".into(),
                signature: "s".into(),
            },
            r#"{"key":"profiles/k","credential":"c","acl":"private","algorithm":"AWS4-HMAC-SHA256","date":"20261202T000000Z","policy":"p","signature":"s"}"#,
        );
    }

    #[test]
    fn identity_check_golden() {
        roundtrip(
            &BatchIdentityCheckRequest {
                elements: vec![IdentityCheckElement {
                    uuid: format!("PNI:{ACI}").parse().unwrap(),
                    fingerprint: [1, 2, 3, 4],
                }],
            },
            &format!(r#"{{"elements":[{{"uuid":"PNI:{ACI}","fingerprint":"AQIDBA=="}}]}}"#),
        );
        roundtrip(
            &BatchIdentityCheckResponse {
                elements: vec![IdentityCheckMismatch {
                    uuid: ACI.parse().unwrap(),
                    identity_key: vec![5],
                }],
            },
            &format!(r#"{{"elements":[{{"uuid":"{ACI}","identityKey":"BQ=="}}]}}"#),
        );
    }
}
