//! Messages: single-recipient sends (identified, sync, sealed sender, stories), queues, acks
//! with server delivery receipts, expiry. Multi-recipient sends live in `multi_recipient`.
//!
//! Guarantees: a stored message is durable (committed to the store) before the send returns;
//! it is removed only when the recipient device acknowledges it. Ephemeral (`online`) messages
//! are handed only to devices connected at send time and never stored.

use std::sync::Arc;

use prost::Message as _;

use heliograph_protocol::proto::textsecure::{envelope, Envelope};
use heliograph_storage::{Account, NewMessage, QueuePosition, StoredMessage};
use heliograph_types::{Aci, DeviceId, MessageGuid, ServiceId};

use crate::auth::{unidentified_access_allowed, AuthenticatedDevice};
use crate::devices::compare;
use crate::{ChatError, ChatResult, Deps};

/// Largest ciphertext accepted per device.
pub const MAX_CONTENT_BYTES: usize = 96 * 1024;
/// Largest client timestamp accepted (the official bound).
pub const MAX_TIMESTAMP: u64 = 8_640_000_000_000_000;

/// Wakes the sockets of devices with new messages and hands ephemeral messages to connected
/// devices. The in-process implementation is the API's connection registry; a Redis bus
/// implements it across nodes.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync {
    /// New stored messages are queued for the device.
    async fn new_messages(&self, aci: Aci, device: DeviceId);
    /// Offers an ephemeral envelope to the device's live socket; `false` if it has none.
    async fn deliver_ephemeral(&self, aci: Aci, device: DeviceId, envelope: Vec<u8>) -> bool;
}

/// Message settings.
#[derive(Debug, Clone)]
pub struct MessagesConfig {
    /// How long undelivered messages are kept.
    pub ttl_ms: i64,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        Self {
            ttl_ms: 30 * 24 * 60 * 60 * 1000,
        }
    }
}

/// Who is sending.
#[derive(Debug, Clone)]
pub enum Sender {
    /// An authenticated device (identified send, or a sync message to its own account).
    Device(Box<AuthenticatedDevice>),
    /// Sealed sender with the recipient's unidentified access key.
    AccessKey([u8; 16]),
    /// Sealed sender with a group send token already verified to cover the recipient.
    GroupSendToken,
    /// A story: no access check.
    Story,
}

/// One device's ciphertext.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// Envelope type (1 ciphertext, 3 prekey bundle, 6 sealed sender, 8 plaintext content).
    pub envelope_type: i32,
    /// Destination device.
    pub device: DeviceId,
    /// The registration id the sender believes the device has.
    pub registration_id: u32,
    /// The ciphertext.
    pub content: Vec<u8>,
}

/// A `PUT /v1/messages/{destination}` request.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// Recipient.
    pub destination: ServiceId,
    /// One entry per recipient device.
    pub messages: Vec<OutgoingMessage>,
    /// Ephemeral: only to connected devices, never stored.
    pub online: bool,
    /// Urgent (push priority).
    pub urgent: bool,
    /// A story.
    pub story: bool,
    /// Client timestamp (0 = use server time).
    pub timestamp: u64,
}

/// Result of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// Whether the sender should send a sync copy to its other devices.
    pub needs_sync: bool,
}

/// The messaging service.
#[derive(Clone)]
pub struct Messages {
    deps: Deps,
    config: MessagesConfig,
    notifier: Arc<dyn Notifier>,
}

fn known_type(t: i32) -> bool {
    matches!(
        envelope::Type::try_from(t),
        Ok(envelope::Type::Ciphertext
            | envelope::Type::PrekeyBundle
            | envelope::Type::UnidentifiedSender
            | envelope::Type::PlaintextContent)
    )
}

/// Fills both the binary and the retired string forms of the id fields, so older and newer
/// clients both find them.
pub fn set_ids(
    env: &mut Envelope,
    guid: MessageGuid,
    source: Option<ServiceId>,
    destination: ServiceId,
) {
    env.server_guid = Some(guid.to_bytes().to_vec());
    env.server_guid_string = Some(guid.to_string());
    if let Some(source) = source {
        env.source_service_id = Some(source.to_binary());
        env.source_service_id_string = Some(source.to_string());
    }
    env.destination_service_id = Some(destination.to_binary());
    env.destination_service_id_string = Some(destination.to_string());
}

impl Messages {
    /// Builds the service.
    pub fn new(deps: Deps, config: MessagesConfig, notifier: Arc<dyn Notifier>) -> Self {
        Self {
            deps,
            config,
            notifier,
        }
    }

    /// The store and clock this service uses.
    pub fn deps(&self) -> &Deps {
        &self.deps
    }

    /// Validates a send request's shape (422 / 413) before anything is looked up.
    pub fn check_shape(req: &SendRequest) -> ChatResult<()> {
        if req.timestamp > MAX_TIMESTAMP {
            return Err(ChatError::BadRequest("timestamp out of range".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &req.messages {
            if !known_type(m.envelope_type) {
                return Err(ChatError::Unprocessable("unsupported message type".into()));
            }
            if m.content.is_empty() {
                return Err(ChatError::Unprocessable("empty content".into()));
            }
            if m.content.len() > MAX_CONTENT_BYTES {
                return Err(ChatError::TooLarge);
            }
            if !seen.insert(m.device) {
                return Err(ChatError::Unprocessable("duplicate device id".into()));
            }
        }
        Ok(())
    }

    async fn account_of(&self, id: ServiceId) -> ChatResult<Option<Account>> {
        Ok(match id {
            ServiceId::Aci(aci) => self.deps.stores.accounts.get_by_aci(aci).await?,
            ServiceId::Pni(pni) => self.deps.stores.accounts.get_by_pni(pni).await?,
        })
    }

    /// `PUT /v1/messages/{destination}` (and the gRPC sends): checks access and the device set,
    /// then stores one envelope per device (or hands ephemeral ones to live sockets).
    pub async fn send(&self, sender: Sender, req: SendRequest) -> ChatResult<SendOutcome> {
        Self::check_shape(&req)?;
        let target = self.account_of(req.destination).await?;
        let (target, source, exclude) = match &sender {
            Sender::Story => match target {
                Some(t) => (t, None, None),
                None => return Ok(SendOutcome { needs_sync: false }),
            },
            Sender::AccessKey(key) => {
                let t = target.ok_or(ChatError::Unauthorized)?;
                if matches!(req.destination, ServiceId::Pni(_))
                    || !unidentified_access_allowed(&t, key)
                {
                    return Err(ChatError::Unauthorized);
                }
                (t, None, None)
            }
            Sender::GroupSendToken => (target.ok_or(ChatError::NotFound)?, None, None),
            Sender::Device(auth) => {
                let t = target.ok_or(ChatError::NotFound)?;
                if t.aci == auth.aci() {
                    if matches!(req.destination, ServiceId::Pni(_)) {
                        return Err(ChatError::Forbidden);
                    }
                    (t, Some((auth.aci(), auth.device)), Some(auth.device))
                } else {
                    (t, Some((auth.aci(), auth.device)), None)
                }
            }
        };
        let addressed: Vec<(DeviceId, u32)> = req
            .messages
            .iter()
            .map(|m| (m.device, m.registration_id))
            .collect();
        let mismatch = compare(
            &target,
            &addressed,
            exclude,
            matches!(req.destination, ServiceId::Pni(_)),
        );
        if mismatch.is_stale() {
            return Err(ChatError::StaleDevices {
                stale: mismatch.stale.iter().map(|d| d.get()).collect(),
            });
        }
        if mismatch.is_mismatched() {
            return Err(ChatError::MismatchedDevices {
                missing: mismatch.missing.iter().map(|d| d.get()).collect(),
                extra: mismatch.extra.iter().map(|d| d.get()).collect(),
            });
        }
        if req.messages.is_empty() {
            // A sync message from a single-device account, or nothing to deliver.
            return Ok(SendOutcome { needs_sync: false });
        }

        let now = self.deps.clock.now_ms();
        let timestamp = if req.timestamp == 0 {
            now.max(0) as u64
        } else {
            req.timestamp
        };
        let needs_sync = match &sender {
            Sender::Device(auth) => exclude.is_none() && auth.account.devices.len() > 1,
            _ => false,
        };
        let mut batch = Vec::with_capacity(req.messages.len());
        for m in req.messages {
            let guid = MessageGuid::random();
            let mut env = Envelope {
                r#type: Some(m.envelope_type),
                client_timestamp: Some(timestamp),
                content: Some(m.content),
                server_timestamp: Some(now.max(0) as u64),
                urgent: Some(req.urgent),
                story: req.story.then_some(true),
                ..Default::default()
            };
            if let Some((aci, device)) = source {
                env.source_device = Some(u32::from(device.get()));
                set_ids(&mut env, guid, Some(ServiceId::Aci(aci)), req.destination);
            } else {
                set_ids(&mut env, guid, None, req.destination);
            }
            let bytes = env.encode_to_vec();
            if req.online {
                // Ephemeral: only devices connected now get it; nothing is stored.
                self.notifier
                    .deliver_ephemeral(target.aci, m.device, bytes)
                    .await;
                continue;
            }
            batch.push(NewMessage {
                aci: target.aci,
                device: m.device,
                guid,
                server_timestamp_ms: now,
                expires_at_ms: now + self.config.ttl_ms,
                story: req.story,
                urgent: req.urgent,
                envelope: bytes,
            });
        }
        if !batch.is_empty() {
            self.deps.stores.messages.insert(&batch).await?;
            for m in &batch {
                self.notifier.new_messages(m.aci, m.device).await;
            }
        }
        Ok(SendOutcome { needs_sync })
    }

    /// Stores pre-built envelopes (multi-recipient fan-out, receipts) durably and wakes the
    /// devices.
    pub async fn store(&self, batch: Vec<NewMessage>) -> ChatResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.deps.stores.messages.insert(&batch).await?;
        for m in &batch {
            self.notifier.new_messages(m.aci, m.device).await;
        }
        Ok(())
    }

    /// The message TTL.
    pub fn ttl_ms(&self) -> i64 {
        self.config.ttl_ms
    }

    /// Hands an ephemeral envelope to a connected device.
    pub async fn deliver_ephemeral(&self, aci: Aci, device: DeviceId, envelope: Vec<u8>) -> bool {
        self.notifier.deliver_ephemeral(aci, device, envelope).await
    }

    /// Reads a device's queue in order, after `after`.
    pub async fn read(
        &self,
        aci: Aci,
        device: DeviceId,
        after: Option<QueuePosition>,
        limit: u32,
    ) -> ChatResult<Vec<StoredMessage>> {
        let now = self.deps.clock.now_ms();
        let mut msgs = self
            .deps
            .stores
            .messages
            .read(aci, device, after, limit)
            .await?;
        msgs.retain(|m| m.expires_at_ms > now);
        Ok(msgs)
    }

    /// The device acknowledged a message: delete it and, when it came from an identified
    /// sender and is not itself a receipt, queue a server delivery receipt to the sender's
    /// devices. Returns whether the message was still queued.
    pub async fn acknowledge(
        &self,
        aci: Aci,
        device: DeviceId,
        guid: MessageGuid,
    ) -> ChatResult<bool> {
        let Some(msg) = self.deps.stores.messages.delete(aci, device, guid).await? else {
            return Ok(false);
        };
        let Ok(env) = Envelope::decode(msg.envelope.as_slice()) else {
            return Ok(true);
        };
        if env.r#type() == envelope::Type::ServerDeliveryReceipt || env.story() {
            return Ok(true);
        }
        let Some(source) = env
            .source_service_id
            .as_deref()
            .and_then(|b| ServiceId::from_binary(b).ok())
        else {
            return Ok(true);
        };
        let Some(sender) = self.account_of(source).await? else {
            return Ok(true);
        };
        if sender.aci == aci {
            return Ok(true);
        }
        let now = self.deps.clock.now_ms();
        let mut batch = Vec::new();
        for d in &sender.devices {
            let guid = MessageGuid::random();
            let mut receipt = Envelope {
                r#type: Some(envelope::Type::ServerDeliveryReceipt as i32),
                client_timestamp: env.client_timestamp,
                source_device: Some(u32::from(device.get())),
                server_timestamp: Some(now.max(0) as u64),
                urgent: Some(false),
                ..Default::default()
            };
            set_ids(
                &mut receipt,
                guid,
                Some(ServiceId::Aci(aci)),
                ServiceId::Aci(sender.aci),
            );
            batch.push(NewMessage {
                aci: sender.aci,
                device: d.id,
                guid,
                server_timestamp_ms: now,
                expires_at_ms: now + self.config.ttl_ms,
                story: false,
                urgent: false,
                envelope: receipt.encode_to_vec(),
            });
        }
        self.store(batch).await?;
        Ok(true)
    }
}
