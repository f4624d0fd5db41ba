//! Integration tests of `ld-signatures`: real signed payloads from `fixtures/`, round trips,
//! tampering, contexts, structure and limits.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod contexts;
mod fuzz_replay;
mod limits;
mod properties;
mod reading;
mod real_payloads;
mod roundtrip;
mod structure;
mod support;
