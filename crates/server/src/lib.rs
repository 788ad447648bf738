//! The `heliograph` server: loads configuration and key material, opens the store, wires the
//! domain services into the API router, and serves it over TLS (and optionally plaintext)
//! until told to stop.
//!
//! Tests start the real server in process with [`run`] on a `127.0.0.1:0` listener.

pub mod config;
pub mod material;
mod serve;
mod tls;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use heliograph_api::{AppState, StateParts};
use heliograph_bus::{Bus, InProcessBus, NodeId, RedisBus, RedisBusConfig};
use heliograph_cdn::{BlobStore, Cdn, CdnConfig, S3Config};
use heliograph_chat::certificates::CertificateIssuer;
use heliograph_chat::clock::SystemClock;
use heliograph_chat::codes::{CodeSender, LogSender, SmsConfig, SmsSender, TestSender};
use heliograph_chat::limits::{LimitSpec, RateLimiters};
use heliograph_chat::linking::Linking;
use heliograph_chat::messages::{Messages, MessagesConfig};
use heliograph_chat::profiles::{AvatarStorage, AvatarUploadForm};
use heliograph_chat::registration::{CaptchaMode, Registration, RegistrationConfig};
use heliograph_chat::zk::ZkService;
use heliograph_chat::ChatResult;
use heliograph_chat::{BusLink, Deps};
use heliograph_storage::Stores;
use heliograph_types::Redacted;

pub use config::Config;

/// The open store, whichever backend it is.
enum Store {
    Sqlite(heliograph_storage::sqlite::SqliteStore),
    Postgres(heliograph_storage::postgres::PostgresStore),
}

impl Store {
    async fn open(config: &Config) -> anyhow::Result<Store> {
        if config.storage.database_url.is_empty() {
            let path = config.server.data_dir.join("heliograph.db");
            let store = heliograph_storage::sqlite::SqliteStore::open(&path)
                .await
                .with_context(|| format!("cannot open the SQLite store at {}", path.display()))?;
            Ok(Store::Sqlite(store))
        } else {
            let store =
                heliograph_storage::postgres::PostgresStore::connect(&config.storage.database_url)
                    .await
                    .context("cannot connect to PostgreSQL (storage.database_url)")?;
            Ok(Store::Postgres(store))
        }
    }

    fn stores(&self) -> Stores {
        match self {
            Store::Sqlite(s) => s.stores(),
            Store::Postgres(s) => s.stores(),
        }
    }

    /// Keeps an embedded store's WAL bounded: every ten seconds it is truncated once it has
    /// grown past [`WAL_LIMIT_BYTES`](heliograph_storage::sqlite::WAL_LIMIT_BYTES).
    /// PostgreSQL manages its own log.
    fn spawn_wal_bound(&self, stop: CancellationToken) {
        use heliograph_storage::sqlite::{WalCheckpoint, WAL_LIMIT_BYTES};
        let Store::Sqlite(store) = self else { return };
        let store = store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                match store.bound_wal(WAL_LIMIT_BYTES).await {
                    Ok(WalCheckpoint::WithinLimit) => {}
                    Ok(WalCheckpoint::Truncated { bytes }) => {
                        tracing::info!(bytes, "SQLite WAL checkpointed and truncated")
                    }
                    Ok(WalCheckpoint::Busy { bytes }) => {
                        tracing::warn!(bytes, "SQLite WAL checkpoint could not finish; retrying")
                    }
                    Err(e) => tracing::warn!(error = %e, "SQLite WAL checkpoint failed"),
                }
            }
        });
    }

    async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }
}

fn code_sender(config: &Config) -> anyhow::Result<Arc<dyn CodeSender>> {
    Ok(match config.registration.mode.as_str() {
        "log" => Arc::new(LogSender),
        "sms" => {
            let s = &config.registration.sms;
            Arc::new(
                SmsSender::new(SmsConfig {
                    base_url: s.base_url.clone(),
                    account_sid: s.account_sid.clone(),
                    auth_token: Redacted::new(s.auth_token.clone()),
                    from: s.from.clone(),
                    messaging_service_sid: (!s.messaging_service_sid.is_empty())
                        .then(|| s.messaging_service_sid.clone()),
                    timeout: Duration::from_secs(s.timeout_seconds),
                })
                .map_err(anyhow::Error::msg)?,
            )
        }
        _ => Arc::new(TestSender),
    })
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Deletes expired messages, verification sessions and used tokens every few minutes.
fn spawn_expiry(deps: Deps, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = deps.clock.now_ms();
            let s = &deps.stores;
            match s.messages.delete_expired(now).await {
                Ok(n) if n > 0 => tracing::info!(count = n, "expired messages deleted"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "message expiry failed"),
            }
            let _ = s.sessions.delete_expired(now).await;
            let _ = s.used_tokens.delete_expired(now).await;
            let _ = s.usernames.delete_expired(now).await;
        }
    });
}

/// The S3 settings of `[blobs.s3]`.
fn s3_config(config: &Config) -> S3Config {
    let s3 = &config.blobs.s3;
    S3Config {
        endpoint: s3.endpoint.clone(),
        bucket: s3.bucket.clone(),
        region: s3.region.clone(),
        access_key_id: s3.access_key_id.clone(),
        secret_access_key: s3.secret_access_key.clone(),
        path_style: s3.path_style,
    }
}

/// Opens the blob store and builds the CDN. Base URLs left empty point at this server's own
/// TLS origin (`tls`, the bound address).
async fn open_cdn(config: &Config, tls: SocketAddr, secret_root: [u8; 32]) -> anyhow::Result<Cdn> {
    let (store, s3_identity) = match config.blobs.backend.as_str() {
        "s3" => {
            let s3 = s3_config(config);
            let store = BlobStore::s3(&s3).context("cannot use the S3 blob store ([blobs.s3])")?;
            store.check().await.with_context(|| {
                format!(
                    "the S3 blob store does not work (bucket {:?} at {:?}); check blobs.s3.endpoint, bucket, region and the access key",
                    s3.bucket,
                    if s3.endpoint.is_empty() { "AWS" } else { s3.endpoint.as_str() }
                )
            })?;
            (store, Some(s3))
        }
        _ => {
            let dir = if config.blobs.path.is_empty() {
                config.server.data_dir.join("blobs")
            } else {
                config.blobs.path.clone().into()
            };
            let store = BlobStore::local(&dir)
                .with_context(|| format!("cannot use {} for blobs (blobs.path)", dir.display()))?;
            store.check().await.with_context(|| {
                format!("cannot write blobs under {} (blobs.path)", dir.display())
            })?;
            (store, None)
        }
    };
    let host = match tls.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let origin = format!("https://{host}:{}", tls.port());
    let c = &config.cdn;
    if (c.cdn0_base_url.is_empty() || c.cdn3_base_url.is_empty()) && tls.ip().is_unspecified() {
        tracing::warn!(
            %origin,
            "cdn.cdn0_base_url / cdn.cdn3_base_url are not set and the listener is on all \
             interfaces: upload forms point at {origin}; set them to the public URL"
        );
    }
    let mut cdn = CdnConfig::for_origin(&origin, secret_root);
    if !c.cdn0_base_url.is_empty() {
        cdn.cdn0_base = c.cdn0_base_url.trim_end_matches('/').to_owned();
    }
    if !c.cdn3_base_url.is_empty() {
        cdn.cdn3_base = c.cdn3_base_url.trim_end_matches('/').to_owned();
    }
    cdn.max_attachment_bytes = c.max_attachment_bytes;
    cdn.attachment_retention_ms = c.attachment_retention_days * DAY_MS;
    cdn.incomplete_upload_ttl_ms = c.incomplete_upload_ttl_seconds * 1000;
    cdn.credential_ttl_ms = c.upload_credential_ttl_seconds * 1000;
    cdn.s3_identity = s3_identity;
    Ok(Cdn::new(store, cdn))
}

/// The rate limiters of `[rate_limits]`, over the bus's shared buckets.
fn rate_limiters(config: &Config, bus: Arc<dyn Bus>) -> anyhow::Result<RateLimiters> {
    if !config.rate_limits.enabled {
        return Ok(RateLimiters::disabled());
    }
    let buckets = config
        .rate_limits
        .buckets
        .iter()
        .map(|(name, b)| {
            (
                name.clone(),
                LimitSpec {
                    bucket_size: b.bucket_size,
                    regen: Duration::from_millis(b.permit_regeneration_ms),
                },
            )
        })
        .collect();
    RateLimiters::new(bus, &buckets).map_err(|e| anyhow::anyhow!("rate_limits.buckets: {e}"))
}

/// The profile CDN as the avatar storage of profile updates and account deletion.
struct CdnAvatars(Cdn);

#[async_trait::async_trait]
impl AvatarStorage for CdnAvatars {
    fn upload_form(&self, key: &str, _now_ms: i64) -> ChatResult<AvatarUploadForm> {
        // The CDN signs with its own clock, the one it later checks the policy's expiry with.
        let form = self.0.avatar_upload_form(key);
        Ok(AvatarUploadForm {
            key: form.key,
            credential: form.credential,
            acl: form.acl,
            algorithm: form.algorithm,
            date: form.date,
            policy: form.policy,
            signature: form.signature,
        })
    }

    async fn delete(&self, key: &str) {
        if let Err(e) = self.0.delete(key).await {
            tracing::warn!(error = %e, "could not delete an avatar object; it is orphaned");
        }
    }
}

/// Where a running server listens, for callers that bound port 0.
#[derive(Debug, Clone)]
pub struct Bound {
    /// TLS address.
    pub tls: SocketAddr,
    /// Plaintext address, if enabled.
    pub plaintext: Option<SocketAddr>,
}

/// Runs the server on an already bound TLS listener until `shutdown` completes, then shuts
/// down gracefully: sockets are closed with 1001, in-flight requests get the configured grace
/// period, and the store is closed cleanly. `on_ready` is called once everything is listening.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
    on_ready: impl FnOnce(&Bound),
) -> anyhow::Result<()> {
    let operator_tls = (!config.server.tls_cert.is_empty()).then(|| material::TlsFiles {
        cert: config.server.tls_cert.clone().into(),
        key: config.server.tls_key.clone().into(),
    });
    let material = material::load_or_create(&config.server.data_dir, operator_tls)?;
    let acceptor = tls::acceptor(&material.tls.cert, &material.tls.key)?;
    let store = Store::open(&config).await?;

    let (bus, redis): (Arc<dyn Bus>, Option<Arc<RedisBus>>) = if config.bus.redis_url.is_empty() {
        (Arc::new(InProcessBus::new()), None)
    } else {
        let mut bus_config = RedisBusConfig::new(NodeId::random());
        bus_config.namespace = config.bus.namespace.clone();
        let redis = Arc::new(
            RedisBus::connect_with(&config.bus.redis_url, bus_config)
                .await
                .context("cannot connect to Redis (bus.redis_url)")?,
        );
        (redis.clone(), Some(redis))
    };
    let link = Arc::new(BusLink(bus.clone()));
    let cdn = open_cdn(&config, listener.local_addr()?, material.credentials_key).await?;
    let deps = Deps {
        stores: store.stores(),
        clock: Arc::new(SystemClock),
        disconnector: link.clone(),
        avatars: Arc::new(CdnAvatars(cdn.clone())),
        limits: Arc::new(rate_limiters(&config, bus.clone())?),
    };
    let registration = Registration::new(
        deps.clone(),
        RegistrationConfig {
            captcha: if config.registration.captcha == "off" {
                CaptchaMode::Off
            } else {
                CaptchaMode::Noop
            },
            session_ttl_ms: config.registration.session_ttl_seconds * 1000,
            max_code_attempts: config.registration.max_code_attempts,
            max_code_requests: config.registration.max_code_requests,
            resend_delay_secs: config.registration.resend_delay_seconds,
            ..RegistrationConfig::default()
        },
        code_sender(&config)?,
    );
    let messages = Messages::new(
        deps.clone(),
        MessagesConfig {
            ttl_ms: config.messages.ttl_days * DAY_MS,
        },
        link,
    );
    let certificates = Arc::new(CertificateIssuer::new(
        &material.trust_root,
        material.server_certificate_key.clone(),
        config.certificates.sender_certificate_days * DAY_MS,
    ));
    let zk = Arc::new(ZkService::new(material.zk_secret.clone()));
    let linking = Linking::new(deps.clone(), material.link_secret());
    let stop = CancellationToken::new();
    spawn_expiry(deps.clone(), stop.clone());
    store.spawn_wal_bound(stop.clone());
    let sweeper = cdn.spawn_sweeper(
        Duration::from_secs(config.cdn.sweep_interval_seconds),
        stop.clone(),
    );
    let state = AppState::new(StateParts {
        deps,
        registration,
        messages,
        certificates,
        zk,
        linking,
        bus,
        shutdown: stop.clone(),
        remote_config: config
            .remote_config
            .clone()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        cdn: cdn.clone(),
    });
    let app = heliograph_api::app(state.clone());

    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let handshake = Duration::from_secs(config.server.handshake_timeout_seconds);
    let mut bound = Bound {
        tls: listener.local_addr()?,
        plaintext: None,
    };
    let mut servers = tokio::task::JoinSet::new();
    if !config.server.plaintext_listen.is_empty() {
        let addr = config::parse_addr(&config.server.plaintext_listen, "server.plaintext_listen")?;
        let plain = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        bound.plaintext = Some(plain.local_addr()?);
        servers.spawn(serve::serve(
            plain,
            None,
            app.clone(),
            stop.clone(),
            grace,
            handshake,
        ));
    }
    servers.spawn(serve::serve(
        listener,
        Some(acceptor),
        app,
        stop.clone(),
        grace,
        handshake,
    ));
    on_ready(&bound);

    shutdown.await;
    tracing::info!("shutting down");
    stop.cancel();
    state.tasks.close();
    while servers.join_next().await.is_some() {}
    if tokio::time::timeout(grace, state.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sockets did not close within the shutdown grace period");
    }
    if tokio::time::timeout(grace, cdn.close()).await.is_err() {
        tracing::warn!("some uploads were still being stored after the shutdown grace period");
    }
    let _ = sweeper.await;
    if let Some(redis) = redis {
        redis.shutdown().await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
