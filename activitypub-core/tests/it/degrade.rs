//! An optional member with a bad value degrades (typed field empty, raw value kept) instead of
//! failing the document, and the document still round-trips.

use activitypub_core::{AnyObject, Reference, addressing};
use serde_json::{Value, json};

use crate::support::{data_dir, read};

fn load(name: &str) -> (Value, AnyObject) {
    let bytes = read(&data_dir().join("degrade").join(name));
    let value = serde_json::from_slice(&bytes).expect("JSON");
    let object = AnyObject::from_slice(&bytes).expect("accepted despite bad members");
    (value, object)
}

#[test]
fn bad_optional_values_degrade_and_are_kept() {
    let (input, object) = load("bad-optional-values.json");
    assert_eq!(object.to_value(), input, "lossless despite bad values");
    let note = object.as_object().expect("a Note");
    let mut degraded = object.degraded();
    degraded.sort_unstable();
    assert_eq!(
        degraded,
        [
            "content",
            "contentMap",
            "focalPoint",
            "height",
            "inReplyTo",
            "published",
            "sensitive",
            "to",
            "url",
            "width"
        ]
    );
    assert!(note.props.content.is_none());
    assert_eq!(note.props.extra["content"], json!(42));
    assert_eq!(note.props.extra["published"], json!("yesterday"));
    // `null` is kept, but not reported as degraded.
    assert_eq!(note.props.extra["updated"], Value::Null);
    // What did fit is typed.
    assert!(note.props.cc.is_some());
    assert_eq!(addressing::mentions(&note.props).len(), 1);
    // The public collection is still seen in a `to` that did not fit its type.
    assert!(addressing::is_public(&note.props));
    assert_eq!(
        note.props.extra["x-custom"]["nested"][2]["deep"],
        json!(true)
    );
}

#[test]
fn an_embedded_object_with_a_bad_id_stays_raw() {
    let (input, object) = load("bad-embedded-object.json");
    assert_eq!(object.to_value(), input);
    let create = object.as_activity().expect("Create");
    assert!(create.object.is_none());
    assert_eq!(create.props.extra["object"]["id"], json!(12));
    assert_eq!(object.degraded(), ["object"]);
}

#[test]
fn actor_fields_degrade_one_by_one() {
    let (input, object) = load("bad-actor-fields.json");
    assert_eq!(object.to_value(), input);
    let actor = object.as_actor().expect("Person");
    assert_eq!(
        actor.inbox.as_ref().map(|i| i.as_str()),
        Some("https://example.com/users/a/inbox")
    );
    assert!(actor.outbox.is_none());
    // A key without its PEM is not a key: the whole member stays raw.
    assert!(actor.public_key.is_none());
    assert!(actor.props.extra.contains_key("publicKey"));
    // Unknown members of a nested object are kept there.
    assert_eq!(
        actor.endpoints.as_ref().map(|e| e.extra["weird"].clone()),
        Some(json!([1]))
    );
    assert!(actor.also_known_as.is_none());
    let mut degraded = object.degraded();
    degraded.sort_unstable();
    assert_eq!(
        degraded,
        [
            "alsoKnownAs",
            "manuallyApprovesFollowers",
            "outbox",
            "publicKey"
        ]
    );
}

#[test]
fn typed_fields_win_over_extra_members_of_the_same_name() {
    let (_, mut object) = load("bad-embedded-object.json");
    // A caller that sets a typed field leaves the raw value in `extra`: only the typed one is
    // written, and the key appears once.
    let AnyObject::Activity(create) = &mut object else {
        panic!()
    };
    create.object = Some(Reference::Id("https://example.com/notes/2".parse().expect("iri")).into());
    let bytes = object.to_vec();
    let text = String::from_utf8(bytes).expect("utf-8");
    assert_eq!(text.matches("\"object\"").count(), 1, "{text}");
    assert_eq!(
        object.to_value()["object"],
        json!("https://example.com/notes/2")
    );
}
