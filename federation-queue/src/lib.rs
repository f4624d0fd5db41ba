//! Durable, retrying ActivityPub delivery.
//!
//! Enqueue an activity once for many inboxes; workers deliver it to each, signed afresh at
//! every attempt, retrying with exponential backoff and full jitter for about a week, honouring
//! `Retry-After`, sparing dead instances with a per-host circuit breaker, keeping per-object
//! order, and losing nothing when killed: every state change is committed to a [`Store`]
//! (SQLite embedded, PostgreSQL for several workers on several machines, or memory for tests)
//! before it is acted upon.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use federation_queue::{
//!     Enqueue, Queue, Recipient, ReqwestTransport, SqliteStore, StaticKeys, TransportConfig,
//! };
//! use http_signatures::{Signer, SigningKey};
//!
//! let store = SqliteStore::open("queue.db").await?;
//! let transport = ReqwestTransport::new(TransportConfig::new())?;
//! let key = SigningKey::generate_ed25519()?;
//! let keys = StaticKeys::new()
//!     .with_signer("alice", Signer::new(key, "https://alice.example/actor#main-key"));
//! let queue = Queue::new(store, transport, keys);
//!
//! let worker = tokio::spawn({
//!     let queue = queue.clone();
//!     async move { queue.run(async { let _ = tokio::signal::ctrl_c().await; }).await }
//! });
//! queue
//!     .enqueue(
//!         Enqueue::new(r#"{"type":"Create"}"#, "alice")
//!             .with_ordering_key("https://alice.example/notes/1")
//!             .with_recipient(Recipient::new("https://bob.example/inbox".parse()?)),
//!     )
//!     .await?;
//! worker.await??;
//! # Ok(())
//! # }
//! ```
//!
//! Delivery is at least once: after a crash, claims in flight are attempted again (at once
//! for SQLite, after their lease elsewhere), so a receiver may see an activity twice; the
//! optional [`QueueConfig::delivery_id_header`] lets it tell.

#![warn(missing_docs)]

mod breaker;
mod clock;
pub mod commit;
mod concurrency;
// The in-memory store names the crate's items by their public paths, as a store outside the
// crate would (the tests compile it there too).
extern crate self as federation_queue;

#[cfg(feature = "conformance")]
pub mod conformance;
mod keys;
mod model;
mod queue;
mod retry;
mod signing;
mod store;
mod transport;

pub use breaker::BreakerPolicy;
pub use clock::{Clock, ManualClock, SystemClock};
pub use keys::{KeyLookupError, KeyProvider, StaticKeys};
pub use model::{
    BreakerState, ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeadReason, DeliveryId,
    HostChange, HostEvent, HostState, NewActivity, NewDelivery, Outcome, QueueCounts, Requeue,
};
pub use queue::{
    ACTIVITY_JSON, Enqueue, EnqueueError, Event, HostMetrics, MAX_KEY_BYTES, Metrics, Queue,
    QueueConfig, Recipient, RunError, collapse_recipients,
};
pub use retry::{RetryPolicy, retry_after};
pub use store::memory::MemoryStore;
pub use store::postgres::{PostgresOptions, PostgresStore};
pub use store::sqlite::{SqliteOptions, SqliteStore};
pub use store::{Store, StoreError};

/// Building blocks for a [`Store`] of your own: the planning the built-in stores share, so
/// that breakers, probes, `Retry-After` pauses and per-host limits behave the same whatever
/// holds the data.
///
/// A claim gathers the due deliveries as [`Candidate`](planning::Candidate)s, reads their
/// hosts' states and live claims, and asks [`plan_claim`](planning::plan_claim) which to
/// take; it then writes the plan's host states, pushes the blocked hosts' deliveries to the
/// end of their block, and marks the chosen ones claimed under a
/// [`new_token`](planning::new_token), leased until `now + lease`, one attempt more. A
/// completion keeps only the completions whose token is still the delivery's, applies their
/// outcomes, and asks [`plan_host_updates`](planning::plan_host_updates) what they did to
/// their hosts. Check the result with the suite in `federation_queue::conformance` (feature
/// `conformance`).
pub mod planning {
    pub use crate::store::{
        Candidate, ClaimPlan, HostMap, HostUpdates, new_token, plan_claim, plan_host_updates,
        released_block,
    };
}
pub use transport::{
    Refusal, ReqwestTransport, Transport, TransportBuildError, TransportConfig, TransportError,
    TransportResponse, is_public_address,
};
