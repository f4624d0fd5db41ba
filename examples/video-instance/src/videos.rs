//! Local videos: their documents in PeerTube's shape, and their publication (`Create` by the
//! account, `Announce` by the channel, as PeerTube does).

use activitypub_core::PUBLIC;
use activitypub_core::ext::peertube::{
    CommentsPolicy, HlsPlaylist, Label, NewVideo, Thumbnail, VideoCollections, VideoFile,
    VideoState,
};
use activitypub_core::{Iri, Timestamp};
use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};
use time::OffsetDateTime;
use url::Url;

use instance_server::INSTANCE_ACTOR;

use crate::app::Instance;
use crate::db::{FileRow, VideoRow};
use instance_server::WithParts as _;

/// Where the placeholder thumbnail is served.
pub(crate) const PLACEHOLDER_THUMBNAIL_PATH: &str = "/thumbnail-placeholder.png";

/// The placeholder thumbnail (see `assets/README.md`).
pub(crate) const PLACEHOLDER_THUMBNAIL: &[u8] =
    include_bytes!("../assets/placeholder-thumbnail.png");

/// A video's image: its address and size in pixels.
#[derive(Debug, Clone)]
pub(crate) struct ThumbnailRef {
    pub(crate) url: String,
    pub(crate) width: i64,
    pub(crate) height: i64,
}

/// PeerTube's video categories, by number (`VIDEO_CATEGORIES` in its constants).
pub(crate) const CATEGORIES: &[(i64, &str)] = &[
    (1, "Music"),
    (2, "Films"),
    (3, "Vehicles"),
    (4, "Art"),
    (5, "Sports"),
    (6, "Travels"),
    (7, "Gaming"),
    (8, "People"),
    (9, "Comedy"),
    (10, "Entertainment"),
    (11, "News & Politics"),
    (12, "How To"),
    (13, "Education"),
    (14, "Activism"),
    (15, "Science & Technology"),
    (16, "Animals"),
    (17, "Kids"),
    (18, "Food"),
];

/// PeerTube's licences, by number (`VIDEO_LICENCES`).
pub(crate) const LICENCES: &[(i64, &str)] = &[
    (1, "Attribution"),
    (2, "Attribution - Share Alike"),
    (3, "Attribution - No Derivatives"),
    (4, "Attribution - Non Commercial"),
    (5, "Attribution - Non Commercial - Share Alike"),
    (6, "Attribution - Non Commercial - No Derivatives"),
    (7, "Public Domain Dedication"),
];

fn label(table: &[(i64, &str)], number: Option<i64>) -> Option<Label> {
    let number = number?;
    table
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(n, name)| Label::new(n.to_string(), Some((*name).to_owned())))
}

fn iri(url: &Url) -> Result<Iri> {
    Iri::parse(url.as_str()).map_err(|e| anyhow!("{url} is not an IRI: {e}"))
}

fn timestamp(unix: i64) -> Result<Timestamp> {
    Ok(Timestamp::new(
        OffsetDateTime::from_unix_timestamp(unix).context("a time out of range")?,
    ))
}

/// The `url` entry of a video file kept here, served at `href`.
fn video_file(href: Iri, file: &FileRow) -> VideoFile {
    let mut entry = VideoFile::new(
        href,
        file.media_type.clone(),
        u64::try_from(file.height.unwrap_or(0)).unwrap_or(0),
        u64::try_from(file.size).unwrap_or(0),
    );
    if let Some(width) = file.width.and_then(|w| u64::try_from(w).ok()) {
        entry = entry.with_width(width);
    }
    if let Some(fps) = file.fps_milli.and_then(|f| u64::try_from(f).ok()) {
        entry = entry.with_fps((fps + 500) / 1000);
    }
    entry
}

/// PeerTube's comment policy numbered `number`.
fn comments_policy(number: i64) -> CommentsPolicy {
    CommentsPolicy::from_number(u64::try_from(number).unwrap_or(1))
}

impl Instance {
    /// The id (and watch page) of local video `uuid`: PeerTube's layout.
    pub(crate) fn video_id(&self, uuid: &str) -> Url {
        self.url(&format!("videos/watch/{uuid}"))
    }

    /// The address a stored file is served at.
    pub(crate) fn file_url(&self, key: &str) -> Url {
        self.url(&format!("static/{key}"))
    }

    /// The image showing a video with `files`: its thumbnail file, else the placeholder
    /// (320 × 180).
    pub(crate) fn thumbnail(&self, files: &[FileRow]) -> ThumbnailRef {
        match files.iter().find(|f| f.role == "thumbnail") {
            Some(file) => ThumbnailRef {
                url: self.file_url(&file.key).to_string(),
                width: file.width.unwrap_or(320),
                height: file.height.unwrap_or(180),
            },
            None => ThumbnailRef {
                url: self.url(PLACEHOLDER_THUMBNAIL_PATH).to_string(),
                width: 320,
                height: 180,
            },
        }
    }

    /// The document of local video `video` with its `files`, in PeerTube's shape.
    pub(crate) fn video_document(&self, video: &VideoRow, files: &[FileRow]) -> Result<Value> {
        self.video_document_with_mirrors(video, files, &[])
    }

    /// The document of local video `video` with its `files` and the `mirrors` of its HLS
    /// stream other servers announced (in the playlist's `tag`).
    pub(crate) fn video_document_with_mirrors(
        &self,
        video: &VideoRow,
        files: &[FileRow],
        mirrors: &[Iri],
    ) -> Result<Value> {
        let id = iri(&Url::parse(&video.id)?)?;
        let collection = |name: &str| Iri::parse(format!("{}/{name}", video.id));
        let collections = VideoCollections::new(
            collection("likes")?,
            collection("dislikes")?,
            collection("announces")?,
            collection("comments")?,
        );
        let account_followers = Iri::parse(format!("{}/followers", video.account))?;
        let mut new = NewVideo::new(
            id.clone(),
            video.uuid.clone(),
            video.name.clone(),
            u64::try_from(video.duration).unwrap_or(0),
            timestamp(video.published)?,
            id,
            Iri::parse(video.account.clone())?,
            Iri::parse(video.channel.clone())?,
            collections,
        )
        .with_updated(timestamp(video.updated)?)
        .with_audience(vec![Iri::parse(PUBLIC)?], vec![account_followers])
        .with_views(u64::try_from(video.views).unwrap_or(0))
        .with_comments_policy(comments_policy(video.comments_policy))
        .with_download_enabled(video.download_enabled)
        .with_state(VideoState::from_number(
            u64::try_from(video.state).unwrap_or(1),
        ));
        if !video.description.is_empty() {
            new = new.with_content(video.description.clone());
        }
        if video.sensitive {
            new = new.sensitive(None);
        }
        if let Some(category) = label(CATEGORIES, video.category) {
            new = new.with_category(category);
        }
        if let Some(licence) = label(LICENCES, video.licence) {
            new = new.with_licence(licence);
        }
        if let Some(language) = &video.language {
            new = new.with_language(Label::new(language.clone(), None));
        }
        for tag in &video.tags {
            new = new.with_tag(tag.clone());
        }
        for file in files {
            let href = iri(&self.file_url(&file.key))?;
            match file.role.as_str() {
                "thumbnail" => {
                    new = new.with_thumbnail(Thumbnail::new(
                        href,
                        file.media_type.clone(),
                        u64::try_from(file.width.unwrap_or(0)).unwrap_or(0),
                        u64::try_from(file.height.unwrap_or(0)).unwrap_or(0),
                    ));
                }
                "original" | "rendition" => new = new.with_file(video_file(href, file)),
                _ => {}
            }
        }
        // The HLS playlist, once processing made it: its rendition's file and the segments'
        // hashes in its `tag`.
        if let Some(master) = files.iter().find(|f| f.role == "hls") {
            let mut hls = HlsPlaylist::new(iri(&self.file_url(&master.key))?);
            if let Some(hashes) = files.iter().find(|f| f.role == "hls-sha256") {
                hls = hls.with_segments_sha256_url(iri(&self.file_url(&hashes.key))?);
            }
            for file in files.iter().filter(|f| f.role == "hls-file") {
                hls = hls.with_file(video_file(iri(&self.file_url(&file.key))?, file));
            }
            for mirror in mirrors {
                hls = hls.with_mirror(mirror.clone());
            }
            new = new.with_hls(hls);
        }
        if !files.iter().any(|f| f.role == "thumbnail") {
            // PeerTube refuses a video without an icon: until one is made, the placeholder.
            new = new.with_thumbnail(Thumbnail::new(
                iri(&self.url(PLACEHOLDER_THUMBNAIL_PATH))?,
                "image/png",
                320,
                180,
            ));
        }
        let built = new.build().map_err(|e| anyhow!("writing the video: {e}"))?;
        serde_json::to_value(&built).context("writing the video")
    }

    /// Stores and publishes a new local video: its row, its files' rows and its document,
    /// then `Create` by the account (to the public, its followers in `cc`) and `Announce` by
    /// the channel (to the public and the channel's followers).
    pub(crate) async fn publish_new_video(
        &self,
        video: &VideoRow,
        files: &[FileRow],
    ) -> Result<()> {
        let document = self.video_document(video, files)?;
        let db = self.db();
        db.state().put_object(&document, true).await?;
        for file in files {
            db.put_file(file).await?;
        }
        // With its search change: every process's index reads it.
        db.put_video(video).await?;
        let account = self
            .state()
            .local_name(&video.account)
            .ok_or_else(|| anyhow!("the video's account is not local"))?;
        let channel = self
            .state()
            .local_name(&video.channel)
            .ok_or_else(|| anyhow!("the video's channel is not local"))?;
        let create = json!({
            "@context": activitypub_core::ext::peertube::context::video().0,
            "id": format!("{}/activity", video.id),
            "type": "Create",
            "actor": video.account,
            "object": document,
            "to": [PUBLIC],
            "cc": [format!("{}/followers", video.account)],
        });
        self.publish(&account, create).await?;
        let announce = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/announces/{}", video.id, uuid::Uuid::new_v4()),
            "type": "Announce",
            "actor": video.channel,
            "object": video.id,
            "to": [PUBLIC, format!("{}/followers", video.channel)],
            "cc": [],
        });
        self.publish(&channel, announce).await?;
        // The instance actor shares it with the instances that follow this one, as PeerTube's
        // does: their catalogues and search then have it.
        let shared = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/announces/{}", video.id, uuid::Uuid::new_v4()),
            "type": "Announce",
            "actor": self.instance_actor().as_str(),
            "object": video.id,
            "to": [PUBLIC, format!("{}/followers", self.instance_actor())],
            "cc": [],
        });
        self.publish(INSTANCE_ACTOR, shared).await?;
        Ok(())
    }
}

impl Instance {
    /// Deletes local video `uuid`, if one of `identities` owns it: its document becomes a
    /// `Tombstone`, its rows and files go, and the account sends `Delete` to everyone the video
    /// reached. `false` when there is no such video of theirs.
    pub(crate) async fn delete_local_video(
        &self,
        uuid: &str,
        identities: &[String],
    ) -> Result<bool> {
        let id = self.video_id(uuid);
        let Some(video) = self.db().video(id.as_str()).await? else {
            return Ok(false);
        };
        let Some(account) = self.state().local_name(&video.account) else {
            return Ok(false);
        };
        if !video.local || !identities.contains(&account) {
            return Ok(false);
        }
        let files = self.db().delete_video(&video.id).await?;
        self.playlists_holding_changed(&video.id).await?;
        self.state().tombstone(&video.id).await?;
        let delete = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/delete", video.id),
            "type": "Delete",
            "actor": video.account,
            "object": video.id,
            "to": [
                PUBLIC,
                format!("{}/followers", video.account),
                format!("{}/followers", video.channel),
                format!("{}/followers", self.instance_actor()),
            ],
            "cc": [],
        });
        self.publish(&account, delete).await?;
        for file in files {
            if let Ok(key) = media_store::Key::new(file.key) {
                // A file left behind is only space: the video is gone either way.
                if let Err(error) = self.media().remove(&key).await {
                    tracing::warn!(%error, "removing a deleted video's file");
                }
            }
        }
        Ok(true)
    }
}

impl Instance {
    /// A local video's `likes`, `dislikes`, `announces` (its `shares`) or `comments`
    /// collection at `url`, as `requester` may see it: an `OrderedCollection` with its total
    /// and the newest 100 items (the activities' or comments' ids), as PeerTube serves them.
    /// `None` when `url` is no such collection.
    pub(crate) async fn video_collection(
        &self,
        url: &Url,
        requester: Option<&str>,
    ) -> Result<Option<federation::routes::ObjectState>> {
        let Some(rest) = url.path().strip_prefix("/videos/watch/") else {
            return Ok(None);
        };
        let Some((uuid, kind)) = rest.split_once('/') else {
            return Ok(None);
        };
        if !matches!(kind, "likes" | "dislikes" | "announces" | "comments") {
            return Ok(None);
        }
        let id = self.video_id(uuid);
        let scope = match requester {
            Some(actor) => self.state().scope_of(actor).await?,
            None => instance_state::objects::Scope::anonymous(),
        };
        if self
            .state()
            .visible_object(id.as_str(), &scope)
            .await?
            .is_none()
        {
            return Ok(Some(federation::routes::ObjectState::NotFound));
        }
        let pool = self.state().pool();
        let items: Vec<String> = match kind {
            "likes" | "dislikes" => {
                let rate = kind.trim_end_matches('s');
                sqlx::query(
                    "SELECT activity FROM vi_rates WHERE video = $1 AND rate = $2
                     ORDER BY activity DESC LIMIT 100",
                )
                .bind(id.to_string())
                .bind(rate.to_owned())
                .fetch_all(pool)
                .await?
                .iter()
                .filter_map(|row| sqlx::Row::try_get(row, "activity").ok())
                .collect()
            }
            "comments" => self
                .comments(id.as_str(), &scope, false)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect(),
            _ => Vec::new(),
        };
        let total = match kind {
            "likes" | "dislikes" => {
                let rate = kind.trim_end_matches('s').to_owned();
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM vi_rates WHERE video = $1 AND rate = $2",
                )
                .bind(id.to_string())
                .bind(rate)
                .fetch_one(pool)
                .await?;
                sqlx::Row::try_get::<i64, _>(&row, "n")?
            }
            _ => i64::try_from(items.len()).unwrap_or(i64::MAX),
        };
        let document = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": url.as_str(),
            "type": "OrderedCollection",
            "totalItems": total,
            "orderedItems": items,
        });
        Ok(Some(federation::routes::ObjectState::Found {
            document,
            html: None,
        }))
    }
}
