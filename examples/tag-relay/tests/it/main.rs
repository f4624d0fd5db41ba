//! The tag relay's tests: in-process pods and relays on loopback, test-peer's servers and the
//! Fedify peer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod bounds;
mod fedify;
mod forged;
mod subscriptions;
mod support;
mod tags;
mod withdraw;
