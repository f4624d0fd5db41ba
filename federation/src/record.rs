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
//!   caller in it gets the error.
//! - **Exact duplicates.** Of two records of one id, concurrent or not, in one group or not,
//!   exactly one gets `true`: within a group the first caller in line gets the row; across
//!   groups, processes and servers the table's primary key decides (on SQLite under the
//!   database's write lock, on PostgreSQL by `ON CONFLICT`).
//! - **SQLite**: one connection held outside any pool writes; a group is one query from
//!   `BEGIN IMMEDIATE` to `COMMIT` (two hand-offs to sqlx's SQLite thread), and another
//!   connection checkpoints the WAL beside it
//!   ([`federation_queue::commit::WalCheckpoints`]). The database may have other writers (the
//!   app's pool): they take SQLite's write lock in turn, waiting up to the busy timeout.
//! - **PostgreSQL**: a group is one statement (its own transaction, durable when it answers
//!   under PostgreSQL's default `synchronous_commit`), through a pool of two connections of its
//!   own.
//!
//! On SQLite the commits are `synchronous=NORMAL` by default ([`SqlRecordOptions`] says what
//! that keeps).
//!
//! The table is the caller's (created by its migrations): `id TEXT PRIMARY KEY` and
//! `at BIGINT NOT NULL`, the time of the record in whatever unit the caller keeps (instance-state:
//! Unix microseconds; the records of one transaction get the latest of their times).

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use federation_queue::commit::{AUTOCHECKPOINT_PAGES, GroupCommit, WalCheckpoints};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _};
use tokio::sync::Mutex;

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
        /// The database's error.
        #[source]
        source: Arc<sqlx::Error>,
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

fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> RecordError {
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
    /// The statements, for the table named at opening.
    record_sql: Arc<str>,
    forget_sql: Arc<str>,
}

enum Backend {
    Sqlite {
        /// The writer, held outside any pool (a pool tests each connection given back with a
        /// round trip of its own to sqlx's SQLite thread). `None` once closed.
        writer: Mutex<Writer>,
        checkpoints: WalCheckpoints,
    },
    Postgres {
        pool: PgPool,
    },
}

struct Writer {
    conn: Option<SqliteConnection>,
    /// A transaction begun by a query of its own may have been left open (an error after its
    /// `BEGIN`): roll it back before anything else.
    open_transaction: bool,
}

impl Writer {
    fn conn(&mut self) -> Result<&mut SqliteConnection, RecordError> {
        self.conn.as_mut().ok_or(RecordError::Closed)
    }

    async fn roll_back_if_open(&mut self) {
        if self.open_transaction {
            if let Some(conn) = self.conn.as_mut() {
                // "No transaction is active" is what this expects when the error came before
                // the `BEGIN` took effect.
                if let Err(error) = sqlx::query("ROLLBACK").execute(conn).await {
                    tracing::debug!(%error, "rolling back a transaction that may have been left open");
                }
            }
            self.open_transaction = false;
        }
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
        let (backend, record_sql) = if postgres {
            let connect = PgConnectOptions::from_str(location).map_err(db("reading the URL"))?;
            // One group is written at a time; the second connection serves `forget`.
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .connect_with(connect)
                .await
                .map_err(db("connecting to the database"))?;
            // One statement, so its own transaction, durable once it answers (PostgreSQL's
            // `synchronous_commit`): the ids new to the table, as one JSON array.
            let sql = format!(
                "WITH ins AS (INSERT INTO {table} (id, at) \
                 SELECT id, $2 FROM json_array_elements_text($1::json) AS id \
                 ON CONFLICT (id) DO NOTHING RETURNING id) \
                 SELECT COALESCE(json_agg(id), '[]'::json)::text FROM ins"
            );
            (Backend::Postgres { pool }, sql)
        } else {
            let connect = SqliteConnectOptions::new()
                .filename(Path::new(location))
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(if options.synchronous_full {
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                })
                .busy_timeout(options.busy_timeout)
                // Checkpoints are the checkpointer's (see `federation_queue::commit`): a
                // commit does one only if it falls far behind.
                .pragma("wal_autocheckpoint", AUTOCHECKPOINT_PAGES);
            let conn = connect
                .connect()
                .await
                .map_err(db("opening the database"))?;
            let checkpointer = connect
                .connect()
                .await
                .map_err(db("opening the database for checkpoints"))?;
            // One query from `BEGIN` to `COMMIT` (one hand-off to sqlx's SQLite thread and one
            // back): the ids of the group already there (read under the write lock, so exact),
            // as one JSON array, then the new rows. `?1`: the ids (distinct), a JSON array of
            // strings (`json_each` gives each as SQL text, parsed once); `?2`: the time.
            let sql = format!(
                "BEGIN IMMEDIATE; \
                 SELECT json_group_array(id) FROM {table} \
                 WHERE id IN (SELECT value FROM json_each(?1)); \
                 INSERT INTO {table} (id, at) SELECT value, ?2 FROM json_each(?1) \
                 WHERE true ON CONFLICT (id) DO NOTHING; \
                 COMMIT"
            );
            (
                Backend::Sqlite {
                    writer: Mutex::new(Writer {
                        conn: Some(conn),
                        open_transaction: false,
                    }),
                    checkpoints: WalCheckpoints::spawn(checkpointer),
                },
                sql,
            )
        };
        let placeholder = if postgres { "$1" } else { "?1" };
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                transactions: AtomicU64::new(0),
                group: GroupCommit::new(),
                record_sql: record_sql.into(),
                forget_sql: format!("DELETE FROM {table} WHERE id = {placeholder}").into(),
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
                // A task of its own: a caller that stops waiting does not stop the write.
                Ok(runtime) => drop(runtime.spawn(write)),
                Err(_) => write.await,
            }
        }
        reply.await.unwrap_or(Err(RecordError::Abandoned))
    }

    /// Forgets `id` (its processing failed, so a retry must be processed). Durable when it
    /// returns.
    pub async fn forget(&self, id: &str) -> Result<(), RecordError> {
        let sql = AssertSqlSafe(Arc::clone(&self.inner.forget_sql));
        match &self.inner.backend {
            Backend::Sqlite {
                writer,
                checkpoints,
            } => {
                checkpoints.wrote();
                let mut writer = writer.lock().await;
                writer.roll_back_if_open().await;
                sqlx::query(sql)
                    .bind(id)
                    .execute(writer.conn()?)
                    .await
                    .map_err(db("forgetting an activity"))?;
            }
            Backend::Postgres { pool } => {
                sqlx::query(sql)
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
                if let Some(conn) = writer.lock().await.conn.take() {
                    let _ = conn.close().await;
                }
            }
            Backend::Postgres { pool } => pool.close().await,
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
        // Each id once (with its first caller's time).
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
        let json = serde_json::to_string(ids).map_err(|e| RecordError::Decode(e.to_string()))?;
        let sql = AssertSqlSafe(Arc::clone(&self.record_sql));
        match &self.backend {
            Backend::Sqlite {
                writer,
                checkpoints,
            } => {
                checkpoints.wrote();
                let mut writer = writer.lock().await;
                writer.roll_back_if_open().await;
                // Until the query has answered, its transaction may be open.
                writer.open_transaction = true;
                let texts: Vec<String> = match sqlx::query_scalar(sql)
                    .bind(&json)
                    .bind(at)
                    .fetch_all(writer.conn()?)
                    .await
                {
                    Ok(texts) => {
                        writer.open_transaction = false;
                        texts
                    }
                    Err(error) => {
                        writer.roll_back_if_open().await;
                        return Err(db("recording activities")(error));
                    }
                };
                let known: HashSet<String> = decode(texts.last())?;
                Ok(ids
                    .iter()
                    .filter(|id| !known.contains(**id))
                    .map(|id| (*id).to_owned())
                    .collect())
            }
            Backend::Postgres { pool } => {
                let text: String = sqlx::query_scalar(sql)
                    .bind(&json)
                    .bind(at)
                    .fetch_one(pool)
                    .await
                    .map_err(db("recording activities"))?;
                decode(Some(&text))
            }
        }
    }
}

/// The ids of a JSON array the database built.
fn decode(text: Option<&String>) -> Result<HashSet<String>, RecordError> {
    let text = text.ok_or_else(|| RecordError::Decode("no answer to the record".to_owned()))?;
    serde_json::from_str(text)
        .map_err(|e| RecordError::Decode(format!("ids the database listed: {e}")))
}
