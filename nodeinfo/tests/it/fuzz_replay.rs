//! Replays the fuzz corpus and the NodeInfo fixtures through the fuzz target's check.

use std::path::Path;

use crate::support::{files_in, fixtures_dir, read};

mod nodeinfo_parse {
    include!("../../../fuzz/checks/nodeinfo_parse.rs");
}

mod nodeinfo_roundtrip {
    include!("../../../fuzz/checks/nodeinfo_roundtrip.rs");
}

#[test]
fn nodeinfo_corpus() {
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/nodeinfo_parse"
    ));
    for path in files_in(corpus) {
        nodeinfo_parse::check(&read(&path));
    }
    for path in files_in(&fixtures_dir().join("nodeinfo")) {
        nodeinfo_parse::check(&read(&path));
    }
}

#[test]
fn roundtrip_corpus() {
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/corpus/nodeinfo_roundtrip"
    ));
    for path in files_in(corpus) {
        nodeinfo_roundtrip::check(&read(&path));
    }
}
