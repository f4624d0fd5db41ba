//! The cryptographic backend: `aws-lc-rs` by default, `ring` when that feature is enabled.
//!
//! ring wins when both are on: the `ring` feature is never on by default, so when it is, someone
//! asked for it, while `aws-lc-rs` may be on only because a crate in the graph kept the default
//! features. Picking ring thus needs nothing turned off (features only add).
//!
//! aws-lc-rs mirrors ring's API, so nearly all of the crate names `provider::...` and compiles
//! against either. The few places where the two differ live here, under
//! `all(feature = "aws-lc-rs", not(feature = "ring"))` ("aws-lc-rs is the backend").

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!(
    "http-signatures needs a cryptographic backend: enable the `aws-lc-rs` (default) or `ring` feature"
);

#[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
pub(crate) use aws_lc_rs as provider;
#[cfg(feature = "ring")]
pub(crate) use ring as provider;

use provider::signature::{self, EcdsaKeyPair};

/// The name of the backend in use, for diagnostics and benchmarks.
pub(crate) const NAME: &str = if cfg!(feature = "ring") {
    "ring"
} else {
    "aws-lc-rs"
};

/// Parses a PKCS#8 ECDSA P-256 key for fixed-width (`r || s`) signatures.
pub(crate) fn ecdsa_p256_from_pkcs8(
    pkcs8: &[u8],
) -> Result<EcdsaKeyPair, provider::error::KeyRejected> {
    #[cfg(not(feature = "ring"))]
    {
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
    }
    #[cfg(feature = "ring")]
    {
        let rng = provider::rand::SystemRandom::new();
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
    }
}

/// Generates an RSA key of `bits` bits and returns it as a PKCS#8 document.
///
/// aws-lc-rs generates it whenever it is compiled in, even when ring is the backend: the
/// document is then loaded into the backend like any other key.
#[cfg(feature = "aws-lc-rs")]
pub(crate) fn generate_rsa_pkcs8(bits: usize) -> Result<Vec<u8>, GenerateError> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature;

    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => return Err(GenerateError::UnsupportedSize),
    };
    let pair = signature::RsaKeyPair::generate(size).map_err(|_| GenerateError::Failed)?;
    let der = pair.as_der().map_err(|_| GenerateError::Failed)?;
    Ok(der.as_ref().to_vec())
}

/// Generates an RSA key of `bits` bits and returns it as a PKCS#8 document.
///
/// ring cannot generate RSA keys; the pure-Rust `rsa` crate does it here. It is used for nothing
/// else: the key is then loaded into ring for signing.
#[cfg(all(feature = "rsa-keygen", not(feature = "aws-lc-rs")))]
pub(crate) fn generate_rsa_pkcs8(bits: usize) -> Result<Vec<u8>, GenerateError> {
    use rsa::pkcs8::EncodePrivateKey;

    if !matches!(bits, 2048 | 3072 | 4096) {
        return Err(GenerateError::UnsupportedSize);
    }
    let mut rng = RsaKeygenRng(provider::rand::SystemRandom::new());
    let key = rsa::RsaPrivateKey::new(&mut rng, bits).map_err(|_| GenerateError::Failed)?;
    let doc = key.to_pkcs8_der().map_err(|_| GenerateError::Failed)?;
    Ok(doc.as_bytes().to_vec())
}

/// Adapts the backend's system random generator to the `rand_core` traits the `rsa` crate uses,
/// so that key generation draws from the same source as everything else.
#[cfg(all(feature = "rsa-keygen", not(feature = "aws-lc-rs")))]
struct RsaKeygenRng(provider::rand::SystemRandom);

#[cfg(all(feature = "rsa-keygen", not(feature = "aws-lc-rs")))]
impl rsa::rand_core::RngCore for RsaKeygenRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0_u8; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0_u8; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // The system generator does not fail on supported platforms; an error here means the
        // OS has no entropy source at all, where generating a key must not go on silently.
        #[allow(clippy::expect_used)]
        provider::rand::SecureRandom::fill(&self.0, dest)
            .expect("the system random generator failed");
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        provider::rand::SecureRandom::fill(&self.0, dest)
            .map_err(|_| rsa::rand_core::Error::from(core::num::NonZeroU32::MIN))
    }
}

#[cfg(all(feature = "rsa-keygen", not(feature = "aws-lc-rs")))]
impl rsa::rand_core::CryptoRng for RsaKeygenRng {}

/// Why RSA generation failed, before it is turned into a [`crate::KeyError`].
#[cfg(any(feature = "rsa-keygen", feature = "aws-lc-rs"))]
#[derive(Debug)]
pub(crate) enum GenerateError {
    UnsupportedSize,
    Failed,
}
