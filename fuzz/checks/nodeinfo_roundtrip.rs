// NodeInfo documents as served parse back to what was served, for the `nodeinfo_roundtrip` fuzz
// target and the replay test in `nodeinfo/tests/it/fuzz_replay.rs` (which `include!`s this file).
//
// The input is read (`reader.rs`) as the parts of a document: the version, software, protocols,
// services, counts, instance name and description, metadata, and the links of a discovery
// document. What `NodeInfoBuilder` accepts is served with `server::nodeinfo_response`, and a
// client reading that response gets the same document back.

include!("reader.rs");

/// Builds and serves a NodeInfo document and a discovery document from `data`, and reads both
/// responses back.
#[allow(dead_code)]
pub(crate) fn check(data: &[u8]) {
    let mut input = Reader::new(data);
    let served_version = version(&mut input);
    let mut builder =
        nodeinfo::NodeInfoBuilder::new(served_version.clone(), input.text(), input.text());
    for _ in 0..input.choose(4) {
        builder = builder.protocol(protocol(&mut input));
    }
    for _ in 0..input.choose(3) {
        builder = builder.inbound_service(service(&mut input));
    }
    for _ in 0..input.choose(3) {
        builder = builder.outbound_service(service(&mut input));
    }
    builder = builder.open_registrations(input.flag());
    let mut users = nodeinfo::Users::new();
    if let Some(total) = input.maybe(Reader::u64) {
        users = users.with_total(total);
    }
    if let Some(count) = input.maybe(Reader::u64) {
        users = users.with_active_halfyear(count);
    }
    if let Some(count) = input.maybe(Reader::u64) {
        users = users.with_active_month(count);
    }
    if let Some(count) = input.maybe(Reader::u64) {
        users = users.with_active_week(count);
    }
    builder = builder.users(users);
    if let Some(count) = input.maybe(Reader::u64) {
        builder = builder.local_posts(count);
    }
    if let Some(count) = input.maybe(Reader::u64) {
        builder = builder.local_comments(count);
    }
    if let Some(url) = input.maybe(Reader::text) {
        builder = builder.repository(url);
    }
    if let Some(url) = input.maybe(Reader::text) {
        builder = builder.homepage(url);
    }
    if let Some(name) = input.maybe(Reader::text) {
        builder = builder.instance_name(name);
    }
    if let Some(description) = input.maybe(Reader::text) {
        builder = builder.instance_description(description);
    }
    for _ in 0..input.choose(4) {
        let key = input.text();
        let value = input.json(3);
        builder = builder.metadata(key, value);
    }
    if let Ok(info) = builder.build() {
        assert_eq!(info.version, served_version);
        let response = nodeinfo::server::nodeinfo_response(&info);
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            info.version.content_type().as_str(),
        );
        let read = nodeinfo::NodeInfo::from_slice(response.body()).unwrap_or_else(|error| {
            panic!(
                "a served NodeInfo document does not parse: {error}\n{}",
                String::from_utf8_lossy(response.body())
            )
        });
        assert_eq!(
            read, info,
            "a served NodeInfo document reads back otherwise"
        );
        assert!(read.software.has_schema_name());
    }

    // The discovery document.
    let mut document = nodeinfo::DiscoveryDocument::new();
    let mut linked = Vec::new();
    for _ in 0..input.choose(4) {
        let version = version(&mut input);
        if let Ok(url) = url::Url::parse(&input.text()) {
            document = document.with_nodeinfo(version.clone(), &url);
            linked.push((version, url));
        }
    }
    let actor = url::Url::parse(&input.text()).ok();
    if let Some(actor) = &actor {
        document = document.with_instance_actor(actor);
    }
    let response = nodeinfo::server::discovery_response(&document);
    assert_eq!(response.status(), http::StatusCode::OK);
    let read = nodeinfo::DiscoveryDocument::from_slice(response.body()).unwrap_or_else(|error| {
        panic!(
            "a served discovery document does not parse: {error}\n{}",
            String::from_utf8_lossy(response.body())
        )
    });
    assert_eq!(
        read, document,
        "a served discovery document reads back otherwise"
    );
    let served: Vec<_> = read
        .nodeinfo_links()
        .map(|(version, link)| (version, link.href.clone()))
        .collect();
    let expected: Vec<_> = linked
        .iter()
        .map(|(version, url)| (version.clone(), Some(url.to_string())))
        .collect();
    assert_eq!(
        served, expected,
        "the links read back are not the links served"
    );
    if let Some((version, url)) = read.best_nodeinfo() {
        assert!(version.is_known());
        assert!(linked.iter().any(|(v, u)| *v == version && *u == url));
        assert!(
            linked
                .iter()
                .filter(|(_, u)| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .all(|(v, _)| !v.is_known() || *v <= version),
            "a newer readable version was linked than {version}"
        );
    }
    if let Some(found) = read.instance_actor() {
        assert_eq!(Some(&found), actor.as_ref());
    }
}

fn version(input: &mut Reader<'_>) -> nodeinfo::Version {
    match input.choose(8) {
        0 | 1 => nodeinfo::Version::V2_0,
        2 | 3 => nodeinfo::Version::V2_1,
        4 | 5 => nodeinfo::Version::V2_2,
        6 => nodeinfo::Version::V1_0,
        // Another version, as a version is written (a `#` or `/` would be read leniently, and
        // an empty one names no version at all).
        _ => {
            let digits: String = input
                .text()
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            nodeinfo::Version::parse(if digits.is_empty() { "3.0" } else { &digits })
        }
    }
}

fn protocol(input: &mut Reader<'_>) -> nodeinfo::Protocol {
    match input.choose(4) {
        0 => nodeinfo::Protocol::ACTIVITYPUB,
        1 => nodeinfo::Protocol::NOSTR,
        2 => nodeinfo::Protocol::DIASPORA,
        _ => nodeinfo::Protocol::new(input.text()),
    }
}

fn service(input: &mut Reader<'_>) -> nodeinfo::Service {
    match input.choose(3) {
        0 => nodeinfo::Service::ATOM1_0,
        1 => nodeinfo::Service::RSS2_0,
        _ => nodeinfo::Service::new(input.text()),
    }
}
