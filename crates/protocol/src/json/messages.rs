//! Message bodies: `PUT /v1/messages/{serviceId}`, `PUT /v1/messages/multi_recipient`, the
//! 409/410 device-mismatch bodies, and the legacy `GET /v1/messages` list.

use heliograph_types::{DeviceId, MessageGuid, Pni, ServiceId};
use serde::{Deserialize, Serialize};

fn default_true() -> bool {
    true
}

/// One per-device ciphertext in an [`IncomingMessageList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingMessage {
    /// `Envelope.Type` number (1, 3, 6 or 8 in practice).
    #[serde(rename = "type")]
    pub message_type: i32,
    /// The recipient device.
    pub destination_device_id: DeviceId,
    /// Registration id the sender believes the device has.
    pub destination_registration_id: u32,
    /// Ciphertext, standard base64 (unpadded on write, lenient on read).
    #[serde(with = "crate::b64::standard_lenient")]
    pub content: Vec<u8>,
}

/// `PUT /v1/messages/{serviceId}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingMessageList {
    /// One entry per destination device.
    pub messages: Vec<IncomingMessage>,
    /// Ephemeral: drop instead of queueing for an offline recipient.
    #[serde(default)]
    pub online: bool,
    /// Whether a push should wake the recipient; defaults to true when absent.
    #[serde(default = "default_true")]
    pub urgent: bool,
    /// Client timestamp in ms; 0 means "use server time".
    #[serde(default)]
    pub timestamp: u64,
}

/// `200` body of a single-recipient send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageResponse {
    /// The sender has other devices that should get a sync transcript.
    pub needs_sync: bool,
}

/// `409` body: the device list does not match the account's devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MismatchedDevicesResponse {
    /// Devices the account has that the request left out.
    pub missing_devices: Vec<DeviceId>,
    /// Devices in the request the account does not have.
    pub extra_devices: Vec<DeviceId>,
}

/// `410` body: devices whose registration id changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleDevicesResponse {
    /// The stale devices.
    pub stale_devices: Vec<DeviceId>,
}

/// One entry of the multi-recipient `409` array body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountMismatchedDevices {
    /// The recipient (`uuid` or `PNI:uuid`).
    pub uuid: ServiceId,
    /// Its mismatch.
    pub devices: MismatchedDevicesResponse,
}

/// One entry of the multi-recipient `410` array body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountStaleDevices {
    /// The recipient.
    pub uuid: ServiceId,
    /// Its stale devices.
    pub devices: StaleDevicesResponse,
}

/// Multi-recipient `409` body: a bare JSON array.
pub type MultiRecipientMismatchedDevicesResponse = Vec<AccountMismatchedDevices>;
/// Multi-recipient `410` body: a bare JSON array.
pub type MultiRecipientStaleDevicesResponse = Vec<AccountStaleDevices>;

/// `200` body of `PUT /v1/messages/multi_recipient`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMultiRecipientMessageResponse {
    /// Recipients that do not exist (only with a group send token).
    #[serde(rename = "uuids404")]
    pub uuids_404: Vec<ServiceId>,
}

/// One envelope of the legacy `GET /v1/messages` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingMessageEntity {
    /// Server-assigned message guid.
    pub guid: MessageGuid,
    /// `Envelope.Type` number.
    #[serde(rename = "type")]
    pub message_type: i32,
    /// Client timestamp (ms).
    pub timestamp: u64,
    /// Legacy: the sender's number. Never filled by Heliograph.
    #[serde(default)]
    pub source: Option<String>,
    /// The sender, absent for sealed sender.
    #[serde(default)]
    pub source_uuid: Option<ServiceId>,
    /// The sending device (0 when there is no source).
    #[serde(default)]
    pub source_device: u32,
    /// The identity the message was sent to.
    pub destination_uuid: ServiceId,
    /// The recipient's new PNI after a number change.
    #[serde(default)]
    pub updated_pni: Option<Pni>,
    /// Ciphertext, padded standard base64.
    #[serde(with = "crate::b64::standard")]
    pub content: Vec<u8>,
    /// Server receive time (ms).
    pub server_timestamp: u64,
    /// Push urgency.
    pub urgent: bool,
    /// Story flag.
    pub story: bool,
    /// Token for reporting the sender as spam.
    #[serde(default, with = "crate::b64::standard::option")]
    pub report_spam_token: Option<Vec<u8>>,
}

/// `GET /v1/messages` response (retired upstream; kept for older clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingMessageEntityList {
    /// A page of queued envelopes.
    pub messages: Vec<OutgoingMessageEntity>,
    /// More envelopes remain.
    pub more: bool,
}

/// `POST /v1/messages/report/…` optional body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpamReport {
    /// The envelope's `report_spam_token` (lenient base64).
    #[serde(default, with = "crate::b64::standard_lenient::option")]
    pub token: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::golden::roundtrip;
    use uuid::Uuid;

    const ACI: &str = "095be615-a8ad-4c33-8e9c-c7612fbf6c9f";

    #[test]
    fn incoming_message_list_golden() {
        roundtrip(
            &IncomingMessageList {
                messages: vec![IncomingMessage {
                    message_type: 1,
                    destination_device_id: DeviceId::PRIMARY,
                    destination_registration_id: 1234,
                    content: vec![1, 2, 3, 4],
                }],
                online: false,
                urgent: true,
                timestamp: 1_700_000_000_000,
            },
            r#"{"messages":[{"type":1,"destinationDeviceId":1,"destinationRegistrationId":1234,"content":"AQIDBA"}],"online":false,"urgent":true,"timestamp":1700000000000}"#,
        );
        let defaults: IncomingMessageList = serde_json::from_str(r#"{"messages":[]}"#).unwrap();
        assert!(defaults.urgent);
        assert_eq!(defaults.timestamp, 0);
    }

    #[test]
    fn simple_responses_golden() {
        roundtrip(
            &SendMessageResponse { needs_sync: true },
            r#"{"needsSync":true}"#,
        );
        roundtrip(
            &MismatchedDevicesResponse {
                missing_devices: vec![DeviceId::new(2).unwrap()],
                extra_devices: vec![DeviceId::new(3).unwrap()],
            },
            r#"{"missingDevices":[2],"extraDevices":[3]}"#,
        );
        roundtrip(
            &StaleDevicesResponse {
                stale_devices: vec![DeviceId::PRIMARY],
            },
            r#"{"staleDevices":[1]}"#,
        );
        roundtrip(
            &SpamReport {
                token: Some(vec![1]),
            },
            r#"{"token":"AQ"}"#,
        );
    }

    #[test]
    fn multi_recipient_bodies_golden() {
        let id: ServiceId = format!("PNI:{ACI}").parse().unwrap();
        roundtrip(
            &vec![AccountMismatchedDevices {
                uuid: id,
                devices: MismatchedDevicesResponse {
                    missing_devices: vec![DeviceId::PRIMARY],
                    extra_devices: vec![],
                },
            }],
            &format!(
                r#"[{{"uuid":"PNI:{ACI}","devices":{{"missingDevices":[1],"extraDevices":[]}}}}]"#
            ),
        );
        roundtrip(
            &vec![AccountStaleDevices {
                uuid: id,
                devices: StaleDevicesResponse {
                    stale_devices: vec![DeviceId::PRIMARY],
                },
            }],
            &format!(r#"[{{"uuid":"PNI:{ACI}","devices":{{"staleDevices":[1]}}}}]"#),
        );
        roundtrip(
            &SendMultiRecipientMessageResponse {
                uuids_404: vec![id],
            },
            &format!(r#"{{"uuids404":["PNI:{ACI}"]}}"#),
        );
    }

    #[test]
    fn outgoing_message_list_golden() {
        let aci: ServiceId = ACI.parse().unwrap();
        roundtrip(
            &OutgoingMessageEntityList {
                messages: vec![OutgoingMessageEntity {
                    guid: MessageGuid::from_uuid(Uuid::nil()),
                    message_type: 6,
                    timestamp: 5,
                    source: None,
                    source_uuid: None,
                    source_device: 0,
                    destination_uuid: aci,
                    updated_pni: None,
                    content: vec![1],
                    server_timestamp: 6,
                    urgent: true,
                    story: false,
                    report_spam_token: None,
                }],
                more: false,
            },
            &format!(
                r#"{{"messages":[{{"guid":"00000000-0000-0000-0000-000000000000","type":6,"timestamp":5,"source":null,"sourceUuid":null,"sourceDevice":0,"destinationUuid":"{ACI}","updatedPni":null,"content":"AQ==","serverTimestamp":6,"urgent":true,"story":false,"reportSpamToken":null}}],"more":false}}"#
            ),
        );
    }
}
