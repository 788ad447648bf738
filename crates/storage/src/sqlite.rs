//! The embedded SQLite backend: one file, WAL journal, a single writer connection.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use crate::sql::{map_err, SqlStore};
use crate::{StoreError, Stores};

/// How long a connection waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections of a file-backed store (WAL lets them run beside the writer).
const READERS: u32 = 4;
/// The WAL size [`SqliteStore::bound_wal`] truncates above, and the size SQLite itself trims a
/// reset WAL back to (`journal_size_limit`).
pub const WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// A SQLite database holding every store.
///
/// Writes go through a pool of exactly one connection, so writers in this process queue up
/// instead of failing with `SQLITE_BUSY`; reads use a separate pool, which WAL lets run
/// concurrently with the writer. `synchronous=FULL` makes every acknowledged commit survive
/// power loss, not just a process crash.
///
/// SQLite's automatic checkpoints are passive: while readers keep snapshots open, they copy
/// pages back but never restart the WAL, so under sustained load the file only grows.
/// [`SqliteStore::bound_wal`], called periodically, truncates it.
#[derive(Clone)]
pub struct SqliteStore {
    inner: SqlStore<Sqlite>,
    /// The `-wal` file beside the database; `None` in memory.
    wal: Option<PathBuf>,
}

/// What one [`SqliteStore::bound_wal`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalCheckpoint {
    /// The WAL was within the limit (or the store is in memory): nothing done.
    WithinLimit,
    /// The WAL was checkpointed and truncated.
    Truncated {
        /// Its size before.
        bytes: u64,
    },
    /// A reader or writer kept the checkpoint from completing within the busy timeout; the
    /// next call tries again.
    Busy {
        /// The WAL's size.
        bytes: u64,
    },
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("journal_size_limit", WAL_LIMIT_BYTES.to_string());
        let writer = pool(options.clone(), 1).await?;
        // Migrate before the readers connect so they never see a half-built schema.
        migrate(&writer).await?;
        let reader = pool(options.read_only(true), READERS).await?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(SqliteStore {
            inner: SqlStore { reader, writer },
            wal: Some(PathBuf::from(wal)),
        })
    }

    /// Opens a fresh private in-memory database (for tests). It lives as long as the store;
    /// reads and writes share its one connection.
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(map_err)?
            .foreign_keys(true);
        let writer = pool(options, 1).await?;
        migrate(&writer).await?;
        Ok(SqliteStore {
            inner: SqlStore {
                reader: writer.clone(),
                writer,
            },
            wal: None,
        })
    }

    /// Every store trait, backed by this database.
    pub fn stores(&self) -> Stores {
        self.inner.stores()
    }

    /// Checkpoints and truncates the WAL when it has grown past `limit` bytes. The checkpoint
    /// runs on the writer connection, so writes of this process wait behind it while it copies
    /// the WAL's pages back into the database; it waits for readers on older snapshots up to
    /// the busy timeout.
    pub async fn bound_wal(&self, limit: u64) -> Result<WalCheckpoint, StoreError> {
        let Some(path) = &self.wal else {
            return Ok(WalCheckpoint::WithinLimit);
        };
        let bytes = match tokio::fs::metadata(path).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(StoreError::Backend(format!("cannot stat the WAL: {e}"))),
        };
        if bytes <= limit {
            return Ok(WalCheckpoint::WithinLimit);
        }
        // (busy, frames in the WAL, frames checkpointed); busy = 1 when it could not finish.
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.inner.writer)
            .await
            .map_err(map_err)?;
        Ok(if busy == 0 {
            WalCheckpoint::Truncated { bytes }
        } else {
            WalCheckpoint::Busy { bytes }
        })
    }

    /// Waits for running statements, then closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.inner.reader.close().await;
        self.inner.writer.close().await;
    }
}

/// A pool of exactly `size` connections that never expire: an in-memory database vanishes
/// with its last connection, and reconnecting a file costs a schema read for nothing.
async fn pool(options: SqliteConnectOptions, size: u32) -> Result<SqlitePool, StoreError> {
    SqlitePoolOptions::new()
        .min_connections(size)
        .max_connections(size)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .map_err(map_err)
}

async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::migrate!("./migrations/sqlite")
        .run(pool)
        .await
        .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
}

mod stores {
    //! The store traits for SQLite.
    crate::sql::sql_stores!(sqlx::Sqlite, json_in = "", json_out = "", lock = "");
}

mod profile_stores {
    crate::sql_profiles::sql_profile_stores!(sqlx::Sqlite, row_lock = "");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The durability and locking settings reach every connection of a file-backed store.
    #[tokio::test]
    async fn file_connections_use_wal_full_sync_and_busy_timeout() {
        let dir = std::env::temp_dir().join(format!("heliograph-pragmas-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("db.sqlite")).await.unwrap();
        for pool in [&store.inner.writer, &store.inner.reader] {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(sync, 2, "synchronous=FULL");
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(fk, 1);
            let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(busy, 10_000);
            let limit: i64 = sqlx::query_scalar("PRAGMA journal_size_limit")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(limit as u64, WAL_LIMIT_BYTES);
        }
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// With readers busy all the time, the WAL keeps growing; `bound_wal` truncates it and
    /// every committed row is still there afterwards.
    #[tokio::test]
    async fn bound_wal_truncates_a_wal_that_readers_keep_growing() {
        let dir = std::env::temp_dir().join(format!("heliograph-wal-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("db.sqlite")).await.unwrap();
        let wal = store.wal.clone().unwrap();
        sqlx::query("CREATE TABLE filler (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            .execute(&store.inner.writer)
            .await
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let pool = store.inner.reader.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM filler")
                            .fetch_one(&pool)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for i in 0..400i64 {
            sqlx::query("INSERT INTO filler (id, body) VALUES (?, ?)")
                .bind(i)
                .bind(vec![7u8; 8192])
                .execute(&store.inner.writer)
                .await
                .unwrap();
        }
        let before = std::fs::metadata(&wal).unwrap().len();
        assert!(before > 1_000_000, "the WAL grew ({before} bytes)");
        assert_eq!(
            store.bound_wal(u64::MAX).await.unwrap(),
            WalCheckpoint::WithinLimit
        );
        // Readers are still running while it truncates.
        let outcome = store.bound_wal(1_000_000).await.unwrap();
        assert_eq!(outcome, WalCheckpoint::Truncated { bytes: before });
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            r.await.unwrap();
        }
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM filler")
            .fetch_one(&store.inner.reader)
            .await
            .unwrap();
        assert_eq!(rows, 400);
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
