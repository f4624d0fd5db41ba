// Invariants of WebFinger resource parsing, for the `webfinger_resource` fuzz target and the
// replay test in `webfinger/tests/it/fuzz_replay.rs` (which `include!`s this file).

/// Parses `data` as user input and as a URI; whatever parses displays to text that parses back
/// to the same value, and an `acct:` resource yields a WebFinger URL.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [
        webfinger::Resource::from_user_input(text),
        text.parse::<webfinger::Resource>(),
    ] {
        let Ok(resource) = parsed else {
            continue;
        };
        let shown = resource.to_string();
        let again: webfinger::Resource = shown
            .parse()
            .unwrap_or_else(|error| panic!("{shown:?} (from {text:?}) does not parse: {error}"));
        if let webfinger::Resource::Acct(acct) = &resource {
            assert_eq!(&again, &resource, "{text:?}");
            assert_eq!(again.to_string(), shown);
            assert!(!acct.user().is_empty());
            let url = resource
                .webfinger_url(&[])
                .unwrap_or_else(|error| panic!("no WebFinger URL for {shown:?}: {error}"));
            assert_eq!(url.scheme(), "https");
            assert_eq!(url.path(), "/.well-known/webfinger");
        }
    }
}
