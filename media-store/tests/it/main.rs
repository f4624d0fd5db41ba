//! Integration tests: staging and storing on a real directory, serving over loopback HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod serve;
mod store;
mod support;
mod upload;
