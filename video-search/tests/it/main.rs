//! Integration tests of video-search: one binary, one module per concern.

mod api;
mod index;
mod support;
