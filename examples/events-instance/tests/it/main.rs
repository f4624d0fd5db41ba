//! End-to-end tests of the events instance.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod addressing;
mod browser;
mod cli;
mod collections;
mod discovery;
mod fedify;
mod fixtures;
mod moves;
mod participation;
mod peer;
mod postgres;
mod replies;
mod scale_out;
mod support;
mod two_instances;
mod unsolicited;
mod upgrade;
mod visibility;
