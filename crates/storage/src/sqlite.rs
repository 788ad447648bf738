//! The embedded SQLite backend: one file, WAL journal, a single writer connection.

use std::path::Path;
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

/// A SQLite database holding every store.
///
/// Writes go through a pool of exactly one connection, so writers in this process queue up
/// instead of failing with `SQLITE_BUSY`; reads use a separate pool, which WAL lets run
/// concurrently with the writer. `synchronous=FULL` makes every acknowledged commit survive
/// power loss, not just a process crash.
#[derive(Clone)]
pub struct SqliteStore {
    inner: SqlStore<Sqlite>,
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
            .foreign_keys(true);
        let writer = pool(options.clone(), 1).await?;
        // Migrate before the readers connect so they never see a half-built schema.
        migrate(&writer).await?;
        let reader = pool(options.read_only(true), READERS).await?;
        Ok(SqliteStore {
            inner: SqlStore { reader, writer },
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
        })
    }

    /// Every store trait, backed by this database.
    pub fn stores(&self) -> Stores {
        self.inner.stores()
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
        }
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
