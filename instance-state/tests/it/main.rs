//! Tests of instance-state: the behaviour suite on SQLite and PostgreSQL, concurrent writers,
//! migrations, and the social handlers behind federation's inbox with signed requests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

mod app_objects;
mod conformance;
mod handlers;
mod migrations;
mod moves;
mod record;
mod routes;
mod support;
