//! What the SQL stores share: migrations and row decoding helpers.

use std::borrow::Cow;
use std::time::SystemTime;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::StoreError;
use crate::clock::from_ms;
use crate::model::{BreakerState, HostState};

/// The migrations table, named for this crate so it never meets an application's own.
const MIGRATIONS_TABLE: &str = "federation_queue_migrations";

/// A migrator over embedded `(version, description, sql)` migrations.
pub(crate) fn migrator(migrations: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = migrations
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

pub(crate) fn u32_column(column: &'static str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt { column, value })
}

pub(crate) fn host_from_columns(
    host: String,
    breaker: i64,
    unavailable: i64,
    failures: i64,
    failing_since: Option<i64>,
    blocked_until: Option<i64>,
    last_answer: Option<i64>,
) -> Result<HostState, StoreError> {
    let mut state = HostState::new(host);
    state.breaker = BreakerState::from_code(breaker);
    state.unavailable = unavailable != 0;
    state.consecutive_failures = u32_column("consecutive_failures", failures)?;
    state.failing_since = failing_since.map(from_ms);
    state.blocked_until = blocked_until.map(from_ms);
    state.last_answer = last_answer.map(from_ms);
    Ok(state)
}

/// Decodes an `(id, body, key_ref)` row of `fq_activities`, with either driver.
pub(crate) fn activity_row<'r, R>(row: &'r R) -> Result<(i64, (bytes::Bytes, String)), StoreError>
where
    R: sqlx::Row,
    &'static str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let get = |e| StoreError::db("decoding an activity")(e);
    let body: Vec<u8> = row.try_get("body").map_err(get)?;
    Ok((
        row.try_get("id").map_err(get)?,
        (
            bytes::Bytes::from(body),
            row.try_get("key_ref").map_err(get)?,
        ),
    ))
}

pub(crate) fn opt_ms(time: Option<SystemTime>) -> Option<i64> {
    time.map(crate::clock::to_ms)
}
