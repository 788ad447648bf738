//! Multi-device: link tokens, linking a new device, listing, naming and removing devices.
//!
//! A link token is `"{aci}.{epochMillis}:" + base64url(HMAC-SHA256(secret, "{aci}.{epochMillis}"))`,
//! valid for ten minutes and single-use (its hash is recorded when a device links with it).

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use heliograph_storage::{Account, Device};
use heliograph_types::{Aci, DeviceId, PublicKey, Redacted};

use crate::accounts::modify;
use crate::auth::{hash_secret, AuthenticatedDevice};
use crate::keys::{store_initial_keys, SignedEcPreKey, SignedKemPreKey};
use crate::registration::AttributesInput;
use crate::{ChatError, ChatResult, Deps};

/// Most devices an account may have (the official limit).
pub const MAX_DEVICES: usize = 6;
/// How long a link token is valid.
pub const LINK_TOKEN_TTL_MS: i64 = 10 * 60 * 1000;

/// A new link token and its identifier (what `wait_for_linked_device` is called with).
#[derive(Debug, Clone)]
pub struct LinkToken {
    /// The token the primary puts into the provisioning message.
    pub token: String,
    /// base64url (no padding) of SHA-256 of the token.
    pub identifier: String,
}

/// The identifier of a token: base64url without padding of its SHA-256.
pub fn token_identifier(token: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A `PUT /v1/devices/link` request after parsing.
#[derive(Debug, Clone)]
pub struct LinkInput {
    /// The link token.
    pub verification_code: String,
    /// The new device's password.
    pub password: Redacted<String>,
    /// Device attributes (registration ids, name, capabilities, fetchesMessages).
    pub attributes: AttributesInput,
    /// ACI signed EC prekey.
    pub aci_signed_pre_key: SignedEcPreKey,
    /// ACI last-resort KEM prekey.
    pub aci_pq_last_resort_pre_key: SignedKemPreKey,
    /// PNI signed EC prekey.
    pub pni_signed_pre_key: Option<SignedEcPreKey>,
    /// PNI last-resort KEM prekey.
    pub pni_pq_last_resort_pre_key: Option<SignedKemPreKey>,
    /// APNs token.
    pub apn_token: Option<String>,
    /// FCM token.
    pub gcm_token: Option<String>,
}

/// One entry of `GET /v1/devices`.
#[derive(Debug, Clone)]
pub struct DeviceSummary {
    /// Device id.
    pub id: DeviceId,
    /// Encrypted name.
    pub name: Option<Vec<u8>>,
    /// Last seen, day-truncated epoch milliseconds.
    pub last_seen_ms: i64,
    /// Registration id.
    pub registration_id: u32,
    /// HPKE-sealed creation time (see [`created_at_ciphertext`]).
    pub created_at_ciphertext: Vec<u8>,
}

/// The linking service.
#[derive(Clone)]
pub struct Linking {
    deps: Deps,
    secret: [u8; 32],
}

type HmacSha256 = Hmac<Sha256>;

impl Linking {
    /// `secret` signs link tokens; derive it from the server's credential key.
    pub fn new(deps: Deps, secret: [u8; 32]) -> Self {
        Self { deps, secret }
    }

    fn sign(&self, claims: &str) -> ChatResult<Vec<u8>> {
        let mut mac = HmacSha256::new_from_slice(&self.secret)
            .map_err(|_| ChatError::Internal("link token key".into()))?;
        mac.update(claims.as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// `GET /v1/devices/provisioning/code`: a link token for the primary device (401 for linked
    /// devices, 411 at the device limit).
    pub fn provisioning_code(&self, auth: &AuthenticatedDevice) -> ChatResult<LinkToken> {
        if auth.account.devices.len() >= MAX_DEVICES {
            return Err(ChatError::DeviceLimit {
                current: auth.account.devices.len(),
                max: MAX_DEVICES,
            });
        }
        if !auth.is_primary() {
            return Err(ChatError::Unauthorized);
        }
        let claims = format!("{}.{}", auth.aci(), self.deps.clock.now_ms());
        let signature = base64::engine::general_purpose::URL_SAFE.encode(self.sign(&claims)?);
        let token = format!("{claims}:{signature}");
        Ok(LinkToken {
            identifier: token_identifier(&token),
            token,
        })
    }

    /// Checks a token's signature and age; returns the account it links to.
    pub fn check_token(&self, token: &str) -> Option<Aci> {
        let (claims, signature) = token.split_once(':')?;
        let provided = base64::engine::general_purpose::URL_SAFE
            .decode(signature)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature))
            .ok()?;
        if !bool::from(self.sign(claims).ok()?.ct_eq(&provided)) {
            return None;
        }
        let (aci, millis) = claims.split_once('.')?;
        let aci: Aci = aci.parse().ok()?;
        let millis: i64 = millis.parse().ok()?;
        let now = self.deps.clock.now_ms();
        if now > millis + LINK_TOKEN_TTL_MS || millis > now + 60_000 {
            return None;
        }
        Some(aci)
    }

    /// `PUT /v1/devices/link`: adds a device with the lowest free id ≥ 2. 403 for a bad,
    /// expired or used token; 422 for bad signatures or registration ids; 409 when the device
    /// lacks a capability the account requires; 411 at the device limit.
    pub async fn link(&self, input: LinkInput) -> ChatResult<(Account, DeviceId)> {
        let aci = self
            .check_token(&input.verification_code)
            .ok_or(ChatError::Forbidden)?;
        let account = self
            .deps
            .stores
            .accounts
            .get_by_aci(aci)
            .await?
            .ok_or(ChatError::Forbidden)?;
        input.attributes.validate()?;
        let (Some(registration_id), Some(pni_registration_id)) = (
            input.attributes.registration_id,
            input.attributes.pni_registration_id,
        ) else {
            return Err(ChatError::Unprocessable(
                "registration ids are required".into(),
            ));
        };
        let aci_key = PublicKey::from_bytes(&account.aci_identity_key)
            .map_err(|_| ChatError::Internal("stored identity key is invalid".into()))?;
        let pni_key = PublicKey::from_bytes(&account.pni_identity_key)
            .map_err(|_| ChatError::Internal("stored identity key is invalid".into()))?;
        let (Some(pni_spk), Some(pni_pq)) =
            (&input.pni_signed_pre_key, &input.pni_pq_last_resort_pre_key)
        else {
            return Err(ChatError::Unprocessable("PNI prekeys are required".into()));
        };
        let valid = input.aci_signed_pre_key.verify(&aci_key)
            && input.aci_pq_last_resort_pre_key.verify(&aci_key)
            && pni_spk.verify(&pni_key)
            && pni_pq.verify(&pni_key);
        if !valid {
            return Err(ChatError::Unprocessable("invalid signature".into()));
        }
        if account.devices.len() >= MAX_DEVICES {
            return Err(ChatError::DeviceLimit {
                current: account.devices.len(),
                max: MAX_DEVICES,
            });
        }
        // Capabilities every device of the account has and that may not be downgraded.
        for required in ["spqr"] {
            if !input.attributes.capabilities.iter().any(|c| c == required) {
                return Err(ChatError::Conflict);
            }
        }
        let token_hash = Sha256::digest(input.verification_code.as_bytes());
        let now = self.deps.clock.now_ms();
        if !self
            .deps
            .stores
            .used_tokens
            .mark_used(&token_hash, now + LINK_TOKEN_TTL_MS)
            .await?
        {
            return Err(ChatError::Forbidden);
        }
        let agent = if input.apn_token.is_some() {
            "OWP"
        } else if input.gcm_token.is_some() {
            "OWA"
        } else {
            "OWD"
        };
        let auth = AuthenticatedDevice {
            device: DeviceId::PRIMARY,
            account,
        };
        let mut new_id = DeviceId::PRIMARY;
        let password = hash_secret(input.password.expose());
        let updated = modify(&self.deps, &auth, |account| {
            if account.devices.len() >= MAX_DEVICES {
                return Err(ChatError::DeviceLimit {
                    current: account.devices.len(),
                    max: MAX_DEVICES,
                });
            }
            let id = (2..=u32::from(DeviceId::MAX))
                .filter_map(|n| DeviceId::new(n).ok())
                .find(|id| account.device(*id).is_none())
                .ok_or(ChatError::DeviceLimit {
                    current: account.devices.len(),
                    max: MAX_DEVICES,
                })?;
            new_id = id;
            remember_link(
                account,
                &token_identifier(&input.verification_code),
                id,
                now,
            );
            account.devices.push(Device {
                id,
                name: input.attributes.name.clone(),
                password: password.clone(),
                registration_id,
                pni_registration_id,
                capabilities: input.attributes.capabilities.clone(),
                fetches_messages: input.attributes.fetches_messages,
                apn_token: input.apn_token.clone(),
                gcm_token: input.gcm_token.clone(),
                user_agent: Some(agent.to_owned()),
                created_at_ms: now,
                last_seen_ms: now,
            });
            Ok(())
        })
        .await?;
        // A device id can be reused after removal: start from clean keys and an empty queue.
        self.deps.stores.keys.delete_device(aci, new_id).await?;
        self.deps.stores.messages.delete_device(aci, new_id).await?;
        store_initial_keys(
            &self.deps,
            aci,
            new_id,
            (&input.aci_signed_pre_key, &input.aci_pq_last_resort_pre_key),
            (pni_spk, pni_pq),
        )
        .await?;
        tracing::info!(%aci, device = %new_id, "device linked");
        Ok((updated, new_id))
    }

    /// The device linked with the token whose identifier is `identifier`, if it was linked in
    /// the last hour (what `wait_for_linked_device` reports).
    pub fn recently_linked(&self, account: &Account, identifier: &str) -> Option<DeviceId> {
        let now = self.deps.clock.now_ms();
        let entry = account.extra.get(RECENT_LINKS)?.get(identifier)?;
        let at = entry.get("at")?.as_i64()?;
        let id = entry.get("device")?.as_u64()?;
        if now - at > RECENT_LINK_TTL_MS {
            return None;
        }
        DeviceId::new(u32::try_from(id).ok()?)
            .ok()
            .filter(|d| account.device(*d).is_some())
    }

    /// `GET /v1/devices`.
    pub fn list(&self, account: &Account) -> ChatResult<Vec<DeviceSummary>> {
        let identity = PublicKey::from_bytes(&account.aci_identity_key)
            .map_err(|_| ChatError::Internal("stored identity key is invalid".into()))?;
        account
            .devices
            .iter()
            .map(|d| {
                Ok(DeviceSummary {
                    id: d.id,
                    name: d.name.clone(),
                    last_seen_ms: d.last_seen_ms - d.last_seen_ms.rem_euclid(DAY_MS),
                    registration_id: d.registration_id,
                    created_at_ciphertext: created_at_ciphertext(&identity, d)?,
                })
            })
            .collect()
    }

    /// `DELETE /v1/devices/{id}`: the primary removes any linked device, a linked device
    /// removes itself (401 otherwise), the primary cannot be removed (403). The removed
    /// device's sockets close with 4401; its keys and queue are dropped.
    pub async fn remove(&self, auth: &AuthenticatedDevice, id: DeviceId) -> ChatResult<()> {
        if id.is_primary() {
            return Err(ChatError::Forbidden);
        }
        if !auth.is_primary() && auth.device != id {
            return Err(ChatError::Unauthorized);
        }
        modify(&self.deps, auth, |account| {
            account.devices.retain(|d| d.id != id);
            Ok(())
        })
        .await?;
        self.deps.stores.keys.delete_device(auth.aci(), id).await?;
        self.deps
            .stores
            .messages
            .delete_device(auth.aci(), id)
            .await?;
        self.deps
            .disconnector
            .disconnect_device(auth.aci(), id)
            .await;
        tracing::info!(aci = %auth.aci(), device = %id, "device removed");
        Ok(())
    }

    /// `PUT /v1/accounts/name/?deviceId=N`: a linked device may only rename itself (403).
    pub async fn set_name(
        &self,
        auth: &AuthenticatedDevice,
        id: DeviceId,
        name: Vec<u8>,
    ) -> ChatResult<()> {
        if name.len() > crate::registration::MAX_DEVICE_NAME_LEN {
            return Err(ChatError::Unprocessable("device name too long".into()));
        }
        if !auth.is_primary() && auth.device != id {
            return Err(ChatError::Forbidden);
        }
        if auth.account.device(id).is_none() {
            return Err(ChatError::NotFound);
        }
        modify(&self.deps, auth, |account| {
            let device = account.device_mut(id).ok_or(ChatError::NotFound)?;
            device.name = Some(name.clone());
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// `PUT /v1/devices/capabilities`: the calling device's capabilities.
    pub async fn set_capabilities(
        &self,
        auth: &AuthenticatedDevice,
        capabilities: Vec<String>,
    ) -> ChatResult<()> {
        let id = auth.device;
        modify(&self.deps, auth, |account| {
            let device = account.device_mut(id).ok_or(ChatError::Unauthorized)?;
            device.capabilities = capabilities.clone();
            Ok(())
        })
        .await?;
        Ok(())
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const RECENT_LINKS: &str = "recentLinks";
const RECENT_LINK_TTL_MS: i64 = 60 * 60 * 1000;

/// Remembers which device a token linked (for an hour), pruning older entries.
fn remember_link(account: &mut Account, identifier: &str, device: DeviceId, now: i64) {
    let entry = account
        .extra
        .entry(RECENT_LINKS.to_owned())
        .or_insert_with(|| serde_json::json!({}));
    if let Some(map) = entry.as_object_mut() {
        map.retain(|_, v| {
            v.get("at")
                .and_then(|a| a.as_i64())
                .is_some_and(|at| now - at <= RECENT_LINK_TTL_MS)
        });
        map.insert(
            identifier.to_owned(),
            serde_json::json!({ "device": device.get(), "at": now }),
        );
    }
}

/// libsignal's `PublicKey.seal` of the device's creation time (8-byte big-endian ms), to the
/// account's ACI identity key, with info `"deviceCreatedAt"` and associated data
/// `deviceId (1 byte) ‖ registrationId (4 bytes BE)`: HPKE base mode, DHKEM(X25519,
/// HKDF-SHA256), HKDF-SHA256, AES-256-GCM, serialized as `0x01 ‖ enc ‖ ciphertext`.
pub fn created_at_ciphertext(identity: &PublicKey, device: &Device) -> ChatResult<Vec<u8>> {
    use hpke::{
        aead::AesGcm256, kdf::HkdfSha256, kem::X25519HkdfSha256, Deserializable, Kem, OpModeS,
        Serializable,
    };
    let recipient = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&identity.u_bytes())
        .map_err(|_| ChatError::Internal("identity key unusable for HPKE".into()))?;
    let mut aad = Vec::with_capacity(5);
    aad.push(device.id.get());
    aad.extend_from_slice(&device.registration_id.to_be_bytes());
    let (enc, ciphertext) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, X25519HkdfSha256, _>(
        &OpModeS::Base,
        &recipient,
        b"deviceCreatedAt",
        &device.created_at_ms.to_be_bytes(),
        &aad,
        &mut OsRng,
    )
    .map_err(|e| ChatError::Internal(format!("HPKE seal: {e:?}")))?;
    let mut out = Vec::with_capacity(1 + 32 + ciphertext.len());
    out.push(0x01);
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use std::sync::Arc;

    async fn linking(clock: Arc<ManualClock>) -> Linking {
        let store = heliograph_storage::SqliteStore::open_in_memory()
            .await
            .unwrap();
        let deps = Deps {
            stores: store.stores(),
            clock,
            disconnector: Arc::new(crate::NoDisconnect),
            avatars: Arc::new(crate::profiles::NoAvatars),
            limits: Arc::new(crate::limits::RateLimiters::disabled()),
        };
        Linking::new(deps, [7u8; 32])
    }

    fn token_for(l: &Linking, aci: Aci, millis: i64) -> String {
        let claims = format!("{aci}.{millis}");
        format!(
            "{claims}:{}",
            base64::engine::general_purpose::URL_SAFE.encode(l.sign(&claims).unwrap())
        )
    }

    #[tokio::test]
    async fn tokens_expire_and_cannot_be_forged() {
        let clock = Arc::new(ManualClock::new(1_000_000_000));
        let l = linking(clock.clone()).await;
        let aci = Aci::random();
        let token = token_for(&l, aci, 1_000_000_000);
        assert_eq!(l.check_token(&token), Some(aci));
        clock.advance(LINK_TOKEN_TTL_MS - 1);
        assert_eq!(l.check_token(&token), Some(aci));
        clock.advance(2);
        assert_eq!(l.check_token(&token), None, "expired after ten minutes");
        let fresh = token_for(&l, aci, clock.now_ms());
        let other = Linking::new(l.deps.clone(), [8u8; 32]);
        assert_eq!(other.check_token(&fresh), None, "signed with another key");
        let tampered = fresh.replacen(&aci.to_string(), &Aci::random().to_string(), 1);
        assert_eq!(l.check_token(&tampered), None);
        for garbage in ["", ":", "x:y", "a.b:AAAA", &format!("{aci}.nan:AAAA")] {
            assert_eq!(l.check_token(garbage), None, "{garbage}");
        }
        assert_eq!(
            token_identifier("abc").len(),
            43,
            "32 bytes, URL-safe, unpadded"
        );
    }
}
