//! Starts the real server in process on 127.0.0.1:0 with a fresh data directory, and gives
//! tests an HTTPS client that trusts the server's generated CA.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use heliograph_server::config::{self, Overrides};
use heliograph_types::{PrivateKey, PublicKey};
use rand::rngs::OsRng;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub plaintext: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
    pub base: String,
    pub http1: reqwest::Client,
    pub http2: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_in(tempfile::tempdir().unwrap()).await
    }

    /// Starts on an existing data directory (to test restarts).
    pub async fn start_in(dir: tempfile::TempDir) -> TestServer {
        Self::start_with(dir, Overrides::default()).await
    }

    /// Starts with extra overrides (plaintext listener, database URL...).
    pub async fn start_with(dir: tempfile::TempDir, extra: Overrides) -> TestServer {
        Self::start_configured(dir, extra, |_| {}).await
    }

    /// Starts with extra overrides and any other configuration change `edit` makes.
    pub async fn start_configured(
        dir: tempfile::TempDir,
        extra: Overrides,
        edit: impl FnOnce(&mut heliograph_server::Config),
    ) -> TestServer {
        let overrides = Overrides {
            data_dir: Some(dir.path().to_path_buf()),
            listen: Some("127.0.0.1:0".into()),
            ..extra
        };
        let mut loaded = config::load(None, &overrides).unwrap();
        edit(&mut loaded.config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel::<heliograph_server::Bound>();
        let task = tokio::spawn(heliograph_server::run(
            loaded.config,
            listener,
            async move {
                let _ = stop_rx.await;
            },
            move |bound| {
                let _ = ready_tx.send(bound.clone());
            },
        ));
        let bound = ready_rx.await.expect("server failed to start");
        let ca = std::fs::read(dir.path().join("public/tls-ca.pem")).unwrap();
        let client = |h2: bool| {
            let mut b = reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
                .resolve("localhost", addr);
            b = if h2 {
                b.http2_prior_knowledge()
            } else {
                b.http1_only()
            };
            b.build().unwrap()
        };
        TestServer {
            plaintext: bound.plaintext,
            addr,
            base: format!("https://localhost:{}", addr.port()),
            http1: client(false),
            http2: client(true),
            dir,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the server gracefully and hands back the data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

/// A random US test number.
pub fn random_number() -> String {
    format!("+1555{:07}", rand::random::<u32>() % 10_000_000)
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Keys of one identity: identity key pair, signed EC prekey, last-resort KEM key.
pub struct IdentityKeys {
    pub identity: PrivateKey,
    pub signed: PrivateKey,
    pub kem_public: Vec<u8>,
}

impl IdentityKeys {
    pub fn generate() -> Self {
        let mut kem_public = vec![0u8; 1569];
        kem_public[0] = 0x08;
        rand::RngCore::fill_bytes(&mut OsRng, &mut kem_public[1..]);
        IdentityKeys {
            identity: PrivateKey::generate(&mut OsRng),
            signed: PrivateKey::generate(&mut OsRng),
            kem_public,
        }
    }

    pub fn identity_public(&self) -> PublicKey {
        self.identity.public_key()
    }

    pub fn signed_pre_key(&self, id: u32) -> Value {
        let public = self.signed.public_key();
        let sig = self.identity.sign(&mut OsRng, &[public.serialize()]);
        json!({"keyId": id, "publicKey": b64(public.serialize()), "signature": b64(sig.as_bytes())})
    }

    pub fn kem_pre_key(&self, id: u32, public: &[u8]) -> Value {
        let sig = self.identity.sign(&mut OsRng, &[public]);
        json!({"keyId": id, "publicKey": b64(public), "signature": b64(sig.as_bytes())})
    }

    pub fn last_resort(&self, id: u32) -> Value {
        self.kem_pre_key(id, &self.kem_public)
    }
}

/// A registered account.
pub struct Account {
    pub aci: String,
    pub pni: String,
    pub number: String,
    pub password: String,
    pub aci_keys: IdentityKeys,
    pub pni_keys: IdentityKeys,
    pub access_key: [u8; 16],
}

impl Account {
    pub fn auth(&self) -> String {
        self.auth_for(1)
    }

    pub fn auth_for(&self, device: u8) -> String {
        format!(
            "Basic {}",
            b64(format!("{}.{}:{}", self.aci, device, self.password).as_bytes())
        )
    }
}

/// Runs the test-mode verification flow and returns a verified session id.
pub async fn verified_session(
    client: &reqwest::Client,
    server: &TestServer,
    number: &str,
) -> String {
    verified_session_at(client, &server.base, number).await
}

/// [`verified_session`] against any base URL (in-process server or child process).
pub async fn verified_session_at(client: &reqwest::Client, base: &str, number: &str) -> String {
    let url = |path: &str| format!("{base}{path}");
    let s: Value = client
        .post(url("/v1/verification/session"))
        .json(&json!({"number": number}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = s["id"].as_str().unwrap().to_owned();
    let r = client
        .patch(url(&format!("/v1/verification/session/{id}")))
        .json(&json!({"captcha": "noop.noop.registration.noop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(url(&format!("/v1/verification/session/{id}/code")))
        .json(&json!({"transport": "sms", "client": "android-2021-03"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s: Value = client
        .put(url(&format!("/v1/verification/session/{id}/code")))
        .json(&json!({"code": "123456"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["verified"], true);
    id
}

/// The registration body for fresh keys.
pub fn registration_body(
    session_id: &str,
    aci: &IdentityKeys,
    pni: &IdentityKeys,
    access_key: &[u8; 16],
) -> Value {
    json!({
        "sessionId": session_id,
        "accountAttributes": {
            "fetchesMessages": true,
            "registrationId": 1234,
            "pniRegistrationId": 5678,
            "capabilities": {"spqr": true, "storage": true},
            "unidentifiedAccessKey": b64(access_key),
            "unrestrictedUnidentifiedAccess": false,
            "discoverableByPhoneNumber": true
        },
        "skipDeviceTransfer": true,
        "aciIdentityKey": b64(aci.identity_public().serialize()),
        "pniIdentityKey": b64(pni.identity_public().serialize()),
        "aciSignedPreKey": aci.signed_pre_key(1),
        "pniSignedPreKey": pni.signed_pre_key(1),
        "aciPqLastResortPreKey": aci.last_resort(2),
        "pniPqLastResortPreKey": pni.last_resort(2)
    })
}

/// Registers a new account through the public API.
pub async fn register(server: &TestServer) -> Account {
    register_at(&server.http1, &server.base).await
}

/// [`register`] against any base URL (in-process server or child process).
pub async fn register_at(client: &reqwest::Client, base: &str) -> Account {
    let number = random_number();
    let session = verified_session_at(client, base, &number).await;
    let aci_keys = IdentityKeys::generate();
    let pni_keys = IdentityKeys::generate();
    let access_key: [u8; 16] = rand::random();
    let password = format!("pw{}", rand::random::<u64>());
    let resp = client
        .post(format!("{base}/v1/registration"))
        .header(
            "authorization",
            format!("Basic {}", b64(format!("{number}:{password}").as_bytes())),
        )
        .json(&registration_body(
            &session,
            &aci_keys,
            &pni_keys,
            &access_key,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let body: Value = resp.json().await.unwrap();
    Account {
        aci: body["uuid"].as_str().unwrap().to_owned(),
        pni: body["pni"].as_str().unwrap().to_owned(),
        number,
        password,
        aci_keys,
        pni_keys,
        access_key,
    }
}

/// The `heliograph` binary running as a child process (for kill -9 and signal tests).
pub struct BinaryServer {
    pub child: std::process::Child,
    pub port: u16,
    pub base: String,
    pub http1: reqwest::Client,
}

impl BinaryServer {
    pub fn spawn(dir: &std::path::Path) -> BinaryServer {
        Self::spawn_with(dir, &[], &[])
    }

    /// Spawns with extra CLI flags and environment variables.
    pub fn spawn_with(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> BinaryServer {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_heliograph"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let line = lines.next().unwrap().unwrap();
        let addr: SocketAddr = line
            .trim_start_matches("listening on https://")
            .parse()
            .unwrap();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let ca = std::fs::read(dir.join("public/tls-ca.pem")).unwrap();
        let http1 = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .resolve("localhost", addr)
            .http1_only()
            .build()
            .unwrap();
        BinaryServer {
            child,
            port: addr.port(),
            base: format!("https://localhost:{}", addr.port()),
            http1,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET url` with an optional header, decoded as JSON (panics on a non-JSON body).
pub async fn get_json(client: &reqwest::Client, url: &str, header: Option<(&str, &str)>) -> Value {
    let mut req = client.get(url);
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    req.send().await.unwrap().json().await.unwrap()
}
