//! Integration tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fetch;
mod fuzz_replay;
mod inbox;
mod keys;
mod outbox;
mod record;
mod routes;
mod serve;
mod support;
