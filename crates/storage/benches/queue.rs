//! Criterion benchmarks of the message queue, the store's hot path: append (one device, and a
//! ten-device send in one transaction), read from the head (64 rows, as a socket refill asks
//! for, and 320, as it asks with 256 pushes outstanding), and delete on acknowledgement.
//!
//! SQLite runs as the server runs it: a file in WAL mode with `synchronous=FULL`, so every
//! append and delete is a durable commit. PostgreSQL runs at `HELIOGRAPH_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`) and is skipped, with a notice, when it
//! is unreachable. Run with `cargo bench -p heliograph-storage`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use heliograph_storage::{NewMessage, PostgresStore, SqliteStore, Stores};
use heliograph_types::{Aci, DeviceId, MessageGuid};

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn message(aci: Aci, device: u32) -> NewMessage {
    NewMessage {
        aci,
        device: DeviceId::new(device).expect("valid device"),
        guid: MessageGuid::random(),
        server_timestamp_ms: 1_700_000_000_000,
        expires_at_ms: i64::MAX / 2,
        story: false,
        urgent: true,
        // A stored envelope of a 512-byte ciphertext is about 650 bytes.
        envelope: vec![0xAB; 650],
    }
}

fn bench_backend(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, stores: &Stores) {
    let q = stores.messages.clone();
    let mut g = c.benchmark_group(format!("queue/{name}"));
    g.sample_size(30).measurement_time(Duration::from_secs(4));

    let aci = Aci::random();
    g.bench_function("insert_1", |b| {
        b.iter(|| rt.block_on(q.insert(&[message(aci, 1)])).expect("insert"))
    });
    g.bench_function("insert_10_devices", |b| {
        b.iter(|| {
            let batch: Vec<_> = (1..=10).map(|d| message(aci, d)).collect();
            rt.block_on(q.insert(&batch)).expect("insert")
        })
    });

    // A queue of 1000 messages to read from the head.
    let reader = Aci::random();
    let backlog: Vec<_> = (0..1000).map(|_| message(reader, 1)).collect();
    rt.block_on(q.insert(&backlog)).expect("backlog");
    for n in [64u32, 320] {
        g.bench_with_input(BenchmarkId::new("read_head", n), &n, |b, &n| {
            b.iter(|| {
                rt.block_on(q.read(reader, DeviceId::PRIMARY, None, n))
                    .expect("read")
            })
        });
    }

    // Delete on ack: the messages to delete are inserted (untimed) in one transaction.
    let acker = Aci::random();
    g.bench_function("delete", |b| {
        b.iter_custom(|iters| {
            let batch: Vec<_> = (0..iters).map(|_| message(acker, 1)).collect();
            rt.block_on(q.insert(&batch)).expect("insert");
            let started = Instant::now();
            for m in &batch {
                rt.block_on(q.delete(acker, DeviceId::PRIMARY, m.guid))
                    .expect("delete");
            }
            started.elapsed()
        })
    });
    g.finish();
    for a in [aci, reader, acker] {
        rt.block_on(q.delete_account(a)).expect("cleanup");
    }
}

fn queue(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let dir = std::env::temp_dir().join(format!("heliograph-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite = rt
        .block_on(SqliteStore::open(&dir.join("bench.db")))
        .expect("open SQLite");
    bench_backend(c, "sqlite", &rt, &sqlite.stores());
    rt.block_on(sqlite.close());
    let _ = std::fs::remove_dir_all(&dir);

    let url = std::env::var("HELIOGRAPH_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG.into());
    match rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), private_schema(&url)).await
    }) {
        Ok(Ok((schema, pg))) => {
            bench_backend(c, "postgres", &rt, &pg.stores());
            rt.block_on(pg.close());
            let _ = rt.block_on(drop_schema(&url, &schema));
        }
        Ok(Err(e)) => {
            eprintln!("PostgreSQL at {url} is unreachable ({e}): skipping its benchmarks")
        }
        Err(_) => eprintln!("PostgreSQL at {url} did not answer in 5 s: skipping its benchmarks"),
    }
}

/// Opens the store in a schema of its own, so this run's migrations never meet those another
/// branch applied to the shared database.
async fn private_schema(url: &str) -> Result<(String, PostgresStore), String> {
    use sqlx::Connection;
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let store = PostgresStore::connect(&scoped)
        .await
        .map_err(|e| e.to_string())?;
    Ok((schema, store))
}

async fn drop_schema(url: &str, schema: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await?;
    conn.close().await
}

criterion_group!(benches, queue);
criterion_main!(benches);
