//! The blob store conformance suite, run on the local filesystem and on S3 (moto).

mod common;

use bytes::Bytes;
use common::{store, Backend};
use futures::TryStreamExt;
use heliograph_cdn::store::PART_SIZE;
use heliograph_cdn::BlobStore;

async fn read_all(store: &BlobStore, path: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let (_, stream) = store
        .read(path, range)
        .await
        .unwrap()
        .expect("object exists");
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn put_get_head_delete(backend: Backend) {
    let t = store(backend).await;
    let s = &t.store;
    assert_eq!(s.get("a/b").await.unwrap(), None);
    assert_eq!(s.head("a/b").await.unwrap(), None);
    s.put("a/b", Bytes::from_static(b"hello")).await.unwrap();
    assert_eq!(s.get("a/b").await.unwrap().as_deref(), Some(&b"hello"[..]));
    let meta = s.head("a/b").await.unwrap().unwrap();
    assert_eq!(meta.size, 5);
    assert_eq!(meta.path, "a/b");
    let age = chrono::Utc::now().timestamp_millis() - meta.last_modified_ms;
    assert!(
        (-120_000..120_000).contains(&age),
        "last_modified is now ({age} ms)"
    );
    s.put("a/b", Bytes::from_static(b"bye")).await.unwrap();
    assert_eq!(s.get("a/b").await.unwrap().as_deref(), Some(&b"bye"[..]));
    s.delete("a/b").await.unwrap();
    assert_eq!(s.get("a/b").await.unwrap(), None);
    s.delete("a/b").await.unwrap();
    assert!(s.put("../escape", Bytes::new()).await.is_err());
}

async fn start_up_check_passes(backend: Backend) {
    let t = store(backend).await;
    t.store.check().await.unwrap();
    assert!(t.store.list("heliograph-probe").await.unwrap().is_empty());
}

async fn put_if_absent_decides_once(backend: Backend) {
    let t = store(backend).await;
    let s = &t.store;
    assert!(s.put_if_absent("m/0", "first".into()).await.unwrap());
    assert!(!s.put_if_absent("m/0", "second".into()).await.unwrap());
    assert_eq!(s.get("m/0").await.unwrap().as_deref(), Some(&b"first"[..]));

    // Many racers at once: exactly one wins.
    let racers = (0..8).map(|i| {
        let s = s.clone();
        async move { s.put_if_absent("m/race", Bytes::from(vec![i as u8])).await }
    });
    let results = futures::future::join_all(racers).await;
    let wins = results.iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(wins, 1);
}

async fn list_is_recursive_and_sorted(backend: Backend) {
    let t = store(backend).await;
    let s = &t.store;
    for p in ["d/x/2", "d/x/1", "d/y", "e/z", "dd/w"] {
        s.put(p, Bytes::from_static(b"x")).await.unwrap();
    }
    let paths: Vec<String> = s
        .list("d")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.path)
        .collect();
    assert_eq!(paths, ["d/x/1", "d/x/2", "d/y"]);
    assert!(s.list("nothing").await.unwrap().is_empty());
}

async fn ranges(backend: Backend) {
    let t = store(backend).await;
    let s = &t.store;
    let data = pattern(1000, 7);
    s.put("r", Bytes::from(data.clone())).await.unwrap();
    assert_eq!(read_all(s, "r", None).await, data);
    assert_eq!(read_all(s, "r", Some(10..20)).await, &data[10..20]);
    assert_eq!(read_all(s, "r", Some(999..1000)).await, &data[999..]);
    assert!(s.read("absent", None).await.unwrap().is_none());
}

async fn writers_small_large_and_aborted(backend: Backend) {
    let t = store(backend).await;
    let s = &t.store;

    let mut w = s.writer("w/small").unwrap();
    w.write(b"abc").await.unwrap();
    w.write(b"def").await.unwrap();
    assert_eq!(
        s.head("w/small").await.unwrap(),
        None,
        "invisible before finish"
    );
    assert_eq!(w.finish().await.unwrap(), 6);
    assert_eq!(
        s.get("w/small").await.unwrap().as_deref(),
        Some(&b"abcdef"[..])
    );

    // Larger than two parts, written in odd-sized chunks: goes through multipart.
    let big = pattern(2 * PART_SIZE + 12345, 3);
    let mut w = s.writer("w/big").unwrap();
    for chunk in big.chunks(777_777) {
        w.write(chunk).await.unwrap();
    }
    assert_eq!(w.finish().await.unwrap(), big.len() as u64);
    assert_eq!(
        s.head("w/big").await.unwrap().unwrap().size,
        big.len() as u64
    );
    assert_eq!(read_all(s, "w/big", None).await, big);
    let mid = PART_SIZE as u64 - 10..PART_SIZE as u64 + 10;
    assert_eq!(
        read_all(s, "w/big", Some(mid.clone())).await,
        &big[mid.start as usize..mid.end as usize]
    );

    let mut w = s.writer("w/aborted").unwrap();
    w.write(&pattern(PART_SIZE + 1, 1)).await.unwrap();
    w.abort().await;
    assert_eq!(s.head("w/aborted").await.unwrap(), None);
    let mut w = s.writer("w/dropped").unwrap();
    w.write(b"x").await.unwrap();
    drop(w);
    assert_eq!(s.head("w/dropped").await.unwrap(), None);
}

macro_rules! suite {
    ($($name:ident),*) => {
        mod local {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Local).await } )*
        }
        mod s3 {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::S3).await } )*
        }
    };
}

suite!(
    start_up_check_passes,
    put_get_head_delete,
    put_if_absent_decides_once,
    list_is_recursive_and_sorted,
    ranges,
    writers_small_large_and_aborted
);

#[tokio::test]
async fn s3_check_fails_for_a_missing_bucket() {
    let mut config = common::fresh_bucket().await;
    config.bucket = format!("{}-absent", config.bucket);
    let store = BlobStore::s3(&config).unwrap();
    assert!(store.check().await.is_err());
}
