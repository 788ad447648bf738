//! Registration bodies: verification sessions (`/v1/verification/session…`),
//! `POST /v1/registration`, and the account attributes and identity shared with `/v1/accounts`.

use std::collections::BTreeMap;

use heliograph_types::{Aci, Pni, PublicKey, RegistrationId, E164};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{EcSignedPreKey, KemSignedPreKey};

/// Which push service a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushTokenType {
    /// Apple Push Notification service.
    #[serde(alias = "APN", alias = "Apn")]
    Apn,
    /// Firebase Cloud Messaging.
    #[serde(alias = "FCM", alias = "Fcm")]
    Fcm,
}

/// `POST /v1/verification/session` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVerificationSessionRequest {
    /// The E.164 number to verify. Kept as text so a malformed or non-normalized number can be
    /// answered with the official 400/422 bodies rather than a parse error.
    pub number: String,
    /// Push token to deliver a push challenge to.
    #[serde(default)]
    pub push_token: Option<String>,
    /// Kind of `push_token`; both or neither must be present.
    #[serde(default)]
    pub push_token_type: Option<PushTokenType>,
    /// Answer to a push challenge.
    #[serde(default)]
    pub push_challenge: Option<String>,
    /// Captcha token `scheme.siteKey.action.token`.
    #[serde(default)]
    pub captcha: Option<String>,
    /// Mobile country code.
    #[serde(default)]
    pub mcc: Option<String>,
    /// Mobile network code.
    #[serde(default)]
    pub mnc: Option<String>,
}

/// `PATCH /v1/verification/session/{id}` body: the create fields without `number`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateVerificationSessionRequest {
    /// Push token to deliver a push challenge to.
    #[serde(default)]
    pub push_token: Option<String>,
    /// Kind of `push_token`.
    #[serde(default)]
    pub push_token_type: Option<PushTokenType>,
    /// Answer to a push challenge.
    #[serde(default)]
    pub push_challenge: Option<String>,
    /// Captcha token.
    #[serde(default)]
    pub captcha: Option<String>,
    /// Mobile country code.
    #[serde(default)]
    pub mcc: Option<String>,
    /// Mobile network code.
    #[serde(default)]
    pub mnc: Option<String>,
}

/// How a verification code is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationTransport {
    /// Text message.
    #[serde(alias = "SMS", alias = "Sms")]
    Sms,
    /// Voice call.
    #[serde(alias = "VOICE", alias = "Voice")]
    Voice,
}

/// `POST /v1/verification/session/{id}/code` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationCodeRequest {
    /// Delivery channel.
    pub transport: VerificationTransport,
    /// Client kind: `ios`, `android-2021-03`, other `android*`, or anything else.
    pub client: String,
}

/// `PUT /v1/verification/session/{id}/code` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitVerificationCodeRequest {
    /// The code the user received.
    pub code: String,
}

/// Information the server still wants before it sends a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestedInformation {
    /// Answer the push challenge.
    PushChallenge,
    /// Solve a captcha.
    Captcha,
}

/// The verification session object returned by every session call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSessionResponse {
    /// Session id, URL-safe base64 with padding.
    #[serde(with = "crate::b64::url_pad")]
    pub id: Vec<u8>,
    /// Seconds until an SMS may be requested; `None`: not allowed.
    pub next_sms: Option<u64>,
    /// Seconds until a call may be requested; `None`: not allowed.
    pub next_call: Option<u64>,
    /// Seconds until a code may be submitted; `None`: not allowed.
    pub next_verification_attempt: Option<u64>,
    /// Whether a code may be requested now.
    pub allowed_to_request_code: bool,
    /// Outstanding requirements, in the order the client should satisfy them.
    pub requested_information: Vec<RequestedInformation>,
    /// Whether the number has been verified.
    pub verified: bool,
}

/// `{apnRegistrationId}`: an APNs token (`PUT /v1/accounts/apn`, `apnToken` in registration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApnRegistrationId {
    /// The APNs device token.
    pub apn_registration_id: String,
}

/// `{gcmRegistrationId}`: an FCM token (`PUT /v1/accounts/gcm`, `gcmToken` in registration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcmRegistrationId {
    /// The FCM registration token.
    pub gcm_registration_id: String,
}

/// libsignal's typed registration client sends its push token as
/// `"pushToken": {"apnRegistrationId": …}` or `{"gcmRegistrationId": …}` instead of
/// `apnToken`/`gcmToken`; this accepts that form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PushToken {
    /// An APNs token.
    ApnRegistrationId(String),
    /// An FCM token.
    GcmRegistrationId(String),
}

/// Account and device settings (`AccountAttributes` with `DeviceAttributes` flattened in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountAttributes {
    /// The device polls over the WebSocket instead of receiving pushes.
    #[serde(default)]
    pub fetches_messages: bool,
    /// ACI registration id of the device.
    pub registration_id: RegistrationId,
    /// PNI registration id of the device.
    #[serde(default)]
    pub pni_registration_id: Option<RegistrationId>,
    /// Encrypted device name, padded standard base64.
    #[serde(default, with = "crate::b64::standard::option")]
    pub name: Option<Vec<u8>>,
    /// Capability name → supported. Unknown names are kept; the caller drops them.
    #[serde(default)]
    pub capabilities: BTreeMap<String, bool>,
    /// Registration-lock token (64 hex chars in practice), kept as sent.
    #[serde(default)]
    pub registration_lock: Option<String>,
    /// 16-byte unidentified access key: base64 or an array of 16 numbers on read.
    #[serde(default, with = "crate::b64::bytes_or_array")]
    pub unidentified_access_key: Option<Vec<u8>>,
    /// Anyone may send sealed-sender messages without knowing the key.
    #[serde(default)]
    pub unrestricted_unidentified_access: bool,
    /// Whether the number is discoverable through contact discovery.
    #[serde(default)]
    pub discoverable_by_phone_number: bool,
    /// Registration recovery password (lenient base64).
    #[serde(default, with = "crate::b64::standard_lenient::option")]
    pub recovery_password: Option<Vec<u8>>,
}

/// `POST /v1/registration` body (`DeviceActivationRequest` flattened in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationRequest {
    /// Verified session id (as received: URL-safe base64 text).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Registration recovery password (lenient base64).
    #[serde(default, with = "crate::b64::standard_lenient::option")]
    pub recovery_password: Option<Vec<u8>>,
    /// The new device's attributes.
    pub account_attributes: AccountAttributes,
    /// Proceed even if the old primary supports device transfer.
    #[serde(default)]
    pub skip_device_transfer: bool,
    /// ACI identity key.
    #[serde(with = "crate::b64::standard")]
    pub aci_identity_key: PublicKey,
    /// PNI identity key.
    #[serde(default, with = "crate::b64::standard::option")]
    pub pni_identity_key: Option<PublicKey>,
    /// ACI signed EC prekey.
    pub aci_signed_pre_key: EcSignedPreKey,
    /// PNI signed EC prekey.
    #[serde(default)]
    pub pni_signed_pre_key: Option<EcSignedPreKey>,
    /// ACI last-resort Kyber prekey.
    pub aci_pq_last_resort_pre_key: KemSignedPreKey,
    /// PNI last-resort Kyber prekey.
    #[serde(default)]
    pub pni_pq_last_resort_pre_key: Option<KemSignedPreKey>,
    /// APNs token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apn_token: Option<ApnRegistrationId>,
    /// FCM token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcm_token: Option<GcmRegistrationId>,
    /// libsignal's alternative to `apnToken`/`gcmToken`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_token: Option<PushToken>,
}

impl RegistrationRequest {
    /// The APNs token from either `apnToken` or libsignal's `pushToken`.
    pub fn apn_registration_id(&self) -> Option<&str> {
        match (&self.apn_token, &self.push_token) {
            (Some(t), _) => Some(&t.apn_registration_id),
            (None, Some(PushToken::ApnRegistrationId(t))) => Some(t),
            _ => None,
        }
    }

    /// The FCM token from either `gcmToken` or libsignal's `pushToken`.
    pub fn gcm_registration_id(&self) -> Option<&str> {
        match (&self.gcm_token, &self.push_token) {
            (Some(t), _) => Some(&t.gcm_registration_id),
            (None, Some(PushToken::GcmRegistrationId(t))) => Some(t),
            _ => None,
        }
    }
}

/// A badge entitlement in [`Entitlements`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BadgeEntitlement {
    /// Badge id.
    pub id: String,
    /// Shown on the profile.
    pub visible: bool,
    /// Expiry, epoch seconds.
    pub expiration_seconds: u64,
}

/// The backup entitlement in [`Entitlements`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupEntitlement {
    /// Backup level.
    pub backup_level: u64,
    /// Expiry, epoch seconds.
    pub expiration_seconds: u64,
}

/// Paid features of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entitlements {
    /// Badges.
    #[serde(default)]
    pub badges: Vec<BadgeEntitlement>,
    /// Backup tier, if any.
    #[serde(default)]
    pub backup: Option<BackupEntitlement>,
}

/// `GET /v1/accounts/whoami` response, also the body of registration and number change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountIdentityResponse {
    /// The ACI.
    pub uuid: Aci,
    /// The phone number, if the account has one.
    pub number: Option<E164>,
    /// The PNI as a bare UUID (no `PNI:` prefix on this field).
    pub pni: Option<Pni>,
    /// Username hash, URL-safe base64 without padding.
    #[serde(default, with = "crate::b64::url_nopad::option")]
    pub username_hash: Option<Vec<u8>>,
    /// Username link handle.
    #[serde(default)]
    pub username_link_handle: Option<Uuid>,
    /// Whether any device has the storage capability.
    #[serde(default)]
    pub storage_capable: bool,
    /// Paid features.
    #[serde(default)]
    pub entitlements: Entitlements,
    /// Salt for auth credentials (padded base64), if any.
    #[serde(default, with = "crate::b64::standard::option")]
    pub auth_credential_salt: Option<Vec<u8>>,
}

/// `POST /v1/registration` response: the identity plus whether the number was registered before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountCreationResponse {
    /// The account's identity.
    #[serde(flatten)]
    pub identity: AccountIdentityResponse,
    /// True when an existing account for this number was replaced.
    pub reregistration: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::golden::roundtrip;
    use crate::json::keys::tests::{ec_key, kem_key, kem_key_b64};

    #[test]
    fn create_session_golden() {
        roundtrip(
            &CreateVerificationSessionRequest {
                number: "+14155550123".into(),
                push_token: Some("tok".into()),
                push_token_type: Some(PushTokenType::Fcm),
                push_challenge: None,
                captcha: None,
                mcc: None,
                mnc: None,
            },
            r#"{"number":"+14155550123","pushToken":"tok","pushTokenType":"fcm","pushChallenge":null,"captcha":null,"mcc":null,"mnc":null}"#,
        );
        let minimal: CreateVerificationSessionRequest =
            serde_json::from_str(r#"{"number":"+14155550123","unknown":true}"#).unwrap();
        assert_eq!(minimal.push_token, None);
    }

    #[test]
    fn update_session_golden() {
        roundtrip(
            &UpdateVerificationSessionRequest {
                captcha: Some("a.b.c.d".into()),
                ..Default::default()
            },
            r#"{"pushToken":null,"pushTokenType":null,"pushChallenge":null,"captcha":"a.b.c.d","mcc":null,"mnc":null}"#,
        );
    }

    #[test]
    fn code_requests_golden() {
        roundtrip(
            &VerificationCodeRequest {
                transport: VerificationTransport::Voice,
                client: "ios".into(),
            },
            r#"{"transport":"voice","client":"ios"}"#,
        );
        roundtrip(
            &SubmitVerificationCodeRequest {
                code: "123456".into(),
            },
            r#"{"code":"123456"}"#,
        );
    }

    #[test]
    fn session_response_golden() {
        roundtrip(
            &VerificationSessionResponse {
                id: vec![0xfb, 0xff],
                next_sms: Some(0),
                next_call: None,
                next_verification_attempt: None,
                allowed_to_request_code: false,
                requested_information: vec![
                    RequestedInformation::PushChallenge,
                    RequestedInformation::Captcha,
                ],
                verified: false,
            },
            r#"{"id":"-_8=","nextSms":0,"nextCall":null,"nextVerificationAttempt":null,"allowedToRequestCode":false,"requestedInformation":["pushChallenge","captcha"],"verified":false}"#,
        );
    }

    #[test]
    fn account_attributes_golden() {
        let attrs = AccountAttributes {
            fetches_messages: true,
            registration_id: RegistrationId::new(1234).unwrap(),
            pni_registration_id: Some(RegistrationId::new(5678).unwrap()),
            name: Some(b"nm".to_vec()),
            capabilities: [("spqr".to_string(), true)].into_iter().collect(),
            registration_lock: None,
            unidentified_access_key: Some(vec![0; 16]),
            unrestricted_unidentified_access: false,
            discoverable_by_phone_number: true,
            recovery_password: Some(vec![1, 2]),
        };
        roundtrip(
            &attrs,
            r#"{"fetchesMessages":true,"registrationId":1234,"pniRegistrationId":5678,"name":"bm0=","capabilities":{"spqr":true},"registrationLock":null,"unidentifiedAccessKey":"AAAAAAAAAAAAAAAAAAAAAA==","unrestrictedUnidentifiedAccess":false,"discoverableByPhoneNumber":true,"recoveryPassword":"AQI"}"#,
        );
    }

    #[test]
    fn unidentified_access_key_as_number_array() {
        let attrs: AccountAttributes = serde_json::from_str(
            r#"{"registrationId":1,"unidentifiedAccessKey":[117,110,105,100,101,110,116,105,102,105,101,100,32,107,101,121]}"#,
        )
        .unwrap();
        assert_eq!(
            attrs.unidentified_access_key.as_deref(),
            Some(&b"unidentified key"[..])
        );
    }

    #[test]
    fn registration_request_golden() {
        let json = format!(
            r#"{{"sessionId":"abc","recoveryPassword":null,"accountAttributes":{{"fetchesMessages":false,"registrationId":1,"pniRegistrationId":null,"name":null,"capabilities":{{}},"registrationLock":null,"unidentifiedAccessKey":null,"unrestrictedUnidentifiedAccess":false,"discoverableByPhoneNumber":false,"recoveryPassword":null}},"skipDeviceTransfer":true,"aciIdentityKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB","pniIdentityKey":null,"aciSignedPreKey":{{"keyId":1,"publicKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB","signature":"AQ"}},"pniSignedPreKey":null,"aciPqLastResortPreKey":{{"keyId":2,"publicKey":"{}","signature":"Ag"}},"pniPqLastResortPreKey":null,"gcmToken":{{"gcmRegistrationId":"fcm"}}}}"#,
            kem_key_b64()
        );
        let req = RegistrationRequest {
            session_id: Some("abc".into()),
            recovery_password: None,
            account_attributes: AccountAttributes {
                fetches_messages: false,
                registration_id: RegistrationId::new(1).unwrap(),
                pni_registration_id: None,
                name: None,
                capabilities: BTreeMap::new(),
                registration_lock: None,
                unidentified_access_key: None,
                unrestricted_unidentified_access: false,
                discoverable_by_phone_number: false,
                recovery_password: None,
            },
            skip_device_transfer: true,
            aci_identity_key: ec_key(1),
            pni_identity_key: None,
            aci_signed_pre_key: EcSignedPreKey {
                key_id: 1,
                public_key: ec_key(1),
                signature: vec![1],
            },
            pni_signed_pre_key: None,
            aci_pq_last_resort_pre_key: KemSignedPreKey {
                key_id: 2,
                public_key: kem_key(),
                signature: vec![2],
            },
            pni_pq_last_resort_pre_key: None,
            apn_token: None,
            gcm_token: Some(GcmRegistrationId {
                gcm_registration_id: "fcm".into(),
            }),
            push_token: None,
        };
        roundtrip(&req, &json);
        assert_eq!(req.gcm_registration_id(), Some("fcm"));
    }

    #[test]
    fn libsignal_push_token_form() {
        let json = format!(
            r#"{{"sessionId":"abc","accountAttributes":{{"registrationId":1}},"aciIdentityKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB","aciSignedPreKey":{{"keyId":1,"publicKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB","signature":"c2lnbmF0dXJl"}},"aciPqLastResortPreKey":{{"keyId":2,"publicKey":"{}","signature":"c2lnbmF0dXJl"}},"pushToken":{{"apnRegistrationId":"appleId"}}}}"#,
            kem_key_b64()
        );
        let req: RegistrationRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(req.apn_registration_id(), Some("appleId"));
        assert_eq!(req.gcm_registration_id(), None);
    }

    #[test]
    fn account_creation_response_golden() {
        let aci: Aci = "095be615-a8ad-4c33-8e9c-c7612fbf6c9f".parse().unwrap();
        let pni: Pni = "06d9ee19-7126-49ad-b4cb-de1a4d42305a".parse().unwrap();
        roundtrip(
            &AccountCreationResponse {
                identity: AccountIdentityResponse {
                    uuid: aci,
                    number: Some(E164::parse("+18005550123").unwrap()),
                    pni: Some(pni),
                    username_hash: None,
                    username_link_handle: None,
                    storage_capable: false,
                    entitlements: Entitlements::default(),
                    auth_credential_salt: None,
                },
                reregistration: false,
            },
            r#"{"uuid":"095be615-a8ad-4c33-8e9c-c7612fbf6c9f","number":"+18005550123","pni":"06d9ee19-7126-49ad-b4cb-de1a4d42305a","usernameHash":null,"usernameLinkHandle":null,"storageCapable":false,"entitlements":{"badges":[],"backup":null},"authCredentialSalt":null,"reregistration":false}"#,
        );
    }
}
