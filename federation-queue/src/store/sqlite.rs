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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, QueryBuilder, Row, Sqlite, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::sql::{activity_row, host_from_columns, migrator, opt_ms, u32_column};
use super::{
    Candidate, ClaimPlan, Store, StoreError, assemble_claims, new_token, plan_claim,
    plan_host_updates, released_block, with_deliveries,
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

    /// Runs one query of a transaction that spans several queries (begun by the first,
    /// committed by the last); until the last has answered, the transaction may be open.
    async fn step(
        &mut self,
        query: sqlx::query::Query<'_, Sqlite, SqliteArguments>,
        operation: &'static str,
    ) -> Result<Vec<SqliteRow>, StoreError> {
        self.0.open_transaction = true;
        query
            .fetch_all(self.conn()?)
            .await
            .map_err(StoreError::db(operation))
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

/// Stores one activity with one delivery (what an `enqueue` of one activity to one inbox
/// writes) in a transaction of its own, in plain statements with bound values: the body as a
/// blob, no JSON arrays to build and parse, no window function to find the new activity
/// (`last_insert_rowid()` is its id). It writes exactly the rows `enqueue_chunk_sql` writes for
/// the same activity, and returns the new delivery's id. A lone enqueue from one caller is the
/// common case while the worker runs, and the chunk statement cost it about as much SQLite
/// CPU as a delivery's own store work (see `docs/federation-queue.md`).
///
/// `?1` host, `?2` now, `?3` ordering key, `?4` inbox, `?5` body, `?6` key reference. sqlx
/// binds a parameter number that a statement skips to the next argument in line, counting on
/// from the statements before, and stops binding once past the last argument: only the second
/// statement skips numbers (`?1` and `?4`), two of the six, so every parameter named is bound.
const ENQUEUE_ONE_SQL: &str = "BEGIN; \
    INSERT INTO fq_hosts (host) VALUES (?1) ON CONFLICT DO NOTHING; \
    INSERT INTO fq_activities (body, key_ref, ordering_key, created_at) VALUES (?5, ?6, ?3, ?2); \
    INSERT INTO fq_deliveries (activity_id, inbox, host, ordering_key, due_at, enqueued_at) \
    VALUES (last_insert_rowid(), ?4, ?1, ?3, ?2, ?2) RETURNING id; \
    COMMIT";

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

/// Host states from the JSON array `hosts_sql` returns.
fn hosts_from_json(text: &str) -> Result<HashMap<String, HostState>, StoreError> {
    let rows = json_rows::<HostColumns>(text, "host states")?;
    let mut states = HashMap::with_capacity(rows.len());
    for (host, breaker, unavailable, failures, failing_since, blocked_until, last_answer) in rows {
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
        // One activity to one inbox (a lone enqueue): plain statements, one query.
        if let [activity] = activities.as_slice()
            && let [delivery] = activity.deliveries.as_slice()
        {
            // Until the query has answered, the transaction may be open: if this future is
            // dropped meanwhile, the next user of the connection rolls it back.
            writer.0.open_transaction = true;
            let ids: Result<Vec<i64>, sqlx::Error> = sqlx::query_scalar(ENQUEUE_ONE_SQL)
                .bind(&delivery.host)
                .bind(now)
                .bind(activity.ordering_key.as_deref())
                .bind(&delivery.inbox)
                .bind(activity.body.as_ref())
                .bind(&activity.key_ref)
                .fetch_all(writer.conn()?)
                .await;
            return match ids {
                Ok(ids) => {
                    writer.0.open_transaction = false;
                    match ids.as_slice() {
                        [id] => Ok(vec![DeliveryId(*id)]),
                        _ => Err(StoreError::Decode {
                            operation: "the id of a new delivery",
                            source: format!("{} ids for one row inserted", ids.len()).into(),
                        }),
                    }
                }
                Err(error) => {
                    writer.roll_back().await;
                    Err(StoreError::db("storing an activity and its delivery")(
                        error,
                    ))
                }
            };
        }
        // One chunk (the usual case: a group of enqueues, or a batch): its transaction, from
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
        let (_, claims) = refill(
            &mut writer,
            &[],
            &BreakerPolicy::default(),
            request.now,
            Some(request),
        )
        .await?;
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
        let (changes, _) = refill(&mut writer, completions, policy, now, None).await?;
        Ok(changes)
    }

    async fn complete_and_claim(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        request: &ClaimRequest,
    ) -> Result<(Vec<HostChange>, Vec<ClaimedDelivery>), StoreError> {
        let claim = Some(request).filter(|r| r.limit > 0);
        if completions.is_empty() && claim.is_none() {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut writer = self.writer().await;
        refill(&mut writer, completions, policy, request.now, claim).await
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

// A refill (the worker recording outcomes and claiming, `Store::complete_and_claim`) is one
// transaction in two queries, each one message to sqlx's SQLite thread and one back, where it
// was a dozen: `BEGIN`, a statement each for the claims being completed, their hosts, the row
// writes of each kind of outcome, the activities left without deliveries, the host states,
// the due deliveries, their hosts, the claims per host, the claim, the claimed rows, their
// bodies, and `COMMIT`. With the cores busy signing, each hand-off waited for a core, and the
// enqueues that came meanwhile waited for the writer behind all of them (see
// `docs/federation-queue.md`, "A refill in two queries").
//
// The first query begins the transaction, reads which completions are still current and their
// hosts' states, writes the completions' rows (the statements find the current ones by
// themselves, from the batch's id and token pairs), and reads what the claim needs: the due
// deliveries, their hosts' states and the claims per host, after the completions' writes, as
// one transaction of a dozen queries did. The planning of both (breakers, caps, probes) runs
// here, between the two queries. The second query writes the host states, the claim and what
// goes with it, reads the claimed rows and their bodies, and commits. The one thing the plan
// of the completions can change that the claim's reads already took (a breaker that closes
// makes its host's pushed deliveries due again) takes a query of its own, before the claim is
// planned: rare, and the claim then sees those deliveries as before.
//
// Parameters are anonymous (`?`): sqlx binds them in the order they appear across all the
// statements of a query, each `?` its own argument, so each statement below says what it
// binds, in order.

/// Begins the transaction of a refill, taking the write lock at once: should another process
/// hold it, the busy timeout applies (a transaction that read first and then wanted to write
/// would fail at once instead).
macro_rules! begin_sql {
    () => {
        "BEGIN IMMEDIATE; "
    };
}

/// The current claims among the completions, as one JSON array of `[id, activity_id]`.
/// Binds: the completions' `[id, token]` pairs.
macro_rules! current_sql {
    () => {
        "WITH t(id, token) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?)) \
         SELECT json_group_array(json_array(id, activity_id)) FROM fq_deliveries \
         WHERE id IN (SELECT id FROM t) AND (id, token) IN (SELECT id, token FROM t) \
         AND state = 1; "
    };
}

/// The states of some hosts, as one JSON array. Binds: the host names.
macro_rules! hosts_sql {
    () => {
        "SELECT json_group_array(json_array(host, breaker, unavailable, consecutive_failures, \
         failing_since, blocked_until, last_answer)) \
         FROM fq_hosts WHERE host IN (SELECT value FROM json_each(?)); "
    };
}

/// The condition that a row's claim is current: its id and token are a pair of the batch,
/// and it is still claimed. Binds: the completions' `[id, token]` pairs.
macro_rules! still_current {
    () => {
        "(fq_deliveries.id, fq_deliveries.token) IN \
         (SELECT value ->> 0, value ->> 1 FROM json_each(?)) AND fq_deliveries.state = 1"
    };
}

/// The row writes of the completions, one statement per kind of outcome, each touching only
/// the rows whose claim is current. Each delivery's outcome is in one list only (the first
/// completion of a delivery counts). Binds: delivered ids, pairs; retries `[id, due, error]`,
/// pairs; dead `[id, reason, status, error]`, now, pairs; released `[id, due]`, pairs.
macro_rules! completion_writes_sql {
    () => {
        concat!(
            "DELETE FROM fq_deliveries WHERE id IN (SELECT value FROM json_each(?)) AND ",
            still_current!(),
            "; \
             WITH r(id, due, error) AS (SELECT value ->> 0, value ->> 1, value ->> 2 \
             FROM json_each(?)) \
             UPDATE fq_deliveries SET state = 0, due_at = r.due, last_error = r.error \
             FROM r WHERE fq_deliveries.id = r.id AND ",
            still_current!(),
            "; \
             WITH r(id, reason, status, error) AS (SELECT value ->> 0, value ->> 1, \
             value ->> 2, value ->> 3 FROM json_each(?)) \
             UPDATE fq_deliveries SET state = 2, dead_reason = r.reason, \
             dead_status = r.status, died_at = ?, last_error = r.error \
             FROM r WHERE fq_deliveries.id = r.id AND ",
            still_current!(),
            "; \
             WITH r(id, due) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?)) \
             UPDATE fq_deliveries SET state = 0, due_at = r.due, \
             attempts = MAX(attempts - 1, 0) FROM r WHERE fq_deliveries.id = r.id AND ",
            still_current!(),
            "; "
        )
    };
}

/// What a claim reads, as one row of three JSON arrays: the due deliveries (`[id, host]`,
/// oldest due first, only the oldest unfinished one of each ordering key and host), their
/// hosts' states, and their hosts' live claims (`[host, count]`). Binds: now, how many to
/// scan, now.
macro_rules! claim_reads_sql {
    () => {
        "WITH c AS MATERIALIZED ( \
         SELECT d.id, d.host, d.due_at FROM fq_deliveries d \
         WHERE d.state < 2 AND d.due_at <= ? \
         AND (d.ordering_key IS NULL OR NOT EXISTS ( \
             SELECT 1 FROM fq_deliveries e WHERE e.host = d.host \
             AND e.ordering_key = d.ordering_key AND e.state < 2 AND e.id < d.id)) \
         ORDER BY d.due_at, d.id LIMIT ?) \
         SELECT \
         (SELECT json_group_array(json_array(id, host) ORDER BY due_at, id) FROM c), \
         (SELECT json_group_array(json_array(host, breaker, unavailable, \
          consecutive_failures, failing_since, blocked_until, last_answer)) \
          FROM fq_hosts WHERE host IN (SELECT host FROM c)), \
         (SELECT json_group_array(json_array(host, n)) FROM ( \
          SELECT host, COUNT(*) AS n FROM fq_deliveries WHERE state = 1 AND due_at > ? \
          AND host IN (SELECT host FROM c) GROUP BY host)); "
    };
}

/// Makes the deliveries that closed blocks had pushed due now. Binds: `[host, end of the
/// block]` pairs, now, now.
macro_rules! pull_forward_sql {
    () => {
        "WITH t(host, upto) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?)) \
         UPDATE fq_deliveries SET due_at = ? FROM t WHERE fq_deliveries.host = t.host \
         AND fq_deliveries.state = 0 AND fq_deliveries.due_at > ? \
         AND fq_deliveries.due_at <= t.upto; "
    };
}

/// The first query of a refill that records outcomes and claims. Rows: the current claims,
/// the completions' hosts, the claim's reads.
const REFILL_FIRST_SQL: &str = concat!(
    begin_sql!(),
    current_sql!(),
    hosts_sql!(),
    completion_writes_sql!(),
    claim_reads_sql!()
);

/// The first query of a refill that only records outcomes. Rows: the current claims, the
/// completions' hosts.
const COMPLETE_FIRST_SQL: &str = concat!(
    begin_sql!(),
    current_sql!(),
    hosts_sql!(),
    completion_writes_sql!()
);

/// The first query of a refill that only claims. Rows: the claim's reads.
const CLAIM_FIRST_SQL: &str = concat!(begin_sql!(), claim_reads_sql!());

/// After completions closed breakers: their hosts' pushed deliveries made due, and the
/// claim's reads again. Rows: the claim's reads.
const RELEASE_AND_READ_SQL: &str = concat!(pull_forward_sql!(), claim_reads_sql!());

/// The second (last) query of a refill: the activities left without deliveries removed, the
/// host states written, pushed deliveries made due, blocked hosts' deliveries pushed back, the
/// claim, the claimed rows (one JSON array of `[id, activity_id, inbox, host, attempts,
/// enqueued_at]`) and their activities (a row each: `id, body, key_ref`), and `COMMIT`.
/// Binds: finished activity ids; host state rows; released blocks, now, now; pushes `[host,
/// until]`, now; lease end, token, ids; ids, token; ids, token.
const REFILL_LAST_SQL: &str = concat!(
    "DELETE FROM fq_activities WHERE id IN (SELECT value FROM json_each(?)) \
     AND NOT EXISTS (SELECT 1 FROM fq_deliveries \
     WHERE fq_deliveries.activity_id = fq_activities.id); ",
    "WITH t(host, breaker, unavailable, failures, failing_since, blocked_until, last_answer) \
     AS (SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6 FROM json_each(?)) \
     UPDATE fq_hosts SET breaker = t.breaker, unavailable = t.unavailable, \
     consecutive_failures = t.failures, failing_since = t.failing_since, \
     blocked_until = t.blocked_until, last_answer = t.last_answer \
     FROM t WHERE fq_hosts.host = t.host; ",
    pull_forward_sql!(),
    "WITH t(host, until) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?)) \
     UPDATE fq_deliveries SET state = 0, due_at = t.until FROM t \
     WHERE fq_deliveries.host = t.host \
     AND ((fq_deliveries.state = 0 AND fq_deliveries.due_at < t.until) \
     OR (fq_deliveries.state = 1 AND fq_deliveries.due_at <= ?)); ",
    "UPDATE fq_deliveries SET state = 1, due_at = ?, attempts = attempts + 1, token = ? \
     WHERE id IN (SELECT value FROM json_each(?)); ",
    "SELECT json_group_array(json_array(id, activity_id, inbox, host, attempts, \
     enqueued_at)) FROM fq_deliveries \
     WHERE id IN (SELECT value FROM json_each(?)) AND token = ? AND state = 1; ",
    "SELECT id, body, key_ref FROM fq_activities WHERE id IN (SELECT activity_id \
     FROM fq_deliveries WHERE id IN (SELECT value FROM json_each(?)) AND token = ? \
     AND state = 1); ",
    "COMMIT"
);

/// What a claim read, decoded.
struct ClaimReads {
    candidates: Vec<Candidate>,
    hosts: HashMap<String, HostState>,
    in_flight: HashMap<String, u64>,
}

impl ClaimReads {
    /// Decodes the one row of `claim_reads_sql`.
    fn decode(row: Option<&SqliteRow>) -> Result<Self, StoreError> {
        let Some(row) = row else {
            return Err(missing_row("the due deliveries"));
        };
        let text = |i: usize| -> Result<String, StoreError> {
            row.try_get(i)
                .map_err(StoreError::db("decoding the due deliveries"))
        };
        let candidates = json_rows::<(i64, String)>(&text(0)?, "due deliveries")?
            .into_iter()
            .map(|(id, host)| Candidate {
                id: DeliveryId(id),
                host,
            })
            .collect();
        let hosts = hosts_from_json(&text(1)?)?;
        let in_flight = json_rows::<(String, i64)>(&text(2)?, "claims per host")?
            .into_iter()
            .map(|(host, n)| (host, u64::try_from(n).unwrap_or(0)))
            .collect();
        Ok(Self {
            candidates,
            hosts,
            in_flight,
        })
    }
}

/// A query's result lacked a row its statements always return (the database misbehaved).
fn missing_row(operation: &'static str) -> StoreError {
    StoreError::Decode {
        operation,
        source: "a statement returned no row".into(),
    }
}

/// The text of a query's `i`th row, first column.
fn row_text(rows: &[SqliteRow], i: usize, operation: &'static str) -> Result<String, StoreError> {
    rows.get(i)
        .ok_or_else(|| missing_row(operation))?
        .try_get(0)
        .map_err(StoreError::db(operation))
}

/// The completions of a refill, sorted by kind of outcome for the row writes.
struct CompletionWrites<'a> {
    /// Every completion's `[id, token]` pair: a row is current when one of them is its own.
    pairs: String,
    /// The hosts of all the completions (their states are read; only those of current ones
    /// are used).
    hosts: String,
    delivered: Vec<i64>,
    retries: Vec<(i64, i64, &'a str)>,
    dead: Vec<(i64, &'a str, Option<u16>, &'a str)>,
    released: Vec<(i64, i64)>,
}

impl<'a> CompletionWrites<'a> {
    fn new(completions: &'a [Completion]) -> Self {
        let pairs: Vec<(i64, i64)> = completions.iter().map(|c| (c.id.0, c.token)).collect();
        let mut hosts: Vec<&str> = completions.iter().map(|c| c.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        let mut writes = Self {
            pairs: json_array(&pairs),
            hosts: json_array(&hosts),
            delivered: Vec::new(),
            retries: Vec::new(),
            dead: Vec::new(),
            released: Vec::new(),
        };
        let mut seen: HashSet<i64> = HashSet::with_capacity(completions.len());
        for completion in completions {
            let id = completion.id.0;
            // A delivery completed twice in one batch counts once, as its first completion.
            if !seen.insert(id) {
                continue;
            }
            match &completion.outcome {
                Outcome::Delivered | Outcome::Gone => writes.delivered.push(id),
                Outcome::Retry { at, error } => writes.retries.push((id, to_ms(*at), error)),
                Outcome::Dead { reason, error } => {
                    writes
                        .dead
                        .push((id, reason.code(), reason.status(), error));
                }
                Outcome::Release { at } => writes.released.push((id, to_ms(*at))),
            }
        }
        writes
    }

    /// Binds `current_sql`, `hosts_sql` and `completion_writes_sql`.
    fn bind<'q>(
        &self,
        query: sqlx::query::Query<'q, Sqlite, SqliteArguments>,
        now: i64,
    ) -> sqlx::query::Query<'q, Sqlite, SqliteArguments> {
        query
            .bind(self.pairs.clone())
            .bind(self.hosts.clone())
            .bind(json_array(&self.delivered))
            .bind(self.pairs.clone())
            .bind(json_array(&self.retries))
            .bind(self.pairs.clone())
            .bind(json_array(&self.dead))
            .bind(now)
            .bind(self.pairs.clone())
            .bind(json_array(&self.released))
            .bind(self.pairs.clone())
    }
}

/// Binds `claim_reads_sql` for `request`.
fn bind_claim_reads<'q>(
    query: sqlx::query::Query<'q, Sqlite, SqliteArguments>,
    request: &ClaimRequest,
) -> sqlx::query::Query<'q, Sqlite, SqliteArguments> {
    let now = to_ms(request.now);
    // Scan past the limit so that hosts at their cap or blocked do not starve the rest.
    let scan = i64::try_from(request.limit.saturating_mul(4).max(64)).unwrap_or(i64::MAX);
    query.bind(now).bind(scan).bind(now)
}

/// Records `completions` (at `now`) and, given a `request`, claims, in one transaction of two
/// queries (three when a completion closes a breaker and a claim follows); see above. On an
/// error the transaction is rolled back: nothing of it is kept.
async fn refill(
    writer: &mut Writer<'_>,
    completions: &[Completion],
    policy: &BreakerPolicy,
    now: SystemTime,
    request: Option<&ClaimRequest>,
) -> Result<(Vec<HostChange>, Vec<ClaimedDelivery>), StoreError> {
    let result = refill_steps(writer, completions, policy, now, request).await;
    if result.is_err() && writer.0.open_transaction {
        writer.roll_back().await;
    }
    result
}

/// The queries of [`refill`].
async fn refill_steps(
    writer: &mut Writer<'_>,
    completions: &[Completion],
    policy: &BreakerPolicy,
    now: SystemTime,
    request: Option<&ClaimRequest>,
) -> Result<(Vec<HostChange>, Vec<ClaimedDelivery>), StoreError> {
    let now_ms = to_ms(now);
    let writes = CompletionWrites::new(completions);
    // The first query: begin, the completions' reads and row writes, the claim's reads.
    let first = match (completions.is_empty(), request) {
        (false, Some(request)) => {
            bind_claim_reads(writes.bind(sqlx::query(REFILL_FIRST_SQL), now_ms), request)
        }
        (false, None) => writes.bind(sqlx::query(COMPLETE_FIRST_SQL), now_ms),
        (true, Some(request)) => bind_claim_reads(sqlx::query(CLAIM_FIRST_SQL), request),
        (true, None) => return Ok((Vec::new(), Vec::new())),
    };
    let rows = writer
        .step(first, "recording outcomes and reading due deliveries")
        .await?;
    let mut changes = Vec::new();
    let mut host_rows: BTreeMap<String, HostState> = BTreeMap::new();
    let mut finished_activities: Vec<i64> = Vec::new();
    let mut released_blocks: Vec<(String, i64)> = Vec::new();
    let mut claim_row = 0;
    if !completions.is_empty() {
        claim_row = 2;
        let activity_of: HashMap<i64, i64> = json_rows::<(i64, i64)>(
            &row_text(&rows, 0, "the claims being completed")?,
            "claims being completed",
        )?
        .into_iter()
        .collect();
        let mut hosts = hosts_from_json(&row_text(&rows, 1, "host states")?)?;
        let current: HashSet<i64> = activity_of.keys().copied().collect();
        finished_activities = writes
            .delivered
            .iter()
            .filter_map(|id| activity_of.get(id).copied())
            .collect();
        finished_activities.sort_unstable();
        finished_activities.dedup();
        let updates = plan_host_updates(completions, &current, &mut hosts, policy, now);
        changes = updates.changes;
        for state in updates.changed {
            host_rows.insert(state.host.clone(), state);
        }
        released_blocks = updates
            .released
            .iter()
            .map(|(host, upto)| ((*host).to_owned(), to_ms(*upto)))
            .collect();
    }
    let mut plan = ClaimPlan::default();
    let token = new_token();
    if let Some(request) = request {
        let mut reads = if released_blocks.is_empty() {
            ClaimReads::decode(rows.get(claim_row))?
        } else {
            // A breaker closed: its host's pushed deliveries are due again, and the claim
            // should see them, as it would have after a completion of its own.
            let query = bind_claim_reads(
                sqlx::query(RELEASE_AND_READ_SQL)
                    .bind(json_array(&released_blocks))
                    .bind(now_ms)
                    .bind(now_ms),
                request,
            );
            released_blocks.clear();
            let rows = writer
                .step(query, "releasing deliveries of a recovered host")
                .await?;
            ClaimReads::decode(rows.first())?
        };
        // The claim sees the host states the completions leave.
        for (host, state) in &host_rows {
            if let Some(read) = reads.hosts.get_mut(host) {
                *read = state.clone();
            }
        }
        plan = plan_claim(&reads.candidates, &reads.hosts, &reads.in_flight, request);
        for state in std::mem::take(&mut plan.host_updates) {
            host_rows.insert(state.host.clone(), state);
        }
    }
    let host_rows: Vec<_> = host_rows
        .values()
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
    let pushes: Vec<(&str, i64)> = plan
        .pushes
        .iter()
        .map(|(host, until)| (host.as_str(), to_ms(*until)))
        .collect();
    let claim_now = request.map_or(now_ms, |r| to_ms(r.now));
    let lease_end = request.map_or(now_ms, |r| claim_now.saturating_add(duration_ms(r.lease)));
    let ids: Vec<i64> = plan.chosen.iter().map(|(id, _)| id.0).collect();
    let ids = json_array(&ids);
    let last = sqlx::query(REFILL_LAST_SQL)
        .bind(json_array(&finished_activities))
        .bind(json_array(&host_rows))
        .bind(json_array(&released_blocks))
        .bind(now_ms)
        .bind(now_ms)
        .bind(json_array(&pushes))
        .bind(claim_now)
        .bind(lease_end)
        .bind(token)
        .bind(ids.clone())
        .bind(ids.clone())
        .bind(token)
        .bind(ids)
        .bind(token);
    let rows = writer
        .step(last, "writing the claim and committing")
        .await?;
    writer.0.open_transaction = false;
    let claimed = json_rows::<(i64, i64, String, String, i64, i64)>(
        &row_text(&rows, 0, "claimed deliveries")?,
        "claimed deliveries",
    )?;
    let mut by_id: HashMap<i64, (ClaimedDelivery, i64)> = HashMap::with_capacity(claimed.len());
    for (id, activity, inbox, host, attempts, enqueued_at) in claimed {
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
    let mut bodies: HashMap<i64, (Bytes, String)> = HashMap::with_capacity(rows.len());
    for row in rows.iter().skip(1) {
        let (id, activity) = activity_row(row)?;
        bodies.insert(id, activity);
    }
    Ok((changes, assemble_claims(plan.chosen, by_id, &bodies)))
}

/// The states of `hosts`, inside `tx`.
async fn load_hosts(
    tx: &mut Transaction<'_, Sqlite>,
    hosts: &[&str],
) -> Result<HashMap<String, HostState>, StoreError> {
    if hosts.is_empty() {
        return Ok(HashMap::new());
    }
    let text: String = sqlx::query_scalar(concat!(hosts_sql!()))
        .bind(json_array(hosts))
        .fetch_one(&mut **tx)
        .await
        .map_err(StoreError::db("reading host states"))?;
    hosts_from_json(&text)
}
