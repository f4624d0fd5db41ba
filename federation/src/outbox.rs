//! From an activity's addressing to deliveries on `federation-queue`.
//!
//! [`Outbox::deliver`] takes the recipients from `to`, `bto`, `cc`, `bcc` and `audience` (of the
//! activity and of its embedded object), skips the public collection and this server's own
//! actors, expands this server's collections (followers) through the app's [`Audience`],
//! resolves each remote actor to its inbox and shared inbox (cached, see [`KeyCache`]; a few at
//! a time, each within its own [`FetchBudget`]), removes
//! `bto` and `bcc`, and enqueues the activity once for all of them: `federation-queue` collapses
//! recipients that share a shared inbox into one delivery.

use std::collections::BTreeSet;
use std::future::Future;

use activitypub_core::addressing::{delivery_targets, strip_hidden_recipients};
use activitypub_core::{AnyObject, Iri};
use federation_queue::{
    Clock, DeliveryId, Enqueue, EnqueueError, KeyProvider, Queue, Recipient, Store, Transport,
};
use futures::stream::{self, StreamExt as _};
use tracing::{debug, warn};
use url::Url;

use crate::fetch::FetchBudget;
use crate::inbox::StoreError;
use crate::keys::{KeyCache, KeyError, RemoteActor};

/// How many recipients are resolved at once.
const RESOLVE_CONCURRENCY: usize = 8;

/// The app's side of addressing: which of its collections hold whom.
pub trait Audience: Send + Sync {
    /// The members of the local collection `collection` (a followers collection, say), as actor
    /// ids; `Ok(None)` when `collection` is not a collection of this server.
    fn expand(
        &self,
        collection: &Iri,
    ) -> impl Future<Output = Result<Option<Vec<Iri>>, StoreError>> + Send;
}

/// Where deliveries go: a `federation-queue` [`Queue`], or anything else that enqueues.
pub trait Enqueuer: Send + Sync {
    /// Enqueues `item`.
    fn enqueue(
        &self,
        item: Enqueue,
    ) -> impl Future<Output = Result<Vec<DeliveryId>, EnqueueError>> + Send;
}

impl<S: Store, T: Transport, K: KeyProvider, C: Clock> Enqueuer for Queue<S, T, K, C> {
    async fn enqueue(&self, item: Enqueue) -> Result<Vec<DeliveryId>, EnqueueError> {
        Queue::enqueue(self, item).await
    }
}

impl<E: Enqueuer> Enqueuer for std::sync::Arc<E> {
    async fn enqueue(&self, item: Enqueue) -> Result<Vec<DeliveryId>, EnqueueError> {
        E::enqueue(self, item).await
    }
}

/// Delivering failed; nothing was enqueued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The app could not expand one of its collections.
    #[error("expanding {collection}: {source}")]
    Audience {
        /// The collection.
        collection: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The queue refused the deliveries.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
}

/// The types of a remote recipient that is a collection rather than an actor.
const COLLECTION_TYPES: [&str; 2] = ["Collection", "OrderedCollection"];

/// Why a recipient could not be resolved to an inbox.
#[derive(Debug, thiserror::Error)]
enum ResolveError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the actor {0} has no usable inbox")]
    NoInbox(String),
}

/// What [`Outbox::deliver`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The remote actors delivered to (before shared inboxes collapse them).
    pub recipients: Vec<Iri>,
    /// The deliveries enqueued (one per distinct inbox or shared inbox).
    pub deliveries: Vec<DeliveryId>,
    /// Recipients skipped because their actor could not be resolved, with why.
    pub unresolved: Vec<(Iri, String)>,
    /// Remote recipients that are not actors (another server's collection, such as an actor's
    /// followers or a group's members): nothing to deliver to here, since only their server
    /// can expand them. Learnt by fetching them once; the key cache remembers it for its TTL.
    pub remote_collections: Vec<Iri>,
    /// Whether `bto` or `bcc` was removed.
    pub stripped_hidden: bool,
}

/// Turns activities into deliveries.
#[derive(Debug, Clone)]
pub struct Outbox<E> {
    queue: E,
    keys: KeyCache,
    local_origins: Vec<Url>,
    budget: FetchBudget,
}

impl<E: Enqueuer> Outbox<E> {
    /// An outbox enqueueing on `queue`, resolving remote actors with `keys`; ids on
    /// `local_origins` are this server's.
    pub fn new(queue: E, keys: KeyCache, local_origins: Vec<Url>) -> Self {
        Self {
            queue,
            keys,
            local_origins,
            budget: FetchBudget::default(),
        }
    }

    /// Sets what resolving one recipient may fetch (each gets a [renewed](FetchBudget::renewed)
    /// copy). Default: [`FetchBudget::default`].
    pub fn with_budget(mut self, budget: FetchBudget) -> Self {
        self.budget = budget;
        self
    }

    /// The queue.
    pub fn queue(&self) -> &E {
        &self.queue
    }

    /// Delivers `activity`, signed at each attempt with the key `key_ref` (see
    /// [`federation_queue::KeyProvider`]), to everyone it is addressed to. Deliveries sharing
    /// `ordering_key` (the object's id, say) reach each host in the order they were enqueued.
    pub async fn deliver(
        &self,
        mut activity: AnyObject,
        key_ref: &str,
        ordering_key: Option<&str>,
        audience: &impl Audience,
    ) -> Result<DeliveryReport, OutboxError> {
        let targets = delivery_targets(&activity);
        let mut report = DeliveryReport {
            stripped_hidden: strip_hidden_recipients(&mut activity),
            ..DeliveryReport::default()
        };
        let mut actors: Vec<Iri> = Vec::new();
        let mut seen = BTreeSet::new();
        for target in targets {
            if self.is_local(&target) {
                match audience
                    .expand(&target)
                    .await
                    .map_err(|source| OutboxError::Audience {
                        collection: target.to_string(),
                        source,
                    })? {
                    Some(members) => {
                        for member in members {
                            if !self.is_local(&member) && seen.insert(member.to_string()) {
                                actors.push(member);
                            }
                        }
                    }
                    // A local actor: the app handles local recipients itself.
                    None => debug!(%target, "local recipient; not delivered over HTTP"),
                }
            } else if seen.insert(target.to_string()) {
                actors.push(target);
            }
        }
        // Each recipient has a budget of its own (its actor document, and redirects), and a few
        // are resolved at a time: a delivery to thousands of followers whose actors have left
        // the cache must neither stop at the tenth nor make its round trips one after another.
        let resolved: Vec<(Iri, Result<Recipient, ResolveError>)> = stream::iter(actors)
            .map(|actor| async move {
                let mut budget = self.budget.renewed();
                let outcome = self.resolve(&actor, &mut budget).await;
                (actor, outcome)
            })
            .buffered(RESOLVE_CONCURRENCY)
            .collect()
            .await;
        let mut recipients = Vec::new();
        for (actor, outcome) in resolved {
            match outcome {
                Ok(recipient) => {
                    recipients.push(recipient);
                    report.recipients.push(actor);
                }
                Err(ResolveError::Key(KeyError::NotAnActor { type_name, .. }))
                    if COLLECTION_TYPES.contains(&type_name.as_str()) =>
                {
                    debug!(%actor, %type_name, "a remote collection; its server expands it");
                    report.remote_collections.push(actor);
                }
                Err(error) => {
                    warn!(%actor, %error, "cannot resolve a recipient; skipping it");
                    report.unresolved.push((actor, error.to_string()));
                }
            }
        }
        if recipients.is_empty() {
            return Ok(report);
        }
        let mut item = Enqueue::new(activity.to_vec(), key_ref).with_recipients(recipients);
        if let Some(key) = ordering_key {
            item = item.with_ordering_key(key);
        }
        report.deliveries = self.queue.enqueue(item).await?;
        Ok(report)
    }

    async fn resolve(
        &self,
        actor: &Iri,
        budget: &mut FetchBudget,
    ) -> Result<Recipient, ResolveError> {
        let url = Url::parse(actor.as_str()).map_err(|_| KeyError::NotAUrl {
            iri: actor.to_string(),
        })?;
        let remote = self.keys.actor(&url, budget).await?;
        remote
            .recipient()
            .ok_or_else(|| ResolveError::NoInbox(actor.to_string()))
    }

    fn is_local(&self, id: &Iri) -> bool {
        let Ok(url) = Url::parse(id.as_str()) else {
            return false;
        };
        self.local_origins
            .iter()
            .any(|local| local.origin() == url.origin())
    }
}

impl RemoteActor {
    /// Where a delivery to this actor goes: its inbox, with its server's shared inbox when
    /// its document names one (the queue then delivers once per shared inbox). `None` when
    /// its document names no inbox that is a URL.
    pub fn recipient(&self) -> Option<Recipient> {
        let inbox = Url::parse(self.inbox.as_ref()?.as_str()).ok()?;
        let mut recipient = Recipient::new(inbox);
        if let Some(shared) = self
            .shared_inbox
            .as_ref()
            .and_then(|shared| Url::parse(shared.as_str()).ok())
        {
            recipient = recipient.with_shared_inbox(shared);
        }
        Some(recipient)
    }
}
