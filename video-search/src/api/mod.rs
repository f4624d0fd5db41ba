//! PeerTube's search API: the queries of `/api/v1/search/videos`, `/video-channels` and
//! `/video-playlists` (GET with a query string, or POST with a JSON body as a PeerTube
//! instance sends to its search index), their conversion into the index's queries, and the
//! answers in PeerTube's REST shapes. Pure functions: the HTTP routes belong to the
//! applications.
//!
//! ```text
//! query string / JSON ──from_query_string / from_json──▶ VideosSearchQuery
//!     ──to_index_query(ctx)──▶ VideoQuery ──SearchIndex::search_videos──▶ SearchResults
//!     ──videos_response(ctx)──▶ ResultList<Video> ──serde_json──▶ {"total": N, "data": [...]}
//! ```

mod model;
mod query;
mod wire;

pub use model::{
    ActorImage, ActorSummary, Redundancy, ResultList, SHORT_UUID_LEN, STREAMING_PLAYLIST_HLS,
    Video, VideoChannel, VideoConstant, VideoDetails, VideoFile, VideoPlaylist,
    VideoStreamingPlaylist, resolution_label, short_to_uuid, uuid_to_short,
};
pub use query::{
    BooleanBoth, DEFAULT_COUNT, MAX_QUERY_PAIRS, MAX_QUERY_STRING_BYTES, VideoChannelsSearchQuery,
    VideoPlaylistsSearchQuery, VideosSearchQuery,
};
pub use wire::JsDate;

use serde_json::Map;

use crate::document::{
    ActorSummary as DocActor, ChannelDocument, Constant, Image, PlaylistDocument, VideoDocument,
};
use crate::index::{Hit, SearchResults};
use crate::query::Sensitive;

/// Who answers: a PeerTube-like instance (its own host known: `isLocal`, `isLocal=true`
/// filters, `aspectRatio` always written, the truncated text in `description`, as PeerTube's
/// lists) or a global index (as SepiaSearch: the whole description).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiContext {
    /// The answering instance's host; `None` for a global index.
    pub local_host: Option<String>,
    /// What `nsfw` absent means (an instance's or user's policy: `do_not_list` is
    /// [`Sensitive::Exclude`], the others [`Sensitive::Include`]).
    pub default_sensitive: Sensitive,
}

impl ApiContext {
    /// The context of an instance at `host`.
    pub fn instance(host: impl Into<String>) -> Self {
        Self {
            local_host: Some(host.into()),
            default_sensitive: Sensitive::Exclude,
        }
    }

    /// The context of a global index.
    pub fn index() -> Self {
        Self::default()
    }
}

/// A request the API refuses (answer 400 with it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A parameter has the wrong type or value (the message says which value).
    #[error("invalid search parameters: {0}")]
    Json(#[source] serde_json::Error),
    /// The query string is over [`MAX_QUERY_STRING_BYTES`] or [`MAX_QUERY_PAIRS`].
    #[error("the query string is too large")]
    QueryTooLarge,
    /// `sort` names no sort this search has.
    #[error("unknown sort {sort:?}")]
    Sort {
        /// The sort asked for (cut to 64 characters).
        sort: String,
    },
    /// A path could not be made absolute against the base URL given.
    #[error("{value:?} is not a URL or a path under {base:?}")]
    Url {
        /// The base URL.
        base: String,
        /// The path or URL.
        value: String,
    },
}

/// PeerTube's `truncatedDescription` length.
pub const TRUNCATED_DESCRIPTION_CHARS: usize = 250;

/// The answer to a video search.
pub fn videos_response(
    results: &SearchResults<VideoDocument>,
    ctx: &ApiContext,
) -> ResultList<Video> {
    ResultList::new(
        results.total,
        results.hits.iter().map(|h| video(h, ctx)).collect(),
    )
}

/// The answer to a channel search.
pub fn channels_response(
    results: &SearchResults<ChannelDocument>,
    ctx: &ApiContext,
) -> ResultList<VideoChannel> {
    ResultList::new(
        results.total,
        results.hits.iter().map(|h| channel(h, ctx)).collect(),
    )
}

/// The answer to a playlist search.
pub fn playlists_response(
    results: &SearchResults<PlaylistDocument>,
    ctx: &ApiContext,
) -> ResultList<VideoPlaylist> {
    ResultList::new(
        results.total,
        results.hits.iter().map(|h| playlist(h, ctx)).collect(),
    )
}

/// One video of an answer.
pub fn video(hit: &Hit<VideoDocument>, ctx: &ApiContext) -> Video {
    let d = &hit.document;
    let short = d
        .short_uuid
        .clone()
        .or_else(|| uuid_to_short(&d.uuid))
        .unwrap_or_else(|| d.uuid.clone());
    let truncated = d
        .truncated_description
        .clone()
        .or_else(|| d.description.as_deref().map(truncate_description));
    let embed_path = d
        .embed_url
        .as_deref()
        .map_or_else(|| format!("/videos/embed/{short}"), path_of);
    Video {
        id: d.local_id.unwrap_or_else(|| derived_id(&d.id)),
        uuid: d.uuid.clone(),
        short_uuid: short,
        score: hit.score.map(f64::from),
        created_at: JsDate(d.created_at),
        updated_at: JsDate(d.updated_at),
        published_at: JsDate(d.published_at),
        originally_published_at: d.originally_published_at.map(JsDate),
        category: constant(d.category.as_ref()),
        licence: constant(d.licence.as_ref()),
        language: constant(d.language.as_ref()),
        privacy: VideoConstant::new(Some(1), "Public"),
        name: d.name.clone(),
        // A PeerTube instance's lists write the truncated text in the deprecated
        // `description`; SepiaSearch writes what it holds.
        description: match ctx.local_host {
            Some(_) => truncated.clone(),
            None => d.description.clone().or_else(|| truncated.clone()),
        },
        truncated_description: truncated,
        duration: d.duration,
        tags: Some(d.tags.clone()),
        is_local: is_local(ctx, &d.host),
        aspect_ratio: match ctx.local_host {
            Some(_) => Some(d.aspect_ratio),
            None => d.aspect_ratio.map(Some),
        },
        thumbnail_path: d.thumbnail_url.as_deref().map(path_of).unwrap_or_default(),
        thumbnail_url: d.thumbnail_url.clone(),
        preview_path: d.preview_url.as_deref().map(path_of).unwrap_or_default(),
        preview_url: d.preview_url.clone(),
        embed_path,
        embed_url: d.embed_url.clone(),
        url: d.id.clone(),
        views: d.views,
        viewers: 0,
        likes: d.likes,
        dislikes: d.dislikes,
        comments: d.comments,
        is_live: d.is_live,
        nsfw: d.nsfw,
        nsfw_flags: 0,
        nsfw_summary: None,
        account: actor(&d.account),
        channel: actor(&d.channel),
        extra: Map::new(),
    }
}

/// One channel of an answer.
pub fn channel(hit: &Hit<ChannelDocument>, ctx: &ApiContext) -> VideoChannel {
    let d = &hit.document;
    VideoChannel {
        id: d.local_id.unwrap_or_else(|| derived_id(&d.id)),
        url: d.id.clone(),
        name: d.name.clone(),
        display_name: d.display_name.clone(),
        description: d.description.clone(),
        support: d.support.clone(),
        host: d.host.clone(),
        score: hit.score.map(f64::from),
        avatars: d.avatars.iter().map(image).collect(),
        banners: d.banners.iter().map(image).collect(),
        followers_count: d.followers_count,
        following_count: d.following_count,
        videos_count: d.videos_count,
        is_local: is_local(ctx, &d.host),
        created_at: JsDate(d.created_at),
        updated_at: JsDate(d.updated_at),
        owner_account: actor(&d.owner_account),
        extra: Map::new(),
    }
}

/// One playlist of an answer.
pub fn playlist(hit: &Hit<PlaylistDocument>, ctx: &ApiContext) -> VideoPlaylist {
    let d = &hit.document;
    let short = d
        .short_uuid
        .clone()
        .or_else(|| uuid_to_short(&d.uuid))
        .unwrap_or_else(|| d.uuid.clone());
    let embed_path = d
        .embed_url
        .as_deref()
        .map_or_else(|| format!("/video-playlists/embed/{short}"), path_of);
    VideoPlaylist {
        id: d.local_id.unwrap_or_else(|| derived_id(&d.id)),
        uuid: d.uuid.clone(),
        short_uuid: short,
        score: hit.score.map(f64::from),
        is_local: is_local(ctx, &d.host),
        url: d.id.clone(),
        display_name: d.display_name.clone(),
        description: d.description.clone(),
        privacy: VideoConstant::new(Some(1), "Public"),
        thumbnail_path: d.thumbnail_url.as_deref().map(path_of),
        thumbnail_url: d.thumbnail_url.clone(),
        embed_path,
        embed_url: d.embed_url.clone(),
        playlist_type: VideoConstant::new(Some(1), "Regular"),
        videos_length: d.videos_length,
        created_at: JsDate(d.created_at),
        updated_at: JsDate(d.updated_at),
        owner_account: actor(&d.owner_account),
        video_channel: d.video_channel.as_ref().map(actor),
        extra: Map::new(),
    }
}

impl Video {
    /// The document this REST video describes, its paths made absolute against `base` (the
    /// server that answered, e.g. `https://framatube.org`) where no absolute URL is given.
    /// For seeding an index from a PeerTube server's REST API, and for tests.
    pub fn to_document(&self, base: &str) -> Result<VideoDocument, ApiError> {
        let abs = |url: &Option<String>, path: &str| -> Result<Option<String>, ApiError> {
            match url {
                Some(u) => Ok(Some(u.clone())),
                None if path.is_empty() => Ok(None),
                None => absolute(base, path).map(Some),
            }
        };
        let mut d = VideoDocument::new(
            &self.url,
            &self.uuid,
            &self.name,
            &self.account.host,
            self.published_at.0,
            doc_actor(&self.channel, base)?,
            doc_actor(&self.account, base)?,
        );
        d.local_id = Some(self.id);
        d.short_uuid = Some(self.short_uuid.clone());
        d.description = self.description.clone();
        d.truncated_description = self.truncated_description.clone();
        d.duration = self.duration;
        d.views = self.views;
        d.likes = self.likes;
        d.dislikes = self.dislikes;
        d.comments = self.comments;
        d.nsfw = self.nsfw;
        d.is_live = self.is_live;
        d.language = doc_constant(&self.language);
        d.category = doc_constant(&self.category);
        d.licence = doc_constant(&self.licence);
        d.tags = self.tags.clone().unwrap_or_default();
        d.aspect_ratio = self.aspect_ratio.flatten();
        d.thumbnail_url = abs(&self.thumbnail_url, &self.thumbnail_path)?;
        d.preview_url = abs(&self.preview_url, &self.preview_path)?;
        d.embed_url = abs(&self.embed_url, &self.embed_path)?;
        d.originally_published_at = self.originally_published_at.map(|t| t.0);
        d.created_at = self.created_at.0;
        d.updated_at = self.updated_at.0;
        Ok(d)
    }
}

impl VideoChannel {
    /// The document this REST channel describes (see [`Video::to_document`]).
    pub fn to_document(&self, base: &str) -> Result<ChannelDocument, ApiError> {
        let mut d = ChannelDocument::new(
            &self.url,
            &self.name,
            &self.display_name,
            &self.host,
            self.created_at.0,
            doc_actor(&self.owner_account, base)?,
        );
        d.local_id = Some(self.id);
        d.description = self.description.clone();
        d.support = self.support.clone();
        d.avatars = images(&self.avatars, base)?;
        d.banners = images(&self.banners, base)?;
        d.followers_count = self.followers_count;
        d.following_count = self.following_count;
        d.videos_count = self.videos_count;
        d.updated_at = self.updated_at.0;
        Ok(d)
    }
}

impl VideoPlaylist {
    /// The document this REST playlist describes (see [`Video::to_document`]).
    pub fn to_document(&self, base: &str) -> Result<PlaylistDocument, ApiError> {
        let mut d = PlaylistDocument::new(
            &self.url,
            &self.uuid,
            &self.display_name,
            &self.owner_account.host,
            self.created_at.0,
            doc_actor(&self.owner_account, base)?,
        );
        d.local_id = Some(self.id);
        d.short_uuid = Some(self.short_uuid.clone());
        d.description = self.description.clone();
        d.thumbnail_url = match (&self.thumbnail_url, &self.thumbnail_path) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(p)) => Some(absolute(base, p)?),
            (None, None) => None,
        };
        d.embed_url = match &self.embed_url {
            Some(u) => Some(u.clone()),
            None => Some(absolute(base, &self.embed_path)?),
        };
        d.videos_length = self.videos_length;
        d.updated_at = self.updated_at.0;
        d.video_channel = self
            .video_channel
            .as_ref()
            .map(|c| doc_actor(c, base))
            .transpose()?;
        Ok(d)
    }
}

/// PeerTube's truncation of descriptions: at most 250 characters, cut at a space where one
/// is near, with `...`.
pub fn truncate_description(text: &str) -> String {
    if text.chars().count() <= TRUNCATED_DESCRIPTION_CHARS {
        return text.to_owned();
    }
    let keep: String = text.chars().take(TRUNCATED_DESCRIPTION_CHARS - 3).collect();
    let cut = match keep.rfind(' ') {
        Some(at) if at > keep.len() / 2 => {
            keep.get(..at).unwrap_or(&keep).trim_end_matches([' ', ','])
        }
        _ => keep.as_str(),
    };
    format!("{cut}...")
}

/// A stable number for a document without a numeric id of the application's: 53 bits (a
/// JavaScript-safe integer) of the FNV-1a hash of its ActivityPub id.
pub fn derived_id(id: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::try_from(hash & ((1 << 53) - 1)).unwrap_or(0)
}

fn is_local(ctx: &ApiContext, host: &str) -> Option<bool> {
    ctx.local_host
        .as_deref()
        .map(|h| h.eq_ignore_ascii_case(host))
}

fn constant<T: Clone>(c: Option<&Constant<T>>) -> VideoConstant<T> {
    match c {
        Some(c) => VideoConstant::new(Some(c.id.clone()), c.label.clone()),
        None => VideoConstant::new(None, "Unknown"),
    }
}

fn doc_constant<T: Clone>(c: &VideoConstant<T>) -> Option<Constant<T>> {
    c.id.as_ref()
        .map(|id| Constant::new(id.clone(), c.label.clone()))
}

fn image(i: &Image) -> ActorImage {
    ActorImage {
        path: path_of(&i.url),
        file_url: Some(i.url.clone()),
        url: Some(i.url.clone()),
        width: i.width,
        created_at: i.created_at.map(JsDate),
        updated_at: i.updated_at.map(JsDate),
        extra: Map::new(),
    }
}

fn actor(a: &DocActor) -> ActorSummary {
    ActorSummary {
        id: a.local_id.unwrap_or_else(|| derived_id(&a.url)),
        name: a.name.clone(),
        display_name: a.display_name.clone(),
        url: a.url.clone(),
        host: a.host.clone(),
        avatars: a.avatars.iter().map(image).collect(),
        extra: Map::new(),
    }
}

fn images(list: &[ActorImage], base: &str) -> Result<Vec<Image>, ApiError> {
    list.iter()
        .map(|i| {
            let url = match i.file_url.as_ref().or(i.url.as_ref()) {
                Some(u) => u.clone(),
                None => absolute(base, &i.path)?,
            };
            let mut image = Image::new(url);
            image.width = i.width;
            image.created_at = i.created_at.map(|t| t.0);
            image.updated_at = i.updated_at.map(|t| t.0);
            Ok(image)
        })
        .collect()
}

fn doc_actor(a: &ActorSummary, base: &str) -> Result<DocActor, ApiError> {
    let mut d = DocActor::new(&a.name, &a.display_name, &a.url, &a.host);
    d.local_id = Some(a.id);
    d.avatars = images(&a.avatars, base)?;
    Ok(d)
}

/// The path (and query) of an absolute URL; the text itself if it is not one.
fn path_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

fn absolute(base: &str, path: &str) -> Result<String, ApiError> {
    let error = || ApiError::Url {
        base: base.to_owned(),
        value: path.to_owned(),
    };
    let base = url::Url::parse(base).map_err(|_| error())?;
    base.join(path).map(String::from).map_err(|_| error())
}
