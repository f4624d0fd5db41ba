//! Moves reach the events instance through instance-state's social handlers, which it gets for
//! free: Mastodon's `Move` (`fixtures/mastodon/move.json`, moved to a loopback peer) takes a
//! follower of the old account to the new one, which lists the old one in `alsoKnownAs`.

use std::time::Duration;

use events_instance::Running;
use events_instance::demo::{Client, eventually};
use serde_json::json;
use test_peer::Peer;

use crate::support::instance_with_identity;

const WAIT: Duration = Duration::from_secs(30);

/// Makes `client` follow `actor` of `peer`, which accepts.
async fn follow(at: &Running, client: &Client, peer: &Peer, actor: &str) -> anyhow::Result<()> {
    let follow = client
        .post(json!({"type": "Follow", "object": actor}))
        .await?;
    let accept = json!({
        "id": format!("{actor}/accepts/1"),
        "type": "Accept",
        "actor": actor,
        "object": follow["id"],
    });
    peer.deliver(actor, &format!("{}inbox", at.base_url), &accept)
        .await?;
    eventually(WAIT, "the follow accepted", || async {
        let state = at.instance.following_state("alice", actor).await?;
        Ok((state.as_deref() == Some("accepted")).then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mastodon_move_takes_a_follower_to_the_new_account() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (alpha, alice) = instance_with_identity(dir.path(), "alpha", "alice").await?;
    let inbox = format!("{}inbox", alpha.base_url);
    let peer = Peer::start().await?;
    let old = peer.actor("old").await?;
    let new = peer.actor("new").await?;
    follow(&alpha, &alice, &peer, &old).await?;

    // Mastodon's Move, as its documentation shows it, from old to new.
    let mut moved = peer.fixture_from("mastodon/move.json", "https://mastodon.example")?;
    assert_eq!(moved["type"], "Move");
    moved["id"] = json!(format!("{old}#moves/1"));
    moved["actor"] = json!(old);
    moved["object"] = json!(old);
    moved["target"] = json!(new);
    moved["to"] = json!(format!("{old}/followers"));

    // The new account does not list the old one yet: nothing changes.
    peer.deliver(&old, &inbox, &moved).await?;
    assert_eq!(
        alpha
            .instance
            .following_state("alice", &old)
            .await?
            .as_deref(),
        Some("accepted")
    );
    assert_eq!(alpha.instance.following_state("alice", &new).await?, None);

    // It does: alice follows the new account (a Follow to the peer) and not the old one (an
    // Undo).
    let mut document = peer.document(&new).unwrap();
    document["alsoKnownAs"] = json!([old]);
    peer.serve(&document)?;
    moved["id"] = json!(format!("{old}#moves/2"));
    peer.deliver(&old, &inbox, &moved).await?;
    assert_eq!(
        alpha
            .instance
            .following_state("alice", &new)
            .await?
            .as_deref(),
        Some("pending")
    );
    assert_eq!(alpha.instance.following_state("alice", &old).await?, None);
    peer.wait_for(
        "a Follow of the new account and an Undo of the old",
        |seen| {
            seen.iter()
                .any(|d| d.body["type"] == "Follow" && d.body["object"] == json!(new))
                && seen
                    .iter()
                    .any(|d| d.body["type"] == "Undo" && d.body["object"]["object"] == json!(old))
        },
    )
    .await?;
    Ok(())
}
