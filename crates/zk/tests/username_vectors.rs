//! Username hashes and proofs against vectors produced by libsignal
//! (`@signalapp/libsignal-client` 0.103.0, `usernames.hash` / `usernames.generateProofWithRandom`;
//! generator `gen_username_vectors.mjs`), plus the hash vector published in libsignal's own Java
//! and Swift tests. Our hashes and deterministic proofs must be byte-identical, libsignal's proofs
//! must verify here, and the same usernames must be refused for the same reasons.

use heliograph_zk::username::{Username, UsernameError, USERNAME_PROOF_LEN};
use heliograph_zk::{username_hash, verify_username_proof, ZkError};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// `(username, usernames.hash(username))`.
const HASHES: &[(&str, &str)] = &[
    (
        "he110.42",
        "f63f0521eb3adfe1d936f4b626b89558483507fbdb838fc554af059111cf322e",
    ),
    (
        "He110.01",
        "40bb2ef5ee0623030702e2fe4968b8ecd7362f429dd9435ae4c4616458394e77",
    ),
    (
        "HE110.42",
        "f63f0521eb3adfe1d936f4b626b89558483507fbdb838fc554af059111cf322e",
    ),
    (
        "usr.999999999",
        "ee73aba64f73a01d76f60dd228806c6b4941a0db1381d3e85fba4c87160d9215",
    ),
    (
        "_identifier.42",
        "58d2b1c0d69a791cc69a31388291c2ee051ad0bbf41a1b292f095844101f9865",
    ),
    (
        "LOUD.700",
        "4ee6243df79ec22d8da80aa8b4a834ed56d911a165490fa90199135e7888314e",
    ),
    (
        "a.10",
        "fc18d048d66d332113e521e4dd998511236d1d6c2dc62c1f7c3a0e5fbe9f0337",
    ),
    (
        "_.99",
        "8c9d328debfa09bc63845d10451ffe6ee9aac2f19786d17f7dad899ceb54625f",
    ),
    (
        "jimio.18446744073709551615",
        "6c1becc1042da9c42a5299d5ada68ed03e07f6210631a556c84c249cbfc9884b",
    ),
    (
        "ab_C9.42",
        "66463dff227aa5d0a631f014390a99070b6066245a26ab35fcfb7cd356db9765",
    ),
    (
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz.01",
        "80921cda4ce2d8c15e063caf74b6233c5812737e93c8f5d4417a0e00d08dd123",
    ),
    (
        "_99999999999999999999999999999999999999999999999.12345",
        "6a204236adf09c7252636bc22999bef17f49c419c35e8eb3d24fcc0c3c9fa771",
    ),
];

/// `(username, libsignal ErrorCode name)` for usernames `usernames.hash` refuses.
const INVALID: &[(&str, &str)] = &[
    ("no_discriminator", "MissingSeparator"),
    (".42", "NicknameCannotBeEmpty"),
    ("0zerostart.42", "CannotStartWithDigit"),
    ("🦀.42", "BadNicknameCharacter"),
    ("s p a c e s.01", "BadNicknameCharacter"),
    ("a.b.42", "BadNicknameCharacter"),
    (
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.42",
        "NicknameTooLong",
    ),
    ("ehren.", "DiscriminatorCannotBeEmpty"),
    ("zero.00", "DiscriminatorCannotBeZero"),
    ("zero.0", "DiscriminatorCannotBeZero"),
    ("zeropad.001", "DiscriminatorCannotHaveLeadingZeros"),
    ("short.1", "DiscriminatorCannotBeSingleDigit"),
    ("ehren.+12", "BadDiscriminatorCharacter"),
    ("ehren.-01", "BadDiscriminatorCharacter"),
    ("ehren.1a", "BadDiscriminatorCharacter"),
    ("jimio.18446744073709551616", "DiscriminatorTooLarge"),
    ("b d.1", "DiscriminatorCannotBeSingleDigit"),
];

/// `(username, randomness, usernames.generateProofWithRandom(username, randomness))`.
const PROOFS: &[(&str, &str, &str)] = &[
    (
        "he110.42",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "e57e3acfcc1a9945aeb69b114e5a019439c26bee6da7db0b113f542556aa4b007ee3b4974c4e9b90a653daa574fd3522a03b3158b505e436d034211a683d4f06\
         803e8b863032738055e70e94d071c328acd4ef17968a09c174d4fb311e0aea0280660506195ede2093b81e1d83008f6b83d6d4d506bfd612d435653d7576270f",
    ),
    (
        "hello_signal.42",
        "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
        "b5bdbe8f5daac324a381ec2a9f4ade6317df9ee39919d671e09385db08b0530ba92bee4f15247b396b48743d1788acdc334ca5ec880c084def8e6a3215067401\
         9f806c615a63aac06132e4270e66bd6c41ace15b933b65ea4261a5bc51efb10ea41634f82e73853daad399779a57e5711613dd3316df2ef943a82ffcc7338a03",
    ),
    (
        "LOUD.700",
        "c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7",
        "eb36d9663c84f925f62e5115a4bffeba1bfeb92700053d15a7ad3e6651521b00e3d5030ab2687f5b7fe428d7a554068e78b35855679bb5fb50c20495f4255c00\
         618403d4c4d1878960476b04b406caeaea7a1ef081f04d68b6be7fb73ce959046184864c2178ca24d8c8314fd3ff7b498652f7778f8c30c59ba4c078f3a3f608",
    ),
    (
        "jimio.18446744073709551615",
        "6465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283",
        "670ea6d5b17a9d41bee46fe7cce6ebb7b5ff3f134a53634dbffe770ab521e10ec7adaa6c54b60b04c6f4cb5a1ee58f1cfaa22430f1fe19ff0de7bb524793960d\
         da308915901054f2347682706d1cfc35fad1402bf650a3fe053fecebf610f90d999fb4ecc3c2a15d5f894c4e4460011ebe4ea835ed5902d2ce922e4f6ce49c02",
    ),
];
/// Our variant for a libsignal `ErrorCode` name.
fn variant(code: &str) -> UsernameError {
    use UsernameError::*;
    match code {
        "MissingSeparator" => MissingSeparator,
        "NicknameCannotBeEmpty" => NicknameCannotBeEmpty,
        "CannotStartWithDigit" => NicknameCannotStartWithDigit,
        "BadNicknameCharacter" => BadNicknameCharacter,
        "NicknameTooShort" => NicknameTooShort,
        "NicknameTooLong" => NicknameTooLong,
        "DiscriminatorCannotBeEmpty" => DiscriminatorCannotBeEmpty,
        "DiscriminatorCannotBeZero" => DiscriminatorCannotBeZero,
        "DiscriminatorCannotBeSingleDigit" => DiscriminatorCannotBeSingleDigit,
        "DiscriminatorCannotHaveLeadingZeros" => DiscriminatorCannotHaveLeadingZeros,
        "BadDiscriminatorCharacter" => BadDiscriminatorCharacter,
        "DiscriminatorTooLarge" => DiscriminatorTooLarge,
        other => panic!("unmapped libsignal error code {other}"),
    }
}

#[test]
fn published_libsignal_hash_vector() {
    // UsernamesTest.java / UsernameTests.swift in libsignal.
    assert_eq!(
        hex::encode(username_hash("he110.42").unwrap()),
        "f63f0521eb3adfe1d936f4b626b89558483507fbdb838fc554af059111cf322e"
    );
}

#[test]
fn hashes_match_libsignal() {
    for (username, hash) in HASHES {
        assert_eq!(
            hex::encode(username_hash(username).unwrap()),
            *hash,
            "{username}"
        );
    }
}

#[test]
fn invalid_usernames_are_refused_for_libsignals_reason() {
    for (username, code) in INVALID {
        assert_eq!(
            username_hash(username),
            Err(ZkError::Username(variant(code))),
            "{username}"
        );
    }
}

#[test]
fn libsignal_proofs_verify_and_ours_are_identical() {
    for (username, randomness, proof) in PROOFS {
        let proof = h(proof);
        assert_eq!(proof.len(), USERNAME_PROOF_LEN);
        let hash = username_hash(username).unwrap();
        assert_eq!(verify_username_proof(&proof, &hash), Ok(()), "{username}");
        let r: [u8; 32] = h(randomness).try_into().unwrap();
        let ours = Username::parse(username)
            .unwrap()
            .proof_deterministic(&r)
            .unwrap();
        assert_eq!(hex::encode(ours), hex::encode(&proof), "{username}");
    }
}

#[test]
fn libsignal_proofs_fail_for_other_hashes() {
    for (i, (username, _, proof)) in PROOFS.iter().enumerate() {
        let proof = h(proof);
        let (other, _, _) = PROOFS[(i + 1) % PROOFS.len()];
        let other_hash = username_hash(other).unwrap();
        assert_eq!(
            verify_username_proof(&proof, &other_hash),
            Err(ZkError::Verification),
            "proof of {username} against the hash of {other}"
        );
    }
    // Same nickname, another discriminator.
    let (_, _, proof) = PROOFS[0];
    let hash = username_hash("he110.43").unwrap();
    assert_eq!(
        verify_username_proof(&h(proof), &hash),
        Err(ZkError::Verification)
    );
}

#[test]
fn tampered_libsignal_proofs_fail() {
    for (username, _, proof) in PROOFS {
        let proof = h(proof);
        let hash = username_hash(username).unwrap();
        for i in (0..USERNAME_PROOF_LEN).step_by(7) {
            let mut bad = proof.clone();
            bad[i] ^= 0x40;
            assert!(
                verify_username_proof(&bad, &hash).is_err(),
                "{username} byte {i}"
            );
        }
        // Swapped responses, truncated, extended.
        let mut swapped = proof.clone();
        swapped[32..96].rotate_left(32);
        assert_eq!(
            verify_username_proof(&swapped, &hash),
            Err(ZkError::Verification)
        );
        assert!(verify_username_proof(&proof[..USERNAME_PROOF_LEN - 1], &hash).is_err());
        let mut longer = proof.clone();
        longer.push(0);
        assert!(verify_username_proof(&longer, &hash).is_err());
        // A tampered hash (still possibly a valid point) fails too.
        let mut bad_hash = hash;
        bad_hash[5] ^= 0x01;
        assert!(verify_username_proof(&proof, &bad_hash).is_err());
    }
}
