//! The inbox: instance-state's handlers for the social graph, and the instance's for videos:
//! `Create`/`Update`/`Announce`/`Delete` of videos from the channels, accounts and instances
//! followed here, and `Like`/`Dislike` of local videos.

use activitypub_core::ext::peertube::{VideoSummary, video_of};
use activitypub_core::{ActivityType, AnyObject, Iri, Video};
use anyhow::{Context, Result};
use federation::fetch::FetchBudget;
use federation::inbox::{Dispatcher, HandlerError, Incoming};
use federation::keys::KeyCache;
use federation::outbox::Outbox;
use instance_server::{ErasedQueue, INSTANCE_ACTOR};
use instance_state::InstanceState;
use instance_state::handlers::{Social, social_handlers};
use tracing::{debug, info, warn};
use url::Url;

use crate::app::Instance;
use crate::db::VideoRow;

fn failed(error: anyhow::Error) -> HandlerError {
    HandlerError::Failed(error.into())
}

/// The inbox's handlers.
pub(crate) fn dispatcher() -> Dispatcher<Instance> {
    social_handlers(Dispatcher::new())
        .on(ActivityType::Create, |app: Instance, incoming| async move {
            app.on_create_or_update(incoming).await.map_err(failed)
        })
        .on(ActivityType::Announce, |app: Instance, incoming| async move {
            app.on_announce(incoming).await.map_err(failed)
        })
        .on(ActivityType::Like, |app: Instance, incoming| async move {
            app.on_rate(incoming, "like").await.map_err(failed)
        })
        .on(ActivityType::Dislike, |app: Instance, incoming| async move {
            app.on_rate(incoming, "dislike").await.map_err(failed)
        })
        .on(ActivityType::View, |app: Instance, incoming| async move {
            app.on_view(incoming).await.map_err(failed)
        })
        // PeerTube's decisions (FEP-5624) on a comment held under its video.
        .on(ActivityType::ApproveReply, |app: Instance, incoming| async move {
            app.on_reply_decision(&incoming, true)
                .await
                .map_err(failed)
        })
        .on(ActivityType::RejectReply, |app: Instance, incoming| async move {
            app.on_reply_decision(&incoming, false)
                .await
                .map_err(failed)
        })
}

impl Social for Instance {
    type Queue = ErasedQueue;

    fn state(&self) -> &InstanceState {
        self.db().state()
    }

    fn outbox(&self) -> &Outbox<ErasedQueue> {
        instance_server::WithParts::outbox(self)
    }

    fn keys(&self) -> Option<&KeyCache> {
        Some(instance_server::WithParts::keys(self))
    }

    /// `Update` of a video, `Delete` of one (its document already a `Tombstone`), `Undo` of a
    /// like or dislike.
    async fn unhandled(&self, incoming: Incoming) -> Result<(), HandlerError> {
        match incoming.activity.kind {
            ActivityType::Update => self.on_create_or_update(incoming).await,
            ActivityType::Delete => self.on_delete(incoming).await,
            ActivityType::Undo => self.on_undo(incoming).await,
            // PeerTube's decisions on a comment held under its video.
            _ => Ok(()),
        }
        .map_err(failed)
    }
}

impl Instance {
    /// A remote video created or updated: stored and listed when it concerns this instance
    /// (its account, channel or server is followed here, or it is stored already).
    async fn on_create_or_update(&self, incoming: Incoming) -> Result<()> {
        let mut budget = incoming.budget.clone();
        let fetched;
        let object = match incoming.object.object() {
            Some(object) => object,
            None => {
                // An id only: nothing to believe; fetch it from its origin.
                let Some(id) = incoming.object.id() else {
                    return Ok(());
                };
                if self.state().is_local(id.as_str()) {
                    return Ok(());
                }
                fetched = self.fetch(id, &mut budget).await?;
                &fetched
            }
        };
        if matches!(object, AnyObject::Playlist(_)) {
            return self.receive_playlist(&incoming, object).await;
        }
        if let AnyObject::CacheFile(cache_file) = object {
            let update = incoming.activity.kind == ActivityType::Update;
            return self
                .receive_cache_file(cache_file, &incoming.actor, update)
                .await;
        }
        let Some(video) = video_of(object) else {
            // A comment, when it answers a video listed here or a comment on one.
            if matches!(object, AnyObject::Object(_)) {
                self.receive_comment(object, &incoming.actor).await?;
            }
            return Ok(());
        };
        if !self
            .state()
            .is_solicited(
                &incoming.activity,
                &incoming.actor,
                object,
                Some(INSTANCE_ACTOR),
            )
            .await?
        {
            return Ok(());
        }
        self.store_remote_video(video, &incoming.actor).await
    }

    /// An announced video (by a followed channel, account or instance actor): fetched from its
    /// origin when it is not stored here yet, then stored.
    async fn on_announce(&self, incoming: Incoming) -> Result<()> {
        let Some(id) = incoming.object.id().cloned() else {
            return Ok(());
        };
        if self.state().is_local(id.as_str()) {
            return Ok(());
        }
        if !self
            .state()
            .is_followed_source(&incoming.actor, Some(INSTANCE_ACTOR))
            .await?
        {
            debug!(actor = %incoming.actor, "an announce nobody here asked for");
            return Ok(());
        }
        if self.db().video(id.as_str()).await?.is_some() {
            return Ok(());
        }
        let mut budget = incoming.budget.clone();
        let object = match incoming.object.object() {
            Some(object) => object.clone(),
            None => self.fetch(&id, &mut budget).await?,
        };
        let Some(video) = video_of(&object) else {
            return Ok(());
        };
        let Some(author) = video.props.id.clone() else {
            return Ok(());
        };
        self.store_remote_video(video, &author).await
    }

    /// Fetches `id` from its origin within `budget`.
    async fn fetch(&self, id: &Iri, budget: &mut FetchBudget) -> Result<AnyObject> {
        let url = Url::parse(id.as_str())?;
        let fetched = instance_server::WithParts::fetcher(self)
            .fetch(&url, budget)
            .await?;
        Ok(fetched.object().clone())
    }

    /// Stores a remote video (its document and its row) once its values are checked. `from`
    /// is who vouches for it: its server must be the video's.
    async fn store_remote_video(&self, video: &Video, from: &Iri) -> Result<()> {
        let Some(id) = video.props.id.clone() else {
            return Ok(());
        };
        if !activitypub_core::origin::same_origin(&id, from) {
            debug!(video = %id, %from, "a video vouched for by another server; ignored");
            return Ok(());
        }
        let summary = match VideoSummary::read(video) {
            Ok(summary) => summary,
            Err(error) => {
                info!(video = %id, %error, "a remote video refused");
                return Ok(());
            }
        };
        let (Some(account), Some(channel)) = (summary.account(), summary.channel()) else {
            info!(video = %id, "a remote video without its account and channel; refused");
            return Ok(());
        };
        if !(activitypub_core::origin::same_origin(account, &id)
            && activitypub_core::origin::same_origin(channel, &id))
        {
            info!(video = %id, "a remote video attributed to another server's actors; refused");
            return Ok(());
        }
        let document = serde_json::to_value(video).context("writing a received video")?;
        self.state().put_object(&document, false).await?;
        let unix = |t: &activitypub_core::Timestamp| t.time().unix_timestamp();
        let published = unix(&summary.published);
        let row = VideoRow {
            id: id.to_string(),
            uuid: summary.uuid.clone(),
            local: false,
            account: account.to_string(),
            channel: channel.to_string(),
            name: summary.name.clone(),
            description: String::new(),
            category: summary
                .category
                .as_ref()
                .and_then(|l| l.identifier.parse().ok()),
            licence: summary
                .licence
                .as_ref()
                .and_then(|l| l.identifier.parse().ok()),
            tags: summary.tags.clone(),
            duration: i64::try_from(summary.duration_secs).unwrap_or(i64::MAX),
            state: i64::try_from(summary.state.number()).unwrap_or(0),
            sensitive: summary.sensitive,
            comments_policy: i64::try_from(summary.comments_policy.number()).unwrap_or(2),
            download_enabled: summary.download_enabled,
            is_live: summary.is_live,
            language: summary.language.as_ref().map(|l| l.identifier.clone()),
            views: summary
                .views
                .map_or(0, |v| i64::try_from(v).unwrap_or(i64::MAX)),
            likes: 0,
            dislikes: 0,
            published,
            updated: summary.updated.as_ref().map_or(published, unix),
        };
        self.db().put_video(&row).await?;
        info!(video = %id, "remote video stored");
        self.remote_video_stored().await;
        Ok(())
    }

    /// A `Delete` of a video: its row goes (the document is a `Tombstone` already).
    async fn on_delete(&self, incoming: Incoming) -> Result<()> {
        let Some(id) = incoming.object.id() else {
            return Ok(());
        };
        if self.state().is_local(id.as_str())
            || !activitypub_core::origin::same_origin(id, &incoming.actor)
        {
            return Ok(());
        }
        if self.on_playlist_delete(id, &incoming.actor).await? {
            return Ok(());
        }
        if let Some(video) = self.db().video(id.as_str()).await? {
            // Only its account or its channel deletes it, as PeerTube sends it (another
            // account of the same server may not).
            if incoming.actor.as_str() != video.account && incoming.actor.as_str() != video.channel
            {
                warn!(video = %id, actor = %incoming.actor, "a Delete of someone else's video; kept");
                return Ok(());
            }
            // A mirror of it stops (the origin is told, though it deleted the video).
            self.forget_mirror(id.as_str()).await?;
            self.db().delete_video(id.as_str()).await?;
            self.playlists_holding_changed(id.as_str()).await?;
            info!(video = %id, "remote video deleted");
        }
        Ok(())
    }

    /// A like or dislike of a local video: one per actor, the last one counts.
    async fn on_rate(&self, incoming: Incoming, rate: &str) -> Result<()> {
        let Some(id) = incoming.object.id() else {
            return Ok(());
        };
        let Some(video) = self.db().video(id.as_str()).await? else {
            return Ok(());
        };
        if !video.local {
            return Ok(());
        }
        let Some(activity) = incoming.activity.props.id.as_ref() else {
            return Ok(());
        };
        self.db()
            .put_rate(&video.id, incoming.actor.as_str(), rate, activity.as_str())
            .await
    }

    /// `Undo` of a like or dislike, or of a `Create(CacheFile)` (a copy withdrawn).
    async fn on_undo(&self, incoming: Incoming) -> Result<()> {
        if let Some(id) = incoming.object.id() {
            self.db()
                .remove_rate(id.as_str(), incoming.actor.as_str())
                .await?;
        }
        if let Ok(undo) = serde_json::from_slice::<serde_json::Value>(&incoming.body) {
            self.undo_cache_file(&undo, &incoming.actor).await?;
        }
        Ok(())
    }
}
