//! Property tests: arbitrary or mutated bytes never panic a deserializer or a server operation
//! that parses client input; they yield errors.

use heliograph_types::{Aci, Pni, ServiceId};
use heliograph_zk::auth::AuthCredentialPresentation;
use heliograph_zk::endorsements::{
    GroupSendDerivedKeyPair, GroupSendEndorsementsResponse, GroupSendFullToken,
};
use heliograph_zk::profile::{
    ProfileKeyCommitment, ProfileKeyCredentialPresentation, ProfileKeyCredentialRequest,
};
use heliograph_zk::username::Username;
use heliograph_zk::{
    username_hash, verify_username_proof, GroupPublicParams, ServerPublicParams, ServerSecretParams,
};
use proptest::prelude::*;
use std::sync::OnceLock;

fn params() -> &'static ServerSecretParams {
    static P: OnceLock<ServerSecretParams> = OnceLock::new();
    P.get_or_init(|| ServerSecretParams::generate_deterministic(&[7u8; 32]))
}

/// Arbitrary bytes, biased towards the lengths and leading bytes the parsers expect.
fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..800),
        (
            prop_oneof![Just(0u8), Just(3u8), any::<u8>()],
            proptest::collection::vec(any::<u8>(), 0..800)
        )
            .prop_map(|(first, mut rest)| {
                rest.insert(0, first);
                rest
            }),
        // Valid-looking length prefixes followed by too little data.
        (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..200)).prop_map(|(n, rest)| {
            let mut v = vec![0u8];
            v.extend_from_slice(&n.to_le_bytes());
            v.extend(rest);
            v
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn deserializers_never_panic(bytes in input()) {
        let _ = ServerSecretParams::deserialize(&bytes);
        let _ = ServerPublicParams::deserialize(&bytes);
        let _ = GroupPublicParams::deserialize(&bytes);
        let _ = AuthCredentialPresentation::deserialize(&bytes);
        let _ = GroupSendFullToken::deserialize(&bytes);
        let _ = GroupSendDerivedKeyPair::deserialize(&bytes);
        let _ = ProfileKeyCommitment::deserialize(&bytes);
        let _ = ProfileKeyCredentialRequest::deserialize(&bytes);
        let _ = ProfileKeyCredentialPresentation::deserialize(&bytes);
    }

    #[test]
    fn operations_on_garbage_return_errors(bytes in input(), now in any::<u64>(), exp in any::<u64>()) {
        let p = params();
        let aci = Aci::from_uuid(uuid::Uuid::from_bytes([1; 16]));
        prop_assert!(p.verify_auth_credential_presentation_bytes(&bytes, &bytes, now).is_err());
        prop_assert!(p.verify_profile_key_credential_presentation_bytes(&bytes, &bytes, now).is_err());
        prop_assert!(p.issue_expiring_profile_key_credential_deterministic(&[0; 32], &bytes, aci, &bytes, exp).is_err());
        let kp = GroupSendDerivedKeyPair::for_expiration(exp, p);
        prop_assert!(GroupSendEndorsementsResponse::issue_deterministic(&[&bytes], &kp, &[0; 32]).is_err());
        if let Ok(token) = GroupSendFullToken::deserialize(&bytes) {
            let kp = GroupSendDerivedKeyPair::for_expiration(token.expiration(), p);
            prop_assert!(token.verify(&[ServiceId::Aci(aci)], now, &kp).is_err());
        }
        let _ = heliograph_zk::endorsements::default_expiration(now);
        let _ = p.issue_auth_credential_with_pni_zkc_deterministic(&[0; 32], aci, Pni::from_uuid(uuid::Uuid::nil()), exp);
    }

    #[test]
    fn truncated_or_extended_valid_encodings_are_rejected(cut in 0usize..2721, extra in any::<u8>()) {
        let bytes = params().serialize();
        prop_assert!(ServerSecretParams::deserialize(&bytes[..cut]).is_err());
        let mut longer = bytes.clone();
        longer.push(extra);
        prop_assert!(ServerSecretParams::deserialize(&longer).is_err());
        let public = params().get_public_params().serialize();
        prop_assert!(ServerPublicParams::deserialize(&public[..cut.min(public.len() - 1)]).is_err());
    }

    #[test]
    fn username_proof_verification_never_panics(
        proof in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(any::<u8>(), 128..=128),
        ],
        hash in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::collection::vec(any::<u8>(), 32..=32),
        ],
    ) {
        // Random bytes are a valid proof with negligible probability.
        prop_assert!(verify_username_proof(&proof, &hash).is_err());
    }

    #[test]
    fn mutated_username_proofs_are_rejected(
        discriminator in 10u64..1_000_000,
        index in 0usize..128,
        flip in 1u8..=255,
        hash_index in 0usize..32,
        hash_flip in any::<u8>(),
    ) {
        let username = Username::parse(&format!("alice.{discriminator}")).unwrap();
        let hash = username.hash();
        let mut proof = username.proof_deterministic(&[3; 32]).unwrap();
        prop_assert_eq!(verify_username_proof(&proof, &hash), Ok(()));
        proof[index] ^= flip;
        let mut other = hash;
        other[hash_index] ^= hash_flip;
        prop_assert!(verify_username_proof(&proof, &other).is_err());
    }

    #[test]
    fn username_parsing_never_panics(s in "\\PC{0,80}", t in "[_a-zA-Z0-9.+-]{0,60}") {
        let _ = username_hash(&s);
        let _ = username_hash(&t);
        let _ = Username::from_parts(&s, &t, 3..=32);
    }
}
