//! Local actors: their keys, their profile, their documents.

use http_signatures::SigningKey;
use serde_json::{Value, json};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::InstanceState;
use crate::error::{Columns, Error, db, is_unique_violation};

/// The longest actor name or username.
const MAX_NAME: usize = 64;

/// The kind of a local actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActorKind {
    /// A person.
    Person,
    /// A group (a Mobilizon group, a PeerTube channel...).
    Group,
    /// An application (the instance actor).
    Application,
    /// A service (a bot).
    Service,
}

impl ActorKind {
    /// The ActivityStreams type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "Person",
            Self::Group => "Group",
            Self::Application => "Application",
            Self::Service => "Service",
        }
    }

    /// The kind named `text` (an ActivityStreams actor type).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Person" => Some(Self::Person),
            "Group" => Some(Self::Group),
            "Application" => Some(Self::Application),
            "Service" => Some(Self::Service),
            _ => None,
        }
    }
}

/// A local actor. Its private keys are not in it: see [`InstanceState::signing_keys`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocalActor {
    /// Its name (`preferredUsername`, the `{name}` of `/actors/{name}`).
    pub name: String,
    /// Its kind.
    pub kind: ActorKind,
    /// The account it belongs to (`None`: the instance's own, or a group's).
    pub account: Option<String>,
    /// Its display name (`name`).
    pub display_name: String,
    /// Its description (`summary`, HTML the app made safe).
    pub summary: String,
    /// Its avatar's URL.
    pub icon: Option<String>,
    /// Its banner's URL.
    pub image: Option<String>,
    /// Whether follows wait for its approval.
    pub manually_approves_followers: bool,
    /// Whether it may be listed in directories.
    pub discoverable: bool,
    /// Whether it was deleted (served as a `Tombstone`; its name stays taken).
    pub deleted: bool,
    /// When it was created (Unix microseconds).
    pub created: i64,
    /// When its profile last changed.
    pub updated: i64,
    /// Its other accounts (`alsoKnownAs`, actor ids): the accounts that may move here
    /// ([`InstanceState::set_also_known_as`]).
    pub also_known_as: Vec<String>,
    /// The account it moved to (`movedTo`, [`InstanceState::move_to`]).
    pub moved_to: Option<String>,
    /// When it moved (Unix microseconds).
    pub moved_at: Option<i64>,
}

/// A local actor to create.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewActor {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: ActorKind,
    /// Its display name.
    pub display_name: String,
    /// Its description.
    pub summary: String,
    /// The account it belongs to.
    pub account: Option<String>,
    /// Whether follows wait for approval.
    pub manually_approves_followers: bool,
    /// Whether it may be listed in directories. Default `true`.
    pub discoverable: bool,
    /// Keys to keep (PKCS#8 PEM, RSA then Ed25519) instead of new ones: an actor carried over
    /// from an older database keeps its keys.
    pub keys: Option<(String, String)>,
}

impl NewActor {
    /// An actor `name` of `kind`, displayed as `display_name`.
    pub fn new(name: impl Into<String>, kind: ActorKind, display_name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            display_name: display_name.into(),
            summary: String::new(),
            account: None,
            manually_approves_followers: false,
            discoverable: true,
            keys: None,
        }
    }

    /// Sets the description.
    pub fn with_summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    /// Makes it an identity of `account`.
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Sets whether follows wait for approval.
    pub fn with_manually_approves_followers(mut self, manual: bool) -> Self {
        self.manually_approves_followers = manual;
        self
    }

    /// Sets whether it may be listed.
    pub fn with_discoverable(mut self, discoverable: bool) -> Self {
        self.discoverable = discoverable;
        self
    }

    /// Keeps these keys (PKCS#8 PEM) instead of generating new ones.
    pub fn with_keys(mut self, rsa_pem: impl Into<String>, ed25519_pem: impl Into<String>) -> Self {
        self.keys = Some((rsa_pem.into(), ed25519_pem.into()));
        self
    }
}

/// A change of profile: each `Some` field is set.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProfileUpdate {
    /// The display name.
    pub display_name: Option<String>,
    /// The description.
    pub summary: Option<String>,
    /// The avatar (`Some(None)` removes it).
    pub icon: Option<Option<String>>,
    /// The banner (`Some(None)` removes it).
    pub image: Option<Option<String>>,
    /// Whether follows wait for approval.
    pub manually_approves_followers: Option<bool>,
    /// Whether it may be listed.
    pub discoverable: Option<bool>,
}

impl ProfileUpdate {
    /// No change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Sets the description.
    pub fn with_summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// Sets whether follows wait for approval.
    pub fn with_manually_approves_followers(mut self, manual: bool) -> Self {
        self.manually_approves_followers = Some(manual);
        self
    }
}

/// The two key pairs of a local actor.
#[derive(Debug)]
#[non_exhaustive]
pub struct ActorKeys {
    /// RSA-2048 (`#main-key`).
    pub rsa: SigningKey,
    /// Ed25519 (`#ed25519-key`).
    pub ed25519: SigningKey,
}

/// Whether `name` may name an actor or an account: 1 to 64 ASCII letters, digits, `_`, `-`
/// and `.` (the characters WebFinger's `acct:` and every server's URLs take without escaping).
/// [`InstanceState::create_actor`] and [`InstanceState::create_account`] refuse any other;
/// forms check with this first, to say so beside the field.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

/// Checks an actor name or username.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidName {
            name: name.to_owned(),
        })
    }
}

const ACTOR_COLUMNS: &str = "name, kind, account, display_name, summary, icon, image, \
     manually_approves_followers, discoverable, deleted, created, updated, also_known_as, \
     moved_to, moved_at";

pub(crate) fn actor_row(row: &AnyRow) -> Result<LocalActor, Error> {
    let c = Columns::new(row, "reading an actor");
    let kind: String = c.get("kind")?;
    let aliases: String = c.get("also_known_as")?;
    let also_known_as = serde_json::from_str(&aliases).map_err(|e| Error::Corrupt {
        what: "alsoKnownAs",
        detail: e.to_string(),
    })?;
    Ok(LocalActor {
        name: c.get("name")?,
        kind: ActorKind::parse(&kind).ok_or_else(|| Error::Corrupt {
            what: "actor kind",
            detail: format!("unknown kind {kind:?}"),
        })?,
        account: c.get("account")?,
        display_name: c.get("display_name")?,
        summary: c.get("summary")?,
        icon: c.get("icon")?,
        image: c.get("image")?,
        manually_approves_followers: c.flag("manually_approves_followers")?,
        discoverable: c.flag("discoverable")?,
        deleted: c.flag("deleted")?,
        created: c.get("created")?,
        updated: c.get("updated")?,
        also_known_as,
        moved_to: c.get("moved_to")?,
        moved_at: c.get("moved_at")?,
    })
}

impl InstanceState {
    /// Creates a local actor with fresh RSA-2048 and Ed25519 key pairs (or the keys of
    /// [`NewActor::with_keys`]). [`Error::NameTaken`] if the name is taken, by a deleted actor
    /// too.
    pub async fn create_actor(&self, new: NewActor) -> Result<LocalActor, Error> {
        check_name(&new.name)?;
        if let Some(account) = &new.account
            && self.account(account).await?.is_none()
        {
            return Err(Error::NoSuchAccount {
                id: account.clone(),
            });
        }
        let (rsa_pem, ed_pem) = match new.keys.clone() {
            Some((rsa, ed)) => {
                // Kept keys must be readable now, not at the first delivery.
                SigningKey::from_pem(&rsa)?;
                SigningKey::from_pem(&ed)?;
                (rsa, ed)
            }
            None => {
                let rsa = tokio::task::spawn_blocking(|| SigningKey::generate_rsa(2048)).await??;
                let ed = SigningKey::generate_ed25519()?;
                (rsa.to_pkcs8_pem()?, ed.to_pkcs8_pem()?)
            }
        };
        let now = self.now();
        let result = sqlx::query(
            "INSERT INTO st_actors (name, kind, account, display_name, summary, icon, image,
                manually_approves_followers, discoverable, rsa_key, ed25519_key, deleted, created, updated)
             VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7, $8, $9, 0, $10, $10)",
        )
        .bind(&new.name)
        .bind(new.kind.as_str())
        .bind(&new.account)
        .bind(&new.display_name)
        .bind(&new.summary)
        .bind(i64::from(new.manually_approves_followers))
        .bind(i64::from(new.discoverable))
        .bind(rsa_pem)
        .bind(ed_pem)
        .bind(now)
        .execute(self.pool())
        .await;
        match result {
            Ok(_) => Ok(LocalActor {
                name: new.name,
                kind: new.kind,
                account: new.account,
                display_name: new.display_name,
                summary: new.summary,
                icon: None,
                image: None,
                manually_approves_followers: new.manually_approves_followers,
                discoverable: new.discoverable,
                deleted: false,
                created: now,
                updated: now,
                also_known_as: Vec::new(),
                moved_to: None,
                moved_at: None,
            }),
            Err(e) if is_unique_violation(&e) => Err(Error::NameTaken { name: new.name }),
            Err(e) => Err(db("creating an actor")(e)),
        }
    }

    /// The local actor `name`, deleted or not.
    pub async fn actor(&self, name: &str) -> Result<Option<LocalActor>, Error> {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACTOR_COLUMNS} FROM st_actors WHERE name = $1"
        )))
        .bind(name);
        self.fetch_row(query, "reading an actor", actor_row).await
    }

    /// The local actor `name` if it exists and is not deleted, else [`Error::NoSuchActor`].
    pub async fn live_actor(&self, name: &str) -> Result<LocalActor, Error> {
        match self.actor(name).await? {
            Some(actor) if !actor.deleted => Ok(actor),
            _ => Err(Error::NoSuchActor {
                name: name.to_owned(),
            }),
        }
    }

    /// The identities of `account` (not deleted), by name.
    pub async fn identities(&self, account: &str) -> Result<Vec<LocalActor>, Error> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACTOR_COLUMNS} FROM st_actors WHERE account = $1 AND deleted = 0 ORDER BY name"
        )))
        .bind(account)
        .fetch_all(self.pool())
        .await
        .map_err(db("listing identities"))?;
        rows.iter().map(actor_row).collect()
    }

    /// How many local actors of `kind` exist (not deleted): NodeInfo's user counts.
    pub async fn actor_count(&self, kind: ActorKind) -> Result<u64, Error> {
        let query =
            sqlx::query("SELECT COUNT(*) AS n FROM st_actors WHERE kind = $1 AND deleted = 0")
                .bind(kind.as_str());
        self.count(query, "counting actors").await
    }

    /// Changes `name`'s profile; the updated actor.
    pub async fn update_profile(
        &self,
        name: &str,
        update: ProfileUpdate,
    ) -> Result<LocalActor, Error> {
        let mut actor = self.live_actor(name).await?;
        if let Some(v) = update.display_name {
            actor.display_name = v;
        }
        if let Some(v) = update.summary {
            actor.summary = v;
        }
        if let Some(v) = update.icon {
            actor.icon = v;
        }
        if let Some(v) = update.image {
            actor.image = v;
        }
        if let Some(v) = update.manually_approves_followers {
            actor.manually_approves_followers = v;
        }
        if let Some(v) = update.discoverable {
            actor.discoverable = v;
        }
        actor.updated = self.now();
        sqlx::query(
            "UPDATE st_actors SET display_name = $2, summary = $3, icon = $4, image = $5,
                manually_approves_followers = $6, discoverable = $7, updated = $8
             WHERE name = $1",
        )
        .bind(name)
        .bind(&actor.display_name)
        .bind(&actor.summary)
        .bind(&actor.icon)
        .bind(&actor.image)
        .bind(i64::from(actor.manually_approves_followers))
        .bind(i64::from(actor.discoverable))
        .bind(actor.updated)
        .execute(self.pool())
        .await
        .map_err(db("updating a profile"))?;
        Ok(actor)
    }

    /// Deletes the local actor `name`: it is served as a `Tombstone` from now on, its follows
    /// both ways are dropped, and its name is never given again. Its keys are kept, so that the
    /// `Delete` announcing it can still be signed. `false` if it was deleted already.
    pub async fn delete_actor(&self, name: &str) -> Result<bool, Error> {
        self.live_actor(name).await?;
        let id = self.actor_id(name).to_string();
        let mut tx = self.begin_write().await.map_err(db("deleting an actor"))?;
        let done = sqlx::query(
            "UPDATE st_actors SET deleted = 1, updated = $2 WHERE name = $1 AND deleted = 0",
        )
        .bind(name)
        .bind(self.now())
        .execute(&mut *tx)
        .await
        .map_err(db("deleting an actor"))?;
        sqlx::query("DELETE FROM st_follows WHERE follower = $1 OR followed = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db("deleting an actor's follows"))?;
        tx.commit().await.map_err(db("deleting an actor"))?;
        Ok(done.rows_affected() > 0)
    }

    /// The key pairs of local actor `name` (deleted or not).
    pub async fn signing_keys(&self, name: &str) -> Result<Option<ActorKeys>, Error> {
        let row = sqlx::query("SELECT rsa_key, ed25519_key FROM st_actors WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .map_err(db("reading keys"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let rsa: String = row.try_get("rsa_key").map_err(db("reading keys"))?;
        let ed: String = row.try_get("ed25519_key").map_err(db("reading keys"))?;
        Ok(Some(ActorKeys {
            rsa: SigningKey::from_pem(&rsa)?,
            ed25519: SigningKey::from_pem(&ed)?,
        }))
    }

    /// The ActivityPub document of local actor `actor`: its profile, its collections, the
    /// shared inbox, its RSA key as `publicKey` (`#main-key`) and its Ed25519 key as a
    /// Multikey `assertionMethod` (`#ed25519-key`, FEP-521a). A deleted actor's is a
    /// `Tombstone`. Apps add their own members (a group's `members`) to the returned object.
    pub async fn actor_document(&self, actor: &LocalActor) -> Result<Value, Error> {
        let id = self.actor_id(&actor.name);
        if actor.deleted {
            return Ok(json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": id.as_str(),
                "type": "Tombstone",
                "formerType": actor.kind.as_str(),
                "deleted": crate::objects::rfc3339(actor.updated),
            }));
        }
        let keys = self
            .signing_keys(&actor.name)
            .await?
            .ok_or_else(|| Error::NoSuchActor {
                name: actor.name.clone(),
            })?;
        let rsa = keys.rsa.verifying_key().to_spki_pem()?;
        let ed = keys.ed25519.verifying_key().to_multikey()?;
        let mut shared = self.options().base_url.clone();
        shared.set_path("inbox");
        let mut document = json!({
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1",
                "https://w3id.org/security/data-integrity/v1",
                {
                    "toot": "http://joinmastodon.org/ns#",
                    "discoverable": "toot:discoverable",
                    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
                    "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
                    "movedTo": {"@id": "as:movedTo", "@type": "@id"}
                }
            ],
            "id": id.as_str(),
            "type": actor.kind.as_str(),
            "preferredUsername": actor.name,
            "name": actor.display_name,
            "summary": actor.summary,
            "url": id.as_str(),
            "inbox": format!("{id}/inbox"),
            "outbox": format!("{id}/outbox"),
            "followers": format!("{id}/followers"),
            "following": format!("{id}/following"),
            "endpoints": {"sharedInbox": shared.as_str()},
            "manuallyApprovesFollowers": actor.manually_approves_followers,
            "discoverable": actor.discoverable,
            "published": crate::objects::rfc3339(actor.created),
            "publicKey": {
                "id": format!("{id}#main-key"),
                "owner": id.as_str(),
                "publicKeyPem": rsa,
            },
            "assertionMethod": [{
                "id": format!("{id}#ed25519-key"),
                "type": "Multikey",
                "controller": id.as_str(),
                "publicKeyMultibase": ed,
            }],
        });
        if let Some(map) = document.as_object_mut() {
            if let Some(icon) = &actor.icon {
                map.insert("icon".into(), json!({"type": "Image", "url": icon}));
            }
            if let Some(image) = &actor.image {
                map.insert("image".into(), json!({"type": "Image", "url": image}));
            }
            if !actor.also_known_as.is_empty() {
                map.insert("alsoKnownAs".into(), json!(actor.also_known_as));
            }
            if let Some(moved_to) = &actor.moved_to {
                map.insert("movedTo".into(), json!(moved_to));
            }
        }
        Ok(document)
    }
}
