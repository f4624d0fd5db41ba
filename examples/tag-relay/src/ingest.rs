//! The inbox: instance-state's handlers for the social graph (a `Follow` of a tag actor or of
//! the instance actor accepted at once, `Undo`s, blocks, deletions of actors), the relay's for
//! subscriptions (a `Follow` of the public collection, Mastodon's relay subscription, and its
//! `Undo`), and the posts subscribed servers send: `Create` by the post's author (the inbox
//! checked that its server signed it, and an embedded post from another server is fetched from
//! there), and `Announce` by a subscribed LitePub relay (the post fetched from its server).

use activitypub_core::{ActivityType, AnyObject, Iri};
use anyhow::{Context, Result};
use federation::inbox::{Dispatcher, Forward, HandlerError, Incoming, Vouch};
use federation::keys::KeyCache;
use federation::outbox::Outbox;
use federation::relayed;
use instance_server::ErasedQueue;
use instance_state::InstanceState;
use instance_state::handlers::{Social, social_handlers};
use tracing::{debug, info};

use crate::app::Relay;

/// The public collection, in the forms a `Follow` of it names it.
const PUBLIC: &[&str] = &[
    "https://www.w3.org/ns/activitystreams#Public",
    "as:Public",
    "Public",
];

fn failed(error: anyhow::Error) -> HandlerError {
    HandlerError::Failed(error.into())
}

/// The inbox's handlers.
pub(crate) fn dispatcher() -> Dispatcher<Relay> {
    social_handlers(Dispatcher::new())
        .on(ActivityType::Create, |relay: Relay, incoming| async move {
            relay.on_create(incoming).await.map_err(failed)
        })
        .on(ActivityType::Announce, |relay: Relay, incoming| async move {
            relay.on_announce(incoming).await.map_err(failed)
        })
}

impl Social for Relay {
    type Queue = ErasedQueue;

    fn state(&self) -> &InstanceState {
        &self.0.parts.state
    }

    fn outbox(&self) -> &Outbox<ErasedQueue> {
        &self.0.parts.outbox
    }

    fn keys(&self) -> Option<&KeyCache> {
        Some(&self.0.parts.keys)
    }

    /// A `Follow` of the public collection (a subscription), and its `Undo`; a `Delete` of a
    /// post (its announces withdrawn); an `Update` of a post (relayed as a `Create` is: the
    /// tags it gained are announced, the others were already).
    async fn unhandled(&self, incoming: Incoming) -> Result<(), HandlerError> {
        match incoming.activity.kind {
            ActivityType::Follow => self.on_subscribe(incoming).await,
            ActivityType::Undo => self.on_unsubscribe(incoming).await,
            ActivityType::Delete => self.on_delete(incoming).await,
            ActivityType::Update => self.on_create(incoming).await,
            _ => Ok(()),
        }
        .map_err(failed)
    }

    /// A forward (signed over HTTP by someone other than its actor) that is not a passed-on
    /// `Move`: a subscriber's, vouched for in `forwarded.rs`.
    async fn forwarded(&self, forward: Forward) -> Result<Vouch, HandlerError> {
        self.vouch_for_forward(forward).await.map_err(failed)
    }

    /// An author deleted at its server: the announces of their posts withdrawn.
    async fn actor_deleted(&self, actor: &Iri) -> Result<(), HandlerError> {
        self.withdraw_author(actor).await.map_err(failed)?;
        Ok(())
    }
}

/// Whether `id` names the public collection.
fn is_public(id: &str) -> bool {
    PUBLIC.contains(&id)
}

impl Relay {
    /// A `Follow` of the public collection: a server subscribing, as to a Mastodon relay.
    async fn on_subscribe(&self, incoming: Incoming) -> Result<()> {
        if !incoming
            .object
            .id()
            .is_some_and(|id| is_public(id.as_str()))
        {
            return Ok(());
        }
        let Some(follow_id) = incoming.activity.props.id.as_ref().map(ToString::to_string) else {
            return Ok(());
        };
        self.accept_subscription(incoming.actor.as_str(), &follow_id)
            .await
    }

    /// An `Undo` of a `Follow` of the public collection.
    async fn on_unsubscribe(&self, incoming: Incoming) -> Result<()> {
        let undoes_subscription = match incoming.object.object() {
            Some(AnyObject::Activity(inner)) => {
                inner.kind == ActivityType::Follow
                    && inner.object_id().is_some_and(|id| is_public(id.as_str()))
            }
            _ => false,
        };
        if undoes_subscription {
            self.end_subscription(incoming.actor.as_str()).await?;
        }
        Ok(())
    }

    /// A `Delete` of a post (the inbox checked that the post is on the server that signed
    /// it): its announces withdrawn, from whoever it comes on that server (a moderator's
    /// deletion too).
    async fn on_delete(&self, incoming: Incoming) -> Result<()> {
        let Some(post) = incoming.object.id() else {
            return Ok(());
        };
        self.withdraw_post(post, &incoming.actor).await?;
        Ok(())
    }

    /// A `Create` (or `Update`) of a post by its author, on a subscribed server, or forwarded
    /// by a subscriber (vouched for by `forwarded.rs`, with its post as believed): relayed.
    async fn on_create(&self, incoming: Incoming) -> Result<()> {
        let forwarded = incoming.key.owner != incoming.actor;
        if !forwarded && !self.is_subscribed(&incoming.actor).await? {
            debug!(actor = %incoming.actor, "a post from a server not subscribed; not relayed");
            return Ok(());
        }
        let document = match incoming.object.object() {
            Some(object) => serde_json::to_value(object).context("reading a received post")?,
            None => {
                // Passed on by id (or from another server): believed from its own server.
                let Some(id) = incoming.object.id() else {
                    return Ok(());
                };
                let mut budget = incoming.budget.clone();
                match relayed::verify_announced(id, &self.0.parts.fetcher, &mut budget).await {
                    Ok(post) => post.object,
                    Err(error) => {
                        info!(post = %id, %error, "a post its server does not serve; not relayed");
                        return Ok(());
                    }
                }
            }
        };
        if relayed::attributed_to(&document).as_ref() != Some(&incoming.actor) {
            info!(actor = %incoming.actor, "a Create of someone else's post; not relayed");
            return Ok(());
        }
        let outcome = self.relay_post(&document, &incoming.actor).await?;
        debug!(actor = %incoming.actor, ?outcome, "a post received");
        Ok(())
    }

    /// An `Announce` of a post by a subscriber (a LitePub relay subscribed by following the
    /// instance actor): the post, fetched from its own server, relayed.
    async fn on_announce(&self, incoming: Incoming) -> Result<()> {
        let me = instance_server::WithParts::instance_actor(self).to_string();
        let subscribed = self
            .state()
            .follow(incoming.actor.as_str(), &me)
            .await?
            .is_some_and(|f| f.state == instance_state::follows::FollowState::Accepted);
        if !subscribed {
            debug!(actor = %incoming.actor, "an Announce from someone not subscribed; ignored");
            return Ok(());
        }
        let Some(id) = incoming.object.id().cloned() else {
            return Ok(());
        };
        if self.state().is_local(id.as_str()) {
            return Ok(());
        }
        let mut budget = incoming.budget.clone();
        match relayed::verify_announced(&id, &self.0.parts.fetcher, &mut budget).await {
            Ok(post) => {
                self.relay_post(&post.object, &post.actor).await?;
            }
            Err(error) => info!(post = %id, %error, "an announced post refused"),
        }
        Ok(())
    }
}
