//! What every instance's administration commands do on the social state: accounts with a
//! person, roles, passwords, and finding another instance's actor to follow.

use anyhow::{Context, Result, anyhow, bail};
use instance_state::InstanceState;
use instance_state::accounts::{AccountState, Role};
use instance_state::actors::{ActorKind, NewActor};
use url::Url;

use crate::INSTANCE_ACTOR;

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
