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

/// The crate's in-memory store, compiled here, outside the crate: it names only public items,
/// so this shows that a store of one's own can be written against the public API alone.
#[path = "../../src/store/memory.rs"]
mod outside_memory;

mod batching;
mod concurrency;
mod conformance;
mod crash;
mod faults;
mod knock;
mod signing;
mod support;
mod transport;
mod wake;
