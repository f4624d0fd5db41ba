//! `schema_violations` agrees with the official JSON schemas (`fixtures/nodeinfo`, checked by
//! `jsonschema`) on real documents and on each way of breaking them, and names the member.

use nodeinfo::{Version, schema_violations};
use serde_json::{Value, json};

use crate::support::fixture;

fn official(version: &Version) -> Value {
    let name = format!("nodeinfo/schema-{}.json", version.as_str());
    serde_json::from_slice(&fixture(&name)).unwrap()
}

/// Both verdicts on `document`, and the pointers of the violations found.
fn check(document: &Value, version: &Version) -> (bool, bool, Vec<String>) {
    let validator = jsonschema::draft4::new(&official(version)).unwrap();
    let violations = schema_violations(document, version);
    let pointers = violations.iter().map(|v| v.pointer.clone()).collect();
    (
        validator.is_valid(document),
        violations.is_empty(),
        pointers,
    )
}

fn document(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

#[test]
fn real_documents_agree_with_the_official_schemas() {
    for (name, version) in [
        ("nodeinfo/mastodon-2.0.json", Version::V2_0),
        ("nodeinfo/wordpress-2.0.json", Version::V2_0),
        ("nodeinfo/mobilizon-2.1.json", Version::V2_1),
        ("nodeinfo/example-2.1.json", Version::V2_1),
    ] {
        let (official, ours, pointers) = check(&document(name), &version);
        assert_eq!(official, ours, "{name}: {pointers:?}");
    }
}

#[test]
fn each_breakage_is_found_where_the_official_schema_finds_it() {
    let base = document("nodeinfo/example-2.1.json");
    // A table of (pointer, breakage): plain, whatever clippy thinks of the tuple's type.
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, fn(&mut Value))> = vec![
        ("/unexpected", |d| d["unexpected"] = json!(1)),
        ("/usage", |d| {
            d.as_object_mut().unwrap().remove("usage");
        }),
        ("/version", |d| d["version"] = json!("2.0")),
        ("/software/name", |d| {
            d["software"]["name"] = json!("Mobilizon")
        }),
        ("/software/extra", |d| d["software"]["extra"] = json!("x")),
        ("/protocols", |d| d["protocols"] = json!([])),
        ("/protocols/0", |d| d["protocols"] = json!(["nostr"])),
        ("/services/inbound/0", |d| {
            d["services"]["inbound"] = json!(["smtp"])
        }),
        ("/services/outbound", |d| {
            d["services"].as_object_mut().unwrap().remove("outbound");
        }),
        ("/openRegistrations", |d| {
            d["openRegistrations"] = json!("yes")
        }),
        ("/usage/users/total", |d| {
            d["usage"]["users"]["total"] = json!(-1)
        }),
        ("/usage/users/activeWeek", |d| {
            d["usage"]["users"]["activeWeek"] = json!(1)
        }),
        ("/usage/localPosts", |d| {
            d["usage"]["localPosts"] = json!(1.5)
        }),
        ("/metadata", |d| d["metadata"] = json!([])),
    ];
    for (pointer, breaks) in cases {
        let mut broken = base.clone();
        breaks(&mut broken);
        let (official, ours, pointers) = check(&broken, &Version::V2_1);
        assert!(!official, "{pointer}: the official schema takes {broken}");
        assert!(!ours, "{pointer}: schema_violations takes {broken}");
        assert!(
            pointers.iter().any(|p| p == pointer),
            "{pointer}: found {pointers:?}"
        );
    }
    // `repository` is 2.1's: the same document as 2.0 breaks the 2.0 schema there.
    let mut as_2_0 = base.clone();
    as_2_0["version"] = json!("2.0");
    as_2_0["software"]["repository"] = json!("https://example.org/repo");
    let (official, ours, pointers) = check(&as_2_0, &Version::V2_0);
    assert!(!official && !ours, "{pointers:?}");
    assert!(
        pointers.iter().any(|p| p == "/software/repository"),
        "{pointers:?}"
    );
}

#[test]
fn schema_2_2_wants_an_instance_of_one_line() {
    let mut document = document("nodeinfo/example-2.1.json");
    document["version"] = json!("2.2");
    let pointers = |d: &Value| -> Vec<String> {
        schema_violations(d, &Version::V2_2)
            .into_iter()
            .map(|v| v.pointer)
            .collect()
    };
    assert_eq!(pointers(&document), ["/instance"]);
    document["instance"] = json!({"name": "Hikers", "description": "Two\nlines"});
    assert_eq!(pointers(&document), ["/instance/description"]);
    document["instance"]["description"] = json!("One line");
    document["usage"]["users"]["activeWeek"] = json!(2);
    assert_eq!(pointers(&document), Vec::<String>::new());
    let unknown = schema_violations(&document, &Version::V1_0);
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].pointer, "/version");
}
