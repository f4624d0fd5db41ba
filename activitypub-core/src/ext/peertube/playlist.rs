//! Playlists: reading ([`PlaylistSummary`], [`PlaylistElementSummary`]) and writing
//! ([`NewPlaylist`], [`NewPlaylistElement`]).
//!
//! PeerTube serves a playlist as an ordered collection whose type is `Playlist`
//! (`VideoPlaylistModel.toActivityPubObject` over `activityPubCollectionPagination`): without
//! `?page`, `totalItems` and `first`; with `?page=n`, a page (`partOf`, `orderedItems` with the
//! ids of the `PlaylistElement`s, `prev`, `next`), and both carry the playlist's `name`,
//! `content`, `uuid`, `icon`, `published`, `updated`, `attributedTo` (its channel) and
//! `videoChannelPosition`. Each element is fetched from its id: a `PlaylistElement` whose `url` is
//! the video, with its `position` (from 1) and the `startTimestamp`/`stopTimestamp` of the part to
//! play, in seconds.

use serde_json::{Map, Value};

use super::error::{FieldError, Problem};
use super::limits::{
    MAX_DURATION_SECS, MAX_PLAYLIST_DESCRIPTION_CHARS, MAX_PLAYLIST_ITEMS, MAX_PLAYLIST_NAME_CHARS,
    MIN_PLAYLIST_NAME_CHARS,
};
use super::media::Thumbnail;
use super::read::{
    Dropped, addresses, at_most, count, http_url, length, map_count, reference_url, refuse,
    truncate, uuid, why_absent,
};
use super::video_read::thumbnail;
use super::video_write::address;
use super::vocab::ContentType;
use super::{Playlist, PlaylistType, context};
use crate::values::{LinkRef, OneOrMany};
use crate::{AnyObject, Iri, Object, ObjectType, PUBLIC, Reference, Timestamp, Unknown};

/// What an application keeps about a received `Playlist` (the collection or one of its pages),
/// read by [`PlaylistSummary::read`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlaylistSummary {
    /// `id`: the playlist, or the page.
    pub id: Iri,
    /// `uuid`.
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// `content`: the description, cut to [`MAX_PLAYLIST_DESCRIPTION_CHARS`] characters.
    pub content: Option<String>,
    /// `mediaType` of `content`.
    pub content_type: Option<ContentType>,
    /// `icon`: the thumbnail.
    pub thumbnail: Option<Thumbnail>,
    /// `published`.
    pub published: Option<Timestamp>,
    /// `updated`.
    pub updated: Option<Timestamp>,
    /// `attributedTo`: the channel (empty for a playlist outside any channel).
    pub attributed_to: Vec<Iri>,
    /// `videoChannelPosition`.
    pub channel_position: Option<u64>,
    /// `totalItems`, at most [`MAX_PLAYLIST_ITEMS`].
    pub total_items: Option<u64>,
    /// `first`: the first page.
    pub first: Option<Iri>,
    /// `partOf`, on a page: the playlist.
    pub part_of: Option<Iri>,
    /// `next`, on a page.
    pub next: Option<Iri>,
    /// `prev`, on a page.
    pub prev: Option<Iri>,
    /// `orderedItems`, on a page: the ids of the elements.
    pub items: Vec<Iri>,
    /// `to`.
    pub to: Vec<Iri>,
    /// The values left out, and why.
    pub dropped: Vec<FieldError>,
}

impl PlaylistSummary {
    /// Reads `playlist`. Refused: an `id` that is not an http(s) URL, a missing or malformed
    /// `uuid`, a `name` that is missing or outside 1 to 120 characters. Everything else that is
    /// malformed is dropped and listed.
    pub fn read(playlist: &Playlist) -> Result<Self, FieldError> {
        let props = &playlist.props;
        let extra = &props.extra;
        let mut dropped = Dropped::default();
        let id = refuse(
            "id",
            props.id.as_ref().ok_or(Problem::Missing).and_then(|id| {
                http_url(id)?;
                Ok(id.clone())
            }),
        )?;
        let uuid_text = refuse(
            "uuid",
            playlist
                .uuid
                .as_deref()
                .ok_or_else(|| why_absent(extra, "uuid", "a string")),
        )?;
        refuse("uuid", uuid(uuid_text))?;
        let name = refuse(
            "name",
            props
                .name
                .as_deref()
                .ok_or_else(|| why_absent(extra, "name", "a string")),
        )?;
        refuse(
            "name",
            length(name, MIN_PLAYLIST_NAME_CHARS, MAX_PLAYLIST_NAME_CHARS),
        )?;
        let content = props.content.as_deref().map(|text| {
            let (kept, cut) = truncate(text, MAX_PLAYLIST_DESCRIPTION_CHARS);
            if cut {
                dropped.push(
                    "content",
                    Problem::TooLong {
                        chars: text.chars().count(),
                        max: MAX_PLAYLIST_DESCRIPTION_CHARS,
                    },
                );
            }
            kept
        });
        let thumbnail = props
            .icon
            .as_ref()
            .and_then(OneOrMany::first)
            .and_then(Reference::as_object)
            .and_then(|icon| match thumbnail(icon) {
                Ok(t) => Some(t),
                Err(e) => {
                    dropped.push(format!("icon.{}", e.field), e.problem);
                    None
                }
            });
        let mut attributed_to = Vec::new();
        for (i, entry) in props.attributed_to.iter().flatten().enumerate() {
            if let Some(id) = dropped.keep(&format!("attributedTo[{i}]"), reference_url(entry)) {
                attributed_to.push(id);
            }
        }
        let mut link = |reference: Option<&Reference<AnyObject>>, key: &str| {
            reference.and_then(|r| dropped.keep(key, reference_url(r)))
        };
        let first = link(playlist.first.as_ref(), "first");
        let part_of = link(playlist.part_of.as_deref(), "partOf");
        let next = link(playlist.next.as_deref(), "next");
        let prev = link(playlist.prev.as_deref(), "prev");
        let mut items = Vec::new();
        for (i, item) in playlist.ordered_items.iter().flatten().enumerate() {
            if let Some(id) = dropped.keep(&format!("orderedItems[{i}]"), reference_url(item)) {
                items.push(id);
            }
        }
        Ok(Self {
            id,
            uuid: uuid_text.to_owned(),
            name: name.to_owned(),
            content,
            content_type: props.media_type.as_deref().map(ContentType::of),
            thumbnail,
            published: props.published.clone(),
            updated: props.updated.clone(),
            attributed_to,
            channel_position: dropped.keep_opt(
                "videoChannelPosition",
                count(
                    playlist.video_channel_position,
                    extra,
                    "videoChannelPosition",
                    MAX_PLAYLIST_ITEMS,
                ),
            ),
            total_items: dropped.keep_opt(
                "totalItems",
                count(
                    playlist.total_items,
                    extra,
                    "totalItems",
                    MAX_PLAYLIST_ITEMS,
                ),
            ),
            first,
            part_of,
            next,
            prev,
            items,
            to: addresses(props.to.as_ref()),
            dropped: dropped.0,
        })
    }
}

/// A playlist of this application, written as PeerTube writes its own: the collection with
/// [`NewPlaylist::collection`], a page with [`NewPlaylist::page`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewPlaylist {
    /// `id` of the playlist.
    pub id: Iri,
    /// `uuid`.
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// `published`.
    pub published: Timestamp,
    /// `updated` (default: `published`).
    pub updated: Option<Timestamp>,
    /// `content`: the description, in Markdown.
    pub content: Option<String>,
    /// `icon`: the thumbnail.
    pub thumbnail: Option<Thumbnail>,
    /// The channel it belongs to (`attributedTo`).
    pub channel: Option<Iri>,
    /// `videoChannelPosition`.
    pub channel_position: Option<u64>,
    /// `to` (not written when empty, as PeerTube serves it).
    pub to: Vec<Iri>,
}

impl NewPlaylist {
    /// A playlist `id` named `name`.
    pub fn new(
        id: Iri,
        uuid: impl Into<String>,
        name: impl Into<String>,
        published: Timestamp,
    ) -> Self {
        Self {
            id,
            uuid: uuid.into(),
            name: name.into(),
            published,
            updated: None,
            content: None,
            thumbnail: None,
            channel: None,
            channel_position: None,
            to: Vec::new(),
        }
    }

    /// Sets `updated`.
    pub fn with_updated(mut self, updated: Timestamp) -> Self {
        self.updated = Some(updated);
        self
    }

    /// Sets the description (Markdown).
    pub fn with_content(mut self, content: impl Into<String>) -> Self {
        self.content = Some(content.into());
        self
    }

    /// Sets the thumbnail.
    pub fn with_thumbnail(mut self, thumbnail: Thumbnail) -> Self {
        self.thumbnail = Some(thumbnail);
        self
    }

    /// Puts the playlist in `channel`, at `position` among its playlists.
    pub fn with_channel(mut self, channel: Iri, position: u64) -> Self {
        self.channel = Some(channel);
        self.channel_position = Some(position);
        self
    }

    /// Sets `to`.
    pub fn with_to(mut self, to: Vec<Iri>) -> Self {
        self.to = to;
        self
    }

    /// The playlist as a collection of `total_items` elements whose first page is `first` (none
    /// for an empty playlist, as PeerTube writes it).
    pub fn collection(&self, total_items: u64, first: Option<Iri>) -> Result<Playlist, FieldError> {
        let mut playlist = self.head(self.id.clone(), total_items)?;
        if let Some(first) = first {
            refuse("first", http_url(&first))?;
            playlist.first = Some(Reference::Id(first));
        }
        Ok(playlist)
    }

    /// Page `page_id` of the playlist, listing the ids of its `items` (`PlaylistElement`s, in
    /// order), with the pages before and after it.
    pub fn page(
        &self,
        page_id: Iri,
        total_items: u64,
        items: &[Iri],
        prev: Option<Iri>,
        next: Option<Iri>,
    ) -> Result<Playlist, FieldError> {
        let mut playlist = self.head(page_id, total_items)?;
        for (i, item) in items.iter().enumerate() {
            refuse(&format!("orderedItems[{i}]"), http_url(item))?;
        }
        playlist.part_of = Some(Box::new(Reference::Id(self.id.clone())));
        playlist.ordered_items = Some(OneOrMany::Many(
            items.iter().cloned().map(Reference::Id).collect(),
        ));
        if let Some(prev) = prev {
            refuse("prev", http_url(&prev))?;
            playlist.prev = Some(Box::new(Reference::Id(prev)));
        }
        if let Some(next) = next {
            refuse("next", http_url(&next))?;
            playlist.next = Some(Box::new(Reference::Id(next)));
        }
        Ok(playlist)
    }

    /// What the collection and its pages share.
    fn head(&self, id: Iri, total_items: u64) -> Result<Playlist, FieldError> {
        refuse("id", http_url(&id))?;
        refuse("uuid", uuid(&self.uuid))?;
        refuse(
            "name",
            length(&self.name, MIN_PLAYLIST_NAME_CHARS, MAX_PLAYLIST_NAME_CHARS),
        )?;
        refuse("totalItems", at_most(total_items, MAX_PLAYLIST_ITEMS))?;
        if let Some(content) = &self.content {
            refuse(
                "content",
                length(content, 0, MAX_PLAYLIST_DESCRIPTION_CHARS),
            )?;
        }
        if let Some(channel) = &self.channel {
            refuse("attributedTo[0]", http_url(channel))?;
        }
        for (i, to) in self.to.iter().enumerate() {
            if to.as_str() != PUBLIC {
                refuse(&format!("to[{i}]"), http_url(to))?;
            }
        }
        let mut playlist = Playlist::new(PlaylistType).with_id(id);
        playlist.props.ld_context = Some(context::playlist());
        playlist.total_items = Some(total_items);
        playlist.props.name = Some(self.name.clone());
        match &self.content {
            Some(content) => playlist.props.content = Some(content.clone()),
            None => {
                playlist
                    .props
                    .extra
                    .insert("content".to_owned(), Value::Null);
            }
        }
        playlist.props.media_type = Some("text/markdown".to_owned());
        playlist.uuid = Some(self.uuid.clone());
        match self.channel_position {
            Some(position) => {
                refuse(
                    "videoChannelPosition",
                    at_most(position, MAX_PLAYLIST_ITEMS),
                )?;
                playlist.video_channel_position = Some(position);
            }
            None => {
                playlist
                    .props
                    .extra
                    .insert("videoChannelPosition".to_owned(), Value::Null);
            }
        }
        playlist.props.published = Some(self.published.clone());
        playlist.props.updated = Some(
            self.updated
                .clone()
                .unwrap_or_else(|| self.published.clone()),
        );
        playlist.props.attributed_to = Some(OneOrMany::Many(
            self.channel.iter().cloned().map(Reference::Id).collect(),
        ));
        if let Some(t) = &self.thumbnail {
            refuse("icon.url", http_url(&t.url))?;
            let mut image = Object::new(ObjectType::Image);
            image.props.url = Some(OneOrMany::One(LinkRef::Iri(t.url.clone())));
            image.props.media_type = Some(t.media_type.clone());
            image.props.width = Some(t.width);
            image.props.height = Some(t.height);
            playlist.props.icon = Some(OneOrMany::One(Reference::from(image)));
        }
        if !self.to.is_empty() {
            playlist.props.to = Some(OneOrMany::Many(self.to.iter().map(address).collect()));
        }
        Ok(playlist)
    }
}

/// What an application keeps about a received `PlaylistElement`, read by
/// [`PlaylistElementSummary::read`]. The vocabulary reads a `PlaylistElement` as an
/// [`crate::Unknown`] object: its `url` is in `props`, the rest in `props.extra`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlaylistElementSummary {
    /// `id`.
    pub id: Iri,
    /// `url`: the video.
    pub video: Iri,
    /// `position`, from 1, at most [`MAX_PLAYLIST_ITEMS`].
    pub position: u64,
    /// `startTimestamp`: where to start playing, in seconds.
    pub start_secs: Option<u64>,
    /// `stopTimestamp`: where to stop, in seconds.
    pub stop_secs: Option<u64>,
    /// The values left out, and why.
    pub dropped: Vec<FieldError>,
}

impl PlaylistElementSummary {
    /// Reads `element`. Refused: an object that is not a `PlaylistElement`, an `id` or `url` that
    /// is not an http(s) URL, a `position` that is missing, 0 or over [`MAX_PLAYLIST_ITEMS`].
    /// Dropped: a timestamp that is malformed or over [`MAX_DURATION_SECS`].
    pub fn read(element: &AnyObject) -> Result<Self, FieldError> {
        let AnyObject::Unknown(element) = element else {
            return Err(FieldError::new(
                "type",
                Problem::WrongType {
                    expected: "PlaylistElement",
                },
            ));
        };
        if element.kind != "PlaylistElement" {
            return Err(FieldError::new(
                "type",
                Problem::WrongType {
                    expected: "PlaylistElement",
                },
            ));
        }
        let props = &element.props;
        let extra = &props.extra;
        let mut dropped = Dropped::default();
        let id = refuse(
            "id",
            props.id.as_ref().ok_or(Problem::Missing).and_then(|id| {
                http_url(id)?;
                Ok(id.clone())
            }),
        )?;
        let video = refuse(
            "url",
            props
                .url
                .as_ref()
                .and_then(OneOrMany::first)
                .and_then(LinkRef::href)
                .ok_or_else(|| why_absent(extra, "url", "a URL"))
                .and_then(|u| http_url(u).map(|()| u.clone())),
        )?;
        let position = refuse(
            "position",
            map_count(extra, "position", MAX_PLAYLIST_ITEMS).and_then(|p| match p {
                None => Err(Problem::Missing),
                Some(0) => Err(Problem::TooSmall { value: 0, min: 1 }),
                Some(p) => Ok(p),
            }),
        )?;
        let start_secs = dropped.keep_opt(
            "startTimestamp",
            map_count(extra, "startTimestamp", MAX_DURATION_SECS),
        );
        let stop_secs = dropped.keep_opt(
            "stopTimestamp",
            map_count(extra, "stopTimestamp", MAX_DURATION_SECS),
        );
        Ok(Self {
            id,
            video,
            position,
            start_secs,
            stop_secs,
            dropped: dropped.0,
        })
    }
}

/// A `PlaylistElement` of this application, written as PeerTube writes its own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPlaylistElement {
    /// `id`.
    pub id: Iri,
    /// `url`: the video.
    pub video: Iri,
    /// `position`, from 1.
    pub position: u64,
    /// `startTimestamp`, in seconds.
    pub start_secs: Option<u64>,
    /// `stopTimestamp`, in seconds.
    pub stop_secs: Option<u64>,
}

impl NewPlaylistElement {
    /// Element `id`: `video`, at `position` (from 1).
    pub fn new(id: Iri, video: Iri, position: u64) -> Self {
        Self {
            id,
            video,
            position,
            start_secs: None,
            stop_secs: None,
        }
    }

    /// Plays the video from `secs`.
    pub fn with_start(mut self, secs: u64) -> Self {
        self.start_secs = Some(secs);
        self
    }

    /// Stops playing at `secs`.
    pub fn with_stop(mut self, secs: u64) -> Self {
        self.stop_secs = Some(secs);
        self
    }

    /// Checks the values and writes the element with PeerTube's playlist `@context`. PeerTube
    /// leaves a timestamp out when it is 0 or unset; so does this.
    pub fn build(&self) -> Result<AnyObject, FieldError> {
        refuse("id", http_url(&self.id))?;
        refuse("url", http_url(&self.video))?;
        refuse("position", at_most(self.position, MAX_PLAYLIST_ITEMS))?;
        if self.position == 0 {
            return Err(FieldError::new(
                "position",
                Problem::TooSmall { value: 0, min: 1 },
            ));
        }
        let mut element = Unknown::new("PlaylistElement");
        element.props.ld_context = Some(context::playlist());
        element.props.id = Some(self.id.clone());
        element.props.url = Some(OneOrMany::One(LinkRef::Iri(self.video.clone())));
        let mut members = Map::new();
        members.insert("position".to_owned(), Value::from(self.position));
        for (key, secs) in [
            ("startTimestamp", self.start_secs),
            ("stopTimestamp", self.stop_secs),
        ] {
            if let Some(secs) = secs.filter(|s| *s > 0) {
                refuse(key, at_most(secs, MAX_DURATION_SECS))?;
                members.insert(key.to_owned(), Value::from(secs));
            }
        }
        element.props.extra = members;
        Ok(AnyObject::Unknown(Box::new(element)))
    }
}
