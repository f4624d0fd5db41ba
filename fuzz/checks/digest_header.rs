// Checks the `Digest` (RFC 3230) parser: never panics; accepted known-algorithm values are the
// decoded bytes. Shared by the fuzz target and the corpus replay test of `http-signatures`.

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(entries) = http_signatures::digest::parse_digest(text) {
        assert!(!entries.is_empty());
        for entry in entries {
            assert_eq!(entry.algorithm, entry.algorithm.to_ascii_lowercase());
        }
    }
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut headers = http::HeaderMap::new();
        headers.insert("digest", value);
        let _ = http_signatures::digest::check_body(&headers, b"{}");
    }
}
