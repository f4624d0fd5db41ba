//! Reading a received `Video` into checked plain values ([`VideoSummary`]).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::Value;

use super::Video;
use super::error::{FieldError, Problem, excerpt};
use super::limits::{
    MAX_ASPECT_RATIO, MAX_COUNT, MAX_DESCRIPTION_CHARS, MAX_DIMENSION, MAX_FILE_SIZE, MAX_FILES,
    MAX_FPS, MAX_IDENTIFIER_CHARS, MAX_LABEL_CHARS, MAX_NAME_CHARS, MAX_SUPPORT_CHARS,
    MAX_TAG_CHARS, MIN_NAME_CHARS, MIN_TAG_CHARS,
};
use super::media::{Caption, FileStreams, HlsPlaylist, Label, MIRROR_REL, Thumbnail, VideoFile};
use super::read::{
    Dropped, addresses, count, duration_secs, http_url, http_url_str, length, reference_url,
    refuse, shape_problem, truncate, uuid, why_absent,
};
use super::vocab::{CommentsPolicy, ContentType, FileFormat, VideoState};
use crate::values::{Identifier, LinkRef, OneOrMany, Reference};
use crate::{ActorType, AnyObject, Iri, Link, LinkType, ObjectType, Timestamp};

/// What an application stores and indexes about a received `Video`: checked, bounded plain
/// values, read by [`VideoSummary::read`]. The `Video` it was read from is not changed (keep it,
/// or its bytes, for what the summary leaves out).
///
/// # What is refused, what is dropped
///
/// The whole video is refused ([`FieldError`]) when what identifies it is missing or wrong, as
/// PeerTube refuses it (`sanitizeAndCheckVideoTorrentObject`): `id` (an http(s) URL of at most
/// 2,000 characters), `uuid`, `name` (3 to 120 characters), `duration` (ISO 8601 of fixed
/// length, not negative, at most a year: [`super::limits::MAX_DURATION_SECS`]), `published`,
/// and `attributedTo` (at least one actor with an http(s) id).
///
/// Any other value that is malformed or out of its bounds ([`super::limits`]) is left out and
/// listed in [`VideoSummary::dropped`] with the reason; PeerTube does the same with files, icons,
/// tags and captions, but refuses the whole video for a bad `views`, `updated`, `category`,
/// content type or an empty `icon`, which here only drop that value. A description longer than
/// 10,000 characters is cut there (and listed), as PeerTube cuts it.
///
/// Members PeerTube may leave out take PeerTube's defaults: `state` published, `sensitive`,
/// `waitTranscoding`, `isLiveBroadcast`, `liveSaveReplay` and `permanentLive` false,
/// `downloadEnabled` true. Older servers send `commentsEnabled` without `commentsPolicy`: the
/// policy is then enabled or disabled from it (disabled when neither is sent).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VideoSummary {
    /// `id`.
    pub id: Iri,
    /// `uuid`, as received (lowercase from PeerTube).
    pub uuid: String,
    /// `name`: the title.
    pub name: String,
    /// `duration`, in whole seconds.
    pub duration_secs: u64,
    /// `content`: the description, cut to [`MAX_DESCRIPTION_CHARS`] characters.
    pub content: Option<String>,
    /// `mediaType`: the format of `content` (Markdown from PeerTube).
    pub content_type: Option<ContentType>,
    /// The page people watch the video on: the first `url` entry with media type `text/html`
    /// (or the first plain URL).
    pub page_url: Option<Iri>,
    /// The progressive files (`url` links with a `video/*` or `audio/*` media type), with their
    /// metadata, torrent and magnet links.
    pub files: Vec<VideoFile>,
    /// The HLS streaming playlists (`url` links of type `application/x-mpegURL`); PeerTube sends
    /// at most one.
    pub hls: Vec<HlsPlaylist>,
    /// `icon`: the thumbnail and the preview, one per size.
    pub thumbnails: Vec<Thumbnail>,
    /// `category` (a number as text on PeerTube).
    pub category: Option<Label>,
    /// `licence` (a number as text on PeerTube).
    pub licence: Option<Label>,
    /// `language` (an ISO 639 code).
    pub language: Option<Label>,
    /// `subtitleLanguage`: the captions.
    pub captions: Vec<Caption>,
    /// The names of the `Hashtag`s of `tag`, as received (PeerTube writes them without `#`).
    pub tags: Vec<String>,
    /// `sensitive` (default false).
    pub sensitive: bool,
    /// `summary` of a sensitive video: why it is sensitive (PeerTube 7.1+).
    pub sensitive_summary: Option<String>,
    /// `commentsPolicy`, or from `commentsEnabled` on older servers.
    pub comments_policy: CommentsPolicy,
    /// `downloadEnabled` (default true).
    pub download_enabled: bool,
    /// `waitTranscoding` (default false).
    pub wait_transcoding: bool,
    /// `state` (default published).
    pub state: VideoState,
    /// `isLiveBroadcast` (default false).
    pub is_live: bool,
    /// `liveSaveReplay` (default false).
    pub live_save_replay: bool,
    /// `permanentLive` (default false).
    pub permanent_live: bool,
    /// `latencyMode` of a live (1 default, 2 high, 3 small).
    pub latency_mode: Option<u64>,
    /// `views`, at most [`MAX_COUNT`].
    pub views: Option<u64>,
    /// `aspectRatio` (width / height), between 1/[`MAX_ASPECT_RATIO`] and [`MAX_ASPECT_RATIO`].
    pub aspect_ratio: Option<f64>,
    /// `published`.
    pub published: Timestamp,
    /// `updated`.
    pub updated: Option<Timestamp>,
    /// `originallyPublishedAt`: when the video was first published elsewhere.
    pub originally_published_at: Option<Timestamp>,
    /// `attributedTo`: the account and the channel, in the order received.
    pub attributed_to: Vec<Attribution>,
    /// `to`, the public collection written in full.
    pub to: Vec<Iri>,
    /// `cc`, the public collection written in full.
    pub cc: Vec<Iri>,
    /// `likes`: the collection of likes.
    pub likes: Option<Iri>,
    /// `dislikes`: the collection of dislikes.
    pub dislikes: Option<Iri>,
    /// `shares`: the collection of shares.
    pub shares: Option<Iri>,
    /// `comments`: the collection of comments.
    pub comments: Option<Iri>,
    /// `hasParts`: the chapters, by id.
    pub chapters: Option<Iri>,
    /// `support`: how to support the creator (at most [`MAX_SUPPORT_CHARS`] characters).
    pub support: Option<String>,
    /// The values left out of this summary, wholly or in part, and why.
    pub dropped: Vec<FieldError>,
}

/// One entry of `attributedTo`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attribution {
    /// The actor's id.
    pub id: Iri,
    /// Its type, when it was embedded with one (PeerTube up to 7.0 writes
    /// `{"type": "Person", "id": ...}`; later versions write the ids alone).
    pub kind: Option<ActorKind>,
}

/// The type of an actor named by `attributedTo`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActorKind {
    /// A `Person`: a PeerTube account.
    Person,
    /// A `Group`: a PeerTube channel.
    Group,
    /// Another type, as received.
    Other(String),
}

impl VideoSummary {
    /// Reads `video`. See the type's documentation for what is refused and what is dropped.
    pub fn read(video: &Video) -> Result<Self, FieldError> {
        let props = &video.props;
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
            video
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
        refuse("name", length(name, MIN_NAME_CHARS, MAX_NAME_CHARS))?;
        let duration_secs = refuse(
            "duration",
            props
                .duration
                .as_deref()
                .ok_or_else(|| why_absent(extra, "duration", "an ISO 8601 duration"))
                .and_then(duration_secs),
        )?;
        let published = refuse(
            "published",
            props
                .published
                .clone()
                .ok_or_else(|| why_absent(extra, "published", "an RFC 3339 date-time")),
        )?;
        let attributed_to = attributions(video, &mut dropped);
        if attributed_to.is_empty() {
            return Err(FieldError::new(
                "attributedTo",
                why_absent(extra, "attributedTo", "a list of actors"),
            ));
        }

        let (content, content_type) = content(video, &mut dropped);
        let links = url_links(video, &mut dropped);
        let page_url = page_url(&links);
        let files = files_of(&links, "url", &mut dropped);
        let hls = playlists_of(&links, &mut dropped);

        let comments_policy = match video.comments_policy {
            Some(n) => CommentsPolicy::from_number(n),
            None => {
                if let problem @ (Problem::Negative | Problem::WrongType { .. }) =
                    why_absent(extra, "commentsPolicy", "an integer")
                {
                    dropped.push("commentsPolicy", problem);
                }
                match props.comments_enabled {
                    Some(true) => CommentsPolicy::Enabled,
                    _ => CommentsPolicy::Disabled,
                }
            }
        };
        let state = match video.state {
            Some(n) => VideoState::from_number(n),
            None => {
                if let problem @ (Problem::Negative | Problem::WrongType { .. }) =
                    why_absent(extra, "state", "an integer")
                {
                    dropped.push("state", problem);
                }
                VideoState::Published
            }
        };
        let sensitive = props.sensitive.unwrap_or(false);
        let views = dropped.keep_opt("views", count(video.views, extra, "views", MAX_COUNT));
        let latency_mode = dropped.keep_opt(
            "latencyMode",
            count(video.latency_mode, extra, "latencyMode", u64::MAX),
        );
        let aspect_ratio = dropped.keep_opt("aspectRatio", aspect_ratio(video));
        let updated = dropped.keep_opt(
            "updated",
            timestamp(props.updated.as_ref(), extra, "updated"),
        );
        let originally_published_at = dropped.keep_opt(
            "originallyPublishedAt",
            timestamp(
                video.originally_published_at.as_deref(),
                extra,
                "originallyPublishedAt",
            ),
        );
        let support = dropped.keep_opt(
            "support",
            match video.support.as_deref() {
                Some(text) => length(text, 0, MAX_SUPPORT_CHARS).map(|()| Some(text.clone())),
                None => absent_ok(why_absent(extra, "support", "a string")),
            },
        );

        Ok(Self {
            id,
            uuid: uuid_text.to_owned(),
            name: name.to_owned(),
            duration_secs,
            content,
            content_type,
            page_url,
            files,
            hls,
            thumbnails: thumbnails(video, &mut dropped),
            category: label_of(video.category.as_deref(), extra, "category", &mut dropped),
            licence: label_of(video.licence.as_deref(), extra, "licence", &mut dropped),
            language: label_of(
                props.language.as_deref().and_then(OneOrMany::first),
                extra,
                "language",
                &mut dropped,
            ),
            captions: captions(video, &mut dropped),
            tags: tags(video, &mut dropped),
            sensitive,
            sensitive_summary: props.summary.clone().filter(|_| sensitive),
            comments_policy,
            download_enabled: props_bool(video.download_enabled, true),
            wait_transcoding: props_bool(video.wait_transcoding, false),
            state,
            is_live: props_bool(video.is_live_broadcast, false),
            live_save_replay: props_bool(video.live_save_replay, false),
            permanent_live: props_bool(video.permanent_live, false),
            latency_mode,
            views,
            aspect_ratio,
            published,
            updated,
            originally_published_at,
            attributed_to,
            to: addresses(props.to.as_ref()),
            cc: addresses(props.cc.as_ref()),
            likes: collection(props.likes.as_deref(), extra, "likes", &mut dropped),
            dislikes: collection(video.dislikes.as_deref(), extra, "dislikes", &mut dropped),
            shares: collection(props.shares.as_deref(), extra, "shares", &mut dropped),
            comments: collection(video.comments.as_deref(), extra, "comments", &mut dropped),
            chapters: collection(video.has_parts.as_deref(), extra, "hasParts", &mut dropped),
            support,
            dropped: dropped.0,
        })
    }

    /// The account: the `Person` of `attributedTo`, or, when no entry has a type (PeerTube 7.1+
    /// writes `[account, channel]` as plain ids), the first entry.
    pub fn account(&self) -> Option<&Iri> {
        self.attributed(ActorKind::Person, 0)
    }

    /// The channel: the `Group` of `attributedTo`, or, when no entry has a type, the second
    /// entry. A consumer that must be sure fetches it.
    pub fn channel(&self) -> Option<&Iri> {
        self.attributed(ActorKind::Group, 1)
    }

    fn attributed(&self, kind: ActorKind, position: usize) -> Option<&Iri> {
        let typed = self
            .attributed_to
            .iter()
            .find(|a| a.kind.as_ref() == Some(&kind));
        match typed {
            Some(a) => Some(&a.id),
            None if self.attributed_to.iter().all(|a| a.kind.is_none()) => {
                self.attributed_to.get(position).map(|a| &a.id)
            }
            None => None,
        }
    }

    /// Whether the video is addressed to the public collection.
    pub fn is_public(&self) -> bool {
        self.to
            .iter()
            .chain(&self.cc)
            .any(|a| a.as_str() == crate::PUBLIC)
    }

    /// The files of every kind (progressive first, then those of the HLS playlists).
    pub fn all_files(&self) -> impl Iterator<Item = &VideoFile> {
        self.files
            .iter()
            .chain(self.hls.iter().flat_map(|p| p.files.iter()))
    }
}

/// `Ok(None)` for an absent member, the problem otherwise.
fn absent_ok<T>(problem: Problem) -> Result<Option<T>, Problem> {
    match problem {
        Problem::Missing => Ok(None),
        other => Err(other),
    }
}

fn props_bool(value: Option<bool>, default: bool) -> bool {
    value.unwrap_or(default)
}

fn timestamp(
    typed: Option<&Timestamp>,
    extra: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<Timestamp>, Problem> {
    match typed {
        Some(t) => Ok(Some(t.clone())),
        None => absent_ok(why_absent(extra, key, "an RFC 3339 date-time")),
    }
}

fn aspect_ratio(video: &Video) -> Result<Option<f64>, Problem> {
    let Some(number) = video.aspect_ratio.as_deref() else {
        return absent_ok(why_absent(&video.props.extra, "aspectRatio", "a number"));
    };
    let ratio = number.as_f64().ok_or(Problem::WrongType {
        expected: "a number",
    })?;
    if ratio.is_finite() && (1.0 / MAX_ASPECT_RATIO..=MAX_ASPECT_RATIO).contains(&ratio) {
        Ok(Some(ratio))
    } else if ratio <= 0.0 {
        Err(Problem::Negative)
    } else {
        Err(Problem::WrongType {
            expected: "a ratio between 0.01 and 100",
        })
    }
}

fn content(video: &Video, dropped: &mut Dropped) -> (Option<String>, Option<ContentType>) {
    let props = &video.props;
    let content_type = props.media_type.as_deref().map(ContentType::of);
    let content = match props.content.as_deref() {
        Some(text) => {
            let (kept, cut) = truncate(text, MAX_DESCRIPTION_CHARS);
            if cut {
                dropped.push(
                    "content",
                    Problem::TooLong {
                        chars: text.chars().count(),
                        max: MAX_DESCRIPTION_CHARS,
                    },
                );
            }
            Some(kept)
        }
        None => {
            if let Err(problem) = absent_ok::<()>(why_absent(&props.extra, "content", "a string")) {
                dropped.push("content", problem);
            }
            None
        }
    };
    (content, content_type)
}

fn attributions(video: &Video, dropped: &mut Dropped) -> Vec<Attribution> {
    let mut out = Vec::new();
    for (i, entry) in video.props.attributed_to.iter().flatten().enumerate() {
        let kind = match entry {
            Reference::Id(_) => None,
            Reference::Object(AnyObject::Actor(actor)) => Some(match actor.kind {
                ActorType::Person => ActorKind::Person,
                ActorType::Group => ActorKind::Group,
                other => ActorKind::Other(other.as_str().to_owned()),
            }),
            Reference::Object(other) => Some(ActorKind::Other(other.type_name().to_owned())),
        };
        match reference_url(entry) {
            Ok(id) => out.push(Attribution { id, kind }),
            Err(problem) => dropped.push(format!("attributedTo[{i}]"), problem),
        }
    }
    out
}

fn collection(
    reference: Option<&Reference<AnyObject>>,
    extra: &serde_json::Map<String, Value>,
    key: &str,
    dropped: &mut Dropped,
) -> Option<Iri> {
    let result = match reference {
        Some(r) => reference_url(r).map(Some),
        None => absent_ok(why_absent(extra, key, "a URL")),
    };
    dropped.keep_opt(key, result)
}

fn label_of(
    identifier: Option<&Identifier>,
    extra: &serde_json::Map<String, Value>,
    key: &str,
    dropped: &mut Dropped,
) -> Option<Label> {
    let Some(identifier) = identifier else {
        if let Err(problem) = absent_ok::<()>(why_absent(
            extra,
            key,
            "an object with a string `identifier`",
        )) {
            dropped.push(key, problem);
        }
        return None;
    };
    let checked = length(&identifier.identifier, 1, MAX_IDENTIFIER_CHARS).and_then(|()| {
        match identifier.name.as_deref() {
            Some(name) => length(name, 0, MAX_LABEL_CHARS).map(|()| Some(name.to_owned())),
            None => Ok(None),
        }
    });
    dropped
        .keep(key, checked)
        .map(|name| Label::new(identifier.identifier.clone(), name))
}

fn tags(video: &Video, dropped: &mut Dropped) -> Vec<String> {
    let mut out = Vec::new();
    for (i, tag) in listed(video.props.tag.as_ref(), &video.props.extra, "tag")
        .iter()
        .enumerate()
    {
        let AnyObject::Link(link) = tag.as_ref() else {
            continue;
        };
        if link.kind != LinkType::Hashtag {
            continue;
        }
        let Some(name) = link.props.name.as_deref() else {
            dropped.push(format!("tag[{i}].name"), Problem::Missing);
            continue;
        };
        match length(name, MIN_TAG_CHARS, MAX_TAG_CHARS) {
            Ok(()) => out.push(name.to_owned()),
            Err(problem) => dropped.push(format!("tag[{i}].name"), problem),
        }
    }
    out
}

/// The objects of a list property: the typed ones, or, when one entry kept the whole list from
/// being typed, each entry of the raw list that reads as an object.
fn listed<'a>(
    typed: Option<&'a OneOrMany<Reference<AnyObject>>>,
    extra: &serde_json::Map<String, Value>,
    key: &str,
) -> Vec<Cow<'a, AnyObject>> {
    match typed {
        Some(list) => list
            .iter()
            .filter_map(Reference::as_object)
            .map(Cow::Borrowed)
            .collect(),
        None => raw_objects(extra.get(key)).map(Cow::Owned).collect(),
    }
}

fn raw_objects(value: Option<&Value>) -> impl Iterator<Item = AnyObject> + '_ {
    let items: &[Value] = match value {
        Some(Value::Array(items)) => items,
        Some(single @ Value::Object(_)) => std::slice::from_ref(single),
        _ => &[],
    };
    items
        .iter()
        .filter(|v| v.is_object())
        .filter_map(|v| AnyObject::from_value(v.clone()).ok())
}

/// The entries of `url` that are links, each with its position (plain URLs are `None`).
fn url_links<'a>(video: &'a Video, dropped: &mut Dropped) -> Vec<UrlEntry<'a>> {
    match video.props.url.as_ref() {
        Some(list) => list
            .iter()
            .map(|entry| match entry {
                LinkRef::Link(link) => UrlEntry::Link(Cow::Borrowed(link)),
                LinkRef::Iri(iri) => UrlEntry::Iri(iri.clone()),
            })
            .collect(),
        None => {
            let raw = video.props.extra.get("url");
            if let Some(value) = raw
                && !value.is_null()
                && !value.is_array()
            {
                dropped.push("url", shape_problem(value, "a list of links"));
            }
            raw_objects(raw)
                .filter_map(|object| match object {
                    AnyObject::Link(link) => Some(UrlEntry::Link(Cow::Owned(link))),
                    _ => None,
                })
                .collect()
        }
    }
}

/// An entry of a `url` list or of an HLS playlist's `tag`.
enum UrlEntry<'a> {
    Link(Cow<'a, Box<Link>>),
    Iri(Iri),
    Infohash(String),
}

impl UrlEntry<'_> {
    fn link(&self) -> Option<&Link> {
        match self {
            Self::Link(link) => Some(link),
            Self::Iri(_) | Self::Infohash(_) => None,
        }
    }
}

fn page_url(links: &[UrlEntry<'_>]) -> Option<Iri> {
    let html = links.iter().filter_map(UrlEntry::link).find_map(|link| {
        (link.media_type() == Some("text/html"))
            .then_some(link.href.as_ref())
            .flatten()
            .filter(|href| http_url(href).is_ok())
    });
    let plain = || {
        links.iter().find_map(|entry| match entry {
            UrlEntry::Iri(iri) if http_url(iri).is_ok() => Some(iri),
            _ => None,
        })
    };
    html.or_else(plain).cloned()
}

fn is_video_media_type(media_type: &str) -> bool {
    media_type.starts_with("video/") || media_type.starts_with("audio/")
}

/// The progressive files among `links` (a `url` list or an HLS playlist's `tag`), each matched
/// with its metadata, torrent and magnet siblings, as PeerTube's `getFileAttributesFromUrl` does.
///
/// At most [`MAX_FILES`] files are read from one list (each is matched against every sibling, so
/// a document of thousands of links must not cost millions of comparisons); the rest are left
/// out, listed once under the list's name with their count.
fn files_of(links: &[UrlEntry<'_>], list: &str, dropped: &mut Dropped) -> Vec<VideoFile> {
    let all: Vec<&Link> = links.iter().filter_map(UrlEntry::link).collect();
    let mut out = Vec::new();
    let mut seen = 0u64;
    for (i, link) in links.iter().enumerate() {
        let Some(link) = link.link() else { continue };
        let Some(media_type) = link.media_type() else {
            continue;
        };
        if !is_video_media_type(media_type) {
            continue;
        }
        seen += 1;
        if seen > MAX_FILES {
            continue;
        }
        match video_file(link, media_type, &all) {
            Ok(file) => out.push(file),
            Err(e) => dropped.push(format!("{list}[{i}].{}", e.field), e.problem),
        }
    }
    if seen > MAX_FILES {
        dropped.push(
            list,
            Problem::TooLarge {
                value: seen,
                max: MAX_FILES,
            },
        );
    }
    out
}

pub(crate) fn video_file(
    link: &Link,
    media_type: &str,
    siblings: &[&Link],
) -> Result<VideoFile, FieldError> {
    let extra = &link.props.extra;
    let href = refuse(
        "href",
        link.href
            .as_ref()
            .ok_or_else(|| why_absent(extra, "href", "a URL"))
            .and_then(|h| http_url(h).map(|()| h.clone())),
    )?;
    let height = refuse(
        "height",
        count(link.props.height, extra, "height", MAX_DIMENSION)
            .and_then(|h| h.ok_or(Problem::Missing)),
    )?;
    let width = refuse(
        "width",
        count(link.props.width, extra, "width", MAX_DIMENSION),
    )?;
    let size = refuse(
        "size",
        count(link.size, extra, "size", MAX_FILE_SIZE).and_then(|s| s.ok_or(Problem::Missing)),
    )?;
    // PeerTube writes -1 for an unknown frame rate: that, or an absurd one, is no frame rate.
    let fps = count(link.fps, extra, "fps", MAX_FPS).ok().flatten();
    let mut streams: Option<FileStreams> = None;
    let mut formats = Vec::new();
    for hint in link.props.attachment.iter().flatten() {
        let Some(AnyObject::PropertyValue(pv)) = hint.as_object() else {
            continue;
        };
        match (pv.props.name.as_deref(), pv.value.as_deref()) {
            (Some("ffprobe_codec_type"), Some(value)) => {
                let s = streams.get_or_insert_with(FileStreams::default);
                match value {
                    "audio" => s.audio = true,
                    "video" => s.video = true,
                    _ => {}
                }
            }
            (Some("peertube_format_flag"), Some(value)) => formats.push(FileFormat::of(value)),
            _ => {}
        }
    }
    let same_height = |l: &&&Link| l.props.height == Some(height);
    let metadata_url = siblings
        .iter()
        .filter(same_height)
        .find(|l| {
            l.media_type() == Some("application/json")
                && l.fps == link.fps
                && l.rel.as_ref().is_some_and(|rel| {
                    rel.iter().any(|r| r == "metadata") && rel.iter().any(|r| r == media_type)
                })
        })
        .and_then(|l| l.href.clone())
        .filter(|h| http_url(h).is_ok());
    let torrent_url = siblings
        .iter()
        .filter(same_height)
        .find(|l| l.media_type() == Some("application/x-bittorrent"))
        .and_then(|l| l.href.clone())
        .filter(|h| http_url(h).is_ok());
    let magnet_uri = siblings
        .iter()
        .filter(same_height)
        .find(|l| l.media_type() == Some("application/x-bittorrent;x-scheme-handler/magnet"))
        .and_then(|l| l.href.clone())
        .filter(|h| h.as_str().starts_with("magnet:"));
    Ok(VideoFile {
        href,
        media_type: media_type.to_owned(),
        height,
        width,
        size,
        fps,
        streams,
        formats,
        metadata_url,
        torrent_url,
        magnet_uri,
    })
}

fn playlists_of(links: &[UrlEntry<'_>], dropped: &mut Dropped) -> Vec<HlsPlaylist> {
    let mut out = Vec::new();
    for (i, entry) in links.iter().enumerate() {
        let Some(link) = entry.link() else { continue };
        if link.media_type() != Some("application/x-mpegURL") {
            continue;
        }
        let field = format!("url[{i}]");
        let href = match link.href.as_ref() {
            Some(href) => match http_url(href) {
                Ok(()) => href.clone(),
                Err(problem) => {
                    dropped.push(format!("{field}.href"), problem);
                    continue;
                }
            },
            None => {
                dropped.push(
                    format!("{field}.href"),
                    why_absent(&link.props.extra, "href", "a URL"),
                );
                continue;
            }
        };
        let tags: Vec<UrlEntry<'_>> = listed(link.props.tag.as_ref(), &link.props.extra, "tag")
            .into_iter()
            .filter_map(|object| match object {
                Cow::Borrowed(AnyObject::Link(l)) => Some(UrlEntry::Link(Cow::Borrowed(l))),
                Cow::Owned(AnyObject::Link(l)) => Some(UrlEntry::Link(Cow::Owned(l))),
                Cow::Borrowed(AnyObject::Unknown(u)) if u.kind == "Infohash" => {
                    u.props.name.clone().map(UrlEntry::Infohash)
                }
                Cow::Owned(AnyObject::Unknown(u)) if u.kind == "Infohash" => {
                    u.props.name.clone().map(UrlEntry::Infohash)
                }
                _ => None,
            })
            .collect();
        let segments_sha256_url = tags.iter().filter_map(UrlEntry::link).find_map(|l| {
            (l.kind == LinkType::Link
                && l.props.name.as_deref() == Some("sha256")
                && l.media_type() == Some("application/json"))
            .then(|| l.href.clone())
            .flatten()
            .filter(|h| http_url(h).is_ok())
        });
        let files = files_of(&tags, &format!("{field}.tag"), dropped);
        let infohashes = tags
            .iter()
            .filter_map(|t| match t {
                UrlEntry::Infohash(name) => Some(name.clone()),
                _ => None,
            })
            .collect();
        let mirrors = tags
            .iter()
            .filter_map(UrlEntry::link)
            .filter(|l| {
                l.media_type() == Some("application/x-mpegURL")
                    && l.rel
                        .as_ref()
                        .is_some_and(|rel| rel.iter().any(|r| r == MIRROR_REL))
            })
            .filter_map(|l| l.href.clone().filter(|h| http_url(h).is_ok()))
            .take(MAX_FILES as usize)
            .collect();
        out.push(HlsPlaylist {
            href,
            segments_sha256_url,
            files,
            infohashes,
            mirrors,
        });
    }
    out
}

fn thumbnails(video: &Video, dropped: &mut Dropped) -> Vec<Thumbnail> {
    let mut out: Vec<Thumbnail> = Vec::new();
    let mut sizes = BTreeSet::new();
    for (i, icon) in listed(video.props.icon.as_ref(), &video.props.extra, "icon")
        .iter()
        .enumerate()
    {
        match thumbnail(icon) {
            Ok(t) => {
                if sizes.insert((t.width, t.height)) {
                    out.push(t);
                } else {
                    dropped.push(format!("icon[{i}]"), Problem::Duplicate);
                }
            }
            Err(e) => dropped.push(format!("icon[{i}].{}", e.field), e.problem),
        }
    }
    out
}

pub(crate) fn thumbnail(icon: &AnyObject) -> Result<Thumbnail, FieldError> {
    let AnyObject::Object(image) = icon else {
        return Err(FieldError::new(
            "type",
            Problem::WrongType {
                expected: "an Image",
            },
        ));
    };
    if image.kind != ObjectType::Image {
        return Err(FieldError::new(
            "type",
            Problem::WrongType {
                expected: "an Image",
            },
        ));
    }
    let props = &image.props;
    let url = refuse(
        "url",
        props
            .url
            .as_ref()
            .and_then(OneOrMany::first)
            .and_then(LinkRef::href)
            .ok_or_else(|| why_absent(&props.extra, "url", "a URL"))
            .and_then(|u| http_url(u).map(|()| u.clone())),
    )?;
    let media_type = refuse(
        "mediaType",
        match props.media_type.as_deref() {
            Some(m) if m.starts_with("image/") => Ok(m.to_owned()),
            other => Err(Problem::WrongMediaType {
                media_type: excerpt(other.unwrap_or_default()),
                expected: "image/*",
            }),
        },
    )?;
    let dimension = |typed: Option<u64>, key: &str| {
        refuse(
            key,
            count(typed, &props.extra, key, MAX_DIMENSION).and_then(|d| d.ok_or(Problem::Missing)),
        )
    };
    Ok(Thumbnail {
        url,
        media_type,
        width: dimension(props.width, "width")?,
        height: dimension(props.height, "height")?,
    })
}

fn captions(video: &Video, dropped: &mut Dropped) -> Vec<Caption> {
    let Some(list) = video.subtitle_language.as_deref() else {
        if let Err(problem) = absent_ok::<()>(why_absent(
            &video.props.extra,
            "subtitleLanguage",
            "a list of captions",
        )) {
            dropped.push("subtitleLanguage", problem);
        }
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, caption) in list.iter().enumerate() {
        match caption_of(caption) {
            Ok(c) => out.push(c),
            Err(e) => dropped.push(format!("subtitleLanguage[{i}].{}", e.field), e.problem),
        }
    }
    out
}

fn caption_of(caption: &Identifier) -> Result<Caption, FieldError> {
    refuse(
        "identifier",
        length(&caption.identifier, 1, MAX_IDENTIFIER_CHARS),
    )?;
    let name = match caption.name.as_deref() {
        Some(name) => {
            refuse("name", length(name, 0, MAX_LABEL_CHARS))?;
            Some(name.to_owned())
        }
        None => None,
    };
    // Up to PeerTube 7.0 `url` is the WebVTT file's URL; later versions send a list of links,
    // the WebVTT file and its HLS playlist.
    let (mut url, mut playlist_url) = (None, None);
    match caption.extra.get("url") {
        Some(Value::String(text)) => url = Some(refuse("url", http_url_str(text))?),
        Some(Value::Array(links)) => {
            for link in links {
                let href = link.get("href").and_then(Value::as_str);
                let media_type = link.get("mediaType").and_then(Value::as_str);
                let Some(Ok(href)) = href.map(http_url_str) else {
                    continue;
                };
                match media_type {
                    Some("application/x-mpegURL") => playlist_url = playlist_url.or(Some(href)),
                    Some("text/vtt") => url = url.or(Some(href)),
                    None if href.as_str().ends_with(".vtt") => url = url.or(Some(href)),
                    _ => {}
                }
            }
        }
        Some(other) => {
            return Err(FieldError::new("url", shape_problem(other, "a URL")));
        }
        None => {}
    }
    let url = url.ok_or_else(|| FieldError::new("url", Problem::Missing))?;
    Ok(Caption {
        language: Label::new(caption.identifier.clone(), name),
        url,
        playlist_url,
        automatically_generated: caption
            .extra
            .get("automaticallyGenerated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}
