//! Device and linking bodies: `/v1/devices…`, `/v1/provisioning/{address}`.

use heliograph_types::{Aci, DeviceId, Pni, RegistrationId};
use serde::{Deserialize, Serialize};

use super::keys::{EcSignedPreKey, KemSignedPreKey};
use super::registration::{ApnRegistrationId, GcmRegistrationId};

/// `PUT /v1/provisioning/{address}` body: a base64 `ProvisionEnvelope`, relayed as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningMessage {
    /// Serialized `ProvisionEnvelope`, standard base64 (kept as text: the server only relays it).
    pub body: String,
}

/// `GET /v1/devices/provisioning/code` response: a one-time link token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationCodeResponse {
    /// The token the new device presents in `LinkDeviceRequest.verificationCode`.
    pub verification_code: String,
    /// Identifies the token for `GET /v1/devices/wait_for_linked_device/{tokenIdentifier}`.
    pub token_identifier: String,
}

/// Per-device attributes sent when linking (`DeviceAttributes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceAttributes {
    /// Polls instead of receiving pushes.
    #[serde(default)]
    pub fetches_messages: bool,
    /// ACI registration id.
    pub registration_id: RegistrationId,
    /// PNI registration id.
    #[serde(default)]
    pub pni_registration_id: Option<RegistrationId>,
    /// Encrypted device name (padded base64).
    #[serde(default, with = "crate::b64::standard::option")]
    pub name: Option<Vec<u8>>,
    /// Capability name → supported.
    #[serde(default)]
    pub capabilities: std::collections::BTreeMap<String, bool>,
}

/// `PUT /v1/devices/link` body (`DeviceActivationRequest` flattened in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkDeviceRequest {
    /// The link token from [`VerificationCodeResponse`].
    pub verification_code: String,
    /// The new device's attributes.
    pub account_attributes: DeviceAttributes,
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
}

/// `PUT /v1/devices/link` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkDeviceResponse {
    /// The account's ACI.
    pub uuid: Aci,
    /// The account's PNI (bare UUID).
    pub pni: Option<Pni>,
    /// The id given to the new device.
    pub device_id: DeviceId,
}

/// One device in `GET /v1/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// Device id.
    pub id: DeviceId,
    /// Encrypted name, padded standard base64.
    #[serde(default, with = "crate::b64::standard::option")]
    pub name: Option<Vec<u8>>,
    /// Last seen (ms, truncated to the day).
    pub last_seen: u64,
    /// ACI registration id.
    pub registration_id: RegistrationId,
    /// Encrypted link time, unpadded standard base64.
    #[serde(default, with = "crate::b64::standard_lenient::option")]
    pub created_at_ciphertext: Option<Vec<u8>>,
}

/// `GET /v1/devices` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfoList {
    /// All devices of the account.
    pub devices: Vec<DeviceInfo>,
}

/// `411` body: the account already has the maximum number of devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceLimitExceededResponse {
    /// Devices the account has.
    pub current: u32,
    /// The limit.
    pub max: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::golden::roundtrip;
    use crate::json::keys::tests::{ec_key, kem_key, kem_key_b64};
    use uuid::Uuid;

    #[test]
    fn provisioning_bodies_golden() {
        roundtrip(
            &ProvisioningMessage {
                body: "AQ==".into(),
            },
            r#"{"body":"AQ=="}"#,
        );
        roundtrip(
            &VerificationCodeResponse {
                verification_code: "c".into(),
                token_identifier: "t".into(),
            },
            r#"{"verificationCode":"c","tokenIdentifier":"t"}"#,
        );
    }

    #[test]
    fn link_device_request_golden() {
        let json = format!(
            r#"{{"verificationCode":"code","accountAttributes":{{"fetchesMessages":true,"registrationId":7,"pniRegistrationId":8,"name":"bm0=","capabilities":{{"spqr":true}}}},"aciSignedPreKey":{{"keyId":1,"publicKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB","signature":"AQ"}},"pniSignedPreKey":null,"aciPqLastResortPreKey":{{"keyId":2,"publicKey":"{}","signature":"Ag"}},"pniPqLastResortPreKey":null}}"#,
            kem_key_b64()
        );
        roundtrip(
            &LinkDeviceRequest {
                verification_code: "code".into(),
                account_attributes: DeviceAttributes {
                    fetches_messages: true,
                    registration_id: RegistrationId::new(7).unwrap(),
                    pni_registration_id: Some(RegistrationId::new(8).unwrap()),
                    name: Some(b"nm".to_vec()),
                    capabilities: [("spqr".to_string(), true)].into_iter().collect(),
                },
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
                gcm_token: None,
            },
            &json,
        );
    }

    #[test]
    fn link_device_response_golden() {
        let aci: Aci = "095be615-a8ad-4c33-8e9c-c7612fbf6c9f".parse().unwrap();
        roundtrip(
            &LinkDeviceResponse {
                uuid: aci,
                pni: Some(Pni::from_uuid(Uuid::nil())),
                device_id: DeviceId::new(2).unwrap(),
            },
            r#"{"uuid":"095be615-a8ad-4c33-8e9c-c7612fbf6c9f","pni":"00000000-0000-0000-0000-000000000000","deviceId":2}"#,
        );
    }

    #[test]
    fn device_list_golden() {
        roundtrip(
            &DeviceInfoList {
                devices: vec![DeviceInfo {
                    id: DeviceId::PRIMARY,
                    name: Some(vec![1]),
                    last_seen: 86_400_000,
                    registration_id: RegistrationId::new(5).unwrap(),
                    created_at_ciphertext: Some(vec![1]),
                }],
            },
            r#"{"devices":[{"id":1,"name":"AQ==","lastSeen":86400000,"registrationId":5,"createdAtCiphertext":"AQ"}]}"#,
        );
        roundtrip(
            &DeviceLimitExceededResponse { current: 6, max: 6 },
            r#"{"current":6,"max":6}"#,
        );
    }
}
