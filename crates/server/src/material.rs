//! Key material under the data directory: created on first start, reused afterwards.
//!
//! ```text
//! DIR/secrets/credentials.key          32 random bytes: root of the HMAC credential secrets
//! DIR/secrets/trust-root.key           sealed-sender trust root private key (keep offline in production)
//! DIR/secrets/server-certificate.key   private key of the server certificate that signs sender certificates
//! DIR/tls/ca.pem, ca.key.pem           local development CA
//! DIR/tls/server.pem, server.key.pem   certificate for localhost and 127.0.0.1, signed by that CA
//! DIR/public/tls-ca.der, tls-ca.pem    what clients need to trust the local CA
//! DIR/secrets/zk-server-secret-params.bin   zkgroup ServerSecretParams (libsignal serialization)
//! DIR/public/unidentified-delivery-trust-root.pub   33-byte serialized trust root public key
//! DIR/public/zk-server-public-params.bin   zkgroup ServerPublicParams clients are built with
//! ```
//! Several nodes of one deployment share these files (copy the directory's `secrets/`,
//! `tls/` and `public/` to every node); nothing here is tied to one process.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use heliograph_types::{PrivateKey, PublicKey};
use rand::RngCore;

/// Everything the server loaded or generated.
pub struct Material {
    /// The root of the credential HMAC secrets.
    pub credentials_key: [u8; 32],
    /// Sealed-sender trust root.
    pub trust_root: PrivateKey,
    /// Key of the server certificate.
    pub server_certificate_key: PrivateKey,
    /// zkgroup server secret params (libsignal's serialization on disk).
    pub zk_secret: heliograph_zk::ServerSecretParams,
    /// Paths of the TLS chain and key in use.
    pub tls: TlsFiles,
    /// `DIR/public`.
    pub public_dir: PathBuf,
}

/// Certificate chain and key files.
pub struct TlsFiles {
    /// PEM chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

impl Material {
    /// The key that signs device-link tokens: HMAC-SHA256 of the credential root key with a
    /// fixed label, so every node of a deployment derives the same one.
    pub fn link_secret(&self) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.credentials_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"heliograph link-device token key");
        mac.finalize().into_bytes().into()
    }

    /// The trust root public key clients must be built with.
    pub fn trust_root_public(&self) -> PublicKey {
        self.trust_root.public_key()
    }
}

/// Writes `bytes` to `path` atomically (temp file + rename), readable only by the owner when
/// `secret` is set.
pub fn write_file(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    let dir = path.parent().context("path without parent")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if secret { 0o600 } else { 0o644 });
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn load_or_create_key(path: &Path) -> anyhow::Result<PrivateKey> {
    if path.exists() {
        let raw = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        return PrivateKey::from_bytes(&raw)
            .map_err(|_| anyhow::anyhow!("{} is not a 32-byte private key", path.display()));
    }
    let key = PrivateKey::generate(&mut rand::rngs::OsRng);
    write_file(path, &key.to_bytes(), true)?;
    Ok(key)
}

/// Loads the zkgroup secret params, generating them on first start. The file holds exactly
/// what libsignal's `ServerSecretParams.serialize()` produces, so it can move between
/// implementations.
fn load_or_create_zk(path: &Path) -> anyhow::Result<heliograph_zk::ServerSecretParams> {
    if path.exists() {
        let raw = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        return heliograph_zk::ServerSecretParams::deserialize(&raw).map_err(|e| {
            anyhow::anyhow!(
                "{} is not a zkgroup ServerSecretParams: {e}",
                path.display()
            )
        });
    }
    let params = heliograph_zk::ServerSecretParams::generate(&mut rand::rngs::OsRng);
    write_file(path, &params.serialize(), true)?;
    Ok(params)
}

/// Loads the key material from `data_dir`, creating whatever is missing. `operator_tls`
/// replaces the generated local CA when the operator gives a certificate and key.
pub fn load_or_create(data_dir: &Path, operator_tls: Option<TlsFiles>) -> anyhow::Result<Material> {
    fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let secrets = data_dir.join("secrets");
    let public_dir = data_dir.join("public");

    let cred_path = secrets.join("credentials.key");
    let credentials_key = if cred_path.exists() {
        let raw = fs::read(&cred_path)?;
        raw.as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} must hold 32 bytes", cred_path.display()))?
    } else {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        write_file(&cred_path, &k, true)?;
        k
    };
    let trust_root = load_or_create_key(&secrets.join("trust-root.key"))?;
    let server_certificate_key = load_or_create_key(&secrets.join("server-certificate.key"))?;
    write_if_changed(
        &public_dir.join("unidentified-delivery-trust-root.pub"),
        trust_root.public_key().serialize(),
    )?;
    let zk_secret = load_or_create_zk(&secrets.join("zk-server-secret-params.bin"))?;
    write_if_changed(
        &public_dir.join("zk-server-public-params.bin"),
        &zk_secret.get_public_params().serialize(),
    )?;

    let tls = match operator_tls {
        Some(files) => files,
        None => local_ca(data_dir, &public_dir)?,
    };
    Ok(Material {
        credentials_key,
        trust_root,
        server_certificate_key,
        zk_secret,
        tls,
        public_dir,
    })
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        write_file(path, bytes, false)?;
    }
    Ok(())
}

/// Creates (once) a development CA and a certificate for `localhost` and `127.0.0.1`.
fn local_ca(data_dir: &Path, public_dir: &Path) -> anyhow::Result<TlsFiles> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let tls_dir = data_dir.join("tls");
    let ca_pem = tls_dir.join("ca.pem");
    let ca_key_pem = tls_dir.join("ca.key.pem");
    let cert = tls_dir.join("server.pem");
    let key = tls_dir.join("server.key.pem");

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Heliograph local development CA");
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];

    if !ca_pem.exists() || !ca_key_pem.exists() {
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        write_file(&ca_key_pem, ca_key.serialize_pem().as_bytes(), true)?;
        write_file(&ca_pem, ca_cert.pem().as_bytes(), false)?;
        // A new CA invalidates any older server certificate.
        let _ = fs::remove_file(&cert);
    }
    if !cert.exists() || !key.exists() {
        let ca_key = KeyPair::from_pem(&fs::read_to_string(&ca_key_pem)?)?;
        // The issuer is rebuilt from the same parameters (name, constraints) and the stored key,
        // which is what chains the new certificate to the stored CA certificate.
        let issuer = Issuer::from_params(&ca_params, ca_key);
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "localhost");
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let server_key = KeyPair::generate()?;
        let server_cert = params.signed_by(&server_key, &issuer)?;
        write_file(&key, server_key.serialize_pem().as_bytes(), true)?;
        write_file(&cert, server_cert.pem().as_bytes(), false)?;
    }
    let ca_text = fs::read_to_string(&ca_pem)?;
    let ca_der = rustls_pemfile::certs(&mut ca_text.as_bytes())
        .next()
        .context("ca.pem holds no certificate")??;
    write_if_changed(&public_dir.join("tls-ca.pem"), ca_text.as_bytes())?;
    write_if_changed(&public_dir.join("tls-ca.der"), ca_der.as_ref())?;
    Ok(TlsFiles { cert, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_creates_and_later_starts_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), None).unwrap();
        let public = dir.path().join("public");
        for f in [
            "tls-ca.der",
            "tls-ca.pem",
            "unidentified-delivery-trust-root.pub",
        ] {
            assert!(public.join(f).exists(), "{f}");
        }
        let root = fs::read(public.join("unidentified-delivery-trust-root.pub")).unwrap();
        assert_eq!(root.len(), 33);
        assert_eq!(root[0], 0x05);
        let ca = fs::read(public.join("tls-ca.der")).unwrap();
        let second = load_or_create(dir.path(), None).unwrap();
        assert_eq!(first.credentials_key, second.credentials_key);
        assert_eq!(first.trust_root_public(), second.trust_root_public());
        assert_eq!(first.zk_secret.serialize(), second.zk_secret.serialize());
        assert_eq!(
            fs::read(public.join("zk-server-public-params.bin"))
                .unwrap()
                .len(),
            673
        );
        assert_eq!(fs::read(public.join("tls-ca.der")).unwrap(), ca);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("secrets/trust-root.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "secrets are private");
        }
    }
}
