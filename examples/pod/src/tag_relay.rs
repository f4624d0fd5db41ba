//! A tag relay (`examples/tag-relay`, `docs/tag-relay.md`): one actor per hashtag,
//! `tag-{name}@relay`, announcing the public posts with that hashtag that the relay's
//! subscribed servers send it.
//!
//! The administrator names the relay once (`pod admin add-tag-relay URL`,
//! [`Instance::set_tag_relay`]): the pod subscribes to it as to any Mastodon-style relay (its
//! instance actor's `Follow` of the public collection to the relay's inbox, see `relays.rs`), so
//! that its own public posts reach the relay, and its instance actor follows the actor of every tag
//! someone here follows, found by WebFinger (`acct:tag-{name}@host`). From then on, when a
//! person here follows a tag nobody here followed, the instance actor follows its actor too;
//! when the last one stops, it unfollows. The `Announce`s a followed tag actor sends are
//! taken as relayed posts are (`relays.rs`): the post is fetched from its own server and
//! stored, when public and its author's, as a post that reaches the tag's page and the
//! streams of those who follow the tag, notifying no one.

use activitypub_core::Iri;
use anyhow::{Context, Result, anyhow, bail};
use instance_server::INSTANCE_ACTOR;
use instance_state::follows::FollowState;
use serde_json::{Value, json};
use tracing::{info, warn};
use url::Url;

use crate::app::Instance;
use crate::relays::RelayKind;

/// The setting the tag relay's base URL is kept in.
const TAG_RELAY_SETTING: &str = "pod_tag_relay";

/// What every tag actor's name starts with on a tag relay.
const TAG_PREFIX: &str = "tag-";

impl Instance {
    /// The tag relay's base URL, when one is configured.
    pub async fn tag_relay(&self) -> Result<Option<Url>> {
        Ok(self
            .state()
            .setting(TAG_RELAY_SETTING)
            .await?
            .and_then(|url| Url::parse(&url).ok()))
    }

    /// Names the tag relay at `base` (its base URL): the pod subscribes to it (its inbox,
    /// `{base}inbox`, as a Mastodon-style relay) and its instance actor follows the actors of
    /// the tags followed here. `{"tag_relay", "subscription", "followed": [tag actors],
    /// "failed": [{"tag", "error"}]}`; what is delivered goes when the pod serves.
    pub async fn set_tag_relay(&self, base: &Url) -> Result<Value> {
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            bail!("a tag relay's address is an http(s) URL: {base}");
        }
        let inbox = base.join("/inbox")?;
        self.state()
            .set_setting(TAG_RELAY_SETTING, base.as_str())
            .await?;
        let subscription = self.add_relay(&inbox, RelayKind::Mastodon).await?;
        let mut followed = Vec::new();
        let mut failed = Vec::new();
        for tag in self.db().all_followed_tags().await? {
            match self.follow_tag_actor(base, &tag).await {
                Ok(actor) => followed.push(actor),
                Err(error) => {
                    warn!(%tag, %error, "following a tag actor");
                    failed.push(json!({"tag": tag, "error": format!("{error:#}")}));
                }
            }
        }
        Ok(json!({
            "tag_relay": base.as_str(),
            "subscription": subscription,
            "followed": followed,
            "failed": failed,
        }))
    }

    /// Someone here started following `tag`: the instance actor follows its actor on the tag
    /// relay, if there is one (and it does not yet). A failure is logged: the tag is followed
    /// here anyway.
    pub(crate) async fn tag_followed(&self, tag: &str) {
        let relay = match self.tag_relay().await {
            Ok(Some(relay)) => relay,
            Ok(None) => return,
            Err(error) => {
                warn!(%error, "reading the tag relay");
                return;
            }
        };
        if let Err(error) = self.follow_tag_actor(&relay, tag).await {
            warn!(tag, %error, "following a tag actor");
        }
    }

    /// Someone here stopped following `tag`: when nobody here follows it any more, the
    /// instance actor unfollows its actor on the tag relay.
    pub(crate) async fn tag_unfollowed(&self, tag: &str) {
        let result = async {
            let Some(relay) = self.tag_relay().await? else {
                return Ok(());
            };
            if self.db().is_tag_followed(tag).await? {
                return Ok(());
            }
            let actor = self.tag_actor_id(&relay, tag).await?;
            self.state()
                .send_unfollow(self.outbox(), INSTANCE_ACTOR, &actor)
                .await
                .map_err(|e| anyhow!("unfollowing {actor}: {e}"))?;
            info!(tag, %actor, "tag actor unfollowed");
            Ok::<_, anyhow::Error>(())
        }
        .await;
        if let Err(error) = result {
            warn!(tag, %error, "unfollowing a tag actor");
        }
    }

    /// Whether `actor` is followed by the instance actor (accepted): a tag actor (or a LitePub
    /// relay) whose `Announce`s are relayed posts.
    pub(crate) async fn is_followed_by_instance(&self, actor: &Iri) -> Result<bool> {
        let me = self.instance_actor().to_string();
        Ok(self
            .state()
            .follow(&me, actor.as_str())
            .await?
            .is_some_and(|f| f.state == FollowState::Accepted))
    }

    /// The instance actor follows `tag`'s actor on the tag relay at `relay` (unless it does or
    /// asked to already): the actor's id.
    async fn follow_tag_actor(&self, relay: &Url, tag: &str) -> Result<String> {
        let actor = self.tag_actor_id(relay, tag).await?;
        let me = self.instance_actor().to_string();
        if let Some(follow) = self.state().follow(&me, &actor).await?
            && follow.state != FollowState::Rejected
        {
            return Ok(actor);
        }
        self.state()
            .send_follow(self.outbox(), INSTANCE_ACTOR, &actor)
            .await
            .map_err(|e| anyhow!("following {actor}: {e}"))?;
        info!(tag, %actor, "following a tag actor");
        Ok(actor)
    }

    /// The id of `tag`'s actor on the tag relay at `relay`, by WebFinger
    /// (`acct:tag-{tag}@{host}`, the tag written in ASCII by
    /// `activitypub_core::hashtag::ascii_name`: `tag-xn--caf-dma` for `#café`).
    async fn tag_actor_id(&self, relay: &Url, tag: &str) -> Result<String> {
        let ascii = activitypub_core::hashtag::ascii_name(tag)
            .ok_or_else(|| anyhow!("{tag} is not a normalized tag"))?;
        let host = relay
            .host_str()
            .ok_or_else(|| anyhow!("the tag relay {relay} has no host"))?;
        let authority = match relay.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let handle = format!("{TAG_PREFIX}{ascii}@{authority}");
        let acct = webfinger::AcctUri::from_handle(&handle)
            .with_context(|| format!("the tag actor's handle {handle}"))?;
        let resolved = self
            .0
            .webfinger
            .resolve(&webfinger::Resource::Acct(acct))
            .await
            .with_context(|| format!("looking up {handle}"))?;
        Ok(resolved.actor_id.to_string())
    }
}
