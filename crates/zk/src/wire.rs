//! Byte-level encoding used by zkgroup (libsignal serializes its structs with bincode in
//! fixed-int, little-endian mode): scalars and points are 32 raw bytes, `u64` is 8 bytes little
//! endian, variable-length sequences are prefixed by their element count as a `u64`.
//! Readers reject non-canonical scalars, invalid points and trailing bytes.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;

use crate::error::{ZkError, ZkResult};

/// Appends zkgroup encodings to a buffer.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn scalar(&mut self, s: &Scalar) -> &mut Self {
        self.buf.extend_from_slice(s.as_bytes());
        self
    }
    pub(crate) fn point(&mut self, p: &RistrettoPoint) -> &mut Self {
        self.buf.extend_from_slice(p.compress().as_bytes());
        self
    }
    pub(crate) fn compressed(&mut self, p: &CompressedRistretto) -> &mut Self {
        self.buf.extend_from_slice(p.as_bytes());
        self
    }
    pub(crate) fn byte_vec(&mut self, bytes: &[u8]) -> &mut Self {
        self.u64(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
        self
    }
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// Reads zkgroup encodings from a slice; every error names the structure being decoded.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { rest: bytes, what }
    }

    fn err(&self) -> ZkError {
        ZkError::Deserialization(self.what)
    }

    fn take(&mut self, n: usize) -> ZkResult<&'a [u8]> {
        if self.rest.len() < n {
            return Err(self.err());
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn take32(&mut self) -> ZkResult<[u8; 32]> {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.take(32)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> ZkResult<u8> {
        Ok(self.take(1)?[0])
    }

    /// Reads one byte and requires it to equal `expected` (version or reserved byte).
    pub(crate) fn expect_u8(&mut self, expected: u8) -> ZkResult<()> {
        if self.u8()? == expected {
            Ok(())
        } else {
            Err(self.err())
        }
    }

    pub(crate) fn u64(&mut self) -> ZkResult<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    pub(crate) fn scalar(&mut self) -> ZkResult<Scalar> {
        let bytes = self.take32()?;
        Option::from(Scalar::from_canonical_bytes(bytes)).ok_or_else(|| self.err())
    }

    pub(crate) fn point(&mut self) -> ZkResult<RistrettoPoint> {
        self.compressed()?.decompress().ok_or_else(|| self.err())
    }

    pub(crate) fn compressed(&mut self) -> ZkResult<CompressedRistretto> {
        Ok(CompressedRistretto(self.take32()?))
    }

    /// A `u64` element count, checked against the bytes left (`elem_size` bytes per element).
    pub(crate) fn count(&mut self, elem_size: usize) -> ZkResult<usize> {
        let n = self.u64()?;
        let n = usize::try_from(n).map_err(|_| self.err())?;
        match n.checked_mul(elem_size) {
            Some(total) if total <= self.rest.len() => Ok(n),
            _ => Err(self.err()),
        }
    }

    pub(crate) fn byte_vec(&mut self) -> ZkResult<Vec<u8>> {
        let n = self.count(1)?;
        Ok(self.take(n)?.to_vec())
    }

    pub(crate) fn point_vec(&mut self) -> ZkResult<Vec<RistrettoPoint>> {
        let n = self.count(32)?;
        (0..n).map(|_| self.point()).collect()
    }

    /// Succeeds only if every byte was consumed.
    pub(crate) fn finish(self) -> ZkResult<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.err())
        }
    }
}
