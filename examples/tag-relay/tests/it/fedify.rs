//! Against [Fedify](https://fedify.dev), an independent implementation (the peer in
//! `scripts/fedify-peer`): it follows `tag-climate` on the relay, gets the tag actor's
//! `Accept`, and receives the `Announce` of a post with `#climate` that pod A, subscribed to
//! the relay, sends there. The peer is installed by the test (`scripts/fedify-peer/install`);
//! when that fails, the test fails with the reason.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use http_signatures::Standard;
use pod::PostAudience;
use serde_json::json;
use tag_relay::WithParts as _;
use test_peer::fedify::{self, FedifyOptions, FedifyPeer, received};

use crate::support::{person, pod, relay, until_following, until_subscribed};

/// How long the whole exchange may take before the peer is stopped.
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn the_fedify_peer_follows_a_tag_and_receives_its_announce() -> Result<()> {
    fedify::install().await?;
    let dir = tempfile::tempdir()?;
    let relay = relay(dir.path()).await;
    let a = pod(dir.path(), "A").await;
    person(&a, "alice").await;
    a.instance.set_tag_relay(&relay.base_url).await?;
    until_subscribed(&a, &relay).await;

    let mut peer = FedifyPeer::spawn(FedifyOptions::new(Standard::Rfc9421)).await?;
    let outcome = tokio::time::timeout(WAIT, async {
        let tag_actor = relay.instance.actor_id("tag-climate").to_string();
        let done = peer
            .command(json!({"cmd": "follow", "target": tag_actor}))
            .await?;
        let follow_id = done["id"].as_str().context("no Follow id")?.to_owned();
        let accept = peer
            .expect("the tag actor's Accept", |e| {
                received(e, "Accept") && e["object_id"] == follow_id.as_str()
            })
            .await?;
        ensure!(accept["actor"] == tag_actor.as_str(), "{accept}");
        until_following(&relay, peer.actor(), &tag_actor).await;

        let post = a
            .instance
            .write_post(
                "alice",
                "Sea ice at a record low #climate",
                &PostAudience::Public,
            )
            .await?;
        let announce = peer
            .expect("the tag actor's Announce of alice's post", |e| {
                received(e, "Announce") && e["object_id"] == post.as_str()
            })
            .await?;
        ensure!(announce["actor"] == tag_actor.as_str(), "{announce}");
        ensure!(
            announce["signature"]["verified"] == true,
            "Fedify did not verify the relay's signature: {announce}"
        );
        Ok(())
    })
    .await
    .context("the exchange timed out");
    println!("{}", peer.transcript());
    peer.quit().await;
    a.stop().await?;
    relay.stop().await?;
    outcome?
}
