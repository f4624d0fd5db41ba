//! Bounds: size, depth, statements and the blank-node work of canonicalization.

use ld_signatures::{Error, Limits, canonicalize, sign, verify, verify_with_limits};
use serde_json::{Value, json};

use crate::support::{created, json, mastodon_note, peertube_keys};

const KEY_ID: &str = "https://a.example/users/a#main-key";

#[test]
fn a_deep_document_is_refused_without_recursing() {
    let (private, public) = peertube_keys();
    let mut signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    // Deeper than serde_json would parse, built in memory: nothing may recurse through it.
    let mut deep = json!("bottom");
    for _ in 0..100_000 {
        deep = Value::Array(vec![deep]);
    }
    signed["object"]["content"] = deep;
    assert!(matches!(
        verify(&signed, &public),
        Err(Error::TooDeep { limit: 32 })
    ));
    // Dropping such a value recurses in serde_json; leak it instead of overflowing the stack.
    std::mem::forget(signed);
}

#[test]
fn a_huge_document_is_refused() {
    let (private, public) = peertube_keys();
    let mut signed = sign(&mastodon_note(), KEY_ID, created(), &private).unwrap();
    signed["object"]["content"] = "x".repeat(2 * 1024 * 1024).into();
    assert!(matches!(
        verify(&signed, &public),
        Err(Error::TooLarge {
            limit: 1_048_576,
            ..
        })
    ));
}

#[test]
fn too_many_statements_are_refused() {
    let (private, public) = peertube_keys();
    let mut note = mastodon_note();
    note["object"]["tag"] = (0..200)
        .map(|i| json!({"type": "Mention", "href": format!("https://b.example/u/{i}")}))
        .collect::<Vec<_>>()
        .into();
    let signed = sign(&note, KEY_ID, created(), &private).unwrap();
    verify(&signed, &public).unwrap();
    assert!(matches!(
        verify_with_limits(&signed, &public, &Limits::default().with_max_quads(100)),
        Err(Error::TooManyQuads { limit: 100 })
    ));
}

/// `n` blank nodes with the same content, each linked to every other: URDNA2015's worst case.
fn alike_blank_nodes(n: usize) -> Value {
    let nodes: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "@id": format!("_:n{i}"),
                "https://example.com/p": (0..n).filter(|j| *j != i)
                    .map(|j| json!({"@id": format!("_:n{j}")})).collect::<Vec<_>>()
            })
        })
        .collect();
    json!({"@graph": nodes})
}

#[test]
fn alike_blank_nodes_are_refused_before_canonicalization_tries_their_orderings() {
    // 12 alike nodes, each linked to 11 others: 11! orderings per step. Refused at once.
    let err = canonicalize(&alike_blank_nodes(12), &Limits::default()).unwrap_err();
    assert!(
        matches!(err, Error::TooManyAlikeBlankNodes { count: 7, limit: 6 }),
        "{err:?}"
    );
    // Few enough to order: canonicalized, all labels canonical.
    let small = canonicalize(&alike_blank_nodes(3), &Limits::default()).unwrap();
    assert_eq!(small.lines().count(), 6);
    assert!(small.lines().all(|l| l.starts_with("_:c14n")));
}

#[test]
fn a_poison_graph_stops_at_the_step_bound() {
    // Six alike nodes pass the ordering bound but need many Hash N-Degree Quads steps.
    let err = canonicalize(
        &alike_blank_nodes(6),
        &Limits::default().with_max_hndq_calls(50),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::CanonicalizationLimit { limit: 50 }),
        "{err:?}"
    );
}

#[test]
fn real_payloads_fit_the_default_limits() {
    let tight = Limits::default().with_max_alike_blank_nodes(2);
    for path in [
        "mastodon/create-note-ld-signed-for-relay.json",
        "peertube/update-video.json",
        "peertube/announce-video-by-instance-actor.json",
        "peertube/video-hls-captions-chapters.json",
    ] {
        canonicalize(&json(path), &tight).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}
