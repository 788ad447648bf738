//! Runs the conformance suite on PostgreSQL.
//!
//! The database comes from `HELIOGRAPH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). An unreachable database fails the tests; set
//! `HELIOGRAPH_SKIP_POSTGRES=1` to skip them on purpose.

use heliograph_storage::{conformance, PostgresStore};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The store, or `None` when PostgreSQL tests are explicitly skipped.
async fn store() -> Option<PostgresStore> {
    if std::env::var("HELIOGRAPH_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
        eprintln!("HELIOGRAPH_SKIP_POSTGRES=1: skipping");
        return None;
    }
    let url =
        std::env::var("HELIOGRAPH_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    match PostgresStore::connect(&url).await {
        Ok(store) => Some(store),
        Err(e) => panic!(
            "PostgreSQL at HELIOGRAPH_TEST_POSTGRES_URL is unreachable ({e}); \
             start it or set HELIOGRAPH_SKIP_POSTGRES=1"
        ),
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(store) = store().await else { return };
                conformance::$name(&store.stores()).await;
                store.close().await;
            }
        )*
    };
}

suite!(
    accounts,
    account_conflicts,
    account_updates,
    keys,
    keys_concurrent_take,
    messages,
    messages_expiry,
    sessions,
    used_tokens,
    profiles,
    usernames,
    usernames_concurrent,
    username_links,
    usernames_expiry,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_the_database() {
    // Two pools stand in for two servers: connect (and migrate) at once, then take keys from
    // both; each key still goes out once.
    let Some(_) = store().await else { return };
    let (a, b) = tokio::join!(store(), store());
    let (a, b) = (a.unwrap(), b.unwrap());
    let account = conformance::sample_account();
    a.stores().accounts.create(&account).await.unwrap();
    conformance::assert_account_present(&b.stores(), &account).await;
    b.stores().accounts.delete(account.aci).await.unwrap();
    let (sa, sb) = (a.stores(), b.stores());
    tokio::join!(
        conformance::keys_concurrent_take(&sa),
        conformance::keys_concurrent_take(&sb),
    );
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_start_migrates_once() {
    // Several servers starting at once on an empty database: sqlx's migrator serializes them
    // with an advisory lock, so every one comes up and the schema is applied once.
    let Some(admin) = store().await else { return };
    admin.close().await;
    let url =
        std::env::var("HELIOGRAPH_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let name = format!("heliograph_migrate_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let fresh_url = match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("database URL without a database name"),
    };

    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = fresh_url.clone();
            tokio::spawn(async move { PostgresStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap().unwrap());
    }
    conformance::accounts(&stores[0].stores()).await;
    for store in &stores {
        store.close().await;
    }
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
}
