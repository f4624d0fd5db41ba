// Invariants of `ld-signatures` on arbitrary documents, for the `ld_signatures` fuzz target and
// the replay test in `ld-signatures/tests/it/fuzz_replay.rs` (which `include!`s this file).
//
// Only the bundled contexts exist (nothing is fetched); the limits are tightened so that each
// input stays cheap, and every bound must end in an error, never a hang or a panic.

/// Verifies, canonicalizes, signs and verifies again `data` read as JSON: nothing panics;
/// canonical N-Quads are sorted, unique statements, the same every time; whatever is signed
/// verifies with the same key and names the same root; the readable document keeps only
/// members of the original.
#[allow(dead_code)]
pub(crate) fn check(data: &[u8]) {
    use std::sync::OnceLock;

    static KEYS: OnceLock<(ld_signatures::SigningKey, ld_signatures::VerifyingKey)> =
        OnceLock::new();
    let (private, public) = KEYS.get_or_init(|| {
        let keys: serde_json::Value = serde_json::from_str(include_str!(
            "../../fixtures/signatures/peertube-test-keypair.json"
        ))
        .expect("the test key pair is JSON");
        (
            ld_signatures::SigningKey::from_pem(keys["privateKey"].as_str().expect("private"))
                .expect("the private key reads"),
            ld_signatures::VerifyingKey::from_pem(keys["publicKey"].as_str().expect("public"))
                .expect("the public key reads"),
        )
    });
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let limits = ld_signatures::Limits::default()
        .with_max_bytes(64 * 1024)
        .with_max_quads(2000)
        .with_max_hndq_calls(500);

    // Whatever the document says, checking it never panics, and its error explains itself.
    if let Err(e) = ld_signatures::verify_with_limits(&document, public, &limits) {
        assert!(!e.to_string().is_empty());
    }

    let Ok(canonical) = ld_signatures::canonicalize(&document, &limits) else {
        return;
    };
    let lines: Vec<&str> = canonical.lines().collect();
    assert!(canonical.is_empty() || canonical.ends_with('\n'));
    assert!(
        lines.iter().all(|line| line.ends_with(" .")),
        "not N-Quads statements:\n{canonical}"
    );
    assert!(
        lines.windows(2).all(|pair| pair[0] < pair[1]),
        "canonical N-Quads are not sorted and unique:\n{canonical}"
    );
    let again = ld_signatures::canonicalize(&document, &limits).expect("canonicalized once");
    assert_eq!(again, canonical, "canonicalization is not deterministic");

    let created = time::OffsetDateTime::UNIX_EPOCH;
    let Ok(signed) = ld_signatures::sign_with_limits(
        &document,
        "https://fuzz.example/actor#main-key",
        created,
        private,
        &limits,
    ) else {
        return;
    };
    let verified = ld_signatures::verify_with_limits(&signed, public, &limits)
        .unwrap_or_else(|e| panic!("what was signed does not verify: {e}\n{signed}"));
    assert_eq!(verified.creator, "https://fuzz.example/actor#main-key");
    assert_eq!(
        Some(verified.id.as_str()),
        signed
            .get("id")
            .or_else(|| signed.get("@id"))
            .and_then(serde_json::Value::as_str)
    );
    assert!(
        subset(&verified.document, &signed),
        "the readable document has members the signed one has not"
    );
}

/// Whether every member of `part` is in `whole` with a value that is, recursively, a subset.
#[allow(dead_code)]
fn subset(part: &serde_json::Value, whole: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (part, whole) {
        (Value::Object(p), Value::Object(w)) => p
            .iter()
            .all(|(k, v)| w.get(k).is_some_and(|wv| subset(v, wv))),
        (Value::Array(p), Value::Array(w)) => {
            p.len() == w.len() && p.iter().zip(w).all(|(a, b)| subset(a, b))
        }
        (p, w) => p == w,
    }
}
