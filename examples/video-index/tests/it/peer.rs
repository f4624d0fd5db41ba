//! The index's side of the loopback peer (`test_peer::Peer`): PeerTube-like actors with an
//! avatar, and an index following the peer's instance actor.

use serde_json::{Value, json};
use test_peer::Peer;
use video_index::WithParts as _;

use crate::support::{loopback_index, until_following, within};

/// Publishes a PeerTube-like actor of type `kind` at `path` named `name` (its
/// `preferredUsername` the name in lower case, with an avatar) and gives its id.
pub(crate) async fn actor_at(peer: &Peer, path: &str, kind: &str, name: &str) -> String {
    let id = peer
        .actor_at(path, kind, &name.to_lowercase().replace(' ', "_"))
        .await
        .unwrap();
    let mut document = peer.document(&id).unwrap();
    document["name"] = json!(name);
    document["icon"] = json!({
        "type": "Image",
        "mediaType": "image/png",
        "url": format!("{id}/avatar.png"),
        "width": 120,
    });
    peer.serve(&document).unwrap();
    id
}

/// An index following a peer's instance actor (the follow accepted by the peer); gives the
/// index, the peer and the index's inbox.
pub(crate) async fn followed_peer(
    dir: &std::path::Path,
    change: impl FnOnce(&mut video_index::Options),
) -> (video_index::Running, Peer, String) {
    let http = reqwest::Client::new();
    let peer = Peer::start().await.unwrap();
    let instance = actor_at(&peer, "/accounts/peertube", "Application", "peertube").await;
    let index = loopback_index(dir, |options| {
        options.app.follow = vec![url::Url::parse(&instance).unwrap()];
        change(options);
    })
    .await
    .unwrap();
    let follow = within("the index's Follow reaches the peer", 15, || async {
        peer.received()
            .into_iter()
            .map(|delivery| delivery.body)
            .find(|a| a["type"] == "Follow" && a["object"] == instance.as_str())
    })
    .await;
    let actor: Value = http
        .get(index.instance.instance_actor())
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let inbox = actor["inbox"].as_str().unwrap().to_owned();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{instance}/accepts/follows/1"),
        "type": "Accept",
        "actor": instance,
        "object": follow,
    });
    peer.deliver(&instance, &inbox, &accept).await.unwrap();
    until_following(&http, &index, &instance).await;
    (index, peer, inbox)
}
