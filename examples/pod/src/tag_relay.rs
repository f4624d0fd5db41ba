//! A tag relay (`examples/tag-relay`, `docs/tag-relay.md`): one actor per hashtag,
//! `tag-{name}@relay`, announcing the public posts with that hashtag that the relay's
//! subscribed servers send it.
//!
//! The administrator names the relay once (`pod admin add-tag-relay URL`,
//! [`Instance::set_tag_relay`]): the pod subscribes to it as to any Mastodon-style relay (its
//! instance actor's `Follow` of the public collection to the relay's inbox, see `relays.rs`), so
//! that its own public posts reach the relay, and its instance actor follows the actor of every tag
//! someone here follows, found by WebFinger (`acct:tag-{name}@host`, remembered in
//! `pd_handles`). From then on, when a person here follows a tag nobody here followed, the
//! instance actor follows its actor too; when the last one stops, it unfollows. The `Announce`s
//! a followed tag actor sends are taken as relayed posts are (`relays.rs`): the post is fetched
//! from its own server and stored, when public and its author's, as a post that reaches the
//! tag's page and the streams of those who follow the tag, notifying no one.
//!
//! What failed is retried by the administrator, not behind their back: the delivery queue
//! retries a `Follow` it could not deliver (with its backoff, until it gives up), but a follow
//! the relay refused (`Reject`), never answered, or whose delivery the queue gave up on stays as
//! it is. `pod admin tag-relays` ([`Instance::tag_relay_state`]) shows the subscription's and
//! each tag's state, and `add-tag-relay` with the same address again sends a new `Follow` for
//! the subscription and for each tag whose follow is not accepted (and looks up the tags whose
//! actor could not be found). `pod admin remove-tag-relay` ([`Instance::remove_tag_relay`])
//! undoes it all: `Undo` of each tag actor's follow and of the subscription, the relay
//! forgotten; the posts it brought stay.

use activitypub_core::Iri;
use activitypub_core::origin::same_origin;
use anyhow::{Context, Result, anyhow, bail};
use instance_server::INSTANCE_ACTOR;
use instance_state::follows::FollowState;
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{info, warn};
use url::Url;

use crate::app::Instance;
use crate::relays::{Relay, RelayKind};

/// The setting the tag relay's base URL is kept in.
const TAG_RELAY_SETTING: &str = "pod_tag_relay";

/// What every tag actor's name starts with on a tag relay.
const TAG_PREFIX: &str = "tag-";

/// The most follows of the instance actor read per page when looking for the tag actors.
const FOLLOWS_PAGE: u64 = 500;

/// The tag relay and the state of what the pod asked of it, as `pod admin tag-relays` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TagRelayState {
    /// The tag relay's base URL.
    pub tag_relay: String,
    /// The subscription to it (its `state`: `pending` until the relay answers, then
    /// `accepted` or `rejected`); `None` when it was removed from the relays.
    pub subscription: Option<Relay>,
    /// Each tag followed here, in order.
    pub tags: Vec<TagFollow>,
}

/// A tag followed here and the instance actor's follow of its actor on the tag relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TagFollow {
    /// The tag (normalized).
    pub tag: String,
    /// Its actor on the tag relay, once WebFinger found it.
    pub actor: Option<String>,
    /// `accepted`; `pending` (sent and not answered: the relay has not answered, or the
    /// delivery is still being retried or was given up); `rejected`; or `not-followed` (its
    /// actor could not be looked up, or the follow was undone).
    pub state: String,
}

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
    /// `{base}inbox`, as a Mastodon-style relay) unless its subscription is accepted already,
    /// and its instance actor follows the actors of the tags followed here, sending a new
    /// `Follow` for each whose follow is not accepted (so naming the same relay again retries
    /// what was refused, never answered or not delivered). `{"tag_relay", "subscription",
    /// "followed": [tag actors sent a Follow now], "accepted": [tag actors followed already],
    /// "failed": [{"tag", "error"}]}`; what is delivered goes when the pod serves.
    pub async fn set_tag_relay(&self, base: &Url) -> Result<Value> {
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            bail!("a tag relay's address is an http(s) URL: {base}");
        }
        let inbox = base.join("/inbox")?;
        self.state()
            .set_setting(TAG_RELAY_SETTING, base.as_str())
            .await?;
        let subscription = match self.relay_at(&inbox).await? {
            Some(relay) if relay.state == "accepted" => relay,
            _ => self.add_relay(&inbox, RelayKind::Mastodon).await?,
        };
        let mut followed = Vec::new();
        let mut accepted = Vec::new();
        let mut failed = Vec::new();
        for tag in self.db().all_followed_tags().await? {
            match self.follow_tag_actor(base, &tag, true).await {
                Ok((actor, true)) => followed.push(actor),
                Ok((actor, false)) => accepted.push(actor),
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
            "accepted": accepted,
            "failed": failed,
        }))
    }

    /// Limits what the pod sends the tag relay to its public posts with one of `tags`, or
    /// with `None` sends it all its public posts again ([`Instance::set_relay_tags`] on the
    /// subscription): the subscription, updated. An error when no tag relay is named.
    pub async fn set_tag_relay_tags(&self, tags: Option<&[String]>) -> Result<Relay> {
        let base = self
            .tag_relay()
            .await?
            .ok_or_else(|| anyhow!("no tag relay is named (add-tag-relay)"))?;
        self.set_relay_tags(&base.join("/inbox")?, tags)
            .await?
            .ok_or_else(|| anyhow!("the tag relay {base} has no subscription (add-tag-relay)"))
    }

    /// The tag relay, its subscription and the state of the follow of each tag followed here
    /// (read here only: no lookup); `None` when no tag relay is named.
    pub async fn tag_relay_state(&self) -> Result<Option<TagRelayState>> {
        let Some(base) = self.tag_relay().await? else {
            return Ok(None);
        };
        let subscription = self.relay_at(&base.join("/inbox")?).await?;
        let me = self.instance_actor().to_string();
        let mut tags = Vec::new();
        for tag in self.db().all_followed_tags().await? {
            let actor = match tag_handle(&base, &tag) {
                Ok(handle) => self.db().handle(&handle).await?,
                Err(_) => None,
            };
            let state = match &actor {
                Some(actor) => self.state().follow(&me, actor).await?,
                None => None,
            };
            tags.push(TagFollow {
                tag,
                actor,
                state: state
                    .map_or("not-followed", |f| f.state.as_str())
                    .to_owned(),
            });
        }
        Ok(Some(TagRelayState {
            tag_relay: base.to_string(),
            subscription,
            tags,
        }))
    }

    /// Stops using the tag relay: the instance actor sends `Undo` of its follow of every actor
    /// on the relay's server (the tag actors) and of its subscription, and the relay is
    /// forgotten. The posts it brought stay. `{"tag_relay", "unfollowed": [actors],
    /// "unsubscribed"}`, or `{"tag_relay": null}` when none was named.
    pub async fn remove_tag_relay(&self) -> Result<Value> {
        let Some(base) = self.tag_relay().await? else {
            return Ok(json!({"tag_relay": null}));
        };
        let origin = Iri::parse(base.as_str())?;
        let me = self.instance_actor().to_string();
        let mut on_relay = Vec::new();
        for state in [
            FollowState::Accepted,
            FollowState::Pending,
            FollowState::Rejected,
        ] {
            let mut offset = 0;
            loop {
                let page = self
                    .state()
                    .following(&me, state, offset, FOLLOWS_PAGE)
                    .await?;
                offset += page.len() as u64;
                let last = (page.len() as u64) < FOLLOWS_PAGE;
                on_relay.extend(page.into_iter().map(|f| f.followed).filter(|followed| {
                    Iri::parse(followed.as_str()).is_ok_and(|actor| same_origin(&actor, &origin))
                }));
                if last {
                    break;
                }
            }
        }
        let mut unfollowed = Vec::new();
        for actor in on_relay {
            if self
                .state()
                .send_unfollow(self.outbox(), INSTANCE_ACTOR, &actor)
                .await
                .map_err(|e| anyhow!("unfollowing {actor}: {e}"))?
            {
                unfollowed.push(actor);
            }
        }
        let unsubscribed = self.remove_relay(&base.join("/inbox")?).await?;
        // The setting emptied: no tag relay (`tag_relay` reads an empty one as none).
        self.state().set_setting(TAG_RELAY_SETTING, "").await?;
        info!(tag_relay = %base, unfollowed = unfollowed.len(), "tag relay removed");
        Ok(json!({
            "tag_relay": base.as_str(),
            "unfollowed": unfollowed,
            "unsubscribed": unsubscribed,
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
        if let Err(error) = self.follow_tag_actor(&relay, tag, false).await {
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

    /// The instance actor follows `tag`'s actor on the tag relay at `relay`, unless its
    /// follow is accepted already (or, without `resend_pending`, asked and not answered yet):
    /// the actor's id, and whether a `Follow` was sent now.
    async fn follow_tag_actor(
        &self,
        relay: &Url,
        tag: &str,
        resend_pending: bool,
    ) -> Result<(String, bool)> {
        let actor = self.tag_actor_id(relay, tag).await?;
        let me = self.instance_actor().to_string();
        if let Some(follow) = self.state().follow(&me, &actor).await? {
            match follow.state {
                FollowState::Accepted => return Ok((actor, false)),
                FollowState::Pending if !resend_pending => return Ok((actor, false)),
                _ => {}
            }
        }
        self.state()
            .send_follow(self.outbox(), INSTANCE_ACTOR, &actor)
            .await
            .map_err(|e| anyhow!("following {actor}: {e}"))?;
        info!(tag, %actor, "following a tag actor");
        Ok((actor, true))
    }

    /// The id of `tag`'s actor on the tag relay at `relay`: remembered, or found by WebFinger
    /// (`acct:tag-{tag}@{host}`, the tag written in ASCII by
    /// `activitypub_core::hashtag::ascii_name`: `tag-xn--caf-dma` for `#café`) and remembered.
    async fn tag_actor_id(&self, relay: &Url, tag: &str) -> Result<String> {
        let handle = tag_handle(relay, tag)?;
        if let Some(actor) = self.db().handle(&handle).await? {
            return Ok(actor);
        }
        let acct = webfinger::AcctUri::from_handle(&handle)
            .with_context(|| format!("the tag actor's handle {handle}"))?;
        let resolved = self
            .0
            .webfinger
            .resolve(&webfinger::Resource::Acct(acct))
            .await
            .with_context(|| format!("looking up {handle}"))?;
        let actor = resolved.actor_id.to_string();
        self.db().put_handle(&handle, &actor).await?;
        Ok(actor)
    }

    /// The relay subscribed to at `inbox` (a Mastodon-style relay's address), if any.
    async fn relay_at(&self, inbox: &Url) -> Result<Option<Relay>> {
        Ok(self
            .relays()
            .await?
            .into_iter()
            .find(|r| r.address == inbox.as_str()))
    }
}

/// The handle of `tag`'s actor on the tag relay at `relay`: `tag-{ascii}@{host[:port]}`.
fn tag_handle(relay: &Url, tag: &str) -> Result<String> {
    let ascii = activitypub_core::hashtag::ascii_name(tag)
        .ok_or_else(|| anyhow!("{tag} is not a normalized tag"))?;
    let host = relay
        .host_str()
        .ok_or_else(|| anyhow!("the tag relay {relay} has no host"))?;
    Ok(match relay.port() {
        Some(port) => format!("{TAG_PREFIX}{ascii}@{host}:{port}"),
        None => format!("{TAG_PREFIX}{ascii}@{host}"),
    })
}
