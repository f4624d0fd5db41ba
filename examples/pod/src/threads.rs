//! Comments in a limited thread reach all the post's readers, as diaspora* relays them through
//! the post's author.
//!
//! A post to aspects (or any post addressed to named people) is read by the people it names.
//! A comment under it names whom its writer's server chose: this pod names all the post's
//! readers, Mastodon names only the people it replies to. So that every reader sees the whole
//! thread:
//!
//! - **Readers of a comment** (everywhere, for comments made here and received): a comment in
//!   a limited thread, by someone who may read the thread's post (its author or one of the
//!   people it names), may be read by all the post's readers as this pod knows them. They are
//!   added to the stored addressing as hidden readers (`bcc`, which instance-state keeps in its
//!   rows and never serves), so every page, collection and signed fetch shows it to them, and to
//!   nobody else the comment does not name itself.
//! - **Passing on** (the pod of the post's author): a comment received from someone who may
//!   read a limited post written here, carrying its writer's Linked Data signature
//!   (`RsaSignature2017`), is sent on, byte for byte, to the post's readers the comment does
//!   not name, at their own inboxes, signed over HTTP by the post's author (ActivityPub §7.1.2,
//!   inbox forwarding). Nobody else gets it.
//! - **Receiving a comment passed on** (the inbox's `forwarded` hook): believed only when it
//!   answers a limited post kept here, the forwarder is that post's author, its writer may read
//!   the post, and it is the writer's own (its LD signature verifies with the writer's key, or
//!   its own server serves the same comment); refused (`401`) otherwise.
//! - **Edits and deletions** (`Update`, `Delete`) of such a comment, received from its writer
//!   with the writer's LD signature, are passed on the same way; receivers take them only from
//!   the post's author, for a comment kept here by the activity's actor (an edit under the
//!   comment's checks, a deletion only LD-signed: a limited comment's server answers `404` to
//!   whoever it does not name, so a refetch proves nothing).
//! - **Likes are not passed on** (as Mastodon): the post's author's pod counts them.
//! - **Comments written here** under a limited post carry their writer's LD signature (on their
//!   `Create`, `Update` and `Delete`), so that the post's author's server can pass them on and
//!   Mastodon believes them (its inbox takes an activity signed over HTTP by someone other than
//!   its actor only from an LD signature).

use activitypub_core::ActivityType;
use anyhow::{Context, Result};
use federation::fetch::FetchBudget;
use federation::inbox::{Forward, Incoming, Vouch};
use federation::relayed::{self, Authenticity};
use futures::StreamExt as _;
use instance_state::objects::{Addressing, PUBLIC};
use serde_json::Value;
use tracing::{debug, info};
use url::Url;

use crate::app::Instance;
use crate::db::{Audience, PostRow};

/// The most readers a comment is passed on to.
pub(crate) const MAX_PASSED_ON: usize = 10_000;

/// The members of a comment the pod reads: what a copy passed on by origin must have as its
/// server serves it.
const COMPARED: [&str; 10] = [
    "id",
    "type",
    "attributedTo",
    "inReplyTo",
    "content",
    "contentMap",
    "to",
    "cc",
    "tag",
    "attachment",
];

/// A limited thread: its post, and the people who may read it.
#[derive(Debug, Clone)]
pub(crate) struct LimitedThread {
    /// The thread's post.
    pub(crate) root: PostRow,
    /// Its readers: the people it names and its author.
    pub(crate) readers: Vec<String>,
}

impl LimitedThread {
    /// Whether `actor` may read the thread's post.
    pub(crate) fn admits(&self, actor: &str) -> bool {
        self.readers.iter().any(|r| r == actor)
    }
}

impl Instance {
    /// The limited thread that the answer to `in_reply_to` joins, when it is kept here.
    pub(crate) async fn limited_thread(
        &self,
        in_reply_to: Option<&str>,
    ) -> Result<Option<LimitedThread>> {
        let Some(parent) = in_reply_to else {
            return Ok(None);
        };
        let Some(parent) = self.db().post(parent).await? else {
            return Ok(None);
        };
        let root = match &parent.root {
            Some(root) => match self.db().post(root).await? {
                Some(root) => root,
                None => return Ok(None),
            },
            None => parent,
        };
        if !matches!(root.audience, Audience::Aspects | Audience::Limited) {
            return Ok(None);
        }
        let addressing = self.state().addressing(&root.id).await?;
        let mut readers: Vec<String> = Vec::new();
        for reader in addressing
            .to
            .iter()
            .chain(&addressing.cc)
            .chain(&addressing.bto)
            .chain(&addressing.bcc)
            .chain(std::iter::once(&root.author))
        {
            // A limited post names people: a collection in it would not make it limited.
            if reader != PUBLIC && !reader.ends_with("/followers") && !readers.contains(reader) {
                readers.push(reader.clone());
            }
        }
        Ok(Some(LimitedThread { root, readers }))
    }

    /// `document` (a comment by `author`) with the readers of its limited thread added as
    /// hidden readers (`bcc`) when `author` may read the thread's post: what the pod stores, so
    /// that every reader of the post reads the thread. Unchanged otherwise.
    pub(crate) async fn with_thread_readers(
        &self,
        document: &Value,
        author: &str,
    ) -> Result<Value> {
        let in_reply_to = crate::activities::id_of(document.get("inReplyTo"));
        let Some(thread) = self.limited_thread(in_reply_to.as_deref()).await? else {
            return Ok(document.clone());
        };
        if !thread.admits(author) {
            debug!(author, post = %thread.root.id, "a comment by someone who may not read the post: not shown to its readers");
            return Ok(document.clone());
        }
        let mut widened = document.clone();
        let Some(map) = widened.as_object_mut() else {
            return Ok(widened);
        };
        let mut bcc: Vec<Value> = match map.remove("bcc") {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(one) => vec![one],
        };
        for reader in thread.readers {
            if !bcc.iter().any(|b| b.as_str() == Some(reader.as_str())) {
                bcc.push(Value::String(reader));
            }
        }
        map.insert("bcc".into(), Value::Array(bcc));
        Ok(widened)
    }

    /// Passes the `Create`, `Update` or `Delete` of the comment `row` (as it was before a
    /// `Delete`), just received in `incoming` from its writer, on to the readers of its limited
    /// thread the activity does not name, when the thread's post was written here and the
    /// writer may read it (see the [module documentation](self)). The number of readers it is
    /// queued for; a failure is the caller's to log.
    pub(crate) async fn pass_on(&self, incoming: &Incoming, row: &PostRow) -> Result<usize> {
        if !matches!(
            incoming.activity.kind,
            ActivityType::Create | ActivityType::Update | ActivityType::Delete
        ) || incoming.key.owner != incoming.actor
            || row.author != incoming.actor.as_str()
        {
            return Ok(0);
        }
        let Some(thread) = self.limited_thread(row.in_reply_to.as_deref()).await? else {
            return Ok(0);
        };
        if !thread.root.local || !thread.admits(incoming.actor.as_str()) {
            return Ok(0);
        }
        let Some(author) = self.state().local_name(&thread.root.author) else {
            return Ok(0);
        };
        let body: Value =
            serde_json::from_slice(&incoming.body).context("reading a received comment")?;
        if body.get("signature").is_none() {
            // Receivers would have to fetch it from its server, which serves it to the
            // people it names only.
            debug!(comment = %row.id, "a comment without an LD signature is not passed on");
            return Ok(0);
        }
        let mut named: Vec<String> = recipients_of(&body);
        if let Some(object) = body.get("object") {
            named.extend(recipients_of(object));
        }
        let recipients: Vec<String> = thread
            .readers
            .iter()
            .filter(|r| {
                **r != incoming.actor.as_str() && !named.contains(r) && !self.state().is_local(r)
            })
            .take(MAX_PASSED_ON)
            .cloned()
            .collect();
        // Each reader's own inbox, not their server's shared one: Mastodon shows a limited
        // post to the person whose inbox received it.
        let found: Vec<(String, Option<Url>)> = futures::stream::iter(recipients)
            .map(|reader| async move {
                let inbox = match Url::parse(&reader) {
                    Ok(url) => match self.keys().actor(&url, &mut FetchBudget::default()).await {
                        Ok(remote) => remote
                            .inbox
                            .as_ref()
                            .and_then(|inbox| Url::parse(inbox.as_str()).ok()),
                        Err(error) => {
                            info!(%reader, %error, "a reader of a limited post cannot be reached");
                            None
                        }
                    },
                    Err(_) => None,
                };
                (reader, inbox)
            })
            .buffer_unordered(crate::pending_moves::FETCH_CONCURRENCY)
            .collect()
            .await;
        let mut inboxes: Vec<federation_queue::Recipient> = Vec::new();
        for (reader, inbox) in found {
            match inbox {
                Some(inbox) => {
                    if !inboxes.iter().any(|r| r.inbox == inbox) {
                        inboxes.push(federation_queue::Recipient::new(inbox));
                    }
                }
                None => debug!(%reader, "a reader without an inbox"),
            }
        }
        if inboxes.is_empty() {
            return Ok(0);
        }
        let count = inboxes.len();
        use federation::outbox::Enqueuer as _;
        let item = federation_queue::Enqueue::new(incoming.body.to_vec(), &author)
            .with_recipients(inboxes);
        self.outbox()
            .queue()
            .enqueue(item)
            .await
            .map_err(|e| anyhow::anyhow!("queueing a comment passed on: {e}"))?;
        info!(comment = %row.id, post = %thread.root.id, kind = %incoming.activity.kind, readers = count, "a comment passed on to the post's readers");
        Ok(count)
    }

    /// The inbox's `forwarded` hook for comments: a `Create` of a comment answering a limited
    /// post kept here is judged (see the [module documentation](self)): vouched for when passed
    /// on by the post's author, written by one of its readers and established as the writer's;
    /// refused otherwise. `None` for any other forward (not a comment in a limited thread kept
    /// here): not this module's to judge.
    pub(crate) async fn vouch_passed_on_comment(&self, forward: &Forward) -> Result<Option<Vouch>> {
        let refused = |reason: &str| {
            Ok(Some(Vouch::Refused {
                reason: reason.to_owned(),
            }))
        };
        let Ok(body) = serde_json::from_slice::<Value>(&forward.body) else {
            return Ok(None);
        };
        match forward.activity.kind {
            ActivityType::Create | ActivityType::Update => {}
            ActivityType::Delete => return self.vouch_passed_on_delete(forward, &body).await,
            _ => return Ok(None),
        }
        let Some(object) = body.get("object").filter(|o| o.is_object()) else {
            return Ok(None);
        };
        let in_reply_to = crate::activities::id_of(object.get("inReplyTo"));
        let Some(thread) = self.limited_thread(in_reply_to.as_deref()).await? else {
            return Ok(None);
        };
        if forward.signer.owner.as_str() != thread.root.author {
            return refused(
                "a comment passed on by someone other than the author of the post it answers",
            );
        }
        if !thread.admits(forward.actor.as_str()) {
            return refused("a comment passed on whose writer may not read the post it answers");
        }
        let mut budget = forward.budget.clone();
        let post = match relayed::verify_create(&body, self.keys(), &self.0.fetcher, &mut budget)
            .await
        {
            Ok(post) => post,
            Err(error) => {
                info!(actor = %forward.actor, signer = %forward.signer.owner, %error, "a comment passed on is not believed");
                return refused(&format!(
                    "a comment passed on that is not its writer's: {error}"
                ));
            }
        };
        if post.actor != forward.actor {
            return refused("a comment passed on that is not its writer's");
        }
        // An edit: of the writer's own comment (the one kept here).
        if forward.activity.kind == ActivityType::Update
            && let Some(id) = crate::activities::id_of(object.get("id"))
            && let Some(kept) = self.db().post(&id).await?
            && kept.author != forward.actor.as_str()
        {
            return refused("an edit passed on of a comment by someone other than its writer");
        }
        // Believed from its server: the copy embedded, which the handler reads, must be the
        // one served.
        if post.authenticity == Authenticity::Origin
            && COMPARED
                .iter()
                .any(|member| post.object.get(member) != object.get(member))
        {
            return refused("a comment passed on that differs from what its server serves");
        }
        debug!(actor = %forward.actor, signer = %forward.signer.owner, "a comment passed on by the post's author");
        Ok(Some(Vouch::Vouched { budget }))
    }

    /// The inbox's `forwarded` hook for a `Delete` (`body`) of a comment in a limited thread
    /// kept here: vouched for when passed on by the author of the thread's post, by the
    /// comment's writer, with the writer's Linked Data signature. An unsigned one is refused:
    /// the comment's server answers `404` to whoever the comment does not name, so its answer
    /// would not tell a deleted comment from one kept from the asker. `None` when the comment
    /// is not one kept here in a limited thread.
    async fn vouch_passed_on_delete(
        &self,
        forward: &Forward,
        body: &Value,
    ) -> Result<Option<Vouch>> {
        let refused = |reason: &str| {
            Ok(Some(Vouch::Refused {
                reason: reason.to_owned(),
            }))
        };
        let Some(id) = relayed::object_id(body.get("object")) else {
            return Ok(None);
        };
        let Some(comment) = self.db().post(&id).await? else {
            return Ok(None);
        };
        let Some(thread) = self.limited_thread(comment.in_reply_to.as_deref()).await? else {
            return Ok(None);
        };
        if forward.signer.owner.as_str() != thread.root.author {
            return refused(
                "a deletion passed on by someone other than the author of the thread's post",
            );
        }
        if comment.author != forward.actor.as_str() {
            return refused("a deletion passed on of a comment by someone other than its writer");
        }
        if body.get("signature").is_none() {
            return refused("a deletion passed on without its writer's LD signature");
        }
        let mut budget = forward.budget.clone();
        if let Err(error) = relayed::verify_ld(body, &forward.actor, self.keys(), &mut budget).await
        {
            info!(actor = %forward.actor, signer = %forward.signer.owner, %error, "a deletion passed on is not believed");
            return refused(&format!(
                "a deletion passed on that is not its writer's: {error}"
            ));
        }
        debug!(actor = %forward.actor, comment = %id, "a deletion passed on by the post's author");
        Ok(Some(Vouch::Vouched { budget }))
    }

    /// `activity` (a `Create`, `Update` or `Delete` of a comment by local person `name`) with `name`'s
    /// Linked Data signature (`RsaSignature2017`, `creator` its `#main-key`), so that it can be
    /// passed on and believed.
    pub(crate) async fn ld_signed(&self, name: &str, activity: &Value) -> Result<Value> {
        let keys = self
            .state()
            .signing_keys(name)
            .await?
            .context("the person's keys")?;
        let key_id = format!("{}#main-key", self.actor_id(name));
        let created = time::OffsetDateTime::from_unix_timestamp(self.now().div_euclid(1_000_000))?;
        Ok(ld_signatures::sign(activity, &key_id, created, &keys.rsa)?)
    }
}

/// Everyone `document` is addressed to (`to`, `cc`, `bto`, `bcc`, `audience`).
fn recipients_of(document: &Value) -> Vec<String> {
    let addressing = Addressing::of(document);
    [
        addressing.to,
        addressing.cc,
        addressing.bto,
        addressing.bcc,
        addressing.audience,
    ]
    .concat()
}
