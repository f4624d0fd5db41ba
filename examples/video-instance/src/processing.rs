//! Processing of local videos: after an upload, a job makes a thumbnail and an HLS rendition
//! with ffmpeg ([`crate::ffmpeg`]) in the background; the video is published at once and its
//! original file served meanwhile (PeerTube's `waitTranscoding: false`), and when the job is
//! done the video's document gains the HLS playlist and the thumbnail and an `Update` goes to
//! everyone it reached.
//!
//! Jobs are rows (`vi_jobs`: waiting, running with a percentage, done, failed with the
//! reason), so a restart resumes what a crash or a stop interrupted. Each serving process runs
//! one job at a time, within a time limit; several processes on one database share the jobs,
//! each held by one process under a renewed lease ([`crate::lease`]): a clean stop hands its
//! job back, a process that dies keeps it until the lease lapses, and then another takes it.
//! ffmpeg is killed when the job is dropped (the limit, the lease lost, or the instance
//! stopping). A failed job leaves nothing of its own behind: the video keeps its original file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use maud::{Markup, html};
use media_store::{Key, Limits};
use sqlx::Row as _;
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use crate::Transcoding;
use crate::app::{Inner, Instance};
use crate::db::{Db, FileRow};
use crate::ffmpeg::{self, Ffmpeg, RenditionNames};
use crate::lease::{self, Claim, Held, LeaseLost, Statements};
use instance_server::WithParts as _;

/// The roles of the files a job makes (`vi_files.role`).
pub(crate) const MADE_ROLES: [&str; 5] =
    ["thumbnail", "hls", "hls-playlist", "hls-file", "hls-sha256"];

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobState {
    /// Waiting for its turn.
    Waiting,
    /// ffmpeg is at work: percent done.
    Running(u8),
    /// The thumbnail and the HLS rendition are stored and published.
    Done,
    /// It failed, for this reason; the original is served.
    Failed(String),
}

/// A video's processing job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) video: String,
    pub(crate) state: JobState,
    duration: Duration,
}

/// The leases of processing jobs: `lease` is the claim's token.
static JOB_LEASES: Statements = Statements {
    what: "a processing job",
    renew: "UPDATE vi_jobs SET lease_until = $3 WHERE video = $1 AND lease = $2 AND state = 'running'",
    release: "UPDATE vi_jobs SET state = 'waiting', progress = 0, lease = NULL, lease_until = NULL
              WHERE video = $1 AND lease = $2 AND state = 'running'",
};

/// The processing of an instance: its ffmpeg (none: processing is off), its time limit, its
/// jobs' lease, and the runner's wake-up and claim. Dropped with the instance, it stops the
/// runner (and so kills ffmpeg) and hands its job back.
pub(crate) struct Processing {
    ffmpeg: Option<PathBuf>,
    time_limit: Duration,
    lease: Duration,
    wake: Arc<Notify>,
    runner: Mutex<Option<tokio::task::AbortHandle>>,
    held: Held,
}

impl std::fmt::Debug for Processing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processing")
            .field("ffmpeg", &self.ffmpeg)
            .field("time_limit", &self.time_limit)
            .finish_non_exhaustive()
    }
}

impl Drop for Processing {
    fn drop(&mut self) {
        if let Some(runner) = self
            .runner
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            runner.abort();
        }
        self.held.release_in_background();
    }
}

impl Processing {
    /// Processing with `ffmpeg` (none: off) within `time_limit` per video, each job held
    /// under a lease of `lease`.
    pub(crate) fn new(ffmpeg: Option<PathBuf>, time_limit: Duration, lease: Duration) -> Self {
        Self {
            ffmpeg,
            time_limit,
            lease: lease.max(lease::MIN_LEASE),
            wake: Arc::new(Notify::new()),
            runner: Mutex::new(None),
            held: Held::default(),
        }
    }

    /// Stops the runner (ffmpeg with it) and hands its job back, for another process or the
    /// next start to take at once.
    pub(crate) async fn stop(&self) {
        if let Some(runner) = self
            .runner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            runner.abort();
        }
        self.held.release().await;
    }

    /// Whether videos are processed here.
    pub(crate) fn enabled(&self) -> bool {
        self.ffmpeg.is_some()
    }
}

/// The ffmpeg that `transcoding` names, as an absolute path (ffmpeg runs in a work
/// directory): `Auto` finds `ffmpeg` on `PATH`, else Debian's `/usr/bin/ffmpeg`, else none;
/// an explicit bare name is looked up on `PATH`, and must be an executable file.
pub(crate) fn resolve_ffmpeg(transcoding: &Transcoding) -> Result<Option<PathBuf>> {
    let on_path = |name: &Path| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|candidate| is_executable(candidate))
        })
    };
    match transcoding {
        Transcoding::Off => Ok(None),
        Transcoding::Ffmpeg(path) => {
            let bare = path.components().count() == 1 && !path.has_root();
            let found = if bare {
                on_path(path)
            } else {
                std::fs::canonicalize(path)
                    .ok()
                    .filter(|p| is_executable(p))
            };
            let found = found.ok_or_else(|| {
                anyhow!(
                    "the ffmpeg given ({}) is not an executable file (or turn transcoding off)",
                    path.display()
                )
            })?;
            Ok(Some(found))
        }
        Transcoding::Auto => Ok(on_path(Path::new("ffmpeg")).or_else(|| {
            let debian = PathBuf::from("/usr/bin/ffmpeg");
            is_executable(&debian).then_some(debian)
        })),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn state_of(row: &sqlx::any::AnyRow) -> Result<JobState> {
    let state: String = row.try_get("state")?;
    Ok(match state.as_str() {
        "waiting" => JobState::Waiting,
        "running" => JobState::Running(u8::try_from(
            row.try_get::<i64, _>("progress")?.clamp(0, 100),
        )?),
        "done" => JobState::Done,
        _ => JobState::Failed(
            row.try_get::<Option<String>, _>("error")?
                .unwrap_or_default(),
        ),
    })
}

impl Instance {
    fn processing(&self) -> &Processing {
        &self.0.processing
    }

    fn now_secs(&self) -> i64 {
        self.state().options().clock.now() / 1_000_000
    }

    /// Queues local video `video` (`duration` long, as probed) for processing, when videos
    /// are processed here.
    pub(crate) async fn enqueue_processing(
        &self,
        video: &str,
        duration: Option<Duration>,
    ) -> Result<()> {
        if !self.processing().enabled() {
            return Ok(());
        }
        let now = self.now_secs();
        let duration_ms = duration.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
        sqlx::query(
            "INSERT INTO vi_jobs (video, state, progress, error, duration_ms, created, updated)
             VALUES ($1, 'waiting', 0, NULL, $2, $3, $3)
             ON CONFLICT (video) DO NOTHING",
        )
        .bind(video.to_owned())
        .bind(duration_ms)
        .bind(now)
        .execute(self.state().pool())
        .await
        .context("queueing a video's processing")?;
        self.processing().wake.notify_one();
        Ok(())
    }

    /// Processes local video `video` (its id or uuid) again after its processing failed (an
    /// ffmpeg missing a codec then installed, a time limit since raised): its job waits again
    /// and a serving process takes it. Gives the video's id. Refused for a remote video, one
    /// without a failed job, or when videos are not processed here.
    pub async fn reprocess(&self, video: &str) -> Result<String> {
        let row = match self.db().video(video).await? {
            Some(row) => Some(row),
            None => self.db().video_by_uuid(video).await?,
        };
        let row = match row {
            Some(row) if row.local => row,
            Some(row) => bail!("{} is a remote video: its origin processes it", row.id),
            None => bail!("there is no video {video:?} here"),
        };
        if !self.processing().enabled() {
            bail!("videos are not processed here (no ffmpeg, or --no-transcoding)");
        }
        let waiting = sqlx::query(
            "UPDATE vi_jobs SET state = 'waiting', progress = 0, error = NULL, updated = $2,
               lease = NULL, lease_until = NULL
             WHERE video = $1 AND state = 'failed'",
        )
        .bind(row.id.clone())
        .bind(self.now_secs())
        .execute(self.state().pool())
        .await
        .context("queueing a video's processing again")?
        .rows_affected();
        if waiting == 0 {
            bail!("{} has no failed processing to run again", row.id);
        }
        self.processing().wake.notify_one();
        Ok(row.id)
    }

    /// The processing job of video `video`, if it has one.
    pub(crate) async fn processing_job(&self, video: &str) -> Result<Option<Job>> {
        let row = sqlx::query(
            "SELECT video, state, progress, error, duration_ms FROM vi_jobs WHERE video = $1",
        )
        .bind(video.to_owned())
        .fetch_optional(self.state().pool())
        .await?;
        row.map(|row| {
            Ok(Job {
                video: row.try_get("video")?,
                state: state_of(&row)?,
                duration: Duration::from_millis(
                    u64::try_from(row.try_get::<i64, _>("duration_ms")?).unwrap_or(0),
                ),
            })
        })
        .transpose()
    }

    /// Starts the runner (a serving instance that processes videos): jobs run one at a time,
    /// oldest first, those waiting and those whose process died (their lease lapsed). Nothing
    /// is reset here: other processes may be running jobs on the same database.
    pub(crate) async fn start_processing(&self) -> Result<()> {
        if !self.processing().enabled() {
            return Ok(());
        }
        let weak = Arc::downgrade(&self.0);
        let wake = self.processing().wake.clone();
        let poll = lease::poll_interval(self.processing().lease);
        let task = tokio::spawn(run_jobs(weak, wake, poll));
        *self
            .processing()
            .runner
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(task.abort_handle());
        Ok(())
    }

    /// Takes the oldest job that is waiting, or running with a lapsed lease.
    async fn claim_job(&self) -> Result<Option<(Job, Claim)>> {
        claim_next(self.db(), self.processing().lease).await
    }

    /// Records how `job` ended, if `claim` still holds it.
    async fn end_job(&self, job: &Job, claim: &Claim, state: &JobState) -> Result<()> {
        let (name, error) = match state {
            JobState::Done => ("done", None),
            JobState::Failed(error) => ("failed", Some(error.clone())),
            JobState::Waiting | JobState::Running(_) => return Ok(()),
        };
        let ended = sqlx::query(
            "UPDATE vi_jobs SET state = $2, progress = $3, error = $4, updated = $5,
               lease = NULL, lease_until = NULL
             WHERE video = $1 AND lease = $6 AND state = 'running'",
        )
        .bind(job.video.clone())
        .bind(name.to_owned())
        .bind(if name == "done" { 100_i64 } else { 0 })
        .bind(error)
        .bind(self.now_secs())
        .bind(claim.token.clone())
        .execute(self.state().pool())
        .await?
        .rows_affected();
        if ended == 0 {
            warn!(
                video = job.video,
                "a processing job ended after another process took it over"
            );
        }
        Ok(())
    }

    /// What a job needs to run without holding the instance: a failure here (the video or
    /// its original gone) ends the job before ffmpeg starts.
    async fn prepare(&self, job: &Job, claim: &Claim) -> Result<Prepared> {
        let Some(video) = self.db().video(&job.video).await? else {
            // Deleted meanwhile: nothing to do.
            sqlx::query("DELETE FROM vi_jobs WHERE video = $1")
                .bind(job.video.clone())
                .execute(self.state().pool())
                .await?;
            return Ok(Prepared::Gone);
        };
        let files = self.db().files(&video.id).await?;
        if MADE_ROLES
            .iter()
            .all(|role| files.iter().any(|f| f.role == *role))
        {
            // An earlier claim stored everything, and its process died before it recorded the
            // end: what is left is to publish it (again, at worst) and say so.
            return Ok(Prepared::Stored);
        }
        let original = files
            .iter()
            .find(|f| f.role == "original")
            .ok_or_else(|| anyhow!("the video has no original file"))?;
        let input = self.media().path_of(&Key::new(original.key.clone())?);
        if !tokio::fs::try_exists(&input).await.unwrap_or(false) {
            bail!("the original file is missing from the media store");
        }
        let source_height = original
            .height
            .and_then(|h| u32::try_from(h).ok())
            .ok_or_else(|| anyhow!("the original file has no known height"))?;
        // What earlier claims of this job left (their process died, or lost the job).
        remove_dir(&self.work_dir(&video.uuid, None)).await;
        let dir = self.work_dir(&video.uuid, Some(&claim.token));
        tokio::fs::create_dir_all(&dir)
            .await
            .with_context(|| format!("making the work directory {}", dir.display()))?;
        Ok(Prepared::Work(Box::new(Work {
            video: video.id,
            uuid: video.uuid,
            input,
            dir,
            height: ffmpeg::rendition_height(source_height),
            duration: job.duration,
            ffmpeg: Ffmpeg::new(
                self.processing()
                    .ffmpeg
                    .clone()
                    .ok_or_else(|| anyhow!("processing is off"))?,
            ),
            time_limit: self.processing().time_limit,
            db: self.db().clone(),
            claim: claim.clone(),
        })))
    }

    /// Where a job for video `uuid` has ffmpeg write (`claim`: the claim's own directory,
    /// else the video's, which holds every claim's): beside the media store's own
    /// directories, removed when the job ends.
    fn work_dir(&self, uuid: &str, claim: Option<&str>) -> PathBuf {
        let dir = self.media_dir().join("processing").join(uuid);
        match claim {
            Some(claim) => dir.join(claim),
            None => dir,
        }
    }

    /// Stores what `work` made (files, then their rows), rewrites the video's document and
    /// sends the `Update`. On an error, what was stored of it is removed.
    async fn store_made(&self, work: &Work) -> Result<()> {
        let names = RenditionNames::new(work.height);
        // What the rendition is, from its bytes.
        let rendition = work.dir.join(&names.file);
        let probe_path = rendition.clone();
        let probed = tokio::task::spawn_blocking(move || {
            let mut file = std::fs::File::open(&probe_path)?;
            let len = file.metadata()?.len();
            Ok::<_, std::io::Error>(media_probe::probe(&mut file, len))
        })
        .await?
        .context("reading the rendition")?
        .context("probing the rendition")?;
        let picture = probed
            .video()
            .ok_or_else(|| anyhow!("the rendition has no video track"))?;
        let (width, height) = (i64::from(picture.width), i64::from(picture.height));
        let fps_milli = picture
            .frame_rate
            .map(|rate| i64::from(rate.num) * 1000 / i64::from(rate.den.max(1)));
        // PeerTube's segments-sha256 JSON, from the media playlist's byte ranges.
        let playlist = tokio::fs::read_to_string(work.dir.join(&names.playlist)).await?;
        let ranges = ffmpeg::segment_ranges(&playlist)?;
        if ranges.is_empty() {
            bail!("the media playlist has no byte-range segments");
        }
        let dir = work.dir.clone();
        let hashes =
            tokio::task::spawn_blocking(move || ffmpeg::segments_sha256(&dir, &ranges)).await??;
        tokio::fs::write(
            work.dir.join(ffmpeg::SEGMENTS_SHA256),
            serde_json::to_vec(&hashes)?,
        )
        .await?;

        // The rows of the files made, each file named in the work directory as the last
        // segment of its key; their sizes and hashes come as they are stored.
        let prefix = format!("videos/{}", work.uuid);
        let row = |key: String, role: &str, media_type: &str| FileRow {
            video: work.video.clone(),
            key,
            role: role.to_owned(),
            media_type: media_type.to_owned(),
            size: 0,
            sha256: String::new(),
            width: None,
            height: None,
            fps_milli: None,
        };
        let mut rows = vec![
            FileRow {
                width: Some(i64::from(ffmpeg::THUMBNAIL_WIDTH)),
                height: Some(i64::from(ffmpeg::THUMBNAIL_HEIGHT)),
                ..row(
                    format!("{prefix}/{}", ffmpeg::THUMBNAIL),
                    "thumbnail",
                    "image/jpeg",
                )
            },
            FileRow {
                width: Some(width),
                height: Some(height),
                fps_milli,
                ..row(
                    format!("{prefix}/hls/{}", names.file),
                    "hls-file",
                    "video/mp4",
                )
            },
            row(
                format!("{prefix}/hls/{}", names.playlist),
                "hls-playlist",
                HLS_MEDIA_TYPE,
            ),
            row(
                format!("{prefix}/hls/{}", ffmpeg::SEGMENTS_SHA256),
                "hls-sha256",
                "application/json",
            ),
            // The master last: once it is there, the rest is.
            row(
                format!("{prefix}/hls/{}", ffmpeg::MASTER),
                "hls",
                HLS_MEDIA_TYPE,
            ),
        ];
        // Copied and hashed first, beside the store; then committed into it while the
        // video is held, with their rows. A deletion waits for that step and then sees every
        // file, or it came first and the staged copies are dropped: no file is left that no
        // row names. (A crash within the step leaves the job to run again: same keys.)
        let mut staged = Vec::new();
        for row in &mut rows {
            let name = row.key.rsplit('/').next().unwrap_or_default();
            let file = self
                .media()
                .stage_file(&work.dir.join(name), &Limits::new(u64::MAX))
                .await
                .with_context(|| format!("copying {name}"))?;
            row.size = i64::try_from(file.size()).unwrap_or(i64::MAX);
            row.sha256 = file.sha256().to_hex();
            staged.push((Key::new(row.key.clone())?, file));
        }
        let Some(mut held) = self.db().hold_video(&work.video).await? else {
            bail!("the video was deleted while it was processed");
        };
        // The job's row too, while the claim is still this one (renewing it): until this
        // commits, no other process can take the job, and once it did, this one stores
        // nothing. The files' keys are the same for every claim of a job, so only the
        // claim that holds the row may put files under them.
        if !work.claim.renew_in(held.transaction()).await? {
            return Err(work.claim.lost().into());
        }
        let mut stored = Vec::new();
        let outcome = async {
            for (key, file) in staged {
                file.commit(&key)
                    .await
                    .with_context(|| format!("storing {}", key.as_str()))?;
                stored.push(key);
            }
            held.insert_files(&rows).await?;
            held.commit().await
        }
        .await;
        if let Err(error) = outcome {
            self.remove_made(&work.video, &stored).await;
            return Err(error);
        }
        Ok(())
    }

    /// Removes the files a job stored (a failed job leaves nothing behind; its rows went in
    /// with the held video's transaction, or not at all).
    async fn remove_made(&self, video: &str, keys: &[Key]) {
        for key in keys {
            if let Err(error) = self.media().remove(key).await {
                warn!(%error, video, key = key.as_str(), "removing a file of a failed processing");
            }
        }
    }

    /// The video is processed: its `updated` moves, its document gains the HLS playlist and
    /// the thumbnail, and the `Update` goes out.
    async fn publish_processed(&self, video: &str) -> Result<()> {
        let Some(mut row) = self.db().video(video).await? else {
            return Ok(());
        };
        row.updated = self.now_secs().max(row.updated);
        self.db().put_video(&row).await?;
        self.publish_video_update(&row).await
    }
}

/// Takes the oldest job that is waiting, or running with a lapsed lease (its process
/// died), marking it running under a new claim. The update takes it only if it is still
/// so when it runs (on PostgreSQL, after any other process's update of the row committed):
/// two processes never both take one.
pub(crate) async fn claim_next(db: &Db, lease: Duration) -> Result<Option<(Job, Claim)>> {
    loop {
        let now = lease::now_millis(db);
        let Some(row) = sqlx::query(
            "SELECT video, duration_ms, state FROM vi_jobs
             WHERE state = 'waiting'
                OR (state = 'running' AND (lease_until IS NULL OR lease_until < $1))
             ORDER BY created, video LIMIT 1",
        )
        .bind(now)
        .fetch_optional(db.pool())
        .await?
        else {
            return Ok(None);
        };
        let video: String = row.try_get("video")?;
        let token = uuid::Uuid::new_v4().to_string();
        let taken = sqlx::query(
            "UPDATE vi_jobs SET state = 'running', progress = 0, updated = $2, lease = $3,
               lease_until = $4
             WHERE video = $1 AND (state = 'waiting'
                OR (state = 'running' AND (lease_until IS NULL OR lease_until < $5)))",
        )
        .bind(video.clone())
        .bind(db.now_secs())
        .bind(token.clone())
        .bind(lease::lease_until(db, lease))
        .bind(now)
        .execute(db.pool())
        .await?
        .rows_affected();
        if taken == 1 {
            let state: String = row.try_get("state")?;
            if state == "running" {
                info!(
                    video,
                    "a processing job whose process stopped answering is taken over"
                );
            }
            let duration_ms: i64 = row.try_get("duration_ms")?;
            let claim = Claim::new(db.clone(), &JOB_LEASES, video.clone(), token, lease);
            return Ok(Some((
                Job {
                    video,
                    state: JobState::Running(0),
                    duration: Duration::from_millis(u64::try_from(duration_ms).unwrap_or(0)),
                },
                claim,
            )));
        }
    }
}

/// The media type the playlists are served with (RFC 8216 §4: the registered one; the video's
/// document says `application/x-mpegURL`, as PeerTube writes it).
pub(crate) const HLS_MEDIA_TYPE: &str = "application/vnd.apple.mpegurl";

/// What one job runs with, holding no instance (so that the instance can stop meanwhile).
struct Work {
    video: String,
    uuid: String,
    input: PathBuf,
    dir: PathBuf,
    height: u32,
    duration: Duration,
    ffmpeg: Ffmpeg,
    time_limit: Duration,
    db: Db,
    claim: Claim,
}

/// What a claimed job comes to before ffmpeg runs.
enum Prepared {
    /// The video was deleted: the job is gone with it.
    Gone,
    /// The files were stored by an earlier claim that did not record the end.
    Stored,
    /// ffmpeg's work.
    Work(Box<Work>),
}

impl Work {
    /// Runs ffmpeg (the thumbnail, then the rendition), recording the progress, within the
    /// time limit.
    async fn run(&self) -> Result<()> {
        let (progress, mut seen) = watch::channel(Duration::ZERO);
        let encode = async {
            self.ffmpeg
                .thumbnail(&self.input, &self.dir, self.duration / 2)
                .await
                .context("making the thumbnail")?;
            self.ffmpeg
                .hls(&self.input, &self.dir, self.height, &progress)
                .await
                .context("making the HLS rendition")?;
            drop(progress);
            Ok::<_, anyhow::Error>(())
        };
        let record = async {
            let mut last = 0;
            while seen.changed().await.is_ok() {
                let at = *seen.borrow_and_update();
                let percent = percent(at, self.duration);
                if percent != last {
                    last = percent;
                    if let Err(error) = self.record_progress(percent).await {
                        warn!(%error, video = self.video, "recording a processing's progress");
                    }
                }
            }
        };
        match tokio::time::timeout(self.time_limit, async { tokio::join!(encode, record).0 }).await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(anyhow!(
                "processing took longer than its limit of {} s; ffmpeg was stopped",
                self.time_limit.as_secs()
            )),
        }
    }

    async fn record_progress(&self, percent: u8) -> Result<()> {
        sqlx::query(
            "UPDATE vi_jobs SET progress = $2 WHERE video = $1 AND lease = $3 AND state = 'running'",
        )
        .bind(self.video.clone())
        .bind(i64::from(percent))
        .bind(self.claim.token.clone())
            .execute(self.db.state().pool())
            .await?;
        Ok(())
    }
}

/// Percent done: `at` of `duration`, below 100 until the job is done (0 when the duration is
/// unknown).
fn percent(at: Duration, duration: Duration) -> u8 {
    if duration.is_zero() {
        return 0;
    }
    let percent = at.as_millis().saturating_mul(100) / duration.as_millis().max(1);
    u8::try_from(percent.min(99)).unwrap_or(99)
}

async fn remove_dir(dir: &Path) {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => warn!(%error, dir = %dir.display(), "removing a work directory"),
    }
}

/// The runner: one job at a time for as long as the instance lives, looking for work when
/// woken (a job queued here) and every `poll` (one queued by another process, or left by one
/// that died). It holds the instance only between ffmpeg's runs, so dropping the instance
/// aborts it (and ffmpeg with it).
async fn run_jobs(weak: Weak<Inner>, wake: Arc<Notify>, poll: Duration) {
    loop {
        let Some(instance) = weak.upgrade().map(Instance) else {
            return;
        };
        let (job, claim) = match instance.claim_job().await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => {
                drop(instance);
                let _ = tokio::time::timeout(poll, wake.notified()).await;
                continue;
            }
            Err(error) => {
                warn!(%error, "taking a processing job");
                drop(instance);
                let _ = tokio::time::timeout(Duration::from_secs(10), wake.notified()).await;
                continue;
            }
        };
        let held = instance.processing().held.clone();
        held.set(Some(claim.clone()));
        let work = match instance.prepare(&job, &claim).await {
            Ok(Prepared::Work(work)) => work,
            Ok(Prepared::Gone) => {
                held.set(None);
                continue;
            }
            Ok(Prepared::Stored) => {
                instance.finish_job(&job, &claim).await;
                held.set(None);
                continue;
            }
            Err(error) => {
                fail(&instance, &job, &claim, &error).await;
                held.set(None);
                continue;
            }
        };
        drop(instance);
        info!(
            video = job.video,
            height = work.height,
            "processing a video"
        );
        // ffmpeg, then storing what it made, while the lease is renewed: if another process
        // took the job meanwhile, both stop and nothing of them is recorded.
        let weak_store = weak.clone();
        let outcome = claim
            .hold(async {
                work.run().await?;
                let Some(instance) = weak_store.upgrade().map(Instance) else {
                    bail!("the instance stopped");
                };
                instance.store_made(&work).await
            })
            .await;
        remove_dir(&work.dir).await;
        // The video's directory, when no other claim's is in it.
        if let Some(parent) = work.dir.parent() {
            let _ = tokio::fs::remove_dir(parent).await;
        }
        let Some(instance) = weak.upgrade().map(Instance) else {
            return;
        };
        match outcome {
            Ok(Ok(())) => instance.finish_job(&job, &claim).await,
            Ok(Err(error)) if error.is::<LeaseLost>() => warn!(%error, "processing stopped"),
            Ok(Err(error)) => fail(&instance, &job, &claim, &error).await,
            Err(lost) => warn!(error = %lost, "processing stopped"),
        }
        held.set(None);
    }
}

impl Instance {
    /// The files are stored and served: the video is published, and the job done. A failure
    /// to tell the followers is logged (the next update of the video carries them).
    async fn finish_job(&self, job: &Job, claim: &Claim) {
        if let Err(error) = self.publish_processed(&job.video).await {
            warn!(%error, video = job.video, "publishing a processed video");
        }
        if let Err(error) = self.end_job(job, claim, &JobState::Done).await {
            warn!(%error, video = job.video, "recording a processing's end");
        }
        info!(video = job.video, "video processed");
    }
}

async fn fail(instance: &Instance, job: &Job, claim: &Claim, error: &anyhow::Error) {
    let message = format!("{error:#}");
    warn!(
        video = job.video,
        error = message,
        "a video's processing failed"
    );
    if let Err(error) = instance
        .end_job(job, claim, &JobState::Failed(message.clone()))
        .await
    {
        warn!(%error, video = job.video, "recording a processing's failure");
    }
}

/// What the watch page of local video `video` says of its processing: to everyone, where it
/// stands; to its `owner`, why it failed.
pub(crate) async fn status(instance: &Instance, video: &str, uuid: &str, owner: bool) -> Markup {
    let job = match instance.processing_job(video).await {
        Ok(job) => job,
        Err(error) => {
            warn!(%error, video, "reading a processing job");
            None
        }
    };
    let refresh = html! { " " a href=(format!("/videos/watch/{uuid}")) { "Refresh" } };
    match job.map(|j| j.state) {
        Some(JobState::Done) => html! {
            p.processing data-state="done" {
                "Processed: a thumbnail and an HLS stream were made; the original file is "
                "served too."
            }
        },
        Some(JobState::Failed(error)) => html! {
            p.processing data-state="failed" role=[owner.then_some("alert")] {
                "Processing failed: the original file is served, without a thumbnail or HLS."
                @if owner { " The reason: " span.reason { (error) } }
            }
        },
        _ if !instance.processing().enabled() => html! {
            p.processing data-state="off" {
                "This server does not process videos (no ffmpeg): the original file is "
                "served, without a thumbnail or HLS."
            }
        },
        Some(JobState::Waiting) => html! {
            p.processing data-state="waiting" {
                "Processing: waiting for its turn to get a thumbnail and an HLS stream; the "
                "original file is served meanwhile." (refresh)
            }
        },
        Some(JobState::Running(percent)) => html! {
            p.processing data-state="running" {
                "Processing: " progress max="100" value=(percent) { (percent) " %" }
                " " span.percent { (percent) " % done" }
                " (a thumbnail and an HLS stream); the original file is served meanwhile."
                (refresh)
            }
        },
        None => html! {
            p.processing data-state="none" {
                "This video was not processed: the original file is served."
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ffmpeg_paths_are_resolved_to_absolute_executables() {
        let resolved = |t: Transcoding| resolve_ffmpeg(&t);
        assert_eq!(resolved(Transcoding::Off).ok(), Some(None));
        let sh = resolved(Transcoding::Ffmpeg(PathBuf::from("sh")))
            .ok()
            .flatten();
        assert!(
            sh.is_some_and(|p| p.is_absolute()),
            "a bare name is found on PATH"
        );
        assert!(resolved(Transcoding::Ffmpeg(PathBuf::from("/nonexistent/ffmpeg"))).is_err());
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("ffmpeg");
        std::fs::write(&plain, "not a program").unwrap();
        assert!(
            resolved(Transcoding::Ffmpeg(plain)).is_err(),
            "not executable"
        );
    }

    #[test]
    fn percent_stays_below_100_until_done() {
        let second = Duration::from_secs(1);
        assert_eq!(percent(Duration::ZERO, 2 * second), 0);
        assert_eq!(percent(second, 2 * second), 50);
        assert_eq!(percent(3 * second, 2 * second), 99);
        assert_eq!(percent(second, Duration::ZERO), 0);
    }

    /// A database made before the leases (migration 4) with a job that was running then: it
    /// has no lease, so it counts as lapsed and is taken again, under a claim that then holds
    /// it (a second taker finds nothing); handed back, it is taken again at once.
    #[tokio::test]
    async fn a_job_running_before_the_leases_is_taken_again_and_then_held() {
        let dir = tempfile::tempdir().unwrap();
        let options = crate::Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.path().join("db.sqlite").display().to_string(),
        );
        let base = url::Url::parse("https://tube.example/").unwrap();
        let old = instance_server::open_state(
            &options,
            Some(&base),
            crate::db::MIGRATIONS_TABLE,
            crate::db::MIGRATIONS.get(..4).unwrap(),
        )
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO vi_jobs (video, state, progress, error, duration_ms, created, updated)
             VALUES ('v', 'running', 40, NULL, 1500, 1, 1)",
        )
        .execute(old.pool())
        .await
        .unwrap();
        old.pool().close().await;
        let db = Db::new(crate::db::open(&options, Some(&base)).await.unwrap());
        let lease = Duration::from_secs(60);
        let (job, claim) = claim_next(&db, lease).await.unwrap().unwrap();
        assert_eq!(job.video, "v");
        assert_eq!(job.duration, Duration::from_millis(1500));
        assert!(claim.renew().await.unwrap());
        assert!(claim_next(&db, lease).await.unwrap().is_none(), "held");
        claim.release().await;
        assert!(!claim.renew().await.unwrap(), "given back");
        let (again, second) = claim_next(&db, lease).await.unwrap().unwrap();
        assert_eq!(again.video, "v");
        assert_ne!(second.token, claim.token);
    }
}
