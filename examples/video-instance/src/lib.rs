//! The video instance: a minimal PeerTube-like server built on the toolkit.
//!
//! Accounts (Person actors) own channels (Group actors, `attributedTo` their owner, as PeerTube
//! makes them); videos are published by the account (`Create(Video)`) and announced by the
//! channel (`Announce`), in PeerTube's shapes, so that PeerTube, Mastodon and the other video
//! instances show them. Storage is SQLite (a file) or PostgreSQL, through `instance-state` for
//! everything social and the instance's own `vi_*` tables for what is about videos; deliveries
//! go through `federation-queue` on the same database; `instance-server` runs it all.
//!
//! [`start`] runs one instance (the `serve` command, the demo and the tests all use it);
//! [`admin`] holds the administration commands.

mod activities;
pub mod admin;
mod api;
mod app;
mod channels;
mod comments;
mod db;
pub mod demo;
mod embed;
mod feeds;
mod ffmpeg;
mod files;
mod lease;
mod mirror_pages;
mod pages;
mod playlists;
mod processing;
mod redundancy;
mod search;
mod upload;
mod videos;
mod views;
mod web;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use federation::inbox::Inbox;
use federation::routes::{Server, router};
use instance_server::{Application, Parts};
use instance_state::InstanceState;
use url::Url;

pub use app::Instance;
pub use instance_server::{INSTANCE_ACTOR, WithParts};
pub use instance_web::SignupMode;
pub use redundancy::MirrorStatus;

/// How the instance answers another instance that asks to follow it (instance actor to
/// instance actor): its videos then reach that instance's catalogue and search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InstanceFollows {
    /// Accepted at once (PeerTube's default).
    #[default]
    Automatic,
    /// Pending until an administrator accepts it.
    Approval,
}

/// Whether and with what uploaded videos are processed (a thumbnail and an HLS rendition,
/// made with ffmpeg in the background).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transcoding {
    /// With `ffmpeg` found on `PATH`, else Debian's `/usr/bin/ffmpeg`; off when there is none.
    #[default]
    Auto,
    /// With this ffmpeg binary (the instance refuses to start when it is not an executable).
    Ffmpeg(PathBuf),
    /// Off: the original files are served, without thumbnails or HLS.
    Off,
}

/// The video instance's own options, beside the server's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VideoOptions {
    /// Where uploaded and mirrored files are kept. `None`: beside a SQLite database, in
    /// `{database}.media`; required with PostgreSQL.
    pub media_dir: Option<PathBuf>,
    /// The largest upload accepted, in bytes. Default: 8 GiB.
    pub max_upload_bytes: u64,
    /// How other instances' follows are answered.
    pub instance_follows: InstanceFollows,
    /// How often the view counts that moved are sent (one `Update` per video per batch).
    /// Default: a minute.
    pub view_batch_interval: std::time::Duration,
    /// Whether and with what videos are processed.
    pub transcoding: Transcoding,
    /// The longest one video's processing may take before ffmpeg is stopped and the
    /// processing fails. Default: an hour.
    pub transcoding_time_limit: std::time::Duration,
    /// How long a mirror's `CacheFile` says the copy is kept (`expires`); it is renewed with
    /// an `Update` at half this. Default: 48 hours (PeerTube's `min_lifetime` is at least 10
    /// hours; its examples use 25 hours to a week).
    pub mirror_lifetime: std::time::Duration,
    /// How often the redundancy timer runs: renewals, new videos of mirrored instances,
    /// received copies that lapsed. Default: a minute.
    pub mirror_check_interval: std::time::Duration,
    /// The most bytes one mirrored video may declare (all its files). Default: 8 GiB.
    pub max_mirror_bytes: u64,
    /// The most bytes all the mirrors together may take on disk: a copy that would not fit
    /// beside the ones kept is refused, and recorded as failed with the figures. Default:
    /// 64 GiB.
    pub mirror_cache_bytes: u64,
    /// The longest copying one video may take. Default: an hour.
    pub mirror_time_limit: std::time::Duration,
    /// How long a process holds a processing job or a mirror without renewing its lease
    /// (renewed every third of it while it works): after a process died, another takes its
    /// work once this lapsed. At least 2 seconds. Default: a minute.
    pub job_lease: std::time::Duration,
    /// Where this process keeps its search index: a directory of its own (no other process
    /// may use it). `None`: beside a SQLite database's media directory (`{media}.search`); in
    /// memory with PostgreSQL, where several processes may serve one database. Either way the
    /// index follows the database's search changes, and is rebuilt from the database when it
    /// cannot catch up.
    pub search_dir: Option<PathBuf>,
}

impl Default for VideoOptions {
    fn default() -> Self {
        Self {
            media_dir: None,
            max_upload_bytes: 8 << 30,
            instance_follows: InstanceFollows::Automatic,
            view_batch_interval: std::time::Duration::from_secs(60),
            transcoding: Transcoding::Auto,
            transcoding_time_limit: std::time::Duration::from_secs(60 * 60),
            mirror_lifetime: std::time::Duration::from_secs(48 * 60 * 60),
            mirror_check_interval: std::time::Duration::from_secs(60),
            max_mirror_bytes: 8 << 30,
            mirror_cache_bytes: 64 << 30,
            mirror_time_limit: std::time::Duration::from_secs(60 * 60),
            job_lease: std::time::Duration::from_secs(60),
            search_dir: None,
        }
    }
}

impl VideoOptions {
    /// Sets where files are kept.
    pub fn with_media_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.media_dir = Some(dir.into());
        self
    }

    /// Sets the largest upload accepted.
    pub fn with_max_upload_bytes(mut self, bytes: u64) -> Self {
        self.max_upload_bytes = bytes;
        self
    }

    /// Sets how other instances' follows are answered.
    pub fn with_instance_follows(mut self, follows: InstanceFollows) -> Self {
        self.instance_follows = follows;
        self
    }

    /// Sets how often the view counts that moved are sent.
    pub fn with_view_batch_interval(mut self, interval: std::time::Duration) -> Self {
        self.view_batch_interval = interval;
        self
    }

    /// Sets whether and with what videos are processed.
    pub fn with_transcoding(mut self, transcoding: Transcoding) -> Self {
        self.transcoding = transcoding;
        self
    }

    /// Sets the longest one video's processing may take.
    pub fn with_transcoding_time_limit(mut self, limit: std::time::Duration) -> Self {
        self.transcoding_time_limit = limit;
        self
    }

    /// Sets how long a mirror's copy is announced for (renewed at half of it).
    pub fn with_mirror_lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.mirror_lifetime = lifetime;
        self
    }

    /// Sets how often the redundancy timer runs.
    pub fn with_mirror_check_interval(mut self, interval: std::time::Duration) -> Self {
        self.mirror_check_interval = interval;
        self
    }

    /// Sets the most bytes one mirrored video may declare.
    pub fn with_max_mirror_bytes(mut self, bytes: u64) -> Self {
        self.max_mirror_bytes = bytes;
        self
    }

    /// Sets the most bytes all the mirrors together may take.
    pub fn with_mirror_cache_bytes(mut self, bytes: u64) -> Self {
        self.mirror_cache_bytes = bytes;
        self
    }

    /// Sets the longest copying one video may take.
    pub fn with_mirror_time_limit(mut self, limit: std::time::Duration) -> Self {
        self.mirror_time_limit = limit;
        self
    }

    /// Sets how long a process holds a job or a mirror without renewing its lease.
    pub fn with_job_lease(mut self, lease: std::time::Duration) -> Self {
        self.job_lease = lease;
        self
    }

    /// Sets where this process keeps its search index.
    pub fn with_search_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.search_dir = Some(dir.into());
        self
    }

    /// Where this process's search index lives, for `database` and files in `media_dir`.
    fn search_location(&self, database: &str, media_dir: &std::path::Path) -> search::Location {
        match &self.search_dir {
            Some(dir) => search::Location::Dir(dir.clone()),
            None if instance_server::is_postgres(database) => search::Location::Memory,
            None => search::Location::Dir(PathBuf::from(format!("{}.search", media_dir.display()))),
        }
    }

    /// The media directory for `database`.
    fn media_dir_for(&self, database: &str) -> Result<PathBuf> {
        match &self.media_dir {
            Some(dir) => Ok(dir.clone()),
            None if instance_server::is_postgres(database) => {
                anyhow::bail!("with PostgreSQL, say where files are kept (--media-dir)")
            }
            None => Ok(PathBuf::from(format!("{database}.media"))),
        }
    }
}

/// How to run a video instance: `instance-server`'s options with the video instance's own.
pub type Options = instance_server::Options<VideoOptions>;

/// A running video instance.
pub type Running = instance_server::Running<Instance>;

/// The video instance, as `instance-server` runs it.
#[derive(Debug, Clone, Copy)]
pub struct Videos;

impl Application for Videos {
    type Options = VideoOptions;
    type Instance = Instance;

    const SOFTWARE: &'static str = "video-instance";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
        db::open(options, base_url).await
    }

    async fn build(parts: Parts, options: &Options) -> Result<Instance> {
        let media_dir = options.app.media_dir_for(&options.database)?;
        std::fs::create_dir_all(&media_dir)
            .with_context(|| format!("creating the media directory {}", media_dir.display()))?;
        let media = media_store::MediaStore::open(&media_dir)
            .await
            .with_context(|| format!("opening the media directory {}", media_dir.display()))?;
        // Other instances' follows of this one: accepted at once, or waiting for approval.
        parts
            .state
            .update_profile(
                INSTANCE_ACTOR,
                instance_state::actors::ProfileUpdate::new().with_manually_approves_followers(
                    options.app.instance_follows == InstanceFollows::Approval,
                ),
            )
            .await
            .context("setting how instance follows are answered")?;
        // The search index is derived data, each serving process's own (one writer per
        // index), following the database's search changes; administration commands have
        // none (they append changes that the serving processes apply).
        let search = if parts.serving {
            let index =
                search::open_index(&options.app.search_location(&options.database, &media_dir))?;
            search::start_committing(&index);
            Some(index)
        } else {
            None
        };
        let serving = search.is_some();
        let ffmpeg = processing::resolve_ffmpeg(&options.app.transcoding)?;
        if serving && ffmpeg.is_none() {
            tracing::info!("no ffmpeg: videos are served as uploaded, without thumbnails or HLS");
        }
        let processing = processing::Processing::new(
            ffmpeg,
            options.app.transcoding_time_limit,
            options.app.job_lease,
        );
        let instance = Instance::new(
            parts,
            options.app.clone(),
            media_dir,
            media,
            search,
            processing,
        );
        if serving {
            instance
                .start_search()
                .await
                .context("bringing the search index up to date")?;
            views::start_batches(&instance, options.app.view_batch_interval);
            instance
                .start_processing()
                .await
                .context("starting the processing of videos")?;
            instance
                .start_redundancy()
                .await
                .context("starting the mirrors")?;
        }
        Ok(instance)
    }

    /// Files go out by `sendfile(2)` (see `files::SendfileConnector`).
    fn connector(_instance: &Instance) -> impl federation::serve::Connector {
        files::SendfileConnector
    }

    /// `GET`/`HEAD /static/...` before the router (see `files::static_files`).
    fn static_files(instance: &Instance) -> Result<Option<instance_server::StaticFiles>> {
        files::static_files(instance).map(Some)
    }

    fn routes(instance: &Instance, parts: &Parts, _options: &Options) -> Result<axum::Router> {
        let inbox = Inbox::new(
            parts.inbox_config(),
            parts.keys.clone(),
            parts.fetcher.clone(),
            parts.state.clone(),
            activities::dispatcher(),
            instance.clone(),
        );
        let server = Arc::new(Server {
            config: parts.routes_config(),
            app: instance.clone(),
            inbox,
        });
        let web = parts.web(Arc::new(
            instance_web::DefaultLayout::new(parts.name.clone())
                .with_link("/search", "Search")
                .with_link("/videos/upload", "Upload")
                .with_link("/follow", "Follow")
                .with_link("/video-playlists", "Playlists")
                .with_moderator_link("/moderation", "Moderation"),
        ));
        // A video hidden or shown again by a moderator leaves the search index or comes back.
        let reindexed = instance.clone();
        let moderation = instance_server::moderation::Moderation::new(parts, web.clone())?
            .with_visibility_hook(move |id| {
                let instance = reindexed.clone();
                async move {
                    if let Err(error) = instance.reindex(&id).await {
                        tracing::warn!(%error, %id, "updating the search index");
                    }
                }
            })
            .with_page(mirror_pages::MIRRORS_PATH, "Mirrors (redundancy)");
        Ok(web::routes(
            instance.clone(),
            web,
            moderation,
            router(server),
        ))
    }
}

/// Starts an instance.
pub async fn start(options: Options) -> Result<Running> {
    instance_server::start::<Videos>(options).await
}

/// Opens an instance's database and queue without serving (for the administration commands).
pub(crate) async fn open_instance(options: &Options, base_url: &Url) -> Result<Instance> {
    instance_server::open::<Videos>(options, base_url).await
}
