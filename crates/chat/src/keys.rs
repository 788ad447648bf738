//! Prekeys: upload with signature checks, counts, bundle fetch with single-use one-time keys
//! and the last-resort KEM fallback, and the key-consistency digest check.

use sha2::{Digest, Sha256};

use heliograph_storage::{Account, IdentityType, KeyOwner, PreKeyCounts, StoredPreKey};
use heliograph_types::{DeviceId, KemPublicKey, PublicKey, ServiceId, Signature};

use crate::auth::{unidentified_access_allowed, AuthenticatedDevice};
use crate::{ChatError, ChatResult, Deps};

/// Most one-time keys of one kind accepted in one upload.
pub const MAX_ONE_TIME_KEYS: usize = 100;

/// Key ids are validated as non-negative 31-bit integers, like the official server.
pub const MAX_KEY_ID: u32 = i32::MAX as u32;

/// A one-time EC prekey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcPreKey {
    /// Client key id.
    pub key_id: u32,
    /// The public key.
    pub public_key: PublicKey,
}

/// A signed EC prekey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEcPreKey {
    /// Client key id.
    pub key_id: u32,
    /// The public key.
    pub public_key: PublicKey,
    /// XEdDSA signature by the identity key over the serialized public key.
    pub signature: Signature,
}

/// A signed KEM prekey (one-time or last resort).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedKemPreKey {
    /// Client key id.
    pub key_id: u32,
    /// The public key.
    pub public_key: KemPublicKey,
    /// XEdDSA signature by the identity key over the serialized public key.
    pub signature: Signature,
}

impl SignedEcPreKey {
    /// Checks the signature against `identity`.
    pub fn verify(&self, identity: &PublicKey) -> bool {
        identity
            .verify(&[self.public_key.serialize()], &self.signature)
            .is_ok()
    }

    fn stored(&self) -> StoredPreKey {
        StoredPreKey {
            key_id: self.key_id,
            public_key: self.public_key.serialize().to_vec(),
            signature: Some(self.signature.as_bytes().to_vec()),
        }
    }
}

impl SignedKemPreKey {
    /// Checks the signature against `identity`.
    pub fn verify(&self, identity: &PublicKey) -> bool {
        identity
            .verify(&[self.public_key.serialize()], &self.signature)
            .is_ok()
    }

    fn stored(&self) -> StoredPreKey {
        StoredPreKey {
            key_id: self.key_id,
            public_key: self.public_key.serialize().to_vec(),
            signature: Some(self.signature.as_bytes().to_vec()),
        }
    }
}

/// A `PUT /v2/keys` upload; absent parts leave stored keys alone, a non-empty one-time list
/// replaces every stored key of that kind.
#[derive(Debug, Clone, Default)]
pub struct SetKeys {
    /// One-time EC prekeys.
    pub pre_keys: Vec<EcPreKey>,
    /// Signed EC prekey.
    pub signed_pre_key: Option<SignedEcPreKey>,
    /// One-time KEM prekeys.
    pub pq_pre_keys: Vec<SignedKemPreKey>,
    /// Last-resort KEM prekey.
    pub pq_last_resort_pre_key: Option<SignedKemPreKey>,
}

/// Which devices a bundle fetch asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSelector {
    /// `*`: every device.
    All,
    /// One device.
    One(DeviceId),
}

/// How a caller is allowed to read another account's keys or profile.
#[derive(Debug, Clone)]
pub enum Access {
    /// An authenticated device of some account.
    Account(Box<AuthenticatedDevice>),
    /// An unidentified access key (sealed sender).
    AccessKey([u8; 16]),
    /// A group send token that was already verified to cover the target.
    GroupSendToken,
    /// No credentials at all.
    None,
}

/// One device's part of a bundle.
#[derive(Debug, Clone)]
pub struct DeviceBundle {
    /// Device id.
    pub device_id: DeviceId,
    /// Registration id for the identity that was asked for.
    pub registration_id: u32,
    /// Signed EC prekey.
    pub signed_pre_key: StoredPreKey,
    /// One-time EC prekey, if any was left.
    pub pre_key: Option<StoredPreKey>,
    /// One-time KEM prekey, or the last-resort key.
    pub pq_pre_key: StoredPreKey,
}

/// A prekey bundle for a service id.
#[derive(Debug, Clone)]
pub struct PreKeyBundle {
    /// The identity key of the identity asked for (serialized).
    pub identity_key: Vec<u8>,
    /// Devices that had complete keys.
    pub devices: Vec<DeviceBundle>,
}

fn identity_key(account: &Account, identity: IdentityType) -> ChatResult<PublicKey> {
    let raw = match identity {
        IdentityType::Aci => &account.aci_identity_key,
        IdentityType::Pni => &account.pni_identity_key,
    };
    PublicKey::from_bytes(raw)
        .map_err(|_| ChatError::Internal("stored identity key is invalid".into()))
}

fn owner(auth: &AuthenticatedDevice, identity: IdentityType) -> KeyOwner {
    KeyOwner {
        aci: auth.aci(),
        identity,
        device: auth.device,
    }
}

fn check_key_id(id: u32) -> ChatResult<()> {
    if id > MAX_KEY_ID {
        return Err(ChatError::Unprocessable("key id out of range".into()));
    }
    Ok(())
}

/// Stores an upload after checking sizes, key ids and every signature (422 on failure).
pub async fn set_keys(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    identity: IdentityType,
    keys: SetKeys,
) -> ChatResult<()> {
    if keys.pre_keys.len() > MAX_ONE_TIME_KEYS || keys.pq_pre_keys.len() > MAX_ONE_TIME_KEYS {
        return Err(ChatError::Unprocessable("too many one-time keys".into()));
    }
    let id_key = identity_key(&auth.account, identity)?;
    for k in &keys.pre_keys {
        check_key_id(k.key_id)?;
    }
    if let Some(k) = &keys.signed_pre_key {
        check_key_id(k.key_id)?;
        if !k.verify(&id_key) {
            return Err(ChatError::Unprocessable("invalid signature".into()));
        }
    }
    for k in keys
        .pq_pre_keys
        .iter()
        .chain(keys.pq_last_resort_pre_key.iter())
    {
        check_key_id(k.key_id)?;
        if !k.verify(&id_key) {
            return Err(ChatError::Unprocessable("invalid signature".into()));
        }
    }
    let owner = owner(auth, identity);
    let store = &deps.stores.keys;
    if !keys.pre_keys.is_empty() {
        let stored: Vec<_> = keys
            .pre_keys
            .iter()
            .map(|k| StoredPreKey {
                key_id: k.key_id,
                public_key: k.public_key.serialize().to_vec(),
                signature: None,
            })
            .collect();
        store.replace_ec_one_time(owner, &stored).await?;
    }
    if let Some(k) = &keys.signed_pre_key {
        store.set_ec_signed(owner, &k.stored()).await?;
    }
    if !keys.pq_pre_keys.is_empty() {
        let stored: Vec<_> = keys
            .pq_pre_keys
            .iter()
            .map(SignedKemPreKey::stored)
            .collect();
        store.replace_kem_one_time(owner, &stored).await?;
    }
    if let Some(k) = &keys.pq_last_resort_pre_key {
        store.set_kem_last_resort(owner, &k.stored()).await?;
    }
    Ok(())
}

/// Stores the signed keys a device registers or links with, after the caller verified them.
pub async fn store_initial_keys(
    deps: &Deps,
    aci: heliograph_types::Aci,
    device: DeviceId,
    aci_keys: (&SignedEcPreKey, &SignedKemPreKey),
    pni_keys: (&SignedEcPreKey, &SignedKemPreKey),
) -> ChatResult<()> {
    for (identity, (ec, kem)) in [(IdentityType::Aci, aci_keys), (IdentityType::Pni, pni_keys)] {
        let owner = KeyOwner {
            aci,
            identity,
            device,
        };
        deps.stores.keys.set_ec_signed(owner, &ec.stored()).await?;
        deps.stores
            .keys
            .set_kem_last_resort(owner, &kem.stored())
            .await?;
    }
    Ok(())
}

/// Counts of one-time keys left for the authenticated device.
pub async fn count(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    identity: IdentityType,
) -> ChatResult<PreKeyCounts> {
    Ok(deps
        .stores
        .keys
        .count_one_time(owner(auth, identity))
        .await?)
}

/// Fetches (and consumes one-time keys of) the bundle for `target`, following the official
/// access rules: an authenticated caller may read any existing account (404 otherwise); an
/// unidentified caller needs the target's access key, which is never valid for a PNI (401).
pub async fn fetch_bundle(
    deps: &Deps,
    target: ServiceId,
    selector: DeviceSelector,
    access: &Access,
) -> ChatResult<PreKeyBundle> {
    let account = match target {
        ServiceId::Aci(aci) => deps.stores.accounts.get_by_aci(aci).await?,
        ServiceId::Pni(pni) => deps.stores.accounts.get_by_pni(pni).await?,
    };
    let account = match access {
        Access::Account(_) => account.ok_or(ChatError::NotFound)?,
        Access::GroupSendToken => account.ok_or(ChatError::NotFound)?,
        Access::AccessKey(key) => {
            let account = account.ok_or(ChatError::Unauthorized)?;
            if matches!(target, ServiceId::Pni(_)) || !unidentified_access_allowed(&account, key) {
                return Err(ChatError::Unauthorized);
            }
            account
        }
        Access::None => return Err(ChatError::Unauthorized),
    };
    let identity = match target {
        ServiceId::Aci(_) => IdentityType::Aci,
        ServiceId::Pni(_) => IdentityType::Pni,
    };
    let devices: Vec<_> = match selector {
        DeviceSelector::All => account.devices.iter().collect(),
        DeviceSelector::One(id) => vec![account.device(id).ok_or(ChatError::NotFound)?],
    };
    let mut out = Vec::with_capacity(devices.len());
    for device in devices {
        let owner = KeyOwner {
            aci: account.aci,
            identity,
            device: device.id,
        };
        let Some(signed) = deps.stores.keys.get_ec_signed(owner).await? else {
            continue;
        };
        let Some(pq) = deps.stores.keys.take_kem(owner).await? else {
            continue;
        };
        let pre_key = deps.stores.keys.take_ec_one_time(owner).await?;
        out.push(DeviceBundle {
            device_id: device.id,
            registration_id: match identity {
                IdentityType::Aci => device.registration_id,
                IdentityType::Pni => device.pni_registration_id,
            },
            signed_pre_key: signed,
            pre_key,
            pq_pre_key: pq,
        });
    }
    if out.is_empty() {
        return Err(ChatError::NotFound);
    }
    Ok(PreKeyBundle {
        identity_key: match identity {
            IdentityType::Aci => account.aci_identity_key.clone(),
            IdentityType::Pni => account.pni_identity_key.clone(),
        },
        devices: out,
    })
}

/// `POST /v2/keys/check`: whether the client's digest of its identity key, signed EC prekey and
/// last-resort KEM key matches what the server holds for the calling device.
/// Digest = SHA-256(identityKey ‖ signedPreKeyId (u64 BE) ‖ signedPreKey ‖ lastResortKeyId
/// (u64 BE) ‖ lastResortKey).
pub async fn check_digest(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    identity: IdentityType,
    digest: &[u8],
) -> ChatResult<bool> {
    if digest.len() != 32 {
        return Err(ChatError::Unprocessable("digest must be 32 bytes".into()));
    }
    let owner = owner(auth, identity);
    let (Some(ec), Some(kem)) = (
        deps.stores.keys.get_ec_signed(owner).await?,
        deps.stores.keys.get_kem_last_resort(owner).await?,
    ) else {
        return Ok(false);
    };
    let id_key = identity_key(&auth.account, identity)?;
    let mut h = Sha256::new();
    h.update(id_key.serialize());
    h.update(u64::from(ec.key_id).to_be_bytes());
    h.update(&ec.public_key);
    h.update(u64::from(kem.key_id).to_be_bytes());
    h.update(&kem.public_key);
    let ours = h.finalize();
    Ok(bool::from(subtle::ConstantTimeEq::ct_eq(
        ours.as_slice(),
        digest,
    )))
}
