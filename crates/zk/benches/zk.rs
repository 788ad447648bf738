//! Rough cost of the server operations (no criterion yet: plain wall-clock timing, median of
//! several rounds). Run with `cargo bench -p heliograph-zk`.

use std::time::{Duration, Instant};

use heliograph_types::{Aci, Pni, ServiceId};
use heliograph_zk::endorsements::{GroupSendDerivedKeyPair, GroupSendEndorsementsResponse};
use heliograph_zk::{ServerSecretParams, SECONDS_PER_DAY};

fn time<T>(name: &str, iters: u32, mut f: impl FnMut() -> T) {
    let mut rounds: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(f());
            }
            start.elapsed() / iters
        })
        .collect();
    rounds.sort();
    println!("{name:<48} {:>10.1} µs", rounds[2].as_secs_f64() * 1e6);
}

fn main() {
    let mut rng = rand::rngs::OsRng;
    let params = ServerSecretParams::generate_deterministic(&[1u8; 32]);
    let bytes = params.serialize();
    let aci = Aci::from_uuid(uuid::Uuid::from_bytes([2; 16]));
    let pni = Pni::from_uuid(uuid::Uuid::from_bytes([3; 16]));
    let t = 20_000 * SECONDS_PER_DAY;

    time("ServerSecretParams::generate", 20, || {
        ServerSecretParams::generate(&mut rng)
    });
    time("ServerSecretParams::deserialize", 50, || {
        ServerSecretParams::deserialize(&bytes)
    });
    time("get_public_params().serialize()", 200, || {
        params.get_public_params().serialize()
    });
    time("issue_auth_credential_with_pni_zkc", 50, || {
        params.issue_auth_credential_with_pni_zkc(&mut rng, aci, pni, t)
    });
    time("GroupSendDerivedKeyPair::for_expiration", 200, || {
        GroupSendDerivedKeyPair::for_expiration(t, &params)
    });

    // Member ciphertexts: E_A1 = a1*M1 shapes are irrelevant to cost; use valid points.
    let kp = GroupSendDerivedKeyPair::for_expiration(t, &params);
    let ct: Vec<u8> = {
        let mut v = vec![0u8];
        let p = curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
        v.extend_from_slice(p.compress().as_bytes());
        v.extend_from_slice(p.compress().as_bytes());
        v
    };
    for n in [10usize, 100] {
        let cts: Vec<&[u8]> = (0..n).map(|_| ct.as_slice()).collect();
        time(
            &format!("GroupSendEndorsementsResponse::issue ({n})"),
            5,
            || GroupSendEndorsementsResponse::issue(&cts, &kp, &mut rng),
        );
    }
    let ids: Vec<ServiceId> = (0..10u8)
        .map(|i| ServiceId::Aci(Aci::from_uuid(uuid::Uuid::from_bytes([i; 16]))))
        .collect();
    let token = {
        let mut v = vec![0u8];
        v.extend_from_slice(&16u64.to_le_bytes());
        v.extend_from_slice(&[0u8; 16]);
        v.extend_from_slice(&t.to_le_bytes());
        heliograph_zk::endorsements::GroupSendFullToken::deserialize(&v).ok()
    };
    if let Some(token) = token {
        time("GroupSendFullToken::verify (10 ids)", 100, || {
            token.verify(&ids, t - 3600, &kp)
        });
    }
}
