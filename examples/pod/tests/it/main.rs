//! The pod's tests, in one binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod archive;
mod aspects;
mod browser;
mod collections;
mod demo;
mod mastodon;
mod mentions;
mod moving;
mod photos;
mod postgres;
mod profile;
mod relays;
mod remote_objects;
mod scale_out;
mod stream;
mod support;
mod tags;
mod threads;
