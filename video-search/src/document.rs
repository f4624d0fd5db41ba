//! What the index stores and answers: videos, channels and playlists as the application hands
//! them over (from its database, itself fed by ActivityPub), every URL absolute.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A value of one of PeerTube's constant tables (language, category, licence): its id and the
/// label the origin gave it, as in PeerTube's REST `VideoConstant`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Constant<T> {
    /// The id: a language code (`"fr"`), or a category or licence number.
    pub id: T,
    /// The human label (`"French"`, `"Education"`).
    pub label: String,
}

impl<T> Constant<T> {
    /// A constant from its id and label.
    pub fn new(id: T, label: impl Into<String>) -> Self {
        Self {
            id,
            label: label.into(),
        }
    }
}

/// An image (avatar, banner) of an actor, at an absolute URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Image {
    /// The absolute URL of the file.
    pub url: String,
    /// Its width in pixels, when known.
    pub width: Option<u32>,
    /// When the origin made it.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub created_at: Option<OffsetDateTime>,
    /// When the origin last changed it.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub updated_at: Option<OffsetDateTime>,
}

impl Image {
    /// An image at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            width: None,
            created_at: None,
            updated_at: None,
        }
    }

    /// The same image with its width.
    #[must_use]
    pub fn with_width(mut self, width: u32) -> Self {
        self.width = Some(width);
        self
    }
}

/// A channel or an account as a video or playlist names it (PeerTube's `ActorSummary`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActorSummary {
    /// The application's own numeric id of the actor, when it has one (PeerTube's REST `id`).
    pub local_id: Option<i64>,
    /// The actor's `preferredUsername` (`kde_community`).
    pub name: String,
    /// Its display name (`KDE`).
    pub display_name: String,
    /// Its ActivityPub id.
    pub url: String,
    /// The host it lives on (`tube.kockatoo.org`).
    pub host: String,
    /// Its avatars, at absolute URLs.
    pub avatars: Vec<Image>,
}

impl ActorSummary {
    /// An actor from its username, display name, ActivityPub id and host.
    pub fn new(
        name: impl Into<String>,
        display_name: impl Into<String>,
        url: impl Into<String>,
        host: impl Into<String>,
    ) -> Self {
        Self {
            local_id: None,
            name: name.into(),
            display_name: display_name.into(),
            url: url.into(),
            host: host.into(),
            avatars: Vec::new(),
        }
    }

    /// `name@host`, the handle PeerTube's API filters with (`handles`, `blockedAccounts`).
    pub fn handle(&self) -> String {
        format!("{}@{}", self.name, self.host.to_ascii_lowercase())
    }
}

/// A video as the index stores it: what PeerTube's REST `Video` carries that a search answer
/// needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoDocument {
    /// The canonical ActivityPub id: the key of upserts and deletes.
    pub id: String,
    /// The application's own numeric id, when it has one (the REST `id`); else the answer
    /// carries a number derived from `id`.
    pub local_id: Option<i64>,
    /// The video's UUID.
    pub uuid: String,
    /// PeerTube's short UUID (base58 of the UUID), when known.
    pub short_uuid: Option<String>,
    /// The title.
    pub name: String,
    /// The description (Markdown as PeerTube keeps it).
    pub description: Option<String>,
    /// The description cut short, as PeerTube's `truncatedDescription`; derived from
    /// `description` when absent.
    pub truncated_description: Option<String>,
    /// Duration in seconds.
    pub duration: u64,
    /// View count.
    pub views: u64,
    /// Likes.
    pub likes: u64,
    /// Dislikes.
    pub dislikes: u64,
    /// Comment count, when known.
    pub comments: Option<u64>,
    /// Marked sensitive (PeerTube's `nsfw`).
    pub nsfw: bool,
    /// A live stream.
    pub is_live: bool,
    /// The spoken language (id is a code such as `fr`); it also chooses the stemmer.
    pub language: Option<Constant<String>>,
    /// PeerTube's category.
    pub category: Option<Constant<u32>>,
    /// PeerTube's licence.
    pub licence: Option<Constant<u32>>,
    /// Tags.
    pub tags: Vec<String>,
    /// Width over height, when known.
    pub aspect_ratio: Option<f64>,
    /// Absolute URL of the thumbnail.
    pub thumbnail_url: Option<String>,
    /// Absolute URL of the preview image.
    pub preview_url: Option<String>,
    /// Absolute URL of the embed page.
    pub embed_url: Option<String>,
    /// When it was published.
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    /// When it was first published elsewhere, if the uploader said so.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub originally_published_at: Option<OffsetDateTime>,
    /// When the origin created it.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the origin last changed it.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The channel it was published in.
    pub channel: ActorSummary,
    /// The account that owns it.
    pub account: ActorSummary,
    /// The host it lives on (the origin instance); `delete_host` removes by it.
    pub host: String,
}

impl VideoDocument {
    /// A video with its required parts; counts start at zero, flags false, optional parts
    /// empty. Set the other public fields directly.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: impl Into<String>,
        uuid: impl Into<String>,
        name: impl Into<String>,
        host: impl Into<String>,
        published_at: OffsetDateTime,
        channel: ActorSummary,
        account: ActorSummary,
    ) -> Self {
        Self {
            id: id.into(),
            local_id: None,
            uuid: uuid.into(),
            short_uuid: None,
            name: name.into(),
            description: None,
            truncated_description: None,
            duration: 0,
            views: 0,
            likes: 0,
            dislikes: 0,
            comments: None,
            nsfw: false,
            is_live: false,
            language: None,
            category: None,
            licence: None,
            tags: Vec::new(),
            aspect_ratio: None,
            thumbnail_url: None,
            preview_url: None,
            embed_url: None,
            published_at,
            originally_published_at: None,
            created_at: published_at,
            updated_at: published_at,
            channel,
            account,
            host: host.into(),
        }
    }
}

/// A video channel as the index stores it (PeerTube's REST `VideoChannel`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChannelDocument {
    /// The canonical ActivityPub id: the key of upserts and deletes.
    pub id: String,
    /// The application's own numeric id, when it has one.
    pub local_id: Option<i64>,
    /// The channel's `preferredUsername`.
    pub name: String,
    /// Its display name.
    pub display_name: String,
    /// Its description.
    pub description: Option<String>,
    /// Its support text.
    pub support: Option<String>,
    /// The host it lives on.
    pub host: String,
    /// Avatars at absolute URLs.
    pub avatars: Vec<Image>,
    /// Banners at absolute URLs.
    pub banners: Vec<Image>,
    /// Followers.
    pub followers_count: u64,
    /// Following.
    pub following_count: u64,
    /// Number of videos, when known.
    pub videos_count: Option<u64>,
    /// When the origin created it.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the origin last changed it.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The account that owns it.
    pub owner_account: ActorSummary,
}

impl ChannelDocument {
    /// A channel with its required parts; the rest empty.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        display_name: impl Into<String>,
        host: impl Into<String>,
        created_at: OffsetDateTime,
        owner_account: ActorSummary,
    ) -> Self {
        Self {
            id: id.into(),
            local_id: None,
            name: name.into(),
            display_name: display_name.into(),
            description: None,
            support: None,
            host: host.into(),
            avatars: Vec::new(),
            banners: Vec::new(),
            followers_count: 0,
            following_count: 0,
            videos_count: None,
            created_at,
            updated_at: created_at,
            owner_account,
        }
    }

    /// `name@host`.
    pub fn handle(&self) -> String {
        format!("{}@{}", self.name, self.host.to_ascii_lowercase())
    }
}

/// A public video playlist as the index stores it (PeerTube's REST `VideoPlaylist`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlaylistDocument {
    /// The canonical ActivityPub id: the key of upserts and deletes.
    pub id: String,
    /// The application's own numeric id, when it has one.
    pub local_id: Option<i64>,
    /// The playlist's UUID.
    pub uuid: String,
    /// PeerTube's short UUID, when known.
    pub short_uuid: Option<String>,
    /// Its display name.
    pub display_name: String,
    /// Its description.
    pub description: Option<String>,
    /// Absolute URL of the thumbnail.
    pub thumbnail_url: Option<String>,
    /// Absolute URL of the embed page.
    pub embed_url: Option<String>,
    /// Number of videos in it.
    pub videos_length: u64,
    /// The host it lives on.
    pub host: String,
    /// When the origin created it.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the origin last changed it.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The account that owns it.
    pub owner_account: ActorSummary,
    /// The channel it belongs to, if any.
    pub video_channel: Option<ActorSummary>,
}

impl PlaylistDocument {
    /// A playlist with its required parts; the rest empty.
    pub fn new(
        id: impl Into<String>,
        uuid: impl Into<String>,
        display_name: impl Into<String>,
        host: impl Into<String>,
        created_at: OffsetDateTime,
        owner_account: ActorSummary,
    ) -> Self {
        Self {
            id: id.into(),
            local_id: None,
            uuid: uuid.into(),
            short_uuid: None,
            display_name: display_name.into(),
            description: None,
            thumbnail_url: None,
            embed_url: None,
            videos_length: 0,
            host: host.into(),
            created_at,
            updated_at: created_at,
            owner_account,
            video_channel: None,
        }
    }
}
