//! `--store null`: a store that only hands deliveries out in the order they came, for measuring
//! what delivering costs without a store's work. It keeps nothing on disk, has no breakers,
//! per-host limits, leases or dead letters, and puts a retried delivery at the back. Not a
//! queue anyone should run; written, like any store outside the crate, from the public API.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use federation_queue::{
    BreakerPolicy, ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeliveryId, HostChange,
    HostState, NewActivity, Outcome, QueueCounts, Requeue, Store, StoreError,
};

#[derive(Debug, Default)]
pub struct NullStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: i64,
    waiting: VecDeque<ClaimedDelivery>,
    out: std::collections::HashMap<i64, ClaimedDelivery>,
}

impl NullStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for NullStore {
    async fn enqueue(
        &self,
        activities: &[NewActivity],
        now: SystemTime,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        let mut inner = self.lock();
        let mut ids = Vec::new();
        for activity in activities {
            for delivery in &activity.deliveries {
                inner.next_id += 1;
                let id = DeliveryId(inner.next_id);
                inner.waiting.push_back(ClaimedDelivery::new(
                    id,
                    0,
                    delivery.inbox.clone(),
                    delivery.host.clone(),
                    activity.key_ref.clone(),
                    activity.body.clone(),
                    now,
                ));
                ids.push(id);
            }
        }
        Ok(ids)
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut inner = self.lock();
        let n = request.limit.min(inner.waiting.len());
        let claims: Vec<ClaimedDelivery> = inner.waiting.drain(..n).collect();
        for claim in &claims {
            inner.out.insert(claim.id.0, claim.clone());
        }
        Ok(claims)
    }

    async fn complete(
        &self,
        completions: &[Completion],
        _policy: &BreakerPolicy,
        _now: SystemTime,
    ) -> Result<Vec<HostChange>, StoreError> {
        let mut inner = self.lock();
        for completion in completions {
            let Some(claim) = inner.out.remove(&completion.id.0) else {
                continue;
            };
            match completion.outcome {
                Outcome::Retry { .. } | Outcome::Release { .. } => inner.waiting.push_back(claim),
                _ => {}
            }
        }
        Ok(Vec::new())
    }

    async fn expire(&self, _cutoff: SystemTime, _now: SystemTime) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn dead_letters(
        &self,
        _after: Option<DeliveryId>,
        _limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(Vec::new())
    }

    async fn requeue(&self, _which: &Requeue, _now: SystemTime) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn purge_dead(&self, _cutoff: SystemTime) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn hosts(&self) -> Result<Vec<HostState>, StoreError> {
        Ok(Vec::new())
    }

    async fn mark_host_available(&self, _host: &str, _now: SystemTime) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn counts(&self, _now: SystemTime) -> Result<QueueCounts, StoreError> {
        let inner = self.lock();
        Ok(QueueCounts::new(
            inner.waiting.len() as u64,
            inner.out.len() as u64,
            0,
        ))
    }
}
