// Checks the RFC 9421 `Signature-Input` and `Signature` parsers: never panic, and accepted
// parameters serialize to a value that parses back to the same parameters. The input is split
// at the first newline: `Signature-Input` before, `Signature` after. Shared by the fuzz target
// and the corpus replay test of `http-signatures`.

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (input, signature) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(parsed) = http_signatures::rfc9421::parse_signature_input(input) {
        for (_, params) in parsed {
            let mut rebuilt =
                http_signatures::rfc9421::SignatureParams::new(params.components.clone());
            rebuilt.created = params.created;
            rebuilt.expires = params.expires;
            rebuilt.keyid.clone_from(&params.keyid);
            rebuilt.alg.clone_from(&params.alg);
            rebuilt.nonce.clone_from(&params.nonce);
            rebuilt.tag.clone_from(&params.tag);
            let serialized = rebuilt
                .serialize()
                .unwrap_or_else(|e| panic!("serialize {params:?}: {e}"))
                .to_owned();
            let again = http_signatures::rfc9421::parse_signature_input(&format!("l={serialized}"))
                .unwrap_or_else(|e| panic!("re-parse of {serialized:?}: {e}"));
            let (_, again) = again.into_iter().next().expect("one member");
            assert_eq!(again.components, params.components);
            assert_eq!(again.created, params.created);
            assert_eq!(again.keyid, params.keyid);
        }
    }
    let _ = http_signatures::rfc9421::parse_signature(signature);
    let _ = http_signatures::rfc9421::parse_signatures(input, signature);
    let _ = http_signatures::rfc9421::parse_accept_signature(input);
    let (Ok(input_value), Ok(signature_value)) = (
        http::HeaderValue::from_str(input),
        http::HeaderValue::from_str(signature),
    ) else {
        return;
    };
    let request = http::Request::post("https://example.com/inbox?a=b&c=d")
        .header("date", "Sun, 05 Jan 2014 21:31:40 GMT")
        .header(
            "content-digest",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
        )
        .header("signature-input", input_value)
        .header("signature", signature_value)
        .body(br#"{"hello": "world"}"#.to_vec());
    if let Ok(request) = request {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_388_957_500);
        let _ = http_signatures::Verifier::new(http_signatures::Policy::rfc())
            .parse_request(&request, now);
    }
}
