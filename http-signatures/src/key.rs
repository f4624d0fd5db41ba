//! Signing and verifying keys: RSA, Ed25519, ECDSA P-256 and HMAC shared secrets, read from
//! PEM, DER (PKCS#1, PKCS#8, SPKI, SEC1) and FEP-521a Multikey.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use pkcs8::der::{Decode as _, Encode as _};

use crate::algorithm::Algorithm;
use crate::backend::provider::{self, hmac, signature};

const OID_RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSASSA_PSS: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_ED25519: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_EC_PUBLIC_KEY: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Multicodec prefixes (unsigned varints) used by FEP-521a Multikey values.
const MULTICODEC_ED25519_PUB: [u8; 2] = [0xed, 0x01];
const MULTICODEC_RSA_PUB: [u8; 2] = [0x85, 0x24];

/// Smallest RSA modulus this crate signs with (ring and aws-lc-rs refuse smaller ones anyway).
const MIN_SIGNING_RSA_BITS: usize = 2048;

/// What kind of key this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// An RSA key with a modulus of `bits` bits.
    Rsa {
        /// Size of the modulus in bits.
        bits: usize,
    },
    /// An Ed25519 key.
    Ed25519,
    /// An ECDSA key on the P-256 curve.
    EcdsaP256,
    /// A shared secret for HMAC.
    SharedSecret,
}

impl KeyKind {
    /// The algorithm a signature made with this key uses when nothing else says which: for
    /// RSA that is `rsa-v1_5-sha256`, as the fediverse (and `hs2019` there) uses it.
    pub fn default_algorithm(self) -> Algorithm {
        match self {
            KeyKind::Rsa { .. } => Algorithm::RsaV1_5Sha256,
            KeyKind::Ed25519 => Algorithm::Ed25519,
            KeyKind::EcdsaP256 => Algorithm::EcdsaP256Sha256,
            KeyKind::SharedSecret => Algorithm::HmacSha256,
        }
    }

    /// Whether a key of this kind can produce or check signatures of `algorithm`.
    pub fn supports(self, algorithm: Algorithm) -> bool {
        matches!(
            (self, algorithm),
            (
                KeyKind::Rsa { .. },
                Algorithm::RsaV1_5Sha256 | Algorithm::RsaPssSha512
            ) | (KeyKind::Ed25519, Algorithm::Ed25519)
                | (KeyKind::EcdsaP256, Algorithm::EcdsaP256Sha256)
                | (KeyKind::SharedSecret, Algorithm::HmacSha256)
        )
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Rsa { bits } => write!(f, "RSA-{bits}"),
            KeyKind::Ed25519 => f.write_str("Ed25519"),
            KeyKind::EcdsaP256 => f.write_str("ECDSA P-256"),
            KeyKind::SharedSecret => f.write_str("HMAC shared secret"),
        }
    }
}

/// An encoding a key was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFormat {
    /// PEM armour (RFC 7468) around one of the DER formats.
    Pem,
    /// PKCS#8 `PrivateKeyInfo` (RFC 5208).
    Pkcs8,
    /// PKCS#1 `RSAPrivateKey` or `RSAPublicKey` (RFC 8017).
    Pkcs1,
    /// X.509 `SubjectPublicKeyInfo` (RFC 5280).
    Spki,
    /// SEC1 `ECPrivateKey` (RFC 5915).
    Sec1,
    /// FEP-521a Multikey (`z6Mk...`).
    Multikey,
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFormat::Pem => "PEM",
            KeyFormat::Pkcs8 => "PKCS#8",
            KeyFormat::Pkcs1 => "PKCS#1",
            KeyFormat::Spki => "SubjectPublicKeyInfo",
            KeyFormat::Sec1 => "SEC1",
            KeyFormat::Multikey => "Multikey",
        })
    }
}

/// A key could not be read, generated or used as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text has no `-----BEGIN ...-----` / `-----END ...-----` block.
    #[error("no PEM block found (expected -----BEGIN ...----- and -----END ...-----)")]
    NotPem,
    /// The PEM label names something that is not a key of the expected side.
    #[error("PEM label {label:?} is not a {expected} key this crate reads")]
    UnsupportedPemLabel {
        /// The label found after `-----BEGIN `.
        label: String,
        /// `"private"` or `"public"`.
        expected: &'static str,
    },
    /// The PEM body is not base64.
    #[error("the PEM body is not valid base64")]
    PemBase64,
    /// The DER structure is malformed.
    #[error("malformed {format} key: {source}")]
    Der {
        /// The structure being read.
        format: KeyFormat,
        /// What the DER decoder found.
        #[source]
        source: pkcs8::der::Error,
    },
    /// The key's algorithm identifier is not RSA, RSASSA-PSS, Ed25519 or EC P-256.
    #[error("unsupported key algorithm (OID {oid})")]
    UnsupportedAlgorithm {
        /// The algorithm OID found.
        oid: String,
    },
    /// An EC key on a curve other than P-256.
    #[error("unsupported elliptic curve (OID {oid}); only P-256 is supported")]
    UnsupportedCurve {
        /// The curve OID found, or `"absent"`.
        oid: String,
    },
    /// The cryptographic backend refused the key material.
    #[error("the {backend} backend rejected the {kind} key: {reason}")]
    Rejected {
        /// `"ring"` or `"aws-lc-rs"`.
        backend: &'static str,
        /// What key it was meant to be (`"RSA"`, `"Ed25519"`, ...).
        kind: &'static str,
        /// The backend's reason.
        reason: String,
    },
    /// An RSA private key below 2048 bits: neither backend signs with one.
    #[error(
        "RSA private key of {bits} bits is too small to sign with (at least {MIN_SIGNING_RSA_BITS})"
    )]
    RsaKeyTooSmall {
        /// Size of the modulus.
        bits: usize,
    },
    /// A Multikey value that is not what FEP-521a describes.
    #[error("invalid Multikey value: {0}")]
    Multikey(#[from] MultikeyError),
    /// The key is bound to an algorithm its kind cannot do.
    #[error("a {key} key cannot be used with {algorithm}")]
    AlgorithmMismatch {
        /// The algorithm asked for.
        algorithm: Algorithm,
        /// The key's kind.
        key: KeyKind,
    },
    /// This key cannot be exported in the asked format.
    #[error("a {key} key cannot be exported as {format}")]
    NotExportable {
        /// The key's kind.
        key: KeyKind,
        /// The format asked for.
        format: KeyFormat,
    },
    /// RSA keys are generated at 2048, 3072 or 4096 bits only.
    #[error("cannot generate an RSA key of {bits} bits (2048, 3072 or 4096)")]
    UnsupportedKeySize {
        /// The size asked for.
        bits: usize,
    },
    /// The random generator or the backend failed during key generation.
    #[error("key generation failed in the {backend} backend")]
    GenerationFailed {
        /// The backend or crate that failed.
        backend: &'static str,
    },
}

/// A FEP-521a Multikey value could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MultikeyError {
    /// The multibase prefix is not `z` (base58btc).
    #[error("expected a base58btc multibase value starting with 'z'")]
    NotBase58btc,
    /// The base58 text does not decode.
    #[error("not valid base58: {0}")]
    Base58(String),
    /// The multicodec prefix names a key type this crate does not read.
    #[error("unsupported multicodec prefix {prefix:02x?}")]
    UnsupportedCodec {
        /// The first two decoded bytes.
        prefix: Vec<u8>,
    },
    /// An Ed25519 key that is not 32 bytes long.
    #[error("an Ed25519 public key is 32 bytes, this one is {0}")]
    WrongLength(usize),
}

/// A key to sign with: an RSA, Ed25519 or ECDSA P-256 private key, or an HMAC shared secret.
///
/// Cheap to clone (the key material is shared). `Debug` never prints key material.
#[derive(Clone)]
pub struct SigningKey {
    inner: Arc<SigningInner>,
}

// Lives behind an `Arc`, once per key: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum SigningInner {
    Rsa {
        pair: signature::RsaKeyPair,
        bits: usize,
        pkcs8: pkcs8::SecretDocument,
        bound: Option<Algorithm>,
    },
    Ed25519 {
        pair: signature::Ed25519KeyPair,
        pkcs8: pkcs8::SecretDocument,
    },
    EcdsaP256 {
        pair: signature::EcdsaKeyPair,
        pkcs8: pkcs8::SecretDocument,
    },
    SharedSecret {
        key: hmac::Key,
    },
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kind", &self.kind())
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a private key from PEM: `PRIVATE KEY` (PKCS#8: RSA, RSASSA-PSS, Ed25519, EC P-256),
    /// `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = decode_pem(pem)?;
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&der),
            "RSA PRIVATE KEY" => Self::from_pkcs1_der(&der),
            "EC PRIVATE KEY" => Self::from_sec1_der(&der),
            _ => Err(KeyError::UnsupportedPemLabel {
                label,
                expected: "private",
            }),
        }
    }

    /// Reads a PKCS#8 `PrivateKeyInfo`. An RSASSA-PSS key (OID 1.2.840.113549.1.1.10) is bound to
    /// [`Algorithm::RsaPssSha512`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|source| KeyError::Der {
            format: KeyFormat::Pkcs8,
            source,
        })?;
        let oid = info.algorithm.oid;
        let pkcs8 = secret(der)?;
        let inner = if oid == OID_RSA_ENCRYPTION {
            let pair = rsa_pair(signature::RsaKeyPair::from_pkcs8(der), info.private_key)?;
            let bits = rsa_bits_of_pair(&pair);
            SigningInner::Rsa {
                pair,
                bits,
                pkcs8,
                bound: None,
            }
        } else if oid == OID_RSASSA_PSS {
            // Neither backend reads the PSS OID, but the key inside is a plain PKCS#1 key.
            let pair = rsa_pair(
                signature::RsaKeyPair::from_der(info.private_key),
                info.private_key,
            )?;
            let bits = rsa_bits_of_pair(&pair);
            SigningInner::Rsa {
                pair,
                bits,
                pkcs8,
                bound: Some(Algorithm::RsaPssSha512),
            }
        } else if oid == OID_ED25519 {
            // `maybe_unchecked` accepts PKCS#8 v1 documents (no public key inside), which is
            // what OpenSSL and RFC 9421 Appendix B.1.4 give.
            let pair = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map_err(|e| rejected("Ed25519", &e))?;
            SigningInner::Ed25519 { pair, pkcs8 }
        } else if oid == OID_EC_PUBLIC_KEY {
            check_p256(info.algorithm.parameters_oid().ok())?;
            let pair = crate::backend::ecdsa_p256_from_pkcs8(der)
                .map_err(|e| rejected("ECDSA P-256", &e))?;
            SigningInner::EcdsaP256 { pair, pkcs8 }
        } else {
            return Err(KeyError::UnsupportedAlgorithm {
                oid: oid.to_string(),
            });
        };
        Ok(Self::wrap(inner))
    }

    /// Reads a PKCS#1 `RSAPrivateKey`.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = rsa_pair(signature::RsaKeyPair::from_der(der), der)?;
        let bits = rsa_bits_of_pair(&pair);
        let algorithm = pkcs8::AlgorithmIdentifierRef {
            oid: OID_RSA_ENCRYPTION,
            parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
        };
        let pkcs8 = encode_pkcs8(pkcs8::PrivateKeyInfo::new(algorithm, der))?;
        Ok(Self::wrap(SigningInner::Rsa {
            pair,
            bits,
            pkcs8,
            bound: None,
        }))
    }

    /// Reads a SEC1 `ECPrivateKey` (P-256 only; the public key must be inside, as OpenSSL
    /// writes it).
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = sec1::EcPrivateKey::from_der(der).map_err(|source| KeyError::Der {
            format: KeyFormat::Sec1,
            source,
        })?;
        check_p256(key.parameters.and_then(|p| p.named_curve()))?;
        let algorithm = pkcs8::AlgorithmIdentifierRef {
            oid: OID_EC_PUBLIC_KEY,
            parameters: Some((&OID_P256).into()),
        };
        let pkcs8 = encode_pkcs8(pkcs8::PrivateKeyInfo::new(algorithm, der))?;
        Self::from_pkcs8_der(pkcs8.as_bytes())
    }

    /// An HMAC-SHA256 shared secret ([RFC 9421 §3.3.3]).
    ///
    /// [RFC 9421 §3.3.3]: https://www.rfc-editor.org/rfc/rfc9421#section-3.3.3
    pub fn shared_secret(secret: &[u8]) -> Self {
        Self::wrap(SigningInner::SharedSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        })
    }

    /// Generates a new Ed25519 key.
    pub fn generate_ed25519() -> Result<Self, KeyError> {
        let rng = provider::rand::SystemRandom::new();
        let doc = signature::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| {
            KeyError::GenerationFailed {
                backend: crate::backend::NAME,
            }
        })?;
        Self::from_pkcs8_der(doc.as_ref())
    }

    /// Generates a new RSA key of 2048, 3072 or 4096 bits, public exponent 65537.
    ///
    /// With the `aws-lc-rs` feature (the default), aws-lc-rs generates the key, whichever backend
    /// signs; otherwise (feature `rsa-keygen`) the pure-Rust `rsa` crate does, because ring cannot.
    #[cfg(any(feature = "aws-lc-rs", feature = "rsa-keygen"))]
    pub fn generate_rsa(bits: usize) -> Result<Self, KeyError> {
        use crate::backend::GenerateError;

        let der = crate::backend::generate_rsa_pkcs8(bits).map_err(|e| match e {
            GenerateError::UnsupportedSize => KeyError::UnsupportedKeySize { bits },
            GenerateError::Failed => KeyError::GenerationFailed {
                backend: if cfg!(feature = "aws-lc-rs") {
                    "aws-lc-rs"
                } else {
                    "rsa"
                },
            },
        })?;
        Self::from_pkcs8_der(&der)
    }

    /// Binds the key to one algorithm (RFC 9421 §3.3.7), for example an RSA key to
    /// [`Algorithm::RsaPssSha512`]. Fails if the key's kind cannot do `algorithm`.
    pub fn with_algorithm(self, algorithm: Algorithm) -> Result<Self, KeyError> {
        let kind = self.kind();
        if !kind.supports(algorithm) {
            return Err(KeyError::AlgorithmMismatch {
                algorithm,
                key: kind,
            });
        }
        match Arc::try_unwrap(self.inner) {
            Ok(SigningInner::Rsa {
                pair, bits, pkcs8, ..
            }) => Ok(Self::wrap(SigningInner::Rsa {
                pair,
                bits,
                pkcs8,
                bound: Some(algorithm),
            })),
            Ok(other) => Ok(Self::wrap(other)),
            // Shared with a clone: re-read the stored document to get an owned copy.
            Err(shared) => {
                let this = Self { inner: shared };
                match &*this.inner {
                    SigningInner::Rsa { pkcs8, .. } => {
                        let fresh = Self::from_pkcs8_der(pkcs8.as_bytes())?;
                        fresh.with_algorithm(algorithm)
                    }
                    _ => Ok(this),
                }
            }
        }
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        match &*self.inner {
            SigningInner::Rsa { bits, .. } => KeyKind::Rsa { bits: *bits },
            SigningInner::Ed25519 { .. } => KeyKind::Ed25519,
            SigningInner::EcdsaP256 { .. } => KeyKind::EcdsaP256,
            SigningInner::SharedSecret { .. } => KeyKind::SharedSecret,
        }
    }

    /// The algorithm this key signs with: the bound one, or the kind's default.
    pub fn algorithm(&self) -> Algorithm {
        match &*self.inner {
            SigningInner::Rsa {
                bound: Some(algorithm),
                ..
            } => *algorithm,
            _ => self.kind().default_algorithm(),
        }
    }

    /// The matching verifying key (for a shared secret: the same secret).
    pub fn verifying_key(&self) -> VerifyingKey {
        match &*self.inner {
            SigningInner::Rsa {
                pair, bits, bound, ..
            } => {
                let pkcs1 = signature::KeyPair::public_key(pair).as_ref().to_vec();
                VerifyingKey::wrap(VerifyingInner::Rsa {
                    parsed: ParsedRsa::new(&pkcs1, *bits),
                    pkcs1,
                    bits: *bits,
                    bound: *bound,
                })
            }
            SigningInner::Ed25519 { pair, .. } => {
                let raw = signature::KeyPair::public_key(pair).as_ref().to_vec();
                VerifyingKey::wrap(VerifyingInner::Ed25519 { raw })
            }
            SigningInner::EcdsaP256 { pair, .. } => {
                let point = signature::KeyPair::public_key(pair).as_ref().to_vec();
                VerifyingKey::wrap(VerifyingInner::EcdsaP256 { point })
            }
            SigningInner::SharedSecret { key, .. } => {
                VerifyingKey::wrap(VerifyingInner::SharedSecret { key: key.clone() })
            }
        }
    }

    /// The key as a PKCS#8 `PRIVATE KEY` PEM document. Not available for shared secrets.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        Ok(encode_pem("PRIVATE KEY", self.to_pkcs8_der()?.as_bytes()))
    }

    /// The key as a PKCS#8 DER document (zeroed when dropped). Not available for shared
    /// secrets.
    pub fn to_pkcs8_der(&self) -> Result<pkcs8::SecretDocument, KeyError> {
        match &*self.inner {
            SigningInner::Rsa { pkcs8, .. }
            | SigningInner::Ed25519 { pkcs8, .. }
            | SigningInner::EcdsaP256 { pkcs8, .. } => Ok(pkcs8.clone()),
            SigningInner::SharedSecret { .. } => Err(KeyError::NotExportable {
                key: KeyKind::SharedSecret,
                format: KeyFormat::Pkcs8,
            }),
        }
    }

    /// Signs `message` with `algorithm`. This is the raw operation; [`crate::Signer`] builds the
    /// message from a request.
    pub fn sign_bytes(&self, algorithm: Algorithm, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mismatch = || KeyError::AlgorithmMismatch {
            algorithm,
            key: self.kind(),
        };
        let failed = || KeyError::GenerationFailed {
            backend: crate::backend::NAME,
        };
        match (&*self.inner, algorithm) {
            (
                SigningInner::Rsa {
                    pair, bits, bound, ..
                },
                Algorithm::RsaV1_5Sha256 | Algorithm::RsaPssSha512,
            ) => {
                if bound.is_some_and(|b| b != algorithm) {
                    return Err(mismatch());
                }
                let padding: &'static dyn signature::RsaEncoding = match algorithm {
                    Algorithm::RsaPssSha512 => &signature::RSA_PSS_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let rng = provider::rand::SystemRandom::new();
                let mut out = vec![0; bits.div_ceil(8)];
                pair.sign(padding, &rng, message, &mut out)
                    .map_err(|_| failed())?;
                Ok(out)
            }
            (SigningInner::Ed25519 { pair, .. }, Algorithm::Ed25519) => {
                Ok(pair.sign(message).as_ref().to_vec())
            }
            (SigningInner::EcdsaP256 { pair, .. }, Algorithm::EcdsaP256Sha256) => {
                let rng = provider::rand::SystemRandom::new();
                let sig = pair.sign(&rng, message).map_err(|_| failed())?;
                Ok(sig.as_ref().to_vec())
            }
            (SigningInner::SharedSecret { key, .. }, Algorithm::HmacSha256) => {
                Ok(hmac::sign(key, message).as_ref().to_vec())
            }
            _ => Err(mismatch()),
        }
    }

    fn wrap(inner: SigningInner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }
}

/// A key to verify with: an RSA, Ed25519 or ECDSA P-256 public key, or an HMAC shared secret.
///
/// Cheap to clone. Parse it once and keep it: with aws-lc-rs the RSA key is pre-parsed.
#[derive(Clone)]
pub struct VerifyingKey {
    inner: Arc<VerifyingInner>,
}

// Lives behind an `Arc`, once per key: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum VerifyingInner {
    Rsa {
        pkcs1: Vec<u8>,
        bits: usize,
        bound: Option<Algorithm>,
        parsed: ParsedRsa,
    },
    Ed25519 {
        raw: Vec<u8>,
    },
    EcdsaP256 {
        point: Vec<u8>,
    },
    SharedSecret {
        key: hmac::Key,
    },
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kind", &self.kind())
            .field("bound_algorithm", &self.bound_algorithm())
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Reads a public key from PEM: `PUBLIC KEY` (SPKI: RSA, RSASSA-PSS, Ed25519, EC P-256) or
    /// `RSA PUBLIC KEY` (PKCS#1). Tolerates what actor documents carry: surrounding text,
    /// CRLF, missing final newline, lines of any length.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = decode_pem(pem)?;
        match label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&der),
            "RSA PUBLIC KEY" => Self::from_pkcs1_der(&der),
            _ => Err(KeyError::UnsupportedPemLabel {
                label,
                expected: "public",
            }),
        }
    }

    /// Reads an X.509 `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|source| {
            KeyError::Der {
                format: KeyFormat::Spki,
                source,
            }
        })?;
        let oid = spki.algorithm.oid;
        let key = spki.subject_public_key.as_bytes().ok_or(KeyError::Der {
            format: KeyFormat::Spki,
            source: pkcs8::der::Tag::BitString.value_error(),
        })?;
        if oid == OID_RSA_ENCRYPTION {
            Self::from_pkcs1_der(key)
        } else if oid == OID_RSASSA_PSS {
            let this = Self::from_pkcs1_der(key)?;
            this.with_algorithm(Algorithm::RsaPssSha512)
        } else if oid == OID_ED25519 {
            Self::from_ed25519_bytes(key)
        } else if oid == OID_EC_PUBLIC_KEY {
            check_p256(spki.algorithm.parameters_oid().ok())?;
            // Checked at verification time by the backend; a malformed point fails there.
            Ok(Self::wrap(VerifyingInner::EcdsaP256 {
                point: key.to_vec(),
            }))
        } else {
            Err(KeyError::UnsupportedAlgorithm {
                oid: oid.to_string(),
            })
        }
    }

    /// Reads a PKCS#1 `RSAPublicKey`.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = pkcs1::RsaPublicKey::from_der(der).map_err(|source| KeyError::Der {
            format: KeyFormat::Pkcs1,
            source,
        })?;
        let bits = uint_bits(key.modulus.as_bytes());
        Ok(Self::wrap(VerifyingInner::Rsa {
            parsed: ParsedRsa::new(der, bits),
            pkcs1: der.to_vec(),
            bits,
            bound: None,
        }))
    }

    /// A raw 32-byte Ed25519 public key.
    pub fn from_ed25519_bytes(raw: &[u8]) -> Result<Self, KeyError> {
        if raw.len() != 32 {
            return Err(KeyError::Multikey(MultikeyError::WrongLength(raw.len())));
        }
        Ok(Self::wrap(VerifyingInner::Ed25519 { raw: raw.to_vec() }))
    }

    /// Reads a FEP-521a Multikey `publicKeyMultibase` value: base58btc (`z`), multicodec
    /// `ed25519-pub` (`z6Mk...`) or `rsa-pub` (PKCS#1 DER).
    pub fn from_multikey(value: &str) -> Result<Self, KeyError> {
        let text = value
            .trim()
            .strip_prefix('z')
            .ok_or(MultikeyError::NotBase58btc)?;
        let bytes = bs58::decode(text)
            .into_vec()
            .map_err(|e| MultikeyError::Base58(e.to_string()))?;
        if let Some(raw) = bytes.strip_prefix(&MULTICODEC_ED25519_PUB) {
            if raw.len() != 32 {
                return Err(MultikeyError::WrongLength(raw.len()).into());
            }
            Self::from_ed25519_bytes(raw)
        } else if let Some(der) = bytes.strip_prefix(&MULTICODEC_RSA_PUB) {
            Self::from_pkcs1_der(der)
        } else {
            Err(MultikeyError::UnsupportedCodec {
                prefix: bytes.iter().take(2).copied().collect(),
            }
            .into())
        }
    }

    /// An HMAC-SHA256 shared secret.
    pub fn shared_secret(secret: &[u8]) -> Self {
        Self::wrap(VerifyingInner::SharedSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        })
    }

    /// Binds the key to one algorithm (RFC 9421 §3.3.7): a signature that declares another one
    /// is rejected, and one that declares none is checked with this one. Needed for RSA-PSS
    /// keys published as plain `rsaEncryption` SPKI.
    pub fn with_algorithm(self, algorithm: Algorithm) -> Result<Self, KeyError> {
        let kind = self.kind();
        if !kind.supports(algorithm) {
            return Err(KeyError::AlgorithmMismatch {
                algorithm,
                key: kind,
            });
        }
        Ok(match &*self.inner {
            VerifyingInner::Rsa { pkcs1, bits, .. } => Self::wrap(VerifyingInner::Rsa {
                parsed: ParsedRsa::new(pkcs1, *bits),
                pkcs1: pkcs1.clone(),
                bits: *bits,
                bound: Some(algorithm),
            }),
            _ => self,
        })
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        match &*self.inner {
            VerifyingInner::Rsa { bits, .. } => KeyKind::Rsa { bits: *bits },
            VerifyingInner::Ed25519 { .. } => KeyKind::Ed25519,
            VerifyingInner::EcdsaP256 { .. } => KeyKind::EcdsaP256,
            VerifyingInner::SharedSecret { .. } => KeyKind::SharedSecret,
        }
    }

    /// The algorithm the key is bound to, if any.
    pub fn bound_algorithm(&self) -> Option<Algorithm> {
        match &*self.inner {
            VerifyingInner::Rsa { bound, .. } => *bound,
            _ => None,
        }
    }

    /// The algorithm used when a signature does not name one: the bound one, or the kind's
    /// default.
    pub fn algorithm(&self) -> Algorithm {
        self.bound_algorithm()
            .unwrap_or_else(|| self.kind().default_algorithm())
    }

    /// The key as an SPKI `PUBLIC KEY` PEM document (RSA keys as `rsaEncryption`).
    pub fn to_spki_pem(&self) -> Result<String, KeyError> {
        Ok(encode_pem("PUBLIC KEY", &self.to_spki_der()?))
    }

    /// The key as SPKI DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        let (algorithm, key): (pkcs8::AlgorithmIdentifierRef<'_>, &[u8]) = match &*self.inner {
            VerifyingInner::Rsa { pkcs1, .. } => (
                pkcs8::AlgorithmIdentifierRef {
                    oid: OID_RSA_ENCRYPTION,
                    parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
                },
                pkcs1,
            ),
            VerifyingInner::Ed25519 { raw } => (
                pkcs8::AlgorithmIdentifierRef {
                    oid: OID_ED25519,
                    parameters: None,
                },
                raw,
            ),
            VerifyingInner::EcdsaP256 { point } => (
                pkcs8::AlgorithmIdentifierRef {
                    oid: OID_EC_PUBLIC_KEY,
                    parameters: Some((&OID_P256).into()),
                },
                point,
            ),
            VerifyingInner::SharedSecret { .. } => {
                return Err(KeyError::NotExportable {
                    key: KeyKind::SharedSecret,
                    format: KeyFormat::Spki,
                });
            }
        };
        let der_error = |source| KeyError::Der {
            format: KeyFormat::Spki,
            source,
        };
        let spki = pkcs8::spki::SubjectPublicKeyInfoRef {
            algorithm,
            subject_public_key: pkcs8::der::asn1::BitStringRef::from_bytes(key)
                .map_err(der_error)?,
        };
        spki.to_der().map_err(der_error)
    }

    /// The key as a FEP-521a Multikey `publicKeyMultibase` value (Ed25519 and RSA).
    pub fn to_multikey(&self) -> Result<String, KeyError> {
        let (prefix, key) = match &*self.inner {
            VerifyingInner::Ed25519 { raw } => (MULTICODEC_ED25519_PUB, raw),
            VerifyingInner::Rsa { pkcs1, .. } => (MULTICODEC_RSA_PUB, pkcs1),
            _ => {
                return Err(KeyError::NotExportable {
                    key: self.kind(),
                    format: KeyFormat::Multikey,
                });
            }
        };
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(key);
        Ok(format!("z{}", bs58::encode(bytes).into_string()))
    }

    /// Checks `signature` over `message` with `algorithm`. RSA keys of 1024 to 2047 bits are
    /// accepted here; [`crate::Policy::min_rsa_bits`] decides whether a verifier accepts them.
    pub fn verify_bytes(
        &self,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let mismatch = || SignatureError::AlgorithmMismatch {
            algorithm,
            key: self.kind(),
        };
        let result = match (&*self.inner, algorithm) {
            (
                VerifyingInner::Rsa {
                    pkcs1,
                    bits,
                    bound,
                    parsed,
                },
                Algorithm::RsaV1_5Sha256 | Algorithm::RsaPssSha512,
            ) => {
                if bound.is_some_and(|b| b != algorithm) {
                    return Err(mismatch());
                }
                if let Some(result) = parsed.verify(algorithm, message, signature) {
                    result
                } else {
                    let params: &'static dyn signature::VerificationAlgorithm =
                        match (algorithm, *bits >= 2048) {
                            (Algorithm::RsaPssSha512, _) => &signature::RSA_PSS_2048_8192_SHA512,
                            (_, true) => &signature::RSA_PKCS1_2048_8192_SHA256,
                            (_, false) => {
                                &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
                            }
                        };
                    signature::UnparsedPublicKey::new(params, pkcs1).verify(message, signature)
                }
            }
            (VerifyingInner::Ed25519 { raw }, Algorithm::Ed25519) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, raw)
                    .verify(message, signature)
            }
            (VerifyingInner::EcdsaP256 { point }, Algorithm::EcdsaP256Sha256) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
            }
            (VerifyingInner::SharedSecret { key }, Algorithm::HmacSha256) => {
                hmac::verify(key, message, signature)
            }
            _ => return Err(mismatch()),
        };
        result.map_err(|_| SignatureError::Mismatch)
    }

    /// Checks an ASN.1 DER ECDSA signature, as draft-cavage `hs2019` with a P-256 key carries it.
    pub(crate) fn verify_ecdsa_asn1(
        &self,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), SignatureError> {
        match &*self.inner {
            VerifyingInner::EcdsaP256 { point } => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point)
                    .verify(message, sig)
                    .map_err(|_| SignatureError::Mismatch)
            }
            _ => Err(SignatureError::AlgorithmMismatch {
                algorithm: Algorithm::EcdsaP256Sha256,
                key: self.kind(),
            }),
        }
    }

    fn wrap(inner: VerifyingInner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }
}

/// A signature did not check out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The key cannot check signatures of this algorithm (wrong key type, or bound to another
    /// algorithm).
    #[error("a {key} key cannot check a {algorithm} signature")]
    AlgorithmMismatch {
        /// The signature's algorithm.
        algorithm: Algorithm,
        /// The key's kind.
        key: KeyKind,
    },
    /// The signature does not match the message under this key.
    #[error("the signature does not match")]
    Mismatch,
}

/// An RSA public key pre-parsed by the backend, when it offers that (aws-lc-rs does; ring parses
/// the key on each verification, which costs it little).
#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
struct ParsedRsa {
    pkcs1_sha256: Option<signature::ParsedPublicKey>,
}

#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
impl ParsedRsa {
    fn new(pkcs1: &[u8], bits: usize) -> Self {
        let params: &'static signature::RsaParameters = if bits >= 2048 {
            &signature::RSA_PKCS1_2048_8192_SHA256
        } else {
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
        };
        Self {
            pkcs1_sha256: signature::ParsedPublicKey::new(params, pkcs1).ok(),
        }
    }

    fn verify(
        &self,
        algorithm: Algorithm,
        message: &[u8],
        sig: &[u8],
    ) -> Option<Result<(), provider::error::Unspecified>> {
        match (algorithm, &self.pkcs1_sha256) {
            (Algorithm::RsaV1_5Sha256, Some(key)) => Some(key.verify_sig(message, sig)),
            _ => None,
        }
    }
}

#[cfg(feature = "ring")]
struct ParsedRsa;

#[cfg(feature = "ring")]
impl ParsedRsa {
    fn new(_pkcs1: &[u8], _bits: usize) -> Self {
        Self
    }

    #[allow(clippy::unused_self)]
    fn verify(
        &self,
        _algorithm: Algorithm,
        _message: &[u8],
        _sig: &[u8],
    ) -> Option<Result<(), provider::error::Unspecified>> {
        None
    }
}

/// Splits a PEM document into its label and DER bytes. Lenient on purpose, as OpenSSL is: text
/// before and after the block, CR/LF/space anywhere in the body, any line length, and the
/// literal `\n` escapes some actor documents carry after a bad JSON round trip.
fn decode_pem(pem: &str) -> Result<(String, Vec<u8>), KeyError> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let start = pem.find(BEGIN).ok_or(KeyError::NotPem)?;
    let after_begin = pem.get(start + BEGIN.len()..).ok_or(KeyError::NotPem)?;
    let label_end = after_begin.find(DASHES).ok_or(KeyError::NotPem)?;
    let label = after_begin.get(..label_end).ok_or(KeyError::NotPem)?;
    let body_and_rest = after_begin
        .get(label_end + DASHES.len()..)
        .ok_or(KeyError::NotPem)?;
    let end_marker = format!("-----END {label}-----");
    let body_end = body_and_rest.find(&end_marker).ok_or(KeyError::NotPem)?;
    let body = body_and_rest.get(..body_end).ok_or(KeyError::NotPem)?;
    let cleaned: String = body
        .replace("\\n", "")
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(cleaned)
        .map_err(|_| KeyError::PemBase64)?;
    Ok((label.to_owned(), der))
}

fn encode_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn encode_pkcs8(info: pkcs8::PrivateKeyInfo<'_>) -> Result<pkcs8::SecretDocument, KeyError> {
    pkcs8::SecretDocument::encode_msg(&info).map_err(|source| KeyError::Der {
        format: KeyFormat::Pkcs8,
        source,
    })
}

/// Keeps a copy of private DER bytes in a document that is zeroed when dropped.
fn secret(der: &[u8]) -> Result<pkcs8::SecretDocument, KeyError> {
    pkcs8::SecretDocument::try_from(der).map_err(|source| KeyError::Der {
        format: KeyFormat::Pkcs8,
        source,
    })
}

fn check_p256(curve: Option<pkcs8::ObjectIdentifier>) -> Result<(), KeyError> {
    match curve {
        Some(oid) if oid == OID_P256 => Ok(()),
        Some(oid) => Err(KeyError::UnsupportedCurve {
            oid: oid.to_string(),
        }),
        None => Err(KeyError::UnsupportedCurve {
            oid: "absent".to_owned(),
        }),
    }
}

fn rsa_pair(
    result: Result<signature::RsaKeyPair, provider::error::KeyRejected>,
    pkcs1_or_pkcs8: &[u8],
) -> Result<signature::RsaKeyPair, KeyError> {
    result.map_err(|e| {
        // Tell the operator when the real problem is a small key, which is common with old
        // test keys (draft-cavage's Appendix C key is RSA-1024).
        match small_rsa_bits(pkcs1_or_pkcs8) {
            Some(bits) if bits < MIN_SIGNING_RSA_BITS => KeyError::RsaKeyTooSmall { bits },
            _ => rejected("RSA", &e),
        }
    })
}

fn small_rsa_bits(der: &[u8]) -> Option<usize> {
    let inner = match pkcs8::PrivateKeyInfo::from_der(der) {
        Ok(info) => info.private_key,
        Err(_) => der,
    };
    let key = pkcs1::RsaPrivateKey::from_der(inner).ok()?;
    Some(uint_bits(key.modulus.as_bytes()))
}

fn rsa_bits_of_pair(pair: &signature::RsaKeyPair) -> usize {
    let pkcs1 = signature::KeyPair::public_key(pair).as_ref();
    // The backend produced this encoding itself, so it parses.
    pkcs1::RsaPublicKey::from_der(pkcs1).map_or(0, |k| uint_bits(k.modulus.as_bytes()))
}

fn uint_bits(big_endian: &[u8]) -> usize {
    let trimmed: &[u8] = match big_endian.iter().position(|&b| b != 0) {
        Some(i) => big_endian.get(i..).unwrap_or_default(),
        None => &[],
    };
    match trimmed.first() {
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

fn rejected(kind: &'static str, e: &provider::error::KeyRejected) -> KeyError {
    KeyError::Rejected {
        backend: crate::backend::NAME,
        kind,
        reason: e.to_string(),
    }
}
