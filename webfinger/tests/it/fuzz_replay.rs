//! Replays the fuzz corpus and the fixtures through the fuzz targets' checks, on stable.

use std::path::Path;

use crate::support::{files_in, fixtures_dir, read};

mod webfinger_resource {
    include!("../../../fuzz/checks/webfinger_resource.rs");
}

mod webfinger_jrd {
    include!("../../../fuzz/checks/webfinger_jrd.rs");
}

mod webfinger_roundtrip {
    include!("../../../fuzz/checks/webfinger_roundtrip.rs");
}

fn corpus(target: &str) -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus")).join(target)
}

#[test]
fn resource_corpus() {
    for path in files_in(&corpus("webfinger_resource")) {
        webfinger_resource::check(&read(&path));
    }
    // The resources and handles in the shared JRDs too.
    for path in files_in(&fixtures_dir().join("webfinger")) {
        let jrd = webfinger::Jrd::from_slice(&read(&path)).ok();
        for text in jrd
            .iter()
            .flat_map(|jrd| jrd.subject.iter().chain(&jrd.aliases))
        {
            webfinger_resource::check(text.as_bytes());
        }
    }
}

#[test]
fn jrd_corpus() {
    for path in files_in(&corpus("webfinger_jrd")) {
        webfinger_jrd::check(&read(&path));
    }
    for path in files_in(&fixtures_dir().join("webfinger")) {
        webfinger_jrd::check(&read(&path));
    }
}

#[test]
fn roundtrip_corpus() {
    for path in files_in(&corpus("webfinger_roundtrip")) {
        webfinger_roundtrip::check(&read(&path));
    }
}
