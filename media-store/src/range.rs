//! `Range` requests ([RFC 9110 §14](https://www.rfc-editor.org/rfc/rfc9110#section-14)):
//! parsing the header and resolving it against a length. No I/O.

/// The most range-specs a `Range` header may hold; a header with more is ignored (the whole
/// file is sent), as a client asking for hundreds of pieces of one file is most likely trying
/// to make the server work (the "Apache killer" request).
pub const MAX_RANGE_SPECS: usize = 64;

/// The most parts of a `multipart/byteranges` answer, after overlapping and adjacent ranges are
/// coalesced; more and the whole file is sent instead.
pub const MAX_PARTS: usize = 16;

/// One `range-spec` of a `bytes` range, as the client wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeSpec {
    /// `first-last`: from `first` to `last`, both included.
    FromTo {
        /// The first byte.
        first: u64,
        /// The last byte, included.
        last: u64,
    },
    /// `first-`: from `first` to the end.
    From {
        /// The first byte.
        first: u64,
    },
    /// `-len`: the last `len` bytes.
    Suffix {
        /// How many bytes from the end.
        len: u64,
    },
}

/// A non-empty range of bytes, `start..end` (end excluded), inside the file it was resolved
/// against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl ByteRange {
    /// The number of bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Always false: a `ByteRange` is never empty.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    /// The `Content-Range` value of this range of a file of `total` bytes
    /// (`bytes 0-499/1234`).
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end - 1, total)
    }
}

/// What a `Range` header asks of a file of a given length.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolved {
    /// The ranges to send: sorted, overlapping and adjacent ones merged, at most [`MAX_PARTS`].
    Ranges(Vec<ByteRange>),
    /// No range overlaps the file: `416` with `Content-Range: bytes */LEN`.
    Unsatisfiable,
    /// Send the whole file (the ranges cover it, or make more than [`MAX_PARTS`] parts).
    Whole,
}

/// Parses a `Range` header value. `None` when it is malformed, not in `bytes`, or holds more
/// than [`MAX_RANGE_SPECS`] specs: such a header is ignored (RFC 9110 §14.2 lets a server
/// ignore `Range`). A spec whose last byte is before its first is malformed.
pub fn parse_range(value: &[u8]) -> Option<Vec<RangeSpec>> {
    let value = std::str::from_utf8(value).ok()?;
    let (unit, set) = value.trim_matches(is_ows).split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    // Empty list elements are allowed (RFC 9110 §5.6.1), at least one spec is required.
    for element in set
        .split(',')
        .map(|e| e.trim_matches(is_ows))
        .filter(|e| !e.is_empty())
    {
        if specs.len() == MAX_RANGE_SPECS {
            return None;
        }
        let (first, last) = element.split_once('-')?;
        let spec = match (first.is_empty(), last.is_empty()) {
            (true, true) => return None,
            (true, false) => RangeSpec::Suffix { len: number(last)? },
            (false, true) => RangeSpec::From {
                first: number(first)?,
            },
            (false, false) => {
                let (first, last) = (number(first)?, number(last)?);
                if last < first {
                    return None;
                }
                RangeSpec::FromTo { first, last }
            }
        };
        specs.push(spec);
    }
    if specs.is_empty() { None } else { Some(specs) }
}

/// Resolves parsed specs against a file of `len` bytes (RFC 9110 §14.1.2–14.1.3): specs that
/// start past the end and empty suffixes are dropped, the rest clamped to the file, sorted and
/// coalesced. A zero-length file has no satisfiable range (`Unsatisfiable`); the caller decides
/// what to send for it (this crate sends `200`).
pub fn resolve(specs: &[RangeSpec], len: u64) -> Resolved {
    let mut ranges: Vec<ByteRange> = specs
        .iter()
        .filter_map(|spec| {
            let (start, end) = match *spec {
                RangeSpec::FromTo { first, last } => (first, last.saturating_add(1).min(len)),
                RangeSpec::From { first } => (first, len),
                RangeSpec::Suffix { len: suffix } => (len.saturating_sub(suffix), len),
            };
            (start < end).then_some(ByteRange { start, end })
        })
        .collect();
    if ranges.is_empty() {
        return Resolved::Unsatisfiable;
    }
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    if merged.len() > MAX_PARTS {
        return Resolved::Whole;
    }
    Resolved::Ranges(merged)
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// A 1*DIGIT number; one too large for u64 saturates (it is past any file's end anyway).
fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use proptest::prelude::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    fn check(header: &str, len: u64, expected: Option<Resolved>) {
        let got = parse_range(header.as_bytes()).map(|specs| resolve(&specs, len));
        assert_eq!(got, expected, "{header:?} on {len} bytes");
    }

    #[test]
    fn single_ranges() {
        check("bytes=0-499", 1000, Some(Resolved::Ranges(vec![r(0, 500)])));
        check(
            "bytes=500-",
            1000,
            Some(Resolved::Ranges(vec![r(500, 1000)])),
        );
        check(
            "bytes=-200",
            1000,
            Some(Resolved::Ranges(vec![r(800, 1000)])),
        );
        check(
            "bytes=-2000",
            1000,
            Some(Resolved::Ranges(vec![r(0, 1000)])),
        );
        check(
            "bytes=900-5000",
            1000,
            Some(Resolved::Ranges(vec![r(900, 1000)])),
        );
        check("BYTES = 1-1", 1000, None);
        check("Bytes=1-1", 1000, Some(Resolved::Ranges(vec![r(1, 2)])));
        check(" bytes=0-0 ", 10, Some(Resolved::Ranges(vec![r(0, 1)])));
        check(
            "bytes=99999999999999999999999-",
            10,
            Some(Resolved::Unsatisfiable),
        );
        check(
            "bytes=0-99999999999999999999999",
            10,
            Some(Resolved::Ranges(vec![r(0, 10)])),
        );
    }

    #[test]
    fn unsatisfiable() {
        check("bytes=1000-", 1000, Some(Resolved::Unsatisfiable));
        check("bytes=1000-2000", 1000, Some(Resolved::Unsatisfiable));
        check("bytes=-0", 1000, Some(Resolved::Unsatisfiable));
        check("bytes=0-", 0, Some(Resolved::Unsatisfiable));
        check("bytes=-5", 0, Some(Resolved::Unsatisfiable));
        check("bytes=2000-,3000-3001", 1000, Some(Resolved::Unsatisfiable));
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=,",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-2",
            "bytes=1-2-3",
            "items=0-1",
            "bytes=0-1;x",
            "bytes=+1-2",
            "bytes=0x10-",
            "bytes=1 -2",
            "bytes=--1",
        ] {
            check(header, 1000, None);
        }
        let many = format!("bytes={}", vec!["0-0"; MAX_RANGE_SPECS + 1].join(","));
        check(&many, 1000, None);
        assert!(parse_range(b"bytes=\xff-1").is_none());
    }

    #[test]
    fn several_ranges_are_sorted_and_coalesced() {
        check(
            "bytes=0-1,,4-5",
            10,
            Some(Resolved::Ranges(vec![r(0, 2), r(4, 6)])),
        );
        check(
            "bytes=4-5, 0-1",
            10,
            Some(Resolved::Ranges(vec![r(0, 2), r(4, 6)])),
        );
        check("bytes=0-4,3-6", 10, Some(Resolved::Ranges(vec![r(0, 7)])));
        check("bytes=0-4,5-6", 10, Some(Resolved::Ranges(vec![r(0, 7)])));
        check(
            "bytes=0-0,-1",
            10,
            Some(Resolved::Ranges(vec![r(0, 1), r(9, 10)])),
        );
        check("bytes=50-60,0-1", 10, Some(Resolved::Ranges(vec![r(0, 2)])));
        let spread: Vec<String> = (0..=MAX_PARTS as u64)
            .map(|i| format!("{}-{}", i * 2, i * 2))
            .collect();
        check(
            &format!("bytes={}", spread.join(",")),
            1000,
            Some(Resolved::Whole),
        );
        let touching: Vec<String> = (0..40).map(|i| format!("{i}-{i}")).collect();
        check(
            &format!("bytes={}", touching.join(",")),
            1000,
            Some(Resolved::Ranges(vec![r(0, 40)])),
        );
    }

    #[test]
    fn content_range() {
        assert_eq!(r(0, 500).content_range(1000), "bytes 0-499/1000");
    }

    fn spec() -> impl Strategy<Value = RangeSpec> {
        prop_oneof![
            (0u64..2000, 0u64..2000).prop_map(|(a, b)| RangeSpec::FromTo {
                first: a.min(b),
                last: a.max(b)
            }),
            (0u64..2000).prop_map(|first| RangeSpec::From { first }),
            (0u64..2000).prop_map(|len| RangeSpec::Suffix { len }),
        ]
    }

    fn write(spec: &RangeSpec) -> String {
        match spec {
            RangeSpec::FromTo { first, last } => format!("{first}-{last}"),
            RangeSpec::From { first } => format!("{first}-"),
            RangeSpec::Suffix { len } => format!("-{len}"),
        }
    }

    proptest! {
        #[test]
        fn written_specs_parse_back(specs in prop::collection::vec(spec(), 1..MAX_RANGE_SPECS)) {
            let header = format!("bytes={}", specs.iter().map(write).collect::<Vec<_>>().join(", "));
            prop_assert_eq!(parse_range(header.as_bytes()), Some(specs));
        }

        #[test]
        fn parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_range(&bytes);
            let mut header = b"bytes=".to_vec();
            header.extend_from_slice(&bytes);
            let _ = parse_range(&header);
        }

        /// The resolved ranges are inside the file, sorted, disjoint and not adjacent, and
        /// cover exactly the bytes some spec asked for.
        #[test]
        fn resolution_covers_exactly_what_was_asked(
            specs in prop::collection::vec(spec(), 1..12),
            len in 0u64..2500,
        ) {
            let wanted = |byte: u64| specs.iter().any(|s| match *s {
                RangeSpec::FromTo { first, last } => byte >= first && byte <= last,
                RangeSpec::From { first } => byte >= first,
                RangeSpec::Suffix { len: n } => byte >= len.saturating_sub(n),
            });
            match resolve(&specs, len) {
                Resolved::Unsatisfiable => prop_assert!((0..len).all(|b| !wanted(b))),
                Resolved::Whole => prop_assert!(specs.len() > MAX_PARTS),
                Resolved::Ranges(ranges) => {
                    prop_assert!(!ranges.is_empty() && ranges.len() <= MAX_PARTS);
                    for pair in ranges.windows(2) {
                        prop_assert!(pair[0].end < pair[1].start);
                    }
                    for range in &ranges {
                        prop_assert!(!range.is_empty() && range.end <= len);
                    }
                    for byte in 0..len {
                        let sent = ranges.iter().any(|r| byte >= r.start && byte < r.end);
                        prop_assert_eq!(sent, wanted(byte), "byte {}", byte);
                    }
                }
            }
        }
    }
}
