// Invariants of NodeInfo parsing, for the `nodeinfo_parse` fuzz target and the replay test in
// `nodeinfo/tests/it/fuzz_replay.rs` (which `include!`s this file).

/// Parses `data` as a NodeInfo document and as a discovery document; whatever parses is written
/// as JSON and read back unchanged, and the readings a client makes do not panic.
pub fn check(data: &[u8]) {
    if let Ok(info) = nodeinfo::NodeInfo::from_slice(data) {
        let written = serde_json::to_vec(&info).expect("a NodeInfo document serializes");
        let again = nodeinfo::NodeInfo::from_slice(&written)
            .unwrap_or_else(|error| panic!("a written NodeInfo document does not parse: {error}"));
        assert_eq!(again, info);
        let _ = info.software.canonical_name();
    }
    if let Ok(discovery) = nodeinfo::DiscoveryDocument::from_slice(data) {
        let written = serde_json::to_vec(&discovery).expect("a discovery document serializes");
        let again = nodeinfo::DiscoveryDocument::from_slice(&written)
            .unwrap_or_else(|error| panic!("a written discovery document does not parse: {error}"));
        assert_eq!(again, discovery);
        if let Some((version, url)) = discovery.best_nodeinfo() {
            assert!(version.is_known());
            assert!(matches!(url.scheme(), "https" | "http"));
        }
        let _ = discovery.instance_actor();
    }
}
