//! The index's state: the database, the search index derived from it, and the federation
//! pieces `instance-server` made.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use instance_server::{INSTANCE_ACTOR, Parts, WithParts};
use tracing::{debug, info, warn};
use url::Url;
use video_search::{
    ChannelDocument, ChannelQuery, IndexConfig, PlaylistDocument, PlaylistQuery, SearchIndex,
    SearchResults, VideoDocument, VideoQuery,
};

use crate::IndexOptions;
use crate::db::{Db, StoredVideo};
use crate::rules::Eligibility;

/// The settings key of the rules the search index was last built with.
const RULES_SETTING: &str = "video_index_rules";

/// The most videos read from the database at once while rebuilding.
const REBUILD_PAGE: i64 = 500;

/// The index's state, shared by the routes, the inbox handlers and the pages.
#[derive(Clone)]
pub struct Index(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("base_url", &self.0.parts.base_url.as_str())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) parts: Parts,
    pub(crate) options: IndexOptions,
    /// The search index: a serving process's (administration commands have none).
    pub(crate) search: Option<Arc<SearchIndex>>,
    pub(crate) danger_allow_private_addresses: bool,
}

/// Opens the search index in `dir`; one of an older layout is made again (it is derived
/// data: the rebuild fills it from the database).
pub(crate) fn open_search(dir: &Path, commit_interval: Duration) -> Result<Arc<SearchIndex>> {
    let mut config = IndexConfig::default();
    config.commit_interval = commit_interval;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the search index's directory {}", dir.display()))?;
    let index = match SearchIndex::open_in_dir(dir, config.clone()) {
        Err(video_search::IndexError::LayoutChanged { .. }) => {
            warn!(dir = %dir.display(), "the search index has an older layout; rebuilding it");
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("removing the old search index {}", dir.display()))?;
            std::fs::create_dir_all(dir)?;
            SearchIndex::open_in_dir(dir, config)
        }
        other => other,
    }
    .with_context(|| format!("opening the search index in {}", dir.display()))?;
    Ok(Arc::new(index))
}

/// Commits the index's pending changes every `interval` until the index is dropped.
pub(crate) fn start_committing(index: &Arc<SearchIndex>, interval: Duration) {
    let weak: Weak<SearchIndex> = Arc::downgrade(index);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            let Some(index) = weak.upgrade() else { return };
            let outcome =
                tokio::task::spawn_blocking(move || index.commit_due(Instant::now())).await;
            if let Ok(Err(error)) = outcome {
                warn!(%error, "committing the search index");
            }
        }
    });
}

/// The authority (`host` or `host:port`) of `url`, empty when it has none.
pub(crate) fn authority(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                u.port()
                    .map_or_else(|| h.to_owned(), |p| format!("{h}:{p}"))
            })
        })
        .unwrap_or_default()
}

impl WithParts for Index {
    fn parts(&self) -> &Parts {
        &self.0.parts
    }
}

impl Index {
    pub(crate) fn new(
        parts: Parts,
        options: IndexOptions,
        search: Option<Arc<SearchIndex>>,
    ) -> Self {
        let danger_allow_private_addresses = parts.danger_allow_private_addresses();
        Self(Arc::new(Inner {
            db: Db::new(parts.state.clone()),
            parts,
            options,
            search,
            danger_allow_private_addresses,
        }))
    }

    pub(crate) fn db(&self) -> &Db {
        &self.0.db
    }

    /// The eligibility rules.
    pub(crate) fn rules(&self) -> &Eligibility {
        &self.0.options.rules
    }

    /// The current time in Unix seconds (instance-state's clock).
    pub(crate) fn now(&self) -> i64 {
        self.state().options().clock.now()
    }

    /// Makes the instance actor follow `target` (an instance actor) unless it already does
    /// or asked to; refused for a host the rules deny.
    pub async fn follow_instance(&self, target: &Url) -> Result<()> {
        let host = authority(target.as_str());
        if !self.rules().admits_host(&host) {
            anyhow::bail!("the rules do not admit {host}: not following {target}");
        }
        let me = self.instance_actor();
        if let Some(follow) = self.state().follow(me.as_str(), target.as_str()).await?
            && follow.state != instance_state::follows::FollowState::Rejected
        {
            debug!(%target, "already followed");
            return Ok(());
        }
        self.state()
            .send_follow(&self.0.parts.outbox, INSTANCE_ACTOR, target.as_str())
            .await
            .map_err(|e| anyhow!("following {target}: {e}"))?;
        info!(%target, "following");
        Ok(())
    }

    /// Follows the configured instances that are not followed yet, in the background,
    /// retrying each one that cannot be found for a while (an instance may start later).
    pub(crate) fn follow_configured(&self) {
        for url in self.0.options.follow.clone() {
            let index = self.clone();
            tokio::spawn(async move {
                let mut wait = Duration::from_millis(500);
                for _ in 0..12 {
                    match index.follow_url(&url).await {
                        Ok(()) => return,
                        Err(error) => warn!(%url, %error, "following a configured instance"),
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(300));
                }
            });
        }
    }

    /// Follows the instance at `url` (a base URL or an actor).
    pub(crate) async fn follow_url(&self, url: &Url) -> Result<()> {
        let target = self.instance_actor_of(url).await?;
        self.follow_instance(&target).await
    }

    /// The instance actor to follow for `url`: itself when it has a path; else the one the
    /// instance's NodeInfo names (FEP-2677), or PeerTube's `/accounts/peertube` when that is
    /// an actor (PeerTube names none in its NodeInfo).
    async fn instance_actor_of(&self, url: &Url) -> Result<Url> {
        let named =
            instance_server::admin::instance_actor_of(url, self.0.danger_allow_private_addresses)
                .await;
        let error = match named {
            Ok(actor) => return Ok(actor),
            Err(error) => error,
        };
        let peertube = url.join("/accounts/peertube")?;
        let mut budget = federation::fetch::FetchBudget::default();
        match self.0.parts.fetcher.fetch(&peertube, &mut budget).await {
            Ok(fetched) if matches!(fetched.object(), activitypub_core::AnyObject::Actor(_)) => {
                Ok(peertube)
            }
            _ => Err(error),
        }
    }

    /// Builds the search index again from the stored videos when the rules changed since it
    /// was built, or when it is empty and the database is not.
    pub(crate) async fn rebuild_if_needed(&self) -> Result<()> {
        let Some(search) = self.0.search.clone() else {
            return Ok(());
        };
        let rules = serde_json::to_string(self.rules())?;
        let built_with = self.state().setting(RULES_SETTING).await?;
        let indexed =
            tokio::task::spawn_blocking(move || search.count(video_search::Kind::Video)).await??;
        let stored = self.db().video_count().await?;
        if built_with.as_deref() == Some(rules.as_str()) && (indexed > 0 || stored == 0) {
            return Ok(());
        }
        self.rebuild().await?;
        self.state().set_setting(RULES_SETTING, &rules).await?;
        Ok(())
    }

    /// Empties the search index and fills it from the stored videos under the current
    /// rules; gives how many videos it lists.
    pub async fn rebuild(&self) -> Result<u64> {
        let Some(search) = self.0.search.clone() else {
            return Ok(0);
        };
        let started = Instant::now();
        let emptied = search.clone();
        tokio::task::spawn_blocking(move || emptied.delete_all()).await??;
        let mut after = String::new();
        let mut listed = 0;
        let mut channels = BTreeSet::new();
        loop {
            let page = self.db().videos_after(&after, REBUILD_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            let mut documents = Vec::new();
            for stored in &page {
                let Some(document) = self.video_document(stored).await? else {
                    continue;
                };
                if self.rules().check(&document).is_ok() {
                    channels.insert(stored.channel.clone());
                    documents.push(document);
                }
            }
            listed += documents.len() as u64;
            let writer = search.clone();
            tokio::task::spawn_blocking(move || {
                documents.iter().try_for_each(|d| writer.upsert_video(d))
            })
            .await??;
        }
        for channel in channels {
            if let Some(document) = self.channel_document(&channel).await? {
                let writer = search.clone();
                tokio::task::spawn_blocking(move || writer.upsert_channel(&document)).await??;
            }
        }
        let committed = search.clone();
        tokio::task::spawn_blocking(move || committed.commit()).await??;
        info!(listed, elapsed = ?started.elapsed(), "search index rebuilt");
        Ok(listed)
    }

    /// Lists stored video `stored` if the rules let it through, else takes it out of the
    /// search index; its channel follows.
    pub(crate) async fn apply(&self, stored: &StoredVideo) -> Result<bool> {
        let Some(search) = self.0.search.clone() else {
            return Ok(false);
        };
        let Some(document) = self.video_document(stored).await? else {
            return Ok(false);
        };
        match self.rules().check(&document) {
            Ok(()) => {
                let channel = self.channel_document(&stored.channel).await?;
                tokio::task::spawn_blocking(move || {
                    search.upsert_video(&document)?;
                    if let Some(channel) = channel {
                        search.upsert_channel(&channel)?;
                    }
                    Ok::<_, video_search::IndexError>(())
                })
                .await??;
                Ok(true)
            }
            Err(why) => {
                debug!(video = %stored.id, %why, "not listed");
                let id = stored.id.clone();
                tokio::task::spawn_blocking(move || search.delete(&id)).await??;
                Ok(false)
            }
        }
    }

    /// Forgets video `id`: out of the database and the search index (its channel too, when
    /// it has no video left).
    pub(crate) async fn remove_video(&self, id: &str) -> Result<()> {
        let stored = self.db().video(id).await?;
        self.db().delete_video(id).await?;
        if let Some(search) = self.0.search.clone() {
            let id = id.to_owned();
            let channel = match &stored {
                Some(stored) if self.db().channel_video_count(&stored.channel).await? == 0 => {
                    Some(stored.channel.clone())
                }
                _ => None,
            };
            tokio::task::spawn_blocking(move || {
                search.delete(&id)?;
                if let Some(channel) = channel {
                    search.delete(&channel)?;
                }
                Ok::<_, video_search::IndexError>(())
            })
            .await??;
        }
        if stored.is_some() {
            info!(video = %id, "video removed");
        }
        Ok(())
    }

    /// Forgets actor `actor` and every video attributed to it.
    pub(crate) async fn remove_actor(&self, actor: &str) -> Result<()> {
        for id in self.db().videos_of(actor).await? {
            self.remove_video(&id).await?;
        }
        self.db().delete_actor(actor).await?;
        if let Some(search) = self.0.search.clone() {
            let actor = actor.to_owned();
            tokio::task::spawn_blocking(move || search.delete(&actor)).await??;
        }
        Ok(())
    }

    /// Forgets every video of host `host` (an authority).
    pub async fn remove_host(&self, host: &str) -> Result<u64> {
        let ids = self.db().videos_of_host(host).await?;
        for id in &ids {
            self.remove_video(id).await?;
        }
        Ok(ids.len() as u64)
    }

    /// How many videos are stored, listed or not.
    pub async fn stored_video_count(&self) -> Result<u64> {
        self.db().video_count().await
    }

    /// Commits the search index's pending changes now.
    pub async fn commit(&self) -> Result<()> {
        if let Some(search) = self.0.search.clone() {
            tokio::task::spawn_blocking(move || search.commit()).await??;
        }
        Ok(())
    }

    /// Searches the videos.
    pub(crate) async fn search_videos(
        &self,
        query: VideoQuery,
    ) -> Result<SearchResults<VideoDocument>> {
        let Some(search) = self.0.search.clone() else {
            return Ok(SearchResults::new(0, Vec::new()));
        };
        Ok(tokio::task::spawn_blocking(move || search.search_videos(&query)).await??)
    }

    /// Searches the channels.
    pub(crate) async fn search_channels(
        &self,
        query: ChannelQuery,
    ) -> Result<SearchResults<ChannelDocument>> {
        let Some(search) = self.0.search.clone() else {
            return Ok(SearchResults::new(0, Vec::new()));
        };
        Ok(tokio::task::spawn_blocking(move || search.search_channels(&query)).await??)
    }

    /// Searches the playlists (none are received yet: always empty, which PeerTube's client
    /// takes as a valid answer).
    pub(crate) async fn search_playlists(
        &self,
        query: PlaylistQuery,
    ) -> Result<SearchResults<PlaylistDocument>> {
        let Some(search) = self.0.search.clone() else {
            return Ok(SearchResults::new(0, Vec::new()));
        };
        Ok(tokio::task::spawn_blocking(move || search.search_playlists(&query)).await??)
    }
}
