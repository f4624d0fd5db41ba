//! Databases for the tests: SQLite files in the temporary directory, PostgreSQL schemas on the
//! server `scripts/with-postgres` starts.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use instance_state::{InstanceState, Options};
use sqlx::Connection as _;

/// The PostgreSQL URL of the test server. Without one the PostgreSQL tests are skipped loudly,
/// except in CI (`CI` set), where they fail.
pub fn postgres_url() -> Option<String> {
    match std::env::var("FEDERATION_QUEUE_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "FEDERATION_QUEUE_PG_URL is not set: in CI the PostgreSQL tests must run \
                 (scripts/test runs them under scripts/with-postgres)"
            );
            eprintln!(
                "\n!!! SKIPPING PostgreSQL tests: FEDERATION_QUEUE_PG_URL is not set. \
                 Run them with: scripts/with-postgres cargo test -p instance-state !!!\n"
            );
            None
        }
    }
}

fn unique(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("st_{test}_{}_{n}_{nanos}", std::process::id())
}

/// A fresh SQLite file path for `test`.
pub fn temp_db(test: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}.db", unique(test)));
    remove_db(&path);
    path
}

/// Removes a SQLite database and its WAL files.
pub fn remove_db(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

/// A state on a fresh SQLite file.
pub async fn sqlite(test: &str, options: Options) -> InstanceState {
    sqlite_at(test, options).await.0
}

/// A state on a fresh SQLite file, and the file's path (to remove it with [`remove_db`]).
pub async fn sqlite_at(test: &str, options: Options) -> (InstanceState, PathBuf) {
    let path = temp_db(test);
    let state = InstanceState::open(path.to_str().unwrap(), options)
        .await
        .unwrap();
    (state, path)
}

/// The URL of a fresh schema on the PostgreSQL server `url` (its connections' search path).
pub async fn postgres_schema(url: &str, test: &str) -> String {
    let schema = unique(test).to_lowercase();
    let mut connection = sqlx::postgres::PgConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// A state on a fresh schema of the PostgreSQL server `url`.
pub async fn postgres(url: &str, test: &str, options: Options) -> InstanceState {
    let location = postgres_schema(url, test).await;
    InstanceState::open(&location, options).await.unwrap()
}
