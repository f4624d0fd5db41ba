//! The relay's state: the federation pieces `instance-server` made, the tag actors and the
//! subscriptions, and relaying a post to the followers of its tags.

use std::sync::Arc;

use activitypub_core::Iri;
use activitypub_core::origin::same_origin;
use anyhow::{Result, anyhow};
use instance_server::{INSTANCE_ACTOR, Parts, WithParts};
use instance_state::actors::{ActorKind, LocalActor, NewActor};
use instance_state::follows::FollowState;
use instance_state::objects::{Addressing, Visibility};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use crate::RelayOptions;
use crate::db;
use crate::tags::{actor_name, tag_of};

/// The public collection.
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The most `tag` entries of a post read (the network decides how many there are).
const MAX_TAG_ENTRIES: usize = 100;

/// The most subscribers looked through when checking a sender.
const MAX_SUBSCRIBERS: u64 = 100_000;

/// The rate limiter of the posts each server has relayed.
const POSTS_LIMIT: &str = "tag-relay-posts";

/// The most announces withdrawn when their author is deleted (the latest ones).
const MAX_WITHDRAWN_PER_AUTHOR: i64 = 10_000;

/// The kinds of posts relayed.
const POST_TYPES: &[&str] = &["Note", "Article", "Page", "Question"];

/// The relay's state, shared by the routes and the inbox handlers.
#[derive(Clone)]
pub struct Relay(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("base_url", &self.0.parts.base_url.as_str())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) parts: Parts,
    pub(crate) options: RelayOptions,
}

impl WithParts for Relay {
    fn parts(&self) -> &Parts {
        &self.0.parts
    }
}

/// What became of a post sent to the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Relayed {
    /// Announced by these tag actors (those of its tags with followers, not announced yet).
    Announced(Vec<String>),
    /// Not relayed, and why.
    Dropped(&'static str),
}

impl Relay {
    pub(crate) fn new(parts: Parts, options: RelayOptions) -> Self {
        Self(Arc::new(Inner { parts, options }))
    }

    /// The current time in Unix microseconds (instance-state's clock).
    pub(crate) fn now(&self) -> i64 {
        self.state().options().clock.now()
    }

    /// The actor of tag `name` (an actor name, `tag-climate`), made now when it is a valid tag
    /// actor's name and the relay has fewer than [`RelayOptions::max_tags`]; `None` otherwise.
    pub async fn tag_actor(&self, name: &str) -> Result<Option<LocalActor>> {
        if let Some(actor) = self.state().actor(name).await? {
            return Ok(Some(actor));
        }
        let Some(tag) = tag_of(name) else {
            return Ok(None);
        };
        if self.state().actor_count(ActorKind::Group).await? >= self.0.options.max_tags {
            warn!(
                %tag,
                max = self.0.options.max_tags,
                "no more tag actors are made"
            );
            return Ok(None);
        }
        let new = NewActor::new(name, ActorKind::Group, format!("#{tag}")).with_summary(format!(
            "<p>Public posts with the hashtag #{tag}, from the servers subscribed to this relay. \
             Follow to receive them.</p>"
        ));
        match self.state().create_actor(new).await {
            Ok(actor) => {
                info!(%tag, "tag actor made");
                Ok(Some(actor))
            }
            // Made by a lookup at the same time.
            Err(instance_state::Error::NameTaken { .. }) => Ok(self.state().actor(name).await?),
            Err(error) => Err(error.into()),
        }
    }

    /// Whether `actor` is on a subscribed server: one of the accepted followers of the relay's
    /// instance actor is on its origin.
    pub(crate) async fn is_subscribed(&self, actor: &Iri) -> Result<bool> {
        Ok(self.subscriber_of(actor).await?.is_some())
    }

    /// The subscriber on `actor`'s origin, if any.
    pub(crate) async fn subscriber_of(&self, actor: &Iri) -> Result<Option<String>> {
        let me = self.instance_actor().to_string();
        let subscribers = self
            .state()
            .followers(&me, FollowState::Accepted, 0, MAX_SUBSCRIBERS)
            .await?;
        Ok(subscribers.into_iter().map(|f| f.follower).find(|s| {
            Iri::parse(s.as_str()).is_ok_and(|subscriber| same_origin(&subscriber, actor))
        }))
    }

    /// Counts one post of `actor`'s server against its allowance: `false` when it has none
    /// left (GCRA over instance-state's shared limiter times, in microseconds).
    async fn within_rate(&self, actor: &Iri) -> Result<bool> {
        let Some(origin) = activitypub_core::origin::Origin::of(actor) else {
            return Ok(false);
        };
        let key = origin.to_string();
        let per_minute = i64::from(self.0.options.posts_per_minute.max(1));
        let interval = 60_000_000 / per_minute;
        // A burst of `per_minute` posts: the allowance's time may run that far ahead, less one.
        let tolerance = interval * (per_minute - 1);
        let now = self.now();
        let at = self
            .state()
            .limit_time(POSTS_LIMIT, &key)
            .await?
            .unwrap_or(now);
        if at.saturating_sub(now) > tolerance {
            return Ok(false);
        }
        self.state()
            .advance_limit(POSTS_LIMIT, &key, now, interval)
            .await?;
        Ok(true)
    }

    /// Relays `post`, a post of `author` whose authenticity the caller established (the inbox
    /// handlers do): when it is public and its server has allowance left, each of its first
    /// hashtags whose actor has followers announces it (once).
    pub async fn relay_post(&self, post: &Value, author: &Iri) -> Result<Relayed> {
        let Some(id) = post.get("id").and_then(Value::as_str) else {
            return Ok(Relayed::Dropped("no id"));
        };
        let kind = post.get("type").and_then(Value::as_str).unwrap_or_default();
        if !POST_TYPES.contains(&kind) {
            return Ok(Relayed::Dropped("not a post"));
        }
        // Never a post for followers or for some people: only what its author made public.
        if Addressing::of(post).visibility() != Visibility::Public {
            debug!(post = %id, "a post that is not public; not relayed");
            return Ok(Relayed::Dropped("not public"));
        }
        if self.state().is_blocked(None, author.as_str()).await? {
            info!(post = %id, %author, "a post of an actor or domain blocked here; not relayed");
            return Ok(Relayed::Dropped("blocked here"));
        }
        let names: Vec<String> = activitypub_core::hashtag::names_in(post, MAX_TAG_ENTRIES)
            .iter()
            .filter_map(|tag| actor_name(tag))
            .take(self.0.options.max_tags_per_post)
            .collect();
        if names.is_empty() {
            return Ok(Relayed::Dropped("no hashtag"));
        }
        if !self.within_rate(author).await? {
            info!(post = %id, %author, "a server over its allowance; not relayed");
            return Ok(Relayed::Dropped("over the allowance"));
        }
        let mut announced = Vec::new();
        for name in names {
            let Some(actor) = self.state().actor(&name).await? else {
                continue;
            };
            let actor_id = self.actor_id(&actor.name).to_string();
            if actor.deleted
                || self
                    .state()
                    .follower_count(&actor_id, FollowState::Accepted)
                    .await?
                    == 0
            {
                continue;
            }
            let claim = db::Announced {
                post: id.to_owned(),
                tag: actor.name.clone(),
                activity: self.state().new_id("activities").to_string(),
            };
            if !db::claim_announce(self.state(), &claim, author.as_str(), self.now()).await? {
                continue;
            }
            self.announce(&claim).await?;
            announced.push(actor.name);
        }
        if !announced.is_empty() {
            info!(post = %id, tags = ?announced, "post relayed");
        }
        Ok(Relayed::Announced(announced))
    }

    /// The tag actor announces the post to its followers (through the queue, one delivery per
    /// shared inbox), publicly as a boost is.
    async fn announce(&self, announced: &db::Announced) -> Result<()> {
        let announce = self.announce_document(announced);
        self.state()
            .publish(self.outbox(), &announced.tag, announce, None)
            .await
            .map_err(|e| anyhow!("announcing {} from {}: {e}", announced.post, announced.tag))?;
        Ok(())
    }

    fn announce_document(&self, announced: &db::Announced) -> Value {
        let actor = self.actor_id(&announced.tag);
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": announced.activity,
            "type": "Announce",
            "actor": actor.as_str(),
            "published": time_now(self.now()),
            "to": [PUBLIC],
            "cc": [format!("{actor}/followers")],
            "object": announced.post,
        })
    }

    /// Withdraws the announces of `post`, deleted by `deleter` (the inbox checked that its
    /// server signed the `Delete`): each tag actor that announced it sends `Undo` of its
    /// `Announce` to its followers, as a server undoes a boost. Mastodon then removes the boost;
    /// a pod asks the post's server again and drops the post when it is gone.
    pub(crate) async fn withdraw_post(&self, post: &Iri, deleter: &Iri) -> Result<usize> {
        if !same_origin(post, deleter) {
            debug!(%post, %deleter, "a Delete from another server than the post's; ignored");
            return Ok(0);
        }
        // Only its author withdraws it: another account of its server may not.
        let withdrawn =
            db::withdraw_post(self.state(), post.as_str(), deleter.as_str(), self.now()).await?;
        self.undo_announces(&withdrawn).await?;
        if !withdrawn.is_empty() {
            info!(%post, tags = withdrawn.len(), "announces of a deleted post withdrawn");
        }
        Ok(withdrawn.len())
    }

    /// Withdraws the announces of the posts of `author`, an actor deleted at its server: the
    /// latest [`MAX_WITHDRAWN_PER_AUTHOR`] (older ones stay announced; logged).
    pub(crate) async fn withdraw_author(&self, author: &Iri) -> Result<usize> {
        let withdrawn = db::withdraw_author(
            self.state(),
            author.as_str(),
            self.now(),
            MAX_WITHDRAWN_PER_AUTHOR,
        )
        .await?;
        self.undo_announces(&withdrawn).await?;
        if !withdrawn.is_empty() {
            info!(%author, announces = withdrawn.len(), "announces of a deleted actor withdrawn");
        }
        if i64::try_from(withdrawn.len()).is_ok_and(|n| n >= MAX_WITHDRAWN_PER_AUTHOR) {
            warn!(%author, "more announces of a deleted actor than are withdrawn at once");
        }
        Ok(withdrawn.len())
    }

    /// Sends `Undo` of each of `announces` from its tag actor.
    async fn undo_announces(&self, announces: &[db::Announced]) -> Result<()> {
        for announced in announces {
            let actor = self.actor_id(&announced.tag);
            let mut announce = self.announce_document(announced);
            if let Some(map) = announce.as_object_mut() {
                map.remove("@context");
                map.remove("published");
            }
            let undo = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{}/undo", announced.activity),
                "type": "Undo",
                "actor": actor.as_str(),
                "to": [PUBLIC],
                "cc": [format!("{actor}/followers")],
                "object": announce,
            });
            self.state()
                .publish(self.outbox(), &announced.tag, undo, None)
                .await
                .map_err(|e| {
                    anyhow!("withdrawing {} from {}: {e}", announced.post, announced.tag)
                })?;
        }
        Ok(())
    }

    /// The relay's instance actor accepts `follower`'s subscription (its `Follow` of the
    /// public collection or of the instance actor, `follow_id`).
    pub(crate) async fn accept_subscription(&self, follower: &str, follow_id: &str) -> Result<()> {
        let me = self.instance_actor().to_string();
        let state = self.state();
        if state.is_blocked(None, follower).await? {
            state
                .put_follow(follower, &me, follow_id, FollowState::Rejected)
                .await?;
            state
                .reject_follower(self.outbox(), INSTANCE_ACTOR, follower)
                .await?;
            info!(%follower, "subscription refused");
            return Ok(());
        }
        state
            .put_follow(follower, &me, follow_id, FollowState::Accepted)
            .await?;
        state
            .accept_follower(self.outbox(), INSTANCE_ACTOR, follower)
            .await?;
        info!(%follower, "subscribed");
        Ok(())
    }

    /// `follower` unsubscribes.
    pub(crate) async fn end_subscription(&self, follower: &str) -> Result<()> {
        let me = self.instance_actor().to_string();
        if self.state().remove_follow(follower, &me).await? {
            info!(%follower, "unsubscribed");
        }
        Ok(())
    }

    /// What the relay holds: its subscribers, tag actors and announces.
    pub async fn stats(&self) -> Result<Value> {
        let me = self.instance_actor().to_string();
        Ok(json!({
            "subscribers": self.state().follower_count(&me, FollowState::Accepted).await?,
            "tags": self.state().actor_count(ActorKind::Group).await?,
            "announced": db::announce_count(self.state()).await?,
        }))
    }
}

/// `now` (Unix microseconds) as an ActivityStreams date.
fn time_now(now: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
