//! zkgroup, server side, byte-compatible with Signal's libsignal.
//!
//! * [`ServerSecretParams`] / [`ServerPublicParams`]: generation, libsignal serialization,
//!   notary signatures.
//! * [`auth`]: `AuthCredentialWithPni` (zkc) issuance and presentation verification.
//! * [`profile`]: expiring profile key credential issuance from a client's request.
//! * [`endorsements`]: group send endorsements and `GroupSendFullToken` verification.
//!
//! All algorithms, labels and encodings are those published in libsignal's `zkgroup`,
//! `zkcredential` and `poksho` crates; the implementation is our own, on curve25519-dalek and the
//! RustCrypto hashes. Deserializers never panic; secrets are zeroized on drop.

pub mod auth;
mod credential;
pub mod endorsements;
mod error;
mod group;
mod params;
mod poksho;
pub mod profile;
mod sho;
mod system;
mod uid;
mod wire;

#[cfg(test)]
mod vectors;

pub use error::{ZkError, ZkResult};
pub use group::{GroupPublicParams, GROUP_PUBLIC_PARAMS_LEN};
pub use params::{
    ServerPublicParams, ServerSecretParams, SERVER_PUBLIC_PARAMS_LEN, SERVER_SECRET_PARAMS_LEN,
    SIGNATURE_LEN,
};

/// Length of the randomness every deterministic operation takes.
pub const RANDOMNESS_LEN: usize = 32;
/// Seconds per day; redemption and expiration times are multiples of it.
pub const SECONDS_PER_DAY: u64 = 86_400;

/// Fills a fresh randomness buffer from `rng`.
pub(crate) fn draw<R: rand_core::RngCore + rand_core::CryptoRng>(
    rng: &mut R,
) -> [u8; RANDOMNESS_LEN] {
    let mut r = [0u8; RANDOMNESS_LEN];
    rng.fill_bytes(&mut r);
    r
}
