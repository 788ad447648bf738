//! Prekey bodies: `PUT /v2/keys`, `GET /v2/keys`, `GET /v2/keys/{id}/{device}`,
//! `POST /v2/keys/check`.

use heliograph_types::{DeviceId, KemPublicKey, PublicKey, RegistrationId};
use serde::{Deserialize, Serialize};

/// A one-time EC prekey `{keyId, publicKey}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcPreKey {
    /// Client-chosen id, `0..2^31`.
    pub key_id: u32,
    /// 33-byte key, padded standard base64.
    #[serde(with = "crate::b64::standard")]
    pub public_key: PublicKey,
}

/// A signed EC prekey `{keyId, publicKey, signature}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcSignedPreKey {
    /// Client-chosen id.
    pub key_id: u32,
    /// 33-byte key, padded standard base64.
    #[serde(with = "crate::b64::standard")]
    pub public_key: PublicKey,
    /// XEdDSA signature by the identity key over the serialized public key; unpadded on
    /// write, lenient on read. Kept as raw bytes so a wrong length surfaces as a bad
    /// signature (422), like the official server.
    #[serde(with = "crate::b64::standard_lenient")]
    pub signature: Vec<u8>,
}

/// A signed Kyber prekey (one-time or last-resort) `{keyId, publicKey, signature}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KemSignedPreKey {
    /// Client-chosen id.
    pub key_id: u32,
    /// 1569-byte key, padded standard base64.
    #[serde(with = "crate::b64::standard")]
    pub public_key: KemPublicKey,
    /// Signature over the serialized public key (lenient base64).
    #[serde(with = "crate::b64::standard_lenient")]
    pub signature: Vec<u8>,
}

/// `PUT /v2/keys?identity=aci|pni` body. Every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetKeysRequest {
    /// One-time EC prekeys to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_keys: Option<Vec<EcPreKey>>,
    /// Replacement signed EC prekey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_pre_key: Option<EcSignedPreKey>,
    /// One-time Kyber prekeys to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pq_pre_keys: Option<Vec<KemSignedPreKey>>,
    /// Replacement last-resort Kyber prekey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pq_last_resort_pre_key: Option<KemSignedPreKey>,
}

/// `GET /v2/keys` response: how many one-time keys remain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreKeyCountResponse {
    /// One-time EC prekeys left.
    pub count: u32,
    /// One-time Kyber prekeys left.
    pub pq_count: u32,
}

/// One device's bundle in a [`PreKeyResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreKeyResponseItem {
    /// The device.
    pub device_id: DeviceId,
    /// The device's registration id (the PNI one when the target is a PNI).
    pub registration_id: RegistrationId,
    /// Its signed EC prekey.
    pub signed_pre_key: EcSignedPreKey,
    /// A one-time EC prekey, if one was left.
    pub pre_key: Option<EcPreKey>,
    /// A one-time Kyber prekey, or the last-resort key.
    pub pq_pre_key: KemSignedPreKey,
}

/// `GET /v2/keys/{serviceId}/{deviceId|*}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreKeyResponse {
    /// The identity key of the target identity, padded standard base64.
    #[serde(with = "crate::b64::standard")]
    pub identity_key: PublicKey,
    /// One entry per device that has keys.
    pub devices: Vec<PreKeyResponseItem>,
}

/// Which identity a key request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityType {
    /// The account identity.
    #[serde(alias = "ACI", alias = "Aci")]
    Aci,
    /// The phone-number identity.
    #[serde(alias = "PNI", alias = "Pni")]
    Pni,
}

/// `POST /v2/keys/check` body: a digest over the caller's view of its own repeated-use keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckKeysRequest {
    /// Which identity's keys were digested.
    pub identity_type: IdentityType,
    /// SHA-256 digest (32 bytes), padded standard base64.
    #[serde(with = "crate::b64::standard")]
    pub digest: Vec<u8>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::json::golden::roundtrip;

    pub fn ec_key(fill: u8) -> PublicKey {
        let mut raw = [fill; 33];
        raw[0] = 0x05;
        PublicKey::from_bytes(&raw).unwrap()
    }

    pub fn kem_key() -> KemPublicKey {
        let mut raw = vec![0u8; 1569];
        raw[0] = 0x08;
        KemPublicKey::from_bytes(&raw).unwrap()
    }

    pub fn kem_key_b64() -> String {
        crate::b64::encode_standard(kem_key().serialize())
    }

    #[test]
    fn ec_pre_key_golden() {
        roundtrip(
            &EcPreKey {
                key_id: 7,
                public_key: ec_key(1),
            },
            r#"{"keyId":7,"publicKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"}"#,
        );
    }

    #[test]
    fn ec_signed_pre_key_golden_and_lenient_signature() {
        let key = EcSignedPreKey {
            key_id: 1,
            public_key: ec_key(1),
            signature: vec![0xff; 4],
        };
        roundtrip(
            &key,
            r#"{"keyId":1,"publicKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB","signature":"/////w"}"#,
        );
        let padded: EcSignedPreKey = serde_json::from_str(
            r#"{"keyId":1,"publicKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB","signature":"/////w==","extra":1}"#,
        )
        .unwrap();
        assert_eq!(padded, key);
    }

    #[test]
    fn kem_signed_pre_key_golden() {
        let json = format!(
            r#"{{"keyId":3,"publicKey":"{}","signature":"AQI"}}"#,
            kem_key_b64()
        );
        roundtrip(
            &KemSignedPreKey {
                key_id: 3,
                public_key: kem_key(),
                signature: vec![1, 2],
            },
            &json,
        );
    }

    #[test]
    fn bad_key_is_rejected() {
        assert!(serde_json::from_str::<EcPreKey>(r#"{"keyId":1,"publicKey":"AAAA"}"#).is_err());
    }

    #[test]
    fn set_keys_request_golden() {
        roundtrip(
            &SetKeysRequest {
                pre_keys: Some(vec![EcPreKey {
                    key_id: 1,
                    public_key: ec_key(1),
                }]),
                ..Default::default()
            },
            r#"{"preKeys":[{"keyId":1,"publicKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"}]}"#,
        );
    }

    #[test]
    fn pre_key_count_golden() {
        roundtrip(
            &PreKeyCountResponse {
                count: 5,
                pq_count: 6,
            },
            r#"{"count":5,"pqCount":6}"#,
        );
    }

    #[test]
    fn pre_key_response_golden() {
        let json = format!(
            r#"{{"identityKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB","devices":[{{"deviceId":1,"registrationId":42,"signedPreKey":{{"keyId":1,"publicKey":"BQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB","signature":"AQ"}},"preKey":null,"pqPreKey":{{"keyId":2,"publicKey":"{}","signature":"Ag"}}}}]}}"#,
            kem_key_b64()
        );
        roundtrip(
            &PreKeyResponse {
                identity_key: ec_key(1),
                devices: vec![PreKeyResponseItem {
                    device_id: DeviceId::PRIMARY,
                    registration_id: RegistrationId::new(42).unwrap(),
                    signed_pre_key: EcSignedPreKey {
                        key_id: 1,
                        public_key: ec_key(1),
                        signature: vec![1],
                    },
                    pre_key: None,
                    pq_pre_key: KemSignedPreKey {
                        key_id: 2,
                        public_key: kem_key(),
                        signature: vec![2],
                    },
                }],
            },
            &json,
        );
    }

    #[test]
    fn check_keys_golden() {
        roundtrip(
            &CheckKeysRequest {
                identity_type: IdentityType::Aci,
                digest: vec![0; 3],
            },
            r#"{"identityType":"aci","digest":"AAAA"}"#,
        );
        let upper: CheckKeysRequest =
            serde_json::from_str(r#"{"identityType":"PNI","digest":"AAAA"}"#).unwrap();
        assert_eq!(upper.identity_type, IdentityType::Pni);
    }
}
