//! The three reference instances together, in one test binary: each a `serve` process of its
//! real binary (built by this package from the instance's own `main.rs`), administered with
//! its `admin` command, federating on loopback with each other and with the Fedify peer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod moving;
mod support;
mod together;
