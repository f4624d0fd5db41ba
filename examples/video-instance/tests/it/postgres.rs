//! The tests on PostgreSQL: `scripts/test` runs them under `scripts/with-postgres`, which sets
//! `FEDERATION_QUEUE_PG_URL`; outside CI a missing server skips them loudly, in CI it fails
//! them.

use sqlx::Connection as _;

/// The server's URL, or `None` (said loudly) when there is none outside CI.
pub(crate) fn postgres_url() -> Option<String> {
    test_peer::postgres::server_url("the video instance's PostgreSQL tests")
}

/// A fresh database on the server of `url`, and its URL.
pub(crate) async fn fresh_database(url: &str) -> anyhow::Result<String> {
    test_peer::postgres::fresh_database(url, "videos").await
}

/// A connection to `database`.
pub(crate) async fn connect(database: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(database).await.unwrap()
}
