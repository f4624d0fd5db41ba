//! draft-cavage-http-signatures-12, as the fediverse uses it: the `Signature` header (or
//! `Authorization: Signature ...`) and its signing string.
//!
//! The parameter list is not an RFC 8941 structured field (`keyId` has an uppercase letter), so
//! it has its own small parser, as in every fediverse server.

use std::fmt::Write as _;

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
        let params = parse_params(value)?;
        let find = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let key_id = find("keyId")
            .filter(|v| !v.is_empty())
            .ok_or(CavageParseError::Missing { name: "keyId" })?;
        let signature = find("signature")
            .filter(|v| !v.is_empty())
            .ok_or(CavageParseError::Missing { name: "signature" })?;
        let signature =
            crate::digest::base64_decode(signature).ok_or(CavageParseError::SignatureBase64)?;
        let integer = |name: &'static str| -> Result<Option<i64>, CavageParseError> {
            find(name)
                .map(|v| {
                    v.parse::<i64>().map_err(|_| CavageParseError::NotInteger {
                        name,
                        value: v.to_owned(),
                    })
                })
                .transpose()
        };
        let (headers, headers_given) = match find("headers") {
            Some(list) => (
                list.split_ascii_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect(),
                true,
            ),
            None => (vec!["date".to_owned()], false),
        };
        Ok(Self {
            key_id: key_id.to_owned(),
            algorithm: find("algorithm").map(str::to_owned),
            headers,
            headers_given,
            created: integer("created")?,
            expires: integer("expires")?,
            signature,
        })
    }

    /// Parses the value of an `Authorization` header: `Signature <parameters>`.
    pub fn parse_authorization(value: &str) -> Result<Self, CavageParseError> {
        let value = value.trim_start();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("signature") {
            return Err(CavageParseError::NotSignatureScheme);
        }
        Self::parse(rest)
    }

    /// The header value: `keyId="...",algorithm="...",created=...,expires=...,headers="...",
    /// signature="..."`. `headers` is left out when it was not given explicitly.
    pub fn to_header_value(&self) -> String {
        let mut out = String::with_capacity(128 + self.signature.len() * 4 / 3);
        let _ = write!(out, "keyId=\"{}\"", escape(&self.key_id));
        if let Some(algorithm) = &self.algorithm {
            let _ = write!(out, ",algorithm=\"{}\"", escape(algorithm));
        }
        if let Some(created) = self.created {
            let _ = write!(out, ",created={created}");
        }
        if let Some(expires) = self.expires {
            let _ = write!(out, ",expires={expires}");
        }
        if self.headers_given {
            let _ = write!(out, ",headers=\"{}\"", self.headers.join(" "));
        }
        let _ = write!(
            out,
            ",signature=\"{}\"",
            crate::digest::base64_encode(&self.signature)
        );
        out
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Parses `name=value` pairs separated by commas; values may be quoted strings with backslash
/// escapes or bare tokens. Whitespace around separators is ignored.
fn parse_params(input: &str) -> Result<Vec<(String, String)>, CavageParseError> {
    let bytes = input.as_bytes();
    let mut pos = 0;
    let mut params: Vec<(String, String)> = Vec::new();
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
            let mut value = Vec::new();
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
            String::from_utf8(value).map_err(|_| syntax(pos, "UTF-8 text"))?
        } else {
            let start = pos;
            while matches!(bytes.get(pos), Some(b) if !matches!(b, b',' | b' ' | b'\t')) {
                pos += 1;
            }
            input.get(start..pos).unwrap_or_default().to_owned()
        };
        if params.iter().any(|(k, _)| k == name) {
            return Err(CavageParseError::Duplicate {
                name: name.to_owned(),
            });
        }
        params.push((name.to_owned(), value));
        skip_ws(&mut pos);
        match bytes.get(pos) {
            None => break,
            Some(b',') => pos += 1,
            Some(_) => return Err(syntax(pos, "',' between parameters")),
        }
    }
    Ok(params)
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
pub(crate) fn signing_string(
    message: &Message<'_>,
    headers: &[String],
    created: Option<i64>,
    expires: Option<i64>,
    without_query: bool,
) -> Result<Vec<u8>, LineError> {
    let mut out = Vec::with_capacity(256);
    for (i, name) in headers.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        match name.as_str() {
            "(request-target)" => {
                let method = message
                    .method
                    .map(|m| m.as_str().to_ascii_lowercase())
                    .unwrap_or_default();
                out.extend_from_slice(method.as_bytes());
                out.push(b' ');
                if without_query {
                    out.extend_from_slice(message.path().as_bytes());
                } else {
                    out.extend_from_slice(message.request_target().as_bytes());
                }
            }
            "(created)" => {
                let created = created.ok_or(LineError::MissingParameter("created"))?;
                out.extend_from_slice(created.to_string().as_bytes());
            }
            "(expires)" => {
                let expires = expires.ok_or(LineError::MissingParameter("expires"))?;
                out.extend_from_slice(expires.to_string().as_bytes());
            }
            pseudo if pseudo.starts_with('(') => {
                return Err(LineError::UnknownPseudoHeader(pseudo.to_owned()));
            }
            "host" => {
                let host = message
                    .host_header()
                    .ok_or_else(|| LineError::Missing(name.clone()))?;
                out.extend_from_slice(&host);
            }
            field => {
                let value = message
                    .header_joined(field)
                    .ok_or_else(|| LineError::Missing(name.clone()))?;
                out.extend_from_slice(&value);
            }
        }
    }
    Ok(out)
}
