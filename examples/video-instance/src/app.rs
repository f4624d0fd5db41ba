//! The instance: its state, its actors' documents, and how it publishes.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use instance_server::{INSTANCE_ACTOR, Parts, WithParts};
use instance_state::actors::{ActorKind, LocalActor, NewActor};
use serde_json::{Value, json};
use url::Url;

use crate::VideoOptions;
use crate::db::Db;

/// The instance's state, shared by the routes, the inbox handlers and the pages.
#[derive(Clone)]
pub struct Instance(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("base_url", &self.0.parts.base_url.as_str())
            .field("media_dir", &self.0.media_dir)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) parts: Parts,
    pub(crate) options: VideoOptions,
    pub(crate) media_dir: PathBuf,
    pub(crate) media: media_store::MediaStore,
    /// The search index: a serving instance's (administration commands have none).
    pub(crate) search: Option<std::sync::Arc<video_search::SearchIndex>>,
    pub(crate) danger_allow_private_addresses: bool,
    /// The processing of uploaded videos (thumbnails and HLS).
    pub(crate) processing: crate::processing::Processing,
    /// The mirrors' runner and timer.
    pub(crate) redundancy: crate::redundancy::Redundancy,
    /// The media types of the files served lately.
    pub(crate) media_types: crate::files::MediaTypes,
    /// How far the search index followed the database's search changes.
    pub(crate) search_follower: crate::search::Follower,
}

impl WithParts for Instance {
    fn parts(&self) -> &Parts {
        &self.0.parts
    }
}

impl Instance {
    pub(crate) fn new(
        parts: Parts,
        options: VideoOptions,
        media_dir: PathBuf,
        media: media_store::MediaStore,
        search: Option<std::sync::Arc<video_search::SearchIndex>>,
        processing: crate::processing::Processing,
    ) -> Self {
        let danger_allow_private_addresses = parts.danger_allow_private_addresses();
        let job_lease = options.job_lease;
        Self(Arc::new(Inner {
            db: Db::new(parts.state.clone()),
            parts,
            options,
            media_dir,
            media,
            search,
            danger_allow_private_addresses,
            processing,
            redundancy: crate::redundancy::Redundancy::new(job_lease),
            search_follower: crate::search::Follower::default(),
            media_types: crate::files::MediaTypes::default(),
        }))
    }

    pub(crate) fn db(&self) -> &Db {
        &self.0.db
    }

    /// Stops the background work (processing, mirrors) and hands back what it held, so
    /// that another process, or this one started again, takes it at once instead of after
    /// its lease. `serve` calls it once it stopped serving; an instance dropped without it
    /// hands its work back on a best-effort basis (when its runtime still runs).
    pub async fn stop_background_work(&self) {
        self.0.processing.stop().await;
        self.0.redundancy.stop().await;
    }

    /// The media types of the files served lately ([`crate::files::serve_file`]).
    pub(crate) fn media_types(&self) -> &crate::files::MediaTypes {
        &self.0.media_types
    }

    /// Where files are kept.
    pub fn media_dir(&self) -> &std::path::Path {
        &self.0.media_dir
    }

    /// The files of the videos.
    pub(crate) fn media(&self) -> &media_store::MediaStore {
        &self.0.media
    }

    /// Makes channel `name` (a Group actor) owned by local actor `owner` (a Person, the
    /// channel's `attributedTo`), in the owner's account. `false` when the name is taken.
    pub async fn create_channel(
        &self,
        owner: &str,
        name: &str,
        display_name: &str,
        summary: &str,
    ) -> Result<bool> {
        let Some(person) = self.state().actor(owner).await? else {
            bail!("there is no local actor {owner:?}");
        };
        if person.kind != ActorKind::Person || person.deleted {
            bail!("{owner:?} is not a person who can own a channel");
        }
        let mut new = NewActor::new(name, ActorKind::Group, display_name)
            .with_summary(federation::sanitize::sanitize_html(summary));
        if let Some(account) = &person.account {
            new = new.with_account(account.clone());
        }
        match self.state().create_actor(new).await {
            Ok(_) => {}
            Err(instance_state::Error::NameTaken { .. }) => return Ok(false),
            Err(e) => return Err(e).context("creating a channel"),
        }
        self.db().put_channel(name, owner).await?;
        Ok(true)
    }

    /// Makes person `owner`'s default channel (`{owner}_channel`) when it has none.
    pub(crate) async fn ensure_default_channel(&self, owner: &str) -> Result<()> {
        if !self.db().channels_of(owner).await?.is_empty() {
            return Ok(());
        }
        let name = format!("{owner}_channel");
        if instance_state::actors::valid_name(&name) {
            self.create_channel(owner, &name, &format!("Main {owner} channel"), "")
                .await?;
        }
        Ok(())
    }

    /// The ActivityPub document of local actor `actor`: instance-state's, with what PeerTube
    /// adds: a channel's `attributedTo` (its owner), PeerTube's `playlists` collection.
    pub(crate) async fn actor_document(&self, actor: &LocalActor) -> Result<Value> {
        let mut document = self.state().actor_document(actor).await?;
        if actor.deleted {
            return Ok(document);
        }
        let id = self.actor_id(&actor.name);
        let map = document
            .as_object_mut()
            .ok_or_else(|| anyhow!("an actor document is an object"))?;
        if actor.kind == ActorKind::Group
            && let Some(owner) = self.db().channel_owner(&actor.name).await?
        {
            map.insert(
                "attributedTo".into(),
                json!([{"type": "Person", "id": self.actor_id(&owner).as_str()}]),
            );
        }
        map.insert("playlists".into(), json!(format!("{id}/playlists")));
        Ok(document)
    }

    /// Publishes `activity` as local actor `actor_name` (stored in its outbox, delivered to
    /// its recipients).
    pub(crate) async fn publish(&self, actor_name: &str, activity: Value) -> Result<()> {
        let ordering = activity
            .get("object")
            .and_then(|o| o.get("id").or(Some(o)))
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.state()
            .publish(self.outbox(), actor_name, activity, ordering.as_deref())
            .await
            .map_err(|e| anyhow!("publishing as {actor_name}: {e}"))?;
        Ok(())
    }

    /// Makes the instance actor follow another instance's actor `target`.
    pub async fn follow_instance(&self, target: &Url) -> Result<()> {
        self.state()
            .send_follow(self.outbox(), INSTANCE_ACTOR, target.as_str())
            .await
            .map_err(|e| anyhow!("following {target}: {e}"))?;
        Ok(())
    }

    /// Local actor `name` follows `target` (an actor id here or elsewhere): recorded as pending
    /// and a `Follow` sent (a local target answers at once).
    pub(crate) async fn follow(&self, name: &str, target: &str) -> Result<()> {
        self.state()
            .send_follow(self.outbox(), name, target)
            .await
            .map_err(|e| anyhow!("{name} following {target}: {e}"))?;
        Ok(())
    }

    /// Local actor `name` stops following `target` (or withdraws its request). `false` when
    /// it did not follow it.
    pub(crate) async fn unfollow(&self, name: &str, target: &str) -> Result<bool> {
        self.state()
            .send_unfollow(self.outbox(), name, target)
            .await
            .map_err(|e| anyhow!("{name} unfollowing {target}: {e}"))
    }

    /// The remote actor `id`, from the key cache or fetched within the fetcher's bounds.
    pub(crate) async fn remote_actor(
        &self,
        id: &str,
    ) -> Result<Arc<federation::keys::RemoteActor>> {
        let url = Url::parse(id).with_context(|| format!("{id:?} is not an address"))?;
        let mut budget = federation::fetch::FetchBudget::default();
        Ok(self.keys().actor(&url, &mut budget).await?)
    }
}
