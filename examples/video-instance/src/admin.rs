//! Administration commands: accounts, channels, roles, passwords, instance follows, mirrors.

use anyhow::{Result, anyhow, bail};
use instance_server::admin;
use instance_state::InstanceState;
use serde_json::{Value, json};
use url::Url;

use crate::{Options, open_instance};
use instance_server::WithParts as _;

/// What the administration commands need to know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Admin {
    /// A SQLite file path, or a `postgres://` URL.
    pub database: String,
    /// The base URL; `None`: the one the instance recorded when it last served.
    pub base_url: Option<Url>,
    /// Where files are kept (see [`crate::VideoOptions::media_dir`]).
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

    /// Sets where files are kept.
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
            options.app = options.app.with_media_dir(dir.clone());
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
                .ok_or_else(|| anyhow!("the instance has never served: pass --base-url"))?,
        };
        open_instance(&options, &base).await
    }

    /// Creates an account with its person and its default channel (`{name}_channel`, as
    /// PeerTube makes one): `{"actor": URL, "channel": URL, "token": TOKEN}`.
    pub async fn create_account(&self, name: &str) -> Result<Value> {
        let instance = self.instance().await?;
        let person = admin::create_person(instance.state(), name).await?;
        let channel = format!("{name}_channel");
        if !instance
            .create_channel(name, &channel, &format!("Main {name} channel"), "")
            .await?
        {
            bail!("the name {channel:?} is taken");
        }
        Ok(json!({
            "actor": person.actor.as_str(),
            "channel": instance.state().actor_id(&channel).as_str(),
            "token": person.token,
        }))
    }

    /// Creates channel `name` owned by person `owner`: `{"actor": URL}`.
    pub async fn create_channel(&self, name: &str, owner: &str) -> Result<Value> {
        let instance = self.instance().await?;
        admin::check_new_name(instance.state(), name).await?;
        if !instance.create_channel(owner, name, name, "").await? {
            bail!("the name {name:?} is taken");
        }
        Ok(json!({"actor": instance.state().actor_id(name).as_str()}))
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

    /// Makes the instance actor follow another instance (its base URL or instance actor):
    /// that instance's videos then come here.
    pub async fn follow_instance(&self, url: &Url) -> Result<Value> {
        let target = admin::instance_actor_of(url, self.danger_allow_private_addresses).await?;
        let instance = self.instance().await?;
        instance.follow_instance(&target).await?;
        Ok(json!({"target": target.as_str()}))
    }

    /// Mirrors every video of a followed instance (its base URL or instance actor), now and
    /// as they come: `{"instance": URL, "queued": N}` (a serving process copies them).
    pub async fn mirror_instance(&self, url: &Url) -> Result<Value> {
        let target = admin::instance_actor_of(url, self.danger_allow_private_addresses).await?;
        let queued = self.instance().await?.mirror_instance(&target).await?;
        Ok(json!({"instance": target.as_str(), "queued": queued}))
    }

    /// Processes a local video (its id or uuid) again after its processing failed:
    /// `{"video": ID, "state": "waiting"}` (a serving process takes it).
    pub async fn reprocess(&self, video: &str) -> Result<Value> {
        let id = self.instance().await?.reprocess(video).await?;
        Ok(json!({"video": id, "state": "waiting"}))
    }

    /// Mirrors one remote video (its id or uuid): `{"video": ID}`.
    pub async fn mirror_video(&self, video: &str) -> Result<Value> {
        let id = self.instance().await?.mirror_video(video).await?;
        Ok(json!({"video": id}))
    }

    /// Stops mirroring a video (its id or uuid): its files go, its origin gets `Undo`:
    /// `{"video": VIDEO, "stopped": BOOL}`.
    pub async fn stop_mirror(&self, video: &str) -> Result<Value> {
        let stopped = self.instance().await?.stop_mirror(video).await?;
        Ok(json!({"video": video, "stopped": stopped}))
    }

    /// Stops mirroring an instance (its base URL or instance actor) and its videos:
    /// `{"instance": URL, "stopped": N}`.
    pub async fn stop_mirror_instance(&self, url: &Url) -> Result<Value> {
        let target = admin::instance_actor_of(url, self.danger_allow_private_addresses).await?;
        let stopped = self.instance().await?.stop_mirror_instance(&target).await?;
        Ok(json!({"instance": target.as_str(), "stopped": stopped}))
    }

    /// The mirrors made here: `{"mirrors": [{video, state, error, cache_file, expires, size}]}`.
    pub async fn mirrors(&self) -> Result<Value> {
        let mirrors = self.instance().await?.mirrors().await?;
        Ok(json!({"mirrors": mirrors}))
    }
}
