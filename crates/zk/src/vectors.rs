//! Byte-exact test vectors published with libsignal's zkgroup tests (fixed randomness).

#![allow(non_snake_case)]

use heliograph_types::{Aci, Pni, ServiceId};

use crate::group::GroupPublicParams;
use crate::sho::{Sho, ShoHmacSha256};
use crate::uid::{calc_m1, lizard_encode};
use crate::{system, ServerSecretParams, SECONDS_PER_DAY};

pub(crate) const TEST_ARRAY_16: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
pub(crate) const TEST_ARRAY_16_1: [u8; 16] = [
    100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115,
];
pub(crate) fn test_array_32(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start + i as u8)
}

/// Group key material derived from a master key, as a client does (test helper only).
pub(crate) struct TestGroup {
    pub(crate) a1: curve25519_dalek::scalar::Scalar,
    pub(crate) a2: curve25519_dalek::scalar::Scalar,
    pub(crate) public: GroupPublicParams,
}

pub(crate) fn test_group(master_key: &[u8; 32]) -> TestGroup {
    let mut sho = ShoHmacSha256::with_data(
        b"Signal_ZKGroup_20200424_GroupMasterKey_GroupSecretParams_DeriveFromMasterKey",
        master_key,
    );
    let group_id: [u8; 32] = sho.squeeze_array();
    let _blob_key: [u8; 32] = sho.squeeze_array();
    let a1 = sho.get_scalar();
    let a2 = sho.get_scalar();
    let uid = system::uid();
    let A = a1 * uid.G_a1 + a2 * uid.G_a2;
    let b1 = sho.get_scalar();
    let b2 = sho.get_scalar();
    let pk = system::profile_key_enc();
    let B = b1 * pk.G_b1 + b2 * pk.G_b2;
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(&group_id);
    bytes.extend_from_slice(A.compress().as_bytes());
    bytes.extend_from_slice(B.compress().as_bytes());
    let public = GroupPublicParams::deserialize(&bytes).unwrap();
    TestGroup { a1, a2, public }
}

const AUTH_CREDENTIAL_PRESENTATION_V4_RESULT: &str = "035e3e79afda8dc0d489fcf7c78f71e1502f2e06e8aeb20149046f85b3004d3f7f982d57dfad49cd1e6c335755cef4cc5e8d3de1eb4f5e8f24d71cf9f2220ae750f47181d71aaabbd48a1916813ec08eea935eb013395bf72f9139da8ef4f9530d05000000000000007a080544e6ee8ee2ff0dc298f18841103a9f9ec38631df8682e241755f86f74e26301872f4f32a9bb80f5b17651c0c83253a8013532384061a1febf79e58e60fa215b31da678305fa2a271655e35824630d0804680ec0bf29b1c775652683c3a5cec537c3514df730f267371d909f29cc6252af30afe3ea846c0cf56478bdc5b7a7f983ea7c24ecef4b371286a6414b2c38a57a7f59a9df33e430736c1a2ca14e00000000000000015416082ff7e3a741a4c3c31be3c95d4a31f2cf742685e0b17cd7f7205230e0e4e67b4b6ed45e705de13a1cb7170897bb32c9db6f9a1108fddfc7fae9eb2ca0c5fc3d8ccbd79d992eeed333626a1f0c37f0b25625955611e5ba33c782c50550045923582280cd93c3e9555b4e36eec20993f60b6aeb9ddb7f2856c4659546f037b33534a0292c77a501a70796f24ff37c8311bdfea8bb6c78f909563fe6e3b0386f36adc92090694ebb106a837bac046ad26e2472ee16408e9fd84269fd78c00c5dde91fcf202a6afad3441b9e2a34f4831d5bf560c81b38d951cb7c88e4d701765de9df4cfa5487f360e29e99343e91811baec331c4680985e608ca5d408e21725c6aa1b61d5a8b48d75f4aaa9a3cbe88d3e0f1a54319081f77c72c8f525474de749a0fef17b06bbce74ca5d0f7a0c45f443a1901f1e3e016d3548e50a2fa19ce6b27ac467ed9c9f5018b2a4456b6c2b1a91454422fdd473c9636a8459e1c170060c77b02000000";

#[test]
fn server_signature_vector() {
    let params = ServerSecretParams::generate_deterministic(&test_array_32(0));
    let sig = params
        .sign_deterministic(&test_array_32(200), &test_array_32(100))
        .unwrap();
    assert_eq!(
        hex::encode(sig),
        "87d354564d35ef91edba851e0815612e864c227a0471d50c270698604406d003a55473f576cf241fc6b41c6b16e5e63b333c02fe4a33858022fdd7a4ab367b06"
    );
    params
        .get_public_params()
        .verify_signature(&test_array_32(100), &sig)
        .unwrap();
}

#[test]
fn params_round_trip_and_sizes() {
    let params = ServerSecretParams::generate_deterministic(&test_array_32(0));
    let bytes = params.serialize();
    assert_eq!(bytes.len(), crate::SERVER_SECRET_PARAMS_LEN);
    let again = ServerSecretParams::deserialize(&bytes).unwrap();
    assert_eq!(again.serialize(), bytes);
    let public = params.get_public_params().serialize();
    assert_eq!(public.len(), crate::SERVER_PUBLIC_PARAMS_LEN);
    assert_eq!(again.get_public_params().serialize(), public);
    let parsed = crate::ServerPublicParams::deserialize(&public).unwrap();
    assert_eq!(parsed.serialize(), public);
}

#[test]
fn auth_presentation_vector_verifies() {
    let params = ServerSecretParams::generate_deterministic(&test_array_32(0));
    let group = test_group(&test_array_32(100));
    let redemption = 123_456 * SECONDS_PER_DAY;
    let bytes = hex::decode(AUTH_CREDENTIAL_PRESENTATION_V4_RESULT).unwrap();
    let p = crate::auth::AuthCredentialPresentation::deserialize(&bytes).unwrap();
    assert_eq!(p.redemption_time(), redemption);
    params
        .verify_auth_credential_presentation(&group.public, &p, redemption)
        .unwrap();
    // Out of the validity window.
    assert!(params
        .verify_auth_credential_presentation(&group.public, &p, redemption + 3 * SECONDS_PER_DAY)
        .is_err());
    // Another group's key.
    let other = test_group(&test_array_32(1));
    assert!(params
        .verify_auth_credential_presentation(&other.public, &p, redemption)
        .is_err());
    // Tampered proof byte.
    let mut bad = bytes.clone();
    bad[200] ^= 1;
    if let Ok(p) = crate::auth::AuthCredentialPresentation::deserialize(&bad) {
        assert!(params
            .verify_auth_credential_presentation(&group.public, &p, redemption)
            .is_err());
    }

    // The PNI ciphertext equals our own encryption of the PNI: checks M1 and Lizard.
    let pni = ServiceId::Pni(Pni::from_uuid(uuid::Uuid::from_bytes(TEST_ARRAY_16_1)));
    let E_A1 = group.a1 * calc_m1(&pni);
    let E_A2 = group.a2 * E_A1 + lizard_encode(&TEST_ARRAY_16_1);
    let mut expected = vec![0u8];
    expected.extend_from_slice(E_A1.compress().as_bytes());
    expected.extend_from_slice(E_A2.compress().as_bytes());
    assert_eq!(hex::encode(p.pni_ciphertext()), hex::encode(expected));
    let aci = ServiceId::Aci(Aci::from_uuid(uuid::Uuid::from_bytes(TEST_ARRAY_16)));
    let E_A1 = group.a1 * calc_m1(&aci);
    assert_eq!(&p.aci_ciphertext()[1..33], E_A1.compress().as_bytes());
}

#[test]
fn our_auth_credential_is_well_formed() {
    let params = ServerSecretParams::generate_deterministic(&test_array_32(0));
    let aci = Aci::from_uuid(uuid::Uuid::from_bytes(TEST_ARRAY_16));
    let pni = Pni::from_uuid(uuid::Uuid::from_bytes(TEST_ARRAY_16_1));
    let resp = params
        .issue_auth_credential_with_pni_zkc_deterministic(
            &test_array_32(200),
            aci,
            pni,
            123_456 * SECONDS_PER_DAY,
        )
        .unwrap();
    assert_eq!(
        resp.len(),
        crate::auth::AUTH_CREDENTIAL_WITH_PNI_RESPONSE_LEN
    );
    assert_eq!(resp[0], 3);
    assert!(params
        .issue_auth_credential_with_pni_zkc_deterministic(&test_array_32(200), aci, pni, 5)
        .is_err());
}

const PROFILE_KEY_CREDENTIAL_PRESENTATION_V4_RESULT: &str = "03fc58a4f2c9bd736238abfc28890c8b2363d084bee430692f05ee559bd37dea3378949e72b271fe0d815b6d908035106cd670b45892df40780c62c37fae106c41be38371fe042a4d4f697db112972d79204b3d48d1253d3231c22926e107f661d40897cb7fdb4777c1680a57008655db71efaac1f69cd9ddf8cda33b226662d7ba443416281508fcdbb026d63f83168470a83e12803a6d2ee2c907343f2f6b063fe6bf0f17a032fabe61e77e904dfe7d3042125728c1984c86a094a0e3991ba554c1ebf604c14a8b13c384c5c01909656c114b24f9d3615d3b14bde7ce9cf126aca3e073e804b2016f7c5affa158a3a68ed9024c6880ecb441a346e7e91aedd6240010000000000006b4403e6adc3322acd34eea13fcc1ae971aab14386fa9b4d85ba0490dfca2f0d21de78e92719ad40a6a49d7549551a4bc6f7e4e4f0da81e9d6cc054da9529e053d1360b9d83e3ab9d3c8a9b7d3b07e2bab0979f3912c4bb41f621bf7685ee607fc147670196e009a9cd92b0fb525ca9b8e8fdf4c332732c02ccbcf57b5c19f001df37a5104d367f0f3f5cc0d9a2bd299e1f37872d7580b05596eadd5dec3e80366ab47357205c407bbcac49540a1fd69f36d308d0fdb72d0273f0c7a0d92220fe25daba5885a162bf238495463971c61b380084b7f79ad817d6f343e254722019da9ad32e72f2d864074023096cb8dd615b6fbbb47c6bef0926290a68403340e0a4dfb961e5b9002fc104e480823f12178cb91fafd51eb5dc9eb9fec4e6f7c0a130f31eb84cc70be9e5fd0bfb7d279590bdb49e7a4fe3b156a922fc73f78a50e765de9df4cfa5487f360e29e99343e91811baec331c4680985e608ca5d408e21725c6aa1b61d5a8b48d75f4aaa9a3cbe88d3e0f1a54319081f77c72c8f52547448c03ab4afbf6b8fb0e126c037a0ad4094600dd0e0634d76f88c21087f3cfb485a89bc1e3abc4c95041d1d170eccf02933ec5393d4be1dc573f83c33d3b9a7468069160000000000";
const PROFILE_KEY_CREDENTIAL_PRESENTATION_V3_RESULT: &str = "02fc58a4f2c9bd736238abfc28890c8b2363d084bee430692f05ee559bd37dea3378949e72b271fe0d815b6d908035106cd670b45892df40780c62c37fae106c41be38371fe042a4d4f697db112972d79204b3d48d1253d3231c22926e107f661d40897cb7fdb4777c1680a57008655db71efaac1f69cd9ddf8cda33b226662d7ba443416281508fcdbb026d63f83168470a83e12803a6d2ee2c907343f2f6b063fe6bf0f17a032fabe61e77e904dfe7d3042125728c1984c86a094a0e3991ba554c1ebf604c14a8b13c384c5c01909656c114b24f9d3615d3b14bde7ce9cf126aca3e073e804b2016f7c5affa158a3a68ed9024c6880ecb441a346e7e91aedd6240010000000000002e70f27fb3f4c58cb40dfe58ce1d122312969426abb0bbb820bfbc5ff61d400a419d5ddb7c30c546427273d4fca3096ee4dd2fd03ccbbd26304ffcfe54fef50db8538177ebc61117a222253b4d4189f795abbde3b3d8a0a72d97b7750e0394010a01b474c3e942ef1ee807e17421689c6ca793c4f30b09c989b8a9679aee130eb034f64a34dbcaf12616970d2c8d58ca715bf5c4d42475fa6a1b82ba31574e072506652253e86cd783e30e1c06d2e861ba864a5373759472b31c5b26a8e46d062b8b5da2ec0a3ba499648e80f307728b7815aa60d167a0a9d01c2d2cbfb0a60ddc9dfc5343564b5f021fd1adba6d2a389e7c331bfffeed2a5d1887634323840574e49255a62d9e00ffc21f56afbb12fb9660e185f979223ec714c01e403a3a0a3276d0ef78182f12c092f5237befe3f0afea7693370788f854ec697e44c9bd02765de9df4cfa5487f360e29e99343e91811baec331c4680985e608ca5d408e21725c6aa1b61d5a8b48d75f4aaa9a3cbe88d3e0f1a54319081f77c72c8f52547448c03ab4afbf6b8fb0e126c037a0ad4094600dd0e0634d76f88c21087f3cfb485a89bc1e3abc4c95041d1d170eccf02933ec5393d4be1dc573f83c33d3b9a7468069160000000000";

#[test]
fn profile_key_presentation_vector_verifies() {
    use crate::profile::ProfileKeyCredentialPresentation;
    let params = ServerSecretParams::generate_deterministic(&test_array_32(0));
    let group = test_group(&test_array_32(100));
    let expiration = 17 * SECONDS_PER_DAY;
    let bytes = hex::decode(PROFILE_KEY_CREDENTIAL_PRESENTATION_V4_RESULT).unwrap();
    let p = ProfileKeyCredentialPresentation::deserialize(&bytes).unwrap();
    assert_eq!(p.expiration(), expiration);
    params
        .verify_profile_key_credential_presentation(&group.public, &p, expiration - 5)
        .unwrap();
    for now in [expiration, expiration + 5] {
        assert!(params
            .verify_profile_key_credential_presentation(&group.public, &p, now)
            .is_err());
    }
    let other = test_group(&test_array_32(1));
    assert!(params
        .verify_profile_key_credential_presentation(&other.public, &p, expiration - 5)
        .is_err());
    // Version 3 presentations are refused, as by libsignal's server.
    let v3 = hex::decode(PROFILE_KEY_CREDENTIAL_PRESENTATION_V3_RESULT).unwrap();
    assert!(ProfileKeyCredentialPresentation::deserialize(&v3).is_err());
}

#[test]
fn default_expiration_matches_libsignal_rule() {
    use crate::endorsements::default_expiration;
    let day = SECONDS_PER_DAY;
    // Early in the day: two days ahead. Late in the day (less than 25 h left): three.
    assert_eq!(default_expiration(100 * day + 60), 102 * day);
    assert_eq!(default_expiration(100 * day + 23 * 3600 + 1), 103 * day);
    assert_eq!(default_expiration(u64::MAX), u64::MAX);
}
