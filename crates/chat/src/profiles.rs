//! Versioned profiles: setting one (with the avatar outcome and its upload form), reading
//! the base and versioned views under the official access rules, expiring profile key
//! credentials, and the batch identity check.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use heliograph_storage::{Account, VersionedProfile};
use heliograph_types::{Aci, ServiceId};

use crate::accounts::modify;
use crate::auth::{unidentified_access_allowed, AuthenticatedDevice};
use crate::keys::Access;
use crate::limits::Limiter;
use crate::zk::ZkService;
use crate::{ChatError, ChatResult, Deps};

/// Largest avatar the upload form allows, in bytes (10 MiB, as the official server).
pub const MAX_AVATAR_BYTES: u64 = 10 * 1024 * 1024;

/// The one credential type `GET /v1/profile/{aci}/{version}/{request}` issues.
pub const EXPIRING_PROFILE_KEY_CREDENTIAL: &str = "expiringProfileKey";

/// The capability that moves an account to gRPC profiles; REST `PUT /v1/profile` then
/// answers 412.
const PROFILES_V2: &str = "profiles_v2";

/// The S3 POST-policy form a client uses to upload its avatar to the profile CDN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvatarUploadForm {
    /// Object key, `profiles/<url-safe base64 of 16 random bytes>`; the profile's `avatar`.
    pub key: String,
    /// `<access key>/<yyyymmdd>/<region>/s3/aws4_request`.
    pub credential: String,
    /// Always `private`.
    pub acl: String,
    /// Always `AWS4-HMAC-SHA256`.
    pub algorithm: String,
    /// `yyyymmddThhmmssZ`.
    pub date: String,
    /// Base64 of the policy document.
    pub policy: String,
    /// Hex signature of the policy.
    pub signature: String,
}

/// Where avatars live (the profile CDN). The server wires in the blob store; tools and tests
/// without one use [`NoAvatars`].
#[async_trait::async_trait]
pub trait AvatarStorage: Send + Sync {
    /// A signed form that lets its holder upload one object of 1 byte to
    /// [`MAX_AVATAR_BYTES`] at `key` for a limited time.
    fn upload_form(&self, key: &str, now_ms: i64) -> ChatResult<AvatarUploadForm>;
    /// Deletes the avatar object at `key`; a missing object is not an error. Failures are
    /// logged by the implementation (an orphaned avatar is harmless, a failed profile update
    /// is not).
    async fn delete(&self, key: &str);
}

/// An [`AvatarStorage`] for deployments and tests without a profile CDN: profile updates that
/// ask for a new avatar fail with a 500 and a logged cause.
pub struct NoAvatars;

#[async_trait::async_trait]
impl AvatarStorage for NoAvatars {
    fn upload_form(&self, _key: &str, _now_ms: i64) -> ChatResult<AvatarUploadForm> {
        Err(ChatError::Internal("no avatar storage configured".into()))
    }
    async fn delete(&self, _key: &str) {}
}

/// What `PUT /v1/profile` asks for, already decoded from the wire.
#[derive(Clone, Debug, Default)]
pub struct SetProfileInput {
    /// Profile key version, 64 hex characters.
    pub version: String,
    /// Serialized `ProfileKeyCommitment`.
    pub commitment: Vec<u8>,
    /// Encrypted name (81 or 285 bytes).
    pub name: Option<Vec<u8>>,
    /// Encrypted about text (0, 156, 282 or 540 bytes).
    pub about: Option<Vec<u8>>,
    /// Encrypted about emoji (0 or 60 bytes).
    pub about_emoji: Option<Vec<u8>>,
    /// Encrypted payment address (0 or 582 bytes).
    pub payment_address: Option<Vec<u8>>,
    /// Encrypted phone-number sharing flag (0 or 29 bytes).
    pub phone_number_sharing: Option<Vec<u8>>,
    /// Whether the profile has an avatar.
    pub avatar: bool,
    /// With `avatar`: whether it is the one already stored for this version.
    pub same_avatar: bool,
}

/// `BaseProfileResponse`: what any permitted caller learns about an identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseProfile {
    /// The identity's public key (33 bytes).
    pub identity_key: Vec<u8>,
    /// HMAC-SHA256(access key, 32 zero bytes), so a contact can check the access key it
    /// derived from the profile key. `None` for PNIs and accounts without a key.
    pub unidentified_access: Option<Vec<u8>>,
    /// Whether any access key opens sealed-sender access.
    pub unrestricted_unidentified_access: bool,
    /// Every capability whose visibility is not server-only, rolled up over the devices.
    pub capabilities: BTreeMap<String, bool>,
    /// Which identity this describes.
    pub service_id: ServiceId,
}

/// `VersionedProfileResponse`: the base view plus one version's ciphertexts (all `None` when
/// the account never set that version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedProfileView {
    /// The base view.
    pub base: BaseProfile,
    /// The stored version, if any.
    pub profile: Option<VersionedProfile>,
    /// The payment address, only when the version is the account's current one (or it has
    /// none yet).
    pub payment_address: Option<Vec<u8>>,
}

/// The capability roll-up of `BaseProfileResponse` (official `DeviceCapability`, visibility
/// other than server-only): `attachmentBackfill` follows the primary device, the rest need
/// every device.
pub fn profile_capabilities(account: &Account) -> BTreeMap<String, bool> {
    let has = |device: &heliograph_storage::Device, name: &str| {
        device.capabilities.iter().any(|c| c == name)
    };
    let all =
        |name: &str| !account.devices.is_empty() && account.devices.iter().all(|d| has(d, name));
    let primary = account
        .devices
        .iter()
        .find(|d| d.id.is_primary())
        .is_some_and(|d| has(d, "attachmentBackfill"));
    let mut out = BTreeMap::new();
    out.insert("attachmentBackfill".to_owned(), primary);
    for name in ["spqr", PROFILES_V2, "usernameChangeSyncMessage"] {
        out.insert(name.to_owned(), all(name));
    }
    out
}

/// HMAC-SHA256 keyed with the access key over 32 zero bytes (`UnidentifiedAccessChecksum`).
pub fn access_key_checksum(access_key: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(access_key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(&[0u8; 32]);
    mac.finalize().into_bytes().to_vec()
}

fn check_size(field: &str, value: &Option<Vec<u8>>, allowed: &[usize]) -> ChatResult<()> {
    match value {
        Some(v) if !allowed.contains(&v.len()) => Err(ChatError::Unprocessable(format!(
            "{field} must be one of {allowed:?} bytes"
        ))),
        _ => Ok(()),
    }
}

/// A profile version as clients send it: 64 hex characters.
pub fn valid_version(version: &str) -> bool {
    version.len() == 64 && version.bytes().all(|b| b.is_ascii_hexdigit())
}

fn new_avatar_key() -> String {
    use base64::Engine;
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!(
        "profiles/{}",
        base64::engine::general_purpose::URL_SAFE.encode(raw)
    )
}

/// Finds the target of a profile read and checks the caller may read it (the official
/// `OptionalAccess` rules): an authenticated caller reads any existing account (404
/// otherwise); an anonymous one needs the ACI target's access key (401 otherwise, also for
/// missing accounts, so this is no free existence check); a group send token was verified
/// by the caller for this target.
async fn permitted_target(deps: &Deps, target: ServiceId, access: &Access) -> ChatResult<Account> {
    let account = match target {
        ServiceId::Aci(aci) => deps.stores.accounts.get_by_aci(aci).await?,
        ServiceId::Pni(pni) => deps.stores.accounts.get_by_pni(pni).await?,
    };
    match access {
        Access::Account(caller) => {
            deps.limits
                .check(Limiter::Profile, &caller.aci().to_string())
                .await?;
            account.ok_or(ChatError::NotFound)
        }
        Access::GroupSendToken => account.ok_or(ChatError::NotFound),
        Access::AccessKey(key) => {
            let account = account.ok_or(ChatError::Unauthorized)?;
            if matches!(target, ServiceId::Pni(_)) || !unidentified_access_allowed(&account, key) {
                return Err(ChatError::Unauthorized);
            }
            Ok(account)
        }
        Access::None => Err(ChatError::Unauthorized),
    }
}

fn base_profile(account: &Account, target: ServiceId) -> BaseProfile {
    match target {
        ServiceId::Aci(_) => BaseProfile {
            identity_key: account.aci_identity_key.clone(),
            unidentified_access: account
                .unidentified_access_key
                .as_deref()
                .map(access_key_checksum),
            unrestricted_unidentified_access: account.unrestricted_unidentified_access,
            capabilities: profile_capabilities(account),
            service_id: ServiceId::Aci(account.aci),
        },
        ServiceId::Pni(_) => BaseProfile {
            identity_key: account.pni_identity_key.clone(),
            unidentified_access: None,
            unrestricted_unidentified_access: false,
            capabilities: profile_capabilities(account),
            service_id: ServiceId::Pni(account.pni),
        },
    }
}

/// `PUT /v1/profile`: stores the version, makes it the account's current one, and returns
/// the avatar upload form when a new avatar was asked for. Replaced or cleared avatars of
/// this version are deleted from the CDN.
pub async fn set_profile(
    deps: &Deps,
    auth: &AuthenticatedDevice,
    input: SetProfileInput,
) -> ChatResult<Option<AvatarUploadForm>> {
    if profile_capabilities(&auth.account)
        .get(PROFILES_V2)
        .copied()
        .unwrap_or(false)
    {
        return Err(ChatError::PreconditionFailed);
    }
    if !valid_version(&input.version) {
        return Err(ChatError::Unprocessable(
            "version must be 64 hex characters".into(),
        ));
    }
    heliograph_zk::profile::ProfileKeyCommitment::deserialize(&input.commitment)
        .map_err(|_| ChatError::BadRequest("invalid profile key commitment".into()))?;
    check_size("name", &input.name, &[81, 285])?;
    check_size("about", &input.about, &[0, 156, 282, 540])?;
    check_size("aboutEmoji", &input.about_emoji, &[0, 60])?;
    check_size("paymentAddress", &input.payment_address, &[0, 582])?;
    check_size("phoneNumberSharing", &input.phone_number_sharing, &[0, 29])?;

    let aci = auth.aci();
    let current = deps.stores.profiles.get(aci, &input.version).await?;
    // Only avatars this server issued are ever deleted.
    let current_avatar = current
        .as_ref()
        .and_then(|p| p.avatar.clone())
        .filter(|a| a.starts_with("profiles/"));
    let (avatar, changed) = match (input.avatar, input.same_avatar) {
        (false, _) => (None, true),
        (true, true) => (current_avatar.clone(), false),
        (true, false) => (Some(new_avatar_key()), true),
    };
    let now = deps.clock.now_ms();
    // Sign the form before storing anything, so a CDN misconfiguration changes nothing.
    let form = match (&avatar, changed && input.avatar) {
        (Some(key), true) => Some(deps.avatars.upload_form(key, now)?),
        _ => None,
    };
    deps.stores
        .profiles
        .set(
            aci,
            &VersionedProfile {
                version: input.version.clone(),
                name: input.name,
                about: input.about,
                about_emoji: input.about_emoji,
                avatar,
                payment_address: input.payment_address,
                phone_number_sharing: input.phone_number_sharing,
                commitment: input.commitment,
            },
        )
        .await?;
    if changed {
        if let Some(old) = current_avatar {
            deps.avatars.delete(&old).await;
        }
    }
    let version = input.version;
    modify(deps, auth, |account| {
        account.current_profile_version = Some(version.clone());
        Ok(())
    })
    .await?;
    Ok(form)
}

/// `GET /v1/profile/{serviceId}`: the base profile of an ACI or PNI.
pub async fn get_base(deps: &Deps, target: ServiceId, access: &Access) -> ChatResult<BaseProfile> {
    let account = permitted_target(deps, target, access).await?;
    Ok(base_profile(&account, target))
}

/// `GET /v1/profile/{aci}/{version}`: the base profile plus that version's fields.
pub async fn get_versioned(
    deps: &Deps,
    target: Aci,
    version: &str,
    access: &Access,
) -> ChatResult<VersionedProfileView> {
    let account = permitted_target(deps, ServiceId::Aci(target), access).await?;
    Ok(versioned_view(deps, &account, version).await?.0)
}

async fn versioned_view(
    deps: &Deps,
    account: &Account,
    version: &str,
) -> ChatResult<(VersionedProfileView, bool)> {
    let profile = deps.stores.profiles.get(account.aci, version).await?;
    let is_current = account.current_profile_version.as_deref() == Some(version);
    let payment_address = profile
        .as_ref()
        .filter(|_| is_current || account.current_profile_version.is_none())
        .and_then(|p| p.payment_address.clone());
    Ok((
        VersionedProfileView {
            base: base_profile(account, ServiceId::Aci(account.aci)),
            profile,
            payment_address,
        },
        is_current,
    ))
}

/// `GET /v1/profile/{aci}/{version}/{request}?credentialType=expiringProfileKey`: the
/// versioned profile plus an expiring profile key credential (valid seven days, day-aligned)
/// when `version` is the account's current one; `None` otherwise. A request made for
/// another profile key, or one that does not parse, is a 400, as is any other credential
/// type.
pub async fn get_with_credential(
    deps: &Deps,
    zk: &ZkService,
    target: Aci,
    version: &str,
    request_hex: &str,
    credential_type: Option<&str>,
    access: &Access,
) -> ChatResult<(VersionedProfileView, Option<Vec<u8>>)> {
    if credential_type != Some(EXPIRING_PROFILE_KEY_CREDENTIAL) {
        return Err(ChatError::BadRequest("unsupported credential type".into()));
    }
    let account = permitted_target(deps, ServiceId::Aci(target), access).await?;
    let (view, is_current) = versioned_view(deps, &account, version).await?;
    let credential = match (&view.profile, is_current) {
        (Some(profile), true) => {
            let request = hex::decode(request_hex)
                .map_err(|_| ChatError::BadRequest("credential request is not hex".into()))?;
            Some(zk.expiring_profile_key_credential(
                &request,
                account.aci,
                &profile.commitment,
                deps.clock.now_ms(),
            )?)
        }
        _ => None,
    };
    Ok((view, credential))
}

/// One element of `POST /v1/profile/identity_check/batch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityCheck {
    /// The identity the caller has a key for.
    pub service_id: ServiceId,
    /// The first 4 bytes of SHA-256 of the identity key the caller holds.
    pub fingerprint: [u8; 4],
}

/// Most elements one identity check may carry.
pub const MAX_IDENTITY_CHECKS: usize = 1000;

/// `POST /v1/profile/identity_check/batch`: the identity keys of existing accounts whose
/// fingerprint differs from the caller's, so it can refresh them. Unknown identities are
/// left out.
pub async fn identity_check(
    deps: &Deps,
    checks: &[IdentityCheck],
) -> ChatResult<Vec<(ServiceId, Vec<u8>)>> {
    if checks.len() > MAX_IDENTITY_CHECKS {
        return Err(ChatError::Unprocessable(format!(
            "at most {MAX_IDENTITY_CHECKS} elements"
        )));
    }
    let mut mismatched = Vec::new();
    for check in checks {
        let (account, key) = match check.service_id {
            ServiceId::Aci(aci) => {
                let a = deps.stores.accounts.get_by_aci(aci).await?;
                let key = a.as_ref().map(|a| a.aci_identity_key.clone());
                (a, key)
            }
            ServiceId::Pni(pni) => {
                let a = deps.stores.accounts.get_by_pni(pni).await?;
                let key = a.as_ref().map(|a| a.pni_identity_key.clone());
                (a, key)
            }
        };
        let (Some(_), Some(key)) = (account, key) else {
            continue;
        };
        let digest = Sha256::digest(&key);
        if digest[..4] != check.fingerprint {
            mismatched.push((check.service_id, key));
        }
    }
    Ok(mismatched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_the_official_construction() {
        // HMAC-SHA256(key = 16 zero bytes, message = 32 zero bytes), computed independently.
        let sum = access_key_checksum(&[0u8; 16]);
        assert_eq!(sum.len(), 32);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 16]).unwrap();
        mac.update(&[0u8; 32]);
        assert_eq!(sum, mac.finalize().into_bytes().to_vec());
        assert_ne!(access_key_checksum(&[1u8; 16]), sum);
    }

    #[test]
    fn versions_are_64_hex_characters() {
        assert!(valid_version(&"aF09".repeat(16)));
        assert!(!valid_version(&"a".repeat(63)));
        assert!(!valid_version(&"g".repeat(64)));
    }

    #[test]
    fn avatar_keys_have_the_official_shape() {
        let key = new_avatar_key();
        let rest = key.strip_prefix("profiles/").unwrap();
        assert_eq!(rest.len(), 24);
        assert!(rest.ends_with("=="));
        assert_ne!(key, new_avatar_key());
    }
}
