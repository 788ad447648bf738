//! Group send endorsements: per-expiration derived key pairs, issuing endorsements for a group's
//! member ciphertexts, and verifying the `GroupSendFullToken` a sender presents for a set of
//! recipients.
//!
//! The derived key for expiration `e` uses tag scalar `t` from SHO
//! `20240215_Signal_GroupSendEndorsement` over `e` (big endian): `sk' = 1/(sk + t)`,
//! `PK' = PK + t*G`. An endorsement of point `E` is `sk' * E`; a token for service ids `S` is the
//! first 16 bytes of `SHA-256(compress(sk' * sum(M1(s))))`.

#![allow(non_snake_case)]

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::MultiscalarMul;
use heliograph_types::ServiceId;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::error::{ZkError, ZkResult};
use crate::params::ServerSecretParams;
use crate::poksho::{args, Statement};
use crate::sho::{Sho, ShoHmacSha256};
use crate::uid::calc_m1;
use crate::wire::{Reader, Writer};
use crate::{RANDOMNESS_LEN, SECONDS_PER_DAY};

const TOKEN_LEN: usize = 16;

/// Serialized length of a `UuidCiphertext`.
pub const UUID_CIPHERTEXT_LEN: usize = 65;

/// The endorsement key pair derived from the server root key for one expiration.
#[derive(Clone)]
pub struct GroupSendDerivedKeyPair {
    sk_prime: Scalar,
    PK_prime: RistrettoPoint,
    expiration: u64,
}

impl std::fmt::Debug for GroupSendDerivedKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSendDerivedKeyPair")
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl Drop for GroupSendDerivedKeyPair {
    fn drop(&mut self) {
        self.sk_prime.zeroize();
    }
}

fn tag_scalar(expiration: u64) -> Scalar {
    let mut sho = ShoHmacSha256::with_data(
        b"20240215_Signal_GroupSendEndorsement",
        &expiration.to_be_bytes(),
    );
    sho.get_scalar()
}

impl GroupSendDerivedKeyPair {
    /// Derives the key pair for `expiration` (epoch seconds, day-aligned in practice).
    pub fn for_expiration(expiration: u64, secret_params: &ServerSecretParams) -> Self {
        let root = &secret_params.endorsement;
        let mut t = tag_scalar(expiration);
        let mut sum = root.sk + t;
        let sk_prime = sum.invert();
        let PK_prime = root.PK + RistrettoPoint::mul_base(&t);
        t.zeroize();
        sum.zeroize();
        Self {
            sk_prime,
            PK_prime,
            expiration,
        }
    }

    /// The expiration this key pair is for.
    pub fn expiration(&self) -> u64 {
        self.expiration
    }

    /// libsignal's `GroupSendDerivedKeyPair` serialization (secret!).
    pub fn serialize(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(0)
            .scalar(&self.sk_prime)
            .point(&self.PK_prime)
            .u64(self.expiration);
        w.finish()
    }

    /// Parses libsignal's serialization.
    pub fn deserialize(bytes: &[u8]) -> ZkResult<Self> {
        let mut r = Reader::new(bytes, "GroupSendDerivedKeyPair");
        r.expect_u8(0)?;
        let sk_prime = r.scalar()?;
        let PK_prime = r.point()?;
        let expiration = r.u64()?;
        r.finish()?;
        Ok(Self {
            sk_prime,
            PK_prime,
            expiration,
        })
    }
}

/// Default expiration libsignal clients and servers use for endorsements issued at `now`:
/// the start of the day after tomorrow, or one day later if that is less than 25 hours away.
pub fn default_expiration(now_seconds: u64) -> u64 {
    let start_of_day = now_seconds - now_seconds % SECONDS_PER_DAY;
    let mut expiration = start_of_day.saturating_add(2 * SECONDS_PER_DAY);
    if expiration.saturating_sub(now_seconds) < SECONDS_PER_DAY + 3600 {
        expiration = expiration.saturating_add(SECONDS_PER_DAY);
    }
    expiration
}

/// Parses a serialized `UuidCiphertext` and returns its first point `E_A1`.
fn first_point_of_uuid_ciphertext(bytes: &[u8]) -> ZkResult<RistrettoPoint> {
    let mut r = Reader::new(bytes, "UuidCiphertext");
    r.expect_u8(0)?;
    let e1 = r.point()?;
    let _e2 = r.point()?;
    r.finish()?;
    Ok(e1)
}

/// Weights of the batched proof, from `PK'`, the encodings of the doubled points `2*E_i`
/// (`doubled`, same order as `R`) and the endorsements `R_i`.
fn proof_weights(
    PK_prime: &RistrettoPoint,
    doubled: &[CompressedRistretto],
    R: &[CompressedRistretto],
) -> Vec<Scalar> {
    let mut sho = ShoHmacSha256::new(
        b"Signal_ZKCredential_Endorsements_EndorsementResponse_ProofWeights_20240207",
    );
    sho.absorb(PK_prime.compress().as_bytes());
    for d in doubled {
        sho.absorb(d.as_bytes());
    }
    for r in R {
        sho.absorb(r.as_bytes());
    }
    sho.ratchet();
    let mut bytes = vec![0u8; doubled.len().saturating_sub(1) * 16];
    sho.squeeze_into(&mut bytes);
    bytes
        .chunks_exact(16)
        .map(|c| {
            let mut s = [0u8; 32];
            s[..16].copy_from_slice(c);
            s[15] &= 0x7f;
            Scalar::from_bytes_mod_order(s)
        })
        .collect()
}

fn endorsement_statement() -> ZkResult<Statement> {
    let mut st = Statement::new();
    st.add("weighted_sum(R)", &[("sk_prime", "weighted_sum(E)")])?;
    st.add("G", &[("sk_prime", "PK_prime")])?;
    Ok(st)
}

/// Issuing endorsements (`GroupSendEndorsementsResponse`).
pub struct GroupSendEndorsementsResponse;

impl GroupSendEndorsementsResponse {
    /// Endorses each member ciphertext (serialized `UuidCiphertext`, 65 bytes each) with
    /// `key_pair`; returns libsignal's serialized `GroupSendEndorsementsResponse`, which clients
    /// receive with `receiveWithServiceIds`.
    pub fn issue<R: RngCore + CryptoRng>(
        member_ciphertexts: &[&[u8]],
        key_pair: &GroupSendDerivedKeyPair,
        rng: &mut R,
    ) -> ZkResult<Vec<u8>> {
        let randomness = crate::draw(rng);
        Self::issue_deterministic(member_ciphertexts, key_pair, &randomness)
    }

    /// [`Self::issue`] with explicit randomness.
    pub fn issue_deterministic(
        member_ciphertexts: &[&[u8]],
        key_pair: &GroupSendDerivedKeyPair,
        randomness: &[u8; RANDOMNESS_LEN],
    ) -> ZkResult<Vec<u8>> {
        if member_ciphertexts.is_empty() {
            return Err(ZkError::InvalidArgument("no member ciphertexts"));
        }
        let points = member_ciphertexts
            .iter()
            .map(|c| first_point_of_uuid_ciphertext(c))
            .collect::<ZkResult<Vec<_>>>()?;
        // Canonical order: by the encoding of the doubled point (also hashed into the weights).
        let doubled_all = RistrettoPoint::double_and_compress_batch(&points);
        let mut order: Vec<usize> = (0..points.len()).collect();
        order.sort_unstable_by_key(|&i| doubled_all[i].to_bytes());
        let E: Vec<RistrettoPoint> = order.iter().map(|&i| points[i]).collect();
        let doubled: Vec<CompressedRistretto> = order.iter().map(|&i| doubled_all[i]).collect();

        let sk = &key_pair.sk_prime;
        let R: Vec<CompressedRistretto> = E.iter().map(|e| (sk * e).compress()).collect();
        let weights = proof_weights(&key_pair.PK_prime, &doubled, &R);
        let sum_E = E[0] + RistrettoPoint::multiscalar_mul(&weights, &E[1..]);
        let sum_R = sk * sum_E;

        let mut scalars = args(&[("sk_prime", *sk)]);
        let proof = endorsement_statement()?.prove(
            &scalars,
            &args(&[
                ("weighted_sum(E)", sum_E),
                ("weighted_sum(R)", sum_R),
                ("PK_prime", key_pair.PK_prime),
            ]),
            b"",
            randomness,
        );
        scalars.values_mut().for_each(Zeroize::zeroize);
        let proof = proof?;

        let mut w = Writer::default();
        w.u8(0).u64(R.len() as u64);
        for r in &R {
            w.compressed(r);
        }
        w.byte_vec(&proof).u64(key_pair.expiration);
        Ok(w.finish())
    }
}

/// A `GroupSendFullToken` presented by a sender (token plus expiration).
#[derive(Clone, Debug)]
pub struct GroupSendFullToken {
    raw_token: Vec<u8>,
    expiration: u64,
}

impl GroupSendFullToken {
    /// Parses libsignal's serialization.
    pub fn deserialize(bytes: &[u8]) -> ZkResult<Self> {
        let mut r = Reader::new(bytes, "GroupSendFullToken");
        r.expect_u8(0)?;
        let raw_token = r.byte_vec()?;
        let expiration = r.u64()?;
        r.finish()?;
        Ok(Self {
            raw_token,
            expiration,
        })
    }

    /// libsignal's serialization.
    pub fn serialize(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(0).byte_vec(&self.raw_token).u64(self.expiration);
        w.finish()
    }

    /// The expiration (epoch seconds) the token claims; derive the key pair for it.
    pub fn expiration(&self) -> u64 {
        self.expiration
    }

    /// Checks that the token endorses exactly the set `service_ids` at time `now_seconds`.
    /// `key_pair` must be the one for [`Self::expiration`].
    pub fn verify(
        &self,
        service_ids: &[ServiceId],
        now_seconds: u64,
        key_pair: &GroupSendDerivedKeyPair,
    ) -> ZkResult<()> {
        if now_seconds > self.expiration {
            return Err(ZkError::Verification);
        }
        if key_pair.expiration != self.expiration {
            return Err(ZkError::InvalidArgument("key pair for another expiration"));
        }
        let sum: RistrettoPoint = service_ids.iter().map(calc_m1).sum();
        let P = key_pair.sk_prime * sum;
        let digest = Sha256::digest(P.compress().as_bytes());
        let expected = &digest[..TOKEN_LEN];
        if self.raw_token.len() == TOKEN_LEN && bool::from(self.raw_token.ct_eq(expected)) {
            Ok(())
        } else {
            Err(ZkError::Verification)
        }
    }
}
