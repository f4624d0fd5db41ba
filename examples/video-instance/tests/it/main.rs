//! The video instance's tests, in one binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod actors;
mod binaries;
mod browser;
mod channels;
mod demo;
mod embed;
mod fedify;
mod feeds;
mod mirror_pages;
mod moderation;
mod moving;
mod payloads;
mod playlists;
mod postgres;
mod processing;
mod redundancy;
mod scale_out;
mod search;
mod serving;
mod support;
mod two_instances;
mod upload;
mod video_details;
