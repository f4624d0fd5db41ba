//! Playlists over ActivityPub, in PeerTube's shapes: a local playlist's document at its id
//! (`/video-playlists/{uuid}`, an ordered collection of type `Playlist` whose pages, `?page=n`,
//! list its elements' ids), each element at `/video-playlists/{uuid}/videos/{element}` (a
//! `PlaylistElement`: the video's id in `url`, its `position`, the part to play), an actor's
//! `playlists` collection; `Create`, `Update` and `Delete` of public playlists from the owning
//! account, to the followers of the account, of its channel and of the instance (PeerTube's
//! audience); and remote playlists received from the actors and servers followed here, their
//! elements fetched within [`MAX_REMOTE_PAGES`] pages and [`MAX_REMOTE_ELEMENTS`] elements.
//!
//! The documents list only the videos anyone may see; private playlists are not served (`404`,
//! as PeerTube), unlisted ones are, to whoever has the address.

use activitypub_core::ext::peertube::{
    NewPlaylist, NewPlaylistElement, PlaylistElementSummary, PlaylistSummary, Thumbnail,
};
use activitypub_core::{AnyObject, Iri, PUBLIC, Timestamp};
use anyhow::{Context, Result, anyhow};
use federation::fetch::FetchBudget;
use federation::inbox::Incoming;
use federation::routes::ObjectState;
use instance_server::INSTANCE_ACTOR;
use instance_state::objects::{Addressing, Scope, Visibility};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::{debug, info};
use url::Url;

use super::{ElementRow, PlaylistRow, Privacy};
use crate::app::Instance;
use instance_server::WithParts as _;

/// Elements on one page of a playlist's document (PeerTube's
/// `ACTIVITY_PUB.COLLECTION_ITEMS_PER_PAGE`).
const ITEMS_PER_PAGE: usize = 10;

/// The most pages of a remote playlist fetched when it is received.
pub(crate) const MAX_REMOTE_PAGES: usize = 10;

/// The most elements of a remote playlist fetched (one request each) when it is received.
pub(crate) const MAX_REMOTE_ELEMENTS: usize = 100;

/// The most playlists an actor's `playlists` collection lists.
const MAX_COLLECTION_ITEMS: i64 = 100;

fn iri(text: &str) -> Result<Iri> {
    Iri::parse(text).map_err(|e| anyhow!("{text} is not an IRI: {e}"))
}

fn timestamp(unix: i64) -> Result<Timestamp> {
    Ok(Timestamp::new(
        OffsetDateTime::from_unix_timestamp(unix).context("a time out of range")?,
    ))
}

impl Instance {
    /// The elements of `playlist` anyone may see, in order (what its document lists).
    pub(crate) async fn public_elements(&self, playlist: &PlaylistRow) -> Result<Vec<ElementRow>> {
        Ok(self
            .shown_elements(playlist, &Scope::anonymous())
            .await?
            .into_iter()
            .filter(|shown| shown.video.is_some())
            .map(|shown| shown.element)
            .collect())
    }

    /// A local playlist's image: its first public video's.
    pub(crate) async fn playlist_thumbnail(
        &self,
        playlist: &PlaylistRow,
        elements: &[ElementRow],
    ) -> Result<Option<(crate::videos::ThumbnailRef, String)>> {
        if !playlist.local {
            return Ok(playlist.thumbnail.clone().map(|url| {
                (
                    crate::videos::ThumbnailRef {
                        url,
                        width: 320,
                        height: 180,
                    },
                    "image/jpeg".to_owned(),
                )
            }));
        }
        let Some(first) = elements.first() else {
            return Ok(None);
        };
        let files = self.db().files(&first.video).await?;
        let media_type = files
            .iter()
            .find(|f| f.role == "thumbnail")
            .map_or_else(|| "image/png".to_owned(), |f| f.media_type.clone());
        Ok(Some((self.thumbnail(&files), media_type)))
    }

    /// What the collection and its pages of local `playlist` share.
    async fn new_playlist(
        &self,
        playlist: &PlaylistRow,
        elements: &[ElementRow],
    ) -> Result<NewPlaylist> {
        let mut new = NewPlaylist::new(
            iri(&playlist.id)?,
            playlist.uuid.clone(),
            playlist.name.clone(),
            timestamp(playlist.published)?,
        )
        .with_updated(timestamp(playlist.updated)?);
        if !playlist.description.is_empty() {
            new = new.with_content(playlist.description.clone());
        }
        if let Some(channel) = &playlist.channel {
            let position = sqlx::query(
                "SELECT COUNT(*) AS n FROM vi_playlists WHERE channel = $1 AND published <= $2",
            )
            .bind(channel.clone())
            .bind(playlist.published)
            .fetch_one(self.state().pool())
            .await?;
            let position: i64 = sqlx::Row::try_get(&position, "n")?;
            new = new.with_channel(iri(channel)?, u64::try_from(position.max(1)).unwrap_or(1));
        }
        if let Some((thumbnail, media_type)) = self.playlist_thumbnail(playlist, elements).await? {
            new = new.with_thumbnail(Thumbnail::new(
                iri(&thumbnail.url)?,
                media_type,
                u64::try_from(thumbnail.width).unwrap_or(0),
                u64::try_from(thumbnail.height).unwrap_or(0),
            ));
        }
        if playlist.privacy == Privacy::Public {
            new = new.with_to(vec![iri(PUBLIC)?]);
        }
        Ok(new)
    }

    /// The document of local `playlist`: the collection (`page` `None`), or its page `page`
    /// (from 1).
    pub(crate) async fn playlist_document(
        &self,
        playlist: &PlaylistRow,
        page: Option<usize>,
    ) -> Result<Value> {
        let elements = self.public_elements(playlist).await?;
        let total = u64::try_from(elements.len()).unwrap_or(u64::MAX);
        let new = self.new_playlist(playlist, &elements).await?;
        let page_id = |n: usize| iri(&format!("{}?page={n}", playlist.id));
        let document = match page {
            None => {
                let first = if elements.is_empty() {
                    None
                } else {
                    Some(page_id(1)?)
                };
                new.collection(total, first)
            }
            Some(n) => {
                let items = elements
                    .iter()
                    .skip(n.saturating_sub(1).saturating_mul(ITEMS_PER_PAGE))
                    .take(ITEMS_PER_PAGE)
                    .map(|e| iri(&e.id))
                    .collect::<Result<Vec<_>>>()?;
                let prev = if n > 1 { Some(page_id(n - 1)?) } else { None };
                let next = if n.saturating_mul(ITEMS_PER_PAGE) < elements.len() {
                    Some(page_id(n + 1)?)
                } else {
                    None
                };
                new.page(page_id(n)?, total, &items, prev, next)
            }
        }
        .map_err(|e| anyhow!("writing the playlist: {e}"))?;
        serde_json::to_value(&document).context("writing the playlist")
    }

    /// The `PlaylistElement` document of `element`.
    fn element_document(element: &ElementRow) -> Result<Value> {
        let mut new = NewPlaylistElement::new(
            iri(&element.id)?,
            iri(&element.video)?,
            u64::try_from(element.position).unwrap_or(1),
        );
        if let Some(start) = element.start_secs.and_then(|s| u64::try_from(s).ok()) {
            new = new.with_start(start);
        }
        if let Some(stop) = element.stop_secs.and_then(|s| u64::try_from(s).ok()) {
            new = new.with_stop(stop);
        }
        let built = new
            .build()
            .map_err(|e| anyhow!("writing a playlist element: {e}"))?;
        serde_json::to_value(&built).context("writing a playlist element")
    }

    /// The documents of the playlists here at `url`: a local playlist, one of its pages, one
    /// of its elements, or an actor's `playlists` collection. `None`: `url` is none of these.
    pub(crate) async fn playlist_object(&self, url: &Url) -> Result<Option<ObjectState>> {
        let path = url.path();
        if let Some(name) = path
            .strip_prefix("/actors/")
            .and_then(|rest| rest.strip_suffix("/playlists"))
            .filter(|name| !name.contains('/'))
        {
            return self.actor_playlists(url, name).await.map(Some);
        }
        let Some(rest) = path.strip_prefix("/video-playlists/") else {
            return Ok(None);
        };
        let (uuid, element) = match rest.split_once('/') {
            None => (rest, None),
            Some((uuid, tail)) => match tail.strip_prefix("videos/") {
                Some(element) if !element.contains('/') => (uuid, Some(element)),
                _ => return Ok(None),
            },
        };
        let Some(playlist) = self
            .playlist(&self.playlist_id(uuid))
            .await?
            .filter(|p| p.privacy != Privacy::Private)
        else {
            return Ok(Some(ObjectState::NotFound));
        };
        let document = match element {
            None => {
                let page = url
                    .query_pairs()
                    .find(|(key, _)| key == "page")
                    .and_then(|(_, value)| value.parse::<usize>().ok())
                    .filter(|n| *n >= 1);
                self.playlist_document(&playlist, page).await?
            }
            Some(_) => {
                let id = format!("{}{}", self.base_url().as_str().trim_end_matches('/'), path);
                match self
                    .public_elements(&playlist)
                    .await?
                    .into_iter()
                    .find(|e| e.id == id)
                {
                    Some(element) => Self::element_document(&element)?,
                    None => return Ok(Some(ObjectState::NotFound)),
                }
            }
        };
        Ok(Some(ObjectState::Found {
            document,
            html: None,
        }))
    }

    /// Local actor `name`'s `playlists` collection: the ids of its public playlists (of the
    /// account, or in the channel), newest first.
    async fn actor_playlists(&self, url: &Url, name: &str) -> Result<ObjectState> {
        let Some(actor) = self.state().actor(name).await?.filter(|a| !a.deleted) else {
            return Ok(ObjectState::NotFound);
        };
        let id = self.actor_id(&actor.name).to_string();
        let (owner, channel) = if actor.kind == instance_state::actors::ActorKind::Group {
            (None, Some(id.as_str()))
        } else {
            (Some(id.as_str()), None)
        };
        let playlists = self
            .playlists(owner, channel, true, MAX_COLLECTION_ITEMS)
            .await?;
        let items: Vec<&str> = playlists.iter().map(|p| p.id.as_str()).collect();
        Ok(ObjectState::Found {
            document: json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": url.as_str(),
                "type": "OrderedCollection",
                "totalItems": items.len(),
                "orderedItems": items,
            }),
            html: None,
        })
    }

    /// Who hears of a public playlist: the followers of its account, of its channel and of
    /// the instance (PeerTube's `toFollowersOf`).
    fn playlist_audience(&self, playlist: &PlaylistRow) -> Vec<String> {
        let mut cc = vec![format!("{}/followers", playlist.owner)];
        if let Some(channel) = &playlist.channel {
            cc.push(format!("{channel}/followers"));
        }
        cc.push(format!("{}/followers", self.instance_actor()));
        cc
    }

    /// Sends `Create` or `Update` (`kind`) of public local `playlist` from its account.
    pub(crate) async fn send_playlist_activity(
        &self,
        playlist: &PlaylistRow,
        kind: &str,
    ) -> Result<()> {
        let Some(account) = self.state().local_name(&playlist.owner) else {
            return Ok(());
        };
        let mut object = self.playlist_document(playlist, None).await?;
        let cc = self.playlist_audience(playlist);
        if let Some(map) = object.as_object_mut() {
            map.remove("@context");
            map.insert("cc".into(), json!(cc));
        }
        let activity = json!({
            "@context": activitypub_core::ext::peertube::context::playlist().0,
            "id": format!("{}/activities/{}", playlist.id, uuid::Uuid::new_v4().simple()),
            "type": kind,
            "actor": playlist.owner,
            "object": object,
            "to": [PUBLIC],
            "cc": cc,
        });
        self.publish(&account, activity).await
    }

    /// Sends `Delete` of local `playlist` (public until now) from its account.
    pub(crate) async fn send_playlist_delete(&self, playlist: &PlaylistRow) -> Result<()> {
        let Some(account) = self.state().local_name(&playlist.owner) else {
            return Ok(());
        };
        let activity = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/delete/{}", playlist.id, uuid::Uuid::new_v4().simple()),
            "type": "Delete",
            "actor": playlist.owner,
            "object": playlist.id,
            "to": [PUBLIC],
            "cc": self.playlist_audience(playlist),
        });
        self.publish(&account, activity).await
    }

    /// A remote playlist created or updated (`Create`/`Update` of a `Playlist`): stored with
    /// its elements when it concerns this instance (its account, channel or server is
    /// followed here, or it is stored already) and is public or unlisted.
    pub(crate) async fn receive_playlist(
        &self,
        incoming: &Incoming,
        object: &AnyObject,
    ) -> Result<()> {
        let AnyObject::Playlist(playlist) = object else {
            return Ok(());
        };
        let summary = match PlaylistSummary::read(playlist) {
            Ok(summary) => summary,
            Err(error) => {
                info!(%error, "a remote playlist refused");
                return Ok(());
            }
        };
        let id = summary.id.clone();
        if self.state().is_local(id.as_str())
            || !activitypub_core::origin::same_origin(&id, &incoming.actor)
        {
            debug!(playlist = %id, actor = %incoming.actor, "a playlist from another server; ignored");
            return Ok(());
        }
        let known = self.playlist(id.as_str()).await?.is_some();
        if !known
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
        // Public when the activity or the playlist is addressed to the public in `to`,
        // unlisted in `cc`; anything narrower is not kept.
        let activity = serde_json::to_value(&incoming.activity).unwrap_or(Value::Null);
        let document = serde_json::to_value(object).unwrap_or(Value::Null);
        let privacy = match (
            Addressing::of(&activity).visibility(),
            Addressing::of(&document).visibility(),
        ) {
            (Visibility::Public, _) | (_, Visibility::Public) => Privacy::Public,
            (Visibility::Unlisted, _) | (_, Visibility::Unlisted) => Privacy::Unlisted,
            _ => {
                if known {
                    self.forget_playlist(id.as_str()).await?;
                }
                return Ok(());
            }
        };
        let channel = summary
            .attributed_to
            .iter()
            .find(|c| activitypub_core::origin::same_origin(c, &id))
            .map(ToString::to_string);
        let unix = |t: &Timestamp| t.time().unix_timestamp();
        let published = summary.published.as_ref().map_or(0, unix);
        let row = PlaylistRow {
            id: id.to_string(),
            uuid: summary.uuid.clone(),
            local: false,
            owner: incoming.actor.to_string(),
            channel,
            name: summary.name.clone(),
            description: summary.content.clone().unwrap_or_default(),
            privacy,
            thumbnail: summary.thumbnail.as_ref().map(|t| t.url.to_string()),
            published,
            updated: summary.updated.as_ref().map_or(published, unix),
        };
        let elements = self.fetch_elements(&summary).await;
        self.put_playlist(&row).await?;
        self.put_elements(&row.id, &elements).await?;
        self.index_playlist(&row).await?;
        info!(playlist = %id, elements = elements.len(), "remote playlist stored");
        Ok(())
    }

    /// The elements of remote playlist `summary`, fetched from its server page by page within
    /// [`MAX_REMOTE_PAGES`] pages and [`MAX_REMOTE_ELEMENTS`] elements (what is beyond is left
    /// out), ordered by position and numbered from 1. An element that cannot be fetched or
    /// read, or that is of another server, is left out.
    async fn fetch_elements(&self, summary: &PlaylistSummary) -> Vec<ElementRow> {
        let mut budget = FetchBudget::default()
            .with_max_requests(MAX_REMOTE_PAGES + MAX_REMOTE_ELEMENTS + 1)
            .with_max_bytes(8 << 20);
        let mut item_ids: Vec<Iri> = summary.items.clone();
        let mut next = summary.first.clone();
        let mut pages = 0;
        while let Some(page) = next.take() {
            if pages >= MAX_REMOTE_PAGES || item_ids.len() >= MAX_REMOTE_ELEMENTS {
                break;
            }
            pages += 1;
            let Some(fetched) = self.fetch_object(&page, &mut budget).await else {
                break;
            };
            let AnyObject::Playlist(page) = fetched else {
                break;
            };
            let Ok(page) = PlaylistSummary::read(&page) else {
                break;
            };
            item_ids.extend(page.items);
            next = page
                .next
                .filter(|n| activitypub_core::origin::same_origin(n, &summary.id));
        }
        item_ids.truncate(MAX_REMOTE_ELEMENTS);
        let mut elements = Vec::new();
        for item in item_ids {
            if !activitypub_core::origin::same_origin(&item, &summary.id) {
                continue;
            }
            let Some(fetched) = self.fetch_object(&item, &mut budget).await else {
                continue;
            };
            match PlaylistElementSummary::read(&fetched) {
                Ok(element) if activitypub_core::origin::same_origin(&element.id, &summary.id) => {
                    elements.push(element);
                }
                Ok(_) => {}
                Err(error) => debug!(%error, element = %item, "a playlist element refused"),
            }
        }
        elements.sort_by_key(|e| e.position);
        elements
            .into_iter()
            .zip(1_i64..)
            .map(|(e, position)| ElementRow {
                id: e.id.to_string(),
                playlist: summary.id.to_string(),
                video: e.video.to_string(),
                position,
                start_secs: e.start_secs.and_then(|s| i64::try_from(s).ok()),
                stop_secs: e.stop_secs.and_then(|s| i64::try_from(s).ok()),
            })
            .collect()
    }

    /// `id` fetched from its server within `budget`; `None` (logged) when it fails.
    async fn fetch_object(&self, id: &Iri, budget: &mut FetchBudget) -> Option<AnyObject> {
        let url = Url::parse(id.as_str()).ok()?;
        match self.fetcher().fetch(&url, budget).await {
            Ok(fetched) => Some(fetched.object().clone()),
            Err(error) => {
                debug!(%error, %url, "fetching a playlist's part");
                None
            }
        }
    }

    /// A `Delete` of remote playlist `id` (by `actor`, of its server): forgotten. Whether it
    /// was one.
    pub(crate) async fn on_playlist_delete(&self, id: &Iri, actor: &Iri) -> Result<bool> {
        if self.state().is_local(id.as_str()) || !activitypub_core::origin::same_origin(id, actor) {
            return Ok(false);
        }
        if self.playlist(id.as_str()).await?.is_none() {
            return Ok(false);
        }
        self.forget_playlist(id.as_str()).await?;
        info!(playlist = %id, "remote playlist deleted");
        Ok(true)
    }
}
