//! zkgroup, server side, byte-compatible with Signal's libsignal.
//!
//! * [`ServerSecretParams`] / [`ServerPublicParams`]: generation, libsignal serialization
//!   (2721 / 673 bytes), notary signatures (64 bytes).
//! * [`auth`]: `AuthCredentialWithPni` (zkc) issuance, with or without a PNI, and verification of
//!   the presentations clients send to a group server.
//! * [`profile`]: expiring profile key credential issuance from a client's request, and
//!   verification of their presentations.
//! * [`endorsements`]: group send endorsements and `GroupSendFullToken` verification.
//! * [`username`]: username hashes and verification of the username proofs clients send when
//!   confirming a reserved hash ([`verify_username_proof`]).
//!
//! All algorithms, labels and encodings are those published in libsignal's `zkgroup`,
//! `zkcredential`, `poksho` and `usernames` crates; the implementation is our own, on
//! curve25519-dalek and the RustCrypto hashes. Deserializers never panic; secrets are zeroized
//! on drop and never printed.
//!
//! # Randomness
//!
//! Every randomized operation takes a `RngCore + CryptoRng` and draws exactly 32 bytes
//! ([`RANDOMNESS_LEN`]), which it feeds through the same SHO construction as libsignal; each has
//! a `*_deterministic(&[u8; 32], ...)` twin that produces the very bytes libsignal's
//! `...WithRandom` function produces for the same 32 bytes.
//!
//! # Sizes
//!
//! | object | bytes |
//! |---|---|
//! | `ServerSecretParams` | 2721 |
//! | `ServerPublicParams` | 673 |
//! | notary signature | 64 |
//! | `GroupPublicParams` | 97 |
//! | `AuthCredentialWithPniResponse` (zkc) | 425 |
//! | `UuidCiphertext` | 65 |
//! | `ProfileKeyCredentialRequest` / `ProfileKeyCommitment` | 329 / 97 |
//! | `ExpiringProfileKeyCredentialResponse` | 497 |
//! | `GroupSendEndorsementsResponse` | 1 + 8 + 32·n + 8 + 64 + 8 |
//! | `GroupSendFullToken` | 33 |
//! | username hash / username proof | 32 / 128 |
//!
//! # Times
//!
//! All times are epoch seconds (`u64`). Auth credential redemption times and profile key
//! credential expirations must be day-aligned ([`SECONDS_PER_DAY`]).

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
pub mod username;
mod wire;

#[cfg(test)]
mod vectors;

pub use error::{ZkError, ZkResult};
pub use group::{GroupPublicParams, GROUP_PUBLIC_PARAMS_LEN};
pub use params::{
    ServerPublicParams, ServerSecretParams, SERVER_PUBLIC_PARAMS_LEN, SERVER_SECRET_PARAMS_LEN,
    SIGNATURE_LEN,
};
pub use username::{username_hash, verify_username_proof, UsernameError};

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
