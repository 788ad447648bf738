//! Simulated accounts: key material a real client would have (XEdDSA-signed prekeys,
//! well-formed Kyber-1024 public keys), the test-mode registration flow over an
//! unauthenticated socket, and one-time prekey upload over the account's own socket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use serde::Deserialize;
use serde_json::{json, Value};

use heliograph_protocol::json::{EcPreKey, EcSignedPreKey, KemSignedPreKey, SetKeysRequest};
use heliograph_types::{KemPublicKey, PrivateKey};

use crate::socket::{RequestError, Socket};

/// Serialized Kyber-1024 public key length (type byte included).
const KYBER_LEN: usize = 1569;
/// Kyber / ML-KEM modulus: every packed coefficient of a valid key is below it.
const KYBER_Q: u16 = 3329;
/// The captcha token test mode accepts.
const TEST_CAPTCHA: &str = "noop.noop.registration.noop";
/// A code every test-mode server accepts (`@signalapp/mock-server` wants exactly this one).
const TEST_CODE: &str = "111111";

/// Why a registration step failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// A request got no answer.
    #[error("{step}: {source}")]
    Request {
        /// The step.
        step: &'static str,
        /// What happened.
        source: RequestError,
    },
    /// A request was answered with a non-2xx status.
    #[error("{step}: HTTP {status}")]
    Status {
        /// The step.
        step: &'static str,
        /// The status.
        status: u16,
    },
    /// A response body did not parse.
    #[error("{step}: bad response body")]
    Body {
        /// The step.
        step: &'static str,
    },
}

/// A Kyber-1024 public key that parses as one: 4 × 256 coefficients below q, packed 12 bits
/// each, then a 32-byte seed. Random bytes would not (most servers only check the length, but
/// libsignal-based ones deserialize it).
pub fn kyber_public_key() -> Vec<u8> {
    let mut out = Vec::with_capacity(KYBER_LEN);
    out.push(0x08);
    // A thousand draws per key: a user-space CSPRNG, not a system call each.
    let mut rng = rand::thread_rng();
    for _ in 0..512 {
        let a = rng.gen_range(0..KYBER_Q);
        let b = rng.gen_range(0..KYBER_Q);
        out.push((a & 0xff) as u8);
        out.push(((a >> 8) | ((b & 0x0f) << 4)) as u8);
        out.push((b >> 4) as u8);
    }
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    out.extend_from_slice(&seed);
    out
}

/// One identity (ACI or PNI) of a device.
pub struct Identity {
    /// The identity key pair.
    pub key: PrivateKey,
    signed: PrivateKey,
    last_resort: Vec<u8>,
}

impl Identity {
    /// Fresh keys.
    pub fn generate() -> Identity {
        Identity {
            key: PrivateKey::generate(&mut rand::thread_rng()),
            signed: PrivateKey::generate(&mut rand::thread_rng()),
            last_resort: kyber_public_key(),
        }
    }

    fn signed_pre_key(&self, id: u32) -> EcSignedPreKey {
        let public = self.signed.public_key();
        let signature = self
            .key
            .sign(&mut rand::thread_rng(), &[public.serialize()]);
        EcSignedPreKey {
            key_id: id,
            public_key: public,
            signature: signature.as_bytes().to_vec(),
        }
    }

    fn kem_pre_key(&self, id: u32, public: &[u8]) -> KemSignedPreKey {
        let signature = self.key.sign(&mut rand::thread_rng(), &[public]);
        KemSignedPreKey {
            key_id: id,
            public_key: KemPublicKey::from_bytes(public)
                .expect("kyber_public_key yields 1569 bytes starting with 0x08"),
            signature: signature.as_bytes().to_vec(),
        }
    }

    /// `count` one-time EC and signed Kyber prekeys, ids from `first_id`.
    pub fn one_time_keys(&self, first_id: u32, count: u32) -> SetKeysRequest {
        let ec = (0..count)
            .map(|i| EcPreKey {
                key_id: first_id + i,
                public_key: PrivateKey::generate(&mut rand::thread_rng()).public_key(),
            })
            .collect();
        let kem = (0..count)
            .map(|i| self.kem_pre_key(first_id + i, &kyber_public_key()))
            .collect();
        SetKeysRequest {
            pre_keys: Some(ec),
            signed_pre_key: None,
            pq_pre_keys: Some(kem),
            pq_last_resort_pre_key: None,
        }
    }
}

/// A registered account with one (primary) device.
pub struct Account {
    /// ACI as text.
    pub aci: uuid::Uuid,
    /// PNI as text (bare UUID).
    pub pni: uuid::Uuid,
    /// The primary device's password.
    pub password: String,
    /// ACI registration id.
    pub registration_id: u16,
    /// 16-byte unidentified access key.
    pub access_key: [u8; 16],
    /// ACI identity.
    pub aci_identity: Identity,
    /// PNI identity.
    pub pni_identity: Identity,
}

impl Account {
    /// The Basic-auth username of the primary device.
    pub fn username(&self) -> String {
        format!("{}.1", self.aci)
    }
}

/// Hands out distinct test numbers within a run (`+1555` and seven digits from a random
/// start), so no registration of a run takes over another's account.
pub struct Numbers {
    base: u64,
    next: AtomicU64,
}

impl Default for Numbers {
    fn default() -> Self {
        Numbers {
            base: OsRng.gen_range(0..10_000_000),
            next: AtomicU64::new(0),
        }
    }
}

impl Numbers {
    fn next(&self) -> String {
        let n = (self.base + self.next.fetch_add(1, Ordering::Relaxed)) % 10_000_000;
        format!("+1555{n:07}")
    }
}

#[derive(Deserialize)]
struct SessionBody {
    id: String,
    #[serde(default)]
    verified: bool,
}

#[derive(Deserialize)]
struct RegistrationBody {
    uuid: uuid::Uuid,
    #[serde(default)]
    pni: Option<String>,
}

fn check(
    step: &'static str,
    r: Result<crate::socket::Response, RequestError>,
) -> Result<crate::socket::Response, RegisterError> {
    let r = r.map_err(|source| RegisterError::Request { step, source })?;
    if !r.ok() {
        return Err(RegisterError::Status {
            step,
            status: r.status,
        });
    }
    Ok(r)
}

/// Timings of one registration, in the order of the steps.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationTiming {
    /// From the first request to the account's 200.
    pub total: std::time::Duration,
}

/// Registers a new account through the test-mode flow: create a verification session, answer
/// the captcha, request and submit a code, then `POST /v1/registration` with signed keys.
pub async fn register(
    socket: &Socket,
    numbers: &Numbers,
) -> Result<(Account, RegistrationTiming), RegisterError> {
    let started = Instant::now();
    let number = numbers.next();
    let r = check(
        "create session",
        socket
            .json(
                "POST",
                "/v1/verification/session",
                vec![],
                &json!({ "number": number }),
            )
            .await,
    )?;
    let session: SessionBody = r.json().map_err(|_| RegisterError::Body {
        step: "create session",
    })?;
    let path = format!("/v1/verification/session/{}", session.id);
    check(
        "captcha",
        socket
            .json("PATCH", &path, vec![], &json!({ "captcha": TEST_CAPTCHA }))
            .await,
    )?;
    check(
        "request code",
        socket
            .json(
                "POST",
                &format!("{path}/code"),
                vec![],
                &json!({ "transport": "sms", "client": "desktop" }),
            )
            .await,
    )?;
    let r = check(
        "submit code",
        socket
            .json(
                "PUT",
                &format!("{path}/code"),
                vec![],
                &json!({ "code": TEST_CODE }),
            )
            .await,
    )?;
    let verified: SessionBody = r.json().map_err(|_| RegisterError::Body {
        step: "submit code",
    })?;
    if !verified.verified {
        return Err(RegisterError::Status {
            step: "submit code (not verified)",
            status: 200,
        });
    }

    let aci_identity = Identity::generate();
    let pni_identity = Identity::generate();
    let mut access_key = [0u8; 16];
    OsRng.fill_bytes(&mut access_key);
    let mut recovery = [0u8; 32];
    OsRng.fill_bytes(&mut recovery);
    let registration_id: u16 = OsRng.gen_range(1..=0x3FFF);
    let pni_registration_id: u16 = OsRng.gen_range(1..=0x3FFF);
    let password = {
        let mut p = [0u8; 18];
        OsRng.fill_bytes(&mut p);
        STANDARD.encode(p)
    };
    let body = registration_body(
        &session.id,
        &aci_identity,
        &pni_identity,
        registration_id,
        pni_registration_id,
        &access_key,
        &recovery,
    );
    let basic = STANDARD.encode(format!("{number}:{password}"));
    let r = check(
        "register",
        socket
            .json(
                "POST",
                "/v1/registration",
                vec![format!("authorization:Basic {basic}")],
                &body,
            )
            .await,
    )?;
    let created: RegistrationBody = r
        .json()
        .map_err(|_| RegisterError::Body { step: "register" })?;
    let pni = created
        .pni
        .as_deref()
        .map(|p| p.trim_start_matches("PNI:"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    Ok((
        Account {
            aci: created.uuid,
            pni,
            password,
            registration_id,
            access_key,
            aci_identity,
            pni_identity,
        },
        RegistrationTiming {
            total: started.elapsed(),
        },
    ))
}

/// The registration body in the shape Signal's clients send (capabilities, the access key as
/// a number array, a recovery password), which every target accepts.
fn registration_body(
    session_id: &str,
    aci: &Identity,
    pni: &Identity,
    registration_id: u16,
    pni_registration_id: u16,
    access_key: &[u8; 16],
    recovery: &[u8; 32],
) -> Value {
    json!({
        "sessionId": session_id,
        "accountAttributes": {
            "fetchesMessages": true,
            "registrationId": registration_id,
            "pniRegistrationId": pni_registration_id,
            "capabilities": {"attachmentBackfill": true, "spqr": true, "usernameChangeSyncMessage": true},
            "unidentifiedAccessKey": access_key.to_vec(),
            "unrestrictedUnidentifiedAccess": false,
            "discoverableByPhoneNumber": true,
            "recoveryPassword": STANDARD.encode(recovery),
        },
        "skipDeviceTransfer": true,
        "aciIdentityKey": STANDARD.encode(aci.key.public_key().serialize()),
        "pniIdentityKey": STANDARD.encode(pni.key.public_key().serialize()),
        "aciSignedPreKey": to_json(&aci.signed_pre_key(1)),
        "pniSignedPreKey": to_json(&pni.signed_pre_key(1)),
        "aciPqLastResortPreKey": to_json(&aci.kem_pre_key(2, &aci.last_resort)),
        "pniPqLastResortPreKey": to_json(&pni.kem_pre_key(2, &pni.last_resort)),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// Uploads `count` one-time EC and Kyber prekeys for both identities, as a client does right
/// after registering (`PUT /v2/keys?identity=aci|pni` on its authenticated socket).
pub async fn upload_keys(
    socket: &Socket,
    account: &Account,
    count: u32,
) -> Result<(), RegisterError> {
    if count == 0 {
        return Ok(());
    }
    for (identity, name) in [
        (&account.aci_identity, "aci"),
        (&account.pni_identity, "pni"),
    ] {
        let body = identity.one_time_keys(100, count);
        check(
            "upload keys",
            socket
                .json("PUT", &format!("/v2/keys?identity={name}"), vec![], &body)
                .await,
        )?;
    }
    Ok(())
}
