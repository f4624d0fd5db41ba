//! A typed, lossless model of [ActivityStreams 2.0] and of the extensions the fediverse sends
//! (Mastodon's `toot:`, PeerTube's `pt:`, Mobilizon's `mz:`, schema.org, LitePub, Misskey), with
//! the pure helpers every ActivityPub server needs. No I/O, no clock.
//!
//! # Reading
//!
//! ```
//! use activitypub_core::{AnyObject, ActivityType};
//!
//! let json = br#"{
//!     "@context": "https://www.w3.org/ns/activitystreams",
//!     "id": "https://example.com/activities/1",
//!     "type": "Create",
//!     "actor": "https://example.com/users/alice",
//!     "object": {"id": "https://example.com/notes/1", "type": "Note", "content": "Hello"},
//!     "to": "as:Public",
//!     "https://example.com/ns#mood": "sunny"
//! }"#;
//! let doc = AnyObject::from_slice(json)?;
//! let AnyObject::Activity(create) = &doc else { panic!("not an activity") };
//! assert_eq!(create.kind, ActivityType::Create);
//! assert_eq!(create.actor_id().map(|i| i.as_str()), Some("https://example.com/users/alice"));
//! assert!(activitypub_core::addressing::is_public(&create.props));
//! // Nothing is lost: unknown members come back out.
//! let back = doc.to_value();
//! assert_eq!(back, serde_json::from_slice::<serde_json::Value>(json)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the model promises
//!
//! - **Lossless**: every member a type does not model is kept in `props.extra`; serializing gives
//!   back a JSON value equal to the input (one-or-many shapes, the spelling of `type` and of the
//!   public collection, timestamps and numbers as written). [`Received`] keeps the exact bytes.
//! - **Lenient where the network is messy**: a modeled member whose value does not fit its type
//!   (a `null`, a number written as a string, a malformed date) does not fail the document: its
//!   typed field stays empty and the raw value stays in `props.extra` (see `degraded()`).
//! - **Strict where it matters**: a document with no `type`, a `type` that is not a string or an
//!   array of strings, an `id` that is not an absolute IRI, or that is not a JSON object, is
//!   rejected with a [`ParseError`] naming the field. [`Limits`] bound size and depth.
//!
//! [ActivityStreams 2.0]: https://www.w3.org/TR/activitystreams-core/

#![warn(missing_docs)]

mod activity;
mod actor;
pub mod addressing;
mod any;
mod collection;
pub mod context;
mod error;
pub mod ext;
pub mod hashtag;
mod json;
#[cfg(feature = "jsonld")]
pub mod jsonld;
mod kind;
mod link;
mod object;
pub mod origin;
mod parse;
mod values;

pub use activity::{Activity, Question, QuestionType, reference_id};
pub use actor::{Actor, Endpoints, Multikey, PublicKey};
pub use any::AnyObject;
pub use collection::Collection;
pub use error::ParseError;
pub use ext::mobilizon::{Event, EventType, Member, MemberType};
pub use ext::peertube::{CacheFile, CacheFileType, Playlist, PlaylistType, Video, VideoType};
pub use ext::schema::{PropertyValue, PropertyValueType};
pub use json::JsonKind;
pub use kind::{
    ActivityType, ActorType, CollectionType, EventStatus, JoinMode, LinkType, MemberRole,
    Namespace, ObjectType, Openness, local_type_name, split_type_name,
};
pub use link::Link;
pub use object::{
    Object, ObjectProps, Place, PlaceAddress, PlaceType, PostalAddress, Tombstone, TombstoneType,
    Unknown,
};
pub use parse::{Limits, Received, read_json};
pub use values::{
    Address, Closed, Context, DurationError, FocalPoint, Identifier, Iri, IriError, IsoDuration,
    LinkRef, OneOrMany, PUBLIC, PublicSpelling, Reference, Source, SourceContent, Timestamp,
    TimestampError,
};
