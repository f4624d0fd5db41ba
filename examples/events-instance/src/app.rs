//! The instance: its state, its documents, and how it publishes.

use std::sync::Arc;

use activitypub_core::{AnyObject, Iri};
use anyhow::{Context, Result, anyhow};
use federation::fetch::{FetchBudget, Fetcher};
use federation::inbox::{InboxStore, StoreError};
use federation::keys::KeyCache;
use federation::outbox::{Audience, DeliveryReport, Outbox};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::debug;
use url::Url;

use crate::db::{ActorRow, Db, ObjectRow};

pub(crate) use instance_server::INSTANCE_ACTOR;

/// The `@context` of every document the instance writes: the standard contexts every
/// implementation preloads, and the Mobilizon, schema.org and Mastodon terms inline.
pub(crate) fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        "https://w3id.org/security/data-integrity/v1",
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
        {
            "toot": "http://joinmastodon.org/ns#",
            "mz": "https://joinmobilizon.org/ns#",
            "sc": "http://schema.org#",
            "ical": "http://www.w3.org/2002/12/cal/ical#",
            "discoverable": "toot:discoverable",
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "joinMode": {"@id": "mz:joinMode", "@type": "mz:joinModeType"},
            "timezone": {"@id": "mz:timezone", "@type": "sc:Text"},
            "isOnline": {"@id": "mz:isOnline", "@type": "sc:Boolean"},
            "participantCount": {"@id": "mz:participantCount", "@type": "sc:Integer"},
            "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
            "remainingAttendeeCapacity": "sc:remainingAttendeeCapacity",
            "uuid": "sc:identifier",
            "address": {"@id": "sc:address", "@type": "sc:PostalAddress"},
            "PostalAddress": "sc:PostalAddress",
            "streetAddress": "sc:streetAddress",
            "addressLocality": "sc:addressLocality",
            "addressRegion": "sc:addressRegion",
            "postalCode": "sc:postalCode",
            "addressCountry": "sc:addressCountry",
            "commentsEnabled": {"@id": "mz:commentsEnabled", "@type": "sc:Boolean"},
            "anonymousParticipationEnabled": {"@id": "mz:anonymousParticipationEnabled", "@type": "sc:Boolean"},
            "repliesModerationOption": {"@id": "mz:repliesModerationOption", "@type": "mz:repliesModerationOptionType"},
            "draft": {"@id": "mz:draft", "@type": "sc:Boolean"},
            "role": {"@id": "mz:role", "@type": "sc:Text"},
            "Member": "mz:Member"
        }
    ])
}

/// RFC 3339 for a Unix time.
pub(crate) fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The Unix time of an RFC 3339 timestamp.
pub(crate) fn unix(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// The handle of user `user` of the server of `url`, as it is shown: `@user@host`, with the
/// port when it is not the scheme's default (`@alice@127.0.0.1:8080`), since WebFinger finds
/// the account only with it.
pub(crate) fn handle(user: &str, url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("@{user}@{host}:{port}"),
        None => format!("@{user}@{host}"),
    }
}

/// How the instance is set up.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) base_url: Url,
    pub(crate) name: String,
}

pub(crate) use instance_server::ErasedQueue;

/// The id of local actor `name`.
pub(crate) fn actor_id(base: &Url, name: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("actors/{name}"));
    url
}

/// The instance's state, shared by the routes, the inbox handlers and the client API.
#[derive(Clone, Debug)]
pub struct Instance(pub(crate) Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) settings: Settings,
    pub(crate) keys: KeyCache,
    pub(crate) fetcher: Fetcher,
    pub(crate) outbox: Outbox<ErasedQueue>,
}

impl Instance {
    pub(crate) fn new(
        db: Db,
        settings: Settings,
        keys: KeyCache,
        fetcher: Fetcher,
        outbox: Outbox<ErasedQueue>,
    ) -> Self {
        Self(Arc::new(Inner {
            db,
            settings,
            keys,
            fetcher,
            outbox,
        }))
    }

    pub(crate) fn db(&self) -> &Db {
        &self.0.db
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.0.settings.base_url
    }

    /// The cache of remote actors and keys (tests insert keys here).
    pub fn keys(&self) -> &KeyCache {
        &self.0.keys
    }

    /// `path` on the base URL.
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.0.settings.base_url.clone();
        url.set_path(path);
        url
    }

    pub(crate) fn actor_id(&self, name: &str) -> Url {
        actor_id(&self.0.settings.base_url, name)
    }

    /// The local actor name of `id`, when it is a local actor's id.
    pub(crate) fn local_actor_name(&self, id: &str) -> Option<String> {
        let prefix = self.actor_id("");
        id.strip_prefix(prefix.as_str())
            .filter(|rest| !rest.is_empty() && !rest.contains('/') && !rest.contains('#'))
            .map(str::to_owned)
    }

    pub(crate) fn is_local(&self, id: &str) -> bool {
        Url::parse(id).is_ok_and(|u| u.origin() == self.0.settings.base_url.origin())
    }

    /// A fresh id under `kind/` (`events`, `activities`, `comments`).
    pub(crate) fn new_id(&self, kind: &str) -> (String, Url) {
        let uuid = uuid::Uuid::new_v4().to_string();
        let url = self.url(&format!("{kind}/{uuid}"));
        (uuid, url)
    }

    /// The ActivityPub document of local actor `row`.
    pub(crate) async fn actor_document(&self, row: &ActorRow) -> Result<Value> {
        let id = self.actor_id(&row.name);
        let keys = self
            .db()
            .state()
            .signing_keys(&row.name)
            .await?
            .ok_or_else(|| anyhow!("no keys for {}", row.name))?;
        let rsa = keys
            .rsa
            .verifying_key()
            .to_spki_pem()
            .context("encoding a public key")?;
        let ed = keys
            .ed25519
            .verifying_key()
            .to_multikey()
            .context("encoding a public key")?;
        let mut document = json!({
            "@context": context(),
            "id": id.as_str(),
            "type": row.kind,
            "preferredUsername": row.name,
            "name": row.display_name,
            "summary": row.summary,
            "url": id.as_str(),
            "inbox": format!("{id}/inbox"),
            "outbox": format!("{id}/outbox"),
            "followers": format!("{id}/followers"),
            "following": format!("{id}/following"),
            "endpoints": {"sharedInbox": self.url("inbox").as_str()},
            "manuallyApprovesFollowers": false,
            "discoverable": true,
            "publicKey": {
                "id": format!("{id}#main-key"),
                "owner": id.as_str(),
                "publicKeyPem": rsa,
            },
            "assertionMethod": [{
                "id": format!("{id}#ed25519-key"),
                "type": "Multikey",
                "controller": id.as_str(),
                "publicKeyMultibase": ed,
            }],
        });
        if row.kind == "Group"
            && let Some(map) = document.as_object_mut()
        {
            map.insert("members".into(), Value::String(format!("{id}/members")));
        }
        Ok(document)
    }

    /// Stores `activity` in `actor_name`'s outbox and delivers it to everyone it is addressed
    /// to. Deliveries sharing `ordering_key` arrive in order. Its hidden recipients (`bto`,
    /// `bcc`) are delivered to, but neither stored nor sent (ActivityPub §6).
    pub(crate) async fn publish(
        &self,
        actor_name: &str,
        activity: Value,
        ordering_key: Option<&str>,
    ) -> Result<DeliveryReport> {
        let id = activity
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("an activity without an id"))?
            .to_owned();
        // Stored with its hidden recipients in its addressing (they may read it), not in its
        // document.
        self.db().put_activity(&activity).await?;
        let document = AnyObject::from_value(activity).context("an activity we wrote")?;
        let report = self
            .0
            .outbox
            .deliver(document, actor_name, ordering_key, self)
            .await?;
        debug!(%id, recipients = report.recipients.len(), deliveries = report.deliveries.len(),
            unresolved = report.unresolved.len(), "published");
        Ok(report)
    }

    /// Fetches a remote object (an event someone announced, say) within `budget`.
    pub(crate) async fn fetch(&self, id: &str, budget: &mut FetchBudget) -> Result<AnyObject> {
        let url = Url::parse(id)?;
        let fetched = self.0.fetcher.fetch(&url, budget).await?;
        Ok(fetched.object().clone())
    }

    /// The fetcher.
    pub(crate) fn fetcher(&self) -> &Fetcher {
        &self.0.fetcher
    }

    /// The display name and handle of an actor, local or remote.
    pub(crate) async fn actor_name(&self, id: &str) -> (String, Option<String>) {
        if let Some(name) = self.local_actor_name(id)
            && let Ok(Some(row)) = self.db().actor(&name).await
        {
            let handle = handle(&row.name, &self.0.settings.base_url);
            return (row.display_name, Some(handle));
        }
        if let Ok(Some((name, stored))) = self.db().remote_actor_name(id).await {
            // Handles stored before they had their `@` and port are made whole from the id.
            let handle = match (stored, Url::parse(id)) {
                (Some(stored), Ok(url)) if !stored.starts_with('@') => stored
                    .split('@')
                    .next()
                    .filter(|user| !user.is_empty())
                    .map(|user| handle(user, &url)),
                (stored, _) => stored,
            };
            return (name, handle);
        }
        (id.to_owned(), None)
    }

    /// Remembers a remote actor's name, handle and followers collection (from the key cache,
    /// which has its document).
    pub(crate) async fn remember_actor(&self, id: &Iri) {
        if self.is_local(id.as_str()) {
            return;
        }
        let Ok(url) = Url::parse(id.as_str()) else {
            return;
        };
        let mut budget = FetchBudget::default();
        if let Ok(actor) = self.0.keys.actor(&url, &mut budget).await {
            let name = actor
                .actor
                .props
                .name
                .as_ref()
                .map(ToString::to_string)
                .or_else(|| actor.preferred_username.clone())
                .unwrap_or_else(|| id.to_string());
            let handle = actor
                .preferred_username
                .as_deref()
                .map(|user| handle(user, &url));
            let _ = self
                .db()
                .put_remote_actor(
                    id.as_str(),
                    &name,
                    handle.as_deref(),
                    Some(id.as_str()),
                    actor.actor.followers.as_ref().map(|f| f.as_str()),
                )
                .await;
        }
    }

    /// An event's row, when it is stored and not deleted.
    pub(crate) async fn event(&self, id: &str) -> Result<Option<ObjectRow>> {
        Ok(self
            .db()
            .object(id)
            .await?
            .filter(|row| row.kind == "Event" && !row.deleted))
    }
}

impl Audience for Instance {
    async fn expand(&self, collection: &Iri) -> Result<Option<Vec<Iri>>, StoreError> {
        let Ok(url) = Url::parse(collection.as_str()) else {
            return Ok(None);
        };
        let segments: Vec<&str> = url
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        let members = match segments.as_slice() {
            // Instance-state's: the accepted followers, blocked actors left out.
            ["actors", _, "followers"] => return self.db().state().expand(collection).await,
            ["events", _, "participants"] => {
                let event = url.as_str().trim_end_matches("/participants");
                self.db()
                    .participants(event, "accepted")
                    .await
                    .map_err(|e| StoreError::new("reading participants", e))?
            }
            _ => return Ok(None),
        };
        Ok(Some(
            members
                .into_iter()
                .filter_map(|m| Iri::parse(m).ok())
                .collect(),
        ))
    }
}

/// The inbox's durable record: instance-state's, which also knows the actors that take part
/// in events here.
#[derive(Clone, Debug)]
pub(crate) struct InstanceStore(pub(crate) Db);

impl InboxStore for InstanceStore {
    async fn record(&self, activity_id: &str) -> Result<bool, StoreError> {
        self.0.state().record(activity_id).await
    }

    async fn forget(&self, activity_id: &str) -> Result<(), StoreError> {
        self.0.state().forget(activity_id).await
    }

    async fn knows_actor(&self, actor: &str) -> Result<bool, StoreError> {
        self.0
            .knows_actor(actor)
            .await
            .map_err(|e| StoreError::new("looking an actor up", e))
    }
}

/// Read-only views of the instance's state, for the demo, tests and operators' scripts.
impl Instance {
    /// The stored document of an object (an event or a comment, local or remote); a deleted
    /// one is its tombstone.
    pub async fn stored_object(&self, id: &str) -> Result<Option<Value>> {
        Ok(self.db().object(id).await?.map(|row| row.document))
    }

    /// Whether the object `id` is stored and deleted.
    pub async fn is_deleted(&self, id: &str) -> Result<bool> {
        Ok(self.db().object(id).await?.is_some_and(|row| row.deleted))
    }

    /// The state of `actor`'s participation in `event` (`pending`, `accepted`, `rejected`,
    /// `left`), as this instance knows it.
    pub async fn participation_state(&self, event: &str, actor: &str) -> Result<Option<String>> {
        Ok(self
            .db()
            .participation(event, actor)
            .await?
            .map(|p| p.state))
    }

    /// The participant count of an event as this instance shows it: the accepted
    /// participations for a local event, the organizer's count for a remote one.
    pub async fn participant_count(&self, event: &str) -> Result<Option<u64>> {
        let Some(row) = self.event(event).await? else {
            return Ok(None);
        };
        if row.local {
            Ok(Some(
                self.db().participants(event, "accepted").await?.len() as u64
            ))
        } else {
            Ok(row.document.get("participantCount").and_then(Value::as_u64))
        }
    }

    /// The followers of local actor `name`.
    pub async fn followers_of(&self, name: &str) -> Result<Vec<String>> {
        self.db().followers(name, 0, i64::MAX).await
    }

    /// The state of local actor `name`'s follow of `target` (`pending`, `accepted`,
    /// `rejected`).
    pub async fn following_state(&self, name: &str, target: &str) -> Result<Option<String>> {
        self.db().following_state(name, target).await
    }

    /// The ids of the comments on `event`.
    pub async fn comment_ids(&self, event: &str) -> Result<Vec<String>> {
        Ok(self
            .db()
            .comments(event)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect())
    }

    /// The name and handle kept of remote actor `id`, if it was met.
    pub async fn remote_actor(&self, id: &str) -> Result<Option<(String, Option<String>)>> {
        self.db().remote_actor_name(id).await
    }

    /// How many activity ids the inbox has recorded as processed.
    pub async fn processed_activities(&self) -> Result<i64> {
        self.db().processed_count().await
    }

    /// How many events and comments (local and remote, not deleted) are stored.
    pub async fn stored_object_count(&self) -> Result<i64> {
        self.db().object_count().await
    }
}
