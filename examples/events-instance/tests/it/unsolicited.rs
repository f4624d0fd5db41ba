//! What reaches the shared inbox unasked is not published: an event or a share from an actor
//! nobody here follows, that names nobody here and answers nothing here, is dropped, as Mastodon
//! drops such posts. What is asked for is shown: the content of followed actors (and of
//! instances the instance actor follows), shares by followed actors of anyone's events, and
//! content addressed to someone here. Real payloads (Mobilizon's `Create`, Mastodon's
//! `Announce`) moved to loopback peers.

use std::time::Duration;

use events_instance::Running;
use events_instance::demo::{Client, admin_of, eventually, loopback_instance};
use serde_json::{Value, json};
use url::Url;

use test_peer::Peer;

use crate::peer::get_page;
use crate::support::instance_with_identity;

const WAIT: Duration = Duration::from_secs(30);

/// Mobilizon's `Create` of an event (`mobilizon/create-event.json`), moved to `peer`, with the
/// ids ending in `n`, named `name`, in 2031.
fn mobilizon_create(peer: &Peer, n: u32, name: &str) -> Value {
    let mut create = peer
        .fixture_from("mobilizon/create-event.json", "https://mobilizon.fr")
        .unwrap();
    let event = format!("{}/events/{n}", peer.origin());
    create["id"] = json!(format!("{event}/activity"));
    let object = &mut create["object"];
    object["id"] = json!(event);
    object["url"] = json!(event);
    object["name"] = json!(name);
    object["startTime"] = json!("2031-02-12T14:08:20Z");
    create
}

/// Mobilizon's event (`mobilizon/event.json`), moved to `peer`, named `name`, in 2031.
fn mobilizon_event(peer: &Peer, name: &str) -> Value {
    let mut event = peer
        .fixture_from("mobilizon/event.json", "https://rendezvous.nomagic.uk")
        .unwrap();
    event["name"] = json!(name);
    event["startTime"] = json!("2031-12-11T19:00:00+00:00");
    event["endTime"] = json!("2031-12-11T21:00:00+00:00");
    event
}

/// Mastodon's `Announce` (`mastodon/announce.json`) by `actor` of `object`.
fn mastodon_announce(peer: &Peer, actor: &str, n: u32, object: &str) -> Value {
    let mut announce = peer
        .fixture_from("mastodon/announce.json", "https://framapiaf.org")
        .unwrap();
    announce
        .as_object_mut()
        .unwrap()
        .retain(|key, _| !matches!(key.as_str(), "signature" | "atomUri"));
    announce["id"] = json!(format!("{actor}/statuses/{n}/activity"));
    announce["actor"] = json!(actor);
    announce["cc"] = json!([format!("{actor}/followers")]);
    announce["object"] = json!(object);
    announce
}

/// The front page, as anyone sees it.
async fn front_page(at: &Running) -> anyhow::Result<String> {
    let (status, page) = get_page(at.base_url.as_str(), None).await?;
    assert_eq!(status, 200);
    Ok(page)
}

/// Makes `client` follow `actor` of `peer`, which accepts.
async fn follow(at: &Running, client: &Client, peer: &Peer, actor: &str) -> anyhow::Result<()> {
    let follow = client
        .post(json!({"type": "Follow", "object": actor}))
        .await?;
    let follow_id = follow["id"].as_str().unwrap();
    let accept = json!({
        "id": format!("{actor}/accepts/{}", follow_id.rsplit('/').next().unwrap()),
        "type": "Accept",
        "actor": actor,
        "object": follow["id"],
    });
    peer.deliver(actor, &format!("{}inbox", at.base_url), &accept)
        .await?;
    let name = client.actor.rsplit('/').next().unwrap().to_owned();
    eventually(WAIT, "the follow accepted", || async {
        let state = at.instance.following_state(&name, actor).await?;
        Ok((state.as_deref() == Some("accepted")).then_some(()))
    })
    .await
}

/// The instance `alpha` (its database in `dir`) with the identity alice, its shared inbox, and a
/// peer serving the Mobilizon organizer `/@metacartes`.
async fn alice_and_a_mobilizon_organizer(
    dir: &std::path::Path,
) -> anyhow::Result<(Running, Client, String, Peer, String)> {
    let (alpha, alice) = instance_with_identity(dir, "alpha", "alice").await?;
    let inbox = format!("{}inbox", alpha.base_url);
    let peer = Peer::start().await?;
    let organizer = peer
        .actor_at("/@metacartes", "Person", "metacartes")
        .await?;
    Ok((alpha, alice, inbox, peer, organizer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_shares_nobody_asked_for_are_not_published() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (alpha, alice, inbox, peer, organizer) =
        alice_and_a_mobilizon_organizer(dir.path()).await?;
    let booster = peer.actor("peertube").await?;
    // The event the booster shares is on another server, which serves it.
    let other = Peer::start().await?;
    let shared = mobilizon_event(&other, "Scottish dance class");
    other.serve(&shared)?;
    let shared_id = shared["id"].as_str().unwrap().to_owned();

    // Nobody here follows them: their event and their share are dropped.
    let create = mobilizon_create(&peer, 1, "Spam fair");
    peer.deliver(&organizer, &inbox, &create).await?;
    let announce = mastodon_announce(&peer, &booster, 1, &shared_id);
    peer.deliver(&booster, &inbox, &announce).await?;
    let page = front_page(&alpha).await?;
    assert!(!page.contains("Spam fair"), "{page}");
    assert!(!page.contains("Scottish dance class"), "{page}");
    assert_eq!(alpha.instance.stored_object_count().await?, 0);

    // An event addressed to someone here is theirs to see.
    let mut addressed = mobilizon_create(&peer, 2, "Invitation to Alice");
    addressed["object"]["cc"] = json!([alice.actor]);
    addressed["cc"] = json!([alice.actor]);
    peer.deliver(&organizer, &inbox, &addressed).await?;
    assert!(front_page(&alpha).await?.contains("Invitation to Alice"));

    // Once followed, the organizer's events are shown, and the booster's shares of someone
    // else's events (fetched from that server).
    follow(&alpha, &alice, &peer, &organizer).await?;
    peer.deliver(
        &organizer,
        &inbox,
        &mobilizon_create(&peer, 3, "Summer fair"),
    )
    .await?;
    follow(&alpha, &alice, &peer, &booster).await?;
    peer.deliver(
        &booster,
        &inbox,
        &mastodon_announce(&peer, &booster, 2, &shared_id),
    )
    .await?;
    let page = front_page(&alpha).await?;
    assert!(page.contains("Summer fair"), "{page}");
    assert!(page.contains("Scottish dance class"), "{page}");
    assert!(!page.contains("Spam fair"), "{page}");
    alpha.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_of_a_followed_instance_are_published() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let admin = admin_of(&alpha, dir.path(), "alpha");
    let inbox = format!("{}inbox", alpha.base_url);
    let peer = Peer::start().await?;
    let relay = peer.actor_at("/relay", "Application", "relay").await?;
    let organizer = peer
        .actor_at("/@metacartes", "Person", "metacartes")
        .await?;

    // Before the instance follows the peer, its events are dropped.
    peer.deliver(
        &organizer,
        &inbox,
        &mobilizon_create(&peer, 1, "Early fair"),
    )
    .await?;
    assert!(!front_page(&alpha).await?.contains("Early fair"));

    // The instance actor follows the peer's (as `follow-instance` does), which accepts.
    let followed = admin.follow_instance(&Url::parse(&relay)?).await?;
    let accept = json!({
        "id": format!("{relay}/accepts/1"),
        "type": "Accept",
        "actor": relay,
        "object": followed["follow"],
    });
    peer.deliver(&relay, &inbox, &accept).await?;
    eventually(WAIT, "the instance's follow accepted", || async {
        let state = alpha.instance.following_state("instance", &relay).await?;
        Ok((state.as_deref() == Some("accepted")).then_some(()))
    })
    .await?;
    // The event of a person of that instance, whom nobody here follows, is published.
    peer.deliver(
        &organizer,
        &inbox,
        &mobilizon_create(&peer, 2, "Spring fair"),
    )
    .await?;
    assert!(front_page(&alpha).await?.contains("Spring fair"));
    alpha.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_html_is_stored_sanitized() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (alpha, alice, inbox, peer, organizer) =
        alice_and_a_mobilizon_organizer(dir.path()).await?;
    follow(&alpha, &alice, &peer, &organizer).await?;

    let hostile = "<p onclick=\"steal()\">Bring water<script>alert(1)</script> \
                   <a href=\"javascript:alert(2)\">map</a></p>";
    let mut create = mobilizon_create(&peer, 1, "Ridge walk");
    create["object"]["content"] = json!(hostile);
    create["object"]["summary"] = json!(hostile);
    create["object"]["contentMap"] = json!({"en": hostile});
    peer.deliver(&organizer, &inbox, &create).await?;
    let event = create["object"]["id"].as_str().unwrap();
    let stored = alpha.instance.stored_object(event).await?.unwrap();
    // The reply of a Mastodon user to it, as hostile.
    let mut reply = peer.fixture_from("mastodon/create-note.json", "https://mastodon.madrid")?;
    let felix = peer.actor("felix").await?;
    reply["object"]["inReplyTo"] = json!(event);
    reply["object"]["content"] = json!(hostile);
    reply["object"]["contentMap"] = json!({"en": hostile});
    peer.deliver(&felix, &inbox, &reply).await?;
    let comment = reply["object"]["id"].as_str().unwrap();
    let stored_comment = eventually(WAIT, "the reply stored", || async {
        alpha.instance.stored_object(comment).await
    })
    .await?;

    for (document, fields) in [
        (&stored, &["/content", "/summary", "/contentMap/en"][..]),
        (&stored_comment, &["/content", "/contentMap/en"][..]),
    ] {
        for field in fields {
            let html = document.pointer(field).and_then(Value::as_str).unwrap();
            assert!(html.contains("Bring water"), "{field}: {html}");
            for unsafe_ in ["<script", "onclick", "javascript:", "alert"] {
                assert!(!html.contains(unsafe_), "{field}: {html}");
            }
        }
    }
    alpha.stop().await?;
    Ok(())
}
