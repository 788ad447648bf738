//! Start-up, restart and shutdown: state and key material survive restarts, and the binary
//! stops cleanly on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

#[tokio::test]
async fn restart_keeps_accounts_keys_and_material() {
    let server = TestServer::start().await;
    let alice = register(&server).await;
    let bob = register(&server).await;
    let root = std::fs::read(
        server
            .data_dir()
            .join("public/unidentified-delivery-trust-root.pub"),
    )
    .unwrap();
    let ca = std::fs::read(server.data_dir().join("public/tls-ca.der")).unwrap();
    let dir = server.stop().await;

    let server = TestServer::start_in(dir).await;
    assert_eq!(
        std::fs::read(
            server
                .data_dir()
                .join("public/unidentified-delivery-trust-root.pub")
        )
        .unwrap(),
        root
    );
    assert_eq!(
        std::fs::read(server.data_dir().join("public/tls-ca.der")).unwrap(),
        ca
    );
    let me: Value = server
        .http1
        .get(server.url("/v1/accounts/whoami"))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["uuid"], alice.aci);
    let bundle: Value = server
        .http1
        .get(server.url(&format!("/v2/keys/{}/1", bob.aci)))
        .header("authorization", alice.auth())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bundle["devices"][0]["signedPreKey"]["keyId"], 1);
    server.stop().await;
}

#[test]
fn binary_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_heliograph"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().unwrap().unwrap();
    assert!(
        line.starts_with("listening on https://127.0.0.1:"),
        "{line}"
    );
    assert!(dir.path().join("public/tls-ca.pem").exists());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit, got {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "did not stop within 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn help_is_useful() {
    let out = Command::new(env!("CARGO_BIN_EXE_heliograph"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("serve") && text.contains("config"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_heliograph"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--data-dir") && text.contains("--listen"),
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_heliograph"))
        .args(["config", "check", "--listen", "nonsense"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.listen"));
}

#[tokio::test]
async fn plaintext_listener_serves_the_same_api() {
    let overrides = heliograph_server::config::Overrides {
        plaintext_listen: Some("127.0.0.1:0".into()),
        ..Default::default()
    };
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), overrides).await;
    let plain = server.plaintext.expect("plaintext listener bound");
    let client = reqwest::Client::builder().http1_only().build().unwrap();
    let r = client
        .get(format!("http://{plain}/v1/keepalive"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-signal-timestamp"));
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = h2c
        .get(format!("http://{plain}/v1/keepalive"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    server.stop().await;
}
