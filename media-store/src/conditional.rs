//! Conditional requests ([RFC 9110 §13](https://www.rfc-editor.org/rfc/rfc9110#section-13))
//! and the plan of a response to `GET`/`HEAD` of a stored file: which status, which ranges.
//! No I/O and no clock: the validators and the length are arguments.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Method, header};

use crate::range::{self, ByteRange, Resolved};

/// What identifies a version of a file: its strong entity tag and its modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// The opaque tag of the strong `ETag`, without quotes (this crate uses the SHA-256 in
    /// hex). It must hold only `etagc` characters (no `"`).
    pub etag: String,
    /// The modification time; HTTP dates have whole seconds, so it is compared truncated.
    pub last_modified: SystemTime,
}

impl Validators {
    /// Validators from an opaque tag and a modification time.
    pub fn new(etag: impl Into<String>, last_modified: SystemTime) -> Self {
        Self {
            etag: etag.into(),
            last_modified,
        }
    }

    /// The `ETag` header value: the tag in quotes.
    pub fn etag_header(&self) -> String {
        format!("\"{}\"", self.etag)
    }

    /// The `Last-Modified` header value.
    pub fn last_modified_header(&self) -> String {
        httpdate::fmt_http_date(self.seconds())
    }

    fn seconds(&self) -> SystemTime {
        // An HTTP date has four digits of year (and `httpdate` panics past them): a file
        // dated later (its clock was wrong) is said to be from the last second of 9999.
        const LAST_HTTP_DATE: u64 = 253_402_300_799;
        let secs = self
            .last_modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .min(LAST_HTTP_DATE);
        UNIX_EPOCH + Duration::from_secs(secs)
    }
}

/// The outcome of the preconditions of a request (RFC 9110 §13.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Precondition {
    /// Go on and answer the request.
    Proceed,
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// How to answer a `GET` or `HEAD` of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Plan {
    /// `200` with the whole file.
    Whole,
    /// `206` with one range (`Content-Range`) or several (`multipart/byteranges`).
    Partial(Vec<ByteRange>),
    /// `416` with `Content-Range: bytes */LEN`.
    Unsatisfiable,
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    PreconditionFailed,
}

/// Plans the answer to `method` (`GET` or `HEAD`) with `headers` for a file of `len` bytes with
/// `validators`: preconditions in RFC 9110 §13.2.2's order, then `Range` (only for `GET`,
/// subject to `If-Range`). A malformed `Range` is ignored; a zero-length file is always sent
/// whole.
pub fn plan(method: &Method, headers: &HeaderMap, validators: &Validators, len: u64) -> Plan {
    match evaluate(method, headers, validators) {
        Precondition::Proceed => {}
        Precondition::NotModified => return Plan::NotModified,
        Precondition::Failed => return Plan::PreconditionFailed,
    }
    if method != Method::GET || len == 0 {
        return Plan::Whole;
    }
    let Some(value) = single(headers, &header::RANGE) else {
        return Plan::Whole;
    };
    let Some(specs) = range::parse_range(value) else {
        return Plan::Whole;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE)
        && !if_range_matches(if_range.as_bytes(), validators)
    {
        return Plan::Whole;
    }
    match range::resolve(&specs, len) {
        Resolved::Ranges(ranges) => Plan::Partial(ranges),
        Resolved::Unsatisfiable => Plan::Unsatisfiable,
        Resolved::Whole => Plan::Whole,
    }
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` in the
/// order of RFC 9110 §13.2.2. A header that cannot be parsed is ignored, as is a date
/// condition when the matching tag condition is present.
pub fn evaluate(method: &Method, headers: &HeaderMap, validators: &Validators) -> Precondition {
    let is_get_or_head = method == Method::GET || method == Method::HEAD;
    if let Some(tags) = TagList::from_headers(headers, &header::IF_MATCH) {
        if !tags.matches(&validators.etag, true) {
            return Precondition::Failed;
        }
    } else if let Some(date) = date(headers, &header::IF_UNMODIFIED_SINCE)
        && validators.seconds() > date
    {
        return Precondition::Failed;
    }
    if let Some(tags) = TagList::from_headers(headers, &header::IF_NONE_MATCH) {
        if tags.matches(&validators.etag, false) {
            return if is_get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if is_get_or_head
        && let Some(date) = date(headers, &header::IF_MODIFIED_SINCE)
        && validators.seconds() <= date
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// Whether an `If-Range` value names the current version (RFC 9110 §13.1.5): a strong entity
/// tag equal to ours, or a date equal to our `Last-Modified` (this crate's dates are whole
/// seconds of a file written once, so an exact match is a strong validator). A weak tag or
/// anything unparsable does not match.
pub fn if_range_matches(value: &[u8], validators: &Validators) -> bool {
    if value.first() == Some(&b'"') {
        return matches!(EntityTag::parse(value), Some((tag, rest)) if rest.is_empty() && !tag.weak && tag.opaque == validators.etag.as_bytes());
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| httpdate::parse_http_date(s).ok())
        .is_some_and(|date| date == validators.seconds())
}

/// The one value of a header; `None` when absent or repeated (a repeated singleton is
/// ignored rather than guessed at).
fn single<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a [u8]> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    Some(first.as_bytes())
}

fn date(headers: &HeaderMap, name: &header::HeaderName) -> Option<SystemTime> {
    let value = std::str::from_utf8(single(headers, name)?).ok()?;
    httpdate::parse_http_date(value.trim()).ok()
}

/// An `If-Match`/`If-None-Match` value: `*` or a list of entity tags.
enum TagList<'a> {
    Any,
    Tags(Vec<EntityTag<'a>>),
}

impl<'a> TagList<'a> {
    /// The list in every line of the header (a list may be split over several lines, RFC 9110
    /// §5.3); `None` when absent or when a line is malformed.
    fn from_headers(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<Self> {
        let mut all = Vec::new();
        let mut any = false;
        for value in headers.get_all(name) {
            match Self::parse(value.as_bytes())? {
                Self::Any => any = true,
                Self::Tags(tags) => all.extend(tags),
            }
        }
        if any {
            Some(Self::Any)
        } else if all.is_empty() {
            None
        } else {
            Some(Self::Tags(all))
        }
    }

    fn parse(value: &'a [u8]) -> Option<Self> {
        let value = value.trim_ascii();
        if value == b"*" {
            return Some(Self::Any);
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            rest = rest.trim_ascii_start();
            if let Some(after) = rest.strip_prefix(b",") {
                rest = after;
                continue;
            }
            if rest.is_empty() {
                break;
            }
            let (tag, after) = EntityTag::parse(rest)?;
            tags.push(tag);
            rest = after.trim_ascii_start();
            match rest.first() {
                None => break,
                Some(b',') => {}
                Some(_) => return None,
            }
        }
        if tags.is_empty() {
            None
        } else {
            Some(Self::Tags(tags))
        }
    }

    /// Strong comparison for `If-Match`, weak for `If-None-Match` (RFC 9110 §8.8.3.2); ours is
    /// always strong.
    fn matches(&self, ours: &str, strong: bool) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags
                .iter()
                .any(|tag| tag.opaque == ours.as_bytes() && !(strong && tag.weak)),
        }
    }
}

struct EntityTag<'a> {
    weak: bool,
    opaque: &'a [u8],
}

impl<'a> EntityTag<'a> {
    /// Parses `[W/]"etagc*"` at the start of `input`; returns the tag and what follows.
    fn parse(input: &'a [u8]) -> Option<(Self, &'a [u8])> {
        let (weak, input) = match input.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        let input = input.strip_prefix(b"\"")?;
        let end = input.iter().position(|&b| b == b'"')?;
        let (opaque, rest) = input.split_at(end);
        // etagc = %x21 / %x23-7E / obs-text
        if opaque.iter().any(|&b| b < 0x21 || b == 0x7f) {
            return None;
        }
        Some((Self { weak, opaque }, rest.get(1..)?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    #[test]
    fn a_file_dated_after_the_year_9999_gets_the_last_http_date() {
        let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(
            Validators::new("abc", far).last_modified_header(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    fn validators() -> Validators {
        // 784111777 s is LM; the extra 400 ms must not count.
        Validators::new("abc", UNIX_EPOCH + Duration::from_millis(784_111_777_400))
    }

    fn check(method: Method, headers: &[(&str, &str)], len: u64, expected: Plan) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        assert_eq!(
            plan(&method, &map, &validators(), len),
            expected,
            "{method} {headers:?}"
        );
    }

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn headers() {
        assert_eq!(validators().etag_header(), "\"abc\"");
        assert_eq!(validators().last_modified_header(), LM);
    }

    #[test]
    fn plain_and_ranges() {
        check(Method::GET, &[], 10, Plan::Whole);
        check(
            Method::GET,
            &[("range", "bytes=0-1")],
            10,
            Plan::Partial(vec![r(0, 2)]),
        );
        check(Method::HEAD, &[("range", "bytes=0-1")], 10, Plan::Whole);
        check(
            Method::GET,
            &[("range", "bytes=10-")],
            10,
            Plan::Unsatisfiable,
        );
        check(Method::GET, &[("range", "bytes=10-")], 0, Plan::Whole);
        check(Method::GET, &[("range", "bytes=x")], 10, Plan::Whole);
        check(
            Method::GET,
            &[("range", "bytes=0-1"), ("range", "bytes=3-4")],
            10,
            Plan::Whole,
        );
    }

    #[test]
    fn if_none_match_and_if_modified_since() {
        check(
            Method::GET,
            &[("if-none-match", "\"abc\"")],
            10,
            Plan::NotModified,
        );
        check(
            Method::HEAD,
            &[("if-none-match", "W/\"abc\"")],
            10,
            Plan::NotModified,
        );
        check(
            Method::GET,
            &[("if-none-match", "\"x\", \"abc\"")],
            10,
            Plan::NotModified,
        );
        check(
            Method::GET,
            &[("if-none-match", "\"x\""), ("if-none-match", "\"abc\"")],
            10,
            Plan::NotModified,
        );
        // One malformed line and the header is ignored.
        check(
            Method::GET,
            &[("if-none-match", "\"abc\""), ("if-none-match", "junk")],
            10,
            Plan::Whole,
        );
        check(
            Method::GET,
            &[("if-none-match", "*")],
            10,
            Plan::NotModified,
        );
        check(Method::GET, &[("if-none-match", "\"x\"")], 10, Plan::Whole);
        check(
            Method::POST,
            &[("if-none-match", "\"abc\"")],
            10,
            Plan::PreconditionFailed,
        );
        check(
            Method::GET,
            &[("if-modified-since", LM)],
            10,
            Plan::NotModified,
        );
        check(
            Method::GET,
            &[("if-modified-since", LATER)],
            10,
            Plan::NotModified,
        );
        check(
            Method::GET,
            &[("if-modified-since", EARLIER)],
            10,
            Plan::Whole,
        );
        check(
            Method::GET,
            &[("if-modified-since", "yesterday")],
            10,
            Plan::Whole,
        );
        // If-None-Match wins over If-Modified-Since.
        check(
            Method::GET,
            &[("if-none-match", "\"x\""), ("if-modified-since", LM)],
            10,
            Plan::Whole,
        );
        check(
            Method::GET,
            &[("if-modified-since", LM), ("range", "bytes=0-0")],
            10,
            Plan::NotModified,
        );
    }

    #[test]
    fn if_match_and_if_unmodified_since() {
        check(Method::GET, &[("if-match", "\"abc\"")], 10, Plan::Whole);
        check(Method::GET, &[("if-match", "*")], 10, Plan::Whole);
        check(
            Method::GET,
            &[("if-match", "W/\"abc\"")],
            10,
            Plan::PreconditionFailed,
        );
        check(
            Method::GET,
            &[("if-match", "\"x\"")],
            10,
            Plan::PreconditionFailed,
        );
        check(Method::GET, &[("if-match", "\"abc")], 10, Plan::Whole);
        check(Method::GET, &[("if-unmodified-since", LM)], 10, Plan::Whole);
        check(
            Method::GET,
            &[("if-unmodified-since", EARLIER)],
            10,
            Plan::PreconditionFailed,
        );
        // If-Match wins over If-Unmodified-Since.
        check(
            Method::GET,
            &[("if-match", "\"abc\""), ("if-unmodified-since", EARLIER)],
            10,
            Plan::Whole,
        );
        check(
            Method::GET,
            &[("if-match", "\"x\""), ("if-none-match", "\"abc\"")],
            10,
            Plan::PreconditionFailed,
        );
    }

    #[test]
    fn if_range() {
        let range = ("range", "bytes=2-");
        check(
            Method::GET,
            &[range, ("if-range", "\"abc\"")],
            10,
            Plan::Partial(vec![r(2, 10)]),
        );
        check(
            Method::GET,
            &[range, ("if-range", "\"old\"")],
            10,
            Plan::Whole,
        );
        check(
            Method::GET,
            &[range, ("if-range", "W/\"abc\"")],
            10,
            Plan::Whole,
        );
        check(
            Method::GET,
            &[range, ("if-range", LM)],
            10,
            Plan::Partial(vec![r(2, 10)]),
        );
        check(Method::GET, &[range, ("if-range", LATER)], 10, Plan::Whole);
        check(
            Method::GET,
            &[range, ("if-range", "garbage")],
            10,
            Plan::Whole,
        );
        check(
            Method::GET,
            &[range, ("if-range", "\"abc\"x")],
            10,
            Plan::Whole,
        );
    }

    proptest! {
        #[test]
        fn tag_lists_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..48)) {
            let _ = TagList::parse(&bytes);
            let _ = if_range_matches(&bytes, &validators());
        }

        #[test]
        fn written_tag_lists_parse_back(
            tags in prop::collection::vec(("[!#-~]{0,12}", any::<bool>()), 1..6),
        ) {
            let header = tags
                .iter()
                .map(|(t, weak)| format!("{}\"{t}\"", if *weak { "W/" } else { "" }))
                .collect::<Vec<_>>()
                .join(" , ");
            let Some(TagList::Tags(parsed)) = TagList::parse(header.as_bytes()) else {
                return Err(TestCaseError::fail("not parsed"));
            };
            prop_assert_eq!(parsed.len(), tags.len());
            for (got, (tag, weak)) in parsed.iter().zip(&tags) {
                prop_assert_eq!(got.opaque, tag.as_bytes());
                prop_assert_eq!(got.weak, *weak);
            }
        }
    }
}
