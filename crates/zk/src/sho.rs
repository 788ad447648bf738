//! Stateful hash objects ("SHO") used throughout zkgroup: the HMAC-SHA256 construction and the
//! plain SHA-256 one, plus helpers that squeeze Ristretto scalars and points out of them.
//!
//! The constructions follow the published description in Signal's `poksho` crate: a chaining value
//! `cv` keys (or prefixes) every hash; absorbing starts a new hash keyed by `cv`, ratcheting
//! replaces `cv` by that hash, and squeezing outputs counter-mode blocks then ratchets over the
//! output length.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

type HmacSha256 = Hmac<Sha256>;

/// HMAC keyed by a 32-byte chaining value. HMAC pads short keys with zeros to the block size, so
/// a zero-padded 64-byte key gives the same MAC without a fallible constructor.
fn keyed_mac(cv: &[u8; 32]) -> HmacSha256 {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(cv);
    let mac = <HmacSha256 as hmac::digest::KeyInit>::new(&key.into());
    key.zeroize();
    mac
}

/// Common interface of the two SHO flavours.
pub(crate) trait Sho {
    /// Feeds bytes into the current absorb phase.
    fn absorb(&mut self, input: &[u8]);
    /// Ends an absorb phase (no-op when nothing was absorbed since the last ratchet).
    fn ratchet(&mut self);
    /// Fills `out` with output, then ratchets.
    fn squeeze_into(&mut self, out: &mut [u8]);

    /// `absorb` followed by `ratchet`.
    fn absorb_and_ratchet(&mut self, input: &[u8]) {
        self.absorb(input);
        self.ratchet();
    }

    /// Squeezes a fixed-size array.
    fn squeeze_array<const N: usize>(&mut self) -> [u8; N]
    where
        Self: Sized,
    {
        let mut out = [0u8; N];
        self.squeeze_into(&mut out);
        out
    }

    /// Squeezes 64 bytes and reduces them to a scalar.
    fn get_scalar(&mut self) -> Scalar {
        let mut wide = [0u8; 64];
        self.squeeze_into(&mut wide);
        let s = Scalar::from_bytes_mod_order_wide(&wide);
        wide.zeroize();
        s
    }

    /// Squeezes 64 bytes and hashes them to a Ristretto point (double Elligator).
    fn get_point(&mut self) -> RistrettoPoint {
        let mut wide = [0u8; 64];
        self.squeeze_into(&mut wide);
        RistrettoPoint::from_uniform_bytes(&wide)
    }
}

/// SHO/HMAC-SHA256.
#[derive(Clone)]
pub(crate) struct ShoHmacSha256 {
    cv: [u8; 32],
    absorbing: Option<HmacSha256>,
}

impl ShoHmacSha256 {
    /// A SHO with `label` absorbed and ratcheted.
    pub(crate) fn new(label: &[u8]) -> Self {
        let mut sho = Self {
            cv: [0u8; 32],
            absorbing: None,
        };
        sho.absorb_and_ratchet(label);
        sho
    }

    /// `new(label)` then `absorb_and_ratchet(data)`: zkgroup's usual seeding.
    pub(crate) fn with_data(label: &[u8], data: &[u8]) -> Self {
        let mut sho = Self::new(label);
        sho.absorb_and_ratchet(data);
        sho
    }
}

impl Drop for ShoHmacSha256 {
    fn drop(&mut self) {
        self.cv.zeroize();
    }
}

impl Sho for ShoHmacSha256 {
    fn absorb(&mut self, input: &[u8]) {
        let cv = self.cv;
        self.absorbing
            .get_or_insert_with(|| keyed_mac(&cv))
            .update(input);
    }

    fn ratchet(&mut self) {
        if let Some(mut mac) = self.absorbing.take() {
            mac.update(&[0x00]);
            self.cv.copy_from_slice(&mac.finalize().into_bytes());
        }
    }

    fn squeeze_into(&mut self, out: &mut [u8]) {
        // Squeezing is only defined from the ratcheted state.
        self.ratchet();
        let prefix = keyed_mac(&self.cv);
        for (counter, chunk) in (0u64..).zip(out.chunks_mut(32)) {
            let mut mac = prefix.clone();
            mac.update(&counter.to_be_bytes());
            mac.update(&[0x01]);
            let block = mac.finalize().into_bytes();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        let mut next = prefix;
        next.update(&(out.len() as u64).to_be_bytes());
        next.update(&[0x02]);
        self.cv.copy_from_slice(&next.finalize().into_bytes());
    }
}

/// SHO/SHA256 (used only to derive public constants).
#[derive(Clone)]
pub(crate) struct ShoSha256 {
    cv: [u8; 32],
    absorbing: Option<Sha256>,
}

impl ShoSha256 {
    /// A SHO with `label` absorbed and ratcheted.
    pub(crate) fn new(label: &[u8]) -> Self {
        let mut sho = Self {
            cv: [0u8; 32],
            absorbing: None,
        };
        sho.absorb_and_ratchet(label);
        sho
    }
}

impl Sho for ShoSha256 {
    fn absorb(&mut self, input: &[u8]) {
        let cv = self.cv;
        self.absorbing
            .get_or_insert_with(|| {
                let mut h = Sha256::new();
                h.update([0u8; 64]);
                h.update(cv);
                h
            })
            .update(input);
    }

    fn ratchet(&mut self) {
        if let Some(h) = self.absorbing.take() {
            let inner = h.finalize();
            self.cv.copy_from_slice(&Sha256::digest(inner));
        }
    }

    fn squeeze_into(&mut self, out: &mut [u8]) {
        self.ratchet();
        let mut prefix = Sha256::new();
        prefix.update([0u8; 63]);
        prefix.update([1u8]);
        prefix.update(self.cv);
        for (counter, chunk) in (0u64..).zip(out.chunks_mut(32)) {
            let mut h = prefix.clone();
            h.update(counter.to_be_bytes());
            let block = h.finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        let mut next = Sha256::new();
        next.update([0u8; 63]);
        next.update([2u8]);
        next.update(self.cv);
        next.update((out.len() as u64).to_be_bytes());
        self.cv.copy_from_slice(&next.finalize());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sho_vector() {
        // Published test vector of SHO/HMAC-SHA256.
        let mut sho = ShoHmacSha256::new(b"asd");
        sho.absorb_and_ratchet(b"asdasd");
        let mut out = [0u8; 64];
        sho.squeeze_into(&mut out);
        assert_eq!(
            hex::encode(out),
            "392cb9449373037fa0c11aebed69cca3b7d3bc9790878f341729c65d5506442f\
             04986cb5c9098f277c3ea640a4dc6e90372b433a90af9aea7072eaba3398c4fe"
        );
    }

    #[test]
    fn sha256_sho_vector() {
        let mut sho = ShoSha256::new(b"asd");
        sho.absorb_and_ratchet(b"asdasd");
        let mut out = [0u8; 65];
        sho.squeeze_into(&mut out);
        assert_eq!(
            hex::encode(out),
            "ebe4ef29e18aa54137edd89c23f8bfeac2731c9f675da20e7c67d5ad68d7ee2d\
             40a45232b599552d46b520082fb2705971f07b3158b072b63ab0934a05e6af6448"
        );
    }
}
