//! Storage for Heliograph: one trait per domain, the records they hold, a conformance suite
//! every backend must pass, and the backends themselves (SQLite by default, PostgreSQL for
//! scale-out).
//!
//! Traits hold no business rules: they store and fetch records and give the atomicity the
//! domain needs (single-use prekeys, optimistic account updates, ordered queues). Validation
//! and policy live in `heliograph-chat`.

mod model;
mod sql;
mod sql_profiles;

#[doc(hidden)]
pub mod conformance;
pub mod postgres;
pub mod sqlite;

pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use heliograph_types::{Aci, DeviceId, MessageGuid, Pni, E164};

/// Errors every backend maps its own failures onto.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (number, ACI, PNI or username already taken).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// An optimistic update lost a race: the record changed since it was read. Re-read and retry.
    #[error("the record changed concurrently")]
    Stale,
    /// The record to update does not exist.
    #[error("not found")]
    NotFound,
    /// A stored record could not be decoded (corruption or an incompatible migration).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The database failed. The text is for logs only; never return it to clients.
    #[error("database error: {0}")]
    Backend(String),
}

/// Result alias for storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Accounts with their devices, stored as one record (like the official server's account
/// document), with unique indexes on ACI, PNI and number.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Inserts a new account. `Conflict` if the ACI, PNI or number is already used.
    async fn create(&self, account: &Account) -> StoreResult<()>;
    /// Replaces the record with the same ACI if its `version` still equals `account.version`,
    /// and bumps the stored version. `Stale` if it changed, `NotFound` if it is gone.
    /// On success `account.version` is updated to the new version.
    async fn update(&self, account: &mut Account) -> StoreResult<()>;
    /// Looks an account up by ACI.
    async fn get_by_aci(&self, aci: Aci) -> StoreResult<Option<Account>>;
    /// Looks an account up by PNI.
    async fn get_by_pni(&self, pni: Pni) -> StoreResult<Option<Account>>;
    /// Looks an account up by phone number.
    async fn get_by_e164(&self, e164: &E164) -> StoreResult<Option<Account>>;
    /// Deletes the account record (keys and messages are deleted through their own stores).
    /// Returns whether it existed.
    async fn delete(&self, aci: Aci) -> StoreResult<bool>;
}

/// Prekeys per (account, identity, device). One-time keys are handed out at most once, even
/// under concurrent fetches.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Replaces every one-time EC prekey of the device/identity with `keys`.
    async fn replace_ec_one_time(&self, owner: KeyOwner, keys: &[StoredPreKey]) -> StoreResult<()>;
    /// Replaces every one-time KEM prekey of the device/identity with `keys`.
    async fn replace_kem_one_time(&self, owner: KeyOwner, keys: &[StoredPreKey])
        -> StoreResult<()>;
    /// Sets (replaces) the signed EC prekey.
    async fn set_ec_signed(&self, owner: KeyOwner, key: &StoredPreKey) -> StoreResult<()>;
    /// Sets (replaces) the last-resort KEM prekey.
    async fn set_kem_last_resort(&self, owner: KeyOwner, key: &StoredPreKey) -> StoreResult<()>;
    /// Removes and returns one one-time EC prekey (lowest key id first), if any is left.
    async fn take_ec_one_time(&self, owner: KeyOwner) -> StoreResult<Option<StoredPreKey>>;
    /// Removes and returns one one-time KEM prekey (lowest key id first); when none is left,
    /// returns the last-resort KEM key without removing it.
    async fn take_kem(&self, owner: KeyOwner) -> StoreResult<Option<StoredPreKey>>;
    /// The signed EC prekey.
    async fn get_ec_signed(&self, owner: KeyOwner) -> StoreResult<Option<StoredPreKey>>;
    /// The last-resort KEM prekey.
    async fn get_kem_last_resort(&self, owner: KeyOwner) -> StoreResult<Option<StoredPreKey>>;
    /// How many one-time EC and KEM keys are left.
    async fn count_one_time(&self, owner: KeyOwner) -> StoreResult<PreKeyCounts>;
    /// Deletes every key of one device (both identities).
    async fn delete_device(&self, aci: Aci, device: DeviceId) -> StoreResult<()>;
    /// Deletes every key of every device of an account.
    async fn delete_account(&self, aci: Aci) -> StoreResult<()>;
}

/// Verification sessions for registration, kept until they expire.
#[async_trait]
pub trait VerificationSessionStore: Send + Sync {
    /// Inserts or replaces a session.
    async fn put(&self, session: &VerificationSession) -> StoreResult<()>;
    /// Fetches a session that has not expired at `now_ms`.
    async fn get(&self, id: &SessionId, now_ms: i64) -> StoreResult<Option<VerificationSession>>;
    /// Deletes sessions that expired before `now_ms`; returns how many.
    async fn delete_expired(&self, now_ms: i64) -> StoreResult<u64>;
}

/// Ordered, durable per-device message queues.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Appends messages, possibly for several devices, in one transaction: either all are
    /// durable when this returns, or none is.
    async fn insert(&self, messages: &[NewMessage]) -> StoreResult<()>;
    /// Reads up to `limit` messages of a device in queue order, starting after the queue
    /// position `after` (exclusive; `None` = from the start).
    async fn read(
        &self,
        aci: Aci,
        device: DeviceId,
        after: Option<QueuePosition>,
        limit: u32,
    ) -> StoreResult<Vec<StoredMessage>>;
    /// Deletes one message and returns it, or `None` if it was not (or no longer) queued.
    async fn delete(
        &self,
        aci: Aci,
        device: DeviceId,
        guid: MessageGuid,
    ) -> StoreResult<Option<StoredMessage>>;
    /// How many messages a device has queued.
    async fn count(&self, aci: Aci, device: DeviceId) -> StoreResult<u64>;
    /// Drops a device's queue.
    async fn delete_device(&self, aci: Aci, device: DeviceId) -> StoreResult<()>;
    /// Drops every queue of an account.
    async fn delete_account(&self, aci: Aci) -> StoreResult<()>;
    /// Deletes messages whose `expires_at_ms` is before `now_ms`; returns how many.
    async fn delete_expired(&self, now_ms: i64) -> StoreResult<u64>;
}

/// Single-use tokens (device-link verification codes) remembered until they expire.
#[async_trait]
pub trait UsedTokenStore: Send + Sync {
    /// Records the token as used. Returns `false` if it had already been used.
    async fn mark_used(&self, token_hash: &[u8], expires_at_ms: i64) -> StoreResult<bool>;
    /// Forgets tokens that expired before `now_ms`.
    async fn delete_expired(&self, now_ms: i64) -> StoreResult<u64>;
}

/// Versioned profiles, one record per (account, version).
#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Inserts or replaces the profile of `profile.version`. When that version already exists
    /// its stored commitment is kept and `profile.commitment` is ignored.
    async fn set(&self, aci: Aci, profile: &VersionedProfile) -> StoreResult<()>;
    /// The profile of one version.
    async fn get(&self, aci: Aci, version: &str) -> StoreResult<Option<VersionedProfile>>;
    /// Deletes every version of the account's profile and returns the avatar keys they
    /// referenced, so the caller can delete those objects.
    async fn delete_account(&self, aci: Aci) -> StoreResult<Vec<String>>;
}

/// Username hashes and username links. A hash belongs to at most one account at a time: as a
/// reservation (expiring), as a confirmed username, or as a hold on a recently released
/// username (expiring, only its former owner may take it back). Every call is atomic, so two
/// accounts racing for one hash never both win.
#[async_trait]
pub trait UsernameStore: Send + Sync {
    /// Reserves `hash` for `aci` until `expires_at_ms` if it is free at `now_ms`: unowned, or
    /// its reservation or hold lapsed, or already reserved or held by `aci` (then the later of
    /// the two expiries is kept). Drops the account's other reservations. Returns whether the
    /// hash is now reserved for (or confirmed by) `aci`.
    async fn reserve(
        &self,
        aci: Aci,
        hash: &[u8],
        expires_at_ms: i64,
        now_ms: i64,
    ) -> StoreResult<bool>;
    /// Makes `hash` the account's confirmed username unless another account holds it at
    /// `now_ms`. The previous username of the account becomes a hold until
    /// `hold_expires_at_ms` (at most `max_holds` holds are kept, the oldest go first). When
    /// `encrypted_username` is given, the link is set to it under `new_link_handle`; otherwise
    /// any link is removed. Confirming the current username again changes nothing.
    #[allow(clippy::too_many_arguments)]
    async fn confirm(
        &self,
        aci: Aci,
        hash: &[u8],
        encrypted_username: Option<&[u8]>,
        new_link_handle: uuid::Uuid,
        now_ms: i64,
        hold_expires_at_ms: i64,
        max_holds: usize,
    ) -> StoreResult<ConfirmOutcome>;
    /// Releases the confirmed username (it becomes a hold until `hold_expires_at_ms`) and
    /// removes the link. Does nothing if the account has none.
    async fn clear(&self, aci: Aci, hold_expires_at_ms: i64, max_holds: usize) -> StoreResult<()>;
    /// The account's confirmed username hash and link handle.
    async fn state(&self, aci: Aci) -> StoreResult<UsernameState>;
    /// The account whose confirmed username is `hash`.
    async fn lookup(&self, hash: &[u8]) -> StoreResult<Option<Aci>>;
    /// Sets the account's username link. With `keep_handle` and an existing link, its handle
    /// is kept; otherwise `new_handle` is used. Returns the handle, or `None` (nothing stored)
    /// if the account has no confirmed username.
    async fn set_link(
        &self,
        aci: Aci,
        encrypted_username: &[u8],
        keep_handle: bool,
        new_handle: uuid::Uuid,
    ) -> StoreResult<Option<uuid::Uuid>>;
    /// Removes the account's username link (no-op if none).
    async fn delete_link(&self, aci: Aci) -> StoreResult<()>;
    /// The encrypted username behind a link handle.
    async fn lookup_link(&self, handle: uuid::Uuid) -> StoreResult<Option<Vec<u8>>>;
    /// Removes the account's username, reservations, holds and link.
    async fn delete_account(&self, aci: Aci) -> StoreResult<()>;
    /// Drops reservations and holds that lapsed before `now_ms`; returns how many.
    async fn delete_expired(&self, now_ms: i64) -> StoreResult<u64>;
}

/// Every store, as one handle the server passes around.
#[derive(Clone)]
pub struct Stores {
    /// Accounts and devices.
    pub accounts: std::sync::Arc<dyn AccountStore>,
    /// Prekeys.
    pub keys: std::sync::Arc<dyn KeyStore>,
    /// Registration verification sessions.
    pub sessions: std::sync::Arc<dyn VerificationSessionStore>,
    /// Message queues.
    pub messages: std::sync::Arc<dyn MessageStore>,
    /// Used single-use tokens.
    pub used_tokens: std::sync::Arc<dyn UsedTokenStore>,
    /// Versioned profiles.
    pub profiles: std::sync::Arc<dyn ProfileStore>,
    /// Usernames and username links.
    pub usernames: std::sync::Arc<dyn UsernameStore>,
}
