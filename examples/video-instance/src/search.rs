//! Search over the videos listed here (local ones and those of the channels, accounts and
//! instances followed), with `video-search`: the index is derived from the database (rebuilt
//! when it is empty), only public videos go in, and it answers PeerTube's search API and the
//! search page.

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

use crate::app::Instance;
use crate::db::{Listing, VideoRow};
use crate::upload::Refusal;
use crate::videos::{CATEGORIES, LICENCES};
use crate::web::Site;
use instance_server::WithParts as _;

/// How often pending index changes are committed (so an update shows within about this).
const COMMIT_EVERY: Duration = Duration::from_millis(500);

/// Opens the index in `dir`, rebuilding it from the database when it is empty, and starts
/// committing its changes every [`COMMIT_EVERY`] for as long as the instance lives.
pub(crate) fn open_index(dir: &std::path::Path) -> Result<Arc<SearchIndex>> {
    let mut config = IndexConfig::default();
    config.commit_interval = COMMIT_EVERY;
    let index = match SearchIndex::open_in_dir(dir, config.clone()) {
        // An index of an older layout: it is derived data, so it is made again (and filled
        // from the database by `rebuild_index_if_empty`).
        Err(video_search::IndexError::LayoutChanged { .. }) => {
            warn!(dir = %dir.display(), "the search index has an older layout; rebuilding it");
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("removing the old search index {}", dir.display()))?;
            SearchIndex::open_in_dir(dir, config)
        }
        other => other,
    }
    .with_context(|| format!("opening the search index in {}", dir.display()))?;
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

    /// Puts `video` in the search index if it is public (its document addressed to the
    /// public), else takes it out: the index has no readers' scopes, so it holds only what
    /// anyone may see.
    pub(crate) async fn index_video(&self, video: &VideoRow) -> Result<()> {
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

    /// Puts object `id` in the index again if it is a video (after a moderator hid it or
    /// showed it again): in if anyone may see it, out otherwise.
    pub(crate) async fn reindex(&self, id: &str) -> Result<()> {
        let Some(video) = self.db().video(id).await? else {
            return Ok(());
        };
        self.index_video(&video).await?;
        self.playlists_holding_changed(id).await?;
        if let Some(index) = self.0.search.clone() {
            tokio::task::spawn_blocking(move || index.commit()).await??;
        }
        Ok(())
    }

    /// Takes video `id` out of the index.
    pub(crate) async fn unindex_video(&self, id: &str) -> Result<()> {
        let Some(index) = self.0.search.clone() else {
            return Ok(());
        };
        let id = id.to_owned();
        tokio::task::spawn_blocking(move || index.delete(&id)).await??;
        Ok(())
    }

    /// Rebuilds the index from the database when it is empty and the database is not.
    pub(crate) async fn rebuild_index_if_empty(&self) -> Result<()> {
        let Some(index) = self.0.search.clone() else {
            return Ok(());
        };
        let count =
            tokio::task::spawn_blocking(move || index.count(video_search::Kind::Video)).await??;
        if count > 0 {
            return Ok(());
        }
        let scope = instance_state::objects::Scope::anonymous();
        let mut offset = 0;
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
                self.index_video(video).await?;
            }
        }
        self.index_all_playlists().await?;
        let Some(index) = self.0.search.clone() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || index.commit()).await??;
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
