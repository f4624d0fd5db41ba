//! The inbox's durable idempotency record on SQLite or PostgreSQL (feature `sql-record`):
//! the part of an [`InboxStore`](crate::inbox::InboxStore) that every request writes to.
//!
//! [`SqlRecord::record`] is called once per accepted activity and must be durable before the
//! inbox answers `202`: done as one `INSERT` per request through a pool, it cost more than the
//! rest of the pipeline together (a transaction each, a round trip to sqlx's SQLite thread
//! for the statement and one for the pool's test of the connection given back, a WAL commit;
//! see `docs/federation.md`). Here:
//!
//! - **Group commit.** Records that arrive while another is being written are written
//!   together, in one transaction ([`federation_queue::commit::GroupCommit`], as the queue
//!   writes its enqueues). A lone record is written at once: no timer, no added wait. One that
//!   arrives during a write waits for that one transaction, then goes in the next: the longest
//!   a record waits is the transaction under way plus its own. Each caller's future resolves
//!   only once the transaction holding its id has committed; if that transaction fails, every
//!   caller in it gets the error. The writer is a task of its own, started by the first caller
//!   of a group: the records of the tasks that are ready on the runtime meanwhile join it.
//! - **Exact duplicates.** Of two records of one id, concurrent or not, in one group or not,
//!   exactly one gets `true`: within a group the first caller in line gets the row; across
//!   groups, processes and servers the table's primary key decides (`INSERT ... ON CONFLICT
//!   DO NOTHING`, one statement per id whose count of rows changed says whether it was new:
//!   no lookup before the insert).
//! - **SQLite**: one connection held outside any pool, and outside sqlx, writes (through
//!   `rusqlite`, on the same bundled SQLite). sqlx drives each SQLite connection from a thread
//!   of its own, so each query costs a hand-off to that thread and one back; those two thread
//!   wake-ups were most of what a record cost (25–30 µs, against a few µs for SQLite's own
//!   insert and WAL commit). Here the writer task runs the statements itself, on its own
//!   thread, with a prepared statement kept: with `synchronous=NORMAL` a commit in WAL mode is
//!   a write into the WAL file, no fsync, short enough to run on the runtime. Whatever could
//!   block goes to tokio's blocking threads instead: a write that finds SQLite's write lock
//!   held by another connection (the app's pool: it then waits up to the busy timeout there),
//!   every write with `synchronous=FULL` (an fsync each), `forget`, opening and closing.
//!   Another connection (sqlx's) checkpoints the WAL beside it
//!   ([`federation_queue::commit::WalCheckpoints`]).
//! - **PostgreSQL**: a group is one statement (its own transaction, durable when it answers
//!   under PostgreSQL's default `synchronous_commit`), through a pool of two connections of its
//!   own.
//!
//! On SQLite the commits are `synchronous=NORMAL` by default ([`SqlRecordOptions`] says what
//! that keeps), in WAL mode (set at opening).
//!
//! The table is the caller's (created by its migrations): `id TEXT PRIMARY KEY` and
//! `at BIGINT NOT NULL`, the time of the record in whatever unit the caller keeps (instance-state:
//! Unix microseconds; the records of one transaction get the latest of their times). On SQLite,
//! make it `WITHOUT ROWID`: keyed by the id alone, a record changes one B-tree instead of two
//! (the rows and the primary key's index), one page less to write into the WAL at each commit
//! (instance-state's `st_processed` is; its median record fell from 12 to 8 µs in
//! `benches/inbox.rs`).

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Duration;

use federation_queue::commit::{AUTOCHECKPOINT_PAGES, GroupCommit, WalCheckpoints};
use rusqlite::{ErrorCode, OpenFlags, TransactionBehavior};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions as _};

/// The most ids one transaction writes; a larger group is written in several, one after
/// another (each caller still resolves once its own id is durable).
pub const MAX_GROUP: usize = 1000;

/// An error of the record.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The table name is not a plain SQL identifier.
    #[error(
        "{0:?} is not a plain table name (ASCII letters, digits, `_`, not starting with a digit)"
    )]
    TableName(String),
    /// The database failed; when the transaction held other callers' ids, they got the same
    /// error.
    #[error("the idempotency record failed: {doing}")]
    Database {
        /// What was being done.
        doing: &'static str,
        /// The database's error (sqlx's on PostgreSQL, SQLite's own on SQLite).
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The database answered something this cannot read.
    #[error("the idempotency record failed: {0}")]
    Decode(String),
    /// The write of this record's group ended without an answer (the runtime shutting down).
    #[error("the idempotency record's write ended without an answer")]
    Abandoned,
    /// The record was closed.
    #[error("the idempotency record is closed")]
    Closed,
}

fn db<E: std::error::Error + Send + Sync + 'static>(
    doing: &'static str,
) -> impl FnOnce(E) -> RecordError {
    move |source| RecordError::Database {
        doing,
        source: Arc::new(source),
    }
}

/// How to open a [`SqlRecord`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqlRecordOptions {
    /// SQLite only: `synchronous=FULL` instead of `NORMAL` (the default, as for
    /// `federation-queue`'s store). In WAL mode `NORMAL` loses no commit when the process
    /// dies (a record acknowledged is in the WAL file, which the next opening reads), but
    /// writes to disk (fsync) only at checkpoints, so a power cut or an operating-system crash
    /// may lose the last records: those activities, sent again, are processed again. `FULL`
    /// also keeps them through a power cut, at the cost of an fsync of the WAL per
    /// transaction (0.5 ms to several ms on the VM of `docs/federation.md`).
    pub synchronous_full: bool,
    /// SQLite only: how long a write waits for SQLite's write lock held by another
    /// connection (the app's pool). Default: 10 s.
    pub busy_timeout: Duration,
}

impl Default for SqlRecordOptions {
    fn default() -> Self {
        Self {
            synchronous_full: false,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

impl SqlRecordOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`SqlRecordOptions::synchronous_full`].
    pub fn with_synchronous_full(mut self, full: bool) -> Self {
        self.synchronous_full = full;
        self
    }
}

/// The durable idempotency record (see the [module](self)). Cheap to clone (the clones share
/// the connections and the waiting group).
#[derive(Clone)]
pub struct SqlRecord {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqlRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlRecord")
            .field(
                "backend",
                &match self.inner.backend {
                    Backend::Sqlite { .. } => "sqlite",
                    Backend::Postgres { .. } => "postgres",
                },
            )
            .field("group", &self.inner.group)
            .finish()
    }
}

/// A record waiting to be written: the id and its time.
type Item = (String, i64);

/// What a caller gets back: whether its id is new.
type Reply = Result<bool, RecordError>;

struct Inner {
    backend: Backend,
    /// Transactions committed (see [`SqlRecord::transactions`]).
    transactions: AtomicU64,
    group: GroupCommit<Item, Reply>,
}

enum Backend {
    Sqlite {
        writer: Arc<SqliteWriter>,
        checkpoints: WalCheckpoints,
    },
    Postgres {
        pool: PgPool,
        /// The statements, for the table named at opening.
        record_sql: Arc<str>,
        forget_sql: Arc<str>,
    },
}

/// The SQLite writer: one connection, held outside any pool and outside sqlx. sqlx runs each
/// SQLite connection on a thread of its own, so every statement is a hand-off to that thread
/// and one back (two thread wake-ups, on a busy machine the larger part of a record's cost);
/// this one runs its statements on the thread of the task that writes, which SQLite's
/// `synchronous=NORMAL` commit in WAL mode (a write into the WAL file, no fsync) does not block
/// for long. What may block (waiting for another connection's write lock, an fsync with
/// `synchronous=FULL`) runs on tokio's blocking threads instead (see [`SqliteWriter::insert`]).
struct SqliteWriter {
    /// `None` once closed. Only code that does not await holds the lock: the writing task
    /// (which only tries it) and the blocking threads.
    conn: Mutex<Option<rusqlite::Connection>>,
    /// `synchronous=FULL`: every commit waits for an fsync, so it runs on a blocking thread.
    full: bool,
    /// How long a write on a blocking thread waits for the write lock held by another
    /// connection.
    busy_timeout: Duration,
    /// `INSERT ... ON CONFLICT DO NOTHING` of one id: one row changed if it is new.
    record_sql: String,
    forget_sql: String,
}

/// Why a write was not done on the writing task's thread.
enum NotNow {
    /// Another connection holds SQLite's write lock (or a blocking thread holds the writer):
    /// the write must wait, which it does on a blocking thread.
    Busy,
    /// The write failed.
    Failed(RecordError),
}

impl SqliteWriter {
    /// Inserts `ids` (distinct) at `at` in one transaction, on this thread, without waiting
    /// for any lock; the ids that were new.
    fn try_insert(&self, ids: &[&str], at: i64) -> Result<HashSet<String>, NotNow> {
        let mut conn = match self.conn.try_lock() {
            Ok(conn) => conn,
            Err(TryLockError::WouldBlock) => return Err(NotNow::Busy),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        };
        let conn = conn.as_mut().ok_or(NotNow::Failed(RecordError::Closed))?;
        // No wait for another connection's write lock: `SQLITE_BUSY` at once.
        conn.busy_timeout(Duration::ZERO)
            .map_err(|e| NotNow::Failed(db("setting the busy timeout")(e)))?;
        insert(conn, &self.record_sql, ids, at).map_err(|error| {
            if error.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) {
                NotNow::Busy
            } else {
                NotNow::Failed(db("recording activities")(error))
            }
        })
    }

    /// [`SqliteWriter::try_insert`], waiting up to the busy timeout for the write lock: for a
    /// blocking thread.
    fn insert_waiting(&self, ids: &[&str], at: i64) -> Result<HashSet<String>, RecordError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let conn = conn.as_mut().ok_or(RecordError::Closed)?;
        conn.busy_timeout(self.busy_timeout)
            .map_err(db("setting the busy timeout"))?;
        insert(conn, &self.record_sql, ids, at).map_err(db("recording activities"))
    }

    /// Deletes `id`: for a blocking thread.
    fn forget(&self, id: &str) -> Result<(), RecordError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let conn = conn.as_mut().ok_or(RecordError::Closed)?;
        conn.busy_timeout(self.busy_timeout)
            .map_err(db("setting the busy timeout"))?;
        conn.prepare_cached(&self.forget_sql)
            .and_then(|mut statement| statement.execute([id]))
            .map_err(db("forgetting an activity"))?;
        Ok(())
    }
}

/// Inserts `ids` (distinct) at `at` in one transaction; the ids that were new. On an error the
/// transaction is rolled back: nothing of it stays.
fn insert(
    conn: &mut rusqlite::Connection,
    sql: &str,
    ids: &[&str],
    at: i64,
) -> Result<HashSet<String>, rusqlite::Error> {
    let mut new = HashSet::with_capacity(ids.len());
    if let [id] = ids {
        // One statement is its own transaction: no `BEGIN` and `COMMIT` to run.
        if conn.prepare_cached(sql)?.execute((id, at))? == 1 {
            new.insert((*id).to_owned());
        }
        return Ok(new);
    }
    // `IMMEDIATE`: the write lock at once, so that a busy database is found before any row is
    // written. Dropped without its commit, the transaction rolls back.
    let transaction = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut statement = transaction.prepare_cached(sql)?;
        for id in ids {
            if statement.execute((id, at))? == 1 {
                new.insert((*id).to_owned());
            }
        }
    }
    transaction.commit()?;
    Ok(new)
}

/// Runs `work` on tokio's blocking threads (on this thread when there is no runtime).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RecordError> + Send + 'static,
) -> Result<T, RecordError> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(work)
            .await
            .unwrap_or(Err(RecordError::Abandoned)),
        Err(_) => work(),
    }
}

/// Whether `table` is a plain identifier, safe to put in a statement.
fn plain_identifier(table: &str) -> bool {
    let mut chars = table.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && table.len() <= 63
}

/// The longest busy timeout SQLite takes (milliseconds in an `int`), rounded down to a day.
const MAX_BUSY_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

impl SqlRecord {
    /// Opens the record in `table` of the database at `location`: a `postgres://` or
    /// `postgresql://` URL, else a SQLite file path (created if missing, put in WAL mode). The
    /// table must exist (see the [module](self)).
    pub async fn open(
        location: &str,
        table: &str,
        options: SqlRecordOptions,
    ) -> Result<Self, RecordError> {
        if !plain_identifier(table) {
            return Err(RecordError::TableName(table.to_owned()));
        }
        let postgres = location.starts_with("postgres://") || location.starts_with("postgresql://");
        let backend = if postgres {
            let connect = PgConnectOptions::from_str(location).map_err(db("reading the URL"))?;
            // One group is written at a time; the second connection serves `forget`.
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .connect_with(connect)
                .await
                .map_err(db("connecting to the database"))?;
            // One statement, so its own transaction, durable once it answers (PostgreSQL's
            // `synchronous_commit`): the ids new to the table, as one JSON array.
            let record_sql = format!(
                "WITH ins AS (INSERT INTO {table} (id, at) \
                 SELECT id, $2 FROM json_array_elements_text($1::json) AS id \
                 ON CONFLICT (id) DO NOTHING RETURNING id) \
                 SELECT COALESCE(json_agg(id), '[]'::json)::text FROM ins"
            );
            Backend::Postgres {
                pool,
                record_sql: record_sql.into(),
                forget_sql: format!("DELETE FROM {table} WHERE id = $1").into(),
            }
        } else {
            let synchronous = if options.synchronous_full {
                "FULL"
            } else {
                "NORMAL"
            };
            let path = location.to_owned();
            let conn = blocking(move || {
                let conn = rusqlite::Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE
                        | OpenFlags::SQLITE_OPEN_CREATE
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(db("opening the database"))?;
                let mode: String = conn
                    .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                    .map_err(db("putting the database in WAL mode"))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    return Err(RecordError::Decode(format!(
                        "the database stayed in journal mode {mode:?}, not WAL"
                    )));
                }
                conn.pragma_update(None, "synchronous", synchronous)
                    .and_then(|()| {
                        // Checkpoints are the checkpointer's (see `federation_queue::commit`):
                        // a commit does one only if it falls far behind.
                        conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)
                    })
                    .map_err(db("configuring the database"))?;
                Ok(conn)
            })
            .await?;
            let checkpointer = SqliteConnectOptions::new()
                .filename(Path::new(location))
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(if options.synchronous_full {
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                })
                .connect()
                .await
                .map_err(db("opening the database for checkpoints"))?;
            Backend::Sqlite {
                writer: Arc::new(SqliteWriter {
                    conn: Mutex::new(Some(conn)),
                    full: options.synchronous_full,
                    busy_timeout: options.busy_timeout.min(MAX_BUSY_TIMEOUT),
                    // One row changed: the id is new (a conflict changes none).
                    record_sql: format!(
                        "INSERT INTO {table} (id, at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING"
                    ),
                    forget_sql: format!("DELETE FROM {table} WHERE id = ?1"),
                }),
                checkpoints: WalCheckpoints::spawn(checkpointer),
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                transactions: AtomicU64::new(0),
                group: GroupCommit::new(),
            }),
        })
    }

    /// Records `id` at `at`: `Ok(true)` if it is new, `Ok(false)` if it was recorded before
    /// (of concurrent records of one id, exactly one gets `true`). Resolves once the id is
    /// durable. Written together with the records that arrive meanwhile (see the
    /// [module](self)); the write does not depend on this future, so if it is dropped before
    /// it resolves, the id may still be recorded.
    pub async fn record(&self, id: &str, at: i64) -> Result<bool, RecordError> {
        let (reply, start) = self.inner.group.join((id.to_owned(), at));
        if start {
            let inner = Arc::clone(&self.inner);
            let write = async move { inner.write_groups().await };
            match tokio::runtime::Handle::try_current() {
                // A task of its own: a caller that stops waiting does not stop the write. It
                // runs once this task yields, so the records of the tasks ready meanwhile on
                // this thread join the group.
                Ok(runtime) => drop(runtime.spawn(write)),
                Err(_) => write.await,
            }
        }
        reply.await.unwrap_or(Err(RecordError::Abandoned))
    }

    /// Forgets `id` (its processing failed, so a retry must be processed). Durable when it
    /// returns.
    pub async fn forget(&self, id: &str) -> Result<(), RecordError> {
        match &self.inner.backend {
            Backend::Sqlite {
                writer,
                checkpoints,
            } => {
                checkpoints.wrote();
                let writer = Arc::clone(writer);
                let id = id.to_owned();
                blocking(move || writer.forget(&id)).await?;
            }
            Backend::Postgres {
                pool, forget_sql, ..
            } => {
                sqlx::query(AssertSqlSafe(Arc::clone(forget_sql)))
                    .bind(id)
                    .execute(pool)
                    .await
                    .map_err(db("forgetting an activity"))?;
            }
        }
        Ok(())
    }

    /// How many transactions of records were committed so far (each holds one or more
    /// records: fewer transactions than records is group commit at work).
    pub fn transactions(&self) -> u64 {
        self.inner.transactions.load(Ordering::Relaxed)
    }

    /// Closes the connections; records after this fail with [`RecordError::Closed`].
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Sqlite {
                writer,
                checkpoints,
            } => {
                checkpoints.close();
                let writer = Arc::clone(writer);
                // Waits for a write under way on a blocking thread; closing is SQLite's
                // `sqlite3_close` when the connection drops.
                let _ = blocking(move || {
                    drop(
                        writer
                            .conn
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .take(),
                    );
                    Ok(())
                })
                .await;
            }
            Backend::Postgres { pool, .. } => pool.close().await,
        }
    }
}

impl Inner {
    /// Writes the waiting records, group by group, until none is waiting.
    async fn write_groups(&self) {
        let mut writer = self.group.writer();
        while let Some(group) = writer.next_group() {
            let (items, replies) = group.into_parts();
            // Chunks of at most `MAX_GROUP`, a transaction each; each caller is answered as
            // soon as its own is durable.
            let mut replies = replies.into_iter();
            for items in items.chunks(MAX_GROUP) {
                let answers = self.write(items).await;
                // The answers first: `zip` stops at the shorter without taking a reply more.
                for (answer, reply) in answers.into_iter().zip(replies.by_ref()) {
                    reply.send(answer);
                }
            }
        }
    }

    /// Writes `items` in one transaction; the answer of each, in order.
    async fn write(&self, items: &[Item]) -> Vec<Reply> {
        // Each id once; the group's time is the latest of its records'.
        let mut distinct: Vec<&str> = Vec::with_capacity(items.len());
        let mut seen = HashSet::with_capacity(items.len());
        let mut at = i64::MIN;
        for (id, time) in items {
            at = at.max(*time);
            if seen.insert(id.as_str()) {
                distinct.push(id.as_str());
            }
        }
        match self.insert(&distinct, at).await {
            // The first caller of an id new to the table gets `true`; any other caller of it
            // in this group, `false`.
            Ok(mut new) => {
                self.transactions.fetch_add(1, Ordering::Relaxed);
                items.iter().map(|(id, _)| Ok(new.remove(id))).collect()
            }
            Err(error) => vec![Err(error); items.len()],
        }
    }

    /// Inserts `ids` (distinct) at `at` in one transaction; the ids that were new.
    async fn insert(&self, ids: &[&str], at: i64) -> Result<HashSet<String>, RecordError> {
        match &self.backend {
            Backend::Sqlite {
                writer,
                checkpoints,
            } => {
                checkpoints.wrote();
                // With `synchronous=NORMAL`, on this thread unless it would wait; a commit
                // that waits for an fsync (`FULL`) or for the write lock, on a blocking
                // thread.
                if !writer.full {
                    match writer.try_insert(ids, at) {
                        Ok(new) => return Ok(new),
                        Err(NotNow::Failed(error)) => return Err(error),
                        Err(NotNow::Busy) => {}
                    }
                }
                let writer = Arc::clone(writer);
                let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
                blocking(move || {
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    writer.insert_waiting(&ids, at)
                })
                .await
            }
            Backend::Postgres {
                pool, record_sql, ..
            } => {
                let json =
                    serde_json::to_string(ids).map_err(|e| RecordError::Decode(e.to_string()))?;
                let text: String = sqlx::query_scalar(AssertSqlSafe(Arc::clone(record_sql)))
                    .bind(&json)
                    .bind(at)
                    .fetch_one(pool)
                    .await
                    .map_err(db("recording activities"))?;
                serde_json::from_str(&text)
                    .map_err(|e| RecordError::Decode(format!("ids the database listed: {e}")))
            }
        }
    }
}
