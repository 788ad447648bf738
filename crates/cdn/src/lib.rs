//! Heliograph's own CDN and blob storage.
//!
//! - [`store`]: blobs through `object_store`, on the local filesystem (default) or any
//!   S3-compatible service.
//! - CDN3 (`/cdn3`): attachments. Resumable uploads with the tus 1.0.0 protocol (creation,
//!   creation-with-upload, expiration), authorised by the JWT in the upload form, and
//!   unauthenticated downloads with byte ranges.
//! - CDN0 (`/cdn0`): profile avatars, uploaded with S3 POST-policy forms and served back at
//!   their key.
//! - Expiry: unfinished uploads expire, finished attachments are deleted after a retention
//!   period, avatars stay until the profile replaces them ([`Cdn::delete`]).
//!
//! The chat API hands out forms ([`Cdn::attachment_upload_form`], [`Cdn::avatar_upload_form`]);
//! everything else happens on the routes of [`Cdn::router`].

mod avatar;
pub mod credential;
mod download;
pub mod keys;
pub mod policy;
pub mod range;
pub mod store;
mod sweep;
mod tus;
pub mod uploads;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use keys::{AttachmentKey, AvatarKey, InvalidKey};
pub use policy::PostPolicyForm;
pub use store::{BlobError, BlobStore, S3Config};
pub use sweep::SweepReport;

use credential::CredentialSigner;
use policy::PolicySigner;
use uploads::Uploads;

/// The CDN number of attachment upload forms (tus).
pub const ATTACHMENTS_CDN: u32 = 3;

/// Milliseconds since the epoch; a trait so tests can move time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now_ms(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// How the CDN behaves.
#[derive(Clone)]
pub struct CdnConfig {
    /// Public base URL of CDN0 (avatars) as clients reach it, without a trailing slash, e.g.
    /// `https://chat.example.org/cdn0`.
    pub cdn0_base: String,
    /// Public base URL of CDN3 (attachments), e.g. `https://chat.example.org/cdn3`.
    pub cdn3_base: String,
    /// Largest attachment a form may be issued for (the official default is 100 MiB).
    pub max_attachment_bytes: u64,
    /// Finished attachments are deleted this long after upload.
    pub attachment_retention_ms: i64,
    /// Unfinished uploads are discarded this long after creation (`Upload-Expires`).
    pub incomplete_upload_ttl_ms: i64,
    /// Upload credentials stop working this long after they were issued.
    pub credential_ttl_ms: i64,
    /// 32 secret bytes every node shares; the upload-credential key and (without S3) the
    /// POST-policy key are derived from it.
    pub secret_root: [u8; 32],
    /// The S3 identity that signs avatar forms, when blobs live in S3; `None` derives one.
    pub s3_identity: Option<S3Config>,
}

impl std::fmt::Debug for CdnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdnConfig")
            .field("cdn0_base", &self.cdn0_base)
            .field("cdn3_base", &self.cdn3_base)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .field("attachment_retention_ms", &self.attachment_retention_ms)
            .field("incomplete_upload_ttl_ms", &self.incomplete_upload_ttl_ms)
            .field("credential_ttl_ms", &self.credential_ttl_ms)
            .field("s3_identity", &self.s3_identity)
            .finish_non_exhaustive()
    }
}

impl CdnConfig {
    /// Defaults for a server reachable at `origin` (e.g. `https://127.0.0.1:8443`): the
    /// official limits and a 30-day retention.
    pub fn for_origin(origin: &str, secret_root: [u8; 32]) -> Self {
        let origin = origin.trim_end_matches('/');
        CdnConfig {
            cdn0_base: format!("{origin}/cdn0"),
            cdn3_base: format!("{origin}/cdn3"),
            max_attachment_bytes: 100 * 1024 * 1024,
            attachment_retention_ms: 30 * DAY_MS,
            incomplete_upload_ttl_ms: 7 * DAY_MS,
            credential_ttl_ms: 7 * DAY_MS,
            secret_root,
            s3_identity: None,
        }
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The attachment upload form: `GET /v4/attachments/form/upload` and gRPC
/// `Attachments/GetUploadForm` return it. Every tus request must carry `headers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadForm {
    /// Always 3 (tus).
    pub cdn: u32,
    /// The attachment key; clients put it in the message and download
    /// `<cdn3 base>/attachments/<key>`.
    pub key: String,
    /// `Authorization: Bearer <jwt>` and `Upload-Metadata: filename <b64(key)>`.
    pub headers: BTreeMap<String, String>,
    /// Where the tus creation POST goes: `<cdn3 base>/attachments`. Clients resume at
    /// `signedUploadLocation + "/" + key`.
    pub signed_upload_location: String,
}

/// A form was asked for more than the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upload length exceeds the maximum attachment size")]
pub struct UploadTooLarge;

/// The CDN: blob store, credentials, routes and expiry. Cheap to clone.
#[derive(Clone)]
pub struct Cdn(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) store: BlobStore,
    pub(crate) uploads: Uploads,
    pub(crate) config: CdnConfig,
    pub(crate) credentials: CredentialSigner,
    pub(crate) policies: PolicySigner,
    pub(crate) clock: Arc<dyn Clock>,
    /// Upload bodies are consumed in tasks of their own, so a client that disconnects midway
    /// does not cancel the commit of what already arrived.
    pub(crate) tasks: TaskTracker,
}

impl std::fmt::Debug for Cdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cdn")
            .field("store", &self.0.store)
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

fn derive(root: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(root)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl Cdn {
    /// A CDN over `store` with the wall clock.
    pub fn new(store: BlobStore, config: CdnConfig) -> Self {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    /// A CDN with an explicit clock (tests).
    pub fn with_clock(store: BlobStore, config: CdnConfig, clock: Arc<dyn Clock>) -> Self {
        let jwt_key = derive(&config.secret_root, b"heliograph cdn3 upload credential");
        let credentials =
            CredentialSigner::new(&jwt_key, config.credential_ttl_ms.div_euclid(1000).max(1));
        let policies = match &config.s3_identity {
            Some(s3) if !s3.access_key_id.is_empty() => PolicySigner::new(
                &s3.access_key_id,
                &s3.secret_access_key,
                if s3.region.is_empty() {
                    "us-east-1"
                } else {
                    &s3.region
                },
                &s3.bucket,
            ),
            _ => {
                let secret = derive(&config.secret_root, b"heliograph cdn0 post policy");
                PolicySigner::new("heliograph", &hex::encode(secret), "local", "heliograph")
            }
        };
        Cdn(Arc::new(Inner {
            uploads: Uploads::new(store.clone()),
            store,
            config,
            credentials,
            policies,
            clock,
            tasks: TaskTracker::new(),
        }))
    }

    /// The blob store.
    pub fn store(&self) -> &BlobStore {
        &self.0.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &CdnConfig {
        &self.0.config
    }

    /// The CDN routes, `/cdn0/…` and `/cdn3/…`, to merge into the server's router.
    pub fn router(&self) -> Router {
        Router::new()
            .merge(tus::router())
            .merge(download::router())
            .merge(avatar::router())
            .with_state(self.clone())
    }

    /// A tus upload form for a new random key. `upload_length` (the client's
    /// `uploadLength`) caps the upload; without it the cap is the configured maximum. Asking
    /// for more than the maximum is [`UploadTooLarge`] (413 / `exceeds_max_upload_length`).
    pub fn attachment_upload_form(
        &self,
        upload_length: Option<u64>,
    ) -> Result<UploadForm, UploadTooLarge> {
        let max = self.0.config.max_attachment_bytes;
        let length = upload_length.unwrap_or(max);
        if length > max {
            return Err(UploadTooLarge);
        }
        let key = AttachmentKey::random();
        let token = self
            .0
            .credentials
            .issue(&key, length, self.0.clock.now_ms());
        let mut headers = BTreeMap::new();
        headers.insert("Authorization".to_owned(), format!("Bearer {token}"));
        headers.insert(
            "Upload-Metadata".to_owned(),
            format!("filename {}", STANDARD.encode(key.as_str())),
        );
        Ok(UploadForm {
            cdn: ATTACHMENTS_CDN,
            key: key.as_str().to_owned(),
            headers,
            signed_upload_location: format!("{}/attachments", self.0.config.cdn3_base),
        })
    }

    /// The largest attachment a form is issued for.
    pub fn max_attachment_bytes(&self) -> u64 {
        self.0.config.max_attachment_bytes
    }

    /// The S3 POST-policy form that lets a client upload its avatar (1 byte to 10 MiB, for 30
    /// minutes) to CDN0 at `key`. Use a fresh [`AvatarKey::random`] per upload and store
    /// `key` as the profile's `avatar` field; the avatar is then served at
    /// `<cdn0 base>/<key>`. `PUT /v1/profile` returns this form as its JSON body.
    pub fn avatar_upload_form(&self, key: &str) -> PostPolicyForm {
        self.0.policies.form(key, self.0.clock.now_ms())
    }

    /// Deletes the avatar (`profiles/…`) or attachment (`attachments/…`) object at `key`, for
    /// a profile that clears or replaces its avatar. Deleting an absent object succeeds; a key
    /// of another shape is refused.
    pub async fn delete(&self, key: &str) -> Result<(), DeleteError> {
        let path = if let Ok(avatar) = AvatarKey::parse(key) {
            avatar.as_str().to_owned()
        } else if let Some(k) = key.strip_prefix("attachments/") {
            AttachmentKey::parse(k)
                .map_err(|_| DeleteError::InvalidKey)?
                .object_path()
        } else {
            return Err(DeleteError::InvalidKey);
        };
        self.0.store.delete(&path).await?;
        Ok(())
    }

    /// Runs one expiry pass now (see [`Cdn::spawn_sweeper`]).
    pub async fn sweep(&self) -> Result<SweepReport, BlobError> {
        sweep::sweep(self).await
    }

    /// Sweeps every `interval` until `stop` is cancelled: unfinished uploads past their expiry
    /// and finished attachments past the retention are deleted; avatars are left alone.
    pub fn spawn_sweeper(
        &self,
        interval: Duration,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let cdn = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let pass = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = cdn.sweep() => r,
                };
                match pass {
                    Ok(r) if r.is_empty() => {}
                    Ok(r) => tracing::info!(
                        expired_uploads = r.expired_uploads,
                        deleted_attachments = r.deleted_attachments,
                        recovered_uploads = r.recovered_uploads,
                        "blob expiry pass"
                    ),
                    Err(e) => tracing::warn!(error = %e, "blob expiry pass failed"),
                }
            }
        })
    }

    /// Waits for upload bodies still being stored (graceful shutdown).
    pub async fn close(&self) {
        self.0.tasks.close();
        self.0.tasks.wait().await;
    }
}

/// Why [`Cdn::delete`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// Not an avatar or attachment key.
    #[error("invalid object key")]
    InvalidKey,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] BlobError),
}

/// Formats `ms` as an HTTP date (`Upload-Expires`, `Last-Modified`).
pub(crate) fn http_date(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(chrono::Utc::now)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdn() -> (Cdn, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        let config = CdnConfig::for_origin("https://127.0.0.1:8443", [7; 32]);
        (Cdn::new(store, config), dir)
    }

    #[test]
    fn upload_form_has_the_official_shape() {
        let (cdn, _dir) = cdn();
        let form = cdn.attachment_upload_form(Some(1000)).unwrap();
        assert_eq!(form.cdn, 3);
        assert_eq!(form.key.len(), 20);
        assert_eq!(
            form.signed_upload_location,
            "https://127.0.0.1:8443/cdn3/attachments"
        );
        assert!(form.headers["Authorization"].starts_with("Bearer "));
        assert_eq!(
            form.headers["Upload-Metadata"],
            format!("filename {}", STANDARD.encode(&form.key))
        );
        let json = serde_json::to_value(&form).unwrap();
        let mut names: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["cdn", "headers", "key", "signedUploadLocation"]);
        let token = form.headers["Authorization"].trim_start_matches("Bearer ");
        let grant = cdn
            .0
            .credentials
            .verify(token, cdn.0.clock.now_ms())
            .unwrap();
        assert_eq!(grant.key.as_str(), form.key);
        assert_eq!(grant.max_len, 1000);
    }

    #[test]
    fn upload_form_limits() {
        let (cdn, _dir) = cdn();
        let max = cdn.max_attachment_bytes();
        assert_eq!(max, 100 * 1024 * 1024);
        assert!(cdn.attachment_upload_form(Some(max)).is_ok());
        assert_eq!(
            cdn.attachment_upload_form(Some(max + 1)),
            Err(UploadTooLarge)
        );
        let form = cdn.attachment_upload_form(None).unwrap();
        let token = form.headers["Authorization"].trim_start_matches("Bearer ");
        assert_eq!(
            cdn.0
                .credentials
                .verify(token, cdn.0.clock.now_ms())
                .unwrap()
                .max_len,
            max
        );
    }

    #[tokio::test]
    async fn delete_accepts_only_avatar_and_attachment_keys() {
        let (cdn, _dir) = cdn();
        let key = AvatarKey::random();
        cdn.0.store.put(key.as_str(), "x".into()).await.unwrap();
        cdn.delete(key.as_str()).await.unwrap();
        assert!(cdn.0.store.head(key.as_str()).await.unwrap().is_none());
        cdn.delete(key.as_str()).await.unwrap();
        assert!(matches!(
            cdn.delete("tus/abc/info").await,
            Err(DeleteError::InvalidKey)
        ));
        assert!(matches!(
            cdn.delete("profiles/../secrets").await,
            Err(DeleteError::InvalidKey)
        ));
    }
}
