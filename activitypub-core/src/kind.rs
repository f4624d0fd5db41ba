//! The `type` names the vocabulary knows, one enum per family of types, and open enumerations of
//! extension values.

use std::fmt;

use crate::json::{FromJson, Raw};
use serde::{Serialize, Serializer};

/// The vocabularies whose type names the model knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Namespace {
    /// ActivityStreams, `https://www.w3.org/ns/activitystreams#` (`as:`).
    ActivityStreams,
    /// Mastodon's, `http://joinmastodon.org/ns#` (`toot:`).
    Mastodon,
    /// schema.org, `http://schema.org#` or `http://schema.org/` (`schema:`, `sc:`).
    SchemaOrg,
    /// Mobilizon's, `https://joinmobilizon.org/ns#` (`mz:`).
    Mobilizon,
    /// PeerTube's, `https://joinpeertube.org/ns#` (`pt:`).
    PeerTube,
    /// LitePub's, `http://litepub.social/ns#` (`litepub:`).
    LitePub,
}

/// Splits a type name written as a compact or full IRI in a namespace the fediverse uses
/// (`as:Note`, `https://www.w3.org/ns/activitystreams#Note`, `schema:PropertyValue`,
/// `http://schema.org/PropertyValue`...) into its namespace and local name. A bare name (`Note`)
/// has no namespace; a name in an unknown namespace comes back whole, with none.
pub fn split_type_name(name: &str) -> (Option<Namespace>, &str) {
    use Namespace::*;
    const PREFIXES: &[(&str, Namespace)] = &[
        ("https://www.w3.org/ns/activitystreams#", ActivityStreams),
        ("http://www.w3.org/ns/activitystreams#", ActivityStreams),
        ("as:", ActivityStreams),
        ("http://joinmastodon.org/ns#", Mastodon),
        ("toot:", Mastodon),
        ("http://schema.org#", SchemaOrg),
        ("http://schema.org/", SchemaOrg),
        ("https://schema.org/", SchemaOrg),
        ("https://schema.org#", SchemaOrg),
        ("schema:", SchemaOrg),
        ("sc:", SchemaOrg),
        ("https://joinmobilizon.org/ns#", Mobilizon),
        ("mz:", Mobilizon),
        ("https://joinpeertube.org/ns#", PeerTube),
        ("pt:", PeerTube),
        ("http://litepub.social/ns#", LitePub),
        ("litepub:", LitePub),
    ];
    // Nearly every type is written as a bare name: skip the prefix table for those.
    if !name.contains(':') {
        return (None, name);
    }
    PREFIXES
        .iter()
        .find_map(|(p, ns)| name.strip_prefix(p).map(|local| (Some(*ns), local)))
        .unwrap_or((None, name))
}

/// The local name of a type (see [`split_type_name`]), whatever its namespace.
pub fn local_type_name(name: &str) -> &str {
    split_type_name(name).1
}

macro_rules! kind_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(in $ns:ident)?, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every type of this family.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The type name as written in compacted JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )*
                }
            }

            /// The vocabulary the type belongs to.
            pub fn namespace(self) -> Namespace {
                match self {
                    $( Self::$variant => kind_enum!(@ns $($ns)?), )*
                }
            }

            /// Recognises a type name, bare or written as a compact or full IRI in the type's
            /// own namespace (see [`split_type_name`]): `as:Note` is a Note, `toot:Note` is not.
            pub fn from_name(name: &str) -> Option<Self> {
                let (namespace, local) = split_type_name(name);
                let kind = match local {
                    $( $text => Self::$variant, )*
                    _ => return None,
                };
                namespace.is_none_or(|ns| ns == kind.namespace()).then_some(kind)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
    (@ns) => { Namespace::ActivityStreams };
    (@ns $ns:ident) => { Namespace::$ns };
}

kind_enum! {
    /// The activity types of [Activity Vocabulary §3.1][spec], but `Question`, which has its own
    /// type ([`crate::Question`]) because it carries options, plus `EmojiReact` (LitePub,
    /// Misskey) and FEP-5624's `ApproveReply` and `RejectReply`.
    ///
    /// [spec]: https://www.w3.org/TR/activitystreams-vocabulary/#activity-types
    pub enum ActivityType {
        /// The actor accepts the object.
        Accept = "Accept",
        /// The actor added the object to the target.
        Add = "Add",
        /// The actor shares (boosts) the object.
        Announce = "Announce",
        /// The actor arrived at a location (intransitive).
        Arrive = "Arrive",
        /// The actor blocks the object.
        Block = "Block",
        /// The actor created the object.
        Create = "Create",
        /// The actor deleted the object.
        Delete = "Delete",
        /// The actor dislikes the object.
        Dislike = "Dislike",
        /// The actor reports the object.
        Flag = "Flag",
        /// The actor follows the object.
        Follow = "Follow",
        /// The actor ignores the object.
        Ignore = "Ignore",
        /// The actor invites the object to the target.
        Invite = "Invite",
        /// The actor joins the object (an event, a group).
        Join = "Join",
        /// The actor leaves the object.
        Leave = "Leave",
        /// The actor likes the object.
        Like = "Like",
        /// The actor listened to the object.
        Listen = "Listen",
        /// The actor moved the object from origin to target (an account migration).
        Move = "Move",
        /// The actor offers the object.
        Offer = "Offer",
        /// The actor read the object.
        Read = "Read",
        /// The actor rejects the object.
        Reject = "Reject",
        /// The actor removed the object from the origin.
        Remove = "Remove",
        /// A tentative acceptance.
        TentativeAccept = "TentativeAccept",
        /// A tentative rejection.
        TentativeReject = "TentativeReject",
        /// The actor is travelling (intransitive).
        Travel = "Travel",
        /// The actor undoes a previous activity.
        Undo = "Undo",
        /// The actor updated the object.
        Update = "Update",
        /// The actor viewed the object.
        View = "View",
        /// An emoji reaction (LitePub, Misskey): `content` holds the emoji.
        EmojiReact = "EmojiReact" in LitePub,
        /// The owner of what `inReplyTo` names approves the reply `object` (FEP-5624, Mastodon's
        /// namespace; PeerTube sends it for comments held under a video).
        ApproveReply = "ApproveReply" in Mastodon,
        /// The owner of what `inReplyTo` names rejects the reply `object` (FEP-5624).
        RejectReply = "RejectReply" in Mastodon,
    }
}

impl ActivityType {
    /// Whether the type takes no `object` (`Arrive`, `Travel`).
    pub fn is_intransitive(self) -> bool {
        matches!(self, Self::Arrive | Self::Travel)
    }
}

kind_enum! {
    /// The actor types of [Activity Vocabulary §3.2][spec].
    ///
    /// [spec]: https://www.w3.org/TR/activitystreams-vocabulary/#actor-types
    pub enum ActorType {
        /// A software application (relays, instance actors).
        Application = "Application",
        /// A group (Lemmy communities, Mobilizon groups, PeerTube channels).
        Group = "Group",
        /// An organization.
        Organization = "Organization",
        /// A person.
        Person = "Person",
        /// A service (bots).
        Service = "Service",
    }
}

kind_enum! {
    /// The collection types of [Activity Vocabulary §2][spec].
    ///
    /// [spec]: https://www.w3.org/TR/activitystreams-vocabulary/#dfn-collection
    pub enum CollectionType {
        /// An unordered collection.
        Collection = "Collection",
        /// An ordered collection (newest first in ActivityPub).
        OrderedCollection = "OrderedCollection",
        /// A page of an unordered collection.
        CollectionPage = "CollectionPage",
        /// A page of an ordered collection.
        OrderedCollectionPage = "OrderedCollectionPage",
    }
}

impl CollectionType {
    /// Whether this is a page of a collection.
    pub fn is_page(self) -> bool {
        matches!(self, Self::CollectionPage | Self::OrderedCollectionPage)
    }

    /// Whether the items are ordered.
    pub fn is_ordered(self) -> bool {
        matches!(self, Self::OrderedCollection | Self::OrderedCollectionPage)
    }
}

kind_enum! {
    /// The object types read as a plain [`crate::Object`]: those of [Activity Vocabulary §3.3][spec]
    /// that need no properties of their own beyond `Relationship`'s and `Profile`'s, plus
    /// Mastodon's `Emoji`. `Event`, `Place`, `Question`, `Tombstone` and `Video` have types of
    /// their own.
    ///
    /// [spec]: https://www.w3.org/TR/activitystreams-vocabulary/#object-types
    pub enum ObjectType {
        /// A long-form text (blog posts, Plume, WordPress, NodeBB topics).
        Article = "Article",
        /// An audio document (Funkwhale).
        Audio = "Audio",
        /// A document of any kind (media attachments).
        Document = "Document",
        /// An image.
        Image = "Image",
        /// A short text (a toot, a comment).
        Note = "Note",
        /// A web page (Lemmy posts).
        Page = "Page",
        /// A profile describing an object.
        Profile = "Profile",
        /// A relationship between two objects.
        Relationship = "Relationship",
        /// A custom emoji (Mastodon `toot:Emoji`), shown for its `name` shortcode.
        Emoji = "Emoji" in Mastodon,
    }
}

kind_enum! {
    /// The link types: [`Link` and `Mention`][spec], and the `Hashtag` the fediverse uses.
    ///
    /// [spec]: https://www.w3.org/TR/activitystreams-vocabulary/#dfn-link
    pub enum LinkType {
        /// A link.
        Link = "Link",
        /// A mention of an actor; `href` is the actor id.
        Mention = "Mention",
        /// A hashtag (`as:Hashtag`); `name` is `#tag`, `href` the tag page.
        Hashtag = "Hashtag",
    }
}

/// Declares an open enumeration of string values: the known ones as variants, any other kept in
/// `Other`, each serializing back to the text it was read from.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know, kept as received.
            Other(String),
        }

        impl $name {
            /// The value as written in JSON.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $( $text => Self::$variant, )*
                    _ => Self::Other(s),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::from(s.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl FromJson for $name {
            fn from_json(raw: Raw) -> Result<Self, Raw> {
                String::from_json(raw).map(Self::from)
            }
        }
    };
}

open_enum! {
    /// Who may join a Mobilizon event (`mz:joinMode`).
    pub enum JoinMode {
        /// Anyone may join.
        Free = "free",
        /// Joining needs the organizer's approval.
        Restricted = "restricted",
        /// Only invited people may join.
        Invite = "invite",
        /// Participation is handled elsewhere (a link to another site).
        External = "external",
    }
}

open_enum! {
    /// The status of an event (`ical:status`, RFC 5545 §3.8.1.11).
    pub enum EventStatus {
        /// Not yet confirmed.
        Tentative = "TENTATIVE",
        /// Confirmed.
        Confirmed = "CONFIRMED",
        /// Cancelled.
        Cancelled = "CANCELLED",
    }
}

open_enum! {
    /// The role of a member in a Mobilizon group (`mz:role` of a `Member`).
    pub enum MemberRole {
        /// Invited, not yet a member.
        Invited = "invited",
        /// Asked to join, not yet approved.
        NotApproved = "not_approved",
        /// A member.
        Member = "member",
        /// A moderator.
        Moderator = "moderator",
        /// An administrator.
        Administrator = "administrator",
        /// The creator of the group.
        Creator = "creator",
        /// Rejected.
        Rejected = "rejected",
    }
}

open_enum! {
    /// Who may join a Mobilizon group (`mz:openness`).
    pub enum Openness {
        /// Anyone may join.
        Open = "open",
        /// Joining needs approval.
        Moderated = "moderated",
        /// Only by invitation.
        InviteOnly = "invite_only",
    }
}
