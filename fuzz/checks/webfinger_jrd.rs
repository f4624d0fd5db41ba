// Invariants of JRD and host-meta XRD parsing, for the `webfinger_jrd` fuzz target and the
// replay test in `webfinger/tests/it/fuzz_replay.rs` (which `include!`s this file).

/// Parses `data` as a JRD and as an XRD; whatever parses is written as JSON and read back
/// unchanged, and the resolver's readings of it do not panic.
pub fn check(data: &[u8]) {
    let parsed = [
        webfinger::Jrd::from_slice(data).ok(),
        webfinger::xrd::parse(data).ok(),
    ];
    for jrd in parsed.into_iter().flatten() {
        let written = serde_json::to_vec(&jrd).expect("a JRD serializes");
        let again = webfinger::Jrd::from_slice(&written)
            .unwrap_or_else(|error| panic!("a written JRD does not parse: {error}"));
        assert_eq!(again, jrd);
        if let Ok(id) = jrd.activitypub_id() {
            assert!(matches!(id.scheme(), "https" | "http"));
        }
        let _ = jrd.lrdd_template();
        let _ = jrd.subject_resource();
    }
}
