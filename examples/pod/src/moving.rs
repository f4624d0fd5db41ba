//! Moving an account elsewhere, as Mastodon does it (FEP-7628), over instance-state's moves:
//! a person lists their other accounts ("also known as"), which lets those accounts move here,
//! and moves this account to another one that lists it. Moves received from elsewhere are
//! instance-state's social handlers' (the people here who followed the old account follow the
//! new one). The administration commands of the same are here too.

use anyhow::{Result, bail};
use serde_json::{Value, json};
use url::Url;

use crate::Pod;
use crate::admin::Admin;
use crate::app::Instance;

/// What the pod refuses about aliases (the moves' own refusals are instance-state's
/// [`MoveError`](instance_state::moves::MoveError)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AliasRefused {
    /// An account is not another account of itself.
    #[error("an account cannot be an alias of itself")]
    Itself,
    /// A person lists a few other accounts, not a directory.
    #[error("an account lists at most {MAX_ALIASES} other accounts")]
    TooMany,
}

/// The most other accounts one person lists.
pub const MAX_ALIASES: usize = 10;

impl Instance {
    /// Lists `alias` (an actor id) among local person `name`'s other accounts (its
    /// `alsoKnownAs`), so that `alias` may move here, and sends the person's document again.
    /// The aliases now.
    pub async fn add_alias(&self, name: &str, alias: &str) -> Result<Vec<String>> {
        let actor = self.state().live_actor(name).await?;
        if alias == self.actor_id(name).as_str() {
            bail!(AliasRefused::Itself);
        }
        let mut aliases = actor.also_known_as;
        if aliases.iter().any(|a| a == alias) {
            return Ok(aliases);
        }
        if aliases.len() >= MAX_ALIASES {
            bail!(AliasRefused::TooMany);
        }
        aliases.push(alias.to_owned());
        self.state().set_also_known_as(name, &aliases).await?;
        self.send_profile(name).await?;
        if let Err(error) = self.remember_actor(alias).await {
            tracing::debug!(%error, %alias, "naming an alias");
        }
        Ok(aliases)
    }

    /// Takes `alias` off local person `name`'s other accounts, and sends its document again.
    /// The aliases now.
    pub async fn remove_alias(&self, name: &str, alias: &str) -> Result<Vec<String>> {
        let actor = self.state().live_actor(name).await?;
        let aliases: Vec<String> = actor
            .also_known_as
            .into_iter()
            .filter(|a| a != alias)
            .collect();
        self.state().set_also_known_as(name, &aliases).await?;
        self.send_profile(name).await?;
        Ok(aliases)
    }

    /// Moves local person `name` to `target` (an actor id): refused unless `target` lists it
    /// among its other accounts, and within 30 days of an earlier move (instance-state's
    /// [`InstanceState::move_to`](instance_state::InstanceState::move_to)). Its followers get a
    /// `Move`, its document says `movedTo` (sent again), its page says where it went. The
    /// `Move`.
    pub async fn move_account(&self, name: &str, target: &str) -> Result<Value> {
        let moved = self
            .state()
            .move_to(self.outbox(), self.keys(), name, target)
            .await?;
        self.send_profile(name).await?;
        if let Err(error) = self.remember_actor(target).await {
            tracing::debug!(%error, %target, "naming the account moved to");
        }
        Ok(moved)
    }
}

/// The actor `text` names for an administration command: an actor's address, or `@name@host`
/// (this pod's own people directly, others through WebFinger).
async fn resolve(instance: &Instance, danger: bool, text: &str) -> Result<String> {
    let text = text.trim();
    if text.starts_with("https://") || text.starts_with("http://") {
        return Ok(Url::parse(text)?.to_string());
    }
    let acct = webfinger::AcctUri::from_handle(text.trim_start_matches('@'))?;
    if acct
        .host()
        .to_string()
        .eq_ignore_ascii_case(&instance.authority())
    {
        instance.state().live_actor(acct.user()).await?;
        return Ok(instance.actor_id(acct.user()).to_string());
    }
    let client = webfinger::client::Client::from_config(
        webfinger::fetch::HttpConfig::default()
            .with_danger_allow_http(danger)
            .with_danger_allow_private_addresses(danger),
    )?;
    let resolved = client
        .resolve(&webfinger::Resource::Acct(acct.clone()))
        .await?;
    Ok(resolved.actor_id.to_string())
}

/// `admin add-alias NAME ACCOUNT`: lists `account` (`@name@host` or an address) among local
/// person `name`'s other accounts. The document `Update` is delivered when the pod next serves.
pub async fn admin_add_alias(admin: &Admin, name: &str, account: &str) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    let alias = resolve(&instance, admin.danger_allow_private_addresses, account).await?;
    let aliases = instance.add_alias(name, &alias).await?;
    Ok(json!({"actor": instance.actor_id(name).as_str(), "alsoKnownAs": aliases}))
}

/// `admin remove-alias NAME ACCOUNT`.
pub async fn admin_remove_alias(admin: &Admin, name: &str, account: &str) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    let alias = resolve(&instance, admin.danger_allow_private_addresses, account).await?;
    let aliases = instance.remove_alias(name, &alias).await?;
    Ok(json!({"actor": instance.actor_id(name).as_str(), "alsoKnownAs": aliases}))
}

/// `admin move NAME ACCOUNT`: moves local person `name` to `account` (which must list it).
/// The `Move` is delivered when the pod next serves.
pub async fn admin_move(admin: &Admin, name: &str, account: &str) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    let target = resolve(&instance, admin.danger_allow_private_addresses, account).await?;
    instance.move_account(name, &target).await
}
