//! The inbox: instance-state's handlers for the social graph, and the pod's for posts:
//! `Create`/`Update` of Notes (posts from the people followed here, comments on posts here,
//! posts addressed to or mentioning people here), `Delete` of them, `Like` and `Announce` of
//! posts, and `Undo` of those. A Note's `Hashtag` tags are recorded (normalized) and its
//! `Mention`s of people here notify them (see `notifications.rs`).
//!
//! `Video`s, `Event`s, `Article`s and `Page`s (PeerTube's, Mobilizon's, blogs') are kept by
//! the same rule as Notes, from one of their authors (`attributedTo`, or Mobilizon's `actor`,
//! of their own origin), as posts with a card (see `cards.rs`); an `Announce` of one by an
//! actor followed here (a PeerTube channel, a Mobilizon group) fetches it from its origin.

use activitypub_core::{ActivityType, AnyObject, Iri};
use anyhow::{Context, Result};
use federation::inbox::{Dispatcher, Forward, HandlerError, Incoming, Vouch};
use federation::keys::KeyCache;
use federation::outbox::Outbox;
use instance_server::{ErasedQueue, INSTANCE_ACTOR};
use instance_state::InstanceState;
use instance_state::handlers::{Social, social_handlers};
use instance_state::objects::{Addressing, Visibility};
use serde_json::Value;
use tracing::{debug, info, warn};
use url::Url;

use crate::app::Instance;
use crate::cards::{self, Card};
use crate::db::{Audience, PostRow};
use crate::notifications::{kind, tags};

/// The most `tag` entries of a received Note read.
const MAX_TAGS: usize = 100;

fn failed(error: anyhow::Error) -> HandlerError {
    HandlerError::Failed(error.into())
}

/// The inbox's handlers.
pub(crate) fn dispatcher() -> Dispatcher<Instance> {
    social_handlers(Dispatcher::new())
        .on(ActivityType::Create, |app: Instance, incoming| async move {
            // Signed by someone other than its actor, and vouched for by `Social::forwarded`
            // below: a relay's forward (the post as believed), or a comment passed on by the
            // author of its limited thread's post, taken as any comment.
            if app.relayed(&incoming).await.map_err(failed)? {
                return app.on_relayed_create(incoming).await.map_err(failed);
            }
            app.on_note(incoming, false).await.map_err(failed)
        })
        .on(ActivityType::Like, |app: Instance, incoming| async move {
            app.on_like(incoming).await.map_err(failed)
        })
        .on(ActivityType::Announce, |app: Instance, incoming| async move {
            app.on_announce(incoming).await.map_err(failed)
        })
}

impl Social for Instance {
    type Queue = ErasedQueue;

    fn state(&self) -> &InstanceState {
        self.db().state()
    }

    fn outbox(&self) -> &Outbox<ErasedQueue> {
        Instance::outbox(self)
    }

    fn keys(&self) -> Option<&KeyCache> {
        Some(Instance::keys(self))
    }

    /// `Update` of a post, `Delete` of one (its object a `Tombstone` already), `Undo` of a like
    /// or a reshare.
    async fn unhandled(&self, incoming: Incoming) -> Result<(), HandlerError> {
        match incoming.activity.kind {
            // A relay's forward, vouched for in `relays.rs` with the post as believed.
            ActivityType::Update if self.relayed(&incoming).await.map_err(failed)? => {
                self.on_relayed_update(incoming).await
            }
            ActivityType::Update => self.on_note(incoming, true).await,
            ActivityType::Delete => self.on_delete(incoming).await,
            ActivityType::Undo => self.on_undo(incoming).await,
            // Not a person's follow: perhaps the instance actor's subscription to a relay.
            ActivityType::Accept => self.on_relay_answer(&incoming, true).await,
            ActivityType::Reject => self.on_relay_answer(&incoming, false).await,
            _ => Ok(()),
        }
        .map_err(failed)
    }

    /// A forward that is not a passed-on `Move` (instance-state's): a comment in a limited
    /// thread passed on by the author of its post (`threads.rs`), else a relay's, vouched for
    /// in `relays.rs` (which refuses anything else).
    async fn forwarded(&self, forward: Forward) -> Result<Vouch, HandlerError> {
        match self
            .vouch_passed_on_comment(&forward)
            .await
            .map_err(failed)?
        {
            Some(vouch) => Ok(vouch),
            None => self.vouch_for_forward(forward).await.map_err(failed),
        }
    }
}

impl Instance {
    /// Whether `incoming` is a relay's forward: signed by the actor of an accepted relay,
    /// not by its own actor (the forward hook vouched for it, `relays.rs`).
    async fn relayed(&self, incoming: &Incoming) -> Result<bool> {
        Ok(incoming.key.owner != incoming.actor
            && self
                .accepted_relay(incoming.key.owner.as_str())
                .await?
                .is_some())
    }
}

/// The first text of a `content` (or `contentMap`) member.
fn content_of(document: &Value) -> String {
    match document.get("content") {
        Some(Value::String(text)) => text.clone(),
        _ => document
            .get("contentMap")
            .and_then(Value::as_object)
            .and_then(|map| map.values().find_map(Value::as_str))
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The id a member holds (a string, or an object with an `id`).
pub(crate) fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(id) => Some(id.clone()),
        Value::Object(map) => map.get("id").and_then(Value::as_str).map(str::to_owned),
        Value::Array(items) => items.iter().find_map(|item| id_of(Some(item))),
        _ => None,
    }
}

impl Instance {
    /// A Note created or updated elsewhere: kept when it concerns the pod (its author is
    /// followed here, it answers a post kept here, or it is addressed to someone here), its
    /// HTML sanitized; an update only of a Note kept here, by its author.
    async fn on_note(&self, incoming: Incoming, update: bool) -> Result<()> {
        let Some(object) = incoming.object.object() else {
            // An id only: an object of this server, or one its server would not serve.
            return Ok(());
        };
        let note = matches!(object, AnyObject::Object(_));
        if !note && !matches!(object, AnyObject::Video(_) | AnyObject::Event(_)) {
            return Ok(());
        }
        let document = serde_json::to_value(object).context("reading a received object")?;
        let card = match document.get("type").and_then(Value::as_str) {
            Some("Note") if note => None,
            Some(_) => match cards::card_of(&document) {
                Some(card) => Some(card),
                None => return Ok(()),
            },
            None => return Ok(()),
        };
        let Some(id) = object.id().cloned() else {
            return Ok(());
        };
        if self.state().is_local(id.as_str()) {
            return Ok(());
        }
        let by_author = match &card {
            None => id_of(document.get("attributedTo")).as_deref() == Some(incoming.actor.as_str()),
            Some(card) => card.authors.iter().any(|a| a == incoming.actor.as_str()),
        };
        if !by_author {
            debug!(object = %id, actor = %incoming.actor, "an object sent by someone else than its author; ignored");
            return Ok(());
        }
        let existing = self.db().post(id.as_str()).await?;
        if update {
            let Some(existing) = existing else {
                return Ok(());
            };
            if !self.speaks_for(&existing, incoming.actor.as_str()).await? {
                return Ok(());
            }
        } else if self.local_mentions(&document).is_empty()
            && !self
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
        let row = match card {
            None => self.store_remote_note(&document, &incoming.actor).await?,
            Some(card) => {
                let author = self.card_author(&card, incoming.actor.as_str()).await?;
                self.store_remote_post(&document, &author, Some(&card))
                    .await?
            }
        };
        // A comment in a limited thread written here, or its edit: on to the post's readers.
        if let Err(error) = self.pass_on(&incoming, &row).await {
            warn!(%error, comment = %row.id, "passing a comment on");
        }
        let activity = incoming.activity.props.id.as_ref().map(|id| id.as_str());
        self.notify_about_post(&row, &document, activity).await
    }

    /// Whether `actor` may update or delete the received post `post`: its author, or one of
    /// the authors of its card (a PeerTube video's account for its channel).
    async fn speaks_for(&self, post: &PostRow, actor: &str) -> Result<bool> {
        if post.author == actor {
            return Ok(true);
        }
        Ok(self
            .db()
            .card(&post.id)
            .await?
            .is_some_and(|card| card.authors.iter().any(|a| a == actor)))
    }

    /// Under whom a card is shown (a stream lists the posts of those its reader follows): the
    /// first of its authors someone here follows (a PeerTube video under its channel when the
    /// channel is followed), else `sender` when it is one of them, else its first author.
    async fn card_author(&self, card: &Card, sender: &str) -> Result<Iri> {
        for author in &card.authors {
            if let Ok(author) = Iri::parse(author.as_str())
                && self.state().is_followed_source(&author, None).await?
            {
                return Ok(author);
            }
        }
        let chosen = if card.authors.iter().any(|a| a == sender) {
            sender
        } else {
            card.authors.first().map_or(sender, String::as_str)
        };
        Ok(Iri::parse(chosen)?)
    }

    /// Stores a received Note (its document and its row, with its hashtags and the actors it
    /// mentions), threaded under the post it answers when that post is kept here.
    pub(crate) async fn store_remote_note(
        &self,
        document: &Value,
        author: &Iri,
    ) -> Result<PostRow> {
        self.store_remote_post(document, author, None).await
    }

    /// Stores a received Note, or a video, event, article or page with its `card`.
    async fn store_remote_post(
        &self,
        document: &Value,
        author: &Iri,
        card: Option<&Card>,
    ) -> Result<PostRow> {
        // A comment in a limited thread is its post's readers' too (`threads.rs`).
        let stored = match card {
            None => {
                let widened = self.with_thread_readers(document, author.as_str()).await?;
                self.state().put_object(&widened, false).await?
            }
            Some(_) => self.state().put_object(document, false).await?,
        };
        // Its author by name on the pages (from the key cache, which has the document).
        if let Err(error) = self.remember_actor(author.as_str()).await {
            debug!(%error, %author, "naming a note's author");
        }
        let in_reply_to = stored.in_reply_to.clone();
        let root = match &in_reply_to {
            Some(parent) => match self.db().post(parent).await? {
                Some(parent) => Some(parent.root.unwrap_or(parent.id)),
                None => None,
            },
            None => None,
        };
        let audience = match Addressing::of(document).visibility() {
            Visibility::Public => Audience::Public,
            Visibility::Unlisted => Audience::Unlisted,
            Visibility::Followers => Audience::Followers,
            _ => Audience::Limited,
        };
        let now = self.now();
        let existing = self.db().post(&stored.id).await?;
        let mut hashtags: Vec<String> = Vec::new();
        let mut mentions: Vec<String> = Vec::new();
        for tag in tags(document).take(MAX_TAGS) {
            match tag.get("type").and_then(Value::as_str) {
                Some("Hashtag") => {
                    if let Some(name) = tag
                        .get("name")
                        .and_then(Value::as_str)
                        .and_then(activitypub_core::hashtag::received)
                        && !hashtags.contains(&name)
                    {
                        hashtags.push(name);
                    }
                }
                Some("Mention") => {
                    if let Some(href) = tag.get("href").and_then(Value::as_str)
                        && !mentions.iter().any(|m| m == href)
                    {
                        mentions.push(href.to_owned());
                    }
                }
                _ => {}
            }
        }
        let row = PostRow {
            id: stored.id.clone(),
            author: author.to_string(),
            local: false,
            in_reply_to,
            root,
            source: String::new(),
            content: federation::sanitize::sanitize_html(&match card {
                None => content_of(document),
                Some(_) => cards::description(document),
            }),
            audience,
            tags: hashtags,
            mentions,
            published: existing.as_ref().map_or(stored.published, |e| e.published),
            updated: now,
        };
        self.db().put_post(&row).await?;
        self.db()
            .set_attachments(&row.id, &crate::photos::received_attachments(document))
            .await?;
        if let Some(card) = card {
            self.db().put_card(&row.id, card).await?;
        }
        info!(object = %stored.id, "remote post stored");
        Ok(row)
    }

    /// A `Delete` of a Note kept here (its object is a `Tombstone` already): its row goes, and
    /// the deletion of a comment in a limited thread written here is passed on (`threads.rs`).
    async fn on_delete(&self, incoming: Incoming) -> Result<()> {
        let Some(id) = incoming.object.id() else {
            return Ok(());
        };
        if self.state().is_local(id.as_str()) {
            return Ok(());
        }
        if let Some(post) = self.db().post(id.as_str()).await?
            && !post.local
            && self.speaks_for(&post, incoming.actor.as_str()).await?
        {
            self.db().delete_post(id.as_str()).await?;
            info!(note = %id, "remote note deleted");
            // A comment in a limited thread written here: its deletion reaches the post's
            // readers as the comment did.
            if let Err(error) = self.pass_on(&incoming, &post).await {
                warn!(%error, comment = %post.id, "passing a deletion on");
            }
        }
        Ok(())
    }

    /// A like of a post kept here that the liker may read.
    async fn on_like(&self, incoming: Incoming) -> Result<()> {
        let (Some(id), Some(activity)) =
            (incoming.object.id(), incoming.activity.props.id.as_ref())
        else {
            return Ok(());
        };
        let scope = self.scope_of(incoming.actor.as_str()).await?;
        let Some(post) = self.db().visible_post(id.as_str(), &scope).await? else {
            return Ok(());
        };
        if self
            .db()
            .put_reaction(
                id.as_str(),
                incoming.actor.as_str(),
                "like",
                activity.as_str(),
            )
            .await?
        {
            self.notify(
                &post.author,
                kind::LIKE,
                incoming.actor.as_str(),
                Some(activity.as_str()),
                &post.id,
            )
            .await?;
        }
        Ok(())
    }

    /// A reshare: of a public post here, counted; by someone followed here, the post is
    /// fetched from its server (when not kept yet) and shown in their followers' streams.
    async fn on_announce(&self, incoming: Incoming) -> Result<()> {
        // A relay's, or a tag actor's the instance actor follows: a relayed post.
        if self
            .accepted_relay(incoming.actor.as_str())
            .await?
            .is_some()
            || self.is_followed_by_instance(&incoming.actor).await?
        {
            return self.on_relayed_announce(incoming).await;
        }
        let (Some(id), Some(activity)) = (
            incoming.object.id().cloned(),
            incoming.activity.props.id.clone(),
        ) else {
            return Ok(());
        };
        let post = match self.db().post(id.as_str()).await? {
            Some(post) => Some(post),
            None if !self.state().is_local(id.as_str())
                && self
                    .state()
                    .is_followed_source(&incoming.actor, None)
                    .await? =>
            {
                let url = Url::parse(id.as_str())?;
                let mut budget = incoming.budget.clone();
                let fetched = self.0.fetcher.fetch(&url, &mut budget).await?;
                let document = serde_json::to_value(fetched.object())?;
                if let Some(card) = cards::card_of(&document) {
                    if card.authors.is_empty() {
                        None
                    } else {
                        let author = self.card_author(&card, incoming.actor.as_str()).await?;
                        Some(
                            self.store_remote_post(&document, &author, Some(&card))
                                .await?,
                        )
                    }
                } else {
                    let author = id_of(document.get("attributedTo"));
                    match author.and_then(|a| Iri::parse(a).ok()) {
                        Some(author)
                            if document.get("type").and_then(Value::as_str) == Some("Note")
                                && activitypub_core::origin::same_origin(&author, &id) =>
                        {
                            Some(self.store_remote_note(&document, &author).await?)
                        }
                        _ => None,
                    }
                }
            }
            None => None,
        };
        let Some(post) = post else {
            return Ok(());
        };
        if !post.audience.is_public() || post.root.is_some() {
            return Ok(());
        }
        if self
            .db()
            .put_reaction(
                &post.id,
                incoming.actor.as_str(),
                "share",
                activity.as_str(),
            )
            .await?
        {
            self.notify(
                &post.author,
                kind::RESHARE,
                incoming.actor.as_str(),
                Some(activity.as_str()),
                &post.id,
            )
            .await?;
        }
        Ok(())
    }

    /// `Undo` of a like or a reshare.
    async fn on_undo(&self, incoming: Incoming) -> Result<()> {
        if let Some(id) = incoming.object.id() {
            self.db()
                .remove_reaction(id.as_str(), incoming.actor.as_str())
                .await?;
        }
        // A relay's (or a tag actor's) withdrawal of a post it announced.
        if let Some(AnyObject::Activity(announce)) = incoming.object.object()
            && announce.kind == ActivityType::Announce
            && let Some(post) = announce.object_id()
            && (self
                .accepted_relay(incoming.actor.as_str())
                .await?
                .is_some()
                || self.is_followed_by_instance(&incoming.actor).await?)
        {
            let mut budget = incoming.budget.clone();
            self.on_relayed_withdrawal(post.as_str(), &incoming.actor, &mut budget)
                .await?;
        }
        Ok(())
    }
}
