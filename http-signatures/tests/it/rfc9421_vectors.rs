//! RFC 9421 Appendix B.2: every signature verifies against the Appendix B.1 keys, the signature
//! bases match byte for byte, and the deterministic ones (HMAC, Ed25519) are reproduced.

use base64::Engine as _;
use http_signatures::digest::DigestAlgorithm;
use http_signatures::{
    Algorithm, Policy, Signer, SigningKey, Verifier, VerifyErrorKind, VerifyingKey,
};
use serde_json::Value;

use crate::support::{at, fixture};

const CASES: &str = "signatures/rfc9421/appendix-b2-test-cases.json";
const CREATED: u64 = 1_618_884_473;

fn cases() -> Value {
    serde_json::from_str(&fixture(CASES)).unwrap()
}

fn shared_secret() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(fixture("signatures/rfc9421/test-shared-secret.b64.txt").trim())
        .unwrap()
}

fn verifying_key(keyid: &str) -> VerifyingKey {
    match keyid {
        "test-shared-secret" => VerifyingKey::shared_secret(&shared_secret()),
        "test-key-rsa-pss" => {
            VerifyingKey::from_pem(&fixture("signatures/rfc9421/test-key-rsa-pss.pub.pem"))
                .unwrap()
                // The SPKI says rsaEncryption; the key id says PSS (RFC 9421 §3.3.7).
                .with_algorithm(Algorithm::RsaPssSha512)
                .unwrap()
        }
        other => VerifyingKey::from_pem(&fixture(&format!("signatures/rfc9421/{other}.pub.pem")))
            .unwrap(),
    }
}

fn signing_key(keyid: &str) -> SigningKey {
    match keyid {
        "test-shared-secret" => SigningKey::shared_secret(&shared_secret()),
        other => {
            SigningKey::from_pem(&fixture(&format!("signatures/rfc9421/{other}.priv.pem"))).unwrap()
        }
    }
}

/// The message of a case with its Signature-Input and Signature added.
fn signed_message(
    all: &Value,
    case: &Value,
) -> (
    Option<http::Request<Vec<u8>>>,
    Option<http::Response<Vec<u8>>>,
) {
    let which = case["message"].as_str().unwrap();
    let raw = all[which].as_str().unwrap().as_bytes();
    let input = case["signature_input"].as_str().unwrap();
    let signature = case["signature"].as_str().unwrap();
    if which == "test-request" {
        let mut request = crate::support::request(raw);
        request
            .headers_mut()
            .insert("signature-input", input.parse().unwrap());
        request
            .headers_mut()
            .insert("signature", signature.parse().unwrap());
        (Some(request), None)
    } else {
        let mut response = crate::support::response(raw);
        // Erratum: the published response's Content-Digest is not the SHA-512 of its body; the
        // B.2.4 signature base (and so the signature) uses the body's real digest.
        let published = response.headers()["content-digest"].clone();
        let real = DigestAlgorithm::Sha512.content_digest_header(response.body());
        assert_ne!(published, real, "the B.2.4 erratum is fixed in the fixture");
        assert!(
            case["signature_base"]
                .as_str()
                .unwrap()
                .contains(real.to_str().unwrap())
        );
        response.headers_mut().insert("content-digest", real);
        response
            .headers_mut()
            .insert("signature-input", input.parse().unwrap());
        response
            .headers_mut()
            .insert("signature", signature.parse().unwrap());
        (None, Some(response))
    }
}

#[test]
fn every_b2_signature_verifies_with_its_base() {
    let all = cases();
    let cases = all["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6, "{CASES} should hold the six B.2 cases");
    for case in cases {
        let label = case["label"].as_str().unwrap();
        let keyid = case["keyid"].as_str().unwrap();
        let verifier = Verifier::new(Policy::rfc()).with_label(label);
        let unverified = match signed_message(&all, case) {
            (Some(request), _) => verifier.parse_request(&request, at(CREATED)),
            (_, Some(response)) => {
                verifier.parse_response_with_body(&response, response.body(), at(CREATED))
            }
            _ => unreachable!(),
        }
        .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(unverified.key_id(), keyid, "{label}");
        assert_eq!(
            unverified.signing_string(),
            case["signature_base"].as_str().unwrap(),
            "{label}: signature base"
        );
        let verified = unverified
            .verify(&verifying_key(keyid))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(
            verified.algorithm.name(),
            case["algorithm"].as_str().unwrap()
        );
        assert_eq!(verified.label.as_deref(), Some(label));
        // The request carries a Content-Digest; it was compared with the body.
        if case["message"] == "test-request" {
            assert_eq!(verified.digests.matched.len(), 1, "{label}");
        }
    }
}

/// Signs each case again with the crate's signer, from the same components and parameters.
/// HMAC and Ed25519 are deterministic: the headers come out byte for byte; the RSA-PSS and
/// ECDSA ones are random, so they are verified instead.
#[test]
fn signing_reproduces_the_deterministic_cases_and_round_trips_the_others() {
    let all = cases();
    for case in all["cases"].as_array().unwrap() {
        let label = case["label"].as_str().unwrap();
        if case["message"] != "test-request" {
            continue; // the signer signs requests
        }
        let keyid = case["keyid"].as_str().unwrap();
        let input = case["signature_input"].as_str().unwrap();
        let parsed = http_signatures::rfc9421::parse_signature_input(input).unwrap();
        let (_, params) = &parsed[0];
        // The signer writes `alg` by default; the published inputs carry it only where they do.
        let mut signer = Signer::new(signing_key(keyid), keyid)
            .with_label(label)
            .with_digest(None)
            .with_alg_parameter(params.alg.is_some())
            .with_components(params.components.iter().map(|c| c.serialize().unwrap()));
        if let Some(nonce) = &params.nonce {
            signer = signer.with_nonce(nonce.clone());
        }
        if let Some(tag) = &params.tag {
            signer = signer.with_tag(tag.clone());
        }
        let raw = all["test-request"].as_str().unwrap().as_bytes();
        let mut request = crate::support::request(raw);
        let signed = signer.sign(&mut request, at(CREATED)).unwrap();
        assert_eq!(
            signed.signing_string,
            case["signature_base"].as_str().unwrap(),
            "{label}"
        );
        assert_eq!(request.headers()["signature-input"], input, "{label}");
        if matches!(keyid, "test-shared-secret" | "test-key-ed25519") {
            assert_eq!(
                request.headers()["signature"],
                case["signature"].as_str().unwrap(),
                "{label}: deterministic signature"
            );
        }
        Verifier::new(Policy::rfc())
            .with_label(label)
            .verify_request(&request, &verifying_key(keyid), at(CREATED))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
    }
}

#[test]
fn b2_signatures_fail_with_the_wrong_key_and_a_typed_error() {
    let all = cases();
    let case = &all["cases"][5]; // ed25519
    let (request, _) = signed_message(&all, case);
    let request = request.unwrap();
    let unverified = Verifier::new(Policy::rfc())
        .parse_request(&request, at(CREATED))
        .unwrap();
    // No `alg`: the algorithm comes from the key (RFC 9421 §3.2), so a P-256 key checks it as
    // ECDSA and the error names that algorithm.
    let error = unverified
        .verify(&verifying_key("test-key-ecc-p256"))
        .unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::BadSignature {
            algorithm: Algorithm::EcdsaP256Sha256
        }
    );
    // A key bound to another algorithm is a typed mismatch.
    let bound = verifying_key("test-key-rsa-pss");
    let error = unverified.verify(&bound).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            VerifyErrorKind::BadSignature {
                algorithm: Algorithm::RsaPssSha512
            }
        ),
        "{error}"
    );
    // The signature base is shown with the failure.
    assert_eq!(error.signing_string(), case["signature_base"].as_str());
    let other_ed25519 = SigningKey::generate_ed25519().unwrap().verifying_key();
    let error = unverified.verify(&other_ed25519).unwrap_err();
    assert_eq!(
        *error.kind(),
        VerifyErrorKind::BadSignature {
            algorithm: Algorithm::Ed25519
        }
    );
    // Verify again with the right key, without parsing again.
    unverified
        .verify(&verifying_key("test-key-ed25519"))
        .unwrap();
}

#[test]
fn several_signatures_in_one_message_are_each_verifiable_by_label() {
    let all = cases();
    let raw = all["test-request"].as_str().unwrap().as_bytes();
    let mut request = crate::support::request(raw);
    for case in [&all["cases"][4], &all["cases"][5]] {
        let keyid = case["keyid"].as_str().unwrap();
        let input = http_signatures::rfc9421::parse_signature_input(
            case["signature_input"].as_str().unwrap(),
        )
        .unwrap();
        Signer::new(signing_key(keyid), keyid)
            .with_label(case["label"].as_str().unwrap())
            .with_digest(None)
            .with_components(input[0].1.components.iter().map(|c| c.serialize().unwrap()))
            .sign(&mut request, at(CREATED))
            .unwrap();
    }
    let header = request.headers()["signature"].to_str().unwrap();
    assert!(
        header.starts_with("sig-b25=:") && header.contains(", sig-b26=:"),
        "{header}"
    );
    for case in [&all["cases"][4], &all["cases"][5]] {
        let label = case["label"].as_str().unwrap();
        Verifier::new(Policy::rfc())
            .with_label(label)
            .verify_request(
                &request,
                &verifying_key(case["keyid"].as_str().unwrap()),
                at(CREATED),
            )
            .unwrap_or_else(|e| panic!("{label}: {e}"));
    }
    // The same label twice is refused.
    let error = Signer::new(signing_key("test-key-ed25519"), "k")
        .with_label("sig-b26")
        .sign(&mut request, at(CREATED))
        .unwrap_err();
    assert!(
        matches!(error, http_signatures::SignError::LabelInUse { .. }),
        "{error}"
    );
}

#[test]
fn accept_signature_is_parsed() {
    let requests = http_signatures::rfc9421::parse_accept_signature(
        r#"sig1=("@method" "@target-uri" "@authority" "content-digest" "@query-param";name="Pet");created;keyid="test-key-rsa";tag="app-123";nonce="abc""#,
    )
    .unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.label, "sig1");
    assert_eq!(request.components.len(), 5);
    assert_eq!(
        request.components[4].to_string(),
        r#"@query-param;name="Pet""#
    );
    assert_eq!(request.keyid.as_deref(), Some("test-key-rsa"));
    assert_eq!(request.tag.as_deref(), Some("app-123"));
    assert_eq!(request.nonce.as_deref(), Some("abc"));
    assert!(request.created && !request.expires);
}
