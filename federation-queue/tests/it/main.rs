#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub,
    dead_code
)]

#[path = "../../examples/soak/sink.rs"]
mod sink;

mod batching;
mod conformance;
mod crash;
mod faults;
mod knock;
mod signing;
mod support;
mod transport;
