//! What the builder makes validates against the official JSON schemas in
//! `fixtures/nodeinfo`; what it refuses would not.

use nodeinfo::{
    BuildError, DiscoveryDocument, NodeInfo, NodeInfoBuilder, Protocol, Service, Users, Version,
};
use serde_json::{Value, json};

use crate::support::fixture;

fn schema(version: &Version) -> Value {
    match version {
        Version::V2_0 => serde_json::from_slice(&fixture("nodeinfo/schema-2.0.json")).unwrap(),
        Version::V2_1 => serde_json::from_slice(&fixture("nodeinfo/schema-2.1.json")).unwrap(),
        Version::V2_2 => schema_2_2(),
        other => panic!("no schema for {other}"),
    }
}

/// Schema 2.2 is not among the fixtures (the NodeInfo repository has not tagged it yet); it is
/// schema 2.1 with the changes that repository made for 2.2: the version, a required `instance`
/// object (name up to 500 and description up to 5000 characters, one line each),
/// `usage.users.activeWeek`, and the `nostr` protocol. Descriptions aside, this is the schema on
/// that repository's main branch as of February 2025.
fn schema_2_2() -> Value {
    let mut schema: Value = serde_json::from_slice(&fixture("nodeinfo/schema-2.1.json")).unwrap();
    schema["id"] = json!("http://nodeinfo.diaspora.software/ns/schema/2.2#");
    schema["properties"]["version"]["enum"] = json!(["2.2"]);
    schema["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("instance"));
    schema["properties"]["instance"] = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string", "pattern": "^.{0,500}$"},
            "description": {"type": "string", "pattern": "^.{0,5000}$"}
        }
    });
    schema["properties"]["usage"]["properties"]["users"]["properties"]["activeWeek"] =
        json!({"type": "integer", "minimum": 0});
    schema["properties"]["protocols"]["items"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("nostr"));
    schema
}

fn errors(version: &Version, document: &Value) -> Vec<String> {
    let validator = jsonschema::draft4::new(&schema(version)).unwrap();
    validator
        .iter_errors(document)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn assert_valid(info: &NodeInfo) {
    let document = serde_json::to_value(info).unwrap();
    let errors = errors(&info.version, &document);
    assert!(errors.is_empty(), "{document}\n{errors:#?}");
}

fn full(version: Version) -> NodeInfoBuilder {
    NodeInfo::builder(version, "fedi-toolkit", "0.1.0")
        .protocol(Protocol::ACTIVITYPUB)
        .protocol(Protocol::DIASPORA)
        .inbound_service(Service::RSS2_0)
        .outbound_service(Service::ATOM1_0)
        .open_registrations(true)
        .users(
            Users::new()
                .with_total(10)
                .with_active_halfyear(5)
                .with_active_month(2),
        )
        .local_posts(100)
        .local_comments(7)
        .metadata("nodeName", json!("Test node"))
}

#[test]
fn built_documents_validate() {
    assert_valid(&full(Version::V2_0).build().unwrap());
    assert_valid(
        &full(Version::V2_1)
            .repository("https://example.org/src")
            .homepage("https://example.org/")
            .build()
            .unwrap(),
    );
    assert_valid(
        &full(Version::V2_2)
            .protocol(Protocol::NOSTR)
            .users(Users::new().with_total(3).with_active_week(1))
            .instance_name("New FI𝑓F")
            .instance_description("A node for tests.")
            .build()
            .unwrap(),
    );
    // The smallest documents, with empty services, usage and metadata.
    for version in [Version::V2_0, Version::V2_1, Version::V2_2] {
        let minimal = NodeInfo::builder(version, "x", "")
            .protocol(Protocol::ACTIVITYPUB)
            .build()
            .unwrap();
        assert_valid(&minimal);
    }
}

/// One document, served in every version: each validates against its own schema, and what a
/// version has no member for is moved (the instance's name) or left out.
#[test]
fn every_version_of_one_document_validates() {
    let newest = full(Version::V2_2)
        .protocol(Protocol::NOSTR)
        .repository("https://example.org/src")
        .homepage("https://example.org/")
        .users(
            Users::new()
                .with_total(3)
                .with_active_month(2)
                .with_active_week(1),
        )
        .instance_name("Hikers of the Alps")
        .instance_description("Walks, every week.")
        .build()
        .unwrap();
    let oldest = full(Version::V2_0).build().unwrap();
    for source in [&newest, &oldest] {
        for version in [Version::V2_0, Version::V2_1, Version::V2_2] {
            let converted = source.to_version(version.clone()).unwrap();
            assert_eq!(converted.version, version);
            assert_valid(&converted);
            assert_eq!(converted.software.name, "fedi-toolkit");
            assert_eq!(converted.usage.local_posts, Some(100));
            assert_eq!(converted.usage.users.total, source.usage.users.total);
            assert!(converted.protocols.contains(&Protocol::ACTIVITYPUB));
        }
    }
    let v2_0 = newest.to_version(Version::V2_0).unwrap();
    assert_eq!(v2_0.instance, None);
    assert_eq!(v2_0.metadata["nodeName"], "Test node");
    assert_eq!(v2_0.metadata["nodeDescription"], "Walks, every week.");
    assert_eq!(v2_0.software.repository, None);
    assert_eq!(v2_0.usage.users.active_week, None);
    assert!(!v2_0.protocols.contains(&Protocol::NOSTR));
    let v2_1 = newest.to_version(Version::V2_1).unwrap();
    assert_eq!(
        v2_1.software.homepage.as_deref(),
        Some("https://example.org/")
    );
    assert_eq!(newest.to_version(Version::V2_2).unwrap(), newest);
    // Without a `nodeName` of its own, the metadata gets the instance's name.
    let named = NodeInfo::builder(Version::V2_2, "x", "1")
        .protocol(Protocol::ACTIVITYPUB)
        .instance_name("Hikers of the Alps")
        .build()
        .unwrap()
        .to_version(Version::V2_1)
        .unwrap();
    assert_valid(&named);
    assert_eq!(named.metadata["nodeName"], "Hikers of the Alps");
    // 2.2 requires `instance`, even empty.
    let upgraded = serde_json::to_value(oldest.to_version(Version::V2_2).unwrap()).unwrap();
    assert_eq!(upgraded["instance"], json!({}));
    // 1.x names its software from a closed list: nothing this crate builds is served so.
    for version in [Version::V1_0, Version::V1_1] {
        assert!(matches!(
            newest.to_version(version),
            Err(BuildError::UnservableVersion { .. })
        ));
    }
    // A document whose only protocol the older schema lacks has nothing to say in it.
    let nostr_only = NodeInfo::builder(Version::V2_2, "relay", "1")
        .protocol(Protocol::NOSTR)
        .build()
        .unwrap();
    assert!(matches!(
        nostr_only.to_version(Version::V2_1),
        Err(BuildError::NoProtocol)
    ));
}

#[test]
fn fixtures_against_their_schema() {
    for (file, valid) in [
        ("example-2.1.json", true),
        ("mastodon-2.0.json", true),
        // Capital `M`: read leniently, never served like this.
        ("mobilizon-2.1.json", false),
        // No `metadata`.
        ("wordpress-2.0.json", false),
    ] {
        let bytes = fixture(&format!("nodeinfo/{file}"));
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let info = NodeInfo::from_slice(&bytes).unwrap();
        assert_eq!(errors(&info.version, &original).is_empty(), valid, "{file}");
        // Written back by this crate, the document is valid exactly when its content is.
        if valid {
            assert_valid(&info);
        }
    }
}

#[test]
fn refusals() {
    let base = || NodeInfo::builder(Version::V2_1, "ok", "1").protocol(Protocol::ACTIVITYPUB);
    let v2_2 = || NodeInfo::builder(Version::V2_2, "ok", "1").protocol(Protocol::ACTIVITYPUB);
    refuses(
        NodeInfo::builder(Version::V1_1, "ok", "1").protocol(Protocol::ACTIVITYPUB),
        |e| matches!(e, BuildError::UnservableVersion { .. }),
    );
    refuses(
        NodeInfo::builder(Version::V2_1, "Mobilizon", "1").protocol(Protocol::ACTIVITYPUB),
        |e| matches!(e, BuildError::SoftwareName { .. }),
    );
    refuses(
        NodeInfo::builder(Version::V2_1, "", "1").protocol(Protocol::ACTIVITYPUB),
        |e| matches!(e, BuildError::SoftwareName { .. }),
    );
    refuses(NodeInfo::builder(Version::V2_1, "ok", "1"), |e| {
        matches!(e, BuildError::NoProtocol)
    });
    refuses(base().protocol(Protocol::new("matrix")), |e| {
        matches!(e, BuildError::UnlistedProtocol { .. })
    });
    refuses(base().protocol(Protocol::NOSTR), |e| {
        matches!(e, BuildError::UnlistedProtocol { .. })
    });
    refuses(base().inbound_service(Service::FACEBOOK), |e| {
        matches!(e, BuildError::UnlistedService { .. })
    });
    refuses(
        NodeInfo::builder(Version::V2_0, "ok", "1")
            .protocol(Protocol::ACTIVITYPUB)
            .homepage("https://x/"),
        |e| {
            matches!(
                e,
                BuildError::FieldNotInVersion {
                    field: "software.homepage",
                    ..
                }
            )
        },
    );
    refuses(base().instance_name("x"), |e| {
        matches!(
            e,
            BuildError::FieldNotInVersion {
                field: "instance.name",
                ..
            }
        )
    });
    refuses(base().users(Users::new().with_active_week(1)), |e| {
        matches!(
            e,
            BuildError::FieldNotInVersion {
                field: "usage.users.activeWeek",
                ..
            }
        )
    });
    refuses(v2_2().instance_name("a".repeat(501)), |e| {
        matches!(e, BuildError::TooLong { limit: 500, .. })
    });
    // 500 characters that are 1000 UTF-16 code units: the schema's regex counts code units.
    refuses(v2_2().instance_name("𝑓".repeat(500)), |e| {
        matches!(e, BuildError::TooLong { limit: 500, .. })
    });
    refuses(v2_2().instance_description("two\nlines"), |e| {
        matches!(e, BuildError::LineBreak { .. })
    });
}

fn refuses(builder: NodeInfoBuilder, expected: impl Fn(&BuildError) -> bool) {
    let debug = format!("{builder:?}");
    let error = builder.build().unwrap_err();
    assert!(expected(&error), "{debug}: {error:?}");
}

#[test]
fn what_the_schema_refuses_the_builder_refuses() {
    // The same cases, checked the other way: written by hand, the schema rejects them.
    let mut document = serde_json::to_value(full(Version::V2_1).build().unwrap()).unwrap();
    document["software"]["name"] = json!("Mobilizon");
    assert!(!errors(&Version::V2_1, &document).is_empty());
    let mut document = serde_json::to_value(full(Version::V2_2).build().unwrap()).unwrap();
    document["instance"]["description"] = json!("two\nlines");
    assert!(!errors(&Version::V2_2, &document).is_empty());
}

#[test]
fn responses() {
    let info = full(Version::V2_1).build().unwrap();
    let response = nodeinfo::server::nodeinfo_response(&info);
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\""
    );
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(NodeInfo::from_slice(response.body()).unwrap(), info);

    let discovery = DiscoveryDocument::new()
        .with_nodeinfo(
            Version::V2_0,
            &url::Url::parse("https://example.org/nodeinfo/2.0").unwrap(),
        )
        .with_nodeinfo(
            Version::V2_1,
            &url::Url::parse("https://example.org/nodeinfo/2.1").unwrap(),
        )
        .with_instance_actor(&url::Url::parse("https://example.org/actor").unwrap());
    let response = nodeinfo::server::discovery_response(&discovery);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(
        body,
        json!({"links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": "https://example.org/nodeinfo/2.0"},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": "https://example.org/nodeinfo/2.1"},
            {"rel": "https://www.w3.org/ns/activitystreams#Application", "href": "https://example.org/actor"}
        ]})
    );
}
