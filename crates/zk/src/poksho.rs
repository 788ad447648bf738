//! Fiat-Shamir Schnorr proofs of knowledge for linear relations over Ristretto ("poksho").
//!
//! A [`Statement`] is a system `P_i = sum_j s_ij * Q_ij` over named points and scalars. Names get
//! indices in order of first appearance; point index 0 is the base point, named `G`. The proof is
//! the challenge followed by one response scalar per witness scalar, 32 bytes each. Hash inputs
//! (label `POKSHO_Ristretto_SHOHMACSHA256`, statement description, point values, synthetic nonce
//! from randomness + witness + message) follow the published poksho description so proofs
//! interoperate with libsignal.

use std::collections::HashMap;

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::MultiscalarMul;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::error::{ZkError, ZkResult};
use crate::sho::{Sho, ShoHmacSha256};

const LABEL: &[u8] = b"POKSHO_Ristretto_SHOHMACSHA256";

/// Named scalar values (the witness).
pub(crate) type ScalarArgs = HashMap<String, Scalar>;
/// Named point values.
pub(crate) type PointArgs = HashMap<String, RistrettoPoint>;

struct Equation {
    lhs: u8,
    terms: Vec<(u8, u8)>,
}

/// A system of linear equations over named scalars and points.
pub(crate) struct Statement {
    equations: Vec<Equation>,
    scalars: Vec<String>,
    points: Vec<String>,
}

fn index_of(names: &mut Vec<String>, name: &str) -> ZkResult<u8> {
    if let Some(i) = names.iter().position(|n| n == name) {
        return u8::try_from(i).map_err(|_| ZkError::InvalidArgument("statement too large"));
    }
    let i =
        u8::try_from(names.len()).map_err(|_| ZkError::InvalidArgument("statement too large"))?;
    names.push(name.to_owned());
    Ok(i)
}

impl Statement {
    pub(crate) fn new() -> Self {
        Self {
            equations: Vec::new(),
            scalars: Vec::new(),
            points: vec!["G".to_owned()],
        }
    }

    /// Adds `lhs = sum(scalar * point)`.
    pub(crate) fn add(&mut self, lhs: &str, terms: &[(&str, &str)]) -> ZkResult<()> {
        if terms.is_empty() || terms.len() > 255 || self.equations.len() >= 255 {
            return Err(ZkError::InvalidArgument("statement shape"));
        }
        let lhs = index_of(&mut self.points, lhs)?;
        let mut out = Vec::with_capacity(terms.len());
        for (s, p) in terms {
            let s = index_of(&mut self.scalars, s)?;
            let p = index_of(&mut self.points, p)?;
            out.push((s, p));
        }
        self.equations.push(Equation { lhs, terms: out });
        Ok(())
    }

    fn description(&self) -> Vec<u8> {
        let mut d = vec![self.equations.len() as u8];
        for e in &self.equations {
            d.push(e.lhs);
            d.push(e.terms.len() as u8);
            for (s, p) in &e.terms {
                d.push(*s);
                d.push(*p);
            }
        }
        d
    }

    fn point_values(&self, args: &PointArgs) -> ZkResult<Vec<RistrettoPoint>> {
        if args.len() != self.points.len() - 1 {
            return Err(ZkError::InvalidArgument("wrong number of point arguments"));
        }
        let mut out = Vec::with_capacity(self.points.len());
        out.push(RISTRETTO_BASEPOINT_POINT);
        for name in &self.points[1..] {
            out.push(
                *args
                    .get(name)
                    .ok_or(ZkError::InvalidArgument("missing point argument"))?,
            );
        }
        Ok(out)
    }

    fn base_sho(&self, points: &[RistrettoPoint]) -> ShoHmacSha256 {
        let mut sho = ShoHmacSha256::new(LABEL);
        sho.absorb(&self.description());
        for p in points {
            sho.absorb(p.compress().as_bytes());
        }
        sho.ratchet();
        sho
    }

    /// Applies the homomorphism to `g1`; with a challenge, also subtracts `h * lhs`.
    fn apply(
        &self,
        g1: &[Scalar],
        points: &[RistrettoPoint],
        challenge: Option<&Scalar>,
    ) -> Vec<RistrettoPoint> {
        self.equations
            .iter()
            .map(|e| {
                let mut scalars: Vec<Scalar> =
                    e.terms.iter().map(|(s, _)| g1[*s as usize]).collect();
                let mut pts: Vec<RistrettoPoint> =
                    e.terms.iter().map(|(_, p)| points[*p as usize]).collect();
                if let Some(h) = challenge {
                    scalars.push(-h);
                    pts.push(points[e.lhs as usize]);
                }
                let r = RistrettoPoint::multiscalar_mul(&scalars, &pts);
                scalars.zeroize();
                r
            })
            .collect()
    }

    fn challenge(mut sho: ShoHmacSha256, commitment: &[RistrettoPoint], message: &[u8]) -> Scalar {
        for p in commitment {
            sho.absorb(p.compress().as_bytes());
        }
        sho.absorb_and_ratchet(message);
        sho.get_scalar()
    }

    /// Produces a proof (challenge || responses) and checks it before returning it.
    pub(crate) fn prove(
        &self,
        scalar_args: &ScalarArgs,
        point_args: &PointArgs,
        message: &[u8],
        randomness: &[u8; 32],
    ) -> ZkResult<Vec<u8>> {
        if scalar_args.len() != self.scalars.len() {
            return Err(ZkError::InvalidArgument("wrong number of scalar arguments"));
        }
        let mut witness = Vec::with_capacity(self.scalars.len());
        for name in &self.scalars {
            witness.push(
                *scalar_args
                    .get(name)
                    .ok_or(ZkError::InvalidArgument("missing scalar argument"))?,
            );
        }
        let points = self.point_values(point_args)?;
        let sho = self.base_sho(&points);

        // Synthetic nonce: randomness, witness and message.
        let mut nonce_sho = sho.clone();
        nonce_sho.absorb(randomness);
        for s in &witness {
            nonce_sho.absorb(s.as_bytes());
        }
        nonce_sho.ratchet();
        nonce_sho.absorb_and_ratchet(message);
        let mut nonce_bytes = vec![0u8; witness.len() * 64];
        nonce_sho.squeeze_into(&mut nonce_bytes);
        let mut nonce: Vec<Scalar> = nonce_bytes
            .chunks_exact(64)
            .map(|c| {
                let mut wide = [0u8; 64];
                wide.copy_from_slice(c);
                let s = Scalar::from_bytes_mod_order_wide(&wide);
                wide.zeroize();
                s
            })
            .collect();
        nonce_bytes.zeroize();

        let commitment = self.apply(&nonce, &points, None);
        let challenge = Self::challenge(sho, &commitment, message);

        let mut proof = Vec::with_capacity(32 * (1 + witness.len()));
        proof.extend_from_slice(challenge.as_bytes());
        for (r, a) in nonce.iter().zip(&witness) {
            proof.extend_from_slice((r + a * challenge).as_bytes());
        }
        nonce.zeroize();
        witness.zeroize();

        self.verify(&proof, point_args, message)
            .map_err(|_| ZkError::ProofCreation)?;
        Ok(proof)
    }

    /// Checks a proof against the point values and message.
    pub(crate) fn verify(
        &self,
        proof: &[u8],
        point_args: &PointArgs,
        message: &[u8],
    ) -> ZkResult<()> {
        if proof.len() != 32 * (1 + self.scalars.len()) {
            return Err(ZkError::Verification);
        }
        let mut scalars = Vec::with_capacity(1 + self.scalars.len());
        for chunk in proof.chunks_exact(32) {
            let mut b = [0u8; 32];
            b.copy_from_slice(chunk);
            let s: Option<Scalar> = Scalar::from_canonical_bytes(b).into();
            scalars.push(s.ok_or(ZkError::Verification)?);
        }
        let (challenge, response) = scalars.split_at(1);
        let challenge = challenge[0];
        let points = self.point_values(point_args)?;
        let sho = self.base_sho(&points);
        let commitment = self.apply(response, &points, Some(&challenge));
        let expected = Self::challenge(sho, &commitment, message);
        if bool::from(expected.ct_eq(&challenge)) {
            Ok(())
        } else {
            Err(ZkError::Verification)
        }
    }
}

/// Builds argument maps from `(&str, value)` pairs.
pub(crate) fn args<T: Copy>(pairs: &[(&str, T)]) -> HashMap<String, T> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn signature_statement() -> ZkResult<Statement> {
    let mut st = Statement::new();
    st.add("public_key", &[("private_key", "G")])?;
    Ok(st)
}

/// A 64-byte Schnorr signature in poksho form.
pub(crate) fn sign(
    private_key: &Scalar,
    public_key: &RistrettoPoint,
    message: &[u8],
    randomness: &[u8; 32],
) -> ZkResult<Vec<u8>> {
    let mut scalars = args(&[("private_key", *private_key)]);
    let sig = signature_statement()?.prove(
        &scalars,
        &args(&[("public_key", *public_key)]),
        message,
        randomness,
    );
    scalars.values_mut().for_each(Zeroize::zeroize);
    sig
}

/// Verifies a signature made by [`sign`].
pub(crate) fn verify_signature(
    signature: &[u8],
    public_key: &RistrettoPoint,
    message: &[u8],
) -> ZkResult<()> {
    signature_statement()?.verify(signature, &args(&[("public_key", *public_key)]), message)
}
