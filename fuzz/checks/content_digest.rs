// Checks the `Content-Digest` (RFC 9530) parser: never panics; a header written for a body is
// accepted for that body. Shared by the fuzz target and the corpus replay test of
// `http-signatures`.

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = http_signatures::digest::parse_content_digest(text);
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-digest", value);
        let _ = http_signatures::digest::check_body(&headers, data);
    }
    // Round trip: the header this crate writes for these bytes verifies them.
    for algorithm in [
        http_signatures::digest::DigestAlgorithm::Sha256,
        http_signatures::digest::DigestAlgorithm::Sha512,
    ] {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-digest", algorithm.content_digest_header(data));
        http_signatures::digest::check_body(&headers, data).expect("own header verifies");
    }
}
