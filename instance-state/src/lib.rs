//! The social state every ActivityPub instance keeps, on SQLite or PostgreSQL.
//!
//! `federation` and `federation-queue` carry activities; what an instance remembers between
//! them is the same whatever its domain (events, videos, posts): its actors and their keys,
//! the accounts that own them and how those sign in, who follows whom, whom it blocks, the
//! objects and activities it stores and who may read each, what its inbox already processed,
//! the names of the remote actors it met, notifications, reports and the moderators' log.
//! [`InstanceState`] keeps all of it in one database and implements what the federation
//! crates ask an app for, so an app writes SQL for its own domain only:
//!
//! - [`federation::inbox::InboxStore`]: the inbox's idempotency record, the actors it knows,
//!   and the instance's blocks ([`InboxStore::refuses`](federation::inbox::InboxStore::refuses));
//! - [`federation::outbox::Audience`]: the members of local followers collections, blocked
//!   actors left out;
//! - [`federation_queue::KeyProvider`]: the local actors' signing keys, by actor name;
//! - the documents behind [`federation::routes::App`]: actors (a `Tombstone` once deleted),
//!   followers, following and outbox collections, and stored objects, each judged against
//!   who asks ([`collections`]);
//! - the inbox handlers of the social graph ([`handlers::social_handlers`]): `Follow` (accepted
//!   at once, or pending when the actor `manuallyApprovesFollowers`), `Accept`, `Reject`,
//!   `Undo{Follow}`, `Block`, `Flag`, `Move` (its local followers follow the new account,
//!   [`moves`]), and an actor's own `Delete` and `Update`; everything else goes to the app.
//!
//! **Name.** The crate is named for what it holds: the *state of an instance*, not a protocol
//! (that is `federation`'s) nor a domain (that stays in the app).
//!
//! **One code path.** Every statement is written once, in the dialect SQLite and PostgreSQL
//! share (`$n` parameters, `TEXT`, `BIGINT`, `ON CONFLICT`), and runs through sqlx's `Any`
//! driver. The schema is versioned: numbered migrations in `migrations/`, embedded and applied
//! by sqlx's [`Migrator`](sqlx::migrate::Migrator) (its own table, `instance_state_migrations`)
//! when the database is opened. Both databases run the same statements, from one folder, but
//! where a version is a storage choice only SQLite has: version 7 rebuilds the inbox's
//! idempotency record (`st_processed`) `WITHOUT ROWID` on SQLite (one B-tree to change per
//! record instead of two) and is a no-op on PostgreSQL (`0007_processed_{sqlite,postgres}.sql`).
//!
//! **Secrets.** Passwords are kept as argon2id hashes (OWASP's parameters), sessions and API
//! tokens as the SHA-256 of a random 256-bit secret: a stolen database gives no way in. Private
//! keys are PKCS#8 PEM.

#![warn(missing_docs)]

pub mod accounts;
pub mod actors;
pub mod blocks;
pub mod collections;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
pub mod follows;
pub mod handlers;
mod integration;
mod limits;
pub mod moderation;
pub mod moves;
pub mod objects;
pub mod remote;
mod solicited;
mod state;

pub use error::Error;
pub use integration::PublishError;
pub use state::{Clock, InstanceState, KeyChoice, Options, app_migrator};
