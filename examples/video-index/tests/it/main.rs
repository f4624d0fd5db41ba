//! The video index's tests, in one binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod browser;
mod cli;
mod e2e;
mod fixtures;
mod peer;
mod support;
