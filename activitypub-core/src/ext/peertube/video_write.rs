//! Writing a `Video` in PeerTube's exact shape ([`NewVideo`]).

use serde_json::{Map, Number, Value};

use super::error::{FieldError, Problem};
use super::limits::{
    IMAGE_MEDIA_TYPES, MAX_ASPECT_RATIO, MAX_COUNT, MAX_DESCRIPTION_CHARS, MAX_DIMENSION,
    MAX_DURATION_SECS, MAX_FILE_SIZE, MAX_FILES, MAX_FPS, MAX_IDENTIFIER_CHARS, MAX_LABEL_CHARS,
    MAX_NAME_CHARS, MAX_SUPPORT_CHARS, MAX_TAG_CHARS, MIN_DESCRIPTION_CHARS, MIN_NAME_CHARS,
    MIN_TAG_CHARS, VIDEO_MEDIA_TYPES,
};
use super::media::{Caption, FileStreams, HlsPlaylist, Label, MIRROR_REL, Thumbnail, VideoFile};
use super::read::{at_most, http_url, length, refuse, uuid};
use super::vocab::{CommentsPolicy, VideoState};
use super::{Video, VideoType, context};
use crate::values::{Address, Identifier, IsoDuration, LinkRef, OneOrMany, PublicSpelling};
use crate::{
    Actor, ActorType, AnyObject, Iri, Link, LinkType, Object, ObjectType, PUBLIC, PropertyValue,
    Reference, Timestamp, Unknown,
};

/// The collections of a video, by id: the application decides where they live (PeerTube puts
/// them at `{video id}/likes`, `/dislikes`, `/announces` and `/comments`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoCollections {
    /// `likes`.
    pub likes: Iri,
    /// `dislikes`.
    pub dislikes: Iri,
    /// `shares`: the announces.
    pub shares: Iri,
    /// `comments`.
    pub comments: Iri,
}

impl VideoCollections {
    /// The four collections.
    pub fn new(likes: Iri, dislikes: Iri, shares: Iri, comments: Iri) -> Self {
        Self {
            likes,
            dislikes,
            shares,
            comments,
        }
    }
}

/// The settings of a live video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveSettings {
    /// `liveSaveReplay`: the stream is kept as a video when it ends.
    pub save_replay: bool,
    /// `permanentLive`: the same video takes every stream.
    pub permanent: bool,
    /// `latencyMode`: 1 default, 2 high, 3 small.
    pub latency_mode: u64,
}

impl LiveSettings {
    /// A live with PeerTube's defaults: no replay, not permanent, default latency.
    pub fn new() -> Self {
        Self {
            save_replay: false,
            permanent: false,
            latency_mode: 1,
        }
    }
}

impl LiveSettings {
    /// Sets `liveSaveReplay`.
    pub fn with_save_replay(mut self, save: bool) -> Self {
        self.save_replay = save;
        self
    }

    /// Sets `permanentLive`.
    pub fn with_permanent(mut self, permanent: bool) -> Self {
        self.permanent = permanent;
        self
    }

    /// Sets `latencyMode`.
    pub fn with_latency_mode(mut self, mode: u64) -> Self {
        self.latency_mode = mode;
        self
    }
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self::new()
    }
}

/// A video of this application, to be written as PeerTube writes its own: build it with
/// [`NewVideo::new`] and the `with_` methods, then [`NewVideo::build`].
///
/// What is written, member for member, is what PeerTube 7 writes
/// (`video-activity-pub-format.ts`), with PeerTube's `@context` ([`context::video`]): the
/// members PeerTube writes as `null` when they have no value (`content`, `support`,
/// `originallyPublishedAt`, `summary`, `canReply`, and `liveSaveReplay`, `permanentLive`,
/// `latencyMode` of a video that is not a live) are written as `null` too. Not written: the
/// tracker links and the storyboard `preview` (this module makes neither), `uploadDate`,
/// `schedules` and `playerSettings` (PeerTube 7.1+, optional to its readers).
///
/// For Mastodon, which shows a `Video` as a link (its `CONVERTED_TYPES`), what matters is:
/// `name` (the title, shown in bold), `summary` (shown under it when present: the builder writes
/// it only for a sensitive video, as PeerTube does), the first entry of `url` (Mastodon's
/// `url_to_href` takes the first link whose `mimeType` is absent or `text/html`, so the HTML
/// page is written first and file links never come before it), `published`, `sensitive`, `to`
/// and `cc` (public, unlisted or followers-only), and the first `attributedTo` when it fetches
/// the video by URL (the account, written first). Mastodon ignores `content` of a `Video`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewVideo {
    /// `id`.
    pub id: Iri,
    /// `uuid`.
    pub uuid: String,
    /// `name`: the title.
    pub name: String,
    /// `duration`, in seconds.
    pub duration_secs: u64,
    /// `published`.
    pub published: Timestamp,
    /// `updated` (default: `published`).
    pub updated: Option<Timestamp>,
    /// The page people watch the video on: the first `url` entry.
    pub page_url: Iri,
    /// The account that published it (`attributedTo`, as a `Person`).
    pub account: Iri,
    /// Its channel (`attributedTo`, as a `Group`).
    pub channel: Iri,
    /// Its collections.
    pub collections: VideoCollections,
    /// `to` (default: the public collection).
    pub to: Vec<Iri>,
    /// `cc` (PeerTube puts the account's followers here).
    pub cc: Vec<Iri>,
    /// `content`: the description, in Markdown.
    pub content: Option<String>,
    /// `category`.
    pub category: Option<Label>,
    /// `licence`.
    pub licence: Option<Label>,
    /// `language`.
    pub language: Option<Label>,
    /// `views`.
    pub views: u64,
    /// `sensitive`.
    pub sensitive: bool,
    /// Why it is sensitive, written as `summary` when it is.
    pub sensitive_summary: Option<String>,
    /// `waitTranscoding`.
    pub wait_transcoding: bool,
    /// `state` (default published).
    pub state: VideoState,
    /// `commentsPolicy` (default enabled); `commentsEnabled` and `canReply` follow from it.
    pub comments_policy: CommentsPolicy,
    /// `downloadEnabled` (default true).
    pub download_enabled: bool,
    /// `originallyPublishedAt`.
    pub originally_published_at: Option<Timestamp>,
    /// The tags, written as `Hashtag`s.
    pub tags: Vec<String>,
    /// `support`.
    pub support: Option<String>,
    /// `subtitleLanguage`.
    pub captions: Vec<Caption>,
    /// `icon`: the thumbnail and the preview.
    pub thumbnails: Vec<Thumbnail>,
    /// The progressive files, largest first as PeerTube orders them.
    pub files: Vec<VideoFile>,
    /// The HLS streaming playlist.
    pub hls: Option<HlsPlaylist>,
    /// The live settings, for a live video (`isLiveBroadcast`).
    pub live: Option<LiveSettings>,
    /// `aspectRatio`.
    pub aspect_ratio: Option<f64>,
    /// `hasParts`: the chapters, by id.
    pub chapters: Option<Iri>,
}

impl NewVideo {
    /// A video with what every video has; every other value takes PeerTube's default.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: Iri,
        uuid: impl Into<String>,
        name: impl Into<String>,
        duration_secs: u64,
        published: Timestamp,
        page_url: Iri,
        account: Iri,
        channel: Iri,
        collections: VideoCollections,
    ) -> Self {
        Self {
            id,
            uuid: uuid.into(),
            name: name.into(),
            duration_secs,
            published,
            updated: None,
            page_url,
            account,
            channel,
            collections,
            to: vec![Iri::from_checked(PUBLIC.to_owned())],
            cc: Vec::new(),
            content: None,
            category: None,
            licence: None,
            language: None,
            views: 0,
            sensitive: false,
            sensitive_summary: None,
            wait_transcoding: false,
            state: VideoState::Published,
            comments_policy: CommentsPolicy::Enabled,
            download_enabled: true,
            originally_published_at: None,
            tags: Vec::new(),
            support: None,
            captions: Vec::new(),
            thumbnails: Vec::new(),
            files: Vec::new(),
            hls: None,
            live: None,
            aspect_ratio: None,
            chapters: None,
        }
    }

    /// Sets `updated`.
    pub fn with_updated(mut self, updated: Timestamp) -> Self {
        self.updated = Some(updated);
        self
    }

    /// Sets `to` and `cc`.
    pub fn with_audience(mut self, to: Vec<Iri>, cc: Vec<Iri>) -> Self {
        self.to = to;
        self.cc = cc;
        self
    }

    /// Sets the description (Markdown).
    pub fn with_content(mut self, content: impl Into<String>) -> Self {
        self.content = Some(content.into());
        self
    }

    /// Sets the category.
    pub fn with_category(mut self, category: Label) -> Self {
        self.category = Some(category);
        self
    }

    /// Sets the licence.
    pub fn with_licence(mut self, licence: Label) -> Self {
        self.licence = Some(licence);
        self
    }

    /// Sets the language.
    pub fn with_language(mut self, language: Label) -> Self {
        self.language = Some(language);
        self
    }

    /// Sets the view count.
    pub fn with_views(mut self, views: u64) -> Self {
        self.views = views;
        self
    }

    /// Marks the video sensitive, with why when given.
    pub fn sensitive(mut self, summary: Option<String>) -> Self {
        self.sensitive = true;
        self.sensitive_summary = summary;
        self
    }

    /// Sets `waitTranscoding`.
    pub fn with_wait_transcoding(mut self, wait: bool) -> Self {
        self.wait_transcoding = wait;
        self
    }

    /// Sets the state.
    pub fn with_state(mut self, state: VideoState) -> Self {
        self.state = state;
        self
    }

    /// Sets the comments policy.
    pub fn with_comments_policy(mut self, policy: CommentsPolicy) -> Self {
        self.comments_policy = policy;
        self
    }

    /// Sets `downloadEnabled`.
    pub fn with_download_enabled(mut self, enabled: bool) -> Self {
        self.download_enabled = enabled;
        self
    }

    /// Sets `originallyPublishedAt`.
    pub fn with_originally_published_at(mut self, at: Timestamp) -> Self {
        self.originally_published_at = Some(at);
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets `support`.
    pub fn with_support(mut self, support: impl Into<String>) -> Self {
        self.support = Some(support.into());
        self
    }

    /// Adds captions.
    pub fn with_caption(mut self, caption: Caption) -> Self {
        self.captions.push(caption);
        self
    }

    /// Adds a thumbnail or preview.
    pub fn with_thumbnail(mut self, thumbnail: Thumbnail) -> Self {
        self.thumbnails.push(thumbnail);
        self
    }

    /// Adds a progressive file.
    pub fn with_file(mut self, file: VideoFile) -> Self {
        self.files.push(file);
        self
    }

    /// Sets the HLS playlist.
    pub fn with_hls(mut self, playlist: HlsPlaylist) -> Self {
        self.hls = Some(playlist);
        self
    }

    /// Makes it a live video.
    pub fn with_live(mut self, live: LiveSettings) -> Self {
        self.live = Some(live);
        self
    }

    /// Sets the aspect ratio (width / height).
    pub fn with_aspect_ratio(mut self, ratio: f64) -> Self {
        self.aspect_ratio = Some(ratio);
        self
    }

    /// Sets the chapters' id.
    pub fn with_chapters(mut self, chapters: Iri) -> Self {
        self.chapters = Some(chapters);
        self
    }

    /// Checks every value against the bounds [`super::VideoSummary::read`] applies (so that
    /// what is written reads back whole) and against what PeerTube refuses (a description of
    /// fewer than 3 characters, a category that is not a number, a file or image type it does not
    /// read: [`super::limits::VIDEO_MEDIA_TYPES`], [`super::limits::IMAGE_MEDIA_TYPES`]), and writes
    /// the `Video`. PeerTube also refuses a video with no thumbnail (`icon`): give at least one
    /// before publishing (a video without one is still written, for local use).
    pub fn build(&self) -> Result<Video, FieldError> {
        self.check()?;
        let mut video = Video::new(VideoType);
        video.props.ld_context = Some(context::video());
        video.props.id = Some(self.id.clone());
        video.props.name = Some(self.name.clone());
        video.props.duration = Some(Box::new(IsoDuration::from_std(
            std::time::Duration::from_secs(self.duration_secs),
        )));
        video.uuid = Some(self.uuid.clone());
        video.category = self.category.as_ref().map(|l| Box::new(identifier(l)));
        video.licence = self.licence.as_ref().map(|l| Box::new(identifier(l)));
        video.props.language = self
            .language
            .as_ref()
            .map(|l| Box::new(OneOrMany::One(identifier(l))));
        video.views = Some(self.views);
        video.props.sensitive = Some(self.sensitive);
        if self.sensitive
            && let Some(summary) = &self.sensitive_summary
        {
            video.props.summary = Some(summary.clone());
        }
        video.wait_transcoding = Some(self.wait_transcoding);
        video.state = Some(self.state.number());
        video.props.comments_enabled = Some(self.comments_policy.accepts_comments());
        // PeerTube 6.2+: `null` when anyone may reply, else the public collection (replies then
        // wait for approval, or are refused).
        let can_reply = match self.comments_policy {
            CommentsPolicy::Enabled => Value::Null,
            _ => Value::from(PUBLIC),
        };
        video.props.extra.insert("canReply".to_owned(), can_reply);
        video.comments_policy = Some(self.comments_policy.number());
        video.download_enabled = Some(self.download_enabled);
        video.props.published = Some(self.published.clone());
        video.originally_published_at = self.originally_published_at.clone().map(Box::new);
        video.props.updated = Some(
            self.updated
                .clone()
                .unwrap_or_else(|| self.published.clone()),
        );
        video.props.tag = Some(OneOrMany::Many(
            self.tags
                .iter()
                .map(|tag| {
                    let mut link = Link::new(LinkType::Hashtag);
                    link.props.name = Some(tag.clone());
                    Reference::from(link)
                })
                .collect(),
        ));
        video.props.media_type = Some("text/markdown".to_owned());
        video.props.content = self.content.clone();
        video.support = self.support.clone().map(Box::new);
        video.subtitle_language = Some(Box::new(OneOrMany::Many(
            self.captions.iter().map(caption).collect(),
        )));
        video.props.icon = Some(OneOrMany::Many(
            self.thumbnails.iter().map(thumbnail).collect(),
        ));
        video.aspect_ratio = self.aspect_ratio.and_then(Number::from_f64).map(Box::new);
        video.props.url = Some(OneOrMany::Many(self.url_list()));
        video.props.likes = Some(Box::new(Reference::Id(self.collections.likes.clone())));
        video.dislikes = Some(Box::new(Reference::Id(self.collections.dislikes.clone())));
        video.props.shares = Some(Box::new(Reference::Id(self.collections.shares.clone())));
        video.comments = Some(Box::new(Reference::Id(self.collections.comments.clone())));
        video.has_parts = self.chapters.clone().map(|c| Box::new(Reference::Id(c)));
        video.props.attributed_to = Some(OneOrMany::Many(vec![
            Reference::from(Actor::new(ActorType::Person).with_id(self.account.clone())),
            Reference::from(Actor::new(ActorType::Group).with_id(self.channel.clone())),
        ]));
        video.is_live_broadcast = Some(self.live.is_some());
        if let Some(live) = self.live {
            video.live_save_replay = Some(live.save_replay);
            video.permanent_live = Some(live.permanent);
            video.latency_mode = Some(live.latency_mode);
        }
        video.props.to = Some(OneOrMany::Many(self.to.iter().map(address).collect()));
        video.props.cc = Some(OneOrMany::Many(self.cc.iter().map(address).collect()));
        // PeerTube writes these as `null` when they have no value.
        for key in [
            "content",
            "support",
            "originallyPublishedAt",
            "summary",
            "liveSaveReplay",
            "permanentLive",
            "latencyMode",
        ] {
            if !video_sets(&video, key) {
                video.props.extra.insert(key.to_owned(), Value::Null);
            }
        }
        Ok(video)
    }

    /// The `url` list: the page, each file with its siblings, the HLS playlist.
    fn url_list(&self) -> Vec<LinkRef> {
        let mut page = Link::to(LinkType::Link, self.page_url.clone());
        page.props.media_type = Some("text/html".to_owned());
        let mut out = vec![LinkRef::Link(Box::new(page))];
        for file in &self.files {
            out.extend(
                file_links(file)
                    .into_iter()
                    .map(Box::new)
                    .map(LinkRef::Link),
            );
        }
        if let Some(hls) = &self.hls {
            let mut link = Link::to(LinkType::Link, hls.href.clone());
            link.props.media_type = Some("application/x-mpegURL".to_owned());
            let mut tags: Vec<Reference<AnyObject>> = hls
                .infohashes
                .iter()
                .map(|name| {
                    let mut infohash = Unknown::new("Infohash");
                    infohash.props.name = Some(name.clone());
                    Reference::from(infohash)
                })
                .collect();
            if let Some(sha) = &hls.segments_sha256_url {
                let mut hashes = Link::to(LinkType::Link, sha.clone());
                hashes.props.name = Some("sha256".to_owned());
                hashes.props.media_type = Some("application/json".to_owned());
                tags.push(Reference::from(hashes));
            }
            for file in &hls.files {
                tags.extend(file_links(file).into_iter().map(Reference::from));
            }
            for mirror in &hls.mirrors {
                let mut copy = Link::to(LinkType::Link, mirror.clone());
                copy.rel = Some(OneOrMany::Many(vec![MIRROR_REL.to_owned()]));
                copy.props.media_type = Some("application/x-mpegURL".to_owned());
                tags.push(Reference::from(copy));
            }
            link.props.tag = Some(OneOrMany::Many(tags));
            out.push(LinkRef::Link(Box::new(link)));
        }
        out
    }

    fn check(&self) -> Result<(), FieldError> {
        refuse("id", http_url(&self.id))?;
        refuse("uuid", uuid(&self.uuid))?;
        refuse("name", length(&self.name, MIN_NAME_CHARS, MAX_NAME_CHARS))?;
        refuse("duration", at_most(self.duration_secs, MAX_DURATION_SECS))?;
        refuse("url[0]", http_url(&self.page_url))?;
        refuse("attributedTo[0]", http_url(&self.account))?;
        refuse("attributedTo[1]", http_url(&self.channel))?;
        refuse("likes", http_url(&self.collections.likes))?;
        refuse("dislikes", http_url(&self.collections.dislikes))?;
        refuse("shares", http_url(&self.collections.shares))?;
        refuse("comments", http_url(&self.collections.comments))?;
        if let Some(chapters) = &self.chapters {
            refuse("hasParts", http_url(chapters))?;
        }
        if let Some(content) = &self.content {
            refuse(
                "content",
                length(content, MIN_DESCRIPTION_CHARS, MAX_DESCRIPTION_CHARS),
            )?;
        }
        if let Some(support) = &self.support {
            refuse("support", length(support, 0, MAX_SUPPORT_CHARS))?;
        }
        refuse("views", at_most(self.views, MAX_COUNT))?;
        for (key, label) in [
            ("category", &self.category),
            ("licence", &self.licence),
            ("language", &self.language),
        ] {
            if let Some(label) = label {
                check_label(key, label)?;
            }
        }
        // PeerTube refuses a video whose category is not a number.
        if let Some(category) = &self.category
            && !category.identifier.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(FieldError::new(
                "category.identifier",
                Problem::WrongType {
                    expected: "a number, as text",
                },
            ));
        }
        for (i, tag) in self.tags.iter().enumerate() {
            refuse(
                &format!("tag[{i}].name"),
                length(tag, MIN_TAG_CHARS, MAX_TAG_CHARS),
            )?;
        }
        for (i, c) in self.captions.iter().enumerate() {
            let field = format!("subtitleLanguage[{i}]");
            check_label(&field, &c.language)?;
            refuse(&format!("{field}.url"), http_url(&c.url))?;
            if let Some(url) = &c.playlist_url {
                refuse(&format!("{field}.url"), http_url(url))?;
            }
        }
        for (i, t) in self.thumbnails.iter().enumerate() {
            let field = format!("icon[{i}]");
            refuse(&format!("{field}.url"), http_url(&t.url))?;
            if !IMAGE_MEDIA_TYPES.contains(&t.media_type.as_str()) {
                return Err(FieldError::new(
                    format!("{field}.mediaType"),
                    Problem::WrongMediaType {
                        media_type: t.media_type.clone(),
                        expected: "image/jpeg, image/png, image/webp or image/gif",
                    },
                ));
            }
            refuse(&format!("{field}.width"), at_most(t.width, MAX_DIMENSION))?;
            refuse(&format!("{field}.height"), at_most(t.height, MAX_DIMENSION))?;
        }
        for (field, count) in [
            ("files", self.files.len()),
            ("hls.files", self.hls.as_ref().map_or(0, |h| h.files.len())),
        ] {
            let count = u64::try_from(count).unwrap_or(u64::MAX);
            refuse(field, at_most(count, MAX_FILES))?;
        }
        for (i, file) in self.files.iter().enumerate() {
            check_file(&format!("files[{i}]"), file)?;
        }
        if let Some(hls) = &self.hls {
            refuse("hls.href", http_url(&hls.href))?;
            for (i, mirror) in hls.mirrors.iter().enumerate() {
                refuse(&format!("hls.mirrors[{i}]"), http_url(mirror))?;
            }
            if let Some(sha) = &hls.segments_sha256_url {
                refuse("hls.segments_sha256_url", http_url(sha))?;
            }
            for (i, file) in hls.files.iter().enumerate() {
                check_file(&format!("hls.files[{i}]"), file)?;
            }
        }
        if let Some(ratio) = self.aspect_ratio
            && !(ratio.is_finite() && (1.0 / MAX_ASPECT_RATIO..=MAX_ASPECT_RATIO).contains(&ratio))
        {
            return Err(FieldError::new(
                "aspectRatio",
                Problem::WrongType {
                    expected: "a ratio between 0.01 and 100",
                },
            ));
        }
        for (i, to) in self.to.iter().chain(&self.cc).enumerate() {
            if to.as_str() != PUBLIC {
                refuse(&format!("to/cc[{i}]"), http_url(to))?;
            }
        }
        Ok(())
    }
}

/// Whether a typed field of `video` holds the member `key`.
fn video_sets(video: &Video, key: &str) -> bool {
    let props = &video.props;
    match key {
        "content" => props.content.is_some(),
        "support" => video.support.is_some(),
        "originallyPublishedAt" => video.originally_published_at.is_some(),
        "summary" => props.summary.is_some(),
        "liveSaveReplay" => video.live_save_replay.is_some(),
        "permanentLive" => video.permanent_live.is_some(),
        "latencyMode" => video.latency_mode.is_some(),
        _ => false,
    }
}

fn check_label(field: &str, label: &Label) -> Result<(), FieldError> {
    refuse(
        &format!("{field}.identifier"),
        length(&label.identifier, 1, MAX_IDENTIFIER_CHARS),
    )?;
    if let Some(name) = &label.name {
        refuse(&format!("{field}.name"), length(name, 0, MAX_LABEL_CHARS))?;
    }
    Ok(())
}

/// Checks a file against the bounds the reader applies.
pub(crate) fn check_file(field: &str, file: &VideoFile) -> Result<(), FieldError> {
    refuse(&format!("{field}.href"), http_url(&file.href))?;
    if !VIDEO_MEDIA_TYPES.contains(&file.media_type.as_str()) {
        return Err(FieldError::new(
            format!("{field}.mediaType"),
            Problem::WrongMediaType {
                media_type: file.media_type.clone(),
                expected: "video/mp4, video/webm, video/ogg or audio/mp4",
            },
        ));
    }
    refuse(
        &format!("{field}.height"),
        at_most(file.height, MAX_DIMENSION),
    )?;
    if let Some(width) = file.width {
        refuse(&format!("{field}.width"), at_most(width, MAX_DIMENSION))?;
    }
    refuse(&format!("{field}.size"), at_most(file.size, MAX_FILE_SIZE))?;
    if let Some(fps) = file.fps {
        refuse(&format!("{field}.fps"), at_most(fps, MAX_FPS))?;
    }
    for url in [&file.metadata_url, &file.torrent_url]
        .into_iter()
        .flatten()
    {
        refuse(field, http_url(url))?;
    }
    if let Some(magnet) = &file.magnet_uri
        && !magnet.as_str().starts_with("magnet:")
    {
        return Err(FieldError::new(
            format!("{field}.magnet_uri"),
            Problem::WrongType {
                expected: "a magnet: URI",
            },
        ));
    }
    Ok(())
}

/// The links PeerTube writes for one file: the file, its metadata, its torrent and magnet.
pub(crate) fn file_links(file: &VideoFile) -> Vec<Link> {
    let mut out = vec![file_link(file)];
    let sibling = |href: &Iri, media_type: &str| {
        let mut link = Link::to(LinkType::Link, href.clone());
        link.props.media_type = Some(media_type.to_owned());
        link.props.height = Some(file.height);
        link.props.width = file.width;
        link.fps = file.fps;
        link
    };
    if let Some(url) = &file.metadata_url {
        let mut link = sibling(url, "application/json");
        link.rel = Some(OneOrMany::Many(vec![
            "metadata".to_owned(),
            file.media_type.clone(),
        ]));
        // PeerTube writes `rel` before `mediaType`; the order of members carries no meaning.
        out.push(link);
    }
    if let Some(url) = &file.torrent_url {
        out.push(sibling(url, "application/x-bittorrent"));
    }
    if let Some(uri) = &file.magnet_uri {
        out.push(sibling(
            uri,
            "application/x-bittorrent;x-scheme-handler/magnet",
        ));
    }
    out
}

/// The link of a file itself, as PeerTube's `VideoFileModel.toActivityPubObject` writes it.
pub(crate) fn file_link(file: &VideoFile) -> Link {
    let mut link = Link::to(LinkType::Link, file.href.clone());
    link.props.media_type = Some(file.media_type.clone());
    link.props.height = Some(file.height);
    link.props.width = file.width;
    link.size = Some(file.size);
    link.fps = file.fps;
    let mut hints = Vec::new();
    if let Some(FileStreams { audio, video, .. }) = file.streams {
        if audio {
            hints.push(("ffprobe_codec_type", "audio"));
        }
        if video {
            hints.push(("ffprobe_codec_type", "video"));
        }
    }
    for format in &file.formats {
        hints.push(("peertube_format_flag", format.as_str()));
    }
    if !hints.is_empty() {
        link.props.attachment = Some(OneOrMany::Many(
            hints
                .into_iter()
                .map(|(name, value)| Reference::from(PropertyValue::field(name, value)))
                .collect(),
        ));
    }
    link
}

fn identifier(label: &Label) -> Identifier {
    let mut id = Identifier::new(label.identifier.clone());
    id.name = label.name.clone();
    id
}

fn caption(caption: &Caption) -> Identifier {
    let mut id = identifier(&caption.language);
    // Up to PeerTube 7.0 `url` is the WebVTT file's URL, which every version reads; with an HLS
    // playlist, the list of links later versions write.
    let url = match &caption.playlist_url {
        None => Value::from(caption.url.as_str()),
        Some(playlist) => Value::Array(vec![
            link_value(&caption.url, "text/vtt"),
            link_value(playlist, "application/x-mpegURL"),
        ]),
    };
    id.extra.insert("url".to_owned(), url);
    id.extra.insert(
        "automaticallyGenerated".to_owned(),
        Value::Bool(caption.automatically_generated),
    );
    id
}

fn link_value(href: &Iri, media_type: &str) -> Value {
    let mut map = Map::new();
    map.insert("type".to_owned(), Value::from("Link"));
    map.insert("mediaType".to_owned(), Value::from(media_type));
    map.insert("href".to_owned(), Value::from(href.as_str()));
    Value::Object(map)
}

fn thumbnail(thumbnail: &Thumbnail) -> Reference<AnyObject> {
    let mut image = Object::new(ObjectType::Image);
    image.props.url = Some(OneOrMany::One(LinkRef::Iri(thumbnail.url.clone())));
    image.props.media_type = Some(thumbnail.media_type.clone());
    image.props.width = Some(thumbnail.width);
    image.props.height = Some(thumbnail.height);
    Reference::from(image)
}

pub(crate) fn address(iri: &Iri) -> Address {
    match PublicSpelling::of(iri.as_str()) {
        Some(spelling) => Address::Public(spelling),
        None => Address::Iri(iri.clone()),
    }
}
