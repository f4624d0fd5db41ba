//! The storage interface, and the planning every implementation shares.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::time::SystemTime;

use crate::breaker::{self, Admission, BreakerPolicy};
use crate::model::{
    ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeliveryId, HostChange, HostState,
    NewActivity, QueueCounts, Requeue,
};

pub(crate) mod memory;
pub(crate) mod postgres;
mod sql;
pub(crate) mod sqlite;

/// Durable storage for the queue: activities, deliveries, dead letters and host states.
///
/// Every method takes the current time as an argument (from the queue's
/// [`Clock`](crate::Clock)), so implementations read no clock and the conformance suite can
/// drive time by hand. Implementations must make [`Store::claim`] safe to call from several
/// workers at once: a delivery is held by at most one live claim, and per-host limits and
/// breaker probes hold across workers.
pub trait Store: Send + Sync + 'static {
    /// Stores each activity's body once and one pending delivery per entry of its
    /// `deliveries`, due at `now`; returns the ids of all deliveries in order. Atomic: all or
    /// nothing.
    fn enqueue(
        &self,
        activities: &[NewActivity],
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<DeliveryId>, StoreError>> + Send;

    /// Claims due deliveries: pending ones whose retry time has come and claims whose lease
    /// lapsed, oldest due first, skipping hosts whose breaker or `Retry-After` blocks them,
    /// at most `per_host_limit` in flight per host, and only the oldest unfinished delivery of
    /// each ordering key and host. Each claim counts one attempt.
    fn claim(
        &self,
        request: &ClaimRequest,
    ) -> impl Future<Output = Result<Vec<ClaimedDelivery>, StoreError>> + Send;

    /// Records the outcomes of attempts and what they taught about their hosts, and returns
    /// the breakers that changed state. A completion whose claim is no longer current (its
    /// lease lapsed and another worker took it) changes nothing.
    fn complete(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<HostChange>, StoreError>> + Send;

    /// Records `completions` as [`Store::complete`] does (at `request.now`), then claims as
    /// [`Store::claim`] does: what a worker does each time it refills. A store that can should
    /// do both in one transaction, all or nothing, so that a refill costs one commit rather than
    /// two; the default calls the two methods one after the other (if the claim then fails,
    /// the completions are recorded already, and recording them again changes nothing).
    fn complete_and_claim(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        request: &ClaimRequest,
    ) -> impl Future<Output = Result<(Vec<HostChange>, Vec<ClaimedDelivery>), StoreError>> + Send
    {
        async move {
            let changes = self.complete(completions, policy, request.now).await?;
            let claims = self.claim(request).await?;
            Ok((changes, claims))
        }
    }

    /// Moves pending deliveries enqueued before `cutoff` to the dead letters (reason
    /// [`DeadReason::Expired`](crate::DeadReason::Expired)); returns how many.
    fn expire(
        &self,
        cutoff: SystemTime,
        now: SystemTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Dead letters with ids above `after`, in id order, at most `limit`.
    fn dead_letters(
        &self,
        after: Option<DeliveryId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, StoreError>> + Send;

    /// Makes dead letters pending again, due at `now`, with their attempts and age reset;
    /// returns how many.
    fn requeue(
        &self,
        which: &Requeue,
        now: SystemTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Deletes dead letters that died before `cutoff`; returns how many.
    fn purge_dead(
        &self,
        cutoff: SystemTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Every known host's state, by host name.
    fn hosts(&self) -> impl Future<Output = Result<Vec<HostState>, StoreError>> + Send;

    /// Closes a host's breaker and clears its unavailable mark (call it when the host is
    /// heard from, for example on a signed request from it); its waiting deliveries become
    /// due. Returns whether the host was known.
    fn mark_host_available(
        &self,
        host: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// How many deliveries are pending, in flight and dead.
    fn counts(
        &self,
        now: SystemTime,
    ) -> impl Future<Output = Result<QueueCounts, StoreError>> + Send;
}

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error while {operation}: {source}")]
    Database {
        /// What the store was doing.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be created or upgraded.
    #[error("migrating the queue schema failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value is out of range (the database was edited by hand, or is corrupt).
    #[error("column {column} holds {value}, which is out of range")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// The value.
        value: i64,
    },
    /// A batch of rows the database returned as JSON could not be read back (the database
    /// was edited by hand, or is corrupt).
    #[error("reading back {operation} failed: {source}")]
    Decode {
        /// What the store was reading.
        operation: &'static str,
        /// What was wrong with it.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A PostgreSQL schema name must be an identifier (letters, digits, `_`).
    #[error("{name:?} is not a usable schema name (letters, digits and _ only)")]
    InvalidSchemaName {
        /// The name.
        name: String,
    },
}

impl StoreError {
    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Database { operation, source }
    }
}

/// A due delivery as the claim planner sees it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Candidate {
    /// The delivery.
    pub id: DeliveryId,
    /// Its lane.
    pub host: String,
}

impl Candidate {
    /// Delivery `id`, on lane `host`.
    pub fn new(id: DeliveryId, host: impl Into<String>) -> Self {
        Self {
            id,
            host: host.into(),
        }
    }
}

/// What a claim does, decided the same way by every store.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ClaimPlan {
    /// The deliveries to claim, in order, with whether each is a probe.
    pub chosen: Vec<(DeliveryId, bool)>,
    /// Host states to write (probes started).
    pub host_updates: Vec<HostState>,
    /// Hosts whose waiting deliveries should be pushed to the end of their block (made due
    /// then, without using an attempt), so that they stop being scanned until then.
    pub pushes: BTreeMap<String, SystemTime>,
}

/// Plans a claim over `candidates` (due deliveries, oldest due first, only the oldest
/// unfinished one of each ordering key and host), given the states of their hosts (a host
/// absent from `hosts` is skipped: another worker holds it) and the live claims per host:
/// which to claim (at most `request.limit`, at most `request.limit_for(host)` in flight per
/// host, none on a blocked host, one probe on a half-open one), which host states to write and
/// which hosts' deliveries to push back.
pub fn plan_claim(
    candidates: &[Candidate],
    hosts: &HashMap<String, HostState>,
    in_flight: &HashMap<String, u64>,
    request: &ClaimRequest,
) -> ClaimPlan {
    let mut plan = ClaimPlan::default();
    // Remaining allowance per host this round.
    let mut allowance: HashMap<&str, u64> = HashMap::new();
    for candidate in candidates {
        if plan.chosen.len() >= request.limit {
            break;
        }
        let Some(state) = hosts.get(&candidate.host) else {
            continue;
        };
        let left = match allowance.get_mut(candidate.host.as_str()) {
            Some(left) => left,
            None => {
                let initial = match breaker::admit(state, request.now) {
                    Admission::Blocked(until) => {
                        plan.pushes.insert(candidate.host.clone(), until);
                        0
                    }
                    Admission::Open => {
                        let per_host =
                            u64::try_from(request.limit_for(&candidate.host)).unwrap_or(u64::MAX);
                        per_host
                            .saturating_sub(in_flight.get(&candidate.host).copied().unwrap_or(0))
                    }
                    Admission::Probe => {
                        let mut probing = state.clone();
                        breaker::start_probe(&mut probing, request.now, request.lease);
                        if let Some(until) = probing.blocked_until {
                            plan.pushes.insert(candidate.host.clone(), until);
                        }
                        plan.host_updates.push(probing);
                        plan.chosen.push((candidate.id, true));
                        0
                    }
                };
                allowance.entry(candidate.host.as_str()).or_insert(initial)
            }
        };
        if *left > 0 {
            *left -= 1;
            plan.chosen.push((candidate.id, false));
        }
    }
    plan
}

/// Applies completions' host events to `state`, returning the change if the breaker moved.
pub(crate) fn apply_host_events<'a>(
    state: &mut HostState,
    completions: impl Iterator<Item = &'a Completion>,
    policy: &BreakerPolicy,
    now: SystemTime,
) -> Option<HostChange> {
    let before = (state.breaker, state.unavailable);
    for completion in completions {
        breaker::apply(state, completion.host_event, now, policy);
    }
    (before != (state.breaker, state.unavailable)).then(|| HostChange {
        host: state.host.clone(),
        from: before.0,
        to: state.breaker,
        unavailable: state.unavailable,
    })
}

/// What completions did to their hosts, decided the same way by every store.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct HostUpdates<'a> {
    /// Breakers that moved, to report.
    pub changes: Vec<HostChange>,
    /// Host states to write.
    pub changed: Vec<HostState>,
    /// Hosts whose breaker closed, with the end of the block their deliveries were pushed to:
    /// deliveries of theirs due up to then become due now.
    pub released: Vec<(&'a str, SystemTime)>,
}

/// Host states by name, as a store holds them while it completes deliveries.
pub trait HostMap {
    /// The state of `host`, if known.
    fn host_mut(&mut self, host: &str) -> Option<&mut HostState>;
}

impl HostMap for HashMap<String, HostState> {
    fn host_mut(&mut self, host: &str) -> Option<&mut HostState> {
        self.get_mut(host)
    }
}

impl HostMap for BTreeMap<String, HostState> {
    fn host_mut(&mut self, host: &str) -> Option<&mut HostState> {
        self.get_mut(host)
    }
}

/// The hosts of the completions that took effect (their ids are in `current`), sorted.
pub(crate) fn completed_hosts<'a>(
    completions: &'a [Completion],
    current: &HashSet<i64>,
) -> Vec<&'a str> {
    let mut hosts: Vec<&str> = completions
        .iter()
        .filter(|c| current.contains(&c.id.0))
        .map(|c| c.host.as_str())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    hosts
}

/// Applies the host events of the completions that took effect (ids in `current`: those whose
/// claim was still current) to `hosts`, in delivery-id order, host by host in name order.
pub fn plan_host_updates<'a>(
    completions: &'a [Completion],
    current: &HashSet<i64>,
    hosts: &mut impl HostMap,
    policy: &BreakerPolicy,
    now: SystemTime,
) -> HostUpdates<'a> {
    let mut applied: Vec<&Completion> = completions
        .iter()
        .filter(|c| current.contains(&c.id.0))
        .collect();
    applied.sort_by_key(|c| c.id);
    let mut by_host: BTreeMap<&str, Vec<&Completion>> = BTreeMap::new();
    for completion in applied {
        by_host
            .entry(&completion.host)
            .or_default()
            .push(completion);
    }
    let mut updates = HostUpdates::default();
    for (host, completions) in by_host {
        let Some(state) = hosts.host_mut(host) else {
            continue;
        };
        let before = state.clone();
        if let Some(change) = apply_host_events(state, completions.into_iter(), policy, now) {
            updates.changes.push(change);
        }
        if *state != before {
            updates.changed.push(state.clone());
        }
        if let Some(upto) = released_block(&before, state, now) {
            updates.released.push((host, upto));
        }
    }
    updates
}

/// The activities of an enqueue that have deliveries (the others store nothing).
pub(crate) fn with_deliveries(activities: &[NewActivity]) -> Vec<&NewActivity> {
    activities
        .iter()
        .filter(|a| !a.deliveries.is_empty())
        .collect()
}

/// The activities a batch of claims needs, each once.
pub(crate) fn activities_of(claimed: &HashMap<i64, (ClaimedDelivery, i64)>) -> Vec<i64> {
    let mut wanted: Vec<i64> = claimed.values().map(|(_, activity)| *activity).collect();
    wanted.sort_unstable();
    wanted.dedup();
    wanted
}

/// The claimed deliveries in the order the plan chose them, marked as probes where the plan
/// said so, each with its activity's body and key reference. `claimed` maps a delivery id to
/// its claim and its activity's id; a chosen delivery missing from it was not claimed.
pub(crate) fn assemble_claims(
    chosen: Vec<(DeliveryId, bool)>,
    mut claimed: HashMap<i64, (ClaimedDelivery, i64)>,
    bodies: &HashMap<i64, (bytes::Bytes, String)>,
) -> Vec<ClaimedDelivery> {
    let mut out = Vec::with_capacity(chosen.len());
    for (id, probe) in chosen {
        if let Some((mut claim, activity)) = claimed.remove(&id.0) {
            claim.probe = probe;
            if let Some((body, key_ref)) = bodies.get(&activity) {
                claim.body = body.clone();
                claim.key_ref = key_ref.clone();
            }
            out.push(claim);
        }
    }
    out
}

/// A fresh claim token.
pub fn new_token() -> i64 {
    fastrand::i64(..)
}

/// After a breaker closes, deliveries that claims pushed to the end of its block are due
/// again: returns the end of the old block, up to which pushed deliveries become due `now`.
pub fn released_block(
    before: &HostState,
    after: &HostState,
    now: SystemTime,
) -> Option<SystemTime> {
    let old = before.blocked_until.filter(|until| *until > now)?;
    let still_blocked = after.blocked_until.is_some_and(|until| until >= old);
    (!still_blocked).then_some(old)
}
