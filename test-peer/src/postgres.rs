//! PostgreSQL for the tests that run an instance on it: the server `scripts/with-postgres`
//! started, and a fresh database on it for each instance a test starts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use anyhow::Context as _;
use sqlx::Connection as _;

/// The variable `scripts/with-postgres` sets to the server's URL.
pub const URL_VARIABLE: &str = "FEDERATION_QUEUE_PG_URL";

/// The PostgreSQL server of the tests, from [`URL_VARIABLE`]. Without it: `None`, said loudly
/// on the test's output (`what` names the tests skipped), or, in CI (`CI` set), a panic: there
/// the tests that need PostgreSQL must run.
///
/// # Panics
///
/// In CI when the variable is not set.
pub fn server_url(what: &str) -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{URL_VARIABLE} is not set: in CI {what} must run (scripts/test runs them under \
                 scripts/with-postgres)"
            );
            eprintln!(
                "\n!!! SKIPPING {what}: {URL_VARIABLE} is not set. Run them under \
                 scripts/with-postgres !!!\n"
            );
            None
        }
    }
}

/// Makes a new, empty database on the server of `server` (a `postgres://` URL) and returns its
/// URL: named `{prefix}_{process}_{time}_{n}`, so that tests running at once never share one.
///
/// # Errors
///
/// When the server cannot be reached or refuses to make it.
pub async fn fresh_database(server: &str, prefix: &str) -> anyhow::Result<String> {
    static MADE: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::Relaxed)
    );
    anyhow::ensure!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "a database name of letters, digits and _ only: {name}"
    );
    let mut connection = sqlx::PgConnection::connect(server)
        .await
        .with_context(|| format!("connecting to {server}"))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .with_context(|| format!("creating the database {name}"))?;
    connection.close().await?;
    let mut url = url::Url::parse(server).context("the server's URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}
