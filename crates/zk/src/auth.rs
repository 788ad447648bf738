//! Group auth credentials: `AuthCredentialWithPni` in its "zkc" version (version byte 3).
//!
//! The server issues a zkcredential over the ACI and PNI attribute points with the day-aligned
//! redemption time as public attribute (label `20240222_Signal_AuthCredentialZkc`); clients
//! present it to the group server with both ids encrypted under the group's UID key
//! (presentation version byte 3).

use heliograph_types::{Aci, Pni, ServiceId};
use rand_core::{CryptoRng, RngCore};

use crate::credential::{self, Ciphertext, EncryptionKey, PresentationProof};
use crate::error::{ZkError, ZkResult};
use crate::group::GroupPublicParams;
use crate::params::ServerSecretParams;
use crate::uid::UidPoints;
use crate::wire::{Reader, Writer};
use crate::{system, RANDOMNESS_LEN, SECONDS_PER_DAY};

const CREDENTIAL_LABEL: &[u8] = b"20240222_Signal_AuthCredentialZkc";
const RESPONSE_VERSION_ZKC: u8 = 3;
const PRESENTATION_VERSION_4: u8 = 3;
/// Domain id of UID encryption keys in presentations.
pub(crate) const UID_ENCRYPTION_DOMAIN: &str = "Signal_ZKGroup_20230419_UidEncryption";

/// Serialized length of an `AuthCredentialWithPniResponse` (zkc).
pub const AUTH_CREDENTIAL_WITH_PNI_RESPONSE_LEN: usize = 425;

/// A parsed auth credential presentation (`AuthCredentialWithPniZkcPresentation`).
pub struct AuthCredentialPresentation {
    proof: PresentationProof,
    aci_ciphertext: Ciphertext,
    pni_ciphertext: Ciphertext,
    redemption_time: u64,
}

impl AuthCredentialPresentation {
    /// Parses a presentation as produced by libsignal's
    /// `createAuthCredentialWithPniPresentation(...).serialize()`.
    pub fn deserialize(bytes: &[u8]) -> ZkResult<Self> {
        let mut r = Reader::new(bytes, "AuthCredentialPresentation");
        r.expect_u8(PRESENTATION_VERSION_4)?;
        let proof = PresentationProof::read(&mut r)?;
        let aci_ciphertext = Ciphertext::read(&mut r)?;
        let pni_ciphertext = Ciphertext::read(&mut r)?;
        let redemption_time = r.u64()?;
        r.finish()?;
        Ok(Self {
            proof,
            aci_ciphertext,
            pni_ciphertext,
            redemption_time,
        })
    }

    /// Redemption time (epoch seconds) claimed by the presentation.
    pub fn redemption_time(&self) -> u64 {
        self.redemption_time
    }

    /// The ACI ciphertext, serialized as a `UuidCiphertext` (65 bytes). The group server stores
    /// and compares these.
    pub fn aci_ciphertext(&self) -> Vec<u8> {
        uuid_ciphertext_bytes(&self.aci_ciphertext)
    }

    /// The PNI ciphertext, serialized as a `UuidCiphertext` (65 bytes).
    pub fn pni_ciphertext(&self) -> Vec<u8> {
        uuid_ciphertext_bytes(&self.pni_ciphertext)
    }
}

/// The PNI standing in for a missing one: a UUIDv5-style SHA-1 hash of a fixed namespace,
/// SHA-256 of the salt and the ACI bytes.
fn false_pni(aci: Aci, salt: &[u8]) -> Pni {
    use sha1::Digest as _;
    const NAMESPACE: uuid::Uuid = uuid::uuid!("019faa2b-7bcb-70c2-ac7f-cd770414689a");
    let hashed_salt = sha2::Sha256::digest(salt);
    let digest = sha1::Sha1::new()
        .chain_update(NAMESPACE.as_bytes())
        .chain_update(hashed_salt)
        .chain_update(aci.to_bytes())
        .finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    Pni::from_uuid(uuid::Builder::from_sha1_bytes(first).into_uuid())
}

fn uuid_ciphertext_bytes(c: &Ciphertext) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(0).point(&c.E_A1).point(&c.E_A2);
    w.finish()
}

impl ServerSecretParams {
    /// Issues an `AuthCredentialWithPniResponse` (zkc) for `aci`/`pni`, valid for the day starting
    /// at `redemption_time_seconds` (must be day-aligned). Returns the 425 serialized bytes that
    /// libsignal's `receiveAuthCredentialWithPniAsServiceId` accepts.
    pub fn issue_auth_credential_with_pni_zkc<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        aci: Aci,
        pni: Pni,
        redemption_time_seconds: u64,
    ) -> ZkResult<Vec<u8>> {
        let randomness = crate::draw(rng);
        self.issue_auth_credential_with_pni_zkc_deterministic(
            &randomness,
            aci,
            pni,
            redemption_time_seconds,
        )
    }

    /// Issues the zkc credential for an account without a PNI: the PNI attribute is a "false PNI"
    /// derived from the ACI and the account's auth credential salt (libsignal's
    /// `issueAuthCredentialZkcWithoutPni`; clients receive it with `receiveAuthCredentialWithoutPni`).
    pub fn issue_auth_credential_zkc_without_pni<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        aci: Aci,
        auth_credential_salt: &[u8],
        redemption_time_seconds: u64,
    ) -> ZkResult<Vec<u8>> {
        let randomness = crate::draw(rng);
        self.issue_auth_credential_zkc_without_pni_deterministic(
            &randomness,
            aci,
            auth_credential_salt,
            redemption_time_seconds,
        )
    }

    /// [`Self::issue_auth_credential_zkc_without_pni`] with explicit randomness.
    pub fn issue_auth_credential_zkc_without_pni_deterministic(
        &self,
        randomness: &[u8; RANDOMNESS_LEN],
        aci: Aci,
        auth_credential_salt: &[u8],
        redemption_time_seconds: u64,
    ) -> ZkResult<Vec<u8>> {
        let pni = false_pni(aci, auth_credential_salt);
        self.issue_auth_credential_with_pni_zkc_deterministic(
            randomness,
            aci,
            pni,
            redemption_time_seconds,
        )
    }

    /// [`Self::issue_auth_credential_with_pni_zkc`] with explicit randomness.
    pub fn issue_auth_credential_with_pni_zkc_deterministic(
        &self,
        randomness: &[u8; RANDOMNESS_LEN],
        aci: Aci,
        pni: Pni,
        redemption_time_seconds: u64,
    ) -> ZkResult<Vec<u8>> {
        if redemption_time_seconds % SECONDS_PER_DAY != 0 {
            return Err(ZkError::InvalidArgument("redemption time not day-aligned"));
        }
        let a = UidPoints::from_service_id(&ServiceId::Aci(aci));
        let p = UidPoints::from_service_id(&ServiceId::Pni(pni));
        let proof = credential::issue(
            &self.generic,
            CREDENTIAL_LABEL,
            &[&redemption_time_seconds.to_be_bytes()],
            &[a.M1, a.M2, p.M1, p.M2],
            randomness,
        )?;
        let mut out = Vec::with_capacity(AUTH_CREDENTIAL_WITH_PNI_RESPONSE_LEN);
        out.push(RESPONSE_VERSION_ZKC);
        out.extend_from_slice(&proof);
        Ok(out)
    }

    /// Verifies an auth credential presentation for a group at time `now_seconds`: the
    /// redemption time must satisfy `redemption - 1 day <= now <= redemption + 2 days` and the
    /// proof must verify against our generic credential key and the group's UID key.
    pub fn verify_auth_credential_presentation(
        &self,
        group_public_params: &GroupPublicParams,
        presentation: &AuthCredentialPresentation,
        now_seconds: u64,
    ) -> ZkResult<()> {
        let rt = presentation.redemption_time;
        let start = rt
            .checked_sub(SECONDS_PER_DAY)
            .ok_or(ZkError::Verification)?;
        let end = rt
            .checked_add(2 * SECONDS_PER_DAY)
            .ok_or(ZkError::Verification)?;
        if !(start..=end).contains(&now_seconds) {
            return Err(ZkError::Verification);
        }
        let uid = system::uid();
        let key = EncryptionKey {
            id: UID_ENCRYPTION_DOMAIN,
            G_a1: uid.G_a1,
            G_a2: uid.G_a2,
            A: group_public_params.uid_enc_A,
        };
        credential::verify_presentation(
            &self.generic,
            CREDENTIAL_LABEL,
            &[&rt.to_be_bytes()],
            &[presentation.aci_ciphertext, presentation.pni_ciphertext],
            &key,
            &presentation.proof,
        )
    }

    /// Convenience: parse both inputs from bytes, then verify.
    pub fn verify_auth_credential_presentation_bytes(
        &self,
        group_public_params: &[u8],
        presentation: &[u8],
        now_seconds: u64,
    ) -> ZkResult<()> {
        let gpp = GroupPublicParams::deserialize(group_public_params)?;
        let p = AuthCredentialPresentation::deserialize(presentation)?;
        self.verify_auth_credential_presentation(&gpp, &p, now_seconds)
    }
}
