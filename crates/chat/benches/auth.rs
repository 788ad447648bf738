//! Criterion benchmarks of the auth check every authenticated request and socket upgrade
//! pays: parsing the Basic username, verifying the salted password hash (HKDF-SHA256), and the
//! whole `authenticate` (account lookup on the SQLite store + verification). Run with
//! `cargo bench -p heliograph-chat`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use heliograph_chat::auth::{authenticate, hash_secret, parse_username, verify_secret};
use heliograph_chat::clock::SystemClock;
use heliograph_chat::{Deps, NoDisconnect};
use heliograph_storage::SqliteStore;
use heliograph_types::DeviceId;

const PASSWORD: &str = "lXl5GD5lvJMB2qWDwsU1Og";

fn auth(c: &mut Criterion) {
    let stored = hash_secret(PASSWORD);
    let mut g = c.benchmark_group("auth");
    g.bench_function("parse_username", |b| {
        b.iter(|| parse_username(black_box("9d0652a3-dcc3-4d11-975f-74d61598733f.2")))
    });
    g.bench_function("verify_password", |b| {
        b.iter(|| verify_secret(black_box(&stored), black_box(PASSWORD)))
    });
    g.bench_function("verify_wrong_password", |b| {
        b.iter(|| verify_secret(black_box(&stored), black_box("wrong")))
    });
    g.bench_function("hash_password", |b| {
        b.iter(|| hash_secret(black_box(PASSWORD)))
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("heliograph-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = rt
        .block_on(SqliteStore::open(&dir.join("bench.db")))
        .expect("open SQLite");
    let deps = Deps {
        stores: store.stores(),
        clock: Arc::new(SystemClock),
        disconnector: Arc::new(NoDisconnect),
        avatars: Arc::new(heliograph_chat::profiles::NoAvatars),
        limits: Arc::new(heliograph_chat::limits::RateLimiters::disabled()),
    };
    let mut account = heliograph_storage::conformance::sample_account();
    account.devices[0].password = stored.clone();
    rt.block_on(deps.stores.accounts.create(&account))
        .expect("account");
    g.bench_function("authenticate_sqlite", |b| {
        b.iter(|| {
            rt.block_on(authenticate(
                &deps,
                account.aci,
                DeviceId::PRIMARY,
                PASSWORD,
            ))
            .expect("authenticates")
        })
    });
    g.finish();
    rt.block_on(store.close());
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, auth);
criterion_main!(benches);
