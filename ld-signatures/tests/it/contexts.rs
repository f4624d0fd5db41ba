//! The bundled contexts, and contexts that are not bundled.

use ld_signatures::{BUNDLED_CONTEXTS, Error, Limits, bundled_context, canonicalize, sign, verify};
use serde_json::json;

use crate::support::{FIXTURES, created, mastodon_note, peertube_keys};

#[test]
fn bundled_contexts_are_the_fixtures() {
    for (url, file) in [
        (
            "https://www.w3.org/ns/activitystreams",
            "activitystreams.jsonld",
        ),
        ("https://w3id.org/security/v1", "security-v1.jsonld"),
        ("https://w3id.org/identity/v1", "identity-v1.jsonld"),
    ] {
        let bytes = std::fs::read_to_string(format!("{FIXTURES}/contexts/{file}")).unwrap();
        assert_eq!(bundled_context(url).unwrap().document, bytes, "{url}");
        assert_eq!(
            bundled_context(&url.replace("https", "http")).unwrap().url,
            url
        );
        assert_eq!(bundled_context(&format!("{url}#")).unwrap().url, url);
    }
    assert_eq!(BUNDLED_CONTEXTS.len(), 3);
    assert!(bundled_context("https://w3id.org/security/v2").is_none());
}

#[test]
fn a_remote_context_is_refused_with_its_url() {
    let (private, public) = peertube_keys();
    let mut note = mastodon_note();
    note["@context"]
        .as_array_mut()
        .unwrap()
        .push("https://evil.example/context.jsonld".into());
    let err = sign(&note, "https://a.example/k", created(), &private).unwrap_err();
    assert!(
        matches!(&err, Error::RemoteContext { url } if url == "https://evil.example/context.jsonld"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("https://evil.example/context.jsonld")
    );

    // Added after signing (a relay cannot add one): refused before any key work.
    let signed = sign(&mastodon_note(), "https://a.example/k", created(), &private).unwrap();
    let mut changed = signed;
    changed["@context"] = json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v2"
    ]);
    assert!(matches!(
        verify(&changed, &public),
        Err(Error::RemoteContext { url }) if url == "https://w3id.org/security/v2"
    ));
}

#[test]
fn inline_contexts_need_nothing_bundled() {
    let document = json!({
        "@context": {"@vocab": "https://example.com/ns#", "id": "@id"},
        "id": "https://a.example/1",
        "name": "x"
    });
    assert_eq!(
        canonicalize(&document, &Limits::default()).unwrap(),
        "<https://a.example/1> <https://example.com/ns#name> \"x\" .\n"
    );
}

#[test]
fn the_options_are_canonicalized_with_identity_v1() {
    // What `created` and `creator` mean under identity v1: dc terms, a dateTime, an IRI.
    let options = json!({
        "@context": "https://w3id.org/identity/v1",
        "creator": "https://a.example/u#main-key",
        "created": "2018-12-23T07:39:37Z"
    });
    assert_eq!(
        canonicalize(&options, &Limits::default()).unwrap(),
        "_:c14n0 <http://purl.org/dc/terms/created> \"2018-12-23T07:39:37Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n\
         _:c14n0 <http://purl.org/dc/terms/creator> <https://a.example/u#main-key> .\n"
    );
}

#[test]
fn every_bundled_context_loads() {
    for context in BUNDLED_CONTEXTS {
        let document = json!({"@context": context.url, "@id": "https://a.example/1",
                              "http://example.com/p": "x"});
        assert_eq!(
            canonicalize(&document, &Limits::default()).unwrap(),
            "<https://a.example/1> <http://example.com/p> \"x\" .\n",
            "{}",
            context.url
        );
    }
}
