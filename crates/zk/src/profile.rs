//! Expiring profile key credentials: the server checks a client's `ProfileKeyCredentialRequest`
//! against the stored `ProfileKeyCommitment` and issues a blinded credential over the ACI and the
//! (encrypted) profile key, with the expiration time as fifth attribute, returned as an
//! `ExpiringProfileKeyCredentialResponse` (497 bytes). Also verifies the presentations of such
//! credentials that clients hand to a group server (`ProfileKeyCredentialPresentation`, version 4).

#![allow(non_snake_case)]

use std::sync::OnceLock;

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use heliograph_types::{Aci, ServiceId};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use crate::credential::Ciphertext;
use crate::error::{ZkError, ZkResult};
use crate::group::GroupPublicParams;
use crate::params::ServerSecretParams;
use crate::poksho::{PointArgs, ScalarArgs, Statement};
use crate::sho::{Sho, ShoHmacSha256};
use crate::system;
use crate::uid::UidPoints;
use crate::wire::{Reader, Writer};
use crate::{RANDOMNESS_LEN, SECONDS_PER_DAY};

/// Serialized length of a `ProfileKeyCredentialRequest`.
pub const PROFILE_KEY_CREDENTIAL_REQUEST_LEN: usize = 329;
/// Serialized length of a `ProfileKeyCommitment`.
pub const PROFILE_KEY_COMMITMENT_LEN: usize = 97;
/// Serialized length of an `ExpiringProfileKeyCredentialResponse`.
pub const EXPIRING_PROFILE_KEY_CREDENTIAL_RESPONSE_LEN: usize = 497;

struct CommitmentSystem {
    G_j1: RistrettoPoint,
    G_j2: RistrettoPoint,
    G_j3: RistrettoPoint,
}

fn commitment_system() -> &'static CommitmentSystem {
    static CELL: OnceLock<CommitmentSystem> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut sho = ShoHmacSha256::with_data(
            b"Signal_ZKGroup_20200424_Constant_ProfileKeyCommitment_SystemParams_Generate",
            b"",
        );
        let G_j1 = sho.get_point();
        let G_j2 = sho.get_point();
        let G_j3 = sho.get_point();
        CommitmentSystem { G_j1, G_j2, G_j3 }
    })
}

/// A parsed `ProfileKeyCommitment` (stored with the profile version).
#[derive(Clone, Copy, Debug)]
pub struct ProfileKeyCommitment {
    J1: RistrettoPoint,
    J2: RistrettoPoint,
    J3: RistrettoPoint,
}

impl ProfileKeyCommitment {
    /// Parses libsignal's serialization (97 bytes).
    pub fn deserialize(bytes: &[u8]) -> ZkResult<Self> {
        let mut r = Reader::new(bytes, "ProfileKeyCommitment");
        r.expect_u8(0)?;
        let c = Self {
            J1: r.point()?,
            J2: r.point()?,
            J3: r.point()?,
        };
        r.finish()?;
        Ok(c)
    }
}

/// A parsed `ProfileKeyCredentialRequest`.
#[derive(Clone, Debug)]
pub struct ProfileKeyCredentialRequest {
    Y: RistrettoPoint,
    D1: RistrettoPoint,
    D2: RistrettoPoint,
    E1: RistrettoPoint,
    E2: RistrettoPoint,
    proof: Vec<u8>,
}

impl ProfileKeyCredentialRequest {
    /// Parses libsignal's serialization (329 bytes).
    pub fn deserialize(bytes: &[u8]) -> ZkResult<Self> {
        let mut r = Reader::new(bytes, "ProfileKeyCredentialRequest");
        r.expect_u8(0)?;
        let req = Self {
            Y: r.point()?,
            D1: r.point()?,
            D2: r.point()?,
            E1: r.point()?,
            E2: r.point()?,
            proof: r.byte_vec()?,
        };
        r.finish()?;
        Ok(req)
    }

    /// Checks the request's proof: the ciphertext encrypts the profile key committed to in
    /// `commitment`.
    pub fn verify(&self, commitment: &ProfileKeyCommitment) -> ZkResult<()> {
        let sys = commitment_system();
        let mut st = Statement::new();
        st.add("Y", &[("y", "G")])?;
        st.add("D1", &[("r1", "G")])?;
        st.add("E1", &[("r2", "G")])?;
        st.add("J3", &[("j3", "G_j3")])?;
        st.add("D2-J1", &[("r1", "Y"), ("j3", "-G_j1")])?;
        st.add("E2-J2", &[("r2", "Y"), ("j3", "-G_j2")])?;
        let points: PointArgs = crate::poksho::args(&[
            ("Y", self.Y),
            ("D1", self.D1),
            ("E1", self.E1),
            ("J3", commitment.J3),
            ("G_j3", sys.G_j3),
            ("D2-J1", self.D2 - commitment.J1),
            ("-G_j1", -sys.G_j1),
            ("E2-J2", self.E2 - commitment.J2),
            ("-G_j2", -sys.G_j2),
        ]);
        st.verify(&self.proof, &points, b"")
            .map_err(|_| ZkError::Verification)
    }
}

fn timestamp_scalar(t: u64) -> Scalar {
    ShoHmacSha256::with_data(
        b"Signal_ZKGroup_20220524_Timestamp_Calc_m",
        &t.to_be_bytes(),
    )
    .get_scalar()
}

impl ServerSecretParams {
    /// Issues an `ExpiringProfileKeyCredentialResponse` for `aci`, after checking that `request`
    /// (serialized `ProfileKeyCredentialRequest`) was made for the profile key of `commitment`
    /// (serialized `ProfileKeyCommitment`). `expiration_seconds` must be day-aligned. A request
    /// made with another profile key yields [`ZkError::Verification`] (HTTP 400 upstream).
    pub fn issue_expiring_profile_key_credential<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        request: &[u8],
        aci: Aci,
        commitment: &[u8],
        expiration_seconds: u64,
    ) -> ZkResult<Vec<u8>> {
        let randomness = crate::draw(rng);
        self.issue_expiring_profile_key_credential_deterministic(
            &randomness,
            request,
            aci,
            commitment,
            expiration_seconds,
        )
    }

    /// [`Self::issue_expiring_profile_key_credential`] with explicit randomness.
    pub fn issue_expiring_profile_key_credential_deterministic(
        &self,
        randomness: &[u8; RANDOMNESS_LEN],
        request: &[u8],
        aci: Aci,
        commitment: &[u8],
        expiration_seconds: u64,
    ) -> ZkResult<Vec<u8>> {
        if expiration_seconds % SECONDS_PER_DAY != 0 {
            return Err(ZkError::InvalidArgument("expiration not day-aligned"));
        }
        let request = ProfileKeyCredentialRequest::deserialize(request)?;
        let commitment = ProfileKeyCommitment::deserialize(commitment)?;
        request.verify(&commitment)?;

        let key = &self.expiring_profile_key;
        let (y1, y2, y3, y4, y5) = match key.y.as_slice() {
            [a, b, c, d, e] => (*a, *b, *c, *d, *e),
            _ => return Err(ZkError::InvalidArgument("key shape")),
        };
        let sys = system::legacy();
        let uid = UidPoints::from_service_id(&ServiceId::Aci(aci));

        let mut sho = ShoHmacSha256::with_data(
            b"Signal_ZKGroup_20220508_Random_ServerSecretParams_IssueExpiringProfileKeyCredential",
            randomness,
        );
        let t = sho.get_scalar();
        let U = sho.get_point();
        let M5 = timestamp_scalar(expiration_seconds) * sys.G_m[4];
        let V = key.W + (key.x0 + key.x1 * t) * U + y1 * uid.M1 + y2 * uid.M2 + y5 * M5;
        let mut rprime = sho.get_scalar();
        let S1 = rprime * RISTRETTO_BASEPOINT_POINT + y3 * request.D1 + y4 * request.E1;
        let S2 = rprime * request.Y + V + y3 * request.D2 + y4 * request.E2;

        let mut st = Statement::new();
        st.add("C_W", &[("w", "G_w"), ("wprime", "G_wprime")])?;
        st.add(
            "G_V-I",
            &[
                ("x0", "G_x0"),
                ("x1", "G_x1"),
                ("y1", "G_y1"),
                ("y2", "G_y2"),
                ("y3", "G_y3"),
                ("y4", "G_y4"),
                ("y5", "G_y5"),
            ],
        )?;
        st.add("S1", &[("y3", "D1"), ("y4", "E1"), ("rprime", "G")])?;
        st.add(
            "S2",
            &[
                ("y3", "D2"),
                ("y4", "E2"),
                ("rprime", "Y"),
                ("w", "G_w"),
                ("x0", "U"),
                ("x1", "tU"),
                ("y1", "M1"),
                ("y2", "M2"),
                ("y5", "M5"),
            ],
        )?;
        let mut scalars: ScalarArgs = crate::poksho::args(&[
            ("w", key.w),
            ("wprime", key.wprime),
            ("x0", key.x0),
            ("x1", key.x1),
            ("y1", y1),
            ("y2", y2),
            ("y3", y3),
            ("y4", y4),
            ("y5", y5),
            ("rprime", rprime),
        ]);
        let points: PointArgs = crate::poksho::args(&[
            ("C_W", key.C_W),
            ("G_w", sys.G_w),
            ("G_wprime", sys.G_wprime),
            ("G_V-I", sys.G_V - key.I),
            ("G_x0", sys.G_x0),
            ("G_x1", sys.G_x1),
            ("G_y1", sys.G_y[0]),
            ("G_y2", sys.G_y[1]),
            ("G_y3", sys.G_y[2]),
            ("G_y4", sys.G_y[3]),
            ("G_y5", sys.G_y[4]),
            ("S1", S1),
            ("D1", request.D1),
            ("E1", request.E1),
            ("S2", S2),
            ("D2", request.D2),
            ("E2", request.E2),
            ("Y", request.Y),
            ("U", U),
            ("tU", t * U),
            ("M1", uid.M1),
            ("M2", uid.M2),
            ("M5", M5),
        ]);
        let nonce_seed: [u8; 32] = sho.squeeze_array();
        let proof = st.prove(&scalars, &points, b"", &nonce_seed);
        scalars.values_mut().for_each(Zeroize::zeroize);
        rprime.zeroize();
        let proof = proof?;

        let mut w = Writer::default();
        w.u8(0)
            .scalar(&t)
            .point(&U)
            .point(&S1)
            .point(&S2)
            .u64(expiration_seconds)
            .byte_vec(&proof);
        Ok(w.finish())
    }
}

/// Version byte of the only accepted profile key credential presentation
/// (`ExpiringProfileKeyCredentialPresentationV2`).
const PROFILE_PRESENTATION_VERSION_4: u8 = 3;

/// A parsed expiring profile key credential presentation (version 4).
pub struct ProfileKeyCredentialPresentation {
    C_x0: RistrettoPoint,
    C_x1: RistrettoPoint,
    C_y: [RistrettoPoint; 5],
    C_V: RistrettoPoint,
    proof: Vec<u8>,
    uid_ciphertext: Ciphertext,
    profile_key_ciphertext: Ciphertext,
    expiration: u64,
}

impl ProfileKeyCredentialPresentation {
    /// Parses libsignal's serialization; older presentation versions (0..=2) are rejected, as
    /// libsignal's server does.
    pub fn deserialize(bytes: &[u8]) -> ZkResult<Self> {
        let mut r = Reader::new(bytes, "ProfileKeyCredentialPresentation");
        r.expect_u8(PROFILE_PRESENTATION_VERSION_4)?;
        let C_x0 = r.point()?;
        let C_x1 = r.point()?;
        let mut C_y = [RISTRETTO_BASEPOINT_POINT; 5];
        for c in &mut C_y {
            *c = r.point()?;
        }
        let C_V = r.point()?;
        let proof = r.byte_vec()?;
        let uid_ciphertext = Ciphertext::read(&mut r)?;
        let profile_key_ciphertext = Ciphertext::read(&mut r)?;
        let expiration = r.u64()?;
        r.finish()?;
        Ok(Self {
            C_x0,
            C_x1,
            C_y,
            C_V,
            proof,
            uid_ciphertext,
            profile_key_ciphertext,
            expiration,
        })
    }

    /// Expiration time (epoch seconds) of the presented credential.
    pub fn expiration(&self) -> u64 {
        self.expiration
    }

    /// The member's encrypted ACI, serialized as a `UuidCiphertext` (65 bytes).
    pub fn uuid_ciphertext(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(0)
            .point(&self.uid_ciphertext.E_A1)
            .point(&self.uid_ciphertext.E_A2);
        w.finish()
    }

    /// The member's encrypted profile key, serialized as a `ProfileKeyCiphertext` (65 bytes).
    pub fn profile_key_ciphertext(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(0)
            .point(&self.profile_key_ciphertext.E_A1)
            .point(&self.profile_key_ciphertext.E_A2);
        w.finish()
    }
}

impl ServerSecretParams {
    /// Verifies an expiring profile key credential presentation for a group: the proof must
    /// verify against our expiring profile key credential key and the group's keys, and the
    /// credential must not be expired at `now_seconds`.
    pub fn verify_profile_key_credential_presentation(
        &self,
        group_public_params: &GroupPublicParams,
        presentation: &ProfileKeyCredentialPresentation,
        now_seconds: u64,
    ) -> ZkResult<()> {
        let key = &self.expiring_profile_key;
        let (y1, y2, y3, y4, y5) = match key.y.as_slice() {
            [a, b, c, d, e] => (*a, *b, *c, *d, *e),
            _ => return Err(ZkError::InvalidArgument("key shape")),
        };
        let sys = system::legacy();
        let uid_sys = system::uid();
        let pk_sys = system::profile_key_enc();
        let p = presentation;
        let [C_y1, C_y2, C_y3, C_y4, C_y5] = p.C_y;
        let M5 = timestamp_scalar(p.expiration) * sys.G_m[4];
        let Z = p.C_V
            - key.W
            - key.x0 * p.C_x0
            - key.x1 * p.C_x1
            - y1 * C_y1
            - y2 * C_y2
            - y3 * C_y3
            - y4 * C_y4
            - y5 * (C_y5 + M5);
        let Ciphertext { E_A1, E_A2 } = p.uid_ciphertext;
        let Ciphertext {
            E_A1: E_B1,
            E_A2: E_B2,
        } = p.profile_key_ciphertext;

        let mut st = Statement::new();
        st.add("Z", &[("z", "I")])?;
        st.add("C_x1", &[("t", "C_x0"), ("z0", "G_x0"), ("z", "G_x1")])?;
        st.add(
            "A+B",
            &[
                ("a1", "G_a1"),
                ("a2", "G_a2"),
                ("b1", "G_b1"),
                ("b2", "G_b2"),
            ],
        )?;
        st.add("C_y2-E_A2", &[("z", "G_y2"), ("a2", "-E_A1")])?;
        st.add("E_A1", &[("a1", "C_y1"), ("z1", "G_y1")])?;
        st.add("C_y4-E_B2", &[("z", "G_y4"), ("b2", "-E_B1")])?;
        st.add("E_B1", &[("b1", "C_y3"), ("z2", "G_y3")])?;
        st.add("0", &[("z1", "I"), ("a1", "Z")])?;
        st.add("0", &[("z2", "I"), ("b1", "Z")])?;
        st.add("C_y5", &[("z", "G_y5")])?;

        let points: PointArgs = crate::poksho::args(&[
            ("Z", Z),
            ("I", key.I),
            ("C_x1", p.C_x1),
            ("C_x0", p.C_x0),
            ("G_x0", sys.G_x0),
            ("G_x1", sys.G_x1),
            (
                "A+B",
                group_public_params.uid_enc_A + group_public_params.profile_key_enc_A,
            ),
            ("G_a1", uid_sys.G_a1),
            ("G_a2", uid_sys.G_a2),
            ("G_b1", pk_sys.G_b1),
            ("G_b2", pk_sys.G_b2),
            ("C_y2-E_A2", C_y2 - E_A2),
            ("G_y2", sys.G_y[1]),
            ("-E_A1", -E_A1),
            ("E_A1", E_A1),
            ("C_y1", C_y1),
            ("G_y1", sys.G_y[0]),
            ("C_y4-E_B2", C_y4 - E_B2),
            ("G_y4", sys.G_y[3]),
            ("-E_B1", -E_B1),
            ("E_B1", E_B1),
            ("C_y3", C_y3),
            ("G_y3", sys.G_y[2]),
            ("0", curve25519_dalek::traits::Identity::identity()),
            ("C_y5", C_y5),
            ("G_y5", sys.G_y[4]),
        ]);
        st.verify(&p.proof, &points, b"")
            .map_err(|_| ZkError::Verification)?;
        if p.expiration <= now_seconds {
            return Err(ZkError::Verification);
        }
        Ok(())
    }

    /// Convenience: parse both inputs from bytes, then
    /// [`Self::verify_profile_key_credential_presentation`].
    pub fn verify_profile_key_credential_presentation_bytes(
        &self,
        group_public_params: &[u8],
        presentation: &[u8],
        now_seconds: u64,
    ) -> ZkResult<()> {
        let gpp = GroupPublicParams::deserialize(group_public_params)?;
        let p = ProfileKeyCredentialPresentation::deserialize(presentation)?;
        self.verify_profile_key_credential_presentation(&gpp, &p, now_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitment_params_match_published_constants() {
        let s = commitment_system();
        let got: String = [s.G_j1, s.G_j2, s.G_j3]
            .iter()
            .map(|p| hex::encode(p.compress().as_bytes()))
            .collect();
        assert_eq!(
            got,
            "a8ca0bbd1148c466725860640ac53d2772b14eeae0170a38c62c7b3dd29c3e4a\
             14b9462d948f059450799f4cc2a06e55dec807735670b94a5ce80f59f1950861\
             b0c0f7b91f6ef9c7556093d8930a86bd36188cec740554657d92dcd86aad251c"
        );
    }
}
