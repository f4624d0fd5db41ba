//! The embedded default: SQLite in WAL mode, one writer connection, batched commits.
//!
//! Every write (enqueue, claim, complete) goes through a single connection, in one
//! transaction per call; the worker batches claims and completions, so a commit covers many
//! deliveries. Reads for listings go through a separate pool, which WAL lets run beside the
//! writer. A database file belongs to one process at a time: on opening, claims left by a
//! previous process (killed mid-flight) are made due again at once rather than after their
//! lease.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::sql::{host_from_columns, migrator, opt_ms, u32_column};
use super::{
    Candidate, Store, StoreError, apply_host_events, new_token, plan_claim, released_block,
};
use crate::breaker::BreakerPolicy;
use crate::clock::{duration_ms, from_ms, to_ms};
use crate::model::{
    ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeadReason, DeliveryId, HostChange,
    HostState, NewActivity, Outcome, QueueCounts, Requeue,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "queue",
    include_str!("../../migrations/sqlite/0001_queue.sql"),
)];

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
    writer: SqlitePool,
    reader: SqlitePool,
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
            .busy_timeout(options.busy_timeout);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await
            .map_err(StoreError::db("opening the database"))?;
        migrator(MIGRATIONS).run(&writer).await?;
        // Claims of a previous process are presumed dead: due again now (first in line).
        sqlx::query("UPDATE fq_deliveries SET state = 0, due_at = 0 WHERE state = 1")
            .execute(&writer)
            .await
            .map_err(StoreError::db("releasing the claims of a previous process"))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .connect_with(connect.read_only(true))
            .await
            .map_err(StoreError::db("opening the database for reading"))?;
        Ok(Self { writer, reader })
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

fn push_in<'a>(builder: &mut QueryBuilder<Sqlite>, values: impl IntoIterator<Item = &'a str>) {
    builder.push(" (");
    let mut separated = builder.separated(", ");
    for value in values {
        separated.push_bind(value);
    }
    separated.push_unseparated(")");
}

async fn load_hosts(
    tx: &mut Transaction<'_, Sqlite>,
    hosts: &[&str],
) -> Result<HashMap<String, HostState>, StoreError> {
    let mut states = HashMap::new();
    if hosts.is_empty() {
        return Ok(states);
    }
    let mut builder = QueryBuilder::new(
        "SELECT host, breaker, unavailable, consecutive_failures, failing_since, blocked_until, \
         last_answer FROM fq_hosts WHERE host IN",
    );
    push_in(&mut builder, hosts.iter().copied());
    let rows = builder
        .build()
        .fetch_all(&mut **tx)
        .await
        .map_err(StoreError::db("reading host states"))?;
    for row in rows {
        let state = host_row(&row)?;
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

async fn save_host(tx: &mut Transaction<'_, Sqlite>, state: &HostState) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE fq_hosts SET breaker = ?, unavailable = ?, consecutive_failures = ?, \
         failing_since = ?, blocked_until = ?, last_answer = ? WHERE host = ?",
    )
    .bind(i64::from(state.breaker.code()))
    .bind(i64::from(state.unavailable))
    .bind(i64::from(state.consecutive_failures))
    .bind(opt_ms(state.failing_since))
    .bind(opt_ms(state.blocked_until))
    .bind(opt_ms(state.last_answer))
    .bind(&state.host)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("saving a host state"))?;
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
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(StoreError::db("starting an enqueue"))?;
        let mut ids = Vec::new();
        let mut hosts: HashSet<&str> = HashSet::new();
        for activity in activities {
            if activity.deliveries.is_empty() {
                continue;
            }
            let activity_id: i64 = sqlx::query_scalar(
                "INSERT INTO fq_activities (body, key_ref, ordering_key, created_at) \
                 VALUES (?, ?, ?, ?) RETURNING id",
            )
            .bind(activity.body.as_ref())
            .bind(&activity.key_ref)
            .bind(&activity.ordering_key)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db("storing an activity"))?;
            for delivery in &activity.deliveries {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO fq_deliveries (activity_id, inbox, host, ordering_key, due_at, \
                     enqueued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) RETURNING id",
                )
                .bind(activity_id)
                .bind(&delivery.inbox)
                .bind(&delivery.host)
                .bind(&activity.ordering_key)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::db("storing a delivery"))?;
                ids.push(DeliveryId(id));
                if hosts.insert(&delivery.host) {
                    sqlx::query("INSERT INTO fq_hosts (host) VALUES (?) ON CONFLICT DO NOTHING")
                        .bind(&delivery.host)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::db("registering a host"))?;
                }
            }
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
        let now = to_ms(request.now);
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(StoreError::db("starting a claim"))?;
        // Scan past the limit so that hosts at their cap or blocked do not starve the rest.
        let scan = i64::try_from(request.limit.saturating_mul(4).max(64)).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT d.id, d.host FROM fq_deliveries d \
             WHERE d.state < 2 AND d.due_at <= ?1 \
             AND (d.ordering_key IS NULL OR NOT EXISTS ( \
                 SELECT 1 FROM fq_deliveries e WHERE e.host = d.host \
                 AND e.ordering_key = d.ordering_key AND e.state < 2 AND e.id < d.id)) \
             ORDER BY d.due_at, d.id LIMIT ?2",
        )
        .bind(now)
        .bind(scan)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("finding due deliveries"))?;
        let mut candidates = Vec::with_capacity(rows.len());
        for row in rows {
            candidates.push(Candidate {
                id: DeliveryId(row.try_get("id").map_err(StoreError::db("decoding"))?),
                host: row.try_get("host").map_err(StoreError::db("decoding"))?,
            });
        }
        if candidates.is_empty() {
            tx.rollback()
                .await
                .map_err(StoreError::db("ending a claim"))?;
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
        let hosts = load_hosts(&mut tx, &host_names).await?;
        let mut builder = QueryBuilder::new(
            "SELECT host, COUNT(*) AS n FROM fq_deliveries WHERE state = 1 AND due_at > ",
        );
        builder.push_bind(now).push(" AND host IN");
        push_in(&mut builder, host_names.iter().copied());
        builder.push(" GROUP BY host");
        let mut in_flight = HashMap::new();
        for row in builder
            .build()
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db("counting claims per host"))?
        {
            let host: String = row.try_get("host").map_err(StoreError::db("decoding"))?;
            let n: i64 = row.try_get("n").map_err(StoreError::db("decoding"))?;
            in_flight.insert(host, u64::try_from(n).unwrap_or(0));
        }
        let plan = plan_claim(&candidates, &hosts, &in_flight, request);
        for state in &plan.host_updates {
            save_host(&mut tx, state).await?;
        }
        for (host, until) in &plan.pushes {
            sqlx::query(
                "UPDATE fq_deliveries SET state = 0, due_at = ?1 WHERE host = ?2 \
                 AND ((state = 0 AND due_at < ?1) OR (state = 1 AND due_at <= ?3))",
            )
            .bind(to_ms(*until))
            .bind(host)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("deferring deliveries of a blocked host"))?;
        }
        let lease_end = now.saturating_add(duration_ms(request.lease));
        let mut claimed = Vec::with_capacity(plan.chosen.len());
        let mut activity_of = Vec::with_capacity(plan.chosen.len());
        for (id, probe) in &plan.chosen {
            let token = new_token();
            let row = sqlx::query(
                "UPDATE fq_deliveries SET state = 1, due_at = ?, attempts = attempts + 1, \
                 token = ? WHERE id = ? \
                 RETURNING activity_id, inbox, host, attempts, enqueued_at",
            )
            .bind(lease_end)
            .bind(token)
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db("claiming a delivery"))?;
            let get = |e| StoreError::db("decoding a claim")(e);
            activity_of.push(row.try_get::<i64, _>("activity_id").map_err(get)?);
            claimed.push(ClaimedDelivery {
                id: *id,
                token,
                inbox: row.try_get("inbox").map_err(get)?,
                host: row.try_get("host").map_err(get)?,
                key_ref: String::new(),
                body: Bytes::new(),
                attempts: u32_column("attempts", row.try_get("attempts").map_err(get)?)?,
                enqueued_at: from_ms(row.try_get("enqueued_at").map_err(get)?),
                probe: *probe,
            });
        }
        let mut bodies: HashMap<i64, (Bytes, String)> = HashMap::new();
        let mut wanted: Vec<i64> = activity_of.clone();
        wanted.sort_unstable();
        wanted.dedup();
        for chunk in wanted.chunks(500) {
            let mut builder =
                QueryBuilder::new("SELECT id, body, key_ref FROM fq_activities WHERE id IN (");
            let mut separated = builder.separated(", ");
            for id in chunk {
                separated.push_bind(*id);
            }
            separated.push_unseparated(")");
            for row in builder
                .build()
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::db("reading activities"))?
            {
                let get = |e| StoreError::db("decoding an activity")(e);
                let body: Vec<u8> = row.try_get("body").map_err(get)?;
                bodies.insert(
                    row.try_get("id").map_err(get)?,
                    (Bytes::from(body), row.try_get("key_ref").map_err(get)?),
                );
            }
        }
        tx.commit()
            .await
            .map_err(StoreError::db("committing a claim"))?;
        for (claim, activity) in claimed.iter_mut().zip(activity_of) {
            if let Some((body, key_ref)) = bodies.get(&activity) {
                claim.body = body.clone();
                claim.key_ref = key_ref.clone();
            }
        }
        Ok(claimed)
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
        let now_ms = to_ms(now);
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(StoreError::db("starting a completion"))?;
        let mut by_host: BTreeMap<&str, Vec<&Completion>> = BTreeMap::new();
        let mut finished_activities = Vec::new();
        for completion in completions {
            let (id, token) = (completion.id.0, completion.token);
            let current = match &completion.outcome {
                Outcome::Delivered | Outcome::Gone => {
                    let activity: Option<i64> = sqlx::query_scalar(
                        "DELETE FROM fq_deliveries WHERE id = ? AND token = ? AND state = 1 \
                         RETURNING activity_id",
                    )
                    .bind(id)
                    .bind(token)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::db("removing a delivered delivery"))?;
                    if let Some(activity) = activity {
                        finished_activities.push(activity);
                    }
                    activity.is_some()
                }
                Outcome::Retry { at, error } => {
                    sqlx::query(
                        "UPDATE fq_deliveries SET state = 0, due_at = ?, last_error = ? \
                         WHERE id = ? AND token = ? AND state = 1",
                    )
                    .bind(to_ms(*at))
                    .bind(error)
                    .bind(id)
                    .bind(token)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::db("scheduling a retry"))?
                    .rows_affected()
                        == 1
                }
                Outcome::Dead { reason, error } => {
                    sqlx::query(
                        "UPDATE fq_deliveries SET state = 2, dead_reason = ?, dead_status = ?, \
                         died_at = ?, last_error = ? WHERE id = ? AND token = ? AND state = 1",
                    )
                    .bind(reason.code())
                    .bind(reason.status().map(i64::from))
                    .bind(now_ms)
                    .bind(error)
                    .bind(id)
                    .bind(token)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::db("moving a delivery to the dead letters"))?
                    .rows_affected()
                        == 1
                }
                Outcome::Release { at } => {
                    sqlx::query(
                        "UPDATE fq_deliveries SET state = 0, due_at = ?, \
                         attempts = MAX(attempts - 1, 0) WHERE id = ? AND token = ? AND state = 1",
                    )
                    .bind(to_ms(*at))
                    .bind(id)
                    .bind(token)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::db("releasing a claim"))?
                    .rows_affected()
                        == 1
                }
            };
            if current {
                by_host
                    .entry(&completion.host)
                    .or_default()
                    .push(completion);
            }
        }
        finished_activities.sort_unstable();
        finished_activities.dedup();
        for activity in finished_activities {
            sqlx::query(
                "DELETE FROM fq_activities WHERE id = ?1 AND NOT EXISTS \
                 (SELECT 1 FROM fq_deliveries WHERE activity_id = ?1)",
            )
            .bind(activity)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("removing a finished activity"))?;
        }
        let names: Vec<&str> = by_host.keys().copied().collect();
        let mut hosts = load_hosts(&mut tx, &names).await?;
        let mut changes = Vec::new();
        for (host, completions) in by_host {
            let Some(state) = hosts.get_mut(host) else {
                continue;
            };
            let before = state.clone();
            if let Some(change) = apply_host_events(state, completions.into_iter(), policy, now) {
                changes.push(change);
            }
            if *state != before {
                save_host(&mut tx, state).await?;
            }
            if let Some(upto) = released_block(&before, state, now) {
                pull_forward(&mut tx, host, upto, now).await?;
            }
        }
        tx.commit()
            .await
            .map_err(StoreError::db("committing a completion"))?;
        Ok(changes)
    }

    async fn expire(&self, cutoff: SystemTime, now: SystemTime) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE fq_deliveries SET state = 2, dead_reason = 'expired', died_at = ?1 \
             WHERE enqueued_at < ?2 AND (state = 0 OR (state = 1 AND due_at <= ?1))",
        )
        .bind(to_ms(now))
        .bind(to_ms(cutoff))
        .execute(&self.writer)
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
        let result = builder
            .build()
            .execute(&self.writer)
            .await
            .map_err(StoreError::db("requeuing dead letters"))?;
        Ok(result.rows_affected())
    }

    async fn purge_dead(&self, cutoff: SystemTime) -> Result<u64, StoreError> {
        let mut tx = self
            .writer
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
        let mut tx = self
            .writer
            .begin()
            .await
            .map_err(StoreError::db("starting a host reset"))?;
        let hosts = load_hosts(&mut tx, &[host]).await?;
        let Some(before) = hosts.get(host) else {
            return Ok(false);
        };
        let mut after = HostState::new(host);
        after.last_answer = Some(now);
        save_host(&mut tx, &after).await?;
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
