// Invariants of JSON-LD processing (activitypub-core's `jsonld` feature) on arbitrary documents,
// for the `jsonld_expand` fuzz target and the replay test in
// `activitypub-core/tests/it/fuzz_replay.rs` (which `include!`s this file under that feature).
//
// Documents are read within `Limits` first, as the crate asks of untrusted bytes; only the
// bundled contexts exist (nothing is fetched), and canonicalization bounds its own work.

/// Expands, converts and canonicalizes `data`: nothing panics; the expanded form is an array of
/// node objects with no context left; canonical N-Quads are sorted, unique, terminated
/// statements, the same every time, and the same for the expanded form as for the document.
#[allow(dead_code)]
pub(crate) fn check(data: &[u8]) {
    let limits = activitypub_core::Limits::default();
    let Ok(document) = activitypub_core::read_json(data, &limits) else {
        return;
    };
    let expanded = activitypub_core::jsonld::expand(&document);
    if let Ok(expanded) = &expanded {
        let nodes = expanded.as_array().expect("the expanded form is an array");
        for node in nodes {
            assert!(
                node.is_object(),
                "a top-level expanded item is not an object: {node}"
            );
        }
        assert!(
            !has_context(expanded),
            "a context is left in the expanded form: {expanded}"
        );
    }
    if let Ok(nquads) = activitypub_core::jsonld::to_nquads(&document) {
        for line in nquads.lines() {
            assert!(line.ends_with(" ."), "not an N-Quads statement: {line:?}");
        }
    }
    let Ok(canonical) = activitypub_core::jsonld::canonicalize(&document) else {
        return;
    };
    let lines: Vec<&str> = canonical.lines().collect();
    for line in &lines {
        assert!(line.ends_with(" ."), "not an N-Quads statement: {line:?}");
    }
    assert!(canonical.is_empty() || canonical.ends_with('\n'));
    assert!(
        lines.windows(2).all(|pair| pair[0] < pair[1]),
        "canonical N-Quads are not sorted and unique:\n{canonical}"
    );
    let again =
        activitypub_core::jsonld::canonicalize(&document).expect("canonicalized once, so again");
    assert_eq!(again, canonical, "canonicalization is not deterministic");
    if let Ok(expanded) = expanded
        && let Ok(from_expanded) = activitypub_core::jsonld::canonicalize(&expanded)
    {
        assert_eq!(
            from_expanded, canonical,
            "the expanded form means something else than the document\n{document}\n{expanded}"
        );
    }
}

/// Whether `@context` is a member anywhere but inside a value (a JSON literal may hold any
/// member).
fn has_context(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(members) => members
            .iter()
            .any(|(key, value)| key == "@context" || (key != "@value" && has_context(value))),
        serde_json::Value::Array(items) => items.iter().any(has_context),
        _ => false,
    }
}
