//! The pod: its state, its people's documents, and how it publishes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use federation::fetch::Fetcher;
use federation::keys::KeyCache;
use federation::outbox::Outbox;
use instance_server::{ErasedQueue, INSTANCE_ACTOR, Parts};
use instance_state::InstanceState;
use instance_state::actors::LocalActor;
use instance_state::follows::FollowState;
use instance_state::objects::{Addressing, Scope, Visibility};
use serde_json::{Value, json};
use tracing::{debug, warn};
use url::Url;

use crate::PodOptions;
use crate::db::Db;

/// The most follows, and followers, read for a person's contacts.
const MAX_CONTACTS: u64 = 1_000;

/// The pod's state, shared by the routes, the inbox handlers and the pages.
#[derive(Clone)]
pub struct Instance(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("base_url", &self.0.base_url.as_str())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) base_url: Url,
    pub(crate) name: String,
    pub(crate) keys: KeyCache,
    pub(crate) fetcher: Fetcher,
    pub(crate) outbox: Outbox<ErasedQueue>,
    pub(crate) options: PodOptions,
    pub(crate) media: media_store::MediaStore,
    /// Finds the actors `@user@host` mentions name, within the fetcher's bounds.
    pub(crate) webfinger: webfinger::client::Client,
}

impl Instance {
    pub(crate) fn new(
        parts: Parts,
        options: PodOptions,
        media: media_store::MediaStore,
    ) -> Result<Self> {
        // The same bounds as the fetcher's: its switches, time limits and body size.
        let fetch = parts.fetcher.config();
        let webfinger = webfinger::client::Client::from_config(
            webfinger::fetch::HttpConfig::default()
                .with_timeout(fetch.timeout)
                .with_connect_timeout(fetch.connect_timeout)
                .with_max_body_bytes(fetch.max_body_bytes)
                .with_danger_allow_http(fetch.danger_allow_http)
                .with_danger_allow_private_addresses(fetch.danger_allow_private_addresses),
        )?
        .with_total_timeout(fetch.timeout);
        Ok(Self(Arc::new(Inner {
            db: Db::new(parts.state),
            base_url: parts.base_url,
            name: parts.name,
            keys: parts.keys,
            fetcher: parts.fetcher,
            outbox: parts.outbox,
            options,
            media,
            webfinger,
        })))
    }

    pub(crate) fn db(&self) -> &Db {
        &self.0.db
    }

    /// The social state.
    pub fn state(&self) -> &InstanceState {
        self.0.db.state()
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.0.base_url
    }

    /// The pod's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The cache of remote actors and keys.
    pub fn keys(&self) -> &KeyCache {
        &self.0.keys
    }

    pub(crate) fn outbox(&self) -> &Outbox<ErasedQueue> {
        &self.0.outbox
    }

    pub(crate) fn options(&self) -> &PodOptions {
        &self.0.options
    }

    pub(crate) fn media(&self) -> &media_store::MediaStore {
        &self.0.media
    }

    /// `path` on the base URL.
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.0.base_url.clone();
        url.set_path(path);
        url
    }

    /// The address of tag `name`'s page (and collection): `{base}tags/{name}`.
    pub(crate) fn tag_url(&self, name: &str) -> String {
        let mut url = self.0.base_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.clear().push("tags").push(name);
        }
        url.to_string()
    }

    /// The id of local actor `name`.
    pub fn actor_id(&self, name: &str) -> Url {
        self.state().actor_id(name)
    }

    /// The instance actor's id.
    pub fn instance_actor(&self) -> Url {
        self.actor_id(INSTANCE_ACTOR)
    }

    /// Now, in Unix microseconds.
    pub(crate) fn now(&self) -> i64 {
        self.state().options().clock.now()
    }

    /// What `reader` (an actor id, local or remote) may read: instance-state's scope (itself,
    /// and the followers collections of every actor it follows, at the address each one's
    /// document gives).
    pub(crate) async fn scope_of(&self, reader: &str) -> Result<Scope> {
        Ok(self.state().scope_of(reader).await?)
    }

    /// The scope of a signed-in identity, or anonymous.
    pub(crate) async fn viewer_scope(&self, identity: Option<&str>) -> Result<Scope> {
        match identity {
            Some(name) => self.scope_of(self.actor_id(name).as_str()).await,
            None => Ok(Scope::anonymous()),
        }
    }

    /// The ActivityPub document of local actor `actor`: instance-state's, with its profile
    /// fields as `PropertyValue` attachments (as Mastodon shows them) and the images' types.
    pub(crate) async fn actor_document(&self, actor: &LocalActor) -> Result<Value> {
        let mut document = self.state().actor_document(actor).await?;
        if actor.deleted {
            return Ok(document);
        }
        let id = self.actor_id(&actor.name);
        let fields = self.db().profile_fields(id.as_str()).await?;
        let map = document
            .as_object_mut()
            .ok_or_else(|| anyhow!("an actor document is an object"))?;
        if let Some(Value::Array(context)) = map.get_mut("@context") {
            context.push(json!({
                "schema": "http://schema.org#",
                "PropertyValue": "schema:PropertyValue",
                "value": "schema:value"
            }));
        }
        if !fields.is_empty() {
            map.insert(
                "attachment".into(),
                Value::Array(
                    fields
                        .iter()
                        .map(|field| {
                            json!({"type": "PropertyValue", "name": field.name, "value": field.value})
                        })
                        .collect(),
                ),
            );
        }
        for member in ["icon", "image"] {
            let Some(Value::Object(image)) = map.get_mut(member) else {
                continue;
            };
            let Some(url) = image.get("url").and_then(Value::as_str) else {
                continue;
            };
            if let Some(key) = url
                .strip_prefix(self.url("/media/").as_str())
                .map(str::to_owned)
                && let Some(row) = self.db().image(&key).await?
            {
                image.insert("mediaType".into(), Value::String(row.media_type));
            }
        }
        Ok(document)
    }

    /// Publishes `activity` as local actor `actor_name` (stored in its outbox, delivered to
    /// its recipients, and to the accepted Mastodon-style relays when it is public). A public
    /// or unlisted `Create`, `Update`, `Delete` or `Announce` carries its actor's Linked Data
    /// signature ([`Self::signed_for_everyone`]): the signed document is the one stored and
    /// delivered, to relays and to everyone else.
    pub(crate) async fn publish(&self, actor_name: &str, activity: Value) -> Result<()> {
        self.publish_with(actor_name, activity, false).await
    }

    /// [`Self::publish`], the activity carrying its actor's Linked Data signature whatever its
    /// audience (a comment in a limited thread, which the post's author passes on:
    /// `threads.rs`); a signature that cannot be made is an error, and nothing is sent.
    pub(crate) async fn publish_ld_signed(&self, actor_name: &str, activity: Value) -> Result<()> {
        self.publish_with(actor_name, activity, true).await
    }

    async fn publish_with(
        &self,
        actor_name: &str,
        activity: Value,
        always_sign: bool,
    ) -> Result<()> {
        let ordering = activity
            .get("object")
            .and_then(|o| o.get("id").or(Some(o)))
            .and_then(Value::as_str)
            .map(str::to_owned);
        // The blocked recipients go before the signature, so that what is signed is what is
        // sent (instance-state's `publish` removes them too, and finds none left).
        let activity = self
            .state()
            .without_blocked_recipients(actor_name, activity)
            .await?;
        let activity = if always_sign {
            self.ld_signed(actor_name, &activity).await?
        } else {
            self.signed_for_everyone(actor_name, activity).await
        };
        let for_relays = activity.clone();
        self.state()
            .publish(&self.0.outbox, actor_name, activity, ordering.as_deref())
            .await
            .map_err(|e| anyhow!("publishing as {actor_name}: {e}"))?;
        self.send_to_relays(actor_name, &for_relays).await;
        Ok(())
    }

    /// `activity` by local actor `actor_name` with its `RsaSignature2017` Linked Data
    /// signature when it is a public or unlisted `Create`, `Update`, `Delete` or `Announce`
    /// not signed already, as Mastodon signs every activity of a public or unlisted post:
    /// a relay forwards it under its own HTTP signature, and Mastodon's inbox (and this pod's,
    /// `relays.rs`) believes such a forward only from this signature or a fetch of the post.
    /// A signature that cannot be made is logged and the activity sent unsigned: receivers
    /// then fetch the post here. That is the fate of a profile `Update`, whose actor document
    /// names a context `ld-signatures` does not bundle (data integrity) and never fetches.
    async fn signed_for_everyone(&self, actor_name: &str, activity: Value) -> Value {
        let kind = activity.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("Create" | "Update" | "Delete" | "Announce"))
            || !matches!(
                Addressing::of(&activity).visibility(),
                Visibility::Public | Visibility::Unlisted
            )
            || activity.get("signature").is_some()
        {
            return activity;
        }
        match self.ld_signed(actor_name, &activity).await {
            Ok(signed) => signed,
            Err(error) => {
                if matches!(
                    error.downcast_ref::<ld_signatures::Error>(),
                    Some(ld_signatures::Error::RemoteContext { .. })
                ) {
                    debug!(%error, actor = actor_name, "an activity sent without its LD signature");
                } else {
                    warn!(%error, actor = actor_name, "an activity sent without its LD signature");
                }
                activity
            }
        }
    }

    /// Local person `name` follows `target` (an actor id here or elsewhere): recorded as
    /// pending and a `Follow` sent (a local target answers at once).
    pub async fn follow(&self, name: &str, target: &str) -> Result<()> {
        self.state()
            .send_follow(&self.0.outbox, name, target)
            .await
            .map_err(|e| anyhow!("{name} following {target}: {e}"))?;
        Ok(())
    }

    /// Local person `name` stops following `target`. `false` when it did not follow it.
    pub async fn unfollow(&self, name: &str, target: &str) -> Result<bool> {
        self.state()
            .send_unfollow(&self.0.outbox, name, target)
            .await
            .map_err(|e| anyhow!("{name} unfollowing {target}: {e}"))
    }

    /// The contacts of local person `name`: the actors it follows or that follow it
    /// (accepted), each once, in the order followed then followers.
    pub(crate) async fn contacts(&self, name: &str) -> Result<Vec<String>> {
        let id = self.actor_id(name).to_string();
        let state = self.state();
        let mut contacts: Vec<String> = state
            .following(&id, FollowState::Accepted, 0, MAX_CONTACTS)
            .await?
            .into_iter()
            .map(|f| f.followed)
            .collect();
        for follower in state
            .followers(&id, FollowState::Accepted, 0, MAX_CONTACTS)
            .await?
        {
            if !contacts.contains(&follower.follower) {
                contacts.push(follower.follower);
            }
        }
        Ok(contacts)
    }

    /// How an actor (local or remote) is named on the pages: its display name and handle.
    pub(crate) async fn actor_label(&self, id: &str) -> (String, String) {
        if let Some(name) = self.state().local_name(id) {
            let handle = format!("@{name}@{}", self.authority());
            if let Ok(Some(actor)) = self.state().actor(&name).await {
                return (actor.display_name, handle);
            }
            return (name, handle);
        }
        match self.state().remote_actor(id).await {
            Ok(Some(actor)) => {
                let handle = actor.handle.clone().unwrap_or_else(|| id.to_owned());
                (actor.name, handle)
            }
            _ => (id.to_owned(), id.to_owned()),
        }
    }

    /// [`Instance::actor_label`] of each of `ids`, the remote ones read in one query.
    pub(crate) async fn actor_labels(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, (String, String)>> {
        let mut labels = HashMap::new();
        let mut remote = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            if self.state().local_name(id).is_some() {
                labels.insert(id.clone(), self.actor_label(id).await);
            } else {
                remote.push(id.clone());
            }
        }
        let mut found = self.db().remote_labels(&remote).await?;
        for id in remote {
            let label = match found.remove(&id) {
                Some((name, handle)) => (name, handle.unwrap_or_else(|| id.clone())),
                None => (id.clone(), id.clone()),
            };
            labels.insert(id, label);
        }
        Ok(labels)
    }

    /// The host (and port) of the base URL, as handles name it.
    pub(crate) fn authority(&self) -> String {
        let host = self.0.base_url.host_str().unwrap_or_default();
        match self.0.base_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// The remote actor `id`, from the key cache or fetched within the fetcher's bounds, and
    /// remembered by name.
    pub(crate) async fn remember_actor(&self, id: &str) -> Result<()> {
        if self.state().is_local(id) || self.state().remote_actor(id).await?.is_some() {
            return Ok(());
        }
        let url = Url::parse(id).with_context(|| format!("{id:?} is not an address"))?;
        let mut budget = federation::fetch::FetchBudget::default();
        let remote = self.0.keys.actor(&url, &mut budget).await?;
        let name = remote
            .actor
            .props
            .name
            .clone()
            .unwrap_or_else(|| remote.preferred_username.clone().unwrap_or_default());
        let mut record = instance_state::remote::RemoteActor::new(id, name);
        if let Some(handle) = remote.handle() {
            record = record.with_handle(handle);
        }
        if let Some(followers) = &remote.actor.followers {
            record = record.with_followers(followers.as_str());
        }
        self.state().put_remote_actor(&record).await?;
        Ok(())
    }
}
