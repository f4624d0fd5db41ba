//! The instance's storage: SQLite (a file, the default) or PostgreSQL (a `postgres://` URL),
//! through sqlx's `Any` driver with one dialect both understand (`$n` parameters, `BIGINT`,
//! `TEXT`, `ON CONFLICT`).
//!
//! Objects (events, comments) are stored as their ActivityPub documents, with the columns
//! needed to find them beside; relations (members, followers, participations) have tables.

use std::str::FromStr;

use activitypub_core::addressing;
use activitypub_core::{Address, AnyObject, PUBLIC};
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

/// Schema change 2: who may see each object and activity, one row per address (see
/// [`audience_of`]), written with the document it belongs to. A database made before this
/// change gets the rows of its documents once, when it is opened ([`Db::open`]).
const AUDIENCE_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS ev_audience (
        object TEXT NOT NULL,
        address TEXT NOT NULL,
        PRIMARY KEY (object, address))",
    "CREATE INDEX IF NOT EXISTS ev_audience_address ON ev_audience (address)",
];

/// The setting that records that the audience rows of the documents stored before schema
/// change 2 were written.
const AUDIENCE_FILLED: &str = "schema_audience_filled";

/// The most addresses a [`Scope`] holds: a reader in more collections than this is judged on
/// the first ones (its own ids come first).
const MAX_SCOPE: usize = 200;

/// Who may see an object or an activity, from its document: every address of `to`, `bto`,
/// `cc`, `bcc` and `audience` (ActivityPub §6, read with `activitypub_core::addressing`), the
/// public collection in any spelling written as [`PUBLIC`], and its authors (`attributedTo`,
/// `actor`), who always see their own.
pub(crate) fn audience_of(document: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |address: &str| {
        if !out.iter().any(|a| a == address) {
            out.push(address.to_owned());
        }
    };
    if let Ok(object) = AnyObject::from_value(document.clone()) {
        let props = object.props();
        if addressing::is_public(props) {
            add(PUBLIC);
        }
        for id in addressing::recipients(props).filter_map(Address::id) {
            add(id.as_str());
        }
    }
    for key in ["attributedTo", "actor"] {
        for author in ids_in(document.get(key)) {
            add(author);
        }
    }
    out
}

/// The ids in a value that is an id, an object with one, or an array of those.
fn ids_in(value: Option<&serde_json::Value>) -> Vec<&str> {
    match value {
        Some(serde_json::Value::String(id)) => vec![id.as_str()],
        Some(serde_json::Value::Object(object)) => object
            .get("id")
            .and_then(serde_json::Value::as_str)
            .into_iter()
            .collect(),
        Some(serde_json::Value::Array(items)) => {
            items.iter().flat_map(|item| ids_in(Some(item))).collect()
        }
        _ => Vec::new(),
    }
}

/// What a reader may see: the public collection, and the addresses that name the reader (its
/// ids, and the collections it is in). Every listing and every lookup of objects and activities
/// for someone to see goes through [`Scope::condition`], the one judgment of visibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    /// [`PUBLIC`] first, then the reader's addresses.
    addresses: Vec<String>,
}

impl Scope {
    /// An anonymous reader: the public collection only.
    pub(crate) fn anonymous() -> Self {
        Self {
            addresses: vec![PUBLIC.to_owned()],
        }
    }

    /// A reader named by `addresses` (its ids first, then its collections), capped at
    /// [`MAX_SCOPE`].
    pub(crate) fn of(addresses: impl IntoIterator<Item = String>) -> Self {
        let mut scope = Self::anonymous();
        for address in addresses {
            if scope.addresses.len() > MAX_SCOPE {
                break;
            }
            if !scope.addresses.contains(&address) {
                scope.addresses.push(address);
            }
        }
        scope
    }

    /// The reader's own addresses (its ids, then its collections), without the public
    /// collection.
    pub(crate) fn addresses(&self) -> impl Iterator<Item = &str> {
        self.addresses.iter().skip(1).map(String::as_str)
    }

    /// Whether the reader is one of `actors` (ids).
    pub(crate) fn is_among(&self, actors: &[String]) -> bool {
        self.addresses()
            .any(|a| actors.iter().any(|actor| actor == a))
    }

    /// The SQL condition that the object or activity whose id is `column` is visible; its
    /// parameters are `$first` onwards, bound by [`Scope::bind`].
    fn condition(&self, column: &str, first: usize) -> String {
        let parameters: Vec<String> = (first..first + self.addresses.len())
            .map(|n| format!("${n}"))
            .collect();
        format!(
            "EXISTS (SELECT 1 FROM ev_audience v WHERE v.object = {column} AND v.address IN ({}))",
            parameters.join(", ")
        )
    }

    /// Binds the parameters of [`Scope::condition`].
    fn bind<'q>(&self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        for address in &self.addresses {
            query = query.bind(address.clone());
        }
        query
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

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
        for statement in SCHEMA.iter().chain(AUDIENCE_SCHEMA) {
            sqlx::query(*statement)
                .execute(&pool)
                .await
                .with_context(|| format!("creating the schema: {statement}"))?;
        }
        let db = Db { pool };
        db.fill_audience().await?;
        Ok(db)
    }

    /// Writes the audience rows of the documents stored before schema change 2, once. Every
    /// object stored then was public (the instance made nothing else), as were the tombstones'
    /// objects.
    async fn fill_audience(&self) -> Result<()> {
        if self.setting(AUDIENCE_FILLED).await?.is_some() {
            return Ok(());
        }
        for table in ["ev_objects", "ev_activities"] {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id, document FROM {table}
                 WHERE NOT EXISTS (SELECT 1 FROM ev_audience a WHERE a.object = {table}.id)"
            )))
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                let id: String = row.try_get("id")?;
                let document: String = row.try_get("document")?;
                let document: serde_json::Value =
                    serde_json::from_str(&document).context("a stored document is not JSON")?;
                let mut audience = audience_of(&document);
                if document.get("type").and_then(serde_json::Value::as_str) == Some("Tombstone") {
                    audience.push(PUBLIC.to_owned());
                }
                let mut tx = self.pool.begin().await?;
                for address in audience {
                    sqlx::query(
                        "INSERT INTO ev_audience (object, address) VALUES ($1, $2)
                         ON CONFLICT (object, address) DO NOTHING",
                    )
                    .bind(&id)
                    .bind(address)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }
        }
        self.set_setting(AUDIENCE_FILLED, "1").await
    }

    /// Replaces the audience rows of `id` with those of `document`, within `tx`.
    async fn put_audience(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: &str,
        document: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("DELETE FROM ev_audience WHERE object = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        for address in audience_of(document) {
            sqlx::query(
                "INSERT INTO ev_audience (object, address) VALUES ($1, $2)
                 ON CONFLICT (object, address) DO NOTHING",
            )
            .bind(id)
            .bind(address)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Whether the object or activity `id` is visible in `scope`.
    pub(crate) async fn is_visible(&self, id: &str, scope: &Scope) -> Result<bool> {
        let sql = format!(
            "SELECT CAST(CASE WHEN {} THEN 1 ELSE 0 END AS BIGINT) AS n",
            scope.condition("$1", 2)
        );
        let query = scope.bind(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_owned()));
        let row = query.fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
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

    /// The members of `group` (administrators, moderators and members), by id.
    pub(crate) async fn members(&self, group: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT actor FROM ev_members WHERE group_name = $1
             AND role IN ('administrator', 'moderator', 'member') ORDER BY actor",
        )
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("actor")?)).collect()
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

    /// The collections of this instance that `actor` (local or remote) is in, as addresses:
    /// the followers of the local actors it follows, the local groups it is a member of (the
    /// group and its members), and the events it takes part in (their participants; the
    /// event or remote group itself). `actors` is the prefix of local actor ids
    /// (`https://host/actors/`).
    pub(crate) async fn collections_of(&self, actor: &str, actors: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let rows = sqlx::query("SELECT local_name FROM ev_followers WHERE follower = $1")
            .bind(actor)
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let name: String = row.try_get("local_name")?;
            out.push(format!("{actors}{name}/followers"));
        }
        let rows = sqlx::query(
            "SELECT group_name FROM ev_members WHERE actor = $1
             AND role IN ('administrator', 'moderator', 'member')",
        )
        .bind(actor)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let name: String = row.try_get("group_name")?;
            out.push(format!("{actors}{name}"));
            out.push(format!("{actors}{name}/members"));
        }
        let rows = sqlx::query(
            "SELECT event FROM ev_participations WHERE actor = $1 AND state = 'accepted'",
        )
        .bind(actor)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let event: String = row.try_get("event")?;
            out.push(format!("{event}/participants"));
            out.push(event);
        }
        Ok(out)
    }

    /// Whether a local actor follows `actor`, the follow accepted.
    pub(crate) async fn is_followed(&self, actor: &str) -> Result<bool> {
        let n = self
            .count(
                "SELECT COUNT(*) AS n FROM ev_following WHERE target = $1 AND state = 'accepted'",
                Some(actor),
            )
            .await?;
        Ok(n > 0)
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

    /// Stores `object` and who may see it ([`audience_of`] its document). A tombstone keeps
    /// the audience of the object it replaces: whoever could see the object learns it is gone.
    pub(crate) async fn put_object(&self, object: &ObjectRow) -> Result<()> {
        let mut tx = self.pool.begin().await?;
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
        .execute(&mut *tx)
        .await?;
        if !object.deleted {
            Self::put_audience(&mut tx, &object.id, &object.document).await?;
        }
        tx.commit().await?;
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

    /// Events (not deleted) visible in `scope` starting at or after `from`, soonest first; of
    /// one group if given (filed under it: a remote event only names a local group, it is never
    /// filed under one).
    pub(crate) async fn upcoming_events(
        &self,
        from: i64,
        group: Option<&str>,
        scope: &Scope,
        limit: i64,
    ) -> Result<Vec<ObjectRow>> {
        let query = match group {
            Some(group) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE kind = 'Event' AND deleted = 0
                 AND start_time >= $1 AND context = $2 AND {}
                 ORDER BY start_time LIMIT $3",
                scope.condition("ev_objects.id", 4)
            )))
            .bind(from)
            .bind(group.to_owned())
            .bind(limit),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE kind = 'Event' AND deleted = 0
                 AND start_time >= $1 AND {} ORDER BY start_time LIMIT $2",
                scope.condition("ev_objects.id", 3)
            )))
            .bind(from)
            .bind(limit),
        };
        let rows = scope.bind(query).fetch_all(&self.pool).await?;
        rows.iter().map(object_row).collect()
    }

    /// Every event of a group visible in `scope`, past ones too (for its calendar).
    pub(crate) async fn group_events(
        &self,
        group: &str,
        scope: &Scope,
        limit: i64,
    ) -> Result<Vec<ObjectRow>> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE kind = 'Event' AND deleted = 0
             AND context = $1 AND {} ORDER BY start_time LIMIT $2",
            scope.condition("ev_objects.id", 3)
        )))
        .bind(group.to_owned())
        .bind(limit);
        let rows = scope.bind(query).fetch_all(&self.pool).await?;
        rows.iter().map(object_row).collect()
    }

    /// The comments on an event (replies included) visible in `scope`, oldest first.
    pub(crate) async fn visible_comments(
        &self,
        event: &str,
        scope: &Scope,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ObjectRow>> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE kind <> 'Event' AND context = $1
             AND deleted = 0 AND {} ORDER BY published, stored, id LIMIT $2 OFFSET $3",
            scope.condition("ev_objects.id", 4)
        )))
        .bind(event.to_owned())
        .bind(limit)
        .bind(offset);
        let rows = scope.bind(query).fetch_all(&self.pool).await?;
        rows.iter().map(object_row).collect()
    }

    /// How many comments on an event are visible in `scope`.
    pub(crate) async fn visible_comment_count(&self, event: &str, scope: &Scope) -> Result<i64> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM ev_objects WHERE kind <> 'Event' AND context = $1
             AND deleted = 0 AND {}",
            scope.condition("ev_objects.id", 2)
        )))
        .bind(event.to_owned());
        let row = scope.bind(query).fetch_one(&self.pool).await?;
        Ok(row.try_get("n")?)
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

    /// Locks the local event `id` (not deleted) for a decision on its participations, or
    /// `None` when there is no such event. Until the [`EventLock`] is committed or dropped,
    /// every other lock of the event waits: its first statement writes the event's row, which
    /// on PostgreSQL takes the row's lock and on SQLite the database's write lock, and every
    /// read after it sees what the transactions before it committed. That is what keeps
    /// Joins that arrive together from taking more seats than there are.
    pub(crate) async fn lock_event(&self, id: &str) -> Result<Option<EventLock>> {
        let mut tx = self.pool.begin().await?;
        let locked = sqlx::query(
            "UPDATE ev_objects SET updated = updated
             WHERE id = $1 AND kind = 'Event' AND local = 1 AND deleted = 0",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if locked.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OBJECT_COLUMNS} FROM ev_objects WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let event = object_row(&row)?;
        Ok(Some(EventLock { tx, event }))
    }

    // --- activities (outboxes)

    /// Stores an activity of local actor `actor_name`, and who may see it.
    pub(crate) async fn put_activity(
        &self,
        id: &str,
        actor_name: &str,
        document: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO ev_activities (id, actor_name, document, published) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(actor_name)
        .bind(document.to_string())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            Self::put_audience(&mut tx, id, document).await?;
        }
        tx.commit().await?;
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

    /// The activities of `actor_name` visible in `scope`, newest first.
    pub(crate) async fn outbox(
        &self,
        actor_name: &str,
        scope: &Scope,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>> {
        let sql = format!(
            "SELECT document FROM ev_activities WHERE actor_name = $1 AND {}
             ORDER BY published DESC, id DESC LIMIT $2 OFFSET $3",
            scope.condition("ev_activities.id", 4)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(actor_name.to_owned())
            .bind(limit)
            .bind(offset);
        let rows = scope.bind(query).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get("document")?;
                Ok(serde_json::from_str(&text)?)
            })
            .collect()
    }

    /// How many activities of `actor_name` are visible in `scope`.
    pub(crate) async fn outbox_count(&self, actor_name: &str, scope: &Scope) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM ev_activities WHERE actor_name = $1 AND {}",
            scope.condition("ev_activities.id", 2)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(actor_name.to_owned());
        let row = scope.bind(query).fetch_one(&self.pool).await?;
        Ok(row.try_get("n")?)
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

/// A local event locked by [`Db::lock_event`]: its participations are read and written in
/// the lock's transaction, and nothing is kept unless [`EventLock::commit`] is called.
#[derive(Debug)]
pub(crate) struct EventLock {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// The event, as stored when it was locked.
    pub(crate) event: ObjectRow,
}

impl EventLock {
    /// `actor`'s participation in the event.
    pub(crate) async fn participation(&mut self, actor: &str) -> Result<Option<Participation>> {
        let row = sqlx::query(
            "SELECT event, actor, join_id, state FROM ev_participations WHERE event = $1 AND actor = $2",
        )
        .bind(&self.event.id)
        .bind(actor)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(participation_row).transpose()
    }

    /// How many participations of the event are accepted.
    pub(crate) async fn accepted(&mut self) -> Result<u64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM ev_participations WHERE event = $1 AND state = 'accepted'",
        )
        .bind(&self.event.id)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    /// Records a participation in the event (`p.event` is the event's id).
    pub(crate) async fn put_participation(&mut self, p: &Participation) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_participations (event, actor, join_id, state, updated) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (event, actor) DO UPDATE SET join_id = excluded.join_id,
                state = excluded.state, updated = excluded.updated",
        )
        .bind(&self.event.id)
        .bind(&p.actor)
        .bind(&p.join_id)
        .bind(&p.state)
        .bind(now())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Stores the event's document, start time and `updated` as [`EventLock::event`] now has
    /// them (its counts, an organizer's changes; its addressing, and so who may see it, is left
    /// as it was).
    pub(crate) async fn put_event(&mut self) -> Result<()> {
        sqlx::query(
            "UPDATE ev_objects SET document = $2, updated = $3, start_time = $4 WHERE id = $1",
        )
        .bind(&self.event.id)
        .bind(self.event.document.to_string())
        .bind(self.event.updated)
        .bind(self.event.start_time)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Keeps what was written, and releases the lock.
    pub(crate) async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;

    fn event(id: &str, to: serde_json::Value) -> ObjectRow {
        ObjectRow {
            id: id.to_owned(),
            kind: "Event".into(),
            local: false,
            attributed_to: Some("https://remote.example/@org".into()),
            context: None,
            in_reply_to: None,
            start_time: Some(1_900_000_000),
            document: json!({"id": id, "type": "Event", "attributedTo": "https://remote.example/@org",
                "to": to, "cc": ["https://remote.example/@org/followers"]}),
            deleted: false,
            published: 0,
            updated: 0,
        }
    }

    #[test]
    fn the_audience_is_every_address_and_the_authors() {
        let document = json!({
            "type": "Note",
            "attributedTo": "https://a.example/u",
            "to": ["as:Public", {"type": "Person", "id": "https://b.example/v"}],
            "cc": "https://a.example/u/followers",
            "bto": ["https://c.example/w"],
            "audience": "https://g.example/group",
        });
        assert_eq!(
            audience_of(&document),
            [
                PUBLIC,
                "https://b.example/v",
                "https://c.example/w",
                "https://a.example/u/followers",
                "https://g.example/group",
                "https://a.example/u",
            ]
        );
        // No public collection: not public; nothing at all: the authors only.
        let direct =
            json!({"type": "Note", "actor": "https://a.example/u", "to": "https://b.example/v"});
        assert_eq!(
            audience_of(&direct),
            ["https://b.example/v", "https://a.example/u"]
        );
    }

    #[tokio::test]
    async fn scopes_see_what_names_them_and_older_databases_are_filled() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("db.sqlite").to_string_lossy().into_owned();
        let db = Db::open(&path).await?;
        let public = event("https://remote.example/e/1", json!([PUBLIC]));
        let private = event(
            "https://remote.example/e/2",
            json!(["https://remote.example/@org/followers"]),
        );
        db.put_object(&public).await?;
        db.put_object(&private).await?;
        let anyone = Scope::anonymous();
        let follower = Scope::of(["https://remote.example/@org/followers".to_owned()]);
        let author = Scope::of(["https://remote.example/@org".to_owned()]);
        for (scope, sees_private) in [(&anyone, false), (&follower, true), (&author, true)] {
            assert!(db.is_visible(&public.id, scope).await?);
            assert_eq!(db.is_visible(&private.id, scope).await?, sees_private);
            let listed = db.upcoming_events(0, None, scope, 10).await?;
            assert_eq!(listed.len(), if sees_private { 2 } else { 1 });
        }
        // An update narrows who sees it.
        let narrowed = event("https://remote.example/e/1", json!(["https://x.example/y"]));
        db.put_object(&narrowed).await?;
        assert!(!db.is_visible(&public.id, &anyone).await?);
        db.put_object(&public).await?;

        // A database from before the audience rows: filled from the documents when opened.
        sqlx::query("DROP TABLE ev_audience")
            .execute(&db.pool)
            .await?;
        sqlx::query("DELETE FROM ev_settings WHERE name = $1")
            .bind(AUDIENCE_FILLED)
            .execute(&db.pool)
            .await?;
        db.pool.close().await;
        let db = Db::open(&path).await?;
        assert!(db.is_visible(&public.id, &anyone).await?);
        assert!(!db.is_visible(&private.id, &anyone).await?);
        assert!(db.is_visible(&private.id, &follower).await?);
        Ok(())
    }
}
