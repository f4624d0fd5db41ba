//! Key formats: every fixture key loads, exports round-trip, Multikey works, bad input is
//! reported with a typed error.

use http_signatures::{Algorithm, KeyError, KeyKind, MultikeyError, SigningKey, VerifyingKey};

use crate::support::fixture;

/// (private key file, public key file, kind)
const PAIRS: &[(&str, &str, KeyKind)] = &[
    (
        "signatures/rfc9421/test-key-rsa.priv.pem", // PKCS#1
        "signatures/rfc9421/test-key-rsa.pub.pem",  // PKCS#1
        KeyKind::Rsa { bits: 2048 },
    ),
    (
        "signatures/rfc9421/test-key-rsa-pss.priv.pem", // PKCS#8 with the RSASSA-PSS OID
        "signatures/rfc9421/test-key-rsa-pss.pub.pem",  // SPKI
        KeyKind::Rsa { bits: 2048 },
    ),
    (
        "signatures/rfc9421/test-key-ecc-p256.priv.pem", // SEC1
        "signatures/rfc9421/test-key-ecc-p256.pub.pem",
        KeyKind::EcdsaP256,
    ),
    (
        "signatures/rfc9421/test-key-ed25519.priv.pem", // PKCS#8 v1
        "signatures/rfc9421/test-key-ed25519.pub.pem",
        KeyKind::Ed25519,
    ),
];

#[test]
fn fixture_key_pairs_load_and_match() {
    for (private, public, kind) in PAIRS {
        let signing = match SigningKey::from_pem(&fixture(private)) {
            Ok(key) => key,
            // RFC 9421's `test-key-rsa` has primes of unequal length, which ring refuses
            // (aws-lc-rs accepts it). Its public half is still checked below.
            Err(KeyError::Rejected {
                backend: "ring", ..
            }) if private.ends_with("test-key-rsa.priv.pem") => {
                VerifyingKey::from_pem(&fixture(public)).unwrap();
                continue;
            }
            Err(e) => panic!("{private}: {e}"),
        };
        let verifying =
            VerifyingKey::from_pem(&fixture(public)).unwrap_or_else(|e| panic!("{public}: {e}"));
        assert_eq!(signing.kind(), *kind, "{private}");
        assert_eq!(verifying.kind(), *kind, "{public}");
        assert_eq!(
            signing.verifying_key().to_spki_der().unwrap(),
            verifying.to_spki_der().unwrap(),
            "{private} and {public} are a pair"
        );
        let algorithm = signing.algorithm();
        let signature = signing.sign_bytes(algorithm, b"message").unwrap();
        let verifying = verifying.with_algorithm(algorithm).unwrap();
        verifying
            .verify_bytes(algorithm, b"message", &signature)
            .unwrap();
    }
}

#[test]
fn the_pss_oid_binds_the_key_to_rsa_pss() {
    let key =
        SigningKey::from_pem(&fixture("signatures/rfc9421/test-key-rsa-pss.priv.pem")).unwrap();
    assert_eq!(key.algorithm(), Algorithm::RsaPssSha512);
    assert!(matches!(
        key.sign_bytes(Algorithm::RsaV1_5Sha256, b"x"),
        Err(KeyError::AlgorithmMismatch { .. })
    ));
}

#[test]
fn pkcs1_private_keys_export_as_pkcs8_and_reload() {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;

    // The PeerTube key is PKCS#8; the `rsa` crate rewrites it as PKCS#1 for this test.
    let json: serde_json::Value =
        serde_json::from_str(&fixture("signatures/peertube-test-keypair.json")).unwrap();
    let pkcs1 = rsa::RsaPrivateKey::from_pkcs8_pem(json["privateKey"].as_str().unwrap())
        .unwrap()
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let key = SigningKey::from_pem(&pkcs1).unwrap();
    let pem = key.to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let again = SigningKey::from_pem(&pem).unwrap();
    assert_eq!(
        again.verifying_key().to_spki_der().unwrap(),
        key.verifying_key().to_spki_der().unwrap()
    );
    let ec =
        SigningKey::from_pem(&fixture("signatures/rfc9421/test-key-ecc-p256.priv.pem")).unwrap();
    SigningKey::from_pem(&ec.to_pkcs8_pem().unwrap()).unwrap();
}

#[test]
fn the_rsa_1024_cavage_key_is_refused_for_signing_with_a_clear_error() {
    let error =
        SigningKey::from_pem(&fixture("signatures/cavage-12/test-key-rsa.priv.pem")).unwrap_err();
    assert!(
        matches!(error, KeyError::RsaKeyTooSmall { bits: 1024 }),
        "{error}"
    );
}

#[test]
fn peertube_and_mastodon_public_keys_load() {
    let (private, public) = crate::support::peertube_keys();
    assert_eq!(private.kind(), KeyKind::Rsa { bits: 2048 });
    assert_eq!(
        public.to_spki_der().unwrap(),
        private.verifying_key().to_spki_der().unwrap()
    );
    let json: serde_json::Value =
        serde_json::from_str(&fixture("signatures/mastodon-2.5-public-key.json")).unwrap();
    let mastodon = VerifyingKey::from_pem(json["publicKey"].as_str().unwrap()).unwrap();
    assert_eq!(mastodon.kind(), KeyKind::Rsa { bits: 2048 });
    // The SPKI PEM written back is what the fixture holds.
    assert_eq!(
        mastodon.to_spki_pem().unwrap(),
        json["publicKey"].as_str().unwrap()
    );
}

#[test]
fn pem_as_actor_documents_carry_it() {
    let pem = fixture("signatures/rfc9421/test-key-ed25519.pub.pem");
    for variant in [
        pem.replace('\n', "\r\n"),
        pem.replace('\n', "\\n"),
        format!("  leading text\n{}", pem.trim_end()),
        pem.replace("\nMCow", "\n MCow"),
    ] {
        VerifyingKey::from_pem(&variant).unwrap_or_else(|e| panic!("{variant:?}: {e}"));
    }
}

#[test]
fn multikey_round_trips() {
    let ed =
        VerifyingKey::from_pem(&fixture("signatures/rfc9421/test-key-ed25519.pub.pem")).unwrap();
    let multikey = ed.to_multikey().unwrap();
    assert!(multikey.starts_with("z6Mk"), "{multikey}");
    let back = VerifyingKey::from_multikey(&multikey).unwrap();
    assert_eq!(back.to_spki_der().unwrap(), ed.to_spki_der().unwrap());

    let rsa = VerifyingKey::from_pem(&fixture("signatures/rfc9421/test-key-rsa.pub.pem")).unwrap();
    let multikey = rsa.to_multikey().unwrap();
    let back = VerifyingKey::from_multikey(&multikey).unwrap();
    assert_eq!(back.to_spki_der().unwrap(), rsa.to_spki_der().unwrap());
}

#[test]
fn multikey_errors() {
    assert!(matches!(
        VerifyingKey::from_multikey("u6Mk"),
        Err(KeyError::Multikey(MultikeyError::NotBase58btc))
    ));
    assert!(matches!(
        VerifyingKey::from_multikey("z0OIl"),
        Err(KeyError::Multikey(MultikeyError::Base58(_)))
    ));
    assert!(matches!(
        VerifyingKey::from_multikey("z6Mk"),
        Err(KeyError::Multikey(
            MultikeyError::WrongLength(_) | MultikeyError::UnsupportedCodec { .. }
        ))
    ));
    let p256 = format!("z{}", bs58_encode(&[0x80, 0x24, 2, 3]));
    assert!(matches!(
        VerifyingKey::from_multikey(&p256),
        Err(KeyError::Multikey(MultikeyError::UnsupportedCodec { .. }))
    ));
}

fn bs58_encode(bytes: &[u8]) -> String {
    // A tiny base58 encoder for the test, so the test does not depend on the crate's own.
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for digit in &mut digits {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    std::iter::repeat_n('1', zeros)
        .chain(digits.iter().rev().map(|&d| ALPHABET[d as usize] as char))
        .collect()
}

#[test]
fn bad_key_input_is_typed() {
    assert!(matches!(
        VerifyingKey::from_pem("no key here"),
        Err(KeyError::NotPem)
    ));
    assert!(matches!(
        VerifyingKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Err(KeyError::UnsupportedPemLabel { .. })
    ));
    assert!(matches!(
        VerifyingKey::from_pem("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"),
        Err(KeyError::PemBase64)
    ));
    assert!(matches!(
        VerifyingKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"
        ),
        Err(KeyError::Der { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem(&fixture("signatures/rfc9421/test-key-ed25519.pub.pem")),
        Err(KeyError::UnsupportedPemLabel { .. })
    ));
}

#[test]
fn generated_ed25519_keys_sign_and_export() {
    let key = SigningKey::generate_ed25519().unwrap();
    let pem = key.to_pkcs8_pem().unwrap();
    let again = SigningKey::from_pem(&pem).unwrap();
    let signature = again.sign_bytes(Algorithm::Ed25519, b"m").unwrap();
    key.verifying_key()
        .verify_bytes(Algorithm::Ed25519, b"m", &signature)
        .unwrap();
}

#[cfg(any(feature = "aws-lc-rs", feature = "rsa-keygen"))]
#[test]
fn generated_rsa_keys_sign_and_export() {
    let key = SigningKey::generate_rsa(2048).unwrap();
    assert_eq!(key.kind(), KeyKind::Rsa { bits: 2048 });
    let again = SigningKey::from_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
    let signature = again.sign_bytes(Algorithm::RsaV1_5Sha256, b"m").unwrap();
    key.verifying_key()
        .verify_bytes(Algorithm::RsaV1_5Sha256, b"m", &signature)
        .unwrap();
    assert!(matches!(
        SigningKey::generate_rsa(1024),
        Err(KeyError::UnsupportedKeySize { bits: 1024 })
    ));
}
