//! Search over the videos listed here (local ones and those of the channels, accounts and
//! instances followed), with `video-search`: only public videos go in, and it answers
//! PeerTube's search API and the search page.
//!
//! The index is derived from the database, and each serving process keeps its own (tantivy
//! has one writer per index, and machines share no directory): in memory, or in a directory
//! of the process's own. Every write to what is searchable appends a row to the search
//! changes (`vi_search_changes`, numbered in commit order without gaps: see
//! [`crate::db::append_search_change`]), in the same transaction where the write is one
//! transaction of the instance's, right after it otherwise. Each process follows them
//! ([`Follower`]): every [`FOLLOW_EVERY`] it reads the changes past the last one it applied
//! and reads each video or playlist named again from the database (so a change applied twice
//! or late does no harm), and records how far it got with the index's commits. At start it
//! resumes from there, or rebuilds the index from the database when it cannot (a new index,
//! one behind the changes kept). Changes older than [`KEEP_CHANGES`] are pruned.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use instance_state::objects::{Addressing, Visibility};
use time::OffsetDateTime;
use tracing::warn;
use video_search::api::{ApiContext, VideosSearchQuery, videos_response};
use video_search::{
    ActorSummary, Constant, IndexConfig, SearchIndex, SearchResults, VideoDocument,
};

use crate::app::{Inner, Instance};
use crate::db::{Listing, SearchChange, SearchKind, VideoRow};
use crate::upload::Refusal;
use crate::videos::{CATEGORIES, LICENCES};
use crate::web::Site;
use instance_server::WithParts as _;

/// How often pending index changes are committed (so an update shows within about this).
const COMMIT_EVERY: Duration = Duration::from_millis(500);

/// How often a process reads the search changes (a change made anywhere is searchable
/// everywhere within about this and [`COMMIT_EVERY`]).
pub(crate) const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// How many changes a process reads at once.
const CHANGES_AT_ONCE: i64 = 500;

/// How long search changes are kept (a process that fell further behind rebuilds its index).
const KEEP_CHANGES: Duration = Duration::from_secs(60 * 60);

/// How often a process prunes the changes older than [`KEEP_CHANGES`].
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// How many times in a row a change may fail to apply (the database unreachable, say)
/// before it is skipped with a warning, so that one broken row does not stop the index.
const ATTEMPTS_PER_CHANGE: u32 = 20;

/// Where a process keeps its search index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// In a directory of its own, kept across restarts.
    Dir(PathBuf),
    /// In memory, rebuilt at every start.
    Memory,
}

/// How far the index followed the search changes, and the follower's wake-up (a change
/// made by this process).
#[derive(Debug, Default)]
pub(crate) struct Follower {
    /// The last change applied (its sequence number).
    seen: AtomicU64,
    wake: Arc<tokio::sync::Notify>,
}

/// Opens the index at `location`.
pub(crate) fn open_index(location: &Location) -> Result<Arc<SearchIndex>> {
    let mut config = IndexConfig::default();
    config.commit_interval = COMMIT_EVERY;
    let dir = match location {
        Location::Memory => return Ok(Arc::new(SearchIndex::in_memory(config)?)),
        Location::Dir(dir) => dir,
    };
    let index = match SearchIndex::open_in_dir(dir, config.clone()) {
        // An index of an older layout: it is derived data, so it is made again (and filled
        // from the database by `start_search`).
        Err(video_search::IndexError::LayoutChanged { .. }) => {
            warn!(dir = %dir.display(), "the search index has an older layout; rebuilding it");
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("removing the old search index {}", dir.display()))?;
            SearchIndex::open_in_dir(dir, config)
        }
        other => other,
    }
    .with_context(|| {
        format!(
            "opening the search index in {} (each process needs a directory of its own: see \
             --search-dir)",
            dir.display()
        )
    })?;
    Ok(Arc::new(index))
}

/// Commits the index's pending changes on a timer until the index is dropped.
pub(crate) fn start_committing(index: &Arc<SearchIndex>) {
    let weak: Weak<SearchIndex> = Arc::downgrade(index);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(COMMIT_EVERY);
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

fn datetime(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Instance {
    /// An actor as the index names it: its name, display name and host.
    pub(crate) async fn actor_summary(&self, id: &str) -> ActorSummary {
        let host = crate::pages::host_of(id);
        let fallback = id.rsplit('/').next().unwrap_or_default().to_owned();
        if let Some(name) = self.state().local_name(id)
            && let Ok(Some(actor)) = self.state().actor(&name).await
        {
            return ActorSummary::new(actor.name, actor.display_name, id, host);
        }
        match self.state().remote_actor(id).await {
            Ok(Some(actor)) => ActorSummary::new(fallback, actor.name, id, host),
            _ => ActorSummary::new(fallback.clone(), fallback, id, host),
        }
    }

    /// The index's document of `video`.
    pub(crate) async fn search_document(&self, video: &VideoRow) -> VideoDocument {
        let channel = self.actor_summary(&video.channel).await;
        let account = self.actor_summary(&video.account).await;
        let mut document = VideoDocument::new(
            video.id.clone(),
            video.uuid.clone(),
            video.name.clone(),
            crate::pages::host_of(&video.id),
            datetime(video.published),
            channel,
            account,
        );
        document.description = Some(video.description.clone()).filter(|d| !d.is_empty());
        document.duration = u64::try_from(video.duration).unwrap_or(0);
        document.views = u64::try_from(video.views).unwrap_or(0);
        document.likes = u64::try_from(video.likes).unwrap_or(0);
        document.dislikes = u64::try_from(video.dislikes).unwrap_or(0);
        document.nsfw = video.sensitive;
        document.is_live = video.is_live;
        document.tags = video.tags.clone();
        document.updated_at = datetime(video.updated);
        document.language = video
            .language
            .as_ref()
            .map(|l| Constant::new(l.clone(), l.clone()));
        let constant = |table: &[(i64, &str)], n: Option<i64>| {
            let n = n?;
            let (_, label) = table.iter().find(|(k, _)| *k == n)?;
            Some(Constant::new(u32::try_from(n).ok()?, *label))
        };
        document.category = constant(CATEGORIES, video.category);
        document.licence = constant(LICENCES, video.licence);
        document.embed_url = Some(format!("{}videos/embed/{}", self.base_url(), video.uuid));
        if video.local {
            document.preview_url = None;
        }
        document
    }

    /// Puts `video` in this process's index if it is public (its document addressed to the
    /// public), else takes it out: the index has no readers' scopes, so it holds only what
    /// anyone may see.
    pub(crate) async fn apply_video(&self, video: &VideoRow) -> Result<()> {
        let public = self.state().object(&video.id).await?.is_some_and(|stored| {
            !stored.deleted
                && !stored.hidden
                && Addressing::of(&stored.document).visibility() == Visibility::Public
        });
        let Some(index) = self.0.search.clone() else {
            return Ok(());
        };
        if public {
            let document = self.search_document(video).await;
            tokio::task::spawn_blocking(move || index.upsert_video(&document)).await??;
        } else {
            let id = video.id.clone();
            tokio::task::spawn_blocking(move || index.delete(&id)).await??;
        }
        Ok(())
    }

    /// Records that what is searchable of `kind` `object` changed (for the writes that are
    /// not one transaction of the instance's), and wakes this process's follower.
    pub(crate) async fn search_changed(&self, kind: SearchKind, object: &str) -> Result<()> {
        self.db().search_changed(kind, object).await?;
        self.0.search_follower.wake.notify_one();
        Ok(())
    }

    /// After a moderator hid object `id` or showed it again: if it is a video, the index
    /// takes it out or puts it back (everywhere, through the search changes), and so do the
    /// playlists that hold it.
    pub(crate) async fn reindex(&self, id: &str) -> Result<()> {
        if self.db().video(id).await?.is_none() {
            return Ok(());
        }
        self.search_changed(SearchKind::Video, id).await?;
        self.playlists_holding_changed(id).await?;
        // The moderator's next search, on this process, no longer finds it (the other
        // processes follow within a second).
        self.catch_up_search().await
    }

    /// Applies the search changes made so far and commits, now (rather than within the
    /// follower's interval).
    async fn catch_up_search(&self) -> Result<()> {
        let Some(index) = self.0.search.clone() else {
            return Ok(());
        };
        let mut failures = 0;
        while self.follow_once(&mut failures).await? {}
        tokio::task::spawn_blocking(move || index.commit()).await??;
        Ok(())
    }

    /// Brings this process's index up to date at start, then follows the search changes for
    /// as long as the instance lives: resumes from the last change its commits recorded when
    /// the changes after it are all still kept, else rebuilds it from the database.
    pub(crate) async fn start_search(&self) -> Result<()> {
        let Some(index) = self.0.search.clone() else {
            return Ok(());
        };
        let marker = index.committed_marker()?;
        let last = self.db().last_search_change().await?;
        let resumable = match marker {
            Some(seen) if seen == last => true,
            Some(seen) if seen < last => self
                .db()
                .search_changes_after(seen, 1)
                .await?
                .first()
                .is_some_and(|next| next.seq == seen + 1),
            _ => false,
        };
        if let (true, Some(seen)) = (resumable, marker) {
            self.0.search_follower.seen.store(seen, Ordering::SeqCst);
        } else {
            self.rebuild_index().await?;
        }
        let weak = Arc::downgrade(&self.0);
        tokio::spawn(follow_changes(weak));
        Ok(())
    }

    /// Rebuilds this process's index from the database: as of the last change numbered
    /// before it starts (the changes after it are applied next, whatever they find).
    async fn rebuild_index(&self) -> Result<()> {
        let Some(index) = self.0.search.clone() else {
            return Ok(());
        };
        let last = self.db().last_search_change().await?;
        let clearing = index.clone();
        tokio::task::spawn_blocking(move || clearing.delete_all()).await??;
        let scope = instance_state::objects::Scope::anonymous();
        let mut offset = 0;
        let mut videos = 0_usize;
        loop {
            let page = self
                .db()
                .videos(&Listing::default(), &scope, offset, 500)
                .await?;
            if page.is_empty() {
                break;
            }
            offset += i64::try_from(page.len()).unwrap_or(i64::MAX);
            for video in &page {
                self.apply_video(video).await?;
            }
            videos += page.len();
        }
        self.index_all_playlists().await?;
        index.set_marker(last);
        tokio::task::spawn_blocking(move || index.commit()).await??;
        self.0.search_follower.seen.store(last, Ordering::SeqCst);
        tracing::info!(
            videos,
            changes = last,
            "search index rebuilt from the database"
        );
        Ok(())
    }

    /// Applies the search changes past the last one applied; gives whether there may be
    /// more to read at once. `failures` counts the failed attempts at the first change not
    /// applied.
    async fn follow_once(&self, failures: &mut u32) -> Result<bool> {
        let Some(index) = self.0.search.clone() else {
            return Ok(false);
        };
        let follower = &self.0.search_follower;
        let seen = follower.seen.load(Ordering::SeqCst);
        let last = self.db().last_search_change().await?;
        if last == seen {
            return Ok(false);
        }
        let changes = if last > seen {
            self.db()
                .search_changes_after(seen, CHANGES_AT_ONCE)
                .await?
        } else {
            Vec::new()
        };
        if changes.first().is_none_or(|first| first.seq != seen + 1) {
            // Changes this process never saw were pruned (it was stopped, or stalled, for
            // longer than they are kept), or the database is older than the index (restored
            // from a backup): the index is made again.
            warn!(
                seen,
                last, "the search index missed changes; rebuilding it from the database"
            );
            self.rebuild_index().await?;
            return Ok(false);
        }
        // One reading per object, however many times the batch names it.
        let mut applied = seen;
        let mut done = BTreeSet::new();
        for change in &changes {
            if done.insert((change.kind, change.object.clone())) {
                match self.apply_change(change).await {
                    Ok(()) => *failures = 0,
                    Err(error) if *failures + 1 >= ATTEMPTS_PER_CHANGE => {
                        warn!(%error, seq = change.seq, object = change.object,
                            "a search change could not be applied; skipped");
                        *failures = 0;
                    }
                    Err(error) => {
                        *failures += 1;
                        warn!(%error, seq = change.seq, object = change.object,
                            "applying a search change (tried again)");
                        break;
                    }
                }
            }
            applied = change.seq;
        }
        if applied > seen {
            // The follower and a catch-up may run at once: the furthest either got counts.
            let furthest = follower
                .seen
                .fetch_max(applied, Ordering::SeqCst)
                .max(applied);
            index.set_marker(furthest);
        }
        Ok(applied > seen && changes.len() == usize::try_from(CHANGES_AT_ONCE).unwrap_or(0))
    }

    /// Reads what one change names again and puts it in the index, or takes it out.
    async fn apply_change(&self, change: &SearchChange) -> Result<()> {
        match change.kind {
            SearchKind::Video => match self.db().video(&change.object).await? {
                Some(video) => self.apply_video(&video).await,
                None => self.unindex(&change.object).await,
            },
            SearchKind::Playlist => match self.playlist(&change.object).await? {
                Some(playlist) => self.apply_playlist(&playlist).await,
                None => self.unindex(&change.object).await,
            },
        }
    }

    /// Takes object `id` out of this process's index.
    async fn unindex(&self, id: &str) -> Result<()> {
        let Some(index) = self.0.search.clone() else {
            return Ok(());
        };
        let id = id.to_owned();
        tokio::task::spawn_blocking(move || index.delete(&id)).await??;
        Ok(())
    }

    /// Searches the index.
    pub(crate) async fn search_videos(
        &self,
        query: video_search::VideoQuery,
    ) -> Result<SearchResults<VideoDocument>> {
        let Some(index) = self.0.search.clone() else {
            return Ok(SearchResults::new(0, Vec::new()));
        };
        Ok(tokio::task::spawn_blocking(move || index.search_videos(&query)).await??)
    }

    /// The API's context: this instance's host.
    pub(crate) fn api_context(&self) -> ApiContext {
        ApiContext::instance(crate::pages::host_of(self.base_url().as_str()))
    }
}

async fn answer_videos(
    site: &Site,
    query: Result<VideosSearchQuery, video_search::api::ApiError>,
) -> Response {
    let context = site.instance.api_context();
    let query = match query.and_then(|q| q.to_index_query(&context)) {
        Ok(query) => query,
        Err(error) => return Refusal::bad(error.to_string()).into_response(),
    };
    match site.instance.search_videos(query).await {
        Ok(results) => axum::Json(videos_response(&results, &context)).into_response(),
        Err(error) => {
            warn!(%error, "searching");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "the search failed").into_response()
        }
    }
}

/// `GET /api/v1/search/videos?search=...`, as PeerTube's API.
pub(crate) async fn api_search_get(
    State(site): State<Site>,
    RawQuery(query): RawQuery,
) -> Response {
    answer_videos(
        &site,
        VideosSearchQuery::from_query_string(query.as_deref().unwrap_or_default()),
    )
    .await
}

/// `POST /api/v1/search/videos` with a JSON body, as a PeerTube instance asks its index.
pub(crate) async fn api_search_post(State(site): State<Site>, body: Bytes) -> Response {
    answer_videos(&site, VideosSearchQuery::from_json(&body)).await
}

/// The follower: applies the search changes every [`FOLLOW_EVERY`] (at once when this process
/// made one), and prunes the old ones every [`PRUNE_EVERY`], for as long as the instance lives.
async fn follow_changes(weak: Weak<Inner>) {
    let mut failures = 0;
    let mut pruned = Instant::now();
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let instance = Instance(inner);
        let more = match instance.follow_once(&mut failures).await {
            Ok(more) => more,
            Err(error) => {
                warn!(%error, "following the search changes");
                false
            }
        };
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = Instant::now();
            let keep = i64::try_from(KEEP_CHANGES.as_secs()).unwrap_or(i64::MAX);
            let before = instance.db().now_secs().saturating_sub(keep);
            if let Err(error) = instance.db().prune_search_changes(before).await {
                warn!(%error, "pruning the search changes");
            }
        }
        if more {
            continue;
        }
        let wake = instance.0.search_follower.wake.clone();
        drop(instance);
        let _ = tokio::time::timeout(FOLLOW_EVERY, wake.notified()).await;
    }
}
