//! Object keys: attachment keys (CDN3) and avatar keys (CDN0), validated so that they can be
//! used as store paths without escaping or traversal.

use base64::engine::general_purpose::URL_SAFE;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// Prefix of every avatar key, as the official server writes them.
pub const AVATAR_PREFIX: &str = "profiles/";

/// Longest key id we accept (official ids are 20 or 22 characters).
const MAX_ID_LEN: usize = 64;

/// A key is rejected because it is not of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object key")]
pub struct InvalidKey;

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        && !id.starts_with('=')
}

/// The key of one attachment: URL-safe base64 of 15 random bytes (20 characters), as the
/// official server makes them. It names the object under `attachments/` and the tus upload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttachmentKey(String);

impl AttachmentKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut bytes = [0u8; 15];
        rand::thread_rng().fill_bytes(&mut bytes);
        AttachmentKey(URL_SAFE.encode(bytes))
    }

    /// Accepts any URL-safe base64 id of reasonable length.
    pub fn parse(text: &str) -> Result<Self, InvalidKey> {
        if valid_id(text) {
            Ok(AttachmentKey(text.to_owned()))
        } else {
            Err(InvalidKey)
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the finished attachment lives in the store.
    pub(crate) fn object_path(&self) -> String {
        format!("attachments/{}", self.0)
    }

    /// Where the state of an unfinished upload lives in the store.
    pub(crate) fn upload_dir(&self) -> String {
        format!("tus/{}", self.0)
    }
}

impl std::fmt::Display for AttachmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key of one profile avatar: `profiles/` + URL-safe base64 (no padding) of 16 random
/// bytes. The profile's `avatar` field holds exactly this string, the object is stored under
/// it, and clients fetch it at `<cdn0 base>/<key>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AvatarKey(String);

impl AvatarKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        AvatarKey(format!("{AVATAR_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts `profiles/<id>` with a URL-safe base64 id.
    pub fn parse(text: &str) -> Result<Self, InvalidKey> {
        match text.strip_prefix(AVATAR_PREFIX) {
            Some(id) if valid_id(id) => Ok(AvatarKey(text.to_owned())),
            _ => Err(InvalidKey),
        }
    }

    /// The key as text (also its store path).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AvatarKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_keys_have_the_official_shapes() {
        let a = AttachmentKey::random();
        assert_eq!(a.as_str().len(), 20);
        assert_eq!(URL_SAFE.decode(a.as_str()).unwrap().len(), 15);
        assert_eq!(AttachmentKey::parse(a.as_str()).unwrap(), a);
        let v = AvatarKey::random();
        let id = v.as_str().strip_prefix("profiles/").unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(id).unwrap().len(), 16);
        assert_eq!(AvatarKey::parse(v.as_str()).unwrap(), v);
    }

    #[test]
    fn traversal_and_odd_characters_are_rejected() {
        for bad in [
            "",
            "..",
            "a/b",
            "a.b",
            "a b",
            "%2e",
            "=abc",
            &"x".repeat(65),
        ] {
            assert!(AttachmentKey::parse(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "profiles/",
            "profiles/../x",
            "attachments/abc",
            "profiles/a/b",
            "abc",
        ] {
            assert!(AvatarKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
