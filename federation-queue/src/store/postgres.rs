//! PostgreSQL, for several workers on several machines.
//!
//! Claims lock due deliveries with `FOR UPDATE SKIP LOCKED` and their hosts' rows the same way,
//! so concurrent workers never wait on each other while claiming, never take the same
//! delivery, and keep per-host limits and breaker probes exact. A claim is a lease: if its
//! worker dies, the delivery is claimable again when the lease lapses. Completions lock host
//! rows in name order, so they cannot deadlock; a worker's refill records its completions and
//! claims in one transaction, whose claim part never waits.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, Executor, Postgres, Row, Transaction};

use super::sql::{activity_row, host_from_columns, migrator, opt_ms, u32_column};
use super::{
    Candidate, Store, StoreError, activities_of, assemble_claims, completed_hosts, new_token,
    plan_claim, plan_host_updates, released_block, with_deliveries,
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
    include_str!("../../migrations/postgres/0001_queue.sql"),
)];

/// How to connect a PostgreSQL store.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// The connection URL (`postgres://user:password@host:port/database`).
    pub url: String,
    /// The schema holding the queue's tables (created if missing); `None`: the default
    /// search path. Letters, digits and `_` only.
    pub schema: Option<String>,
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a connection.
    pub acquire_timeout: Duration,
}

impl PostgresOptions {
    /// Options for the database at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
        }
    }

    /// Sets [`PostgresOptions::schema`].
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Sets [`PostgresOptions::max_connections`].
    pub fn with_max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections.max(1);
        self
    }
}

/// The PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and creates or upgrades the schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(PostgresOptions::new(url)).await
    }

    /// Connects as `options` say and creates or upgrades the schema.
    pub async fn connect_with(options: PostgresOptions) -> Result<Self, StoreError> {
        let mut connect = PgConnectOptions::from_str(&options.url)
            .map_err(StoreError::db("reading the connection URL"))?;
        if let Some(schema) = &options.schema {
            let valid = !schema.is_empty()
                && schema.len() <= 63
                && schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !schema.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(StoreError::InvalidSchemaName {
                    name: schema.clone(),
                });
            }
            let mut connection = connect
                .connect()
                .await
                .map_err(StoreError::db("connecting"))?;
            // The name was checked above: an identifier, so it can be written in the statement.
            let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
            connection
                .execute(sqlx::AssertSqlSafe(create))
                .await
                .map_err(StoreError::db("creating the schema"))?;
            connection
                .close()
                .await
                .map_err(StoreError::db("disconnecting"))?;
            connect = connect.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(StoreError::db("connecting"))?;
        migrator(MIGRATIONS).run(&pool).await?;
        Ok(Self { pool })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn load_hosts(
    tx: &mut Transaction<'_, Postgres>,
    hosts: &[&str],
    skip_locked: bool,
) -> Result<HashMap<String, HostState>, StoreError> {
    let mut states = HashMap::new();
    if hosts.is_empty() {
        return Ok(states);
    }
    // Claims skip hosts another worker is claiming for; completions wait, in name order.
    let sql = if skip_locked {
        "SELECT host, breaker, unavailable, consecutive_failures, failing_since, blocked_until, \
         last_answer FROM fq_hosts WHERE host = ANY($1) ORDER BY host FOR UPDATE SKIP LOCKED"
    } else {
        "SELECT host, breaker, unavailable, consecutive_failures, failing_since, blocked_until, \
         last_answer FROM fq_hosts WHERE host = ANY($1) ORDER BY host FOR UPDATE"
    };
    let names: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
    let rows = sqlx::query(sql)
        .bind(names)
        .fetch_all(&mut **tx)
        .await
        .map_err(StoreError::db("reading host states"))?;
    for row in rows {
        let state = host_row(&row)?;
        states.insert(state.host.clone(), state);
    }
    Ok(states)
}

fn host_row(row: &PgRow) -> Result<HostState, StoreError> {
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

async fn save_host(
    tx: &mut Transaction<'_, Postgres>,
    state: &HostState,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE fq_hosts SET breaker = $1, unavailable = $2, consecutive_failures = $3, \
         failing_since = $4, blocked_until = $5, last_answer = $6 WHERE host = $7",
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

/// Saves many host states in one statement (rows already locked by the caller).
async fn save_hosts(
    tx: &mut Transaction<'_, Postgres>,
    states: &[HostState],
) -> Result<(), StoreError> {
    match states {
        [] => return Ok(()),
        [state] => return save_host(tx, state).await,
        _ => {}
    }
    let hosts: Vec<&str> = states.iter().map(|s| s.host.as_str()).collect();
    let breaker: Vec<i64> = states.iter().map(|s| i64::from(s.breaker.code())).collect();
    let unavailable: Vec<i64> = states.iter().map(|s| i64::from(s.unavailable)).collect();
    let failures: Vec<i64> = states
        .iter()
        .map(|s| i64::from(s.consecutive_failures))
        .collect();
    let failing_since: Vec<Option<i64>> = states.iter().map(|s| opt_ms(s.failing_since)).collect();
    let blocked_until: Vec<Option<i64>> = states.iter().map(|s| opt_ms(s.blocked_until)).collect();
    let last_answer: Vec<Option<i64>> = states.iter().map(|s| opt_ms(s.last_answer)).collect();
    sqlx::query(
        "UPDATE fq_hosts h SET breaker = t.breaker, unavailable = t.unavailable, \
         consecutive_failures = t.failures, failing_since = t.failing_since, \
         blocked_until = t.blocked_until, last_answer = t.last_answer \
         FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], \
         $6::bigint[], $7::bigint[]) \
         AS t(host, breaker, unavailable, failures, failing_since, blocked_until, last_answer) \
         WHERE h.host = t.host",
    )
    .bind(&hosts)
    .bind(&breaker)
    .bind(&unavailable)
    .bind(&failures)
    .bind(&failing_since)
    .bind(&blocked_until)
    .bind(&last_answer)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("saving host states"))?;
    Ok(())
}

/// Makes the deliveries a closed block had pushed due now (skipping rows a claim holds).
async fn pull_forward(
    tx: &mut Transaction<'_, Postgres>,
    host: &str,
    upto: SystemTime,
    now: SystemTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE fq_deliveries SET due_at = $1 WHERE id IN (SELECT id FROM fq_deliveries \
         WHERE host = $2 AND state = 0 AND due_at > $1 AND due_at <= $3 \
         FOR UPDATE SKIP LOCKED)",
    )
    .bind(to_ms(now))
    .bind(host)
    .bind(to_ms(upto))
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("releasing deliveries of a recovered host"))?;
    Ok(())
}

fn dead_letter(row: &PgRow) -> Result<DeadLetter, StoreError> {
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

impl Store for PostgresStore {
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
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::db("starting an enqueue"))?;
        // Three statements whatever the number of activities (a batch, or a group of
        // enqueues written together): the activities, their deliveries, their hosts, each
        // bound as arrays. WITH ORDINALITY keeps the rows in order, and identity values rise
        // in the order rows are inserted, so the sorted ids are in the arrays' order.
        let bodies: Vec<&[u8]> = activities.iter().map(|a| a.body.as_ref()).collect();
        let key_refs: Vec<&str> = activities.iter().map(|a| a.key_ref.as_str()).collect();
        let ordering_keys: Vec<Option<&str>> = activities
            .iter()
            .map(|a| a.ordering_key.as_deref())
            .collect();
        let mut activity_ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO fq_activities (body, key_ref, ordering_key, created_at) \
             SELECT t.body, t.key_ref, t.ordering_key, $4 \
             FROM UNNEST($1::bytea[], $2::text[], $3::text[]) \
             WITH ORDINALITY AS t(body, key_ref, ordering_key, n) ORDER BY t.n RETURNING id",
        )
        .bind(bodies)
        .bind(key_refs)
        .bind(ordering_keys)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("storing activities"))?;
        activity_ids.sort_unstable();
        if activity_ids.len() != activities.len() {
            return Err(StoreError::Decode {
                operation: "the ids of new activities",
                source: "fewer ids than rows inserted".into(),
            });
        }
        let mut of_activity: Vec<i64> = Vec::new();
        let mut inboxes: Vec<&str> = Vec::new();
        let mut lanes: Vec<&str> = Vec::new();
        let mut keys: Vec<Option<&str>> = Vec::new();
        for (activity, id) in activities.iter().zip(&activity_ids) {
            for delivery in &activity.deliveries {
                of_activity.push(*id);
                inboxes.push(&delivery.inbox);
                lanes.push(&delivery.host);
                keys.push(activity.ordering_key.as_deref());
            }
        }
        let mut hosts: Vec<&str> = lanes.clone();
        let mut ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO fq_deliveries (activity_id, inbox, host, ordering_key, due_at, \
             enqueued_at) SELECT t.activity_id, t.inbox, t.host, t.ordering_key, $5, $5 \
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[]) \
             WITH ORDINALITY AS t(activity_id, inbox, host, ordering_key, n) \
             ORDER BY t.n RETURNING id",
        )
        .bind(of_activity)
        .bind(inboxes)
        .bind(lanes)
        .bind(keys)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("storing deliveries"))?;
        ids.sort_unstable();
        if ids.len() != hosts.len() {
            return Err(StoreError::Decode {
                operation: "the ids of new deliveries",
                source: "fewer ids than rows inserted".into(),
            });
        }
        let ids: Vec<DeliveryId> = ids.into_iter().map(DeliveryId).collect();
        hosts.sort_unstable();
        hosts.dedup();
        if !hosts.is_empty() {
            sqlx::query(
                "INSERT INTO fq_hosts (host) SELECT UNNEST($1::text[]) ON CONFLICT DO NOTHING",
            )
            .bind(hosts)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("registering hosts"))?;
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
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::db("starting a claim"))?;
        let claimed = claim_in(&mut tx, request).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("committing a claim"))?;
        self.defer_blocked(&claimed.pushes, request.now).await?;
        Ok(claimed.claims)
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
        let mut tx = self
            .pool
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
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::db("starting a completion and claim"))?;
        // The completion waits for its hosts' rows in name order; the claim never waits (it
        // skips rows other workers hold), so holding both in one transaction cannot deadlock.
        let changes = if completions.is_empty() {
            Vec::new()
        } else {
            complete_in(&mut tx, completions, policy, request.now).await?
        };
        let claimed = if request.limit == 0 {
            Claimed::default()
        } else {
            claim_in(&mut tx, request).await?
        };
        tx.commit()
            .await
            .map_err(StoreError::db("committing a completion and claim"))?;
        self.defer_blocked(&claimed.pushes, request.now).await?;
        Ok((changes, claimed.claims))
    }

    async fn expire(&self, cutoff: SystemTime, now: SystemTime) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE fq_deliveries SET state = 2, dead_reason = 'expired', died_at = $1 \
             WHERE id IN (SELECT id FROM fq_deliveries WHERE enqueued_at < $2 \
             AND (state = 0 OR (state = 1 AND due_at <= $1)) FOR UPDATE SKIP LOCKED)",
        )
        .bind(to_ms(now))
        .bind(to_ms(cutoff))
        .execute(&self.pool)
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
             WHERE d.state = 2 AND d.id > $1 ORDER BY d.id LIMIT $2",
        )
        .bind(after.map_or(i64::MIN, |id| id.0))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("listing dead letters"))?;
        rows.iter().map(dead_letter).collect()
    }

    async fn requeue(&self, which: &Requeue, now: SystemTime) -> Result<u64, StoreError> {
        let base = "UPDATE fq_deliveries SET state = 0, attempts = 0, dead_reason = NULL, \
                    dead_status = NULL, died_at = NULL, due_at = $1, enqueued_at = $1 \
                    WHERE state = 2";
        let now = to_ms(now);
        let result = match which {
            Requeue::All => sqlx::query(base).bind(now).execute(&self.pool).await,
            Requeue::Host(host) => {
                sqlx::query(
                    "UPDATE fq_deliveries SET state = 0, attempts = 0, dead_reason = NULL, \
                     dead_status = NULL, died_at = NULL, due_at = $1, enqueued_at = $1 \
                     WHERE state = 2 AND host = $2",
                )
                .bind(now)
                .bind(host)
                .execute(&self.pool)
                .await
            }
            Requeue::Ids(ids) => {
                let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
                sqlx::query(
                    "UPDATE fq_deliveries SET state = 0, attempts = 0, dead_reason = NULL, \
                     dead_status = NULL, died_at = NULL, due_at = $1, enqueued_at = $1 \
                     WHERE state = 2 AND id = ANY($2)",
                )
                .bind(now)
                .bind(ids)
                .execute(&self.pool)
                .await
            }
        };
        Ok(result
            .map_err(StoreError::db("requeuing dead letters"))?
            .rows_affected())
    }

    async fn purge_dead(&self, cutoff: SystemTime) -> Result<u64, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::db("starting a purge"))?;
        let activities: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM fq_deliveries WHERE state = 2 AND died_at < $1 RETURNING activity_id",
        )
        .bind(to_ms(cutoff))
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("purging dead letters"))?;
        let purged = u64::try_from(activities.len()).unwrap_or(u64::MAX);
        sqlx::query(
            "DELETE FROM fq_activities a WHERE a.id = ANY($1) AND NOT EXISTS \
             (SELECT 1 FROM fq_deliveries d WHERE d.activity_id = a.id)",
        )
        .bind(activities)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("removing orphaned activities"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("committing a purge"))?;
        Ok(purged)
    }

    async fn hosts(&self) -> Result<Vec<HostState>, StoreError> {
        let rows = sqlx::query(
            "SELECT host, breaker, unavailable, consecutive_failures, failing_since, \
             blocked_until, last_answer FROM fq_hosts ORDER BY host",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("listing hosts"))?;
        rows.iter().map(host_row).collect()
    }

    async fn mark_host_available(&self, host: &str, now: SystemTime) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::db("starting a host reset"))?;
        let hosts = load_hosts(&mut tx, &[host], false).await?;
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
               COUNT(*) FILTER (WHERE state = 0 OR (state = 1 AND due_at <= $1)) AS pending, \
               COUNT(*) FILTER (WHERE state = 1 AND due_at > $1) AS in_flight, \
               COUNT(*) FILTER (WHERE state = 2) AS dead \
             FROM fq_deliveries",
        )
        .bind(to_ms(now))
        .fetch_one(&self.pool)
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

impl PostgresStore {
    /// Defers the deliveries of the hosts a claim found blocked. An optimisation: done after
    /// the claim's commit, on rows nobody holds, so that it never waits.
    async fn defer_blocked(
        &self,
        pushes: &BTreeMap<String, SystemTime>,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let now = to_ms(now);
        for (host, until) in pushes {
            sqlx::query(
                "UPDATE fq_deliveries SET state = 0, due_at = $1 WHERE id IN ( \
                 SELECT id FROM fq_deliveries WHERE host = $2 \
                 AND ((state = 0 AND due_at < $1) OR (state = 1 AND due_at <= $3)) \
                 FOR UPDATE SKIP LOCKED)",
            )
            .bind(to_ms(*until))
            .bind(host)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(StoreError::db("deferring deliveries of a blocked host"))?;
        }
        Ok(())
    }
}

/// What [`claim_in`] claimed, and the hosts whose deliveries to defer after the commit.
#[derive(Default)]
struct Claimed {
    claims: Vec<ClaimedDelivery>,
    pushes: BTreeMap<String, SystemTime>,
}

/// The claim of [`Store::claim`], inside `tx`.
async fn claim_in(
    tx: &mut Transaction<'_, Postgres>,
    request: &ClaimRequest,
) -> Result<Claimed, StoreError> {
    let now = to_ms(request.now);
    let scan = i64::try_from(request.limit.saturating_mul(4).max(64)).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT d.id, d.host FROM fq_deliveries d \
         WHERE d.state < 2 AND d.due_at <= $1 \
         AND (d.ordering_key IS NULL OR NOT EXISTS ( \
             SELECT 1 FROM fq_deliveries e WHERE e.host = d.host \
             AND e.ordering_key = d.ordering_key AND e.state < 2 AND e.id < d.id)) \
         ORDER BY d.due_at, d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
    )
    .bind(now)
    .bind(scan)
    .fetch_all(&mut **tx)
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
        return Ok(Claimed::default());
    }
    let host_names: Vec<&str> = {
        let mut seen = HashSet::new();
        candidates
            .iter()
            .map(|c| c.host.as_str())
            .filter(|h| seen.insert(*h))
            .collect()
    };
    let hosts = load_hosts(tx, &host_names, true).await?;
    let locked: Vec<String> = hosts.keys().cloned().collect();
    let mut in_flight = HashMap::new();
    for row in sqlx::query(
        "SELECT host, COUNT(*) AS n FROM fq_deliveries WHERE state = 1 AND due_at > $1 \
         AND host = ANY($2) GROUP BY host",
    )
    .bind(now)
    .bind(&locked)
    .fetch_all(&mut **tx)
    .await
    .map_err(StoreError::db("counting claims per host"))?
    {
        let host: String = row.try_get("host").map_err(StoreError::db("decoding"))?;
        let n: i64 = row.try_get("n").map_err(StoreError::db("decoding"))?;
        in_flight.insert(host, u64::try_from(n).unwrap_or(0));
    }
    let plan = plan_claim(&candidates, &hosts, &in_flight, request);
    for state in &plan.host_updates {
        save_host(tx, state).await?;
    }
    let lease_end = now.saturating_add(duration_ms(request.lease));
    let ids: Vec<i64> = plan.chosen.iter().map(|(id, _)| id.0).collect();
    let tokens: Vec<i64> = plan.chosen.iter().map(|_| new_token()).collect();
    let rows = sqlx::query(
        "UPDATE fq_deliveries d SET state = 1, due_at = $1, attempts = d.attempts + 1, \
         token = t.token FROM UNNEST($2::bigint[], $3::bigint[]) AS t(id, token) \
         WHERE d.id = t.id \
         RETURNING d.id, d.token, d.activity_id, d.inbox, d.host, d.attempts, d.enqueued_at",
    )
    .bind(lease_end)
    .bind(&ids)
    .bind(&tokens)
    .fetch_all(&mut **tx)
    .await
    .map_err(StoreError::db("claiming deliveries"))?;
    let mut by_id: HashMap<i64, (ClaimedDelivery, i64)> = HashMap::new();
    for row in rows {
        let get = |e| StoreError::db("decoding a claim")(e);
        let id: i64 = row.try_get("id").map_err(get)?;
        by_id.insert(
            id,
            (
                ClaimedDelivery {
                    id: DeliveryId(id),
                    token: row.try_get("token").map_err(get)?,
                    inbox: row.try_get("inbox").map_err(get)?,
                    host: row.try_get("host").map_err(get)?,
                    key_ref: String::new(),
                    body: Bytes::new(),
                    attempts: u32_column("attempts", row.try_get("attempts").map_err(get)?)?,
                    enqueued_at: from_ms(row.try_get("enqueued_at").map_err(get)?),
                    probe: false,
                },
                row.try_get("activity_id").map_err(get)?,
            ),
        );
    }
    let wanted = activities_of(&by_id);
    let mut bodies: HashMap<i64, (Bytes, String)> = HashMap::new();
    for row in sqlx::query("SELECT id, body, key_ref FROM fq_activities WHERE id = ANY($1)")
        .bind(&wanted)
        .fetch_all(&mut **tx)
        .await
        .map_err(StoreError::db("reading activities"))?
    {
        let (id, activity) = activity_row(&row)?;
        bodies.insert(id, activity);
    }
    Ok(Claimed {
        claims: assemble_claims(plan.chosen, by_id, &bodies),
        pushes: plan.pushes,
    })
}

/// The completion of [`Store::complete`], inside `tx`.
async fn complete_in(
    tx: &mut Transaction<'_, Postgres>,
    completions: &[Completion],
    policy: &BreakerPolicy,
    now: SystemTime,
) -> Result<Vec<HostChange>, StoreError> {
    let now_ms = to_ms(now);
    let mut finished_activities = Vec::new();
    let mut ordered: Vec<&Completion> = completions.iter().collect();
    ordered.sort_by_key(|c| c.id);
    // Deliveries that are finished (2xx, 410) are removed in one statement: the common
    // case costs one round trip per batch, not one per delivery.
    let (finished, others): (Vec<&Completion>, Vec<&Completion>) = ordered
        .into_iter()
        .partition(|c| matches!(c.outcome, Outcome::Delivered | Outcome::Gone));
    let mut current_ids: HashSet<i64> = HashSet::new();
    if !finished.is_empty() {
        let ids: Vec<i64> = finished.iter().map(|c| c.id.0).collect();
        let tokens: Vec<i64> = finished.iter().map(|c| c.token).collect();
        let rows = sqlx::query(
            "DELETE FROM fq_deliveries d USING UNNEST($1::bigint[], $2::bigint[]) \
             AS t(id, token) WHERE d.id = t.id AND d.token = t.token AND d.state = 1 \
             RETURNING d.id, d.activity_id",
        )
        .bind(&ids)
        .bind(&tokens)
        .fetch_all(&mut **tx)
        .await
        .map_err(StoreError::db("removing delivered deliveries"))?;
        for row in rows {
            let get = |e| StoreError::db("decoding a removed delivery")(e);
            current_ids.insert(row.try_get("id").map_err(get)?);
            finished_activities.push(row.try_get::<i64, _>("activity_id").map_err(get)?);
        }
    }
    for completion in others {
        let (id, token) = (completion.id.0, completion.token);
        let current = match &completion.outcome {
            Outcome::Delivered | Outcome::Gone => false,
            Outcome::Retry { at, error } => {
                sqlx::query(
                    "UPDATE fq_deliveries SET state = 0, due_at = $1, last_error = $2 \
                     WHERE id = $3 AND token = $4 AND state = 1",
                )
                .bind(to_ms(*at))
                .bind(error)
                .bind(id)
                .bind(token)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::db("scheduling a retry"))?
                .rows_affected()
                    == 1
            }
            Outcome::Dead { reason, error } => {
                sqlx::query(
                    "UPDATE fq_deliveries SET state = 2, dead_reason = $1, dead_status = $2, \
                     died_at = $3, last_error = $4 WHERE id = $5 AND token = $6 AND state = 1",
                )
                .bind(reason.code())
                .bind(reason.status().map(i64::from))
                .bind(now_ms)
                .bind(error)
                .bind(id)
                .bind(token)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::db("moving a delivery to the dead letters"))?
                .rows_affected()
                    == 1
            }
            Outcome::Release { at } => {
                sqlx::query(
                    "UPDATE fq_deliveries SET state = 0, due_at = $1, \
                     attempts = GREATEST(attempts - 1, 0) \
                     WHERE id = $2 AND token = $3 AND state = 1",
                )
                .bind(to_ms(*at))
                .bind(id)
                .bind(token)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::db("releasing a claim"))?
                .rows_affected()
                    == 1
            }
        };
        if current {
            current_ids.insert(id);
        }
    }
    finished_activities.sort_unstable();
    finished_activities.dedup();
    if !finished_activities.is_empty() {
        sqlx::query(
            "DELETE FROM fq_activities a WHERE a.id = ANY($1) AND NOT EXISTS \
             (SELECT 1 FROM fq_deliveries d WHERE d.activity_id = a.id)",
        )
        .bind(&finished_activities)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db("removing finished activities"))?;
    }
    let names = completed_hosts(completions, &current_ids);
    let mut hosts = load_hosts(tx, &names, false).await?;
    let updates = plan_host_updates(completions, &current_ids, &mut hosts, policy, now);
    save_hosts(tx, &updates.changed).await?;
    for (host, upto) in updates.released {
        pull_forward(tx, host, upto, now).await?;
    }
    Ok(updates.changes)
}
