//! The administration commands: following an instance, and rebuilding the search index
//! (both on the database, beside or without a serving process).

use anyhow::{Context, Result};
use instance_server::WithParts as _;
use serde_json::{Value, json};
use url::Url;

use crate::{IndexOptions, Options, open_index};

/// The administration commands on an index's database.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Admin {
    database: String,
    base_url: Option<Url>,
    danger_allow_private_addresses: bool,
}

impl Admin {
    /// Commands on `database` (a SQLite file or a `postgres://` URL).
    pub fn new(database: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            base_url: None,
            danger_allow_private_addresses: false,
        }
    }

    /// Sets the base URL (when the index never served from this database).
    pub fn with_base_url(mut self, base_url: Option<Url>) -> Self {
        self.base_url = base_url;
        self
    }

    /// Sets the dangerous loopback switch (tests).
    pub fn with_danger_allow_private_addresses(mut self, allow: bool) -> Self {
        self.danger_allow_private_addresses = allow;
        self
    }

    fn options(&self) -> Options {
        // The commands do not serve, so they never open the search index.
        Options::with_app(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            self.database.clone(),
            IndexOptions::default(),
        )
        .with_danger_allow_private_addresses(self.danger_allow_private_addresses)
    }

    async fn base_url(&self, options: &Options) -> Result<Url> {
        match &self.base_url {
            Some(url) => Ok(url.clone()),
            None => instance_server::stored_base_url(options)
                .await?
                .context("the index has never served: pass --base-url"),
        }
    }

    /// Makes the index's instance actor follow another instance (its base URL or instance
    /// actor): `{"target": URL}`.
    pub async fn follow_instance(&self, url: &Url) -> Result<Value> {
        let options = self.options();
        let base = self.base_url(&options).await?;
        let index = open_index(&options, &base).await?;
        index.follow_url(url).await?;
        Ok(json!({"target": url.as_str()}))
    }

    /// What the index holds: `{"stored_videos": N, "following": N, "followers": N}` (the
    /// videos received, listed or not; the accepted follows both ways).
    pub async fn stats(&self) -> Result<Value> {
        let options = self.options();
        let base = self.base_url(&options).await?;
        let index = open_index(&options, &base).await?;
        let me = index.instance_actor().to_string();
        let accepted = instance_state::follows::FollowState::Accepted;
        Ok(json!({
            "stored_videos": index.stored_video_count().await?,
            "following": index.state().following_count(&me, accepted).await?,
            "followers": index.state().follower_count(&me, accepted).await?,
        }))
    }
}
