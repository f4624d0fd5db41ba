//! The RFC 9421 `alg` parameter: the signer writes the key's algorithm (RFC 9421 §6.2 names),
//! a signature without `alg` still verifies (the algorithm then comes from the key), and an
//! `alg` that the key cannot do is refused with a typed error before any signature check.

use http_signatures::{
    Algorithm, KeyKind, Policy, Signer, SigningKey, Standard, Verifier, VerifyErrorKind,
    VerifyingKey,
};

use crate::support::{at, ed25519_keys, fixture, inbox_body, peertube_keys};

const NOW: u64 = 1_700_000_000;

/// An inbox POST signed with RFC 9421 by `key`, as the server receives it (origin-form URI).
fn signed(key: &SigningKey, signer: impl Fn(Signer) -> Signer) -> http::Request<Vec<u8>> {
    let mut request = http::Request::post("https://bob.example/users/bob/inbox")
        .header("content-type", "application/activity+json")
        .body(inbox_body())
        .unwrap();
    signer(Signer::new(
        key.clone(),
        "https://alice.example/actor#main-key",
    ))
    .sign(&mut request, at(NOW))
    .unwrap();
    *request.uri_mut() = "/users/bob/inbox".parse().unwrap();
    request
}

fn signature_input(request: &http::Request<Vec<u8>>) -> String {
    request.headers()["signature-input"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The request with `alg="from"` in its `Signature-Input` replaced by `alg="to"`.
fn with_alg(request: &http::Request<Vec<u8>>, from: &str, to: &str) -> http::Request<Vec<u8>> {
    let mut changed = request.clone();
    let input = signature_input(request);
    let needle = format!("alg=\"{from}\"");
    assert!(input.contains(&needle), "{input}");
    let input = input.replace(&needle, &format!("alg=\"{to}\""));
    changed
        .headers_mut()
        .insert("signature-input", input.parse().unwrap());
    changed
}

fn shared_secret() -> SigningKey {
    SigningKey::shared_secret(b"a shared secret of thirty-two by")
}

fn pss_keys() -> (SigningKey, VerifyingKey) {
    let key =
        SigningKey::from_pem(&fixture("signatures/rfc9421/test-key-rsa-pss.priv.pem")).unwrap();
    let public = key.verifying_key();
    (key, public)
}

#[test]
fn the_signer_writes_alg_for_every_key() {
    let (rsa, _) = peertube_keys();
    let (ed, _) = ed25519_keys();
    let (pss, _) = pss_keys();
    let p256 =
        SigningKey::from_pem(&fixture("signatures/rfc9421/test-key-ecc-p256.priv.pem")).unwrap();
    for (key, name) in [
        (rsa, "rsa-v1_5-sha256"),
        (pss, "rsa-pss-sha512"),
        (p256, "ecdsa-p256-sha256"),
        (ed, "ed25519"),
        (shared_secret(), "hmac-sha256"),
    ] {
        let request = signed(&key, |s| s);
        let input = signature_input(&request);
        assert!(input.contains(&format!(";alg=\"{name}\"")), "{input}");
        // `alg` comes right after `keyid`, in the order the signer always writes.
        assert!(
            input.contains(&format!(
                "keyid=\"https://alice.example/actor#main-key\";alg=\"{name}\""
            )),
            "{input}"
        );
        let unverified = Verifier::new(Policy::fediverse())
            .parse_request(&request, at(NOW))
            .unwrap();
        assert_eq!(unverified.declared_algorithm(), Some(name));
        let verified = unverified.verify(&key.verifying_key()).unwrap();
        assert_eq!(verified.algorithm.name(), name);
    }
}

#[test]
fn draft_cavage_is_unchanged() {
    let (rsa, public) = peertube_keys();
    let mut request = http::Request::post("https://bob.example/users/bob/inbox")
        .body(inbox_body())
        .unwrap();
    Signer::new(rsa, "k")
        .with_standard(Standard::Cavage)
        .sign(&mut request, at(NOW))
        .unwrap();
    let header = request.headers()["signature"].to_str().unwrap();
    assert!(header.contains("algorithm=\"rsa-sha256\""), "{header}");
    assert!(!header.contains("alg="), "{header}");
    Verifier::new(Policy::fediverse())
        .verify_request(&request, &public, at(NOW))
        .unwrap();
}

#[test]
fn a_signature_without_alg_still_verifies_with_the_keys_algorithm() {
    let (rsa, rsa_public) = peertube_keys();
    let (ed, ed_public) = ed25519_keys();
    let (pss, pss_public) = pss_keys();
    for (key, public, algorithm) in [
        (rsa, rsa_public, Algorithm::RsaV1_5Sha256),
        (ed, ed_public, Algorithm::Ed25519),
        (pss, pss_public, Algorithm::RsaPssSha512),
    ] {
        let request = signed(&key, |s| s.with_alg_parameter(false));
        let input = signature_input(&request);
        assert!(!input.contains("alg="), "{input}");
        let unverified = Verifier::new(Policy::fediverse())
            .parse_request(&request, at(NOW))
            .unwrap();
        assert_eq!(unverified.declared_algorithm(), None);
        let verified = unverified.verify(&public).unwrap();
        assert_eq!(verified.algorithm, algorithm);
    }
}

#[test]
fn an_alg_the_key_cannot_do_is_refused_before_the_signature_is_checked() {
    // An RSA signature claiming to be Ed25519, checked with the RSA key.
    let (rsa, rsa_public) = peertube_keys();
    let request = with_alg(&signed(&rsa, |s| s), "rsa-v1_5-sha256", "ed25519");
    let error = Verifier::new(Policy::fediverse())
        .verify_request(&request, &rsa_public, at(NOW))
        .unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::AlgorithmKeyMismatch {
            algorithm: Algorithm::Ed25519,
            key: KeyKind::Rsa { bits: 2048 }
        }
    );

    // An Ed25519 signature claiming HMAC, checked with the Ed25519 key.
    let (ed, ed_public) = ed25519_keys();
    let request = with_alg(&signed(&ed, |s| s), "ed25519", "hmac-sha256");
    let error = Verifier::new(Policy::fediverse())
        .verify_request(&request, &ed_public, at(NOW))
        .unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::AlgorithmKeyMismatch {
            algorithm: Algorithm::HmacSha256,
            key: KeyKind::Ed25519
        }
    );

    // A key bound to RSA-PSS (its PKCS#8 says so) refuses a signature claiming PKCS#1 v1.5.
    let (pss, pss_public) = pss_keys();
    let request = with_alg(&signed(&pss, |s| s), "rsa-pss-sha512", "rsa-v1_5-sha256");
    let error = Verifier::new(Policy::fediverse())
        .verify_request(&request, &pss_public, at(NOW))
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            VerifyErrorKind::AlgorithmKeyMismatch {
                algorithm: Algorithm::RsaV1_5Sha256,
                key: KeyKind::Rsa { .. }
            }
        ),
        "{error}"
    );

    // The signature the key made, with its own `alg`, verifies.
    Verifier::new(Policy::fediverse())
        .verify_request(&signed(&pss, |s| s), &pss_public, at(NOW))
        .unwrap();
}
