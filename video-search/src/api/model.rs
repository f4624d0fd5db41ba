//! PeerTube's REST answers, as far as a search answer carries them: `ResultList`, `Video`,
//! `VideoChannel`, `VideoPlaylist` (`packages/models/src/`), with the members the search
//! index adds (`score`, `thumbnailUrl`, `previewUrl`, `embedUrl`, `url` of images). Every
//! object keeps the members it does not model in `extra`, so a fixture reads and writes back
//! the same.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::wire::{self, JsDate};

/// PeerTube's `ResultList`: `{"total": N, "data": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResultList<T> {
    /// How many matched in all.
    pub total: u64,
    /// This page.
    pub data: Vec<T>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<T> ResultList<T> {
    /// A page of `data` out of `total`.
    pub fn new(total: u64, data: Vec<T>) -> Self {
        Self {
            total,
            data,
            extra: Map::new(),
        }
    }
}

/// PeerTube's `VideoConstant`: `{"id": ..., "label": ...}`; the id is `null` for "Unknown".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VideoConstant<T> {
    /// The id.
    pub id: Option<T>,
    /// The label.
    pub label: String,
}

impl<T> VideoConstant<T> {
    /// A constant.
    pub fn new(id: Option<T>, label: impl Into<String>) -> Self {
        Self {
            id,
            label: label.into(),
        }
    }
}

/// PeerTube's `ActorImage` (avatars, banners).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActorImage {
    /// Path on the answering server.
    pub path: String,
    /// Absolute URL of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    /// Absolute URL (the search index's name for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Width in pixels.
    #[serde(default)]
    pub width: Option<u32>,
    /// Created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<JsDate>,
    /// Updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<JsDate>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// PeerTube's `AccountSummary` / `VideoChannelSummary`: an actor as a video names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActorSummary {
    /// Numeric id on the answering server.
    pub id: i64,
    /// `preferredUsername`.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// ActivityPub id.
    pub url: String,
    /// Host.
    pub host: String,
    /// Avatars.
    #[serde(default)]
    pub avatars: Vec<ActorImage>,
    /// Other members (`avatar`, and the counts of a full `Account`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// PeerTube's REST `Video`, as search answers carry it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Video {
    /// Numeric id on the answering server.
    pub id: i64,
    /// UUID.
    pub uuid: String,
    /// Short UUID.
    #[serde(rename = "shortUUID")]
    pub short_uuid: String,
    /// Relevance (search index answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Created.
    pub created_at: JsDate,
    /// Updated.
    pub updated_at: JsDate,
    /// Published.
    pub published_at: JsDate,
    /// First published elsewhere.
    pub originally_published_at: Option<JsDate>,
    /// Category.
    pub category: VideoConstant<u32>,
    /// Licence.
    pub licence: VideoConstant<u32>,
    /// Language.
    pub language: VideoConstant<String>,
    /// Privacy (`1`, Public, for everything searchable).
    pub privacy: VideoConstant<u32>,
    /// Title.
    pub name: String,
    /// The truncated description (deprecated in PeerTube 5 for `truncatedDescription`).
    pub description: Option<String>,
    /// The description cut to 250 characters.
    pub truncated_description: Option<String>,
    /// Seconds.
    pub duration: u64,
    /// Tags (search index answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Whether it lives on the answering server (instance answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_local: Option<bool>,
    /// Width over height (instance answers; may be `null`).
    #[serde(
        default,
        deserialize_with = "wire::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub aspect_ratio: Option<Option<f64>>,
    /// Thumbnail path.
    pub thumbnail_path: String,
    /// Thumbnail, absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Preview path.
    pub preview_path: String,
    /// Preview, absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    /// Embed path.
    pub embed_path: String,
    /// Embed page, absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed_url: Option<String>,
    /// ActivityPub id.
    pub url: String,
    /// Views.
    pub views: u64,
    /// Current live viewers.
    #[serde(default)]
    pub viewers: u64,
    /// Likes.
    pub likes: u64,
    /// Dislikes.
    pub dislikes: u64,
    /// Comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<u64>,
    /// Live.
    pub is_live: bool,
    /// Sensitive.
    pub nsfw: bool,
    /// Which kinds of sensitive content (PeerTube 7 flags).
    #[serde(default)]
    pub nsfw_flags: u32,
    /// Why it is sensitive.
    #[serde(default)]
    pub nsfw_summary: Option<String>,
    /// Owner account.
    pub account: ActorSummary,
    /// Channel.
    pub channel: ActorSummary,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// PeerTube's REST `VideoChannel`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideoChannel {
    /// Numeric id on the answering server.
    pub id: i64,
    /// ActivityPub id.
    pub url: String,
    /// `preferredUsername`.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Support text.
    #[serde(default)]
    pub support: Option<String>,
    /// Host.
    pub host: String,
    /// Relevance (search index answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Avatars.
    #[serde(default)]
    pub avatars: Vec<ActorImage>,
    /// Banners.
    #[serde(default)]
    pub banners: Vec<ActorImage>,
    /// Followers.
    pub followers_count: u64,
    /// Following.
    pub following_count: u64,
    /// Videos, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub videos_count: Option<u64>,
    /// Whether it lives on the answering server (instance answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_local: Option<bool>,
    /// Created.
    pub created_at: JsDate,
    /// Updated.
    pub updated_at: JsDate,
    /// Owner.
    pub owner_account: ActorSummary,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// PeerTube's REST `VideoPlaylist`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideoPlaylist {
    /// Numeric id on the answering server.
    pub id: i64,
    /// UUID.
    pub uuid: String,
    /// Short UUID.
    #[serde(rename = "shortUUID")]
    pub short_uuid: String,
    /// Relevance (search index answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Whether it lives on the answering server (instance answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_local: Option<bool>,
    /// ActivityPub id.
    pub url: String,
    /// Name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Privacy.
    pub privacy: VideoConstant<u32>,
    /// Thumbnail path.
    pub thumbnail_path: Option<String>,
    /// Thumbnail, absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Embed path.
    pub embed_path: String,
    /// Embed page, absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed_url: Option<String>,
    /// `Regular` or `Watch later`.
    #[serde(rename = "type")]
    pub playlist_type: VideoConstant<u32>,
    /// Videos in it.
    pub videos_length: u64,
    /// Created.
    pub created_at: JsDate,
    /// Updated.
    pub updated_at: JsDate,
    /// Owner.
    pub owner_account: ActorSummary,
    /// Channel.
    pub video_channel: Option<ActorSummary>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
