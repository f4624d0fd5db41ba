//! Verification: parse a signed message (learning the key id), then check it against a key,
//! as many times as needed.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderName, Method};

use crate::Standard;
use crate::algorithm::Algorithm;
use crate::cavage::{self, CavageParseError, LineError, RawSignature};
use crate::digest::{self, DigestCheck, DigestError};
use crate::key::{KeyKind, SignatureError, VerifyingKey};
use crate::message::{Message, into_text};
use crate::rfc9421::{self, ComponentError, Rfc9421ParseError};

/// What a verifier requires beyond a signature that checks out.
///
/// [`Policy::fediverse`] (the default) is what Mastodon and most of the network enforce;
/// [`Policy::rfc`] checks only what the standards themselves require.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// How far in the past the signature time (`created`, or a covered `Date`) may be.
    /// `None`: no limit.
    pub max_age: Option<Duration>,
    /// How far in the future the signature time may be (clock skew). `None`: no limit, except
    /// for a draft-cavage `created`, which draft-cavage-12 §2.1.4 says must not be in the future
    /// at all: with `None` it gets no allowance (a `created` one second ahead is refused).
    pub max_future_skew: Option<Duration>,
    /// Leeway after `expires` before a signature counts as expired.
    pub expires_leeway: Duration,
    /// The signature must carry a time: a covered `Date` header or `created`.
    pub require_date: bool,
    /// The signature must cover the request target (`(request-target)`, `@request-target`,
    /// `@target-uri`, `@path`) or a digest.
    pub require_target_or_digest: bool,
    /// A GET request's signature must cover the host (`host`, `@authority`, `@target-uri`).
    pub require_host_on_get: bool,
    /// A POST request's signature must cover a digest (`digest` or `content-digest`).
    pub require_digest_on_post: bool,
    /// Smallest RSA key accepted, in bits.
    pub min_rsa_bits: usize,
    /// Accept a draft-cavage `(request-target)` signed without the query string, as some peers
    /// compute it.
    pub accept_request_target_without_query: bool,
}

impl Policy {
    /// The fediverse's rules, as Mastodon applies them: a date or `created` within an hour
    /// either way, `expires` honoured, request target or digest covered, host covered on GET,
    /// digest covered on POST, RSA keys of at least 2048 bits.
    pub fn fediverse() -> Self {
        Self {
            max_age: Some(Duration::from_secs(3600)),
            max_future_skew: Some(Duration::from_secs(3600)),
            expires_leeway: Duration::ZERO,
            require_date: true,
            require_target_or_digest: true,
            require_host_on_get: true,
            require_digest_on_post: true,
            min_rsa_bits: 2048,
            accept_request_target_without_query: true,
        }
    }

    /// Only what the standards require: `expires` honoured, a draft-cavage `created` in the
    /// future refused (draft-cavage-12 §2.1.4; no clock-skew allowance), any digest present
    /// compared with the body, nothing required to be covered, no age limit, RSA keys of at
    /// least 1024 bits (the draft-cavage test key is RSA-1024).
    pub fn rfc() -> Self {
        Self {
            max_age: None,
            max_future_skew: None,
            expires_leeway: Duration::ZERO,
            require_date: false,
            require_target_or_digest: false,
            require_host_on_get: false,
            require_digest_on_post: false,
            min_rsa_bits: 1024,
            accept_request_target_without_query: false,
        }
    }

    /// Sets [`Policy::max_age`].
    pub fn with_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// Sets [`Policy::max_future_skew`].
    pub fn with_max_future_skew(mut self, skew: Option<Duration>) -> Self {
        self.max_future_skew = skew;
        self
    }

    /// Sets [`Policy::expires_leeway`].
    pub fn with_expires_leeway(mut self, leeway: Duration) -> Self {
        self.expires_leeway = leeway;
        self
    }

    /// Sets [`Policy::min_rsa_bits`].
    pub fn with_min_rsa_bits(mut self, bits: usize) -> Self {
        self.min_rsa_bits = bits;
        self
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::fediverse()
    }
}

/// A coverage rule of the [`Policy`] that a signature does not meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// The request target or a digest must be covered.
    RequestTargetOrDigest,
    /// The host must be covered on GET.
    HostOnGet,
    /// A digest must be covered on POST.
    DigestOnPost,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Requirement::RequestTargetOrDigest => {
                "the signature must cover the request target or a digest"
            }
            Requirement::HostOnGet => "a GET request's signature must cover the host",
            Requirement::DigestOnPost => {
                "a POST request's signature must cover a digest (digest or content-digest)"
            }
        })
    }
}

/// A malformed signature header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// A draft-cavage `Signature` or `Authorization` header.
    #[error(transparent)]
    Cavage(#[from] CavageParseError),
    /// An RFC 9421 `Signature-Input` or `Signature` header.
    #[error(transparent)]
    Rfc9421(#[from] Rfc9421ParseError),
    /// The header value is not visible ASCII / UTF-8 text.
    #[error("the value is not text")]
    NotText,
}

/// Which check failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// No `Signature-Input`, `Signature` or `Authorization: Signature` header.
    #[error(
        "the message is not signed (no Signature, Signature-Input or Authorization: Signature header)"
    )]
    NoSignature,
    /// A signature header is malformed.
    #[error("malformed {header} header: {source}")]
    MalformedHeader {
        /// The header.
        header: HeaderName,
        /// What is wrong with it.
        #[source]
        source: HeaderError,
    },
    /// `Signature-Input` has no signature with the label the verifier asked for.
    #[error("no signature labelled {label:?}")]
    LabelNotFound {
        /// The label asked for.
        label: String,
    },
    /// A required signature parameter is absent.
    #[error("the signature has no {name} parameter")]
    MissingParameter {
        /// The parameter.
        name: &'static str,
    },
    /// The algorithm is not one this crate implements.
    #[error("unknown signature algorithm {name:?}")]
    UnknownAlgorithm {
        /// The algorithm as given.
        name: String,
    },
    /// The key's type does not fit the signature's algorithm.
    #[error("a {key} key cannot check a {algorithm} signature")]
    AlgorithmKeyMismatch {
        /// The signature's algorithm.
        algorithm: Algorithm,
        /// The key's kind.
        key: KeyKind,
    },
    /// The RSA key is smaller than the policy allows.
    #[error("the RSA key has {bits} bits, the policy requires at least {min}")]
    KeyTooSmall {
        /// Size of the key.
        bits: usize,
        /// The policy's minimum.
        min: usize,
    },
    /// A covered component is absent from the message.
    #[error("covered component {component} is absent from the message")]
    MissingComponent {
        /// The component.
        component: String,
    },
    /// A covered component cannot be computed (unknown derived component, duplicate, `req`,
    /// ...).
    #[error("covered component {component} is not usable: {reason}")]
    UnsupportedComponent {
        /// The component.
        component: String,
        /// Why.
        reason: String,
    },
    /// draft-cavage forbids `(created)`/`(expires)` with `rsa-*`, `hmac-*` and `ecdsa-*`
    /// algorithms (§2.3).
    #[error(
        "{pseudo_header} may not be covered with algorithm {algorithm:?} (draft-cavage-12 §2.3)"
    )]
    PseudoHeaderNotAllowed {
        /// `(created)` or `(expires)`.
        pseudo_header: &'static str,
        /// The algorithm given.
        algorithm: String,
    },
    /// The signature does not cover what the policy requires.
    #[error("{requirement}")]
    NotCovered {
        /// The rule.
        requirement: Requirement,
    },
    /// The signature carries no time: neither `created` nor a covered `Date` header.
    #[error("the signature carries no time: it covers no Date header and has no created parameter")]
    MissingDate,
    /// The covered `Date` header cannot be parsed.
    #[error("the Date header {value:?} is not an HTTP date")]
    InvalidDate {
        /// The header value.
        value: String,
    },
    /// `expires` has passed.
    #[error("the signature expired at {} (now {})", unix(*expires), unix(*now))]
    Expired {
        /// `expires`, Unix seconds.
        expires: i64,
        /// The verification time, Unix seconds.
        now: i64,
    },
    /// The signature time is older than the policy allows.
    #[error("the signature was made at {} ({source_of_time}), more than {max_age}s before now ({})", unix(*signed), unix(*now))]
    TooOld {
        /// The signature time, Unix seconds.
        signed: i64,
        /// `created` or `date`.
        source_of_time: &'static str,
        /// The verification time, Unix seconds.
        now: i64,
        /// The policy's limit, seconds.
        max_age: u64,
    },
    /// The signature time is further in the future than the policy allows; for a draft-cavage
    /// `created` with no skew allowance in the policy, in the future at all (`max_skew` 0).
    #[error("the signature claims to be made at {} ({source_of_time}), more than {max_skew}s after now ({})", unix(*signed), unix(*now))]
    FutureDated {
        /// The signature time, Unix seconds.
        signed: i64,
        /// `created` or `date`.
        source_of_time: &'static str,
        /// The verification time, Unix seconds.
        now: i64,
        /// The policy's limit, seconds.
        max_skew: u64,
    },
    /// The body does not match a digest header, or the header cannot be checked.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// The signature bytes do not match the signing string under this key.
    #[error("the {algorithm} signature does not match the signing string under this key")]
    BadSignature {
        /// The algorithm checked.
        algorithm: Algorithm,
    },
}

/// Verification failed: which check, and what was being checked.
///
/// The details live behind one pointer, so that a `Result` carrying this error stays as small
/// as its success value.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyError(Box<ErrorDetails>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct ErrorDetails {
    kind: VerifyErrorKind,
    standard: Option<Standard>,
    key_id: Option<String>,
    signing_string: Option<String>,
}

impl VerifyError {
    fn new(kind: VerifyErrorKind) -> Self {
        Self::with_context(kind, None, None, None)
    }

    fn with_context(
        kind: VerifyErrorKind,
        standard: Option<Standard>,
        key_id: Option<String>,
        signing_string: Option<String>,
    ) -> Self {
        Self(Box::new(ErrorDetails {
            kind,
            standard,
            key_id,
            signing_string,
        }))
    }

    /// Which check failed.
    pub fn kind(&self) -> &VerifyErrorKind {
        &self.0.kind
    }

    /// Which check failed, taken out of the error.
    pub fn into_kind(self) -> VerifyErrorKind {
        self.0.kind
    }

    /// The standard of the signature, once known.
    pub fn standard(&self) -> Option<Standard> {
        self.0.standard
    }

    /// The key id, once known.
    pub fn key_id(&self) -> Option<&str> {
        self.0.key_id.as_deref()
    }

    /// The signing string (draft-cavage) or signature base (RFC 9421), once built.
    pub fn signing_string(&self) -> Option<&str> {
        self.0.signing_string.as_deref()
    }
}

impl fmt::Debug for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyError")
            .field("kind", &self.0.kind)
            .field("standard", &self.0.standard)
            .field("key_id", &self.0.key_id)
            .field("signing_string", &self.0.signing_string)
            .finish()
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.kind)?;
        if let Some(key_id) = &self.0.key_id {
            write!(f, " (keyId {key_id:?})")?;
        }
        if let Some(signing_string) = &self.0.signing_string {
            write!(f, "; signing string: {signing_string:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0.kind)
    }
}

impl From<VerifyErrorKind> for VerifyError {
    fn from(kind: VerifyErrorKind) -> Self {
        Self::new(kind)
    }
}

/// A signature that checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The standard of the signature.
    pub standard: Standard,
    /// The key id that signed.
    pub key_id: String,
    /// The algorithm checked.
    pub algorithm: Algorithm,
    /// The covered components, as named in the signature. The usual names are borrowed from
    /// static strings, so that this list costs one allocation.
    pub covered: Vec<Cow<'static, str>>,
    /// The signing string or signature base that matched.
    pub signing_string: String,
    /// The RFC 9421 label.
    pub label: Option<String>,
    /// `created`, Unix seconds.
    pub created: Option<i64>,
    /// `expires`, Unix seconds.
    pub expires: Option<i64>,
    /// RFC 9421 `nonce`, for the caller's replay cache.
    pub nonce: Option<String>,
    /// RFC 9421 `tag`.
    pub tag: Option<String>,
    /// Whether the draft-cavage `(request-target)` matched only without the query string.
    pub matched_without_query: bool,
    /// The digests compared with the body.
    pub digests: DigestCheck,
}

/// Parses and checks signatures under a [`Policy`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Verifier {
    /// The rules.
    pub policy: Policy,
    /// The RFC 9421 label to verify; `None`: the first signature in `Signature-Input`.
    pub label: Option<String>,
    /// The scheme of the target URI when the request URI has none (a server sees `/inbox`):
    /// `https` unless set.
    pub default_scheme: Option<String>,
}

impl Verifier {
    /// A verifier with `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            label: None,
            default_scheme: None,
        }
    }

    /// Verifies the signature with this RFC 9421 label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the scheme assumed for origin-form request URIs (`http` behind a TLS-terminating
    /// proxy that forwards plain HTTP, for example, is still `https` for the sender).
    pub fn with_default_scheme(mut self, scheme: impl Into<String>) -> Self {
        self.default_scheme = Some(scheme.into());
        self
    }

    /// Parses the signature of a request whose body is `request.body()`.
    pub fn parse_request<B: AsRef<[u8]>>(
        &self,
        request: &http::Request<B>,
        now: SystemTime,
    ) -> Result<Unverified, VerifyError> {
        self.parse_request_with_body(request, request.body().as_ref(), now)
    }

    /// Parses the signature of a request and runs every check that needs no key: syntax,
    /// covered components, time, digest. The result names the key id; fetch that key and
    /// call [`Unverified::verify`].
    pub fn parse_request_with_body<B>(
        &self,
        request: &http::Request<B>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Unverified, VerifyError> {
        self.parse_request_with_digests(request, &mut digest::BodyDigests::new(body), now)
    }

    /// [`Verifier::parse_request_with_body`] for the body of `digests`, whose digests an
    /// earlier [`digest::check_body_digests`] may have computed already: they are not computed
    /// again. The checks are the same.
    pub fn parse_request_with_digests<B>(
        &self,
        request: &http::Request<B>,
        digests: &mut digest::BodyDigests<'_>,
        now: SystemTime,
    ) -> Result<Unverified, VerifyError> {
        let scheme = self.default_scheme.as_deref().unwrap_or("https");
        let message = Message::request(request, scheme);
        self.parse_message(&message, digests, now)
    }

    /// Parses the RFC 9421 signature of a response (for example a signed fetch answer).
    pub fn parse_response_with_body<B>(
        &self,
        response: &http::Response<B>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Unverified, VerifyError> {
        let message = Message::response(response);
        self.parse_message(&message, &mut digest::BodyDigests::new(body), now)
    }

    /// Parses and verifies in one go, for a key already at hand.
    pub fn verify_request<B: AsRef<[u8]>>(
        &self,
        request: &http::Request<B>,
        key: &VerifyingKey,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        self.parse_request(request, now)?.into_verified(key)
    }

    fn parse_message(
        &self,
        message: &Message<'_>,
        digests: &mut digest::BodyDigests<'_>,
        now: SystemTime,
    ) -> Result<Unverified, VerifyError> {
        let now = unix_seconds(now);
        let mut unverified = if message.has_header(&rfc9421::SIGNATURE_INPUT) {
            self.parse_rfc9421(message)?
        } else if let Some(value) = header_text(message, &rfc9421::SIGNATURE)? {
            let parsed =
                RawSignature::parse(&value).map_err(|e| malformed(rfc9421::SIGNATURE, e.into()))?;
            parse_cavage(message, parsed, &self.policy)?
        } else if let Some(value) = message.headers.get(http::header::AUTHORIZATION) {
            let value = std::str::from_utf8(value.as_bytes())
                .map_err(|_| malformed(http::header::AUTHORIZATION, HeaderError::NotText))?;
            let parsed = cavage::authorization_parameters(value)
                .and_then(RawSignature::parse)
                .map_err(|e| malformed(http::header::AUTHORIZATION, e.into()))?;
            parse_cavage(message, parsed, &self.policy)?
        } else {
            return Err(VerifyErrorKind::NoSignature.into());
        };
        let context = |kind: VerifyErrorKind, u: &Unverified| {
            VerifyError::with_context(
                kind,
                Some(u.standard),
                Some(u.key_id.clone()),
                Some(u.signing_string().into_owned()),
            )
        };
        if let Err(kind) = self.check_policy(message, &unverified, now) {
            return Err(context(kind, &unverified));
        }
        match digest::check_body_digests(message.headers, digests) {
            Ok(check) => unverified.digests = check,
            Err(e) => return Err(context(e.into(), &unverified)),
        }
        unverified.min_rsa_bits = self.policy.min_rsa_bits;
        Ok(unverified)
    }

    fn parse_rfc9421(&self, message: &Message<'_>) -> Result<Unverified, VerifyError> {
        let input = header_text(message, &rfc9421::SIGNATURE_INPUT)?.unwrap_or_default();
        let signature = match header_text(message, &rfc9421::SIGNATURE)? {
            Some(signature) => signature,
            None => {
                return Err(malformed(
                    rfc9421::SIGNATURE,
                    Rfc9421ParseError::UnmatchedLabel {
                        label: String::new(),
                        present_in: "Signature-Input",
                    }
                    .into(),
                ));
            }
        };
        // The usual shape of the fields first; anything else is read the general way, which
        // also names what is wrong.
        let (label, mut params, signature_bytes) =
            match rfc9421::read_signature(&input, &signature, self.label.as_deref()) {
                Some(quick) => (quick.label, quick.params, quick.signature),
                None => self.read_signatures(&input, &signature)?,
            };
        let key_id = params.keyid.take().unwrap_or_default();
        let with_context = |kind: VerifyErrorKind| {
            VerifyError::with_context(kind, Some(Standard::Rfc9421), Some(key_id.clone()), None)
        };
        let (algorithm, declared_algorithm) = match &params.alg {
            Some(name) => {
                let algorithm = Algorithm::from_name(name).ok_or_else(|| {
                    with_context(VerifyErrorKind::UnknownAlgorithm { name: name.clone() })
                })?;
                (AlgorithmSpec::Explicit(algorithm), Some(algorithm.name()))
            }
            None => (AlgorithmSpec::FromKey, None),
        };
        let base = rfc9421::signature_base(message, &params)
            .map_err(|e| with_context(component_error(e)))?;
        let covered = params
            .components
            .iter()
            .map(|component| match component.parameters.is_empty() {
                true => component_name(&component.name),
                false => Cow::Owned(component.to_string()),
            })
            .collect();
        Ok(Unverified {
            standard: Standard::Rfc9421,
            key_id,
            algorithm,
            declared_algorithm,
            covered,
            base,
            base_without_query: None,
            signature: signature_bytes,
            label: Some(label),
            created: params.created,
            expires: params.expires,
            nonce: params.nonce,
            tag: params.tag,
            digests: DigestCheck::default(),
            min_rsa_bits: 0,
        })
    }

    /// Reads `Signature-Input` and `Signature` in general and picks the signature to verify:
    /// the label asked for, else the first.
    fn read_signatures(
        &self,
        input: &str,
        signature: &str,
    ) -> Result<(String, rfc9421::SignatureParams, Vec<u8>), VerifyError> {
        let inputs = rfc9421::parse_signature_input(input)
            .map_err(|e| malformed(rfc9421::SIGNATURE_INPUT, e.into()))?;
        let signatures = rfc9421::parse_signature(signature)
            .map_err(|e| malformed(rfc9421::SIGNATURE, e.into()))?;
        let (label, params) = match &self.label {
            Some(wanted) => inputs
                .into_iter()
                .find(|(l, _)| l == wanted)
                .ok_or_else(|| VerifyErrorKind::LabelNotFound {
                    label: wanted.clone(),
                })?,
            None => inputs.into_iter().next().ok_or_else(|| {
                malformed(rfc9421::SIGNATURE_INPUT, Rfc9421ParseError::Empty.into())
            })?,
        };
        let signature_bytes = signatures
            .into_iter()
            .find(|(l, _)| *l == label)
            .map(|(_, bytes)| bytes)
            .ok_or_else(|| {
                malformed(
                    rfc9421::SIGNATURE,
                    Rfc9421ParseError::UnmatchedLabel {
                        label: label.clone(),
                        present_in: "Signature-Input",
                    }
                    .into(),
                )
            })?;
        Ok((label, params, signature_bytes))
    }

    fn check_policy(
        &self,
        message: &Message<'_>,
        unverified: &Unverified,
        now: i64,
    ) -> Result<(), VerifyErrorKind> {
        let policy = &self.policy;
        let covers = Coverage::of(&unverified.covered);
        if policy.require_target_or_digest && !covers.digest && !covers.target {
            return Err(VerifyErrorKind::NotCovered {
                requirement: Requirement::RequestTargetOrDigest,
            });
        }
        if policy.require_host_on_get && message.method == Some(&Method::GET) && !covers.host {
            return Err(VerifyErrorKind::NotCovered {
                requirement: Requirement::HostOnGet,
            });
        }
        if policy.require_digest_on_post && message.method == Some(&Method::POST) && !covers.digest
        {
            return Err(VerifyErrorKind::NotCovered {
                requirement: Requirement::DigestOnPost,
            });
        }

        // Times: `expires` always; `created` and a covered Date against the window.
        if let Some(expires) = unverified.expires {
            let leeway = i64::try_from(policy.expires_leeway.as_secs()).unwrap_or(i64::MAX);
            if now > expires.saturating_add(leeway) {
                return Err(VerifyErrorKind::Expired { expires, now });
            }
        }
        // draft-cavage-12 §2.1.4: "a signature with a `created` timestamp value that is in the
        // future MUST NOT be processed". The policy's skew allowance, if it has one, still
        // applies (clocks differ); without one, none is granted.
        let created_skew = match unverified.standard {
            Standard::Cavage => Some(policy.max_future_skew.unwrap_or(Duration::ZERO)),
            Standard::Rfc9421 => policy.max_future_skew,
        };
        let created = unverified
            .created
            .map(|created| (created, "created", created_skew));
        let date = if covers.date {
            Some((signed_date(message)?, "date", policy.max_future_skew))
        } else {
            None
        };
        if created.is_none() && date.is_none() && policy.require_date {
            return Err(VerifyErrorKind::MissingDate);
        }
        for (signed, source_of_time, future_skew) in created.into_iter().chain(date) {
            if let Some(max_age) = policy.max_age {
                let limit = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
                if now.saturating_sub(signed) > limit {
                    return Err(VerifyErrorKind::TooOld {
                        signed,
                        source_of_time,
                        now,
                        max_age: max_age.as_secs(),
                    });
                }
            }
            if let Some(skew) = future_skew {
                let limit = i64::try_from(skew.as_secs()).unwrap_or(i64::MAX);
                if signed.saturating_sub(now) > limit {
                    return Err(VerifyErrorKind::FutureDated {
                        signed,
                        source_of_time,
                        now,
                        max_skew: skew.as_secs(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// What the covered components include, as far as the [`Policy`] asks.
#[derive(Default)]
struct Coverage {
    digest: bool,
    target: bool,
    host: bool,
    date: bool,
}

impl Coverage {
    fn of(covered: &[Cow<'static, str>]) -> Self {
        let mut coverage = Self::default();
        for name in covered {
            match name.as_ref() {
                "digest" | "content-digest" => coverage.digest = true,
                "(request-target)" | "@request-target" | "@path" => coverage.target = true,
                "@target-uri" => {
                    coverage.target = true;
                    coverage.host = true;
                }
                "host" | "@authority" => coverage.host = true,
                "date" => coverage.date = true,
                _ => {}
            }
        }
        coverage
    }
}

/// The covered `Date` header, in Unix seconds.
fn signed_date(message: &Message<'_>) -> Result<i64, VerifyErrorKind> {
    let value = message
        .header_joined(http::header::DATE)
        .unwrap_or_default();
    let parsed = std::str::from_utf8(&value)
        .ok()
        .and_then(|text| httpdate::parse_http_date(text.trim()).ok());
    match parsed {
        Some(time) => Ok(unix_seconds(time)),
        None => Err(VerifyErrorKind::InvalidDate {
            value: String::from_utf8_lossy(&value).into_owned(),
        }),
    }
}

/// How the algorithm is determined.
#[derive(Clone, Debug, PartialEq, Eq)]
enum AlgorithmSpec {
    /// Named by the signature.
    Explicit(Algorithm),
    /// draft-cavage `hs2019`, or RFC 9421 without `alg`: from the key.
    FromKey,
}

/// A parsed signature that passed every check needing no key. Ask [`Unverified::key_id`] for
/// the key, then [`Unverified::verify`]; verify again with a refreshed key if the first one
/// fails (the peer may have rotated it), without parsing again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unverified {
    standard: Standard,
    key_id: String,
    algorithm: AlgorithmSpec,
    /// As the signature names it; unknown names are refused while parsing, so this is static.
    declared_algorithm: Option<&'static str>,
    covered: Vec<Cow<'static, str>>,
    base: Vec<u8>,
    base_without_query: Option<Vec<u8>>,
    signature: Vec<u8>,
    label: Option<String>,
    created: Option<i64>,
    expires: Option<i64>,
    nonce: Option<String>,
    tag: Option<String>,
    digests: DigestCheck,
    min_rsa_bits: usize,
}

impl Unverified {
    /// The key id: the key to fetch.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The standard of the signature.
    pub fn standard(&self) -> Standard {
        self.standard
    }

    /// The algorithm as the signature names it (`rsa-sha256`, `hs2019`, `ed25519`, ...).
    pub fn declared_algorithm(&self) -> Option<&str> {
        self.declared_algorithm
    }

    /// The covered components, as named in the signature.
    pub fn covered(&self) -> &[Cow<'static, str>] {
        &self.covered
    }

    /// The signing string (draft-cavage) or signature base (RFC 9421), for display.
    pub fn signing_string(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.base)
    }

    /// The exact bytes that were signed.
    pub fn signing_bytes(&self) -> &[u8] {
        &self.base
    }

    /// The RFC 9421 label.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Checks the signature with `key`. Can be called again with another key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<Verified, VerifyError> {
        let (algorithm, matched_without_query) =
            self.check(key).map_err(|kind| self.error(kind))?;
        let signing_bytes = match (matched_without_query, &self.base_without_query) {
            (true, Some(alternative)) => alternative,
            _ => &self.base,
        };
        Ok(Verified {
            standard: self.standard,
            key_id: self.key_id.clone(),
            algorithm,
            covered: self.covered.clone(),
            signing_string: into_text(signing_bytes.clone()),
            label: self.label.clone(),
            created: self.created,
            expires: self.expires,
            nonce: self.nonce.clone(),
            tag: self.tag.clone(),
            matched_without_query,
            digests: self.digests.clone(),
        })
    }

    /// [`Unverified::verify`] when no other key will be tried: what the result shares with
    /// `self` is moved into it rather than copied.
    fn into_verified(self, key: &VerifyingKey) -> Result<Verified, VerifyError> {
        let (algorithm, matched_without_query) =
            self.check(key).map_err(|kind| self.error(kind))?;
        let signing_bytes = match (matched_without_query, self.base_without_query) {
            (true, Some(alternative)) => alternative,
            _ => self.base,
        };
        Ok(Verified {
            standard: self.standard,
            key_id: self.key_id,
            algorithm,
            covered: self.covered,
            signing_string: into_text(signing_bytes),
            label: self.label,
            created: self.created,
            expires: self.expires,
            nonce: self.nonce,
            tag: self.tag,
            matched_without_query,
            digests: self.digests,
        })
    }

    fn error(&self, kind: VerifyErrorKind) -> VerifyError {
        VerifyError::with_context(
            kind,
            Some(self.standard),
            Some(self.key_id.clone()),
            Some(self.signing_string().into_owned()),
        )
    }

    /// The signature check proper: the algorithm checked, and whether the signing string
    /// matched only without the query.
    fn check(&self, key: &VerifyingKey) -> Result<(Algorithm, bool), VerifyErrorKind> {
        let kind = key.kind();
        if let KeyKind::Rsa { bits } = kind
            && bits < self.min_rsa_bits
        {
            return Err(VerifyErrorKind::KeyTooSmall {
                bits,
                min: self.min_rsa_bits,
            });
        }
        let algorithm = match &self.algorithm {
            AlgorithmSpec::Explicit(algorithm) => *algorithm,
            AlgorithmSpec::FromKey => key.algorithm(),
        };
        if !kind.supports(algorithm) {
            return Err(VerifyErrorKind::AlgorithmKeyMismatch {
                algorithm,
                key: kind,
            });
        }
        // draft-cavage hs2019 with an EC key carries an ASN.1 DER ECDSA signature.
        let cavage_ecdsa =
            self.standard == Standard::Cavage && algorithm == Algorithm::EcdsaP256Sha256;
        let check = |base: &[u8]| {
            if cavage_ecdsa {
                key.verify_ecdsa_asn1(base, &self.signature)
            } else {
                key.verify_bytes(algorithm, base, &self.signature)
            }
        };
        match check(&self.base) {
            Ok(()) => Ok((algorithm, false)),
            Err(SignatureError::AlgorithmMismatch { algorithm, key }) => {
                Err(VerifyErrorKind::AlgorithmKeyMismatch { algorithm, key })
            }
            Err(SignatureError::Mismatch) => match &self.base_without_query {
                Some(alternative) if check(alternative).is_ok() => Ok((algorithm, true)),
                _ => Err(VerifyErrorKind::BadSignature { algorithm }),
            },
        }
    }
}

fn parse_cavage(
    message: &Message<'_>,
    parsed: RawSignature<'_>,
    policy: &Policy,
) -> Result<Unverified, VerifyError> {
    let with_context = |kind: VerifyErrorKind| {
        VerifyError::with_context(
            kind,
            Some(Standard::Cavage),
            Some(parsed.key_id.as_ref().to_owned()),
            None,
        )
    };
    let (algorithm, declared_algorithm) = match parsed.algorithm.as_deref() {
        None => (AlgorithmSpec::FromKey, None),
        Some("hs2019") => (AlgorithmSpec::FromKey, Some("hs2019")),
        Some("rsa-sha256") => (
            AlgorithmSpec::Explicit(Algorithm::RsaV1_5Sha256),
            Some("rsa-sha256"),
        ),
        Some("hmac-sha256") => (
            AlgorithmSpec::Explicit(Algorithm::HmacSha256),
            Some("hmac-sha256"),
        ),
        Some(other) => {
            return Err(with_context(VerifyErrorKind::UnknownAlgorithm {
                name: other.to_owned(),
            }));
        }
    };
    let covered: Vec<Cow<'static, str>> = match &parsed.headers {
        Some(list) => list
            .split_ascii_whitespace()
            .map(|name| {
                if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    component_name(&name.to_ascii_lowercase())
                } else {
                    component_name(name)
                }
            })
            .collect(),
        // Appendix C.1: without `headers`, only `date` is signed.
        None => vec![Cow::Borrowed("date")],
    };
    // §2.3: `(created)`/`(expires)` with an algorithm whose name reveals it is an error.
    if let Some(name) = declared_algorithm
        .filter(|a| a.starts_with("rsa") || a.starts_with("hmac") || a.starts_with("ecdsa"))
    {
        for pseudo_header in ["(created)", "(expires)"] {
            if covered.iter().any(|h| h == pseudo_header) {
                return Err(with_context(VerifyErrorKind::PseudoHeaderNotAllowed {
                    pseudo_header,
                    algorithm: name.to_owned(),
                }));
            }
        }
    }
    let base = cavage::signing_string(message, &covered, parsed.created, parsed.expires, false)
        .map_err(|e| with_context(line_error(e)))?;
    let base_without_query = if policy.accept_request_target_without_query
        && message.query().is_some()
        && covered.iter().any(|h| h == "(request-target)")
    {
        cavage::signing_string(message, &covered, parsed.created, parsed.expires, true).ok()
    } else {
        None
    };
    Ok(Unverified {
        standard: Standard::Cavage,
        key_id: parsed.key_id.into_owned(),
        algorithm,
        declared_algorithm,
        covered,
        base,
        base_without_query,
        signature: parsed.signature,
        label: None,
        created: parsed.created,
        expires: parsed.expires,
        nonce: None,
        tag: None,
        digests: DigestCheck::default(),
        min_rsa_bits: 0,
    })
}

/// A covered component's name: borrowed from a static string when it is one of the usual ones.
fn component_name(name: &str) -> Cow<'static, str> {
    const USUAL: [&str; 22] = [
        "(request-target)",
        "(created)",
        "(expires)",
        "host",
        "date",
        "digest",
        "content-digest",
        "content-type",
        "content-length",
        "accept",
        "user-agent",
        "@method",
        "@target-uri",
        "@authority",
        "@scheme",
        "@request-target",
        "@path",
        "@query",
        "@status",
        "authorization",
        "signature",
        "forwarded",
    ];
    match USUAL.iter().find(|usual| **usual == name) {
        Some(usual) => Cow::Borrowed(usual),
        None => Cow::Owned(name.to_owned()),
    }
}

fn line_error(e: LineError) -> VerifyErrorKind {
    match e {
        LineError::Missing(component) => VerifyErrorKind::MissingComponent { component },
        LineError::MissingParameter(name) => VerifyErrorKind::MissingParameter { name },
        LineError::UnknownPseudoHeader(component) => VerifyErrorKind::UnsupportedComponent {
            component,
            reason: "unknown pseudo-header".to_owned(),
        },
    }
}

fn component_error(e: ComponentError) -> VerifyErrorKind {
    match e {
        ComponentError::Missing { component } => VerifyErrorKind::MissingComponent { component },
        ComponentError::Unsupported { component, reason } => {
            VerifyErrorKind::UnsupportedComponent {
                component,
                reason: reason.to_owned(),
            }
        }
        ComponentError::Duplicate { component } => VerifyErrorKind::UnsupportedComponent {
            component,
            reason: "covered twice".to_owned(),
        },
        ComponentError::InvalidStructuredField { component, reason } => {
            VerifyErrorKind::UnsupportedComponent { component, reason }
        }
        ComponentError::Identifier(source) => VerifyErrorKind::MalformedHeader {
            header: rfc9421::SIGNATURE_INPUT,
            source: source.into(),
        },
    }
}

fn malformed(header: HeaderName, source: HeaderError) -> VerifyError {
    VerifyErrorKind::MalformedHeader { header, source }.into()
}

/// A signature header as text (`None` if absent): borrowed when it has one line, as it nearly
/// always does.
fn header_text<'a>(
    message: &Message<'a>,
    name: &HeaderName,
) -> Result<Option<Cow<'a, str>>, VerifyError> {
    let not_text = || malformed(name.clone(), HeaderError::NotText);
    let text = match message.header_joined(name) {
        None => return Ok(None),
        Some(Cow::Borrowed(bytes)) => {
            Cow::Borrowed(std::str::from_utf8(bytes).map_err(|_| not_text())?)
        }
        Some(Cow::Owned(bytes)) => Cow::Owned(String::from_utf8(bytes).map_err(|_| not_text())?),
    };
    Ok(Some(text))
}

/// Seconds since the Unix epoch, negative before it.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The last second an HTTP date can write (9999-12-31T23:59:59Z): IMF-fixdate has four
/// digits of year.
pub(crate) const LAST_HTTP_DATE: i64 = 253_402_300_799;

/// Formats Unix seconds as an HTTP date for error messages (only the number past the year
/// 9999, which a signature's `created` may claim).
fn unix(seconds: i64) -> String {
    let time = u64::try_from(seconds)
        .ok()
        .filter(|s| i64::try_from(*s).is_ok_and(|s| s <= LAST_HTTP_DATE))
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)));
    match time {
        Some(time) => format!("{} [{seconds}]", httpdate::fmt_http_date(time)),
        None => seconds.to_string(),
    }
}
