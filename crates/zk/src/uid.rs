//! Service-id attributes ("UidStruct"): the two points `M1` (hash of the binary service id) and
//! `M2` (Lizard encoding of the raw UUID), and UID encryption (`E_A1 = a1*M1`,
//! `E_A2 = a2*E_A1 + M2`).

#![allow(non_snake_case)]

use std::sync::OnceLock;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use heliograph_types::ServiceId;
use sha2::{Digest, Sha256};

use crate::sho::{Sho, ShoHmacSha256};

/// Single Elligator map ("ristretto flavour") of a field element given as 32 bytes (top bit
/// ignored). curve25519-dalek only exposes the sum of two maps (`from_uniform_bytes`), so we
/// subtract the (constant) image of zero, obtained by halving the sum of two zero maps.
fn elligator_single(fe_bytes: &[u8; 32]) -> RistrettoPoint {
    static MAP_OF_ZERO: OnceLock<RistrettoPoint> = OnceLock::new();
    let zero = MAP_OF_ZERO.get_or_init(|| {
        RistrettoPoint::from_uniform_bytes(&[0u8; 64]) * Scalar::from(2u8).invert()
    });
    let mut wide = [0u8; 64];
    wide[..32].copy_from_slice(fe_bytes);
    RistrettoPoint::from_uniform_bytes(&wide) - zero
}

/// Lizard encoding of 16 bytes to a point (SHA-256 flavour): the digest of the data, with the
/// data written over bytes 8..24, low bit and top two bits cleared, mapped with one Elligator.
pub(crate) fn lizard_encode(data: &[u8; 16]) -> RistrettoPoint {
    let mut fe: [u8; 32] = Sha256::digest(data).into();
    fe[8..24].copy_from_slice(data);
    fe[0] &= 254;
    fe[31] &= 63;
    elligator_single(&fe)
}

/// The two attribute points of a service id.
#[derive(Clone, Copy)]
pub(crate) struct UidPoints {
    pub(crate) M1: RistrettoPoint,
    pub(crate) M2: RistrettoPoint,
}

/// `M1` of a service id: SHO seeded with the UID label, absorbing its binary form.
pub(crate) fn calc_m1(service_id: &ServiceId) -> RistrettoPoint {
    let mut sho = ShoHmacSha256::new(b"Signal_ZKGroup_20200424_UID_CalcM1");
    sho.absorb_and_ratchet(&service_id.to_binary());
    sho.get_point()
}

impl UidPoints {
    pub(crate) fn from_service_id(service_id: &ServiceId) -> Self {
        Self {
            M1: calc_m1(service_id),
            M2: lizard_encode(service_id.uuid().as_bytes()),
        }
    }
}
