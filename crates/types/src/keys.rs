//! Public key types in their serialized wire form, private keys, and XEdDSA signatures.
//!
//! Signal serializes a Curve25519 public key as a type byte `0x05` followed by the 32-byte
//! Montgomery u-coordinate, and a Kyber-1024 public key as `0x08` followed by 1568 bytes.
//! Signatures are XEdDSA: an Ed25519-style signature made with the Montgomery private key,
//! with the sign bit of the Edwards public key carried in the top bit of the last byte.

use std::fmt;

use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Why key material could not be parsed or a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// An EC public key must be 33 bytes starting with 0x05.
    #[error("invalid EC public key")]
    EcPublicKey,
    /// A Kyber-1024 public key must be 1569 bytes starting with 0x08.
    #[error("invalid KEM public key")]
    KemPublicKey,
    /// A private key must be 32 bytes.
    #[error("invalid private key")]
    PrivateKey,
    /// A signature must be 64 bytes.
    #[error("invalid signature length")]
    SignatureLength,
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
}

const DJB_TYPE: u8 = 0x05;
const KYBER1024_TYPE: u8 = 0x08;
const KYBER1024_LEN: usize = 1569;

/// A Curve25519 public key in its 33-byte serialized form (`0x05` ‖ u-coordinate).
/// Used for identity keys and EC prekeys.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 33]);

impl PublicKey {
    /// Parses the 33-byte serialized form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != 33 || bytes[0] != DJB_TYPE {
            return Err(KeyError::EcPublicKey);
        }
        let mut raw = [0u8; 33];
        raw.copy_from_slice(bytes);
        Ok(Self(raw))
    }

    /// The 33-byte serialized form.
    pub fn serialize(&self) -> &[u8; 33] {
        &self.0
    }

    /// The 32-byte Montgomery u-coordinate.
    pub fn u_bytes(&self) -> [u8; 32] {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&self.0[1..]);
        raw
    }

    /// Verifies an XEdDSA signature over the concatenation of `message` pieces.
    pub fn verify(&self, message: &[&[u8]], signature: &Signature) -> Result<(), KeyError> {
        if xeddsa_verify(&self.u_bytes(), message, &signature.0) {
            Ok(())
        } else {
            Err(KeyError::BadSignature)
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({:02x}{:02x}{:02x}…)",
            self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A Kyber-1024 public key in its 1569-byte serialized form (`0x08` ‖ key).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KemPublicKey(Box<[u8]>);

impl KemPublicKey {
    /// Parses the serialized form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != KYBER1024_LEN || bytes[0] != KYBER1024_TYPE {
            return Err(KeyError::KemPublicKey);
        }
        Ok(Self(bytes.into()))
    }

    /// The serialized form.
    pub fn serialize(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KemPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KemPublicKey({:02x}{:02x}…)", self.0[1], self.0[2])
    }
}

/// A 64-byte XEdDSA signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Parses a 64-byte signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let raw: [u8; 64] = bytes.try_into().map_err(|_| KeyError::SignatureLength)?;
        Ok(Self(raw))
    }

    /// The 64 bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signature(..)")
    }
}

/// A Curve25519 private key (clamped scalar bytes). Zeroized on drop; `Debug` shows nothing.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey([u8; 32]);

impl PrivateKey {
    /// A fresh random key.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut raw = [0u8; 32];
        rng.fill_bytes(&mut raw);
        let key = Self(clamp(raw));
        raw.zeroize();
        key
    }

    /// Loads 32 private key bytes (clamping them, as libsignal does).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let raw: [u8; 32] = bytes.try_into().map_err(|_| KeyError::PrivateKey)?;
        Ok(Self(clamp(raw)))
    }

    /// The 32 private key bytes, for storing under the data directory.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        let u = MontgomeryPoint::mul_base_clamped(self.0);
        let mut raw = [0u8; 33];
        raw[0] = DJB_TYPE;
        raw[1..].copy_from_slice(u.as_bytes());
        PublicKey(raw)
    }

    /// Makes an XEdDSA signature over the concatenation of `message` pieces.
    pub fn sign<R: RngCore + CryptoRng>(&self, rng: &mut R, message: &[&[u8]]) -> Signature {
        let mut nonce = [0u8; 64];
        rng.fill_bytes(&mut nonce);
        let a = Scalar::from_bytes_mod_order(self.0);
        let ed_public = (&a * ED25519_BASEPOINT_TABLE).compress();
        let sign_bit = ed_public.as_bytes()[31] & 0x80;

        // r = H1(a ‖ M ‖ Z), where H1 prefixes 0xFE followed by 31 0xFF bytes.
        let mut prefix = [0xFFu8; 32];
        prefix[0] = 0xFE;
        let mut h1 = Sha512::new();
        h1.update(prefix);
        h1.update(self.0);
        for piece in message {
            h1.update(piece);
        }
        h1.update(nonce);
        let r = Scalar::from_hash(h1);
        nonce.zeroize();
        let cap_r = (&r * ED25519_BASEPOINT_TABLE).compress();

        let mut h = Sha512::new();
        h.update(cap_r.as_bytes());
        h.update(ed_public.as_bytes());
        for piece in message {
            h.update(piece);
        }
        let k = Scalar::from_hash(h);
        let s = k * a + r;

        let mut out = [0u8; 64];
        out[..32].copy_from_slice(cap_r.as_bytes());
        out[32..].copy_from_slice(s.as_bytes());
        out[63] &= 0x7F;
        out[63] |= sign_bit;
        Signature(out)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

fn clamp(mut raw: [u8; 32]) -> [u8; 32] {
    raw[0] &= 248;
    raw[31] &= 127;
    raw[31] |= 64;
    raw
}

fn xeddsa_verify(u: &[u8; 32], message: &[&[u8]], signature: &[u8; 64]) -> bool {
    let sign = (signature[63] & 0x80) >> 7;
    let Some(ed_point) = MontgomeryPoint(*u).to_edwards(sign) else {
        return false;
    };
    let cap_a = ed_point.compress();
    let mut cap_r = [0u8; 32];
    cap_r.copy_from_slice(&signature[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&signature[32..]);
    s[31] &= 0x7F;
    // Reject s ≥ 2^253 outright; the canonical check below covers the rest.
    if s[31] & 0xE0 != 0 {
        return false;
    }
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s)) else {
        return false;
    };
    let mut h = Sha512::new();
    h.update(cap_r);
    h.update(cap_a.as_bytes());
    for piece in message {
        h.update(piece);
    }
    let k = Scalar::from_hash(h);
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-ed_point, &s).compress();
    bool::from(check.as_bytes().ct_eq(&cap_r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_core::OsRng;

    #[test]
    fn sign_then_verify() {
        let key = PrivateKey::generate(&mut OsRng);
        let public = key.public_key();
        let sig = key.sign(&mut OsRng, &[b"hello ", b"world"]);
        assert!(public.verify(&[b"hello world"], &sig).is_ok());
        assert_eq!(
            public.verify(&[b"hello"], &sig),
            Err(KeyError::BadSignature)
        );
        let other = PrivateKey::generate(&mut OsRng).public_key();
        assert!(other.verify(&[b"hello world"], &sig).is_err());
        let mut flipped = sig;
        flipped.0[63] ^= 0x80;
        assert!(public.verify(&[b"hello world"], &flipped).is_err());
    }

    #[test]
    fn key_parsing() {
        let key = PrivateKey::generate(&mut OsRng).public_key();
        assert_eq!(PublicKey::from_bytes(key.serialize()).unwrap(), key);
        assert!(PublicKey::from_bytes(&key.serialize()[1..]).is_err());
        let mut wrong_type = *key.serialize();
        wrong_type[0] = 0x08;
        assert!(PublicKey::from_bytes(&wrong_type).is_err());
        let mut kem = vec![0u8; 1569];
        kem[0] = 0x08;
        assert!(KemPublicKey::from_bytes(&kem).is_ok());
        kem[0] = 0x05;
        assert!(KemPublicKey::from_bytes(&kem).is_err());
        assert!(KemPublicKey::from_bytes(&kem[..100]).is_err());
    }

    #[test]
    fn private_key_round_trip_and_redaction() {
        let key = PrivateKey::generate(&mut OsRng);
        let again = PrivateKey::from_bytes(&key.to_bytes()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        assert_eq!(format!("{key:?}"), "PrivateKey(<redacted>)");
    }

    proptest! {
        #[test]
        fn verify_never_panics(key in proptest::collection::vec(any::<u8>(), 32),
                               sig in proptest::collection::vec(any::<u8>(), 64),
                               msg in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut raw = vec![0x05];
            raw.extend_from_slice(&key);
            let public = PublicKey::from_bytes(&raw).unwrap();
            let _ = public.verify(&[&msg], &Signature::from_bytes(&sig).unwrap());
        }
    }
}
