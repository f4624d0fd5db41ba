//! Playlists, as PeerTube has them: an account's ordered list of videos (`Playlist`, an
//! ordered collection of `PlaylistElement`s with their positions), optionally in one of its
//! channels, public (listed and federated), unlisted (reachable by its address) or private (its
//! owner's only).
//!
//! - this file: the rows (`vi_playlists`, `vi_playlist_elements`, `migrations/0003`) and what
//!   changes them, each change of a public playlist sent to its followers;
//! - [`federation`]: the documents (`/video-playlists/{uuid}`, its pages and elements, an
//!   actor's `playlists` collection), `Create`/`Update`/`Delete`, and remote playlists received;
//! - [`pages`]: the pages and forms, and the "Save to playlist" form of the watch page;
//! - [`api`]: PeerTube's REST API for playlists, and their search;
//! - [`embed`]: the embed page and oEmbed of a playlist.
//!
//! Every reader sees only what they may: a private playlist is its owner's alone, and the
//! videos in a playlist are shown only when the reader may see them.

pub(crate) mod api;
pub(crate) mod embed;
pub(crate) mod federation;
pub(crate) mod pages;

use anyhow::Result;
use instance_state::objects::Scope;
use sqlx::Row as _;
use time::OffsetDateTime;

use crate::app::Instance;
use crate::db::VideoRow;
use instance_server::WithParts as _;

/// The most videos in a local playlist.
pub(crate) const MAX_ELEMENTS: usize = 500;

/// The longest playlist name (PeerTube's) and description.
const MAX_NAME_CHARS: usize = 120;
const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Who may see a playlist (PeerTube's `VideoPlaylistPrivacy` numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Privacy {
    /// Listed, searchable and federated.
    Public = 1,
    /// Not listed, but anyone with its address may see it.
    Unlisted = 2,
    /// Its owner's only.
    Private = 3,
}

impl Privacy {
    /// Privacy number `n` (PeerTube's), if there is one.
    pub(crate) fn from_number(n: i64) -> Option<Self> {
        match n {
            1 => Some(Self::Public),
            2 => Some(Self::Unlisted),
            3 => Some(Self::Private),
            _ => None,
        }
    }

    /// Its number.
    pub(crate) fn number(self) -> i64 {
        self as i64
    }

    /// Its name, as PeerTube's REST API labels it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Public => "Public",
            Self::Unlisted => "Unlisted",
            Self::Private => "Private",
        }
    }
}

/// A playlist's row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlaylistRow {
    /// Its ActivityPub id.
    pub(crate) id: String,
    pub(crate) uuid: String,
    pub(crate) local: bool,
    /// The account (Person) that owns it.
    pub(crate) owner: String,
    /// The channel (Group) it is in.
    pub(crate) channel: Option<String>,
    pub(crate) name: String,
    /// Markdown.
    pub(crate) description: String,
    pub(crate) privacy: Privacy,
    /// A remote playlist's image.
    pub(crate) thumbnail: Option<String>,
    /// Unix seconds.
    pub(crate) published: i64,
    pub(crate) updated: i64,
}

/// An element of a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ElementRow {
    /// Its ActivityPub id.
    pub(crate) id: String,
    pub(crate) playlist: String,
    /// The video's ActivityPub id.
    pub(crate) video: String,
    /// From 1.
    pub(crate) position: i64,
    /// The part to play, in seconds.
    pub(crate) start_secs: Option<i64>,
    pub(crate) stop_secs: Option<i64>,
}

const PLAYLIST_COLUMNS: &str =
    "id, uuid, local, owner, channel, name, description, privacy, thumbnail, published, updated";

fn playlist_row(row: &sqlx::any::AnyRow) -> Result<PlaylistRow> {
    let privacy: i64 = row.try_get("privacy")?;
    Ok(PlaylistRow {
        id: row.try_get("id")?,
        uuid: row.try_get("uuid")?,
        local: row.try_get::<i64, _>("local")? != 0,
        owner: row.try_get("owner")?,
        channel: row.try_get("channel")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        privacy: Privacy::from_number(privacy).unwrap_or(Privacy::Private),
        thumbnail: row.try_get("thumbnail")?,
        published: row.try_get("published")?,
        updated: row.try_get("updated")?,
    })
}

fn element_row(row: &sqlx::any::AnyRow) -> Result<ElementRow> {
    Ok(ElementRow {
        id: row.try_get("id")?,
        playlist: row.try_get("playlist")?,
        video: row.try_get("video")?,
        position: row.try_get("position")?,
        start_secs: row.try_get("start_secs")?,
        stop_secs: row.try_get("stop_secs")?,
    })
}

/// What a new or edited local playlist says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlaylistFields {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) privacy: Privacy,
    /// A channel of the owner's, by name.
    pub(crate) channel: Option<String>,
}

/// Why a change of a playlist was refused: the person's doing (shown to them), or not theirs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    /// No such playlist of theirs (or video, or element).
    #[error("{0}")]
    NotFound(&'static str),
    /// A value they gave is wrong.
    #[error("{0}")]
    Invalid(String),
    /// Something failed on this side.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for Refused {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<instance_state::Error> for Refused {
    fn from(error: instance_state::Error) -> Self {
        Self::Internal(error.into())
    }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A video of a playlist as a reader sees it: the element, and its video when the reader may
/// see it (`None`: not listed here, or not shown to them).
#[derive(Debug, Clone)]
pub(crate) struct Shown {
    pub(crate) element: ElementRow,
    pub(crate) video: Option<VideoRow>,
    /// Whether the video is stored here at all (seen or not).
    pub(crate) known: bool,
}

impl Instance {
    /// The id of local playlist `uuid`: PeerTube's layout.
    pub(crate) fn playlist_id(&self, uuid: &str) -> String {
        self.url(&format!("video-playlists/{uuid}")).to_string()
    }

    /// The playlist whose id is `id`.
    pub(crate) async fn playlist(&self, id: &str) -> Result<Option<PlaylistRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAYLIST_COLUMNS} FROM vi_playlists WHERE id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.state().pool())
        .await?;
        row.as_ref().map(playlist_row).transpose()
    }

    /// The playlist whose uuid is `uuid`: the local one if there is one, else a remote one.
    pub(crate) async fn playlist_by_uuid(&self, uuid: &str) -> Result<Option<PlaylistRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAYLIST_COLUMNS} FROM vi_playlists WHERE uuid = $1
             ORDER BY local DESC LIMIT 1"
        )))
        .bind(uuid.to_owned())
        .fetch_optional(self.state().pool())
        .await?;
        row.as_ref().map(playlist_row).transpose()
    }

    /// Playlists, newest first: those of `owner` (an account's id) or of `channel` (a
    /// channel's id) when given, all of every privacy when `public_only` is false.
    pub(crate) async fn playlists(
        &self,
        owner: Option<&str>,
        channel: Option<&str>,
        public_only: bool,
        limit: i64,
    ) -> Result<Vec<PlaylistRow>> {
        let mut conditions = vec!["1 = 1".to_owned()];
        let mut next = 1;
        if owner.is_some() {
            conditions.push(format!("owner = ${next}"));
            next += 1;
        }
        if channel.is_some() {
            conditions.push(format!("channel = ${next}"));
            next += 1;
        }
        if public_only {
            conditions.push(format!("privacy = {}", Privacy::Public.number()));
        }
        let sql = format!(
            "SELECT {PLAYLIST_COLUMNS} FROM vi_playlists WHERE {} \
             ORDER BY published DESC, id LIMIT ${next}",
            conditions.join(" AND ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in [owner, channel].into_iter().flatten() {
            query = query.bind(value.to_owned());
        }
        let rows = query.bind(limit).fetch_all(self.state().pool()).await?;
        rows.iter().map(playlist_row).collect()
    }

    /// The elements of playlist `id`, in order.
    pub(crate) async fn elements(&self, id: &str) -> Result<Vec<ElementRow>> {
        let rows = sqlx::query(
            "SELECT id, playlist, video, position, start_secs, stop_secs
             FROM vi_playlist_elements WHERE playlist = $1 ORDER BY position, id",
        )
        .bind(id.to_owned())
        .fetch_all(self.state().pool())
        .await?;
        rows.iter().map(element_row).collect()
    }

    /// The elements of `playlist` with the videos `scope` may see (hidden and deleted ones are
    /// seen by no one): all of them, `None` in place of a video not seen.
    pub(crate) async fn shown_elements(
        &self,
        playlist: &PlaylistRow,
        scope: &Scope,
    ) -> Result<Vec<Shown>> {
        let videos: std::collections::HashMap<String, (VideoRow, bool)> = self
            .db()
            .playlist_videos(&playlist.id, scope)
            .await?
            .into_iter()
            .map(|(video, visible)| (video.id.clone(), (video, visible)))
            .collect();
        let mut shown = Vec::new();
        for element in self.elements(&playlist.id).await? {
            // Cloned, not taken: a video twice in a playlist is shown twice.
            let found = videos.get(&element.video).cloned();
            shown.push(Shown {
                known: found.is_some(),
                video: found
                    .filter(|(_, visible)| *visible)
                    .map(|(video, _)| video),
                element,
            });
        }
        Ok(shown)
    }

    /// Whether one of `identities` (local actors' names) owns `playlist`.
    pub(crate) fn owns(&self, playlist: &PlaylistRow, identities: &[String]) -> bool {
        playlist.local
            && identities
                .iter()
                .any(|name| self.actor_id(name).as_str() == playlist.owner)
    }

    /// Whether a reader who is `identities` may see `playlist` at its address: a private one
    /// is its owner's only.
    pub(crate) fn may_see(&self, playlist: &PlaylistRow, identities: &[String]) -> bool {
        playlist.privacy != Privacy::Private || self.owns(playlist, identities)
    }

    /// The local playlist `uuid` of one of `identities`, or why not.
    async fn own_playlist(
        &self,
        uuid: &str,
        identities: &[String],
    ) -> Result<PlaylistRow, Refused> {
        match self.playlist(&self.playlist_id(uuid)).await? {
            Some(playlist) if self.owns(&playlist, identities) => Ok(playlist),
            _ => Err(Refused::NotFound("no such playlist of yours")),
        }
    }

    /// Checks `fields` for a playlist of local account `owner`: gives the channel's id.
    async fn checked_fields(
        &self,
        owner: &str,
        fields: &PlaylistFields,
    ) -> Result<Option<String>, Refused> {
        let name = fields.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(Refused::Invalid(format!(
                "a playlist's name has 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        if fields.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Refused::Invalid(format!(
                "a playlist's description has at most {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        match fields.channel.as_deref().filter(|c| !c.is_empty()) {
            // PeerTube takes a remote playlist only with its channel, and has the same rule
            // for its own.
            None if fields.privacy == Privacy::Public => Err(Refused::Invalid(
                "a public playlist is in one of your channels".to_owned(),
            )),
            None => Ok(None),
            Some(channel) => {
                if self.db().channel_owner(channel).await?.as_deref() != Some(owner) {
                    return Err(Refused::Invalid(format!(
                        "{channel:?} is not a channel of yours"
                    )));
                }
                Ok(Some(self.actor_id(channel).to_string()))
            }
        }
    }

    /// Makes a playlist of local account `owner` (an actor's name); a public one is sent to
    /// the followers.
    pub(crate) async fn create_playlist(
        &self,
        owner: &str,
        fields: &PlaylistFields,
    ) -> Result<PlaylistRow, Refused> {
        let channel = self.checked_fields(owner, fields).await?;
        let uuid = uuid::Uuid::new_v4().to_string();
        let time = now();
        let playlist = PlaylistRow {
            id: self.playlist_id(&uuid),
            uuid,
            local: true,
            owner: self.actor_id(owner).to_string(),
            channel,
            name: fields.name.trim().to_owned(),
            description: fields.description.trim().to_owned(),
            privacy: fields.privacy,
            thumbnail: None,
            published: time,
            updated: time,
        };
        self.put_playlist(&playlist).await?;
        self.playlist_changed(&playlist, None).await?;
        Ok(playlist)
    }

    /// Changes local playlist `uuid` of one of `identities`.
    pub(crate) async fn edit_playlist(
        &self,
        uuid: &str,
        identities: &[String],
        fields: &PlaylistFields,
    ) -> Result<PlaylistRow, Refused> {
        let before = self.own_playlist(uuid, identities).await?;
        let owner = self
            .state()
            .local_name(&before.owner)
            .ok_or(Refused::NotFound("no such playlist of yours"))?;
        let channel = self.checked_fields(&owner, fields).await?;
        let after = PlaylistRow {
            channel,
            name: fields.name.trim().to_owned(),
            description: fields.description.trim().to_owned(),
            privacy: fields.privacy,
            updated: now().max(before.updated),
            ..before.clone()
        };
        self.put_playlist(&after).await?;
        self.playlist_changed(&after, Some(before.privacy)).await?;
        Ok(after)
    }

    /// Deletes local playlist `uuid` of one of `identities`; its followers are told when it
    /// was public.
    pub(crate) async fn delete_playlist(
        &self,
        uuid: &str,
        identities: &[String],
    ) -> Result<(), Refused> {
        let playlist = self.own_playlist(uuid, identities).await?;
        self.forget_playlist(&playlist.id).await?;
        if playlist.privacy == Privacy::Public {
            self.send_playlist_delete(&playlist).await?;
        }
        Ok(())
    }

    /// Adds local video or video listed here `video_uuid` to local playlist `uuid` of one of
    /// `identities`, at the end, if the adder may see the video.
    pub(crate) async fn add_to_playlist(
        &self,
        uuid: &str,
        identities: &[String],
        video_uuid: &str,
        start_secs: Option<i64>,
        stop_secs: Option<i64>,
    ) -> Result<ElementRow, Refused> {
        let playlist = self.own_playlist(uuid, identities).await?;
        let video = self
            .db()
            .video_by_uuid(video_uuid)
            .await?
            .ok_or(Refused::NotFound("no such video"))?;
        let scope = self.state().scope_of(&playlist.owner).await?;
        if self
            .state()
            .visible_object(&video.id, &scope)
            .await?
            .is_none_or(|stored| stored.deleted)
        {
            return Err(Refused::NotFound("no such video"));
        }
        if start_secs.is_some_and(|s| s < 0)
            || stop_secs.is_some_and(|s| s < 0)
            || matches!((start_secs, stop_secs), (Some(a), Some(b)) if b <= a)
        {
            return Err(Refused::Invalid(
                "the part to play starts at 0 or later and stops after it starts".into(),
            ));
        }
        let elements = self.elements(&playlist.id).await?;
        if elements.len() >= MAX_ELEMENTS {
            return Err(Refused::Invalid(format!(
                "a playlist holds at most {MAX_ELEMENTS} videos"
            )));
        }
        let element = ElementRow {
            id: format!("{}/videos/{}", playlist.id, uuid::Uuid::new_v4().simple()),
            playlist: playlist.id.clone(),
            video: video.id.clone(),
            position: i64::try_from(elements.len()).unwrap_or(i64::MAX) + 1,
            start_secs: start_secs.filter(|s| *s > 0),
            stop_secs,
        };
        sqlx::query(
            "INSERT INTO vi_playlist_elements (id, playlist, video, position, start_secs, stop_secs)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(element.id.clone())
        .bind(element.playlist.clone())
        .bind(element.video.clone())
        .bind(element.position)
        .bind(element.start_secs)
        .bind(element.stop_secs)
        .execute(self.state().pool())
        .await?;
        self.touch_playlist(playlist).await?;
        Ok(element)
    }

    /// Moves `length` elements of local playlist `uuid` (of one of `identities`) starting at
    /// position `start` to after position `after` (0: to the beginning), as PeerTube's
    /// `reorder` does; positions stay 1 to n.
    pub(crate) async fn reorder_playlist(
        &self,
        uuid: &str,
        identities: &[String],
        start: i64,
        after: i64,
        length: i64,
    ) -> Result<(), Refused> {
        let playlist = self.own_playlist(uuid, identities).await?;
        let mut order: Vec<String> = self
            .elements(&playlist.id)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
        let n = i64::try_from(order.len()).unwrap_or(i64::MAX);
        if start < 1 || length < 1 || start + length - 1 > n || after < 0 || after > n {
            return Err(Refused::Invalid(format!(
                "positions go from 1 to {n}: cannot move {length} from {start} to after {after}"
            )));
        }
        if after >= start - 1 && after < start + length {
            // Already there.
            return Ok(());
        }
        let from = usize::try_from(start - 1).unwrap_or(0);
        let count = usize::try_from(length).unwrap_or(0);
        let moved: Vec<String> = order.drain(from..from + count).collect();
        let at = usize::try_from(if after > start { after - length } else { after }).unwrap_or(0);
        let at = at.min(order.len());
        order.splice(at..at, moved);
        self.renumber(&order).await?;
        self.touch_playlist(playlist).await?;
        Ok(())
    }

    /// Removes element `element` from local playlist `uuid` of one of `identities`.
    pub(crate) async fn remove_from_playlist(
        &self,
        uuid: &str,
        identities: &[String],
        element: &str,
    ) -> Result<(), Refused> {
        let playlist = self.own_playlist(uuid, identities).await?;
        let mut order: Vec<String> = self
            .elements(&playlist.id)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
        let Some(index) = order
            .iter()
            .position(|id| id == element || id.ends_with(&format!("/{element}")))
        else {
            return Err(Refused::NotFound("no such video in this playlist"));
        };
        let removed = order.remove(index);
        sqlx::query("DELETE FROM vi_playlist_elements WHERE id = $1")
            .bind(removed)
            .execute(self.state().pool())
            .await?;
        self.renumber(&order).await?;
        self.touch_playlist(playlist).await?;
        Ok(())
    }

    /// Gives the elements `order` (ids) the positions 1 to n, in one transaction.
    async fn renumber(&self, order: &[String]) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        for (position, id) in (1_i64..).zip(order) {
            sqlx::query("UPDATE vi_playlist_elements SET position = $1 WHERE id = $2")
                .bind(position)
                .bind(id.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks `playlist` changed now (its elements did) and tells its followers.
    async fn touch_playlist(&self, mut playlist: PlaylistRow) -> Result<()> {
        playlist.updated = now().max(playlist.updated);
        sqlx::query("UPDATE vi_playlists SET updated = $1 WHERE id = $2")
            .bind(playlist.updated)
            .bind(playlist.id.clone())
            .execute(self.state().pool())
            .await?;
        self.playlist_changed(&playlist, Some(playlist.privacy))
            .await
    }

    /// After video `video` went or was hidden or shown again: the local playlists holding it
    /// are marked changed, so that the public ones' followers and the search index have what
    /// they now list (the elements stay: their owner sees them unavailable).
    pub(crate) async fn playlists_holding_changed(&self, video: &str) -> Result<()> {
        let rows = sqlx::query(
            "SELECT DISTINCT e.playlist FROM vi_playlist_elements e
             JOIN vi_playlists p ON p.id = e.playlist WHERE e.video = $1 AND p.local = 1",
        )
        .bind(video.to_owned())
        .fetch_all(self.state().pool())
        .await?;
        for row in rows {
            let id: String = row.try_get("playlist")?;
            if let Some(playlist) = self.playlist(&id).await? {
                self.touch_playlist(playlist).await?;
            }
        }
        Ok(())
    }

    /// Records (or replaces) a playlist's row.
    pub(crate) async fn put_playlist(&self, playlist: &PlaylistRow) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO vi_playlists ({PLAYLIST_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO UPDATE SET channel = excluded.channel, name = excluded.name,
               description = excluded.description, privacy = excluded.privacy,
               thumbnail = excluded.thumbnail, updated = excluded.updated"
        )))
        .bind(playlist.id.clone())
        .bind(playlist.uuid.clone())
        .bind(i64::from(playlist.local))
        .bind(playlist.owner.clone())
        .bind(playlist.channel.clone())
        .bind(playlist.name.clone())
        .bind(playlist.description.clone())
        .bind(playlist.privacy.number())
        .bind(playlist.thumbnail.clone())
        .bind(playlist.published)
        .bind(playlist.updated)
        .execute(self.state().pool())
        .await?;
        Ok(())
    }

    /// Replaces the elements of (remote) playlist `id` with `elements`.
    pub(crate) async fn put_elements(&self, id: &str, elements: &[ElementRow]) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        sqlx::query("DELETE FROM vi_playlist_elements WHERE playlist = $1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        for element in elements {
            sqlx::query(
                "INSERT INTO vi_playlist_elements (id, playlist, video, position, start_secs, stop_secs)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(element.id.clone())
            .bind(id.to_owned())
            .bind(element.video.clone())
            .bind(element.position)
            .bind(element.start_secs)
            .bind(element.stop_secs)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets playlist `id`: its row, its elements, and (a search change in the same
    /// transaction) its place in the search index.
    pub(crate) async fn forget_playlist(&self, id: &str) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        for statement in [
            "DELETE FROM vi_playlist_elements WHERE playlist = $1",
            "DELETE FROM vi_playlists WHERE id = $1",
        ] {
            sqlx::query(statement)
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?;
        }
        crate::db::append_search_change(
            &mut tx,
            crate::db::SearchKind::Playlist,
            id,
            self.db().now_secs(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// After local `playlist` changed (`before`: its privacy until then, `None` when new):
    /// reindexed, and its followers told (`Create` when it became public, `Update` while it
    /// stays public, `Delete` when it stopped being public).
    async fn playlist_changed(
        &self,
        playlist: &PlaylistRow,
        before: Option<Privacy>,
    ) -> Result<()> {
        self.index_playlist(playlist).await?;
        let was_public = before == Some(Privacy::Public);
        match (was_public, playlist.privacy == Privacy::Public) {
            (false, true) => self.send_playlist_activity(playlist, "Create").await,
            (true, true) => self.send_playlist_activity(playlist, "Update").await,
            (true, false) => self.send_playlist_delete(playlist).await,
            (false, false) => Ok(()),
        }
    }
}

/// Checks that `n` (a form's or API's number) is a privacy.
pub(crate) fn privacy_of(n: i64) -> Result<Privacy, Refused> {
    Privacy::from_number(n).ok_or_else(|| {
        Refused::Invalid("privacy is 1 (public), 2 (unlisted) or 3 (private)".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privacies_have_peertubes_numbers() {
        for privacy in [Privacy::Public, Privacy::Unlisted, Privacy::Private] {
            assert_eq!(Privacy::from_number(privacy.number()), Some(privacy));
        }
        assert_eq!(Privacy::Public.number(), 1);
        assert_eq!(Privacy::Private.number(), 3);
        assert_eq!(Privacy::from_number(4), None);
    }
}
