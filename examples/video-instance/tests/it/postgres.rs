//! The tests on PostgreSQL: `scripts/test` runs them under `scripts/with-postgres`, which sets
//! `FEDERATION_QUEUE_PG_URL`; outside CI a missing server skips them loudly, in CI it fails
//! them.

use sqlx::Connection as _;

/// The server's URL, or `None` (said loudly) when there is none outside CI.
pub(crate) fn postgres_url() -> Option<String> {
    match std::env::var("FEDERATION_QUEUE_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true"),
                "FEDERATION_QUEUE_PG_URL is not set: in CI the PostgreSQL tests must run \
                 (scripts/test runs them under scripts/with-postgres)"
            );
            eprintln!(
                "\n**** SKIPPED: FEDERATION_QUEUE_PG_URL is not set. Run it with: \
                 scripts/with-postgres cargo test -p video-instance ****\n"
            );
            None
        }
    }
}

/// A fresh database on the server of `url`, and its URL.
pub(crate) async fn fresh_database(url: &str) -> anyhow::Result<String> {
    let name = format!(
        "videos_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos()
    );
    let mut connection = sqlx::PgConnection::connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    let mut database = url::Url::parse(url)?;
    database.set_path(&format!("/{name}"));
    Ok(database.to_string())
}

/// A connection to `database`.
pub(crate) async fn connect(database: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(database).await.unwrap()
}
