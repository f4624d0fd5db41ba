//! media-probe's integration tests: the sample files ffmpeg made (tests/data/, by
//! scripts/media-samples), bad input of every kind, mutated samples, and the fuzz corpus.

// Tests state their expectations with unwrap, expect, panic and indexing: a failed expectation
// should stop the test with a message, which is what these do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

mod bad_input;
mod fuzz_replay;
mod props;
mod samples;
mod support;
