//! The real inbox POST signed by Mastodon 2.5.0 (from PeerTube's fixtures): its signature
//! verifies, but its body does not match its Digest, so verification must fail on the digest.

use http_signatures::digest::DigestError;
use http_signatures::{Algorithm, Policy, Verifier, VerifyErrorKind, VerifyingKey};
use serde_json::Value;

use crate::support::{at, fixture};

const REQUEST: &str = "signatures/mastodon-2.5-signed-inbox-post-bad-digest.json";
/// The Date header of the request.
const DATE: u64 = 1_540_215_262;

/// The request, at the target its signature was made for (found by verifying; not stored in
/// the fixture).
fn mastodon_request() -> http::Request<Vec<u8>> {
    let json: Value = serde_json::from_str(&fixture(REQUEST)).unwrap();
    let body = serde_json::to_vec(&json["body"]).unwrap();
    let mut builder = http::Request::post("/accounts/ronan/inbox");
    for (name, value) in json["headers"].as_object().unwrap() {
        builder = builder.header(name.as_str(), value.as_str().unwrap());
    }
    builder.body(body).unwrap()
}

fn mastodon_key() -> VerifyingKey {
    let json: Value =
        serde_json::from_str(&fixture("signatures/mastodon-2.5-public-key.json")).unwrap();
    VerifyingKey::from_pem(json["publicKey"].as_str().unwrap()).unwrap()
}

#[test]
fn the_digest_check_fails_and_says_so() {
    let request = mastodon_request();
    let error = Verifier::new(Policy::fediverse())
        .parse_request(&request, at(DATE + 30))
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            VerifyErrorKind::Digest(DigestError::Mismatch { header, .. }) if header == "digest"
        ),
        "{error}"
    );
    assert_eq!(
        error.key_id(),
        Some("http://localhost:3000/users/ronan2#main-key")
    );
    let shown = error.signing_string().unwrap();
    assert!(shown.starts_with("(request-target): post /accounts/ronan/inbox\nhost: localhost\n"));
}

#[test]
fn the_signature_itself_verifies_over_the_signing_string() {
    let request = mastodon_request();
    let error = Verifier::new(Policy::fediverse())
        .parse_request(&request, at(DATE))
        .unwrap_err();
    let signing_string = error.signing_string().unwrap();
    assert_eq!(
        signing_string,
        "(request-target): post /accounts/ronan/inbox\nhost: localhost\n\
         date: Mon, 22 Oct 2018 13:34:22 GMT\n\
         digest: SHA-256=FEr5j2WSSfdEMcG3NTOXuGU0lUchfTJx4+BtUlWOwDk=\n\
         content-type: application/activity+json"
    );
    let header = request.headers()["signature"].to_str().unwrap();
    let parsed = http_signatures::cavage::CavageSignature::parse(header).unwrap();
    mastodon_key()
        .verify_bytes(
            Algorithm::RsaV1_5Sha256,
            signing_string.as_bytes(),
            &parsed.signature,
        )
        .unwrap();
}

#[test]
fn with_the_digest_fixed_the_signature_no_longer_matches() {
    // The Digest header is covered: correcting it to the body breaks the signature, as it must.
    let mut request = mastodon_request();
    let digest = http_signatures::digest::DigestAlgorithm::Sha256.digest_header(request.body());
    request.headers_mut().insert("digest", digest);
    let unverified = Verifier::new(Policy::fediverse())
        .parse_request(&request, at(DATE))
        .unwrap();
    let error = unverified.verify(&mastodon_key()).unwrap_err();
    assert!(
        matches!(error.kind(), VerifyErrorKind::BadSignature { .. }),
        "{error}"
    );
}

#[test]
fn outside_the_clock_window_it_is_rejected_first() {
    let request = mastodon_request();
    let error = Verifier::new(Policy::fediverse())
        .parse_request(&request, at(DATE + 2 * 3600))
        .unwrap_err();
    assert!(
        matches!(error.kind(), VerifyErrorKind::TooOld { .. }),
        "{error}"
    );
}
