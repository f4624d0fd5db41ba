//! The instance's storage: [`InstanceState`] for everything social (actors and their keys,
//! accounts and tokens, follows, stored objects and activities with their addressing and
//! visibility, processed ids, remote actors, settings), and the instance's own tables for what
//! is about events: the event columns pages and calendars select on (`ev_events`), comments by
//! event (`ev_comments`), group members (`ev_group_members`) and participations
//! (`ev_event_participations`). Both in one SQLite file or PostgreSQL database, through sqlx's
//! `Any` driver, with one dialect both understand.
//!
//! The instance's tables are made by versioned migrations (`migrations/`, recorded in
//! `events_instance_migrations`), run after instance-state's. A database of the release before
//! (its `ev_actors`, `ev_objects`... tables) is carried over once when it is opened
//! ([`crate::upgrade`]).
//!
//! Who may see what is instance-state's one judgment: its [`Scope`] (the reader's addresses)
//! against the addressing rows stored with each object and activity.

use anyhow::{Context, Result, anyhow, bail};
use instance_state::actors::{ActorKind, LocalActor};
use instance_state::follows::FollowState;
use instance_state::objects::{Scope, StoredObject};
use instance_state::remote::RemoteActor;
use instance_state::{InstanceState, KeyChoice};
use sqlx::Row;
use url::Url;

/// The instance's migrations, in order: `(version, description, statements)`.
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "events", include_str!("../migrations/0001_events.sql"))];

/// The instance's migrations table (instance-state's is `instance_state_migrations`).
const MIGRATIONS_TABLE: &str = "events_instance_migrations";

/// The base URL an instance-state is opened with only to read its settings, before the real
/// one is known (the administration commands, which take it from the database).
const PROBE_BASE: &str = "http://base-url.invalid/";

/// A local actor.
#[derive(Debug, Clone)]
pub(crate) struct ActorRow {
    pub(crate) name: String,
    /// `Person`, `Group` or `Application`.
    pub(crate) kind: String,
    pub(crate) display_name: String,
    pub(crate) summary: String,
}

impl From<LocalActor> for ActorRow {
    fn from(actor: LocalActor) -> Self {
        Self {
            name: actor.name,
            kind: actor.kind.as_str().to_owned(),
            display_name: actor.display_name,
            summary: actor.summary,
        }
    }
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
    /// As served: no `bto` or `bcc` (instance-state keeps those in the addressing).
    pub(crate) document: serde_json::Value,
    pub(crate) deleted: bool,
    /// Unix seconds.
    pub(crate) published: i64,
    /// Unix seconds: the document's `updated` (else `published`), which decides whether a
    /// copy from another server is newer.
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
    state: InstanceState,
}

fn participation_row(row: &sqlx::any::AnyRow) -> Result<Participation> {
    Ok(Participation {
        event: row.try_get("event")?,
        actor: row.try_get("actor")?,
        join_id: row.try_get("join_id")?,
        state: row.try_get("state")?,
    })
}

/// The Unix seconds of an RFC 3339 timestamp in `document`'s `key`.
fn seconds_in(document: &serde_json::Value, key: &str) -> Option<i64> {
    document
        .get(key)
        .and_then(serde_json::Value::as_str)
        .and_then(crate::app::unix)
}

/// How the signing keys and first signature standard are chosen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signing {
    pub(crate) first_knock: http_signatures::Standard,
    pub(crate) ed25519: bool,
}

impl Default for Signing {
    fn default() -> Self {
        Self {
            first_knock: http_signatures::Standard::Rfc9421,
            ed25519: false,
        }
    }
}

impl Db {
    /// Opens (creating or upgrading if needed) the database at `location`: a `postgres://`
    /// URL, or a SQLite file path. `base_url` `None`: the one the instance recorded when it
    /// last served (an error if it never did).
    pub(crate) async fn open(
        location: &str,
        base_url: Option<&Url>,
        signing: Signing,
    ) -> Result<Db> {
        let probe = open_state(location, Url::parse(PROBE_BASE)?, signing).await?;
        let previous = crate::upgrade::previous_release(&probe).await?;
        let stored = probe.setting("base_url").await?;
        probe.close().await;
        if let Some(previous) = previous {
            // A database of the release before: carried over with the base URL its ids were
            // made on.
            let base = match (previous, base_url) {
                (Some(previous), _) => Url::parse(&previous).context("the stored base URL")?,
                (None, Some(base)) => base.clone(),
                (None, None) => {
                    bail!("the instance has never served: pass --base-url, or run serve once")
                }
            };
            let state = open_state(location, base, signing).await?;
            migrate(&state).await?;
            crate::upgrade::run(&state).await?;
            state.close().await;
        }
        let stored = match stored {
            Some(stored) => Some(stored),
            None => {
                let probe = open_state(location, Url::parse(PROBE_BASE)?, signing).await?;
                let stored = probe.setting("base_url").await?;
                probe.close().await;
                stored
            }
        };
        let base = match (base_url, stored) {
            (Some(base), _) => base.clone(),
            (None, Some(stored)) => Url::parse(&stored).context("the stored base URL")?,
            (None, None) => {
                bail!("the instance has never served: pass --base-url, or run serve once")
            }
        };
        let state = open_state(location, base, signing).await?;
        migrate(&state).await?;
        Ok(Db { state })
    }

    /// The events tables over `state`, opened (and migrated) by [`Db::open`].
    pub(crate) fn from_state(state: InstanceState) -> Db {
        Db { state }
    }

    /// The social state.
    pub(crate) fn state(&self) -> &InstanceState {
        &self.state
    }

    /// The base URL.
    pub(crate) fn base_url(&self) -> &Url {
        &self.state.options().base_url
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.state.pool()
    }

    /// Whether the object or activity `id` is visible in `scope`.
    pub(crate) async fn is_visible(&self, id: &str, scope: &Scope) -> Result<bool> {
        if self.state.visible_object(id, scope).await?.is_some() {
            return Ok(true);
        }
        Ok(self.state.visible_activity(id, scope).await?.is_some())
    }

    /// The `n` of a `SELECT COUNT(*) AS n ...` query with one text parameter (or none).
    async fn count(&self, sql: &'static str, parameter: Option<&str>) -> Result<i64> {
        let mut query = sqlx::query(sql);
        if let Some(parameter) = parameter {
            query = query.bind(parameter.to_owned());
        }
        let row = query.fetch_one(self.pool()).await?;
        Ok(row.try_get("n")?)
    }

    // --- settings

    pub(crate) async fn setting(&self, name: &str) -> Result<Option<String>> {
        Ok(self.state.setting(name).await?)
    }

    pub(crate) async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        Ok(self.state.set_setting(name, value).await?)
    }

    // --- local actors and accounts

    /// The account whose token is `token`, if it is a live one.
    pub(crate) async fn account_of_token(&self, token: &str) -> Result<Option<String>> {
        Ok(self
            .state
            .authenticate(token)
            .await?
            .map(|(_, account)| account.id))
    }

    pub(crate) async fn actor(&self, name: &str) -> Result<Option<ActorRow>> {
        Ok(self
            .state
            .actor(name)
            .await?
            .filter(|actor| !actor.deleted)
            .map(ActorRow::from))
    }

    /// The identities of the account whose token is `token` (an account is the identities
    /// its tokens act for); none for a token that is no live one.
    pub(crate) async fn identities_by_token(&self, token: &str) -> Result<Vec<String>> {
        let Some(account) = self.account_of_token(token).await? else {
            return Ok(Vec::new());
        };
        Ok(self
            .state
            .identities(&account)
            .await?
            .into_iter()
            .map(|actor| actor.name)
            .collect())
    }

    pub(crate) async fn count_actors(&self, kind: &str) -> Result<i64> {
        let kind = ActorKind::parse(kind).ok_or_else(|| anyhow!("no actor kind {kind:?}"))?;
        Ok(i64::try_from(self.state.actor_count(kind).await?)?)
    }

    // --- group members

    pub(crate) async fn set_member(&self, group: &str, actor: &str, role: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO ev_group_members (group_name, actor, role) VALUES ($1, $2, $3)
             ON CONFLICT (group_name, actor) DO UPDATE SET role = excluded.role",
        )
        .bind(group)
        .bind(actor)
        .bind(role)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub(crate) async fn member_role(&self, group: &str, actor: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT role FROM ev_group_members WHERE group_name = $1 AND actor = $2")
                .bind(group)
                .bind(actor)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.try_get("role")).transpose()?)
    }

    pub(crate) async fn remove_member(&self, group: &str, actor: &str) -> Result<()> {
        sqlx::query("DELETE FROM ev_group_members WHERE group_name = $1 AND actor = $2")
            .bind(group)
            .bind(actor)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The members of `group` (administrators, moderators and members), by id.
    pub(crate) async fn members(&self, group: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT actor FROM ev_group_members WHERE group_name = $1
             AND role IN ('administrator', 'moderator', 'member') ORDER BY actor",
        )
        .bind(group)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("actor")?)).collect()
    }

    pub(crate) async fn member_count(&self, group: &str) -> Result<i64> {
        self.count(
            "SELECT COUNT(*) AS n FROM ev_group_members WHERE group_name = $1
             AND role IN ('administrator', 'moderator', 'member')",
            Some(group),
        )
        .await
    }

    // --- followers and following (instance-state's follows, by the local actor's name)

    /// Forgets the participations and memberships of `actor` (it was deleted; instance-state
    /// forgot its follows and its name).
    pub(crate) async fn forget_participant(&self, actor: &str) -> Result<()> {
        for statement in [
            "DELETE FROM ev_event_participations WHERE actor = $1",
            "DELETE FROM ev_group_members WHERE actor = $1",
        ] {
            sqlx::query(statement)
                .bind(actor)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// The accepted followers of local actor `local`, newest first.
    pub(crate) async fn followers(
        &self,
        local: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        self.accepted_follows(local, true, offset, limit).await
    }

    /// The actors local actor `local` follows (accepted), newest first.
    pub(crate) async fn following(
        &self,
        local: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        self.accepted_follows(local, false, offset, limit).await
    }

    /// The other sides of the accepted follows of local actor `local`: its followers, or whom
    /// it follows.
    async fn accepted_follows(
        &self,
        local: &str,
        followers: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let local = self.state.actor_id(local);
        let offset = u64::try_from(offset).unwrap_or(0);
        let limit = u64::try_from(limit).unwrap_or(0);
        let state = FollowState::Accepted;
        Ok(if followers {
            let follows = self.state.followers(local.as_str(), state, offset, limit);
            follows.await?.into_iter().map(|f| f.follower).collect()
        } else {
            let follows = self.state.following(local.as_str(), state, offset, limit);
            follows.await?.into_iter().map(|f| f.followed).collect()
        })
    }

    /// How many accepted followers local actor `local` has.
    pub(crate) async fn follower_count(&self, local: &str) -> Result<i64> {
        let local = self.state.actor_id(local);
        let state = FollowState::Accepted;
        Ok(i64::try_from(
            self.state.follower_count(local.as_str(), state).await?,
        )?)
    }

    /// How many actors local actor `local` follows (accepted).
    pub(crate) async fn following_count(&self, local: &str) -> Result<i64> {
        let local = self.state.actor_id(local);
        let state = FollowState::Accepted;
        Ok(i64::try_from(
            self.state.following_count(local.as_str(), state).await?,
        )?)
    }

    pub(crate) async fn set_following(
        &self,
        local: &str,
        target: &str,
        follow_id: &str,
        state: &str,
    ) -> Result<()> {
        let local = self.state.actor_id(local);
        self.state
            .put_follow(local.as_str(), target, follow_id, follow_state(state)?)
            .await?;
        Ok(())
    }

    pub(crate) async fn following_state(
        &self,
        local: &str,
        target: &str,
    ) -> Result<Option<String>> {
        let local = self.state.actor_id(local);
        Ok(self
            .state
            .follow(local.as_str(), target)
            .await?
            .map(|f| f.state.as_str().to_owned()))
    }

    /// The scope of `actor` (local or remote): instance-state's (itself, the followers
    /// collections of the actors it follows, local and remote) and the collections of the instance's own
    /// it is in: the local groups it is a member of (the group and its members), and the events
    /// it takes part in (their participants; the event or remote group itself).
    pub(crate) async fn scope_of(&self, actor: &str) -> Result<Scope> {
        let mut scope = self.state.scope_of(actor).await?;
        let mut more = Vec::new();
        let rows = sqlx::query(
            "SELECT group_name FROM ev_group_members WHERE actor = $1
             AND role IN ('administrator', 'moderator', 'member')",
        )
        .bind(actor)
        .fetch_all(self.pool())
        .await?;
        for row in rows {
            let name: String = row.try_get("group_name")?;
            let group = self.state.actor_id(&name);
            more.push(format!("{group}/members"));
            more.push(group.to_string());
        }
        let rows = sqlx::query(
            "SELECT event FROM ev_event_participations WHERE actor = $1 AND state = 'accepted'",
        )
        .bind(actor)
        .fetch_all(self.pool())
        .await?;
        for row in rows {
            let event: String = row.try_get("event")?;
            more.push(format!("{event}/participants"));
            more.push(event);
        }
        scope.extend(more);
        Ok(scope)
    }

    /// Whether any local actor follows, is followed by, or has a participation of `actor`, or
    /// it was met.
    pub(crate) async fn knows_actor(&self, actor: &str) -> Result<bool> {
        if self.state.knows_actor(actor).await? {
            return Ok(true);
        }
        let n = self
            .count(
                "SELECT COUNT(*) AS n FROM ev_event_participations WHERE actor = $1",
                Some(actor),
            )
            .await?;
        Ok(n > 0)
    }

    // --- objects

    /// Stores `object`: its document and addressing in instance-state (a tombstone keeps the
    /// addressing of the object it replaces), its event or comment columns here.
    pub(crate) async fn put_object(&self, object: &ObjectRow) -> Result<()> {
        if object.deleted {
            self.state.tombstone(&object.id).await?;
            for statement in [
                "DELETE FROM ev_events WHERE id = $1",
                "DELETE FROM ev_comments WHERE id = $1",
            ] {
                sqlx::query(statement)
                    .bind(&object.id)
                    .execute(self.pool())
                    .await?;
            }
            return Ok(());
        }
        self.state
            .put_object(&object.document, object.local)
            .await?;
        if object.kind == "Event" {
            sqlx::query(
                "INSERT INTO ev_events (id, local, context, start_time) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET context = excluded.context,
                    start_time = excluded.start_time",
            )
            .bind(&object.id)
            .bind(i64::from(object.local))
            .bind(&object.context)
            .bind(object.start_time)
            .execute(self.pool())
            .await?;
        } else if let Some(event) = &object.context {
            sqlx::query(
                "INSERT INTO ev_comments (id, event, published, stored) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET event = excluded.event,
                    published = excluded.published",
            )
            .bind(&object.id)
            .bind(event)
            .bind(object.published)
            .bind(now_micros())
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn object(&self, id: &str) -> Result<Option<ObjectRow>> {
        let Some(stored) = self.state.object(id).await? else {
            return Ok(None);
        };
        let mut rows = self.rows_of(vec![stored]).await?;
        Ok(rows.pop())
    }

    /// The rows of `objects`, with their event or comment columns.
    async fn rows_of(&self, objects: Vec<StoredObject>) -> Result<Vec<ObjectRow>> {
        let mut out = Vec::with_capacity(objects.len());
        for stored in objects {
            let (context, start_time) = if stored.deleted {
                (None, None)
            } else if stored.kind == "Event" {
                let row = sqlx::query("SELECT context, start_time FROM ev_events WHERE id = $1")
                    .bind(&stored.id)
                    .fetch_optional(self.pool())
                    .await?;
                match row {
                    Some(row) => (row.try_get("context")?, row.try_get("start_time")?),
                    None => (None, None),
                }
            } else {
                let row = sqlx::query("SELECT event FROM ev_comments WHERE id = $1")
                    .bind(&stored.id)
                    .fetch_optional(self.pool())
                    .await?;
                (row.map(|r| r.try_get("event")).transpose()?, None)
            };
            out.push(object_row(stored, context, start_time));
        }
        Ok(out)
    }

    /// The objects whose ids a query of the instance's tables selected, in its order.
    async fn selected(&self, query: AnyQuery<'_>) -> Result<Vec<ObjectRow>> {
        let rows = query.fetch_all(self.pool()).await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        let objects = self.state.objects(&ids).await?;
        self.rows_of(objects).await
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
                "SELECT id FROM ev_events WHERE start_time >= $1 AND context = $2 AND {}
                 ORDER BY start_time, id LIMIT $3",
                scope.condition("ev_events.id", 4)
            )))
            .bind(from)
            .bind(group.to_owned())
            .bind(limit),
            None => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM ev_events WHERE start_time >= $1 AND {}
                 ORDER BY start_time, id LIMIT $2",
                scope.condition("ev_events.id", 3)
            )))
            .bind(from)
            .bind(limit),
        };
        self.selected(scope.bind(query)).await
    }

    /// Every event of a group visible in `scope`, past ones too (for its calendar).
    pub(crate) async fn group_events(
        &self,
        group: &str,
        scope: &Scope,
        limit: i64,
    ) -> Result<Vec<ObjectRow>> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM ev_events WHERE context = $1 AND {}
             ORDER BY start_time, id LIMIT $2",
            scope.condition("ev_events.id", 3)
        )))
        .bind(group.to_owned())
        .bind(limit);
        self.selected(scope.bind(query)).await
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
            "SELECT id FROM ev_comments WHERE event = $1 AND {}
             ORDER BY published, stored, id LIMIT $2 OFFSET $3",
            scope.condition("ev_comments.id", 4)
        )))
        .bind(event.to_owned())
        .bind(limit)
        .bind(offset);
        self.selected(scope.bind(query)).await
    }

    /// How many comments on an event are visible in `scope`.
    pub(crate) async fn visible_comment_count(&self, event: &str, scope: &Scope) -> Result<i64> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM ev_comments WHERE event = $1 AND {}",
            scope.condition("ev_comments.id", 2)
        )))
        .bind(event.to_owned());
        let row = scope.bind(query).fetch_one(self.pool()).await?;
        Ok(row.try_get("n")?)
    }

    /// The comments on an event (replies included), oldest first.
    pub(crate) async fn comments(&self, event: &str) -> Result<Vec<ObjectRow>> {
        let query = sqlx::query(
            "SELECT id FROM ev_comments WHERE event = $1 ORDER BY published, stored, id",
        )
        .bind(event.to_owned());
        self.selected(query).await
    }

    /// How many events and comments are stored (not deleted), local and remote.
    pub(crate) async fn object_count(&self) -> Result<i64> {
        self.count(
            "SELECT (SELECT COUNT(*) FROM ev_events) + (SELECT COUNT(*) FROM ev_comments) AS n",
            None,
        )
        .await
    }

    pub(crate) async fn count_local_objects(&self, kind: &str) -> Result<i64> {
        Ok(i64::try_from(self.state.local_object_count(kind).await?)?)
    }

    // --- participations

    pub(crate) async fn participation(
        &self,
        event: &str,
        actor: &str,
    ) -> Result<Option<Participation>> {
        let row = sqlx::query(
            "SELECT event, actor, join_id, state FROM ev_event_participations
             WHERE event = $1 AND actor = $2",
        )
        .bind(event)
        .bind(actor)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(participation_row).transpose()
    }

    pub(crate) async fn participation_by_join(
        &self,
        join_id: &str,
    ) -> Result<Option<Participation>> {
        let row = sqlx::query(
            "SELECT event, actor, join_id, state FROM ev_event_participations WHERE join_id = $1",
        )
        .bind(join_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(participation_row).transpose()
    }

    pub(crate) async fn put_participation(&self, p: &Participation) -> Result<()> {
        let mut connection = self.pool().acquire().await?;
        put_participation(&mut connection, &p.event, p).await
    }

    pub(crate) async fn participants(&self, event: &str, state: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT actor FROM ev_event_participations WHERE event = $1 AND state = $2
             ORDER BY updated, actor",
        )
        .bind(event)
        .bind(state)
        .fetch_all(self.pool())
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
        let mut tx = self.state.begin_write().await?;
        let locked = sqlx::query(
            "UPDATE ev_events SET start_time = start_time WHERE id = $1 AND local = 1
             RETURNING context, start_time",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(locked) = locked else {
            tx.rollback().await?;
            return Ok(None);
        };
        // Read in the lock's transaction: what the transactions before it committed.
        let stored = self.state.object_in(&mut tx, id).await?;
        let Some(stored) = stored.filter(|e| !e.deleted) else {
            tx.rollback().await?;
            return Ok(None);
        };
        let event = object_row(
            stored,
            locked.try_get("context")?,
            locked.try_get("start_time")?,
        );
        Ok(Some(EventLock {
            tx,
            state: self.state.clone(),
            event,
        }))
    }

    // --- activities (outboxes)

    /// Stores an activity of a local actor, and who may see it (its `bto` and `bcc` kept in
    /// its addressing, not in its document).
    pub(crate) async fn put_activity(&self, document: &serde_json::Value) -> Result<()> {
        self.state.put_activity(document, true).await?;
        Ok(())
    }

    pub(crate) async fn activity(&self, id: &str) -> Result<Option<serde_json::Value>> {
        Ok(self.state.activity(id).await?.map(|a| a.document))
    }

    /// The activities of `actor_name` visible in `scope`, newest first.
    pub(crate) async fn outbox(
        &self,
        actor_name: &str,
        scope: &Scope,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>> {
        let actor = self.state.actor_id(actor_name);
        let activities = self
            .state
            .outbox(
                actor.as_str(),
                scope,
                u64::try_from(offset).unwrap_or(0),
                u64::try_from(limit).unwrap_or(0),
            )
            .await?;
        Ok(activities.into_iter().map(|a| a.document).collect())
    }

    /// How many activities of `actor_name` are visible in `scope`.
    pub(crate) async fn outbox_count(&self, actor_name: &str, scope: &Scope) -> Result<i64> {
        let actor = self.state.actor_id(actor_name);
        Ok(i64::try_from(
            self.state.outbox_count(actor.as_str(), scope).await?,
        )?)
    }

    // --- the inbox's record of processed activities

    pub(crate) async fn processed_count(&self) -> Result<i64> {
        Ok(i64::try_from(self.state.processed_count().await?)?)
    }

    // --- remote actors we have met (names for pages)

    pub(crate) async fn put_remote_actor(
        &self,
        id: &str,
        name: &str,
        handle: Option<&str>,
        url: Option<&str>,
        followers: Option<&str>,
    ) -> Result<()> {
        let mut actor = RemoteActor::new(id, name);
        if let Some(handle) = handle {
            actor = actor.with_handle(handle);
        }
        if let Some(url) = url {
            actor = actor.with_url(url);
        }
        if let Some(followers) = followers {
            actor = actor.with_followers(followers);
        }
        self.state.put_remote_actor(&actor).await?;
        Ok(())
    }

    pub(crate) async fn remote_actor_name(
        &self,
        id: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .state
            .remote_actor(id)
            .await?
            .map(|actor| (actor.name, actor.handle)))
    }
}

/// A statement of the `Any` driver, its parameters bound.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// The row of a stored object, with its event or comment columns.
fn object_row(stored: StoredObject, context: Option<String>, start_time: Option<i64>) -> ObjectRow {
    let published = stored.published / 1_000_000;
    let updated = seconds_in(&stored.document, "updated")
        .or_else(|| seconds_in(&stored.document, "published"))
        .unwrap_or(stored.updated / 1_000_000);
    ObjectRow {
        id: stored.id,
        kind: stored.kind,
        local: stored.local,
        attributed_to: stored.attributed_to,
        context,
        in_reply_to: stored.in_reply_to,
        start_time,
        document: stored.document,
        deleted: stored.deleted,
        published,
        updated,
    }
}

fn follow_state(state: &str) -> Result<FollowState> {
    match state {
        "pending" => Ok(FollowState::Pending),
        "accepted" => Ok(FollowState::Accepted),
        "rejected" => Ok(FollowState::Rejected),
        other => Err(anyhow!("no follow state {other:?}")),
    }
}

/// Records a participation in `event`, on `connection` (the pool's, or a lock's transaction).
async fn put_participation(
    connection: &mut sqlx::AnyConnection,
    event: &str,
    p: &Participation,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO ev_event_participations (event, actor, join_id, state, updated)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (event, actor) DO UPDATE SET join_id = excluded.join_id,
            state = excluded.state, updated = excluded.updated",
    )
    .bind(event)
    .bind(&p.actor)
    .bind(&p.join_id)
    .bind(&p.state)
    .bind(now())
    .execute(connection)
    .await?;
    Ok(())
}

/// Opens instance-state on `location` with `base_url` (its migrations run here).
async fn open_state(location: &str, base_url: Url, signing: Signing) -> Result<InstanceState> {
    let options = instance_state::Options::new(base_url)
        .with_first_knock(signing.first_knock)
        .with_signing_key(if signing.ed25519 {
            KeyChoice::Ed25519
        } else {
            KeyChoice::Rsa
        });
    InstanceState::open(location, options)
        .await
        .with_context(|| format!("cannot open the database {location}"))
}

/// Runs the instance's migrations (after instance-state's, which opening it ran).
async fn migrate(state: &InstanceState) -> Result<()> {
    let migrator = instance_state::app_migrator(MIGRATIONS_TABLE, MIGRATIONS);
    migrator
        .run(state.pool())
        .await
        .context("migrating the events tables")
}

/// A local event locked by [`Db::lock_event`]: its participations are read and written in
/// the lock's transaction, and nothing is kept unless [`EventLock::commit`] is called.
#[derive(Debug)]
pub(crate) struct EventLock {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    state: InstanceState,
    /// The event, as stored when it was locked.
    pub(crate) event: ObjectRow,
}

impl EventLock {
    /// `actor`'s participation in the event.
    pub(crate) async fn participation(&mut self, actor: &str) -> Result<Option<Participation>> {
        let row = sqlx::query(
            "SELECT event, actor, join_id, state FROM ev_event_participations
             WHERE event = $1 AND actor = $2",
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
            "SELECT COUNT(*) AS n FROM ev_event_participations
             WHERE event = $1 AND state = 'accepted'",
        )
        .bind(&self.event.id)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    /// Records a participation in the event (`p.event` is the event's id).
    pub(crate) async fn put_participation(&mut self, p: &Participation) -> Result<()> {
        put_participation(&mut self.tx, &self.event.id, p).await
    }

    /// Stores the event's document and start time as [`EventLock::event`] now has them (its
    /// counts, an organizer's changes; its addressing, and so who may see it, is left as it
    /// was).
    pub(crate) async fn put_event(&mut self) -> Result<()> {
        self.state
            .replace_document(&mut self.tx, &self.event.id, &self.event.document)
            .await?;
        sqlx::query("UPDATE ev_events SET start_time = $2 WHERE id = $1")
            .bind(&self.event.id)
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
