//! The documents behind `federation::routes`: what an app's [`App`](federation::routes::App)
//! answers with, judged against who asks.
//!
//! An app's `App::actor`, `App::collection_for` and `App::object_for` can return these
//! directly for everything this crate keeps, and add their own objects beside.

use federation::routes::{CollectionItems, CollectionKind, ObjectState};
use serde_json::Value;
use url::Url;

use crate::InstanceState;
use crate::error::Error;
use crate::follows::FollowState;
use crate::objects::Scope;

impl InstanceState {
    /// The document of local actor `name` for the routes: `Found` (without a page: add the
    /// app's), `Gone` with its `Tombstone` once deleted, `None` if there is no such actor.
    pub async fn actor_state(&self, name: &str) -> Result<Option<ObjectState>, Error> {
        let Some(actor) = self.actor(name).await? else {
            return Ok(None);
        };
        let document = self.actor_document(&actor).await?;
        Ok(Some(ObjectState::found_or_gone(document, actor.deleted)))
    }

    /// Items `offset..offset + limit` of local actor `name`'s collection `kind`, as
    /// `requester` (an actor id; `None`: anonymous) may see it: followers and following are
    /// the accepted follows' actor ids, newest first; the outbox holds the activities the
    /// requester may read ([`InstanceState::scope_of`]). `None` if there is no such actor
    /// (or it was deleted).
    pub async fn collection_items(
        &self,
        name: &str,
        kind: CollectionKind,
        offset: u64,
        limit: u64,
        requester: Option<&str>,
    ) -> Result<Option<CollectionItems>, Error> {
        match self.actor(name).await? {
            Some(actor) if !actor.deleted => {}
            _ => return Ok(None),
        }
        let id = self.actor_id(name).to_string();
        let items = match kind {
            CollectionKind::Followers => CollectionItems::new(
                self.follower_count(&id, FollowState::Accepted).await?,
                self.followers(&id, FollowState::Accepted, offset, limit)
                    .await?
                    .into_iter()
                    .map(|f| Value::String(f.follower))
                    .collect(),
            ),
            CollectionKind::Following => CollectionItems::new(
                self.following_count(&id, FollowState::Accepted).await?,
                self.following(&id, FollowState::Accepted, offset, limit)
                    .await?
                    .into_iter()
                    .map(|f| Value::String(f.followed))
                    .collect(),
            ),
            _ => {
                let scope = self.requester_scope(requester).await?;
                CollectionItems::new(
                    self.outbox_count(&id, &scope).await?,
                    self.outbox(&id, &scope, offset, limit)
                        .await?
                        .into_iter()
                        .map(|a| a.document)
                        .collect(),
                )
            }
        };
        Ok(Some(items))
    }

    /// The stored object or local activity at `url`, as `requester` (an actor id; `None`:
    /// anonymous) may see it: `Found`, `Gone` with its `Tombstone`, or `NotFound` (also when
    /// the requester may not read it, so that whether it exists is not given away).
    pub async fn object_state(
        &self,
        url: &Url,
        requester: Option<&str>,
    ) -> Result<ObjectState, Error> {
        let scope = self.requester_scope(requester).await?;
        if let Some(object) = self.visible_object(url.as_str(), &scope).await? {
            return Ok(if object.deleted {
                ObjectState::Gone {
                    tombstone: object.document,
                }
            } else {
                ObjectState::Found {
                    document: object.document,
                    html: None,
                }
            });
        }
        if let Some(activity) = self.visible_activity(url.as_str(), &scope).await?
            && activity.local
        {
            return Ok(ObjectState::Found {
                document: activity.document,
                html: None,
            });
        }
        Ok(ObjectState::NotFound)
    }

    /// The scope of `requester` (an actor id); anonymous for `None`.
    async fn requester_scope(&self, requester: Option<&str>) -> Result<Scope, Error> {
        match requester {
            Some(requester) => self.scope_of(requester).await,
            None => Ok(Scope::anonymous()),
        }
    }
}
