//! The store implementations shared by the SQLite and PostgreSQL backends.
//!
//! Both databases accept the same SQL for almost everything (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`), so one macro expands the trait implementations for each backend's
//! `sqlx::Database`; the few differences (JSON casts, row locking when taking a key) are
//! macro parameters.

use heliograph_types::{Aci, DeviceId, MessageGuid};
use sqlx::{Database, Pool};
use uuid::Uuid;

use crate::{IdentityType, QueuePosition, StoreError, StoredMessage, StoredPreKey};

/// Prekey kind column: elliptic-curve key.
pub(crate) const KIND_EC: i16 = 0;
/// Prekey kind column: post-quantum (KEM) key.
pub(crate) const KIND_KEM: i16 = 1;

/// The pools a backend runs its statements on. SQLite writes through a single connection
/// (its writes are serialized anyway, and one writer never meets `SQLITE_BUSY` from itself);
/// PostgreSQL uses one pool for both.
pub(crate) struct SqlStore<DB: Database> {
    /// Pool for reads.
    pub(crate) reader: Pool<DB>,
    /// Pool for writes.
    pub(crate) writer: Pool<DB>,
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            reader: self.reader.clone(),
            writer: self.writer.clone(),
        }
    }
}

/// Maps a driver error onto [`StoreError`]; unique violations name the column they hit.
pub(crate) fn map_err(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            // SQLite reports `UNIQUE constraint failed: accounts.e164`, PostgreSQL the
            // constraint name (`accounts_e164_uq`); both contain the column.
            let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
            for column in ["e164", "pni", "guid", "aci", "hash"] {
                if text.contains(column) {
                    return StoreError::Conflict(column);
                }
            }
            return StoreError::Conflict("unique");
        }
    }
    StoreError::Backend(err.to_string())
}

/// The identity column value.
pub(crate) fn identity_code(identity: IdentityType) -> i16 {
    match identity {
        IdentityType::Aci => 0,
        IdentityType::Pni => 1,
    }
}

/// The device column value.
pub(crate) fn device_code(device: DeviceId) -> i16 {
    i16::from(device.get())
}

/// The UUID column value of an ACI.
pub(crate) fn aci_code(aci: Aci) -> Uuid {
    aci.uuid()
}

/// Decodes a stored key id.
pub(crate) fn key_id_from(raw: i64) -> Result<u32, StoreError> {
    u32::try_from(raw).map_err(|_| StoreError::Corrupt(format!("key id {raw} out of range")))
}

/// Builds a prekey from its columns.
pub(crate) fn prekey_from(
    key_id: i64,
    public_key: Vec<u8>,
    signature: Option<Vec<u8>>,
) -> Result<StoredPreKey, StoreError> {
    Ok(StoredPreKey {
        key_id: key_id_from(key_id)?,
        public_key,
        signature,
    })
}

/// The columns of a message row, in `MESSAGE_COLUMNS` order.
pub(crate) struct MessageRow {
    pub(crate) id: i64,
    pub(crate) guid: Uuid,
    pub(crate) server_timestamp: i64,
    pub(crate) expires_at: i64,
    pub(crate) story: bool,
    pub(crate) urgent: bool,
    pub(crate) envelope: Vec<u8>,
}

impl From<MessageRow> for StoredMessage {
    fn from(r: MessageRow) -> Self {
        StoredMessage {
            position: QueuePosition(r.id),
            guid: MessageGuid::from_uuid(r.guid),
            server_timestamp_ms: r.server_timestamp,
            expires_at_ms: r.expires_at,
            story: r.story,
            urgent: r.urgent,
            envelope: r.envelope,
        }
    }
}

/// Expands the five store traits for `SqlStore<$db>`.
///
/// - `$json_in`: suffix of a parameter that is stored in a JSON column (`::jsonb` on
///   PostgreSQL, empty on SQLite where JSON is text).
/// - `$json_out`: suffix of a JSON column when selected, so it decodes as text.
/// - `$lock`: row-locking clause for the key a `take` removes (`FOR UPDATE SKIP LOCKED` on
///   PostgreSQL so concurrent takers each get a different row; empty on SQLite, where the
///   single writer connection serializes takers).
macro_rules! sql_stores {
    ($db:ty, json_in = $json_in:literal, json_out = $json_out:literal, lock = $lock:literal) => {
        use async_trait::async_trait;
        use heliograph_types::{Aci, DeviceId, MessageGuid, Pni, E164};
        use sqlx::Row as _;

        use $crate::sql::{
            aci_code, device_code, identity_code, map_err, prekey_from, MessageRow, SqlStore,
            KIND_EC, KIND_KEM,
        };
        use $crate::{
            Account, AccountStore, KeyOwner, KeyStore, MessageStore, NewMessage, PreKeyCounts,
            SessionId, StoreError, StoreResult, StoredMessage, StoredPreKey, UsedTokenStore,
            VerificationSession, VerificationSessionStore,
        };

        const ACCOUNT_SELECT: &str = concat!("SELECT version, data", $json_out, " FROM accounts");

        fn account_from(row: &<$db as sqlx::Database>::Row) -> StoreResult<Account> {
            let version: i64 = row.try_get(0).map_err(map_err)?;
            let data: String = row.try_get(1).map_err(map_err)?;
            let mut account: Account = serde_json::from_str(&data)
                .map_err(|e| StoreError::Corrupt(format!("account document: {e}")))?;
            account.version = version;
            Ok(account)
        }

        fn account_json(account: &Account) -> StoreResult<String> {
            serde_json::to_string(account)
                .map_err(|e| StoreError::Corrupt(format!("account document: {e}")))
        }

        impl SqlStore<$db> {
            async fn account_where(
                &self,
                clause: &str,
                bind: impl for<'q> sqlx::Encode<'q, $db> + sqlx::Type<$db> + Send,
            ) -> StoreResult<Option<Account>> {
                let sql = format!("{ACCOUNT_SELECT} WHERE {clause} = $1");
                let row = sqlx::query(&sql)
                    .bind(bind)
                    .fetch_optional(&self.reader)
                    .await
                    .map_err(map_err)?;
                row.as_ref().map(account_from).transpose()
            }

            async fn take_one_time(
                &self,
                owner: KeyOwner,
                kind: i16,
            ) -> StoreResult<Option<StoredPreKey>> {
                // The scalar subquery finds the lowest key id at the front of the primary-key
                // range of this device (one index probe, no sort); the outer delete is then a
                // point lookup on the full primary key. One statement, so a key that is
                // returned is gone for everyone else.
                let row = sqlx::query(concat!(
                    "DELETE FROM one_time_prekeys ",
                    "WHERE aci = $1 AND identity = $2 AND device = $3 AND kind = $4 AND key_id = ",
                    "(SELECT key_id FROM one_time_prekeys ",
                    "WHERE aci = $1 AND identity = $2 AND device = $3 AND kind = $4 ",
                    "ORDER BY key_id LIMIT 1 ",
                    $lock,
                    ") RETURNING key_id, public_key, signature"
                ))
                .bind(aci_code(owner.aci))
                .bind(identity_code(owner.identity))
                .bind(device_code(owner.device))
                .bind(kind)
                .fetch_optional(&self.writer)
                .await
                .map_err(map_err)?;
                match row {
                    Some(row) => Ok(Some(prekey_from(
                        row.try_get(0).map_err(map_err)?,
                        row.try_get(1).map_err(map_err)?,
                        row.try_get(2).map_err(map_err)?,
                    )?)),
                    None => Ok(None),
                }
            }

            async fn replace_one_time(
                &self,
                owner: KeyOwner,
                kind: i16,
                keys: &[StoredPreKey],
            ) -> StoreResult<()> {
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                sqlx::query(
                    "DELETE FROM one_time_prekeys \
                     WHERE aci = $1 AND identity = $2 AND device = $3 AND kind = $4",
                )
                .bind(aci_code(owner.aci))
                .bind(identity_code(owner.identity))
                .bind(device_code(owner.device))
                .bind(kind)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                for key in keys {
                    sqlx::query(
                        "INSERT INTO one_time_prekeys \
                         (aci, identity, device, kind, key_id, public_key, signature) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (aci, identity, device, kind, key_id) \
                         DO UPDATE SET public_key = excluded.public_key, signature = excluded.signature",
                    )
                    .bind(aci_code(owner.aci))
                    .bind(identity_code(owner.identity))
                    .bind(device_code(owner.device))
                    .bind(kind)
                    .bind(i64::from(key.key_id))
                    .bind(&key.public_key)
                    .bind(&key.signature)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)
            }

            async fn set_signed(
                &self,
                owner: KeyOwner,
                kind: i16,
                key: &StoredPreKey,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO signed_prekeys \
                     (aci, identity, device, kind, key_id, public_key, signature) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (aci, identity, device, kind) DO UPDATE SET \
                     key_id = excluded.key_id, public_key = excluded.public_key, \
                     signature = excluded.signature",
                )
                .bind(aci_code(owner.aci))
                .bind(identity_code(owner.identity))
                .bind(device_code(owner.device))
                .bind(kind)
                .bind(i64::from(key.key_id))
                .bind(&key.public_key)
                .bind(&key.signature)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn get_signed(
                &self,
                owner: KeyOwner,
                kind: i16,
            ) -> StoreResult<Option<StoredPreKey>> {
                let row = sqlx::query(
                    "SELECT key_id, public_key, signature FROM signed_prekeys \
                     WHERE aci = $1 AND identity = $2 AND device = $3 AND kind = $4",
                )
                .bind(aci_code(owner.aci))
                .bind(identity_code(owner.identity))
                .bind(device_code(owner.device))
                .bind(kind)
                .fetch_optional(&self.reader)
                .await
                .map_err(map_err)?;
                match row {
                    Some(row) => Ok(Some(prekey_from(
                        row.try_get(0).map_err(map_err)?,
                        row.try_get(1).map_err(map_err)?,
                        row.try_get(2).map_err(map_err)?,
                    )?)),
                    None => Ok(None),
                }
            }
        }

        fn message_from(row: &<$db as sqlx::Database>::Row) -> StoreResult<StoredMessage> {
            Ok(MessageRow {
                id: row.try_get(0).map_err(map_err)?,
                guid: row.try_get(1).map_err(map_err)?,
                server_timestamp: row.try_get(2).map_err(map_err)?,
                expires_at: row.try_get(3).map_err(map_err)?,
                story: row.try_get(4).map_err(map_err)?,
                urgent: row.try_get(5).map_err(map_err)?,
                envelope: row.try_get(6).map_err(map_err)?,
            }
            .into())
        }

        #[async_trait]
        impl AccountStore for SqlStore<$db> {
            async fn create(&self, account: &Account) -> StoreResult<()> {
                let data = account_json(account)?;
                sqlx::query(concat!(
                    "INSERT INTO accounts (aci, pni, e164, version, data) ",
                    "VALUES ($1, $2, $3, $4, $5",
                    $json_in,
                    ")"
                ))
                .bind(account.aci.uuid())
                .bind(account.pni.uuid())
                .bind(account.e164.as_str())
                .bind(account.version)
                .bind(data)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn update(&self, account: &mut Account) -> StoreResult<()> {
                let new_version = account.version + 1;
                let mut stored = account.clone();
                stored.version = new_version;
                let data = account_json(&stored)?;
                let done = sqlx::query(concat!(
                    "UPDATE accounts SET pni = $1, e164 = $2, version = $3, data = $4",
                    $json_in,
                    " WHERE aci = $5 AND version = $6"
                ))
                .bind(account.pni.uuid())
                .bind(account.e164.as_str())
                .bind(new_version)
                .bind(data)
                .bind(account.aci.uuid())
                .bind(account.version)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
                if done.rows_affected() == 1 {
                    account.version = new_version;
                    return Ok(());
                }
                let exists = sqlx::query("SELECT 1 FROM accounts WHERE aci = $1")
                    .bind(account.aci.uuid())
                    .fetch_optional(&self.writer)
                    .await
                    .map_err(map_err)?;
                Err(if exists.is_some() {
                    StoreError::Stale
                } else {
                    StoreError::NotFound
                })
            }

            async fn get_by_aci(&self, aci: Aci) -> StoreResult<Option<Account>> {
                self.account_where("aci", aci.uuid()).await
            }

            async fn get_by_pni(&self, pni: Pni) -> StoreResult<Option<Account>> {
                self.account_where("pni", pni.uuid()).await
            }

            async fn get_by_e164(&self, e164: &E164) -> StoreResult<Option<Account>> {
                self.account_where("e164", e164.as_str().to_owned()).await
            }

            async fn delete(&self, aci: Aci) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM accounts WHERE aci = $1")
                    .bind(aci.uuid())
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl KeyStore for SqlStore<$db> {
            async fn replace_ec_one_time(
                &self,
                owner: KeyOwner,
                keys: &[StoredPreKey],
            ) -> StoreResult<()> {
                self.replace_one_time(owner, KIND_EC, keys).await
            }

            async fn replace_kem_one_time(
                &self,
                owner: KeyOwner,
                keys: &[StoredPreKey],
            ) -> StoreResult<()> {
                self.replace_one_time(owner, KIND_KEM, keys).await
            }

            async fn set_ec_signed(&self, owner: KeyOwner, key: &StoredPreKey) -> StoreResult<()> {
                self.set_signed(owner, KIND_EC, key).await
            }

            async fn set_kem_last_resort(
                &self,
                owner: KeyOwner,
                key: &StoredPreKey,
            ) -> StoreResult<()> {
                self.set_signed(owner, KIND_KEM, key).await
            }

            async fn take_ec_one_time(&self, owner: KeyOwner) -> StoreResult<Option<StoredPreKey>> {
                self.take_one_time(owner, KIND_EC).await
            }

            async fn take_kem(&self, owner: KeyOwner) -> StoreResult<Option<StoredPreKey>> {
                match self.take_one_time(owner, KIND_KEM).await? {
                    Some(key) => Ok(Some(key)),
                    None => self.get_signed(owner, KIND_KEM).await,
                }
            }

            async fn get_ec_signed(&self, owner: KeyOwner) -> StoreResult<Option<StoredPreKey>> {
                self.get_signed(owner, KIND_EC).await
            }

            async fn get_kem_last_resort(
                &self,
                owner: KeyOwner,
            ) -> StoreResult<Option<StoredPreKey>> {
                self.get_signed(owner, KIND_KEM).await
            }

            async fn count_one_time(&self, owner: KeyOwner) -> StoreResult<PreKeyCounts> {
                let rows = sqlx::query(
                    "SELECT kind, COUNT(*) FROM one_time_prekeys \
                     WHERE aci = $1 AND identity = $2 AND device = $3 GROUP BY kind",
                )
                .bind(aci_code(owner.aci))
                .bind(identity_code(owner.identity))
                .bind(device_code(owner.device))
                .fetch_all(&self.reader)
                .await
                .map_err(map_err)?;
                let mut counts = PreKeyCounts::default();
                for row in rows {
                    let kind: i16 = row.try_get(0).map_err(map_err)?;
                    let n: i64 = row.try_get(1).map_err(map_err)?;
                    let n = u32::try_from(n).unwrap_or(u32::MAX);
                    if kind == KIND_EC {
                        counts.ec = n;
                    } else if kind == KIND_KEM {
                        counts.kem = n;
                    }
                }
                Ok(counts)
            }

            async fn delete_device(&self, aci: Aci, device: DeviceId) -> StoreResult<()> {
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                for table in ["one_time_prekeys", "signed_prekeys"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE aci = $1 AND device = $2"))
                        .bind(aci_code(aci))
                        .bind(device_code(device))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)
            }

            async fn delete_account(&self, aci: Aci) -> StoreResult<()> {
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                for table in ["one_time_prekeys", "signed_prekeys"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE aci = $1"))
                        .bind(aci_code(aci))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)
            }
        }

        #[async_trait]
        impl VerificationSessionStore for SqlStore<$db> {
            async fn put(&self, session: &VerificationSession) -> StoreResult<()> {
                let state = serde_json::to_string(&session.state)
                    .map_err(|e| StoreError::Corrupt(format!("session state: {e}")))?;
                sqlx::query(concat!(
                    "INSERT INTO verification_sessions (id, expires_at, state) ",
                    "VALUES ($1, $2, $3",
                    $json_in,
                    ") ON CONFLICT (id) DO UPDATE SET ",
                    "expires_at = excluded.expires_at, state = excluded.state"
                ))
                .bind(&session.id.0)
                .bind(session.expires_at_ms)
                .bind(state)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn get(
                &self,
                id: &SessionId,
                now_ms: i64,
            ) -> StoreResult<Option<VerificationSession>> {
                let row = sqlx::query(concat!(
                    "SELECT expires_at, state",
                    $json_out,
                    " FROM verification_sessions WHERE id = $1 AND expires_at > $2"
                ))
                .bind(&id.0)
                .bind(now_ms)
                .fetch_optional(&self.reader)
                .await
                .map_err(map_err)?;
                let Some(row) = row else { return Ok(None) };
                let expires_at_ms: i64 = row.try_get(0).map_err(map_err)?;
                let state: String = row.try_get(1).map_err(map_err)?;
                let state = serde_json::from_str(&state)
                    .map_err(|e| StoreError::Corrupt(format!("session state: {e}")))?;
                Ok(Some(VerificationSession {
                    id: id.clone(),
                    expires_at_ms,
                    state,
                }))
            }

            async fn delete_expired(&self, now_ms: i64) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM verification_sessions WHERE expires_at < $1")
                    .bind(now_ms)
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?;
                Ok(done.rows_affected())
            }
        }

        /// Messages removed per statement by `delete_expired`.
        const EXPIRY_BATCH: i64 = 5_000;

        const MESSAGE_COLUMNS: &str =
            "id, guid, server_timestamp, expires_at, story, urgent, envelope";

        #[async_trait]
        impl MessageStore for SqlStore<$db> {
            async fn insert(&self, messages: &[NewMessage]) -> StoreResult<()> {
                if messages.is_empty() {
                    return Ok(());
                }
                // One transaction: every copy of a multi-device send is durable, or none is.
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                for m in messages {
                    sqlx::query(
                        "INSERT INTO messages (aci, device, guid, server_timestamp, \
                         expires_at, story, urgent, envelope) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(aci_code(m.aci))
                    .bind(device_code(m.device))
                    .bind(m.guid.uuid())
                    .bind(m.server_timestamp_ms)
                    .bind(m.expires_at_ms)
                    .bind(m.story)
                    .bind(m.urgent)
                    .bind(&m.envelope)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)
            }

            async fn read(
                &self,
                aci: Aci,
                device: DeviceId,
                after: Option<$crate::QueuePosition>,
                limit: u32,
            ) -> StoreResult<Vec<StoredMessage>> {
                // Range scan on messages_queue (aci, device, id): no sort, no full scan.
                let sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages \
                     WHERE aci = $1 AND device = $2 AND id > $3 ORDER BY id LIMIT $4"
                );
                let rows = sqlx::query(&sql)
                    .bind(aci_code(aci))
                    .bind(device_code(device))
                    .bind(after.map_or(0, |p| p.0))
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await
                    .map_err(map_err)?;
                rows.iter().map(message_from).collect()
            }

            async fn delete(
                &self,
                aci: Aci,
                device: DeviceId,
                guid: MessageGuid,
            ) -> StoreResult<Option<StoredMessage>> {
                let sql = format!(
                    "DELETE FROM messages WHERE aci = $1 AND device = $2 AND guid = $3 \
                     RETURNING {MESSAGE_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(aci_code(aci))
                    .bind(device_code(device))
                    .bind(guid.uuid())
                    .fetch_optional(&self.writer)
                    .await
                    .map_err(map_err)?;
                row.as_ref().map(message_from).transpose()
            }

            async fn count(&self, aci: Aci, device: DeviceId) -> StoreResult<u64> {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE aci = $1 AND device = $2")
                        .bind(aci_code(aci))
                        .bind(device_code(device))
                        .fetch_one(&self.reader)
                        .await
                        .map_err(map_err)?;
                Ok(u64::try_from(n).unwrap_or_default())
            }

            async fn delete_device(&self, aci: Aci, device: DeviceId) -> StoreResult<()> {
                sqlx::query("DELETE FROM messages WHERE aci = $1 AND device = $2")
                    .bind(aci_code(aci))
                    .bind(device_code(device))
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?;
                Ok(())
            }

            async fn delete_account(&self, aci: Aci) -> StoreResult<()> {
                sqlx::query("DELETE FROM messages WHERE aci = $1")
                    .bind(aci_code(aci))
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?;
                Ok(())
            }

            async fn delete_expired(&self, now_ms: i64) -> StoreResult<u64> {
                // In batches (found through messages_expires_at), so a backlog of millions
                // never holds SQLite's single writer or PostgreSQL row locks for long.
                let mut total = 0;
                loop {
                    let done = sqlx::query(
                        "DELETE FROM messages WHERE id IN \
                         (SELECT id FROM messages WHERE expires_at < $1 LIMIT $2)",
                    )
                    .bind(now_ms)
                    .bind(EXPIRY_BATCH)
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?;
                    total += done.rows_affected();
                    if done.rows_affected() < EXPIRY_BATCH as u64 {
                        return Ok(total);
                    }
                }
            }
        }

        #[async_trait]
        impl UsedTokenStore for SqlStore<$db> {
            async fn mark_used(&self, token_hash: &[u8], expires_at_ms: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO used_tokens (hash, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (hash) DO NOTHING",
                )
                .bind(token_hash)
                .bind(expires_at_ms)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_expired(&self, now_ms: i64) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM used_tokens WHERE expires_at < $1")
                    .bind(now_ms)
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?;
                Ok(done.rows_affected())
            }
        }

        impl SqlStore<$db> {
            /// Every store trait, as the bundle the server passes around.
            pub(crate) fn stores(&self) -> $crate::Stores {
                let this = std::sync::Arc::new(self.clone());
                $crate::Stores {
                    accounts: this.clone(),
                    keys: this.clone(),
                    sessions: this.clone(),
                    messages: this.clone(),
                    used_tokens: this.clone(),
                    profiles: this.clone(),
                    usernames: this,
                }
            }
        }
    };
}

pub(crate) use sql_stores;
