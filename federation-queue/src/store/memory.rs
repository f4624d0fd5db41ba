//! An in-memory store, for tests and for applications that accept losing the queue on exit.
//! It has no indexes: a claim looks at every delivery it holds, which is fine for tests and
//! small queues, not for hundreds of thousands of deliveries.
//!
//! It is written against the crate's public API only (the `federation_queue::` paths), as a
//! store of someone else's would be: the crate's tests compile this file a second time,
//! outside the crate, and run the conformance suite on that copy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;

use federation_queue::planning::{
    Candidate, new_token, plan_claim, plan_host_updates, released_block,
};
use federation_queue::{
    BreakerPolicy, ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeadReason, DeliveryId,
    HostChange, HostState, NewActivity, Outcome, QueueCounts, Requeue, Store, StoreError,
};

/// Keeps everything in memory: nothing survives the process. Shares the planning logic of the
/// durable stores, so it behaves like them.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_activity: i64,
    next_delivery: i64,
    activities: HashMap<i64, Activity>,
    deliveries: BTreeMap<i64, Row>,
    hosts: BTreeMap<String, HostState>,
}

#[derive(Debug)]
struct Activity {
    body: Bytes,
    key_ref: String,
    ordering_key: Option<String>,
    deliveries: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowState {
    Pending,
    InFlight,
    Dead,
}

#[derive(Debug)]
struct Row {
    activity: i64,
    inbox: String,
    host: String,
    state: RowState,
    due_at: SystemTime,
    attempts: u32,
    enqueued_at: SystemTime,
    token: i64,
    dead: Option<(DeadReason, SystemTime)>,
    last_error: Option<String>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Makes the pending deliveries to `host` that a lifted block (an open breaker, a
    /// `Retry-After` pause) held until `upto` due now.
    fn release_held(&mut self, host: &str, now: SystemTime, upto: SystemTime) {
        for row in self.deliveries.values_mut() {
            if row.host == host
                && row.state == RowState::Pending
                && row.due_at > now
                && row.due_at <= upto
            {
                row.due_at = now;
            }
        }
    }

    fn enqueue_one(&mut self, activity: &NewActivity, now: SystemTime, ids: &mut Vec<DeliveryId>) {
        let inner = self;
        inner.next_activity += 1;
        let activity_id = inner.next_activity;
        inner.activities.insert(
            activity_id,
            Activity {
                body: activity.body.clone(),
                key_ref: activity.key_ref.clone(),
                ordering_key: activity.ordering_key.clone(),
                deliveries: activity.deliveries.len(),
            },
        );
        let first = ids.len();
        for delivery in &activity.deliveries {
            inner.next_delivery += 1;
            let id = inner.next_delivery;
            inner.deliveries.insert(
                id,
                Row {
                    activity: activity_id,
                    inbox: delivery.inbox.clone(),
                    host: delivery.host.clone(),
                    state: RowState::Pending,
                    due_at: now,
                    attempts: 0,
                    enqueued_at: now,
                    token: 0,
                    dead: None,
                    last_error: None,
                },
            );
            inner
                .hosts
                .entry(delivery.host.clone())
                .or_insert_with(|| HostState::new(delivery.host.clone()));
            ids.push(DeliveryId(id));
        }
        if ids.len() == first {
            inner.activities.remove(&activity_id);
        }
    }

    fn forget(&mut self, id: i64) {
        if let Some(row) = self.deliveries.remove(&id)
            && let Some(activity) = self.activities.get_mut(&row.activity)
        {
            activity.deliveries = activity.deliveries.saturating_sub(1);
            if activity.deliveries == 0 {
                self.activities.remove(&row.activity);
            }
        }
    }

    fn ordering_key(&self, row: &Row) -> Option<&String> {
        self.activities
            .get(&row.activity)
            .and_then(|activity| activity.ordering_key.as_ref())
    }
}

impl Store for MemoryStore {
    async fn enqueue(
        &self,
        activities: &[NewActivity],
        now: SystemTime,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        let mut inner = self.lock();
        let mut ids = Vec::new();
        for activity in activities {
            inner.enqueue_one(activity, now, &mut ids);
        }
        Ok(ids)
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = request.now;
        let mut inner = self.lock();
        // The oldest unfinished delivery of each ordering key and host.
        let mut heads: HashMap<(&str, &str), i64> = HashMap::new();
        let mut in_flight: HashMap<String, u64> = HashMap::new();
        for (id, row) in &inner.deliveries {
            if row.state == RowState::Dead {
                continue;
            }
            if row.state == RowState::InFlight && row.due_at > now {
                *in_flight.entry(row.host.clone()).or_default() += 1;
            }
            if let Some(key) = inner.ordering_key(row) {
                heads
                    .entry((row.host.as_str(), key.as_str()))
                    .or_insert(*id);
            }
        }
        let mut due: Vec<(SystemTime, i64, &Row)> = inner
            .deliveries
            .iter()
            .filter(|(id, row)| {
                row.state != RowState::Dead
                    && row.due_at <= now
                    && inner.ordering_key(row).is_none_or(|key| {
                        heads.get(&(row.host.as_str(), key.as_str())) == Some(*id)
                    })
            })
            .map(|(id, row)| (row.due_at, *id, row))
            .collect();
        due.sort_by_key(|(due_at, id, _)| (*due_at, *id));
        let candidates: Vec<Candidate> = due
            .iter()
            .map(|(_, id, row)| Candidate::new(DeliveryId(*id), row.host.clone()))
            .collect();
        let hosts: HashMap<String, HostState> = inner
            .hosts
            .iter()
            .map(|(name, state)| (name.clone(), state.clone()))
            .collect();
        let plan = plan_claim(&candidates, &hosts, &in_flight, request);
        for state in plan.host_updates {
            inner.hosts.insert(state.host.clone(), state);
        }
        let chosen: Vec<i64> = plan.chosen.iter().map(|(id, _)| id.0).collect();
        for row in inner.deliveries.values_mut() {
            if let Some(until) = plan.pushes.get(&row.host) {
                let lapsed = row.state == RowState::InFlight && row.due_at <= now;
                if (row.state == RowState::Pending || lapsed) && row.due_at < *until {
                    row.state = RowState::Pending;
                    row.due_at = *until;
                }
            }
        }
        let mut claimed = Vec::with_capacity(chosen.len());
        for (id, probe) in plan.chosen {
            let Some(row) = inner.deliveries.get_mut(&id.0) else {
                continue;
            };
            row.state = RowState::InFlight;
            row.due_at = now + request.lease;
            row.attempts = row.attempts.saturating_add(1);
            row.token = new_token();
            let (activity, inbox, host, attempts, enqueued_at, token) = (
                row.activity,
                row.inbox.clone(),
                row.host.clone(),
                row.attempts,
                row.enqueued_at,
                row.token,
            );
            let Some(activity) = inner.activities.get(&activity) else {
                continue;
            };
            claimed.push(
                ClaimedDelivery::new(
                    id,
                    token,
                    inbox,
                    host,
                    activity.key_ref.clone(),
                    activity.body.clone(),
                    enqueued_at,
                )
                .with_attempts(attempts)
                .with_probe(probe),
            );
        }
        Ok(claimed)
    }

    async fn complete(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        now: SystemTime,
    ) -> Result<Vec<HostChange>, StoreError> {
        let mut inner = self.lock();
        let mut current: HashSet<i64> = HashSet::with_capacity(completions.len());
        for completion in completions {
            let id = completion.id.0;
            let Some(row) = inner.deliveries.get_mut(&id) else {
                continue;
            };
            if row.state != RowState::InFlight || row.token != completion.token {
                continue;
            }
            current.insert(id);
            match &completion.outcome {
                Outcome::Delivered | Outcome::Gone => inner.forget(id),
                Outcome::Retry { at, error } => {
                    row.state = RowState::Pending;
                    row.due_at = *at;
                    row.last_error = Some(error.clone());
                }
                Outcome::Dead { reason, error } => {
                    row.state = RowState::Dead;
                    row.dead = Some((*reason, now));
                    row.last_error = Some(error.clone());
                }
                Outcome::Release { at } => {
                    row.state = RowState::Pending;
                    row.due_at = *at;
                    row.attempts = row.attempts.saturating_sub(1);
                }
                // An outcome of a later version: leave the claim as it is; its lease lapses
                // and the delivery is tried again.
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        let updates = plan_host_updates(completions, &current, &mut inner.hosts, policy, now);
        for (host, upto) in updates.released {
            inner.release_held(host, now, upto);
        }
        Ok(updates.changes)
    }

    async fn expire(&self, cutoff: SystemTime, now: SystemTime) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let mut expired = 0;
        for row in inner.deliveries.values_mut() {
            let lapsed = row.state == RowState::InFlight && row.due_at <= now;
            if (row.state == RowState::Pending || lapsed) && row.enqueued_at < cutoff {
                row.state = RowState::Dead;
                row.dead = Some((DeadReason::Expired, now));
                expired += 1;
            }
        }
        Ok(expired)
    }

    async fn dead_letters(
        &self,
        after: Option<DeliveryId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let inner = self.lock();
        let start = after.map_or(i64::MIN, |id| id.0.saturating_add(1));
        Ok(inner
            .deliveries
            .range(start..)
            .filter_map(|(id, row)| {
                let (reason, died_at) = row.dead?;
                let activity = inner.activities.get(&row.activity)?;
                let mut letter = DeadLetter::new(
                    DeliveryId(*id),
                    row.inbox.clone(),
                    row.host.clone(),
                    activity.key_ref.clone(),
                    row.enqueued_at,
                    died_at,
                    reason,
                )
                .with_attempts(row.attempts);
                if let Some(key) = &activity.ordering_key {
                    letter = letter.with_ordering_key(key.clone());
                }
                if let Some(error) = &row.last_error {
                    letter = letter.with_last_error(error.clone());
                }
                Some(letter)
            })
            .take(limit)
            .collect())
    }

    async fn requeue(&self, which: &Requeue, now: SystemTime) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let mut count = 0;
        for (id, row) in &mut inner.deliveries {
            let selected = match which {
                Requeue::All => true,
                Requeue::Host(host) => row.host == *host,
                Requeue::Ids(ids) => ids.contains(&DeliveryId(*id)),
                // A selection of a later version: requeue nothing rather than too much.
                #[allow(unreachable_patterns)]
                _ => false,
            };
            if selected && row.state == RowState::Dead {
                row.state = RowState::Pending;
                row.dead = None;
                row.due_at = now;
                row.enqueued_at = now;
                row.attempts = 0;
                count += 1;
            }
        }
        Ok(count)
    }

    async fn purge_dead(&self, cutoff: SystemTime) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let doomed: Vec<i64> = inner
            .deliveries
            .iter()
            .filter(|(_, row)| row.dead.is_some_and(|(_, died_at)| died_at < cutoff))
            .map(|(id, _)| *id)
            .collect();
        for id in &doomed {
            inner.forget(*id);
        }
        Ok(u64::try_from(doomed.len()).unwrap_or(u64::MAX))
    }

    async fn hosts(&self) -> Result<Vec<HostState>, StoreError> {
        Ok(self.lock().hosts.values().cloned().collect())
    }

    async fn mark_host_available(&self, host: &str, now: SystemTime) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some(state) = inner.hosts.get_mut(host) else {
            return Ok(false);
        };
        let before = state.clone();
        *state = HostState::new(host);
        state.last_answer = Some(now);
        let after = state.clone();
        if let Some(upto) = released_block(&before, &after, now) {
            inner.release_held(host, now, upto);
        }
        Ok(true)
    }

    async fn counts(&self, now: SystemTime) -> Result<QueueCounts, StoreError> {
        let inner = self.lock();
        let mut counts = QueueCounts::default();
        for row in inner.deliveries.values() {
            match row.state {
                RowState::Dead => counts.dead += 1,
                RowState::InFlight if row.due_at > now => counts.in_flight += 1,
                _ => counts.pending += 1,
            }
        }
        Ok(counts)
    }
}
