//! Signing: add `Host`, `Date`, a digest and the signature headers to a request.

use std::time::{Duration, SystemTime};

use http::header::{AUTHORIZATION, DATE, HOST};
use http::{HeaderValue, Method};

use crate::Standard;
use crate::algorithm::Algorithm;
use crate::cavage::{self, CavageSignature, LineError};
use crate::digest::{self, DigestAlgorithm};
use crate::key::{KeyError, SigningKey};
use crate::message::Message;
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
    /// Whether to write the RFC 9421 `alg` parameter.
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
    /// digests and `created`.
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
            include_alg: false,
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

    /// Writes the RFC 9421 `alg` parameter.
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
        let mut components: Vec<String> = match self.standard {
            Standard::Cavage => {
                let mut names = ["(request-target)", "host", "date"]
                    .map(String::from)
                    .to_vec();
                if self.expires_in.is_some() {
                    names.push("(expires)".to_owned());
                }
                names
            }
            Standard::Rfc9421 => ["@method", "@target-uri", "@authority", "date"]
                .map(String::from)
                .to_vec(),
        };
        if with_digest {
            components.push(match self.standard {
                Standard::Cavage => "digest".to_owned(),
                Standard::Rfc9421 => "content-digest".to_owned(),
            });
        }
        components
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
        let components = match &self.components {
            Some(components) => components.clone(),
            None => self.default_components(with_digest),
        };

        // What the client will send must be what is signed: write Host and Date explicitly.
        let headers = request.headers_mut();
        if let Some((name, value)) = digest_header {
            headers.insert(name, value);
        }
        if !headers.contains_key(DATE) {
            let date = HeaderValue::try_from(httpdate::fmt_http_date(now))
                .map_err(|_| SignError::InvalidHeaderValue { what: "the date" })?;
            headers.insert(DATE, date);
        }
        if !request.headers().contains_key(HOST)
            && let Some(authority) = request.uri().authority()
        {
            let host = HeaderValue::try_from(authority.as_str())
                .map_err(|_| SignError::InvalidHeaderValue { what: "the host" })?;
            request.headers_mut().insert(HOST, host);
        }

        match self.standard {
            Standard::Cavage => self.sign_cavage(request, components, created, expires),
            Standard::Rfc9421 => self.sign_rfc9421(request, components, created, expires),
        }
    }

    fn sign_cavage<B>(
        &self,
        request: &mut http::Request<B>,
        headers: Vec<String>,
        created: i64,
        expires: Option<i64>,
    ) -> Result<Signed, SignError> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_ascii_lowercase()).collect();
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
        let mut params = CavageSignature::new(self.key_id.clone(), headers.clone(), signature)
            .with_algorithm(algorithm_name);
        params.created = created;
        params.expires = expires;
        // Appendix C.1: a signature over `date` alone leaves `headers` out.
        params.headers_given = headers != ["date"];
        let value = params.to_header_value();
        let (name, value) = if self.use_authorization_header {
            (AUTHORIZATION, format!("Signature {value}"))
        } else {
            (rfc9421::SIGNATURE, value)
        };
        let value = HeaderValue::try_from(value)
            .map_err(|_| SignError::InvalidHeaderValue { what: "the key id" })?;
        request.headers_mut().insert(name, value);
        Ok(Signed {
            standard: Standard::Cavage,
            key_id: self.key_id.clone(),
            algorithm,
            covered: headers,
            signing_string: String::from_utf8_lossy(&base).into_owned(),
        })
    }

    fn sign_rfc9421<B>(
        &self,
        request: &mut http::Request<B>,
        components: Vec<String>,
        created: i64,
        expires: Option<i64>,
    ) -> Result<Signed, SignError> {
        let algorithm = self.key.algorithm();
        let components = components
            .iter()
            .map(|c| Component::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
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
        let serialized = params.serialize()?.to_owned();

        let message = Message::request(request, "https");
        if let Some(existing) = message.header_joined("signature-input") {
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
        let input_member = format!("{}={serialized}", label.as_str());
        let signature_member =
            format!("{}=:{}:", label.as_str(), digest::base64_encode(&signature));
        for (name, member) in [
            (rfc9421::SIGNATURE_INPUT, input_member),
            (rfc9421::SIGNATURE, signature_member),
        ] {
            // Another signature already present: add this one as a further dictionary member.
            let value = match request.headers().get(&name) {
                Some(existing) => {
                    format!("{}, {member}", String::from_utf8_lossy(existing.as_bytes()))
                }
                None => member,
            };
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
            signing_string: String::from_utf8_lossy(&base).into_owned(),
        })
    }
}
