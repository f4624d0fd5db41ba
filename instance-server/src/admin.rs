//! What every instance's administration commands do on the social state: accounts with a
//! person, roles, passwords, and finding another instance's actor to follow.

use anyhow::{Context, Result, anyhow, bail};
use instance_state::InstanceState;
use instance_state::accounts::{AccountState, Role};
use instance_state::actors::{ActorKind, NewActor};
use url::Url;

use crate::{Application, INSTANCE_ACTOR, Options};

/// Where an instance's administration commands work: its database, the base URL (or the one
/// stored when it last served), the loopback switch and the instance's own options (where its
/// files are, say). The commands every instance has (accounts, roles, passwords) are here; an
/// instance adds its own with [`Admin::state`] and [`Admin::instance`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Admin<X> {
    /// A SQLite file path, or a `postgres://` URL.
    pub database: String,
    /// The base URL; `None`: the one the instance recorded when it last served.
    pub base_url: Option<Url>,
    /// **Dangerous**: allow plain http and private addresses (loopback tests).
    pub danger_allow_private_addresses: bool,
    /// The instance's own options.
    pub app: X,
}

impl<X: Default> Admin<X> {
    /// Commands on `database`, with the instance's default options.
    pub fn new(database: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            base_url: None,
            danger_allow_private_addresses: false,
            app: X::default(),
        }
    }
}

impl<X: Clone + std::fmt::Debug + Send + Sync + 'static> Admin<X> {
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

    /// Sets the instance's own options.
    pub fn with_app(mut self, app: X) -> Self {
        self.app = app;
        self
    }

    /// The server options the commands open the database with.
    pub fn options(&self) -> Options<X> {
        Options::with_app(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            self.database.clone(),
            self.app.clone(),
        )
        .with_danger_allow_private_addresses(self.danger_allow_private_addresses)
    }

    /// The instance's database, opened as `A` opens it (with its migrations).
    pub async fn state<A: Application<Options = X>>(&self) -> Result<InstanceState> {
        A::open(&self.options(), self.base_url.as_ref()).await
    }

    /// The instance, opened without serving: what it publishes is delivered when it next
    /// serves.
    pub async fn instance<A: Application<Options = X>>(&self) -> Result<A::Instance> {
        let options = self.options();
        let base = match &self.base_url {
            Some(base) => base.clone(),
            None => crate::stored_base_url(&options)
                .await?
                .ok_or_else(|| anyhow!("the instance has never served: pass --base-url"))?,
        };
        crate::open::<A>(&options, &base).await
    }

    /// Creates an account with its person (see [`create_person`]): `{"actor": URL, "token":
    /// TOKEN}`.
    pub async fn create_account<A: Application<Options = X>>(
        &self,
        name: &str,
    ) -> Result<serde_json::Value> {
        let person = create_person(&self.state::<A>().await?, name).await?;
        Ok(serde_json::json!({"actor": person.actor.as_str(), "token": person.token}))
    }

    /// Sets the role of account `username` (`user`, `moderator`, `admin`).
    pub async fn set_role<A: Application<Options = X>>(
        &self,
        username: &str,
        role: &str,
    ) -> Result<serde_json::Value> {
        let role = set_role(&self.state::<A>().await?, username, role).await?;
        Ok(serde_json::json!({"account": username, "role": role.as_str()}))
    }

    /// Sets the password of account `username`, so that it signs in in a browser.
    pub async fn set_password<A: Application<Options = X>>(
        &self,
        username: &str,
        password: &str,
    ) -> Result<serde_json::Value> {
        set_password(&self.state::<A>().await?, username, password).await?;
        Ok(serde_json::json!({"account": username}))
    }
}

/// A new account and its first identity.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewPerson {
    /// The account's id.
    pub account: String,
    /// The Person actor's id.
    pub actor: Url,
    /// An API token of the account (only its hash is stored).
    pub token: String,
}

/// Refuses the instance actor's name, and a name taken.
pub async fn check_new_name(state: &InstanceState, name: &str) -> Result<()> {
    if name == INSTANCE_ACTOR {
        bail!("{INSTANCE_ACTOR:?} is the instance actor's name");
    }
    if state.actor(name).await?.is_some() {
        bail!("the name {name:?} is taken");
    }
    Ok(())
}

/// Creates an account named `name`, active, with an API token and one identity, a Person
/// actor of the same name.
pub async fn create_person(state: &InstanceState, name: &str) -> Result<NewPerson> {
    check_new_name(state, name).await?;
    let account = state
        .create_account(name, None, None, Role::User, AccountState::Active)
        .await
        .with_context(|| format!("creating the account {name:?}"))?;
    let (secret, _) = state.new_token(&account.id, "admin", None).await?;
    add_person(state, &account.id, name).await?;
    Ok(NewPerson {
        account: account.id,
        actor: state.actor_id(name),
        token: secret.expose().to_owned(),
    })
}

/// Adds a Person actor `name` to account `account`.
pub async fn add_person(state: &InstanceState, account: &str, name: &str) -> Result<Url> {
    check_new_name(state, name).await?;
    match state
        .create_actor(NewActor::new(name, ActorKind::Person, name).with_account(account))
        .await
    {
        Ok(_) => Ok(state.actor_id(name)),
        Err(instance_state::Error::NameTaken { .. }) => bail!("the name {name:?} is taken"),
        Err(e) => Err(e).with_context(|| format!("creating the identity {name:?}")),
    }
}

/// The account whose API token is `token`, if it is a live one.
pub async fn account_of_token(state: &InstanceState, token: &str) -> Result<Option<String>> {
    Ok(state
        .authenticate(token)
        .await?
        .map(|(_, account)| account.id))
}

/// Sets the role of account `username`: `user`, `moderator` or `admin`.
pub async fn set_role(state: &InstanceState, username: &str, role: &str) -> Result<Role> {
    let role = match role {
        "user" => Role::User,
        "moderator" => Role::Moderator,
        "admin" => Role::Admin,
        other => bail!("unknown role {other:?} (user, moderator or admin)"),
    };
    let account = state
        .account_by_username(username)
        .await?
        .ok_or_else(|| anyhow!("no account {username:?}"))?;
    state.set_role(&account.id, role).await?;
    Ok(role)
}

/// Sets the password (at least 10 characters) of account `username`, so that it signs in in
/// a browser; its other sessions and tokens stay.
pub async fn set_password(state: &InstanceState, username: &str, password: &str) -> Result<()> {
    if password.chars().count() < 10 {
        bail!("a password has at least 10 characters");
    }
    let account = state
        .account_by_username(username)
        .await?
        .ok_or_else(|| anyhow!("no account {username:?}"))?;
    state.set_password(&account.id, Some(password)).await?;
    Ok(())
}

/// The actor to follow for `url`: itself when it has a path, else the instance actor its
/// NodeInfo names (FEP-2677).
pub async fn instance_actor_of(url: &Url, danger_allow_private_addresses: bool) -> Result<Url> {
    if url.path() != "/" {
        return Ok(url.clone());
    }
    let config = webfinger::fetch::HttpConfig::default()
        .with_danger_allow_http(danger_allow_private_addresses)
        .with_danger_allow_private_addresses(danger_allow_private_addresses);
    let fetcher = webfinger::fetch::Fetcher::new(config)?;
    let discovery = url.join("/.well-known/nodeinfo")?;
    let fetched = fetcher
        .get(&discovery, "application/json")
        .await
        .with_context(|| format!("reading {discovery}"))?;
    let document = nodeinfo::DiscoveryDocument::from_slice(&fetched.body)
        .with_context(|| format!("reading {discovery}"))?;
    document
        .instance_actor()
        .ok_or_else(|| anyhow!("{url} names no instance actor in its NodeInfo (FEP-2677)"))
}
