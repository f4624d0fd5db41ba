//! A `Move` from an archive to the followers it could not reach at the import.
//!
//! Sending an archive's `Move` (FEP-7628's pull mode, [`Instance::send_archived_move`]) needs
//! each follower's inbox, read from its actor document. A follower whose server does not
//! answer then (or whose document has no inbox) is recorded in `pd_move_recipients`
//! (migration 7), with the signed `Move` once in `pd_pending_moves`; the archive itself never
//! holds inboxes. The serving process looks for due recipients every
//! [`MoveRetry::interval`] (a new one is due at once), fetches their documents again (a few at a time), and for each one
//! reached queues the `Move` to its inbox through the federation queue, as at the import, and
//! forgets it. A failure is tried again after a delay that doubles from
//! [`MoveRetry::first_delay`] up to [`MoveRetry::max_delay`]; a follower still unreachable
//! [`MoveRetry::give_up_after`] after the import (seven days by default) is given up: kept as
//! `given_up`, with its attempts and last error, for `admin pending-moves` to show, and never
//! tried again.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use federation::fetch::FetchBudget;
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row as _;
use tracing::{info, warn};
use url::Url;

use crate::app::Instance;

/// How many followers' documents are fetched at once, at the import and on each retry.
pub const FETCH_CONCURRENCY: usize = 16;

/// The most recipients one retry round takes.
const ROUND: i64 = 200;

/// The most recipients `admin pending-moves` lists.
const LISTED: i64 = 100;

/// How the serving process retries a `Move` to the followers it could not reach at the import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MoveRetry {
    /// How often the serving process looks for recipients due. Default: 30 seconds.
    pub interval: Duration,
    /// The delay before the first retry; each failure doubles it. Default: one minute.
    pub first_delay: Duration,
    /// The longest delay between two tries. Default: six hours.
    pub max_delay: Duration,
    /// How long after the import a recipient is given up. Default: seven days.
    pub give_up_after: Duration,
}

impl Default for MoveRetry {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            first_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(6 * 3600),
            give_up_after: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl MoveRetry {
    /// Sets [`Self::interval`].
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets [`Self::first_delay`].
    pub fn with_first_delay(mut self, delay: Duration) -> Self {
        self.first_delay = delay;
        self
    }

    /// Sets [`Self::max_delay`].
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets [`Self::give_up_after`].
    pub fn with_give_up_after(mut self, bound: Duration) -> Self {
        self.give_up_after = bound;
        self
    }

    /// The delay after `attempts` failed tries (at least one): [`Self::first_delay`] doubled
    /// for each try after the first, at most [`Self::max_delay`].
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// One follower a `Move` is still to reach, or was given up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PendingRecipient {
    /// The `Move`'s id.
    pub move_id: String,
    /// The local account that sends it.
    pub mover: String,
    /// The follower of the old account.
    pub follower: String,
    /// Tries so far (the import's included).
    pub attempts: i64,
    /// Why the last try failed.
    pub last_error: String,
    /// The first try (the import), in Unix microseconds.
    pub first_tried: i64,
    /// The next try, in Unix microseconds (for one given up: when it was given up).
    pub next_try: i64,
    /// `pending` or `given_up`.
    pub state: String,
}

/// What `admin pending-moves` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PendingMoves {
    /// Recipients still tried.
    pub pending: u64,
    /// Recipients given up.
    pub given_up: u64,
    /// The first of them, soonest due first (at most 100).
    pub recipients: Vec<PendingRecipient>,
}

/// What one retry round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RetryRound {
    /// Recipients reached: the `Move` is queued to their inboxes.
    pub sent: u64,
    /// Recipients still unreachable, tried again later.
    pub failed: u64,
    /// Recipients given up in this round.
    pub given_up: u64,
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

impl Instance {
    /// The recipient (its inbox, and its server's shared inbox) of the `Move` for `follower`,
    /// from its actor document (cached, or fetched); why not when it cannot be had.
    pub(crate) async fn move_recipient(
        &self,
        follower: &str,
    ) -> Result<federation_queue::Recipient, String> {
        let url = Url::parse(follower).map_err(|e| format!("not an address: {e}"))?;
        let mut budget = FetchBudget::default();
        let remote = self
            .keys()
            .actor(&url, &mut budget)
            .await
            .map_err(|e| e.to_string())?;
        remote
            .recipient()
            .ok_or_else(|| "its document names no inbox".to_owned())
    }

    /// The recipients of the `Move` for `followers`, their documents fetched
    /// [`FETCH_CONCURRENCY`] at a time: each follower with its recipient or why not.
    pub(crate) async fn move_recipients(
        &self,
        followers: Vec<String>,
    ) -> Vec<(String, Result<federation_queue::Recipient, String>)> {
        futures::stream::iter(followers)
            .map(|follower| async move {
                let recipient = self.move_recipient(&follower).await;
                (follower, recipient)
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect()
            .await
    }

    /// Queues the `Move` `proof` (its bytes as sent) from local person `mover` to
    /// `recipients`, one delivery per inbox.
    pub(crate) async fn queue_move(
        &self,
        mover: &str,
        proof: Vec<u8>,
        recipients: Vec<federation_queue::Recipient>,
    ) -> Result<()> {
        use federation::outbox::Enqueuer as _;
        let item = federation_queue::Enqueue::new(proof, mover).with_recipients(recipients);
        self.outbox()
            .queue()
            .enqueue(item)
            .await
            .map_err(|e| anyhow::anyhow!("queueing the Move: {e}"))?;
        Ok(())
    }

    /// Records the followers the `Move` `proof` from local person `mover` could not reach
    /// (each with why), to be tried again by the serving process. A follower recorded before
    /// for the same `Move` keeps its record.
    pub(crate) async fn remember_unreached(
        &self,
        mover: &str,
        proof: &Value,
        unreached: &[(String, String)],
    ) -> Result<()> {
        if unreached.is_empty() {
            return Ok(());
        }
        let id = proof
            .get("id")
            .and_then(Value::as_str)
            .context("a Move without an id")?;
        let now = self.now();
        // Due at once: the serving process (perhaps not this one: `admin import` runs apart)
        // tries it at its next look, and from then on by its own delays.
        let next = now;
        let mut tx = self.db().pool().begin().await?;
        sqlx::query(
            "INSERT INTO pd_pending_moves (id, mover, proof, created) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.to_owned())
        .bind(mover.to_owned())
        .bind(serde_json::to_string(proof)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (follower, error) in unreached {
            sqlx::query(
                "INSERT INTO pd_move_recipients
                    (move_id, follower, attempts, last_error, first_tried, next_try, state)
                 VALUES ($1, $2, 1, $3, $4, $5, 'pending')
                 ON CONFLICT (move_id, follower) DO NOTHING",
            )
            .bind(id.to_owned())
            .bind(follower.clone())
            .bind(error.clone())
            .bind(now)
            .bind(next)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One retry round: the recipients due are fetched again; the `Move` is queued to each
    /// one reached (and it is forgotten), the others are tried later or, past the bound,
    /// given up.
    pub async fn retry_pending_moves(&self) -> Result<RetryRound> {
        let retry = self.0.options.move_retry;
        let now = self.now();
        let rows = sqlx::query(
            "SELECT r.move_id, r.follower, r.attempts, r.first_tried, r.next_try, m.mover, m.proof
             FROM pd_move_recipients r JOIN pd_pending_moves m ON m.id = r.move_id
             WHERE r.state = 'pending' AND r.next_try <= $1
             ORDER BY r.next_try, r.follower LIMIT $2",
        )
        .bind(now)
        .bind(ROUND)
        .fetch_all(self.db().pool())
        .await?;
        let mut due = Vec::new();
        // Claimed before fetching, so that another serving process of the same database does
        // not try the same recipient at the same time.
        let lease = now.saturating_add(micros(retry.interval.saturating_mul(4)));
        for row in rows {
            let move_id: String = row.try_get("move_id")?;
            let follower: String = row.try_get("follower")?;
            let next_try: i64 = row.try_get("next_try")?;
            let claimed = sqlx::query(
                "UPDATE pd_move_recipients SET next_try = $1
                 WHERE move_id = $2 AND follower = $3 AND next_try = $4 AND state = 'pending'",
            )
            .bind(lease)
            .bind(move_id.clone())
            .bind(follower.clone())
            .bind(next_try)
            .execute(self.db().pool())
            .await?
            .rows_affected();
            if claimed == 1 {
                due.push((
                    move_id,
                    follower,
                    row.try_get::<i64, _>("attempts")?,
                    row.try_get::<i64, _>("first_tried")?,
                    row.try_get::<String, _>("mover")?,
                    row.try_get::<String, _>("proof")?,
                ));
            }
        }
        let tried: Vec<_> = futures::stream::iter(due)
            .map(|entry| async move {
                let recipient = self.move_recipient(&entry.1).await;
                (entry, recipient)
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .collect()
            .await;
        let mut round = RetryRound::default();
        for ((move_id, follower, attempts, first_tried, mover, proof), recipient) in tried {
            match recipient {
                Ok(recipient) => {
                    self.queue_move(&mover, proof.into_bytes(), vec![recipient])
                        .await?;
                    sqlx::query(
                        "DELETE FROM pd_move_recipients WHERE move_id = $1 AND follower = $2",
                    )
                    .bind(move_id.clone())
                    .bind(follower.clone())
                    .execute(self.db().pool())
                    .await?;
                    info!(%follower, %move_id, "a Move sent on retry to a follower unreachable before");
                    round.sent += 1;
                }
                Err(error) => {
                    let attempts = attempts.saturating_add(1);
                    let give_up = now.saturating_sub(first_tried) >= micros(retry.give_up_after);
                    let delay = retry.delay_after(u32::try_from(attempts).unwrap_or(u32::MAX));
                    let (state, next) = if give_up {
                        round.given_up += 1;
                        warn!(%follower, %move_id, attempts, %error, "a follower the Move never reached is given up");
                        ("given_up", now)
                    } else {
                        round.failed += 1;
                        ("pending", now.saturating_add(micros(delay)))
                    };
                    sqlx::query(
                        "UPDATE pd_move_recipients
                         SET attempts = $1, last_error = $2, next_try = $3, state = $4
                         WHERE move_id = $5 AND follower = $6",
                    )
                    .bind(attempts)
                    .bind(error)
                    .bind(next)
                    .bind(state)
                    .bind(move_id)
                    .bind(follower)
                    .execute(self.db().pool())
                    .await?;
                }
            }
        }
        // A Move nobody waits for any more is forgotten.
        sqlx::query(
            "DELETE FROM pd_pending_moves WHERE NOT EXISTS
                (SELECT 1 FROM pd_move_recipients r WHERE r.move_id = pd_pending_moves.id)",
        )
        .execute(self.db().pool())
        .await?;
        Ok(round)
    }

    /// The followers a `Move` is still to reach, and those given up (`admin pending-moves`).
    pub async fn pending_moves(&self) -> Result<PendingMoves> {
        let count = |state: &'static str| async move {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM pd_move_recipients WHERE state = $1")
                .bind(state)
                .fetch_one(self.db().pool())
                .await?;
            Ok::<u64, anyhow::Error>(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
        };
        let pending = count("pending").await?;
        let given_up = count("given_up").await?;
        let rows = sqlx::query(
            "SELECT r.move_id, r.follower, r.attempts, r.last_error, r.first_tried, r.next_try,
                r.state, m.mover
             FROM pd_move_recipients r JOIN pd_pending_moves m ON m.id = r.move_id
             ORDER BY r.state DESC, r.next_try, r.follower LIMIT $1",
        )
        .bind(LISTED)
        .fetch_all(self.db().pool())
        .await?;
        let recipients = rows
            .iter()
            .map(|row| {
                Ok(PendingRecipient {
                    move_id: row.try_get("move_id")?,
                    mover: row.try_get("mover")?,
                    follower: row.try_get("follower")?,
                    attempts: row.try_get("attempts")?,
                    last_error: row.try_get("last_error")?,
                    first_tried: row.try_get("first_tried")?,
                    next_try: row.try_get("next_try")?,
                    state: row.try_get("state")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(PendingMoves {
            pending,
            given_up,
            recipients,
        })
    }

    /// Starts the serving process's retries (every [`MoveRetry::interval`]); they end with the
    /// instance.
    pub(crate) fn start_move_retries(&self) {
        let weak = Arc::downgrade(&self.0);
        let interval = self.0.options.move_retry.interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let instance = Instance(inner);
                if let Err(error) = instance.retry_pending_moves().await {
                    warn!(error = format!("{error:#}"), "retrying the Moves not sent");
                }
            }
        });
    }
}
