//! The index's own tables (`ix_*`, made by `migrations/`), beside instance-state's in the same
//! database and dialect.

use anyhow::{Context, Result};
use instance_state::InstanceState;
use serde_json::Value;
use sqlx::Row as _;
use url::Url;

use crate::Options;

/// The index's migrations: `(version, description, statements)`.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "received videos and the actors they name",
    include_str!("../migrations/0001_index.sql"),
)];

/// The table the index's migrations are recorded in.
const MIGRATIONS_TABLE: &str = "video_index_migrations";

/// Opens the database (instance-state's tables, then the index's), with `base_url`, or the one
/// recorded when the index last served.
pub(crate) async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
    instance_server::open_state(options, base_url, MIGRATIONS_TABLE, MIGRATIONS).await
}

/// A received video as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredVideo {
    /// Its ActivityPub id.
    pub(crate) id: String,
    /// Its origin's authority.
    pub(crate) host: String,
    pub(crate) account: String,
    pub(crate) channel: String,
    /// Unix seconds.
    pub(crate) updated: i64,
    /// The `Video` as received.
    pub(crate) document: Value,
}

/// An actor as cached: its document, or `None` when it could not be fetched.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CachedActor {
    pub(crate) document: Option<Value>,
    /// Unix seconds.
    pub(crate) fetched: i64,
}

/// The index's tables.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    state: InstanceState,
}

fn video_of_row(row: &sqlx::any::AnyRow) -> Result<StoredVideo> {
    let document: String = row.try_get("document")?;
    Ok(StoredVideo {
        id: row.try_get("id")?,
        host: row.try_get("host")?,
        account: row.try_get("account")?,
        channel: row.try_get("channel")?,
        updated: row.try_get("updated")?,
        document: serde_json::from_str(&document).context("a stored video's document")?,
    })
}

impl Db {
    pub(crate) fn new(state: InstanceState) -> Self {
        Self { state }
    }

    /// The social state.
    pub(crate) fn state(&self) -> &InstanceState {
        &self.state
    }

    /// Stores `video` (replacing what was stored under its id), received at `now`.
    pub(crate) async fn put_video(&self, video: &StoredVideo, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO ix_videos (id, host, account, channel, updated, document, received)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET
               host = excluded.host, account = excluded.account, channel = excluded.channel,
               updated = excluded.updated, document = excluded.document,
               received = excluded.received",
        )
        .bind(video.id.clone())
        .bind(video.host.clone())
        .bind(video.account.clone())
        .bind(video.channel.clone())
        .bind(video.updated)
        .bind(serde_json::to_string(&video.document)?)
        .bind(now)
        .execute(self.state.pool())
        .await?;
        Ok(())
    }

    /// The stored video `id`.
    pub(crate) async fn video(&self, id: &str) -> Result<Option<StoredVideo>> {
        sqlx::query(
            "SELECT id, host, account, channel, updated, document FROM ix_videos WHERE id = $1",
        )
        .bind(id.to_owned())
        .fetch_optional(self.state.pool())
        .await?
        .as_ref()
        .map(video_of_row)
        .transpose()
    }

    /// Removes video `id`; whether there was one.
    pub(crate) async fn delete_video(&self, id: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM ix_videos WHERE id = $1")
            .bind(id.to_owned())
            .execute(self.state.pool())
            .await?
            .rows_affected()
            > 0)
    }

    /// The ids of the videos attributed to `actor` (as their account or their channel).
    pub(crate) async fn videos_of(&self, actor: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM ix_videos WHERE account = $1 OR channel = $1")
            .bind(actor.to_owned())
            .fetch_all(self.state.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(Into::into))
            .collect()
    }

    /// The ids of the videos of host `host`.
    pub(crate) async fn videos_of_host(&self, host: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM ix_videos WHERE host = $1")
            .bind(host.to_owned())
            .fetch_all(self.state.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(Into::into))
            .collect()
    }

    /// Up to `limit` stored videos with ids after `after`, in id order (the rebuild's pages).
    pub(crate) async fn videos_after(&self, after: &str, limit: i64) -> Result<Vec<StoredVideo>> {
        let rows = sqlx::query(
            "SELECT id, host, account, channel, updated, document FROM ix_videos
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.to_owned())
        .bind(limit)
        .fetch_all(self.state.pool())
        .await?;
        rows.iter().map(video_of_row).collect()
    }

    /// How many videos are stored.
    pub(crate) async fn video_count(&self) -> Result<u64> {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM ix_videos")
            .fetch_one(self.state.pool())
            .await?
            .try_get("n")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// How many stored videos channel `channel` has.
    pub(crate) async fn channel_video_count(&self, channel: &str) -> Result<u64> {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM ix_videos WHERE channel = $1")
            .bind(channel.to_owned())
            .fetch_one(self.state.pool())
            .await?
            .try_get("n")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The cached actor `id`.
    pub(crate) async fn actor(&self, id: &str) -> Result<Option<CachedActor>> {
        let Some(row) = sqlx::query("SELECT document, fetched FROM ix_actors WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(self.state.pool())
            .await?
        else {
            return Ok(None);
        };
        let document: Option<String> = row.try_get("document")?;
        Ok(Some(CachedActor {
            document: document.and_then(|d| serde_json::from_str(&d).ok()),
            fetched: row.try_get("fetched")?,
        }))
    }

    /// Caches actor `id`'s document (`None`: the fetch failed) fetched at `now`.
    pub(crate) async fn put_actor(
        &self,
        id: &str,
        document: Option<&Value>,
        now: i64,
    ) -> Result<()> {
        let text = document.map(serde_json::to_string).transpose()?;
        sqlx::query(
            "INSERT INTO ix_actors (id, document, fetched) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET document = excluded.document,
               fetched = excluded.fetched",
        )
        .bind(id.to_owned())
        .bind(text)
        .bind(now)
        .execute(self.state.pool())
        .await?;
        Ok(())
    }

    /// Forgets actor `id`.
    pub(crate) async fn delete_actor(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM ix_actors WHERE id = $1")
            .bind(id.to_owned())
            .execute(self.state.pool())
            .await?;
        Ok(())
    }
}
