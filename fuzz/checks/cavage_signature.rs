// Checks the draft-cavage `Signature` parameter parser: never panics, and what it accepts
// serializes to something it reads back the same. Also runs the whole verification front end
// on the value. Shared by the fuzz target and the corpus replay test of `http-signatures`.

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = http_signatures::cavage::CavageSignature::parse(text) {
        let written = parsed.to_header_value();
        let again = http_signatures::cavage::CavageSignature::parse(&written)
            .unwrap_or_else(|e| panic!("re-parse of {written:?} failed: {e}"));
        assert_eq!(again.key_id, parsed.key_id);
        assert_eq!(again.signature, parsed.signature);
        assert_eq!(again.created, parsed.created);
    }
    let _ = http_signatures::cavage::CavageSignature::parse_authorization(text);
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let request = http::Request::post("/inbox?x=1")
            .header("host", "example.com")
            .header("date", "Sun, 05 Jan 2014 21:31:40 GMT")
            .header("signature", value)
            .body(Vec::new());
        if let Ok(request) = request {
            let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_388_957_500);
            let _ = http_signatures::Verifier::new(http_signatures::Policy::rfc())
                .parse_request(&request, now);
        }
    }
}
