//! Mentions and notifications with two pods and with Mastodon's payloads: a comment on A
//! mentioning `@bob@B` reaches and notifies bob, who follows nobody on A; the handle is
//! remembered (found again with B stopped); unknown names stay text; a mention in a post to an
//! aspect never reaches someone outside it; a Mastodon-shaped mention notifies the person it
//! names, once however often it comes, and not when they block its author; likes, reshares,
//! comments and follows notify the author.

use instance_state::blocks::BlockTarget;
use pod::PostAudience;
use serde_json::{Value, json};
use test_peer::Peer;

use crate::support::{Session, eventually, fetch, person, pod, signed_fetch, until_following};

/// How many times `needle` is in `page`.
fn count(page: &str, needle: &str) -> usize {
    page.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comment_mentioning_someone_elsewhere_reaches_and_notifies_them() {
    mention_elsewhere().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn mention_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let alice = person(&a, "alice").await;
    let carol = person(&a, "carol").await;
    let bob = person(&b, "bob").await;
    let b_host = b.base_url.authority().to_owned();
    let post = a
        .instance
        .write_post("alice", "Where shall we eat?", &PostAudience::Public)
        .await
        .unwrap();

    // Carol comments from the post's page, mentioning bob on B and someone nobody knows.
    let carol_web = Session::new(&a, "carol").await;
    let text = format!(
        "Ask @bob@{b_host}, or @nobody@{b_host}, or @ghost; mail me at carol@{b_host}. `@bob@{b_host}`"
    );
    let path = url::Url::parse(&post).unwrap().path().to_owned();
    let (status, location) = carol_web
        .post(
            "/posts/comment",
            &[("post", &post), ("text", &text), ("back", &path)],
        )
        .await;
    assert_eq!(status, 303, "{location}");
    let (_, page) = carol_web.get(&path).await;
    let link = format!(
        "<span class=\"h-card\"><a class=\"u-url mention\" href=\"{bob}\" \
         rel=\"noopener noreferrer nofollow ugc\">@<span>bob</span></a></span>"
    );
    assert!(page.contains(&link), "{page}");
    // Unknown names, the email address and the code span stay text.
    assert!(page.contains(&format!("@nobody@{b_host}")), "{page}");
    assert!(page.contains("or @ghost;"), "{page}");
    assert!(page.contains(&format!("carol@{b_host}.")), "{page}");
    assert!(
        page.contains(&format!("<code>@bob@{b_host}</code>")),
        "{page}"
    );
    assert_eq!(count(&page, "u-url mention"), 1, "{page}");

    // The comment: a Mention tag for bob, bob in cc, nobody else mentioned.
    let note = newest_of(&carol).await;
    assert_eq!(
        note["tag"],
        json!([{"type": "Mention", "href": bob, "name": format!("@bob@{b_host}")}])
    );
    assert!(
        note["cc"].as_array().unwrap().contains(&json!(bob)),
        "{note}"
    );

    // Bob, who follows nobody on A, is notified on B; his pages say so until he looks.
    let bob_web = Session::new(&b, "bob").await;
    eventually("bob is notified", || async {
        bob_web.get("/").await.1.contains("1 new notification")
    })
    .await;
    let (_, notifications) = bob_web.get("/notifications").await;
    assert!(
        notifications.contains("<strong>carol</strong>"),
        "{notifications}"
    );
    assert!(
        notifications.contains("mentioned you in"),
        "{notifications}"
    );
    assert!(!bob_web.get("/").await.1.contains("new notification"));
    // And reads the comment there (it is public).
    let (status, page) = bob_web
        .get(&format!(
            "/posts/remote?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("id", note["id"].as_str().unwrap())
                .finish()
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Ask "), "{page}");

    // Alice, whose post it is, is told of the comment.
    let alice_web = Session::new(&a, "alice").await;
    let (_, notifications) = alice_web.get("/notifications").await;
    assert!(
        notifications.contains("commented on your post"),
        "{notifications}"
    );

    // The handle is remembered: with B stopped, a new mention of bob is still a mention.
    b.stop().await.unwrap();
    let again = a
        .instance
        .write_post(
            "alice",
            &format!("Thanks @bob@{b_host}!"),
            &PostAudience::Public,
        )
        .await
        .unwrap();
    let (_, document) = fetch(&again).await;
    assert_eq!(document["tag"][0]["href"], json!(bob), "{document}");
    let _ = alice;
    a.stop().await.unwrap();
}

/// The newest post or comment of local person `author` (its id), as served.
async fn newest_of(author: &str) -> Value {
    let (_, outbox) = fetch(&format!("{author}/outbox?page=1")).await;
    let create = outbox["orderedItems"]
        .as_array()
        .and_then(|items| items.first())
        .cloned()
        .unwrap_or_else(|| panic!("nothing in {author}'s outbox: {outbox}"));
    let id = create["object"]["id"]
        .as_str()
        .or_else(|| create["object"].as_str())
        .unwrap()
        .to_owned();
    fetch(&id).await.1
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mention_in_an_aspect_post_never_reaches_someone_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let carol = person(&b, "carol").await;
    let b_host = b.base_url.authority().to_owned();
    b.instance.follow("bob", &alice).await.unwrap();
    until_following(&a, &bob, &alice).await;
    let friends = a.instance.create_aspect("alice", "Friends").await.unwrap();
    a.instance
        .add_to_aspect("alice", &friends, &bob)
        .await
        .unwrap();

    let limited = a
        .instance
        .write_post(
            "alice",
            &format!("Only friends: @bob@{b_host} and @carol@{b_host}."),
            &PostAudience::Aspects(vec![friends]),
        )
        .await
        .unwrap();
    // The document names bob alone: carol is neither addressed nor tagged.
    let (status, note) = signed_fetch(&b, "bob", &limited).await;
    assert_eq!(status, 200, "{note}");
    assert_eq!(note["to"], json!([bob]));
    assert!(
        note.get("cc")
            .is_none_or(|cc| cc.as_array().is_some_and(Vec::is_empty)),
        "{note}"
    );
    assert_eq!(
        note["tag"],
        json!([{"type": "Mention", "href": bob, "name": format!("@bob@{b_host}")}])
    );
    assert!(
        !note.to_string().contains(&format!("\"{carol}\"")),
        "{note}"
    );
    assert_eq!(signed_fetch(&b, "carol", &limited).await.0, 404);

    // Bob is notified on B; carol has nothing, and cannot read it there.
    let bob_web = Session::new(&b, "bob").await;
    eventually("bob is notified", || async {
        bob_web
            .get("/notifications")
            .await
            .1
            .contains("mentioned you in")
    })
    .await;
    let carol_web = Session::new(&b, "carol").await;
    let (_, notifications) = carol_web.get("/notifications").await;
    assert!(notifications.contains("Nothing yet."), "{notifications}");
    let remote = format!(
        "/posts/remote?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", &limited)
            .finish()
    );
    assert_eq!(carol_web.get(&remote).await.0, 404);
    assert_eq!(bob_web.get(&remote).await.0, 200);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// `fixture` moved to `peer` with its mention of `https://framapiaf.org/users/tcit` naming
/// `local` (a person on a pod) instead.
fn mention_of(peer: &Peer, fixture: &str, local: &str) -> Value {
    let moved = peer
        .fixture_from(fixture, "https://framapiaf.org")
        .unwrap()
        .to_string()
        .replace(&format!("{}/users/tcit", peer.origin()), local);
    let mut activity: Value = serde_json::from_str(&moved).unwrap();
    // Its Linked Data signature no longer holds for the moved document.
    activity.as_object_mut().unwrap().remove("signature");
    activity
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mastodon_mention_notifies_once_and_not_when_its_author_is_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let tcit = person(&a, "tcit").await;
    let peer = Peer::start().await.unwrap();
    let admin = peer.actor("admin").await.unwrap();
    let spammer = peer.actor("spammer").await.unwrap();
    let inbox = a.base_url.join("inbox").unwrap().to_string();

    // Mastodon's direct message (to tcit, with a Mention tag), from someone nobody here follows.
    let direct = mention_of(&peer, "mastodon/create-note-direct.json", &tcit);
    peer.deliver(&admin, &inbox, &direct).await.unwrap();
    let web = Session::new(&a, "tcit").await;
    eventually("tcit is notified", || async {
        web.get("/").await.1.contains("1 new notification")
    })
    .await;
    // Delivered again (to the shared inbox and the personal one, say), and updated: still one.
    peer.deliver(&admin, &inbox, &direct).await.unwrap();
    let personal = format!("{tcit}/inbox");
    peer.deliver(&admin, &personal, &direct).await.unwrap();
    let mut update = direct.clone();
    update["type"] = json!("Update");
    update["id"] = json!(format!(
        "{}#update",
        direct["object"]["id"].as_str().unwrap()
    ));
    update["object"]["content"] = json!("<p>edited</p>");
    peer.deliver(&admin, &inbox, &update).await.unwrap();
    eventually("the update is kept", || async {
        let id = direct["object"]["id"].as_str().unwrap();
        web.get(&format!(
            "/posts/remote?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("id", id)
                .finish()
        ))
        .await
        .1
        .contains("edited")
    })
    .await;
    let (_, page) = web.get("/notifications").await;
    assert_eq!(count(&page, "mentioned you in"), 1, "{page}");
    assert!(page.contains("<strong>admin</strong>"), "{page}");

    // A public Mastodon post whose only sign of tcit is its Mention tag and cc (the hashtag
    // fixture) notifies too; a blocked author's does not.
    a.instance
        .state()
        .block(Some(&tcit), &BlockTarget::Actor(spammer.clone()), "spam")
        .await
        .unwrap();
    let mut public = mention_of(&peer, "mastodon/create-note-hashtag.json", &tcit);
    let text = public
        .to_string()
        .replace(&format!("{}/users/admin", peer.origin()), &spammer);
    public = serde_json::from_str(&text).unwrap();
    peer.deliver(&spammer, &inbox, &public).await.unwrap();
    let from_admin = mention_of(&peer, "mastodon/create-note-hashtag.json", &tcit);
    peer.deliver(&admin, &inbox, &from_admin).await.unwrap();
    eventually("the second mention", || async {
        count(&web.get("/notifications").await.1, "mentioned you in") == 2
    })
    .await;
    let (_, page) = web.get("/notifications").await;
    assert!(!page.contains("spammer"), "{page}");
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn likes_reshares_comments_and_follows_notify_the_author() {
    reactions_notify().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn reactions_notify() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice = person(&a, "alice").await;
    let bob = person(&a, "bob").await;
    a.instance.follow("bob", &alice).await.unwrap();
    until_following(&a, &bob, &alice).await;
    let post = a
        .instance
        .write_post("alice", "Lunch?", &PostAudience::Public)
        .await
        .unwrap();
    a.instance.like("bob", &post).await.unwrap();
    a.instance.reshare("bob", &post).await.unwrap();
    a.instance
        .write_comment("bob", &post, "Yes!")
        .await
        .unwrap();
    // Her own like tells her nothing.
    a.instance.like("alice", &post).await.unwrap();
    let web = Session::new(&a, "alice").await;
    let (_, home) = web.get("/").await;
    assert!(home.contains("4 new notifications"), "{home}");
    let (_, page) = web.get("/notifications").await;
    for what in [
        "started following you",
        "liked",
        "reshared",
        "commented on your post",
    ] {
        assert_eq!(count(&page, what), 1, "{what} in {page}");
    }
    assert_eq!(count(&page, "class=\"unseen\""), 4, "{page}");
    let (_, page) = web.get("/notifications").await;
    assert_eq!(count(&page, "class=\"unseen\""), 0, "{page}");
    // The same like again (unliked and liked) does not notify twice.
    a.instance.unlike("bob", &post).await.unwrap();
    a.instance.like("bob", &post).await.unwrap();
    assert!(!web.get("/").await.1.contains("new notification"));
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mastodon_like_and_boost_notify_the_author_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    person(&a, "alice").await;
    let post = a
        .instance
        .write_post("alice", "A fine day", &PostAudience::Public)
        .await
        .unwrap();
    let peer = Peer::start().await.unwrap();
    let inbox = a.base_url.join("inbox").unwrap().to_string();

    // Mastodon's Like and Announce (boost), moved to the peer, of alice's post.
    let admin = peer.actor("admin").await.unwrap();
    let mut like = peer
        .fixture_from("mastodon/like.json", "http://mastodon.example.org")
        .unwrap();
    like["object"] = json!(post);
    like.as_object_mut().unwrap().remove("signature");
    let booster = peer.actor("peertube").await.unwrap();
    let mut announce = peer
        .fixture_from("mastodon/announce.json", "https://framapiaf.org")
        .unwrap();
    announce["object"] = json!(post);
    announce.as_object_mut().unwrap().remove("signature");
    for _ in 0..2 {
        peer.deliver(&admin, &inbox, &like).await.unwrap();
        peer.deliver(&booster, &inbox, &announce).await.unwrap();
    }
    let web = Session::new(&a, "alice").await;
    eventually("alice is told of both", || async {
        web.get("/").await.1.contains("2 new notifications")
    })
    .await;
    let (_, page) = web.get("/notifications").await;
    assert_eq!(count(&page, "liked"), 1, "{page}");
    assert_eq!(count(&page, "reshared"), 1, "{page}");
    assert!(page.contains("<strong>admin</strong>"), "{page}");
    assert!(page.contains("<strong>peertube</strong>"), "{page}");
    a.stop().await.unwrap();
}
