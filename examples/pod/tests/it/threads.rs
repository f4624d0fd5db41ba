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

/// `activity` with the Linked Data signature of `name` of `by`.
async fn ld_sign(by: &Running, name: &str, activity: &Value) -> Value {
    let keys = by
        .instance
        .state()
        .signing_keys(name)
        .await
        .unwrap()
        .unwrap();
    ld_signatures::sign(
        activity,
        &format!("{}#main-key", by.instance.actor_id(name)),
        time::OffsetDateTime::now_utc(),
        &keys.rsa,
    )
    .unwrap()
}

/// An `Update` (id `{comment}/{tag}`) by `actor` of the comment `comment` (written by
/// `writer`, answering `post`) to read `text`, addressed to `to` only.
fn edit(
    actor: &str,
    writer: &str,
    comment: &str,
    tag: &str,
    post: &str,
    to: &str,
    text: &str,
) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{comment}/{tag}"),
        "type": "Update",
        "actor": actor,
        "to": [to],
        "object": {
            "id": comment,
            "type": "Note",
            "attributedTo": writer,
            "inReplyTo": post,
            "content": format!("<p>{text}</p>"),
            "published": "2026-12-07T12:00:00Z",
            "updated": "2026-12-07T12:30:00Z",
            "to": [to],
        },
    })
}

/// A `Delete` (id `{comment}#{tag}`) by `actor` of the comment `comment`, addressed to `to`.
fn deletion(actor: &str, comment: &str, tag: &str, to: &str) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{comment}#{tag}"),
        "type": "Delete",
        "actor": actor,
        "to": [to],
        "object": {"id": comment, "type": "Tombstone"},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_and_deletions_of_a_comment_in_a_limited_thread_reach_all_its_readers() {
    edited_thread().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn edited_thread() {
    // Alice on A writes to Friends: bob and erin on B, carol on C. Bob answers alice only.
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let c = pod(dir.path(), "C").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let erin = person(&b, "erin").await;
    let carol = person(&c, "carol").await;
    b.instance.follow("bob", &alice).await.unwrap();
    b.instance.follow("erin", &alice).await.unwrap();
    c.instance.follow("carol", &alice).await.unwrap();
    for follower in [&bob, &erin, &carol] {
        until_following(&a, follower, &alice).await;
    }
    let friends = a.instance.create_aspect("alice", "Friends").await.unwrap();
    for friend in [&bob, &erin, &carol] {
        a.instance
            .add_to_aspect("alice", &friends, friend)
            .await
            .unwrap();
    }
    let post = a
        .instance
        .write_post(
            "alice",
            "Croquet on Sunday, friends only.",
            &PostAudience::Aspects(vec![friends]),
        )
        .await
        .unwrap();
    eventually("B and C have the post", || async {
        kept(&b, &post).await && kept(&c, &post).await
    })
    .await;
    let a_inbox = a.base_url.join("inbox").unwrap().to_string();
    let c_inbox = c.base_url.join("inbox").unwrap().to_string();
    let from_bob = signed_comment(&b, "bob", 1, &post, &alice, "I bring the flamingos").await;
    let comment = from_bob["object"]["id"].as_str().unwrap().to_owned();
    assert!(accepted(deliver_to(&b, "bob", &a_inbox, &from_bob).await.0));
    let carol_web = Session::new(&c, "carol").await;
    let carol_reads = |text: &'static str| {
        let carol_web = &carol_web;
        let post = &post;
        async move { carol_web.get(&remote_page(post)).await.1.contains(text) }
    };
    eventually("carol reads bob's comment", || {
        carol_reads("I bring the flamingos")
    })
    .await;

    // Forged edits passed on by alice are refused: altered after bob signed it, signed with
    // erin's key in bob's name, or erin's own edit of bob's comment (her name, her key).
    let mut altered = ld_sign(
        &b,
        "bob",
        &edit(&bob, &bob, &comment, "edit-1", &post, &alice, "Genuine"),
    )
    .await;
    altered["object"]["content"] = json!("<p>Carol is not invited</p>");
    assert_eq!(deliver_to(&a, "alice", &c_inbox, &altered).await.0, 401);
    let other_key = ld_sign(
        &b,
        "erin",
        &edit(
            &bob,
            &bob,
            &comment,
            "edit-2",
            &post,
            &alice,
            "Carol is not invited",
        ),
    )
    .await;
    assert_eq!(deliver_to(&a, "alice", &c_inbox, &other_key).await.0, 401);
    let by_erin = ld_sign(
        &b,
        "erin",
        &edit(
            &erin,
            &erin,
            &comment,
            "edit-3",
            &post,
            &alice,
            "Carol is not invited",
        ),
    )
    .await;
    assert_eq!(deliver_to(&a, "alice", &c_inbox, &by_erin).await.0, 401);
    // An edit passed on by someone other than the post's author: erin passing bob's on.
    let genuine = ld_sign(
        &b,
        "bob",
        &edit(
            &bob,
            &bob,
            &comment,
            "edit-4",
            &post,
            &alice,
            "Passed on by erin",
        ),
    )
    .await;
    assert_eq!(deliver_to(&b, "erin", &c_inbox, &genuine).await.0, 401);
    assert!(!carol_reads("Carol is not invited").await);
    assert!(!carol_reads("Passed on by erin").await);

    // Bob's edit, sent to alice only, reaches carol through A.
    let edited = ld_sign(
        &b,
        "bob",
        &edit(
            &bob,
            &bob,
            &comment,
            "edit-5",
            &post,
            &alice,
            "I bring two flamingos",
        ),
    )
    .await;
    assert!(accepted(deliver_to(&b, "bob", &a_inbox, &edited).await.0));
    eventually("carol reads bob's edit", || {
        carol_reads("I bring two flamingos")
    })
    .await;

    // Forged deletions are refused: unsigned, erin's of bob's comment, or passed on by erin.
    let unsigned = deletion(&bob, &comment, "delete-1", &alice);
    assert_eq!(deliver_to(&a, "alice", &c_inbox, &unsigned).await.0, 401);
    let erins = ld_sign(&b, "erin", &deletion(&erin, &comment, "delete-2", &alice)).await;
    assert_eq!(deliver_to(&a, "alice", &c_inbox, &erins).await.0, 401);
    let not_by_the_author = ld_sign(&b, "bob", &deletion(&bob, &comment, "delete-3", &alice)).await;
    assert_eq!(
        deliver_to(&b, "erin", &c_inbox, &not_by_the_author).await.0,
        401
    );
    assert!(carol_reads("I bring two flamingos").await);
    let stored = c.instance.state().object(&comment).await.unwrap().unwrap();
    assert!(!stored.deleted);

    // Bob's deletion, sent to alice only, reaches carol through A.
    let deleted = ld_sign(&b, "bob", &deletion(&bob, &comment, "delete-4", &alice)).await;
    assert!(accepted(deliver_to(&b, "bob", &a_inbox, &deleted).await.0));
    eventually("bob's comment is gone from C", || async {
        !carol_reads("flamingos").await
            && c.instance
                .state()
                .object(&comment)
                .await
                .unwrap()
                .is_none_or(|o| o.deleted)
    })
    .await;
    assert!(
        !Session::new(&a, "alice")
            .await
            .get(url::Url::parse(&post).unwrap().path())
            .await
            .1
            .contains("flamingos")
    );

    // A comment erin writes on B, edits and deletes: carol reads each change, and each of its
    // activities carries erin's Linked Data signature, so that A could pass it on.
    let written = b
        .instance
        .write_comment("erin", &post, "I keep the score")
        .await
        .unwrap();
    eventually("carol reads erin's comment", || {
        carol_reads("I keep the score")
    })
    .await;
    b.instance
        .edit_post("erin", &written, "I keep the score, fairly")
        .await
        .unwrap();
    eventually("carol reads erin's edit", || {
        carol_reads("the score, fairly")
    })
    .await;
    b.instance.delete_post("erin", &written).await.unwrap();
    eventually("erin's comment is gone from C", || async {
        !carol_reads("the score").await
    })
    .await;
    let state = b.instance.state();
    let key = state
        .signing_keys("erin")
        .await
        .unwrap()
        .unwrap()
        .rsa
        .verifying_key();
    let outbox = state
        .outbox(&erin, &state.scope_of(&erin).await.unwrap(), 0, 50)
        .await
        .unwrap();
    for kind in ["Create", "Update", "Delete"] {
        let activity = outbox
            .iter()
            .find(|a| {
                a.kind == kind
                    && (a.document["object"]["id"] == json!(written)
                        || a.document["object"] == json!(written))
            })
            .unwrap_or_else(|| panic!("{kind} in {outbox:?}"));
        assert!(
            ld_signatures::verify(&activity.document, &key).is_ok(),
            "{kind}: {}",
            activity.document
        );
    }

    for running in [a, b, c] {
        running.stop().await.unwrap();
    }
}
