//! Integration tests of activitypub-core: one binary, one module per concern.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod degrade;
mod fixtures;
mod fixtures_manifest;
mod fuzz_replay;
mod helpers;
#[cfg(feature = "jsonld")]
mod jsonld;
mod peertube;
mod properties;
mod rejects;
