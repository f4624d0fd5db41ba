//! The tag relay: one ActivityPub actor per hashtag (`@tag-climate@relay`), which any server
//! or person can follow, fed by the servers that subscribe to the relay.
//!
//! - **Subscribing** is what Mastodon and the pod do with any relay: a server's instance actor
//!   sends a `Follow` of the public collection to the relay's inbox; the relay's instance actor
//!   (an `Application`) accepts it, and the server sends its public posts there. A LitePub
//!   relay's `Follow` of the relay's instance actor subscribes it the same way.
//! - **Tag actors** (`Group`s named `tag-{name}`, `name` a normalized hashtag of ASCII letters,
//!   digits and `_`) are made on the first WebFinger or actor lookup, up to
//!   [`RelayOptions::max_tags`]; following one is accepted at once.
//! - **Relaying**: a subscribed server's public `Create` of a post (a `Note`, `Article` or
//!   `Page`, from the post's own server, or forwarded by a subscriber and believed from its LD
//!   signature or its origin, as `federation::relayed` says) is announced by the actor of each
//!   of its first [`RelayOptions::max_tags_per_post`] hashtags that has followers:
//!   `Announce{actor: tag actor, object: the post's id}`, delivered through the queue to the
//!   tag's followers' (shared) inboxes, once per post and tag. Posts not public are never
//!   relayed; each server's posts are rate-limited ([`RelayOptions::posts_per_minute`]).
//!
//! [`start`] runs one relay (the `serve` command and the tests use it); [`admin`] holds the
//! administration commands. See `docs/tag-relay.md`.

pub mod admin;
mod app;
mod db;
mod forwarded;
mod ingest;
mod tags;
mod web;

use std::sync::Arc;

use anyhow::Result;
use instance_server::{Application, Parts};
use instance_state::InstanceState;
use url::Url;

pub use app::{Relay, Relayed};
pub use instance_server::{INSTANCE_ACTOR, WithParts};
pub use tags::{TAG_PREFIX, actor_name};

/// The relay's own options, beside the server's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayOptions {
    /// The most tag actors the relay makes (a lookup of another one is answered 404).
    /// Default: 10,000.
    pub max_tags: u64,
    /// How many of a post's hashtags are relayed (the first ones, in the post's order); the
    /// others are not. Default: 10.
    pub max_tags_per_post: usize,
    /// How many posts a minute one subscribed server may have relayed (beyond a burst of as
    /// many); the rest are refused until its allowance is back. Default: 60.
    pub posts_per_minute: u32,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            max_tags: 10_000,
            max_tags_per_post: 10,
            posts_per_minute: 60,
        }
    }
}

impl RelayOptions {
    /// Sets the most tag actors.
    pub fn with_max_tags(mut self, max: u64) -> Self {
        self.max_tags = max;
        self
    }

    /// Sets how many hashtags of a post are relayed.
    pub fn with_max_tags_per_post(mut self, max: usize) -> Self {
        self.max_tags_per_post = max;
        self
    }

    /// Sets how many posts a minute a server may have relayed.
    pub fn with_posts_per_minute(mut self, posts: u32) -> Self {
        self.posts_per_minute = posts;
        self
    }
}

/// How to run a relay: `instance-server`'s options with the relay's own.
pub type Options = instance_server::Options<RelayOptions>;

/// A running relay.
pub type Running = instance_server::Running<Relay>;

/// The tag relay, as `instance-server` runs it.
#[derive(Debug, Clone, Copy)]
pub struct TagRelay;

impl Application for TagRelay {
    type Options = RelayOptions;
    type Instance = Relay;

    const SOFTWARE: &'static str = "tag-relay";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    async fn open(options: &Options, base_url: Option<&Url>) -> Result<InstanceState> {
        db::open(options, base_url).await
    }

    async fn build(parts: Parts, options: &Options) -> Result<Relay> {
        Ok(Relay::new(parts, options.app.clone()))
    }

    fn routes(relay: &Relay, parts: &Parts, _options: &Options) -> Result<axum::Router> {
        let federation = parts.federation_router(relay.clone(), ingest::dispatcher());
        let web = parts.web(Arc::new(instance_web::DefaultLayout::new(
            parts.name.clone(),
        )));
        Ok(web::routes(relay.clone(), web, federation))
    }
}

/// Starts a relay.
pub async fn start(options: Options) -> Result<Running> {
    instance_server::start::<TagRelay>(options).await
}
