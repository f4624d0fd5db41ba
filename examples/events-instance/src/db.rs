//! The instance's storage: SQLite (a file, the default) or PostgreSQL (a `postgres://` URL),
//! through sqlx's `Any` driver with one dialect both understand (`$n` parameters, `BIGINT`,
//! `TEXT`, `ON CONFLICT`).
//!
//! Objects (events, comments) are stored as their ActivityPub documents, with the columns
//! needed to find them beside; relations (members, followers, participations) have tables.

use std::str::FromStr;

use anyhow::{Context, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// The schema, one statement each.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS ev_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ev_actors (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        display_name TEXT NOT NULL,
        summary TEXT NOT NULL,
        rsa_key TEXT NOT NULL,
        ed25519_key TEXT NOT NULL,
        token_hash TEXT,
        created BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ev_members (
        group_name TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (group_name, actor))",
    "CREATE TABLE IF NOT EXISTS ev_followers (
        local_name TEXT NOT NULL,
        follower TEXT NOT NULL,
        follow_id TEXT NOT NULL,
        created BIGINT NOT NULL,
        PRIMARY KEY (local_name, follower))",
    "CREATE TABLE IF NOT EXISTS ev_following (
        local_name TEXT NOT NULL,
        target TEXT NOT NULL,
        follow_id TEXT NOT NULL,
        state TEXT NOT NULL,
        created BIGINT NOT NULL,
        PRIMARY KEY (local_name, target))",
    "CREATE TABLE IF NOT EXISTS ev_objects (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        local BIGINT NOT NULL,
        attributed_to TEXT,
        context TEXT,
        in_reply_to TEXT,
        start_time BIGINT,
        document TEXT NOT NULL,
        deleted BIGINT NOT NULL,
        published BIGINT NOT NULL,
        updated BIGINT NOT NULL,
        stored BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ev_objects_context ON ev_objects (context)",
    "CREATE INDEX IF NOT EXISTS ev_objects_start ON ev_objects (kind, start_time)",
    "CREATE TABLE IF NOT EXISTS ev_participations (
        event TEXT NOT NULL,
        actor TEXT NOT NULL,
        join_id TEXT NOT NULL,
        state TEXT NOT NULL,
        updated BIGINT NOT NULL,
        PRIMARY KEY (event, actor))",
    "CREATE INDEX IF NOT EXISTS ev_participations_join ON ev_participations (join_id)",
    "CREATE TABLE IF NOT EXISTS ev_activities (
        id TEXT PRIMARY KEY,
        actor_name TEXT NOT NULL,
        document TEXT NOT NULL,
        published BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ev_activities_actor ON ev_activities (actor_name, published)",
    "CREATE TABLE IF NOT EXISTS ev_processed (id TEXT PRIMARY KEY, at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ev_remote_actors (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        handle TEXT,
        url TEXT,
        updated BIGINT NOT NULL)",
];

/// A local actor.
#[derive(Debug, Clone)]
pub(crate) struct ActorRow {
    pub(crate) name: String,
    /// `Person`, `Group` or `Application`.
    pub(crate) kind: String,
    pub(crate) display_name: String,
    pub(crate) summary: String,
    /// PKCS#8 PEM.
    pub(crate) rsa_key: String,
    /// PKCS#8 PEM.
    pub(crate) ed25519_key: String,
}

/// A stored object (an event, a comment, their tombstones).
#[derive(Debug, Clone)]
pub(crate) struct ObjectRow {
    pub(crate) id: String,
    /// `Event` or `Note`.
    pub(crate) kind: String,
    pub(crate) local: bool,
    pub(crate) attributed_to: Option<String>,
    /// For a comment, the event; for an event, its group.
    pub(crate) context: Option<String>,
    pub(crate) in_reply_to: Option<String>,
    pub(crate) start_time: Option<i64>,
    pub(crate) document: serde_json::Value,
    pub(crate) deleted: bool,
    pub(crate) published: i64,
    pub(crate) updated: i64,
}

/// A participation in an event.
#[derive(Debug, Clone)]
pub(crate) struct Participation {
    pub(crate) event: String,
    pub(crate) actor: String,
    pub(crate) join_id: String,
    /// `pending`, `accepted`, `rejected` or `left`.
    pub(crate) state: String,
}

/// The database.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pool: AnyPool,
}

fn object_row(row: &AnyRow) -> Result<ObjectRow> {
    let document: String = row.try_get("document")?;
    Ok(ObjectRow {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        local: row.try_get::<i64, _>("local")? != 0,
        attributed_to: row.try_get("attributed_to")?,
        context: row.try_get("context")?,
        in_reply_to: row.try_get("in_reply_to")?,
        start_time: row.try_get("start_time")?,
        document: serde_json::from_str(&document).context("a stored document is not JSON")?,
        deleted: row.try_get::<i64, _>("deleted")? != 0,
        published: row.try_get("published")?,
        updated: row.try_get("updated")?,
    })
}

fn participation_row(row: &AnyRow) -> Result<Participation> {
    Ok(Participation {
        event: row.try_get("event")?,
        actor: row.try_get("actor")?,
        join_id: row.try_get("join_id")?,
        state: row.try_get("state")?,
    })
}

const OBJECT_COLUMNS: &str = "id, kind, local, attributed_to, context, in_reply_to, start_time, \
     document, deleted, published, updated";

impl Db {
    /// Opens (creating if needed) the database at `location`: a `postgres://` URL, or a SQLite
    /// file path.
    pub(crate) async fn open(location: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let sqlite =
            !(location.starts_with("postgres://") || location.starts_with("postgresql://"));
        let url = if sqlite {
            format!("sqlite://{location}?mode=rwc")
        } else {
            location.to_owned()
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("bad database location {location}"))?;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the database {location}"))?;
        if sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        for statement in SCHEMA {
            sqlx::query(*statement)
                .execute(&pool)
                .await
                .with_context(|| format!("creating the schema: {statement}"))?;
        }
        Ok(Db { pool })
    }

    /// The `n` of a `SELECT COUNT(*) AS n ...` query with one text parameter (or none).
    async fn count(&self, sql: &'static str, parameter: Option<&str>) -> Result<i64> {
        let mut query = sqlx::query(sql);
        if let Some(parameter) = parameter {
            query = query.bind(parameter.to_owned());
        }
        let row = query.fetch_one(&self.pool).await?;
        Ok(row.try_get("n")?)
    }

    // --- settings

    pub(crate) async fn setting(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM ev_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    pub(crate) async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_settings (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // --- local actors

    /// Inserts a new actor; `false` if the name is taken.
    pub(crate) async fn insert_actor(
        &self,
        actor: &ActorRow,
        token_hash: Option<&str>,
    ) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO ev_actors (name, kind, display_name, summary, rsa_key, ed25519_key, token_hash, created)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&actor.name)
        .bind(&actor.kind)
        .bind(&actor.display_name)
        .bind(&actor.summary)
        .bind(&actor.rsa_key)
        .bind(&actor.ed25519_key)
        .bind(token_hash)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub(crate) async fn actor(&self, name: &str) -> Result<Option<ActorRow>> {
        let row = sqlx::query(
            "SELECT name, kind, display_name, summary, rsa_key, ed25519_key FROM ev_actors WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ActorRow {
                name: row.try_get("name")?,
                kind: row.try_get("kind")?,
                display_name: row.try_get("display_name")?,
                summary: row.try_get("summary")?,
                rsa_key: row.try_get("rsa_key")?,
                ed25519_key: row.try_get("ed25519_key")?,
            })
        })
        .transpose()
    }

    /// The identities of the account whose token has this hash (an account is the identities
    /// sharing a token).
    pub(crate) async fn identities_by_token(&self, token_hash: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM ev_actors WHERE token_hash = $1 ORDER BY name")
            .bind(token_hash)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
    }

    pub(crate) async fn count_actors(&self, kind: &str) -> Result<i64> {
        self.count(
            "SELECT COUNT(*) AS n FROM ev_actors WHERE kind = $1",
            Some(kind),
        )
        .await
    }

    // --- group members

    pub(crate) async fn set_member(&self, group: &str, actor: &str, role: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_members (group_name, actor, role) VALUES ($1, $2, $3)
             ON CONFLICT (group_name, actor) DO UPDATE SET role = excluded.role",
        )
        .bind(group)
        .bind(actor)
        .bind(role)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn member_role(&self, group: &str, actor: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT role FROM ev_members WHERE group_name = $1 AND actor = $2")
            .bind(group)
            .bind(actor)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("role")).transpose()?)
    }

    pub(crate) async fn remove_member(&self, group: &str, actor: &str) -> Result<()> {
        sqlx::query("DELETE FROM ev_members WHERE group_name = $1 AND actor = $2")
            .bind(group)
            .bind(actor)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn member_count(&self, group: &str) -> Result<i64> {
        self.count(
            "SELECT COUNT(*) AS n FROM ev_members WHERE group_name = $1
             AND role IN ('administrator', 'moderator', 'member')",
            Some(group),
        )
        .await
    }

    // --- followers and following

    pub(crate) async fn add_follower(
        &self,
        local: &str,
        follower: &str,
        follow_id: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_followers (local_name, follower, follow_id, created) VALUES ($1, $2, $3, $4)
             ON CONFLICT (local_name, follower) DO UPDATE SET follow_id = excluded.follow_id",
        )
        .bind(local)
        .bind(follower)
        .bind(follow_id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn remove_follower(&self, local: &str, follower: &str) -> Result<bool> {
        let result =
            sqlx::query("DELETE FROM ev_followers WHERE local_name = $1 AND follower = $2")
                .bind(local)
                .bind(follower)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Removes `actor` from every followers list and participation (the actor was deleted).
    pub(crate) async fn forget_remote_actor(&self, actor: &str) -> Result<()> {
        for statement in [
            "DELETE FROM ev_followers WHERE follower = $1",
            "DELETE FROM ev_following WHERE target = $1",
            "DELETE FROM ev_participations WHERE actor = $1",
            "DELETE FROM ev_members WHERE actor = $1",
            "DELETE FROM ev_remote_actors WHERE id = $1",
        ] {
            sqlx::query(statement)
                .bind(actor)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn followers(
        &self,
        local: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT follower FROM ev_followers WHERE local_name = $1
             ORDER BY created DESC, follower LIMIT $2 OFFSET $3",
        )
        .bind(local)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("follower")?)).collect()
    }

    pub(crate) async fn follower_count(&self, local: &str) -> Result<i64> {
        self.count(
            "SELECT COUNT(*) AS n FROM ev_followers WHERE local_name = $1",
            Some(local),
        )
        .await
    }

    pub(crate) async fn set_following(
        &self,
        local: &str,
        target: &str,
        follow_id: &str,
        state: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_following (local_name, target, follow_id, state, created) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (local_name, target) DO UPDATE SET follow_id = excluded.follow_id, state = excluded.state",
        )
        .bind(local)
        .bind(target)
        .bind(follow_id)
        .bind(state)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets the state of the follow `follow_id`; `false` if there is none.
    pub(crate) async fn set_following_state(&self, follow_id: &str, state: &str) -> Result<bool> {
        let result = sqlx::query("UPDATE ev_following SET state = $1 WHERE follow_id = $2")
            .bind(state)
            .bind(follow_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// The target of the follow `follow_id`.
    pub(crate) async fn following_target(&self, follow_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT target FROM ev_following WHERE follow_id = $1")
            .bind(follow_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("target")).transpose()?)
    }

    pub(crate) async fn following_state(
        &self,
        local: &str,
        target: &str,
    ) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT state FROM ev_following WHERE local_name = $1 AND target = $2")
                .bind(local)
                .bind(target)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.try_get("state")).transpose()?)
    }

    pub(crate) async fn following(
        &self,
        local: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT target FROM ev_following WHERE local_name = $1 AND state = 'accepted'
             ORDER BY created DESC, target LIMIT $2 OFFSET $3",
        )
        .bind(local)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("target")?)).collect()
    }

    pub(crate) async fn following_count(&self, local: &str) -> Result<i64> {
        self.count(
            "SELECT COUNT(*) AS n FROM ev_following WHERE local_name = $1 AND state = 'accepted'",
            Some(local),
        )
        .await
    }

    /// Whether any local actor follows, is followed by, or has a participation of `actor`.
    pub(crate) async fn knows_actor(&self, actor: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM ev_followers WHERE follower = $1)
             + (SELECT COUNT(*) FROM ev_following WHERE target = $1)
             + (SELECT COUNT(*) FROM ev_participations WHERE actor = $1)
             + (SELECT COUNT(*) FROM ev_remote_actors WHERE id = $1) AS n",
        )
        .bind(actor)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    // --- objects

    pub(crate) async fn put_object(&self, object: &ObjectRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_objects (id, kind, local, attributed_to, context, in_reply_to, start_time,
                document, deleted, published, updated, stored)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, attributed_to = excluded.attributed_to,
                context = excluded.context, in_reply_to = excluded.in_reply_to,
                start_time = excluded.start_time, document = excluded.document,
                deleted = excluded.deleted, updated = excluded.updated",
        )
        .bind(&object.id)
        .bind(&object.kind)
        .bind(i64::from(object.local))
        .bind(&object.attributed_to)
        .bind(&object.context)
        .bind(&object.in_reply_to)
        .bind(object.start_time)
        .bind(object.document.to_string())
        .bind(i64::from(object.deleted))
        .bind(object.published)
        .bind(object.updated)
        // When first stored, in microseconds: orders comments published in the same second.
        .bind(now_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn object(&self, id: &str) -> Result<Option<ObjectRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(object_row).transpose()
    }

    /// Events (not deleted) starting at or after `from`, soonest first; of one group if given.
    pub(crate) async fn upcoming_events(
        &self,
        from: i64,
        group: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ObjectRow>> {
        let rows = match group {
            Some(group) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE kind = 'Event' AND deleted = 0
                     AND start_time >= $1 AND (context = $2 OR attributed_to = $2)
                     ORDER BY start_time LIMIT $3"
                )))
                .bind(from)
                .bind(group)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE kind = 'Event' AND deleted = 0
                     AND start_time >= $1 ORDER BY start_time LIMIT $2"
                )))
                .bind(from)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(object_row).collect()
    }

    /// Every event of a group, past ones too (for its calendar).
    pub(crate) async fn group_events(&self, group: &str, limit: i64) -> Result<Vec<ObjectRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE kind = 'Event' AND deleted = 0
             AND (context = $1 OR attributed_to = $1) ORDER BY start_time LIMIT $2"
        )))
        .bind(group)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(object_row).collect()
    }

    /// The comments on an event (replies included), oldest first.
    pub(crate) async fn comments(&self, event: &str) -> Result<Vec<ObjectRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE kind = 'Note' AND context = $1
             AND deleted = 0 ORDER BY published, stored, id"
        )))
        .bind(event)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(object_row).collect()
    }

    pub(crate) async fn object_count(&self) -> Result<i64> {
        self.count("SELECT COUNT(*) AS n FROM ev_objects", None)
            .await
    }

    pub(crate) async fn count_local_objects(&self, kind: &str) -> Result<i64> {
        self.count(
            "SELECT COUNT(*) AS n FROM ev_objects WHERE kind = $1 AND local = 1 AND deleted = 0",
            Some(kind),
        )
        .await
    }

    // --- participations

    pub(crate) async fn participation(
        &self,
        event: &str,
        actor: &str,
    ) -> Result<Option<Participation>> {
        let row = sqlx::query(
            "SELECT event, actor, join_id, state FROM ev_participations WHERE event = $1 AND actor = $2",
        )
        .bind(event)
        .bind(actor)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(participation_row).transpose()
    }

    pub(crate) async fn participation_by_join(
        &self,
        join_id: &str,
    ) -> Result<Option<Participation>> {
        let row = sqlx::query(
            "SELECT event, actor, join_id, state FROM ev_participations WHERE join_id = $1",
        )
        .bind(join_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(participation_row).transpose()
    }

    pub(crate) async fn put_participation(&self, p: &Participation) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_participations (event, actor, join_id, state, updated) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (event, actor) DO UPDATE SET join_id = excluded.join_id,
                state = excluded.state, updated = excluded.updated",
        )
        .bind(&p.event)
        .bind(&p.actor)
        .bind(&p.join_id)
        .bind(&p.state)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn participants(&self, event: &str, state: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT actor FROM ev_participations WHERE event = $1 AND state = $2 ORDER BY updated, actor",
        )
        .bind(event)
        .bind(state)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("actor")?)).collect()
    }

    // --- activities (outboxes)

    pub(crate) async fn put_activity(
        &self,
        id: &str,
        actor_name: &str,
        document: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_activities (id, actor_name, document, published) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(actor_name)
        .bind(document.to_string())
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn activity(&self, id: &str) -> Result<Option<serde_json::Value>> {
        let row = sqlx::query("SELECT document FROM ev_activities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let text: String = r.try_get("document")?;
            Ok(serde_json::from_str(&text)?)
        })
        .transpose()
    }

    pub(crate) async fn outbox(
        &self,
        actor_name: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>> {
        let rows = sqlx::query(
            "SELECT document FROM ev_activities WHERE actor_name = $1
             ORDER BY published DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(actor_name)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get("document")?;
                Ok(serde_json::from_str(&text)?)
            })
            .collect()
    }

    pub(crate) async fn outbox_count(&self, actor_name: &str) -> Result<i64> {
        self.count(
            "SELECT COUNT(*) AS n FROM ev_activities WHERE actor_name = $1",
            Some(actor_name),
        )
        .await
    }

    // --- the inbox's record of processed activities

    pub(crate) async fn record_processed(&self, id: &str) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO ev_processed (id, at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub(crate) async fn forget_processed(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM ev_processed WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn processed_count(&self) -> Result<i64> {
        self.count("SELECT COUNT(*) AS n FROM ev_processed", None)
            .await
    }

    // --- remote actors we have met (names for pages)

    pub(crate) async fn put_remote_actor(
        &self,
        id: &str,
        name: &str,
        handle: Option<&str>,
        url: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_remote_actors (id, name, handle, url, updated) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, handle = excluded.handle,
                url = excluded.url, updated = excluded.updated",
        )
        .bind(id)
        .bind(name)
        .bind(handle)
        .bind(url)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn remote_actor_name(
        &self,
        id: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        let row = sqlx::query("SELECT name, handle FROM ev_remote_actors WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("name")?, r.try_get("handle")?)))
            .transpose()
    }
}

/// The current Unix time, in microseconds.
fn now_micros() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// The current Unix time, in seconds.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
