//! JSON-LD support (feature `jsonld`): every fixture expands with the bundled contexts alone,
//! terms expand to the IRIs their software means, canonical N-Quads are stable.

// A test fails by panicking, naming what it was looking at; the workspace's lints against
// panics and indexing are meant for code that handles network data.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use activitypub_core::jsonld::{
    self, BUNDLED_CONTEXTS, JsonLdError, bundled_context, canonicalize, expand, to_nquads,
};
use serde_json::{Value, json};

use crate::support::{as2_fixtures, fixtures_dir, read};

const AS: &str = "https://www.w3.org/ns/activitystreams#";
const SEC: &str = "https://w3id.org/security#";
const MZ: &str = "https://joinmobilizon.org/ns#";
const PT: &str = "https://joinpeertube.org/ns#";
const TOOT: &str = "http://joinmastodon.org/ns#";
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";

/// Fixtures whose context cannot be bundled, with the context they name.
///
/// `https://funkwhale.audio/ns` is Funkwhale's own vocabulary. No context document is published
/// under that URL as far as we could find: Funkwhale defines its text inside its (AGPL) server
/// code and preloads it there. Bundling our own guess would give terms a meaning nobody
/// published, so the document is refused with the typed error instead.
///
/// `https://www.w3.org/ns/did/v1` (the DID core context, in the FEP-9091 example) is not among the
/// bundled contexts, so the example is refused the same way.
const UNBUNDLED: &[(&str, &str)] = &[
    ("funkwhale/create-audio.json", "https://funkwhale.audio/ns"),
    (
        "fep/9091-actor-export-service.json",
        "https://www.w3.org/ns/did/v1",
    ),
];

fn load(relative: &str) -> Value {
    let path = fixtures_dir().join(relative);
    serde_json::from_slice(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn expanded(relative: &str) -> Value {
    expand(&load(relative)).unwrap_or_else(|e| panic!("{relative} did not expand: {e}"))
}

/// The first node object of an expanded document.
fn top(expanded: &Value) -> &Value {
    expanded
        .as_array()
        .and_then(|a| a.first())
        .unwrap_or_else(|| panic!("empty expansion: {expanded}"))
}

/// The `@value`s (or `@id`s) of `property` on `node`.
fn values<'a>(node: &'a Value, property: &str) -> Vec<&'a Value> {
    node.get(property)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no <{property}> in {node:#}"))
        .iter()
        .map(|v| v.get("@value").or_else(|| v.get("@id")).unwrap_or(v))
        .collect()
}

#[test]
fn every_as2_fixture_expands_with_bundled_contexts_only() {
    let mut expanded_count = 0;
    for relative in as2_fixtures() {
        let document = load(&relative);
        let result = expand(&document);
        if let Some((_, url)) = UNBUNDLED.iter().find(|(file, _)| *file == relative) {
            match result {
                Err(JsonLdError::UnknownContext { url: got }) => {
                    assert_eq!(got, *url, "{relative}")
                }
                other => panic!("{relative}: expected UnknownContext {url}, got {other:?}"),
            }
            continue;
        }
        let out = result.unwrap_or_else(|e| panic!("{relative} did not expand: {e}"));
        let nodes = out
            .as_array()
            .unwrap_or_else(|| panic!("{relative}: not an array"));
        assert!(!nodes.is_empty(), "{relative} expanded to nothing");
        // The whole document made it through: its type is a full IRI, not a dropped term.
        let kinds = top(&out).get("@type").and_then(Value::as_array);
        assert!(
            kinds.is_some_and(|k| k
                .iter()
                .all(|t| t.as_str().is_some_and(|t| t.contains(':')))),
            "{relative}: no expanded @type in {out:#}"
        );
        // And it converts to RDF and canonicalizes.
        let nquads = canonicalize(&document)
            .unwrap_or_else(|e| panic!("{relative} did not canonicalize: {e}"));
        assert!(nquads.ends_with(" .\n"), "{relative}: {nquads}");
        expanded_count += 1;
    }
    assert!(
        expanded_count > 50,
        "only {expanded_count} fixtures expanded"
    );
}

#[test]
fn bundled_contexts_are_valid_json_ld_contexts() {
    for context in BUNDLED_CONTEXTS {
        let document = json!({"@context": context.url, "@id": "https://example.com/x"});
        expand(&document).unwrap_or_else(|e| panic!("{} is not usable: {e}", context.url));
        let parsed: Value = serde_json::from_str(context.document)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", context.url));
        assert!(
            parsed.get("@context").is_some(),
            "{} has no @context",
            context.url
        );
    }
}

#[test]
fn bundled_activitystreams_context_is_the_published_one() {
    let path = fixtures_dir().join("contexts/activitystreams.jsonld");
    let published = String::from_utf8(read(&path)).expect("UTF-8");
    let bundled = bundled_context("https://www.w3.org/ns/activitystreams").expect("bundled");
    assert_eq!(bundled.document, published);
}

#[test]
fn context_url_spellings() {
    let check = |url: &str, expected: Option<&str>| {
        assert_eq!(bundled_context(url).map(|c| c.url), expected, "{url}");
    };
    let as2 = Some("https://www.w3.org/ns/activitystreams");
    check("https://www.w3.org/ns/activitystreams", as2);
    check("http://www.w3.org/ns/activitystreams", as2);
    check("https://www.w3.org/ns/activitystreams#", as2);
    check("http://www.w3.org/ns/activitystreams#", as2);
    check(
        "http://w3id.org/security/v1",
        Some("https://w3id.org/security/v1"),
    );
    let pleroma = Some("https://pleroma.social/schemas/litepub-0.1.jsonld");
    check(
        "https://queer.hacktivis.me/schemas/litepub-0.1.jsonld",
        pleroma,
    );
    check(
        "https://pleroma.example:8443/schemas/litepub-0.1.jsonld",
        pleroma,
    );
    check("https://example.com/other/schemas/litepub-0.1.jsonld", None);
    check("https://example.com/schemas/litepub-0.1.jsonld?x=1", None);
    check("https://www.w3.org/ns/activitystreams/extra", None);
    check("ftp://www.w3.org/ns/activitystreams", None);
    check("https://funkwhale.audio/ns", None);
}

#[test]
fn documents_without_context_get_the_activitystreams_one() {
    // Lemmy's and Gancio's captured payloads carry no @context (AS2 Core §2.1 applies).
    let out = expanded("lemmy/tombstone.json");
    assert_eq!(
        values(top(&out), "@type"),
        [&json!(format!("{AS}Tombstone"))]
    );
    let out = expanded("gancio/create-event.json");
    assert_eq!(values(top(&out), "@type"), [&json!(format!("{AS}Create"))]);
}

#[test]
fn http_context_url_expands_like_https() {
    // as2-spec/question-oneof.json uses `http://www.w3.org/ns/activitystreams`.
    let out = expanded("as2-spec/question-oneof.json");
    assert_eq!(
        values(top(&out), "@type"),
        [&json!(format!("{AS}Question"))]
    );
    assert!(top(&out).get(format!("{AS}oneOf")).is_some(), "{out:#}");
}

#[test]
fn mastodon_terms_expand_to_their_iris() {
    let out = expanded("mastodon/note.json");
    let note = top(&out);
    assert_eq!(values(note, &format!("{AS}sensitive")), [&json!(false)]);

    let out = expanded("mastodon/person.json");
    let person = top(&out);
    let key = &person[format!("{SEC}publicKey")][0];
    let pem = values(key, &format!("{SEC}publicKeyPem"));
    assert!(
        pem[0]
            .as_str()
            .is_some_and(|p| p.starts_with("-----BEGIN PUBLIC KEY-----")),
        "{pem:?}"
    );
    assert_eq!(values(key, &format!("{SEC}owner")), [&person["@id"]]);
    assert!(
        person.get(format!("{TOOT}featured")).is_some(),
        "{person:#}"
    );
    assert_eq!(
        values(person, &format!("{AS}manuallyApprovesFollowers")),
        [&json!(false)]
    );
}

#[test]
fn mobilizon_terms_expand_to_their_iris() {
    let out = expanded("mobilizon/event.json");
    let event = top(&out);
    assert_eq!(
        values(event, "@type"),
        [&json!(format!("{AS}Event"))],
        "{event:#}"
    );
    assert_eq!(values(event, &format!("{MZ}joinMode")), [&json!("free")]);
    assert_eq!(
        event[format!("{MZ}joinMode")][0]["@type"],
        format!("{MZ}joinModeType")
    );
    assert!(event.get(format!("{MZ}isOnline")).is_some(), "{event:#}");

    // The LitePub context (bundled) and Mobilizon's inline terms together.
    let out = expanded("mobilizon/create-event.json");
    let event = &top(&out)[format!("{AS}object")][0];
    assert!(
        event.get("http://schema.org#identifier").is_some(),
        "{event:#}"
    );
    assert!(event.get(format!("{AS}startTime")).is_some(), "{event:#}");
}

#[test]
fn peertube_terms_expand_to_their_iris() {
    let out = expanded("peertube/video.json");
    let video = top(&out);
    assert_eq!(values(video, "@type"), [&json!(format!("{AS}Video"))]);
    assert!(video.get(format!("{PT}uuid")).is_some(), "{video:#}");
    assert!(
        video.get(format!("{PT}commentsEnabled")).is_some(),
        "{video:#}"
    );
}

#[test]
fn pleroma_instance_litepub_context_is_served() {
    // Names https://queer.hacktivis.me/schemas/litepub-0.1.jsonld.
    let out = expanded("pleroma/chat-message.json");
    assert_eq!(
        values(top(&out), "@type"),
        [&json!("http://litepub.social/ns#ChatMessage")]
    );
}

#[test]
fn security_and_data_integrity_terms() {
    let out = expanded("mitra/create-note.json");
    let proof = &top(&out)[format!("{SEC}proof")];
    assert!(proof.is_array(), "no data-integrity proof in {out:#}");
}

#[test]
fn unknown_remote_context_is_refused_without_fetching() {
    let url = "https://example.invalid/context.jsonld";
    let document = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", url],
        "type": "Note",
        "content": "hi"
    });
    for result in [
        expand(&document).map(drop),
        canonicalize(&document).map(drop),
        to_nquads(&document).map(drop),
    ] {
        match result {
            Err(JsonLdError::UnknownContext { url: got }) => assert_eq!(got, url),
            other => panic!("expected UnknownContext, got {other:?}"),
        }
    }
}

#[test]
fn invalid_json_ld_is_a_typed_error() {
    let document = json!({"@context": {"@version": 2.0}, "@id": "https://example.com/x"});
    match expand(&document) {
        Err(JsonLdError::Invalid { code, message }) => {
            assert!(!code.is_empty() && !message.is_empty());
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn canonical_nquads_of_a_small_note() {
    let note = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://example.com/notes/1",
        "type": "Note",
        "content": "hi",
        "attributedTo": {"type": "Person", "name": "Alice"}
    });
    let expected = format!(
        "<https://example.com/notes/1> <{RDF_TYPE}> <{AS}Note> .\n\
         <https://example.com/notes/1> <{AS}attributedTo> _:c14n0 .\n\
         <https://example.com/notes/1> <{AS}content> \"hi\" .\n\
         _:c14n0 <{RDF_TYPE}> <{AS}Person> .\n\
         _:c14n0 <{AS}name> \"Alice\" .\n"
    );
    assert_eq!(canonicalize(&note).expect("canonical"), expected);
}

#[test]
fn canonicalization_ignores_key_order_and_compaction() {
    let compact = r#"{
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": "https://example.com/users/a",
        "type": "Person",
        "publicKey": {"id": "https://example.com/users/a#key", "owner": "https://example.com/users/a",
                      "publicKeyPem": "PEM"},
        "attachment": [{"type": "Note", "content": "one"}, {"type": "Note", "content": "two"}]
    }"#;
    let reordered = r#"{
        "attachment": [{"content": "two", "type": "Note"}, {"content": "one", "type": "Note"}],
        "publicKey": {"publicKeyPem": "PEM", "owner": "https://example.com/users/a",
                      "id": "https://example.com/users/a#key"},
        "type": "Person",
        "id": "https://example.com/users/a",
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
    }"#;
    let compact: Value = serde_json::from_str(compact).expect("JSON");
    let reordered: Value = serde_json::from_str(reordered).expect("JSON");
    let canonical = canonicalize(&compact).expect("canonical");
    assert_eq!(
        canonicalize(&compact).expect("canonical"),
        canonical,
        "not deterministic"
    );
    assert_eq!(canonicalize(&reordered).expect("canonical"), canonical);
    // The expanded form (no context at all, full IRIs) is the same graph.
    let expanded = expand(&compact).expect("expand");
    assert_eq!(canonicalize(&expanded).expect("canonical"), canonical);
    assert!(
        canonical.contains(&format!("<{SEC}publicKeyPem> \"PEM\"")),
        "{canonical}"
    );

    // A real change shows.
    let mut changed = compact.clone();
    changed["publicKey"]["publicKeyPem"] = json!("OTHER");
    assert_ne!(canonicalize(&changed).expect("canonical"), canonical);
}

#[test]
fn canonicalization_of_a_real_activity_is_stable() {
    let document = load("mastodon/create-note.json");
    let once = canonicalize(&document).expect("canonical");
    let expanded = expand(&document).expect("expand");
    assert_eq!(canonicalize(&expanded).expect("canonical"), once);
    let mut lines: Vec<&str> = once.lines().collect();
    let sorted = {
        let mut s = lines.clone();
        s.sort_unstable();
        s
    };
    assert_eq!(lines, sorted, "canonical N-Quads are sorted");
    lines.dedup();
    assert_eq!(lines.len(), once.lines().count(), "no duplicate statements");
}

#[test]
fn to_nquads_lists_the_dataset() {
    let note = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://example.com/notes/1",
        "type": "Note",
        "attributedTo": {"type": "Person"}
    });
    let nquads = to_nquads(&note).expect("N-Quads");
    assert_eq!(nquads.lines().count(), 3, "{nquads}");
    assert!(nquads.contains("_:b0"), "{nquads}");
}

#[test]
fn poison_graph_is_bounded() {
    // A clique of blank nodes that are indistinguishable: RDFC-1.0 must try every
    // permutation, which is what a "poison" dataset exploits.
    let names: Vec<String> = (0..8).map(|i| format!("_:n{i}")).collect();
    let graph: Vec<Value> = names
        .iter()
        .map(|me| {
            json!({
                "@id": me,
                "http://example.com/p": names.iter().filter(|n| *n != me)
                    .map(|n| json!({"@id": n})).collect::<Vec<_>>()
            })
        })
        .collect();
    let document = json!({"@graph": graph});
    match canonicalize(&document) {
        Err(JsonLdError::TooComplex { limit }) => assert_eq!(limit, jsonld::CANONICALIZATION_LIMIT),
        other => panic!("expected TooComplex, got {other:?}"),
    }
}

/// Found by the `jsonld_expand` fuzz target (`fuzz/corpus/jsonld_expand/crash-iri-escape-not-utf8`,
/// a PeerTube video with `%ac` in a magnet link): the IRI library under the processor panics on
/// percent-encoded bytes that are not UTF-8. Such IRIs are refused; text is not.
#[test]
fn iris_with_escapes_that_are_not_utf8_are_refused_not_a_panic() {
    for document in [
        json!({"@id": "https://x.example/a?q=%ac", "@type": "https://x.example/T"}),
        json!({"@id": "https://x.example/a%AC", "@type": "https://x.example/T"}),
        json!({"@id": "https://x.example/a#%ac", "@type": "https://x.example/T"}),
        json!({"@context": {"@base": "https://x.example/"}, "@id": "a%ac", "@type": "https://x.example/T"}),
        json!({"@context": {"@vocab": "https://x.example/"}, "p%ac": "v"}),
        json!({"type": "Note", "url": "https://x.example/?%be"}),
    ] {
        for result in [
            expand(&document).map(drop),
            to_nquads(&document).map(drop),
            canonicalize(&document).map(drop),
        ] {
            assert!(
                matches!(&result, Err(JsonLdError::InvalidTerm { reason, .. }) if reason.contains("UTF-8")),
                "{document}: {result:?}"
            );
        }
    }
    let text = json!({"type": "Note", "content": "100%beautiful, caf%C3%A9", "url": "https://x.example/caf%C3%A9"});
    expand(&text).expect("text with a % and IRIs with UTF-8 escapes are processed");
}
