//! Double-knocking decisions, driven by scripted answers.

use http::{HeaderMap, StatusCode};
use http_signatures::{
    DoubleKnock, KnockOutcome, PeerPreference, Policy, Signer, Standard, Verifier,
};

use crate::support::{at, ed25519_keys, inbox_body};

fn base() -> Signer {
    let (key, _) = ed25519_keys();
    Signer::new(key, "https://alice.example/actor#main-key")
}

#[test]
fn unknown_peer_starts_with_rfc9421_and_falls_back_to_cavage() {
    let mut knock = DoubleKnock::new(base(), &PeerPreference::default());
    assert_eq!(knock.standard(), Standard::Rfc9421);
    let outcome = knock.on_response(StatusCode::UNAUTHORIZED, &HeaderMap::new());
    assert_eq!(
        outcome,
        KnockOutcome::Retry {
            standard: Standard::Cavage,
            challenge: None
        }
    );
    assert_eq!(knock.signer().standard, Standard::Cavage);
    let outcome = knock.on_response(StatusCode::ACCEPTED, &HeaderMap::new());
    let KnockOutcome::Done {
        remember: Some(remember),
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(remember, PeerPreference::new(Standard::Cavage));
    // The record is small and serializable.
    let json = serde_json::to_string(&remember).unwrap();
    assert_eq!(json, r#"{"standard":"cavage"}"#);
    assert_eq!(
        serde_json::from_str::<PeerPreference>(&json).unwrap(),
        remember
    );
}

#[test]
fn known_peer_uses_its_standard_and_gives_up_after_both() {
    let mut knock = DoubleKnock::new(base(), &PeerPreference::new(Standard::Cavage));
    assert_eq!(knock.standard(), Standard::Cavage);
    assert!(matches!(
        knock.on_response(StatusCode::BAD_REQUEST, &HeaderMap::new()),
        KnockOutcome::Retry {
            standard: Standard::Rfc9421,
            ..
        }
    ));
    assert_eq!(
        knock.on_response(StatusCode::UNAUTHORIZED, &HeaderMap::new()),
        KnockOutcome::GiveUp
    );
}

#[test]
fn other_failures_are_not_knocked_and_not_remembered() {
    let mut knock = DoubleKnock::new(base(), &PeerPreference::default());
    assert_eq!(
        knock.on_response(StatusCode::NOT_FOUND, &HeaderMap::new()),
        KnockOutcome::Done { remember: None }
    );
}

#[test]
fn an_accept_signature_challenge_is_honoured_first() {
    let mut knock = DoubleKnock::new(base(), &PeerPreference::new(Standard::Cavage));
    let mut headers = HeaderMap::new();
    headers.insert(
        "accept-signature",
        r#"sig7=("@method" "@target-uri" "content-digest");created;tag="inbox";nonce="n-123""#
            .parse()
            .unwrap(),
    );
    let outcome = knock.on_response(StatusCode::UNAUTHORIZED, &headers);
    let KnockOutcome::Retry {
        standard: Standard::Rfc9421,
        challenge: Some(challenge),
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(challenge.label, "sig7");
    let signer = knock.signer();
    let mut request = http::Request::post("https://bob.example/inbox")
        .body(inbox_body())
        .unwrap();
    signer.sign(&mut request, at(1_700_000_000)).unwrap();
    let input = request.headers()["signature-input"].to_str().unwrap();
    assert!(
        input.starts_with(r#"sig7=("@method" "@target-uri" "content-digest");created=1700000000;"#),
        "{input}"
    );
    assert!(
        input.contains(r#"nonce="n-123""#) && input.contains(r#"tag="inbox""#),
        "{input}"
    );
    let verified = Verifier::new(Policy::fediverse().with_max_age(None))
        .with_label("sig7")
        .verify_request(&request, &signer.key.verifying_key(), at(1_700_000_000))
        .unwrap();
    assert_eq!(verified.nonce.as_deref(), Some("n-123"));
    // The challenge failed too: swap to the other standard once, then give up.
    assert!(matches!(
        knock.on_response(StatusCode::UNAUTHORIZED, &HeaderMap::new()),
        KnockOutcome::Retry {
            standard: Standard::Rfc9421,
            challenge: None
        }
    ));
    assert_eq!(
        knock.on_response(StatusCode::UNAUTHORIZED, &headers),
        KnockOutcome::GiveUp
    );
}

#[test]
fn a_challenge_for_another_key_is_ignored() {
    let mut knock = DoubleKnock::new(base(), &PeerPreference::default());
    let mut headers = HeaderMap::new();
    headers.insert(
        "accept-signature",
        r#"sig1=("@method");keyid="someone-else""#.parse().unwrap(),
    );
    assert_eq!(
        knock.on_response(StatusCode::UNAUTHORIZED, &headers),
        KnockOutcome::Retry {
            standard: Standard::Cavage,
            challenge: None
        }
    );
}
