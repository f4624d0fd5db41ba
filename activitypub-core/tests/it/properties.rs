//! Property tests: generated documents round-trip; the parser never panics.

use activitypub_core::{AnyObject, Limits};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Arbitrary JSON values, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        "https://[a-z]{1,8}\\.example/[a-z0-9/]{0,12}".prop_map(Value::String),
        Just(json!("as:Public")),
        Just(json!("2024-01-02T03:04:05Z")),
        Just(json!("PT42S")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((member_name(), inner), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Member names, mostly ones the model reads, so that typed paths are exercised.
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "id", "type", "actor", "object", "to", "cc", "bcc", "tag", "url", "content",
            "contentMap", "published", "attachment", "icon", "name", "href", "startTime",
            "duration", "publicKey", "endpoints", "location", "address", "totalItems",
            "orderedItems", "oneOf", "closed", "focalPoint", "source", "language", "@context",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z_:]{1,10}",
    ]
}

fn type_name() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "Create",
            "Note",
            "Person",
            "Group",
            "OrderedCollection",
            "Event",
            "Video",
            "Place",
            "Question",
            "Tombstone",
            "Mention",
            "Hashtag",
            "Member",
            "CacheFile",
            "Playlist",
            "PropertyValue",
            "ChatMessage",
            "as:Note",
            "schema:PropertyValue",
            "Emoji",
        ])
        .prop_map(Value::from),
        Just(json!(["Person", "vcard:Individual"])),
        Just(json!(["Unknown1", "Note"])),
    ]
}

/// Objects with a valid type and id, and arbitrary other members.
fn any_document() -> impl Strategy<Value = Value> {
    (
        type_name(),
        prop::collection::vec((member_name(), any_json()), 0..12),
    )
        .prop_map(|(kind, members)| {
            let mut map: Map<String, Value> = members.into_iter().collect();
            map.insert("type".into(), kind);
            map.insert("id".into(), json!("https://example.com/objects/1"));
            Value::Object(map)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_documents_round_trip(doc in any_document()) {
        let object = AnyObject::from_value(doc.clone()).expect("valid type and id");
        prop_assert_eq!(object.to_value(), doc.clone());
        let again = AnyObject::from_slice(&object.to_vec()).expect("re-read");
        prop_assert_eq!(again, object);
    }

    #[test]
    fn arbitrary_json_never_panics(doc in any_json()) {
        let bytes = serde_json::to_vec(&doc).expect("serialize");
        if let Ok(object) = AnyObject::from_slice_with(&bytes, &Limits::new(1 << 20, 16)) {
            // Whatever is accepted is kept.
            prop_assert_eq!(object.to_value(), doc);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = AnyObject::from_slice(&bytes);
    }
}
