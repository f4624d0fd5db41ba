//! The behaviour suite (`instance_state::conformance`) on SQLite and PostgreSQL, and many
//! writers at once on both.

use instance_state::conformance::{ManualClock, concurrent_writers, options, suite};

use crate::support::{postgres, postgres_url, sqlite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conforms() {
    suite(|check, options| async move { sqlite(check, options).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_conforms() {
    let Some(url) = postgres_url() else {
        return;
    };
    suite(|check, options| {
        let url = url.clone();
        async move { postgres(&url, check, options).await }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_writers_lose_and_double_nothing() {
    let Some(url) = postgres_url() else {
        return;
    };
    let clock = ManualClock::new();
    let state = postgres(&url, "concurrent", options(&clock).with_max_connections(10)).await;
    concurrent_writers(&state, 20).await;
    state.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_writers_lose_and_double_nothing() {
    let clock = ManualClock::new();
    let state = sqlite("concurrent", options(&clock)).await;
    concurrent_writers(&state, 20).await;
    state.close().await;
}
