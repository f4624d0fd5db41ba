//! End-to-end tests of the events instance.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod cli;
mod collections;
mod fedify;
mod fixtures;
mod peer;
mod postgres;
mod two_instances;
mod unsolicited;
mod visibility;
