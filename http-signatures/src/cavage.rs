//! draft-cavage-http-signatures-12, as the fediverse uses it: the `Signature` header (or
//! `Authorization: Signature ...`) and its signing string.
//!
//! The parameter list is not an RFC 8941 structured field (`keyId` has an uppercase letter), so
//! it has its own small parser, as in every fediverse server.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;

use base64::Engine as _;

use crate::message::Message;

/// The parameters of a draft-cavage signature ([draft-cavage-12 §2.1]).
///
/// [draft-cavage-12 §2.1]: https://datatracker.ietf.org/doc/html/draft-cavage-http-signatures-12#section-2.1
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CavageSignature {
    /// `keyId`.
    pub key_id: String,
    /// `algorithm`, as given (`rsa-sha256`, `hs2019`, ...).
    pub algorithm: Option<String>,
    /// `headers`, lowercased; `["date"]` when the parameter is absent (the default of the
    /// drafts the fediverse follows and of Appendix C.1).
    pub headers: Vec<String>,
    /// Whether `headers` was given explicitly.
    pub headers_given: bool,
    /// `created`, Unix seconds.
    pub created: Option<i64>,
    /// `expires`, Unix seconds.
    pub expires: Option<i64>,
    /// The decoded `signature`.
    pub signature: Vec<u8>,
}

/// The `Signature` (or `Authorization: Signature`) header of draft-cavage is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CavageParseError {
    /// A parameter is not `name=value` or `name="value"`.
    #[error("malformed parameter list at byte {offset}: {expected}")]
    Syntax {
        /// Where parsing stopped.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// A parameter is given twice.
    #[error("parameter {name:?} is given twice")]
    Duplicate {
        /// The parameter.
        name: String,
    },
    /// A required parameter is absent or empty.
    #[error("required parameter {name:?} is missing")]
    Missing {
        /// The parameter.
        name: &'static str,
    },
    /// `signature` is not base64.
    #[error("the signature parameter is not valid base64")]
    SignatureBase64,
    /// `created` or `expires` is not an integer.
    #[error("parameter {name:?} is not an integer: {value:?}")]
    NotInteger {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// `Authorization` does not use the `Signature` scheme.
    #[error("the Authorization header does not use the Signature scheme")]
    NotSignatureScheme,
    /// `headers` is given but names nothing. The signing string would be empty: a signature
    /// over it covers no part of any request, so it would verify on every request. draft-cavage
    /// gives no meaning to an empty list (only an absent one has a default), and none is read.
    #[error("the headers parameter names no header: the signature would cover nothing")]
    NoHeaders,
}

impl CavageSignature {
    /// Parameters for a new signature.
    pub fn new(key_id: impl Into<String>, headers: Vec<String>, signature: Vec<u8>) -> Self {
        Self {
            key_id: key_id.into(),
            algorithm: None,
            headers,
            headers_given: true,
            created: None,
            expires: None,
            signature,
        }
    }

    /// Sets `algorithm`.
    pub fn with_algorithm(mut self, algorithm: impl Into<String>) -> Self {
        self.algorithm = Some(algorithm.into());
        self
    }

    /// Sets `created`.
    pub fn with_created(mut self, created: i64) -> Self {
        self.created = Some(created);
        self
    }

    /// Sets `expires`.
    pub fn with_expires(mut self, expires: i64) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Parses the value of a `Signature` header.
    pub fn parse(value: &str) -> Result<Self, CavageParseError> {
        let raw = RawSignature::parse(value)?;
        let (headers, headers_given) = match &raw.headers {
            Some(list) => (
                list.split_ascii_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect(),
                true,
            ),
            None => (vec!["date".to_owned()], false),
        };
        Ok(Self {
            key_id: raw.key_id.into_owned(),
            algorithm: raw.algorithm.map(Cow::into_owned),
            headers,
            headers_given,
            created: raw.created,
            expires: raw.expires,
            signature: raw.signature,
        })
    }

    /// Parses the value of an `Authorization` header: `Signature <parameters>`.
    pub fn parse_authorization(value: &str) -> Result<Self, CavageParseError> {
        Self::parse(authorization_parameters(value)?)
    }

    /// The header value: `keyId="...",algorithm="...",created=...,expires=...,headers="...",
    /// signature="..."`. `headers` is left out when it was not given explicitly.
    pub fn to_header_value(&self) -> String {
        let mut out = String::new();
        write_header_value(
            &mut out,
            &HeaderValueParts {
                key_id: &self.key_id,
                algorithm: self.algorithm.as_deref(),
                created: self.created,
                expires: self.expires,
                headers: self.headers_given.then_some(self.headers.as_slice()),
                signature: &self.signature,
            },
        );
        out
    }
}

/// What a `Signature` header value says, borrowed.
pub(crate) struct HeaderValueParts<'a> {
    pub(crate) key_id: &'a str,
    pub(crate) algorithm: Option<&'a str>,
    pub(crate) created: Option<i64>,
    pub(crate) expires: Option<i64>,
    /// `None`: leave `headers` out.
    pub(crate) headers: Option<&'a [String]>,
    pub(crate) signature: &'a [u8],
}

/// Appends the `Signature` header value (see [`CavageSignature::to_header_value`]) to `out`.
pub(crate) fn write_header_value(out: &mut String, parts: &HeaderValueParts<'_>) {
    let headers_len: usize = parts
        .headers
        .unwrap_or_default()
        .iter()
        .map(|h| h.len() + 1)
        .sum();
    out.reserve(
        80 + 2 * parts.key_id.len()
            + parts.algorithm.map_or(0, str::len)
            + headers_len
            + parts.signature.len().div_ceil(3) * 4,
    );
    out.push_str("keyId=\"");
    push_escaped(out, parts.key_id);
    out.push('"');
    if let Some(algorithm) = parts.algorithm {
        out.push_str(",algorithm=\"");
        push_escaped(out, algorithm);
        out.push('"');
    }
    if let Some(created) = parts.created {
        let _ = write!(out, ",created={created}");
    }
    if let Some(expires) = parts.expires {
        let _ = write!(out, ",expires={expires}");
    }
    if let Some(headers) = parts.headers {
        out.push_str(",headers=\"");
        for (i, header) in headers.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            // A name read from a bare token or an escaped string may hold `"` or `\`.
            push_escaped(out, header);
        }
        out.push('"');
    }
    out.push_str(",signature=\"");
    base64::engine::general_purpose::STANDARD.encode_string(parts.signature, out);
    out.push('"');
}

/// The parameters of a `Signature` header, borrowed from the header value where no escape has
/// to be undone: what the verifier reads, without copying what it does not keep.
#[derive(Debug)]
pub(crate) struct RawSignature<'a> {
    pub(crate) key_id: Cow<'a, str>,
    pub(crate) algorithm: Option<Cow<'a, str>>,
    /// The `headers` list as given (not split, not lowercased).
    pub(crate) headers: Option<Cow<'a, str>>,
    pub(crate) created: Option<i64>,
    pub(crate) expires: Option<i64>,
    pub(crate) signature: Vec<u8>,
}

impl<'a> RawSignature<'a> {
    /// Parses the value of a `Signature` header; the checks and errors of
    /// [`CavageSignature::parse`].
    pub(crate) fn parse(value: &'a str) -> Result<Self, CavageParseError> {
        let mut key_id = None;
        let mut algorithm = None;
        let mut headers = None;
        let mut created = None;
        let mut expires = None;
        let mut signature = None;
        // Parameters this crate does not read, kept only to refuse duplicates.
        let mut others: Vec<&'a str> = Vec::new();
        parse_params(value, |name, value| {
            let slot = match name {
                "keyId" => &mut key_id,
                "algorithm" => &mut algorithm,
                "headers" => &mut headers,
                "created" => &mut created,
                "expires" => &mut expires,
                "signature" => &mut signature,
                other => {
                    if others.contains(&other) {
                        return Err(duplicate(other));
                    }
                    others.push(other);
                    return Ok(());
                }
            };
            if slot.is_some() {
                return Err(duplicate(name));
            }
            *slot = Some(value);
            Ok(())
        })?;
        let key_id = key_id
            .filter(|v: &Cow<'_, str>| !v.is_empty())
            .ok_or(CavageParseError::Missing { name: "keyId" })?;
        let signature = signature
            .filter(|v: &Cow<'_, str>| !v.is_empty())
            .ok_or(CavageParseError::Missing { name: "signature" })?;
        let signature =
            crate::digest::base64_decode(&signature).ok_or(CavageParseError::SignatureBase64)?;
        if headers
            .as_deref()
            .is_some_and(|list| list.split_ascii_whitespace().next().is_none())
        {
            return Err(CavageParseError::NoHeaders);
        }
        Ok(Self {
            key_id,
            algorithm,
            headers,
            created: integer("created", created.as_deref())?,
            expires: integer("expires", expires.as_deref())?,
            signature,
        })
    }
}

/// The parameters of an `Authorization: Signature <parameters>` value.
pub(crate) fn authorization_parameters(value: &str) -> Result<&str, CavageParseError> {
    let value = value.trim_start();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("signature") {
        return Err(CavageParseError::NotSignatureScheme);
    }
    Ok(rest)
}

fn duplicate(name: &str) -> CavageParseError {
    CavageParseError::Duplicate {
        name: name.to_owned(),
    }
}

fn integer(name: &'static str, value: Option<&str>) -> Result<Option<i64>, CavageParseError> {
    value
        .map(|v| {
            v.parse::<i64>().map_err(|_| CavageParseError::NotInteger {
                name,
                value: v.to_owned(),
            })
        })
        .transpose()
}

fn push_escaped(out: &mut String, value: &str) {
    if !value.contains(['\\', '"']) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        if matches!(c, '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Parses `name=value` pairs separated by commas and hands each to `param`; values may be
/// quoted strings with backslash escapes or bare tokens. Whitespace around separators is
/// ignored. Values are borrowed from `input` unless an escape had to be undone.
fn parse_params<'a>(
    input: &'a str,
    mut param: impl FnMut(&'a str, Cow<'a, str>) -> Result<(), CavageParseError>,
) -> Result<(), CavageParseError> {
    let bytes = input.as_bytes();
    let mut pos = 0;
    let syntax =
        |offset: usize, expected: &'static str| CavageParseError::Syntax { offset, expected };
    let skip_ws = |pos: &mut usize| {
        while matches!(bytes.get(*pos), Some(b' ' | b'\t')) {
            *pos += 1;
        }
    };
    loop {
        skip_ws(&mut pos);
        if pos >= bytes.len() {
            break;
        }
        let start = pos;
        while matches!(bytes.get(pos), Some(b) if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            pos += 1;
        }
        let name = input.get(start..pos).unwrap_or_default();
        if name.is_empty() {
            return Err(syntax(pos, "a parameter name"));
        }
        skip_ws(&mut pos);
        if bytes.get(pos) != Some(&b'=') {
            return Err(syntax(pos, "'=' after the parameter name"));
        }
        pos += 1;
        skip_ws(&mut pos);
        let value = if bytes.get(pos) == Some(&b'"') {
            pos += 1;
            let start = pos;
            let special = bytes.get(start..).and_then(find_quote_or_backslash);
            match special.map(|i| (start + i, bytes.get(start + i))) {
                // No escape: the value is the text up to the closing quote.
                Some((end, Some(b'"'))) => {
                    pos = end + 1;
                    Cow::Borrowed(input.get(start..end).unwrap_or_default())
                }
                Some((end, _)) => {
                    let (value, after) = unescape(bytes, start, end)?;
                    pos = after;
                    Cow::Owned(value)
                }
                None => return Err(syntax(bytes.len(), "a closing '\"'")),
            }
        } else {
            let start = pos;
            while matches!(bytes.get(pos), Some(b) if !matches!(b, b',' | b' ' | b'\t')) {
                pos += 1;
            }
            Cow::Borrowed(input.get(start..pos).unwrap_or_default())
        };
        param(name, value)?;
        skip_ws(&mut pos);
        match bytes.get(pos) {
            None => break,
            Some(b',') => pos += 1,
            Some(_) => return Err(syntax(pos, "',' between parameters")),
        }
    }
    Ok(())
}

/// The position of the first `"` or `\` in `bytes`. A signature value is a few hundred bytes
/// of base64, so this looks at eight bytes at a time (the bit trick of `memchr`'s fallback:
/// `(x - 0x01..01) & !x & 0x80..80` is non-zero when a byte of `x` is zero).
fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let (words, _) = bytes.as_chunks::<8>();
    let mut skipped = 0;
    for word in words {
        let word = u64::from_ne_bytes(*word);
        if has_zero_byte(word ^ QUOTES) || has_zero_byte(word ^ BACKSLASHES) {
            break;
        }
        skipped += 8;
    }
    bytes
        .get(skipped..)?
        .iter()
        .position(|b| matches!(b, b'"' | b'\\'))
        .map(|i| skipped + i)
}

/// Reads a quoted string with escapes: `start` is just after the opening quote, `first_escape`
/// the position of its first backslash. Returns the value and the position after the closing
/// quote.
fn unescape(
    bytes: &[u8],
    start: usize,
    first_escape: usize,
) -> Result<(String, usize), CavageParseError> {
    let syntax =
        |offset: usize, expected: &'static str| CavageParseError::Syntax { offset, expected };
    let mut value = bytes.get(start..first_escape).unwrap_or_default().to_vec();
    let mut pos = first_escape;
    loop {
        match bytes.get(pos) {
            None => return Err(syntax(pos, "a closing '\"'")),
            Some(b'"') => {
                pos += 1;
                break;
            }
            Some(b'\\') => {
                let escaped = bytes
                    .get(pos + 1)
                    .ok_or_else(|| syntax(pos, "an escaped character"))?;
                value.push(*escaped);
                pos += 2;
            }
            Some(&b) => {
                value.push(b);
                pos += 1;
            }
        }
    }
    // The input is UTF-8 and only ASCII backslashes were removed, so this cannot fail; the
    // check stays rather than an unwrap on header data.
    let value = String::from_utf8(value).map_err(|_| syntax(pos, "UTF-8 text"))?;
    Ok((value, pos))
}

/// Why a signing-string line could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LineError {
    /// A covered header is absent.
    Missing(String),
    /// `(created)` or `(expires)` is covered but the parameter is absent.
    MissingParameter(&'static str),
    /// A pseudo-header this crate does not know.
    UnknownPseudoHeader(String),
}

/// Builds the signing string ([draft-cavage-12 §2.3]). With `without_query`, the
/// `(request-target)` line leaves the query out, as some peers sign it.
///
/// [draft-cavage-12 §2.3]: https://datatracker.ietf.org/doc/html/draft-cavage-http-signatures-12#section-2.3
pub(crate) fn signing_string<S: AsRef<str>>(
    message: &Message<'_>,
    headers: &[S],
    created: Option<i64>,
    expires: Option<i64>,
    without_query: bool,
) -> Result<Vec<u8>, LineError> {
    let mut out = Vec::with_capacity(SIGNING_STRING_CAPACITY);
    for (i, name) in headers.iter().enumerate() {
        let name = name.as_ref();
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        let present = match name {
            "(request-target)" => {
                if let Some(method) = message.method {
                    out.extend(method.as_str().bytes().map(|b| b.to_ascii_lowercase()));
                }
                out.push(b' ');
                if without_query {
                    out.extend_from_slice(message.path().as_bytes());
                } else {
                    message.append_request_target(&mut out);
                }
                true
            }
            "(created)" => {
                let created = created.ok_or(LineError::MissingParameter("created"))?;
                push_integer(&mut out, created);
                true
            }
            "(expires)" => {
                let expires = expires.ok_or(LineError::MissingParameter("expires"))?;
                push_integer(&mut out, expires);
                true
            }
            pseudo if pseudo.starts_with('(') => {
                return Err(LineError::UnknownPseudoHeader(pseudo.to_owned()));
            }
            "host" => message.append_host_header(&mut out),
            field => message.append_header(field, &mut out),
        };
        if !present {
            return Err(LineError::Missing(name.to_owned()));
        }
    }
    Ok(out)
}

/// Room for a typical signing string (request target, host, date, digest, content type), so
/// that building one allocates once.
const SIGNING_STRING_CAPACITY: usize = 512;

fn push_integer(out: &mut Vec<u8>, value: i64) {
    let _ = write!(out, "{value}");
}

// Test code: a failed unwrap is a failed test.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn finding_a_quote_or_backslash_eight_bytes_at_a_time_agrees_with_a_byte_scan() {
        for len in 0..40 {
            for at in 0..=len {
                for special in [b'"', b'\\'] {
                    let mut bytes = vec![b'A'; len];
                    if let Some(byte) = bytes.get_mut(at) {
                        *byte = special;
                    }
                    // Bytes next to the ones searched for, to catch a wrong mask.
                    bytes.extend_from_slice(&[b'!', b'#', b'[', b']', 0x80, 0xdc]);
                    let expected = bytes.iter().position(|b| matches!(b, b'"' | b'\\'));
                    assert_eq!(find_quote_or_backslash(&bytes), expected, "{bytes:?}");
                    for start in 1..bytes.len().min(9) {
                        let tail = bytes.get(start..).unwrap_or_default();
                        let expected = tail.iter().position(|b| matches!(b, b'"' | b'\\'));
                        assert_eq!(find_quote_or_backslash(tail), expected, "{tail:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn values_are_borrowed_unless_an_escape_is_undone() {
        let raw = RawSignature::parse(
            r#"keyId="https://a.example/actor#key",algorithm=hs2019,headers="(request-target) date",signature="AAAA""#,
        )
        .unwrap();
        assert!(matches!(
            raw.key_id,
            Cow::Borrowed("https://a.example/actor#key")
        ));
        assert!(matches!(raw.algorithm, Some(Cow::Borrowed("hs2019"))));
        assert!(matches!(
            raw.headers,
            Some(Cow::Borrowed("(request-target) date"))
        ));
        let raw = RawSignature::parse(r#"keyId="a\"b\\c",signature="AAAA""#).unwrap();
        assert_eq!(raw.key_id, r#"a"b\c"#);
        assert!(matches!(raw.key_id, Cow::Owned(_)));
    }
}
