//! Integration tests of `http-signatures`: published vectors, real requests, negative cases,
//! properties and the fuzz corpus.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// A test binary exports nothing; `pub` in its modules (and in the included fuzz checks) is
// crate-visible by construction.
#![allow(unreachable_pub)]
// Tuple types spell out what a case holds.
#![allow(clippy::type_complexity)]

mod alg_parameter;
mod cavage_vectors;
mod fuzz_replay;
mod keys;
mod knock;
mod mastodon;
mod negative;
mod properties;
mod rfc9421_vectors;
mod rfc9530_vectors;
mod support;
