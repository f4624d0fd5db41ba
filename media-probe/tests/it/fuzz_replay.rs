//! Replays the fuzz corpus and the samples through the fuzz target's check, on stable.

use crate::support::{corpus, files_in, read, sample, sample_names};

mod media_probe_check {
    include!("../../../fuzz/checks/media_probe.rs");
}

#[test]
fn corpus_and_samples() {
    for path in files_in(&corpus("media_probe")) {
        media_probe_check::check(&read(&path));
    }
    for name in sample_names() {
        media_probe_check::check(&sample(&name));
    }
}
