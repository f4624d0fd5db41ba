//! Relays: the instance actor subscribes to relays, which forward public posts of the servers
//! subscribed to them, so that hashtags reach people here who follow nobody who wrote them.
//!
//! Two kinds, as the network has them:
//! - **Mastodon-style** (FEP-ae0c): the instance actor sends a `Follow` whose object is the
//!   public collection to the relay's inbox; the relay answers `Accept` (or `Reject`) and
//!   forwards the `Create`s of its subscribers as they were sent, each still naming its author
//!   as `actor` but signed over HTTP by the relay's actor. The federation inbox checks such a
//!   delivery as any other (size, digest, the relay's signature and date, blocks) and asks its
//!   `forwarded` hook, [`Instance::vouch_for_forward`], which vouches for it only when the
//!   signer is the actor of an accepted relay and the post is believed (below); the inbox
//!   then records it once and hands it to the `Create` handler with the post as believed.
//! - **LitePub** (Pleroma): the instance actor follows the relay's actor; the relay follows
//!   back and `Announce`s the posts (by id, or embedded) to its followers.
//!
//! The pod's own public `Create`s, `Announce`s, `Update`s and `Delete`s also go to the inboxes
//! of the accepted Mastodon-style relays ([`Instance::send_to_relays`]), which forward them,
//! LD-signed by their author as they are for everyone (`Instance::publish`);
//! a relay limited to some tags ([`Instance::set_relay_tags`]) gets only the posts with one of
//! them (and every `Delete`).
//!
//! A relayed post is believed only once its authenticity is established (the rule is
//! `federation::relayed`'s, which the tag relay applies too): a valid `RsaSignature2017` Linked
//! Data signature whose `creator` key belongs to the activity's actor (the readable document
//! `ld_signatures::Verified::document` is what is stored), or else the object as its own server
//! serves it (its id and its `attributedTo` matching). A forged
//! signature, an origin answering an error (404, 410), a post not public, or anything from a
//! relay not subscribed and accepted is refused: logged, nothing stored. A relayed post is stored
//! as a public post of its author (its hashtags reach the tag pages and the streams of those who
//! follow them); nobody is notified for it, and a relayed copy never replaces a post known
//! already. A relayed `Delete` of such a post by its author removes it when its LD signature is
//! valid or the post's server answers 404 or 410; a relayed `Update` by its author, believed by
//! the same rule as a `Create`, changes a public post kept here from that author when it is
//! newer than the copy kept; other relayed activities are ignored.

use activitypub_core::origin::same_origin;
use activitypub_core::{ActivityType, AnyObject, Iri};
use anyhow::{Context, Result, anyhow, bail};
use federation::inbox::{Forward, Incoming, Vouch};
use federation::outbox::Enqueuer as _;
use federation::relayed;
use federation_queue::{Enqueue, Recipient};
use instance_server::INSTANCE_ACTOR;
use instance_state::objects::{Addressing, Visibility};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row as _;
use tracing::{debug, info, warn};
use url::Url;

use crate::app::Instance;

/// The public collection, which a Mastodon-style relay subscription follows.
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The most tags a relay subscription may be limited to.
pub(crate) const MAX_RELAY_TAGS: usize = 100;

/// The most `tag` entries of a post read to decide whether a relay takes it.
const MAX_POST_TAGS: usize = 100;

/// The kind of a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RelayKind {
    /// Mastodon-style (FEP-ae0c): `Follow` of the public collection sent to its inbox; it
    /// forwards activities as their authors signed them.
    Mastodon,
    /// LitePub (Pleroma): `Follow` of its actor; it `Announce`s posts.
    Litepub,
}

impl RelayKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Mastodon => "mastodon",
            Self::Litepub => "litepub",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "litepub" {
            Self::Litepub
        } else {
            Self::Mastodon
        }
    }
}

/// A relay the instance actor subscribes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Relay {
    /// What the administrator gave: a Mastodon-style relay's inbox, a LitePub relay's actor.
    pub address: String,
    /// Its kind.
    pub kind: RelayKind,
    /// Its actor, once known (a Mastodon-style relay's from its `Accept`).
    pub actor: Option<String>,
    /// The inbox the `Follow` went to.
    pub inbox: String,
    /// The `Follow`'s id.
    pub follow_id: String,
    /// `pending`, `accepted` or `rejected`.
    pub state: String,
    /// The tags whose public posts alone the pod sends a Mastodon-style relay (normalized),
    /// or `None` for all its public posts ([`Instance::set_relay_tags`]).
    pub tags: Option<Vec<String>>,
}

fn relay_row(row: &sqlx::any::AnyRow) -> Result<Relay> {
    Ok(Relay {
        address: row.try_get("address")?,
        kind: RelayKind::parse(&row.try_get::<String, _>("kind")?),
        actor: row.try_get("actor")?,
        inbox: row.try_get("inbox")?,
        follow_id: row.try_get("follow_id")?,
        state: row.try_get("state")?,
        tags: row
            .try_get::<Option<String>, _>("tags")?
            .map(|tags| serde_json::from_str(&tags))
            .transpose()
            .context("reading a relay's tags")?,
    })
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

fn same_origin_str(a: &str, b: &str) -> bool {
    match (Iri::parse(a), Iri::parse(b)) {
        (Ok(a), Ok(b)) => same_origin(&a, &b),
        _ => false,
    }
}

impl Instance {
    /// The relays, in the order added.
    pub async fn relays(&self) -> Result<Vec<Relay>> {
        let rows = sqlx::query(
            "SELECT address, kind, actor, inbox, follow_id, state, tags FROM pd_relays
             ORDER BY created, address",
        )
        .fetch_all(self.db().pool())
        .await?;
        rows.iter().map(relay_row).collect()
    }

    /// Subscribes the instance actor to the relay at `address` (a Mastodon-style relay's
    /// inbox, a LitePub relay's actor): its `Follow` is queued (delivered when the pod serves)
    /// and the relay recorded as pending. Subscribing again sends a new `Follow`.
    pub async fn add_relay(&self, address: &Url, kind: RelayKind) -> Result<Relay> {
        if !is_http(address) {
            bail!("a relay's address is an http(s) URL: {address}");
        }
        let (object, inbox, actor) = match kind {
            RelayKind::Mastodon => (PUBLIC.to_owned(), address.clone(), None),
            RelayKind::Litepub => {
                let mut budget = federation::fetch::FetchBudget::default();
                let remote = self
                    .keys()
                    .actor(address, &mut budget)
                    .await
                    .with_context(|| format!("fetching the relay's actor {address}"))?;
                let inbox = remote
                    .inbox
                    .as_ref()
                    .and_then(|inbox| Url::parse(inbox.as_str()).ok())
                    .ok_or_else(|| anyhow!("the relay {address} has no inbox"))?;
                (remote.id.to_string(), inbox, Some(remote.id.to_string()))
            }
        };
        let state = self.state();
        let follow_id = state.new_id("activities").to_string();
        let mut follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": follow_id,
            "type": "Follow",
            "actor": state.actor_id(INSTANCE_ACTOR).as_str(),
            "object": object,
        });
        if kind == RelayKind::Litepub
            && let Some(map) = follow.as_object_mut()
        {
            map.insert("to".to_owned(), json!([object]));
        }
        sqlx::query(
            "INSERT INTO pd_relays (address, kind, actor, inbox, follow_id, state, created)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6)
             ON CONFLICT (address) DO UPDATE SET kind = $2, actor = $3, inbox = $4,
             follow_id = $5, state = 'pending'",
        )
        .bind(address.as_str().to_owned())
        .bind(kind.as_str())
        .bind(actor.clone())
        .bind(inbox.as_str().to_owned())
        .bind(follow_id.clone())
        .bind(self.now())
        .execute(self.db().pool())
        .await?;
        self.send_to(&inbox, &follow).await?;
        info!(relay = %address, kind = kind.as_str(), "subscribing to a relay");
        let tags = self
            .relays()
            .await?
            .into_iter()
            .find(|r| r.address == address.as_str())
            .and_then(|r| r.tags);
        Ok(Relay {
            address: address.to_string(),
            kind,
            actor,
            inbox: inbox.to_string(),
            follow_id,
            state: "pending".to_owned(),
            tags,
        })
    }

    /// Unsubscribes from the relay at `address`: `Undo` of the `Follow` sent to it, and the
    /// relay forgotten. `false` when there was no such relay.
    pub async fn remove_relay(&self, address: &Url) -> Result<bool> {
        let Some(relay) = self
            .relays()
            .await?
            .into_iter()
            .find(|r| r.address == address.as_str())
        else {
            return Ok(false);
        };
        let state = self.state();
        let me = state.actor_id(INSTANCE_ACTOR).to_string();
        let object = match relay.kind {
            RelayKind::Mastodon => PUBLIC.to_owned(),
            RelayKind::Litepub => relay.actor.clone().unwrap_or_default(),
        };
        let undo = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": state.new_id("activities").as_str(),
            "type": "Undo",
            "actor": me,
            "object": {"id": relay.follow_id, "type": "Follow", "actor": me, "object": object},
        });
        sqlx::query("DELETE FROM pd_relays WHERE address = $1")
            .bind(relay.address.clone())
            .execute(self.db().pool())
            .await?;
        let inbox = Url::parse(&relay.inbox)?;
        self.send_to(&inbox, &undo).await?;
        info!(relay = %relay.address, "unsubscribed from a relay");
        Ok(true)
    }

    /// Limits what the pod sends the Mastodon-style relay at `address` to its public posts
    /// with one of `tags` (written with or without `#`, normalized here; at most
    /// 100), or with `None` sends it all its public posts again: the relay,
    /// updated; `None` when there is no such relay. An empty list, a name that is not a tag, or
    /// a LitePub relay (which announces what it is sent by others, not what the pod sends) is
    /// refused.
    pub async fn set_relay_tags(
        &self,
        address: &Url,
        tags: Option<&[String]>,
    ) -> Result<Option<Relay>> {
        let Some(relay) = self
            .relays()
            .await?
            .into_iter()
            .find(|r| r.address == address.as_str())
        else {
            return Ok(None);
        };
        if relay.kind != RelayKind::Mastodon {
            bail!("only a Mastodon-style relay is sent posts: {address} is a LitePub relay");
        }
        let tags = match tags {
            None => None,
            Some(tags) => Some(relay_tags(tags)?),
        };
        let stored = tags.as_ref().map(serde_json::to_string).transpose()?;
        sqlx::query("UPDATE pd_relays SET tags = $2 WHERE address = $1")
            .bind(relay.address.clone())
            .bind(stored)
            .execute(self.db().pool())
            .await?;
        info!(relay = %relay.address, ?tags, "the tags sent to a relay");
        Ok(Some(Relay { tags, ..relay }))
    }

    /// Queues `activity`, signed by the instance actor, for `inbox`.
    async fn send_to(&self, inbox: &Url, activity: &Value) -> Result<()> {
        let item = Enqueue::new(serde_json::to_vec(activity)?, INSTANCE_ACTOR)
            .with_recipients(vec![Recipient::new(inbox.clone())]);
        self.outbox()
            .queue()
            .enqueue(item)
            .await
            .map_err(|e| anyhow!("queueing a delivery to {inbox}: {e}"))?;
        Ok(())
    }

    /// Sends a public `Create`, `Announce`, `Update` or `Delete` of local actor `actor_name`
    /// to the inboxes of the accepted Mastodon-style relays too, as Mastodon does: signed over
    /// HTTP by its actor, and carrying the actor's LD signature ([`Instance::publish`] signs
    /// it), which the servers the relay forwards it to verify. A failure is logged: the post
    /// went to its recipients already.
    pub(crate) async fn send_to_relays(&self, actor_name: &str, activity: &Value) {
        let kind = activity.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("Create" | "Announce" | "Update" | "Delete"))
            || Addressing::of(activity).visibility() != Visibility::Public
        {
            return;
        }
        let relays = match self.relays().await {
            Ok(relays) => relays,
            Err(error) => {
                warn!(%error, "reading the relays");
                return;
            }
        };
        let recipients: Vec<Recipient> = relays
            .iter()
            .filter(|r| r.kind == RelayKind::Mastodon && r.state == "accepted")
            .filter(|r| takes(r.tags.as_deref(), activity))
            .filter_map(|r| Url::parse(&r.inbox).ok())
            .map(Recipient::new)
            .collect();
        if recipients.is_empty() {
            return;
        }
        let Ok(body) = serde_json::to_vec(activity) else {
            return;
        };
        let item = Enqueue::new(body, actor_name).with_recipients(recipients);
        if let Err(error) = self.outbox().queue().enqueue(item).await {
            warn!(%error, "queueing a delivery to the relays");
        }
    }

    /// The accepted relay whose actor is `actor`.
    pub(crate) async fn accepted_relay(&self, actor: &str) -> Result<Option<Relay>> {
        Ok(self
            .relays()
            .await?
            .into_iter()
            .find(|r| r.state == "accepted" && r.actor.as_deref() == Some(actor)))
    }

    /// An `Accept` or `Reject` that answers no person's `Follow`: a relay's answer to the
    /// instance actor's subscription, recorded when it comes from that relay (a Mastodon-style
    /// relay's actor, unknown until then, on the origin of the inbox the `Follow` went to).
    pub(crate) async fn on_relay_answer(&self, incoming: &Incoming, accepted: bool) -> Result<()> {
        let Some(follow) = incoming.object.id() else {
            return Ok(());
        };
        let Some(relay) = self
            .relays()
            .await?
            .into_iter()
            .find(|r| r.follow_id == follow.as_str())
        else {
            return Ok(());
        };
        let actor = incoming.actor.as_str();
        let from_relay = match (&relay.kind, &relay.actor) {
            (RelayKind::Litepub, Some(relay_actor)) => relay_actor == actor,
            _ => same_origin_str(actor, &relay.inbox),
        };
        if !from_relay {
            warn!(%actor, relay = %relay.address, "an answer to a relay subscription from someone else; ignored");
            return Ok(());
        }
        let state = if accepted { "accepted" } else { "rejected" };
        sqlx::query("UPDATE pd_relays SET state = $2, actor = $3 WHERE address = $1")
            .bind(relay.address.clone())
            .bind(state)
            .bind(actor.to_owned())
            .execute(self.db().pool())
            .await?;
        info!(relay = %relay.address, %actor, state, "relay subscription answered");
        Ok(())
    }

    /// An `Announce` by an accepted relay (LitePub) or by a tag actor the instance actor
    /// follows: the announced post, fetched from its own server
    /// ([`federation::relayed::verify_announced`]), stored when public and its author's;
    /// nobody notified, no reshare counted.
    pub(crate) async fn on_relayed_announce(&self, incoming: Incoming) -> Result<()> {
        let Some(id) = incoming.object.id().cloned() else {
            return Ok(());
        };
        if self.state().is_local(id.as_str()) {
            return Ok(());
        }
        if self.state().is_blocked(None, id.as_str()).await? {
            info!(post = %id, "an announced post of a domain blocked here; refused");
            return Ok(());
        }
        let mut budget = incoming.budget.clone();
        match relayed::verify_announced(&id, &self.0.fetcher, &mut budget).await {
            Ok(post) => self.store_relayed(&post.object, &post.actor).await,
            Err(error) => {
                info!(post = %id, relay = %incoming.actor, %error, "an announced post refused");
                Ok(())
            }
        }
    }

    /// A relay (or a tag actor) withdrew post `id` it had announced (an `Undo` of its
    /// `Announce`, sent when the post was deleted at its server): a relayed post kept here is
    /// dropped when its own server answers 404 or 410 for it, and kept otherwise (the relay
    /// cannot speak for the author).
    pub(crate) async fn on_relayed_withdrawal(
        &self,
        id: &str,
        relay: &Iri,
        budget: &mut federation::fetch::FetchBudget,
    ) -> Result<()> {
        match self.db().post(id).await? {
            Some(post) if !post.local => {}
            _ => return Ok(()),
        }
        match relayed::verify_gone(id, &self.0.fetcher, budget).await {
            Ok(()) => {
                self.db().delete_post(id).await?;
                info!(post = %id, %relay, "a withdrawn post, gone at its server, deleted");
            }
            Err(error) => info!(post = %id, %relay, %error, "a withdrawn post kept"),
        }
        Ok(())
    }

    /// The inbox's `forwarded` hook (through instance-state's `Social::forwarded`): an
    /// activity signed over HTTP by someone other than its actor, once the inbox checked that
    /// signature (made for this host, by the signer's key), the size, the digest and the date,
    /// and the blocks of the actor and the signer. Vouched for only when the signer is the
    /// actor of an **accepted** relay: a `Create` when `federation::relayed` believes its post
    /// (the author's LD signature, or the post as its own server serves it), handed on with
    /// that post; a `Delete` of a relayed post kept here, by its author, when its LD signature
    /// verifies or the post's server answers 404 or 410; an `Update` by the rule of
    /// [`Self::vouch_for_relayed_update`]. Other relayed activities (`Announce`...) and
    /// `Delete`s of what the pod does not keep are acknowledged and ignored.
    pub(crate) async fn vouch_for_forward(&self, forward: Forward) -> Result<Vouch> {
        let signer = forward.signer.owner.as_str();
        let actor = forward.actor.as_str();
        let Some(relay) = self.accepted_relay(signer).await? else {
            return Ok(refused("not signed by a relay subscribed to here"));
        };
        let Ok(activity) = serde_json::from_slice::<Value>(&forward.body) else {
            return Ok(refused("not JSON"));
        };
        let mut budget = forward.budget;
        match forward.activity.kind {
            ActivityType::Create => {
                let post = match relayed::verify_create(
                    &activity,
                    self.keys(),
                    &self.0.fetcher,
                    &mut budget,
                )
                .await
                {
                    Ok(post) => post,
                    Err(error) => {
                        warn!(%actor, relay = %relay.address, %error, "a relayed post refused");
                        return Ok(refused(error.reason()));
                    }
                };
                let id = relayed::object_id(post.object.get("id")).unwrap_or_default();
                if self.state().is_local(&id) {
                    return Ok(refused("a local object"));
                }
                match AnyObject::from_value(post.object) {
                    Ok(object) => Ok(Vouch::VouchedWithObject {
                        budget,
                        object: Box::new(object),
                    }),
                    Err(error) => {
                        info!(post = %id, %error, "a relayed post that cannot be read");
                        Ok(refused("the post cannot be read"))
                    }
                }
            }
            ActivityType::Delete => {
                let Some(id) = forward.activity.object_id() else {
                    return Ok(refused("no object"));
                };
                match self.db().post(id.as_str()).await? {
                    Some(post) if !post.local && post.author == actor => {}
                    _ => {
                        return Ok(Vouch::Ignored {
                            reason: "the Delete of nothing relayed here".to_owned(),
                        });
                    }
                }
                if let Err(error) =
                    relayed::verify_delete(&activity, self.keys(), &self.0.fetcher, &mut budget)
                        .await
                {
                    warn!(post = %id, %actor, %error, "a relayed Delete refused");
                    return Ok(refused(error.reason()));
                }
                Ok(Vouch::Vouched { budget })
            }
            ActivityType::Update => {
                let id = forward.activity.object_id().cloned();
                self.vouch_for_relayed_update(&forward.actor, id, &activity, &relay, budget)
                    .await
            }
            kind => {
                debug!(%kind, relay = %relay.address, "a relayed activity other than Create, Update or Delete; ignored");
                Ok(Vouch::Ignored {
                    reason: format!("a relayed {kind} is not taken"),
                })
            }
        }
    }

    /// A relayed `Update` (from the accepted relay `relay`): vouched for with the post as
    /// believed (its author's LD signature, or the post as its own server serves it now,
    /// [`relayed::verify_update`]) when it updates a public post kept here from its actor (a
    /// post received from elsewhere, which the pod holds as that actor's), the updated post
    /// is a public Note, and it is newer than the copy kept (its `updated` later than the
    /// kept one's `updated`, or `published`): a relay replaying an old signed `Update` changes
    /// nothing. Refused when the signature or the origin says otherwise, or the post kept is
    /// another actor's; ignored when the pod keeps no such post, or the update is not newer.
    async fn vouch_for_relayed_update(
        &self,
        actor: &Iri,
        id: Option<Iri>,
        activity: &Value,
        relay: &Relay,
        mut budget: federation::fetch::FetchBudget,
    ) -> Result<Vouch> {
        let actor = actor.as_str();
        let Some(id) = id else {
            return Ok(refused("no object"));
        };
        let kept = self.state().object(id.as_str()).await?;
        let Some(kept) = kept.filter(|kept| !kept.local && !kept.deleted) else {
            return Ok(ignored("the Update of a post not kept here"));
        };
        let Some(post) = self.db().post(id.as_str()).await? else {
            return Ok(ignored("the Update of a post not kept here"));
        };
        if post.author != actor || kept.attributed_to.as_deref() != Some(actor) {
            warn!(post = %id, %actor, author = %post.author, relay = %relay.address, "a relayed Update of someone else's post refused");
            return Ok(refused("the Update of another actor's post"));
        }
        if kept.visibility != Visibility::Public {
            return Ok(ignored("the Update of a post that is not public here"));
        }
        let believed = match relayed::verify_update(
            activity,
            self.keys(),
            &self.0.fetcher,
            &mut budget,
        )
        .await
        {
            Ok(post) => post.object,
            Err(error) => {
                warn!(post = %id, %actor, relay = %relay.address, %error, "a relayed Update refused");
                return Ok(refused(error.reason()));
            }
        };
        if believed.get("type").and_then(Value::as_str) != Some("Note")
            || Addressing::of(&believed).visibility() != Visibility::Public
        {
            return Ok(ignored(
                "a relayed Update of something else than a public Note",
            ));
        }
        let when = |document: &Value, member: &str| {
            document
                .get(member)
                .and_then(Value::as_str)
                .and_then(crate::posts::micros)
        };
        let kept_at = when(&kept.document, "updated").or_else(|| when(&kept.document, "published"));
        let newer = match (when(&believed, "updated"), kept_at) {
            (Some(updated), Some(kept_at)) => updated > kept_at,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !newer {
            info!(post = %id, %actor, relay = %relay.address, "a relayed Update no newer than the post kept; ignored");
            return Ok(ignored("an Update no newer than the post kept here"));
        }
        match AnyObject::from_value(believed) {
            Ok(object) => Ok(Vouch::VouchedWithObject {
                budget,
                object: Box::new(object),
            }),
            Err(error) => {
                info!(post = %id, %error, "a relayed Update that cannot be read");
                Ok(refused("the post cannot be read"))
            }
        }
    }

    /// A relayed `Update` the forward hook vouched for ([`Self::vouch_for_relayed_update`]):
    /// the post kept here replaced by the one believed, its hashtags and photos with it;
    /// nobody notified. Checked again (the post kept, its author's) in case it changed
    /// between the vouching and now.
    pub(crate) async fn on_relayed_update(&self, incoming: Incoming) -> Result<()> {
        let Some(object) = incoming.object.object() else {
            return Ok(());
        };
        let document = serde_json::to_value(object)?;
        let Some(id) = document.get("id").and_then(Value::as_str) else {
            return Ok(());
        };
        match self.db().post(id).await? {
            Some(post) if !post.local && post.author == incoming.actor.as_str() => {}
            _ => return Ok(()),
        }
        if self
            .state()
            .is_blocked(None, incoming.actor.as_str())
            .await?
        {
            return Ok(());
        }
        let row = self.store_remote_note(&document, &incoming.actor).await?;
        info!(post = %row.id, author = %incoming.actor, "relayed update stored");
        Ok(())
    }

    /// A relayed `Create` the forward hook vouched for: its post, as the hook believed it
    /// ([`Self::vouch_for_forward`]), stored when it is a public Note.
    pub(crate) async fn on_relayed_create(&self, incoming: Incoming) -> Result<()> {
        let Some(object) = incoming.object.object() else {
            return Ok(());
        };
        let document = serde_json::to_value(object)?;
        self.store_relayed(&document, &incoming.actor).await
    }

    /// Stores a relayed public Note of `author` (no notification).
    async fn store_relayed(&self, document: &Value, author: &Iri) -> Result<()> {
        if self.state().is_blocked(None, author.as_str()).await? {
            info!(%author, "a relayed post of an actor or domain blocked here; refused");
            return Ok(());
        }
        if document.get("type").and_then(Value::as_str) != Some("Note") {
            debug!("a relayed object that is not a Note; ignored");
            return Ok(());
        }
        if Addressing::of(document).visibility() != Visibility::Public {
            info!(author = %author, "a relayed post that is not public; refused");
            return Ok(());
        }
        if let Some(id) = document.get("id").and_then(Value::as_str)
            && self.db().post(id).await?.is_some()
        {
            // Known already: a relayed copy (perhaps an old one, replayed) never replaces it.
            debug!(post = %id, "a relayed post known already");
            return Ok(());
        }
        let row = self.store_remote_note(document, author).await?;
        info!(post = %row.id, %author, "relayed post stored");
        Ok(())
    }
}

/// Whether a relay limited to `tags` (`None`: not limited) is sent the public `activity` (a
/// `Create`, `Announce`, `Update` or `Delete` of the pod's): a limited one gets the `Create`s
/// and `Update`s of posts with one of its tags, and every `Delete` (the relay withdraws only
/// what it announced; the post, gone, no longer says its tags), never a reshare.
fn takes(tags: Option<&[String]>, activity: &Value) -> bool {
    let Some(tags) = tags else {
        return true;
    };
    match activity.get("type").and_then(Value::as_str) {
        Some("Delete") => true,
        Some("Create" | "Update") => activity.get("object").is_some_and(|post| {
            activitypub_core::hashtag::names_in(post, MAX_POST_TAGS)
                .iter()
                .any(|name| tags.contains(name))
        }),
        _ => false,
    }
}

/// `tags` as a relay subscription keeps them: normalized, each once, in order.
pub(crate) fn relay_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut kept: Vec<String> = Vec::new();
    for tag in tags {
        let name = activitypub_core::hashtag::received(tag.trim())
            .ok_or_else(|| anyhow!("not a hashtag: {tag:?}"))?;
        if !kept.contains(&name) {
            kept.push(name);
        }
    }
    if kept.is_empty() {
        bail!("no tag given (without --tags the relay is sent every public post)");
    }
    if kept.len() > MAX_RELAY_TAGS {
        bail!(
            "{} tags; a relay subscription takes at most {MAX_RELAY_TAGS}",
            kept.len()
        );
    }
    Ok(kept)
}

fn refused(reason: &str) -> Vouch {
    Vouch::Refused {
        reason: reason.to_owned(),
    }
}

fn ignored(reason: &str) -> Vouch {
    Vouch::Ignored {
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::{relay_tags, takes};

    fn post(kind: &str, tags: &[&str]) -> serde_json::Value {
        let tag: Vec<_> = tags
            .iter()
            .map(|t| json!({"type": "Hashtag", "name": t}))
            .collect();
        json!({"type": kind, "object": {"type": "Note", "tag": tag}})
    }

    #[test]
    fn a_relay_limited_to_some_tags_takes_their_posts_and_every_delete() {
        let climate = vec!["climate".to_owned()];
        let limited = Some(climate.as_slice());
        // (activity, taken by a limited relay)
        let cases = [
            (post("Create", &["#Climate"]), true),
            (post("Update", &["#energy", "#CLIMATE"]), true),
            (post("Create", &["#energy"]), false),
            (post("Create", &[]), false),
            (
                json!({"type": "Create", "object": "https://pod.example/posts/1"}),
                false,
            ),
            (
                json!({"type": "Announce", "object": "https://pod.example/posts/1"}),
                false,
            ),
            (
                json!({"type": "Delete", "object": {"type": "Tombstone"}}),
                true,
            ),
        ];
        for (activity, expected) in cases {
            assert_eq!(takes(limited, &activity), expected, "{activity}");
            assert!(takes(None, &activity), "{activity}");
        }
    }

    #[test]
    fn relay_tags_are_normalized_and_checked() {
        let given =
            |tags: &[&str]| relay_tags(&tags.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            given(&["#Climate", "climate", " Énergie "]).unwrap(),
            vec!["climate".to_owned(), "énergie".to_owned()]
        );
        assert!(given(&[]).is_err());
        assert!(given(&["not a tag"]).is_err());
        assert!(given(&["123"]).is_err());
        let many: Vec<String> = (0..=super::MAX_RELAY_TAGS)
            .map(|n| format!("t{n}"))
            .collect();
        assert!(relay_tags(&many).is_err());
    }
}
