//! Username hashes and username proofs, byte-compatible with libsignal's `usernames` crate.
//!
//! A username is `nickname.discriminator` (`alice.42`). The server never sees it: it stores a
//! 32-byte hash, a compressed Ristretto point `s1·G1 + s2·G2 + s3·G3` where the three generators
//! come from SHO/HMAC-SHA256 (label `Signal_Username_20230130_Constant_Points_Generate`) and
//! the scalars are derived from the lowercased nickname and the discriminator:
//!
//! * `s1` = SHA-512(nickname ‖ 0x00 ‖ discriminator as big-endian u64), reduced mod ℓ;
//! * `s2` = the nickname read as a number with the first character in base 27 and the rest in
//!   base 37 (`_` = 1, `a`–`z` = 2–27, `0`–`9` = 28–37), which is why at most 48 characters fit;
//! * `s3` = the discriminator.
//!
//! When confirming a reserved hash the client proves, with a poksho proof over that one equation
//! (message: the hash bytes), that it knows the three scalars. [`verify_username_proof`] is the
//! server's check; [`Username`] parses, hashes and proves like libsignal's client side.

#![allow(non_snake_case)]

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::MultiscalarMul;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha512};

use crate::error::{ZkError, ZkResult};
use crate::poksho::{args, Statement};
use crate::sho::{Sho, ShoHmacSha256};
use crate::RANDOMNESS_LEN;

/// Length of a username hash (a compressed Ristretto point).
pub const USERNAME_HASH_LEN: usize = 32;
/// Length of a username proof: the challenge and three responses, 32 bytes each.
pub const USERNAME_PROOF_LEN: usize = 128;
/// Longest nickname whose base-37 value still fits in a scalar; longer ones never hash.
pub const MAX_NICKNAME_LEN: usize = 48;

const POINTS_LABEL: &[u8] = b"Signal_Username_20230130_Constant_Points_Generate";

/// Why a string is not a valid username (the variants of libsignal's `UsernameError`, checked in
/// the same order, so both sides reject the same input for the same reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// There is no `.` between nickname and discriminator.
    #[error("username must contain a '.'")]
    MissingSeparator,
    /// The nickname is empty.
    #[error("nickname cannot be empty")]
    NicknameCannotBeEmpty,
    /// The nickname starts with a digit.
    #[error("nickname cannot start with a digit")]
    NicknameCannotStartWithDigit,
    /// The nickname holds a character other than `_`, ASCII letters and digits.
    #[error("nickname contains a disallowed character")]
    BadNicknameCharacter,
    /// The nickname is shorter than the caller's lower limit ([`Username::from_parts`]).
    #[error("nickname is too short")]
    NicknameTooShort,
    /// The nickname is longer than the caller's upper limit or than [`MAX_NICKNAME_LEN`].
    #[error("nickname is too long")]
    NicknameTooLong,
    /// The discriminator is empty.
    #[error("discriminator cannot be empty")]
    DiscriminatorCannotBeEmpty,
    /// The discriminator is zero (`00`, `000`...).
    #[error("discriminator cannot be zero")]
    DiscriminatorCannotBeZero,
    /// The discriminator has one digit (`alice.1`); two are the minimum (`alice.01`).
    #[error("discriminator cannot be a single digit")]
    DiscriminatorCannotBeSingleDigit,
    /// A discriminator of three or more digits starts with `0`.
    #[error("discriminator cannot have leading zeros unless it would otherwise be a single digit")]
    DiscriminatorCannotHaveLeadingZeros,
    /// The discriminator holds something other than ASCII digits (a sign, a letter...).
    #[error("discriminator must only be made up of digits")]
    BadDiscriminatorCharacter,
    /// The discriminator does not fit in a `u64`.
    #[error("value is too large to be a username discriminator")]
    DiscriminatorTooLarge,
}

/// The three generators of the username hash.
fn generators() -> &'static [RistrettoPoint; 3] {
    static CELL: OnceLock<[RistrettoPoint; 3]> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut sho = ShoHmacSha256::with_data(POINTS_LABEL, b"");
        [sho.get_point(), sho.get_point(), sho.get_point()]
    })
}

/// The proof statement: `username_hash = s1·G1 + s2·G2 + s3·G3`.
fn statement() -> ZkResult<Statement> {
    let mut st = Statement::new();
    st.add(
        "username_hash",
        &[
            ("username_sha_scalar", "G1"),
            ("nickname_scalar", "G2"),
            ("discriminator_scalar", "G3"),
        ],
    )?;
    Ok(st)
}

fn point_args(hash: RistrettoPoint) -> crate::poksho::PointArgs {
    let [g1, g2, g3] = *generators();
    args(&[("username_hash", hash), ("G1", g1), ("G2", g2), ("G3", g3)])
}

/// Checks a username proof (as made by libsignal's `usernames.generateProof`) against a
/// 32-byte username hash. A hash that is not 32 bytes or not a canonical Ristretto encoding, or a
/// proof that is not 128 bytes, gives [`ZkError::Deserialization`]; a proof that does not verify
/// for this hash (made for another username, tampered, non-canonical scalars) gives
/// [`ZkError::Verification`]. Never panics.
pub fn verify_username_proof(proof: &[u8], hash: &[u8]) -> Result<(), ZkError> {
    let hash: [u8; USERNAME_HASH_LEN] = hash
        .try_into()
        .map_err(|_| ZkError::Deserialization("username hash"))?;
    if proof.len() != USERNAME_PROOF_LEN {
        return Err(ZkError::Deserialization("username proof"));
    }
    let point = CompressedRistretto(hash)
        .decompress()
        .ok_or(ZkError::Deserialization("username hash"))?;
    statement()?
        .verify(proof, &point_args(point), &hash)
        .map_err(|_| ZkError::Verification)
}

/// The 32-byte hash of `username` (`nickname.discriminator`), exactly as libsignal's
/// `usernames.hash`: the nickname is case-insensitive, the discriminator is kept as typed.
/// Invalid usernames give [`ZkError::Username`] with libsignal's reason.
pub fn username_hash(username: &str) -> Result<[u8; USERNAME_HASH_LEN], ZkError> {
    Ok(Username::parse(username)?.hash())
}

/// A parsed, valid username with its hash scalars. `Display` gives it back as written
/// (`nickname.discriminator`, case preserved, discriminator at least two digits); `Debug` does
/// not show it, since the server is meant to know only hashes.
#[derive(Clone, PartialEq, Eq)]
pub struct Username {
    nickname: String,
    discriminator: u64,
    scalars: [Scalar; 3],
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.nickname, self.discriminator)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Username(<redacted>)")
    }
}

impl Username {
    /// Parses `nickname.discriminator`, splitting at the last `.`, with libsignal's rules: a
    /// nickname of 1 to [`MAX_NICKNAME_LEN`] characters from `[_a-zA-Z0-9]` not starting with a
    /// digit, and a non-zero decimal `u64` discriminator of at least two digits without leading
    /// zeros beyond that (`01`..`09` are fine, `001` is not).
    pub fn parse(username: &str) -> Result<Self, UsernameError> {
        let (nickname, discriminator) = username
            .rsplit_once('.')
            .ok_or(UsernameError::MissingSeparator)?;
        Self::from_parts_unlimited(nickname, discriminator)
    }

    /// Builds a username from its two parts and additionally enforces a nickname length range,
    /// as libsignal's `usernames.fromParts(nickname, discriminator, min, max)` (Signal's apps
    /// use 3..=32). The range must satisfy `min < max <= MAX_NICKNAME_LEN`.
    pub fn from_parts(
        nickname: &str,
        discriminator: &str,
        nickname_len: RangeInclusive<usize>,
    ) -> ZkResult<Self> {
        if nickname_len.start() >= nickname_len.end() || *nickname_len.end() > MAX_NICKNAME_LEN {
            return Err(ZkError::InvalidArgument("nickname length limits"));
        }
        let username = Self::from_parts_unlimited(nickname, discriminator)?;
        // Every valid nickname is ASCII, so its byte length is its character count.
        let len = nickname.len();
        if len < *nickname_len.start() {
            return Err(UsernameError::NicknameTooShort.into());
        }
        if len > *nickname_len.end() {
            return Err(UsernameError::NicknameTooLong.into());
        }
        Ok(username)
    }

    fn from_parts_unlimited(nickname: &str, discriminator: &str) -> Result<Self, UsernameError> {
        // Same order of checks as libsignal: prefix, discriminator, then the characters.
        match nickname.chars().next() {
            None => return Err(UsernameError::NicknameCannotBeEmpty),
            Some(c) if c.is_ascii_digit() => {
                return Err(UsernameError::NicknameCannotStartWithDigit)
            }
            Some(_) => {}
        }
        let discriminator = parse_discriminator(discriminator)?;
        let lower = nickname.to_ascii_lowercase();
        let scalars = [
            sha_scalar(&lower, discriminator),
            nickname_scalar(&lower)?,
            Scalar::from(discriminator),
        ];
        Ok(Self {
            nickname: nickname.to_owned(),
            discriminator,
            scalars,
        })
    }

    /// The nickname as written (case preserved).
    pub fn nickname(&self) -> &str {
        &self.nickname
    }

    /// The discriminator's value.
    pub fn discriminator(&self) -> u64 {
        self.discriminator
    }

    fn hash_point(&self) -> RistrettoPoint {
        RistrettoPoint::multiscalar_mul(&self.scalars, generators())
    }

    /// The 32-byte username hash the server stores.
    pub fn hash(&self) -> [u8; USERNAME_HASH_LEN] {
        self.hash_point().compress().to_bytes()
    }

    /// A proof of knowledge of this username for [`Self::hash`], with fresh randomness.
    pub fn proof<R: RngCore + CryptoRng>(&self, rng: &mut R) -> ZkResult<Vec<u8>> {
        self.proof_deterministic(&crate::draw(rng))
    }

    /// [`Self::proof`] with explicit randomness: the very bytes libsignal's
    /// `usernames.generateProofWithRandom(username, randomness)` produces.
    pub fn proof_deterministic(&self, randomness: &[u8; RANDOMNESS_LEN]) -> ZkResult<Vec<u8>> {
        let point = self.hash_point();
        let hash = point.compress().to_bytes();
        let [s1, s2, s3] = self.scalars;
        let scalars = args(&[
            ("username_sha_scalar", s1),
            ("nickname_scalar", s2),
            ("discriminator_scalar", s3),
        ]);
        statement()?.prove(&scalars, &point_args(point), &hash, randomness)
    }
}

/// SHA-512 of the lowercased nickname, a zero byte and the big-endian discriminator.
fn sha_scalar(nickname: &str, discriminator: u64) -> Scalar {
    let digest = Sha512::new()
        .chain_update(nickname.as_bytes())
        .chain_update([0x00])
        .chain_update(discriminator.to_be_bytes());
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&digest.finalize());
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// The digit of a lowercased nickname character; `None` outside `[_a-z0-9]`.
fn nickname_digit(c: char) -> Option<u8> {
    match c {
        '_' => Some(1),
        'a'..='z' => Some(c as u8 - b'a' + 2),
        '0'..='9' => Some(c as u8 - b'0' + 28),
        _ => None,
    }
}

/// First character in base 27 (it cannot be a digit), the rest in base 37, least significant
/// first: `d0 + 27·(d1 + 37·d2 + 37²·d3 + …)`. Called with a non-empty nickname.
fn nickname_scalar(nickname: &str) -> Result<Scalar, UsernameError> {
    let digits = nickname
        .chars()
        .map(nickname_digit)
        .collect::<Option<Vec<u8>>>()
        .ok_or(UsernameError::BadNicknameCharacter)?;
    if digits.len() > MAX_NICKNAME_LEN {
        return Err(UsernameError::NicknameTooLong);
    }
    let (first, rest) = digits
        .split_first()
        .ok_or(UsernameError::NicknameCannotBeEmpty)?;
    let base = Scalar::from(37u8);
    let tail = rest
        .iter()
        .rev()
        .fold(Scalar::ZERO, |acc, d| acc * base + Scalar::from(*d));
    Ok(tail * Scalar::from(27u8) + Scalar::from(*first))
}

fn parse_discriminator(s: &str) -> Result<u64, UsernameError> {
    use std::num::IntErrorKind;
    let first = *s
        .as_bytes()
        .first()
        .ok_or(UsernameError::DiscriminatorCannotBeEmpty)?;
    // `u64::from_str` accepts a leading `+`; usernames do not.
    if !first.is_ascii_digit() {
        return Err(UsernameError::BadDiscriminatorCharacter);
    }
    let n: u64 = s
        .parse()
        .map_err(|e: std::num::ParseIntError| match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                UsernameError::DiscriminatorTooLarge
            }
            _ => UsernameError::BadDiscriminatorCharacter,
        })?;
    if n == 0 {
        return Err(UsernameError::DiscriminatorCannotBeZero);
    }
    match s.len() {
        1 => Err(UsernameError::DiscriminatorCannotBeSingleDigit),
        2 => Ok(n),
        _ if first != b'0' => Ok(n),
        _ => Err(UsernameError::DiscriminatorCannotHaveLeadingZeros),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_match_libsignal_constants() {
        // The compressed base points published in libsignal's `usernames` constants.
        let expected = [
            "60b993663a3daecc4c852f533547e305388c2a50a58393ea277de4abf3de543a",
            "f2b6f1c826fa3640206f3b58b2286bdefdfda6a54ff902f204a72de737d26157",
            "0606bd3abfce4e9617d448fb2caeb6cc028ec9a2b62b10b3d9eb2948da6f3f53",
        ];
        for (p, e) in generators().iter().zip(expected) {
            assert_eq!(hex::encode(p.compress().as_bytes()), e);
        }
    }

    #[test]
    fn nickname_scalar_is_mixed_base() {
        // 1 + 27·(27 + 37·37 + 37²·1) = 74656, libsignal's worked example.
        assert_eq!(nickname_scalar("_z9_"), Ok(Scalar::from(74_656u32)));
        assert_eq!(nickname_scalar("a"), Ok(Scalar::from(2u8)));
    }

    #[test]
    fn published_hash_vector() {
        // libsignal's Java and Swift tests: the hash of "he110.42".
        assert_eq!(
            hex::encode(username_hash("he110.42").unwrap()),
            "f63f0521eb3adfe1d936f4b626b89558483507fbdb838fc554af059111cf322e"
        );
    }

    #[test]
    fn nickname_is_case_insensitive_and_display_preserves_case() {
        assert_eq!(username_hash("HE110.42"), username_hash("he110.42"));
        let u = Username::parse("He110.01").unwrap();
        assert_eq!(u.to_string(), "He110.01");
        assert_eq!(format!("{u:?}"), "Username(<redacted>)");
        assert_ne!(username_hash("he110.42"), username_hash("he110.042"));
    }

    #[test]
    fn invalid_usernames_have_libsignal_reasons() {
        use UsernameError::*;
        let long = format!("{}.42", "a".repeat(49));
        for (name, err) in [
            ("no_discriminator", MissingSeparator),
            (".42", NicknameCannotBeEmpty),
            ("0start.42", NicknameCannotStartWithDigit),
            ("ab🦀d.42", BadNicknameCharacter),
            ("s p a c e s.01", BadNicknameCharacter),
            ("a.b.42", BadNicknameCharacter),
            (long.as_str(), NicknameTooLong),
            ("ehren.", DiscriminatorCannotBeEmpty),
            ("ehren.0", DiscriminatorCannotBeZero),
            ("ehren.00", DiscriminatorCannotBeZero),
            ("ehren.001", DiscriminatorCannotHaveLeadingZeros),
            ("ehren.0123", DiscriminatorCannotHaveLeadingZeros),
            ("ehren.1", DiscriminatorCannotBeSingleDigit),
            ("ehren.+1", BadDiscriminatorCharacter),
            ("ehren.-01", BadDiscriminatorCharacter),
            ("ehren.+123", BadDiscriminatorCharacter),
            ("ehren.a1", BadDiscriminatorCharacter),
            ("ehren.1a", BadDiscriminatorCharacter),
            (
                "ehren.123456789012345678901234567890",
                DiscriminatorTooLarge,
            ),
            ("ehren.18446744073709551616", DiscriminatorTooLarge),
            // The discriminator is checked before the nickname's characters.
            ("b d.1", DiscriminatorCannotBeSingleDigit),
        ] {
            assert_eq!(Username::parse(name), Err(err), "{name}");
            assert_eq!(username_hash(name), Err(ZkError::Username(err)), "{name}");
        }
        assert!(Username::parse(&format!("{}.42", "a".repeat(48))).is_ok());
        assert!(Username::parse("jimio.18446744073709551615").is_ok());
    }

    #[test]
    fn from_parts_enforces_soft_limits() {
        assert!(Username::from_parts("abcd", "42", 3..=32).is_ok());
        assert_eq!(
            Username::from_parts("abcd", "42", 2..=3),
            Err(ZkError::Username(UsernameError::NicknameTooLong))
        );
        assert_eq!(
            Username::from_parts("abcd", "42", 5..=10),
            Err(ZkError::Username(UsernameError::NicknameTooShort))
        );
        let (low, high) = (10, 5);
        assert!(matches!(
            Username::from_parts("abcd", "42", low..=high),
            Err(ZkError::InvalidArgument(_))
        ));
        assert!(matches!(
            Username::from_parts("abcd", "42", 3..=49),
            Err(ZkError::InvalidArgument(_))
        ));
    }

    #[test]
    fn proofs_verify_only_for_their_hash() {
        let alice = Username::parse("alice.42").unwrap();
        let bob = Username::parse("bob.42").unwrap();
        let proof = alice.proof(&mut rand::rngs::OsRng).unwrap();
        assert_eq!(proof.len(), USERNAME_PROOF_LEN);
        assert_eq!(verify_username_proof(&proof, &alice.hash()), Ok(()));
        assert_eq!(
            verify_username_proof(&proof, &bob.hash()),
            Err(ZkError::Verification)
        );
        assert_eq!(
            verify_username_proof(&proof[..96], &alice.hash()),
            Err(ZkError::Deserialization("username proof"))
        );
        assert_eq!(
            verify_username_proof(&proof, &alice.hash()[..31]),
            Err(ZkError::Deserialization("username hash"))
        );
        // 0xff.. is not a canonical field element, so not a point encoding.
        assert_eq!(
            verify_username_proof(&proof, &[0xff; 32]),
            Err(ZkError::Deserialization("username hash"))
        );
    }

    #[test]
    fn tampered_or_non_canonical_proofs_fail() {
        let alice = Username::parse("alice.42").unwrap();
        let hash = alice.hash();
        let proof = alice.proof_deterministic(&[9; 32]).unwrap();
        for i in 0..USERNAME_PROOF_LEN {
            let mut bad = proof.clone();
            bad[i] ^= 0x01;
            assert!(verify_username_proof(&bad, &hash).is_err(), "byte {i}");
        }
        // A response plus ℓ encodes the same value mod ℓ but is not canonical; poksho refuses it.
        // Every canonical scalar is below ℓ < 2^253, so the sum still fits in 32 bytes.
        // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let ell = hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .unwrap();
        let mut bad = proof.clone();
        let mut carry = 0u16;
        for (b, l) in bad[32..64].iter_mut().zip(&ell) {
            let v = u16::from(*b) + u16::from(*l) + carry;
            *b = (v & 0xff) as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        assert_eq!(
            verify_username_proof(&bad, &hash),
            Err(ZkError::Verification)
        );
    }
}
