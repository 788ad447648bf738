//! Runs the conformance suite on SQLite: in memory, and on a file that is reopened.

use std::path::PathBuf;

use heliograph_storage::{conformance, SqliteStore};

async fn memory() -> SqliteStore {
    SqliteStore::open_in_memory().await.unwrap()
}

macro_rules! in_memory {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let store = memory().await;
                conformance::$name(&store.stores()).await;
                store.close().await;
            }
        )*
    };
}

in_memory!(
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

/// A database file path no other test uses, removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("heliograph-storage-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDb(dir)
    }

    fn path(&self) -> PathBuf {
        self.0.join("heliograph.db")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_backed_suite_and_reopen() {
    let dir = TempDb::new();
    let store = SqliteStore::open(&dir.path()).await.unwrap();
    conformance::run_all(&store.stores()).await;

    let account = conformance::sample_account();
    store.stores().accounts.create(&account).await.unwrap();
    store.close().await;

    // Reopening runs the (already applied) migrations again and finds the data.
    let store = SqliteStore::open(&dir.path()).await.unwrap();
    conformance::assert_account_present(&store.stores(), &account).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file() {
    // Two stores on one file stand in for two processes: the busy timeout makes their
    // writers wait for each other instead of failing.
    let dir = TempDb::new();
    let a = SqliteStore::open(&dir.path()).await.unwrap();
    let b = SqliteStore::open(&dir.path()).await.unwrap();
    let (sa, sb) = (a.stores(), b.stores());
    tokio::join!(
        conformance::keys_concurrent_take(&sa),
        conformance::messages(&sb),
    );
    let account = conformance::sample_account();
    a.stores().accounts.create(&account).await.unwrap();
    conformance::assert_account_present(&b.stores(), &account).await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usernames_expiry_counts_on_a_private_database() {
    let store = memory().await;
    conformance::usernames_expiry_with(&store.stores(), true).await;
    store.close().await;
}
