//! Group public parameters as sent by clients (`GroupPublicParams`, 97 bytes): reserved byte,
//! group identifier, UID encryption public key, profile key encryption public key.

#![allow(non_snake_case)]

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::error::ZkResult;
use crate::wire::{Reader, Writer};

/// Serialized length of [`GroupPublicParams`].
pub const GROUP_PUBLIC_PARAMS_LEN: usize = 97;

/// A group's public parameters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct GroupPublicParams {
    group_id: [u8; 32],
    pub(crate) uid_enc_A: RistrettoPoint,
    pub(crate) profile_key_enc_A: RistrettoPoint,
}

impl GroupPublicParams {
    /// Parses libsignal's serialization.
    pub fn deserialize(bytes: &[u8]) -> ZkResult<Self> {
        let mut r = Reader::new(bytes, "GroupPublicParams");
        r.expect_u8(0)?;
        let mut group_id = [0u8; 32];
        for b in &mut group_id {
            *b = r.u8()?;
        }
        let uid_enc_A = r.point()?;
        let profile_key_enc_A = r.point()?;
        r.finish()?;
        Ok(Self {
            group_id,
            uid_enc_A,
            profile_key_enc_A,
        })
    }

    /// libsignal's serialization.
    pub fn serialize(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(0);
        for b in self.group_id {
            w.u8(b);
        }
        w.point(&self.uid_enc_A).point(&self.profile_key_enc_A);
        w.finish()
    }

    /// The 32-byte group identifier.
    pub fn group_id(&self) -> [u8; 32] {
        self.group_id
    }
}
