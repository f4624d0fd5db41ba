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
        let algorithm = match self {
            DigestAlgorithm::Sha256 => &digest::SHA256,
            DigestAlgorithm::Sha512 => &digest::SHA512,
        };
        digest::digest(algorithm, body).as_ref().to_vec()
    }

    /// The `Digest` header value for `body`, as the fediverse writes it: `SHA-256=<base64>`.
    pub fn digest_header(self, body: &[u8]) -> HeaderValue {
        let name = match self {
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha512 => "SHA-512",
        };
        let value = format!("{name}={}", base64_encode(&self.digest(body)));
        // Base64 and the fixed names are visible ASCII, always a valid header value.
        HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The `Content-Digest` header value for `body`: `sha-256=:<base64>:`.
    pub fn content_digest_header(self, body: &[u8]) -> HeaderValue {
        let value = format!("{}=:{}:", self.name(), base64_encode(&self.digest(body)));
        HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
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
/// not (whether a digest is required is the verification policy's business).
pub fn check_body(headers: &HeaderMap, body: &[u8]) -> Result<DigestCheck, DigestError> {
    let mut check = DigestCheck::default();
    for header in [DIGEST, CONTENT_DIGEST] {
        let Some(value) = joined_value(headers, &header) else {
            continue;
        };
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
            let actual = algorithm.digest(body);
            if actual != entry.value {
                return Err(DigestError::Mismatch {
                    header,
                    algorithm,
                    expected: base64_encode(&entry.value),
                    actual: base64_encode(&actual),
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

/// Decodes standard base64, with or without padding.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text).ok()
}
