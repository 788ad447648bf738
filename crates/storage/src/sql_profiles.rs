//! The profile and username stores, shared by the SQLite and PostgreSQL backends the same way
//! as [`crate::sql`]: one macro expanded per `sqlx::Database`.

/// Username row state: reserved for a while.
pub(crate) const RESERVED: i16 = 0;
/// Username row state: the account's confirmed username.
pub(crate) const CONFIRMED: i16 = 1;
/// Username row state: recently released; only the former owner may take it back.
pub(crate) const HELD: i16 = 2;

/// Expands `ProfileStore` and `UsernameStore` for `SqlStore<$db>`.
///
/// - `$row_lock`: clause that locks the username row a confirmation reads (`FOR UPDATE` on
///   PostgreSQL; empty on SQLite, whose single writer connection serializes transactions).
macro_rules! sql_profile_stores {
    ($db:ty, row_lock = $row_lock:literal) => {
        use async_trait::async_trait;
        use heliograph_types::Aci;
        use sqlx::Row as _;
        use uuid::Uuid;

        use $crate::sql::{aci_code, map_err, SqlStore};
        use $crate::sql_profiles::{CONFIRMED, HELD, RESERVED};
        use $crate::{
            ConfirmOutcome, ProfileStore, StoreError, StoreResult, UsernameState, UsernameStore,
            VersionedProfile,
        };

        #[async_trait]
        impl ProfileStore for SqlStore<$db> {
            async fn set(&self, aci: Aci, profile: &VersionedProfile) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO profiles (aci, version, name, about, about_emoji, avatar, \
                     payment_address, phone_number_sharing, commitment) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (aci, version) DO UPDATE SET \
                     name = excluded.name, about = excluded.about, \
                     about_emoji = excluded.about_emoji, avatar = excluded.avatar, \
                     payment_address = excluded.payment_address, \
                     phone_number_sharing = excluded.phone_number_sharing",
                )
                .bind(aci_code(aci))
                .bind(&profile.version)
                .bind(&profile.name)
                .bind(&profile.about)
                .bind(&profile.about_emoji)
                .bind(&profile.avatar)
                .bind(&profile.payment_address)
                .bind(&profile.phone_number_sharing)
                .bind(&profile.commitment)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            async fn get(&self, aci: Aci, version: &str) -> StoreResult<Option<VersionedProfile>> {
                let row = sqlx::query(
                    "SELECT name, about, about_emoji, avatar, payment_address, \
                     phone_number_sharing, commitment FROM profiles \
                     WHERE aci = $1 AND version = $2",
                )
                .bind(aci_code(aci))
                .bind(version)
                .fetch_optional(&self.reader)
                .await
                .map_err(map_err)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                Ok(Some(VersionedProfile {
                    version: version.to_owned(),
                    name: row.try_get(0).map_err(map_err)?,
                    about: row.try_get(1).map_err(map_err)?,
                    about_emoji: row.try_get(2).map_err(map_err)?,
                    avatar: row.try_get(3).map_err(map_err)?,
                    payment_address: row.try_get(4).map_err(map_err)?,
                    phone_number_sharing: row.try_get(5).map_err(map_err)?,
                    commitment: row.try_get(6).map_err(map_err)?,
                }))
            }

            async fn delete_account(&self, aci: Aci) -> StoreResult<Vec<String>> {
                let rows = sqlx::query("DELETE FROM profiles WHERE aci = $1 RETURNING avatar")
                    .bind(aci_code(aci))
                    .fetch_all(&self.writer)
                    .await
                    .map_err(map_err)?;
                let mut avatars = Vec::new();
                for row in rows {
                    let avatar: Option<String> = row.try_get(0).map_err(map_err)?;
                    avatars.extend(avatar);
                }
                avatars.sort();
                avatars.dedup();
                Ok(avatars)
            }
        }

        impl SqlStore<$db> {
            /// Keeps the account's `max_holds` newest holds and drops the rest.
            async fn trim_holds(
                tx: &mut sqlx::Transaction<'_, $db>,
                aci: Aci,
                max_holds: usize,
            ) -> StoreResult<()> {
                let keep = i64::try_from(max_holds).unwrap_or(i64::MAX);
                sqlx::query(
                    "DELETE FROM usernames WHERE aci = $1 AND state = $2 AND hash NOT IN \
                     (SELECT hash FROM usernames WHERE aci = $1 AND state = $2 \
                     ORDER BY expires_at DESC LIMIT $3)",
                )
                .bind(aci_code(aci))
                .bind(HELD)
                .bind(keep)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
                Ok(())
            }

            /// Turns the account's confirmed username (other than `except`) into a hold.
            async fn release_confirmed(
                tx: &mut sqlx::Transaction<'_, $db>,
                aci: Aci,
                except: &[u8],
                hold_expires_at_ms: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE usernames SET state = $2, expires_at = $3 \
                     WHERE aci = $1 AND state = $4 AND hash <> $5",
                )
                .bind(aci_code(aci))
                .bind(HELD)
                .bind(hold_expires_at_ms)
                .bind(CONFIRMED)
                .bind(except)
                .execute(&mut **tx)
                .await
                .map_err(map_err)?;
                Ok(())
            }
        }

        #[async_trait]
        impl UsernameStore for SqlStore<$db> {
            async fn reserve(
                &self,
                aci: Aci,
                hash: &[u8],
                expires_at_ms: i64,
                now_ms: i64,
            ) -> StoreResult<bool> {
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                // One statement decides who owns the hash, so concurrent reservations of one
                // hash cannot both succeed: the insert wins for a free hash, and the update
                // only fires when the current row lapsed or is the caller's own.
                let done = sqlx::query(
                    "INSERT INTO usernames (hash, aci, state, expires_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (hash) DO UPDATE SET aci = excluded.aci, state = excluded.state, \
                     expires_at = CASE WHEN usernames.aci = excluded.aci \
                       AND usernames.expires_at > excluded.expires_at \
                       THEN usernames.expires_at ELSE excluded.expires_at END \
                     WHERE usernames.state <> $5 \
                       AND (usernames.expires_at < $6 OR usernames.aci = excluded.aci)",
                )
                .bind(hash)
                .bind(aci_code(aci))
                .bind(RESERVED)
                .bind(expires_at_ms)
                .bind(CONFIRMED)
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                if done.rows_affected() == 0 {
                    let own: Option<Uuid> = sqlx::query_scalar(
                        "SELECT aci FROM usernames WHERE hash = $1 AND state = $2",
                    )
                    .bind(hash)
                    .bind(CONFIRMED)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
                    tx.commit().await.map_err(map_err)?;
                    return Ok(own == Some(aci_code(aci)));
                }
                sqlx::query("DELETE FROM usernames WHERE aci = $1 AND state = $2 AND hash <> $3")
                    .bind(aci_code(aci))
                    .bind(RESERVED)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(true)
            }

            async fn confirm(
                &self,
                aci: Aci,
                hash: &[u8],
                encrypted_username: Option<&[u8]>,
                new_link_handle: Uuid,
                now_ms: i64,
                hold_expires_at_ms: i64,
                max_holds: usize,
            ) -> StoreResult<ConfirmOutcome> {
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                let row = sqlx::query(concat!(
                    "SELECT aci, state, expires_at FROM usernames WHERE hash = $1 ",
                    $row_lock
                ))
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                if let Some(row) = row {
                    let owner: Uuid = row.try_get(0).map_err(map_err)?;
                    let state: i16 = row.try_get(1).map_err(map_err)?;
                    let expires_at: Option<i64> = row.try_get(2).map_err(map_err)?;
                    let mine = owner == aci_code(aci);
                    if mine && state == CONFIRMED {
                        tx.commit().await.map_err(map_err)?;
                        return Ok(ConfirmOutcome::Confirmed);
                    }
                    let live = state == CONFIRMED || expires_at.is_some_and(|t| t >= now_ms);
                    if !mine && live {
                        tx.commit().await.map_err(map_err)?;
                        return Ok(ConfirmOutcome::Taken);
                    }
                }
                Self::release_confirmed(&mut tx, aci, hash, hold_expires_at_ms).await?;
                let upsert = sqlx::query(
                    "INSERT INTO usernames (hash, aci, state, expires_at) VALUES ($1, $2, $3, NULL) \
                     ON CONFLICT (hash) DO UPDATE SET aci = excluded.aci, state = excluded.state, \
                     expires_at = NULL",
                )
                .bind(hash)
                .bind(aci_code(aci))
                .bind(CONFIRMED)
                .execute(&mut *tx)
                .await;
                match upsert.map_err(map_err) {
                    Ok(_) => {}
                    // Another transaction inserted the hash after our read (PostgreSQL, no
                    // row to lock yet): it won.
                    Err(StoreError::Conflict(_)) => return Ok(ConfirmOutcome::Taken),
                    Err(e) => return Err(e),
                }
                sqlx::query("DELETE FROM usernames WHERE aci = $1 AND state = $2")
                    .bind(aci_code(aci))
                    .bind(RESERVED)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                Self::trim_holds(&mut tx, aci, max_holds).await?;
                sqlx::query("DELETE FROM username_links WHERE aci = $1")
                    .bind(aci_code(aci))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                if let Some(encrypted) = encrypted_username {
                    sqlx::query(
                        "INSERT INTO username_links (handle, aci, encrypted) VALUES ($1, $2, $3)",
                    )
                    .bind(new_link_handle)
                    .bind(aci_code(aci))
                    .bind(encrypted)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)?;
                Ok(ConfirmOutcome::Confirmed)
            }

            async fn clear(
                &self,
                aci: Aci,
                hold_expires_at_ms: i64,
                max_holds: usize,
            ) -> StoreResult<()> {
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                Self::release_confirmed(&mut tx, aci, &[], hold_expires_at_ms).await?;
                Self::trim_holds(&mut tx, aci, max_holds).await?;
                sqlx::query("DELETE FROM username_links WHERE aci = $1")
                    .bind(aci_code(aci))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)
            }

            async fn state(&self, aci: Aci) -> StoreResult<UsernameState> {
                let hash: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT hash FROM usernames WHERE aci = $1 AND state = $2")
                        .bind(aci_code(aci))
                        .bind(CONFIRMED)
                        .fetch_optional(&self.reader)
                        .await
                        .map_err(map_err)?;
                let link_handle: Option<Uuid> =
                    sqlx::query_scalar("SELECT handle FROM username_links WHERE aci = $1")
                        .bind(aci_code(aci))
                        .fetch_optional(&self.reader)
                        .await
                        .map_err(map_err)?;
                Ok(UsernameState { hash, link_handle })
            }

            async fn lookup(&self, hash: &[u8]) -> StoreResult<Option<Aci>> {
                let owner: Option<Uuid> =
                    sqlx::query_scalar("SELECT aci FROM usernames WHERE hash = $1 AND state = $2")
                        .bind(hash)
                        .bind(CONFIRMED)
                        .fetch_optional(&self.reader)
                        .await
                        .map_err(map_err)?;
                Ok(owner.map(Aci::from_uuid))
            }

            async fn set_link(
                &self,
                aci: Aci,
                encrypted_username: &[u8],
                keep_handle: bool,
                new_handle: Uuid,
            ) -> StoreResult<Option<Uuid>> {
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                let has_username: Option<i16> = sqlx::query_scalar(concat!(
                    "SELECT state FROM usernames WHERE aci = $1 AND state = $2 ",
                    $row_lock
                ))
                .bind(aci_code(aci))
                .bind(CONFIRMED)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                if has_username.is_none() {
                    tx.commit().await.map_err(map_err)?;
                    return Ok(None);
                }
                let existing: Option<Uuid> =
                    sqlx::query_scalar("SELECT handle FROM username_links WHERE aci = $1")
                        .bind(aci_code(aci))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_err)?;
                let handle = match existing {
                    Some(h) if keep_handle => h,
                    _ => new_handle,
                };
                sqlx::query("DELETE FROM username_links WHERE aci = $1")
                    .bind(aci_code(aci))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                sqlx::query(
                    "INSERT INTO username_links (handle, aci, encrypted) VALUES ($1, $2, $3)",
                )
                .bind(handle)
                .bind(aci_code(aci))
                .bind(encrypted_username)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(Some(handle))
            }

            async fn delete_link(&self, aci: Aci) -> StoreResult<()> {
                sqlx::query("DELETE FROM username_links WHERE aci = $1")
                    .bind(aci_code(aci))
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?;
                Ok(())
            }

            async fn lookup_link(&self, handle: Uuid) -> StoreResult<Option<Vec<u8>>> {
                sqlx::query_scalar("SELECT encrypted FROM username_links WHERE handle = $1")
                    .bind(handle)
                    .fetch_optional(&self.reader)
                    .await
                    .map_err(map_err)
            }

            async fn delete_account(&self, aci: Aci) -> StoreResult<()> {
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                for table in ["usernames", "username_links"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE aci = $1"))
                        .bind(aci_code(aci))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)
            }

            async fn delete_expired(&self, now_ms: i64) -> StoreResult<u64> {
                let done = sqlx::query(
                    "DELETE FROM usernames WHERE expires_at IS NOT NULL AND expires_at < $1",
                )
                .bind(now_ms)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use sql_profile_stores;
