//! When a local identity's follow of a remote actor (a group, a person) is accepted, the
//! actor's upcoming events are read from its outbox, as Mobilizon does: an event published
//! before the follow would otherwise never reach this server, and the person who just
//! followed a group would see none of its events.
//!
//! Bounded: the first page of the outbox only, at most [`MAX_EVENTS`] events, each fetched
//! from its own id (an outbox's embedded copy is not trusted) and only when it is on the
//! actor's own server; everything under one fetch budget. It runs after the inbox answered
//! (a task of its own): a slow or hostile outbox delays nothing.

use activitypub_core::{ActivityType, AnyObject, Reference, origin};
use anyhow::Result;
use federation::fetch::FetchBudget;
use tracing::{debug, info, warn};

use crate::app::Instance;

/// The most events read from one outbox.
pub(crate) const MAX_EVENTS: usize = 20;

/// The most items of the outbox's first page looked at.
const MAX_ITEMS: usize = 100;

impl Instance {
    /// Reads `actor`'s recent events from its outbox in the background (see the module).
    pub(crate) fn backfill_later(&self, actor: String) {
        let instance = self.clone();
        tokio::spawn(async move {
            match instance.backfill(&actor).await {
                Ok(stored) => info!(%actor, stored, "events read from a followed actor's outbox"),
                Err(error) => {
                    warn!(%actor, error = %format!("{error:#}"), "reading a followed actor's outbox failed")
                }
            }
        });
    }

    /// Reads `actor`'s recent events from its outbox; how many were stored.
    pub(crate) async fn backfill(&self, actor: &str) -> Result<usize> {
        let actor_iri = activitypub_core::Iri::parse(actor.to_owned())?;
        let mut budget = FetchBudget::default();
        let AnyObject::Actor(document) = self.fetch(actor, &mut budget).await? else {
            anyhow::bail!("{actor} is not an actor");
        };
        let Some(outbox) = document.outbox.as_ref() else {
            return Ok(0);
        };
        let outbox = outbox.to_string();
        let AnyObject::Collection(collection) = self.fetch(&outbox, &mut budget).await? else {
            anyhow::bail!("{actor}'s outbox is not a collection");
        };
        // The items are on the collection itself, or on its first page.
        let page = if collection.all_items().is_empty() {
            match collection.first.as_ref() {
                Some(Reference::Object(AnyObject::Collection(page))) => (**page).clone(),
                Some(Reference::Id(id)) => match self.fetch(id.as_str(), &mut budget).await? {
                    AnyObject::Collection(page) => *page,
                    _ => return Ok(0),
                },
                _ => return Ok(0),
            }
        } else {
            *collection
        };
        let mut candidates = Vec::new();
        for item in page.all_items().iter().take(MAX_ITEMS) {
            // A Create or an Announce of an event: the event's id.
            let event = match item.as_object() {
                Some(AnyObject::Activity(activity))
                    if matches!(activity.kind, ActivityType::Create | ActivityType::Announce) =>
                {
                    activity.object_id().cloned()
                }
                Some(AnyObject::Event(event)) => event.props.id.clone(),
                _ => None,
            };
            let Some(event) = event else { continue };
            if !origin::same_origin(&actor_iri, &event) {
                debug!(%actor, %event, "an outbox item on another server; skipped");
                continue;
            }
            if !candidates.contains(&event) {
                candidates.push(event);
            }
            if candidates.len() >= MAX_EVENTS {
                break;
            }
        }
        let mut stored = 0;
        for event in candidates {
            if self.db().object(event.as_str()).await?.is_some() {
                continue;
            }
            match self.fetch(event.as_str(), &mut budget).await {
                Ok(object @ AnyObject::Event(_)) => {
                    if self.store_remote_event(&object).await?.is_some() {
                        stored += 1;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    debug!(%event, error = %format!("{error:#}"), "an event of an outbox could not be read")
                }
            }
        }
        Ok(stored)
    }
}
