//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets'
//! checks on the stable toolchain.

use std::path::Path;

mod cavage_signature {
    include!("../../../fuzz/checks/cavage_signature.rs");
}
mod signature_input {
    include!("../../../fuzz/checks/signature_input.rs");
}
mod digest_header {
    include!("../../../fuzz/checks/digest_header.rs");
}
mod content_digest {
    include!("../../../fuzz/checks/content_digest.rs");
}
mod signature_base {
    include!("../../../fuzz/checks/signature_base.rs");
}

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("missing fuzz corpus {}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{} fails its check", path.display());
        count += 1;
    }
    assert!(count > 0, "{} is empty", dir.display());
}

#[test]
fn cavage_signature_corpus() {
    replay("cavage_signature", cavage_signature::check);
}

#[test]
fn signature_input_corpus() {
    replay("signature_input", signature_input::check);
}

#[test]
fn digest_header_corpus() {
    replay("digest_header", digest_header::check);
}

#[test]
fn content_digest_corpus() {
    replay("content_digest", content_digest::check);
}

#[test]
fn signature_base_corpus() {
    replay("signature_base", signature_base::check);
}

/// The fixtures' real headers go through the checks too.
#[test]
fn fixture_headers_pass_the_checks() {
    let json: serde_json::Value = serde_json::from_str(&crate::support::fixture(
        "signatures/mastodon-2.5-signed-inbox-post-bad-digest.json",
    ))
    .unwrap();
    cavage_signature::check(json["headers"]["signature"].as_str().unwrap().as_bytes());
    digest_header::check(json["headers"]["digest"].as_str().unwrap().as_bytes());
    let cases: serde_json::Value = serde_json::from_str(&crate::support::fixture(
        "signatures/rfc9421/appendix-b2-test-cases.json",
    ))
    .unwrap();
    for case in cases["cases"].as_array().unwrap() {
        let input = format!(
            "{}\n{}",
            case["signature_input"].as_str().unwrap(),
            case["signature"].as_str().unwrap()
        );
        signature_input::check(input.as_bytes());
    }
}
