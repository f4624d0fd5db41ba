//! Leases of background work: a processing job or a mirror is run by one process at a time,
//! which holds it until a time (`lease_until`, Unix milliseconds) it pushes forward while it
//! works. Any number of `serve` processes may share a database: when one dies mid-job, its
//! lease lapses and another takes the job (see `docs/video-instance.md`, "Several
//! processes").
//!
//! A claim is a fresh token (a processing job's `lease`, a mirror's `attempt`): every write a
//! job makes about itself names it, so a process that lost its job (paused past its lease, cut
//! off from the database) can record nothing of it once another took it.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Result;
use tracing::warn;

use crate::db::Db;

/// The shortest lease: renewals come every third of it.
pub(crate) const MIN_LEASE: Duration = Duration::from_secs(2);

/// How often an idle runner looks for work another process queued, or left when it died
/// (a runner is woken at once for the work its own process queues).
pub(crate) fn poll_interval(lease: Duration) -> Duration {
    (lease / 2).clamp(Duration::from_millis(500), Duration::from_secs(5))
}

/// The work was taken by another process (or could not be renewed before it lapsed): what
/// was being done of it is dropped, and nothing of it recorded.
#[derive(Debug, thiserror::Error)]
#[error("the lease of {what} was lost: another process holds it now")]
pub(crate) struct LeaseLost {
    what: String,
}

/// One claim of a job: its row (by video), its token, and the statements that renew and
/// release it.
#[derive(Clone)]
pub(crate) struct Claim {
    db: Db,
    kind: &'static Statements,
    pub(crate) video: String,
    pub(crate) token: String,
    duration: Duration,
}

/// The statements of one table's leases, each bound to `$1` the video, `$2` the token.
pub(crate) struct Statements {
    /// What the work is, for the logs.
    pub(crate) what: &'static str,
    /// Pushes the lease to `$3` while the row is the claim's and running; one row or none.
    pub(crate) renew: &'static str,
    /// Gives the row back to be taken at once (a clean stop); one row or none.
    pub(crate) release: &'static str,
}

impl Claim {
    pub(crate) fn new(
        db: Db,
        kind: &'static Statements,
        video: String,
        token: String,
        duration: Duration,
    ) -> Self {
        Self {
            db,
            kind,
            video,
            token,
            duration,
        }
    }

    /// Runs `work` while renewing the lease every third of its duration. Fails (dropping
    /// `work`, which stops what it runs) when a renewal finds the claim gone, or when renewals
    /// failed until the lease lapsed.
    pub(crate) async fn hold<F: Future>(&self, work: F) -> Result<F::Output, LeaseLost> {
        let renewals = async {
            let mut held_until = Instant::now() + self.duration;
            loop {
                tokio::time::sleep(self.duration / 3).await;
                let asked = Instant::now();
                match self.renew().await {
                    Ok(true) => held_until = asked + self.duration,
                    Ok(false) => break,
                    Err(error) => {
                        warn!(%error, video = self.video, "renewing the lease of {}", self.kind.what);
                        if Instant::now() >= held_until {
                            break;
                        }
                    }
                }
            }
            self.lost()
        };
        tokio::select! {
            done = work => Ok(done),
            lost = renewals => Err(lost),
        }
    }

    /// The error that says this claim was lost.
    pub(crate) fn lost(&self) -> LeaseLost {
        LeaseLost {
            what: format!("{} of {}", self.kind.what, self.video),
        }
    }

    /// Pushes the lease forward in `tx`, which then holds the row until it ends: `false` when
    /// the claim is no longer this one.
    pub(crate) async fn renew_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<bool> {
        Ok(sqlx::query(self.kind.renew)
            .bind(self.video.clone())
            .bind(self.token.clone())
            .bind(lease_until(&self.db, self.duration))
            .execute(&mut **tx)
            .await?
            .rows_affected()
            == 1)
    }

    /// Pushes the lease forward: `false` when the claim is no longer this one.
    pub(crate) async fn renew(&self) -> Result<bool> {
        Ok(sqlx::query(self.kind.renew)
            .bind(self.video.clone())
            .bind(self.token.clone())
            .bind(lease_until(&self.db, self.duration))
            .execute(self.db.pool())
            .await?
            .rows_affected()
            == 1)
    }

    /// Gives the work back (a clean stop): another process, or this one started again,
    /// takes it at once instead of after the lease.
    pub(crate) async fn release(&self) {
        if let Err(error) = sqlx::query(self.kind.release)
            .bind(self.video.clone())
            .bind(self.token.clone())
            .execute(self.db.pool())
            .await
        {
            warn!(%error, video = self.video, "handing back {}", self.kind.what);
        }
    }
}

/// The end of a lease taken now for `duration`, in Unix milliseconds.
pub(crate) fn lease_until(db: &Db, duration: Duration) -> i64 {
    now_millis(db).saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
}

/// Now, in Unix milliseconds, by the state's clock.
pub(crate) fn now_millis(db: &Db) -> i64 {
    db.state().options().clock.now() / 1000
}

/// The claim a runner holds, if any: set when it takes work, cleared when it recorded the end.
/// Released when the runner stops (see [`Held::release`]).
#[derive(Clone, Default)]
pub(crate) struct Held(Arc<Mutex<Option<Claim>>>);

impl Held {
    pub(crate) fn set(&self, claim: Option<Claim>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = claim;
    }

    fn take(&self) -> Option<Claim> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Gives back the claim held (its runner stopped).
    pub(crate) async fn release(&self) {
        if let Some(claim) = self.take() {
            claim.release().await;
        }
    }

    /// Gives back the claim held, in the background (from a `Drop`, on a runtime): the
    /// runtime may end first, and then the lease lapses instead.
    pub(crate) fn release_in_background(&self) {
        if let Some(claim) = self.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move { claim.release().await });
        }
    }
}
