//! Real payloads from other servers, delivered signed by a peer on loopback (`test_peer`):
//! Mastodon following a channel and replying under a video, PeerTube announcing a remote live
//! whose state then changes.

use serde_json::{Value, json};
use test_peer::{Delivery, Peer};

use crate::support::{admin_of, api_upload, eventually, html, loopback_instance, sample, url};
use video_instance::WithParts as _;

/// The first delivery of type `kind` whose `object` (an id, or an object with one) is `object`.
fn find<'a>(received: &'a [Delivery], kind: &str, object: &str) -> Option<&'a Delivery> {
    received.iter().find(|d| {
        d.body["type"] == kind && (d.body["object"] == object || d.body["object"]["id"] == object)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mastodon_account_follows_a_channel_gets_its_videos_and_replies() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let a = loopback_instance(dir.path(), "a").await?;
    let bob = admin_of(&a, dir.path(), "a").create_account("bob").await?;
    let token = bob["token"].as_str().unwrap_or_default().to_owned();
    let channel = a
        .instance
        .base_url()
        .join("actors/bob_channel")?
        .to_string();
    let inbox = a.instance.base_url().join("inbox")?.to_string();

    // Mastodon's Follow, from an account of the peer, of the channel.
    let peer = Peer::start().await?;
    let alice = peer.actor("alice").await?;
    let mut follow = peer.fixture_from("mastodon/follow.json", "https://masto.asonix.dog")?;
    follow["actor"] = json!(alice);
    follow["object"] = json!(channel);
    let follow_id = follow["id"].as_str().unwrap_or_default().to_owned();
    peer.deliver(&alice, &inbox, &follow).await?;
    peer.wait_for("the channel's Accept", |received| {
        received.iter().any(|d| {
            d.body["type"] == "Accept"
                && d.body["actor"] == channel.as_str()
                && (d.body["object"] == follow_id.as_str()
                    || d.body["object"]["id"] == follow_id.as_str())
        })
    })
    .await?;

    // A video of the channel reaches Alice: announced by the channel, in the shape Mastodon
    // renders as a link (the title, the page first in `url`).
    let (status, answer) = api_upload(
        &peer_client(),
        &a,
        &token,
        "bob_channel",
        "Mending a bicycle tyre",
        "tyre.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let video = answer["video"]["url"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            url(
                &a,
                &format!(
                    "/videos/watch/{}",
                    answer["video"]["uuid"].as_str().unwrap_or_default()
                ),
            )
        });
    let received = peer
        .wait_for("the channel's Announce of the video", |received| {
            find(received, "Announce", &video).is_some()
        })
        .await?;
    let announce = find(&received, "Announce", &video)
        .map(|d| d.body.clone())
        .unwrap_or_default();
    assert_eq!(announce["actor"], channel.as_str(), "{announce}");
    let (status, document) = peer.get(&alice, &video).await?;
    assert_eq!(status, 200);
    assert_eq!(document["type"], "Video");
    assert_eq!(document["name"], "Mending a bicycle tyre");
    assert_eq!(document["url"][0]["mediaType"], "text/html", "{document}");
    assert_eq!(document["url"][0]["href"], video.as_str());
    assert_eq!(document["attributedTo"][0]["type"], "Person");
    assert!(document["to"].to_string().contains("#Public"), "{document}");

    // Alice replies from Mastodon (its real reply to a PeerTube video, moved here): the reply
    // is threaded under the video, its HTML made safe.
    let mut note = peer.fixture_from(
        "mastodon/note-reply-to-peertube-video.json",
        "https://diaspodon.fr",
    )?;
    let note_id = format!("{alice}/statuses/1");
    note["id"] = json!(note_id);
    note["attributedTo"] = json!(alice);
    note["inReplyTo"] = json!(video);
    note["content"] = json!(
        r#"<p>Great tip!<script>alert(1)</script> <a href="https://example.org" onclick="x()">link</a></p>"#
    );
    let create = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{note_id}/activity"),
        "type": "Create",
        "actor": alice,
        "published": note["published"],
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    });
    peer.deliver(&alice, &inbox, &create).await?;
    let http = peer_client();
    eventually("the reply is under the video", || async {
        html(&http, &video).await.1.contains("Great tip!")
    })
    .await;
    let (_, page) = html(&http, &video).await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(!page.contains("onclick"), "{page}");
    let comments: Value = http
        .get(format!("{video}/comments"))
        .header("accept", "application/activity+json")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(comments["totalItems"], 1, "{comments}");

    // Alice unfollows: the channel has no follower left.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{follow_id}/undo"),
        "type": "Undo",
        "actor": alice,
        "object": follow,
    });
    peer.deliver(&alice, &inbox, &undo).await?;
    eventually("the channel forgets Alice", || async {
        html(&http, &url(&a, "/c/bob_channel"))
            .await
            .1
            .contains("0 followers")
    })
    .await;
    Ok(())
}

fn peer_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_live_announced_by_a_followed_peertube_shows_its_state() -> anyhow::Result<()> {
    const ORIGIN: &str = "http://peertube.test";
    let dir = tempfile::tempdir()?;
    let a = loopback_instance(dir.path(), "a").await?;
    let inbox = a.instance.base_url().join("inbox")?.to_string();
    let http = peer_client();

    // A PeerTube instance on the peer: its instance actor, an account and a channel, at
    // PeerTube's paths.
    let peer = Peer::start().await?;
    let instance_actor = peer
        .actor_at("/accounts/peertube", "Application", "peertube")
        .await?;
    let root = peer.actor_at("/accounts/root", "Person", "root").await?;
    peer.actor_at("/video-channels/root_channel", "Group", "root_channel")
        .await?;

    // A follows it; it accepts with PeerTube's Accept.
    a.instance
        .follow_instance(&url::Url::parse(&instance_actor)?)
        .await?;
    let received = peer
        .wait_for("A's Follow", |received| {
            received.iter().any(|d| d.body["type"] == "Follow")
        })
        .await?;
    let sent = received
        .iter()
        .find(|d| d.body["type"] == "Follow")
        .map(|d| d.body.clone())
        .unwrap_or_default();
    let mut accept = peer.fixture_from("peertube/accept-follow-instance.json", ORIGIN)?;
    accept["object"] = sent;
    peer.deliver(&instance_actor, &inbox, &accept).await?;
    let following = format!("{}/following?page=1", a.instance.instance_actor());
    eventually("A's follow is accepted", || async {
        crate::support::fetch_json(&http, &following)
            .await
            .is_ok_and(|page| page["orderedItems"].to_string().contains(&instance_actor))
    })
    .await;

    // A live that has not started, announced by the instance actor (PeerTube's Announce,
    // naming the video by its id): A fetches it and shows it waiting.
    let update = peer.fixture_from("peertube/update-video.json", ORIGIN)?;
    let mut video = update["object"].clone();
    let video_id = video["id"].as_str().unwrap_or_default().to_owned();
    let uuid = video["uuid"].as_str().unwrap_or_default().to_owned();
    video["isLiveBroadcast"] = json!(true);
    video["state"] = json!(4);
    peer.serve(&video)?;
    let announce = peer.fixture_from("peertube/announce-video-by-instance-actor.json", ORIGIN)?;
    assert_eq!(
        announce["object"],
        video_id.as_str(),
        "the fixture announces this video"
    );
    peer.deliver(&instance_actor, &inbox, &announce).await?;
    let watch = url(&a, &format!("/videos/watch/{uuid}"));
    eventually("A shows the live waiting", || async {
        html(&http, &watch).await.1.contains("has not started yet")
    })
    .await;
    assert!(
        html(&http, &url(&a, "/"))
            .await
            .1
            .contains("Live, not started")
    );

    // The stream starts, then ends: PeerTube's Update from the account, each time.
    for (n, state, shown, listed) in [
        (1, 1, "Live now", ">Live<"),
        (2, 5, "This live video has ended.", "Live ended"),
    ] {
        let mut update = update.clone();
        update["id"] = json!(format!("{}/{n}", update["id"].as_str().unwrap_or_default()));
        update["object"]["isLiveBroadcast"] = json!(true);
        update["object"]["state"] = json!(state);
        peer.serve(&update["object"])?;
        peer.deliver(&root, &inbox, &update).await?;
        eventually(&format!("A shows {shown:?}"), || async {
            html(&http, &watch).await.1.contains(shown)
        })
        .await;
        assert!(html(&http, &url(&a, "/")).await.1.contains(listed));
    }

    // Another account of the same server cannot delete the video; its account can.
    let mallory = peer
        .actor_at("/accounts/mallory", "Person", "mallory")
        .await?;
    let delete_by = |actor: &str, n: u32| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{actor}/deletes/{n}"),
            "type": "Delete",
            "actor": actor,
            "object": video_id,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        })
    };
    peer.deliver(&mallory, &inbox, &delete_by(&mallory, 1))
        .await?;
    assert_eq!(
        html(&http, &watch).await.0,
        200,
        "deleted by another account"
    );
    peer.deliver(&root, &inbox, &delete_by(&root, 2)).await?;
    eventually("A forgets the deleted video", || async {
        html(&http, &watch).await.0 == 404
    })
    .await;
    Ok(())
}
