//! The values that cross the [`Store`](crate::Store) interface.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

/// The id of one delivery (one activity to one inbox), unique in its store and increasing in
/// enqueue order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(pub i64);

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An activity to store once, with the deliveries to make of it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NewActivity {
    /// The exact bytes to POST.
    pub body: Bytes,
    /// The key to sign with, looked up at send time through a
    /// [`KeyProvider`](crate::KeyProvider).
    pub key_ref: String,
    /// Deliveries sharing this key and host go out in enqueue order.
    pub ordering_key: Option<String>,
    /// One delivery per inbox, already collapsed.
    pub deliveries: Vec<NewDelivery>,
}

impl NewActivity {
    /// An activity with no deliveries yet.
    pub fn new(body: impl Into<Bytes>, key_ref: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            key_ref: key_ref.into(),
            ordering_key: None,
            deliveries: Vec::new(),
        }
    }

    /// Sets the ordering key.
    pub fn with_ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }

    /// Adds a delivery.
    pub fn with_delivery(mut self, delivery: NewDelivery) -> Self {
        self.deliveries.push(delivery);
        self
    }
}

/// One inbox to deliver to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewDelivery {
    /// The inbox URL.
    pub inbox: String,
    /// The lane: the inbox's host, with the port when it is not the scheme's default.
    pub host: String,
}

impl NewDelivery {
    /// A delivery to `inbox`, in the lane `host`.
    pub fn new(inbox: impl Into<String>, host: impl Into<String>) -> Self {
        Self {
            inbox: inbox.into(),
            host: host.into(),
        }
    }
}

/// What a worker asks of [`Store::claim`](crate::Store::claim).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClaimRequest {
    /// The current time.
    pub now: SystemTime,
    /// At most this many deliveries.
    pub limit: usize,
    /// At most this many deliveries in flight per host, counting those other workers hold.
    pub per_host_limit: usize,
    /// How long a claim lasts: after it, a claim that was not completed is claimable again
    /// (its worker is presumed dead).
    pub lease: Duration,
    /// Hosts whose limit is not `per_host_limit`: the worker's adaptive caps (hosts that
    /// answered fast earned more, hosts that failed or answered slowly got less).
    pub host_limits: BTreeMap<String, usize>,
}

impl ClaimRequest {
    /// A request for up to `limit` deliveries, at most `per_host_limit` per host, leased for
    /// `lease`.
    pub fn new(now: SystemTime, limit: usize, per_host_limit: usize, lease: Duration) -> Self {
        Self {
            now,
            limit,
            per_host_limit,
            lease,
            host_limits: BTreeMap::new(),
        }
    }

    /// Sets [`ClaimRequest::host_limits`].
    pub fn with_host_limits(mut self, limits: BTreeMap<String, usize>) -> Self {
        self.host_limits = limits;
        self
    }

    /// The limit of deliveries in flight to `host`: its own, or `per_host_limit`.
    pub fn limit_for(&self, host: &str) -> usize {
        self.host_limits
            .get(host)
            .copied()
            .unwrap_or(self.per_host_limit)
    }
}

/// A delivery a worker holds until it completes it or the lease lapses.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClaimedDelivery {
    /// The delivery.
    pub id: DeliveryId,
    /// Proves the claim is still this worker's when completing it.
    pub token: i64,
    /// The inbox URL.
    pub inbox: String,
    /// The lane.
    pub host: String,
    /// The signing key reference.
    pub key_ref: String,
    /// The activity bytes.
    pub body: Bytes,
    /// Attempts made so far, this one included.
    pub attempts: u32,
    /// When it was enqueued (or requeued), for the maximum age.
    pub enqueued_at: SystemTime,
    /// Whether this is the one probe a half-open breaker lets through.
    pub probe: bool,
}

impl ClaimedDelivery {
    /// A claim of delivery `id` to `inbox` (on lane `host`) under claim `token`, of the
    /// activity `body` signed with `key_ref`, enqueued at `enqueued_at`: its first attempt,
    /// not a probe (see [`ClaimedDelivery::with_attempts`], [`ClaimedDelivery::with_probe`]).
    /// For stores of your own: the built-in stores make their claims themselves.
    pub fn new(
        id: DeliveryId,
        token: i64,
        inbox: impl Into<String>,
        host: impl Into<String>,
        key_ref: impl Into<String>,
        body: Bytes,
        enqueued_at: SystemTime,
    ) -> Self {
        Self {
            id,
            token,
            inbox: inbox.into(),
            host: host.into(),
            key_ref: key_ref.into(),
            body,
            attempts: 1,
            enqueued_at,
            probe: false,
        }
    }

    /// Sets the attempts made so far, this claim's included.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// Marks the claim as a half-open breaker's probe (or not).
    pub fn with_probe(mut self, probe: bool) -> Self {
        self.probe = probe;
        self
    }
}

/// What became of a claimed delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Delivered (2xx): forget it.
    Delivered,
    /// The recipient is gone (410): the queue tells the caller ([`Event::Gone`]) and keeps it
    /// as a dead letter with [`DeadReason::Gone`].
    ///
    /// [`Event::Gone`]: crate::Event::Gone
    Gone,
    /// Try again at `at`.
    Retry {
        /// When.
        at: SystemTime,
        /// What went wrong, for operators.
        error: String,
    },
    /// Give up: move it to the dead letters.
    Dead {
        /// Why.
        reason: DeadReason,
        /// What went wrong, for operators.
        error: String,
    },
    /// Not attempted after all (shutdown, or its host closed meanwhile): make it claimable at
    /// `at` and give the attempt back.
    Release {
        /// When.
        at: SystemTime,
    },
}

/// What a response says about the host, for its circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostEvent {
    /// Nothing to learn (for example a release).
    Nothing,
    /// The host answered (any status that is not a server failure).
    Answered,
    /// The host answered but asked to slow down (429): pause the lane until `until`.
    Throttled {
        /// The end of the pause.
        until: SystemTime,
    },
    /// The host failed (5xx, 408, timeout, connection error); `until`, if it said when to come
    /// back (`Retry-After` on 503).
    Failed {
        /// The end of the pause the host asked for.
        until: Option<SystemTime>,
    },
}

/// The end of an attempt, handed to [`Store::complete`](crate::Store::complete).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Completion {
    /// The delivery.
    pub id: DeliveryId,
    /// The claim's token.
    pub token: i64,
    /// The lane.
    pub host: String,
    /// What to do with the delivery.
    pub outcome: Outcome,
    /// What to tell the host's breaker.
    pub host_event: HostEvent,
}

impl Completion {
    /// Completes `claim` with `outcome` and `host_event`.
    pub fn new(claim: &ClaimedDelivery, outcome: Outcome, host_event: HostEvent) -> Self {
        Self {
            id: claim.id,
            token: claim.token,
            host: claim.host.clone(),
            outcome,
            host_event,
        }
    }
}

/// Why a delivery was given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeadReason {
    /// The inbox refused it for good (a 4xx other than 408, 410 and 429).
    Rejected {
        /// The status.
        status: u16,
    },
    /// Every attempt was used.
    MaxAttempts,
    /// It waited longer than the maximum age.
    Expired,
    /// The signing key could not be found.
    KeyNotFound,
    /// The request could not be built or signed.
    Unsendable,
    /// The inbox answered 410 Gone: its actor is gone. Kept so that the caller, told by
    /// [`Event::Gone`](crate::Event::Gone) when it listens, can also find it later: a report
    /// that a restart or a slow listener cannot lose.
    Gone,
}

impl DeadReason {
    /// The stable name stored in databases.
    pub fn code(self) -> &'static str {
        match self {
            DeadReason::Rejected { .. } => "rejected",
            DeadReason::MaxAttempts => "max_attempts",
            DeadReason::Expired => "expired",
            DeadReason::KeyNotFound => "key_not_found",
            DeadReason::Unsendable => "unsendable",
            DeadReason::Gone => "gone",
        }
    }

    /// The reason stored as `code` (and `status` for rejections).
    pub(crate) fn from_code(code: &str, status: Option<u16>) -> Self {
        match code {
            "rejected" => DeadReason::Rejected {
                status: status.unwrap_or(400),
            },
            "max_attempts" => DeadReason::MaxAttempts,
            "expired" => DeadReason::Expired,
            "key_not_found" => DeadReason::KeyNotFound,
            "gone" => DeadReason::Gone,
            _ => DeadReason::Unsendable,
        }
    }

    pub(crate) fn status(self) -> Option<u16> {
        match self {
            DeadReason::Rejected { status } => Some(status),
            _ => None,
        }
    }
}

impl fmt::Display for DeadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadReason::Rejected { status } => write!(f, "rejected with status {status}"),
            DeadReason::MaxAttempts => f.write_str("every attempt failed"),
            DeadReason::Expired => f.write_str("older than the maximum age"),
            DeadReason::KeyNotFound => f.write_str("signing key not found"),
            DeadReason::Unsendable => f.write_str("the request could not be built or signed"),
            DeadReason::Gone => f.write_str("the recipient is gone (410)"),
        }
    }
}

/// A delivery that was given up, kept until requeued or purged.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The delivery.
    pub id: DeliveryId,
    /// The inbox URL.
    pub inbox: String,
    /// The lane.
    pub host: String,
    /// The signing key reference.
    pub key_ref: String,
    /// The ordering key.
    pub ordering_key: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// When it was enqueued.
    pub enqueued_at: SystemTime,
    /// When it was given up.
    pub died_at: SystemTime,
    /// Why.
    pub reason: DeadReason,
    /// The last error.
    pub last_error: Option<String>,
}

impl DeadLetter {
    /// Dead letter `id` (to `inbox` on lane `host`, signed with `key_ref`), enqueued at
    /// `enqueued_at` and given up at `died_at` for `reason`, after no attempt, without an
    /// ordering key or an error (see the `with_` methods). For stores of your own.
    pub fn new(
        id: DeliveryId,
        inbox: impl Into<String>,
        host: impl Into<String>,
        key_ref: impl Into<String>,
        enqueued_at: SystemTime,
        died_at: SystemTime,
        reason: DeadReason,
    ) -> Self {
        Self {
            id,
            inbox: inbox.into(),
            host: host.into(),
            key_ref: key_ref.into(),
            ordering_key: None,
            attempts: 0,
            enqueued_at,
            died_at,
            reason,
            last_error: None,
        }
    }

    /// Sets the attempts made.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// Sets the ordering key.
    pub fn with_ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }

    /// Sets the last error.
    pub fn with_last_error(mut self, error: impl Into<String>) -> Self {
        self.last_error = Some(error.into());
        self
    }
}

/// Which dead letters to requeue.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requeue {
    /// All of them.
    All,
    /// Those of one host.
    Host(String),
    /// These.
    Ids(Vec<DeliveryId>),
}

/// A host's circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Deliveries flow.
    Closed,
    /// Deliveries wait (without using attempts) until the pause ends.
    Open,
    /// One probe is in flight; its outcome closes or reopens the breaker.
    HalfOpen,
}

impl BreakerState {
    pub(crate) fn code(self) -> i16 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }

    pub(crate) fn from_code(code: i64) -> Self {
        match code {
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        })
    }
}

/// A host's delivery state, shared by every worker through the store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostState {
    /// The lane.
    pub host: String,
    /// The circuit breaker.
    pub breaker: BreakerState,
    /// Failing for longer than the policy's `unavailable_after`: probed rarely until it
    /// answers, or until [`Store::mark_host_available`](crate::Store::mark_host_available).
    pub unavailable: bool,
    /// Failures since the last answer.
    pub consecutive_failures: u32,
    /// The first failure since the last answer.
    pub failing_since: Option<SystemTime>,
    /// No delivery to this host is claimed before this (open breaker, probe in flight, or a
    /// `Retry-After` pause).
    pub blocked_until: Option<SystemTime>,
    /// The last answer, to within a second (a host answering all the time has its state
    /// rewritten once a second, not with every batch of completions).
    pub last_answer: Option<SystemTime>,
}

impl HostState {
    /// A new, healthy host.
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            breaker: BreakerState::Closed,
            unavailable: false,
            consecutive_failures: 0,
            failing_since: None,
            blocked_until: None,
            last_answer: None,
        }
    }
}

/// A breaker that changed state while completing deliveries.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostChange {
    /// The host.
    pub host: String,
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// Whether the host is now marked unavailable.
    pub unavailable: bool,
}

impl HostChange {
    /// `host`'s breaker went from `from` to `to`; `unavailable` says whether the host is now
    /// marked unavailable. For stores of your own.
    pub fn new(
        host: impl Into<String>,
        from: BreakerState,
        to: BreakerState,
        unavailable: bool,
    ) -> Self {
        Self {
            host: host.into(),
            from,
            to,
            unavailable,
        }
    }
}

/// How many deliveries are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueCounts {
    /// Waiting to be sent (including those waiting for a retry or a breaker).
    pub pending: u64,
    /// Claimed by a worker whose lease has not lapsed.
    pub in_flight: u64,
    /// Dead letters.
    pub dead: u64,
}

impl QueueCounts {
    /// The counts. For stores of your own.
    pub fn new(pending: u64, in_flight: u64, dead: u64) -> Self {
        Self {
            pending,
            in_flight,
            dead,
        }
    }
}
