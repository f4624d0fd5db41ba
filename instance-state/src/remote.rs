//! Remote actors met: their names and handles, for pages; and the inbox's processed ids.

use sqlx::any::AnyRow;
use tracing::debug;
use url::Url;

use crate::InstanceState;
use crate::error::{Columns, Error, db};

/// A remote actor's public key as kept here: its id and its PEM (SPKI).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteKeyRecord {
    /// The key id (`publicKey.id`).
    pub key_id: String,
    /// The key, in PEM (`publicKey.publicKeyPem`).
    pub pem: String,
}

impl RemoteKeyRecord {
    /// The key `key_id`, in PEM.
    pub fn new(key_id: impl Into<String>, pem: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            pem: pem.into(),
        }
    }

    /// The first RSA key of `actor` (as the key cache read it from its document), which is
    /// the one Linked Data signatures (`RsaSignature2017`) are made with.
    pub fn of(actor: &federation::keys::RemoteActor) -> Option<Self> {
        actor
            .keys
            .iter()
            .find(|key| matches!(key.key.kind(), http_signatures::KeyKind::Rsa { .. }))
            .and_then(|key| {
                let pem = key.key.to_spki_pem().ok()?;
                Some(Self::new(key.key_id.as_str(), pem))
            })
    }

    /// The key, to verify with.
    pub fn verifying_key(&self) -> Result<http_signatures::VerifyingKey, Error> {
        http_signatures::VerifyingKey::from_pem(&self.pem).map_err(|e| Error::Corrupt {
            what: "a remote actor's public key",
            detail: e.to_string(),
        })
    }
}

/// A remote actor, as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteActor {
    /// Its id.
    pub id: String,
    /// Its type (`Person`, `Group`...).
    pub kind: Option<String>,
    /// Its display name (its `preferredUsername`, or its id, when it has none).
    pub name: String,
    /// Its handle, `@user@host` (with the port when not the default).
    pub handle: Option<String>,
    /// Its profile page.
    pub url: Option<String>,
    /// Its inbox.
    pub inbox: Option<String>,
    /// Its followers collection (its document's `followers`): what it addresses to its
    /// followers is shown to the readers here who follow it ([`Scope`](crate::objects::Scope)).
    /// Kept when the record is updated without one; one on another origin than the actor's is
    /// not recorded (an actor naming another server's collection, or the public one, as its
    /// followers would show what was addressed there to whoever follows it).
    pub followers: Option<String>,
    /// The account it moved to, once a `Move` of it was accepted here (kept when the record
    /// is updated; [`InstanceState::moved_to`]).
    pub moved_to: Option<String>,
    /// Its RSA public key, as last seen ([`RemoteKeyRecord`]): kept when the record is updated
    /// without one, so that what it signed can be checked once its server is gone.
    pub key: Option<RemoteKeyRecord>,
    /// When this was recorded (Unix microseconds).
    pub updated: i64,
}

impl RemoteActor {
    /// A remote actor `id` named `name`.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: None,
            name: name.into(),
            handle: None,
            url: None,
            inbox: None,
            followers: None,
            moved_to: None,
            key: None,
            updated: 0,
        }
    }

    /// Sets the public key.
    pub fn with_key(mut self, key: RemoteKeyRecord) -> Self {
        self.key = Some(key);
        self
    }

    /// Sets the type.
    pub fn with_kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Sets the handle.
    pub fn with_handle(mut self, handle: impl Into<String>) -> Self {
        self.handle = Some(handle.into());
        self
    }

    /// Sets the profile page.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Sets the inbox.
    pub fn with_inbox(mut self, inbox: impl Into<String>) -> Self {
        self.inbox = Some(inbox.into());
        self
    }

    /// Sets the followers collection.
    pub fn with_followers(mut self, followers: impl Into<String>) -> Self {
        self.followers = Some(followers.into());
        self
    }

    /// The followers collection to record: [`RemoteActor::followers`] when it is on the
    /// actor's origin (scheme, host and port) and not the public collection.
    fn followers_on_origin(&self) -> Option<String> {
        let followers = self.followers.as_deref()?;
        let origin = |id: &str| Url::parse(id).ok().map(|url| url.origin());
        let same = matches!(
            (origin(followers), origin(&self.id)),
            (Some(a), Some(b)) if a.is_tuple() && a == b
        );
        (same && followers != crate::objects::PUBLIC).then(|| followers.to_owned())
    }
}

fn remote_row(row: &AnyRow) -> Result<RemoteActor, Error> {
    let c = Columns::new(row, "reading a remote actor");
    Ok(RemoteActor {
        id: c.get("id")?,
        kind: c.get("kind")?,
        name: c.get("name")?,
        handle: c.get("handle")?,
        url: c.get("url")?,
        inbox: c.get("inbox")?,
        followers: c.get("followers")?,
        moved_to: c.get("moved_to")?,
        key: match (c.get("key_id")?, c.get("public_key")?) {
            (Some(key_id), Some(pem)) => Some(RemoteKeyRecord { key_id, pem }),
            _ => None,
        },
        updated: c.get("updated")?,
    })
}

const REMOTE_COLUMNS: &str =
    "id, kind, name, handle, url, inbox, followers, moved_to, key_id, public_key, updated";

impl InstanceState {
    /// Records (or updates) a remote actor. Its key and its followers collection are
    /// replaced when `actor` has them, and kept otherwise; a followers collection on another
    /// origin is left out ([`RemoteActor::followers`]).
    pub async fn put_remote_actor(&self, actor: &RemoteActor) -> Result<(), Error> {
        let followers = actor.followers_on_origin();
        if followers.is_none() && actor.followers.is_some() {
            debug!(actor = %actor.id, followers = ?actor.followers,
                "a followers collection on another origin is not recorded");
        }
        sqlx::query(
            "INSERT INTO st_remote_actors
                (id, kind, name, handle, url, inbox, followers, key_id, public_key, updated)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                handle = excluded.handle, url = excluded.url, inbox = excluded.inbox,
                followers = COALESCE(excluded.followers, st_remote_actors.followers),
                key_id = COALESCE(excluded.key_id, st_remote_actors.key_id),
                public_key = COALESCE(excluded.public_key, st_remote_actors.public_key),
                updated = excluded.updated",
        )
        .bind(&actor.id)
        .bind(&actor.kind)
        .bind(&actor.name)
        .bind(&actor.handle)
        .bind(&actor.url)
        .bind(&actor.inbox)
        .bind(followers)
        .bind(actor.key.as_ref().map(|k| k.key_id.clone()))
        .bind(actor.key.as_ref().map(|k| k.pem.clone()))
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(db("recording a remote actor"))?;
        Ok(())
    }

    /// The remote actor `id`, if met.
    pub async fn remote_actor(&self, id: &str) -> Result<Option<RemoteActor>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REMOTE_COLUMNS} FROM st_remote_actors WHERE id = $1"
        )))
        .bind(id);
        self.fetch_row(query, "reading a remote actor", remote_row)
            .await
    }

    /// The remote actor whose handle is `handle` (`@user@host`), if met.
    pub async fn remote_actor_by_handle(&self, handle: &str) -> Result<Option<RemoteActor>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REMOTE_COLUMNS} FROM st_remote_actors WHERE handle = $1
             ORDER BY updated DESC LIMIT 1"
        )))
        .bind(handle);
        self.fetch_row(query, "reading a remote actor", remote_row)
            .await
    }

    /// Forgets remote actor `id` (it was deleted): its follows both ways, its record. The app
    /// forgets what it keeps of it in its own tables.
    pub async fn forget_remote_actor(&self, id: &str) -> Result<(), Error> {
        let mut tx = self
            .begin_write()
            .await
            .map_err(db("forgetting an actor"))?;
        for statement in [
            "DELETE FROM st_follows WHERE follower = $1 OR followed = $1",
            "DELETE FROM st_remote_actors WHERE id = $1",
        ] {
            sqlx::query(statement)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db("forgetting an actor"))?;
        }
        tx.commit().await.map_err(db("forgetting an actor"))?;
        Ok(())
    }

    /// Whether this server knows `actor`: follows it, is followed by it, or met it.
    pub async fn knows_actor(&self, actor: &str) -> Result<bool, Error> {
        let query = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM st_follows WHERE follower = $1 OR followed = $1)
             + (SELECT COUNT(*) FROM st_remote_actors WHERE id = $1) AS n",
        )
        .bind(actor);
        Ok(self.count(query, "looking an actor up").await? > 0)
    }

    /// Records that the inbox processed `id`: `true` the first time (atomic: of two concurrent
    /// calls with one id, one gets `true`). Durable when it returns.
    ///
    /// Records that arrive while another is being written go in one transaction (group
    /// commit), on connections of their own beside the pool (`federation::record`): a lone
    /// record is written at once; one that arrives during a write waits for that transaction,
    /// then goes in the next.
    pub async fn record_processed(&self, id: &str) -> Result<bool, Error> {
        Ok(self.inner.record.record(id, self.now()).await?)
    }

    /// Forgets that `id` was processed (its handling failed; the retry is processed).
    pub async fn forget_processed(&self, id: &str) -> Result<(), Error> {
        Ok(self.inner.record.forget(id).await?)
    }

    /// How many activity ids are recorded as processed.
    pub async fn processed_count(&self) -> Result<u64, Error> {
        let query = sqlx::query("SELECT COUNT(*) AS n FROM st_processed");
        self.count(query, "counting processed activities").await
    }

    /// Forgets the processed ids recorded before `before` (Unix microseconds): housekeeping,
    /// once senders stopped retrying them (Mastodon retries for about a week).
    pub async fn purge_processed(&self, before: i64) -> Result<u64, Error> {
        let done = sqlx::query("DELETE FROM st_processed WHERE at < $1")
            .bind(before)
            .execute(self.pool())
            .await
            .map_err(db("purging processed activities"))?;
        Ok(done.rows_affected())
    }
}
