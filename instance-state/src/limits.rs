//! Rate limiters whose counts every process on the database shares: several `serve` processes
//! behind a load balancer limit a client together, not each on its own.
//!
//! A limiter keeps, per key, one time: when the key's allowance is whole again (the generic
//! cell rate algorithm's "theoretical arrival time"); the arithmetic is the caller's
//! (`instance-web`'s limiters), this module only keeps the times.

use crate::InstanceState;
use crate::error::{Error, db};

impl InstanceState {
    /// The time of `key` in limiter `scope` (Unix microseconds), if it has one.
    pub async fn limit_time(&self, scope: &str, key: &str) -> Result<Option<i64>, Error> {
        sqlx::query_scalar::<_, i64>("SELECT at FROM st_rate_limits WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(self.pool())
            .await
            .map_err(db("reading a rate limit"))
    }

    /// Counts one event of `key` in limiter `scope` at `now`: its time becomes the later of its
    /// time and `now`, plus `interval`, in one statement (concurrent processes each add theirs).
    /// The keys of `scope` whose time has passed are dropped.
    pub async fn advance_limit(
        &self,
        scope: &str,
        key: &str,
        now: i64,
        interval: i64,
    ) -> Result<(), Error> {
        let mut tx = self
            .begin_write()
            .await
            .map_err(db("counting a rate limit"))?;
        sqlx::query("DELETE FROM st_rate_limits WHERE scope = $1 AND at < $2 AND key <> $3")
            .bind(scope)
            .bind(now)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db("counting a rate limit"))?;
        sqlx::query(
            "INSERT INTO st_rate_limits (scope, key, at) VALUES ($1, $2, $3 + $4)
             ON CONFLICT (scope, key) DO UPDATE SET at =
                (CASE WHEN st_rate_limits.at > $3 THEN st_rate_limits.at ELSE $3 END) + $4",
        )
        .bind(scope)
        .bind(key)
        .bind(now)
        .bind(interval)
        .execute(&mut *tx)
        .await
        .map_err(db("counting a rate limit"))?;
        tx.commit().await.map_err(db("counting a rate limit"))
    }

    /// Forgets `key` in limiter `scope` (its allowance is whole again).
    pub async fn forget_limit(&self, scope: &str, key: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM st_rate_limits WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .execute(self.pool())
            .await
            .map_err(db("forgetting a rate limit"))?;
        Ok(())
    }
}
