//! Hashtags: written ones are normalized as Mastodon compares them and carried as `Hashtag`
//! tags; a tag's page and collection show the public posts with it and never a followers or
//! aspect one; received Notes' tags are recorded; a person following a tag gets its posts in
//! their stream, even from an author nobody here follows.

use pod::PostAudience;
use serde_json::{Value, json};
use test_peer::Peer;

use crate::support::{Session, eventually, fetch, person, pod, until_following};

/// Tag page `path` as ActivityPub, unsigned.
async fn collection(base: &url::Url, path: &str) -> Value {
    let (status, document) = fetch(base.join(path).unwrap().as_str()).await;
    assert_eq!(status, 200, "{document}");
    document
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_page_shows_public_posts_only_and_spellings_are_one_tag() {
    tag_page().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn tag_page() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice = person(&a, "alice").await;
    let bob = person(&a, "bob").await;
    a.instance.follow("bob", &alice).await.unwrap();
    until_following(&a, &bob, &alice).await;
    let friends = a.instance.create_aspect("alice", "Friends").await.unwrap();
    a.instance
        .add_to_aspect("alice", &friends, &bob)
        .await
        .unwrap();

    let composed = a
        .instance
        .write_post("alice", "Coffee at the #Café", &PostAudience::Public)
        .await
        .unwrap();
    let decomposed = a
        .instance
        .write_post("alice", "More #CAFE\u{301} tomorrow", &PostAudience::Public)
        .await
        .unwrap();
    let followers = a
        .instance
        .write_post("alice", "Followers #café secret", &PostAudience::Followers)
        .await
        .unwrap();
    let limited = a
        .instance
        .write_post(
            "alice",
            "Friends #café secret",
            &PostAudience::Aspects(vec![friends]),
        )
        .await
        .unwrap();

    // The document: a link to the tag's page, a Hashtag tag with the normalized name.
    let (_, note) = fetch(&decomposed).await;
    let href = a.base_url.join("tags/caf%C3%A9").unwrap().to_string();
    assert_eq!(
        note["tag"],
        json!([{"type": "Hashtag", "href": href, "name": "#café"}])
    );
    assert!(
        note["content"]
            .as_str()
            .unwrap()
            .contains(&format!("<a class=\"mention hashtag\" href=\"{href}\"")),
        "{note}"
    );

    // The page, for anyone and for bob (who may read all four): the two public posts.
    let bob_web = Session::new(&a, "bob").await;
    for path in ["/tags/café", "/tags/CAF%C3%89", "/tags/cafe%CC%81"] {
        let (status, page) = bob_web.get(path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.contains("Coffee at the"), "{path}: {page}");
        assert!(page.contains("tomorrow"), "{path}: {page}");
        assert!(!page.contains("secret"), "{path}: {page}");
        assert!(page.contains("2 public posts"), "{path}: {page}");
    }
    let anonymous = reqwest::Client::new()
        .get(a.base_url.join("tags/café").unwrap())
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(anonymous.contains("Coffee at the"), "{anonymous}");
    assert!(!anonymous.contains("secret"), "{anonymous}");

    // The collection: the public posts' ids, newest first.
    let document = collection(&a.base_url, "tags/caf%C3%A9").await;
    assert_eq!(document["type"], "OrderedCollection");
    assert_eq!(document["id"], json!(href));
    assert_eq!(document["totalItems"], 2);
    assert_eq!(document["orderedItems"], json!([decomposed, composed]));
    assert!(!document.to_string().contains(&followers));
    assert!(!document.to_string().contains(&limited));
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_followed_tag_brings_posts_from_someone_nobody_follows_into_the_stream() {
    followed_tag().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn followed_tag() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let tcit = person(&a, "tcit").await;
    person(&a, "dave").await;
    person(&a, "erin").await;
    let peer = Peer::start().await.unwrap();
    let admin = peer.actor("admin").await.unwrap();
    let inbox = a.base_url.join("inbox").unwrap().to_string();

    // Dave follows #Moo from the tag's page.
    let dave = Session::new(&a, "dave").await;
    let (_, page) = dave.get("/tags/moo").await;
    assert!(page.contains("Follow #moo"), "{page}");
    let (status, location) = dave.post("/tags/follow", &[("tag", "Moo")]).await;
    assert_eq!(status, 303, "{location}");
    assert_eq!(location, "/tags/moo");
    assert!(dave.get("/tags/moo").await.1.contains("Unfollow #moo"));

    // Mastodon's public post with #moo (written #Moo here), which reaches the pod because it
    // mentions tcit; nobody here follows its author.
    let mut create = peer
        .fixture_from("mastodon/create-note-hashtag.json", "https://framapiaf.org")
        .unwrap();
    let text = create
        .to_string()
        .replace(&format!("{}/users/tcit", peer.origin()), &tcit)
        .replace("\"#moo\"", "\"#Moo\"");
    create = serde_json::from_str(&text).unwrap();
    create.as_object_mut().unwrap().remove("signature");
    peer.deliver(&admin, &inbox, &create).await.unwrap();
    let id = create["object"]["id"].as_str().unwrap().to_owned();
    eventually("the post is on the tag's page", || async {
        collection(&a.base_url, "tags/moo").await["orderedItems"] == json!([id])
    })
    .await;
    // Dave's stream shows it, and the tags he follows; erin's (who follows no tag) does not.
    let (_, stream) = dave.get("/").await;
    assert!(
        stream.contains("Tags you follow: <a href=\"/tags/moo\">#moo</a>"),
        "{stream}"
    );
    assert!(stream.contains("href=\"/posts/remote?"), "{stream}");
    assert!(
        stream.contains("#moo") || stream.contains(">moo<"),
        "{stream}"
    );
    let erin = Session::new(&a, "erin").await;
    assert!(!erin.get("/").await.1.contains("/posts/remote?"));
    // Unfollowed: gone from dave's stream.
    let (status, _) = dave
        .post("/tags/follow", &[("tag", "moo"), ("undo", "1")])
        .await;
    assert_eq!(status, 303);
    assert!(!dave.get("/").await.1.contains("/posts/remote?"));
    a.stop().await.unwrap();
}
