//! `Range: bytes=…` requests (RFC 9110 §14): one range per request, as attachment downloads
//! use; several ranges are answered with the whole object, which the RFC allows.

use std::ops::Range;

/// What a `Range` header asks of an object of a known size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send everything with 200.
    Full,
    /// Send these bytes with 206.
    Partial(Range<u64>),
    /// The range lies outside the object: 416.
    Unsatisfiable,
}

/// Interprets the `Range` header value `header` for an object of `size` bytes. Headers that
/// are not byte ranges, or are malformed, are ignored (200), as the RFC says.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(header) = header else {
        return RangeRequest::Full;
    };
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if start.is_empty() {
        // Suffix range: the last N bytes.
        if !digits(end) {
            return RangeRequest::Full;
        }
        let Ok(n) = end.parse::<u64>() else {
            return RangeRequest::Full;
        };
        if n == 0 || size == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Partial(size.saturating_sub(n)..size);
    }
    if !digits(start) || !(end.is_empty() || digits(end)) {
        return RangeRequest::Full;
    }
    let Ok(first) = start.parse::<u64>() else {
        return RangeRequest::Unsatisfiable;
    };
    let last = if end.is_empty() {
        u64::MAX
    } else {
        end.parse::<u64>().unwrap_or(u64::MAX)
    };
    if last < first {
        return RangeRequest::Full;
    }
    if first >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(first..last.saturating_add(1).min(size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn byte_ranges() {
        assert_eq!(parse_range(None, 10), Full);
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Partial(0..5));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Partial(5..10));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Partial(7..10));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Partial(0..10));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Partial(8..10));
        assert_eq!(parse_range(Some("bytes=9-9"), 10), Partial(9..10));
        assert_eq!(parse_range(Some(" bytes= 2 - 3 "), 10), Partial(2..4));
        assert_eq!(
            parse_range(Some("bytes=0-99999999999999999999999"), 10),
            Partial(0..10)
        );
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=10-20"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
    }

    #[test]
    fn ignored_ranges() {
        for h in [
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=-",
            "bytes=1",
            "bytes=+1-2",
            "",
        ] {
            assert_eq!(parse_range(Some(h), 10), Full, "{h:?}");
        }
    }

    #[test]
    fn never_panics_and_stays_inside_the_object() {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let alphabet = b"bytes=-,0123456789 x";
        for _ in 0..20_000 {
            let len = rng.gen_range(0..16);
            let h: String = (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
                .collect();
            let size = rng.gen_range(0..50u64);
            if let Partial(r) = parse_range(Some(&h), size) {
                assert!(r.start < r.end && r.end <= size, "{h:?} {size} {r:?}");
            }
        }
    }
}
