//! PeerTube's REST details of a video: `GET /api/v1/videos/{id}`, the id being the video's
//! uuid, PeerTube's short uuid or its numeric id, answered with PeerTube's `VideoDetails`
//! (video-search's model) for the local videos and the remote ones listed here, with absolute
//! URLs: its web-video files, its HLS stream with the copies other servers keep
//! (`streamingPlaylists[].redundancies[].baseUrl`, the copies announced with a `CacheFile`
//! that have not lapsed, not withdrawn, not hidden and not from a blocked server, and this
//! server's own copy of a remote video it mirrors).
//!
//! Who may read what, as PeerTube's `checkCanSeeVideo`: a public video anyone; an unlisted
//! one anyone who names it by its uuid (by its number: its owner and the moderators); one
//! addressed to some only (followers), those it is addressed to and the moderators; a video a
//! moderator hid, or of a blocked account or server, its owner and the moderators. The others
//! get `403`; a video unknown or deleted `404`; an id of no known shape `400`. Errors are
//! PeerTube's problem documents (RFC 7807).

use activitypub_core::AnyObject;
use activitypub_core::ext::peertube::{HlsPlaylist, VideoSummary};
use anyhow::Result;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use instance_state::accounts::Role;
use instance_state::follows::FollowState;
use instance_state::objects::{Addressing, Scope, Visibility};
use serde::Serialize;
use tracing::warn;
use video_search::Hit;
use video_search::api::{
    Redundancy, VideoConstant, VideoDetails, VideoFile, VideoStreamingPlaylist, derived_id,
    short_to_uuid, truncate_description, uuid_to_short,
};

use crate::app::Instance;
use crate::db::{FileRow, VideoRow};
use crate::web::Site;
use instance_server::WithParts as _;

/// PeerTube's error answer (RFC 7807's problem details, with PeerTube's `error` beside
/// `detail`), sent as `application/problem+json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Problem {
    /// `about:blank`: the status says it all.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// The status's reason phrase.
    pub(crate) title: &'static str,
    /// What was wrong.
    pub(crate) detail: String,
    /// The status code.
    pub(crate) status: u16,
    /// The same as `detail` (PeerTube writes both).
    pub(crate) error: String,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            detail: detail.clone(),
            status: status.as_u16(),
            error: detail,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(
                header::CONTENT_TYPE,
                "application/problem+json; charset=utf-8",
            )],
            body,
        )
            .into_response()
    }
}

/// How a request names a video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VideoRef {
    /// PeerTube's numeric id.
    Number(i64),
    /// A uuid (a short uuid is read into one).
    Uuid(String),
}

/// The most digits a numeric id has (53 bits).
const MAX_NUMBER_DIGITS: usize = 16;

impl VideoRef {
    /// Reads `text`: digits (a number), a uuid, or a short uuid.
    pub(crate) fn parse(text: &str) -> Result<Self, Problem> {
        let bad = || {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "the video id is not a number, a UUID or a short UUID",
            )
        };
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            if text.len() > MAX_NUMBER_DIGITS {
                return Err(bad());
            }
            return text.parse().map(VideoRef::Number).map_err(|_| bad());
        }
        if let Ok(uuid) = uuid::Uuid::try_parse(text)
            && text.len() == 36
        {
            return Ok(VideoRef::Uuid(uuid.hyphenated().to_string()));
        }
        short_to_uuid(text).map(VideoRef::Uuid).ok_or_else(bad)
    }
}

/// Who asks: nobody, or the account of a bearer token.
struct Reader {
    /// Its identities' names.
    names: Vec<String>,
    moderator: bool,
    scope: Scope,
}

async fn reader(site: &Site, headers: &HeaderMap) -> Result<Reader, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Reader {
            names: Vec::new(),
            moderator: false,
            scope: Scope::anonymous(),
        });
    };
    let unauthorized = || Problem::new(StatusCode::UNAUTHORIZED, "the token is not valid");
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(unauthorized)?;
    let state = site.instance.state();
    let (_, account) = state
        .authenticate(token)
        .await
        .map_err(|e| internal(&e))?
        .ok_or_else(unauthorized)?;
    let identities = state
        .identities(&account.id)
        .await
        .map_err(|e| internal(&e))?;
    let names: Vec<String> = identities.into_iter().map(|i| i.name).collect();
    let scope = match names.first() {
        Some(name) => state
            .scope_of(site.instance.actor_id(name).as_str())
            .await
            .map_err(|e| internal(&e))?,
        None => Scope::anonymous(),
    };
    Ok(Reader {
        names,
        moderator: matches!(account.role, Role::Moderator | Role::Admin),
        scope,
    })
}

fn internal(error: &dyn std::fmt::Display) -> Problem {
    warn!(%error, "answering a video's details");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "something went wrong")
}

fn forbidden() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "Cannot fetch information of private/internal/blocked video",
    )
}

fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "Video not found")
}

/// `GET /api/v1/videos/{id}`: PeerTube's `VideoDetails`.
pub(crate) async fn api_video(
    State(site): State<Site>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match details(&site, &id, &headers).await {
        Ok(details) => axum::Json(details).into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn details(site: &Site, id: &str, headers: &HeaderMap) -> Result<VideoDetails, Problem> {
    let wanted = VideoRef::parse(id)?;
    let reader = reader(site, headers).await?;
    let instance = &site.instance;
    let row = match &wanted {
        VideoRef::Number(n) => instance.db().video_by_number(*n).await,
        VideoRef::Uuid(uuid) => instance.db().video_by_uuid(uuid).await,
    }
    .map_err(|e| internal(&e))?
    .ok_or_else(not_found)?;
    let stored = instance
        .state()
        .object(&row.id)
        .await
        .map_err(|e| internal(&e))?
        .filter(|s| !s.deleted)
        .ok_or_else(not_found)?;
    let owner = instance
        .state()
        .local_name(&row.account)
        .is_some_and(|name| reader.names.contains(&name));
    let privileged = owner || reader.moderator;
    let blocked = instance
        .state()
        .is_blocked(None, &row.account)
        .await
        .map_err(|e| internal(&e))?
        || instance
            .state()
            .is_blocked(None, &row.channel)
            .await
            .map_err(|e| internal(&e))?;
    if (stored.hidden || blocked) && !privileged {
        return Err(forbidden());
    }
    let visibility = Addressing::of(&stored.document).visibility();
    let privacy = match visibility {
        Visibility::Public => VideoConstant::new(Some(1), "Public"),
        Visibility::Unlisted => {
            if matches!(wanted, VideoRef::Number(_)) && !privileged {
                // PeerTube: an unlisted video is named by its uuid, or seen by its owner.
                return Err(forbidden());
            }
            VideoConstant::new(Some(2), "Unlisted")
        }
        _ => {
            if !privileged && !reader.scope.sees(&stored.addressing) {
                return Err(forbidden());
            }
            VideoConstant::new(Some(3), "Private")
        }
    };
    instance
        .video_details(&row, &stored.document, privacy, &reader.scope)
        .await
        .map_err(|e| internal(&e))
}

/// The directory of the file at `url` (a copy's base URL from its master playlist).
fn directory_of(url: &str) -> &str {
    url.rsplit_once('/').map_or(url, |(dir, _)| dir)
}

/// PeerTube's media playlist of fragmented file `url` (`{height}-fragmented.mp4` beside
/// `{height}.m3u8`).
fn media_playlist_of(url: &str) -> Option<String> {
    url.strip_suffix("-fragmented.mp4")
        .map(|stem| format!("{stem}.m3u8"))
}

fn rest_file(file: &activitypub_core::ext::peertube::VideoFile, local: bool) -> VideoFile {
    let height = u32::try_from(file.height).unwrap_or(u32::MAX);
    let fps = file.fps.map_or(0, |f| i64::try_from(f).unwrap_or(i64::MAX));
    let mut out = VideoFile::new(
        derived_id(file.href.as_str()),
        file.href.as_str(),
        height,
        file.size,
        fps,
    );
    out.width = file.width.and_then(|w| u32::try_from(w).ok());
    out.height = Some(height);
    out.torrent_url = file.torrent_url.as_ref().map(ToString::to_string);
    out.magnet_uri = file.magnet_uri.as_ref().map(ToString::to_string);
    out.metadata_url = file.metadata_url.as_ref().map(ToString::to_string);
    if let Some(streams) = &file.streams {
        out.has_audio = Some(streams.audio);
        out.has_video = Some(streams.video);
    }
    out.storage = local.then_some(0);
    out
}

/// Largest first, as PeerTube sorts files.
fn by_resolution_desc(files: &mut [VideoFile]) {
    files.sort_by_key(|f| std::cmp::Reverse(f.resolution.id));
}

/// PeerTube's labels of its states (`VIDEO_STATES`).
fn state_label(state: u32) -> &'static str {
    match state {
        1 => "Published",
        2 => "To transcode",
        3 => "To import",
        4 => "Waiting for livestream",
        5 => "Livestream ended",
        6 => "To move to an external storage",
        7 => "Transcoding failed",
        8 => "External storage move failed",
        9 => "To edit",
        _ => "Unknown",
    }
}

/// PeerTube's labels of its comment policies (`VIDEO_COMMENTS_POLICY`).
fn comments_policy_label(policy: u32) -> &'static str {
    match policy {
        1 => "Enabled",
        2 => "Disabled",
        3 => "Requires approval",
        _ => "Unknown",
    }
}

impl Instance {
    /// The base URLs of the copies of `video`'s HLS stream that its details list: for a
    /// local video, the copies other servers announced (live, not withdrawn nor hidden, not
    /// from a blocked server); for a remote one, those its origin lists (not from a server
    /// blocked here) and this server's own copy first.
    async fn redundancies(
        &self,
        video: &VideoRow,
        files: &[FileRow],
        hls: &HlsPlaylist,
    ) -> Result<Vec<Redundancy>> {
        let mut out: Vec<Redundancy> = Vec::new();
        if video.local {
            for copy in self.known_copies(&video.id).await? {
                if copy.media_type == "application/x-mpegURL" {
                    out.push(Redundancy::new(copy.href.trim_end_matches('/')));
                }
            }
            return Ok(out);
        }
        if let Some(master) = files.iter().find(|f| f.role == "mirror-hls") {
            let url = self.file_url(&master.key);
            out.push(Redundancy::new(directory_of(url.as_str())));
        }
        for mirror in &hls.mirrors {
            if self.state().is_blocked(None, mirror.as_str()).await? {
                continue;
            }
            let base = directory_of(mirror.as_str()).to_owned();
            if !out.iter().any(|r| r.base_url == base) {
                out.push(Redundancy::new(base));
            }
        }
        Ok(out)
    }

    /// PeerTube's `VideoDetails` of `video` (its stored `document`), with `privacy`, its
    /// comments counted as `scope` sees them.
    pub(crate) async fn video_details(
        &self,
        video: &VideoRow,
        document: &serde_json::Value,
        privacy: VideoConstant<u32>,
        scope: &Scope,
    ) -> Result<VideoDetails> {
        let summary = match AnyObject::from_value(document.clone()) {
            Ok(AnyObject::Video(v)) => VideoSummary::read(&v).ok(),
            _ => None,
        };
        let search = self.search_document(video).await;
        let mut rest = video_search::api::video(&Hit::new(None, search), &self.api_context());
        rest.id = crate::db::video_number(&video.id);
        rest.short_uuid = uuid_to_short(&video.uuid).unwrap_or_else(|| video.uuid.clone());
        rest.embed_path = format!("/videos/embed/{}", video.uuid);
        rest.privacy = privacy;
        let description = if video.description.is_empty() {
            summary.as_ref().and_then(|s| s.content.clone())
        } else {
            Some(video.description.clone())
        };
        rest.truncated_description = description.as_deref().map(truncate_description);
        rest.description = description;
        let comments = self.comments(&video.id, scope, false).await?;
        rest.comments = Some(u64::try_from(comments.len()).unwrap_or(0));
        let files = self.db().files(&video.id).await?;
        let image = if video.local {
            Some(self.thumbnail(&files).url)
        } else {
            summary
                .as_ref()
                .and_then(|s| s.thumbnails.iter().max_by_key(|t| t.width))
                .map(|t| t.url.to_string())
        };
        if let Some(image) = image {
            let path = url::Url::parse(&image)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            rest.thumbnail_path.clone_from(&path);
            rest.thumbnail_url = Some(image.clone());
            // No larger preview is made here: the thumbnail serves as one.
            rest.preview_path = path;
            rest.preview_url = Some(image);
        }
        if let Some(summary) = &summary {
            rest.aspect_ratio = Some(summary.aspect_ratio.or_else(|| {
                summary
                    .files
                    .iter()
                    .chain(summary.hls.iter().flat_map(|h| &h.files))
                    .find_map(|f| {
                        let width = f.width? as f64;
                        (f.height > 0).then(|| (width / f.height as f64 * 1e4).round() / 1e4)
                    })
            }));
        }
        // PeerTube's full Account and VideoChannel: the counts of follows, for the actors of
        // this server (another server's are its own to count), and the channel's owner.
        for (summary, actor) in [
            (&mut rest.account, &video.account),
            (&mut rest.channel, &video.channel),
        ] {
            if self.state().local_name(actor).is_some() {
                let followers = self
                    .state()
                    .follower_count(actor, FollowState::Accepted)
                    .await?;
                let following = self
                    .state()
                    .following_count(actor, FollowState::Accepted)
                    .await?;
                summary
                    .extra
                    .insert("followersCount".into(), followers.into());
                summary
                    .extra
                    .insert("followingCount".into(), following.into());
            }
        }
        let owner = serde_json::to_value(&rest.account)?;
        rest.channel.extra.insert("ownerAccount".into(), owner);
        let mut details = VideoDetails::new(rest);
        let state = u32::try_from(video.state).unwrap_or(0);
        details.state = VideoConstant::new(Some(state), state_label(state));
        let policy = u32::try_from(video.comments_policy).unwrap_or(0);
        details.comments_policy = VideoConstant::new(Some(policy), comments_policy_label(policy));
        details.download_enabled = video.download_enabled;
        details
            .video
            .extra
            .insert("blacklisted".into(), false.into());
        details
            .video
            .extra
            .insert("blacklistedReason".into(), serde_json::Value::Null);
        if let Some(summary) = summary {
            details.support = summary.support.clone();
            details.wait_transcoding = summary.wait_transcoding;
            details.files = summary
                .files
                .iter()
                .map(|f| rest_file(f, video.local))
                .collect();
            by_resolution_desc(&mut details.files);
            for hls in &summary.hls {
                let mut playlist =
                    VideoStreamingPlaylist::hls(derived_id(hls.href.as_str()), hls.href.as_str());
                playlist.segments_sha256_url =
                    hls.segments_sha256_url.as_ref().map(ToString::to_string);
                playlist.files = hls
                    .files
                    .iter()
                    .map(|f| {
                        let mut file = rest_file(f, video.local);
                        file.playlist_url = media_playlist_of(f.href.as_str());
                        file
                    })
                    .collect();
                by_resolution_desc(&mut playlist.files);
                playlist.redundancies = self.redundancies(video, &files, hls).await?;
                details.streaming_playlists.push(playlist);
            }
        }
        Ok(details)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_numbers_uuids_or_short_uuids_and_nothing_else() {
        assert_eq!(VideoRef::parse("1438").unwrap(), VideoRef::Number(1438));
        assert_eq!(
            VideoRef::parse("9CB99A6E-B1E2-4636-8A22-F746C0244227").unwrap(),
            VideoRef::Uuid("9cb99a6e-b1e2-4636-8a22-f746c0244227".into())
        );
        assert_eq!(
            VideoRef::parse("kmtJJ4jnGmKD6v9JV99Wf4").unwrap(),
            VideoRef::Uuid("9cb99a6e-b1e2-4636-8a22-f746c0244227".into())
        );
        for bad in [
            "",
            "12345678901234567890",
            "9cb99a6eb1e246368a22f746c0244227",
            "kmtJJ4jnGmKD6v9JV99Wf0",
            "zzzzzzzzzzzzzzzzzzzzzz",
            "../../etc",
            "é",
        ] {
            let problem = VideoRef::parse(bad).unwrap_err();
            assert_eq!(problem.status, 400, "{bad}");
        }
    }

    #[test]
    fn media_playlists_sit_beside_their_fragmented_files() {
        assert_eq!(
            media_playlist_of("https://a/static/videos/u/hls/720-fragmented.mp4").as_deref(),
            Some("https://a/static/videos/u/hls/720.m3u8")
        );
        assert_eq!(media_playlist_of("https://a/x.mp4"), None);
        assert_eq!(
            directory_of("https://b/static/r/master.m3u8"),
            "https://b/static/r"
        );
    }
}
