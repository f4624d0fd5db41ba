//! [NodeInfo](https://nodeinfo.diaspora.software/): what software a fediverse server runs,
//! which protocols it speaks and how many people use it.
//!
//! * [`NodeInfo`] reads versions 2.0, 2.1 and 2.2 and, leniently, 1.0 and 1.1 into one shape.
//!   Reading accepts what real servers send: unknown protocols and services ([`Protocol`],
//!   [`Service`]), `"Mobilizon"` with a capital letter, missing or empty `metadata`, counts that
//!   are `null`. Members it does not model are kept.
//! * [`NodeInfoBuilder`] makes documents to serve, checked against the official JSON schema of
//!   their version (software name pattern, protocol and service lists, fields per version);
//!   [`NodeInfo::to_version`] writes one document in each version a server serves.
//! * [`schema_violations`] checks a received document, as JSON, against the schema of its
//!   version, and says what breaks it (for conformance checkers such as `fedi check`).
//! * [`DiscoveryDocument`] is `/.well-known/nodeinfo`: links to the documents by schema
//!   version and, after [FEP-2677](https://codeberg.org/fediverse/fep/src/branch/main/fep/2677/fep-2677.md),
//!   to the instance actor (the server's `Application`).
//! * [`server`] builds the `http::Response`s; the [`client`] module (feature `client`)
//!   discovers and fetches, through the guarded fetcher of the `webfinger` crate.
//!
//! ```
//! use nodeinfo::{NodeInfo, Protocol};
//!
//! let info = NodeInfo::from_slice(br#"{"version":"2.0","software":{"name":"mastodon","version":"4.1.0"},
//!     "protocols":["activitypub"],"services":{"outbound":[],"inbound":[]},
//!     "usage":{"users":{"total":971090}},"openRegistrations":true,"metadata":{}}"#)?;
//! assert_eq!(info.software.name, "mastodon");
//! assert!(info.protocols.contains(&Protocol::ACTIVITYPUB));
//! assert_eq!(info.usage.users.total, Some(971090));
//! # Ok::<(), nodeinfo::ParseError>(())
//! ```

#![warn(missing_docs)]

mod builder;
#[cfg(feature = "client")]
pub mod client;
mod discovery;
mod document;
pub mod server;
mod validate;
mod vocabulary;

pub use builder::{BuildError, NodeInfoBuilder};
pub use discovery::{DiscoveryDocument, DiscoveryError, INSTANCE_ACTOR_REL};
pub use document::{Instance, NodeInfo, ParseError, Services, Software, Usage, Users};
pub use validate::{SchemaViolation, schema_violations};
pub use vocabulary::{Direction, Protocol, Service, Version};

/// The path of the discovery document.
pub const WELL_KNOWN_PATH: &str = "/.well-known/nodeinfo";
