//! The blob store: a thin layer over `object_store` with the few operations the CDN needs,
//! on the local filesystem (default) or any S3-compatible service.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    WriteMultipart,
};

/// S3 multipart parts must be at least 5 MiB (except the last); bodies below this size are
/// buffered and written with one PUT instead.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// At most this many multipart parts of one writer are in flight at once.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The object path is not acceptable to the store.
    #[error("invalid object path: {0}")]
    InvalidPath(String),
    /// Configuration is unusable (say which setting).
    #[error("blob store configuration: {0}")]
    Config(String),
    /// An object that should be there is gone (removed concurrently).
    #[error("object {0} is missing")]
    Missing(String),
    /// The backend failed (I/O, network, S3 error).
    #[error("blob store: {0}")]
    Backend(#[from] object_store::Error),
}

/// Connection settings for an S3-compatible store.
#[derive(Clone, Default)]
pub struct S3Config {
    /// Endpoint URL, e.g. `http://127.0.0.1:9000`; empty = AWS for `region`.
    pub endpoint: String,
    /// Bucket name.
    pub bucket: String,
    /// Region (also part of the signing scope); `us-east-1` suits most S3-compatible servers.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Path-style requests (`endpoint/bucket/key`) instead of virtual-hosted style.
    pub path_style: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// Which backend a [`BlobStore`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Files under a local directory.
    Local,
    /// An S3-compatible service.
    S3,
}

/// Size and age of one stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// Object path inside the store.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, milliseconds since the epoch (the store's clock).
    pub last_modified_ms: i64,
    /// Entity tag, when the backend has one.
    pub e_tag: Option<String>,
}

impl BlobMeta {
    fn from_object(meta: object_store::ObjectMeta) -> Self {
        BlobMeta {
            path: meta.location.to_string(),
            size: meta.size,
            last_modified_ms: meta.last_modified.timestamp_millis(),
            e_tag: meta.e_tag,
        }
    }
}

/// A byte stream read from the store.
pub type BlobStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// The blob store shared by every CDN route. Cheap to clone.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    kind: BackendKind,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobStore({:?})", self.kind)
    }
}

fn path(p: &str) -> Result<Path, BlobError> {
    Path::parse(p).map_err(|_| BlobError::InvalidPath(p.to_owned()))
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

impl BlobStore {
    /// Files under `root` (created if missing). Suits one node; several nodes need a store they
    /// all reach, such as S3.
    pub fn local(root: &FsPath) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)
            .map_err(|e| BlobError::Config(format!("cannot create {}: {e}", root.display())))?;
        let fs = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| BlobError::Config(format!("{}: {e}", root.display())))?
            .with_automatic_cleanup(true);
        Ok(BlobStore {
            inner: Arc::new(fs),
            kind: BackendKind::Local,
        })
    }

    /// An S3-compatible store. Plain `http://` endpoints are allowed (local test servers).
    pub fn s3(config: &S3Config) -> Result<Self, BlobError> {
        if config.bucket.is_empty() {
            return Err(BlobError::Config("the S3 bucket is not set".into()));
        }
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(if config.region.is_empty() {
                "us-east-1"
            } else {
                &config.region
            })
            .with_virtual_hosted_style_request(!config.path_style);
        if !config.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&config.access_key_id)
                .with_secret_access_key(&config.secret_access_key);
        }
        if !config.endpoint.is_empty() {
            builder = builder
                .with_endpoint(config.endpoint.trim_end_matches('/'))
                .with_allow_http(config.endpoint.starts_with("http://"));
        }
        let s3 = builder
            .build()
            .map_err(|e| BlobError::Config(e.to_string()))?;
        Ok(BlobStore {
            inner: Arc::new(s3),
            kind: BackendKind::S3,
        })
    }

    /// Proves at start-up that the store is reachable, writable, and decides conditional
    /// PUTs (which uploads from several nodes rely on): writes a probe object twice with
    /// put-if-absent, reads it back and removes it.
    pub async fn check(&self) -> Result<(), BlobError> {
        let probe = format!("heliograph-probe/{}", uuid::Uuid::new_v4().simple());
        let first = self
            .put_if_absent(&probe, Bytes::from_static(b"probe"))
            .await?;
        let second = self
            .put_if_absent(&probe, Bytes::from_static(b"again"))
            .await;
        let read = self.get(&probe).await;
        self.delete(&probe).await?;
        if !first || second? || read?.as_deref() != Some(&b"probe"[..]) {
            return Err(BlobError::Config(
                "the store does not honour conditional PUT (If-None-Match: *), which \
                 concurrent uploads need; use a store that supports it"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// Writes `bytes` at `p`, replacing any object there.
    pub async fn put(&self, p: &str, bytes: Bytes) -> Result<(), BlobError> {
        self.inner.put(&path(p)?, PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// Writes `bytes` at `p` only if nothing is there yet; `false` if an object already exists.
    /// This is the one atomic decision the upload protocol relies on across nodes.
    pub async fn put_if_absent(&self, p: &str, bytes: Bytes) -> Result<bool, BlobError> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .inner
            .put_opts(&path(p)?, PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a whole (small) object; `None` if absent.
    pub async fn get(&self, p: &str) -> Result<Option<Bytes>, BlobError> {
        match self.inner.get(&path(p)?).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Size and age of an object; `None` if absent.
    pub async fn head(&self, p: &str) -> Result<Option<BlobMeta>, BlobError> {
        match self.inner.head(&path(p)?).await {
            Ok(m) => Ok(Some(BlobMeta::from_object(m))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams an object, or the byte range `range` of it; `None` if absent.
    pub async fn read(
        &self,
        p: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<(BlobMeta, BlobStream)>, BlobError> {
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        match self.inner.get_opts(&path(p)?, opts).await {
            Ok(r) => {
                let meta = BlobMeta::from_object(r.meta.clone());
                let stream = r.into_stream().map_err(BlobError::from).boxed();
                Ok(Some((meta, stream)))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an object; removing an absent object is not an error.
    pub async fn delete(&self, p: &str) -> Result<(), BlobError> {
        match self.inner.delete(&path(p)?).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object whose path starts with the directory `prefix` (recursively).
    pub async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        let prefix = path(prefix)?;
        let mut out = Vec::new();
        let mut stream = self.inner.list(Some(&prefix));
        while let Some(item) = stream.next().await {
            match item {
                Ok(meta) => out.push(BlobMeta::from_object(meta)),
                // A concurrent delete can remove an entry while it is being listed.
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// A writer that streams a new object to `p`. Nothing is visible at `p` until
    /// [`BlobWriter::finish`]; dropping or aborting the writer leaves nothing behind (an S3
    /// multipart upload that cannot be aborted is cleaned up by the bucket's lifecycle rules).
    pub fn writer(&self, p: &str) -> Result<BlobWriter, BlobError> {
        Ok(BlobWriter {
            store: self.clone(),
            path: path(p)?,
            buffer: BytesMut::new(),
            multipart: None,
            written: 0,
        })
    }
}

/// Streams one object into the store: small objects are buffered and written with one PUT,
/// larger ones go through a multipart upload in [`PART_SIZE`] parts.
pub struct BlobWriter {
    store: BlobStore,
    path: Path,
    buffer: BytesMut,
    multipart: Option<WriteMultipart>,
    written: u64,
}

impl BlobWriter {
    /// Appends `chunk`, waiting while too many parts are in flight.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        self.written += chunk.len() as u64;
        if let Some(mp) = &mut self.multipart {
            mp.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await?;
            mp.write(chunk);
            return Ok(());
        }
        self.buffer.extend_from_slice(chunk);
        if self.buffer.len() >= PART_SIZE {
            let upload = self.store.inner.put_multipart(&self.path).await?;
            let mut mp = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            mp.write(&self.buffer);
            self.buffer = BytesMut::new();
            self.multipart = Some(mp);
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the object visible at its path; returns its size.
    pub async fn finish(self) -> Result<u64, BlobError> {
        match self.multipart {
            Some(mp) => {
                mp.finish().await?;
            }
            None => {
                self.store
                    .inner
                    .put(&self.path, PutPayload::from(self.buffer.freeze()))
                    .await?;
            }
        }
        Ok(self.written)
    }

    /// Discards everything written.
    pub async fn abort(self) {
        if let Some(mp) = self.multipart {
            if let Err(e) = mp.abort().await {
                tracing::warn!(error = %e, "could not abort a multipart upload");
            }
        }
    }
}
