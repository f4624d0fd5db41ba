//! Administration commands: accounts, roles, passwords, follows.

use anyhow::{Result, anyhow};
use instance_server::admin;
use instance_state::InstanceState;
use serde_json::{Value, json};
use url::Url;

use crate::{Options, open_instance};

/// What the administration commands need to know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Admin {
    /// A SQLite file path, or a `postgres://` URL.
    pub database: String,
    /// The base URL; `None`: the one the pod recorded when it last served.
    pub base_url: Option<Url>,
    /// Where images are kept (see [`crate::PodOptions::media_dir`]).
    pub media_dir: Option<std::path::PathBuf>,
    /// **Dangerous**: allow plain http and private addresses (loopback tests).
    pub danger_allow_private_addresses: bool,
}

impl Admin {
    /// Commands on `database`.
    pub fn new(database: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            base_url: None,
            media_dir: None,
            danger_allow_private_addresses: false,
        }
    }

    /// Sets the base URL.
    pub fn with_base_url(mut self, url: Option<Url>) -> Self {
        self.base_url = url;
        self
    }

    /// Sets where images are kept.
    pub fn with_media_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.media_dir = dir;
        self
    }

    /// Sets the dangerous loopback switch.
    pub fn with_danger_allow_private_addresses(mut self, allow: bool) -> Self {
        self.danger_allow_private_addresses = allow;
        self
    }

    fn options(&self) -> Options {
        let mut options = Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            self.database.clone(),
        )
        .with_danger_allow_private_addresses(self.danger_allow_private_addresses);
        if let Some(dir) = &self.media_dir {
            options.app = options.app.clone().with_media_dir(dir.clone());
        }
        options
    }

    async fn state(&self) -> Result<InstanceState> {
        crate::db::open(&self.options(), self.base_url.as_ref()).await
    }

    async fn instance(&self) -> Result<crate::Instance> {
        let options = self.options();
        let base = match &self.base_url {
            Some(base) => base.clone(),
            None => instance_server::stored_base_url(&options)
                .await?
                .ok_or_else(|| anyhow!("the pod has never served: pass --base-url"))?,
        };
        open_instance(&options, &base).await
    }

    /// Creates an account with its person: `{"actor": URL, "token": TOKEN}`.
    pub async fn create_account(&self, name: &str) -> Result<Value> {
        let state = self.state().await?;
        let person = admin::create_person(&state, name).await?;
        Ok(json!({"actor": person.actor.as_str(), "token": person.token}))
    }

    /// Sets the role of account `username` (`user`, `moderator`, `admin`).
    pub async fn set_role(&self, username: &str, role: &str) -> Result<Value> {
        let role = admin::set_role(&self.state().await?, username, role).await?;
        Ok(json!({"account": username, "role": role.as_str()}))
    }

    /// Sets the password of account `username`, so that it signs in in a browser.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<Value> {
        admin::set_password(&self.state().await?, username, password).await?;
        Ok(json!({"account": username}))
    }

    /// Makes local person `name` follow `target` (an actor's address): the `Follow` is
    /// delivered when the pod next serves.
    pub async fn follow(&self, name: &str, target: &Url) -> Result<Value> {
        let instance = self.instance().await?;
        instance.follow(name, target.as_str()).await?;
        Ok(json!({"follower": instance.actor_id(name).as_str(), "target": target.as_str()}))
    }
}
