//! The instance's own tables (`vi_*`, made by `migrations/`), read and written beside
//! instance-state's, in the same database and dialect.

use anyhow::{Context, Result};
use instance_state::InstanceState;
use instance_state::objects::Scope;
use sqlx::Row as _;
use url::Url;

use crate::Options;

/// The instance's migrations: `(version, description, statements)`.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "videos, files, channels, comments, rates, pending views",
        include_str!("../migrations/0001_videos.sql"),
    ),
    (
        2,
        "processing jobs",
        include_str!("../migrations/0002_processing.sql"),
    ),
    (
        3,
        "playlists and their elements",
        include_str!("../migrations/0003_playlists.sql"),
    ),
    (
        4,
        "redundancy: mirrors made here and copies announced by other servers",
        include_str!("../migrations/0004_redundancy.sql"),
    ),
    (
        5,
        "several processes: leases of background work, the search changes",
        include_str!("../migrations/0005_several_processes.sql"),
    ),
    (
        6,
        "videos' numeric ids, hidden copies",
        include_str!("../migrations/0006_rest_and_mirror_moderation.sql"),
    ),
];

/// The table the instance's migrations are recorded in.
pub(crate) const MIGRATIONS_TABLE: &str = "video_instance_migrations";

/// Opens the database (instance-state's tables, then the instance's), with `base_url`, or the
/// one recorded when the instance last served.
pub(crate) async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
    instance_server::open_state(options, base_url, MIGRATIONS_TABLE, MIGRATIONS).await
}

/// A video's row: what listings select and sort on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VideoRow {
    /// Its ActivityPub id.
    pub(crate) id: String,
    pub(crate) uuid: String,
    pub(crate) local: bool,
    /// The account (Person) it is attributed to.
    pub(crate) account: String,
    /// The channel (Group).
    pub(crate) channel: String,
    pub(crate) name: String,
    /// Markdown.
    pub(crate) description: String,
    pub(crate) category: Option<i64>,
    pub(crate) licence: Option<i64>,
    pub(crate) tags: Vec<String>,
    /// Seconds.
    pub(crate) duration: i64,
    pub(crate) state: i64,
    pub(crate) sensitive: bool,
    pub(crate) comments_policy: i64,
    pub(crate) download_enabled: bool,
    pub(crate) is_live: bool,
    pub(crate) language: Option<String>,
    pub(crate) views: i64,
    pub(crate) likes: i64,
    pub(crate) dislikes: i64,
    /// Unix seconds.
    pub(crate) published: i64,
    pub(crate) updated: i64,
}

const VIDEO_COLUMNS: &str = "id, uuid, local, account, channel, name, description, category, \
     licence, tags, duration, state, sensitive, comments_policy, download_enabled, is_live, \
     language, views, likes, dislikes, published, updated";

fn video_row(row: &sqlx::any::AnyRow) -> Result<VideoRow> {
    Ok(VideoRow {
        id: row.try_get("id")?,
        uuid: row.try_get("uuid")?,
        local: row.try_get::<i64, _>("local")? != 0,
        account: row.try_get("account")?,
        channel: row.try_get("channel")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        category: row.try_get("category")?,
        licence: row.try_get("licence")?,
        tags: serde_json::from_str(&row.try_get::<String, _>("tags")?).unwrap_or_default(),
        duration: row.try_get("duration")?,
        state: row.try_get("state")?,
        sensitive: row.try_get::<i64, _>("sensitive")? != 0,
        comments_policy: row.try_get("comments_policy")?,
        download_enabled: row.try_get::<i64, _>("download_enabled")? != 0,
        is_live: row.try_get::<i64, _>("is_live")? != 0,
        language: row.try_get("language")?,
        views: row.try_get("views")?,
        likes: row.try_get("likes")?,
        dislikes: row.try_get("dislikes")?,
        published: row.try_get("published")?,
        updated: row.try_get("updated")?,
    })
}

/// The numeric id of video `id` in PeerTube's REST API and in the search answers: 53 bits
/// of the hash of its ActivityPub id (video-search's `derived_id`).
pub(crate) fn video_number(id: &str) -> i64 {
    video_search::api::derived_id(id)
}

/// A file of a video kept here.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FileRow {
    pub(crate) video: String,
    /// Its key in the media store.
    pub(crate) key: String,
    /// `original`, `rendition`, `thumbnail`, `mirror`, or one of HLS's (`hls`: the master
    /// playlist, `hls-playlist`, `hls-file`, `hls-sha256`; see `migrations/0002_processing.sql`).
    pub(crate) role: String,
    pub(crate) media_type: String,
    pub(crate) size: i64,
    /// Hex.
    pub(crate) sha256: String,
    pub(crate) width: Option<i64>,
    pub(crate) height: Option<i64>,
    /// Frames per 1000 seconds.
    pub(crate) fps_milli: Option<i64>,
}

const FILE_COLUMNS: &str = "video, key, role, media_type, size, sha256, width, height, fps_milli";

/// The statement recording `file` (or replacing its row).
pub(crate) fn insert_file(
    file: &FileRow,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(
        "INSERT INTO vi_files (video, key, role, media_type, size, sha256, width, height, fps_milli)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (video, key) DO UPDATE SET role = excluded.role,
           media_type = excluded.media_type, size = excluded.size, sha256 = excluded.sha256,
           width = excluded.width, height = excluded.height, fps_milli = excluded.fps_milli",
    )
    .bind(file.video.clone())
    .bind(file.key.clone())
    .bind(file.role.clone())
    .bind(file.media_type.clone())
    .bind(file.size)
    .bind(file.sha256.clone())
    .bind(file.width)
    .bind(file.height)
    .bind(file.fps_milli)
}

fn file_row(row: &sqlx::any::AnyRow) -> Result<FileRow> {
    Ok(FileRow {
        video: row.try_get("video")?,
        key: row.try_get("key")?,
        role: row.try_get("role")?,
        media_type: row.try_get("media_type")?,
        size: row.try_get("size")?,
        sha256: row.try_get("sha256")?,
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        fps_milli: row.try_get("fps_milli")?,
    })
}

/// Which videos a listing wants.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listing {
    /// Only this channel's.
    pub(crate) channel: Option<String>,
    /// Only this account's.
    pub(crate) account: Option<String>,
    /// Only local ones.
    pub(crate) local_only: bool,
}

/// The instance's tables over the social state.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    state: InstanceState,
}

impl Db {
    pub(crate) fn new(state: InstanceState) -> Self {
        Self { state }
    }

    /// The social state.
    pub(crate) fn state(&self) -> &InstanceState {
        &self.state
    }

    pub(crate) fn pool(&self) -> &sqlx::AnyPool {
        self.state.pool()
    }

    /// Now, in Unix seconds, by the state's clock.
    pub(crate) fn now_secs(&self) -> i64 {
        self.state.options().clock.now() / 1_000_000
    }

    /// Records that the searchable data of `object` (a video or a playlist) changed, in a
    /// transaction of its own: for the writes that are not one transaction of the instance's
    /// (a document rewritten by instance-state, a playlist's elements, a moderator's hiding).
    pub(crate) async fn search_changed(&self, kind: SearchKind, object: &str) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        append_search_change(&mut tx, kind, object, self.now_secs()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The last sequence number given to a search change (0: none yet).
    pub(crate) async fn last_search_change(&self) -> Result<u64> {
        let last: i64 = sqlx::query("SELECT last FROM vi_search_sequence WHERE id = 1")
            .fetch_one(self.pool())
            .await?
            .try_get("last")?;
        Ok(u64::try_from(last).unwrap_or(0))
    }

    /// The search changes after `seq`, oldest first, at most `limit`.
    pub(crate) async fn search_changes_after(
        &self,
        seq: u64,
        limit: i64,
    ) -> Result<Vec<SearchChange>> {
        let rows = sqlx::query(
            "SELECT seq, kind, object FROM vi_search_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok(SearchChange {
                    seq: u64::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0),
                    kind: if kind == "playlist" {
                        SearchKind::Playlist
                    } else {
                        SearchKind::Video
                    },
                    object: row.try_get("object")?,
                })
            })
            .collect()
    }

    /// Forgets the search changes recorded before `before` (Unix seconds); gives how many.
    pub(crate) async fn prune_search_changes(&self, before: i64) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM vi_search_changes WHERE created < $1")
                .bind(before)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// Records (or replaces) a video's row.
    /// Records (or replaces) a video's row, and, in the same transaction, that its searchable
    /// data changed (every process's index reads it again).
    pub(crate) async fn put_video(&self, video: &VideoRow) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO vi_videos ({VIDEO_COLUMNS}             , num) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                     $16, $17, $18, $19, $20, $21, $22, $23)
             ON CONFLICT (id) DO UPDATE SET
               name = excluded.name, description = excluded.description,
               category = excluded.category, licence = excluded.licence, tags = excluded.tags,
               duration = excluded.duration, state = excluded.state,
               sensitive = excluded.sensitive, comments_policy = excluded.comments_policy,
               download_enabled = excluded.download_enabled, is_live = excluded.is_live,
               language = excluded.language, views = excluded.views, likes = excluded.likes,
               dislikes = excluded.dislikes, updated = excluded.updated"
        )))
        .bind(video.id.clone())
        .bind(video.uuid.clone())
        .bind(i64::from(video.local))
        .bind(video.account.clone())
        .bind(video.channel.clone())
        .bind(video.name.clone())
        .bind(video.description.clone())
        .bind(video.category)
        .bind(video.licence)
        .bind(serde_json::to_string(&video.tags)?)
        .bind(video.duration)
        .bind(video.state)
        .bind(i64::from(video.sensitive))
        .bind(video.comments_policy)
        .bind(i64::from(video.download_enabled))
        .bind(i64::from(video.is_live))
        .bind(video.language.clone())
        .bind(video.views)
        .bind(video.likes)
        .bind(video.dislikes)
        .bind(video.published)
        .bind(video.updated)
        .bind(video_number(&video.id))
        .execute(&mut *tx)
        .await
        .context("storing a video")?;
        append_search_change(&mut tx, SearchKind::Video, &video.id, self.now_secs()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The video whose id is `id`.
    pub(crate) async fn video(&self, id: &str) -> Result<Option<VideoRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VIDEO_COLUMNS} FROM vi_videos WHERE id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(video_row).transpose()
    }

    /// The video whose numeric id (see [`video_number`]) is `number`. When none has it, the
    /// rows stored before numbers were (migration 6) are numbered, and it is looked for again.
    pub(crate) async fn video_by_number(&self, number: i64) -> Result<Option<VideoRow>> {
        if let Some(found) = self.numbered_video(number).await? {
            return Ok(Some(found));
        }
        let unnumbered = sqlx::query("SELECT id FROM vi_videos WHERE num IS NULL")
            .fetch_all(self.pool())
            .await?;
        if unnumbered.is_empty() {
            return Ok(None);
        }
        for row in unnumbered {
            let id: String = row.try_get("id")?;
            sqlx::query("UPDATE vi_videos SET num = $2 WHERE id = $1 AND num IS NULL")
                .bind(id.clone())
                .bind(video_number(&id))
                .execute(self.pool())
                .await?;
        }
        self.numbered_video(number).await
    }

    async fn numbered_video(&self, number: i64) -> Result<Option<VideoRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VIDEO_COLUMNS} FROM vi_videos WHERE num = $1 ORDER BY local DESC, id LIMIT 1"
        )))
        .bind(number)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(video_row).transpose()
    }

    /// The video whose uuid is `uuid`: the local one if there is one, else a remote one.
    pub(crate) async fn video_by_uuid(&self, uuid: &str) -> Result<Option<VideoRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VIDEO_COLUMNS} FROM vi_videos WHERE uuid = $1 ORDER BY local DESC LIMIT 1"
        )))
        .bind(uuid.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(video_row).transpose()
    }

    /// Forgets a video's row and what is about it (its files' rows, comments, rates).
    pub(crate) async fn delete_video(&self, id: &str) -> Result<Vec<FileRow>> {
        let mut tx = self.state().begin_write().await?;
        // The video's row goes first: from then on no file can be recorded for it (see
        // `hold_video`), so the files read next are all there will be.
        sqlx::query("DELETE FROM vi_videos WHERE id = $1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        let files = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM vi_files WHERE video = $1"
        )))
        .bind(id.to_owned())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(file_row)
        .collect::<Result<Vec<_>>>()?;
        for table in [
            "DELETE FROM vi_files WHERE video = $1",
            "DELETE FROM vi_comments WHERE video = $1",
            "DELETE FROM vi_rates WHERE video = $1",
            "DELETE FROM vi_pending_views WHERE video = $1",
            "DELETE FROM vi_jobs WHERE video = $1",
            "DELETE FROM vi_mirrors WHERE video = $1",
            "DELETE FROM vi_cache_files WHERE video = $1",
        ] {
            sqlx::query(table)
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?;
        }
        append_search_change(&mut tx, SearchKind::Video, id, self.now_secs()).await?;
        tx.commit().await?;
        Ok(files)
    }

    /// Videos visible in `scope`, newest first.
    pub(crate) async fn videos(
        &self,
        listing: &Listing,
        scope: &Scope,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<VideoRow>> {
        let mut conditions = Vec::new();
        let mut next = 1;
        if listing.channel.is_some() {
            conditions.push(format!("channel = ${next}"));
            next += 1;
        }
        if listing.account.is_some() {
            conditions.push(format!("account = ${next}"));
            next += 1;
        }
        if listing.local_only {
            conditions.push("local = 1".to_owned());
        }
        // Hidden by a moderator: shown to nobody.
        conditions.push(
            "NOT EXISTS (SELECT 1 FROM st_objects h WHERE h.id = vi_videos.id AND h.hidden <> 0)"
                .to_owned(),
        );
        let limit_at = next;
        let offset_at = next + 1;
        conditions.push(scope.condition("vi_videos.id", next + 2));
        let sql = format!(
            "SELECT {VIDEO_COLUMNS} FROM vi_videos WHERE {} \
             ORDER BY published DESC, id LIMIT ${limit_at} OFFSET ${offset_at}",
            conditions.join(" AND ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(channel) = &listing.channel {
            query = query.bind(channel.clone());
        }
        if let Some(account) = &listing.account {
            query = query.bind(account.clone());
        }
        query = query.bind(limit).bind(offset);
        let rows = scope.bind(query).fetch_all(self.pool()).await?;
        rows.iter().map(video_row).collect()
    }

    /// The videos listed here that playlist `playlist` holds, each with whether `scope` may
    /// see it (hidden ones seen by no one).
    pub(crate) async fn playlist_videos(
        &self,
        playlist: &str,
        scope: &Scope,
    ) -> Result<Vec<(VideoRow, bool)>> {
        let sql = format!(
            "SELECT {VIDEO_COLUMNS}, CASE WHEN {} THEN 1 ELSE 0 END AS visible FROM vi_videos
             WHERE id IN (SELECT video FROM vi_playlist_elements WHERE playlist = $1)",
            scope.condition("vi_videos.id", 2)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(playlist.to_owned());
        let rows = scope.bind(query).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| Ok((video_row(row)?, row.try_get::<i64, _>("visible")? != 0)))
            .collect()
    }

    /// Records a file of a video.
    pub(crate) async fn put_file(&self, file: &FileRow) -> Result<()> {
        insert_file(file)
            .execute(self.pool())
            .await
            .context("storing a file's row")?;
        Ok(())
    }

    /// Records `files`, all of video `video`, in one step with the check that the video is
    /// still there: `false`, and nothing recorded, when it was deleted. A deletion running at
    /// the same time either sees every one of these rows or none.
    #[cfg(test)]
    pub(crate) async fn put_files_of(&self, video: &str, files: &[FileRow]) -> Result<bool> {
        let Some(mut held) = self.hold_video(video).await? else {
            return Ok(false);
        };
        held.insert_files(files).await?;
        held.commit().await?;
        Ok(true)
    }

    /// Holds video `video` in a transaction until it commits or drops, so that no deletion
    /// runs meanwhile: the video's row is written first, which holds it (PostgreSQL) or the
    /// database's write lock (SQLite). `None` when the video is gone.
    pub(crate) async fn hold_video(&self, video: &str) -> Result<Option<HeldVideo>> {
        let mut tx = self.state().begin_write().await?;
        let there = sqlx::query("UPDATE vi_videos SET updated = updated WHERE id = $1")
            .bind(video.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if there == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(HeldVideo { tx }))
    }

    /// The files kept of video `video`.
    pub(crate) async fn files(&self, video: &str) -> Result<Vec<FileRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM vi_files WHERE video = $1 ORDER BY role, height DESC, key"
        )))
        .bind(video.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(file_row).collect()
    }

    /// The file whose key is `key`.
    pub(crate) async fn file(&self, key: &str) -> Result<Option<FileRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FILE_COLUMNS} FROM vi_files WHERE key = $1"
        )))
        .bind(key.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(file_row).transpose()
    }

    /// Records that local actor `owner` owns channel `name`.
    pub(crate) async fn put_channel(&self, name: &str, owner: &str) -> Result<()> {
        sqlx::query("INSERT INTO vi_channels (name, owner) VALUES ($1, $2)")
            .bind(name.to_owned())
            .bind(owner.to_owned())
            .execute(self.pool())
            .await
            .context("recording a channel")?;
        Ok(())
    }

    /// The owner (a local actor's name) of channel `name`.
    pub(crate) async fn channel_owner(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT owner FROM vi_channels WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("owner")).transpose()?)
    }

    /// The channels local actor `owner` owns, by name.
    pub(crate) async fn channels_of(&self, owner: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM vi_channels WHERE owner = $1 ORDER BY name")
            .bind(owner.to_owned())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get("name").map_err(Into::into))
            .collect()
    }

    /// Records `actor`'s `rate` (`like` or `dislike`, by activity `activity`) of video
    /// `video`, replacing its earlier one, and recounts the video's.
    pub(crate) async fn put_rate(
        &self,
        video: &str,
        actor: &str,
        rate: &str,
        activity: &str,
    ) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        sqlx::query(
            "INSERT INTO vi_rates (video, actor, rate, activity) VALUES ($1, $2, $3, $4)
             ON CONFLICT (video, actor) DO UPDATE SET rate = excluded.rate,
               activity = excluded.activity",
        )
        .bind(video.to_owned())
        .bind(actor.to_owned())
        .bind(rate.to_owned())
        .bind(activity.to_owned())
        .execute(&mut *tx)
        .await?;
        recount_rates(&mut tx, video).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the rate recorded by activity `activity` of `actor` (an `Undo`), and recounts.
    pub(crate) async fn remove_rate(&self, activity: &str, actor: &str) -> Result<()> {
        let mut tx = self.state().begin_write().await?;
        let row = sqlx::query("SELECT video FROM vi_rates WHERE activity = $1 AND actor = $2")
            .bind(activity.to_owned())
            .bind(actor.to_owned())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = row {
            let video: String = row.try_get("video")?;
            sqlx::query("DELETE FROM vi_rates WHERE activity = $1 AND actor = $2")
                .bind(activity.to_owned())
                .bind(actor.to_owned())
                .execute(&mut *tx)
                .await?;
            recount_rates(&mut tx, &video).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Sets a video's like and dislike counts from its rates.
/// What a search change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SearchKind {
    Video,
    Playlist,
}

/// One row of the search changes: the searchable data of `object` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchChange {
    pub(crate) seq: u64,
    pub(crate) kind: SearchKind,
    pub(crate) object: String,
}

/// Appends a search change in `tx`. The sequence's one row is bumped first, in the same
/// transaction: it stays locked until the commit, so appends are serialized and their numbers
/// become visible in order and without gaps (a rollback gives its number back). Whoever has
/// seen change `n` has seen every change before it. Take it last in a transaction (after the
/// rows it is about), so that transactions lock in one order.
pub(crate) async fn append_search_change(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    kind: SearchKind,
    object: &str,
    now_secs: i64,
) -> Result<()> {
    let seq: i64 =
        sqlx::query("UPDATE vi_search_sequence SET last = last + 1 WHERE id = 1 RETURNING last")
            .fetch_one(&mut **tx)
            .await
            .context("numbering a search change")?
            .try_get("last")?;
    sqlx::query(
        "INSERT INTO vi_search_changes (seq, kind, object, created) VALUES ($1, $2, $3, $4)",
    )
    .bind(seq)
    .bind(match kind {
        SearchKind::Video => "video",
        SearchKind::Playlist => "playlist",
    })
    .bind(object.to_owned())
    .bind(now_secs)
    .execute(&mut **tx)
    .await
    .context("recording a search change")?;
    Ok(())
}

/// A video held by [`Db::hold_video`]: its files' rows go in with it, or not at all.
pub(crate) struct HeldVideo {
    tx: sqlx::Transaction<'static, sqlx::Any>,
}

impl HeldVideo {
    /// Records `files` (in the transaction).
    pub(crate) async fn insert_files(&mut self, files: &[FileRow]) -> Result<()> {
        for file in files {
            insert_file(file)
                .execute(&mut *self.tx)
                .await
                .context("storing a file's row")?;
        }
        Ok(())
    }

    /// The transaction that holds the video (to hold another row with it).
    pub(crate) fn transaction(&mut self) -> &mut sqlx::Transaction<'static, sqlx::Any> {
        &mut self.tx
    }

    /// Commits what was recorded and lets the video go.
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

async fn recount_rates(tx: &mut sqlx::Transaction<'_, sqlx::Any>, video: &str) -> Result<()> {
    sqlx::query(
        "UPDATE vi_videos SET
           likes = (SELECT COUNT(*) FROM vi_rates WHERE video = $1 AND rate = 'like'),
           dislikes = (SELECT COUNT(*) FROM vi_rates WHERE video = $1 AND rate = 'dislike')
         WHERE id = $1",
    )
    .bind(video.to_owned())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn video(id: &str) -> VideoRow {
        VideoRow {
            id: id.to_owned(),
            uuid: id.rsplit('/').next().unwrap_or_default().to_owned(),
            local: true,
            account: "https://tube.example/accounts/dora".to_owned(),
            channel: "https://tube.example/video-channels/dora_channel".to_owned(),
            name: "A video".to_owned(),
            description: String::new(),
            category: None,
            licence: None,
            tags: Vec::new(),
            duration: 1,
            state: 1,
            sensitive: false,
            comments_policy: 1,
            download_enabled: true,
            is_live: false,
            language: None,
            views: 0,
            likes: 0,
            dislikes: 0,
            published: 0,
            updated: 0,
        }
    }

    fn file(video: &str, name: &str) -> FileRow {
        FileRow {
            video: video.to_owned(),
            key: format!("videos/x/{name}"),
            role: "hls".to_owned(),
            media_type: "application/vnd.apple.mpegurl".to_owned(),
            size: 1,
            sha256: String::new(),
            width: None,
            height: None,
            fps_milli: None,
        }
    }

    /// A processing job recording its files while the video is deleted: either the deletion
    /// gets every file to remove, or the job is told the video is gone and records nothing.
    /// Never some of both (files the deletion would leave behind).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_recorded_while_a_video_is_deleted_are_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.path().join("db.sqlite").display().to_string(),
        );
        let base = Url::parse("https://tube.example/").unwrap();
        let db = Db::new(open(&options, Some(&base)).await.unwrap());
        let (mut recorded, mut refused) = (0, 0);
        for round in 0..40 {
            let id = format!("https://tube.example/videos/watch/{round}");
            db.put_video(&video(&id)).await.unwrap();
            let files: Vec<FileRow> = (0..5).map(|n| file(&id, &format!("{n}"))).collect();
            let (put, deleted) = tokio::join!(
                tokio::spawn({
                    let (db, id, files) = (db.clone(), id.clone(), files.clone());
                    async move { db.put_files_of(&id, &files).await.unwrap() }
                }),
                tokio::spawn({
                    let (db, id) = (db.clone(), id.clone());
                    async move { db.delete_video(&id).await.unwrap() }
                }),
            );
            let (put, deleted) = (put.unwrap(), deleted.unwrap());
            let mut keys: Vec<String> = deleted.into_iter().map(|file| file.key).collect();
            keys.sort();
            if put {
                recorded += 1;
                assert_eq!(
                    keys,
                    files.iter().map(|f| f.key.clone()).collect::<Vec<_>>()
                );
            } else {
                refused += 1;
                assert!(keys.is_empty(), "{keys:?}");
            }
            assert!(db.files(&id).await.unwrap().is_empty());
            assert!(db.video(&id).await.unwrap().is_none());
        }
        assert_eq!(recorded + refused, 40);
        assert!(
            !db.put_files_of("https://tube.example/videos/watch/0", &[])
                .await
                .unwrap()
        );
    }

    /// Videos are found by their number, those stored before numbers were (a NULL `num`)
    /// once they are numbered on the first look-up that misses.
    #[tokio::test]
    async fn videos_are_found_by_number_older_rows_numbered_when_first_looked_up() {
        let dir = tempfile::tempdir().unwrap();
        let (_, db) = sqlite_db(dir.path()).await;
        let new = "https://tube.example/videos/watch/new";
        let old = "https://tube.example/videos/watch/old";
        db.put_video(&video(new)).await.unwrap();
        db.put_video(&video(old)).await.unwrap();
        sqlx::query("UPDATE vi_videos SET num = NULL WHERE id = $1")
            .bind(old)
            .execute(db.pool())
            .await
            .unwrap();
        let found = db.video_by_number(video_number(new)).await.unwrap();
        assert_eq!(found.map(|v| v.id).as_deref(), Some(new));
        let found = db.video_by_number(video_number(old)).await.unwrap();
        assert_eq!(found.map(|v| v.id).as_deref(), Some(old));
        assert!(db.video_by_number(42).await.unwrap().is_none());
        let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM vi_videos WHERE num IS NULL")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        assert_eq!(left, 0);
    }

    async fn sqlite_db(dir: &std::path::Path) -> (Options, Db) {
        let options = Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.join("db.sqlite").display().to_string(),
        );
        let base = Url::parse("https://tube.example/").unwrap();
        let db = Db::new(open(&options, Some(&base)).await.unwrap());
        (options, db)
    }

    /// The search changes are numbered from 1 without gaps, in the order they commit: a
    /// rolled-back append gives its number back; a reader resumes after the last it saw;
    /// pruning takes the old ones.
    #[tokio::test]
    async fn search_changes_are_numbered_without_gaps_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let (_, db) = sqlite_db(dir.path()).await;
        assert_eq!(db.last_search_change().await.unwrap(), 0);
        let id = "https://tube.example/videos/watch/a";
        db.put_video(&video(id)).await.unwrap();
        db.search_changed(
            SearchKind::Playlist,
            "https://tube.example/video-playlists/p",
        )
        .await
        .unwrap();
        // Rolled back: its number is not used.
        let mut tx = db.state().begin_write().await.unwrap();
        append_search_change(&mut tx, SearchKind::Video, "gone", 0)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        db.delete_video(id).await.unwrap();
        assert_eq!(db.last_search_change().await.unwrap(), 3);
        let changes = db.search_changes_after(0, 10).await.unwrap();
        let seen: Vec<(u64, SearchKind, &str)> = changes
            .iter()
            .map(|c| (c.seq, c.kind, c.object.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (1, SearchKind::Video, id),
                (
                    2,
                    SearchKind::Playlist,
                    "https://tube.example/video-playlists/p"
                ),
                (3, SearchKind::Video, id),
            ]
        );
        let after: Vec<u64> = db
            .search_changes_after(1, 1)
            .await
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(after, [2]);
        // Pruning by age keeps the counter: the next change is 4.
        let now = db.now_secs();
        assert_eq!(db.prune_search_changes(now + 1).await.unwrap(), 3);
        assert!(db.search_changes_after(0, 10).await.unwrap().is_empty());
        db.search_changed(SearchKind::Video, id).await.unwrap();
        assert_eq!(db.last_search_change().await.unwrap(), 4);
    }
}
