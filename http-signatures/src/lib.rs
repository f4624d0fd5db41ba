//! Sign and verify HTTP requests as the fediverse does: [draft-cavage-http-signatures-12] and
//! [RFC 9421] HTTP Message Signatures, with `Digest` and [RFC 9530] `Content-Digest` body
//! digests. Strict by default, and explained when a check fails.
//!
//! The crate does no I/O and reads no clock: it works on [`http::Request`] values and body
//! bytes, and keys and the current time are arguments.
//!
//! # Verifying an inbox POST
//!
//! Verification has two phases, so that the key can be fetched in between:
//!
//! ```
//! # use std::time::{Duration, SystemTime};
//! # use http_signatures::{Policy, Signer, SigningKey, Standard, Verifier, VerifyErrorKind};
//! # let key = SigningKey::generate_ed25519().unwrap();
//! # let cached_key = SigningKey::generate_ed25519().unwrap().verifying_key();
//! # let refetched_key = key.verifying_key();
//! # let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! # let mut request = http::Request::post("https://example.com/inbox")
//! #     .body(br#"{"type":"Follow"}"#.to_vec()).unwrap();
//! # Signer::new(key, "https://alice.example/actor#main-key")
//! #     .with_standard(Standard::Cavage).sign(&mut request, now).unwrap();
//! let verifier = Verifier::new(Policy::fediverse());
//! // Syntax, covered components, clock window and body digest: everything but the key.
//! let unverified = verifier.parse_request(&request, now)?;
//! let key_id = unverified.key_id(); // fetch this key (from a cache, or the network)
//! # assert_eq!(key_id, "https://alice.example/actor#main-key");
//! let verified = match unverified.verify(&cached_key) {
//!     Ok(verified) => verified,
//!     // The peer may have rotated its key: refetch it and verify again, without parsing again.
//!     Err(e) if matches!(e.kind(), VerifyErrorKind::BadSignature { .. }) => {
//!         unverified.verify(&refetched_key)?
//!     }
//!     Err(e) => return Err(e.into()),
//! };
//! println!("signed by {} over {:?}", verified.key_id, verified.covered);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Signing
//!
//! ```
//! # use std::time::SystemTime;
//! # use http_signatures::{Signer, SigningKey, Standard};
//! let key = SigningKey::generate_ed25519()?;
//! let signer = Signer::new(key, "https://alice.example/actor#main-key")
//!     .with_standard(Standard::Cavage);
//! let mut request = http::Request::post("https://bob.example/inbox")
//!     .header("content-type", "application/activity+json")
//!     .body(br#"{"type":"Follow"}"#.to_vec())?;
//! let signed = signer.sign(&mut request, SystemTime::now())?;
//! assert!(request.headers().contains_key("signature"));
//! assert!(request.headers().contains_key("digest"));
//! # let _ = signed;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Backends
//!
//! Cryptography comes from aws-lc-rs (feature `aws-lc-rs`, the default), which signs RSA about
//! twice as fast as ring on x86-64 and generates RSA keys. The `ring` feature picks ring
//! instead; when both features are on, ring is used, so picking it needs nothing turned off.
//! Neither choice changes a verification rule. RSA key generation needs `aws-lc-rs` or
//! `rsa-keygen` (the pure-Rust `rsa` crate, used for generation only).
//!
//! [draft-cavage-http-signatures-12]: https://datatracker.ietf.org/doc/html/draft-cavage-http-signatures-12
//! [RFC 9421]: https://www.rfc-editor.org/rfc/rfc9421
//! [RFC 9530]: https://www.rfc-editor.org/rfc/rfc9530

#![warn(missing_docs)]

mod algorithm;
mod backend;
pub mod cavage;
pub mod digest;
mod key;
mod knock;
mod message;
pub mod rfc9421;
mod sign;
mod verify;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use key::{
    KeyError, KeyFormat, KeyKind, MultikeyError, SignatureError, SigningKey, VerifyingKey,
};
pub use knock::{DoubleKnock, KnockOutcome, PeerPreference};
pub use sign::{SignError, Signed, Signer};
pub use verify::{
    HeaderError, Policy, Requirement, Unverified, Verified, Verifier, VerifyError, VerifyErrorKind,
};

/// The name of the cryptographic backend compiled in: `"ring"` or `"aws-lc-rs"`.
pub const BACKEND: &str = backend::NAME;

/// A signature standard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Standard {
    /// draft-cavage-http-signatures-12, as the fediverse uses it.
    Cavage,
    /// RFC 9421 HTTP Message Signatures.
    Rfc9421,
}

impl Standard {
    /// `"cavage"` or `"rfc9421"`.
    pub fn name(self) -> &'static str {
        match self {
            Standard::Cavage => "cavage",
            Standard::Rfc9421 => "rfc9421",
        }
    }
}

impl fmt::Display for Standard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is neither `cavage` nor `rfc9421`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown signature standard {0:?} (expected cavage or rfc9421)")]
pub struct UnknownStandard(pub String);

impl FromStr for Standard {
    type Err = UnknownStandard;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cavage" => Ok(Standard::Cavage),
            "rfc9421" => Ok(Standard::Rfc9421),
            other => Err(UnknownStandard(other.to_owned())),
        }
    }
}
