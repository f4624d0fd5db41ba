//! The inbox: what the followed instances send. instance-state's handlers for the social
//! graph (accepts of the index's follows, undos, blocks, deletions of actors), and the index's
//! own for `Follow` (an instance asking to be indexed) and for videos: `Create`, `Update`,
//! `Announce` and `Delete`.
//!
//! A video is taken only from a followed source (the index's instance actor follows an actor
//! of the sender's server), only when it lives on the sender's server (a server speaks for
//! its own videos), only when its account and channel are on that server too, and only when
//! it is public by its addressing. It is then stored whatever the eligibility rules say (the
//! stored videos are the source of truth), and listed if they let it through.

use activitypub_core::ext::peertube::{VideoSummary, video_of};
use activitypub_core::origin::same_origin;
use activitypub_core::{ActivityType, AnyObject, Iri, Video};
use anyhow::{Context, Result};
use federation::fetch::FetchBudget;
use federation::inbox::{Dispatcher, HandlerError, Incoming};
use federation::keys::KeyCache;
use federation::outbox::Outbox;
use instance_server::{ErasedQueue, INSTANCE_ACTOR};
use instance_state::InstanceState;
use instance_state::follows::FollowState;
use instance_state::handlers::{Social, social_handlers};
use instance_state::objects::{Addressing, Visibility};
use tracing::{debug, info, warn};
use url::Url;

use crate::app::{Index, authority};
use crate::db::StoredVideo;

fn failed(error: anyhow::Error) -> HandlerError {
    HandlerError::Failed(error.into())
}

/// What became of a received video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// Stored and listed.
    Listed,
    /// Stored, not listed: the rules leave it out.
    Ineligible,
    /// Not stored: unsolicited, from another server, not public, malformed or outdated.
    Dropped,
}

/// The inbox's handlers.
pub(crate) fn dispatcher() -> Dispatcher<Index> {
    social_handlers(Dispatcher::new())
        // Replaces instance-state's: the index has its own policy (hosts the rules deny are
        // refused; instance actors are followed back when the host allows it).
        .on(ActivityType::Follow, |index: Index, incoming| async move {
            index.on_follow(incoming).await.map_err(failed)
        })
        // Replaces instance-state's too: an actor's own update also refreshes the index's copy
        // of a channel or account (its name in the answers), which that one does not know of.
        .on(ActivityType::Update, |index: Index, incoming| async move {
            index.on_update(incoming).await.map_err(failed)
        })
        .on(ActivityType::Create, |index: Index, incoming| async move {
            index
                .on_create_or_update(incoming)
                .await
                .map(|_| ())
                .map_err(failed)
        })
        .on(ActivityType::Announce, |index: Index, incoming| async move {
            index.on_announce(incoming).await.map_err(failed)
        })
}

impl Social for Index {
    type Queue = ErasedQueue;

    fn state(&self) -> &InstanceState {
        self.db().state()
    }

    fn outbox(&self) -> &Outbox<ErasedQueue> {
        &self.0.parts.outbox
    }

    fn keys(&self) -> Option<&KeyCache> {
        Some(&self.0.parts.keys)
    }

    /// `Delete` of a video.
    async fn unhandled(&self, incoming: Incoming) -> Result<(), HandlerError> {
        match incoming.activity.kind {
            ActivityType::Delete => self.on_delete(incoming).await,
            _ => Ok(()),
        }
        .map_err(failed)
    }

    /// An actor deleted: its videos leave the index.
    async fn actor_deleted(&self, actor: &Iri) -> Result<(), HandlerError> {
        self.remove_actor(actor.as_str()).await.map_err(failed)
    }
}

impl Index {
    /// A `Follow` of the index's instance actor: accepted, unless the follower is blocked or
    /// its host denied; an instance actor (`Application` or `Service`) is followed back when
    /// [`crate::IndexOptions::follow_back`] is on. Following a person back would let any
    /// account make the index take its whole server.
    async fn on_follow(&self, incoming: Incoming) -> Result<()> {
        let me = instance_server::WithParts::instance_actor(self);
        if incoming.object.id().map(Iri::as_str) != Some(me.as_str()) {
            return Ok(());
        }
        let Some(follow_id) = incoming.activity.props.id.as_ref().map(ToString::to_string) else {
            return Ok(());
        };
        let follower = incoming.actor.to_string();
        let state = self.state();
        if state.is_blocked(Some(me.as_str()), &follower).await?
            || self.rules().denies_host(&authority(&follower))
        {
            state
                .put_follow(&follower, me.as_str(), &follow_id, FollowState::Rejected)
                .await?;
            state
                .reject_follower(&self.0.parts.outbox, INSTANCE_ACTOR, &follower)
                .await?;
            info!(%follower, "follow refused");
            return Ok(());
        }
        state
            .put_follow(&follower, me.as_str(), &follow_id, FollowState::Accepted)
            .await?;
        state
            .accept_follower(&self.0.parts.outbox, INSTANCE_ACTOR, &follower)
            .await?;
        let is_instance = self
            .0
            .parts
            .keys
            .cached_actor(&follower)
            .is_some_and(|remote| matches!(remote.actor.kind.as_str(), "Application" | "Service"));
        if self.0.options.follow_back && is_instance {
            let target = Url::parse(&follower)?;
            self.follow_instance(&target).await?;
        }
        Ok(())
    }

    /// `Update`: of an actor by itself (its keys dropped from the cache, its copy here and its
    /// videos' entries refreshed when the index holds it), else of a video.
    async fn on_update(&self, incoming: Incoming) -> Result<()> {
        if incoming.object.id() != Some(&incoming.actor) {
            return self.on_create_or_update(incoming).await.map(|_| ());
        }
        self.0.parts.keys.invalidate(incoming.actor.as_str());
        // The embedded actor is its own server's word (same origin): believed.
        if let Some(actor @ AnyObject::Actor(_)) = incoming.object.object() {
            let document = serde_json::to_value(actor).context("writing an updated actor")?;
            self.refresh_actor(&incoming.actor, &document).await?;
        }
        Ok(())
    }

    /// `Create` or `Update` of a video: the embedded video when its server sent it, else
    /// fetched from its origin.
    async fn on_create_or_update(&self, incoming: Incoming) -> Result<Received> {
        let mut budget = incoming.budget.clone();
        let fetched;
        let object = match incoming.object.object() {
            Some(object) => object,
            None => {
                let Some(id) = incoming.object.id() else {
                    return Ok(Received::Dropped);
                };
                if self.state().is_local(id.as_str()) || !same_origin(id, &incoming.actor) {
                    return Ok(Received::Dropped);
                }
                fetched = self.fetch(id, &mut budget).await?;
                &fetched
            }
        };
        let Some(video) = video_of(object) else {
            return Ok(Received::Dropped);
        };
        self.receive_video(video, &incoming.actor, &mut budget)
            .await
    }

    /// `Announce` of a video by a followed actor of the video's own server: fetched from its
    /// origin unless stored already. An announce of another server's video is refused: the
    /// index takes a server's word for its own videos only.
    async fn on_announce(&self, incoming: Incoming) -> Result<()> {
        let Some(id) = incoming.object.id().cloned() else {
            return Ok(());
        };
        if !same_origin(&id, &incoming.actor) {
            info!(actor = %incoming.actor, video = %id, "an announce of another server's object; refused");
            return Ok(());
        }
        if !self.is_followed(&incoming.actor).await? {
            debug!(actor = %incoming.actor, "an announce from an instance not followed");
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
        if let Some(video) = video_of(&object) {
            self.receive_video(video, &incoming.actor, &mut budget)
                .await?;
        }
        Ok(())
    }

    /// `Delete` of a video (by an actor of its server: the inbox checked it).
    async fn on_delete(&self, incoming: Incoming) -> Result<()> {
        let Some(id) = incoming.object.id() else {
            return Ok(());
        };
        if !same_origin(id, &incoming.actor) {
            return Ok(());
        }
        // Only its account or its channel deletes it, as PeerTube sends it (another account of
        // the same server may not).
        if let Some(video) = self.db().video(id.as_str()).await?
            && incoming.actor.as_str() != video.account
            && incoming.actor.as_str() != video.channel
        {
            warn!(video = %id, actor = %incoming.actor, "a Delete of someone else's video; kept");
            return Ok(());
        }
        self.remove_video(id.as_str()).await?;
        Ok(())
    }

    /// Whether what `actor` sends is followed: the instance actor follows (accepted) an actor
    /// of its server.
    async fn is_followed(&self, actor: &Iri) -> Result<bool> {
        Ok(self
            .state()
            .is_followed_source(actor, Some(INSTANCE_ACTOR))
            .await?)
    }

    /// Fetches `id` from its origin within `budget`.
    async fn fetch(&self, id: &Iri, budget: &mut FetchBudget) -> Result<AnyObject> {
        let url = Url::parse(id.as_str())?;
        let fetched = self.0.parts.fetcher.fetch(&url, budget).await?;
        Ok(fetched.object().clone())
    }

    /// A video `sender` vouches for: checked, stored, and listed if the rules let it through.
    pub(crate) async fn receive_video(
        &self,
        video: &Video,
        sender: &Iri,
        budget: &mut FetchBudget,
    ) -> Result<Received> {
        let Some(id) = video.props.id.clone() else {
            return Ok(Received::Dropped);
        };
        if !same_origin(&id, sender) {
            info!(video = %id, %sender, "a video vouched for by another server; refused");
            return Ok(Received::Dropped);
        }
        if !self.is_followed(sender).await? {
            debug!(video = %id, %sender, "a video from an instance not followed; dropped");
            return Ok(Received::Dropped);
        }
        let summary = match VideoSummary::read(video) {
            Ok(summary) => summary,
            Err(error) => {
                info!(video = %id, %error, "a video refused");
                return Ok(Received::Dropped);
            }
        };
        let (Some(account), Some(channel)) = (summary.account(), summary.channel()) else {
            info!(video = %id, "a video without its account and channel; refused");
            return Ok(Received::Dropped);
        };
        if !(same_origin(account, &id) && same_origin(channel, &id)) {
            info!(video = %id, "a video attributed to another server's actors; refused");
            return Ok(Received::Dropped);
        }
        let document = serde_json::to_value(video).context("writing a received video")?;
        if Addressing::of(&document).visibility() != Visibility::Public {
            // Made private or unlisted: out of the index if it was in.
            self.remove_video(id.as_str()).await?;
            return Ok(Received::Dropped);
        }
        let published = summary.published.time().unix_timestamp();
        let updated = summary
            .updated
            .as_ref()
            .map_or(published, |t| t.time().unix_timestamp());
        if let Some(stored) = self.db().video(id.as_str()).await?
            && stored.updated > updated
        {
            debug!(video = %id, "an older version than the one stored; ignored");
            return Ok(Received::Dropped);
        }
        let stored = StoredVideo {
            id: id.to_string(),
            host: authority(id.as_str()),
            account: account.to_string(),
            channel: channel.to_string(),
            updated,
            document,
        };
        self.db().put_video(&stored, self.now()).await?;
        self.cache_actor(channel, budget).await?;
        self.cache_actor(account, budget).await?;
        Ok(if self.apply(&stored).await? {
            info!(video = %id, "video listed");
            Received::Listed
        } else {
            Received::Ineligible
        })
    }
}
