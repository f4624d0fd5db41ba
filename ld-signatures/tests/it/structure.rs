//! A signature covers statements, not JSON: rearrangements that keep the statements but change
//! what a JSON reader sees are refused.

use ld_signatures::{Error, Structure, sign, verify};
use serde_json::{Value, json};

use crate::support::{created, peertube_keys};

const KEY_ID: &str = "https://victim.example/users/alice#main-key";

/// A signed `Undo{Announce}`, as Mastodon sends it when someone un-boosts.
fn signed_undo() -> Value {
    let (private, _) = peertube_keys();
    let undo = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": "https://victim.example/users/alice#announces/123/undo",
        "type": "Undo",
        "actor": "https://victim.example/users/alice",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": "https://victim.example/users/alice/statuses/123/activity",
            "type": "Announce",
            "actor": "https://victim.example/users/alice",
            "published": "2026-03-30T07:18:30Z",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": ["https://victim.example/users/alice/followers"],
            "object": "https://target.example/users/bob/statuses/456"
        }
    });
    sign(&undo, KEY_ID, created(), &private).unwrap()
}

#[test]
fn the_undo_itself_verifies() {
    let (_, public) = peertube_keys();
    let verified = verify(&signed_undo(), &public).unwrap();
    assert_eq!(
        verified.id,
        "https://victim.example/users/alice#announces/123/undo"
    );
}

#[test]
fn an_announce_hoisted_out_of_an_undo_into_a_named_graph_is_refused() {
    // CVE-2026-46349 (GHSA-chgx-jx3p-rf73): Mastodon merges named graphs into the default
    // graph, so this rearrangement has the same statements there and verifies.
    let (_, public) = peertube_keys();
    let signed = signed_undo();
    let mut forged = signed["object"].clone();
    forged["@context"] = signed["@context"].clone();
    forged["signature"] = signed["signature"].clone();
    forged["@graph"] = json!([{
        "id": signed["id"], "type": "Undo", "actor": signed["actor"], "to": signed["to"],
        "object": signed["object"]["id"]
    }]);
    let err = verify(&forged, &public).unwrap_err();
    assert!(
        matches!(err, Error::Structure(Structure::NamedGraph { .. })),
        "{err:?}"
    );
}

#[test]
fn an_announce_hoisted_out_of_an_undo_with_a_reverse_property_is_refused() {
    // Without a named graph: the same statements, in the default graph, with the Undo hanging
    // from the Announce through `@reverse`. The statements equal the signed ones, so only the
    // shape check tells them apart.
    let (_, public) = peertube_keys();
    let signed = signed_undo();
    let mut forged = signed["object"].clone();
    forged["@context"] = signed["@context"].clone();
    forged["signature"] = signed["signature"].clone();
    forged["@reverse"] = json!({"https://www.w3.org/ns/activitystreams#object": {
        "id": signed["id"], "type": "Undo", "actor": signed["actor"], "to": signed["to"]
    }});
    let err = verify(&forged, &public).unwrap_err();
    assert!(
        matches!(&err, Error::Structure(Structure::RootReferenced { id, .. })
            if id == "https://victim.example/users/alice/statuses/123/activity"),
        "{err:?}"
    );
}

#[test]
fn a_second_root_is_refused() {
    let (private, public) = peertube_keys();
    let two_roots = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://a.example/1", "type": "Note",
        "@included": [{"id": "https://a.example/2", "type": "Note"}]
    });
    let err = sign(&two_roots, KEY_ID, created(), &private).unwrap_err();
    assert!(
        matches!(err, Error::Structure(Structure::Detached { .. })),
        "{err:?}"
    );

    // And after signing: the statements change, so the signature fails first or the shape.
    let signed = signed_undo();
    let mut added = signed;
    added["@included"] = json!([{"id": "https://a.example/2", "type": "Note"}]);
    assert!(verify(&added, &public).is_err());
}

#[test]
fn a_document_without_a_top_level_id_is_refused() {
    let (private, _) = peertube_keys();
    let anonymous = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Note", "content": "x"
    });
    assert!(matches!(
        sign(&anonymous, KEY_ID, created(), &private),
        Err(Error::Structure(Structure::NoId))
    ));
}
