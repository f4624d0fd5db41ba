//! `--compare-enqueue`'s workers time every call to their store (waiting for the store's
//! writer included), so that each line says what the enqueues and the worker's refills cost,
//! and how often each ran: where a single caller's enqueues wait shows there.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use federation_queue::{
    BreakerPolicy, ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeliveryId, HostChange,
    HostState, NewActivity, QueueCounts, Requeue, Store, StoreError,
};

/// The calls timed, by kind.
const KINDS: [&str; 4] = ["enqueue", "claim", "complete", "complete_and_claim"];

/// How long each call of each kind took.
#[derive(Debug, Default)]
pub struct Timings {
    calls: Mutex<[Vec<Duration>; 4]>,
}

impl Timings {
    fn record(&self, kind: usize, took: Duration) {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        calls[kind].push(took);
    }

    /// Per kind: calls, the median, 99th percentile and total time in milliseconds.
    pub fn summary(&self) -> serde_json::Value {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = serde_json::Map::new();
        for (kind, list) in KINDS.iter().zip(calls.iter_mut()) {
            if list.is_empty() {
                continue;
            }
            list.sort_unstable();
            let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
            let at = |q: f64| ms(list[((list.len() - 1) as f64 * q) as usize]);
            out.insert(
                (*kind).to_owned(),
                serde_json::json!({
                    "calls": list.len(),
                    "ms_p50": at(0.5),
                    "ms_p99": at(0.99),
                    "ms_total": ms(list.iter().sum()),
                }),
            );
        }
        serde_json::Value::Object(out)
    }
}

/// A store whose calls are timed into [`Timings`].
#[derive(Debug)]
pub struct TimedStore<S> {
    inner: S,
    timings: Arc<Timings>,
}

impl<S> TimedStore<S> {
    pub fn new(inner: S, timings: Arc<Timings>) -> Self {
        Self { inner, timings }
    }
}

impl<S: Store> TimedStore<S> {
    async fn timed<T>(&self, kind: usize, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = call.await;
        self.timings.record(kind, started.elapsed());
        out
    }
}

impl<S: Store> Store for TimedStore<S> {
    async fn enqueue(
        &self,
        activities: &[NewActivity],
        now: SystemTime,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        self.timed(0, self.inner.enqueue(activities, now)).await
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.timed(1, self.inner.claim(request)).await
    }

    async fn complete(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        now: SystemTime,
    ) -> Result<Vec<HostChange>, StoreError> {
        self.timed(2, self.inner.complete(completions, policy, now))
            .await
    }

    async fn complete_and_claim(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        request: &ClaimRequest,
    ) -> Result<(Vec<HostChange>, Vec<ClaimedDelivery>), StoreError> {
        self.timed(
            3,
            self.inner.complete_and_claim(completions, policy, request),
        )
        .await
    }

    async fn expire(&self, cutoff: SystemTime, now: SystemTime) -> Result<u64, StoreError> {
        self.inner.expire(cutoff, now).await
    }

    async fn dead_letters(
        &self,
        after: Option<DeliveryId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.dead_letters(after, limit).await
    }

    async fn requeue(&self, which: &Requeue, now: SystemTime) -> Result<u64, StoreError> {
        self.inner.requeue(which, now).await
    }

    async fn purge_dead(&self, cutoff: SystemTime) -> Result<u64, StoreError> {
        self.inner.purge_dead(cutoff).await
    }

    async fn hosts(&self) -> Result<Vec<HostState>, StoreError> {
        self.inner.hosts().await
    }

    async fn mark_host_available(&self, host: &str, now: SystemTime) -> Result<bool, StoreError> {
        self.inner.mark_host_available(host, now).await
    }

    async fn counts(&self, now: SystemTime) -> Result<QueueCounts, StoreError> {
        self.inner.counts(now).await
    }
}
