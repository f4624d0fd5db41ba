//! Carrying a database of the release before over, once, when it is opened.
//!
//! That release kept everything in its own `ev_*` tables, made at each start with
//! `CREATE TABLE IF NOT EXISTS`. Now the social state is instance-state's and the events
//! tables are the instance's versioned migrations; this moves the old rows into both:
//!
//! | before | now |
//! |---|---|
//! | `ev_actors` | instance-state's actors, with the same keys; the identities sharing a token are one account (named after its first identity, without a password), and the token is kept (`import_token`: the old hash, base64 SHA-256, re-encoded in hex), so it keeps working |
//! | `ev_followers`, `ev_following` | follows (`accepted` for followers; the state it had for following) |
//! | `ev_objects`, `ev_audience` | objects, their addressing read from each document (a deleted one's from its audience rows, then made a `Tombstone` again); the event columns in `ev_events`, the comments' event in `ev_comments` |
//! | `ev_activities` | the local actors' outboxes, their addressing from each document |
//! | `ev_processed`, `ev_remote_actors`, `ev_settings` | instance-state's |
//! | `ev_members`, `ev_participations` | `ev_group_members`, `ev_event_participations` |
//!
//! The old tables are only read until everything is copied; then one transaction fills the
//! events tables and drops the old ones. A failure before that commit leaves the old data as
//! it was, and the next start does it again (every copy is idempotent: what is there already
//! is kept).

use anyhow::{Context, Result, anyhow};
use base64::Engine as _;
use instance_state::InstanceState;
use instance_state::accounts::{AccountState, Role};
use instance_state::actors::{ActorKind, NewActor};
use instance_state::follows::FollowState;
use instance_state::remote::RemoteActor;
use serde_json::{Value, json};
use sqlx::Row as _;
use tracing::info;

/// The label of the tokens carried over.
const TOKEN_LABEL: &str = "carried over from the previous release";

/// When the database is one of the release before (it has `ev_actors`): the base URL it
/// recorded, if it ever served.
pub(crate) async fn previous_release(state: &InstanceState) -> Result<Option<Option<String>>> {
    let sql = if state.is_sqlite() {
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'ev_actors'"
    } else {
        "SELECT COUNT(*) AS n FROM information_schema.tables
         WHERE table_name = 'ev_actors' AND table_schema = current_schema()"
    };
    let row = sqlx::query(sql).fetch_one(state.pool()).await?;
    if row.try_get::<i64, _>("n")? == 0 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT value FROM ev_settings WHERE name = 'base_url'")
        .fetch_optional(state.pool())
        .await?;
    Ok(Some(row.map(|r| r.try_get("value")).transpose()?))
}

/// Moves the previous release's rows (see the module's documentation). `state` is open with
/// the base URL the old ids were made on, and the instance's migrations have run.
pub(crate) async fn run(state: &InstanceState) -> Result<()> {
    let pool = state.pool();
    info!("carrying the database of the previous release over");
    for row in sqlx::query("SELECT name, value FROM ev_settings")
        .fetch_all(pool)
        .await?
    {
        let name: String = row.try_get("name")?;
        // The previous release's own record of a schema change of its own.
        if name != "schema_audience_filled" {
            state
                .set_setting(&name, &row.try_get::<String, _>("value")?)
                .await?;
        }
    }
    actors(state).await?;
    // Followers (accepted) and following (in the state they had): both in instance-state's
    // follows, by actor id.
    for (sql, local_follows) in [
        (
            "SELECT local_name, follower AS other, follow_id, 'accepted' AS state FROM ev_followers",
            false,
        ),
        (
            "SELECT local_name, target AS other, follow_id, state FROM ev_following",
            true,
        ),
    ] {
        for row in sqlx::query(sql).fetch_all(pool).await? {
            let local = state
                .actor_id(&row.try_get::<String, _>("local_name")?)
                .to_string();
            let other: String = row.try_get("other")?;
            let (follower, followed) = if local_follows {
                (&local, &other)
            } else {
                (&other, &local)
            };
            let follow_state = match row.try_get::<String, _>("state")?.as_str() {
                "accepted" => FollowState::Accepted,
                "rejected" => FollowState::Rejected,
                _ => FollowState::Pending,
            };
            let follow_id: String = row.try_get("follow_id")?;
            state
                .put_follow(follower, followed, &follow_id, follow_state)
                .await?;
        }
    }
    objects(state).await?;
    for row in sqlx::query("SELECT document FROM ev_activities ORDER BY published, id")
        .fetch_all(pool)
        .await?
    {
        state
            .put_activity(&document(&row.try_get::<String, _>("document")?)?, true)
            .await?;
    }
    for row in sqlx::query("SELECT id FROM ev_processed")
        .fetch_all(pool)
        .await?
    {
        state
            .record_processed(&row.try_get::<String, _>("id")?)
            .await?;
    }
    for row in sqlx::query("SELECT id, name, handle, url FROM ev_remote_actors")
        .fetch_all(pool)
        .await?
    {
        let mut actor = RemoteActor::new(
            row.try_get::<String, _>("id")?,
            row.try_get::<String, _>("name")?,
        );
        if let Some(handle) = row.try_get::<Option<String>, _>("handle")? {
            actor = actor.with_handle(handle);
        }
        if let Some(url) = row.try_get::<Option<String>, _>("url")? {
            actor = actor.with_url(url);
        }
        state.put_remote_actor(&actor).await?;
    }
    finish(state).await?;
    info!("the database of the previous release is carried over");
    Ok(())
}

/// Actors, with their keys; an account per token.
async fn actors(state: &InstanceState) -> Result<()> {
    let rows = sqlx::query(
        "SELECT name, kind, display_name, summary, rsa_key, ed25519_key, token_hash
         FROM ev_actors ORDER BY created, name",
    )
    .fetch_all(state.pool())
    .await?;
    // The account of each token hash: the identities sharing a token are one account.
    let mut accounts: Vec<(String, String)> = Vec::new();
    for row in rows {
        let name: String = row.try_get("name")?;
        let kind: String = row.try_get("kind")?;
        let token_hash: Option<String> = row.try_get("token_hash")?;
        let account = match token_hash {
            Some(hash) => Some(account_of_token(state, &mut accounts, &name, &hash).await?),
            None => None,
        };
        if state.actor(&name).await?.is_some() {
            continue;
        }
        let kind = ActorKind::parse(&kind).ok_or_else(|| anyhow!("an actor of kind {kind:?}"))?;
        let mut new = NewActor::new(&name, kind, row.try_get::<String, _>("display_name")?)
            .with_summary(row.try_get::<String, _>("summary")?)
            .with_keys(
                row.try_get::<String, _>("rsa_key")?,
                row.try_get::<String, _>("ed25519_key")?,
            );
        if let Some(account) = account {
            new = new.with_account(account);
        }
        state
            .create_actor(new)
            .await
            .with_context(|| format!("carrying actor {name:?} over"))?;
    }
    Ok(())
}

/// The account of the old token whose hash is `old_hash`, made (named after `first`, the
/// first identity met with it) and its token kept when it is met first.
async fn account_of_token(
    state: &InstanceState,
    accounts: &mut Vec<(String, String)>,
    first: &str,
    old_hash: &str,
) -> Result<String> {
    if let Some((_, account)) = accounts.iter().find(|(hash, _)| hash == old_hash) {
        return Ok(account.clone());
    }
    let account = match state.account_by_username(first).await? {
        Some(account) => account,
        None => {
            state
                .create_account(first, None, None, Role::User, AccountState::Active)
                .await?
        }
    };
    let hex = token_hash_hex(old_hash)?;
    let kept = state
        .credentials(&account.id)
        .await?
        .iter()
        .any(|c| c.hash == hex);
    if !kept {
        state.import_token(&account.id, TOKEN_LABEL, &hex).await?;
    }
    accounts.push((old_hash.to_owned(), account.id.clone()));
    Ok(account.id)
}

/// The previous release's token hash (SHA-256, base64 without padding) in hex, as
/// instance-state keeps it.
fn token_hash_hex(old: &str) -> Result<String> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(old)
        .context("a stored token hash is not base64")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Objects, with their addressing; deleted ones made tombstones again.
async fn objects(state: &InstanceState) -> Result<()> {
    let rows = sqlx::query(
        "SELECT id, kind, local, document, deleted FROM ev_objects ORDER BY stored, id",
    )
    .fetch_all(state.pool())
    .await?;
    for row in rows {
        let id: String = row.try_get("id")?;
        let local = row.try_get::<i64, _>("local")? != 0;
        if row.try_get::<i64, _>("deleted")? == 0 {
            let document = document(&row.try_get::<String, _>("document")?)?;
            state.put_object(&document, local).await?;
            continue;
        }
        if state.object(&id).await?.is_some_and(|o| o.deleted) {
            continue;
        }
        // A tombstone's document names nobody: whoever could see the object may learn it is
        // gone, as its audience rows say.
        let audience = sqlx::query("SELECT address FROM ev_audience WHERE object = $1")
            .bind(&id)
            .fetch_all(state.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("address"))
            .collect::<Result<Vec<_>, _>>()?;
        let kind: String = row.try_get("kind")?;
        state
            .put_object(&json!({"id": id, "type": kind, "to": audience}), local)
            .await?;
        state.tombstone(&id).await?;
    }
    Ok(())
}

fn document(text: &str) -> Result<Value> {
    serde_json::from_str(text).context("a stored document is not JSON")
}

/// In one transaction: the events tables filled from the old ones, and the old ones dropped.
async fn finish(state: &InstanceState) -> Result<()> {
    let mut tx = state.begin_write().await?;
    for statement in [
        "INSERT INTO ev_events (id, local, context, start_time)
         SELECT id, local, context, start_time FROM ev_objects
         WHERE kind = 'Event' AND deleted = 0
         ON CONFLICT (id) DO NOTHING",
        "INSERT INTO ev_comments (id, event, published, stored)
         SELECT id, context, published, stored FROM ev_objects
         WHERE kind <> 'Event' AND deleted = 0 AND context IS NOT NULL
         ON CONFLICT (id) DO NOTHING",
        "INSERT INTO ev_group_members (group_name, actor, role)
         SELECT group_name, actor, role FROM ev_members WHERE 1 = 1
         ON CONFLICT (group_name, actor) DO NOTHING",
        "INSERT INTO ev_event_participations (event, actor, join_id, state, updated)
         SELECT event, actor, join_id, state, updated FROM ev_participations WHERE 1 = 1
         ON CONFLICT (event, actor) DO NOTHING",
        "DROP TABLE ev_audience",
        "DROP TABLE ev_activities",
        "DROP TABLE ev_objects",
        "DROP TABLE ev_participations",
        "DROP TABLE ev_members",
        "DROP TABLE ev_followers",
        "DROP TABLE ev_following",
        "DROP TABLE ev_processed",
        "DROP TABLE ev_remote_actors",
        "DROP TABLE ev_settings",
        "DROP TABLE ev_actors",
    ] {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("carrying the events over: {statement}"))?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn old_token_hashes_become_hex() {
        // SHA-256 of "abc".
        let digest = ring::digest::digest(&ring::digest::SHA256, b"abc");
        let old = base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest.as_ref());
        assert_eq!(
            token_hash_hex(&old).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            token_hash_hex(&old).unwrap(),
            instance_state::accounts::hash_secret("abc")
        );
    }
}
