//! A pod and Mastodon-shaped payloads, delivered signed by test-peer's `Peer`: a reply from the
//! fixture `mastodon/create-note.json` is threaded under a post; the posts of someone a person
//! follows reach their stream, and those of someone nobody follows do not.

use pod::PostAudience;
use serde_json::{Value, json};
use test_peer::Peer;

use crate::support::{Session, eventually, person, pod, until_following};

/// The fixture, moved to the peer, with a fresh id for its note and its activity.
fn mastodon_create(peer: &Peer, n: u32) -> Value {
    let mut create = peer
        .fixture_from("mastodon/create-note.json", "https://mastodon.madrid")
        .unwrap();
    let note = format!("{}/users/felix/statuses/{n}", peer.origin());
    create["id"] = json!(format!("{note}/activity"));
    create["object"]["id"] = json!(note);
    create["object"]["atomUri"] = json!(note);
    create
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mastodon_reply_is_threaded_under_the_post_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    person(&a, "alice").await;
    let post = a
        .instance
        .write_post("alice", "Which laptop should I buy?", &PostAudience::Public)
        .await
        .unwrap();
    let peer = Peer::start().await.unwrap();
    let felix = peer.actor("felix").await.unwrap();
    let mut reply = mastodon_create(&peer, 1);
    reply["object"]["inReplyTo"] = json!(post);
    reply["object"]["inReplyToAtomUri"] = json!(post);
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    peer.deliver(&felix, &inbox, &reply).await.unwrap();

    // Anyone reads it under the post (Mastodon's "unlisted": Public in cc), its HTML kept
    // sanitized, felix named.
    let path = url::Url::parse(&post).unwrap().path().to_owned();
    let alice = Session::new(&a, "alice").await;
    eventually("the reply is under the post", || async {
        alice
            .get(&path)
            .await
            .1
            .contains("disappointed by a thinkpad")
    })
    .await;
    let (_, page) = alice.get(&path).await;
    assert!(page.contains("1 comment"), "{page}");
    assert!(page.contains("<strong>felix</strong>"), "{page}");
    assert!(
        page.contains("href=\"https://mamot.fr/@retiolus\""),
        "{page}"
    );
    // It is a comment, not a post: not in alice's stream on its own.
    let (_, stream) = alice.get("/").await;
    assert!(!stream.contains("disappointed by a thinkpad"), "{stream}");
    // Its page is the post's.
    let comment = reply["object"]["id"].as_str().unwrap();
    let remote = format!(
        "/posts/remote?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", comment)
            .finish()
    );
    let (status, location) = alice.get_raw(&remote).await;
    assert_eq!(status, 303);
    assert_eq!(location, path);

    // The same delivery again changes nothing.
    peer.deliver(&felix, &inbox, &reply).await.unwrap();
    assert!(alice.get(&path).await.1.contains("1 comment"));

    // Felix deletes it: gone from the thread.
    let delete = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{comment}#delete"),
        "type": "Delete",
        "actor": felix,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"id": comment, "type": "Tombstone"},
    });
    peer.deliver(&felix, &inbox, &delete).await.unwrap();
    eventually("the reply is gone", || async {
        alice.get(&path).await.1.contains("0 comments")
    })
    .await;
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_posts_of_people_followed_reach_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice_id = person(&a, "alice").await;
    let peer = Peer::start().await.unwrap();
    let felix = peer.actor("felix").await.unwrap();
    let stranger = peer.actor("stranger").await.unwrap();
    a.instance.follow("alice", &felix).await.unwrap();
    let received = peer
        .wait_for("alice's Follow", |d| {
            d.iter().any(|d| d.body["type"] == "Follow")
        })
        .await
        .unwrap();
    let follow = received
        .iter()
        .find(|d| d.body["type"] == "Follow")
        .unwrap()
        .body
        .clone();
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{felix}#accepts/1"),
        "type": "Accept",
        "actor": felix,
        "object": follow,
    });
    peer.deliver(&felix, &inbox, &accept).await.unwrap();
    until_following(&a, &alice_id, &felix).await;

    // Felix's post (the fixture, not a reply here) reaches alice's stream.
    let mut create = mastodon_create(&peer, 2);
    create["object"]["inReplyTo"] = Value::Null;
    peer.deliver(&felix, &inbox, &create).await.unwrap();
    // The stranger's (nobody here follows them) is dropped.
    let mut unsolicited = mastodon_create(&peer, 3);
    let text = unsolicited
        .to_string()
        .replace("/users/felix", "/users/stranger");
    unsolicited = serde_json::from_str(&text).unwrap();
    unsolicited["object"]["inReplyTo"] = Value::Null;
    unsolicited["object"]["content"] = json!("<p>Buy my stuff</p>");
    peer.deliver(&stranger, &inbox, &unsolicited).await.unwrap();

    let alice = Session::new(&a, "alice").await;
    eventually("felix's post is in alice's stream", || async {
        alice
            .get("/")
            .await
            .1
            .contains("disappointed by a thinkpad")
    })
    .await;
    assert!(!alice.get("/").await.1.contains("Buy my stuff"));
    // Alice comments on it; the comment goes to felix.
    let post = create["object"]["id"].as_str().unwrap().to_owned();
    a.instance
        .write_comment("alice", &post, "Thanks, I will look at those.")
        .await
        .unwrap();
    peer.wait_for("alice's comment", |d| {
        d.iter()
            .any(|d| d.body["type"] == "Create" && d.body["object"]["inReplyTo"] == json!(post))
    })
    .await
    .unwrap();
    // And likes it: a Like to felix.
    a.instance.like("alice", &post).await.unwrap();
    peer.wait_for("alice's like", |d| {
        d.iter()
            .any(|d| d.body["type"] == "Like" && d.body["object"] == json!(post))
    })
    .await
    .unwrap();
    a.stop().await.unwrap();
}
