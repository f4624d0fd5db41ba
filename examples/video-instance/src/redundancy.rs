//! Redundancy, PeerTube's word for mirroring: this instance keeps and serves copies of the
//! videos of the instances it follows (all of an instance's, or chosen ones), announces each
//! copy to the video's origin with a `Create(CacheFile)` from the instance actor (renewed with
//! `Update` before it lapses, taken back with `Undo`), and, as an origin, lists the copies other
//! servers announce of its own videos in their documents and on their watch pages.
//!
//! As PeerTube 7 does, a mirror copies a video's HLS stream: the master playlist, its media
//! playlists, the fragmented MP4 files they name and the segments' SHA-256 JSON, fetched within
//! bounds (each file's size as the video's document declares it, refused before fetching when
//! over the instance's limit, checked while fetching; a time limit for the whole copy; the
//! fetcher's redirect and address rules), every segment checked against the origin's SHA-256,
//! and stored under a fresh directory (`redundancy/hls/{attempt}/`, served at
//! `/static/redundancy/hls/{attempt}/`) only once all of it is checked. A failure stores
//! nothing and is recorded for the administrator. See `docs/video-instance.md`.
//!
//! The jobs are `vi_mirrors` rows (waiting, running, done, failed), run one at a time by each
//! serving process, each held by one process under a renewed lease ([`crate::lease`]; a
//! mirror's claim is its `attempt`), resumed after a stop or a crash (after the lease, when the
//! process died). A timer in every serving process renews the announced copies at half their
//! lifetime, picks up the new videos of the mirrored instances (the administration commands
//! run in another process) and drops the received copies that lapsed; each of its steps is
//! taken by one process (an update that names what it saw), so several processes do each once.

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use activitypub_core::ext::peertube::{
    CacheFileSummary, CacheFileUrl, NewCacheFile, VideoSummary, context,
};
use activitypub_core::{AnyObject, Iri, Timestamp};
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use federation::fetch::{FetchBudget, Fetcher};
use instance_server::INSTANCE_ACTOR;
use media_store::{Key, Limits, MediaStore, Staged};
use serde_json::{Value, json};
use sqlx::Row as _;
use tokio::sync::Notify;
use tracing::{debug, info, warn};
use url::Url;

use crate::app::{Inner, Instance};
use crate::db::{FileRow, insert_file};
use crate::ffmpeg;
use crate::lease::{self, Claim, Held, Statements};
use crate::processing::HLS_MEDIA_TYPE;
use instance_server::WithParts as _;

/// The roles of a mirror's files (`vi_files.role`): the master playlist, the media playlists,
/// the fragmented MP4 files and the segments' SHA-256 JSON.
pub(crate) const MIRROR_ROLES: [&str; 4] = [
    "mirror-hls",
    "mirror-playlist",
    "mirror-file",
    "mirror-sha256",
];

/// The largest playlist or hash list fetched (a media playlist lists a line or two per
/// segment; an hour of 4-second segments is well under this).
const MAX_TEXT_BYTES: u64 = 1 << 20;

/// The most requests (redirects included) one copy makes.
const MAX_REQUESTS: usize = 64;

/// The leases of mirrors: the claim's token is its `attempt`.
static MIRROR_LEASES: Statements = Statements {
    what: "a mirror",
    renew: "UPDATE vi_mirrors SET lease_until = $3
            WHERE video = $1 AND attempt = $2 AND state = 'running'",
    release: "UPDATE vi_mirrors SET state = 'waiting', lease_until = NULL
              WHERE video = $1 AND attempt = $2 AND state = 'running'",
};

/// The redundancy of an instance: the job runner's wake-up, its mirrors' lease and its claim,
/// and the handles of the runner and the timer, stopped when the instance is dropped (the
/// claim handed back).
pub(crate) struct Redundancy {
    wake: Arc<Notify>,
    lease: Duration,
    held: Held,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Redundancy {
    /// Mirrors each held under a lease of `lease`.
    pub(crate) fn new(lease: Duration) -> Self {
        Self {
            wake: Arc::default(),
            lease: lease.max(lease::MIN_LEASE),
            held: Held::default(),
            tasks: Mutex::default(),
        }
    }

    /// Stops the runner and the timer and hands the mirror being made back.
    pub(crate) async fn stop(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
        self.held.release().await;
    }
}

impl std::fmt::Debug for Redundancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redundancy").finish_non_exhaustive()
    }
}

impl Drop for Redundancy {
    fn drop(&mut self) {
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
        self.held.release_in_background();
    }
}

/// A mirror made here, as the administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct MirrorStatus {
    /// The video mirrored (its id).
    pub video: String,
    /// waiting, running, done, failed or stopped.
    pub state: String,
    /// Why it failed.
    pub error: Option<String>,
    /// The CacheFile announcing it, once done.
    pub cache_file: Option<String>,
    /// When the announced copy lapses (Unix seconds), once done.
    pub expires: Option<i64>,
    /// The bytes of the copy's files kept here (0 until it is done).
    pub size: i64,
}

/// A copy of a local video another server announced, as the moderators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceivedCopy {
    /// The CacheFile's id.
    pub(crate) id: String,
    /// The local video copied.
    pub(crate) video: String,
    /// The actor that announced it.
    pub(crate) actor: String,
    /// The copy (its directory, or a file).
    pub(crate) href: String,
    /// When it lapses (Unix seconds); `None`: until withdrawn.
    pub(crate) expires: Option<i64>,
    /// When its `Undo` came.
    pub(crate) withdrawn: Option<i64>,
    /// When a moderator hid it.
    pub(crate) hidden: Option<i64>,
    /// Whether its server (or actor) is blocked here.
    pub(crate) blocked: bool,
}

/// A copy of a local video on another server, announced by a `CacheFile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownCopy {
    pub(crate) id: String,
    pub(crate) actor: String,
    pub(crate) href: String,
    pub(crate) media_type: String,
}

impl Instance {
    fn redundancy(&self) -> &Redundancy {
        &self.0.redundancy
    }

    fn now_unix(&self) -> i64 {
        self.state().options().clock.now() / 1_000_000
    }

    /// Mirrors every video of the followed instance whose actor is `actor`, now and as they
    /// come; gives how many of its videos are queued now.
    pub async fn mirror_instance(&self, actor: &Url) -> Result<usize> {
        let iri = Iri::parse(actor.as_str())?;
        if !self
            .state()
            .is_followed_source(&iri, Some(INSTANCE_ACTOR))
            .await?
        {
            bail!("this instance does not follow {actor}: follow it first (follow-instance)");
        }
        sqlx::query(
            "INSERT INTO vi_mirror_sources (instance, created) VALUES ($1, $2)
             ON CONFLICT (instance) DO NOTHING",
        )
        .bind(actor.to_string())
        .bind(self.now_unix())
        .execute(self.db().pool())
        .await?;
        self.enqueue_source_videos().await
    }

    /// Mirrors one remote video (its id or uuid); gives its id.
    pub async fn mirror_video(&self, video: &str) -> Result<String> {
        let row = self.remote_video(video).await?;
        if row.is_live {
            bail!("{} is a live: there is no file to mirror", row.id);
        }
        self.enqueue_mirror(&row.id, true).await?;
        Ok(row.id)
    }

    /// Stops mirroring a video (its id or uuid): its files go, and the origin is told with
    /// `Undo` when the copy was announced. `false` when it was not mirrored.
    pub async fn stop_mirror(&self, video: &str) -> Result<bool> {
        let row = self.remote_video(video).await?;
        self.forget_mirror(&row.id).await
    }

    /// Stops mirroring the instance whose actor is `actor`: its videos' mirrors stop too.
    /// Gives how many mirrors stopped.
    pub async fn stop_mirror_instance(&self, actor: &Url) -> Result<usize> {
        sqlx::query("DELETE FROM vi_mirror_sources WHERE instance = $1")
            .bind(actor.to_string())
            .execute(self.db().pool())
            .await?;
        let iri = Iri::parse(actor.as_str())?;
        let mut stopped = 0;
        for mirror in self.mirrors().await? {
            if let Ok(video) = Iri::parse(mirror.video.clone())
                && activitypub_core::origin::same_origin(&video, &iri)
                && self.forget_mirror(&mirror.video).await?
            {
                stopped += 1;
            }
        }
        Ok(stopped)
    }

    /// The mirrors made here, oldest first.
    pub async fn mirrors(&self) -> Result<Vec<MirrorStatus>> {
        let rows = sqlx::query(
            "SELECT m.video, m.state, m.error, m.cache_file, m.expires,
               CAST(COALESCE((SELECT SUM(f.size) FROM vi_files f WHERE f.video = m.video
                 AND f.role IN ('mirror-hls', 'mirror-playlist', 'mirror-file', 'mirror-sha256')),
                 0) AS BIGINT) AS size
             FROM vi_mirrors m ORDER BY m.created, m.video",
        )
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MirrorStatus {
                    video: row.try_get("video")?,
                    state: row.try_get("state")?,
                    error: row.try_get("error")?,
                    cache_file: row.try_get("cache_file")?,
                    expires: row.try_get("expires")?,
                    size: row.try_get("size")?,
                })
            })
            .collect()
    }

    /// The copies of local videos other servers announced (withdrawn ones too, for a day),
    /// newest first, at most `limit`.
    pub(crate) async fn received_copies(&self, limit: i64) -> Result<Vec<ReceivedCopy>> {
        let rows = sqlx::query(
            "SELECT id, video, actor, href, expires, withdrawn, hidden FROM vi_cache_files
             ORDER BY received DESC, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.db().pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let actor: String = row.try_get("actor")?;
            out.push(ReceivedCopy {
                id: row.try_get("id")?,
                video: row.try_get("video")?,
                blocked: self.state().is_blocked(None, &actor).await?,
                actor,
                href: row.try_get("href")?,
                expires: row.try_get("expires")?,
                withdrawn: row.try_get("withdrawn")?,
                hidden: row.try_get("hidden")?,
            });
        }
        Ok(out)
    }

    /// Hides (`hide`) or shows again the copy announced by CacheFile `id`: the video's
    /// document, page and REST details list it no more, or again. `false` when there is no
    /// such copy, or it already was so.
    pub(crate) async fn set_copy_hidden(&self, id: &str, hide: bool) -> Result<bool> {
        let Some(video) = sqlx::query("SELECT video FROM vi_cache_files WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(self.db().pool())
            .await?
            .map(|r| r.try_get::<String, _>("video"))
            .transpose()?
        else {
            return Ok(false);
        };
        let changed = if hide {
            sqlx::query("UPDATE vi_cache_files SET hidden = $2 WHERE id = $1 AND hidden IS NULL")
                .bind(id.to_owned())
                .bind(self.now_unix())
                .execute(self.db().pool())
                .await?
        } else {
            sqlx::query(
                "UPDATE vi_cache_files SET hidden = NULL WHERE id = $1 AND hidden IS NOT NULL",
            )
            .bind(id.to_owned())
            .execute(self.db().pool())
            .await?
        }
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        self.refresh_local_document(&video).await?;
        Ok(true)
    }

    /// The remote video `video` names (an id, or a uuid).
    async fn remote_video(&self, video: &str) -> Result<crate::db::VideoRow> {
        let row = match self.db().video(video).await? {
            Some(row) => Some(row),
            None => self.db().video_by_uuid(video).await?,
        };
        match row {
            Some(row) if !row.local => Ok(row),
            Some(row) => bail!("{} is a video of this instance: nothing to mirror", row.id),
            None => bail!("there is no video {video:?} here"),
        }
    }

    /// Queues a mirror of remote video `video`; `retry`: a failed one waits again.
    async fn enqueue_mirror(&self, video: &str, retry: bool) -> Result<()> {
        let now = self.now_unix();
        sqlx::query(
            "INSERT INTO vi_mirrors (video, state, error, attempt, cache_file, expires, created,
             updated) VALUES ($1, 'waiting', NULL, $2, NULL, NULL, $3, $3)
             ON CONFLICT (video) DO NOTHING",
        )
        .bind(video.to_owned())
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(now)
        .execute(self.db().pool())
        .await?;
        if retry {
            sqlx::query(
                "UPDATE vi_mirrors SET state = 'waiting', error = NULL, updated = $2
                 WHERE video = $1 AND state IN ('failed', 'stopped')",
            )
            .bind(video.to_owned())
            .bind(now)
            .execute(self.db().pool())
            .await?;
        }
        self.redundancy().wake.notify_one();
        Ok(())
    }

    /// Queues the videos of the mirrored instances that have no mirror yet; gives how many.
    async fn enqueue_source_videos(&self) -> Result<usize> {
        let sources: Vec<String> = sqlx::query("SELECT instance FROM vi_mirror_sources")
            .fetch_all(self.db().pool())
            .await?
            .iter()
            .map(|r| r.try_get("instance"))
            .collect::<Result<_, _>>()?;
        if sources.is_empty() {
            return Ok(0);
        }
        let candidates = sqlx::query(
            "SELECT id FROM vi_videos WHERE local = 0 AND is_live = 0
             AND id NOT IN (SELECT video FROM vi_mirrors)",
        )
        .fetch_all(self.db().pool())
        .await?;
        let mut queued = 0;
        for row in candidates {
            let id: String = row.try_get("id")?;
            let Ok(video) = Iri::parse(id.clone()) else {
                continue;
            };
            let mirrored = sources.iter().any(|source| {
                Iri::parse(source.clone())
                    .is_ok_and(|s| activitypub_core::origin::same_origin(&video, &s))
            });
            if mirrored {
                self.enqueue_mirror(&id, false).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// A remote video was stored: mirrored when its instance is.
    pub(crate) async fn remote_video_stored(&self) {
        if let Err(error) = self.enqueue_source_videos().await {
            warn!(%error, "queueing the mirrors of a new video");
        }
    }

    /// Forgets the mirror of `video`: its rows and files go, and the origin gets `Undo` when
    /// the copy was announced. `false` when there was none.
    pub(crate) async fn forget_mirror(&self, video: &str) -> Result<bool> {
        let mut tx = self.state().begin_write().await?;
        let row = sqlx::query(
            "SELECT cache_file, expires FROM vi_mirrors WHERE video = $1 AND state <> 'stopped'",
        )
        .bind(video.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(false);
        };
        let cache_file: Option<String> = row.try_get("cache_file")?;
        let expires: Option<i64> = row.try_get("expires")?;
        // The row stays, stopped, so that the video of a mirrored instance is not mirrored
        // again by the timer (mirror-video starts it again).
        sqlx::query(
            "UPDATE vi_mirrors SET state = 'stopped', error = NULL, cache_file = NULL,
             expires = NULL, updated = $2 WHERE video = $1",
        )
        .bind(video.to_owned())
        .bind(self.now_unix())
        .execute(&mut *tx)
        .await?;
        let mut keys = Vec::new();
        for role in MIRROR_ROLES {
            let found = sqlx::query("SELECT key FROM vi_files WHERE video = $1 AND role = $2")
                .bind(video.to_owned())
                .bind(role.to_owned())
                .fetch_all(&mut *tx)
                .await?;
            for r in found {
                keys.push(r.try_get::<String, _>("key")?);
            }
            sqlx::query("DELETE FROM vi_files WHERE video = $1 AND role = $2")
                .bind(video.to_owned())
                .bind(role.to_owned())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if let Some(cache_file) = cache_file {
            let object = self.cache_file_object(video, &cache_file, expires).await?;
            let create = self.create_cache_file(&cache_file, object)?;
            let undo = json!({
                "@context": context::cache_file().0,
                "type": "Undo",
                "id": format!("{cache_file}/undo"),
                "actor": self.instance_actor().as_str(),
                "object": create,
                "to": create.get("to").cloned().unwrap_or(Value::Null),
                "cc": [],
            });
            // In the order of the copy's Create and Updates (a renewal still queued must not
            // reach the origin after the Undo).
            self.publish_ordered(undo, &cache_file).await?;
        }
        self.remove_keys(&keys).await;
        info!(video, "mirror stopped");
        Ok(true)
    }

    /// Publishes `activity` from the instance actor, delivered in order with the other
    /// activities about CacheFile `cache_file`.
    async fn publish_ordered(&self, activity: Value, cache_file: &str) -> Result<()> {
        self.state()
            .publish(self.outbox(), INSTANCE_ACTOR, activity, Some(cache_file))
            .await
            .map_err(|e| anyhow!("publishing as the instance actor: {e}"))?;
        Ok(())
    }

    async fn remove_keys(&self, keys: &[String]) {
        for key in keys {
            if let Ok(key) = Key::new(key.clone())
                && let Err(error) = self.media().remove(&key).await
            {
                warn!(%error, key = key.as_str(), "removing a mirrored file");
            }
        }
    }

    /// The `CacheFile` announcing this instance's copy `cache_file` of `video`, lapsing at
    /// `expires`: PeerTube's shape (`url` the directory of the copy), addressed to the video's
    /// account.
    async fn cache_file_object(
        &self,
        video: &str,
        cache_file: &str,
        expires: Option<i64>,
    ) -> Result<Value> {
        let account = self
            .db()
            .video(video)
            .await?
            .map(|v| v.account)
            .ok_or_else(|| anyhow!("the video {video} is not listed here"))?;
        let base = cache_file
            .rsplit('/')
            .next()
            .map(|attempt| self.file_url(&format!("redundancy/hls/{attempt}")))
            .ok_or_else(|| anyhow!("a CacheFile id without its attempt"))?;
        let expires = expires
            .map(|unix| {
                time::OffsetDateTime::from_unix_timestamp(unix)
                    .map(Timestamp::new)
                    .context("an expiry out of range")
            })
            .transpose()?;
        let new = NewCacheFile::new(
            Iri::parse(cache_file.to_owned())?,
            Iri::parse(video.to_owned())?,
            CacheFileUrl::Playlist(Iri::parse(base.to_string())?),
            expires,
            vec![Iri::parse(account)?],
        );
        let built = new
            .build()
            .map_err(|e| anyhow!("writing a CacheFile: {e}"))?;
        serde_json::to_value(&built).context("writing a CacheFile")
    }

    /// The CacheFile at `url`, when it is one of this instance's announced copies (PeerTube
    /// serves them at their ids too).
    pub(crate) async fn cache_file_document(&self, url: &Url) -> Result<Option<Value>> {
        if !url
            .path()
            .starts_with("/redundancy/streaming-playlists/hls/")
        {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT video, expires FROM vi_mirrors WHERE cache_file = $1 AND state = 'done'",
        )
        .bind(url.to_string())
        .fetch_optional(self.db().pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let video: String = row.try_get("video")?;
        let expires: Option<i64> = row.try_get("expires")?;
        Ok(Some(
            self.cache_file_object(&video, url.as_str(), expires)
                .await?,
        ))
    }

    /// `Create` of `object` (a CacheFile) by the instance actor, as PeerTube builds it (its id
    /// the CacheFile's with `/activity`, the same audience).
    fn create_cache_file(&self, cache_file: &str, object: Value) -> Result<Value> {
        let to = object.get("to").cloned().unwrap_or_else(|| json!([]));
        Ok(json!({
            "@context": context::cache_file().0,
            "type": "Create",
            "id": format!("{cache_file}/activity"),
            "actor": self.instance_actor().as_str(),
            "object": object,
            "to": to,
            "cc": [],
        }))
    }

    /// The id of the CacheFile of attempt `attempt` (PeerTube:
    /// `/redundancy/streaming-playlists/hls/{uuid}`; the attempt names the copy here).
    fn cache_file_id(&self, attempt: &str) -> Url {
        self.url(&format!("redundancy/streaming-playlists/hls/{attempt}"))
    }

    /// Starts the runner and the timer (a serving instance). Nothing is reset: other
    /// processes may be making mirrors on the same database; the mirrors a stop handed back
    /// wait, and those of a process that died are taken once their lease lapsed.
    pub(crate) async fn start_redundancy(&self) -> Result<()> {
        let weak = Arc::downgrade(&self.0);
        let poll = lease::poll_interval(self.redundancy().lease);
        let runner = tokio::spawn(run_mirrors(
            weak.clone(),
            self.redundancy().wake.clone(),
            poll,
        ));
        let timer = tokio::spawn(run_timer(weak, self.0.options.mirror_check_interval));
        let mut tasks = self
            .redundancy()
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        tasks.push(runner.abort_handle());
        tasks.push(timer.abort_handle());
        Ok(())
    }

    /// One tick of the timer: the new videos of mirrored instances queued, the copies
    /// announced here renewed at half their lifetime, the received copies that lapsed dropped.
    async fn tick(&self) -> Result<()> {
        self.enqueue_source_videos().await?;
        let now = self.now_unix();
        let lifetime = i64::try_from(self.0.options.mirror_lifetime.as_secs()).unwrap_or(i64::MAX);
        let due = sqlx::query(
            "SELECT video, cache_file FROM vi_mirrors WHERE state = 'done' AND expires < $1",
        )
        .bind(now.saturating_add(lifetime / 2))
        .fetch_all(self.db().pool())
        .await?;
        for row in due {
            let video: String = row.try_get("video")?;
            let cache_file: String = row.try_get("cache_file")?;
            let expires = now.saturating_add(lifetime);
            // Only while the mirror is still this one (a stop may have come meanwhile) and
            // still due (another process's timer may have renewed it meanwhile).
            let renewed = sqlx::query(
                "UPDATE vi_mirrors SET expires = $2, updated = $3
                 WHERE video = $1 AND cache_file = $4 AND state = 'done' AND expires < $5",
            )
            .bind(video.clone())
            .bind(expires)
            .bind(now)
            .bind(cache_file.clone())
            .bind(now.saturating_add(lifetime / 2))
            .execute(self.db().pool())
            .await?
            .rows_affected();
            if renewed == 0 {
                continue;
            }
            let object = self
                .cache_file_object(&video, &cache_file, Some(expires))
                .await?;
            let to = object.get("to").cloned().unwrap_or_else(|| json!([]));
            let update = json!({
                "@context": context::cache_file().0,
                "type": "Update",
                "id": format!("{cache_file}/updates/{now}"),
                "actor": self.instance_actor().as_str(),
                "object": object,
                "to": to,
                "cc": [],
            });
            self.publish_ordered(update, &cache_file).await?;
            info!(video, expires, "mirror renewed");
        }
        let lapsed: Vec<String> = sqlx::query(
            "SELECT DISTINCT video FROM vi_cache_files
             WHERE expires IS NOT NULL AND expires <= $1 AND withdrawn IS NULL",
        )
        .bind(now)
        .fetch_all(self.db().pool())
        .await?
        .iter()
        .map(|r| r.try_get("video"))
        .collect::<Result<_, _>>()?;
        sqlx::query("DELETE FROM vi_cache_files WHERE withdrawn < $1")
            .bind(now.saturating_sub(24 * 60 * 60))
            .execute(self.db().pool())
            .await?;
        for video in lapsed {
            // The process whose deletion takes them tells the followers (once).
            let dropped = sqlx::query(
                "DELETE FROM vi_cache_files WHERE video = $1 AND expires IS NOT NULL
                 AND expires <= $2 AND withdrawn IS NULL",
            )
            .bind(video.clone())
            .bind(now)
            .execute(self.db().pool())
            .await?
            .rows_affected();
            if dropped > 0 {
                self.refresh_local_document(&video).await?;
            }
        }
        Ok(())
    }

    /// Takes the oldest mirror that is waiting, or running with a lapsed lease (its process
    /// died), marking it running with a fresh attempt (the claim); the files an interrupted
    /// attempt may have left go. The update names the attempt it saw: two processes never
    /// both take one.
    async fn claim_mirror(&self) -> Result<Option<Claim>> {
        loop {
            let now = lease::now_millis(self.db());
            let Some(row) = sqlx::query(
                "SELECT video, attempt FROM vi_mirrors
                 WHERE state = 'waiting'
                    OR (state = 'running' AND (lease_until IS NULL OR lease_until < $1))
                 ORDER BY created, video LIMIT 1",
            )
            .bind(now)
            .fetch_optional(self.db().pool())
            .await?
            else {
                return Ok(None);
            };
            let video: String = row.try_get("video")?;
            let old: String = row.try_get("attempt")?;
            let attempt = uuid::Uuid::new_v4().to_string();
            let taken = sqlx::query(
                "UPDATE vi_mirrors SET state = 'running', attempt = $3, error = NULL, updated = $4,
                   lease_until = $5
                 WHERE video = $1 AND attempt = $2 AND (state = 'waiting'
                    OR (state = 'running' AND (lease_until IS NULL OR lease_until < $6)))",
            )
            .bind(video.clone())
            .bind(old.clone())
            .bind(attempt.clone())
            .bind(self.now_unix())
            .bind(lease::lease_until(self.db(), self.redundancy().lease))
            .bind(now)
            .execute(self.db().pool())
            .await?
            .rows_affected();
            if taken == 1 {
                self.remove_attempt_dir(&old).await;
                return Ok(Some(Claim::new(
                    self.db().clone(),
                    &MIRROR_LEASES,
                    video,
                    attempt,
                    self.redundancy().lease,
                )));
            }
        }
    }

    /// Removes what an attempt committed to the media store and never recorded (a crash
    /// between the two): its whole directory.
    async fn remove_attempt_dir(&self, attempt: &str) {
        let Ok(probe) = Key::new(format!("redundancy/hls/{attempt}/x")) else {
            return;
        };
        let Some(dir) = self.media().path_of(&probe).parent().map(PathBuf::from) else {
            return;
        };
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => info!(attempt, "files of an interrupted mirror removed"),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => warn!(%error, attempt, "removing an interrupted mirror's files"),
        }
    }

    /// What the copy of `video` needs, read from its stored document.
    async fn prepare_mirror(&self, video: &str, attempt: &str) -> Result<Option<MirrorWork>> {
        let Some(stored) = self.state().object(video).await? else {
            return Ok(None);
        };
        let object = AnyObject::from_value(stored.document)
            .map_err(|e| anyhow!("reading the stored video: {e}"))?;
        let AnyObject::Video(document) = object else {
            bail!("the stored document is not a Video");
        };
        let summary =
            VideoSummary::read(&document).map_err(|e| anyhow!("reading the stored video: {e}"))?;
        let hls = summary.hls.into_iter().next().ok_or_else(|| {
            anyhow!(
                "the video has no HLS playlist: only HLS streams are mirrored, as PeerTube 7 does"
            )
        })?;
        let sha256 = hls.segments_sha256_url.clone().ok_or_else(|| {
            anyhow!("the video's HLS playlist has no segments-sha256 link: its segments cannot be checked")
        })?;
        let mut sizes = BTreeMap::new();
        for file in &hls.files {
            let url = Url::parse(file.href.as_str())?;
            sizes.insert(url, file.size);
        }
        let total: u64 = sizes.values().fold(0, |a, b| a.saturating_add(*b));
        let limit = self.0.options.max_mirror_bytes;
        if total > limit {
            bail!(
                "the video's files declare {total} bytes, over this instance's mirroring limit of {limit} bytes; nothing was fetched"
            );
        }
        let kept = mirrors_bytes(self.db().pool()).await?;
        check_cache(kept, total, self.0.options.mirror_cache_bytes, "declare")?;
        Ok(Some(MirrorWork {
            video: video.to_owned(),
            attempt: attempt.to_owned(),
            master: Url::parse(hls.href.as_str())?,
            sha256: Url::parse(sha256.as_str())?,
            sizes,
            fetcher: self.fetcher().clone(),
            media: self.media().clone(),
            time_limit: self.0.options.mirror_time_limit,
        }))
    }

    /// Records a finished copy (its files, the mirror done with its CacheFile and expiry) and
    /// announces it. When the mirror was stopped or the video deleted meanwhile, the files go.
    async fn finish_mirror(&self, work: &MirrorWork, mut rows: Vec<FileRow>) -> Result<()> {
        let now = self.now_unix();
        let lifetime = i64::try_from(self.0.options.mirror_lifetime.as_secs()).unwrap_or(i64::MAX);
        let expires = now.saturating_add(lifetime);
        let cache_file = self.cache_file_id(&work.attempt).to_string();
        for row in &mut rows {
            row.video = work.video.clone();
        }
        let mut tx = self.state().begin_write().await?;
        // The video's row first, then the mirror's: the order a deletion of the video takes
        // them in, so that the two wait for each other instead of deadlocking.
        let video = sqlx::query("UPDATE vi_videos SET updated = updated WHERE id = $1")
            .bind(work.video.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let mirror = sqlx::query(
            "UPDATE vi_mirrors SET state = 'done', cache_file = $3, expires = $4, updated = $5,
               lease_until = NULL
             WHERE video = $1 AND attempt = $2 AND state = 'running'",
        )
        .bind(work.video.clone())
        .bind(work.attempt.clone())
        .bind(cache_file.clone())
        .bind(expires)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if mirror == 0 || video == 0 {
            tx.rollback().await?;
            let keys: Vec<String> = rows.into_iter().map(|r| r.key).collect();
            self.remove_keys(&keys).await;
            bail!("the mirror was stopped or the video deleted while it was copied");
        }
        // The cache's bound, again with what other processes may have kept meanwhile.
        let size: u64 = rows
            .iter()
            .map(|r| u64::try_from(r.size).unwrap_or(0))
            .fold(0, u64::saturating_add);
        let kept = mirrors_bytes(&mut *tx).await?;
        if let Err(error) = check_cache(kept, size, self.0.options.mirror_cache_bytes, "take") {
            tx.rollback().await?;
            let keys: Vec<String> = rows.into_iter().map(|r| r.key).collect();
            self.remove_keys(&keys).await;
            return Err(error);
        }
        for row in &rows {
            insert_file(row).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let object = self
            .cache_file_object(&work.video, &cache_file, Some(expires))
            .await?;
        let create = self.create_cache_file(&cache_file, object)?;
        self.publish_ordered(create, &cache_file).await?;
        Ok(())
    }

    async fn fail_mirror(&self, video: &str, attempt: &str, error: &anyhow::Error) {
        let message = format!("{error:#}");
        warn!(video, error = message, "a mirror failed");
        if let Err(error) = sqlx::query(
            "UPDATE vi_mirrors SET state = 'failed', error = $3, updated = $4, lease_until = NULL
             WHERE video = $1 AND attempt = $2 AND state = 'running'",
        )
        .bind(video.to_owned())
        .bind(attempt.to_owned())
        .bind(message)
        .bind(self.now_unix())
        .execute(self.db().pool())
        .await
        {
            warn!(%error, video, "recording a mirror's failure");
        }
    }

    // The origin's side.

    /// A `CacheFile` received (in a `Create` or an `Update`) from `actor`: a copy of one of
    /// this instance's videos, kept until it lapses.
    pub(crate) async fn receive_cache_file(
        &self,
        cache_file: &activitypub_core::ext::peertube::CacheFile,
        actor: &Iri,
        update: bool,
    ) -> Result<()> {
        let summary = match CacheFileSummary::read(cache_file) {
            Ok(summary) => summary,
            Err(error) => {
                info!(%actor, %error, "a CacheFile refused");
                return Ok(());
            }
        };
        if let Err(refusal) = summary.check_announcer(actor) {
            info!(%actor, %refusal, "a CacheFile refused");
            return Ok(());
        }
        let Some(video) = self.db().video(summary.video.as_str()).await? else {
            debug!(video = %summary.video, "a CacheFile of a video not listed here");
            return Ok(());
        };
        if !video.local {
            debug!(video = %summary.video, "a CacheFile of another server's video");
            return Ok(());
        }
        let existing =
            sqlx::query("SELECT actor, withdrawn, hidden FROM vi_cache_files WHERE id = $1")
                .bind(summary.id.to_string())
                .fetch_optional(self.db().pool())
                .await?;
        let mut hidden: Option<i64> = None;
        if let Some(row) = existing {
            hidden = row.try_get("hidden")?;
            let by: String = row.try_get("actor")?;
            if by != actor.as_str() {
                info!(%actor, id = %summary.id, "a CacheFile of another actor's copy; refused");
                return Ok(());
            }
            let withdrawn: Option<i64> = row.try_get("withdrawn")?;
            if update && withdrawn.is_some() {
                debug!(id = %summary.id, "an Update of a copy withdrawn already; ignored");
                return Ok(());
            }
        }
        let files = self.db().files(&video.id).await?;
        let (media_type, height) = match &summary.url {
            CacheFileUrl::Playlist(_) => {
                if !files.iter().any(|f| f.role == "hls") {
                    info!(video = %video.id, "a CacheFile of an HLS stream this video does not have; refused");
                    return Ok(());
                }
                ("application/x-mpegURL".to_owned(), None)
            }
            CacheFileUrl::File(file) => {
                let height = i64::try_from(file.height).unwrap_or(i64::MAX);
                // PeerTube matches the resolution and the whole frames per second.
                let fps = file.fps.map(|f| i64::try_from(f).unwrap_or(i64::MAX));
                let matches = files.iter().any(|f| {
                    let whole = f.fps_milli.map(|m| (m + 500) / 1000);
                    matches!(f.role.as_str(), "original" | "rendition" | "hls-file")
                        && f.height == Some(height)
                        && (fps.is_none() || whole.is_none() || whole == fps)
                });
                if !matches {
                    info!(video = %video.id, height, "a CacheFile of a file this video does not have; refused");
                    return Ok(());
                }
                (file.media_type.clone(), Some(height))
            }
            _ => {
                info!(video = %video.id, "a CacheFile of an unknown kind of copy; refused");
                return Ok(());
            }
        };
        let now = self.now_unix();
        let expires = summary.expires.as_ref().map(|t| t.time().unix_timestamp());
        if expires.is_some_and(|e| e <= now) {
            debug!(id = %summary.id, "a CacheFile that lapsed already");
            sqlx::query("DELETE FROM vi_cache_files WHERE id = $1")
                .bind(summary.id.to_string())
                .execute(self.db().pool())
                .await?;
            return self.refresh_local_document(&video.id).await;
        }
        let mut tx = self.state().begin_write().await?;
        sqlx::query("DELETE FROM vi_cache_files WHERE id = $1")
            .bind(summary.id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO vi_cache_files (id, video, actor, href, media_type, height, expires,
             received, withdrawn, hidden) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9)",
        )
        .bind(summary.id.to_string())
        .bind(video.id.clone())
        .bind(actor.to_string())
        .bind(summary.url.href().to_string())
        .bind(media_type)
        .bind(height)
        .bind(expires)
        .bind(now)
        // A copy a moderator hid stays hidden when it is renewed.
        .bind(hidden)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        info!(video = %video.id, copy = %summary.url.href(), "a copy of a local video announced");
        self.refresh_local_document(&video.id).await
    }

    /// An `Undo` of a `Create(CacheFile)` from `actor` (the `Undo`'s JSON): the copy is
    /// forgotten when `actor` announced it.
    pub(crate) async fn undo_cache_file(&self, undo: &Value, actor: &Iri) -> Result<()> {
        let Some(create) = undo.get("object") else {
            return Ok(());
        };
        if create.get("type").and_then(Value::as_str) != Some("Create") {
            return Ok(());
        }
        let id = match create.get("object") {
            Some(Value::String(id)) => id.clone(),
            Some(object) => match object.get("id").and_then(Value::as_str) {
                Some(id) => id.to_owned(),
                None => return Ok(()),
            },
            None => return Ok(()),
        };
        let row = sqlx::query("SELECT video, actor FROM vi_cache_files WHERE id = $1")
            .bind(id.clone())
            .fetch_optional(self.db().pool())
            .await?;
        let Some(row) = row else {
            return Ok(());
        };
        let by: String = row.try_get("actor")?;
        if by != actor.as_str() {
            info!(%actor, id, "an Undo of another actor's CacheFile; refused");
            return Ok(());
        }
        let video: String = row.try_get("video")?;
        sqlx::query("UPDATE vi_cache_files SET withdrawn = $2 WHERE id = $1")
            .bind(id.clone())
            .bind(self.now_unix())
            .execute(self.db().pool())
            .await?;
        info!(video, id, "a copy of a local video withdrawn");
        self.refresh_local_document(&video).await
    }

    /// The copies of local video `video` other servers announced that have not lapsed, from
    /// servers not blocked here.
    pub(crate) async fn known_copies(&self, video: &str) -> Result<Vec<KnownCopy>> {
        let rows = sqlx::query(
            "SELECT id, actor, href, media_type FROM vi_cache_files
             WHERE video = $1 AND withdrawn IS NULL AND hidden IS NULL
               AND (expires IS NULL OR expires > $2)
             ORDER BY received, id",
        )
        .bind(video.to_owned())
        .bind(self.now_unix())
        .fetch_all(self.db().pool())
        .await?;
        let mut out = Vec::new();
        for row in rows {
            let copy = KnownCopy {
                id: row.try_get("id")?,
                actor: row.try_get("actor")?,
                href: row.try_get("href")?,
                media_type: row.try_get("media_type")?,
            };
            if self.state().is_blocked(None, &copy.actor).await? {
                continue;
            }
            out.push(copy);
        }
        Ok(out)
    }

    /// The master playlists of the HLS copies of local video `video` (the copy's directory
    /// with this instance's master playlist's name, as PeerTube's player joins them).
    pub(crate) async fn hls_mirrors(&self, video: &str, files: &[FileRow]) -> Result<Vec<Iri>> {
        let Some(master) = files.iter().find(|f| f.role == "hls") else {
            return Ok(Vec::new());
        };
        let name = master.key.rsplit('/').next().unwrap_or(ffmpeg::MASTER);
        Ok(self
            .known_copies(video)
            .await?
            .into_iter()
            .filter(|c| c.media_type == "application/x-mpegURL")
            .filter_map(|c| Iri::parse(format!("{}/{name}", c.href.trim_end_matches('/'))).ok())
            .collect())
    }

    /// Stores the document of local video `video` again, with the copies known now (no
    /// `Update` is sent: the copies reach the followers with the next one, as PeerTube's
    /// documents never carry them).
    pub(crate) async fn refresh_local_document(&self, video: &str) -> Result<()> {
        let Some(row) = self.db().video(video).await? else {
            return Ok(());
        };
        if !row.local {
            return Ok(());
        }
        let files = self.db().files(&row.id).await?;
        let mirrors = self.hls_mirrors(&row.id, &files).await?;
        let document = self.video_document_with_mirrors(&row, &files, &mirrors)?;
        self.state().put_object(&document, true).await?;
        Ok(())
    }
}

/// One copy's work, holding no instance (so that the instance can stop meanwhile).
struct MirrorWork {
    video: String,
    attempt: String,
    master: Url,
    sha256: Url,
    /// The fragmented MP4 files the document declares, with their sizes.
    sizes: BTreeMap<Url, u64>,
    fetcher: Fetcher,
    media: MediaStore,
    time_limit: Duration,
}

/// A file fetched and checked, not yet stored.
struct Fetched {
    name: String,
    role: &'static str,
    media_type: &'static str,
    staged: Staged,
}

impl MirrorWork {
    /// Fetches and checks the whole copy, then stores it; gives the rows of its files. On an
    /// error nothing of it is left in the media store.
    async fn run(&self) -> Result<Vec<FileRow>> {
        let mut budget = FetchBudget::default()
            .with_time_limit(self.time_limit)
            .with_max_requests(MAX_REQUESTS);
        let fetched = match tokio::time::timeout(self.time_limit, self.fetch_all(&mut budget)).await
        {
            Ok(outcome) => outcome?,
            Err(_) => bail!(
                "copying took longer than its limit of {} s",
                self.time_limit.as_secs()
            ),
        };
        let mut rows = Vec::new();
        let mut stored: Vec<Key> = Vec::new();
        let outcome = async {
            for file in fetched {
                let key = Key::new(format!("redundancy/hls/{}/{}", self.attempt, file.name))?;
                let metadata = file.staged.commit(&key).await?;
                stored.push(key.clone());
                rows.push(FileRow {
                    video: self.video.clone(),
                    key: key.as_str().to_owned(),
                    role: file.role.to_owned(),
                    media_type: file.media_type.to_owned(),
                    size: i64::try_from(metadata.size).unwrap_or(i64::MAX),
                    sha256: metadata.sha256.to_hex(),
                    width: None,
                    height: None,
                    fps_milli: None,
                });
            }
            Ok::<_, anyhow::Error>(())
        }
        .await;
        if let Err(error) = outcome {
            for key in &stored {
                let _ = self.media.remove(key).await;
            }
            return Err(error);
        }
        Ok(rows)
    }

    /// Fetches the master playlist, its media playlists, the segments' hashes and the files,
    /// checking each file's size and every segment's SHA-256; everything staged (nothing
    /// stored yet).
    async fn fetch_all(&self, budget: &mut FetchBudget) -> Result<Vec<Fetched>> {
        let mut out = Vec::new();
        let master_text = self.fetch_text(&self.master, budget).await?;
        let master_name = file_name(&self.master)?;
        let media_playlists = playlist_uris(&master_text)?;
        if media_playlists.is_empty() {
            bail!(
                "the master playlist {} lists no media playlist",
                self.master
            );
        }
        let hashes_text = self.fetch_text(&self.sha256, budget).await?;
        let hashes: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_slice(&hashes_text).with_context(|| {
                format!(
                    "the segments' SHA-256 at {} is not PeerTube's JSON",
                    self.sha256
                )
            })?;
        out.push(
            self.stage_text(master_name, "mirror-hls", HLS_MEDIA_TYPE, master_text)
                .await?,
        );
        out.push(
            self.stage_text(
                ffmpeg::SEGMENTS_SHA256.to_owned(),
                "mirror-sha256",
                "application/json",
                hashes_text,
            )
            .await?,
        );
        let mut files: BTreeMap<String, Vec<ffmpeg::SegmentRange>> = BTreeMap::new();
        for name in media_playlists {
            let url = self.master.join(&name)?;
            let text = self.fetch_text(&url, budget).await?;
            let playlist = std::str::from_utf8(&text)
                .with_context(|| format!("the media playlist {url} is not text"))?;
            for map in map_uris(playlist) {
                files.entry(checked_name(&map)?).or_default();
            }
            for range in ffmpeg::segment_ranges(playlist)? {
                files
                    .entry(checked_name(&range.uri)?)
                    .or_default()
                    .push(range);
            }
            out.push(
                self.stage_text(name, "mirror-playlist", HLS_MEDIA_TYPE, text)
                    .await?,
            );
        }
        for (name, ranges) in files {
            let url = self.master.join(&name)?;
            let size = *self.sizes.get(&url).ok_or_else(|| {
                anyhow!("{url}, named by a media playlist, is not among the video's files: its size is unknown")
            })?;
            let staged = self.fetch_file(&url, size, budget).await?;
            let expected = hashes.get(&name);
            check_segments(&url, &staged, &ranges, expected).await?;
            out.push(Fetched {
                name,
                role: "mirror-file",
                media_type: "video/mp4",
                staged,
            });
        }
        Ok(out)
    }

    /// Fetches a playlist or the hashes, at most [`MAX_TEXT_BYTES`].
    async fn fetch_text(&self, url: &Url, budget: &mut FetchBudget) -> Result<Bytes> {
        let staged = self.fetch_staged(url, MAX_TEXT_BYTES, budget).await?;
        let bytes = tokio::fs::read(staged.path()).await?;
        Ok(Bytes::from(bytes))
    }

    /// Fetches a file of `size` bytes (as the video declares it): refused when it declares
    /// another length, or brings more or fewer bytes.
    async fn fetch_file(&self, url: &Url, size: u64, budget: &mut FetchBudget) -> Result<Staged> {
        let staged = self.fetch_staged(url, size, budget).await?;
        if staged.size() != size {
            bail!(
                "{url} has {} bytes, but the video declares {size}",
                staged.size()
            );
        }
        Ok(staged)
    }

    async fn fetch_staged(&self, url: &Url, max: u64, budget: &mut FetchBudget) -> Result<Staged> {
        let response = self
            .fetcher
            .fetch_media(url, max, budget)
            .await
            .with_context(|| format!("fetching {url}"))?;
        let declared = response.content_length;
        let limits = Limits::new(max).with_total_time(self.time_limit);
        self.media
            .stage(response.bytes_stream(), declared, &limits)
            .await
            .with_context(|| format!("fetching {url} (at most {max} bytes)"))
    }

    async fn stage_text(
        &self,
        name: String,
        role: &'static str,
        media_type: &'static str,
        text: Bytes,
    ) -> Result<Fetched> {
        let name = checked_name(&name)?;
        let len = text.len() as u64;
        let staged = self
            .media
            .stage(futures_once(text), Some(len), &Limits::new(MAX_TEXT_BYTES))
            .await?;
        Ok(Fetched {
            name,
            role,
            media_type,
            staged,
        })
    }
}

/// The bytes the mirrors' files take (every copy kept here), read on `executor`.
async fn mirrors_bytes<'e, E>(executor: E) -> Result<u64>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM vi_files
         WHERE role IN ('mirror-hls', 'mirror-playlist', 'mirror-file', 'mirror-sha256')",
    )
    .fetch_one(executor)
    .await?;
    Ok(u64::try_from(row.try_get::<i64, _>("bytes")?).unwrap_or(0))
}

/// Refuses a copy of `size` bytes that would not fit in the mirrors' cache of `cache` bytes,
/// `kept` of which the copies already kept take; `verb` says whether the size is what the
/// video's files declare or what the copy's files take.
fn check_cache(kept: u64, size: u64, cache: u64, verb: &str) -> Result<()> {
    if kept.saturating_add(size) > cache {
        bail!(
            "the video's files {verb} {size} bytes, and the mirrors kept here take {kept} of this \
             instance's mirror cache of {cache} bytes; nothing was kept (stop a mirror to make \
             room, then ask for this one again)"
        );
    }
    Ok(())
}

fn futures_once(
    bytes: Bytes,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    futures::stream::once(async move { Ok(bytes) })
}

/// Checks every segment of `ranges` of the staged file against the origin's hashes (`"start-end"`
/// → hex) of that file.
async fn check_segments(
    url: &Url,
    staged: &Staged,
    ranges: &[ffmpeg::SegmentRange],
    expected: Option<&BTreeMap<String, String>>,
) -> Result<()> {
    let Some(expected) = expected else {
        bail!("the segments' SHA-256 list has no entry for {url}: it cannot be checked");
    };
    if ranges.is_empty() {
        bail!("no media playlist gives segments of {url}: it cannot be checked");
    }
    let path = staged.path().to_owned();
    let ranges = ranges.to_vec();
    let expected = expected.clone();
    let url = url.clone();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; 1 << 16];
        for range in &ranges {
            let end = (range.offset + range.length).saturating_sub(1);
            let name = format!("{}-{end}", range.offset);
            let want = expected.get(&name).ok_or_else(|| {
                anyhow!("the segments' SHA-256 list has no hash for bytes {name} of {url}")
            })?;
            file.seek(SeekFrom::Start(range.offset))?;
            let mut context = ring::digest::Context::new(&ring::digest::SHA256);
            let mut left = range.length;
            while left > 0 {
                let n = usize::try_from(left.min(1 << 16)).unwrap_or(1 << 16);
                let chunk = buf.get_mut(..n).unwrap_or_default();
                file.read_exact(chunk)
                    .with_context(|| format!("bytes {name} of {url} are past its end"))?;
                context.update(chunk);
                left -= n as u64;
            }
            let got: String = context
                .finish()
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if !got.eq_ignore_ascii_case(want) {
                bail!(
                    "bytes {name} of {url} have the SHA-256 {got}, but the origin's segments-sha256 says {want}"
                );
            }
        }
        Ok(())
    })
    .await?
}

/// The last segment of `url`'s path, checked as a plain file name.
fn file_name(url: &Url) -> Result<String> {
    let name = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .ok_or_else(|| anyhow!("{url} names no file"))?;
    checked_name(name)
}

/// `name` when it is a plain file name beside the master playlist (no directory, no parent,
/// no query): what PeerTube's and this instance's playlists name.
fn checked_name(name: &str) -> Result<String> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !plain {
        bail!("the playlist names {name:?}, not a file beside it: refused");
    }
    Ok(name.to_owned())
}

/// The media playlists a master playlist lists (its URI lines).
fn playlist_uris(master: &[u8]) -> Result<Vec<String>> {
    let text = std::str::from_utf8(master).context("the master playlist is not text")?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(checked_name)
        .collect()
}

/// The `URI` of each `#EXT-X-MAP` (the initialization section's file).
fn map_uris(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter_map(|l| l.trim().strip_prefix("#EXT-X-MAP:"))
        .filter_map(|attrs| {
            let start = attrs.find("URI=\"")? + 5;
            let rest = attrs.get(start..)?;
            let end = rest.find('"')?;
            rest.get(..end).map(str::to_owned)
        })
        .collect()
}

/// The runner: one copy at a time for as long as the instance lives, looking for work when
/// woken and every `poll` (mirrors queued by another process, or left by one that died),
/// holding the instance only between fetches.
async fn run_mirrors(weak: Weak<Inner>, wake: Arc<Notify>, poll: Duration) {
    loop {
        let Some(instance) = weak.upgrade().map(Instance) else {
            return;
        };
        let claim = match instance.claim_mirror().await {
            Ok(Some(claim)) => claim,
            Ok(None) => {
                drop(instance);
                let _ = tokio::time::timeout(poll, wake.notified()).await;
                continue;
            }
            Err(error) => {
                warn!(%error, "taking a mirror job");
                drop(instance);
                let _ = tokio::time::timeout(Duration::from_secs(10), wake.notified()).await;
                continue;
            }
        };
        let held = instance.redundancy().held.clone();
        held.set(Some(claim.clone()));
        let (video, attempt) = (claim.video.clone(), claim.token.clone());
        let work = match instance.prepare_mirror(&video, &attempt).await {
            Ok(Some(work)) => work,
            Ok(None) => {
                let _ = instance.forget_mirror(&video).await;
                held.set(None);
                continue;
            }
            Err(error) => {
                instance.fail_mirror(&video, &attempt, &error).await;
                held.set(None);
                continue;
            }
        };
        drop(instance);
        info!(video, master = %work.master, "mirroring a video");
        // Copied while the lease is renewed: if another process took the mirror meanwhile (a
        // new attempt), this one stops, and its files go. Recording it names the attempt: it
        // fails, and the files go, if another process took it since.
        let ran = claim.hold(work.run()).await;
        let Some(instance) = weak.upgrade().map(Instance) else {
            return;
        };
        let outcome = match ran {
            Ok(Ok(rows)) => instance.finish_mirror(&work, rows).await,
            Ok(Err(error)) => Err(error),
            Err(lost) => {
                warn!(error = %lost, "mirroring stopped");
                instance.remove_attempt_dir(&attempt).await;
                held.set(None);
                continue;
            }
        };
        match outcome {
            Ok(()) => info!(video, "video mirrored"),
            Err(error) => instance.fail_mirror(&video, &attempt, &error).await,
        }
        held.set(None);
    }
}

/// The timer: a tick every `interval` for as long as the instance lives.
async fn run_timer(weak: Weak<Inner>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(instance) = weak.upgrade().map(Instance) else {
            return;
        };
        if let Err(error) = instance.tick().await {
            warn!(%error, "the redundancy timer");
        }
        instance.redundancy().wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn playlists_name_plain_files_only() {
        let master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720.m3u8\n";
        assert_eq!(playlist_uris(master).unwrap(), ["720.m3u8"]);
        for bad in [
            "../secret",
            "/etc/passwd",
            "https://elsewhere/x.mp4",
            "a/b.mp4",
            "",
        ] {
            assert!(checked_name(bad).is_err(), "{bad:?}");
        }
        let media = "#EXTM3U\n#EXT-X-MAP:URI=\"720-fragmented.mp4\",BYTERANGE=\"800@0\"\n";
        assert_eq!(map_uris(media), ["720-fragmented.mp4"]);
    }
}
