//! Stores for the tests: a fresh local directory, or a fresh bucket on the S3-protocol server
//! named by `HELIOGRAPH_TEST_S3_URL` (scripts/test and .ci/run start moto's server mode and
//! set it). An unset or unreachable URL fails the S3 tests; they are never skipped.

#![allow(dead_code)]

use heliograph_cdn::{BlobStore, S3Config};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Local,
    S3,
}

/// A store plus whatever keeps it alive.
pub struct TestStore {
    pub store: BlobStore,
    pub s3: Option<S3Config>,
    _dir: Option<tempfile::TempDir>,
}

/// The S3 test endpoint; panics with instructions when it is not configured.
pub fn s3_url() -> String {
    match std::env::var("HELIOGRAPH_TEST_S3_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "HELIOGRAPH_TEST_S3_URL is not set: the S3 backend tests need an S3-protocol server. \
             Run them through scripts/test (which starts moto's server mode), or start one with \
             `pip install 'moto[server]' && moto_server -H 127.0.0.1 -p 5000` and set \
             HELIOGRAPH_TEST_S3_URL=http://127.0.0.1:5000"
        ),
    }
}

/// Creates a fresh bucket on the S3 test server and returns its settings.
pub async fn fresh_bucket() -> S3Config {
    let url = s3_url();
    let bucket = format!("heliograph-test-{}", uuid::Uuid::new_v4().simple());
    let resp = reqwest::Client::new()
        .put(format!("{}/{bucket}", url.trim_end_matches('/')))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the S3 test server at {url} is unreachable: {e}"));
    assert!(
        resp.status().is_success(),
        "creating bucket {bucket} at {url} failed: {}",
        resp.status()
    );
    S3Config {
        endpoint: url,
        bucket,
        region: "us-east-1".into(),
        access_key_id: "heliograph-test".into(),
        secret_access_key: "heliograph-test-secret".into(),
        path_style: true,
    }
}

/// A fresh, empty store on `backend`.
pub async fn store(backend: Backend) -> TestStore {
    match backend {
        Backend::Local => {
            let dir = tempfile::tempdir().unwrap();
            TestStore {
                store: BlobStore::local(&dir.path().join("blobs")).unwrap(),
                s3: None,
                _dir: Some(dir),
            }
        }
        Backend::S3 => {
            let config = fresh_bucket().await;
            TestStore {
                store: BlobStore::s3(&config).unwrap(),
                s3: Some(config),
                _dir: None,
            }
        }
    }
}
