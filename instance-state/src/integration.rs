//! What `federation` and `federation-queue` ask an app for, and publishing through the outbox.

use std::sync::{Arc, PoisonError};

use activitypub_core::{AnyObject, Iri};
use federation::inbox::{InboxStore, StoreError};
use federation::outbox::{Audience, DeliveryReport, Enqueuer, Outbox, OutboxError};
use federation_queue::{KeyLookupError, KeyProvider};
use http_signatures::Signer;
use serde_json::{Value, json};
use tracing::{debug, info};

use crate::error::Error;
use crate::follows::FollowState;
use crate::objects::{Addressing, PUBLIC};
use crate::{InstanceState, KeyChoice};

/// Publishing an activity failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// Storing it, or reading what it needs, failed.
    #[error(transparent)]
    State(#[from] Error),
    /// It could not be read as an activity.
    #[error("the activity to publish cannot be read: {0}")]
    Activity(#[source] activitypub_core::ParseError),
    /// Enqueueing its deliveries failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

fn store_error(doing: &'static str) -> impl FnOnce(Error) -> StoreError {
    move |e| StoreError::new(doing, e)
}

impl InboxStore for InstanceState {
    async fn record(&self, activity_id: &str) -> Result<bool, StoreError> {
        self.record_processed(activity_id)
            .await
            .map_err(store_error("recording an activity"))
    }

    async fn forget(&self, activity_id: &str) -> Result<(), StoreError> {
        self.forget_processed(activity_id)
            .await
            .map_err(store_error("forgetting an activity"))
    }

    async fn knows_actor(&self, actor: &str) -> Result<bool, StoreError> {
        InstanceState::knows_actor(self, actor)
            .await
            .map_err(store_error("looking an actor up"))
    }

    async fn refuses(&self, iri: &str) -> Result<bool, StoreError> {
        // A key id names its actor with a fragment (`#main-key`): the actor is what is blocked.
        let actor = iri.split_once('#').map_or(iri, |(actor, _)| actor);
        self.is_blocked(None, actor)
            .await
            .map_err(store_error("checking blocks"))
    }
}

impl Audience for InstanceState {
    /// The accepted followers of a local actor, for `{actor}/followers`, less the actors the
    /// instance or that actor blocks; `None` for anything else (the app's own collections are
    /// its to expand: wrap this).
    async fn expand(&self, collection: &Iri) -> Result<Option<Vec<Iri>>, StoreError> {
        let Some(actor) = collection.as_str().strip_suffix("/followers") else {
            return Ok(None);
        };
        if self.local_name(actor).is_none() {
            return Ok(None);
        }
        let followers = self
            .followers(actor, FollowState::Accepted, 0, u64::MAX)
            .await
            .map_err(store_error("reading followers"))?;
        // One read of the blocks for the whole list, however long.
        let blocked = self
            .block_list(Some(actor))
            .await
            .map_err(store_error("reading blocks"))?;
        Ok(Some(
            followers
                .into_iter()
                .filter(|follow| !blocked.blocks(&follow.follower))
                .filter_map(|follow| Iri::parse(follow.follower).ok())
                .collect(),
        ))
    }
}

impl KeyProvider for InstanceState {
    /// The signer of local actor `key_ref` (its name), with the key [`Options::signing_key`]
    /// chooses; `name#main-key` and `name#ed25519-key` choose one.
    ///
    /// [`Options::signing_key`]: crate::Options::signing_key
    async fn signer(&self, key_ref: &str) -> Result<Arc<Signer>, KeyLookupError> {
        if let Some(signer) = self
            .inner
            .signers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key_ref)
        {
            return Ok(signer.clone());
        }
        let (name, choice) = match key_ref.split_once('#') {
            Some((name, "main-key")) => (name, KeyChoice::Rsa),
            Some((name, "ed25519-key")) => (name, KeyChoice::Ed25519),
            Some(_) => {
                return Err(KeyLookupError::NotFound {
                    key_ref: key_ref.to_owned(),
                });
            }
            None => (key_ref, self.options().signing_key),
        };
        let keys = match self.signing_keys(name).await {
            Ok(Some(keys)) => keys,
            Ok(None) => {
                return Err(KeyLookupError::NotFound {
                    key_ref: key_ref.to_owned(),
                });
            }
            Err(error) => {
                return Err(KeyLookupError::Unavailable {
                    key_ref: key_ref.to_owned(),
                    source: Box::new(error),
                });
            }
        };
        let id = self.actor_id(name);
        let signer = match choice {
            KeyChoice::Ed25519 => Signer::new(keys.ed25519, format!("{id}#ed25519-key")),
            _ => Signer::new(keys.rsa, format!("{id}#main-key")),
        };
        let signer = Arc::new(signer.with_standard(self.options().first_knock));
        self.inner
            .signers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key_ref.to_owned(), signer.clone());
        Ok(signer)
    }
}

impl InstanceState {
    /// Publishes `activity` by local actor `actor_name`: removes from its addressing the
    /// actors the instance or the actor blocks, stores it in the actor's outbox (without `bto`
    /// and `bcc`), and delivers it through `outbox` to everyone it is addressed to (followers
    /// expanded by this state's [`Audience`]), signed with the actor's key. Deliveries sharing
    /// `ordering_key` reach each server in order.
    pub async fn publish<E: Enqueuer>(
        &self,
        outbox: &Outbox<E>,
        actor_name: &str,
        activity: Value,
        ordering_key: Option<&str>,
    ) -> Result<DeliveryReport, PublishError> {
        let activity = self
            .without_blocked_recipients(actor_name, activity)
            .await?;
        self.publish_as_addressed(outbox, actor_name, activity, ordering_key)
            .await
    }

    /// [`InstanceState::publish`] without removing blocked actors: a `Reject` of a blocked
    /// actor's Follow must reach it, or its server keeps the follow pending.
    async fn publish_as_addressed<E: Enqueuer>(
        &self,
        outbox: &Outbox<E>,
        actor_name: &str,
        activity: Value,
        ordering_key: Option<&str>,
    ) -> Result<DeliveryReport, PublishError> {
        // Stored without `bto` and `bcc`, but with them in its addressing rows: their
        // recipients may read it.
        self.put_activity(&activity, true).await?;
        let document = AnyObject::from_value(activity).map_err(PublishError::Activity)?;
        let report = outbox
            .deliver(document, actor_name, ordering_key, self)
            .await?;
        debug!(
            actor = actor_name,
            recipients = report.recipients.len(),
            deliveries = report.deliveries.len(),
            "published"
        );
        Ok(report)
    }

    /// `activity` without the blocked actors among its recipients (`to`, `cc`, `bto`, `bcc`,
    /// `audience`, at the top and in its embedded object), as [`InstanceState::publish`]
    /// sends it. Public so that an app signing the activity itself (a Linked Data signature)
    /// can sign what will be sent: `publish` then finds nothing more to remove.
    pub async fn without_blocked_recipients(
        &self,
        actor_name: &str,
        mut activity: Value,
    ) -> Result<Value, Error> {
        let blocker = self.actor_id(actor_name).to_string();
        let list = self.block_list(Some(&blocker)).await?;
        if list.is_empty() {
            return Ok(activity);
        }
        let in_object = activity
            .get("object")
            .map(Addressing::of)
            .unwrap_or_default();
        let mut blocked: Vec<String> = Addressing::of(&activity)
            .fields_owned()
            .into_iter()
            .chain(in_object.fields_owned())
            .filter(|a| a != PUBLIC && !self.is_local(a) && list.blocks(a))
            .collect();
        blocked.sort();
        blocked.dedup();
        if blocked.is_empty() {
            return Ok(activity);
        }
        info!(
            actor = actor_name,
            blocked = blocked.len(),
            "not addressing blocked actors"
        );
        if let Some(map) = activity.as_object_mut() {
            strip_recipients(map, &blocked);
            if let Some(Value::Object(object)) = map.get_mut("object") {
                strip_recipients(object, &blocked);
            }
        }
        Ok(activity)
    }

    /// A new activity by local actor `actor_name`: `{"@context", id, type, actor, object, to}`.
    pub fn new_activity(&self, kind: &str, actor_name: &str, object: Value, to: &[&str]) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.new_id("activities").as_str(),
            "type": kind,
            "actor": self.actor_id(actor_name).as_str(),
            "object": object,
            "to": to,
        })
    }

    /// Local actor `actor_name` follows `target` (an actor id): records the follow as pending
    /// and sends the `Follow` (a local target answers at once, by its own policy). The follow.
    pub async fn send_follow<E: Enqueuer>(
        &self,
        outbox: &Outbox<E>,
        actor_name: &str,
        target: &str,
    ) -> Result<crate::follows::Follow, PublishError> {
        self.live_actor(actor_name).await?;
        let follower = self.actor_id(actor_name).to_string();
        let follow = self.new_activity("Follow", actor_name, json!(target), &[target]);
        let follow_id = follow
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let recorded = self
            .put_follow(&follower, target, &follow_id, FollowState::Pending)
            .await?;
        if let Some(local) = self.local_name(target) {
            // Nothing goes over HTTP between two actors of this server: the target's policy
            // answers here.
            self.put_activity(&follow, true).await?;
            let target_actor = self.live_actor(&local).await?;
            let state = if target_actor.manually_approves_followers {
                self.notify(target, "follow_request", &follower, Some(&follow_id), None)
                    .await?;
                FollowState::Pending
            } else {
                self.notify(target, "follow", &follower, Some(&follow_id), None)
                    .await?;
                FollowState::Accepted
            };
            return Ok(self
                .set_follow_state(&follower, target, state)
                .await?
                .unwrap_or(recorded));
        }
        self.publish(outbox, actor_name, follow, Some(target))
            .await?;
        Ok(recorded)
    }

    /// Local actor `actor_name` stops following `target` (or withdraws its request): sends
    /// `Undo{Follow}` and removes the follow. `false` if it did not follow.
    pub async fn send_unfollow<E: Enqueuer>(
        &self,
        outbox: &Outbox<E>,
        actor_name: &str,
        target: &str,
    ) -> Result<bool, PublishError> {
        let follower = self.actor_id(actor_name).to_string();
        let Some(follow) = self.follow(&follower, target).await? else {
            return Ok(false);
        };
        self.remove_follow(&follower, target).await?;
        if self.local_name(target).is_none() {
            let undo = self.new_activity(
                "Undo",
                actor_name,
                json!({"id": follow.follow_id, "type": "Follow", "actor": follower, "object": target}),
                &[target],
            );
            self.publish(outbox, actor_name, undo, Some(target)).await?;
        }
        Ok(true)
    }

    /// Local actor `actor_name` accepts `follower`'s request (or confirms an accepted follow):
    /// the follow becomes accepted and an `Accept` of it is sent. [`Error::NoSuchFollow`] if
    /// `follower` did not ask.
    pub async fn accept_follower<E: Enqueuer>(
        &self,
        outbox: &Outbox<E>,
        actor_name: &str,
        follower: &str,
    ) -> Result<(), PublishError> {
        self.answer_follower(outbox, actor_name, follower, true)
            .await
    }

    /// Local actor `actor_name` rejects `follower`'s request, or removes an accepted follower:
    /// the follow becomes rejected and a `Reject` of it is sent.
    pub async fn reject_follower<E: Enqueuer>(
        &self,
        outbox: &Outbox<E>,
        actor_name: &str,
        follower: &str,
    ) -> Result<(), PublishError> {
        self.answer_follower(outbox, actor_name, follower, false)
            .await
    }

    async fn answer_follower<E: Enqueuer>(
        &self,
        outbox: &Outbox<E>,
        actor_name: &str,
        follower: &str,
        accept: bool,
    ) -> Result<(), PublishError> {
        self.live_actor(actor_name).await?;
        let followed = self.actor_id(actor_name).to_string();
        let state = if accept {
            FollowState::Accepted
        } else {
            FollowState::Rejected
        };
        let Some(follow) = self.set_follow_state(follower, &followed, state).await? else {
            return Err(Error::NoSuchFollow {
                follower: follower.to_owned(),
                followed,
            }
            .into());
        };
        if self.local_name(follower).is_some() {
            return Ok(());
        }
        // The Follow restated in our words (as Mastodon does), not as received: a received
        // body was written against the sender's `@context` and may carry a proof that no
        // longer verifies once embedded.
        let answer = self.new_activity(
            if accept { "Accept" } else { "Reject" },
            actor_name,
            json!({
                "id": follow.follow_id,
                "type": "Follow",
                "actor": follower,
                "object": followed,
            }),
            &[follower],
        );
        self.publish_as_addressed(outbox, actor_name, answer, None)
            .await?;
        info!(%follower, actor = actor_name, accept, "follow answered");
        Ok(())
    }
}

/// `map`'s recipients (`to`, `cc`, `bto`, `bcc`, `audience`) without the `blocked` ones.
fn strip_recipients(map: &mut serde_json::Map<String, Value>, blocked: &[String]) {
    let is_blocked = |id: &str| blocked.iter().any(|b| b == id);
    for field in ["to", "cc", "bto", "bcc", "audience"] {
        match map.get_mut(field) {
            Some(Value::Array(items)) => items.retain(|item| {
                !item
                    .as_str()
                    .or_else(|| item.get("id").and_then(Value::as_str))
                    .is_some_and(is_blocked)
            }),
            Some(Value::String(id)) if is_blocked(id) => {
                map.insert(field.to_owned(), json!([]));
            }
            _ => {}
        }
    }
}
