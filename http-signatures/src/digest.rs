//! Body digests: the legacy `Digest` header ([RFC 3230]) that draft-cavage signatures cover, and
//! `Content-Digest` ([RFC 9530]).
//!
//! [RFC 3230]: https://www.rfc-editor.org/rfc/rfc3230
//! [RFC 9530]: https://www.rfc-editor.org/rfc/rfc9530

use std::fmt;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::backend::provider::digest;

/// The `Digest` header name (RFC 3230).
pub const DIGEST: HeaderName = HeaderName::from_static("digest");
/// The `Content-Digest` header name (RFC 9530).
pub const CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");

/// A digest algorithm this crate computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-256: what the fediverse sends.
    #[default]
    Sha256,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The name in a `Content-Digest` field (`sha-256`), which is also how `Digest` names it
    /// once lowercased.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha-256",
            DigestAlgorithm::Sha512 => "sha-512",
        }
    }

    /// Looks an algorithm up by name, ignoring ASCII case (`SHA-256`, `sha-256`).
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("sha-256") {
            Some(DigestAlgorithm::Sha256)
        } else if name.eq_ignore_ascii_case("sha-512") {
            Some(DigestAlgorithm::Sha512)
        } else {
            None
        }
    }

    /// Hashes `body`.
    pub fn digest(self, body: &[u8]) -> Vec<u8> {
        self.compute(body).as_ref().to_vec()
    }

    /// The `Digest` header value for `body`, as the fediverse writes it: `SHA-256=<base64>`.
    pub fn digest_header(self, body: &[u8]) -> HeaderValue {
        let name = match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha512 => "SHA-512",
        };
        header_value(name, "=", self.compute(body).as_ref(), "")
    }

    /// The `Content-Digest` header value for `body`: `sha-256=:<base64>:`.
    pub fn content_digest_header(self, body: &[u8]) -> HeaderValue {
        header_value(self.name(), "=:", self.compute(body).as_ref(), ":")
    }

    fn compute(self, body: &[u8]) -> digest::Digest {
        let algorithm = match self {
            DigestAlgorithm::Sha256 => &digest::SHA256,
            DigestAlgorithm::Sha512 => &digest::SHA512,
        };
        digest::digest(algorithm, body)
    }
}

/// `{name}{open}{base64 of digest}{close}` as a header value, built in one exact allocation
/// that the header value takes over.
fn header_value(name: &str, open: &str, digest: &[u8], close: &str) -> HeaderValue {
    let mut value =
        String::with_capacity(name.len() + open.len() + digest.len().div_ceil(3) * 4 + close.len());
    value.push_str(name);
    value.push_str(open);
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut value);
    value.push_str(close);
    // Base64 and the fixed names are visible ASCII, always a valid header value.
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `algorithm=value` member of a `Digest` or `Content-Digest` field.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DigestEntry {
    /// The algorithm name, lowercased (`sha-256`, `md5`, ...).
    pub algorithm: String,
    /// The digest bytes. For a `Digest` entry of an algorithm this crate does not know and
    /// whose value is not base64, the raw text.
    pub value: Vec<u8>,
}

impl DigestEntry {
    /// The algorithm, if this crate computes it.
    pub fn known_algorithm(&self) -> Option<DigestAlgorithm> {
        DigestAlgorithm::from_name(&self.algorithm)
    }
}

/// A `Digest` or `Content-Digest` field value is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestParseError {
    /// The field is empty.
    #[error("the field is empty")]
    Empty,
    /// A `Digest` member is not `algorithm=value`.
    #[error("member {member:?} is not algorithm=value")]
    NotAlgorithmValue {
        /// The offending member.
        member: String,
    },
    /// The value of a known algorithm is not base64.
    #[error("the {algorithm} value is not valid base64")]
    InvalidBase64 {
        /// The algorithm of the member.
        algorithm: String,
    },
    /// `Content-Digest` is not an RFC 8941 dictionary.
    #[error("not a structured-field dictionary: {reason}")]
    StructuredField {
        /// What the structured-field parser reported.
        reason: String,
    },
    /// A `Content-Digest` member is not a byte sequence.
    #[error("the {algorithm} member is not a byte sequence")]
    NotByteSequence {
        /// The algorithm of the member.
        algorithm: String,
    },
}

/// The body does not match its digest headers, or they cannot be checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The header is malformed.
    #[error("malformed {header} header: {source}")]
    Malformed {
        /// `digest` or `content-digest`.
        header: HeaderName,
        /// What is wrong with it.
        #[source]
        source: DigestParseError,
    },
    /// The header names no algorithm this crate computes (SHA-256, SHA-512).
    #[error("the {header} header has no SHA-256 or SHA-512 value (it has: {found:?})")]
    UnsupportedAlgorithm {
        /// `digest` or `content-digest`.
        header: HeaderName,
        /// The algorithms it has.
        found: Vec<String>,
    },
    /// The digest of the body is not the one in the header.
    #[error(
        "the body does not match the {header} header: {algorithm} of the body is {actual}, the header says {expected}"
    )]
    Mismatch {
        /// `digest` or `content-digest`.
        header: HeaderName,
        /// The algorithm compared.
        algorithm: DigestAlgorithm,
        /// The header's value, base64.
        expected: String,
        /// The body's digest, base64.
        actual: String,
    },
}

/// What [`check_body`] compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DigestCheck {
    /// Each header and algorithm that matched the body.
    pub matched: Vec<(HeaderName, DigestAlgorithm)>,
}

/// Parses a `Digest` field value (RFC 3230 §4.3.2): comma-separated `algorithm=base64` members;
/// algorithm names are case-insensitive.
pub fn parse_digest(value: &str) -> Result<Vec<DigestEntry>, DigestParseError> {
    if value.trim().is_empty() {
        return Err(DigestParseError::Empty);
    }
    value
        .split(',')
        .map(|member| {
            let member = member.trim();
            let (algorithm, encoded) =
                member
                    .split_once('=')
                    .ok_or_else(|| DigestParseError::NotAlgorithmValue {
                        member: member.to_owned(),
                    })?;
            let algorithm = algorithm.trim().to_ascii_lowercase();
            if algorithm.is_empty() {
                return Err(DigestParseError::NotAlgorithmValue {
                    member: member.to_owned(),
                });
            }
            let encoded = encoded.trim();
            let value = match base64_decode(encoded) {
                Some(bytes) => bytes,
                None if DigestAlgorithm::from_name(&algorithm).is_some() => {
                    return Err(DigestParseError::InvalidBase64 { algorithm });
                }
                None => encoded.as_bytes().to_vec(),
            };
            Ok(DigestEntry { algorithm, value })
        })
        .collect()
}

/// Parses a `Content-Digest` field value (RFC 9530 §2): an RFC 8941 dictionary of byte
/// sequences.
pub fn parse_content_digest(value: &str) -> Result<Vec<DigestEntry>, DigestParseError> {
    let dict = sfv::Parser::new(value)
        .with_version(sfv::Version::Rfc8941)
        .parse_dictionary::<sfv::Dictionary>()
        .map_err(|e| DigestParseError::StructuredField {
            reason: e.to_string(),
        })?;
    if dict.is_empty() {
        return Err(DigestParseError::Empty);
    }
    dict.iter()
        .map(|(key, entry)| {
            let algorithm = key.as_str().to_owned();
            match entry {
                sfv::ListEntry::Item(sfv::Item {
                    bare_item: sfv::BareItem::ByteSequence(bytes),
                    ..
                }) => Ok(DigestEntry {
                    algorithm,
                    value: bytes.clone(),
                }),
                _ => Err(DigestParseError::NotByteSequence { algorithm }),
            }
        })
        .collect()
}

/// Compares `body` with every `Digest` and `Content-Digest` header present. Each value of a
/// known algorithm must match; a header with no known algorithm is an error; absent headers are
/// not (whether a digest is required is the verification policy's business). The body is
/// hashed at most once per algorithm.
pub fn check_body(headers: &HeaderMap, body: &[u8]) -> Result<DigestCheck, DigestError> {
    check_body_with(headers, &mut BodyDigests::new(body), Reading::QuickFirst)
}

/// [`check_body`] with the body's digests kept in `digests`, for a caller that checks the same
/// body again (an inbox checks the digests before it reads the activity, then the verifier
/// checks them as part of the signature, [`crate::Verifier::parse_request_with_digests`]): the
/// body is hashed once per algorithm in all. The checks are [`check_body`]'s.
pub fn check_body_digests(
    headers: &HeaderMap,
    digests: &mut BodyDigests<'_>,
) -> Result<DigestCheck, DigestError> {
    check_body_with(headers, digests, Reading::QuickFirst)
}

/// Whether [`check_body`] tries the usual shape of a header first (tests compare both ways).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    QuickFirst,
    #[cfg(test)]
    GeneralOnly,
}

fn check_body_with(
    headers: &HeaderMap,
    digests: &mut BodyDigests<'_>,
    reading: Reading,
) -> Result<DigestCheck, DigestError> {
    let mut check = DigestCheck::default();
    for header in [DIGEST, CONTENT_DIGEST] {
        let mut lines = headers.get_all(&header).iter();
        let Some(first) = lines.next() else {
            continue;
        };
        // The usual case (one line, well formed, matching) without building the entries; on
        // anything else the general reading below decides and explains.
        let matched_before = check.matched.len();
        if reading == Reading::QuickFirst && lines.next().is_none() {
            let matched = if header == DIGEST {
                quick_digest(first.as_bytes(), digests, &mut check)
            } else {
                quick_content_digest(first.as_bytes(), digests, &mut check)
            };
            if matched {
                continue;
            }
            check.matched.truncate(matched_before);
        }
        let value = joined_value(headers, &header).unwrap_or_default();
        let parsed = if header == DIGEST {
            parse_digest(&value)
        } else {
            parse_content_digest(&value)
        };
        let entries = parsed.map_err(|source| DigestError::Malformed {
            header: header.clone(),
            source,
        })?;
        let mut any_known = false;
        for entry in &entries {
            let Some(algorithm) = entry.known_algorithm() else {
                continue;
            };
            any_known = true;
            let actual = digests.of(algorithm);
            if actual != entry.value.as_slice() {
                return Err(DigestError::Mismatch {
                    header,
                    algorithm,
                    expected: base64_encode(&entry.value),
                    actual: base64_encode(actual),
                });
            }
            check.matched.push((header.clone(), algorithm));
        }
        if !any_known {
            return Err(DigestError::UnsupportedAlgorithm {
                header,
                found: entries.into_iter().map(|e| e.algorithm).collect(),
            });
        }
    }
    Ok(check)
}

/// A body and its digests, each computed on first use and kept: see [`check_body_digests`].
/// Only ever holds digests of its own body.
pub struct BodyDigests<'a> {
    body: &'a [u8],
    sha256: Option<digest::Digest>,
    sha512: Option<digest::Digest>,
}

impl fmt::Debug for BodyDigests<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyDigests")
            .field("body_len", &self.body.len())
            .field("sha256", &self.sha256.is_some())
            .field("sha512", &self.sha512.is_some())
            .finish()
    }
}

impl<'a> BodyDigests<'a> {
    /// `body`, none of its digests computed yet.
    pub fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            sha256: None,
            sha512: None,
        }
    }

    /// The body.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    fn of(&mut self, algorithm: DigestAlgorithm) -> &[u8] {
        let body = self.body;
        let slot = match algorithm {
            DigestAlgorithm::Sha256 => &mut self.sha256,
            DigestAlgorithm::Sha512 => &mut self.sha512,
        };
        let digest: &digest::Digest = slot.get_or_insert_with(|| algorithm.compute(body));
        digest.as_ref()
    }
}

/// Room for the largest digest this crate computes (SHA-512).
const MAX_DIGEST_LEN: usize = 64;

/// Checks a one-line `Digest` value of the common shape (ASCII, `algorithm=base64` members,
/// at least one known algorithm, every known one matching) and records the matches. `false`
/// means "not shown to match": [`check_body`] then reads the value the general way, which
/// accepts what it should and names what is wrong.
fn quick_digest(value: &[u8], digests: &mut BodyDigests<'_>, check: &mut DigestCheck) -> bool {
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    if !value.is_ascii() || value.trim().is_empty() {
        return false;
    }
    let mut any_known = false;
    for member in value.split(',') {
        let Some((algorithm, encoded)) = member.split_once('=') else {
            return false;
        };
        let algorithm = algorithm.trim();
        if algorithm.is_empty() {
            return false;
        }
        let Some(algorithm) = DigestAlgorithm::from_name(algorithm) else {
            continue;
        };
        let mut expected = [0_u8; MAX_DIGEST_LEN];
        let Some(expected) = base64_decode_into(encoded.trim(), &mut expected) else {
            return false;
        };
        if digests.of(algorithm) != expected {
            return false;
        }
        any_known = true;
        check.matched.push((DIGEST, algorithm));
    }
    any_known
}

/// [`quick_digest`] for a one-line `Content-Digest`, parsed with `sfv` without building a
/// dictionary. Repeated keys (where the last one counts) are left to the general reading.
fn quick_content_digest(
    value: &[u8],
    digests: &mut BodyDigests<'_>,
    check: &mut DigestCheck,
) -> bool {
    let mut visitor = QuickContentDigest {
        digests,
        check,
        keys: Vec::new(),
        ok: true,
        any_known: false,
    };
    let parsed = sfv::Parser::new(value)
        .with_version(sfv::Version::Rfc8941)
        .parse_dictionary_with_visitor(&mut visitor);
    parsed.is_ok() && visitor.ok && visitor.any_known
}

struct QuickContentDigest<'c, 'b, 'de> {
    digests: &'c mut BodyDigests<'b>,
    check: &'c mut DigestCheck,
    keys: Vec<&'de str>,
    /// Nothing seen so far disagrees with the body or needs the general reading.
    ok: bool,
    any_known: bool,
}

impl<'de> sfv::visitor::DictionaryVisitor<'de> for &mut QuickContentDigest<'_, '_, 'de> {
    type Out = ();
    type Error = std::convert::Infallible;

    fn entry(
        &mut self,
        key: &'de sfv::KeyRef,
    ) -> Result<impl sfv::visitor::EntryVisitor<'de>, Self::Error> {
        let key = key.as_str();
        if self.keys.contains(&key) {
            self.ok = false;
        }
        self.keys.push(key);
        Ok(QuickEntry {
            state: self,
            algorithm: DigestAlgorithm::from_name(key),
        })
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok(())
    }
}

struct QuickEntry<'v, 'c, 'b, 'de> {
    state: &'v mut QuickContentDigest<'c, 'b, 'de>,
    algorithm: Option<DigestAlgorithm>,
}

impl<'de> sfv::visitor::EntryVisitor<'de> for QuickEntry<'_, '_, '_, 'de> {
    type Error = std::convert::Infallible;

    fn item(self) -> Result<impl sfv::visitor::ItemVisitor<'de>, Self::Error> {
        Ok(self)
    }

    fn inner_list(self) -> Result<impl sfv::visitor::InnerListVisitor<'de>, Self::Error> {
        self.state.ok = false;
        Ok(sfv::visitor::Ignored)
    }
}

impl<'de> sfv::visitor::ItemVisitor<'de> for QuickEntry<'_, '_, '_, 'de> {
    type Out = ();
    type Error = std::convert::Infallible;

    fn bare_item(
        self,
        bare_item: sfv::BareItemFromInput<'de>,
    ) -> Result<impl sfv::visitor::ParameterVisitor<'de, Out = ()>, Self::Error> {
        let state = self.state;
        match (bare_item, self.algorithm) {
            (sfv::BareItemFromInput::ByteSequence(bytes), Some(algorithm)) => {
                if state.digests.of(algorithm) == bytes.as_slice() {
                    state.any_known = true;
                    state.check.matched.push((CONTENT_DIGEST, algorithm));
                } else {
                    state.ok = false;
                }
            }
            (sfv::BareItemFromInput::ByteSequence(_), None) => {}
            _ => state.ok = false,
        }
        Ok(sfv::visitor::Ignored)
    }
}

/// All lines of a header joined with `", "`, or `None` if absent; non-UTF-8 bytes are kept as
/// Latin-1 so that a malformed value still fails to parse rather than vanishing.
fn joined_value(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let parts: Vec<String> = values
        .map(|v| v.as_bytes().iter().map(|&b| char::from(b)).collect())
        .collect();
    Some(parts.join(", "))
}

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard base64, decoded with or without padding.
const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Decodes standard base64, with or without padding.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    LENIENT.decode(text).ok()
}

/// Decodes standard base64, with or without padding, into `out`; `None` if it is not base64
/// or does not fit.
fn base64_decode_into<'o>(text: &str, out: &'o mut [u8]) -> Option<&'o [u8]> {
    let len = LENIENT.decode_slice(text, out).ok()?;
    out.get(..len)
}

// Test code: a failed unwrap is a failed test.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"{\"hello\": \"world\"}\n";

    /// Header values of every shape: the quick reading must agree with the general one on each.
    fn cases() -> Vec<(HeaderName, String)> {
        let sha256 = base64_encode(&DigestAlgorithm::Sha256.digest(BODY));
        let sha512 = base64_encode(&DigestAlgorithm::Sha512.digest(BODY));
        let unpadded = sha256.trim_end_matches('=').to_owned();
        let wrong = base64_encode(&DigestAlgorithm::Sha256.digest(b"other"));
        let digest = [
            format!("SHA-256={sha256}"),
            format!("sha-256={sha256}"),
            format!(" SHA-256 = {sha256} "),
            format!("SHA-256={unpadded}"),
            format!("SHA-512={sha512}"),
            format!("SHA-256={sha256},SHA-512={sha512}"),
            format!("MD5=abc, SHA-256={sha256}, unixsum=30637"),
            format!("SHA-256={wrong}"),
            format!("SHA-256={sha256}, SHA-256={wrong}"),
            format!("SHA-256={sha512}"),
            format!("SHA-256={sha256},"),
            format!("SHA-256={sha256}, ={sha256}"),
            format!("SHA-256={sha256}{sha256}"),
            "SHA-256=not base64!".to_owned(),
            "unixsum=30637".to_owned(),
            String::new(),
            "  ".to_owned(),
        ];
        let content_digest = [
            format!("sha-256=:{sha256}:"),
            format!("sha-512=:{sha512}:"),
            format!("sha-256=:{sha256}:, sha-512=:{sha512}:"),
            format!("sha-256=:{sha256}:;param=1"),
            format!("md5=:AAAA:, sha-256=:{sha256}:"),
            format!("sha-256=:{wrong}:, sha-256=:{sha256}:"),
            format!("sha-256=:{sha256}:, sha-256=:{wrong}:"),
            format!("sha-256=:{wrong}:"),
            format!("sha-256=:{unpadded}:"),
            format!("sha-256=({sha256})"),
            format!("sha-256=\"{sha256}\""),
            format!("sha-256=:{sha256}"),
            "md5=:AAAA:".to_owned(),
            "SHA-256=:AAAA:".to_owned(),
            String::new(),
        ];
        digest
            .into_iter()
            .map(|value| (DIGEST, value))
            .chain(
                content_digest
                    .into_iter()
                    .map(|value| (CONTENT_DIGEST, value)),
            )
            .collect()
    }

    #[test]
    fn the_quick_reading_agrees_with_the_general_one() {
        let mut quick_matches = 0;
        for (header, value) in cases() {
            let Ok(value) = HeaderValue::from_str(&value) else {
                continue;
            };
            let mut headers = HeaderMap::new();
            headers.insert(header.clone(), value.clone());
            let quick = check_body_with(&headers, &mut BodyDigests::new(BODY), Reading::QuickFirst);
            let general =
                check_body_with(&headers, &mut BodyDigests::new(BODY), Reading::GeneralOnly);
            // Digests kept from an earlier check give the same answer.
            let mut kept = BodyDigests::new(BODY);
            let first = check_body_digests(&headers, &mut kept);
            assert_eq!(
                check_body_digests(&headers, &mut kept),
                first,
                "{header}: {value:?}"
            );
            assert_eq!(first, general, "{header}: {value:?}");
            assert_eq!(quick, general, "{header}: {value:?}");

            let mut check = DigestCheck::default();
            let mut digests = BodyDigests::new(BODY);
            let matched = if header == DIGEST {
                quick_digest(value.as_bytes(), &mut digests, &mut check)
            } else {
                quick_content_digest(value.as_bytes(), &mut digests, &mut check)
            };
            if matched {
                quick_matches += 1;
                assert_eq!(Ok(check), general, "{header}: {value:?}");
            }
        }
        // The usual shapes do take the quick way.
        assert!(quick_matches >= 10, "{quick_matches}");
    }

    #[test]
    fn both_headers_are_checked() {
        let sha256 = base64_encode(&DigestAlgorithm::Sha256.digest(BODY));
        let mut headers = HeaderMap::new();
        headers.insert(
            DIGEST,
            HeaderValue::from_str(&format!("SHA-256={sha256}")).unwrap(),
        );
        headers.insert(
            CONTENT_DIGEST,
            HeaderValue::from_str(&format!("sha-256=:{sha256}:")).unwrap(),
        );
        let check = check_body(&headers, BODY).unwrap();
        assert_eq!(
            check.matched,
            [
                (DIGEST, DigestAlgorithm::Sha256),
                (CONTENT_DIGEST, DigestAlgorithm::Sha256)
            ]
        );
    }
}
