//! The records stores hold. They carry already-validated data; stores do not re-check it.

use std::collections::BTreeMap;

use heliograph_types::{Aci, DeviceId, MessageGuid, Pni, E164};
use serde::{Deserialize, Serialize};

/// An account with its devices. Serialized as one document by the backends, so fields can be
/// added with `#[serde(default)]` without a migration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Account {
    /// Account identity.
    pub aci: Aci,
    /// Phone-number identity.
    pub pni: Pni,
    /// The account's phone number.
    pub e164: E164,
    /// ACI identity key, serialized (33 bytes).
    pub aci_identity_key: Vec<u8>,
    /// PNI identity key, serialized (33 bytes).
    pub pni_identity_key: Vec<u8>,
    /// The 16-byte unidentified access key, if set.
    #[serde(default)]
    pub unidentified_access_key: Option<Vec<u8>>,
    /// Whether any 16-byte key is accepted for sealed-sender access.
    #[serde(default)]
    pub unrestricted_unidentified_access: bool,
    /// Whether the number may be found through contact discovery.
    #[serde(default)]
    pub discoverable_by_phone_number: bool,
    /// Salted hash of the registration lock token, if a lock is set.
    #[serde(default)]
    pub registration_lock: Option<SaltedHash>,
    /// Salted hash of the registration recovery password, if set.
    #[serde(default)]
    pub recovery_password: Option<SaltedHash>,
    /// The devices, primary first; ids are unique.
    pub devices: Vec<Device>,
    /// Creation time, epoch milliseconds.
    pub created_at_ms: i64,
    /// The profile version (64 hex characters) the account last set with `PUT /v1/profile`.
    #[serde(default)]
    pub current_profile_version: Option<String>,
    /// The username hash the account last reserved (confirming needs it to match).
    #[serde(default)]
    pub reserved_username_hash: Option<Vec<u8>>,
    /// Optimistic-concurrency version, managed by the store.
    #[serde(default)]
    pub version: i64,
    /// Fields added by later features (profiles, usernames) live here until they get their own.
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Account {
    /// The device with this id.
    pub fn device(&self, id: DeviceId) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }

    /// The device with this id, mutably.
    pub fn device_mut(&mut self, id: DeviceId) -> Option<&mut Device> {
        self.devices.iter_mut().find(|d| d.id == id)
    }
}

/// One device of an account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Device {
    /// Device id (1 = primary).
    pub id: DeviceId,
    /// Encrypted device name as the client sent it.
    #[serde(default)]
    pub name: Option<Vec<u8>>,
    /// Salted hash of the device password.
    pub password: SaltedHash,
    /// ACI registration id.
    pub registration_id: u32,
    /// PNI registration id.
    pub pni_registration_id: u32,
    /// Capability names the device declared as true.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Whether the device fetches messages itself (no push token).
    #[serde(default)]
    pub fetches_messages: bool,
    /// APNs token, if any.
    #[serde(default)]
    pub apn_token: Option<String>,
    /// FCM token, if any.
    #[serde(default)]
    pub gcm_token: Option<String>,
    /// Agent string (`OWA`, `OWP`, `OWD` or what the client sent).
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Creation time, epoch milliseconds.
    pub created_at_ms: i64,
    /// Last time the device was seen, epoch milliseconds (day-truncated when reported).
    pub last_seen_ms: i64,
}

/// A salted hash of a secret (password, registration lock), as the official server stores it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SaltedHash {
    /// The hash text, e.g. `2.<hex>`.
    pub hash: String,
    /// The salt, hex.
    pub salt: String,
}

impl std::fmt::Debug for SaltedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaltedHash(<redacted>)")
    }
}

/// Which identity a prekey belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdentityType {
    /// The account identity.
    Aci,
    /// The phone-number identity.
    Pni,
}

/// Whose keys: an account's device under one identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyOwner {
    /// The account.
    pub aci: Aci,
    /// The identity the keys belong to.
    pub identity: IdentityType,
    /// The device.
    pub device: DeviceId,
}

/// A prekey as stored: id, serialized public key, and a signature for signed keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPreKey {
    /// The client's key id.
    pub key_id: u32,
    /// Serialized public key (33 bytes EC, 1569 bytes KEM).
    pub public_key: Vec<u8>,
    /// XEdDSA signature for signed keys.
    pub signature: Option<Vec<u8>>,
}

/// Counts of one-time keys left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PreKeyCounts {
    /// One-time EC prekeys.
    pub ec: u32,
    /// One-time KEM prekeys (the last-resort key is not counted).
    pub kem: u32,
}

/// The id of a verification session (random bytes; shown to clients as URL-safe base64).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(pub Vec<u8>);

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(..)")
    }
}

/// A registration verification session. The domain state is opaque to the store (a JSON
/// document the chat crate defines); the store only needs the id and expiry.
#[derive(Clone, Debug, PartialEq)]
pub struct VerificationSession {
    /// Session id.
    pub id: SessionId,
    /// When the session stops being usable, epoch milliseconds.
    pub expires_at_ms: i64,
    /// The session's state, serialized by the chat crate.
    pub state: serde_json::Value,
}

/// Where a message sits in its device queue: strictly increasing per device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueuePosition(pub i64);

/// A message to append to a device queue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    /// Recipient account.
    pub aci: Aci,
    /// Recipient device.
    pub device: DeviceId,
    /// Server-assigned GUID.
    pub guid: MessageGuid,
    /// Server receive time, epoch milliseconds.
    pub server_timestamp_ms: i64,
    /// When the message is dropped if still undelivered, epoch milliseconds.
    pub expires_at_ms: i64,
    /// Whether this is a story (withheld from sockets that do not receive stories).
    pub story: bool,
    /// Whether the message is urgent (drives push priority).
    pub urgent: bool,
    /// The serialized `Envelope` protobuf, as it will be delivered.
    pub envelope: Vec<u8>,
}

/// A message read back from a queue.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMessage {
    /// Position in the device queue.
    pub position: QueuePosition,
    /// Server-assigned GUID.
    pub guid: MessageGuid,
    /// Server receive time, epoch milliseconds.
    pub server_timestamp_ms: i64,
    /// Expiry, epoch milliseconds.
    pub expires_at_ms: i64,
    /// Story flag.
    pub story: bool,
    /// Urgent flag.
    pub urgent: bool,
    /// The serialized `Envelope`.
    pub envelope: Vec<u8>,
}

/// One version of an account's profile. Every field but the version and the commitment is
/// ciphertext (or an avatar object key) the server stores without reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedProfile {
    /// The profile key version, 64 hex characters.
    pub version: String,
    /// Encrypted name.
    pub name: Option<Vec<u8>>,
    /// Encrypted about text.
    pub about: Option<Vec<u8>>,
    /// Encrypted about emoji.
    pub about_emoji: Option<Vec<u8>>,
    /// Avatar object key (`profiles/…`), if the profile has an avatar.
    pub avatar: Option<String>,
    /// Encrypted payment address.
    pub payment_address: Option<Vec<u8>>,
    /// Encrypted phone-number sharing preference.
    pub phone_number_sharing: Option<Vec<u8>>,
    /// Serialized `ProfileKeyCommitment` (97 bytes). The first one stored for a version is
    /// kept: a version is derived from one profile key, so its commitment never changes.
    pub commitment: Vec<u8>,
}

/// Why [`crate::UsernameStore::confirm`] did not confirm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// The hash is now the account's username (or already was).
    Confirmed,
    /// Another account holds the hash (the reservation lapsed and was taken).
    Taken,
}

/// An account's username state, as the username store holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsernameState {
    /// The confirmed username hash, if any.
    pub hash: Option<Vec<u8>>,
    /// The username link handle, if a link is set.
    pub link_handle: Option<uuid::Uuid>,
}
