//! Relayed posts: activities and objects that reach a server from someone other than their
//! author (a relay forwarding a `Create`, a relay or a tag actor `Announce`ing a post), believed
//! only once their authenticity is established (feature `relayed`).
//!
//! The rule, as Mastodon applies it to what relays forward:
//! - a `Create` (or an `Update`) carrying a Linked Data signature (`RsaSignature2017`, crate
//!   `ld-signatures`) is believed when the signature verifies with a key of the activity's
//!   actor (fetched through the [`KeyCache`]); what is read is the signed document as
//!   [`ld_signatures::Verified`] gives it, never members the signature does not cover;
//! - without a signature, the object is fetched from its own server ([`Fetcher`]: its id, and
//!   its `attributedTo` the actor, of the same origin);
//! - either way the object must be the actor's: its id on the actor's origin, attributed to it.
//!
//! A forwarded delivery (signed over HTTP by the relay, not by the actor) comes in through the
//! inbox's `forwarded` hook ([`crate::inbox::Dispatcher::on_forwarded`]): the inbox checks the
//! relay's signature, the app decides whether it takes forwards from that relay and vouches for
//! the activity by these rules, handing back the object it believes
//! ([`crate::inbox::Vouch::VouchedWithObject`]).

use activitypub_core::Iri;
use activitypub_core::origin::same_origin;
use serde_json::Value;
use url::Url;

use crate::fetch::{FetchBudget, FetchError, Fetcher};
use crate::keys::{KeyCache, KeyError};

/// How a relayed post's authenticity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authenticity {
    /// A valid Linked Data signature by a key of its actor.
    LdSignature,
    /// Its own server served it.
    Origin,
}

/// A relayed post whose authenticity is established.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RelayedPost {
    /// Its author (the activity's actor, or the fetched object's `attributedTo`).
    pub actor: Iri,
    /// The object: as signed (the readable document of the signature) or as served.
    pub object: Value,
    /// How it was established.
    pub authenticity: Authenticity,
}

/// Why a relayed activity or post is not believed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayedError {
    /// The activity has no `actor` that is an IRI.
    #[error("the relayed activity names no actor")]
    NoActor,
    /// The activity has no `object` (or the signed one is not an object).
    #[error("the relayed activity names no object")]
    NoObject,
    /// The `signature` member cannot be read.
    #[error("the relayed activity's LD signature cannot be read: {0}")]
    UnreadableSignature(#[source] Box<ld_signatures::Error>),
    /// The key the signature names (`creator`) cannot be had.
    #[error("the key {creator} of the relayed activity's LD signature cannot be had: {source}")]
    KeyUnavailable {
        /// The key id.
        creator: String,
        /// Why.
        #[source]
        source: Box<KeyError>,
    },
    /// The key belongs to someone other than the activity's actor.
    #[error("the relayed activity is LD-signed by {owner}, not by its actor {actor}")]
    SignedBySomeoneElse {
        /// The activity's actor.
        actor: Iri,
        /// The key's owner.
        owner: Iri,
    },
    /// The signature does not verify (the document was changed, or another key signed it).
    #[error("the relayed activity's LD signature does not verify: {0}")]
    DoesNotVerify(#[source] Box<ld_signatures::Error>),
    /// The signature is of a document with another `id`.
    #[error("the LD signature covers another document ({signed}), not {id}")]
    OtherDocument {
        /// The signed document's id.
        signed: String,
        /// The received activity's id.
        id: String,
    },
    /// The object's server does not serve it (an error, 404, 410, another id).
    #[error("the server of {id} does not serve it: {source}")]
    NotServed {
        /// The object's id.
        id: String,
        /// Why.
        #[source]
        source: Box<FetchError>,
    },
    /// The object served or signed is not the actor's (its id elsewhere, or attributed to
    /// someone else), or is served under another id.
    #[error("the relayed object {id} is not {actor}'s")]
    NotTheActors {
        /// The object's id.
        id: String,
        /// The actor it should be of.
        actor: String,
    },
    /// A relayed `Delete` without a signature of an object its server still serves.
    #[error("the server of {id} still serves it")]
    StillServed {
        /// The object's id.
        id: String,
    },
}

impl RelayedError {
    /// A few words for the answer to the relay (the log has the whole error).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoActor => "no actor",
            Self::NoObject => "no object",
            Self::UnreadableSignature(_) => "unreadable LD signature",
            Self::KeyUnavailable { .. } => "LD signature key unavailable",
            Self::SignedBySomeoneElse { .. } => "LD signature by someone else",
            Self::DoesNotVerify(_) => "LD signature does not verify",
            Self::OtherDocument { .. } => "LD signature of another document",
            Self::NotServed { .. } => "origin does not serve it",
            Self::NotTheActors { .. } => "object not the actor's",
            Self::StillServed { .. } => "the post's server still serves it",
        }
    }
}

/// A relayed `Create`: its object, believed from the activity's LD signature, or else fetched
/// from its own server; refused unless the object is the actor's.
pub async fn verify_create(
    activity: &Value,
    keys: &KeyCache,
    fetcher: &Fetcher,
    budget: &mut FetchBudget,
) -> Result<RelayedPost, RelayedError> {
    let actor = actor_of(activity)?;
    let claimed = object_id(activity.get("object")).ok_or(RelayedError::NoObject)?;
    let (object, authenticity) = if activity.get("signature").is_some() {
        let document = verify_ld(activity, &actor, keys, budget).await?;
        match document.get("object") {
            Some(object @ Value::Object(_)) => (object.clone(), Authenticity::LdSignature),
            _ => return Err(RelayedError::NoObject),
        }
    } else {
        (
            fetch(&claimed, fetcher, budget).await?,
            Authenticity::Origin,
        )
    };
    let not_the_actors = || RelayedError::NotTheActors {
        id: claimed.clone(),
        actor: actor.to_string(),
    };
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| Iri::parse(id).ok())
        .ok_or_else(not_the_actors)?;
    if id.as_str() != claimed
        || attributed_to(&object).as_ref() != Some(&actor)
        || !same_origin(&id, &actor)
    {
        return Err(not_the_actors());
    }
    Ok(RelayedPost {
        actor,
        object,
        authenticity,
    })
}

/// A relayed `Update`: the object as it is now, by the rule of [`verify_create`] (believed from
/// the activity's LD signature, or else fetched from its own server, which serves the post as
/// updated); refused unless the object is the actor's. The caller checks that it keeps that
/// object from that actor, and that the update is newer than what it keeps (a relay may replay
/// an old signed `Update`).
pub async fn verify_update(
    activity: &Value,
    keys: &KeyCache,
    fetcher: &Fetcher,
    budget: &mut FetchBudget,
) -> Result<RelayedPost, RelayedError> {
    verify_create(activity, keys, fetcher, budget).await
}

/// An announced post (`Announce` by a relay or a tag actor, of the post's id): fetched from its
/// own server, refused unless served under that id and attributed to an actor of that server.
pub async fn verify_announced(
    id: &Iri,
    fetcher: &Fetcher,
    budget: &mut FetchBudget,
) -> Result<RelayedPost, RelayedError> {
    let object = fetch(id.as_str(), fetcher, budget).await?;
    let not_the_authors = |actor: String| RelayedError::NotTheActors {
        id: id.to_string(),
        actor,
    };
    if object.get("id").and_then(Value::as_str) != Some(id.as_str()) {
        return Err(not_the_authors("its attributedTo".to_owned()));
    }
    let actor =
        attributed_to(&object).ok_or_else(|| not_the_authors("its attributedTo".to_owned()))?;
    if !same_origin(&actor, id) {
        return Err(not_the_authors(actor.to_string()));
    }
    Ok(RelayedPost {
        actor,
        object,
        authenticity: Authenticity::Origin,
    })
}

/// A relayed `Delete` by its actor of object `id` (returned with the actor): believed from its
/// LD signature, or when the object's own server answers 404 or 410 for it. The caller checks
/// that the object it keeps is the actor's.
pub async fn verify_delete(
    activity: &Value,
    keys: &KeyCache,
    fetcher: &Fetcher,
    budget: &mut FetchBudget,
) -> Result<(Iri, String), RelayedError> {
    let actor = actor_of(activity)?;
    let id = object_id(activity.get("object")).ok_or(RelayedError::NoObject)?;
    if activity.get("signature").is_some() {
        verify_ld(activity, &actor, keys, budget).await?;
    } else {
        verify_gone(&id, fetcher, budget).await?;
    }
    Ok((actor, id))
}

/// Whether object `id` is gone: its own server answers 404 or 410 for it. What a relay's
/// withdrawal of a post (an `Undo` of its `Announce`) is believed from: the relay cannot
/// speak for the author, the author's server can.
pub async fn verify_gone(
    id: &str,
    fetcher: &Fetcher,
    budget: &mut FetchBudget,
) -> Result<(), RelayedError> {
    let url = Url::parse(id).map_err(|_| RelayedError::NoObject)?;
    match fetcher.fetch(&url, budget).await {
        Err(FetchError::Gone { .. } | FetchError::NotFound { .. }) => Ok(()),
        _ => Err(RelayedError::StillServed { id: id.to_owned() }),
    }
}

/// The readable document of `activity` when its LD signature verifies with a key of `actor`.
pub async fn verify_ld(
    activity: &Value,
    actor: &Iri,
    keys: &KeyCache,
    budget: &mut FetchBudget,
) -> Result<Value, RelayedError> {
    let signature = ld_signatures::LdSignature::read(activity)
        .map_err(|e| RelayedError::UnreadableSignature(e.into()))?;
    let key = keys
        .key(&signature.creator, budget)
        .await
        .map_err(|source| RelayedError::KeyUnavailable {
            creator: signature.creator.clone(),
            source: source.into(),
        })?;
    if key.owner != *actor {
        return Err(RelayedError::SignedBySomeoneElse {
            actor: actor.clone(),
            owner: key.owner.clone(),
        });
    }
    let verified = ld_signatures::verify(activity, &key.key)
        .map_err(|e| RelayedError::DoesNotVerify(e.into()))?;
    let id = activity
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if verified.id != id {
        return Err(RelayedError::OtherDocument {
            signed: verified.id,
            id: id.to_owned(),
        });
    }
    Ok(verified.document)
}

/// The id a member names: a string, or an object's `id` (the first of an array's).
pub fn object_id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(id) => Some(id.clone()),
        Value::Object(map) => map.get("id").and_then(Value::as_str).map(str::to_owned),
        Value::Array(items) => items.iter().find_map(|item| object_id(Some(item))),
        _ => None,
    }
}

/// The (first) author of an object: its `attributedTo`.
pub fn attributed_to(document: &Value) -> Option<Iri> {
    Iri::parse(object_id(document.get("attributedTo"))?).ok()
}

fn actor_of(activity: &Value) -> Result<Iri, RelayedError> {
    activity
        .get("actor")
        .and_then(|actor| object_id(Some(actor)))
        .and_then(|actor| Iri::parse(actor).ok())
        .ok_or(RelayedError::NoActor)
}

async fn fetch(
    id: &str,
    fetcher: &Fetcher,
    budget: &mut FetchBudget,
) -> Result<Value, RelayedError> {
    let not_served = |source: FetchError| RelayedError::NotServed {
        id: id.to_owned(),
        source: source.into(),
    };
    let url = Url::parse(id).map_err(|_| RelayedError::NoObject)?;
    let fetched = fetcher.fetch(&url, budget).await.map_err(not_served)?;
    serde_json::to_value(fetched.object()).map_err(|_| RelayedError::NoObject)
}
