//! Addressing: who an object is for, whether it is public, whom it mentions, and what must be
//! removed before delivery.
//!
//! See [ActivityPub §6.1 (delivery)](https://www.w3.org/TR/activitypub/#delivery) and
//! [§7.1](https://www.w3.org/TR/activitypub/#outbox-delivery).

use serde_json::Value;

use crate::values::{Address, OneOrMany, PublicSpelling};
use crate::{AnyObject, Iri, LinkType, ObjectProps, Reference};

/// The addressing members, in the order ActivityPub lists them.
pub const ADDRESSING_KEYS: [&str; 5] = ["to", "bto", "cc", "bcc", "audience"];

/// Every address in `to`, `bto`, `cc`, `bcc` and `audience`.
pub fn recipients(props: &ObjectProps) -> impl Iterator<Item = &Address> {
    [
        props.to.as_ref(),
        props.bto.as_deref(),
        props.cc.as_ref(),
        props.bcc.as_deref(),
        props.audience.as_deref(),
    ]
    .into_iter()
    .flatten()
    .flat_map(OneOrMany::iter)
}

/// Whether the public collection (in any spelling) is among the recipients (`to`, `cc`, `bto`,
/// `bcc`, `audience`), including in a member that did not fit its type and stayed raw.
pub fn is_public(props: &ObjectProps) -> bool {
    recipients(props).any(Address::is_public)
        || ADDRESSING_KEYS
            .iter()
            .filter_map(|k| props.extra.get(*k))
            .any(raw_mentions_public)
}

fn raw_mentions_public(value: &Value) -> bool {
    match value {
        Value::String(s) => PublicSpelling::of(s).is_some(),
        Value::Array(items) => items.iter().any(raw_mentions_public),
        _ => false,
    }
}

/// How widely an object is shared, as Mastodon presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Visibility {
    /// Public, in `to`: shown on public timelines.
    Public,
    /// Public, but only in `cc`: anyone may see it, it is not pushed to public timelines.
    Unlisted,
    /// Addressed to the author's followers collection, not public.
    FollowersOnly,
    /// Addressed only to specific actors.
    Direct,
}

/// The visibility of an object whose author's followers collection is `followers`.
pub fn visibility(props: &ObjectProps, followers: Option<&Iri>) -> Visibility {
    let in_to = props.to.iter().flatten().any(Address::is_public);
    if in_to {
        return Visibility::Public;
    }
    if is_public(props) {
        return Visibility::Unlisted;
    }
    let to_followers = followers.is_some_and(|f| recipients(props).any(|a| a.id() == Some(f)));
    if to_followers {
        Visibility::FollowersOnly
    } else {
        Visibility::Direct
    }
}

/// The ids of the actors and collections to deliver to: every recipient but the public
/// collection, each once, in order of first appearance. For an activity, the recipients of its
/// embedded objects are included, as ActivityPub §7.1.1 suggests for `Create`.
pub fn delivery_targets(object: &AnyObject) -> Vec<Iri> {
    let mut out: Vec<Iri> = Vec::new();
    let mut add = |props: &ObjectProps| {
        for id in recipients(props).filter_map(Address::id) {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
    };
    add(object.props());
    if let AnyObject::Activity(activity) = object {
        for embedded in activity
            .object
            .iter()
            .flatten()
            .filter_map(Reference::as_object)
        {
            add(embedded.props());
        }
    }
    out
}

/// The ids of the actors mentioned in `tag` (`Mention` links' `href`).
pub fn mentions(props: &ObjectProps) -> Vec<&Iri> {
    props
        .tag
        .iter()
        .flatten()
        .filter_map(Reference::as_object)
        .filter_map(AnyObject::as_link)
        .filter(|link| link.kind == LinkType::Mention)
        .filter_map(|link| link.href.as_ref())
        .collect()
}

/// Removes `bto` and `bcc` (typed or kept raw) from the object and, for an activity, from its
/// embedded objects, as ActivityPub §6 requires before delivery. Returns whether anything was
/// removed.
pub fn strip_hidden_recipients(object: &mut AnyObject) -> bool {
    let mut removed = strip(object.props_mut());
    if let AnyObject::Activity(activity) = object {
        for reference in activity.object.iter_mut().flat_map(|o| o.iter_mut()) {
            if let Reference::Object(embedded) = reference {
                removed |= strip_hidden_recipients(embedded);
            }
        }
    }
    removed
}

fn strip(props: &mut ObjectProps) -> bool {
    let mut removed = props.bto.take().is_some() | props.bcc.take().is_some();
    removed |= props.extra.remove("bto").is_some();
    removed |= props.extra.remove("bcc").is_some();
    removed
}
