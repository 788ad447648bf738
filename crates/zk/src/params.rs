//! Server secret and public parameters, in libsignal's `ServerSecretParams` /
//! `ServerPublicParams` serialization (2721 and 673 bytes), and the server's notary signature.
//!
//! Layout of the secret params: a reserved `0` byte, then the key pairs of the legacy auth,
//! profile key, signature, receipt, PNI, expiring profile key and auth-with-PNI credentials, the
//! zkcredential ("generic") credential private key and the endorsement root scalar. The public
//! params hold the matching public keys in the same order.

#![allow(non_snake_case)]

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use crate::error::{ZkError, ZkResult};
use crate::sho::{Sho, ShoHmacSha256};
use crate::system;
use crate::wire::{Reader, Writer};
use crate::{poksho, RANDOMNESS_LEN};

/// Serialized length of [`ServerSecretParams`].
pub const SERVER_SECRET_PARAMS_LEN: usize = 2721;
/// Serialized length of [`ServerPublicParams`].
pub const SERVER_PUBLIC_PARAMS_LEN: usize = 673;
/// Length of a notary signature.
pub const SIGNATURE_LEN: usize = 64;

/// Key pair of a legacy zkgroup credential (MAC over up to six attributes).
#[derive(Clone)]
pub(crate) struct LegacyKeyPair {
    pub(crate) w: Scalar,
    pub(crate) wprime: Scalar,
    pub(crate) W: RistrettoPoint,
    pub(crate) x0: Scalar,
    pub(crate) x1: Scalar,
    /// `y1..yn` (index 0 is `y1`).
    pub(crate) y: Vec<Scalar>,
    pub(crate) C_W: RistrettoPoint,
    pub(crate) I: RistrettoPoint,
}

impl LegacyKeyPair {
    /// `storage` scalars are generated and stored; only the first `used` enter `I`.
    fn generate(sho: &mut ShoHmacSha256, storage: usize, used: usize) -> Self {
        let sys = system::legacy();
        let w = sho.get_scalar();
        let W = w * sys.G_w;
        let wprime = sho.get_scalar();
        let x0 = sho.get_scalar();
        let x1 = sho.get_scalar();
        let y: Vec<Scalar> = (0..storage).map(|_| sho.get_scalar()).collect();
        let C_W = W + wprime * sys.G_wprime;
        let mut I = sys.G_V - x0 * sys.G_x0 - x1 * sys.G_x1;
        for (yn, G_yn) in y.iter().zip(sys.G_y.iter()).take(used) {
            I -= yn * G_yn;
        }
        Self {
            w,
            wprime,
            W,
            x0,
            x1,
            y,
            C_W,
            I,
        }
    }

    fn write(&self, w: &mut Writer) {
        w.scalar(&self.w)
            .scalar(&self.wprime)
            .point(&self.W)
            .scalar(&self.x0)
            .scalar(&self.x1);
        for y in &self.y {
            w.scalar(y);
        }
        w.point(&self.C_W).point(&self.I);
    }

    fn read(r: &mut Reader<'_>, storage: usize) -> ZkResult<Self> {
        let w = r.scalar()?;
        let wprime = r.scalar()?;
        let W = r.point()?;
        let x0 = r.scalar()?;
        let x1 = r.scalar()?;
        let y = (0..storage)
            .map(|_| r.scalar())
            .collect::<ZkResult<Vec<_>>>()?;
        let C_W = r.point()?;
        let I = r.point()?;
        Ok(Self {
            w,
            wprime,
            W,
            x0,
            x1,
            y,
            C_W,
            I,
        })
    }
}

impl Drop for LegacyKeyPair {
    fn drop(&mut self) {
        self.w.zeroize();
        self.wprime.zeroize();
        self.x0.zeroize();
        self.x1.zeroize();
        self.y.zeroize();
    }
}

/// zkcredential credential key pair (legacy compatibility mode: `y0` used as is).
#[derive(Clone)]
pub(crate) struct GenericKeyPair {
    pub(crate) w: Scalar,
    pub(crate) wprime: Scalar,
    pub(crate) W: RistrettoPoint,
    pub(crate) x0: Scalar,
    pub(crate) x1: Scalar,
    pub(crate) y: [Scalar; 7],
    pub(crate) C_W: RistrettoPoint,
    /// `I` for credentials with 2..=7 attribute points, at index `n - 2`.
    pub(crate) I: [RistrettoPoint; 6],
}

impl GenericKeyPair {
    fn from_private(
        w: Scalar,
        wprime: Scalar,
        W: RistrettoPoint,
        x0: Scalar,
        x1: Scalar,
        y: [Scalar; 7],
    ) -> Self {
        let sys = system::generic();
        let C_W = W + wprime * sys.G_wprime;
        let mut partial = sys.G_V - x0 * sys.G_x0 - x1 * sys.G_x1;
        let I = std::array::from_fn(|k| {
            partial -= y[k + 1] * sys.G_y[k + 1];
            partial - y[0] * sys.G_y[0]
        });
        Self {
            w,
            wprime,
            W,
            x0,
            x1,
            y,
            C_W,
            I,
        }
    }

    fn generate(randomness: &[u8; RANDOMNESS_LEN]) -> Self {
        let mut sho = ShoHmacSha256::with_data(
            b"Signal_ZKCredential_CredentialPrivateKey_generate_20230410",
            randomness,
        );
        let w = sho.get_scalar();
        let W = w * system::generic().G_w;
        let wprime = sho.get_scalar();
        let x0 = sho.get_scalar();
        let x1 = sho.get_scalar();
        let y = std::array::from_fn(|_| sho.get_scalar());
        Self::from_private(w, wprime, W, x0, x1, y)
    }

    /// `I` for a credential with `n` attribute points (2..=7).
    pub(crate) fn i_for(&self, n: usize) -> ZkResult<RistrettoPoint> {
        n.checked_sub(2)
            .and_then(|k| self.I.get(k))
            .copied()
            .ok_or(ZkError::InvalidArgument("attribute count"))
    }
}

impl Drop for GenericKeyPair {
    fn drop(&mut self) {
        self.w.zeroize();
        self.wprime.zeroize();
        self.x0.zeroize();
        self.x1.zeroize();
        self.y.zeroize();
    }
}

/// Endorsement root key: scalar `sk`, public `PK = sk*G`.
#[derive(Clone)]
pub(crate) struct RootKeyPair {
    pub(crate) sk: Scalar,
    pub(crate) PK: RistrettoPoint,
}

impl RootKeyPair {
    fn from_scalar(sk: Scalar) -> Self {
        Self {
            sk,
            PK: RistrettoPoint::mul_base(&sk),
        }
    }
}

impl Drop for RootKeyPair {
    fn drop(&mut self) {
        self.sk.zeroize();
    }
}

/// Notary signature key pair.
#[derive(Clone)]
pub(crate) struct SigKeyPair {
    pub(crate) sk: Scalar,
    pub(crate) pk: RistrettoPoint,
}

impl Drop for SigKeyPair {
    fn drop(&mut self) {
        self.sk.zeroize();
    }
}

/// The server's zkgroup master secret. Serialized exactly as libsignal's `ServerSecretParams`.
#[derive(Clone)]
pub struct ServerSecretParams {
    auth: LegacyKeyPair,
    profile_key: LegacyKeyPair,
    sig: SigKeyPair,
    receipt: LegacyKeyPair,
    pni: LegacyKeyPair,
    pub(crate) expiring_profile_key: LegacyKeyPair,
    auth_with_pni: LegacyKeyPair,
    pub(crate) generic: GenericKeyPair,
    pub(crate) endorsement: RootKeyPair,
}

impl std::fmt::Debug for ServerSecretParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecretParams(<redacted>)")
    }
}

// (storage scalars, attributes used in I) of the legacy key pairs, in serialization order.
const AUTH_Y: (usize, usize) = (4, 3);
const PROFILE_KEY_Y: (usize, usize) = (4, 4);
const RECEIPT_Y: (usize, usize) = (4, 2);
const PNI_Y: (usize, usize) = (6, 6);
const EXPIRING_PROFILE_KEY_Y: (usize, usize) = (5, 5);
const AUTH_WITH_PNI_Y: (usize, usize) = (5, 5);

impl ServerSecretParams {
    /// Generates fresh parameters from a cryptographic RNG.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut randomness = [0u8; RANDOMNESS_LEN];
        rng.fill_bytes(&mut randomness);
        let params = Self::generate_deterministic(&randomness);
        randomness.zeroize();
        params
    }

    /// Generates parameters from 32 bytes of randomness, exactly as libsignal's
    /// `ServerSecretParams::generate(randomness)` does (same bytes for the same input).
    pub fn generate_deterministic(randomness: &[u8; RANDOMNESS_LEN]) -> Self {
        let mut sho = ShoHmacSha256::with_data(
            b"Signal_ZKGroup_20200424_Random_ServerSecretParams_Generate",
            randomness,
        );
        let auth = LegacyKeyPair::generate(&mut sho, AUTH_Y.0, AUTH_Y.1);
        let profile_key = LegacyKeyPair::generate(&mut sho, PROFILE_KEY_Y.0, PROFILE_KEY_Y.1);
        let sig_sk = sho.get_scalar();
        let sig = SigKeyPair {
            sk: sig_sk,
            pk: sig_sk * RISTRETTO_BASEPOINT_POINT,
        };
        let receipt = LegacyKeyPair::generate(&mut sho, RECEIPT_Y.0, RECEIPT_Y.1);
        let pni = LegacyKeyPair::generate(&mut sho, PNI_Y.0, PNI_Y.1);
        let expiring_profile_key =
            LegacyKeyPair::generate(&mut sho, EXPIRING_PROFILE_KEY_Y.0, EXPIRING_PROFILE_KEY_Y.1);
        let auth_with_pni = LegacyKeyPair::generate(&mut sho, AUTH_WITH_PNI_Y.0, AUTH_WITH_PNI_Y.1);
        let generic = GenericKeyPair::generate(randomness);
        let mut root_sho = ShoHmacSha256::with_data(
            b"Signal_ZKCredential_Endorsements_ServerRootKeyPair_generate_20240207",
            randomness,
        );
        let endorsement = RootKeyPair::from_scalar(root_sho.get_scalar());
        Self {
            auth,
            profile_key,
            sig,
            receipt,
            pni,
            expiring_profile_key,
            auth_with_pni,
            generic,
            endorsement,
        }
    }

    /// libsignal's serialization (2721 bytes). The result holds secrets.
    pub fn serialize(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(0);
        self.auth.write(&mut w);
        self.profile_key.write(&mut w);
        w.scalar(&self.sig.sk).point(&self.sig.pk);
        self.receipt.write(&mut w);
        self.pni.write(&mut w);
        self.expiring_profile_key.write(&mut w);
        self.auth_with_pni.write(&mut w);
        let g = &self.generic;
        w.scalar(&g.w)
            .scalar(&g.wprime)
            .point(&g.W)
            .scalar(&g.x0)
            .scalar(&g.x1);
        for y in &g.y {
            w.scalar(y);
        }
        w.scalar(&self.endorsement.sk);
        w.finish()
    }

    /// Parses libsignal's serialization; rejects anything malformed.
    pub fn deserialize(bytes: &[u8]) -> ZkResult<Self> {
        let mut r = Reader::new(bytes, "ServerSecretParams");
        r.expect_u8(0)?;
        let auth = LegacyKeyPair::read(&mut r, AUTH_Y.0)?;
        let profile_key = LegacyKeyPair::read(&mut r, PROFILE_KEY_Y.0)?;
        let sig = SigKeyPair {
            sk: r.scalar()?,
            pk: r.point()?,
        };
        let receipt = LegacyKeyPair::read(&mut r, RECEIPT_Y.0)?;
        let pni = LegacyKeyPair::read(&mut r, PNI_Y.0)?;
        let expiring_profile_key = LegacyKeyPair::read(&mut r, EXPIRING_PROFILE_KEY_Y.0)?;
        let auth_with_pni = LegacyKeyPair::read(&mut r, AUTH_WITH_PNI_Y.0)?;
        let w = r.scalar()?;
        let wprime = r.scalar()?;
        let W = r.point()?;
        let x0 = r.scalar()?;
        let x1 = r.scalar()?;
        let mut y = [Scalar::ZERO; 7];
        for yi in &mut y {
            *yi = r.scalar()?;
        }
        let generic = GenericKeyPair::from_private(w, wprime, W, x0, x1, y);
        let endorsement = RootKeyPair::from_scalar(r.scalar()?);
        r.finish()?;
        Ok(Self {
            auth,
            profile_key,
            sig,
            receipt,
            pni,
            expiring_profile_key,
            auth_with_pni,
            generic,
            endorsement,
        })
    }

    /// The matching public parameters.
    pub fn get_public_params(&self) -> ServerPublicParams {
        let pair = |k: &LegacyKeyPair| (k.C_W, k.I);
        ServerPublicParams {
            auth: pair(&self.auth),
            profile_key: pair(&self.profile_key),
            sig: self.sig.pk,
            receipt: pair(&self.receipt),
            pni: pair(&self.pni),
            expiring_profile_key: pair(&self.expiring_profile_key),
            auth_with_pni: pair(&self.auth_with_pni),
            generic_C_W: self.generic.C_W,
            generic_I: self.generic.I,
            endorsement_PK: self.endorsement.PK,
        }
    }

    /// Notary signature over `message` (64 bytes), verifiable by libsignal's
    /// `ServerPublicParams.verifySignature`.
    pub fn sign<R: RngCore + CryptoRng>(&self, rng: &mut R, message: &[u8]) -> ZkResult<[u8; 64]> {
        let mut randomness = [0u8; RANDOMNESS_LEN];
        rng.fill_bytes(&mut randomness);
        let sig = self.sign_deterministic(&randomness, message);
        randomness.zeroize();
        sig
    }

    /// [`Self::sign`] with explicit randomness (libsignal-compatible output).
    pub fn sign_deterministic(
        &self,
        randomness: &[u8; RANDOMNESS_LEN],
        message: &[u8],
    ) -> ZkResult<[u8; 64]> {
        let mut sho = ShoHmacSha256::with_data(
            b"Signal_ZKGroup_20200424_Random_ServerSecretParams_Sign",
            randomness,
        );
        let nonce_seed: [u8; 32] = sho.squeeze_array();
        let sig = poksho::sign(&self.sig.sk, &self.sig.pk, message, &nonce_seed)?;
        let mut out = [0u8; 64];
        if sig.len() != out.len() {
            return Err(ZkError::ProofCreation);
        }
        out.copy_from_slice(&sig);
        Ok(out)
    }
}

/// Public counterpart of [`ServerSecretParams`], serialized as libsignal's `ServerPublicParams`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ServerPublicParams {
    auth: (RistrettoPoint, RistrettoPoint),
    profile_key: (RistrettoPoint, RistrettoPoint),
    sig: RistrettoPoint,
    receipt: (RistrettoPoint, RistrettoPoint),
    pni: (RistrettoPoint, RistrettoPoint),
    expiring_profile_key: (RistrettoPoint, RistrettoPoint),
    auth_with_pni: (RistrettoPoint, RistrettoPoint),
    generic_C_W: RistrettoPoint,
    generic_I: [RistrettoPoint; 6],
    endorsement_PK: RistrettoPoint,
}

impl ServerPublicParams {
    /// libsignal's serialization (673 bytes).
    pub fn serialize(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(0);
        for (c, ii) in [self.auth, self.profile_key] {
            w.point(&c).point(&ii);
        }
        w.point(&self.sig);
        for (c, ii) in [
            self.receipt,
            self.pni,
            self.expiring_profile_key,
            self.auth_with_pni,
        ] {
            w.point(&c).point(&ii);
        }
        w.point(&self.generic_C_W);
        for i in &self.generic_I {
            w.point(i);
        }
        w.point(&self.endorsement_PK);
        w.finish()
    }

    /// Parses libsignal's serialization.
    pub fn deserialize(bytes: &[u8]) -> ZkResult<Self> {
        let mut r = Reader::new(bytes, "ServerPublicParams");
        r.expect_u8(0)?;
        let pair = |r: &mut Reader<'_>| -> ZkResult<(RistrettoPoint, RistrettoPoint)> {
            Ok((r.point()?, r.point()?))
        };
        let auth = pair(&mut r)?;
        let profile_key = pair(&mut r)?;
        let sig = r.point()?;
        let receipt = pair(&mut r)?;
        let pni = pair(&mut r)?;
        let expiring_profile_key = pair(&mut r)?;
        let auth_with_pni = pair(&mut r)?;
        let generic_C_W = r.point()?;
        let mut generic_I = [RISTRETTO_BASEPOINT_POINT; 6];
        for i in &mut generic_I {
            *i = r.point()?;
        }
        let endorsement_PK = r.point()?;
        r.finish()?;
        Ok(Self {
            auth,
            profile_key,
            sig,
            receipt,
            pni,
            expiring_profile_key,
            auth_with_pni,
            generic_C_W,
            generic_I,
            endorsement_PK,
        })
    }

    /// Verifies a notary signature made with the matching secret params.
    pub fn verify_signature(&self, message: &[u8], signature: &[u8]) -> ZkResult<()> {
        poksho::verify_signature(signature, &self.sig, message)
    }
}
