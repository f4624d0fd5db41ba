//! The embedded default: SQLite in WAL mode, one writer connection, batched commits.
//!
//! Every write (enqueue, claim, complete) goes through a single connection, in one
//! transaction per call; the worker batches claims and completions, so a commit covers many
//! deliveries. Reads for listings go through a separate pool, which WAL lets run beside the
//! writer. A database file belongs to one process at a time: on opening, claims left by a
//! previous process (killed mid-flight) are made due again at once rather than after their
//! lease.
//!
//! A batch costs a handful of statements whatever its size: SQLite has no array parameters,
//! so a batch's ids (or rows) are bound as one JSON array and read with `json_each`, and the
//! reads of the claim and completion paths gather their rows with `json_group_array` into one
//! result row (sqlx passes each result row between SQLite's thread and the caller as a message
//! of its own). Only activity bodies, which are bytes, come back a row each.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Row, Sqlite, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::sql::{activity_row, host_from_columns, migrator, opt_ms, u32_column};
use super::{
    Candidate, Store, StoreError, activities_of, assemble_claims, completed_hosts, new_token,
    plan_claim, plan_host_updates, released_block, with_deliveries,
};
use crate::breaker::BreakerPolicy;
use crate::clock::{duration_ms, from_ms, to_ms};
use crate::commit::{AUTOCHECKPOINT_PAGES, WalCheckpoints};
use crate::model::{
    ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeadReason, DeliveryId, HostChange,
    HostState, NewActivity, Outcome, QueueCounts, Requeue,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "queue",
    include_str!("../../migrations/sqlite/0001_queue.sql"),
)];

/// Rows sqlx's SQLite thread may hand over before the reader takes them (see `open_with`).
const ROW_CHANNEL_SIZE: usize = 4096;

/// How to open a SQLite store.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// The database file (created if missing).
    pub path: PathBuf,
    /// `synchronous=FULL` instead of `NORMAL`. `NORMAL` in WAL mode loses nothing when the
    /// process dies; `FULL` also keeps the last commits through a power cut, at a cost.
    pub synchronous_full: bool,
    /// Connections for listings and counts (readers never block the writer in WAL mode).
    pub readers: u32,
    /// How long a statement waits for a lock another process holds.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    /// Options for the database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous_full: false,
            readers: 2,
            busy_timeout: Duration::from_secs(5),
        }
    }

    /// Sets [`SqliteOptions::synchronous_full`].
    pub fn with_synchronous_full(mut self, full: bool) -> Self {
        self.synchronous_full = full;
        self
    }
}

/// The SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// The one writer connection, taken in turn (tokio's mutex is fair: first come, first
    /// served, so the worker's claims and the enqueues alternate and neither starves the
    /// other). Not a pool of one: a pool tests every connection given back to it with a round
    /// trip to sqlx's SQLite thread, from a task it spawns, before the next caller may have it;
    /// that doubled the cost of a small enqueue. `None` once closed.
    writer: Arc<Mutex<WriterState>>,
    reader: SqlitePool,
    /// The WAL's checkpoints, on a connection of their own (see `crate::commit`).
    checkpoints: WalCheckpoints,
}

#[derive(Debug)]
struct WriterState {
    /// `None` once closed.
    conn: Option<SqliteConnection>,
    /// A transaction begun by a query of its own may have been left open (the query's future
    /// was dropped before it answered): roll it back before anything else.
    open_transaction: bool,
}

/// The writer connection, held.
struct Writer<'a>(MutexGuard<'a, WriterState>);

impl Writer<'_> {
    fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.0.conn.as_mut().ok_or(StoreError::Database {
            operation: "using a closed store",
            source: sqlx::Error::PoolClosed,
        })
    }

    /// Rolls back a transaction a query of its own may have left open (an error after its
    /// `BEGIN`, or its future dropped); nothing to do if none is.
    async fn roll_back(&mut self) {
        if let Some(conn) = self.0.conn.as_mut() {
            // "No transaction is active" is what this expects when all went well.
            if let Err(error) = sqlx::query("ROLLBACK").execute(conn).await {
                tracing::debug!(%error, "rolling back a transaction that may have been left open");
            }
        }
        self.0.open_transaction = false;
    }
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(SqliteOptions::new(path.as_ref())).await
    }

    /// Opens the database `options` name.
    pub async fn open_with(options: SqliteOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::new()
            .filename(&options.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(options.busy_timeout)
            // Statement journals and sorts stay in memory: batch statements would otherwise
            // create and delete a file in the temporary directory (which a container may not
            // even have writable) several times a second.
            .pragma("temp_store", "memory")
            // The WAL is copied back into the database (a checkpoint, with its fsyncs) by a
            // connection of its own, beside the writer (see `crate::commit`); a commit does it
            // only if that falls far behind. Done by the commit that crosses SQLite's default
            // 1,000 pages, it stalled that commit and everything queued behind it for
            // milliseconds: the slowest 1 % of enqueues took 4-5 ms instead of 0.2.
            .pragma("wal_autocheckpoint", AUTOCHECKPOINT_PAGES)
            // sqlx's SQLite thread hands rows over through a bounded channel (50 by default):
            // once a query's rows fill it, the thread and the reader wake each other for every
            // further row. A claim reads up to a batch of rows, all of them kept: let them all
            // through at once (the channel grows only as far as the rows need).
            .row_buffer_size(ROW_CHANNEL_SIZE);
        // Set-up runs on a pool of its own, closed after (sqlx's migrator takes a pool or a
        // connection it acquires for itself).
        let setup = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await
            .map_err(StoreError::db("opening the database"))?;
        migrator(MIGRATIONS).run(&setup).await?;
        // Claims of a previous process are presumed dead: due again now (first in line).
        sqlx::query("UPDATE fq_deliveries SET state = 0, due_at = 0 WHERE state = 1")
            .execute(&setup)
            .await
            .map_err(StoreError::db("releasing the claims of a previous process"))?;
        setup.close().await;
        let writer = connect
            .connect()
            .await
            .map_err(StoreError::db("opening the database"))?;
        // An embedded database has no connection that can break under it: checking one at
        // every acquire would only add a round trip to sqlx's SQLite thread per operation.
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .test_before_acquire(false)
            .connect_with(connect.clone().read_only(true))
            .await
            .map_err(StoreError::db("opening the database for reading"))?;
        let checkpointer = connect
            .connect()
            .await
            .map_err(StoreError::db("opening the database for checkpoints"))?;
        let checkpoints = WalCheckpoints::spawn(checkpointer);
        Ok(Self {
            writer: Arc::new(Mutex::new(WriterState {
                conn: Some(writer),
                open_transaction: false,
            })),
            reader,
            checkpoints,
        })
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.checkpoints.close();
        if let Some(writer) = self.writer.lock().await.conn.take() {
            let _ = writer.close().await;
        }
        self.reader.close().await;
    }

    async fn writer(&self) -> Writer<'_> {
        self.checkpoints.wrote();
        let mut writer = Writer(self.writer.lock().await);
        if writer.0.open_transaction {
            writer.roll_back().await;
        }
        writer
    }
}

/// The statements that store a chunk of activities (`?3`: body in hex, key reference, ordering key) and their
/// deliveries (`?1`: the activity's index in the chunk, inbox, host, ordering key), registers
/// their hosts, all at `?2`, and returns the ids of the new deliveries as one JSON array. One
/// query of several statements: sqlx runs them in one message to its SQLite thread.
///
/// sqlx binds a statement's parameters from `?1` up to the largest it names, and takes any it
/// does not name as the next argument in line, counting on from the statements before: past the
/// last argument it stops binding. So every statement but the first names its parameters from
/// `?1` without a gap (the deliveries, which give the hosts and the count of ids, are `?1`).
///
/// Every new row gets an id above all others (SQLite gives a new row the largest id so far
/// plus one), so the chunk's activities hold the largest ids, in the array's order, and its
/// deliveries too. Each delivery finds its activity by rank among those.
macro_rules! enqueue_chunk_sql {
    () => {
        "\
    INSERT INTO fq_activities (body, key_ref, ordering_key, created_at) \
    SELECT unhex(value ->> 0), value ->> 1, value ->> 2, ?2 FROM json_each(?3) ORDER BY key; \
    INSERT INTO fq_deliveries (activity_id, inbox, host, ordering_key, due_at, enqueued_at) \
    SELECT ours.id, d.value ->> 1, d.value ->> 2, d.value ->> 3, ?2, ?2 \
    FROM json_each(?1) AS d JOIN ( \
        SELECT id, row_number() OVER (ORDER BY id) - 1 AS k \
        FROM (SELECT id FROM fq_activities ORDER BY id DESC LIMIT json_array_length(?3))) \
        AS ours \
    ON ours.k = d.value ->> 0 ORDER BY d.key; \
    INSERT INTO fq_hosts (host) SELECT DISTINCT value ->> 2 FROM json_each(?1) WHERE true \
    ON CONFLICT DO NOTHING; \
    SELECT json_group_array(id) FROM \
    (SELECT id FROM fq_deliveries ORDER BY id DESC LIMIT json_array_length(?1))"
    };
}

/// Stores a chunk of activities, inside a transaction (see `enqueue_chunk_sql`).
const ENQUEUE_CHUNK_SQL: &str = enqueue_chunk_sql!();

/// Stores a chunk of activities in a transaction of its own: one query from `BEGIN` to
/// `COMMIT`.
const ENQUEUE_ALONE_SQL: &str = concat!("BEGIN; ", enqueue_chunk_sql!(), "; COMMIT");

/// The arguments of `enqueue_chunk_sql` for some activities.
struct Chunk {
    /// `?3`: body in hex (for SQLite's `unhex`), key reference, ordering key.
    activities: String,
    /// `?1`: the activity's index in the chunk, inbox, host, ordering key.
    deliveries: String,
    /// How many deliveries.
    count: usize,
}

impl Chunk {
    fn new(activities: &[&NewActivity]) -> Self {
        let rows: Vec<(String, &str, Option<&str>)> = activities
            .iter()
            .map(|a| (hex(&a.body), a.key_ref.as_str(), a.ordering_key.as_deref()))
            .collect();
        let mut deliveries: Vec<(usize, &str, &str, Option<&str>)> = Vec::new();
        for (k, activity) in activities.iter().enumerate() {
            for d in &activity.deliveries {
                deliveries.push((k, &d.inbox, &d.host, activity.ordering_key.as_deref()));
            }
        }
        Self {
            activities: json_array(&rows),
            deliveries: json_array(&deliveries),
            count: deliveries.len(),
        }
    }

    /// The new deliveries' ids, in order, from the query's rows (the last is the JSON array
    /// of ids).
    fn ids(&self, texts: &[String]) -> Result<Vec<DeliveryId>, StoreError> {
        let mut ids: Vec<i64> = match texts.last() {
            Some(text) => json_rows(text, "the ids of new deliveries")?,
            None => Vec::new(),
        };
        if ids.len() != self.count {
            return Err(StoreError::Decode {
                operation: "the ids of new rows",
                source: "fewer ids than rows inserted".into(),
            });
        }
        ids.sort_unstable();
        Ok(ids.into_iter().map(DeliveryId).collect())
    }
}

/// How many activities one enqueue statement carries.
const ENQUEUE_CHUNK: usize = 500;

/// Lowercase hex of `bytes`, for SQLite's `unhex`.
fn hex(bytes: &[u8]) -> String {
    let digit = |nibble: u8| char::from_digit(u32::from(nibble), 16).unwrap_or('0');
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(digit(byte >> 4));
        out.push(digit(byte & 0x0f));
    }
    out
}

/// `values` as a JSON array, bound as one parameter and read back with `json_each`: SQLite
/// has no array parameters, and one statement text for every batch size keeps the statement
/// cache from churning.
fn json_array<T: serde::Serialize>(values: &[T]) -> String {
    // Numbers, strings and tuples of them always serialize.
    serde_json::to_string(values).unwrap_or_else(|_| String::from("[]"))
}

/// Decodes the one-row result of a query that gathers its rows with `json_group_array`.
///
/// sqlx hands every result row from SQLite's thread to the caller as a message of its own,
/// which on a busy machine costs more than the row itself; the batch queries of the claim and
/// completion paths therefore return one row, a JSON array of their rows.
fn json_rows<T: serde::de::DeserializeOwned>(
    text: &str,
    operation: &'static str,
) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode {
        operation,
        source: Box::new(e),
    })
}

/// A host state row as `json_array` writes it.
type HostColumns = (String, i64, i64, i64, Option<i64>, Option<i64>, Option<i64>);

async fn load_hosts(
    tx: &mut Transaction<'_, Sqlite>,
    hosts: &[&str],
) -> Result<HashMap<String, HostState>, StoreError> {
    let mut states = HashMap::with_capacity(hosts.len());
    if hosts.is_empty() {
        return Ok(states);
    }
    let text: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(host, breaker, unavailable, consecutive_failures, \
         failing_since, blocked_until, last_answer)) \
         FROM fq_hosts WHERE host IN (SELECT value FROM json_each(?1))",
    )
    .bind(json_array(hosts))
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db("reading host states"))?;
    for (host, breaker, unavailable, failures, failing_since, blocked_until, last_answer) in
        json_rows::<HostColumns>(&text, "host states")?
    {
        let state = host_from_columns(
            host,
            breaker,
            unavailable,
            failures,
            failing_since,
            blocked_until,
            last_answer,
        )?;
        states.insert(state.host.clone(), state);
    }
    Ok(states)
}

fn host_row(row: &sqlx::sqlite::SqliteRow) -> Result<HostState, StoreError> {
    let get = |e| StoreError::db("decoding a host state")(e);
    host_from_columns(
        row.try_get("host").map_err(get)?,
        row.try_get("breaker").map_err(get)?,
        row.try_get("unavailable").map_err(get)?,
        row.try_get("consecutive_failures").map_err(get)?,
        row.try_get("failing_since").map_err(get)?,
        row.try_get("blocked_until").map_err(get)?,
        row.try_get("last_answer").map_err(get)?,
    )
}

/// Writes host states, in one statement.
async fn save_hosts(
    tx: &mut Transaction<'_, Sqlite>,
    states: &[HostState],
) -> Result<(), StoreError> {
    if states.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = states
        .iter()
        .map(|state| {
            (
                &state.host,
                state.breaker.code(),
                i64::from(state.unavailable),
                state.consecutive_failures,
                opt_ms(state.failing_since),
                opt_ms(state.blocked_until),
                opt_ms(state.last_answer),
            )
        })
        .collect();
    sqlx::query(
        "WITH t(host, breaker, unavailable, failures, failing_since, blocked_until, last_answer) \
         AS (SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
         value ->> 6 FROM json_each(?1)) \
         UPDATE fq_hosts SET breaker = t.breaker, unavailable = t.unavailable, \
         consecutive_failures = t.failures, failing_since = t.failing_since, \
         blocked_until = t.blocked_until, last_answer = t.last_answer \
         FROM t WHERE fq_hosts.host = t.host",
    )
    .bind(json_array(&rows))
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("saving host states"))?;
    Ok(())
}

/// Makes the deliveries a closed block had pushed due now.
async fn pull_forward(
    tx: &mut Transaction<'_, Sqlite>,
    host: &str,
    upto: SystemTime,
    now: SystemTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE fq_deliveries SET due_at = ?1 WHERE host = ?2 AND state = 0 AND due_at > ?1 \
         AND due_at <= ?3",
    )
    .bind(to_ms(now))
    .bind(host)
    .bind(to_ms(upto))
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("releasing deliveries of a recovered host"))?;
    Ok(())
}

fn dead_letter(row: &sqlx::sqlite::SqliteRow) -> Result<DeadLetter, StoreError> {
    let get = |e| StoreError::db("decoding a dead letter")(e);
    let status: Option<i64> = row.try_get("dead_status").map_err(get)?;
    let code: Option<String> = row.try_get("dead_reason").map_err(get)?;
    Ok(DeadLetter {
        id: DeliveryId(row.try_get("id").map_err(get)?),
        inbox: row.try_get("inbox").map_err(get)?,
        host: row.try_get("host").map_err(get)?,
        key_ref: row.try_get("key_ref").map_err(get)?,
        ordering_key: row.try_get("ordering_key").map_err(get)?,
        attempts: u32_column("attempts", row.try_get("attempts").map_err(get)?)?,
        enqueued_at: from_ms(row.try_get("enqueued_at").map_err(get)?),
        died_at: from_ms(
            row.try_get::<Option<i64>, _>("died_at")
                .map_err(get)?
                .unwrap_or(0),
        ),
        reason: DeadReason::from_code(
            code.as_deref().unwrap_or(""),
            status.and_then(|s| u16::try_from(s).ok()),
        ),
        last_error: row.try_get("last_error").map_err(get)?,
    })
}

impl Store for SqliteStore {
    async fn enqueue(
        &self,
        activities: &[NewActivity],
        now: SystemTime,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        let now = to_ms(now);
        let activities = with_deliveries(activities);
        if activities.is_empty() {
            return Ok(Vec::new());
        }
        let mut writer = self.writer().await;
        // One chunk (the usual case: an enqueue, or a group of them): its transaction, from
        // `BEGIN` to `COMMIT`, is one query, so one message to sqlx's SQLite thread and one
        // back. Each such hand-off costs more than SQLite's own work when the cores are busy
        // signing, and an enqueue took six of them (see `docs/federation-queue.md`).
        if activities.len() <= ENQUEUE_CHUNK {
            let chunk = Chunk::new(&activities);
            // Until the query has answered, the transaction may be open: if this future is
            // dropped meanwhile, the next user of the connection rolls it back.
            writer.0.open_transaction = true;
            let texts: Result<Vec<String>, sqlx::Error> = sqlx::query_scalar(ENQUEUE_ALONE_SQL)
                .bind(&chunk.deliveries)
                .bind(now)
                .bind(&chunk.activities)
                .fetch_all(writer.conn()?)
                .await;
            let texts = match texts {
                Ok(texts) => {
                    writer.0.open_transaction = false;
                    texts
                }
                Err(error) => {
                    writer.roll_back().await;
                    return Err(StoreError::db("storing activities and deliveries")(error));
                }
            };
            return chunk.ids(&texts);
        }
        let mut tx = writer
            .conn()?
            .begin()
            .await
            .map_err(StoreError::db("starting an enqueue"))?;
        let mut ids = Vec::with_capacity(activities.iter().map(|a| a.deliveries.len()).sum());
        // A larger batch: one query per chunk of activities, in one transaction.
        for activities in activities.chunks(ENQUEUE_CHUNK) {
            let chunk = Chunk::new(activities);
            let texts: Vec<String> = sqlx::query_scalar(ENQUEUE_CHUNK_SQL)
                .bind(&chunk.deliveries)
                .bind(now)
                .bind(&chunk.activities)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::db("storing activities and deliveries"))?;
            ids.extend(chunk.ids(&texts)?);
        }
        tx.commit()
            .await
            .map_err(StoreError::db("committing an enqueue"))?;
        Ok(ids)
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        if request.limit == 0 {
            return Ok(Vec::new());
        }
        let mut writer = self.writer().await;
        let mut tx = writer
            .conn()?
            .begin()
            .await
            .map_err(StoreError::db("starting a claim"))?;
        let claims = claim_in(&mut tx, request).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("committing a claim"))?;
        Ok(claims)
    }

    async fn complete(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        now: SystemTime,
    ) -> Result<Vec<HostChange>, StoreError> {
        if completions.is_empty() {
            return Ok(Vec::new());
        }
        let mut writer = self.writer().await;
        let mut tx = writer
            .conn()?
            .begin()
            .await
            .map_err(StoreError::db("starting a completion"))?;
        let changes = complete_in(&mut tx, completions, policy, now).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("committing a completion"))?;
        Ok(changes)
    }

    async fn complete_and_claim(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        request: &ClaimRequest,
    ) -> Result<(Vec<HostChange>, Vec<ClaimedDelivery>), StoreError> {
        let mut writer = self.writer().await;
        let mut tx = writer
            .conn()?
            .begin()
            .await
            .map_err(StoreError::db("starting a completion and claim"))?;
        let changes = if completions.is_empty() {
            Vec::new()
        } else {
            complete_in(&mut tx, completions, policy, request.now).await?
        };
        let claims = if request.limit == 0 {
            Vec::new()
        } else {
            claim_in(&mut tx, request).await?
        };
        tx.commit()
            .await
            .map_err(StoreError::db("committing a completion and claim"))?;
        Ok((changes, claims))
    }

    async fn expire(&self, cutoff: SystemTime, now: SystemTime) -> Result<u64, StoreError> {
        let mut writer = self.writer().await;
        let result = sqlx::query(
            "UPDATE fq_deliveries SET state = 2, dead_reason = 'expired', died_at = ?1 \
             WHERE enqueued_at < ?2 AND (state = 0 OR (state = 1 AND due_at <= ?1))",
        )
        .bind(to_ms(now))
        .bind(to_ms(cutoff))
        .execute(writer.conn()?)
        .await
        .map_err(StoreError::db("expiring old deliveries"))?;
        Ok(result.rows_affected())
    }

    async fn dead_letters(
        &self,
        after: Option<DeliveryId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.inbox, d.host, a.key_ref, d.ordering_key, d.attempts, d.enqueued_at, \
             d.died_at, d.dead_reason, d.dead_status, d.last_error \
             FROM fq_deliveries d JOIN fq_activities a ON a.id = d.activity_id \
             WHERE d.state = 2 AND d.id > ? ORDER BY d.id LIMIT ?",
        )
        .bind(after.map_or(i64::MIN, |id| id.0))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db("listing dead letters"))?;
        rows.iter().map(dead_letter).collect()
    }

    async fn requeue(&self, which: &Requeue, now: SystemTime) -> Result<u64, StoreError> {
        let mut builder = QueryBuilder::<Sqlite>::new(
            "UPDATE fq_deliveries SET state = 0, attempts = 0, dead_reason = NULL, \
             dead_status = NULL, died_at = NULL, due_at = ",
        );
        builder
            .push_bind(to_ms(now))
            .push(", enqueued_at = ")
            .push_bind(to_ms(now))
            .push(" WHERE state = 2");
        match which {
            Requeue::All => {}
            Requeue::Host(host) => {
                builder.push(" AND host = ").push_bind(host.as_str());
            }
            Requeue::Ids(ids) => {
                if ids.is_empty() {
                    return Ok(0);
                }
                builder.push(" AND id IN (");
                let mut separated = builder.separated(", ");
                for id in ids {
                    separated.push_bind(id.0);
                }
                separated.push_unseparated(")");
            }
        }
        let mut writer = self.writer().await;
        let result = builder
            .build()
            .execute(writer.conn()?)
            .await
            .map_err(StoreError::db("requeuing dead letters"))?;
        Ok(result.rows_affected())
    }

    async fn purge_dead(&self, cutoff: SystemTime) -> Result<u64, StoreError> {
        let mut writer = self.writer().await;
        let mut tx = writer
            .conn()?
            .begin()
            .await
            .map_err(StoreError::db("starting a purge"))?;
        let result = sqlx::query("DELETE FROM fq_deliveries WHERE state = 2 AND died_at < ?")
            .bind(to_ms(cutoff))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("purging dead letters"))?;
        sqlx::query(
            "DELETE FROM fq_activities WHERE NOT EXISTS \
             (SELECT 1 FROM fq_deliveries WHERE activity_id = fq_activities.id)",
        )
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("removing orphaned activities"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("committing a purge"))?;
        Ok(result.rows_affected())
    }

    async fn hosts(&self) -> Result<Vec<HostState>, StoreError> {
        let rows = sqlx::query(
            "SELECT host, breaker, unavailable, consecutive_failures, failing_since, \
             blocked_until, last_answer FROM fq_hosts ORDER BY host",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db("listing hosts"))?;
        rows.iter().map(host_row).collect()
    }

    async fn mark_host_available(&self, host: &str, now: SystemTime) -> Result<bool, StoreError> {
        let mut writer = self.writer().await;
        let mut tx = writer
            .conn()?
            .begin()
            .await
            .map_err(StoreError::db("starting a host reset"))?;
        let hosts = load_hosts(&mut tx, &[host]).await?;
        let Some(before) = hosts.get(host) else {
            return Ok(false);
        };
        let mut after = HostState::new(host);
        after.last_answer = Some(now);
        save_hosts(&mut tx, std::slice::from_ref(&after)).await?;
        if let Some(upto) = released_block(before, &after, now) {
            pull_forward(&mut tx, host, upto, now).await?;
        }
        tx.commit()
            .await
            .map_err(StoreError::db("committing a host reset"))?;
        Ok(true)
    }

    async fn counts(&self, now: SystemTime) -> Result<QueueCounts, StoreError> {
        let row = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN state = 0 OR (state = 1 AND due_at <= ?1) THEN 1 ELSE 0 END), 0) AS pending, \
               COALESCE(SUM(CASE WHEN state = 1 AND due_at > ?1 THEN 1 ELSE 0 END), 0) AS in_flight, \
               COALESCE(SUM(CASE WHEN state = 2 THEN 1 ELSE 0 END), 0) AS dead \
             FROM fq_deliveries",
        )
        .bind(to_ms(now))
        .fetch_one(&self.reader)
        .await
        .map_err(StoreError::db("counting deliveries"))?;
        let get = |e| StoreError::db("decoding counts")(e);
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(QueueCounts {
            pending: count(row.try_get("pending").map_err(get)?),
            in_flight: count(row.try_get("in_flight").map_err(get)?),
            dead: count(row.try_get("dead").map_err(get)?),
        })
    }
}

/// The claim of [`Store::claim`], inside `tx`.
async fn claim_in(
    tx: &mut Transaction<'_, Sqlite>,
    request: &ClaimRequest,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let now = to_ms(request.now);
    // Scan past the limit so that hosts at their cap or blocked do not starve the rest.
    let scan = i64::try_from(request.limit.saturating_mul(4).max(64)).unwrap_or(i64::MAX);
    let text: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(id, host) ORDER BY due_at, id) FROM ( \
         SELECT d.id, d.host, d.due_at FROM fq_deliveries d \
         WHERE d.state < 2 AND d.due_at <= ?1 \
         AND (d.ordering_key IS NULL OR NOT EXISTS ( \
             SELECT 1 FROM fq_deliveries e WHERE e.host = d.host \
             AND e.ordering_key = d.ordering_key AND e.state < 2 AND e.id < d.id)) \
         ORDER BY d.due_at, d.id LIMIT ?2)",
    )
    .bind(now)
    .bind(scan)
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db("finding due deliveries"))?;
    let candidates: Vec<Candidate> = json_rows::<(i64, String)>(&text, "due deliveries")?
        .into_iter()
        .map(|(id, host)| Candidate {
            id: DeliveryId(id),
            host,
        })
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let host_names: Vec<&str> = {
        let mut seen = HashSet::new();
        candidates
            .iter()
            .map(|c| c.host.as_str())
            .filter(|h| seen.insert(*h))
            .collect()
    };
    let hosts = load_hosts(tx, &host_names).await?;
    let text: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(host, n)) FROM ( \
         SELECT host, COUNT(*) AS n FROM fq_deliveries WHERE state = 1 AND due_at > ?1 \
         AND host IN (SELECT value FROM json_each(?2)) GROUP BY host)",
    )
    .bind(now)
    .bind(json_array(&host_names))
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db("counting claims per host"))?;
    let in_flight: HashMap<String, u64> = json_rows::<(String, i64)>(&text, "claims per host")?
        .into_iter()
        .map(|(host, n)| (host, u64::try_from(n).unwrap_or(0)))
        .collect();
    let plan = plan_claim(&candidates, &hosts, &in_flight, request);
    save_hosts(tx, &plan.host_updates).await?;
    for (host, until) in &plan.pushes {
        sqlx::query(
            "UPDATE fq_deliveries SET state = 0, due_at = ?1 WHERE host = ?2 \
             AND ((state = 0 AND due_at < ?1) OR (state = 1 AND due_at <= ?3))",
        )
        .bind(to_ms(*until))
        .bind(host)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db("deferring deliveries of a blocked host"))?;
    }
    // One statement claims the batch, under one token: the token only has to tell this
    // claim from a later one of the same delivery.
    let lease_end = now.saturating_add(duration_ms(request.lease));
    let token = new_token();
    let ids: Vec<i64> = plan.chosen.iter().map(|(id, _)| id.0).collect();
    let ids = json_array(&ids);
    sqlx::query(
        "UPDATE fq_deliveries SET state = 1, due_at = ?1, attempts = attempts + 1, token = ?2 \
         WHERE id IN (SELECT value FROM json_each(?3))",
    )
    .bind(lease_end)
    .bind(token)
    .bind(&ids)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("claiming deliveries"))?;
    let text: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(id, activity_id, inbox, host, attempts, \
         enqueued_at)) FROM fq_deliveries \
         WHERE id IN (SELECT value FROM json_each(?1)) AND token = ?2 AND state = 1",
    )
    .bind(&ids)
    .bind(token)
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db("reading claimed deliveries"))?;
    let rows = json_rows::<(i64, i64, String, String, i64, i64)>(&text, "claimed deliveries")?;
    let mut by_id: HashMap<i64, (ClaimedDelivery, i64)> = HashMap::with_capacity(rows.len());
    for (id, activity, inbox, host, attempts, enqueued_at) in rows {
        let claim = ClaimedDelivery {
            id: DeliveryId(id),
            token,
            inbox,
            host,
            key_ref: String::new(),
            body: Bytes::new(),
            attempts: u32_column("attempts", attempts)?,
            enqueued_at: from_ms(enqueued_at),
            probe: false,
        };
        by_id.insert(id, (claim, activity));
    }
    let wanted = activities_of(&by_id);
    let mut bodies: HashMap<i64, (Bytes, String)> = HashMap::with_capacity(wanted.len());
    for row in sqlx::query(
        "SELECT id, body, key_ref FROM fq_activities \
         WHERE id IN (SELECT value FROM json_each(?1))",
    )
    .bind(json_array(&wanted))
    .fetch_all(&mut **tx)
    .await
    .map_err(StoreError::db("reading activities"))?
    {
        let (id, activity) = activity_row(&row)?;
        bodies.insert(id, activity);
    }
    Ok(assemble_claims(plan.chosen, by_id, &bodies))
}

/// The completion of [`Store::complete`], inside `tx`.
async fn complete_in(
    tx: &mut Transaction<'_, Sqlite>,
    completions: &[Completion],
    policy: &BreakerPolicy,
    now: SystemTime,
) -> Result<Vec<HostChange>, StoreError> {
    let now_ms = to_ms(now);
    // Which completions are still current (their claim's token is the row's), read once;
    // the writes below then touch only those rows, one statement per kind of outcome.
    let pairs: Vec<(i64, i64)> = completions.iter().map(|c| (c.id.0, c.token)).collect();
    let text: String = sqlx::query_scalar(
        "WITH t(id, token) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?1)) \
         SELECT json_group_array(json_array(id, activity_id)) FROM fq_deliveries \
         WHERE id IN (SELECT id FROM t) AND (id, token) IN (SELECT id, token FROM t) \
         AND state = 1",
    )
    .bind(json_array(&pairs))
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db("reading the claims being completed"))?;
    let activity_of: HashMap<i64, i64> = json_rows::<(i64, i64)>(&text, "claims being completed")?
        .into_iter()
        .collect();
    let current: HashSet<i64> = activity_of.keys().copied().collect();
    let mut finished: Vec<i64> = Vec::new();
    let mut finished_activities: Vec<i64> = Vec::new();
    let mut retries: Vec<(i64, i64, &str)> = Vec::new();
    let mut dead: Vec<(i64, &str, Option<u16>, &str)> = Vec::new();
    let mut released: Vec<(i64, i64)> = Vec::new();
    let mut seen: HashSet<i64> = HashSet::with_capacity(completions.len());
    for completion in completions {
        let id = completion.id.0;
        // A delivery completed twice in one batch counts once, as its first completion.
        let Some(activity) = activity_of.get(&id).filter(|_| seen.insert(id)) else {
            continue;
        };
        match &completion.outcome {
            Outcome::Delivered | Outcome::Gone => {
                finished.push(id);
                finished_activities.push(*activity);
            }
            Outcome::Retry { at, error } => retries.push((id, to_ms(*at), error)),
            Outcome::Dead { reason, error } => {
                dead.push((id, reason.code(), reason.status(), error));
            }
            Outcome::Release { at } => released.push((id, to_ms(*at))),
        }
    }
    if !finished.is_empty() {
        sqlx::query("DELETE FROM fq_deliveries WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(json_array(&finished))
            .execute(&mut **tx)
            .await
            .map_err(StoreError::db("removing delivered deliveries"))?;
    }
    if !retries.is_empty() {
        sqlx::query(
            "WITH t(id, due, error) AS (SELECT value ->> 0, value ->> 1, value ->> 2 \
             FROM json_each(?1)) \
             UPDATE fq_deliveries SET state = 0, due_at = t.due, last_error = t.error \
             FROM t WHERE fq_deliveries.id = t.id",
        )
        .bind(json_array(&retries))
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db("scheduling retries"))?;
    }
    if !dead.is_empty() {
        sqlx::query(
            "WITH t(id, reason, status, error) AS (SELECT value ->> 0, value ->> 1, \
             value ->> 2, value ->> 3 FROM json_each(?1)) \
             UPDATE fq_deliveries SET state = 2, dead_reason = t.reason, \
             dead_status = t.status, died_at = ?2, last_error = t.error \
             FROM t WHERE fq_deliveries.id = t.id",
        )
        .bind(json_array(&dead))
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db("moving deliveries to the dead letters"))?;
    }
    if !released.is_empty() {
        sqlx::query(
            "WITH t(id, due) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?1)) \
             UPDATE fq_deliveries SET state = 0, due_at = t.due, \
             attempts = MAX(attempts - 1, 0) FROM t WHERE fq_deliveries.id = t.id",
        )
        .bind(json_array(&released))
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db("releasing claims"))?;
    }
    finished_activities.sort_unstable();
    finished_activities.dedup();
    if !finished_activities.is_empty() {
        sqlx::query(
            "DELETE FROM fq_activities WHERE id IN (SELECT value FROM json_each(?1)) \
             AND NOT EXISTS (SELECT 1 FROM fq_deliveries \
             WHERE fq_deliveries.activity_id = fq_activities.id)",
        )
        .bind(json_array(&finished_activities))
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db("removing finished activities"))?;
    }
    let names = completed_hosts(completions, &current);
    let mut hosts = load_hosts(tx, &names).await?;
    let updates = plan_host_updates(completions, &current, &mut hosts, policy, now);
    save_hosts(tx, &updates.changed).await?;
    for (host, upto) in updates.released {
        pull_forward(tx, host, upto, now).await?;
    }
    Ok(updates.changes)
}
