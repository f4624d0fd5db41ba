//! The video index: a global search index of videos, pushed to over ActivityPub.
//!
//! Where Framasoft's SepiaSearch crawls instances' REST APIs on a schedule, this index follows
//! the instance actors of the video instances in its configuration (and, if its host allows
//! it, of those that ask by following it) and receives their videos as they are published,
//! changed and deleted (`Create`, `Update`, `Delete`, `Announce`). It keeps every public video
//! a followed instance sends in its database, lists those its [`Eligibility`] rules let
//! through in a `video-search` index, and answers PeerTube's search API (so that a PeerTube
//! instance can use it as its search index) and a search page.
//!
//! [`start`] runs one index (the `serve` command and the tests use it); [`admin`] holds the
//! administration commands.

pub mod admin;
mod api;
mod app;
mod db;
mod documents;
mod ingest;
mod pages;
mod rules;
mod web;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use federation::inbox::Inbox;
use federation::routes::{Server, router};
use instance_server::{Application, Parts};
use instance_state::InstanceState;
use url::Url;

pub use app::Index;
pub use instance_server::{INSTANCE_ACTOR, WithParts};
pub use rules::{Eligibility, Ineligible};

/// The index's own options, beside the server's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IndexOptions {
    /// Where the search index is kept. `None`: beside a SQLite database, in
    /// `{database}.search`; required with PostgreSQL.
    pub index_dir: Option<PathBuf>,
    /// The instances to follow: a base URL (its instance actor found through NodeInfo, else
    /// PeerTube's `/accounts/peertube`) or an instance actor's URL. Followed at start when
    /// they are not already.
    pub follow: Vec<Url>,
    /// Whether an instance that asks to be indexed (its instance actor follows the index's)
    /// is followed back. Default: no.
    pub follow_back: bool,
    /// Which videos are listed.
    pub rules: Eligibility,
    /// How often the index's changes are committed: an update or a deletion shows in results
    /// within about this. Default: half a second.
    pub commit_interval: Duration,
    /// How long a fetched channel or account is kept before it is fetched again (when one of
    /// its videos arrives). Default: a day.
    pub actor_ttl: Duration,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            index_dir: None,
            follow: Vec::new(),
            follow_back: false,
            rules: Eligibility::default(),
            commit_interval: Duration::from_millis(500),
            actor_ttl: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl IndexOptions {
    /// Sets where the search index is kept.
    pub fn with_index_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.index_dir = Some(dir.into());
        self
    }

    /// Adds an instance to follow.
    pub fn with_follow(mut self, instance: Url) -> Self {
        self.follow.push(instance);
        self
    }

    /// Sets whether instances that ask are followed back.
    pub fn with_follow_back(mut self, on: bool) -> Self {
        self.follow_back = on;
        self
    }

    /// Sets the eligibility rules.
    pub fn with_rules(mut self, rules: Eligibility) -> Self {
        self.rules = rules;
        self
    }

    /// Sets how often changes are committed.
    pub fn with_commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// The search index's directory for `database`.
    fn index_dir_for(&self, database: &str) -> Result<PathBuf> {
        match &self.index_dir {
            Some(dir) => Ok(dir.clone()),
            None if instance_server::is_postgres(database) => {
                anyhow::bail!("with PostgreSQL, say where the search index is kept (--index-dir)")
            }
            None => Ok(PathBuf::from(format!("{database}.search"))),
        }
    }
}

/// How to run an index: `instance-server`'s options with the index's own.
pub type Options = instance_server::Options<IndexOptions>;

/// A running index.
pub type Running = instance_server::Running<Index>;

/// The video index, as `instance-server` runs it.
#[derive(Debug, Clone, Copy)]
pub struct VideoIndex;

impl Application for VideoIndex {
    type Options = IndexOptions;
    type Instance = Index;

    const SOFTWARE: &'static str = "video-index";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
        db::open(options, base_url).await
    }

    async fn build(parts: Parts, options: &Options) -> Result<Index> {
        // The search index is derived data, rebuilt from the database when it is missing or
        // the rules changed; only a serving process holds it (one writer per index).
        let search = if parts.serving {
            let dir = options.app.index_dir_for(&options.database)?;
            let index = app::open_search(&dir, options.app.commit_interval)?;
            app::start_committing(&index, options.app.commit_interval);
            Some(index)
        } else {
            None
        };
        let serving = search.is_some();
        let index = Index::new(parts, options.app.clone(), search);
        if serving {
            index
                .rebuild_if_needed()
                .await
                .context("rebuilding the search index")?;
            index.follow_configured();
        }
        Ok(index)
    }

    fn routes(index: &Index, parts: &Parts, _options: &Options) -> Result<axum::Router> {
        let inbox = Inbox::new(
            parts.inbox_config(),
            parts.keys.clone(),
            parts.fetcher.clone(),
            parts.state.clone(),
            ingest::dispatcher(),
            index.clone(),
        );
        let server = Arc::new(Server {
            config: parts.routes_config(),
            app: index.clone(),
            inbox,
        });
        let web = parts.web(Arc::new(
            instance_web::DefaultLayout::new(parts.name.clone()).with_link("/", "Search"),
        ));
        Ok(web::routes(index.clone(), web, router(server)))
    }
}

/// Starts an index.
pub async fn start(options: Options) -> Result<Running> {
    instance_server::start::<VideoIndex>(options).await
}

/// Opens an index's database and queue without serving (for the administration commands).
pub(crate) async fn open_index(options: &Options, base_url: &Url) -> Result<Index> {
    instance_server::open::<VideoIndex>(options, base_url).await
}
