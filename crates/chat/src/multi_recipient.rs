//! Multi-recipient sealed-sender sends (`PUT /v1/messages/multi_recipient`): one SSv2 payload
//! split into a per-recipient view, one `UNIDENTIFIED_SENDER` envelope per recipient device.
//! Parsing the SSv2 body is the protocol crate's job; this module decides access and device
//! sets. For this endpoint a wrong device set (409) takes precedence over stale ids (410).

use prost::Message as _;
use subtle::ConstantTimeEq;

use heliograph_protocol::proto::textsecure::{envelope, Envelope};
use heliograph_storage::{Account, NewMessage};
use heliograph_types::{DeviceId, MessageGuid, ServiceId};

use crate::devices::compare;
use crate::messages::{set_ids, Messages, MAX_TIMESTAMP};
use crate::{ChatError, ChatResult};

/// Most recipients one multi-recipient message may address.
pub const MAX_RECIPIENTS: usize = 5000;

/// How a multi-recipient send is authorized.
#[derive(Debug, Clone)]
pub enum MultiAuth {
    /// XOR of the recipients' unidentified access keys (unrestricted ones left out).
    CombinedAccessKey([u8; 16]),
    /// A group send token already verified to cover every recipient.
    GroupSendToken,
    /// A story: no access check.
    Story,
}

/// One recipient of the message.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// Who.
    pub service_id: ServiceId,
    /// Addressed devices and the registration ids the sender believes they have.
    pub devices: Vec<(DeviceId, u32)>,
    /// The recipient's view of the message (libsignal's per-recipient split).
    pub payload: Vec<u8>,
}

/// The request after parsing.
#[derive(Debug, Clone)]
pub struct MultiRecipientSend {
    /// Recipients (no duplicates).
    pub recipients: Vec<Recipient>,
    /// Client timestamp.
    pub timestamp: u64,
    /// Ephemeral.
    pub online: bool,
    /// Urgent.
    pub urgent: bool,
    /// A story.
    pub story: bool,
}

impl Messages {
    /// Sends a multi-recipient message; returns the recipients that do not exist (reported
    /// only for group-send-token and story sends; with access keys they are a 404).
    pub async fn send_multi_recipient(
        &self,
        auth: MultiAuth,
        req: MultiRecipientSend,
    ) -> ChatResult<Vec<ServiceId>> {
        if req.timestamp > MAX_TIMESTAMP {
            return Err(ChatError::BadRequest("timestamp out of range".into()));
        }
        if req.recipients.is_empty() {
            return Err(ChatError::BadRequest("no recipients".into()));
        }
        if req.recipients.len() > MAX_RECIPIENTS {
            return Err(ChatError::BadRequest("too many recipients".into()));
        }
        let deps = self.deps();
        let mut resolved: Vec<(Recipient, Account)> = Vec::with_capacity(req.recipients.len());
        let mut missing_accounts = Vec::new();
        for r in req.recipients {
            if matches!(auth, MultiAuth::CombinedAccessKey(_))
                && matches!(r.service_id, ServiceId::Pni(_))
            {
                return Err(ChatError::Unauthorized);
            }
            let account = match r.service_id {
                ServiceId::Aci(aci) => deps.stores.accounts.get_by_aci(aci).await?,
                ServiceId::Pni(pni) => deps.stores.accounts.get_by_pni(pni).await?,
            };
            match account {
                Some(a) => resolved.push((r, a)),
                None => missing_accounts.push(r.service_id),
            }
        }
        if let MultiAuth::CombinedAccessKey(key) = &auth {
            if !missing_accounts.is_empty() {
                return Err(ChatError::NotFound);
            }
            let mut combined = [0u8; 16];
            for (_, account) in &resolved {
                if account.unrestricted_unidentified_access {
                    continue;
                }
                let Some(k) = account
                    .unidentified_access_key
                    .as_deref()
                    .filter(|k| k.len() == 16)
                else {
                    return Err(ChatError::Unauthorized);
                };
                for (c, b) in combined.iter_mut().zip(k) {
                    *c ^= b;
                }
            }
            if !bool::from(combined.ct_eq(key)) {
                return Err(ChatError::Unauthorized);
            }
        }

        let mut mismatched = Vec::new();
        let mut stale = Vec::new();
        for (r, account) in &resolved {
            let m = compare(
                account,
                &r.devices,
                None,
                matches!(r.service_id, ServiceId::Pni(_)),
            );
            if m.is_mismatched() {
                mismatched.push((
                    r.service_id,
                    m.missing.iter().map(|d| d.get()).collect(),
                    m.extra.iter().map(|d| d.get()).collect(),
                ));
            } else if m.is_stale() {
                stale.push((r.service_id, m.stale.iter().map(|d| d.get()).collect()));
            }
        }
        if !mismatched.is_empty() {
            return Err(ChatError::MultiMismatched(mismatched));
        }
        if !stale.is_empty() {
            return Err(ChatError::MultiStale(stale));
        }

        let now = deps.clock.now_ms();
        let timestamp = if req.timestamp == 0 {
            now.max(0) as u64
        } else {
            req.timestamp
        };
        let mut batch = Vec::new();
        for (r, account) in resolved {
            for (device, _) in &r.devices {
                let guid = MessageGuid::random();
                let mut env = Envelope {
                    r#type: Some(envelope::Type::UnidentifiedSender as i32),
                    client_timestamp: Some(timestamp),
                    content: Some(r.payload.clone()),
                    server_timestamp: Some(now.max(0) as u64),
                    urgent: Some(req.urgent),
                    story: req.story.then_some(true),
                    ..Default::default()
                };
                set_ids(&mut env, guid, None, r.service_id);
                let bytes = env.encode_to_vec();
                if req.online {
                    self.deliver_ephemeral(account.aci, *device, bytes).await;
                    continue;
                }
                batch.push(NewMessage {
                    aci: account.aci,
                    device: *device,
                    guid,
                    server_timestamp_ms: now,
                    expires_at_ms: now + self.ttl_ms(),
                    story: req.story,
                    urgent: req.urgent,
                    envelope: bytes,
                });
            }
        }
        self.store(batch).await?;
        Ok(match auth {
            MultiAuth::CombinedAccessKey(_) => Vec::new(),
            _ => missing_accounts,
        })
    }
}
