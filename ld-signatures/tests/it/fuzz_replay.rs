//! Replays the `ld_signatures` fuzz target's committed corpus and every fixture through the same
//! check the fuzzer runs, on the stable toolchain.

mod target {
    include!("../../../fuzz/checks/ld_signatures.rs");
}

use crate::support::FIXTURES;

#[test]
fn corpus_and_fixtures_pass_the_fuzz_check() {
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/ld_signatures");
    let mut count = 0;
    for entry in std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", corpus.display()))
    {
        target::check(&std::fs::read(entry.unwrap().path()).unwrap());
        count += 1;
    }
    assert!(count > 0, "empty corpus at {}", corpus.display());
    let mut fixtures = 0;
    for dir in std::fs::read_dir(FIXTURES).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                target::check(&std::fs::read(&path).unwrap());
                fixtures += 1;
            }
        }
    }
    assert!(fixtures > 100, "only {fixtures} fixtures");
}
