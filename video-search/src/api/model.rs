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

/// PeerTube's REST `VideoDetails` (`GET /api/v1/videos/{id}`): a [`Video`] with the whole
/// description, the state, the comment policy and the files (web-video files and HLS streaming
/// playlists with the copies other servers keep of them). The account and channel are
/// PeerTube's full `Account` and `VideoChannel`, read as [`ActorSummary`] with their other
/// members in `extra`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideoDetails {
    /// What a [`Video`] has (its `description` is the whole description here).
    #[serde(flatten)]
    pub video: Video,
    /// The support text.
    #[serde(default)]
    pub support: Option<String>,
    /// Comments: 1 enabled, 2 disabled, 3 requiring approval.
    pub comments_policy: VideoConstant<u32>,
    /// Whether the files may be downloaded.
    pub download_enabled: bool,
    /// Whether it waits for its transcoding before being published.
    pub wait_transcoding: bool,
    /// PeerTube's state: 1 published, 2 to transcode...
    pub state: VideoConstant<u32>,
    /// BitTorrent trackers.
    #[serde(default)]
    pub tracker_urls: Vec<String>,
    /// When the input file was last replaced.
    #[serde(default)]
    pub input_file_updated_at: Option<JsDate>,
    /// The web-video files (not fragmented), largest first.
    pub files: Vec<VideoFile>,
    /// The streaming playlists (HLS).
    pub streaming_playlists: Vec<VideoStreamingPlaylist>,
}

impl VideoDetails {
    /// Details of `video`, published (state 1), comments enabled, with no files.
    pub fn new(video: Video) -> Self {
        Self {
            video,
            support: None,
            comments_policy: VideoConstant::new(Some(1), "Enabled"),
            download_enabled: true,
            wait_transcoding: false,
            state: VideoConstant::new(Some(1), "Published"),
            tracker_urls: Vec::new(),
            input_file_updated_at: None,
            files: Vec::new(),
            streaming_playlists: Vec::new(),
        }
    }
}

/// PeerTube's REST `VideoFile`: one file of a video, or of a streaming playlist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideoFile {
    /// Numeric id on the answering server.
    pub id: i64,
    /// The resolution: its height (0 for audio only) and label (`720p`).
    pub resolution: VideoConstant<u32>,
    /// Bytes.
    pub size: u64,
    /// Width in pixels (PeerTube 6.1 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels (PeerTube 6.1 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Frames per second (`-1` for audio only).
    pub fps: i64,
    /// The torrent file, if any.
    #[serde(default)]
    pub torrent_url: Option<String>,
    /// The torrent file as a download, if any.
    #[serde(default)]
    pub torrent_download_url: Option<String>,
    /// The file, absolute.
    pub file_url: String,
    /// The file as a download, absolute.
    pub file_download_url: String,
    /// ffprobe's output about the file, if served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// The magnet link, if any.
    #[serde(default)]
    pub magnet_uri: Option<String>,
    /// Whether it has an audio stream (PeerTube 6.2 and later), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_audio: Option<bool>,
    /// Whether it has a video stream (PeerTube 6.2 and later), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_video: Option<bool>,
    /// The media playlist of this file (files of a streaming playlist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist_url: Option<String>,
    /// Where the answering server keeps it: 0 its file system, 1 an object store; `null` for
    /// a remote video's file.
    #[serde(default)]
    pub storage: Option<u32>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VideoFile {
    /// The file at `file_url` (also its download address) of `height` pixels (labelled as
    /// PeerTube labels resolutions), `size` bytes, `fps` frames per second.
    pub fn new(id: i64, file_url: impl Into<String>, height: u32, size: u64, fps: i64) -> Self {
        let file_url = file_url.into();
        Self {
            id,
            resolution: VideoConstant::new(Some(height), resolution_label(height)),
            size,
            width: None,
            height: None,
            fps,
            torrent_url: None,
            torrent_download_url: None,
            file_download_url: file_url.clone(),
            file_url,
            metadata_url: None,
            magnet_uri: None,
            has_audio: None,
            has_video: None,
            playlist_url: None,
            storage: None,
            extra: Map::new(),
        }
    }
}

/// PeerTube's label of a resolution: `720p`, or `Audio only` for 0.
pub fn resolution_label(height: u32) -> String {
    if height == 0 {
        "Audio only".to_owned()
    } else {
        format!("{height}p")
    }
}

/// PeerTube's type of streaming playlist: HLS.
pub const STREAMING_PLAYLIST_HLS: u32 = 1;

/// PeerTube's REST `VideoStreamingPlaylist`: an HLS stream, its files and its copies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideoStreamingPlaylist {
    /// Numeric id on the answering server.
    pub id: i64,
    /// 1: HLS ([`STREAMING_PLAYLIST_HLS`]).
    #[serde(rename = "type")]
    pub playlist_type: u32,
    /// The master playlist, absolute.
    pub playlist_url: String,
    /// The segments' SHA-256 JSON, absolute.
    #[serde(default)]
    pub segments_sha256_url: Option<String>,
    /// The copies other servers keep (each the directory a player joins the file names to).
    #[serde(default)]
    pub redundancies: Vec<Redundancy>,
    /// The fragmented files, largest first.
    #[serde(default)]
    pub files: Vec<VideoFile>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VideoStreamingPlaylist {
    /// An HLS playlist at `playlist_url`, without files or copies.
    pub fn hls(id: i64, playlist_url: impl Into<String>) -> Self {
        Self {
            id,
            playlist_type: STREAMING_PLAYLIST_HLS,
            playlist_url: playlist_url.into(),
            segments_sha256_url: None,
            redundancies: Vec::new(),
            files: Vec::new(),
            extra: Map::new(),
        }
    }
}

/// A copy of a streaming playlist on another server (`{"baseUrl": ...}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Redundancy {
    /// The copy's directory.
    pub base_url: String,
}

impl Redundancy {
    /// A copy at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
        }
    }
}

/// The flickrBase58 alphabet of PeerTube's short UUIDs (the `short-uuid` package's default).
const SHORT_UUID_ALPHABET: &[u8; 58] =
    b"123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/// The length of a short UUID (128 bits in base 58, padded with the alphabet's first digit).
pub const SHORT_UUID_LEN: usize = 22;

/// PeerTube's short UUID of `uuid` (its 128 bits in flickrBase58, 22 digits); `None` when
/// `uuid` is not a UUID.
pub fn uuid_to_short(uuid: &str) -> Option<String> {
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || uuid.len() != 36 {
        return None;
    }
    let mut n = u128::from_str_radix(&hex, 16).ok()?;
    let mut digits = Vec::with_capacity(SHORT_UUID_LEN);
    while n > 0 {
        digits.push(*SHORT_UUID_ALPHABET.get(usize::try_from(n % 58).ok()?)?);
        n /= 58;
    }
    while digits.len() < SHORT_UUID_LEN {
        digits.push(b'1');
    }
    digits.reverse();
    String::from_utf8(digits).ok()
}

/// The UUID (lower case, hyphenated) of PeerTube short UUID `short`; `None` when it is not
/// one (another length, a character outside the alphabet, over 128 bits).
pub fn short_to_uuid(short: &str) -> Option<String> {
    if short.len() != SHORT_UUID_LEN {
        return None;
    }
    let mut n: u128 = 0;
    for b in short.bytes() {
        let digit = SHORT_UUID_ALPHABET.iter().position(|a| *a == b)?;
        n = n
            .checked_mul(58)?
            .checked_add(u128::try_from(digit).ok()?)?;
    }
    let hex = format!("{n:032x}");
    Some(format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8)?,
        hex.get(8..12)?,
        hex.get(12..16)?,
        hex.get(16..20)?,
        hex.get(20..32)?
    ))
}
