//! Comments on a limited post reach all its readers, passed on by the post's author (as
//! diaspora* relays them). Three pods: alice on A writes to her aspect "Friends", which holds
//! bob (on B) and carol (on C); dave (on C) follows alice and is in no aspect. Bob answers as a
//! server that names only the post's author would (Mastodon's replies do), with his Linked Data
//! signature: A passes it on to carol, who reads it on C; dave never does. A comment from
//! someone who may not read the post is not passed on, and a pass-on by anyone but the post's
//! author, or of a tampered comment, is refused.

use pod::{PostAudience, Running};
use serde_json::{Value, json};

use crate::support::{Session, deliver_to, eventually, person, pod, until_following};

/// A `Create` of a comment by `name` of `by` (id `{actor}/comments/{n}`) answering `post`,
/// addressed to `to` only, with `name`'s Linked Data signature.
async fn signed_comment(
    by: &Running,
    name: &str,
    n: u32,
    post: &str,
    to: &str,
    text: &str,
) -> Value {
    let actor = by.instance.actor_id(name).to_string();
    let id = format!("{actor}/comments/{n}");
    let create = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{id}/activity"),
        "type": "Create",
        "actor": actor,
        "to": [to],
        "object": {
            "id": id,
            "type": "Note",
            "attributedTo": actor,
            "inReplyTo": post,
            "content": format!("<p>{text}</p>"),
            "published": "2026-12-07T12:00:00Z",
            "to": [to],
        },
    });
    let keys = by
        .instance
        .state()
        .signing_keys(name)
        .await
        .unwrap()
        .unwrap();
    ld_signatures::sign(
        &create,
        &format!("{actor}#main-key"),
        time::OffsetDateTime::now_utc(),
        &keys.rsa,
    )
    .unwrap()
}

fn accepted(status: u16) -> bool {
    (200..300).contains(&status)
}

fn remote_page(id: &str) -> String {
    format!(
        "/posts/remote?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", id)
            .finish()
    )
}

async fn kept(at: &Running, id: &str) -> bool {
    at.instance.state().object(id).await.unwrap().is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comment_on_a_limited_post_reaches_all_its_readers_through_its_author() {
    limited_thread().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn limited_thread() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let c = pod(dir.path(), "C").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let carol = person(&c, "carol").await;
    let dave = person(&c, "dave").await;
    b.instance.follow("bob", &alice).await.unwrap();
    c.instance.follow("carol", &alice).await.unwrap();
    c.instance.follow("dave", &alice).await.unwrap();
    for follower in [&bob, &carol, &dave] {
        until_following(&a, follower, &alice).await;
    }
    let friends = a.instance.create_aspect("alice", "Friends").await.unwrap();
    a.instance
        .add_to_aspect("alice", &friends, &bob)
        .await
        .unwrap();
    a.instance
        .add_to_aspect("alice", &friends, &carol)
        .await
        .unwrap();
    let post = a
        .instance
        .write_post(
            "alice",
            "Dinner on Friday, friends only.",
            &PostAudience::Aspects(vec![friends]),
        )
        .await
        .unwrap();
    eventually("bob and carol have the post", || async {
        kept(&b, &post).await && kept(&c, &post).await
    })
    .await;
    let a_inbox = a.base_url.join("inbox").unwrap().to_string();

    // Bob answers alice only, signed: A threads it and passes it on to carol.
    let from_bob = signed_comment(&b, "bob", 1, &post, &alice, "I bring dessert").await;
    let bob_comment = from_bob["object"]["id"].as_str().unwrap().to_owned();
    assert!(accepted(deliver_to(&b, "bob", &a_inbox, &from_bob).await.0));
    let carol_web = Session::new(&c, "carol").await;
    let dave_web = Session::new(&c, "dave").await;
    eventually("carol reads bob's comment on C", || async {
        carol_web
            .get(&remote_page(&post))
            .await
            .1
            .contains("I bring dessert")
    })
    .await;
    let alice_web = Session::new(&a, "alice").await;
    let post_path = url::Url::parse(&post).unwrap().path().to_owned();
    assert!(
        alice_web
            .get(&post_path)
            .await
            .1
            .contains("I bring dessert")
    );
    // Dave, on the same pod as carol, reads neither the post nor the comment.
    assert_eq!(dave_web.get(&remote_page(&post)).await.0, 404);
    assert_eq!(dave_web.get(&remote_page(&bob_comment)).await.0, 404);
    assert!(!dave_web.get("/").await.1.contains("I bring dessert"));
    // Carol's request for its page is sent to the thread's (dave's was not found); its stored
    // addressing names her as a hidden reader, and not dave.
    assert_eq!(carol_web.get(&remote_page(&bob_comment)).await.0, 303);
    let stored = c
        .instance
        .state()
        .object(&bob_comment)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.document.get("bcc").is_none(), "{}", stored.document);
    assert!(
        stored.addressing.bcc.contains(&carol),
        "{:?}",
        stored.addressing
    );
    assert!(!stored.addressing.bcc.contains(&dave));

    // Dave, who may not read the post, answers it (signed, to alice): A keeps nothing for its
    // readers and passes nothing on. A later comment of bob's arrives; dave's never does.
    let from_dave = signed_comment(&c, "dave", 1, &post, &alice, "Let me in").await;
    let dave_comment = from_dave["object"]["id"].as_str().unwrap().to_owned();
    assert!(accepted(
        deliver_to(&c, "dave", &a_inbox, &from_dave).await.0
    ));
    let again = signed_comment(&b, "bob", 2, &post, &alice, "And the wine").await;
    assert!(accepted(deliver_to(&b, "bob", &a_inbox, &again).await.0));
    eventually("carol reads bob's second comment", || async {
        carol_web
            .get(&remote_page(&post))
            .await
            .1
            .contains("And the wine")
    })
    .await;
    assert!(!kept(&b, &dave_comment).await);
    assert!(!kept(&c, &dave_comment).await);
    let (_, bob_view) = Session::new(&b, "bob").await.get(&remote_page(&post)).await;
    assert!(!bob_view.contains("Let me in"), "{bob_view}");
    // On A, alice does not see it as part of her post's thread for its readers either: it is
    // addressed to her alone.
    let stored = a.instance.state().object(&dave_comment).await.unwrap();
    if let Some(stored) = stored {
        assert!(stored.addressing.bcc.is_empty(), "{:?}", stored.addressing);
    }

    // A pass-on by someone other than the post's author is refused: carol passing bob's
    // comment on to B. So is alice's pass-on of a comment altered after bob signed it.
    let b_inbox = b.base_url.join("inbox").unwrap().to_string();
    let third = signed_comment(&b, "bob", 3, &post, &alice, "Third").await;
    assert_eq!(deliver_to(&c, "carol", &b_inbox, &third).await.0, 401);
    let c_inbox = c.base_url.join("inbox").unwrap().to_string();
    let mut tampered = signed_comment(&b, "bob", 4, &post, &alice, "Fourth").await;
    tampered["object"]["content"] = json!("<p>Carol is not invited</p>");
    assert_eq!(deliver_to(&a, "alice", &c_inbox, &tampered).await.0, 401);
    // Alice's pass-on of the genuine one is taken.
    let fifth = signed_comment(&b, "bob", 5, &post, &alice, "Fifth").await;
    assert!(accepted(deliver_to(&a, "alice", &c_inbox, &fifth).await.0));
    assert!(kept(&c, fifth["object"]["id"].as_str().unwrap()).await);

    for running in [a, b, c] {
        running.stop().await.unwrap();
    }
}
