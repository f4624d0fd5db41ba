//! Signing: add `Host`, `Date`, a digest and the signature headers to a request.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use base64::Engine as _;

use http::header::{AUTHORIZATION, DATE, HOST};
use http::{HeaderValue, Method};

use crate::Standard;
use crate::algorithm::Algorithm;
use crate::cavage::{self, HeaderValueParts, LineError};
use crate::digest::{self, DigestAlgorithm};
use crate::key::{KeyError, SigningKey};
use crate::message::{Message, into_text};
use crate::rfc9421::{self, Component, ComponentError, Rfc9421ParseError, SignatureParams};
use crate::verify::unix_seconds;

/// Signs requests with one key under one standard.
///
/// Plain configuration: build it once per key and reuse it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Signer {
    /// The key.
    pub key: SigningKey,
    /// The key id published for the key (an actor's `publicKey.id`).
    pub key_id: String,
    /// The standard to sign with.
    pub standard: Standard,
    /// The covered components. `None`: the defaults, which depend on the standard and the
    /// method (see [`Signer::default_components`]). draft-cavage names are header names and
    /// `(request-target)`, `(created)`, `(expires)`; RFC 9421 names are component identifiers
    /// such as `@method` or `"@query-param";name="id"`.
    pub components: Option<Vec<String>>,
    /// The digest header to add (`Digest` for draft-cavage, `Content-Digest` for RFC 9421), or
    /// `None` to leave digests alone. Added to requests with a body, and to POST and PUT.
    pub digest: Option<DigestAlgorithm>,
    /// The RFC 9421 label.
    pub label: String,
    /// Set `expires` this long after `created`.
    pub expires_in: Option<Duration>,
    /// RFC 9421 `nonce`.
    pub nonce: Option<String>,
    /// RFC 9421 `tag`.
    pub tag: Option<String>,
    /// Whether to write the RFC 9421 `alg` parameter (the key's algorithm, by its registry name:
    /// `rsa-v1_5-sha256`, `rsa-pss-sha512`, `ecdsa-p256-sha256`, `ed25519`, `hmac-sha256`).
    /// On by default, so that a verifier need not guess the algorithm from the key; draft-cavage
    /// signatures name theirs in `algorithm` regardless.
    pub include_alg: bool,
    /// Whether to write `created` (RFC 9421). draft-cavage writes `created` only when
    /// `(created)` is covered.
    pub include_created: bool,
    /// Put the draft-cavage signature in `Authorization: Signature ...` instead of
    /// `Signature`.
    pub use_authorization_header: bool,
}

/// Signing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key cannot sign with the algorithm required.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A covered component is absent from the request (for example `host` with no Host header
    /// and no authority in the URI).
    #[error("covered component {component} is absent from the request")]
    MissingComponent {
        /// The component.
        component: String,
    },
    /// A covered component cannot be computed.
    #[error("covered component {component} is not usable: {reason}")]
    UnsupportedComponent {
        /// The component.
        component: String,
        /// Why.
        reason: String,
    },
    /// A component name or parameter cannot be written in a structured field.
    #[error("invalid component or parameter: {0}")]
    Invalid(#[from] Rfc9421ParseError),
    /// draft-cavage cannot carry this key's signatures as the fediverse reads them.
    #[error("draft-cavage signing is not supported with {algorithm} (use RFC 9421)")]
    UnsupportedAlgorithmForStandard {
        /// The key's algorithm.
        algorithm: Algorithm,
    },
    /// The request already carries a signature with this RFC 9421 label.
    #[error("the request already has a signature labelled {label:?}")]
    LabelInUse {
        /// The label.
        label: String,
    },
    /// A draft-cavage signature would cover no header: its signing string would be empty and
    /// the signature valid on any request (verifiers refuse it).
    #[error("a draft-cavage signature must cover at least one header")]
    NothingCovered,
    /// A value (key id, label, ...) cannot be written in a header.
    #[error("{what} cannot be written in a header")]
    InvalidHeaderValue {
        /// What it is.
        what: &'static str,
    },
}

/// What was signed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Signed {
    /// The standard.
    pub standard: Standard,
    /// The key id.
    pub key_id: String,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The covered components.
    pub covered: Vec<String>,
    /// The signing string or signature base.
    pub signing_string: String,
}

impl Signer {
    /// A signer for `key`, published as `key_id`, using RFC 9421 with label `sig1`, SHA-256
    /// digests, `created` and `alg`.
    pub fn new(key: SigningKey, key_id: impl Into<String>) -> Self {
        Self {
            key,
            key_id: key_id.into(),
            standard: Standard::Rfc9421,
            components: None,
            digest: Some(DigestAlgorithm::Sha256),
            label: "sig1".to_owned(),
            expires_in: None,
            nonce: None,
            tag: None,
            include_alg: true,
            include_created: true,
            use_authorization_header: false,
        }
    }

    /// Sets the standard.
    pub fn with_standard(mut self, standard: Standard) -> Self {
        self.standard = standard;
        self
    }

    /// Sets the covered components (see [`Signer::components`]).
    pub fn with_components<I, S>(mut self, components: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.components = Some(components.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the digest to add, or `None`.
    pub fn with_digest(mut self, digest: Option<DigestAlgorithm>) -> Self {
        self.digest = digest;
        self
    }

    /// Sets the RFC 9421 label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Sets `expires` to `created` plus `lifetime`.
    pub fn with_expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }

    /// Sets the RFC 9421 `nonce`.
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Sets the RFC 9421 `tag`.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Writes (or not) the RFC 9421 `alg` parameter; see [`Signer::include_alg`].
    pub fn with_alg_parameter(mut self, include: bool) -> Self {
        self.include_alg = include;
        self
    }

    /// Writes (or not) the RFC 9421 `created` parameter.
    pub fn with_created(mut self, include: bool) -> Self {
        self.include_created = include;
        self
    }

    /// Uses `Authorization: Signature` for draft-cavage.
    pub fn with_authorization_header(mut self, use_it: bool) -> Self {
        self.use_authorization_header = use_it;
        self
    }

    /// The components covered when [`Signer::components`] is `None`:
    ///
    /// - draft-cavage: `(request-target) host date`, plus `(expires)` when
    ///   [`Signer::expires_in`] is set and `digest` when a digest is added (what Mastodon sends
    ///   and requires);
    /// - RFC 9421: `@method @target-uri @authority date`, plus `content-digest` when a digest is
    ///   added.
    pub fn default_components(&self, with_digest: bool) -> Vec<String> {
        self.default_names(with_digest).map(String::from).collect()
    }

    /// [`Signer::default_components`], borrowed.
    fn default_names(&self, with_digest: bool) -> impl Iterator<Item = &'static str> {
        let (names, expires, digest): (&[&'static str], _, _) = match self.standard {
            Standard::Cavage => (
                &["(request-target)", "host", "date"],
                self.expires_in.map(|_| "(expires)"),
                "digest",
            ),
            Standard::Rfc9421 => (
                &["@method", "@target-uri", "@authority", "date"],
                None,
                "content-digest",
            ),
        };
        names
            .iter()
            .copied()
            .chain(expires)
            .chain(with_digest.then_some(digest))
    }

    /// Signs a request whose body is `request.body()`.
    pub fn sign<B: AsRef<[u8]>>(
        &self,
        request: &mut http::Request<B>,
        now: SystemTime,
    ) -> Result<Signed, SignError> {
        let digest_header = self.digest_header(request.method(), request.body().as_ref());
        self.sign_inner(request, digest_header, now)
    }

    /// Signs a request whose body bytes are `body` (for body types that are not bytes).
    pub fn sign_with_body<B>(
        &self,
        request: &mut http::Request<B>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Signed, SignError> {
        let digest_header = self.digest_header(request.method(), body);
        self.sign_inner(request, digest_header, now)
    }

    fn digest_header(
        &self,
        method: &Method,
        body: &[u8],
    ) -> Option<(http::HeaderName, HeaderValue)> {
        let algorithm = self.digest?;
        if body.is_empty() && !matches!(*method, Method::POST | Method::PUT) {
            return None;
        }
        Some(match self.standard {
            Standard::Cavage => (digest::DIGEST, algorithm.digest_header(body)),
            Standard::Rfc9421 => (
                digest::CONTENT_DIGEST,
                algorithm.content_digest_header(body),
            ),
        })
    }

    fn sign_inner<B>(
        &self,
        request: &mut http::Request<B>,
        digest_header: Option<(http::HeaderName, HeaderValue)>,
        now: SystemTime,
    ) -> Result<Signed, SignError> {
        let created = unix_seconds(now);
        let expires = self.expires_in.map(|lifetime| {
            created.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX))
        });
        let with_digest = digest_header.is_some();

        // What the client will send must be what is signed: write Host and Date explicitly.
        // Room for them, the digest and the signature headers, so that the map grows once (if
        // it cannot, the inserts below behave as they would without this).
        let headers = request.headers_mut();
        let _ = headers.try_reserve(5);
        if let Some((name, value)) = digest_header {
            headers.insert(name, value);
        }
        if !headers.contains_key(DATE) {
            headers.insert(DATE, http_date(now)?);
        }
        if !request.headers().contains_key(HOST)
            && let Some(authority) = request.uri().authority()
        {
            let host = HeaderValue::try_from(authority.as_str())
                .map_err(|_| SignError::InvalidHeaderValue { what: "the host" })?;
            request.headers_mut().insert(HOST, host);
        }

        match self.standard {
            Standard::Cavage => {
                let headers = match &self.components {
                    Some(components) => components.clone(),
                    None => self.default_components(with_digest),
                };
                self.sign_cavage(request, headers, created, expires)
            }
            Standard::Rfc9421 => {
                let components = match &self.components {
                    Some(components) => components
                        .iter()
                        .map(|c| Component::parse(c))
                        .collect::<Result<Vec<_>, _>>()?,
                    None => self
                        .default_names(with_digest)
                        .map(Component::parse)
                        .collect::<Result<Vec<_>, _>>()?,
                };
                self.sign_rfc9421(request, components, created, expires)
            }
        }
    }

    fn sign_cavage<B>(
        &self,
        request: &mut http::Request<B>,
        mut headers: Vec<String>,
        created: i64,
        expires: Option<i64>,
    ) -> Result<Signed, SignError> {
        for header in &mut headers {
            header.make_ascii_lowercase();
        }
        if headers.is_empty() {
            return Err(SignError::NothingCovered);
        }
        let algorithm = self.key.algorithm();
        let uses_pseudo_time = headers.iter().any(|h| h == "(created)" || h == "(expires)");
        // `rsa-sha256` is what every fediverse server reads; `hs2019` ("from the key") is needed
        // for `(created)`/`(expires)` and for non-RSA keys.
        let algorithm_name = match algorithm {
            Algorithm::RsaV1_5Sha256 if !uses_pseudo_time => "rsa-sha256",
            Algorithm::RsaV1_5Sha256 | Algorithm::Ed25519 | Algorithm::HmacSha256 => "hs2019",
            other => return Err(SignError::UnsupportedAlgorithmForStandard { algorithm: other }),
        };
        let created = headers.iter().any(|h| h == "(created)").then_some(created);
        let expires = expires.filter(|_| headers.iter().any(|h| h == "(expires)"));
        let message = Message::request(request, "https");
        let base = cavage::signing_string(&message, &headers, created, expires, false).map_err(
            |e| match e {
                LineError::Missing(component) => SignError::MissingComponent { component },
                LineError::MissingParameter(name) => SignError::MissingComponent {
                    component: format!("({name})"),
                },
                LineError::UnknownPseudoHeader(component) => SignError::UnsupportedComponent {
                    component,
                    reason: "unknown pseudo-header".to_owned(),
                },
            },
        )?;
        let signature = self.key.sign_bytes(algorithm, &base)?;
        let (name, mut value) = if self.use_authorization_header {
            (AUTHORIZATION, String::from("Signature "))
        } else {
            (rfc9421::SIGNATURE, String::new())
        };
        cavage::write_header_value(
            &mut value,
            &HeaderValueParts {
                key_id: &self.key_id,
                algorithm: Some(algorithm_name),
                created,
                expires,
                // Appendix C.1: a signature over `date` alone leaves `headers` out.
                headers: (headers != ["date"]).then_some(headers.as_slice()),
                signature: &signature,
            },
        );
        let value = HeaderValue::try_from(value)
            .map_err(|_| SignError::InvalidHeaderValue { what: "the key id" })?;
        request.headers_mut().insert(name, value);
        Ok(Signed {
            standard: Standard::Cavage,
            key_id: self.key_id.clone(),
            algorithm,
            covered: headers,
            signing_string: into_text(base),
        })
    }

    fn sign_rfc9421<B>(
        &self,
        request: &mut http::Request<B>,
        components: Vec<Component>,
        created: i64,
        expires: Option<i64>,
    ) -> Result<Signed, SignError> {
        let algorithm = self.key.algorithm();
        let mut params = SignatureParams::new(components).with_keyid(self.key_id.clone());
        if self.include_created {
            params = params.with_created(created);
        }
        params.expires = expires;
        if self.include_alg {
            params = params.with_alg(algorithm.name());
        }
        params.nonce.clone_from(&self.nonce);
        params.tag.clone_from(&self.tag);
        params.serialize()?;

        let message = Message::request(request, "https");
        if let Some(existing) = message.header_joined(&rfc9421::SIGNATURE_INPUT) {
            let existing = String::from_utf8_lossy(&existing);
            if rfc9421::parse_signature_input(&existing)
                .map(|inputs| inputs.iter().any(|(l, _)| *l == self.label))
                .unwrap_or(false)
            {
                return Err(SignError::LabelInUse {
                    label: self.label.clone(),
                });
            }
        }
        let base = rfc9421::signature_base(&message, &params).map_err(|e| match e {
            ComponentError::Missing { component } => SignError::MissingComponent { component },
            ComponentError::Unsupported { component, reason } => SignError::UnsupportedComponent {
                component,
                reason: reason.to_owned(),
            },
            ComponentError::Duplicate { component } => SignError::UnsupportedComponent {
                component,
                reason: "covered twice".to_owned(),
            },
            ComponentError::InvalidStructuredField { component, reason } => {
                SignError::UnsupportedComponent { component, reason }
            }
            ComponentError::Identifier(e) => SignError::Invalid(e),
        })?;
        let signature = self.key.sign_bytes(algorithm, &base)?;
        let label = sfv::KeyRef::from_str(&self.label)
            .map_err(|_| SignError::InvalidHeaderValue { what: "the label" })?;
        let encoded_len = signature.len().div_ceil(3) * 4;
        for name in [rfc9421::SIGNATURE_INPUT, rfc9421::SIGNATURE] {
            // Another signature already present: add this one as a further dictionary member.
            let existing = request.headers().get(&name).map(HeaderValue::as_bytes);
            let mut value = String::with_capacity(
                existing.map_or(0, |e| e.len() + 2)
                    + label.as_str().len()
                    + 3
                    + params.serialized.len().max(encoded_len),
            );
            if let Some(existing) = existing {
                value.push_str(&String::from_utf8_lossy(existing));
                value.push_str(", ");
            }
            value.push_str(label.as_str());
            value.push('=');
            if name == rfc9421::SIGNATURE_INPUT {
                value.push_str(&params.serialized);
            } else {
                value.push(':');
                base64::engine::general_purpose::STANDARD.encode_string(&signature, &mut value);
                value.push(':');
            }
            let value =
                HeaderValue::try_from(value).map_err(|_| SignError::InvalidHeaderValue {
                    what: "the signature",
                })?;
            request.headers_mut().insert(name, value);
        }
        Ok(Signed {
            standard: Standard::Rfc9421,
            key_id: self.key_id.clone(),
            algorithm,
            covered: params.components.iter().map(ToString::to_string).collect(),
            signing_string: into_text(base),
        })
    }
}

/// `now` as an HTTP date (IMF-fixdate, always 29 bytes), formatted without a heap string.
fn http_date(now: SystemTime) -> Result<HeaderValue, SignError> {
    const LEN: usize = 29;
    // An HTTP date has four digits of year: a later time has none (and `httpdate` panics).
    if unix_seconds(now) > crate::verify::LAST_HTTP_DATE {
        return Err(SignError::InvalidHeaderValue {
            what: "the date (after the year 9999)",
        });
    }
    let mut buffer = [0_u8; LEN];
    let mut rest: &mut [u8] = &mut buffer;
    write!(rest, "{}", httpdate::HttpDate::from(now))
        .map_err(|_| SignError::InvalidHeaderValue { what: "the date" })?;
    let written = LEN - rest.len();
    HeaderValue::from_bytes(buffer.get(..written).unwrap_or_default())
        .map_err(|_| SignError::InvalidHeaderValue { what: "the date" })
}
