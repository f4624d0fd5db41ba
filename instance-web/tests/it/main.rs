//! Tests of instance-web: the account pages driven as a browser does (cookies kept, forms
//! read from the page and posted back), through the router in process and, for the client
//! address, over loopback through `federation::serve`; instance-state on SQLite, and on
//! PostgreSQL for the sign-up and sign-in flows.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    unreachable_pub
)]

mod csrf;
mod headers;
mod identities;
mod limits;
mod login;
mod served;
mod signup;
mod support;
