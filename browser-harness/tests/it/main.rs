//! Tests of browser-harness against a real headless Chromium: a small axum site on
//! 127.0.0.1 with a labelled form, driven by label, by keyboard, from two sessions at once, and
//! photographed. Everything talks to loopback only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

mod errors;
mod forms;
mod keyboard;
mod screenshots;
mod sessions;
mod support;
