//! [`AnyObject`]: any ActivityStreams document, read into the type its `type` names.

use serde::{Serialize, Serializer};

use crate::error::ParseError;
use crate::ext::mobilizon::{Event, EventType, Member, MemberType};
use crate::ext::peertube::{CacheFile, CacheFileType, Playlist, PlaylistType, Video, VideoType};
use crate::ext::schema::{PropertyValue, PropertyValueType};
use crate::json::{FromJson, JsonKind, Raw, member};
use crate::kind::{
    ActivityType, ActorType, CollectionType, LinkType, Namespace, ObjectType, split_type_name,
};
use crate::object::{
    Object, ObjectProps, Place, PlaceType, RawType, Tombstone, TombstoneType, Unknown,
};
use crate::values::{Iri, OneOrMany, Reference};
use crate::{Activity, Actor, Collection, Link, Question, activity::QuestionType};

/// Any ActivityStreams object, activity, actor, collection or link, as the type its `type` names.
///
/// Variants are boxed, so the enum is two words wide however large the types grow.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AnyObject {
    /// An activity (`Create`, `Follow`, `Like`...).
    Activity(Box<Activity>),
    /// A poll (`Question`).
    Question(Box<Question>),
    /// An actor (`Person`, `Group`, `Service`...).
    Actor(Box<Actor>),
    /// A collection or a page of one.
    Collection(Box<Collection>),
    /// A `Note`, `Article`, `Page`, `Image`, `Document`, `Audio`, `Profile`, `Relationship` or
    /// `Emoji`.
    Object(Box<Object>),
    /// An `Event` (Mobilizon, Gancio).
    Event(Box<Event>),
    /// A `Video` (PeerTube).
    Video(Box<Video>),
    /// A `Place`.
    Place(Box<Place>),
    /// A `Tombstone`.
    Tombstone(Box<Tombstone>),
    /// A `Link`, `Mention` or `Hashtag`.
    Link(Box<Link>),
    /// A group `Member` (Mobilizon).
    Member(Box<Member>),
    /// A `CacheFile` (PeerTube).
    CacheFile(Box<CacheFile>),
    /// A `Playlist` (PeerTube).
    Playlist(Box<Playlist>),
    /// A `PropertyValue` (schema.org profile field).
    PropertyValue(Box<PropertyValue>),
    /// Any other type, carried with its common properties and every other member.
    Unknown(Box<Unknown>),
}

/// Runs `$body` with `$v` bound to the boxed value of whichever variant `$self` is.
macro_rules! each_variant {
    ($self:expr, $v:ident => $body:expr) => {
        match $self {
            AnyObject::Activity($v) => $body,
            AnyObject::Question($v) => $body,
            AnyObject::Actor($v) => $body,
            AnyObject::Collection($v) => $body,
            AnyObject::Object($v) => $body,
            AnyObject::Event($v) => $body,
            AnyObject::Video($v) => $body,
            AnyObject::Place($v) => $body,
            AnyObject::Tombstone($v) => $body,
            AnyObject::Link($v) => $body,
            AnyObject::Member($v) => $body,
            AnyObject::CacheFile($v) => $body,
            AnyObject::Playlist($v) => $body,
            AnyObject::PropertyValue($v) => $body,
            AnyObject::Unknown($v) => $body,
        }
    };
}

impl AnyObject {
    /// The `id`.
    pub fn id(&self) -> Option<&Iri> {
        self.props().id.as_ref()
    }

    /// The properties every object has.
    pub fn props(&self) -> &ObjectProps {
        each_variant!(self, v => &v.props)
    }

    /// The properties every object has, mutably.
    pub fn props_mut(&mut self) -> &mut ObjectProps {
        each_variant!(self, v => &mut v.props)
    }

    /// The `type` name this object was read as (`"Create"`, `"Note"`, `"ChatMessage"`...).
    pub fn type_name(&self) -> &str {
        match self {
            Self::Activity(v) => v.kind.as_str(),
            Self::Question(v) => v.kind.as_str(),
            Self::Actor(v) => v.kind.as_str(),
            Self::Collection(v) => v.kind.as_str(),
            Self::Object(v) => v.kind.as_str(),
            Self::Event(v) => v.kind.as_str(),
            Self::Video(v) => v.kind.as_str(),
            Self::Place(v) => v.kind.as_str(),
            Self::Tombstone(v) => v.kind.as_str(),
            Self::Link(v) => v.kind.as_str(),
            Self::Member(v) => v.kind.as_str(),
            Self::CacheFile(v) => v.kind.as_str(),
            Self::Playlist(v) => v.kind.as_str(),
            Self::PropertyValue(v) => v.kind.as_str(),
            Self::Unknown(v) => &v.kind,
        }
    }

    /// The name of the variant (`"Activity"`, `"Actor"`, `"Unknown"`...).
    pub fn variant_name(&self) -> &'static str {
        match self {
            Self::Activity(_) => "Activity",
            Self::Question(_) => "Question",
            Self::Actor(_) => "Actor",
            Self::Collection(_) => "Collection",
            Self::Object(_) => "Object",
            Self::Event(_) => "Event",
            Self::Video(_) => "Video",
            Self::Place(_) => "Place",
            Self::Tombstone(_) => "Tombstone",
            Self::Link(_) => "Link",
            Self::Member(_) => "Member",
            Self::CacheFile(_) => "CacheFile",
            Self::Playlist(_) => "Playlist",
            Self::PropertyValue(_) => "PropertyValue",
            Self::Unknown(_) => "Unknown",
        }
    }

    /// The members whose received value did not fit their type (their raw values are in
    /// `props().extra`).
    pub fn degraded(&self) -> Vec<&str> {
        each_variant!(self, v => v.degraded().collect())
    }

    /// The activity, if this is one.
    pub fn as_activity(&self) -> Option<&Activity> {
        match self {
            Self::Activity(v) => Some(v),
            _ => None,
        }
    }

    /// The actor, if this is one.
    pub fn as_actor(&self) -> Option<&Actor> {
        match self {
            Self::Actor(v) => Some(v),
            _ => None,
        }
    }

    /// The collection, if this is one.
    pub fn as_collection(&self) -> Option<&Collection> {
        match self {
            Self::Collection(v) => Some(v),
            _ => None,
        }
    }

    /// The generic object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Self::Object(v) => Some(v),
            _ => None,
        }
    }

    /// The place, if this is one.
    pub fn as_place(&self) -> Option<&Place> {
        match self {
            Self::Place(v) => Some(v),
            _ => None,
        }
    }

    /// The link, if this is one.
    pub fn as_link(&self) -> Option<&Link> {
        match self {
            Self::Link(v) => Some(v),
            _ => None,
        }
    }

    /// Reads a JSON object, failing only on what makes it meaningless: no `type`, a `type` that
    /// is not a string or an array of strings, an `id` that is not an absolute IRI. Every other
    /// member that does not fit its type stays raw in `props.extra`.
    pub(crate) fn from_map(
        members: Vec<(String, Raw)>,
    ) -> Result<Self, (Vec<(String, Raw)>, ParseError)> {
        Self::from_map_implied(members, None)
    }

    /// Like [`AnyObject::from_map`], but an object with no `type` at all is read as `implied`
    /// (and serializes back without a `type`).
    fn from_map_implied(
        mut map: Vec<(String, Raw)>,
        implied: Option<(Class, &'static str)>,
    ) -> Result<Self, (Vec<(String, Raw)>, ParseError)> {
        let classified = match (member(&map, "type"), implied) {
            (None, Some((class, name))) => Ok((class, name.to_owned())),
            (value, _) => classify(value),
        };
        let (class, canonical) = match classified {
            Ok(c) => c,
            Err(e) => return Err((map, e)),
        };
        if let Err(e) = check_id(member(&map, "id")) {
            return Err((map, e));
        }
        // The last `type` is the one read; earlier duplicates are dropped, as a JSON object
        // with repeated names keeps only the last.
        let raw = map
            .iter()
            .rposition(|(k, _)| k == "type")
            // `remove`, not `swap_remove`: member order decides which repeated name wins.
            .map(|i| map.remove(i).1);
        if raw.is_some() {
            map.retain(|(k, _)| k != "type");
        }
        let raw_type = match raw {
            Some(Raw::String(s)) if s == canonical => None,
            Some(raw) => Some(Box::new(RawType::Received(
                raw.into_value(),
                canonical.clone(),
            ))),
            None => Some(Box::new(RawType::Absent(canonical.clone()))),
        };
        Ok(match class {
            Class::Activity(k) => Self::Activity(Activity::boxed_from_members(k, raw_type, map)),
            Class::Question => {
                Self::Question(Question::boxed_from_members(QuestionType, raw_type, map))
            }
            Class::Actor(k) => Self::Actor(Actor::boxed_from_members(k, raw_type, map)),
            Class::Collection(k) => {
                Self::Collection(Collection::boxed_from_members(k, raw_type, map))
            }
            Class::Object(k) => Self::Object(Object::boxed_from_members(k, raw_type, map)),
            Class::Event => Self::Event(Event::boxed_from_members(EventType, raw_type, map)),
            Class::Video => Self::Video(Video::boxed_from_members(VideoType, raw_type, map)),
            Class::Place => Self::Place(Place::boxed_from_members(PlaceType, raw_type, map)),
            Class::Tombstone => {
                Self::Tombstone(Tombstone::boxed_from_members(TombstoneType, raw_type, map))
            }
            Class::Link(k) => Self::Link(Link::boxed_from_members(k, raw_type, map)),
            Class::Member => Self::Member(Member::boxed_from_members(MemberType, raw_type, map)),
            Class::CacheFile => {
                Self::CacheFile(CacheFile::boxed_from_members(CacheFileType, raw_type, map))
            }
            Class::Playlist => {
                Self::Playlist(Playlist::boxed_from_members(PlaylistType, raw_type, map))
            }
            Class::PropertyValue => Self::PropertyValue(PropertyValue::boxed_from_members(
                PropertyValueType,
                raw_type,
                map,
            )),
            Class::Unknown => Self::Unknown(Unknown::boxed_from_members(canonical, raw_type, map)),
        })
    }
}

impl Serialize for AnyObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        each_variant!(self, v => v.serialize(serializer))
    }
}

impl FromJson for AnyObject {
    fn from_json(raw: Raw) -> Result<Self, Raw> {
        match raw {
            Raw::Object(members) => Self::from_map(members).map_err(|(m, _)| Raw::Object(m)),
            other => Err(other),
        }
    }
}

macro_rules! impl_from_boxed {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(
            impl From<$ty> for AnyObject {
                fn from(value: $ty) -> Self {
                    Self::$variant(Box::new(value))
                }
            }

            impl From<$ty> for crate::Reference<AnyObject> {
                fn from(value: $ty) -> Self {
                    Self::Object(AnyObject::$variant(Box::new(value)))
                }
            }
        )*
    };
}

impl_from_boxed!(
    Activity(Activity),
    Question(Question),
    Actor(Actor),
    Collection(Collection),
    Object(Object),
    Event(Event),
    Video(Video),
    Place(Place),
    Tombstone(Tombstone),
    Link(Link),
    Member(Member),
    CacheFile(CacheFile),
    Playlist(Playlist),
    PropertyValue(PropertyValue),
    Unknown(Unknown),
);

impl From<AnyObject> for crate::Reference<AnyObject> {
    fn from(value: AnyObject) -> Self {
        Self::Object(value)
    }
}

/// Which type a `type` name is read as.
#[derive(Debug, Clone, Copy)]
enum Class {
    Activity(ActivityType),
    Question,
    Actor(ActorType),
    Collection(CollectionType),
    Object(ObjectType),
    Event,
    Video,
    Place,
    Tombstone,
    Link(LinkType),
    Member,
    CacheFile,
    Playlist,
    PropertyValue,
    Unknown,
}

impl Class {
    fn of(name: &str) -> Option<(Self, &'static str)> {
        if let Some(k) = ActivityType::from_name(name) {
            return Some((Self::Activity(k), k.as_str()));
        }
        if let Some(k) = ObjectType::from_name(name) {
            return Some((Self::Object(k), k.as_str()));
        }
        if let Some(k) = ActorType::from_name(name) {
            return Some((Self::Actor(k), k.as_str()));
        }
        if let Some(k) = CollectionType::from_name(name) {
            return Some((Self::Collection(k), k.as_str()));
        }
        if let Some(k) = LinkType::from_name(name) {
            return Some((Self::Link(k), k.as_str()));
        }
        let (namespace, local) = split_type_name(name);
        let (class, canonical, home) = match local {
            "Question" => (Self::Question, "Question", Namespace::ActivityStreams),
            "Event" => (Self::Event, "Event", Namespace::ActivityStreams),
            "Video" => (Self::Video, "Video", Namespace::ActivityStreams),
            "Place" => (Self::Place, "Place", Namespace::ActivityStreams),
            "Tombstone" => (Self::Tombstone, "Tombstone", Namespace::ActivityStreams),
            "Member" => (Self::Member, "Member", Namespace::Mobilizon),
            "CacheFile" => (Self::CacheFile, "CacheFile", Namespace::PeerTube),
            "Playlist" => (Self::Playlist, "Playlist", Namespace::PeerTube),
            "PropertyValue" => (Self::PropertyValue, "PropertyValue", Namespace::SchemaOrg),
            _ => return None,
        };
        namespace
            .is_none_or(|ns| ns == home)
            .then_some((class, canonical))
    }
}

/// Reads the `type` member: the first name the vocabulary knows wins; with none, the object is
/// `Unknown` under its first name.
fn classify(value: Option<&Raw>) -> Result<(Class, String), ParseError> {
    match value {
        None => Err(ParseError::MissingType),
        Some(Raw::String(name)) => Ok(match Class::of(name) {
            Some((class, canonical)) => (class, canonical.to_owned()),
            None => (Class::Unknown, name.clone()),
        }),
        Some(Raw::Array(names)) => {
            if let Some(bad) = names.iter().find(|n| !matches!(n, Raw::String(_))) {
                return Err(ParseError::InvalidTypeEntry {
                    found: JsonKind::of_raw(bad),
                });
            }
            let names = || {
                names.iter().filter_map(|n| match n {
                    Raw::String(s) => Some(s.as_str()),
                    _ => None,
                })
            };
            if let Some((class, canonical)) = names().find_map(Class::of) {
                return Ok((class, canonical.to_owned()));
            }
            match names().next() {
                Some(name) => Ok((Class::Unknown, name.to_owned())),
                None => Err(ParseError::EmptyType),
            }
        }
        Some(other) => Err(ParseError::InvalidType {
            found: JsonKind::of_raw(other),
        }),
    }
}

fn check_id(value: Option<&Raw>) -> Result<(), ParseError> {
    match value {
        None => Ok(()),
        Some(Raw::String(s)) => {
            crate::values::check_iri(s).map_err(|reason| ParseError::InvalidId {
                value: s.clone(),
                reason,
            })
        }
        Some(other) => Err(ParseError::IdNotAString {
            found: JsonKind::of_raw(other),
        }),
    }
}

/// Reads `location`: an embedded object with no `type` is a `Place` (Gancio sends
/// `{"name": ...}`).
pub(crate) fn implied_place(value: Raw) -> Result<OneOrMany<Reference<AnyObject>>, Raw> {
    implied(value, (Class::Place, "Place"))
}

/// Reads `icon` and `image`: an embedded object with no `type` is an `Image`.
pub(crate) fn implied_image(value: Raw) -> Result<OneOrMany<Reference<AnyObject>>, Raw> {
    implied(value, (Class::Object(ObjectType::Image), "Image"))
}

fn implied(
    value: Raw,
    class: (Class, &'static str),
) -> Result<OneOrMany<Reference<AnyObject>>, Raw> {
    OneOrMany::from_json_with(value, |item| match item {
        Raw::Object(map) => AnyObject::from_map_implied(map, Some(class))
            .map(Reference::Object)
            .map_err(|(map, _)| Raw::Object(map)),
        other => Reference::from_json(other),
    })
}
