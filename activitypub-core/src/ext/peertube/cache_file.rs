//! Redundancy copies: reading ([`CacheFileSummary`]) and writing ([`NewCacheFile`]) a
//! `CacheFile`.
//!
//! A PeerTube instance that mirrors another's video announces the copy with a `Create` of a
//! `CacheFile` (`VideoRedundancyModel.toActivityPubObject`): `object` is the video, `url` the
//! copy (the HLS playlist, or a file with its `height`, `size` and `fps`), `expires` when the copy
//! goes (PeerTube 7.1+ may write `null`: kept until removed).

use super::error::{FieldError, Problem};
use super::media::VideoFile;
use super::read::{Dropped, addresses, http_url, reference_url, refuse, why_absent};
use super::video_read::video_file;
use super::video_write::{address, check_file};
use super::{CacheFile, CacheFileType, context};
use crate::origin::same_origin;
use crate::values::{LinkRef, OneOrMany};
use crate::{Iri, Link, LinkType, PUBLIC, Reference, Timestamp};

/// What a `CacheFile` copies.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CacheFileUrl {
    /// One file (`url` has its `mediaType`, `href`, `height`, `size` and `fps`).
    File(VideoFile),
    /// The HLS playlist, with every file it lists (`url` has `mediaType: application/x-mpegURL`).
    Playlist(Iri),
}

impl CacheFileUrl {
    /// Where the copy is: the playlist's address (PeerTube 7 gives the directory of its copy,
    /// `/static/redundancy/hls/{uuid}`), or the file's.
    pub fn href(&self) -> &Iri {
        match self {
            Self::File(file) => &file.href,
            Self::Playlist(href) => href,
        }
    }
}

/// Why a received `CacheFile` is not believed from the actor that sent it
/// ([`CacheFileSummary::check_announcer`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheFileRefusal {
    /// Its `id` is on another server than the actor's.
    #[error("the CacheFile {id} is not on the server of {actor}, who sent it")]
    IdElsewhere {
        /// The `id`.
        id: Iri,
        /// Who sent it.
        actor: Iri,
    },
    /// The copy (`url.href`) is on another server than the actor's: a server announces its
    /// own copies only.
    #[error("the copy {href} is not on the server of {actor}, who announced it")]
    CopyElsewhere {
        /// The copy's address.
        href: Iri,
        /// Who sent it.
        actor: Iri,
    },
    /// The object names another actor than the one that sent it.
    #[error("the CacheFile names {named} as its actor, but {actor} sent it")]
    OtherActor {
        /// The `actor` it names.
        named: Iri,
        /// Who sent it.
        actor: Iri,
    },
    /// It copies a video of the actor's own server: a copy of one's own video is no mirror.
    #[error("the CacheFile copies {video}, a video of {actor}'s own server")]
    OwnVideo {
        /// The video.
        video: Iri,
        /// Who sent it.
        actor: Iri,
    },
}

/// What an application keeps about a received `CacheFile`, read by [`CacheFileSummary::read`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CacheFileSummary {
    /// `id`.
    pub id: Iri,
    /// `object`: the video copied.
    pub video: Iri,
    /// `url`: the copy.
    pub url: CacheFileUrl,
    /// `expires`: when the copy goes; none when PeerTube keeps it until removed.
    pub expires: Option<Timestamp>,
    /// `actor`, when the object names one.
    pub actor: Option<Iri>,
    /// `to`.
    pub to: Vec<Iri>,
    /// `cc`.
    pub cc: Vec<Iri>,
    /// The values left out, and why.
    pub dropped: Vec<FieldError>,
}

impl CacheFileSummary {
    /// Reads `cache_file`. Refused: an `id` or `object` that is not an http(s) URL, a `url` that is
    /// not a link to an HLS playlist or to a video file within the bounds of
    /// [`super::VideoSummary`]'s files. Dropped: a malformed `expires` or `actor`.
    pub fn read(cache_file: &CacheFile) -> Result<Self, FieldError> {
        let props = &cache_file.props;
        let mut dropped = Dropped::default();
        let id = refuse(
            "id",
            props.id.as_ref().ok_or(Problem::Missing).and_then(|id| {
                http_url(id)?;
                Ok(id.clone())
            }),
        )?;
        let video = refuse(
            "object",
            cache_file
                .object
                .as_ref()
                .ok_or_else(|| why_absent(&props.extra, "object", "a URL"))
                .and_then(reference_url),
        )?;
        let link = match props.url.as_ref().and_then(OneOrMany::first) {
            Some(LinkRef::Link(link)) => link,
            _ => {
                return Err(FieldError::new(
                    "url",
                    match why_absent(&props.extra, "url", "a link") {
                        Problem::Missing if props.url.is_some() => {
                            Problem::WrongType { expected: "a link" }
                        }
                        other => other,
                    },
                ));
            }
        };
        let url = match link.media_type() {
            Some("application/x-mpegURL") => {
                let href = refuse(
                    "url.href",
                    link.href
                        .as_ref()
                        .ok_or(Problem::Missing)
                        .and_then(|h| http_url(h).map(|()| h.clone())),
                )?;
                CacheFileUrl::Playlist(href)
            }
            Some(media_type)
                if media_type.starts_with("video/") || media_type.starts_with("audio/") =>
            {
                let file = video_file(link, media_type, &[])
                    .map_err(|e| FieldError::new(format!("url.{}", e.field), e.problem))?;
                CacheFileUrl::File(file)
            }
            other => {
                return Err(FieldError::new(
                    "url.mediaType",
                    Problem::WrongMediaType {
                        media_type: other.unwrap_or_default().to_owned(),
                        expected: "application/x-mpegURL, video/* or audio/*",
                    },
                ));
            }
        };
        let expires = match &cache_file.expires {
            Some(t) => Some(t.clone()),
            None => {
                if let problem @ (Problem::WrongType { .. } | Problem::Negative) =
                    why_absent(&props.extra, "expires", "an RFC 3339 date-time")
                {
                    dropped.push("expires", problem);
                }
                None
            }
        };
        let actor = cache_file
            .actor
            .as_ref()
            .and_then(|a| dropped.keep("actor", reference_url(a)));
        Ok(Self {
            id,
            video,
            url,
            expires,
            actor,
            to: addresses(props.to.as_ref()),
            cc: addresses(props.cc.as_ref()),
            dropped: dropped.0,
        })
    }
}

impl CacheFileSummary {
    /// Checks that `actor` (who signed the activity) may announce this copy, as PeerTube's
    /// `cache-file.ts` and the origin rule require: the `CacheFile` and the copy are on the
    /// actor's server, the object's `actor` (when named) is the sender, and the video is
    /// another server's. Whether the video is one of the receiver's, and that an update or an
    /// undo comes from the actor that announced the copy, is the receiver's to check.
    pub fn check_announcer(&self, actor: &Iri) -> Result<(), CacheFileRefusal> {
        if !same_origin(&self.id, actor) {
            return Err(CacheFileRefusal::IdElsewhere {
                id: self.id.clone(),
                actor: actor.clone(),
            });
        }
        if !same_origin(self.url.href(), actor) {
            return Err(CacheFileRefusal::CopyElsewhere {
                href: self.url.href().clone(),
                actor: actor.clone(),
            });
        }
        if let Some(named) = &self.actor
            && named != actor
        {
            return Err(CacheFileRefusal::OtherActor {
                named: named.clone(),
                actor: actor.clone(),
            });
        }
        if same_origin(&self.video, actor) {
            return Err(CacheFileRefusal::OwnVideo {
                video: self.video.clone(),
                actor: actor.clone(),
            });
        }
        Ok(())
    }
}

/// A `CacheFile` of this application, written as PeerTube writes its own.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewCacheFile {
    /// `id`.
    pub id: Iri,
    /// `object`: the video copied.
    pub video: Iri,
    /// `url`: the copy.
    pub url: CacheFileUrl,
    /// `expires` (PeerTube 7.1+ writes `null` for a copy kept until removed).
    pub expires: Option<Timestamp>,
    /// `to` (PeerTube: the video's owner account).
    pub to: Vec<Iri>,
    /// `cc` (PeerTube: none).
    pub cc: Vec<Iri>,
}

impl NewCacheFile {
    /// A copy `id` of `video`'s `url`, kept until `expires`, addressed to `to` (PeerTube
    /// addresses it to the video's account).
    pub fn new(
        id: Iri,
        video: Iri,
        url: CacheFileUrl,
        expires: Option<Timestamp>,
        to: Vec<Iri>,
    ) -> Self {
        Self {
            id,
            video,
            url,
            expires,
            to,
            cc: Vec::new(),
        }
    }

    /// Sets `cc`.
    pub fn with_cc(mut self, cc: Vec<Iri>) -> Self {
        self.cc = cc;
        self
    }

    /// Checks the values (as [`CacheFileSummary::read`] would) and writes the `CacheFile`, with
    /// PeerTube's `@context` ([`context::cache_file`]). Wrap it with [`super::wrap`] in a
    /// `Create` (PeerTube's actor for it is the instance's `Application`).
    pub fn build(&self) -> Result<CacheFile, FieldError> {
        refuse("id", http_url(&self.id))?;
        refuse("object", http_url(&self.video))?;
        for (i, to) in self.to.iter().chain(&self.cc).enumerate() {
            if to.as_str() != PUBLIC {
                refuse(&format!("to/cc[{i}]"), http_url(to))?;
            }
        }
        let link = match &self.url {
            CacheFileUrl::Playlist(href) => {
                refuse("url.href", http_url(href))?;
                let mut link = Link::to(LinkType::Link, href.clone());
                link.props.media_type = Some("application/x-mpegURL".to_owned());
                link
            }
            CacheFileUrl::File(file) => {
                check_file("url", file)?;
                let mut link = Link::to(LinkType::Link, file.href.clone());
                link.props.media_type = Some(file.media_type.clone());
                link.props.height = Some(file.height);
                link.size = Some(file.size);
                link.fps = file.fps;
                link
            }
        };
        let mut cache_file = CacheFile::new(CacheFileType).with_id(self.id.clone());
        cache_file.props.ld_context = Some(context::cache_file());
        cache_file.object = Some(Reference::Id(self.video.clone()));
        cache_file.expires = self.expires.clone();
        if self.expires.is_none() {
            cache_file
                .props
                .extra
                .insert("expires".to_owned(), serde_json::Value::Null);
        }
        cache_file.props.url = Some(OneOrMany::One(LinkRef::Link(Box::new(link))));
        cache_file.props.to = Some(OneOrMany::Many(self.to.iter().map(address).collect()));
        cache_file.props.cc = Some(OneOrMany::Many(self.cc.iter().map(address).collect()));
        Ok(cache_file)
    }
}
