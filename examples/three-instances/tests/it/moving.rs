//! Alice, on pod A, moves to bob on pod B, with the binaries. Her followers are carol on pod C,
//! the organizer's identity on the events instance and the Fedify peer; she posts with a photo,
//! carol comments and alice answers. Her archive is imported into bob, and then:
//!
//! * push mode: pod A sends the `Move` itself (bob lists alice first), and alice's profile
//!   points to bob;
//! * pull mode (FEP-7628): her archive names bob and carries a `Move` signed by her key; pod A
//!   is killed before the import, and bob's import sends that `Move` to her followers itself.
//!   Each follower's server cannot fetch alice any more, so it believes the `Move` by its
//!   Linked Data signature, checked with the key it kept from earlier (the pods and the events
//!   instance: instance-state's remote keys; the peer: Fedify's key cache).
//!
//! Afterwards every follower follows bob and no longer alice, checked on the follower's own
//! side (carol's and the organizer's `following`, the peer's own list) and on bob's
//! (`followers`), and bob's pod serves alice's post with its photo.

use std::path::Path;
use std::time::{Duration, Instant};

use http_signatures::Standard;
use serde_json::{Value, json};
use test_peer::fedify::{self, FedifyOptions, FedifyPeer, FollowState, moved};

use crate::support::{
    Binary, Browser, Served, WAIT, client, eventually, fetch, items, lists, outbox, page, witnessed,
};

/// How alice's followers learn that she moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Pod A sends the `Move`.
    Push,
    /// Pod A is gone; bob's import sends the `Move` the archive carries.
    PullWithTheOldPodGone,
}

#[tokio::test(flavor = "multi_thread")]
async fn push_mode_every_follower_follows_the_new_account_and_the_posts_and_photos_move() {
    move_with_followers(Mode::Push).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_mode_with_the_old_pod_gone_every_follower_follows_the_new_account() {
    move_with_followers(Mode::PullWithTheOldPodGone).await;
}

/// A real PNG (the video instance's placeholder thumbnail).
fn photo() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../video-instance/assets/placeholder-thumbnail.png"),
    )
    .unwrap()
}

/// The `Note` of the `Create` in `actor`'s outbox whose object satisfies `matches`.
async fn note_in_outbox(actor: &str, matches: impl Fn(&Value) -> bool) -> Option<Value> {
    items(&format!("{actor}/outbox"))
        .await
        .into_iter()
        .find(|a| a["type"] == "Create" && matches(&a["object"]))
        .map(|a| a["object"].clone())
}

/// Makes person `name` on `served` with its `admin` command, with a password: their actor id.
async fn person(served: &Served, name: &str) -> String {
    let actor = served.admin(&["create-account", name]).await["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    served.set_password(name).await;
    actor
}

/// Waits until the peer follows `actor`, accepted, by its own list (every 100 ms, for at
/// most [`WAIT`]).
async fn until_peer_follows(peer: &mut FedifyPeer, actor: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        match peer.follows(actor).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(error) => panic!("{error:#}{}", peer.transcript()),
        }
        assert!(
            Instant::now() < deadline,
            "the peer does not follow {actor} within {WAIT:?}{}",
            peer.transcript()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn move_with_followers(mode: Mode) {
    fedify::install().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let events = Served::start(Binary::Events, dir, "events", &[]).await;
    let mut pod_a = Served::start(Binary::Pod, dir, "pod-a", &[]).await;
    let pod_b = Served::start(Binary::Pod, dir, "pod-b", &[]).await;
    let pod_c = Served::start(Binary::Pod, dir, "pod-c", &[]).await;
    let mut peer = FedifyPeer::spawn(FedifyOptions::new(Standard::Rfc9421))
        .await
        .unwrap();

    let alice = person(&pod_a, "alice").await;
    let bob = person(&pod_b, "bob").await;
    let carol = person(&pod_c, "carol").await;
    let organizer = events.admin(&["create-identity", "organizer"]).await;
    let (organizer_id, organizer_token) = (
        organizer["actor"].as_str().unwrap().to_owned(),
        organizer["token"].as_str().unwrap().to_owned(),
    );

    // Carol, the organizer and the peer follow alice; each side records it (the `following`
    // collections list accepted follows only). Each follower's server verified alice's
    // Accept, and so keeps her key.
    pod_c.admin(&["follow", "carol", &alice]).await;
    outbox(
        &organizer_id,
        &organizer_token,
        json!({"type": "Follow", "object": alice}),
    )
    .await;
    peer.command(json!({"cmd": "follow", "target": alice}))
        .await
        .unwrap_or_else(|error| panic!("{error:#}{}", peer.transcript()));
    for follower in [carol.as_str(), organizer_id.as_str(), peer.actor()] {
        eventually(&format!("alice lists {follower}"), || async {
            lists(&format!("{alice}/followers"), follower)
                .await
                .then_some(())
        })
        .await;
    }
    for follower in [&carol, &organizer_id] {
        eventually(&format!("{follower} follows alice"), || async {
            lists(&format!("{follower}/following"), &alice)
                .await
                .then_some(())
        })
        .await;
    }
    until_peer_follows(&mut peer, &alice).await;

    // Alice posts with a photo; carol comments from pod C and alice answers.
    let alice_web = Browser::sign_in(&pod_a, "alice", "/compose").await;
    let form = alice_web
        .multipart()
        .text("text", "The first swifts are back #birds")
        .text("audience", "public")
        .text("description", "A swift over the roofs")
        .part(
            "photo",
            reqwest::multipart::Part::bytes(photo())
                .file_name("swift.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let (status, location) = alice_web.post_multipart("/posts", form).await;
    assert_eq!(status, 303, "{location}");
    let post = eventually("alice's post in her outbox", || {
        note_in_outbox(&alice, |note| {
            note["content"].to_string().contains("swifts")
        })
    })
    .await;
    let post_id = post["id"].as_str().unwrap().to_owned();
    let photo_url = post["attachment"][0]["url"].as_str().unwrap().to_owned();
    assert!(photo_url.starts_with(pod_a.base.as_str()), "{post}");
    witnessed(&mut peer, "Create", &alice, &post_id).await;
    let carol_web = Browser::sign_in(&pod_c, "carol", "/compose").await;
    let carol_comment = "Lovely, they nest under our eaves";
    eventually("carol comments under alice's post", || async {
        let (status, _) = carol_web
            .post(
                "/posts/comment",
                &[("post", post_id.as_str()), ("text", carol_comment)],
            )
            .await;
        (status == 303).then_some(())
    })
    .await;
    eventually("carol's comment on pod A", || async {
        let (_, page) = alice_web.get(&local_path(&post_id)).await;
        page.contains(carol_comment).then_some(())
    })
    .await;
    let (status, location) = alice_web
        .post(
            "/posts/comment",
            &[("post", post_id.as_str()), ("text", "Ours too!")],
        )
        .await;
    assert_eq!(status, 303, "{location}");
    eventually("alice's answer in her outbox", || {
        note_in_outbox(&alice, |note| note["inReplyTo"] == post_id.as_str())
    })
    .await;

    // Alice's archive: her post and her comment. In pull mode it names bob and carries her
    // signed Move, and pod A is then killed.
    let archive = dir.join("alice.tar.gz");
    let archive = archive.to_str().unwrap();
    let handle = format!("@bob@{}", pod_b.base.authority());
    let mut export = vec!["export", "alice", "--out", archive];
    if mode == Mode::PullWithTheOldPodGone {
        export.extend(["--move-to", handle.as_str()]);
    }
    let exported = pod_a.admin(&export).await;
    assert_eq!(exported["exported"]["posts"], 1, "{exported}");
    assert_eq!(exported["exported"]["comments"], 1, "{exported}");
    let imported = match mode {
        Mode::Push => {
            let imported = pod_b.admin(&["import", "bob", "--file", archive]).await;
            pod_b.admin(&["add-alias", "bob", &alice]).await;
            pod_a.admin(&["move", "alice", &bob]).await;
            // Alice's profile points to bob: her document and her page.
            let (_, document) = fetch(&alice).await;
            assert_eq!(document["movedTo"], bob.as_str(), "{document}");
            let (_, profile) = page(&alice).await;
            assert!(profile.contains("This account has moved to"), "{profile}");
            assert!(profile.contains(&people_path(&bob)), "{profile}");
            imported
        }
        Mode::PullWithTheOldPodGone => {
            pod_a.stop().await;
            let refused = client().get(&alice).send().await;
            assert!(
                refused.as_ref().is_err_and(reqwest::Error::is_connect),
                "pod A still answers: {refused:?}"
            );
            let imported = pod_b
                .admin(&["import", "bob", "--file", archive, "--send-move"])
                .await;
            assert_eq!(
                imported["imported"]["moved_from"],
                alice.as_str(),
                "{imported}"
            );
            // Carol's pod, the events instance and the peer: each reached at its inbox.
            assert_eq!(
                imported["imported"]["move_sent"],
                json!({"queued": 3, "local": 0, "unreachable": 0}),
                "{imported}"
            );
            imported
        }
    };
    assert_eq!(imported["imported"]["posts"], 1, "{imported}");
    assert_eq!(imported["imported"]["photos"], 1, "{imported}");
    let (_, bob_document) = fetch(&bob).await;
    assert_eq!(
        bob_document["alsoKnownAs"],
        json!([alice]),
        "{bob_document}"
    );

    // Every follower follows bob and no longer alice, on its own side and on bob's.
    for follower in [&carol, &organizer_id] {
        eventually(&format!("{follower} follows bob, not alice"), || async {
            (lists(&format!("{follower}/following"), &bob).await
                && !lists(&format!("{follower}/following"), &alice).await)
                .then_some(())
        })
        .await;
    }
    let followed = peer
        .expect("the peer to follow alice's Move", |e| {
            moved(e, &alice, &bob) || e["event"] == "move-refused" && e["from"] == alice.as_str()
        })
        .await
        .unwrap_or_else(|error| panic!("{error:#}{}", peer.transcript()));
    assert_eq!(
        followed["event"],
        "moved",
        "{followed}{}",
        peer.transcript()
    );
    let received = peer
        .seen()
        .iter()
        .find(|e| fedify::received(e, "Move") && e["actor"] == alice.as_str())
        .cloned()
        .unwrap();
    match mode {
        // Fedify believed the Move by alice's signature over it, checked with her key
        // from its cache: the request was signed by bob, and alice cannot be fetched. The
        // Undo of its Follow could not reach pod A.
        Mode::PullWithTheOldPodGone => {
            assert_eq!(received["verified_by"], "ld-signature", "{received}");
            assert!(
                received["signature"]["key_id"]
                    .as_str()
                    .is_some_and(|key| key.starts_with(&bob)),
                "{received}"
            );
            assert_eq!(followed["undo"]["ok"], false, "{followed}");
        }
        Mode::Push => assert_eq!(followed["undo"]["ok"], true, "{followed}"),
    }
    until_peer_follows(&mut peer, &bob).await;
    let following = peer.following().await.unwrap();
    assert!(
        following.iter().all(|f| f.id != alice),
        "the peer still follows alice: {following:?}"
    );
    assert!(
        following
            .iter()
            .all(|f| f.id != bob || f.state == FollowState::Accepted)
    );
    // On carol's pod, alice's page says where she went.
    let (_, alice_on_c) = carol_web.get(&people_path(&alice)).await;
    assert!(
        alice_on_c.contains("This account has moved to") && alice_on_c.contains(&people_path(&bob)),
        "{alice_on_c}"
    );
    for follower in [carol.as_str(), organizer_id.as_str(), peer.actor()] {
        eventually(&format!("bob lists {follower}"), || async {
            lists(&format!("{bob}/followers"), follower)
                .await
                .then_some(())
        })
        .await;
    }

    // Bob's pod has alice's post, with its photo served from pod B, and a link to where it
    // was first published.
    let moved_post = note_in_outbox(&bob, |note| {
        note["content"].to_string().contains(post_id.as_str())
    })
    .await
    .unwrap_or_else(|| panic!("alice's post is not in bob's outbox"));
    assert!(
        moved_post["content"].to_string().contains("swifts"),
        "{moved_post}"
    );
    let image = &moved_post["attachment"][0];
    assert_eq!(image["type"], "Image", "{moved_post}");
    assert_eq!(image["name"], "A swift over the roofs", "{moved_post}");
    let moved_photo = image["url"].as_str().unwrap();
    assert!(moved_photo.starts_with(pod_b.base.as_str()), "{moved_post}");
    let response = client().get(moved_photo).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), photo().as_slice());

    assert!(peer.refusals().is_empty(), "{}", peer.transcript());
    peer.quit().await;
}

/// The path of the pod's page of the person `id` (local or remote).
fn people_path(id: &str) -> String {
    format!(
        "/people?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", id)
            .finish()
    )
}

/// The path of a local post's page (its id's path).
fn local_path(id: &str) -> String {
    url::Url::parse(id).unwrap().path().to_owned()
}
