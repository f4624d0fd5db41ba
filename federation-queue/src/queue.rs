//! The queue: enqueueing, the worker loop (lanes, caps, retries, breakers) and operations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

/// How long a worker may hold finished attempts before recording them, to batch them. A busy
/// worker records most outcomes with its next claim (at half its cap) well within this, so
/// that each durable commit carries a claim and its outcomes together; 10 ms made four
/// commits per claim at 2,700 deliveries a second.
const FLUSH_DELAY: Duration = Duration::from_millis(50);

/// How long a host's adaptive cap is remembered after its last answer.
const FORGET_HOST_LIMITS_AFTER: Duration = Duration::from_secs(3600);

/// After a claim that took all that was due (fewer than it asked for), how long finished
/// attempts and enqueues do not start another while attempts are in flight (the poll interval
/// still does, and an enqueue into an idle worker claims at once): a worker below its cap would
/// otherwise ask the store after every finished attempt and every enqueue, and with activities
/// enqueued one at a time its claims, one delivery each, took the single SQLite writer from
/// the enqueues (see `docs/federation-queue.md`, "Enqueueing while the worker runs"). A
/// delivery enqueued into a busy worker waits at most this long for its claim.
const SHORT_CLAIM_PAUSE: Duration = Duration::from_millis(10);

use bytes::Bytes;
use http::HeaderName;
use http::header::{ACCEPT, CONTENT_TYPE};
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info_span, warn};
use url::Url;

use http_signatures::{DoubleKnock, KeyKind, KnockOutcome, PeerPreference};

use crate::breaker::BreakerPolicy;
use crate::clock::{Clock, SystemClock};
use crate::commit::GroupCommit;
use crate::concurrency::{Bounds, HostLimits, Signal};
use crate::keys::{KeyLookupError, KeyProvider};
use crate::model::{
    ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeadReason, DeliveryId, HostChange,
    HostEvent, HostState, NewActivity, NewDelivery, Outcome, QueueCounts, Requeue,
};
use crate::retry::{RetryPolicy, Verdict, classify_status, decide};
use crate::signing::SigningPool;
use crate::store::{Store, StoreError};
use crate::transport::{Transport, TransportError};

/// The media type deliveries are POSTed with.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// One activity to deliver.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Enqueue {
    /// The exact bytes to POST (stored once, whatever the number of recipients).
    pub activity: Bytes,
    /// The recipients.
    pub recipients: Vec<Recipient>,
    /// The signing key reference, resolved by the [`KeyProvider`] at each attempt.
    pub key_ref: String,
    /// Deliveries with the same ordering key (for example the object's id) to the same host
    /// arrive in enqueue order: Create before Update before Delete.
    pub ordering_key: Option<String>,
}

impl Enqueue {
    /// `activity`, to be signed with `key_ref`, with no recipients yet.
    pub fn new(activity: impl Into<Bytes>, key_ref: impl Into<String>) -> Self {
        Self {
            activity: activity.into(),
            recipients: Vec::new(),
            key_ref: key_ref.into(),
            ordering_key: None,
        }
    }

    /// Adds a recipient.
    pub fn with_recipient(mut self, recipient: Recipient) -> Self {
        self.recipients.push(recipient);
        self
    }

    /// Adds recipients.
    pub fn with_recipients(mut self, recipients: impl IntoIterator<Item = Recipient>) -> Self {
        self.recipients.extend(recipients);
        self
    }

    /// Sets the ordering key.
    pub fn with_ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }
}

/// A recipient's inbox, and its server's shared inbox if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recipient {
    /// The actor's `inbox`.
    pub inbox: Url,
    /// The actor's `endpoints.sharedInbox`: recipients sharing one get a single delivery.
    pub shared_inbox: Option<Url>,
}

impl Recipient {
    /// A recipient with its own inbox only.
    pub fn new(inbox: Url) -> Self {
        Self {
            inbox,
            shared_inbox: None,
        }
    }

    /// Sets the shared inbox.
    pub fn with_shared_inbox(mut self, shared_inbox: Url) -> Self {
        self.shared_inbox = Some(shared_inbox);
        self
    }
}

/// Enqueueing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// An inbox URL cannot be delivered to.
    #[error("cannot deliver to {url}: {reason}")]
    InvalidInbox {
        /// The URL.
        url: Url,
        /// Why.
        reason: &'static str,
    },
    /// A key reference or an ordering key cannot be stored: empty (a key reference), longer
    /// than [`MAX_KEY_BYTES`], or holding a NUL character (PostgreSQL's text refuses it).
    /// Checked before the enqueue joins others, so it fails alone.
    #[error("the {field} cannot be stored: {reason}")]
    InvalidField {
        /// `key_ref` or `ordering_key`.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The store failed; nothing was enqueued.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transaction that carried this enqueue together with others that arrived at the
    /// same time failed; nothing of it was enqueued (every enqueue in it gets this error).
    #[error("the transaction of this enqueue and of those written with it failed: {source}")]
    Group {
        /// The store's error, shared by every enqueue of the transaction.
        #[source]
        source: Arc<StoreError>,
    },
    /// The store reported a number of delivery ids other than the deliveries written (a store
    /// of one's own that does not keep [`Store::enqueue`]'s contract); the transaction
    /// committed.
    #[error("the store returned {got} delivery ids for {expected} deliveries")]
    Miscounted {
        /// Deliveries written.
        expected: usize,
        /// Ids returned.
        got: usize,
    },
    /// The task writing this enqueue ended before it reported (the store panicked, or the
    /// runtime is shutting down): whether it was stored is unknown.
    #[error("the enqueue was abandoned before it was reported written")]
    Abandoned,
}

/// The longest key reference or ordering key an enqueue may carry, in bytes.
pub const MAX_KEY_BYTES: usize = 2048;

/// Checks a key reference or an ordering key before it joins a group of enqueues: what the
/// stores would refuse must fail its own enqueue only, never the others written with it.
fn check_key(field: &'static str, value: &str, may_be_empty: bool) -> Result<(), EnqueueError> {
    let reason = if value.is_empty() && !may_be_empty {
        "it is empty"
    } else if value.len() > MAX_KEY_BYTES {
        "it is longer than MAX_KEY_BYTES"
    } else if value.contains('\0') {
        "it holds a NUL character"
    } else {
        return Ok(());
    };
    Err(EnqueueError::InvalidField { field, reason })
}

/// Collapses recipients to one delivery per distinct target: the shared inbox when there is
/// one, else the inbox.
pub fn collapse_recipients(recipients: &[Recipient]) -> Result<Vec<NewDelivery>, EnqueueError> {
    let mut seen = HashSet::new();
    let mut deliveries = Vec::new();
    for recipient in recipients {
        let target = recipient.shared_inbox.as_ref().unwrap_or(&recipient.inbox);
        let host = lane(target)?;
        if seen.insert(target.as_str()) {
            deliveries.push(NewDelivery::new(target.as_str(), host));
        }
    }
    Ok(deliveries)
}

/// The lane of an inbox: its host, with the port when not the scheme's default.
fn lane(url: &Url) -> Result<String, EnqueueError> {
    if !matches!(url.scheme(), "https" | "http") {
        return Err(EnqueueError::InvalidInbox {
            url: url.clone(),
            reason: "not an http(s) URL",
        });
    }
    let Some(host) = url.host_str() else {
        return Err(EnqueueError::InvalidInbox {
            url: url.clone(),
            reason: "no host",
        });
    };
    let host = host.to_ascii_lowercase();
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// How the worker schedules.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct QueueConfig {
    /// Requests in flight at once, all hosts together (per worker).
    pub max_in_flight: usize,
    /// Requests in flight at once to one host (across workers sharing the store) at first:
    /// each worker then adapts its host's cap between [`QueueConfig::per_host_floor`] and
    /// [`QueueConfig::per_host_ceiling`] to how the host answers (see
    /// `docs/federation-queue.md`, "Per-host concurrency").
    pub max_in_flight_per_host: usize,
    /// The least a host's cap falls to when it fails or answers slowly.
    pub per_host_floor: usize,
    /// The most a host's cap grows to when it answers fast and without errors; at or below
    /// [`QueueConfig::max_in_flight_per_host`], the cap is fixed.
    pub per_host_ceiling: usize,
    /// An answer slower than this (from sending the request to its response) counts as the
    /// host slowing down: its cap shrinks by a quarter.
    pub slow_answer: Duration,
    /// Deliveries claimed per store round trip at most.
    pub claim_batch: usize,
    /// How long a claim lasts; must exceed the transport's total timeout, since a claim whose
    /// lease lapses is taken by another worker ([`Queue::run`] refuses to start otherwise, for
    /// transports that say their bound, as [`ReqwestTransport`](crate::ReqwestTransport) does).
    pub lease: Duration,
    /// How often to look for due deliveries when nothing else wakes the worker.
    pub poll_interval: Duration,
    /// How long shutdown waits for requests in flight before giving their claims back.
    pub drain_timeout: Duration,
    /// How often to move deliveries older than the maximum age to the dead letters.
    pub expire_interval: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Circuit breakers.
    pub breaker: BreakerPolicy,
    /// A header carrying the delivery id on each attempt (the same on retries), which lets a
    /// receiver drop duplicates. `None` by default.
    pub delivery_id_header: Option<HeaderName>,
    /// Double-knocking: when a host answers 400 or 401, sign again with the other standard (or
    /// as its `Accept-Signature` asks) and resend once, within the same attempt; remember per
    /// host what was accepted (see [`Queue::peer_preferences`]). On by default. The first knock
    /// uses the signer's own standard until a host's preference is known.
    pub double_knock: bool,
    /// Threads that make RSA signatures, away from the async runtime's workers; 0 makes them
    /// on the runtime like everything else. Default: one per core.
    ///
    /// An RSA-2048 signature takes about a millisecond of CPU. Made inline, hundreds of them
    /// queue up on the runtime's workers, and every other task of the runtime (the worker's
    /// own store round trips, the application's request handlers) waits behind them: tens of
    /// milliseconds per step. On these threads they do not; the threads start when the first
    /// RSA signature is needed. Ed25519 and ECDSA signatures (tens of microseconds) are
    /// always made inline, where handing them over would cost more than it saves.
    ///
    /// In a process that only delivers with RSA keys, give the async runtime the cores these
    /// threads leave, and at least one: a runtime thread without a core of its own is woken to
    /// share out tasks, and each wake-up takes the core from a signature.
    pub signing_threads: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_in_flight_per_host: 8,
            per_host_floor: 2,
            per_host_ceiling: 32,
            slow_answer: Duration::from_secs(2),
            claim_batch: 128,
            lease: Duration::from_secs(5 * 60),
            poll_interval: Duration::from_secs(1),
            drain_timeout: Duration::from_secs(30),
            expire_interval: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            delivery_id_header: None,
            double_knock: true,
            signing_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl QueueConfig {
    /// The defaults: 256 in flight, 8 per host at first (adapting between 2 and 32), 5-minute
    /// leases, a week of retries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the global and per-host in-flight caps.
    pub fn with_in_flight(mut self, total: usize, per_host: usize) -> Self {
        self.max_in_flight = total.max(1);
        self.max_in_flight_per_host = per_host.max(1);
        self
    }

    /// Sets [`QueueConfig::per_host_floor`] and [`QueueConfig::per_host_ceiling`]: a ceiling at
    /// or below [`QueueConfig::max_in_flight_per_host`] fixes the cap.
    pub fn with_per_host_range(mut self, floor: usize, ceiling: usize) -> Self {
        self.per_host_floor = floor.max(1);
        self.per_host_ceiling = ceiling.max(1);
        self
    }

    /// Sets [`QueueConfig::slow_answer`].
    pub fn with_slow_answer(mut self, slow: Duration) -> Self {
        self.slow_answer = slow;
        self
    }

    /// Sets [`QueueConfig::claim_batch`].
    pub fn with_claim_batch(mut self, batch: usize) -> Self {
        self.claim_batch = batch.max(1);
        self
    }

    /// Sets [`QueueConfig::lease`].
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets [`QueueConfig::poll_interval`].
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets [`QueueConfig::drain_timeout`].
    pub fn with_drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Sets [`QueueConfig::retry`].
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets [`QueueConfig::breaker`].
    pub fn with_breaker(mut self, breaker: BreakerPolicy) -> Self {
        self.breaker = breaker;
        self
    }

    /// Sets [`QueueConfig::double_knock`].
    pub fn with_double_knock(mut self, on: bool) -> Self {
        self.double_knock = on;
        self
    }

    /// Sets [`QueueConfig::signing_threads`] (0: sign on the async runtime).
    pub fn with_signing_threads(mut self, threads: usize) -> Self {
        self.signing_threads = threads;
        self
    }

    /// Sets [`QueueConfig::delivery_id_header`].
    pub fn with_delivery_id_header(mut self, header: HeaderName) -> Self {
        self.delivery_id_header = Some(header);
        self
    }
}

/// Something the caller may want to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Delivered.
    Delivered {
        /// The delivery.
        id: DeliveryId,
        /// The inbox.
        inbox: String,
    },
    /// The inbox answered 410 Gone: the actor is gone; stop addressing it.
    Gone {
        /// The delivery.
        id: DeliveryId,
        /// The inbox.
        inbox: String,
    },
    /// Given up: now a dead letter.
    Dead {
        /// The delivery.
        id: DeliveryId,
        /// The inbox.
        inbox: String,
        /// Why.
        reason: DeadReason,
    },
    /// A host's breaker changed state.
    Host(HostChange),
}

/// Counters, as a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Deliveries enqueued through this handle.
    pub queued: u64,
    /// Requests in flight now.
    pub in_flight: u64,
    /// Delivered (2xx).
    pub delivered: u64,
    /// Attempts that will be retried.
    pub retried: u64,
    /// Attempts refused for good (410 included).
    pub failed: u64,
    /// Deliveries moved to the dead letters.
    pub dead: u64,
    /// The same, per host.
    pub hosts: BTreeMap<String, HostMetrics>,
}

/// Per-host counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostMetrics {
    /// Requests in flight now.
    pub in_flight: u64,
    /// Delivered.
    pub delivered: u64,
    /// Retried.
    pub retried: u64,
    /// Refused for good.
    pub failed: u64,
    /// Dead.
    pub dead: u64,
    /// The host's current cap on requests in flight, as this process's workers adapt it
    /// (see [`QueueConfig::max_in_flight_per_host`]).
    pub cap: u64,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    in_flight: AtomicU64,
    delivered: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    dead: AtomicU64,
    hosts: Mutex<HashMap<String, HostMetrics>>,
}

/// The worker could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The store kept failing while draining at shutdown; the claims it could not record
    /// come back after their lease.
    #[error("the store failed while draining: {0}")]
    Store(#[from] StoreError),
    /// The lease is not longer than the transport's longest request: another worker could take
    /// a delivery over while it is still in flight.
    #[error(
        "the lease ({lease:?}) must be longer than the transport's longest request ({request:?})"
    )]
    LeaseTooShort {
        /// The configured lease.
        lease: Duration,
        /// The transport's bound on one request.
        request: Duration,
    },
}

/// A durable delivery queue: enqueue activities, run workers, inspect and repair.
///
/// Cheap to clone; clones share the store, transport, keys, counters and events.
#[derive(Debug)]
pub struct Queue<S, T, K, C = SystemClock> {
    shared: Arc<Shared<S, T, K, C>>,
}

impl<S, T, K, C> Clone for Queue<S, T, K, C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

#[derive(Debug)]
struct Shared<S, T, K, C> {
    store: S,
    transport: T,
    keys: K,
    clock: C,
    config: QueueConfig,
    counters: Counters,
    events: broadcast::Sender<Event>,
    wake: Notify,
    /// Something was enqueued since a worker of this process last began a claim, and [`wake`]
    /// was notified for it: enqueues that find this set do not notify again (see
    /// `Shared::enqueued`).
    ///
    /// [`wake`]: Shared::wake
    enqueued: AtomicBool,
    /// The signature standard each host (lane) accepted last.
    preferences: Mutex<HashMap<String, PeerPreference>>,
    /// Where RSA signatures are made, started on first use; `None` inside: inline (configured
    /// so, or the threads could not be started).
    signing: OnceLock<Option<SigningPool>>,
    /// The adaptive per-host caps of this process's workers.
    limits: Mutex<HostLimits>,
    /// Enqueues waiting to be written together: each caller's activities, and its ids back.
    group: GroupCommit<Vec<NewActivity>, Result<Vec<DeliveryId>, GroupError>>,
}

/// Why a group write gave a caller no ids.
#[derive(Debug)]
enum GroupError {
    /// The caller was alone in its transaction, which failed.
    Alone(StoreError),
    /// The transaction, shared with other callers, failed.
    Shared(Arc<StoreError>),
    /// The store returned fewer or more ids than the group had deliveries.
    Miscounted {
        /// Deliveries written.
        expected: usize,
        /// Ids returned.
        got: usize,
    },
}

impl<S: Store, T: Transport, K: KeyProvider> Queue<S, T, K, SystemClock> {
    /// A queue over `store`, sending through `transport`, signing with `keys`, with the
    /// default configuration and the system clock.
    pub fn new(store: S, transport: T, keys: K) -> Self {
        Self::with_clock(store, transport, keys, SystemClock, QueueConfig::default())
    }

    /// A queue with a configuration and the system clock.
    pub fn with_config(store: S, transport: T, keys: K, config: QueueConfig) -> Self {
        Self::with_clock(store, transport, keys, SystemClock, config)
    }
}

impl<S: Store, T: Transport, K: KeyProvider, C: Clock> Queue<S, T, K, C> {
    /// A queue with a configuration and a clock of its own.
    pub fn with_clock(store: S, transport: T, keys: K, clock: C, config: QueueConfig) -> Self {
        let (events, _) = broadcast::channel(4096);
        Self {
            shared: Arc::new(Shared {
                store,
                transport,
                keys,
                clock,
                counters: Counters::default(),
                events,
                wake: Notify::new(),
                enqueued: AtomicBool::new(false),
                preferences: Mutex::new(HashMap::new()),
                signing: OnceLock::new(),
                limits: Mutex::new(HostLimits::new(Bounds::new(
                    config.max_in_flight_per_host,
                    config.per_host_floor,
                    config.per_host_ceiling,
                    config.slow_answer,
                ))),
                group: GroupCommit::default(),
                config,
            }),
        }
    }

    /// The signature standard each host accepted last, learnt by double-knocking (hosts are
    /// lanes: `host` or `host:port`). Persist it if you like, and give it back with
    /// [`Queue::set_peer_preference`] after a restart.
    pub fn peer_preferences(&self) -> BTreeMap<String, PeerPreference> {
        self.shared
            .preferences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Sets what is known of `host`'s signature standard.
    pub fn set_peer_preference(&self, host: impl Into<String>, preference: PeerPreference) {
        self.shared
            .preferences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(host.into(), preference);
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.shared.store
    }

    /// The configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.shared.config
    }

    /// Enqueues one activity; returns its deliveries' ids (recipients sharing an inbox or a
    /// shared inbox get one delivery). Durable when this returns.
    ///
    /// Enqueues that arrive while another is being written are written together, in one
    /// transaction (group commit): a lone enqueue is written at once, one that comes during a
    /// write waits for that one transaction and goes in the next. The future resolves once the
    /// transaction holding this activity has committed; if it fails, every enqueue in it gets
    /// the error ([`EnqueueError::Group`] when it held others). The write does not depend on
    /// the caller's future: dropped before it resolves, the activity may still be enqueued.
    pub async fn enqueue(&self, item: Enqueue) -> Result<Vec<DeliveryId>, EnqueueError> {
        self.enqueue_batch(std::slice::from_ref(&item)).await
    }

    /// Enqueues several activities in one transaction (together with any other enqueues
    /// written at the same time, as [`Queue::enqueue`] says).
    pub async fn enqueue_batch(&self, items: &[Enqueue]) -> Result<Vec<DeliveryId>, EnqueueError> {
        let mut activities = Vec::with_capacity(items.len());
        for item in items {
            check_key("key_ref", &item.key_ref, false)?;
            if let Some(ordering_key) = &item.ordering_key {
                check_key("ordering_key", ordering_key, true)?;
            }
            let mut activity = NewActivity::new(item.activity.clone(), item.key_ref.clone());
            activity.ordering_key = item.ordering_key.clone();
            activity.deliveries = collapse_recipients(&item.recipients)?;
            activities.push(activity);
        }
        let (reply, start) = self.shared.group.join(activities);
        if start {
            let shared = Arc::clone(&self.shared);
            let write = shared.write_groups();
            match tokio::runtime::Handle::try_current() {
                // A task of its own: a caller that stops waiting does not stop the write.
                Ok(runtime) => drop(runtime.spawn(write)),
                Err(_) => write.await,
            }
        }
        match reply.await {
            Ok(Ok(ids)) => Ok(ids),
            Ok(Err(GroupError::Alone(error))) => Err(EnqueueError::Store(error)),
            Ok(Err(GroupError::Shared(source))) => Err(EnqueueError::Group { source }),
            Ok(Err(GroupError::Miscounted { expected, got })) => {
                Err(EnqueueError::Miscounted { expected, got })
            }
            Err(_) => Err(EnqueueError::Abandoned),
        }
    }

    /// Receives [`Event`]s from now on. A receiver that falls more than 4096 events behind
    /// loses the oldest.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// A snapshot of the counters of this process.
    pub fn metrics(&self) -> Metrics {
        let counters = &self.shared.counters;
        let limits = self.limits();
        let hosts = counters
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(host, metrics)| {
                let mut metrics = metrics.clone();
                metrics.cap = limits.cap(host) as u64;
                (host.clone(), metrics)
            })
            .collect();
        drop(limits);
        Metrics {
            queued: counters.queued.load(Ordering::Relaxed),
            in_flight: counters.in_flight.load(Ordering::Relaxed),
            delivered: counters.delivered.load(Ordering::Relaxed),
            retried: counters.retried.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            dead: counters.dead.load(Ordering::Relaxed),
            hosts,
        }
    }

    /// Deliveries per state, from the store (all workers).
    pub async fn counts(&self) -> Result<QueueCounts, StoreError> {
        self.shared.store.counts(self.shared.clock.now()).await
    }

    /// Every host's breaker state.
    pub async fn hosts(&self) -> Result<Vec<HostState>, StoreError> {
        self.shared.store.hosts().await
    }

    /// Dead letters after `after`, at most `limit`.
    pub async fn dead_letters(
        &self,
        after: Option<DeliveryId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.shared.store.dead_letters(after, limit).await
    }

    /// Requeues dead letters.
    pub async fn requeue(&self, which: &Requeue) -> Result<u64, StoreError> {
        let count = self
            .shared
            .store
            .requeue(which, self.shared.clock.now())
            .await?;
        self.shared.wake.notify_one();
        Ok(count)
    }

    /// Closes a host's breaker (it was heard from).
    pub async fn mark_host_available(&self, host: &str) -> Result<bool, StoreError> {
        let known = self
            .shared
            .store
            .mark_host_available(host, self.shared.clock.now())
            .await?;
        self.shared.wake.notify_one();
        Ok(known)
    }

    /// Runs a worker until `shutdown` completes, then stops claiming, waits up to the drain
    /// timeout for requests in flight, records their outcomes and returns. Several workers
    /// (in this process or others) may run over one store.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<(), RunError> {
        let shared = &self.shared;
        let config = &shared.config;
        if let Some(request) = shared.transport.max_request_time()
            && config.lease <= request
        {
            return Err(RunError::LeaseTooShort {
                lease: config.lease,
                request,
            });
        }
        let mut tasks: JoinSet<(Completion, Option<Signal>)> = JoinSet::new();
        let mut running: HashMap<tokio::task::Id, ClaimedDelivery> = HashMap::new();
        let mut done: Vec<(Completion, String)> = Vec::new();
        let mut last_expire: Option<tokio::time::Instant> = None;
        let mut store_failures = 0_u32;
        // Claims and completions are batched. The worker claims once half its cap (or of the
        // claim batch) is free, or when it has nothing in flight, and records the
        // outcomes it holds in the same store call ([`Store::complete_and_claim`], one
        // transaction), first, so that the store's per-host counts are current and a worker
        // never holds more uncommitted claims and outcomes than its cap (what a kill can
        // duplicate). Between claims it records outcomes once as many have gathered, after
        // `FLUSH_DELAY` at most, or at once when nothing is in flight. After a claim that found
        // fewer than it asked for (all that was due), the next one waits for the poll interval,
        // or for an enqueue or a finished attempt (which may free a capped host's slot or the
        // next delivery of an ordering key) and then `SHORT_CLAIM_PAUSE` at least: a worker
        // whose attempts hang on a slow host does not ask the store again and again while
        // nothing has changed, and activities enqueued one at a time are claimed a few at a
        // time. An enqueue into a worker with nothing in flight is claimed at once.
        let refill_at = config
            .max_in_flight
            .min(config.claim_batch)
            .div_ceil(2)
            .max(1);
        let mut done_since: Option<tokio::time::Instant> = None;
        // When the last claim that took fewer than it asked for was made.
        let mut last_short_claim: Option<tokio::time::Instant> = None;
        // Whether an attempt finished, or something was enqueued, since then.
        let mut finished_since_short = false;
        let mut woken_since_short = false;
        // Whether the last short claim found something, and an attempt to a host at its cap
        // finished since: its free slot is claimed at once, as the deliveries waiting behind
        // the cap are due already.
        let mut last_short_found = false;
        let mut freed_capped_since_short = false;
        tokio::pin!(shutdown);
        loop {
            let room = config.max_in_flight.saturating_sub(tasks.len());
            let claim = room > 0
                && (room >= refill_at || tasks.is_empty())
                && store_failures == 0
                && last_short_claim.is_none_or(|at| {
                    let waited = at.elapsed();
                    waited >= config.poll_interval
                        || (woken_since_short && tasks.is_empty())
                        || (freed_capped_since_short && last_short_found)
                        || ((finished_since_short || woken_since_short)
                            && waited >= SHORT_CLAIM_PAUSE)
                });
            // A claim records the outcomes held in the same store call.
            if !done.is_empty()
                && !claim
                && (done.len() >= refill_at
                    || tasks.is_empty()
                    || done_since.is_some_and(|at| at.elapsed() >= FLUSH_DELAY))
            {
                match self.flush(&mut done).await {
                    Ok(()) => store_failures = 0,
                    Err(error) => {
                        store_failures = store_failures.saturating_add(1);
                        warn!(%error, "recording outcomes failed; will retry");
                    }
                }
            }
            if last_expire.is_none_or(|at| at.elapsed() >= config.expire_interval) {
                last_expire = Some(tokio::time::Instant::now());
                if let Some(before) = tokio::time::Instant::now()
                    .into_std()
                    .checked_sub(FORGET_HOST_LIMITS_AFTER)
                {
                    self.limits().forget_idle(before);
                }
                let now = shared.clock.now();
                match shared
                    .store
                    .expire(
                        now - config.retry.max_age.min(elapsed_since_epoch(now)),
                        now,
                    )
                    .await
                {
                    Ok(0) => {}
                    Ok(expired) => {
                        shared.counters.dead.fetch_add(expired, Ordering::Relaxed);
                        debug!(expired, "expired old deliveries");
                    }
                    Err(error) => warn!(%error, "expiring old deliveries failed"),
                }
            }
            done_since = if done.is_empty() {
                None
            } else {
                done_since.or_else(|| Some(tokio::time::Instant::now()))
            };
            let mut full_batch = false;
            if claim {
                let limit = room.min(config.claim_batch);
                let request = ClaimRequest::new(
                    shared.clock.now(),
                    limit,
                    config.max_in_flight_per_host,
                    config.lease,
                )
                .with_host_limits(self.limits().overrides());
                shared.claiming();
                let claimed = if done.is_empty() {
                    shared.store.claim(&request).await
                } else {
                    self.flush_and_claim(&mut done, &request).await
                };
                match claimed {
                    Ok(claims) => {
                        full_batch = claims.len() == limit;
                        last_short_claim = (!full_batch).then(tokio::time::Instant::now);
                        last_short_found = !claims.is_empty();
                        freed_capped_since_short = false;
                        finished_since_short = false;
                        woken_since_short = false;
                        for claim in claims {
                            self.count_start(&claim.host);
                            let span = info_span!(
                                "deliver",
                                id = %claim.id,
                                host = %claim.host,
                                attempt = claim.attempts,
                                probe = claim.probe
                            );
                            let handle = tasks
                                .spawn(Arc::clone(shared).attempt(claim.clone()).instrument(span));
                            running.insert(handle.id(), claim);
                        }
                    }
                    Err(error) => {
                        store_failures = 1;
                        warn!(%error, "claiming deliveries (and recording outcomes) failed; will retry");
                    }
                }
                if done.is_empty() {
                    done_since = None;
                }
            }
            if full_batch && tasks.len() < config.max_in_flight {
                // More may be due right now.
                tokio::task::yield_now().await;
                continue;
            }
            let mut pause = if store_failures > 0 {
                config.poll_interval.max(Duration::from_millis(100))
            } else {
                config.poll_interval
            };
            if let (Some(at), 0) = (done_since, store_failures) {
                pause = pause.min(FLUSH_DELAY.saturating_sub(at.elapsed()));
            }
            if let Some(at) = last_short_claim {
                let since = at.elapsed();
                // Finished attempts may have freed a capped host's slot, and enqueues brought
                // work: look again after the pause. Otherwise the next look is a poll interval
                // after the short claim.
                // (A freed slot of a capped host is claimed when the loop comes round after
                // the attempt's end, if there is room: no pause to wait for.)
                let next = if finished_since_short || woken_since_short {
                    SHORT_CLAIM_PAUSE
                } else {
                    config.poll_interval
                };
                pause = pause.min(next.saturating_sub(since));
            }
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    finished_since_short = true;
                    freed_capped_since_short |= self.joined(joined, &mut running, &mut done);
                    while let Some(joined) = tasks.try_join_next_with_id() {
                        freed_capped_since_short |= self.joined(joined, &mut running, &mut done);
                    }
                }
                () = shared.wake.notified() => { woken_since_short = true; }
                () = tokio::time::sleep(pause) => { store_failures = 0; }
            }
        }
        // A wake-up this worker took for enqueues it will not claim goes to another worker of
        // this process, if one runs (enqueues do not notify again while one is pending).
        if shared.enqueued.swap(false, Ordering::AcqRel) {
            shared.wake.notify_one();
        }
        // Drain: no more claims; wait for what is in flight, then give back what is left.
        let deadline = tokio::time::sleep(config.drain_timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = tasks.join_next_with_id() => match joined {
                    Some(joined) => {
                        self.joined(joined, &mut running, &mut done);
                    }
                    None => break,
                },
                () = &mut deadline => {
                    tasks.abort_all();
                    while let Some(joined) = tasks.join_next_with_id().await {
                        self.joined(joined, &mut running, &mut done);
                    }
                    break;
                }
            }
        }
        let mut last = Ok(());
        for _ in 0..3 {
            if done.is_empty() {
                break;
            }
            last = self.flush(&mut done).await;
        }
        last.map_err(RunError::from)
    }

    fn count_start(&self, host: &str) {
        let counters = &self.shared.counters;
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        let mut hosts = counters
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        hosts.entry(host.to_owned()).or_default().in_flight += 1;
    }

    /// Takes a finished attempt's outcome into `done`, and what it taught into the host's
    /// cap. Returns whether its host was at its cap (the attempt freed a slot that a claim may
    /// fill).
    fn joined(
        &self,
        joined: Result<(tokio::task::Id, (Completion, Option<Signal>)), tokio::task::JoinError>,
        running: &mut HashMap<tokio::task::Id, ClaimedDelivery>,
        done: &mut Vec<(Completion, String)>,
    ) -> bool {
        let (id, completion, signal) = match joined {
            Ok((id, (completion, signal))) => (id, Some(completion), signal),
            Err(error) => (error.id(), None, None),
        };
        let Some(claim) = running.remove(&id) else {
            return false;
        };
        // A task that panicked or was aborted at shutdown gives its claim back.
        let completion = completion.unwrap_or_else(|| {
            Completion::new(
                &claim,
                Outcome::Release {
                    at: self.shared.clock.now(),
                },
                HostEvent::Nothing,
            )
        });
        let in_flight = self.count_end(&claim.host, &completion.outcome);
        let in_flight = usize::try_from(in_flight).unwrap_or(usize::MAX);
        let mut limits = self.limits();
        let at_cap = in_flight >= limits.cap(&claim.host);
        if let Some(signal) = signal {
            limits.record(&claim.host, in_flight, signal);
        }
        drop(limits);
        done.push((completion, claim.inbox));
        at_cap
    }

    fn limits(&self) -> std::sync::MutexGuard<'_, HostLimits> {
        self.shared
            .limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the end of an attempt; returns how many attempts to its host were in flight in
    /// this process, itself included.
    fn count_end(&self, host: &str, outcome: &Outcome) -> u64 {
        let counters = &self.shared.counters;
        counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        let mut hosts = counters
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let host = hosts.entry(host.to_owned()).or_default();
        let in_flight = host.in_flight;
        host.in_flight = host.in_flight.saturating_sub(1);
        let (total, per_host) = match outcome {
            Outcome::Delivered => (&counters.delivered, &mut host.delivered),
            Outcome::Gone => (&counters.failed, &mut host.failed),
            Outcome::Retry { .. } => (&counters.retried, &mut host.retried),
            Outcome::Dead { reason, .. } => {
                if matches!(reason, DeadReason::Rejected { .. }) {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    host.failed += 1;
                }
                (&counters.dead, &mut host.dead)
            }
            Outcome::Release { .. } => return in_flight,
        };
        total.fetch_add(1, Ordering::Relaxed);
        *per_host += 1;
        in_flight
    }

    async fn flush(&self, done: &mut Vec<(Completion, String)>) -> Result<(), StoreError> {
        let shared = &self.shared;
        let changes = shared
            .store
            .complete(&to_record(done), &shared.config.breaker, shared.clock.now())
            .await?;
        self.recorded(done, changes);
        Ok(())
    }

    /// Records the outcomes in `done` and claims as `request` asks, in one store call.
    async fn flush_and_claim(
        &self,
        done: &mut Vec<(Completion, String)>,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let shared = &self.shared;
        let (changes, claims) = shared
            .store
            .complete_and_claim(&to_record(done), &shared.config.breaker, request)
            .await?;
        self.recorded(done, changes);
        Ok(claims)
    }

    /// After the outcomes in `done` were recorded: empties it, sending their events and those
    /// of the breakers that `changes` reports.
    fn recorded(&self, done: &mut Vec<(Completion, String)>, changes: Vec<HostChange>) {
        let shared = &self.shared;
        for (completion, inbox) in done.drain(..) {
            let event = match completion.outcome {
                Outcome::Delivered => Event::Delivered {
                    id: completion.id,
                    inbox,
                },
                Outcome::Gone => Event::Gone {
                    id: completion.id,
                    inbox,
                },
                Outcome::Dead { reason, .. } => Event::Dead {
                    id: completion.id,
                    inbox,
                    reason,
                },
                Outcome::Retry { .. } | Outcome::Release { .. } => continue,
            };
            // No receiver is not an error.
            let _ = shared.events.send(event);
        }
        for change in changes {
            tracing::info!(host = %change.host, from = %change.from, to = %change.to,
                unavailable = change.unavailable, "breaker changed");
            let _ = shared.events.send(Event::Host(change));
        }
    }
}

impl<S: Store, T: Transport, K: KeyProvider, C: Clock> Shared<S, T, K, C> {
    /// Tells the workers that something was enqueued (and committed): wakes one, unless one
    /// was woken for an earlier enqueue and has not begun a claim since ([`Shared::claiming`]),
    /// as that claim will see this enqueue's rows too. A worker's loop woken for every one of
    /// thousands of enqueues a second only to find that its next claim is not due yet costs
    /// the runtime a poll each time (see `docs/federation-queue.md`).
    ///
    /// No wake-up is lost: a claim clears the flag before it reads the store. If the flag is
    /// cleared before this sets it, this notifies; if this set it first, the rows were
    /// committed before, and the claim that clears it reads them.
    fn enqueued(&self) {
        if !self.enqueued.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    /// A worker is about to claim: what was enqueued until now, it will read; what comes
    /// after notifies again ([`Shared::enqueued`]).
    fn claiming(&self) {
        // A swap, not a store: reading the flag orders this after the enqueue that set it,
        // and so the claim's read after that enqueue's commit.
        self.enqueued.swap(false, Ordering::AcqRel);
    }

    /// Writes the waiting enqueues, group by group (one transaction each), until none is
    /// waiting.
    async fn write_groups(self: Arc<Self>) {
        let mut writer = self.group.writer();
        while let Some(group) = writer.next_group() {
            let (items, replies) = group.into_parts();
            let counts: Vec<usize> = items
                .iter()
                .map(|activities| activities.iter().map(|a| a.deliveries.len()).sum())
                .collect();
            let expected: usize = counts.iter().sum();
            let activities: Vec<NewActivity> = items.into_iter().flatten().collect();
            let written = self.store.enqueue(&activities, self.clock.now()).await;
            if written.is_ok() {
                self.counters
                    .queued
                    .fetch_add(expected as u64, Ordering::Relaxed);
                self.enqueued();
            }
            // Each caller its own ids, or the error (every caller gets it).
            match written {
                Ok(ids) if ids.len() == expected => {
                    let mut ids = ids.into_iter();
                    for (reply, count) in replies.into_iter().zip(counts) {
                        reply.send(Ok(ids.by_ref().take(count).collect()));
                    }
                }
                Ok(ids) => {
                    for reply in replies {
                        reply.send(Err(GroupError::Miscounted {
                            expected,
                            got: ids.len(),
                        }));
                    }
                }
                Err(error) if replies.len() == 1 => {
                    if let Some(reply) = replies.into_iter().next() {
                        reply.send(Err(GroupError::Alone(error)));
                    }
                }
                Err(error) => {
                    let error = Arc::new(error);
                    for reply in replies {
                        reply.send(Err(GroupError::Shared(Arc::clone(&error))));
                    }
                }
            }
        }
    }

    /// One attempt: look up the key, sign afresh, send, classify; with what the answer taught
    /// about the host's capacity, if it was sent.
    async fn attempt(self: Arc<Self>, claim: ClaimedDelivery) -> (Completion, Option<Signal>) {
        let retry = &self.config.retry;
        let now = self.clock.now();
        let mut rng = fastrand::Rng::new();
        if now.duration_since(claim.enqueued_at).unwrap_or_default() > retry.max_age {
            let outcome = Outcome::Dead {
                reason: DeadReason::Expired,
                error: "older than the maximum age".to_owned(),
            };
            return (Completion::new(&claim, outcome, HostEvent::Nothing), None);
        }
        let signer = match self.keys.signer(&claim.key_ref).await {
            Ok(signer) => signer,
            Err(error @ KeyLookupError::NotFound { .. }) => {
                warn!(%error, "giving up a delivery");
                let outcome = Outcome::Dead {
                    reason: DeadReason::KeyNotFound,
                    error: error.to_string(),
                };
                return (Completion::new(&claim, outcome, HostEvent::Nothing), None);
            }
            Err(error) => {
                warn!(%error, "signing key unavailable; will retry");
                let outcome = Outcome::Retry {
                    at: now + retry.backoff(claim.attempts, &mut rng),
                    error: error.to_string(),
                };
                return (Completion::new(&claim, outcome, HostEvent::Nothing), None);
            }
        };
        let (verdict, (sent_at, elapsed)) = match self.send_knocking(&claim, &signer).await {
            Ok(sent) => sent,
            Err(outcome) => return (Completion::new(&claim, outcome, HostEvent::Nothing), None),
        };
        debug!(?verdict, "attempt finished");
        let signal = Signal {
            sent_at,
            elapsed,
            congested: matches!(verdict, Verdict::Transient { .. }),
        };
        let (outcome, event) = decide(
            verdict,
            claim.attempts,
            claim.enqueued_at,
            self.clock.now(),
            retry,
            &mut rng,
        );
        (Completion::new(&claim, outcome, event), Some(signal))
    }

    /// Signs and sends, double-knocking when configured: on a 400 or 401, signs again with the
    /// other standard (or as `Accept-Signature` asks) and resends once. Returns the verdict
    /// with when the last request was sent and how long its answer took, or the outcome when
    /// the delivery cannot be sent at all.
    async fn send_knocking(
        &self,
        claim: &ClaimedDelivery,
        signer: &http_signatures::Signer,
    ) -> Result<(Verdict, (std::time::Instant, Duration)), Outcome> {
        let retry = &self.config.retry;
        let preference = self
            .preferences
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&claim.host)
            .cloned()
            .unwrap_or_else(|| PeerPreference::new(signer.standard));
        let mut knock = DoubleKnock::new(signer.clone(), &preference);
        loop {
            let signer = knock.signer();
            let request = self.build_request(claim, signer).await.map_err(|error| {
                warn!(%error, "cannot build or sign the request");
                Outcome::Dead {
                    reason: DeadReason::Unsendable,
                    error,
                }
            })?;
            // tokio's clock, so that tests on its paused clock see exact durations.
            let sent_at = tokio::time::Instant::now();
            let sent = self.transport.send(request).await;
            let timing = (sent_at.into_std(), sent_at.elapsed());
            let response = match sent {
                Ok(response) => response,
                Err(TransportError::Refused { url, reason }) => {
                    return Err(Outcome::Dead {
                        reason: DeadReason::Unsendable,
                        error: format!("refused to deliver to {url}: {reason}"),
                    });
                }
                Err(error) => {
                    let verdict = Verdict::Transient {
                        after: None,
                        error: error.to_string(),
                        event: HostEvent::Failed { until: None },
                    };
                    return Ok((verdict, timing));
                }
            };
            if self.config.double_knock {
                match knock.on_response(response.status, &response.headers) {
                    KnockOutcome::Retry { standard, .. } => {
                        debug!(host = %claim.host, status = %response.status, next = %standard.name(),
                            "signature refused; knocking again with the other standard");
                        continue;
                    }
                    KnockOutcome::Done {
                        remember: Some(preference),
                    } => {
                        self.preferences
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .insert(claim.host.clone(), preference);
                    }
                    _ => {}
                }
            }
            let verdict =
                classify_status(response.status, &response.headers, self.clock.now(), retry);
            return Ok((verdict, timing));
        }
    }

    /// The signing threads, started on first use; `None`: sign inline.
    fn signing_pool(&self) -> Option<&SigningPool> {
        self.signing
            .get_or_init(|| match self.config.signing_threads {
                0 => None,
                threads => match SigningPool::start(threads) {
                    Ok(pool) => {
                        debug!(threads = pool.threads(), "started the signing threads");
                        Some(pool)
                    }
                    Err(error) => {
                        warn!(%error, "cannot start signing threads; signing on the runtime");
                        None
                    }
                },
            })
            .as_ref()
    }

    /// The signed request for one attempt: RSA keys sign on the signing threads, others
    /// inline.
    async fn build_request(
        &self,
        claim: &ClaimedDelivery,
        signer: http_signatures::Signer,
    ) -> Result<http::Request<Bytes>, String> {
        let mut builder = http::Request::post(claim.inbox.as_str())
            .header(CONTENT_TYPE, ACTIVITY_JSON)
            .header(ACCEPT, ACTIVITY_JSON);
        if let Some(header) = &self.config.delivery_id_header {
            builder = builder.header(header, claim.id.0);
        }
        let mut request = builder
            .body(claim.body.clone())
            .map_err(|e| format!("invalid request: {e}"))?;
        // Signed at every attempt: a fresh Date and `created`.
        let now = self.clock.now();
        let pool = match signer.key.kind() {
            KeyKind::Rsa { .. } => self.signing_pool(),
            _ => None,
        };
        let signed = match pool {
            None => signer.sign(&mut request, now).map(|_| request),
            Some(pool) => pool
                .run(move || signer.sign(&mut request, now).map(|_| request))
                .await
                .ok_or("the signing thread panicked")?,
        };
        signed.map_err(|e| format!("signing failed: {e}"))
    }
}

/// The completions to record for `done`. A 410 is kept as a dead letter: the durable form of
/// the report (events can be missed).
fn to_record(done: &[(Completion, String)]) -> Vec<Completion> {
    done.iter()
        .map(|(c, _)| {
            let mut completion = c.clone();
            if completion.outcome == Outcome::Gone {
                completion.outcome = Outcome::Dead {
                    reason: DeadReason::Gone,
                    error: "410 Gone: the recipient is gone".to_owned(),
                };
            }
            completion
        })
        .collect()
}

fn elapsed_since_epoch(now: SystemTime) -> Duration {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}
