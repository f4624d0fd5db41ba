//! Double-knocking: sign with the standard a peer is known to accept, and when it answers 400 or
//! 401, retry once with the other standard (or with what its `Accept-Signature` asks for), then
//! remember what worked. See the SWICG report "ActivityPub and HTTP Signatures", §"How to
//! upgrade supported versions".
//!
//! This module sends nothing: the caller sends each attempt and reports the answer.

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::Standard;
use crate::rfc9421::{self, SignatureRequest};
use crate::sign::Signer;

/// What the caller stores about a peer (per origin), between requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerPreference {
    /// The standard the peer accepted last; `None` if unknown.
    pub standard: Option<Standard>,
}

impl PeerPreference {
    /// A preference for `standard`.
    pub fn new(standard: Standard) -> Self {
        Self {
            standard: Some(standard),
        }
    }
}

/// What to do after an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KnockOutcome {
    /// Stop here and use this answer. If `remember` is set, store it as the peer's preference.
    Done {
        /// The preference to store, when the answer shows the signature was accepted.
        remember: Option<PeerPreference>,
    },
    /// Sign the request again with [`DoubleKnock::signer`] and send it.
    Retry {
        /// The standard of the next attempt.
        standard: Standard,
        /// The `Accept-Signature` request being honoured, if any.
        challenge: Option<SignatureRequest>,
    },
    /// Both standards were refused: give up and keep the old preference.
    GiveUp,
}

/// The state of one double-knocked request.
#[derive(Clone, Debug)]
pub struct DoubleKnock {
    base: Signer,
    first: Standard,
    current: Standard,
    challenge: Option<SignatureRequest>,
    challenged: bool,
    swapped: bool,
}

impl DoubleKnock {
    /// Starts with the peer's known standard, or RFC 9421 when unknown (as Fedify does).
    pub fn new(base: Signer, preference: &PeerPreference) -> Self {
        let first = preference.standard.unwrap_or(Standard::Rfc9421);
        Self {
            base,
            first,
            current: first,
            challenge: None,
            challenged: false,
            swapped: false,
        }
    }

    /// The standard of the current attempt.
    pub fn standard(&self) -> Standard {
        self.current
    }

    /// The signer for the current attempt: the base signer with the standard set and, when
    /// honouring an `Accept-Signature` challenge, its label, components, tag, nonce and
    /// `alg`/`expires` wishes. Sign a fresh copy of the request with it each time.
    pub fn signer(&self) -> Signer {
        let mut signer = self.base.clone().with_standard(self.current);
        if let Some(challenge) = &self.challenge {
            signer.label.clone_from(&challenge.label);
            signer.components = Some(
                challenge
                    .components
                    .iter()
                    .map(|c| c.serialize().unwrap_or_else(|_| c.name.clone()))
                    .collect(),
            );
            if challenge.tag.is_some() {
                signer.tag.clone_from(&challenge.tag);
            }
            if challenge.nonce.is_some() {
                signer.nonce.clone_from(&challenge.nonce);
            }
            if challenge.alg.is_some() {
                signer.include_alg = true;
            }
            if challenge.created {
                signer.include_created = true;
            }
            if challenge.expires && signer.expires_in.is_none() {
                signer.expires_in = Some(std::time::Duration::from_secs(300));
            }
        }
        signer
    }

    /// Reports the peer's answer to the current attempt.
    pub fn on_response(&mut self, status: StatusCode, headers: &HeaderMap) -> KnockOutcome {
        if status != StatusCode::BAD_REQUEST && status != StatusCode::UNAUTHORIZED {
            let remember = status
                .is_success()
                .then(|| PeerPreference::new(self.current));
            return KnockOutcome::Done { remember };
        }
        // RFC 9421 §5: a challenge says exactly what the peer wants; try it once.
        if !self.challenged
            && let Some(request) = self.fulfillable_challenge(headers)
        {
            self.challenged = true;
            self.current = Standard::Rfc9421;
            self.challenge = Some(request.clone());
            return KnockOutcome::Retry {
                standard: Standard::Rfc9421,
                challenge: Some(request),
            };
        }
        if !self.swapped {
            self.swapped = true;
            self.challenge = None;
            self.current = match self.first {
                Standard::Rfc9421 => Standard::Cavage,
                Standard::Cavage => Standard::Rfc9421,
            };
            return KnockOutcome::Retry {
                standard: self.current,
                challenge: None,
            };
        }
        KnockOutcome::GiveUp
    }

    /// The first `Accept-Signature` entry this signer can satisfy: its key id and algorithm, if
    /// named, must be ours.
    fn fulfillable_challenge(&self, headers: &HeaderMap) -> Option<SignatureRequest> {
        let value = headers.get(rfc9421::ACCEPT_SIGNATURE)?.to_str().ok()?;
        let requests = rfc9421::parse_accept_signature(value).ok()?;
        let algorithm = self.base.key.algorithm();
        requests.into_iter().find(|r| {
            r.keyid.as_deref().is_none_or(|k| k == self.base.key_id)
                && r.alg.as_deref().is_none_or(|a| a == algorithm.name())
                && r.components.iter().all(|c| c.serialize().is_ok())
        })
    }
}
