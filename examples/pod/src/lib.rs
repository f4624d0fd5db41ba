//! The pod: a diaspora*-like server built on the toolkit.
//!
//! People (Person actors) have a profile (a display name, a bio written in Markdown, a few
//! profile fields, an avatar and a banner); they write posts in Markdown (stored and shown as
//! sanitized HTML) to the public, to their followers or to some of their **aspects** (named
//! sets of contacts, as diaspora* has them), mentioning people (`@name`, `@name@host`), with
//! hashtags (`#tag`, whose pages list public posts and which people follow) and photos; they
//! comment, like and reshare, and are notified of what concerns them. Everything
//! federates over ActivityPub in the shapes Mastodon reads. Storage is SQLite (a file) or
//! PostgreSQL, through `instance-state` for everything social and the pod's own `pd_*` tables
//! for posts, aspects, reactions, profile fields and images; `instance-server` runs it all.
//!
//! [`start`] runs one pod (the `serve` command, the demo and the tests all use it); [`admin`]
//! holds the administration commands.

mod activities;
pub mod admin;
mod app;
pub mod archive;
mod aspects;
mod cards;
mod db;
pub mod demo;
mod images;
mod markdown;
mod mentions;
pub mod moving;
mod notifications;
mod pages;
pub mod pending_moves;
mod photos;
mod posts;
mod profile;
mod relays;
mod tag_relay;
mod threads;
mod web;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use instance_server::{Application, Parts};
use instance_state::InstanceState;
use url::Url;

pub use app::Instance;
pub use aspects::AspectError;
pub use instance_server::INSTANCE_ACTOR;
pub use instance_web::SignupMode;
pub use posts::{PostAudience, Refused};
pub use profile::{ImageRole, Profile, ProfileError};
pub use relays::{Relay, RelayKind};
pub use tag_relay::{TagFollow, TagRelayState};

/// The pod's own options, beside the server's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PodOptions {
    /// Where uploaded images are kept. `None`: beside a SQLite database, in
    /// `{database}.media`; required with PostgreSQL.
    pub media_dir: Option<PathBuf>,
    /// The largest profile image accepted, in bytes. Default: 4 MiB.
    pub max_image_bytes: u64,
    /// How the serving process retries a `Move` from an archive to the followers it could not
    /// reach at the import.
    pub move_retry: pending_moves::MoveRetry,
}

impl Default for PodOptions {
    fn default() -> Self {
        Self {
            media_dir: None,
            max_image_bytes: 4 << 20,
            move_retry: pending_moves::MoveRetry::default(),
        }
    }
}

impl PodOptions {
    /// Sets where images are kept.
    pub fn with_media_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.media_dir = Some(dir.into());
        self
    }

    /// Sets the largest profile image accepted.
    pub fn with_max_image_bytes(mut self, bytes: u64) -> Self {
        self.max_image_bytes = bytes;
        self
    }

    /// Sets how a `Move` to followers unreachable at the import is retried.
    pub fn with_move_retry(mut self, retry: pending_moves::MoveRetry) -> Self {
        self.move_retry = retry;
        self
    }
}

/// How to run a pod: `instance-server`'s options with the pod's own.
pub type Options = instance_server::Options<PodOptions>;

/// A running pod.
pub type Running = instance_server::Running<Instance>;

/// The pod, as `instance-server` runs it.
#[derive(Debug, Clone, Copy)]
pub struct Pod;

impl Application for Pod {
    type Options = PodOptions;
    type Instance = Instance;

    const SOFTWARE: &'static str = "pod";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
        db::open(options, base_url).await
    }

    async fn build(parts: Parts, options: &Options) -> Result<Instance> {
        let media_dir = instance_server::files_dir(
            options.app.media_dir.as_deref(),
            &options.database,
            "images",
        )?;
        let media = media_store::MediaStore::open(&media_dir)
            .await
            .with_context(|| format!("opening the media directory {}", media_dir.display()))?;
        let serving = parts.serving;
        let instance = Instance::new(parts, options.app.clone(), media)?;
        if serving {
            instance.start_move_retries();
        }
        Ok(instance)
    }

    fn routes(instance: &Instance, parts: &Parts, _options: &Options) -> Result<axum::Router> {
        let web = parts.web(Arc::new(pages::notifications::PodLayout(
            instance_web::DefaultLayout::new(parts.name.clone())
                .with_link("/compose", "Write")
                .with_link("/aspects", "Aspects")
                .with_link("/follow", "Follow")
                .with_link("/notifications", "Notifications")
                .with_link("/profile", "Profile")
                .with_moderator_link("/moderation", "Moderation")
                .with_admin_link("/admin/relays", "Relays"),
        )));
        let moderation = instance_server::moderation::Moderation::new(parts, web.clone())?;
        let federation = parts.federation_router(instance.clone(), activities::dispatcher());
        Ok(web::routes(instance.clone(), web, moderation, federation))
    }
}

/// Starts a pod.
pub async fn start(options: Options) -> Result<Running> {
    instance_server::start::<Pod>(options).await
}
