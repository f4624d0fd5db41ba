//! Videos, cache files and playlists, as PeerTube sends them.
//!
//! See PeerTube's `server/core/lib/activitypub/` and
//! <https://docs.joinpeertube.org/api/activitypub>.

use serde_json::Number;

use crate::AnyObject;
use crate::object::{object_type, single_kind};
use crate::values::{Identifier, OneOrMany, Reference, Timestamp};

single_kind!(
    /// The `Video` type.
    VideoType = "Video"
);

object_type! {
    /// A `Video`. `duration` (ISO 8601), `url` (the files, as `Link`s), `icon` (thumbnails),
    /// `language` and `commentsEnabled` are in `props`; these are what PeerTube adds.
    pub struct Video: VideoType {
        /// `uuid` (`sc:identifier`).
        "uuid" => uuid: String,
        /// `views` (`pt:views`).
        "views" => views: u64,
        /// `state` (`pt:state`): 1 published, 2 waiting for transcoding, ...
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
        /// `dislikes` (`pt:dislikes`): the collection of dislikes.
        "dislikes" => dislikes: Box<Reference<AnyObject>>,
    }
}

impl Video {
    /// The files in `url` with media type `media_type` (e.g. `video/mp4`), as `(href, height)`.
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

single_kind!(
    /// The `CacheFile` type.
    CacheFileType = "CacheFile"
);

object_type! {
    /// A `CacheFile`: a copy of a video's files that a PeerTube instance keeps (redundancy).
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
    /// A PeerTube `Playlist`, an ordered collection of `PlaylistElement`s.
    pub struct Playlist: PlaylistType {
        /// `uuid`.
        "uuid" => uuid: String,
        /// `totalItems`.
        "totalItems" => total_items: u64,
        /// `first`: the first page.
        "first" => first: Reference<AnyObject>,
        /// `orderedItems`, when the playlist is not paged.
        "orderedItems" => ordered_items: OneOrMany<Reference<AnyObject>>,
    }
}
