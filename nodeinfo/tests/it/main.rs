//! The integration tests of the `nodeinfo` crate, in one binary.

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

#[cfg(feature = "client")]
mod client;
mod fixtures;
mod fuzz_replay;
mod schema;
mod support;
mod validate;
