//! The PostgreSQL backend, for several server processes sharing one database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres};

use crate::sql::{map_err, SqlStore};
use crate::{StoreError, Stores};

/// Connections per process.
const MAX_CONNECTIONS: u32 = 16;
/// How long a caller waits for a free connection before the call fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL database holding every store.
///
/// Nothing is cached in process: every guarantee (single-use prekeys, optimistic account
/// updates, ordered queues) comes from the database, so any number of servers can share it.
#[derive(Clone)]
pub struct PostgresStore {
    inner: SqlStore<Postgres>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and applies pending migrations.
    ///
    /// sqlx's migrator holds a PostgreSQL advisory lock while it runs, so servers starting
    /// together apply each migration exactly once.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(map_err)?;
        // One direct connection first: the pool retries until its timeout and then only says
        // "timed out", while this reports why (refused, unknown database, authentication).
        PgConnection::connect_with(&options)
            .await
            .map_err(map_err)?
            .close()
            .await
            .map_err(map_err)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        migrate(&pool).await?;
        Ok(PostgresStore {
            inner: SqlStore {
                reader: pool.clone(),
                writer: pool,
            },
        })
    }

    /// Every store trait, backed by this database.
    pub fn stores(&self) -> Stores {
        self.inner.stores()
    }

    /// Waits for running statements, then closes every connection.
    pub async fn close(&self) {
        self.inner.writer.close().await;
    }
}

async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::migrate!("./migrations/postgres")
        .run(pool)
        .await
        .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
}

mod stores {
    //! The store traits for PostgreSQL.
    crate::sql::sql_stores!(
        sqlx::Postgres,
        json_in = "::jsonb",
        json_out = "::text",
        lock = "FOR UPDATE SKIP LOCKED"
    );
}

mod profile_stores {
    //! The profile and username stores for PostgreSQL.
    crate::sql_profiles::sql_profile_stores!(sqlx::Postgres, row_lock = "FOR UPDATE");
}
