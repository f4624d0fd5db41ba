//! Administration: identities, groups, and following other instances. Each works on the
//! database, so it can run beside a serving instance (SQLite in WAL mode, or PostgreSQL).

use anyhow::{Result, anyhow, bail};
use instance_server::admin;
use serde_json::{Value, json};
use url::Url;

use crate::app::{INSTANCE_ACTOR, actor_id};
use crate::db::{Db, Signing};
use crate::{Options, open_instance};

/// What the administration commands need to know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Admin {
    /// A SQLite file path, or a `postgres://` URL.
    pub database: String,
    /// The base URL; `None`: the one the instance recorded when it last served.
    pub base_url: Option<Url>,
    /// **Dangerous**: allow plain http and private addresses (loopback tests).
    pub danger_allow_private_addresses: bool,
}

impl Admin {
    /// Commands on `database`.
    pub fn new(database: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            base_url: None,
            danger_allow_private_addresses: false,
        }
    }

    /// Sets the base URL.
    pub fn with_base_url(mut self, url: Option<Url>) -> Self {
        self.base_url = url;
        self
    }

    /// Sets the dangerous loopback switch.
    pub fn with_danger_allow_private_addresses(mut self, allow: bool) -> Self {
        self.danger_allow_private_addresses = allow;
        self
    }

    async fn open(&self) -> Result<(Db, Url)> {
        let db = Db::open(&self.database, self.base_url.as_ref(), Signing::default()).await?;
        let base = db.base_url().clone();
        Ok((db, base))
    }

    /// Creates an account with one identity (a Person actor): `{"actor": URL, "token": TOKEN}`.
    /// The token is the account's; only its hash is stored.
    pub async fn create_identity(&self, name: &str) -> Result<Value> {
        let (db, _) = self.open().await?;
        let person = admin::create_person(db.state(), name).await?;
        Ok(json!({"actor": person.actor.as_str(), "token": person.token}))
    }

    /// Adds an identity to the account whose token is `account_token`: one account, several
    /// identities (as Mobilizon's profiles), one token acting for each of them.
    pub async fn add_identity(&self, name: &str, account_token: &str) -> Result<Value> {
        let (db, _) = self.open().await?;
        let account = admin::account_of_token(db.state(), account_token)
            .await?
            .ok_or_else(|| anyhow!("no account has this token"))?;
        let actor = admin::add_person(db.state(), &account, name).await?;
        Ok(json!({"actor": actor.as_str(), "token": account_token}))
    }

    /// Sets the role of account `username` (`user`, `moderator`, `admin`): moderators see the
    /// reports, approve sign-ups and block in the browser. `{"account": NAME, "role": ROLE}`.
    pub async fn set_role(&self, username: &str, role: &str) -> Result<Value> {
        let (db, _) = self.open().await?;
        let role = admin::set_role(db.state(), username, role).await?;
        Ok(json!({"account": username, "role": role.as_str()}))
    }

    /// Sets the password of account `username`, so that it signs in in a browser (an account
    /// made by `create_identity` has only its token); its other sessions and tokens stay.
    /// `{"account": NAME}`.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<Value> {
        let (db, _) = self.open().await?;
        admin::set_password(db.state(), username, password).await?;
        Ok(json!({"account": username}))
    }

    /// Creates a group administered by identity `admin`: `{"actor": URL}`.
    pub async fn create_group(&self, name: &str, admin: &str) -> Result<Value> {
        let (db, base) = self.open().await?;
        let admin_row = db
            .actor(admin)
            .await?
            .filter(|a| a.kind == "Person")
            .ok_or_else(|| anyhow!("no identity {admin:?}"))?;
        if name == INSTANCE_ACTOR {
            bail!("{INSTANCE_ACTOR:?} is the instance actor's name");
        }
        let admin_id = actor_id(&base, &admin_row.name);
        let options = Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            self.database.clone(),
        )
        .with_danger_allow_private_addresses(self.danger_allow_private_addresses);
        let instance = open_instance(&options, &base).await?;
        if !instance
            .create_group(name, name, "", admin_id.as_str(), "moderated")
            .await?
        {
            bail!("the name {name:?} is taken");
        }
        Ok(json!({"actor": actor_id(&base, name).as_str()}))
    }

    /// Sets how people join group `group`: `open` (members at once), `moderated` (the default:
    /// its administrators and moderators accept requests) or `invite_only`.
    pub async fn set_group_openness(&self, group: &str, openness: &str) -> Result<Value> {
        let (db, base) = self.open().await?;
        db.actor(group)
            .await?
            .filter(|g| g.kind == "Group")
            .ok_or_else(|| anyhow!("no group {group:?}"))?;
        crate::groups::set_openness(&db, group, openness).await?;
        Ok(json!({"group": actor_id(&base, group).as_str(), "openness": openness}))
    }

    /// Adds identity `member` to group `group` with `role` (`administrator`, `moderator`,
    /// `member`).
    pub async fn add_member(&self, group: &str, member: &str, role: &str) -> Result<Value> {
        let (db, base) = self.open().await?;
        if !matches!(role, "administrator" | "moderator" | "member") {
            bail!("unknown role {role:?}");
        }
        db.actor(group)
            .await?
            .filter(|g| g.kind == "Group")
            .ok_or_else(|| anyhow!("no group {group:?}"))?;
        let member_id = if member.starts_with("http") {
            member.to_owned()
        } else {
            actor_id(&base, member).to_string()
        };
        db.set_member(group, &member_id, role).await?;
        Ok(json!({"group": actor_id(&base, group).as_str(), "member": member_id, "role": role}))
    }

    /// Makes the instance actor follow another instance: `url` is its instance actor, or its
    /// base URL (the instance actor is then found through NodeInfo, FEP-2677). The Follow is
    /// queued; a serving instance delivers it.
    pub async fn follow_instance(&self, url: &Url) -> Result<Value> {
        let (_, base) = self.open().await?;
        let target = admin::instance_actor_of(url, self.danger_allow_private_addresses).await?;
        let options = Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            self.database.clone(),
        )
        .with_danger_allow_private_addresses(self.danger_allow_private_addresses);
        let instance = open_instance(&options, &base).await?;
        let activity = instance
            .client_post(
                INSTANCE_ACTOR,
                json!({"type": "Follow", "object": target.as_str()}),
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
        Ok(json!({"follow": activity.get("id"), "target": target.as_str()}))
    }
}
