//! Signature algorithms, named as the RFC 9421 registry names them.

use std::fmt;
use std::str::FromStr;

/// A signature algorithm ([RFC 9421 §3.3]).
///
/// draft-cavage names map onto these: `rsa-sha256` is [`Algorithm::RsaV1_5Sha256`]; `hs2019`
/// means "derived from the key", which the fediverse reads as [`Algorithm::RsaV1_5Sha256`] for
/// RSA keys and [`Algorithm::Ed25519`] for Ed25519 keys.
///
/// [RFC 9421 §3.3]: https://www.rfc-editor.org/rfc/rfc9421#section-3.3
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `rsa-v1_5-sha256`: RSASSA-PKCS1-v1_5 with SHA-256 ([RFC 9421 §3.3.2]). What the
    /// fediverse signs with.
    ///
    /// [RFC 9421 §3.3.2]: https://www.rfc-editor.org/rfc/rfc9421#section-3.3.2
    RsaV1_5Sha256,
    /// `rsa-pss-sha512`: RSASSA-PSS with SHA-512, MGF1 and a 64-byte salt ([RFC 9421 §3.3.1]).
    ///
    /// [RFC 9421 §3.3.1]: https://www.rfc-editor.org/rfc/rfc9421#section-3.3.1
    RsaPssSha512,
    /// `ecdsa-p256-sha256`: ECDSA on P-256 with SHA-256, fixed-width `r || s`
    /// ([RFC 9421 §3.3.4]).
    ///
    /// [RFC 9421 §3.3.4]: https://www.rfc-editor.org/rfc/rfc9421#section-3.3.4
    EcdsaP256Sha256,
    /// `ed25519`: EdDSA on Curve25519 ([RFC 9421 §3.3.6]).
    ///
    /// [RFC 9421 §3.3.6]: https://www.rfc-editor.org/rfc/rfc9421#section-3.3.6
    Ed25519,
    /// `hmac-sha256`: HMAC with SHA-256 and a shared secret ([RFC 9421 §3.3.3]).
    ///
    /// [RFC 9421 §3.3.3]: https://www.rfc-editor.org/rfc/rfc9421#section-3.3.3
    HmacSha256,
}

impl Algorithm {
    /// Every algorithm, in registry order.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::RsaPssSha512,
        Algorithm::RsaV1_5Sha256,
        Algorithm::HmacSha256,
        Algorithm::EcdsaP256Sha256,
        Algorithm::Ed25519,
    ];

    /// The RFC 9421 registry name, as used in the `alg` parameter.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RsaV1_5Sha256 => "rsa-v1_5-sha256",
            Algorithm::RsaPssSha512 => "rsa-pss-sha512",
            Algorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Algorithm::Ed25519 => "ed25519",
            Algorithm::HmacSha256 => "hmac-sha256",
        }
    }

    /// Looks an algorithm up by its RFC 9421 registry name (exact, case-sensitive match).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not in the RFC 9421 algorithm registry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown signature algorithm {0:?}")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}
