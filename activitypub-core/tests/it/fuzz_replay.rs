//! Replays the `parse_document` fuzz target's committed corpus and every fixture through the same
//! check the fuzzer runs, on the stable toolchain.

mod target {
    include!("../../../fuzz/checks/parse_document.rs");
}

#[cfg(feature = "jsonld")]
mod jsonld_expand {
    include!("../../../fuzz/checks/jsonld_expand.rs");
}

use crate::support::{as2_fixtures, fixtures_dir, read};

#[test]
fn corpus_and_fixtures_pass_the_fuzz_check() {
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/parse_document");
    let mut count = 0;
    for entry in std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", corpus.display()))
    {
        let path = entry.expect("entry").path();
        target::check(&read(&path));
        count += 1;
    }
    assert!(count > 0, "empty corpus at {}", corpus.display());
    for file in as2_fixtures() {
        target::check(&read(&fixtures_dir().join(file)));
    }
}

/// The `jsonld_expand` target's corpus and every fixture, through JSON-LD processing.
#[cfg(feature = "jsonld")]
#[test]
fn jsonld_corpus_and_fixtures_pass_the_fuzz_check() {
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/jsonld_expand");
    let mut count = 0;
    for entry in std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", corpus.display()))
    {
        jsonld_expand::check(&read(&entry.expect("entry").path()));
        count += 1;
    }
    assert!(count > 0, "empty corpus at {}", corpus.display());
    for file in as2_fixtures() {
        jsonld_expand::check(&read(&fixtures_dir().join(file)));
    }
}
