//! The pure helpers: addressing, origin checks, `@context` building.

use activitypub_core::addressing::{self, Visibility};
use activitypub_core::context::{self, context_for, declared_terms};
use activitypub_core::origin::{self, OriginError, check_activity_origin};
use activitypub_core::{AnyObject, Iri, PublicSpelling};
use serde_json::json;

use crate::support::{as2_fixtures, fixture};

fn iri(s: &str) -> Iri {
    s.parse().expect("valid IRI")
}

fn note_addressed(to: serde_json::Value, cc: serde_json::Value) -> AnyObject {
    AnyObject::from_value(json!({
        "type": "Note", "id": "https://a.example/notes/1",
        "attributedTo": "https://a.example/users/alice",
        "to": to, "cc": cc,
        "bcc": ["https://c.example/users/carol"]
    }))
    .expect("note")
}

#[test]
fn the_three_spellings_of_public_are_public_and_kept() {
    for (spelling, kind) in [
        (
            "https://www.w3.org/ns/activitystreams#Public",
            PublicSpelling::Full,
        ),
        ("as:Public", PublicSpelling::Compact),
        ("Public", PublicSpelling::Bare),
    ] {
        let note = note_addressed(json!(spelling), json!([]));
        assert!(addressing::is_public(note.props()), "{spelling}");
        assert_eq!(note.to_value()["to"], json!(spelling), "spelling kept");
        assert_eq!(PublicSpelling::of(spelling), Some(kind));
    }
}

#[test]
fn visibility_follows_mastodon() {
    let followers = iri("https://a.example/users/alice/followers");
    let cases = [
        (
            json!("as:Public"),
            json!([followers.as_str()]),
            Visibility::Public,
        ),
        (
            json!([followers.as_str()]),
            json!(["Public"]),
            Visibility::Unlisted,
        ),
        (
            json!([followers.as_str()]),
            json!([]),
            Visibility::FollowersOnly,
        ),
        (
            json!(["https://b.example/users/bob"]),
            json!([]),
            Visibility::Direct,
        ),
    ];
    for (to, cc, expected) in cases {
        let note = note_addressed(to.clone(), cc.clone());
        assert_eq!(
            addressing::visibility(note.props(), Some(&followers)),
            expected,
            "{to} {cc}"
        );
    }
}

#[test]
fn delivery_targets_are_deduplicated_and_exclude_public() {
    let (_, create) = fixture("mastodon/create-note.json");
    let targets = addressing::delivery_targets(&create);
    assert!(!targets.is_empty());
    assert!(
        targets
            .iter()
            .all(|t| PublicSpelling::of(t.as_str()).is_none())
    );
    let mut unique = targets.clone();
    unique.dedup();
    assert_eq!(unique.len(), targets.len());
}

#[test]
fn hidden_recipients_are_stripped_everywhere() {
    let mut create = AnyObject::from_value(json!({
        "type": "Create", "id": "https://a.example/activities/1",
        "actor": "https://a.example/users/alice",
        "bto": "https://b.example/users/bob",
        "object": {
            "type": "Note", "id": "https://a.example/notes/1",
            "bcc": ["https://c.example/users/carol"], "to": "as:Public"
        }
    }))
    .expect("create");
    assert!(addressing::delivery_targets(&create).contains(&iri("https://c.example/users/carol")));
    assert!(addressing::strip_hidden_recipients(&mut create));
    let value = create.to_value();
    assert!(
        value.get("bto").is_none() && value["object"].get("bcc").is_none(),
        "{value}"
    );
    assert_eq!(value["object"]["to"], json!("as:Public"));
    assert!(
        !addressing::strip_hidden_recipients(&mut create),
        "nothing left to strip"
    );
}

#[test]
fn origins_normalize_case_ports_and_idns() {
    let same = [
        (
            "https://Example.COM/users/a",
            "https://example.com:443/inbox",
        ),
        (
            "https://bücher.example/a",
            "https://xn--bcher-kva.example/b",
        ),
        ("http://example.com/a", "http://example.com:80/b"),
    ];
    for (a, b) in same {
        assert!(origin::same_origin(&iri(a), &iri(b)), "{a} ~ {b}");
    }
    let different = [
        ("https://example.com/a", "http://example.com/a"),
        ("https://example.com/a", "https://example.com:8443/a"),
        ("https://example.com/a", "https://sub.example.com/a"),
        ("https://example.com/a", "urn:uuid:1"),
    ];
    for (a, b) in different {
        assert!(!origin::same_origin(&iri(a), &iri(b)), "{a} !~ {b}");
    }
}

#[test]
fn handles_keep_a_port_that_is_not_the_default() {
    let check = |id: &str, expected: &str| {
        let object = AnyObject::from_value(json!({
            "id": id, "type": "Person", "preferredUsername": "alice",
            "inbox": format!("{id}/inbox"), "outbox": format!("{id}/outbox")
        }))
        .expect("actor");
        let AnyObject::Actor(actor) = object else {
            panic!("{id} did not parse as an actor");
        };
        assert_eq!(actor.handle().as_deref(), Some(expected), "{id}");
    };
    check("https://Example.com/users/alice", "alice@example.com");
    check("https://example.com:443/users/alice", "alice@example.com");
    check(
        "http://127.0.0.1:42487/users/alice",
        "alice@127.0.0.1:42487",
    );
    check(
        "https://example.com:8443/users/alice",
        "alice@example.com:8443",
    );
    check("http://[::1]:8080/users/alice", "alice@[::1]:8080");
}

#[test]
fn activity_origins_of_real_payloads_check_out() {
    for file in [
        "mastodon/create-note.json",
        "mastodon/delete-note.json",
        "mastodon/undo-like.json",
        "lemmy/create-page.json",
        "mobilizon/create-event.json",
        "peertube/create-video.json",
    ] {
        let (_, object) = fixture(file);
        let activity = object.as_activity().expect("activity");
        check_activity_origin(activity).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn a_forged_create_fails_the_origin_check() {
    let forged = AnyObject::from_value(json!({
        "type": "Create", "id": "https://evil.example/activities/1",
        "actor": "https://evil.example/users/mallory",
        "object": {"type": "Note", "id": "https://victim.example/notes/1",
                   "attributedTo": "https://victim.example/users/alice"}
    }))
    .expect("create");
    let error = check_activity_origin(forged.as_activity().expect("activity")).expect_err("forged");
    assert!(
        matches!(
            &error,
            OriginError::Mismatch {
                field: "object.id",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("victim.example"), "{error}");
    let key = iri("https://evil.example/users/mallory#main-key");
    assert!(origin::check_key_owner(&key, &iri("https://victim.example/users/alice")).is_err());
    assert!(origin::check_key_owner(&key, &iri("https://evil.example/users/mallory")).is_ok());
}

/// Found by the `inbox` fuzz target (`fuzz/corpus/inbox/crash-second-actor-on-another-origin`):
/// a signature speaks for the first actor only.
#[test]
fn a_second_actor_on_another_server_fails_the_origin_check() {
    let activity = |actors: serde_json::Value| {
        AnyObject::from_value(json!({
            "type": "Like", "id": "https://a.example/likes/1",
            "actor": actors, "object": "https://c.example/notes/1"
        }))
        .expect("like")
    };
    let two_servers = activity(json!([
        "https://a.example/users/alice",
        {"type": "Person", "id": "https://b.example/users/bob"}
    ]));
    let error = check_activity_origin(two_servers.as_activity().expect("activity"))
        .expect_err("a second actor elsewhere");
    assert!(
        matches!(&error, OriginError::Mismatch { field: "actor", iri, .. } if iri == "https://b.example/users/bob"),
        "{error:?}"
    );
    let one_server = activity(json!([
        "https://a.example/users/alice",
        "https://a.example/users/carol"
    ]));
    check_activity_origin(one_server.as_activity().expect("activity")).expect("one server");
}

#[test]
fn built_contexts_define_what_objects_use() {
    // A plain note needs only ActivityStreams.
    let (_, note) = fixture("as2-spec/tombstone.json");
    assert_eq!(context_for(&note).0, json!(context::ACTIVITYSTREAMS));

    let (_, person) = fixture("mastodon/person.json");
    let (remote, terms) = declared_terms(&context_for(&person));
    assert_eq!(remote, [context::ACTIVITYSTREAMS, context::SECURITY_V1]);
    for term in [
        "manuallyApprovesFollowers",
        "featured",
        "featuredTags",
        "discoverable",
        "toot",
    ] {
        assert!(terms.contains_key(term), "missing {term}");
    }
    assert_eq!(
        terms["featured"],
        json!({"@id": "toot:featured", "@type": "@id"})
    );

    let (_, event) = fixture("mobilizon/event.json");
    let (_, terms) = declared_terms(&context_for(&event));
    for term in [
        "mz",
        "joinMode",
        "timezone",
        "ical",
        "schema",
        "PostalAddress",
        "Hashtag",
    ] {
        assert!(terms.contains_key(term), "missing {term}");
    }

    let (_, mitra) = fixture("mitra/create-note.json");
    let (remote, _) = declared_terms(&context_for(&mitra));
    assert!(remote.contains(&context::DATA_INTEGRITY_V1.to_owned()));
}

#[test]
fn built_contexts_agree_with_what_real_servers_declare() {
    // For every fixture, a term our builder defines and the server also defined inline must
    // expand to the same IRI (after resolving the usual prefixes), so our output means the same.
    let prefixes = [
        ("toot:", "http://joinmastodon.org/ns#"),
        ("schema:", "http://schema.org#"),
        ("sc:", "http://schema.org#"),
        ("mz:", "https://joinmobilizon.org/ns#"),
        ("pt:", "https://joinpeertube.org/ns#"),
        ("as:", "https://www.w3.org/ns/activitystreams#"),
    ];
    let expand = |v: &serde_json::Value| -> Option<String> {
        let id = v.as_str().or_else(|| v.get("@id")?.as_str())?;
        let id = id.replace("http://schema.org/", "http://schema.org#");
        Some(
            prefixes
                .iter()
                .find_map(|(p, iri)| id.strip_prefix(p).map(|rest| format!("{iri}{rest}")))
                .unwrap_or(id),
        )
    };
    let mut checked = 0;
    for file in as2_fixtures() {
        let (input, object) = fixture(&file);
        let theirs = activitypub_core::Context(input.get("@context").cloned().unwrap_or_default());
        let (_, ours) = declared_terms(&context_for(&object));
        let (_, theirs) = declared_terms(&theirs);
        for (term, definition) in &ours {
            // Terms whose meaning servers disagree on are skipped: PeerTube's `uuid` is
            // `pt:uuid`, Mobilizon's is `sc:identifier`.
            // Misskey moved its namespace from misskey.io to misskey-hub.net; the builder uses the
            // current one.
            if term == "uuid"
                || term == "misskey"
                || prefixes
                    .iter()
                    .any(|(p, _)| p.trim_end_matches(':') == term)
            {
                continue;
            }
            if let Some(their_definition) = theirs.get(term) {
                assert_eq!(
                    expand(definition),
                    expand(their_definition),
                    "{file}: `{term}`"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} terms compared");
}

#[test]
fn type_names_are_recognized_in_every_spelling_and_kept() {
    let cases = [
        ("Note", "Object", "Note"),
        ("as:Note", "Object", "Note"),
        (
            "https://www.w3.org/ns/activitystreams#Note",
            "Object",
            "Note",
        ),
        (
            "http://www.w3.org/ns/activitystreams#Create",
            "Activity",
            "Create",
        ),
        ("PropertyValue", "PropertyValue", "PropertyValue"),
        ("schema:PropertyValue", "PropertyValue", "PropertyValue"),
        (
            "http://schema.org#PropertyValue",
            "PropertyValue",
            "PropertyValue",
        ),
        (
            "http://schema.org/PropertyValue",
            "PropertyValue",
            "PropertyValue",
        ),
        (
            "https://schema.org/PropertyValue",
            "PropertyValue",
            "PropertyValue",
        ),
        ("toot:Emoji", "Object", "Emoji"),
        ("as:Hashtag", "Link", "Hashtag"),
        ("pt:CacheFile", "CacheFile", "CacheFile"),
        ("litepub:EmojiReact", "Activity", "EmojiReact"),
        ("ChatMessage", "Unknown", "ChatMessage"),
        ("toot:Note", "Unknown", "toot:Note"),
    ];
    for (spelling, variant, type_name) in cases {
        let input = json!({"type": spelling, "id": "https://a.example/1"});
        let object = AnyObject::from_value(input.clone()).expect(spelling);
        assert_eq!(
            (object.variant_name(), object.type_name()),
            (variant, type_name),
            "{spelling}"
        );
        assert_eq!(
            object.to_value(),
            input,
            "{spelling} is written back as received"
        );
    }
}

#[test]
fn changing_the_kind_writes_the_new_type() {
    let mut object =
        AnyObject::from_value(json!({"type": ["as:Note", "x:Extra"], "id": "https://a.example/1"}))
            .expect("note");
    assert_eq!(object.to_value()["type"], json!(["as:Note", "x:Extra"]));
    let AnyObject::Object(note) = &mut object else {
        panic!("an Object")
    };
    note.kind = activitypub_core::ObjectType::Article;
    assert_eq!(object.to_value()["type"], json!("Article"));
}
