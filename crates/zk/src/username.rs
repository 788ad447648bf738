//! Username hashes and the zero-knowledge proof a client sends when it confirms one
//! (libsignal's `usernames` crate, byte-compatible).
//!
//! A username `nickname.discriminator` maps to three scalars: SHA-512 of
//! `nickname ‖ 0x00 ‖ discriminator (u64 BE)` reduced mod ℓ, the nickname read as a base-37
//! number (first character base 27), and the discriminator itself. The hash is
//! `s1·G1 + s2·G2 + s3·G3` compressed, with the three generators drawn from SHO under the
//! label `Signal_Username_20230130_Constant_Points_Generate`; the proof is a poksho proof of
//! knowledge of the three scalars, with the compressed hash as the message. The server only
//! ever sees the hash and the proof.

use std::sync::LazyLock;

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::MultiscalarMul;
use sha2::{Digest, Sha512};

use crate::poksho::{args, Statement};
use crate::sho::{Sho, ShoHmacSha256};
use crate::{ZkError, ZkResult};

/// Length of a username hash.
pub const USERNAME_HASH_LEN: usize = 32;

/// Longest nickname the encoding supports (libsignal's hard limit).
pub const MAX_NICKNAME_LEN: usize = 48;

static GENERATORS: LazyLock<[RistrettoPoint; 3]> = LazyLock::new(|| {
    let mut sho =
        ShoHmacSha256::with_data(b"Signal_Username_20230130_Constant_Points_Generate", b"");
    [sho.get_point(), sho.get_point(), sho.get_point()]
});

static STATEMENT: LazyLock<Statement> = LazyLock::new(|| {
    let mut st = Statement::new();
    st.add(
        "username_hash",
        &[
            ("username_sha_scalar", "G1"),
            ("nickname_scalar", "G2"),
            ("discriminator_scalar", "G3"),
        ],
    )
    .unwrap_or_else(|_| unreachable!("the username statement is well formed"));
    st
});

/// Why a username string is not a valid username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// No `.` between nickname and discriminator.
    #[error("missing separator")]
    MissingSeparator,
    /// The nickname is empty.
    #[error("nickname cannot be empty")]
    NicknameCannotBeEmpty,
    /// The nickname starts with a digit.
    #[error("nickname cannot start with a digit")]
    NicknameCannotStartWithDigit,
    /// The nickname has a character outside `[_0-9a-zA-Z]`.
    #[error("bad nickname character")]
    BadNicknameCharacter,
    /// The nickname is longer than [`MAX_NICKNAME_LEN`].
    #[error("nickname too long")]
    NicknameTooLong,
    /// The discriminator is empty.
    #[error("discriminator cannot be empty")]
    DiscriminatorCannotBeEmpty,
    /// The discriminator is zero.
    #[error("discriminator cannot be zero")]
    DiscriminatorCannotBeZero,
    /// The discriminator has one digit.
    #[error("discriminator cannot be a single digit")]
    DiscriminatorCannotBeSingleDigit,
    /// The discriminator has more than two digits and a leading zero.
    #[error("discriminator cannot have leading zeros")]
    DiscriminatorCannotHaveLeadingZeros,
    /// The discriminator is not all digits.
    #[error("bad discriminator character")]
    BadDiscriminatorCharacter,
    /// The discriminator does not fit in 64 bits.
    #[error("discriminator too large")]
    DiscriminatorTooLarge,
}

fn char_value(c: char) -> Option<u8> {
    match c {
        '_' => Some(1),
        'a'..='z' => Some(c as u8 - b'a' + 2),
        '0'..='9' => Some(c as u8 - b'0' + 28),
        _ => None,
    }
}

fn parse_discriminator(text: &str) -> Result<u64, UsernameError> {
    let first = *text
        .as_bytes()
        .first()
        .ok_or(UsernameError::DiscriminatorCannotBeEmpty)?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsernameError::BadDiscriminatorCharacter);
    }
    let n: u64 = text
        .parse()
        .map_err(|_| UsernameError::DiscriminatorTooLarge)?;
    if n == 0 {
        return Err(UsernameError::DiscriminatorCannotBeZero);
    }
    match text.len() {
        1 => Err(UsernameError::DiscriminatorCannotBeSingleDigit),
        2 => Ok(n),
        _ if first != b'0' => Ok(n),
        _ => Err(UsernameError::DiscriminatorCannotHaveLeadingZeros),
    }
}

/// The three scalars of a username (nickname compared case-insensitively, as libsignal).
fn scalars(username: &str) -> Result<[Scalar; 3], UsernameError> {
    let (nickname, discriminator) = username
        .rsplit_once('.')
        .ok_or(UsernameError::MissingSeparator)?;
    match nickname.chars().next() {
        None => return Err(UsernameError::NicknameCannotBeEmpty),
        Some(c) if c.is_ascii_digit() => return Err(UsernameError::NicknameCannotStartWithDigit),
        Some(_) => {}
    }
    let discriminator = parse_discriminator(discriminator)?;
    let nickname = nickname.to_ascii_lowercase();
    let digits: Vec<u8> = nickname
        .chars()
        .map(char_value)
        .collect::<Option<_>>()
        .ok_or(UsernameError::BadNicknameCharacter)?;
    if digits.len() > MAX_NICKNAME_LEN {
        return Err(UsernameError::NicknameTooLong);
    }

    let mut sha = Sha512::new();
    sha.update(nickname.as_bytes());
    sha.update([0u8]);
    sha.update(discriminator.to_be_bytes());
    let sha_scalar = Scalar::from_hash(sha);

    // Base 37 for every character after the first, which has only 27 values (no digits).
    let thirty_seven = Scalar::from(37u8);
    let mut nick = Scalar::ZERO;
    for d in digits.iter().skip(1).rev() {
        nick = nick * thirty_seven + Scalar::from(*d);
    }
    nick = nick * Scalar::from(27u8) + Scalar::from(digits[0]);

    Ok([sha_scalar, nick, Scalar::from(discriminator)])
}

fn hash_point(s: &[Scalar; 3]) -> RistrettoPoint {
    RistrettoPoint::multiscalar_mul(s.iter(), GENERATORS.iter())
}

fn point_args(hash: RistrettoPoint) -> crate::poksho::PointArgs {
    let g = &*GENERATORS;
    args(&[
        ("G1", g[0]),
        ("G2", g[1]),
        ("G3", g[2]),
        ("username_hash", hash),
    ])
}

/// The 32-byte hash of a username `nickname.discriminator`, as libsignal's `usernames.hash`.
pub fn username_hash(username: &str) -> Result<[u8; USERNAME_HASH_LEN], UsernameError> {
    Ok(hash_point(&scalars(username)?).compress().to_bytes())
}

/// A proof that the prover knows a username hashing to `username_hash(username)`, with
/// explicit randomness (libsignal's `generateProofWithRandom` gives the same bytes).
pub fn username_proof_deterministic(
    username: &str,
    randomness: &[u8; 32],
) -> Result<Vec<u8>, UsernameError> {
    let s = scalars(username)?;
    let hash = hash_point(&s);
    let scalar_args = args(&[
        ("username_sha_scalar", s[0]),
        ("nickname_scalar", s[1]),
        ("discriminator_scalar", s[2]),
    ]);
    STATEMENT
        .prove(
            &scalar_args,
            &point_args(hash),
            hash.compress().as_bytes(),
            randomness,
        )
        .map_err(|_| unreachable!("a proof over valid scalars always verifies"))
}

/// Checks that `proof` proves knowledge of a username whose hash is `hash` (32 bytes). Any
/// malformed input (wrong lengths, a hash that is not a point, non-canonical scalars) is
/// [`ZkError::Verification`] or a deserialization error, never a panic.
pub fn verify_username_proof(proof: &[u8], hash: &[u8]) -> ZkResult<()> {
    let bytes: [u8; USERNAME_HASH_LEN] = hash
        .try_into()
        .map_err(|_| ZkError::Deserialization("username hash"))?;
    let point = CompressedRistretto(bytes)
        .decompress()
        .ok_or(ZkError::Deserialization("username hash"))?;
    STATEMENT.verify(proof, &point_args(point), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_libsignals_constants() {
        // libsignal's rust/usernames/src/constants.rs lists these compressed points.
        let expected = [
            "60b993663a3daecc4c852f533547e305388c2a50a58393ea277de4abf3de543a",
            "f2b6f1c826fa3640206f3b58b2286bdefdfda6a54ff902f204a72de737d26157",
            "0606bd3abfce4e9617d448fb2caeb6cc028ec9a2b62b10b3d9eb2948da6f3f53",
        ];
        for (g, e) in GENERATORS.iter().zip(expected) {
            assert_eq!(hex::encode(g.compress().as_bytes()), e);
        }
    }

    /// (username, hash, proof with 32 bytes of 0x07 as randomness), from libsignal 0.103's
    /// `usernames.hash` and `usernames.generateProofWithRandom` in Node.
    const LIBSIGNAL: [(&str, &str, &str); 3] = [
        (
            "heliograph.42",
            "c89d74d87e8f7f74ee2b73fd5b6dd5ae8face842b586284eb1e03fecd7f9c671",
            "39694ec0ee492aba72e7039c7f2bca5b7c8a8cb80f47b65906f1883976680902264278ebeb6b781d596604a69ba7ff6f1ea697097b512453dfeb84d194bb4402a0aa12eb5abbef8335fdd8be0cba33131a036ddd4f36c50c46996bc202cf06098f794a2dd14cba6cebb98f1aa90069cc9bc183e17662a410c1113e993c61b600",
        ),
        (
            "Signal_Bot.1234567",
            "52e07d2e1263c5a793ce8088bae6bccd3baee6b66dd767785cf69fb0476a9d05",
            "ddef8d193cda76d2b600f5a998d8bd7665a9da43dc3922622bace478477f590c7b7253d4d0cf48ffdc90dd5d8cd0b98560cdefdaae04be0a8b18a2b615d027053d5c35eb4d39a06d59929356b72db69503c1988e5c0cb3dcc08d5506fc4d550ec9cb9730ffe249c4b43693fba6e84998414e175f2057cde107c74b368aa66d01",
        ),
        (
            "a_b.01",
            "0acc4f9bca84da2b8ba3a787d987f97f2c2aa349787c073d0ab4a46324ac9d6b",
            "f73416bf642f6431ec013b3e0a0715c2e6a16101a9a0ef1bd1b7cc2a0cf36d078f4f998bdfaefd4183a5f417e0206e7d174b0671c0368553832f0ece4ec8070f3f21f6b53c6af734b61fafe7e0ae1e6f84f3e2125863056c7cfcff9aba46da02f5b285fdbbe8088246e0d48678346813cb394a4a6cdb2c15af68c8254cd2c70f",
        ),
    ];

    #[test]
    fn byte_identical_to_libsignal() {
        for (name, hash, proof) in LIBSIGNAL {
            assert_eq!(hex::encode(username_hash(name).unwrap()), hash, "{name}");
            let ours = username_proof_deterministic(name, &[7; 32]).unwrap();
            assert_eq!(hex::encode(&ours), proof, "{name}");
            verify_username_proof(&hex::decode(proof).unwrap(), &hex::decode(hash).unwrap())
                .unwrap();
        }
    }

    #[test]
    fn nickname_scalar_matches_libsignals_example() {
        // 'a' (2) first, in base 27, then '_' (1) in base 37: 2 + 27·1 = 29.
        let s = scalars("a_.01").unwrap();
        assert_eq!(s[1], Scalar::from(29u8));
        assert_eq!(s[2], Scalar::from(1u8));
    }

    #[test]
    fn validation() {
        use UsernameError::*;
        for (name, err) in [
            ("nodot", MissingSeparator),
            (".12", NicknameCannotBeEmpty),
            ("1abc.12", NicknameCannotStartWithDigit),
            ("ab-c.12", BadNicknameCharacter),
            ("abc.", DiscriminatorCannotBeEmpty),
            ("abc.00", DiscriminatorCannotBeZero),
            ("abc.1", DiscriminatorCannotBeSingleDigit),
            ("abc.012", DiscriminatorCannotHaveLeadingZeros),
            ("abc.+12", BadDiscriminatorCharacter),
            ("abc.99999999999999999999", DiscriminatorTooLarge),
        ] {
            assert_eq!(username_hash(name), Err(err), "{name}");
        }
        assert_eq!(
            username_hash(&format!("{}.12", "a".repeat(49))),
            Err(NicknameTooLong)
        );
        assert!(username_hash(&format!("{}.12", "a".repeat(48))).is_ok());
        // Case does not matter; the dot splits at the last one.
        assert_eq!(username_hash("Abc.12"), username_hash("abc.12"));
    }

    #[test]
    fn proofs_verify_only_for_their_hash() {
        let proof = username_proof_deterministic("heliograph.42", &[3; 32]).unwrap();
        let hash = username_hash("heliograph.42").unwrap();
        verify_username_proof(&proof, &hash).unwrap();
        let other = username_hash("heliograph.43").unwrap();
        assert_eq!(
            verify_username_proof(&proof, &other),
            Err(ZkError::Verification)
        );
        let mut tampered = proof.clone();
        tampered[40] ^= 1;
        assert!(verify_username_proof(&tampered, &hash).is_err());
        assert!(verify_username_proof(&proof[..95], &hash).is_err());
        assert!(verify_username_proof(&proof, &hash[..31]).is_err());
        assert!(verify_username_proof(&proof, &[0xff; 32]).is_err());
    }
}
