//! Layered configuration: embedded defaults → config file → `HELIOGRAPH_SECTION__KEY`
//! environment variables → CLI flags, with `*_file` indirection for secrets, validation with
//! messages that say how to fix the problem, and warnings for unknown keys.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The documented defaults, compiled in.
pub const DEFAULTS: &str = include_str!("../defaults.toml");

/// Keys whose values are secrets: masked by `config check`.
const SECRET_KEYS: &[&str] = &[
    "auth_token",
    "database_url",
    "redis_url",
    "tls_key",
    "secret_access_key",
];

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Listener and data directory.
    pub server: ServerConfig,
    /// Database selection.
    pub storage: StorageConfig,
    /// Presence and wake-ups across nodes.
    pub bus: BusSection,
    /// Registration behaviour.
    pub registration: RegistrationSection,
    /// Message queues.
    pub messages: MessagesConfig,
    /// Sealed-sender certificates.
    pub certificates: CertificatesConfig,
    /// Where attachments and avatars are stored.
    pub blobs: BlobsConfig,
    /// The attachments and avatars CDN.
    pub cdn: CdnSection,
    /// Rate limits.
    pub rate_limits: RateLimitsSection,
    /// Extra `/v2/config` entries.
    #[serde(default)]
    pub remote_config: BTreeMap<String, String>,
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerConfig {
    /// Data directory.
    pub data_dir: PathBuf,
    /// TLS listen address.
    pub listen: String,
    /// Plaintext listen address, or empty.
    pub plaintext_listen: String,
    /// Operator certificate chain (PEM path), or empty.
    pub tls_cert: String,
    /// Operator private key (PEM path), or empty.
    pub tls_key: String,
    /// Graceful shutdown window.
    pub shutdown_grace_seconds: u64,
    /// TLS handshake timeout.
    pub handshake_timeout_seconds: u64,
}

/// `[storage]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageConfig {
    /// Empty for SQLite, or a `postgres://` URL.
    pub database_url: String,
}

/// `[bus]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BusSection {
    /// Empty for in-process, or a `redis://` URL.
    pub redis_url: String,
    /// Redis key prefix.
    pub namespace: String,
}

/// `[registration]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationSection {
    /// `test`, `log` or `sms`.
    pub mode: String,
    /// `noop` or `off`.
    pub captcha: String,
    /// Session lifetime.
    pub session_ttl_seconds: i64,
    /// Wrong codes allowed per session.
    pub max_code_attempts: u32,
    /// Code requests allowed per session.
    pub max_code_requests: u32,
    /// Seconds between code requests.
    pub resend_delay_seconds: i64,
    /// The SMS provider.
    pub sms: SmsSection,
}

/// `[registration.sms]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmsSection {
    /// API base URL.
    pub base_url: String,
    /// Account SID.
    pub account_sid: String,
    /// Auth token (secret).
    pub auth_token: String,
    /// Sender number.
    pub from: String,
    /// Messaging service SID.
    pub messaging_service_sid: String,
    /// Request timeout.
    pub timeout_seconds: u64,
}

/// `[messages]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessagesConfig {
    /// Queue TTL in days.
    pub ttl_days: i64,
}

/// `[certificates]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificatesConfig {
    /// Sender certificate lifetime in days.
    pub sender_certificate_days: i64,
}

/// `[blobs]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlobsConfig {
    /// `local` or `s3`.
    pub backend: String,
    /// Directory of the local backend; empty = `data_dir/blobs`.
    pub path: String,
    /// The S3-compatible store.
    pub s3: S3Section,
}

/// `[blobs.s3]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct S3Section {
    /// Endpoint URL; empty = AWS.
    pub endpoint: String,
    /// Bucket.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (secret).
    pub secret_access_key: String,
    /// Path-style requests.
    pub path_style: bool,
}

/// `[cdn]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CdnSection {
    /// Public base URL of CDN0 (avatars); empty = this server's TLS origin + `/cdn0`.
    pub cdn0_base_url: String,
    /// Public base URL of CDN3 (attachments); empty = this server's TLS origin + `/cdn3`.
    pub cdn3_base_url: String,
    /// Largest attachment.
    pub max_attachment_bytes: u64,
    /// Days finished attachments are kept.
    pub attachment_retention_days: i64,
    /// Seconds an unfinished upload is kept.
    pub incomplete_upload_ttl_seconds: i64,
    /// Seconds an upload credential is valid.
    pub upload_credential_ttl_seconds: i64,
    /// Seconds between expiry passes.
    pub sweep_interval_seconds: u64,
}

/// `[rate_limits]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitsSection {
    /// Whether limits apply at all.
    pub enabled: bool,
    /// Buckets by official limiter name.
    pub buckets: BTreeMap<String, BucketConfig>,
}

/// One `[rate_limits.buckets.NAME]` table.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct BucketConfig {
    /// Permits when full.
    pub bucket_size: u64,
    /// Milliseconds to regain one permit.
    pub permit_regeneration_ms: u64,
}

/// CLI values that override every other layer (None = not given).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--plaintext-listen`.
    pub plaintext_listen: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--redis-url`.
    pub redis_url: Option<String>,
}

/// What loading produced: the configuration and warnings to print.
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Unknown keys and similar non-fatal findings.
    pub warnings: Vec<String>,
}

/// Loads and validates the configuration from all layers.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Loaded> {
    load_with_env(file, overrides, Env::prefixed("HELIOGRAPH_"))
}

fn load_with_env(file: Option<&Path>, overrides: &Overrides, env: Env) -> anyhow::Result<Loaded> {
    let mut figment = Figment::from(Toml::string(DEFAULTS));
    if let Some(path) = file {
        if !path.exists() {
            bail!("config file {} does not exist", path.display());
        }
        figment = figment.merge(Toml::file(path));
    }
    figment = figment.merge(env.filter(|k| k.as_str().contains("__")).split("__"));
    let mut cli = serde_json::Map::new();
    let mut server = serde_json::Map::new();
    if let Some(d) = &overrides.data_dir {
        server.insert("data_dir".into(), Value::String(d.display().to_string()));
    }
    if let Some(l) = &overrides.listen {
        server.insert("listen".into(), Value::String(l.clone()));
    }
    if let Some(l) = &overrides.plaintext_listen {
        server.insert("plaintext_listen".into(), Value::String(l.clone()));
    }
    if !server.is_empty() {
        cli.insert("server".into(), Value::Object(server));
    }
    if let Some(url) = &overrides.database_url {
        cli.insert("storage".into(), serde_json::json!({ "database_url": url }));
    }
    if let Some(url) = &overrides.redis_url {
        cli.insert("bus".into(), serde_json::json!({ "redis_url": url }));
    }
    figment = figment.merge(Serialized::defaults(Value::Object(cli)));

    let mut merged: Value = figment
        .extract()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    resolve_files(&mut merged)?;

    let defaults: Value = Figment::from(Toml::string(DEFAULTS))
        .extract()
        .context("built-in defaults are invalid")?;
    let mut warnings = Vec::new();
    unknown_keys(&merged, &defaults, "", &mut warnings);

    let config: Config = serde_json::from_value(merged)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    validate(&config)?;
    Ok(Loaded { config, warnings })
}

/// Replaces every `key_file = "path"` by `key = <file contents>` (trailing newline trimmed).
fn resolve_files(value: &mut Value) -> anyhow::Result<()> {
    let Value::Object(map) = value else {
        return Ok(());
    };
    let file_keys: Vec<String> = map
        .keys()
        .filter(|k| k.ends_with("_file"))
        .cloned()
        .collect();
    for key in file_keys {
        if let Some(Value::String(path)) = map.remove(&key) {
            let base = key.trim_end_matches("_file").to_owned();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {key} = {path}"))?;
            map.insert(
                base,
                Value::String(text.trim_end_matches(['\n', '\r']).to_owned()),
            );
        }
    }
    for v in map.values_mut() {
        resolve_files(v)?;
    }
    Ok(())
}

fn unknown_keys(value: &Value, defaults: &Value, prefix: &str, out: &mut Vec<String>) {
    let (Value::Object(map), Value::Object(known)) = (value, defaults) else {
        return;
    };
    for (k, v) in map {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        // remote_config is free-form by design.
        if path == "remote_config" {
            continue;
        }
        match known.get(k) {
            Some(d) => unknown_keys(v, d, &path, out),
            None => out.push(format!("unknown configuration key `{path}` (ignored)")),
        }
    }
}

fn validate(c: &Config) -> anyhow::Result<()> {
    parse_addr(&c.server.listen, "server.listen")?;
    if !c.server.plaintext_listen.is_empty() {
        parse_addr(&c.server.plaintext_listen, "server.plaintext_listen")?;
    }
    if c.server.tls_cert.is_empty() != c.server.tls_key.is_empty() {
        bail!("server.tls_cert and server.tls_key must be set together (or both left empty to use the generated local CA)");
    }
    let db = &c.storage.database_url;
    if !db.is_empty() && !db.starts_with("postgres://") && !db.starts_with("postgresql://") {
        bail!("storage.database_url must be empty (embedded SQLite) or a postgres:// URL");
    }
    let redis = &c.bus.redis_url;
    if !redis.is_empty() && !redis.starts_with("redis://") && !redis.starts_with("rediss://") {
        bail!("bus.redis_url must be empty (in-process) or a redis:// URL");
    }
    if c.bus.namespace.is_empty() || c.bus.namespace.contains(['{', '}']) {
        bail!("bus.namespace must be non-empty and must not contain braces");
    }
    match c.registration.mode.as_str() {
        "test" | "log" => {}
        "sms" => {
            let sms = &c.registration.sms;
            if sms.account_sid.is_empty() || sms.auth_token.is_empty() {
                bail!("registration.mode = \"sms\" needs registration.sms.account_sid and registration.sms.auth_token (or auth_token_file)");
            }
            if sms.from.is_empty() && sms.messaging_service_sid.is_empty() {
                bail!("registration.mode = \"sms\" needs registration.sms.from or registration.sms.messaging_service_sid");
            }
        }
        other => bail!("registration.mode = {other:?}: use \"test\", \"log\" or \"sms\""),
    }
    match c.registration.captcha.as_str() {
        "noop" | "off" => {}
        other => bail!("registration.captcha = {other:?}: use \"noop\" or \"off\""),
    }
    if c.messages.ttl_days < 1 {
        bail!("messages.ttl_days must be at least 1");
    }
    if c.certificates.sender_certificate_days < 1 {
        bail!("certificates.sender_certificate_days must be at least 1");
    }
    if c.registration.session_ttl_seconds < 60 {
        bail!("registration.session_ttl_seconds must be at least 60");
    }
    match c.blobs.backend.as_str() {
        "local" => {}
        "s3" => {
            if c.blobs.s3.bucket.is_empty() {
                bail!("blobs.backend = \"s3\" needs blobs.s3.bucket (and usually blobs.s3.endpoint, access_key_id, secret_access_key or secret_access_key_file)");
            }
            let e = &c.blobs.s3.endpoint;
            if !e.is_empty() && !e.starts_with("http://") && !e.starts_with("https://") {
                bail!("blobs.s3.endpoint = {e:?} must be an http:// or https:// URL (or empty for AWS)");
            }
        }
        other => bail!("blobs.backend = {other:?}: use \"local\" or \"s3\""),
    }
    for (key, url) in [
        ("cdn.cdn0_base_url", &c.cdn.cdn0_base_url),
        ("cdn.cdn3_base_url", &c.cdn.cdn3_base_url),
    ] {
        if !url.is_empty() && !url.starts_with("https://") && !url.starts_with("http://") {
            bail!("{key} = {url:?} must be an https:// URL such as https://cdn.example.org/cdn3 (or empty for this server's own origin)");
        }
    }
    if c.cdn.max_attachment_bytes < 1 {
        bail!("cdn.max_attachment_bytes must be at least 1");
    }
    if c.cdn.attachment_retention_days < 1 {
        bail!("cdn.attachment_retention_days must be at least 1");
    }
    if c.cdn.incomplete_upload_ttl_seconds < 60 || c.cdn.upload_credential_ttl_seconds < 60 {
        bail!("cdn.incomplete_upload_ttl_seconds and cdn.upload_credential_ttl_seconds must be at least 60");
    }
    if c.cdn.sweep_interval_seconds < 1 {
        bail!("cdn.sweep_interval_seconds must be at least 1");
    }
    Ok(())
}

/// Parses `ADDR:PORT`, naming the key in the error.
pub fn parse_addr(text: &str, key: &str) -> anyhow::Result<SocketAddr> {
    text.parse()
        .with_context(|| format!("{key} = {text:?} is not ADDR:PORT (e.g. 127.0.0.1:8443)"))
}

/// The configuration as TOML with secret values masked, for `heliograph config check`.
pub fn render_masked(config: &Config) -> anyhow::Result<String> {
    let mut value = serde_json::to_value(config)?;
    mask(&mut value);
    let toml_value: toml::Value = serde_json::from_value(value)?;
    Ok(toml::to_string_pretty(&toml_value)?)
}

fn mask(value: &mut Value) {
    if let Value::Object(map) = value {
        for (k, v) in map.iter_mut() {
            if SECRET_KEYS.contains(&k.as_str()) {
                if let Value::String(s) = v {
                    if !s.is_empty() {
                        *s = "<masked>".into();
                    }
                }
            } else {
                mask(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_none() -> Env {
        Env::prefixed("HELIOGRAPH_TEST_NOTHING_SET_")
    }

    #[test]
    fn defaults_are_the_dev_profile() {
        let loaded = load_with_env(None, &Overrides::default(), env_none()).unwrap();
        assert_eq!(loaded.config.server.listen, "127.0.0.1:8443");
        assert_eq!(
            loaded.config.server.data_dir,
            PathBuf::from("./heliograph-data")
        );
        assert_eq!(loaded.config.registration.mode, "test");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn layers_file_env_cli() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("h.toml");
        let secret = dir.path().join("token");
        std::fs::write(&secret, "s3cret\n").unwrap();
        std::fs::write(
            &file,
            format!(
                "[server]\nlisten = \"127.0.0.1:1000\"\nbogus = 1\n[registration]\nmode = \"sms\"\n[registration.sms]\naccount_sid = \"AC1\"\nfrom = \"+15550001111\"\nauth_token_file = {:?}\n",
                secret.display()
            ),
        )
        .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("HELIOGRAPH_MESSAGES__TTL_DAYS", "3");
            jail.set_env("HELIOGRAPH_SERVER__LISTEN", "127.0.0.1:2000");
            let overrides = Overrides {
                listen: Some("127.0.0.1:3000".into()),
                ..Default::default()
            };
            let loaded = load(Some(&file), &overrides).unwrap();
            assert_eq!(loaded.config.server.listen, "127.0.0.1:3000", "CLI wins");
            assert_eq!(loaded.config.messages.ttl_days, 3, "env beats defaults");
            assert_eq!(loaded.config.registration.sms.auth_token, "s3cret");
            assert_eq!(
                loaded.warnings,
                vec!["unknown configuration key `server.bogus` (ignored)"]
            );
            let shown = render_masked(&loaded.config).unwrap();
            assert!(shown.contains("<masked>") && !shown.contains("s3cret"));
            Ok(())
        });
    }

    #[test]
    fn validation_says_how_to_fix() {
        let bad = Overrides {
            listen: Some("localhost".into()),
            ..Default::default()
        };
        let err = load_with_env(None, &bad, env_none())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("server.listen"), "{err}");
        let bad_db = Overrides {
            database_url: Some("mysql://x".into()),
            ..Default::default()
        };
        let err = load_with_env(None, &bad_db, env_none())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("postgres://"), "{err}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn s3_blobs_need_a_bucket_and_mask_the_secret() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HELIOGRAPH_BLOBS__BACKEND", "s3");
            let err = load(None, &Overrides::default()).err().unwrap().to_string();
            assert!(err.contains("blobs.s3.bucket"), "{err}");
            jail.create_file("s3-secret", "very-secret-key\n")?;
            jail.set_env("HELIOGRAPH_BLOBS__S3__BUCKET", "avatars");
            jail.set_env("HELIOGRAPH_BLOBS__S3__ENDPOINT", "http://127.0.0.1:9000");
            jail.set_env("HELIOGRAPH_BLOBS__S3__ACCESS_KEY_ID", "AKID");
            jail.set_env("HELIOGRAPH_BLOBS__S3__SECRET_ACCESS_KEY_FILE", "s3-secret");
            let loaded = load(None, &Overrides::default()).unwrap();
            assert_eq!(loaded.config.blobs.s3.secret_access_key, "very-secret-key");
            assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
            let shown = render_masked(&loaded.config).unwrap();
            assert!(!shown.contains("very-secret-key"), "{shown}");
            assert!(
                shown.contains("secret_access_key = \"<masked>\""),
                "{shown}"
            );
            assert!(shown.contains("AKID"));
            jail.set_env("HELIOGRAPH_BLOBS__BACKEND", "gcs");
            let err = load(None, &Overrides::default()).err().unwrap().to_string();
            assert!(err.contains("\"local\" or \"s3\""), "{err}");
            jail.set_env("HELIOGRAPH_BLOBS__BACKEND", "local");
            jail.set_env("HELIOGRAPH_CDN__CDN3_BASE_URL", "cdn.example.org");
            let err = load(None, &Overrides::default()).err().unwrap().to_string();
            assert!(err.contains("cdn.cdn3_base_url"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn cdn_defaults_are_the_official_limits() {
        let c = load_with_env(None, &Overrides::default(), env_none())
            .unwrap()
            .config;
        assert_eq!(c.blobs.backend, "local");
        assert_eq!(c.cdn.max_attachment_bytes, 100 * 1024 * 1024);
        assert_eq!(c.cdn.attachment_retention_days, c.messages.ttl_days);
        assert!(c.cdn.cdn3_base_url.is_empty());
    }
}
