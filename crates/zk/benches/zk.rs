//! Criterion benchmarks of the zkgroup server operations on request paths. libsignal's own
//! figures for the same operations come from `interop/bench/zk-libsignal.mjs` (its Node binding);
//! both are reported side by side in `docs/zk.md`. Run with `cargo bench -p heliograph-zk`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use heliograph_types::{Aci, Pni, ServiceId};
use heliograph_zk::endorsements::{GroupSendDerivedKeyPair, GroupSendEndorsementsResponse};
use heliograph_zk::username::Username;
use heliograph_zk::{username_hash, verify_username_proof, ServerSecretParams, SECONDS_PER_DAY};

fn ops(c: &mut Criterion) {
    let mut rng = rand::rngs::OsRng;
    let params = ServerSecretParams::generate_deterministic(&[1u8; 32]);
    let bytes = params.serialize();
    let aci = Aci::from_uuid(uuid::Uuid::from_bytes([2; 16]));
    let pni = Pni::from_uuid(uuid::Uuid::from_bytes([3; 16]));
    let t = 20_000 * SECONDS_PER_DAY;

    c.bench_function("ServerSecretParams::deserialize", |b| {
        b.iter(|| ServerSecretParams::deserialize(&bytes))
    });
    c.bench_function("issue_auth_credential_with_pni_zkc", |b| {
        b.iter(|| params.issue_auth_credential_with_pni_zkc(&mut rng, aci, pni, t))
    });
    c.bench_function("GroupSendDerivedKeyPair::for_expiration", |b| {
        b.iter(|| GroupSendDerivedKeyPair::for_expiration(t, &params))
    });

    // Endorsement issuance cost does not depend on which points the ciphertexts hold.
    let kp = GroupSendDerivedKeyPair::for_expiration(t, &params);
    let ct: Vec<u8> = {
        let mut v = vec![0u8];
        let p = curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
        v.extend_from_slice(p.compress().as_bytes());
        v.extend_from_slice(p.compress().as_bytes());
        v
    };
    let mut group = c.benchmark_group("GroupSendEndorsementsResponse::issue");
    group.sample_size(10);
    for n in [10usize, 100] {
        let cts: Vec<&[u8]> = (0..n).map(|_| ct.as_slice()).collect();
        group.bench_with_input(BenchmarkId::from_parameter(n), &cts, |b, cts| {
            b.iter(|| GroupSendEndorsementsResponse::issue(cts, &kp, &mut rng))
        });
    }
    group.finish();

    // Token verification: the cost is hashing each member to a point, whether or not the
    // token matches.
    let ids: Vec<ServiceId> = (0..10u8)
        .map(|i| ServiceId::Aci(Aci::from_uuid(uuid::Uuid::from_bytes([i; 16]))))
        .collect();
    let mut raw = vec![0u8];
    raw.extend_from_slice(&16u64.to_le_bytes());
    raw.extend_from_slice(&[0u8; 16]);
    raw.extend_from_slice(&t.to_le_bytes());
    if let Ok(token) = heliograph_zk::endorsements::GroupSendFullToken::deserialize(&raw) {
        c.bench_function("GroupSendFullToken::verify (10 members)", |b| {
            b.iter(|| token.verify(&ids, t - 3600, &kp))
        });
    }
}

/// `PUT /v1/accounts/username_hash/confirm` verifies one username proof per call.
fn usernames(c: &mut Criterion) {
    let name = "hello_signal.42";
    let username = Username::parse(name).unwrap();
    let hash = username.hash();
    let proof = username.proof_deterministic(&[5u8; 32]).unwrap();
    c.bench_function("verify_username_proof", |b| {
        b.iter(|| verify_username_proof(&proof, &hash))
    });
    c.bench_function("username_hash", |b| b.iter(|| username_hash(name)));
}

criterion_group!(benches, ops, usernames);
criterion_main!(benches);
