//! Integration tests of video-search: one binary, one module per concern.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// A test binary exports nothing; `pub` in its modules is crate-visible by construction.
#![allow(unreachable_pub)]

mod api;
mod index;
mod props;
mod support;
