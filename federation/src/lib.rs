//! The server side of ActivityPub that an app embeds.
//!
//! - [`fetch`]: a guarded fetcher for remote objects (signed GET, `Accept`, content-type and
//!   origin checks, checked redirects, a budget per incoming request, SSRF protection at
//!   connect time).
//! - [`keys`]: remote actors and their public keys, cached, refetched once on failure
//!   (single-flight, with a cool-off per origin).
//! - [`inbox`]: the inbox pipeline, from the raw request to the app's typed handlers, each step
//!   with a typed rejection and its status code.
//! - [`outbox`]: from an activity's addressing to deliveries on `federation-queue`.
//! - `record` (feature `sql-record`): the inbox's durable idempotency record on SQLite or
//!   PostgreSQL, with group commit.
//! - [`routes`]: the axum routes (WebFinger, NodeInfo, actors, inboxes, outboxes, collections,
//!   objects and tombstones), with authorized fetch.
//! - [`serve`]: serving a router on a hostile network: time limits for slow clients, a bound on
//!   connections that idle and slow ones cannot fill, graceful shutdown.
//! - `relayed` (feature `relayed`): posts forwarded or announced by relays, believed from a
//!   Linked Data signature of their author or from their own server.
//! - [`sanitize`]: HTML from other servers made safe to store and show, and its plain text.

pub mod fetch;
pub mod inbox;
pub mod keys;
pub mod outbox;
#[cfg(feature = "sql-record")]
pub mod record;
#[cfg(feature = "relayed")]
pub mod relayed;
pub mod routes;
pub mod sanitize;
pub mod serve;
