//! zkcredential's algebraic MAC credentials (legacy compatibility mode, as used by
//! `ServerSecretParams`' generic credential key): issuance with a proof, and verification of
//! presentations whose hidden attributes are encrypted under group keys.

#![allow(non_snake_case)]

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::traits::Identity;
use zeroize::Zeroize;

use crate::error::{ZkError, ZkResult};
use crate::params::GenericKeyPair;
use crate::poksho::{PointArgs, ScalarArgs, Statement};
use crate::sho::{Sho, ShoHmacSha256};
use crate::system;
use crate::wire::{Reader, Writer};
use crate::RANDOMNESS_LEN;

const Y_NAMES: [&str; 7] = ["y0", "y1", "y2", "y3", "y4", "y5", "y6"];
const G_Y_NAMES: [&str; 7] = ["G_y0", "G_y1", "G_y2", "G_y3", "G_y4", "G_y5", "G_y6"];
const M_NAMES: [&str; 7] = ["M0", "M1", "M2", "M3", "M4", "M5", "M6"];

/// Point hashed from the public attributes: SHO over `label`, each attribute absorbed and
/// ratcheted, then squeezed to a point.
pub(crate) fn public_attr_point(label: &[u8], public_attrs: &[&[u8]]) -> RistrettoPoint {
    let mut sho = ShoHmacSha256::new(label);
    for a in public_attrs {
        sho.absorb_and_ratchet(a);
    }
    sho.get_point()
}

/// Issues a credential over `[public point, hidden points...]` and proves it; returns the
/// serialized `IssuanceProof` (credential `t, U, V`, then the length-prefixed poksho proof).
pub(crate) fn issue(
    key: &GenericKeyPair,
    label: &[u8],
    public_attrs: &[&[u8]],
    hidden_points: &[RistrettoPoint],
    randomness: &[u8; RANDOMNESS_LEN],
) -> ZkResult<Vec<u8>> {
    let mut M = Vec::with_capacity(1 + hidden_points.len());
    M.push(public_attr_point(label, public_attrs));
    M.extend_from_slice(hidden_points);
    let n = M.len();
    if !(2..=7).contains(&n) {
        return Err(ZkError::InvalidArgument("attribute count"));
    }
    let sys = system::generic();

    let mut sho = ShoHmacSha256::with_data(b"Signal_ZKCredential_Issuance_20230410", randomness);
    let t = sho.get_scalar();
    let U = sho.get_point();
    let mut V = key.W + (key.x0 + key.x1 * t) * U;
    for (y, m) in key.y.iter().zip(&M) {
        V += y * m;
    }

    let mut st = Statement::new();
    st.add("C_W", &[("w", "G_w"), ("wprime", "G_wprime")])?;
    let mut rhs = vec![("x0", "G_x0"), ("x1", "G_x1")];
    rhs.extend(
        Y_NAMES
            .iter()
            .zip(G_Y_NAMES.iter())
            .take(n)
            .map(|(a, b)| (*a, *b)),
    );
    st.add("G_V-I", &rhs)?;
    let mut rhs = vec![("w", "G_w"), ("x0", "U"), ("x1", "tU")];
    rhs.extend(
        Y_NAMES
            .iter()
            .zip(M_NAMES.iter())
            .take(n)
            .map(|(a, b)| (*a, *b)),
    );
    st.add("V", &rhs)?;

    let mut scalars = ScalarArgs::new();
    scalars.insert("w".into(), key.w);
    scalars.insert("wprime".into(), key.wprime);
    scalars.insert("x0".into(), key.x0);
    scalars.insert("x1".into(), key.x1);
    for (name, y) in Y_NAMES.iter().zip(key.y.iter()).take(n) {
        scalars.insert((*name).into(), *y);
    }

    let mut points = PointArgs::new();
    points.insert("C_W".into(), key.C_W);
    points.insert("G_w".into(), sys.G_w);
    points.insert("G_wprime".into(), sys.G_wprime);
    points.insert("G_V-I".into(), sys.G_V - key.i_for(n)?);
    points.insert("G_x0".into(), sys.G_x0);
    points.insert("G_x1".into(), sys.G_x1);
    for (name, g) in G_Y_NAMES.iter().zip(sys.G_y.iter()).take(n) {
        points.insert((*name).into(), *g);
    }
    points.insert("V".into(), V);
    points.insert("U".into(), U);
    points.insert("tU".into(), t * U);
    for (name, m) in M_NAMES.iter().zip(&M) {
        points.insert((*name).into(), *m);
    }

    let nonce_seed: [u8; 32] = sho.squeeze_array();
    let proof = st.prove(&scalars, &points, b"", &nonce_seed);
    scalars.values_mut().for_each(Zeroize::zeroize);
    let proof = proof?;

    let mut w = Writer::default();
    w.scalar(&t).point(&U).point(&V).byte_vec(&proof);
    Ok(w.finish())
}

/// A hidden attribute as it appears in a presentation: a two-point ciphertext under a
/// group key (`E_A1`, `E_A2`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ciphertext {
    pub(crate) E_A1: RistrettoPoint,
    pub(crate) E_A2: RistrettoPoint,
}

impl Ciphertext {
    pub(crate) fn read(r: &mut Reader<'_>) -> ZkResult<Self> {
        Ok(Self {
            E_A1: r.point()?,
            E_A2: r.point()?,
        })
    }
}

/// Parsed `PresentationProof`: commitments `C_x0, C_x1, C_V, C_y[]` and the poksho proof.
pub(crate) struct PresentationProof {
    C_x0: RistrettoPoint,
    C_x1: RistrettoPoint,
    C_V: RistrettoPoint,
    C_y: Vec<RistrettoPoint>,
    proof: Vec<u8>,
}

impl PresentationProof {
    pub(crate) fn read(r: &mut Reader<'_>) -> ZkResult<Self> {
        Ok(Self {
            C_x0: r.point()?,
            C_x1: r.point()?,
            C_V: r.point()?,
            C_y: r.point_vec()?,
            proof: r.byte_vec()?,
        })
    }
}

/// A group encryption key as known to the verifier: its domain id and public key
/// `A = a1*G_a1 + a2*G_a2`.
pub(crate) struct EncryptionKey {
    pub(crate) id: &'static str,
    pub(crate) G_a1: RistrettoPoint,
    pub(crate) G_a2: RistrettoPoint,
    pub(crate) A: RistrettoPoint,
}

/// Verifies a presentation whose hidden attributes are all ciphertexts under the single key
/// `key` (the shape of zkgroup's auth credential presentations).
pub(crate) fn verify_presentation(
    key_pair: &GenericKeyPair,
    label: &[u8],
    public_attrs: &[&[u8]],
    ciphertexts: &[Ciphertext],
    enc_key: &EncryptionKey,
    proof: &PresentationProof,
) -> ZkResult<()> {
    let sys = system::generic();
    let mut attr_points = vec![public_attr_point(label, public_attrs)];
    for c in ciphertexts {
        attr_points.push(c.E_A1);
        attr_points.push(c.E_A2);
    }
    let n = attr_points.len();
    if n > 7 || proof.C_y.len() != n {
        return Err(ZkError::Verification);
    }

    let C_y = &proof.C_y;
    let mut Z = proof.C_V - key_pair.W - key_pair.x0 * proof.C_x0 - key_pair.x1 * proof.C_x1;
    for (y, c) in key_pair.y.iter().zip(C_y) {
        Z -= y * c;
    }
    Z -= key_pair.y[0] * attr_points[0];
    let I = key_pair.i_for(n)?;

    let id = enc_key.id;
    let a1 = format!("a1_{id}");
    let a2 = format!("a2_{id}");
    let z1 = format!("z1_{id}");
    let g_a1 = format!("G_a1_{id}");
    let g_a2 = format!("G_a2_{id}");

    let mut st = Statement::new();
    st.add("Z", &[("z", "I")])?;
    st.add("C_x1", &[("t", "C_x0"), ("z0", "G_x0"), ("z", "G_x1")])?;
    st.add("0", &[(z1.as_str(), "I"), (a1.as_str(), "Z")])?;
    st.add(
        "sum(A)",
        &[(a1.as_str(), g_a1.as_str()), (a2.as_str(), g_a2.as_str())],
    )?;

    let mut points = PointArgs::new();
    points.insert("I".into(), I);
    points.insert("C_x0".into(), proof.C_x0);
    points.insert("C_x1".into(), proof.C_x1);
    points.insert("G_x0".into(), sys.G_x0);
    points.insert("G_x1".into(), sys.G_x1);
    points.insert("0".into(), RistrettoPoint::identity());
    points.insert(g_a1.clone(), enc_key.G_a1);
    points.insert(g_a2.clone(), enc_key.G_a2);
    if enc_key.A == RistrettoPoint::identity() {
        return Err(ZkError::Verification);
    }
    points.insert("sum(A)".into(), enc_key.A);
    for (name, g) in G_Y_NAMES.iter().zip(sys.G_y.iter()).take(n) {
        points.insert((*name).into(), *g);
    }
    points.insert("C_y0".into(), C_y[0]);

    for k in 0..ciphertexts.len() {
        let f = 1 + 2 * k;
        let s = f + 1;
        let e_a_f = format!("E_A{f}");
        let c_y_f = format!("C_y{f}");
        let g_y_f = format!("G_y{f}");
        let lhs2 = format!("C_y{s}-E_A{s}");
        let g_y_s = format!("G_y{s}");
        let neg = format!("-E_A{f}");
        st.add(
            &e_a_f,
            &[(a1.as_str(), c_y_f.as_str()), (z1.as_str(), g_y_f.as_str())],
        )?;
        st.add(&lhs2, &[("z", g_y_s.as_str()), (a2.as_str(), neg.as_str())])?;
        points.insert(c_y_f, C_y[f]);
        points.insert(e_a_f, attr_points[f]);
        points.insert(neg, -attr_points[f]);
        points.insert(lhs2, C_y[s] - attr_points[s]);
    }
    st.add("C_y0", &[("z", "G_y0")])?;
    points.insert("Z".into(), Z);

    st.verify(&proof.proof, &points, b"")
        .map_err(|_| ZkError::Verification)
}
