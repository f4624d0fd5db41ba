//! Videos, cache files, playlists and views, as PeerTube sends them.
//!
//! The types ([`Video`], [`CacheFile`], [`Playlist`]) are lossless like every typed object of the
//! crate. Around them, one concept per module:
//!
//! - [`VideoSummary`] (`video_read.rs`) reads a received `Video` into checked plain values an
//!   application stores and indexes, with every number bounded ([`limits`]) and every value it
//!   had to leave out listed in [`VideoSummary::dropped`];
//! - [`NewVideo`] (`video_write.rs`) writes a `Video` in PeerTube's exact shape from the
//!   application's values (its URL layout is its own: every id is an argument);
//! - [`VideoFile`], [`HlsPlaylist`], [`Thumbnail`], [`Caption`] and [`Label`] (`media.rs`) are the
//!   values both share, so that what an application writes is what it reads back;
//! - [`CacheFileSummary`]/[`NewCacheFile`], [`ViewSummary`]/[`NewView`] and
//!   [`PlaylistSummary`]/[`NewPlaylist`]/[`PlaylistElementSummary`]/[`NewPlaylistElement`] do the
//!   same for redundancy copies, views and playlists;
//! - [`context`] holds the `@context` PeerTube writes for each of them, and [`wrap`] puts a
//!   built object in its `Create` or `Update` as PeerTube does.
//!
//! What PeerTube writes is read from its sources: `packages/models/src/activitypub/`,
//! `server/core/models/video/formatter/video-activity-pub-format.ts` and
//! `server/core/helpers/activity-pub-utils.ts` (the contexts); what it refuses from
//! `server/core/helpers/custom-validators/activitypub/videos.ts`. See also
//! <https://docs.joinpeertube.org/api/activitypub>.

use serde_json::Number;

use crate::AnyObject;
use crate::object::{object_type, single_kind};
use crate::values::{Identifier, OneOrMany, Reference, Timestamp};

mod activity;
mod cache_file;
pub mod context;
mod error;
pub mod limits;
mod media;
mod playlist;
mod read;
mod video_read;
mod video_write;
mod view;
mod vocab;

pub use activity::wrap;
pub use cache_file::{CacheFileRefusal, CacheFileSummary, CacheFileUrl, NewCacheFile};
pub use error::{FieldError, Problem};
pub use media::{Caption, FileStreams, HlsPlaylist, Label, MIRROR_REL, Thumbnail, VideoFile};
pub use playlist::{NewPlaylist, NewPlaylistElement, PlaylistElementSummary, PlaylistSummary};
pub use video_read::{ActorKind, Attribution, VideoSummary};
pub use video_write::{LiveSettings, NewVideo, VideoCollections};
pub use view::{NewView, ViewSummary};
pub use vocab::{
    ABUSE_REASONS, CommentsPolicy, ContentType, FileFormat, VideoState, abuse_reason_label,
};

single_kind!(
    /// The `Video` type.
    VideoType = "Video"
);

object_type! {
    /// A `Video`. `duration` (ISO 8601), `url` (the files, as `Link`s), `icon` (thumbnails),
    /// `language` and `commentsEnabled` are in `props`; these are what PeerTube adds.
    /// [`VideoSummary::read`] checks and extracts what an application keeps.
    pub struct Video: VideoType {
        /// `uuid` (`sc:identifier`).
        "uuid" => uuid: String,
        /// `views` (`pt:views`).
        "views" => views: u64,
        /// `state` (`pt:state`): 1 published, 2 waiting for transcoding, ... ([`VideoState`]).
        "state" => state: u64,
        /// `commentsPolicy` (`pt:commentsPolicy`, PeerTube 6.2+): 1 enabled, 2 disabled, 3 approval.
        "commentsPolicy" => comments_policy: u64,
        /// `downloadEnabled` (`pt:downloadEnabled`).
        "downloadEnabled" => download_enabled: bool,
        /// `isLiveBroadcast` (`sc:isLiveBroadcast`).
        "isLiveBroadcast" => is_live_broadcast: bool,
        /// `liveSaveReplay` (`pt:liveSaveReplay`).
        "liveSaveReplay" => live_save_replay: bool,
        /// `permanentLive` (`pt:permanentLive`).
        "permanentLive" => permanent_live: bool,
        /// `latencyMode` (`pt:latencyMode`).
        "latencyMode" => latency_mode: u64,
        /// `waitTranscoding` (`pt:waitTranscoding`).
        "waitTranscoding" => wait_transcoding: bool,
        /// `category` (`sc:category`).
        "category" => category: Box<Identifier>,
        /// `licence` (`sc:license`).
        "licence" => licence: Box<Identifier>,
        /// `subtitleLanguage` (`sc:subtitleLanguage`).
        "subtitleLanguage" => subtitle_language: Box<OneOrMany<Identifier>>,
        /// `support` (`pt:support`): how to support the creator.
        "support" => support: Box<String>,
        /// `originallyPublishedAt` (`pt:originallyPublishedAt`).
        "originallyPublishedAt" => originally_published_at: Box<Timestamp>,
        /// `aspectRatio` (`pt:aspectRatio`).
        "aspectRatio" => aspect_ratio: Box<Number>,
        /// `dislikes` (`as:dislikes` in PeerTube's context): the collection of dislikes.
        "dislikes" => dislikes: Box<Reference<AnyObject>>,
        /// `comments` (`as:comments` in PeerTube's context): the collection of comments.
        "comments" => comments: Box<Reference<AnyObject>>,
        /// `hasParts` (`sc:hasParts`): the chapters, by id.
        "hasParts" => has_parts: Box<Reference<AnyObject>>,
    }
}

impl Video {
    /// The files in `url` with media type `media_type` (e.g. `video/mp4`), including those of
    /// the streaming playlists (nested in their `tag`).
    pub fn files(&self, media_type: &str) -> Vec<&crate::Link> {
        let mut out = Vec::new();
        for entry in self.props.url.iter().flatten() {
            if let crate::LinkRef::Link(link) = entry {
                collect_links(link, media_type, &mut out);
            }
        }
        out
    }
}

/// Collects `link` and the links in its `tag` (PeerTube nests the files of a streaming playlist
/// there) whose media type is `media_type`.
fn collect_links<'a>(link: &'a crate::Link, media_type: &str, out: &mut Vec<&'a crate::Link>) {
    if link.media_type() == Some(media_type) {
        out.push(link);
    }
    for tag in link.props.tag.iter().flatten() {
        if let Some(AnyObject::Link(inner)) = tag.as_object() {
            collect_links(inner, media_type, out);
        }
    }
}

/// The video in `object`, when it is one.
pub fn as_video(object: &AnyObject) -> Option<&Video> {
    match object {
        AnyObject::Video(video) => Some(video),
        _ => None,
    }
}

/// The video a document carries: the document itself, or the embedded object of an activity
/// (`Create`, `Update`, an `Announce` that embeds it).
pub fn video_of(object: &AnyObject) -> Option<&Video> {
    match object {
        AnyObject::Activity(activity) => activity.embedded_object().and_then(as_video),
        other => as_video(other),
    }
}

single_kind!(
    /// The `CacheFile` type.
    CacheFileType = "CacheFile"
);

object_type! {
    /// A `CacheFile`: a copy of a video's files that a PeerTube instance keeps (redundancy).
    /// The copied file is the `Link` in `props.url`. See [`CacheFileSummary`].
    pub struct CacheFile: CacheFileType {
        /// `object`: the video.
        "object" => object: Reference<AnyObject>,
        /// `expires`: until when the copy is kept.
        "expires" => expires: Timestamp,
        /// `actor`: the instance keeping the copy.
        "actor" => actor: Reference<AnyObject>,
    }
}

single_kind!(
    /// The `Playlist` type.
    PlaylistType = "Playlist"
);

object_type! {
    /// A PeerTube `Playlist`, an ordered collection of `PlaylistElement`s: either the collection
    /// itself (`totalItems`, `first`) or one of its pages (`partOf`, `orderedItems`, `next`),
    /// both carrying the playlist's `name`, `content`, `icon`... See [`PlaylistSummary`].
    pub struct Playlist: PlaylistType {
        /// `uuid`.
        "uuid" => uuid: String,
        /// `totalItems`.
        "totalItems" => total_items: u64,
        /// `first`: the first page.
        "first" => first: Reference<AnyObject>,
        /// `orderedItems`, on a page: the elements, usually by id.
        "orderedItems" => ordered_items: OneOrMany<Reference<AnyObject>>,
        /// `partOf`, on a page: the playlist.
        "partOf" => part_of: Box<Reference<AnyObject>>,
        /// `next`, on a page: the next page.
        "next" => next: Box<Reference<AnyObject>>,
        /// `prev`, on a page: the previous page.
        "prev" => prev: Box<Reference<AnyObject>>,
        /// `videoChannelPosition` (`pt:position`): where the playlist sits in its channel.
        "videoChannelPosition" => video_channel_position: u64,
    }
}
