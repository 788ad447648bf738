//! Opaque message payloads of realistic size that carry what the tool needs to measure:
//! `"HLG1" ‖ seq:u64 ‖ sent_micros:u64 ‖ random fill`. The server never decrypts content, so
//! random bytes cost it what ciphertext would.

use rand::RngCore;

const MAGIC: &[u8; 4] = b"HLG1";
const HEADER: usize = 4 + 8 + 8;
/// Where the marker sits in a multi-recipient recipient's view:
/// `0x22 ‖ c ‖ at (48) ‖ e_pub (32) ‖ message`.
const SSV2_RECEIVED_OFFSET: usize = 1 + 48 + 32;

/// Smallest payload that can carry the marker.
pub const MIN_BYTES: usize = HEADER;

/// A payload of `len` bytes (at least [`MIN_BYTES`]) marked with `seq` and the current time.
pub fn make(len: usize, seq: u64) -> Vec<u8> {
    let mut out = vec![0u8; len.max(HEADER)];
    rand::thread_rng().fill_bytes(&mut out[HEADER..]);
    stamp(&mut out, seq);
    out
}

/// Writes the marker into the first bytes of `buf` (at least [`MIN_BYTES`] long).
pub fn stamp(buf: &mut [u8], seq: u64) {
    if buf.len() < HEADER {
        return;
    }
    buf[..4].copy_from_slice(MAGIC);
    buf[4..12].copy_from_slice(&seq.to_be_bytes());
    buf[12..20].copy_from_slice(&crate::stats::now_micros().to_be_bytes());
}

/// Reads `(seq, sent_micros)` from a delivered 1:1 content or a multi-recipient view.
pub fn read(content: &[u8]) -> Option<(u64, u64)> {
    read_at(content, 0).or_else(|| read_at(content, SSV2_RECEIVED_OFFSET))
}

fn read_at(content: &[u8], at: usize) -> Option<(u64, u64)> {
    let h = content.get(at..at + HEADER)?;
    if &h[..4] != MAGIC {
        return None;
    }
    let seq = u64::from_be_bytes(h[4..12].try_into().ok()?);
    let sent = u64::from_be_bytes(h[12..20].try_into().ok()?);
    Some((seq, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_roundtrip() {
        let p = make(512, 42);
        assert_eq!(p.len(), 512);
        let (seq, sent) = read(&p).unwrap();
        assert_eq!(seq, 42);
        assert!(sent <= crate::stats::now_micros());
        let mut view = vec![0x22];
        view.extend_from_slice(&[7; 80]);
        view.extend_from_slice(&p);
        assert_eq!(read(&view).unwrap().0, 42);
        assert_eq!(read(&[0u8; 10]), None);
        assert_eq!(read(&[1u8; 200]), None);
    }
}
