//! Every NodeInfo document and discovery document in the fixtures reads, with the
//! quirks real servers have.

use nodeinfo::{DiscoveryDocument, NodeInfo, Protocol, Service, Version};

use crate::support::{files_in, fixture, fixtures_dir};

/// Reads a fixture, checks that writing it back and reading again changes nothing.
fn read_nodeinfo(file: &str) -> NodeInfo {
    let info = NodeInfo::from_slice(&fixture(&format!("nodeinfo/{file}")))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let written = serde_json::to_vec(&info).unwrap();
    assert_eq!(NodeInfo::from_slice(&written).unwrap(), info, "{file}");
    info
}

#[test]
fn every_document_reads() {
    let mut documents = 0;
    let mut discoveries = 0;
    for path in files_in(&fixtures_dir().join("nodeinfo")) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with("schema-") {
            continue;
        }
        if name.starts_with("well-known-") {
            DiscoveryDocument::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            discoveries += 1;
        } else {
            read_nodeinfo(&name);
            documents += 1;
        }
    }
    assert_eq!((documents, discoveries), (4, 2));
}

#[test]
fn mastodon_compact_with_empty_metadata() {
    let info = read_nodeinfo("mastodon-2.0.json");
    assert_eq!(info.version, Version::V2_0);
    assert_eq!(info.software.name, "mastodon");
    assert_eq!(info.software.version, "4.1.0");
    assert_eq!(info.protocols, [Protocol::ACTIVITYPUB]);
    assert!(info.metadata.is_empty());
    assert!(info.open_registrations);
    assert_eq!(info.usage.users.total, Some(971_090));
    assert_eq!(info.usage.users.active_month, Some(167_218));
    assert_eq!(info.usage.local_posts, Some(52_071_541));
    assert_eq!(info.usage.local_comments, None);
}

#[test]
fn mobilizon_capital_name() {
    let info = read_nodeinfo("mobilizon-2.1.json");
    assert_eq!(info.software.name, "Mobilizon");
    assert_eq!(info.software.canonical_name(), "mobilizon");
    assert!(!info.software.has_schema_name());
    assert_eq!(info.services.outbound, [Service::ATOM1_0]);
    assert_eq!(info.metadata["nodeName"], "Mobilizon");
    assert_eq!(
        info.software.repository.as_deref(),
        Some("https://framagit.org/framasoft/mobilizon")
    );
}

#[test]
fn wordpress_without_metadata() {
    let info = read_nodeinfo("wordpress-2.0.json");
    assert!(info.metadata.is_empty());
    assert!(!info.open_registrations);
    assert_eq!(info.usage.local_comments, Some(3));
}

#[test]
fn spec_example() {
    let info = read_nodeinfo("example-2.1.json");
    assert_eq!(info.version, Version::V2_1);
    assert_eq!(
        info.software.homepage.as_deref(),
        Some("https://diasporafoundation.org/")
    );
    assert_eq!(info.services.inbound, [Service::GNUSOCIAL]);
    assert_eq!(
        info.services.outbound,
        [Service::FACEBOOK, Service::TWITTER]
    );
}

#[test]
fn discovery_documents() {
    let both =
        DiscoveryDocument::from_slice(&fixture("nodeinfo/well-known-mobilizon-2.0-and-2.1.json"))
            .unwrap();
    let (version, url) = both.best_nodeinfo().unwrap();
    assert_eq!(version, Version::V2_1);
    assert_eq!(
        url.as_str(),
        "https://mobilizon.fr/.well-known/nodeinfo/2.1"
    );
    assert_eq!(both.nodeinfo_links().count(), 2);
    assert_eq!(both.instance_actor(), None);

    let wordpress = DiscoveryDocument::from_slice(&fixture(
        "nodeinfo/well-known-wordpress-with-actor-rel.json",
    ))
    .unwrap();
    assert_eq!(wordpress.best_nodeinfo().unwrap().0, Version::V2_0);
    assert_eq!(
        wordpress.instance_actor().unwrap().as_str(),
        "https://event-federation.eu/actor-relay"
    );
    // The FEP-2677 link is kept when the document is written back.
    let written = serde_json::to_vec(&wordpress).unwrap();
    assert_eq!(DiscoveryDocument::from_slice(&written).unwrap(), wordpress);
}

#[test]
fn lenient_reading() {
    let odd = br#"{"version":"2.0","software":{"name":"Odd","version":null},
        "protocols":["activitypub","activitypub","matrix"],"services":null,
        "openRegistrations":"true","usage":{"users":{"total":-1,"activeMonth":3.0},"localPosts":null},
        "metadata":[],"unknownTop":{"k":"v"}}"#;
    let info = NodeInfo::from_slice(odd).unwrap();
    assert_eq!(
        info.protocols,
        [Protocol::ACTIVITYPUB, Protocol::new("matrix")]
    );
    assert!(info.open_registrations);
    assert_eq!(info.usage.users.total, None);
    assert_eq!(info.usage.users.active_month, Some(3));
    assert_eq!(info.software.version, "");
    assert!(info.metadata.is_empty());
    assert_eq!(info.extra["unknownTop"]["k"], "v");
    let written = serde_json::to_value(&info).unwrap();
    assert_eq!(written["unknownTop"]["k"], "v");

    // 1.0: protocols split in two, services a list.
    let v1 = br#"{"version":"1.0","software":{"name":"diaspora","version":"0.5.0"},
        "protocols":{"inbound":["diaspora","gnusocial"],"outbound":["diaspora"]},
        "services":["twitter"],"openRegistrations":true,"usage":{"users":{"total":3}},"metadata":{}}"#;
    let info = NodeInfo::from_slice(v1).unwrap();
    assert_eq!(info.version, Version::V1_0);
    assert_eq!(
        info.protocols,
        [Protocol::DIASPORA, Protocol::new("gnusocial")]
    );
    assert_eq!(info.services.outbound, [Service::TWITTER]);

    // What even a lenient reader needs.
    assert!(NodeInfo::from_slice(br#"{"version":"2.1"}"#).is_err());
    assert!(NodeInfo::from_slice(b"[]").is_err());
}

#[test]
fn versions_and_rels() {
    for version in Version::KNOWN {
        assert_eq!(Version::from_rel(&version.rel()), Some(version.clone()));
        assert_eq!(Version::parse(version.as_str()), version);
    }
    let https = webfinger::Rel::new("https://nodeinfo.diaspora.software/ns/schema/2.1#");
    assert_eq!(Version::from_rel(&https), Some(Version::V2_1));
    assert_eq!(Version::from_rel(&webfinger::Rel::SELF), None);
    assert!(Version::V2_2 > Version::V2_1);
    assert!(Version::Other("3.0".into()) > Version::V2_2);
}
