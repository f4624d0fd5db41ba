//! From a JRD to an ActivityPub actor, and the checks a resolver makes on the way. No I/O: the
//! [`client`](crate::client) module (feature `client`) runs these checks on what it fetched,
//! and an embedder with its own HTTP stack can run them too.

use url::Url;

use crate::jrd::{Jrd, Link};
use crate::rel::Rel;
use crate::resource::{AcctUri, Host, Resource, ResourceError};

/// The ActivityStreams media type ([ActivityPub §3.2](https://www.w3.org/TR/activitypub/#retrieving-objects)).
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// The JSON-LD media type with the ActivityStreams profile, which ActivityPub says is the
/// proper one to ask for.
pub const LD_JSON_ACTIVITYSTREAMS: &str =
    "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

const ACTIVITYSTREAMS_PROFILE: &str = "https://www.w3.org/ns/activitystreams";

/// Why a JRD gives no ActivityPub actor id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActorLinkError {
    /// No link has `rel` `self` with an ActivityStreams media type.
    #[error(
        "the JRD has no `self` link of type application/activity+json or application/ld+json with the ActivityStreams profile (self link types seen: {seen_types:?})"
    )]
    NoActivityPubLink {
        /// The media types of the `self` links that were there (`None` for a link without one).
        seen_types: Vec<Option<String>>,
    },
    /// The ActivityPub `self` link has no `href`.
    #[error("the ActivityPub `self` link has no href")]
    MissingHref,
    /// The `href` is not an absolute `https:` (or `http:`) URL.
    #[error("the ActivityPub `self` link's href `{href}` is not an absolute http(s) URL")]
    InvalidHref {
        /// The href as given.
        href: String,
    },
}

/// What the subject of a JRD says about the account that was asked for
/// ([`subject_check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectCheck {
    /// The subject names the account that was asked for (ignoring the case of the user part),
    /// or names no `acct:` URI at all; the value is the canonical spelling.
    Confirmed(AcctUri),
    /// The subject names another account, often on another host (`alice@example.com` served
    /// by `social.example.com`): ask again for that one.
    Redirect(AcctUri),
}

/// Why an actor's `preferredUsername` and id give no `acct:` URI to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoundTripError {
    /// The actor id has no host.
    #[error("the actor id `{actor_id}` has no host")]
    ActorIdWithoutHost {
        /// The actor id.
        actor_id: Url,
    },
    /// `preferredUsername@host` is not a valid `acct:` URI.
    #[error("`{preferred_username}` at the actor's host is not a valid acct: URI")]
    InvalidUsername {
        /// The `preferredUsername`.
        preferred_username: String,
        /// Why it is not valid.
        source: ResourceError,
    },
}

/// Why bytes are not an actor document with an `id` and a `preferredUsername`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActorJsonError {
    /// Not JSON, not an object, or `id` or `preferredUsername` missing or not a string.
    #[error("not an actor with a string `id` and `preferredUsername`")]
    Json {
        /// What the JSON parser said.
        #[from]
        source: serde_json::Error,
    },
    /// The `id` is not an absolute URL.
    #[error("the actor's id `{id}` is not an absolute URL")]
    InvalidId {
        /// The id as given.
        id: String,
    },
}

/// The two members of an actor document that the WebFinger round trip needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActorHandle {
    /// The actor's `id`.
    pub id: Url,
    /// The actor's `preferredUsername`.
    pub preferred_username: String,
}

impl ActorHandle {
    /// An actor handle from its parts.
    pub fn new(id: Url, preferred_username: impl Into<String>) -> ActorHandle {
        ActorHandle {
            id,
            preferred_username: preferred_username.into(),
        }
    }

    /// Reads `id` and `preferredUsername` from an already fetched actor document; other members
    /// are ignored.
    ///
    /// # Errors
    ///
    /// [`ActorJsonError`] when either member is missing or malformed.
    pub fn from_actor_json(bytes: &[u8]) -> Result<ActorHandle, ActorJsonError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Actor {
            id: String,
            preferred_username: String,
        }
        let actor: Actor = serde_json::from_slice(bytes)?;
        let id = Url::parse(&actor.id).map_err(|_| ActorJsonError::InvalidId { id: actor.id })?;
        Ok(ActorHandle {
            id,
            preferred_username: actor.preferred_username,
        })
    }

    /// The `acct:` URI to look up for the round trip ([`round_trip_resource`]).
    ///
    /// # Errors
    ///
    /// See [`round_trip_resource`].
    pub fn round_trip_resource(&self) -> Result<AcctUri, RoundTripError> {
        round_trip_resource(&self.id, &self.preferred_username)
    }
}

impl Jrd {
    /// The first link that [`is_activitypub_self`](Link::is_activitypub_self).
    pub fn activitypub_link(&self) -> Option<&Link> {
        self.links.iter().find(|link| link.is_activitypub_self())
    }

    /// The ActivityPub actor id: the `href` of the first `self` link whose type is
    /// `application/activity+json` or `application/ld+json` with the ActivityStreams profile,
    /// as Mastodon reads it.
    ///
    /// # Errors
    ///
    /// [`ActorLinkError`] saying what is missing.
    pub fn activitypub_id(&self) -> Result<Url, ActorLinkError> {
        let link = self
            .activitypub_link()
            .ok_or_else(|| ActorLinkError::NoActivityPubLink {
                seen_types: self
                    .links_with_rel(&Rel::SELF)
                    .map(|link| link.media_type.clone())
                    .collect(),
            })?;
        let href = link.href.as_deref().ok_or(ActorLinkError::MissingHref)?;
        Url::parse(href)
            .ok()
            .filter(|url| matches!(url.scheme(), "https" | "http") && url.host().is_some())
            .ok_or_else(|| ActorLinkError::InvalidHref {
                href: href.to_owned(),
            })
    }
}

impl Link {
    /// Whether this is the link to the ActivityPub actor: `rel` `self` and an ActivityStreams
    /// media type ([`is_activitystreams_media_type`]).
    pub fn is_activitypub_self(&self) -> bool {
        self.rel == Rel::SELF
            && self
                .media_type
                .as_deref()
                .is_some_and(is_activitystreams_media_type)
    }
}

/// Whether a media type names ActivityStreams: `application/activity+json` (with any
/// parameters), or `application/ld+json` whose `profile` parameter lists
/// `https://www.w3.org/ns/activitystreams`. Type names and parameter names are
/// case-insensitive; white space around `;` and `=` is allowed.
pub fn is_activitystreams_media_type(media_type: &str) -> bool {
    let mut parts = media_type.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(ACTIVITY_JSON) {
        return true;
    }
    if !essence.eq_ignore_ascii_case("application/ld+json") {
        return false;
    }
    parts.any(|parameter| {
        let Some((name, value)) = parameter.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("profile")
            && value
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|profile| profile == ACTIVITYSTREAMS_PROFILE)
    })
}

/// Compares the subject of a JRD with the `acct:` URI that was asked for, as Mastodon's
/// `ResolveAccountService` does.
///
/// A subject that is missing or is not an `acct:` URI confirms the request: the canonical name
/// is then the one asked for.
pub fn subject_check(requested: &AcctUri, jrd: &Jrd) -> SubjectCheck {
    match jrd.subject_resource() {
        Some(Ok(Resource::Acct(subject))) if subject.same_account(requested) => {
            SubjectCheck::Confirmed(subject)
        }
        Some(Ok(Resource::Acct(subject))) => SubjectCheck::Redirect(subject),
        _ => SubjectCheck::Confirmed(requested.clone()),
    }
}

/// The `acct:` URI for Mastodon's round trip: `preferredUsername@host`, the host being the
/// actor id's (with its port, if any). Resolving it must lead back to `actor_id`
/// ([`check_round_trip`]) before the handle is shown to anyone.
///
/// # Errors
///
/// [`RoundTripError`] when the id has no host or the username cannot be an `acct:` user part.
pub fn round_trip_resource(
    actor_id: &Url,
    preferred_username: &str,
) -> Result<AcctUri, RoundTripError> {
    let host = actor_id
        .host()
        .map(|host| {
            let text = match actor_id.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            Host::parse(&text)
        })
        .ok_or_else(|| RoundTripError::ActorIdWithoutHost {
            actor_id: actor_id.clone(),
        })?
        .map_err(|source| RoundTripError::InvalidUsername {
            preferred_username: preferred_username.to_owned(),
            source,
        })?;
    AcctUri::new(preferred_username, host).map_err(|source| RoundTripError::InvalidUsername {
        preferred_username: preferred_username.to_owned(),
        source,
    })
}

/// Whether the JRD found for the round-trip `acct:` URI points back at `actor_id`.
pub fn check_round_trip(actor_id: &Url, jrd: &Jrd) -> bool {
    jrd.activitypub_id().is_ok_and(|found| found == *actor_id)
}
