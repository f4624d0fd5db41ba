//! WebFinger for the fediverse: [RFC 7033] with [RFC 7565] `acct:` URIs and the [RFC 6415]
//! host-meta fallback.
//!
//! The crate has three layers:
//!
//! * **Types**, which do no I/O: [`Resource`] and [`AcctUri`] (parsed from what users type:
//!   `acct:user@host`, `@user@host`, `user@host`, `https:` URLs), the [`Jrd`] document with its
//!   [`Link`]s and open [`Rel`] vocabulary, host-meta XRD parsing ([`xrd`]), and the checks a
//!   resolver makes ([`actor`]: the ActivityPub `self` link, the subject hop, Mastodon's round
//!   trip).
//! * **Serving** ([`server`]): from the query string to a complete [`http::Response`]
//!   (`application/jrd+json`, `Access-Control-Allow-Origin: *`, 400 and 404), with the account
//!   lookup left to the caller.
//! * **Client** (feature `client`): [`client::Client`] resolves user input to an actor id over
//!   HTTPS, through [`fetch::Fetcher`], which bounds the response size, the time and the
//!   redirects, and refuses plain http and private addresses unless told otherwise by loudly
//!   named switches.
//!
//! ```
//! use webfinger::{Jrd, Resource};
//!
//! let resource = Resource::from_user_input("@tcit@social.tcit.fr")?;
//! assert_eq!(resource.to_string(), "acct:tcit@social.tcit.fr");
//!
//! let jrd = Jrd::from_slice(br#"{"subject": "acct:tcit@social.tcit.fr", "links": [
//!     {"rel": "self", "type": "application/activity+json",
//!      "href": "https://social.tcit.fr/users/tcit"}]}"#)?;
//! assert_eq!(jrd.activitypub_id()?.as_str(), "https://social.tcit.fr/users/tcit");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [RFC 7033]: https://www.rfc-editor.org/rfc/rfc7033
//! [RFC 7565]: https://www.rfc-editor.org/rfc/rfc7565
//! [RFC 6415]: https://www.rfc-editor.org/rfc/rfc6415

#![warn(missing_docs)]

pub mod actor;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod fetch;
mod jrd;
mod rel;
mod resource;
pub mod server;
pub mod xrd;

pub use actor::ActorLinkError;
pub use jrd::{Jrd, JrdError, Link};
pub use rel::Rel;
pub use resource::{AcctUri, Host, Resource, ResourceError};

/// The media type of a JRD ([RFC 7033 §10.2](https://www.rfc-editor.org/rfc/rfc7033#section-10.2)).
pub const JRD_MEDIA_TYPE: &str = "application/jrd+json";

/// The path of the WebFinger endpoint ([RFC 7033 §10.1](https://www.rfc-editor.org/rfc/rfc7033#section-10.1)).
pub const WEBFINGER_PATH: &str = "/.well-known/webfinger";

/// The path of the host-meta document ([RFC 6415 §2](https://www.rfc-editor.org/rfc/rfc6415#section-2)).
pub const HOST_META_PATH: &str = "/.well-known/host-meta";
