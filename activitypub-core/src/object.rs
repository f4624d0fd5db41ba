//! The properties every object has ([`ObjectProps`]), the generic [`Object`] (Note, Article,
//! Image...), [`Tombstone`], [`Place`] and the [`Unknown`] type that carries what the vocabulary
//! does not know.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Number, Value};

use crate::AnyObject;
use crate::json::{FromJson, Raw, data_object, field_group, serialize_with};
use crate::kind::ObjectType;
use crate::values::{
    Address, Context, FocalPoint, Identifier, Iri, IsoDuration, LinkRef, OneOrMany, Reference,
    Source, Timestamp,
};

field_group! {
    /// The properties of [Activity Vocabulary §4][spec] that any object may have, the
    /// extension properties the fediverse puts on every kind of object, and the members no type
    /// models.
    ///
    /// Properties that most objects lack are boxed (`Option<Box<T>>`, read with `as_deref()`):
    /// every embedded object (each mention, each file link) carries this struct, and keeping it
    /// small keeps parsing fast.
    ///
    /// `Link` shares these: the link-specific ones (`href`, `rel`, `hreflang`) sit on
    /// [`crate::Link`].
    ///
    /// [spec]: https://www.w3.org/TR/activitystreams-vocabulary/#properties
    pub struct ObjectProps {
        /// `attachment`: media, links, `PropertyValue` profile fields...
        "attachment" => attachment: OneOrMany<Reference<AnyObject>>,
        /// `attributedTo`: the author(s).
        "attributedTo" => attributed_to: OneOrMany<Reference<AnyObject>>,
        /// `audience`: who the object is meant for (Lemmy sends the community here).
        "audience" => audience: Box<OneOrMany<Address>>,
        /// `content`: the body, usually HTML.
        "content" => content: String,
        /// `contentMap`: the body per language tag.
        "contentMap" => content_map: BTreeMap<String, String>,
        /// `context`: the conversation or thread this belongs to (not the JSON-LD `@context`).
        "context" => context: Box<Reference<AnyObject>>,
        /// `name`: a plain-text title or display name.
        "name" => name: String,
        /// `nameMap`: the name per language tag.
        "nameMap" => name_map: Box<BTreeMap<String, String>>,
        /// `summary`: a summary, or the content warning of a sensitive post.
        "summary" => summary: String,
        /// `summaryMap`: the summary per language tag.
        "summaryMap" => summary_map: Box<BTreeMap<String, String>>,
        /// `startTime`: when the object (an event) starts.
        "startTime" => start_time: Box<Timestamp>,
        /// `endTime`: when it ends (a poll closes, an event ends).
        "endTime" => end_time: Box<Timestamp>,
        /// `duration`: how long it lasts (`xsd:duration`).
        "duration" => duration: Box<IsoDuration>,
        /// `published`: when it was published.
        "published" => published: Timestamp,
        /// `updated`: when it was last changed.
        "updated" => updated: Timestamp,
        /// `generator`: the application that made it.
        "generator" => generator: Box<OneOrMany<Reference<AnyObject>>>,
        /// `icon`: an icon (avatars; PeerTube sends several thumbnail sizes).
        "icon" => icon: OneOrMany<Reference<AnyObject>> | crate::any::implied_image,
        /// `image`: an image (profile headers, previews).
        "image" => image: OneOrMany<Reference<AnyObject>> | crate::any::implied_image,
        /// `inReplyTo`: what this replies to.
        "inReplyTo" => in_reply_to: OneOrMany<Reference<AnyObject>>,
        /// `location`: where it takes place (a [`Place`]).
        "location" => location: OneOrMany<Reference<AnyObject>> | crate::any::implied_place,
        /// `preview`: a preview of the object.
        "preview" => preview: Box<OneOrMany<Reference<AnyObject>>>,
        /// `replies`: the collection of replies.
        "replies" => replies: Reference<AnyObject>,
        /// `likes`: the collection of likes.
        "likes" => likes: Box<Reference<AnyObject>>,
        /// `shares`: the collection of shares.
        "shares" => shares: Box<Reference<AnyObject>>,
        /// `tag`: mentions, hashtags, custom emoji.
        "tag" => tag: OneOrMany<Reference<AnyObject>>,
        /// `url`: where the object is shown to people, as IRIs or `Link`s.
        "url" => url: OneOrMany<LinkRef>,
        /// `to`: primary recipients.
        "to" => to: OneOrMany<Address>,
        /// `bto`: hidden primary recipients (stripped before delivery).
        "bto" => bto: Box<OneOrMany<Address>>,
        /// `cc`: secondary recipients.
        "cc" => cc: OneOrMany<Address>,
        /// `bcc`: hidden secondary recipients (stripped before delivery).
        "bcc" => bcc: Box<OneOrMany<Address>>,
        /// `mediaType`: the MIME type of `content` (or of the document).
        "mediaType" => media_type: String,
        /// `source`: the text before rendering (Markdown on Lemmy, MFM on Misskey).
        "source" => source: Box<Source>,
        /// `sensitive` (`as:sensitive`, Mastodon): hide behind a warning.
        "sensitive" => sensitive: bool,
        /// `width` in pixels of an image or video attachment.
        "width" => width: u64,
        /// `height` in pixels of an image or video attachment.
        "height" => height: u64,
        /// `blurhash` (`toot:blurhash`): a placeholder for an image attachment.
        "blurhash" => blurhash: Box<String>,
        /// `focalPoint` (`toot:focalPoint`): where to centre a crop of an image attachment.
        "focalPoint" => focal_point: Box<FocalPoint>,
        /// `quote` (FEP-044f): the object this one quotes.
        "quote" => quote: Box<Iri>,
        /// `quoteUrl` (`as:quoteUrl`, Misskey and others): the object this one quotes.
        "quoteUrl" => quote_url: Box<Iri>,
        /// `quoteUri` (Fedibird): the object this one quotes.
        "quoteUri" => quote_uri: Box<Iri>,
        /// `_misskey_quote`: the object this one quotes.
        "_misskey_quote" => misskey_quote: Box<Iri>,
        /// `commentsEnabled` (PeerTube, Mobilizon, Lemmy): whether replies are accepted.
        "commentsEnabled" => comments_enabled: bool,
        /// `language` as an identifier and a name (PeerTube, Lemmy).
        "language" => language: Box<OneOrMany<Identifier>>,
    }
    plain {
        /// The JSON-LD `@context`.
        pub ld_context: Option<Context>,
        /// `id`: the object's global identifier.
        pub id: Option<Iri>,
        /// Members no type models, kept as received (including a modeled member whose value did
        /// not fit its type: see the `degraded()` of each object type).
        pub extra: Map<String, Value>,
        /// How the `type` member was received, when it was not just the canonical name.
        pub(crate) raw_type: Option<Box<RawType>>,
    }
}

impl ObjectProps {
    /// The object this one quotes, from whichever of the quote properties is set (`quote`,
    /// `quoteUrl`, `quoteUri`, `_misskey_quote`, in that order).
    pub fn quote_of(&self) -> Option<&Iri> {
        self.quote
            .as_deref()
            .or(self.quote_url.as_deref())
            .or(self.quote_uri.as_deref())
            .or(self.misskey_quote.as_deref())
    }

    /// The members that the common properties or `own_keys` model but whose received value did
    /// not fit (a number where a string belongs, a malformed date...; a `null` is not counted).
    /// Their raw values are in [`ObjectProps::extra`] under the same key. Each object type has a
    /// public `degraded()` that passes its own keys.
    pub(crate) fn degraded<'a>(
        &'a self,
        own_keys: &'a [&'a str],
    ) -> impl Iterator<Item = &'a str> + 'a {
        // A `null` is how many servers say "absent": it is kept, but it is not a bad value.
        self.extra
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
            .filter(move |k| {
                *k == "@context" || *k == "id" || Self::KEYS.contains(k) || own_keys.contains(k)
            })
    }

    /// Offers one member: the JSON-LD context, the id, or a common property.
    pub(crate) fn take_member(&mut self, key: String, value: Raw) -> Option<(String, Raw)> {
        match key.as_str() {
            "@context" => match Context::from_json(value) {
                Ok(c) => {
                    self.ld_context = Some(c);
                    None
                }
                Err(raw) => {
                    self.ld_context = None;
                    Some((key, raw))
                }
            },
            // Every reader of objects checks `id` before reading the members
            // (`AnyObject::from_map`): a document with an invalid one is rejected whole.
            "id" => match value {
                Raw::String(id) => {
                    self.id = Some(Iri::from_checked(id));
                    None
                }
                raw => {
                    self.id = None;
                    Some((key, raw))
                }
            },
            _ => self.take(key, value),
        }
    }

    /// Keeps members no typed field took.
    pub(crate) fn keep(&mut self, key: String, raw: Raw) {
        self.extra.insert(key, raw.into_value());
    }

    /// Writes `@context`, `id` and `type`.
    pub(crate) fn write_head<M: SerializeMap>(
        &self,
        map: &mut M,
        kind: &str,
    ) -> Result<(), M::Error> {
        crate::json::write_opt(map, "@context", self.ld_context.as_ref())?;
        crate::json::write_opt(map, "id", self.id.as_ref())?;
        match self.raw_type.as_deref() {
            Some(RawType::Received(raw, read_as)) if read_as == kind => {
                map.serialize_entry("type", raw)
            }
            Some(RawType::Absent(read_as)) if read_as == kind => Ok(()),
            _ => map.serialize_entry("type", kind),
        }
    }

    /// Writes the common properties, then the extension members that no typed field shadows.
    pub(crate) fn write_tail<M: SerializeMap>(
        &self,
        map: &mut M,
        own_is_set: impl Fn(&str) -> bool,
    ) -> Result<(), M::Error> {
        self.write(map)?;
        for (key, value) in &self.extra {
            if !self.shadows(key, &own_is_set) {
                map.serialize_entry(key, value)?;
            }
        }
        Ok(())
    }

    /// Whether a typed field holds the member `key`, so that a raw member of that name in
    /// `extra` must not be written.
    pub(crate) fn shadows(&self, key: &str, own_is_set: &impl Fn(&str) -> bool) -> bool {
        match key {
            "type" => true,
            "@context" => self.ld_context.is_some(),
            "id" => self.id.is_some(),
            k => self.is_set(k) || own_is_set(k),
        }
    }
}

/// How the `type` member was received, when it was not just the canonical name of the type the
/// object was read as. Kept so that the object serializes back as received; ignored once the
/// caller changes the object's kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawType {
    /// An array, a compact or full IRI: the value, and the canonical name it was read as.
    Received(Value, String),
    /// No `type` at all; the type was implied by where the object sits (a `location` is a
    /// `Place`). Holds the canonical name.
    Absent(String),
}

/// Declares an object type: its `kind`, its own properties (flat on the struct), and the common
/// [`ObjectProps`] under `props`, with reading from a JSON map and serializing.
macro_rules! object_type {
    (
        $(#[$meta:meta])*
        pub struct $name:ident : $kind:ty {
            $( $(#[$fmeta:meta])* $key:literal => $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            /// The `type`.
            pub kind: $kind,
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            /// The properties every object has, and the members no type models.
            pub props: $crate::object::ObjectProps,
        }

        impl $name {
            /// The JSON member names this type reads besides the common ones.
            pub const OWN_KEYS: &'static [&'static str] = &[$($key),*];

            /// An object of type `kind` with no property set.
            pub fn new(kind: $kind) -> Self {
                Self {
                    kind,
                    $( $field: None, )*
                    props: Default::default(),
                }
            }

            /// Sets the id.
            pub fn with_id(mut self, id: $crate::Iri) -> Self {
                self.props.id = Some(id);
                self
            }

            /// The members whose received value did not fit their type; the raw values are in
            /// `props.extra`.
            pub fn degraded(&self) -> impl Iterator<Item = &str> {
                self.props.degraded(Self::OWN_KEYS)
            }

            /// Reads the members into a new boxed object, filling it in place (the struct is
            /// large: building it on the stack and moving it into the box costs a copy).
            pub(crate) fn boxed_from_members(
                kind: $kind,
                raw_type: Option<Box<$crate::object::RawType>>,
                members: Vec<(String, $crate::json::Raw)>,
            ) -> Box<Self> {
                let mut this = Box::new(Self::new(kind));
                this.props.raw_type = raw_type;
                for (key, value) in members {
                    let leftover = match key.as_str() {
                        $(
                            $key => match <$ty as $crate::json::FromJson>::from_json(value) {
                                Ok(typed) => {
                                    this.$field = Some(typed);
                                    None
                                }
                                Err(raw) => {
                                    // The last member of a name wins, even when it does not fit.
                                    this.$field = None;
                                    Some((key, raw))
                                }
                            },
                        )*
                        _ => this.props.take_member(key, value),
                    };
                    if let Some((key, raw)) = leftover {
                        this.props.keep(key, raw);
                    }
                }
                // With a repeated member name, an earlier value that did not fit stays in `extra`
                // when a later one fills the field: the field wins.
                if !this.props.extra.is_empty() {
                    let mut extra = std::mem::take(&mut this.props.extra);
                    extra.retain(|key, _| !this.props.shadows(key, &|k| this.own_is_set(k)));
                    this.props.extra = extra;
                }
                this
            }

            #[allow(unused_variables)]
            fn own_is_set(&self, key: &str) -> bool {
                match key {
                    $( $key => self.$field.is_some(), )*
                    _ => false,
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $crate::json::serialize_with(serializer, |map| {
                    self.props.write_head(map, self.kind.as_str())?;
                    $( $crate::json::write_opt(map, $key, self.$field.as_ref())?; )*
                    self.props.write_tail(map, |k| self.own_is_set(k))
                })
            }
        }
    };
}

pub(crate) use object_type;

object_type! {
    /// An object of one of the [`ObjectType`]s: a Note, an Article, a Page, an Image, a Document,
    /// an Audio, a Profile, a Relationship, or a custom Emoji.
    pub struct Object: ObjectType {
        /// `subject` of a `Relationship`.
        "subject" => subject: Reference<AnyObject>,
        /// `object` of a `Relationship`.
        "object" => object: OneOrMany<Reference<AnyObject>>,
        /// `relationship` of a `Relationship`: the kind of relationship.
        "relationship" => relationship: OneOrMany<Reference<AnyObject>>,
        /// `describes` of a `Profile`: the object it describes.
        "describes" => describes: Reference<AnyObject>,
    }
}

object_type! {
    /// A `Tombstone`: what stands where a deleted object was.
    pub struct Tombstone: TombstoneType {
        /// `formerType`: the type the object had.
        "formerType" => former_type: OneOrMany<String>,
        /// `deleted`: when it was deleted.
        "deleted" => deleted: Timestamp,
    }
}

object_type! {
    /// A `Place`, with the schema.org postal address Mobilizon sends.
    pub struct Place: PlaceType {
        /// `latitude` in degrees.
        "latitude" => latitude: Number,
        /// `longitude` in degrees.
        "longitude" => longitude: Number,
        /// `altitude`, in `units`.
        "altitude" => altitude: Number,
        /// `accuracy`, in percent.
        "accuracy" => accuracy: Number,
        /// `radius` around the point, in `units`.
        "radius" => radius: Number,
        /// `units` of `altitude` and `radius` (`"m"`, `"km"`...).
        "units" => units: String,
        /// `address` (schema.org): a postal address or a line of text.
        "address" => address: PlaceAddress,
    }
}

impl Place {
    /// The coordinates as `(latitude, longitude)` in degrees, when both are given.
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        Some((
            self.latitude.as_ref()?.as_f64()?,
            self.longitude.as_ref()?.as_f64()?,
        ))
    }
}

/// Declares a family of exactly one type name.
macro_rules! single_kind {
    ($(#[$meta:meta])* $name:ident = $text:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[non_exhaustive]
        pub struct $name;

        impl $name {
            /// The type name.
            pub fn as_str(self) -> &'static str {
                $text
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($text)
            }
        }
    };
}

pub(crate) use single_kind;

single_kind!(
    /// The `Tombstone` type.
    TombstoneType = "Tombstone"
);
single_kind!(
    /// The `Place` type.
    PlaceType = "Place"
);

/// The `address` of a [`Place`].
#[derive(Debug, Clone, PartialEq)]
pub enum PlaceAddress {
    /// A schema.org `PostalAddress`.
    Postal(PostalAddress),
    /// The address as one line of text.
    Text(String),
}

impl Serialize for PlaceAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Postal(p) => p.serialize(serializer),
            Self::Text(t) => t.serialize(serializer),
        }
    }
}

impl FromJson for PlaceAddress {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::String(s) => Ok(Self::Text(s)),
            other => PostalAddress::from_json(other).map(Self::Postal),
        }
    }
}

data_object! {
    /// A schema.org [`PostalAddress`](https://schema.org/PostalAddress). Mobilizon sends `null` for
    /// the parts it does not know; those stay in `extra` as received.
    #[derive(Default)]
    pub struct PostalAddress {
        required {}
        optional {
            /// `streetAddress`.
            "streetAddress" => street_address: String,
            /// `postalCode`.
            "postalCode" => postal_code: String,
            /// `addressLocality`: the city.
            "addressLocality" => address_locality: String,
            /// `addressRegion`.
            "addressRegion" => address_region: String,
            /// `addressCountry`.
            "addressCountry" => address_country: String,
        }
    }
}

/// An object whose type the vocabulary does not know (`ChatMessage`, `Infohash`, a new FEP's
/// type...): its common properties are read, everything else is carried in `props.extra`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Unknown {
    /// The type name, as received (the first one, when `type` was an array).
    pub kind: String,
    /// The properties every object has, and all other members.
    pub props: ObjectProps,
}

impl Unknown {
    /// An object of the unknown type `kind`.
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            props: ObjectProps::default(),
        }
    }

    /// The members whose received value did not fit their type.
    pub fn degraded(&self) -> impl Iterator<Item = &str> {
        self.props.degraded(&[])
    }

    pub(crate) fn boxed_from_members(
        kind: String,
        raw_type: Option<Box<RawType>>,
        members: Vec<(String, Raw)>,
    ) -> Box<Self> {
        let mut this = Box::new(Self::new(kind));
        this.props.raw_type = raw_type;
        for (key, value) in members {
            if let Some((key, raw)) = this.props.take_member(key, value) {
                this.props.keep(key, raw);
            }
        }
        // See `object_type!`: a typed field wins over a raw member of the same name.
        if !this.props.extra.is_empty() {
            let mut extra = std::mem::take(&mut this.props.extra);
            extra.retain(|key, _| !this.props.shadows(key, &|_| false));
            this.props.extra = extra;
        }
        this
    }
}

impl Serialize for Unknown {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_with(serializer, |map| {
            self.props.write_head(map, &self.kind)?;
            self.props.write_tail(map, |_| false)
        })
    }
}
