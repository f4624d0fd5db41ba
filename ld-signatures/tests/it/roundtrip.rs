//! Signing and verifying with our own keys; tampering.

use ld_signatures::{Error, SECURITY_V1, SigningKey, sign, verify};
use serde_json::{Value, json};

use crate::support::{created, json, mastodon_note, peertube_keys};

const KEY_ID: &str = "https://innocent.yukimochi.io/users/YUKIMOCHI#main-key";

#[test]
fn a_signed_mastodon_note_verifies_and_says_who_signed() {
    let (private, public) = peertube_keys();
    let signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    assert_eq!(signed["signature"]["type"], "RsaSignature2017");
    assert_eq!(signed["signature"]["creator"], KEY_ID);
    assert_eq!(signed["signature"]["created"], "2024-05-01T12:00:00Z");
    let verified = verify(&signed, &public).unwrap();
    assert_eq!(verified.creator, KEY_ID);
    assert_eq!(verified.id, mastodon_note()["id"]);
}

#[test]
fn signing_as_mastodon_reproduces_the_relayed_fixture_shape() {
    // The fixture minus its signature, signed again: same members, same context (security v1
    // is already there, so it is not added twice), a signature with the same three options.
    let (private, _) = peertube_keys();
    let original = json("mastodon/create-note-ld-signed-for-relay.json");
    let signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    assert_eq!(signed["@context"], original["@context"]);
    let mut keys: Vec<_> = signed["signature"].as_object().unwrap().keys().collect();
    let mut expected: Vec<_> = original["signature"].as_object().unwrap().keys().collect();
    keys.sort();
    expected.sort();
    assert_eq!(keys, expected);
}

#[test]
fn signing_adds_the_security_context_as_mastodon_does() {
    let (private, public) = peertube_keys();
    let single = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://a.example/1", "type": "Like", "actor": "https://a.example/u",
        "object": "https://b.example/2"
    });
    let signed = sign(&single, KEY_ID, created(), &private).unwrap();
    assert_eq!(
        signed["@context"],
        json!(["https://www.w3.org/ns/activitystreams", SECURITY_V1])
    );
    verify(&signed, &public).unwrap();
}

#[test]
fn a_document_changed_by_one_character_is_refused() {
    let (private, public) = peertube_keys();
    let signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    let mut changed = signed.clone();
    changed["object"]["content"] = Value::String("<p>てすてす!</p>".to_owned());
    assert!(matches!(
        verify(&changed, &public),
        Err(Error::Mismatch { .. })
    ));

    // The real payload too: one character of its content.
    let mut relayed = json("mastodon/create-note-ld-signed-for-relay.json");
    let (_, key) = crate::support::actor_key("mastodon/person-ld-signer.json");
    relayed["object"]["content"] = Value::String("<p>てすてと</p>".to_owned());
    let err = verify(&relayed, &key).unwrap_err();
    assert!(matches!(err, Error::Mismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("innocent.yukimochi.io"), "{err}");
}

#[test]
fn changed_signature_options_are_refused() {
    let (private, public) = peertube_keys();
    let signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    let mut later = signed.clone();
    later["signature"]["created"] = "2024-05-01T12:00:01Z".into();
    assert!(matches!(
        verify(&later, &public),
        Err(Error::Mismatch { .. })
    ));
    let mut other_creator = signed;
    other_creator["signature"]["creator"] = "https://evil.example/actor#main-key".into();
    assert!(matches!(
        verify(&other_creator, &public),
        Err(Error::Mismatch { .. })
    ));
}

#[test]
fn key_order_and_whitespace_do_not_matter_but_meaning_does() {
    let (private, public) = peertube_keys();
    let signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    // Reversed member order, an array written as a single value: the same statements.
    let mut reordered: serde_json::Map<String, Value> = serde_json::Map::new();
    for (k, v) in signed.as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    let mut reordered = Value::Object(reordered);
    reordered["to"] = "https://www.w3.org/ns/activitystreams#Public".into();
    verify(&reordered, &public).unwrap();
}

#[test]
fn another_key_is_a_mismatch_and_a_non_rsa_key_is_named() {
    let (private, _) = peertube_keys();
    let signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    let (_, other) = crate::support::actor_key("mastodon/person-ld-signer.json");
    assert!(matches!(
        verify(&signed, &other),
        Err(Error::Mismatch { .. })
    ));
    let ed25519 = SigningKey::generate_ed25519().unwrap();
    assert!(matches!(
        verify(&signed, &ed25519.verifying_key()),
        Err(Error::KeyNotRsa { .. })
    ));
    assert!(matches!(
        sign(&mastodon_note(), KEY_ID, created(), &ed25519),
        Err(Error::KeyNotRsa { .. })
    ));
}

#[test]
fn malformed_signatures_say_what_is_wrong() {
    let (private, public) = peertube_keys();
    let signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    let check = |edit: &dyn Fn(&mut Value), expected: &dyn Fn(&Error) -> bool| {
        let mut document = signed.clone();
        edit(&mut document);
        let err = verify(&document, &public).unwrap_err();
        assert!(expected(&err), "{err:?}");
    };
    check(
        &|d| {
            d.as_object_mut().unwrap().remove("signature");
        },
        &|e| matches!(e, Error::NoSignature),
    );
    check(&|d| d["signature"] = "x".into(), &|e| {
        matches!(e, Error::SignatureNotObject)
    });
    check(
        &|d| d["signature"]["type"] = "Ed25519Signature2018".into(),
        &|e| matches!(e, Error::UnsupportedType { found } if found == "\"Ed25519Signature2018\""),
    );
    check(
        &|d| {
            d["signature"].as_object_mut().unwrap().remove("creator");
        },
        &|e| matches!(e, Error::MissingMember { member: "creator" }),
    );
    check(
        &|d| d["signature"]["signatureValue"] = "not base64!".into(),
        &|e| matches!(e, Error::BadBase64 { .. }),
    );
    check(&|d| *d = json!([1, 2]), &|e| {
        matches!(e, Error::NotAnObject)
    });
}

#[test]
fn wrapped_base64_is_accepted() {
    let (private, public) = peertube_keys();
    let mut signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    let value = signed["signature"]["signatureValue"]
        .as_str()
        .unwrap()
        .to_owned();
    let (head, tail) = value.split_at(64);
    signed["signature"]["signatureValue"] =
        format!("{head}\n{}", tail.trim_end_matches('=')).into();
    verify(&signed, &public).unwrap();
}
