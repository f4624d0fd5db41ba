//! Administration commands: those every instance has (accounts, roles, passwords:
//! instance-server's [`Admin`]), a person following someone, the relays and the tag relay, the
//! followers a `Move` from an archive is still to reach.

use anyhow::Result;
use serde_json::{Value, json};
use url::Url;

use crate::{Pod, PodOptions, RelayKind};

/// What the administration commands need to know: the database, the base URL, the loopback
/// switch and the pod's options (where images are kept).
pub type Admin = instance_server::admin::Admin<PodOptions>;

/// Makes local person `name` follow `target` (an actor's address): the `Follow` is delivered
/// when the pod next serves.
pub async fn follow(admin: &Admin, name: &str, target: &Url) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    instance.follow(name, target.as_str()).await?;
    Ok(json!({"follower": instance.actor_id(name).as_str(), "target": target.as_str()}))
}

/// Subscribes the instance actor to a relay (a Mastodon-style relay's inbox, a LitePub relay's
/// actor): the `Follow` is delivered when the pod next serves.
pub async fn relay_add(admin: &Admin, address: &Url, kind: RelayKind) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    Ok(serde_json::to_value(
        instance.add_relay(address, kind).await?,
    )?)
}

/// Unsubscribes from a relay (an `Undo` of the `Follow`, delivered when the pod next serves).
pub async fn relay_remove(admin: &Admin, address: &Url) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    let removed = instance.remove_relay(address).await?;
    Ok(json!({"relay": address.as_str(), "removed": removed}))
}

/// The relays and the state of each subscription.
pub async fn relays(admin: &Admin) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    Ok(serde_json::to_value(instance.relays().await?)?)
}

/// Names the tag relay (its base URL): the pod subscribes to it, and its instance actor
/// follows the actors of the tags followed here (found by WebFinger now; the `Follow`s are
/// delivered when the pod next serves). Given again, it sends a new `Follow` for the
/// subscription and for each tag whose follow is not accepted. With `tags`, the pod sends the
/// relay only its public posts with one of them (an empty list is refused); with `all_tags`,
/// all its public posts again; with neither, what was chosen before stays (all, at first).
pub async fn add_tag_relay(
    admin: &Admin,
    base: &Url,
    tags: Option<&[String]>,
    all_tags: bool,
) -> Result<Value> {
    if tags.is_some() && all_tags {
        anyhow::bail!("--tags and --all-tags contradict each other");
    }
    let instance = admin.instance::<Pod>().await?;
    let mut named = instance.set_tag_relay(base).await?;
    if tags.is_some() || all_tags {
        let subscription = instance.set_tag_relay_tags(tags).await?;
        if let Some(map) = named.as_object_mut() {
            map.insert(
                "subscription".to_owned(),
                serde_json::to_value(subscription)?,
            );
        }
    }
    Ok(named)
}

/// The tag relay, its subscription and the state of the follow of each tag followed here
/// (`null` when no tag relay is named).
pub async fn tag_relays(admin: &Admin) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    Ok(serde_json::to_value(instance.tag_relay_state().await?)?)
}

/// Stops using the tag relay: `Undo` of the follows of its tag actors and of the subscription
/// (delivered when the pod next serves), the relay forgotten; the posts it brought stay.
pub async fn remove_tag_relay(admin: &Admin) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    instance.remove_tag_relay().await
}

/// The followers a `Move` from an archive is still to reach (how many, and the first of them
/// with their attempts and last error), and those given up.
pub async fn pending_moves(admin: &Admin) -> Result<Value> {
    let instance = admin.instance::<Pod>().await?;
    Ok(serde_json::to_value(instance.pending_moves().await?)?)
}
