//! Aspect privacy end to end with two pods: alice on A writes to her aspect "Friends", which
//! holds bob (on B) and not carol (also on B, also following alice). Bob gets the post and can
//! fetch it with his signature; carol, with a valid signature of her own, cannot; nobody
//! anonymous can; it is in no public page, outbox or collection for outsiders; bob's comment is
//! threaded under it on A.

use pod::PostAudience;

use crate::support::{
    Session, eventually, fetch, html, person, pod, signed_fetch, until_following,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_post_to_an_aspect_reaches_and_is_read_by_its_members_only() {
    aspect_privacy().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn aspect_privacy() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let carol = person(&b, "carol").await;
    b.instance.follow("bob", &alice).await.unwrap();
    b.instance.follow("carol", &alice).await.unwrap();
    until_following(&a, &bob, &alice).await;
    until_following(&a, &carol, &alice).await;
    // Alice follows bob back: the aspect page lists both directions.
    a.instance.follow("alice", &bob).await.unwrap();
    until_following(&b, &alice, &bob).await;

    // Alice sorts bob into "Friends" on the aspects page.
    let alice_web = Session::new(&a, "alice").await;
    let (status, _) = alice_web.post("/aspects", &[("name", "Friends")]).await;
    assert_eq!(status, 303);
    let (_, page) = alice_web.get("/aspects").await;
    assert!(page.contains("Friends"), "{page}");
    // Carol is a contact too, shown with her handle.
    assert!(page.contains("@carol@"), "{page}");
    let aspect = page
        .split("name=\"aspect\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let (status, _) = alice_web
        .post(
            "/aspects/members",
            &[("aspect", &aspect), ("member", &bob), ("included", "1")],
        )
        .await;
    assert_eq!(status, 303);
    // Someone who is no contact is refused.
    let (status, _) = alice_web
        .post(
            "/aspects/members",
            &[
                ("aspect", &aspect),
                ("member", "http://127.0.0.1:9/actors/stranger"),
                ("included", "1"),
            ],
        )
        .await;
    assert_eq!(status, 422);

    // The compose form posts to the aspect; a public post beside it.
    let (status, location) = alice_web
        .post(
            "/posts",
            &[
                ("text", "Dinner at mine on *Friday*, friends only."),
                ("audience", "aspects"),
                ("aspect", &aspect),
            ],
        )
        .await;
    assert_eq!(status, 303, "{location}");
    let limited = a.base_url.join(&location).unwrap().to_string();
    let public = a
        .instance
        .write_post("alice", "A public hello.", &PostAudience::Public)
        .await
        .unwrap();
    // The post's page tells alice who it is for.
    let (_, page) = alice_web.get(&location).await;
    assert!(page.contains("Limited to Friends"), "{page}");
    assert!(page.contains("<em>Friday</em>"), "{page}");

    // Bob sees it in his stream on B; carol sees the public post only.
    let bob_web = Session::new(&b, "bob").await;
    let carol_web = Session::new(&b, "carol").await;
    eventually("bob's stream shows the aspect post", || async {
        bob_web.get("/").await.1.contains("friends only")
    })
    .await;
    eventually("carol's stream shows the public post", || async {
        carol_web.get("/").await.1.contains("A public hello.")
    })
    .await;
    assert!(!carol_web.get("/").await.1.contains("friends only"));

    // The document: to bob by id, no Mention, nothing public, no followers collection.
    let (status, note) = signed_fetch(&b, "bob", &limited).await;
    assert_eq!(status, 200, "{note}");
    assert_eq!(note["to"], serde_json::json!([bob]));
    assert!(
        note.get("cc")
            .is_none_or(|cc| cc.as_array().is_some_and(Vec::is_empty)),
        "{note}"
    );
    assert_eq!(note["tag"], serde_json::json!([]));
    // Carol's valid signature from the same server, B's instance actor's, and nobody's: refused.
    assert_eq!(signed_fetch(&b, "carol", &limited).await.0, 404);
    assert_eq!(signed_fetch(&b, pod::INSTANCE_ACTOR, &limited).await.0, 404);
    assert_eq!(fetch(&limited).await.0, 404);
    // The public post is anyone's.
    assert_eq!(fetch(&public).await.0, 200);

    // Alice's outbox: the Create of the aspect post for bob only.
    let outbox = format!("{alice}/outbox?page=1");
    let holds = |page: &serde_json::Value| page.to_string().contains(&limited);
    assert!(holds(&signed_fetch(&b, "bob", &outbox).await.1));
    let (_, for_carol) = signed_fetch(&b, "carol", &outbox).await;
    assert!(for_carol.to_string().contains(&public), "{for_carol}");
    assert!(!holds(&for_carol));
    let (_, anonymous) = fetch(&outbox).await;
    assert!(anonymous.to_string().contains(&public), "{anonymous}");
    assert!(!holds(&anonymous));
    // Neither followers nor following hold posts, and carol's scope is no wider there.
    for collection in ["followers", "following"] {
        let (_, page) = signed_fetch(&b, "carol", &format!("{alice}/{collection}?page=1")).await;
        assert!(!holds(&page), "{page}");
    }

    // No public page shows it: A's front page, alice's page, the post's page.
    let (_, front) = html(a.base_url.to_string()).await;
    assert!(front.contains("A public hello."), "{front}");
    assert!(!front.contains("friends only"));
    let (_, person_page) = html(alice.clone()).await;
    assert!(person_page.contains("A public hello."), "{person_page}");
    assert!(!person_page.contains("friends only"));
    let (status, post_page) = html(limited.clone()).await;
    assert_eq!(status, 404);
    assert!(!post_page.contains("friends only"));
    // Nor, on B, for carol: the post's page there.
    let remote_page = format!(
        "/posts/remote?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", &limited)
            .finish()
    );
    assert_eq!(carol_web.get(&remote_page).await.0, 404);
    assert_eq!(bob_web.get(&remote_page).await.0, 200);

    // Bob comments from B: the comment goes to alice (and the post's readers) and is threaded
    // under the post on A; it is no more public than the post.
    let comment = b
        .instance
        .write_comment("bob", &limited, "I'll bring dessert.")
        .await
        .unwrap();
    eventually("the comment is under the post on A", || async {
        alice_web.get(&location).await.1.contains("bring dessert")
    })
    .await;
    let (_, page) = alice_web.get(&location).await;
    assert!(page.contains("1 comment"), "{page}");
    assert_eq!(fetch(&comment).await.0, 404);
    assert_eq!(signed_fetch(&b, "carol", &comment).await.0, 404);
    let (status, document) = signed_fetch(&a, "alice", &comment).await;
    assert_eq!(status, 200, "{document}");
    assert_eq!(document["inReplyTo"], serde_json::json!(limited));

    // Carol cannot comment on what she cannot read.
    assert!(
        b.instance
            .write_comment("carol", &limited, "Let me in.")
            .await
            .is_err()
    );

    // Bob likes it: counted on A; a reshare of it is refused (it is not public).
    b.instance.like("bob", &limited).await.unwrap();
    eventually("alice sees bob's like", || async {
        alice_web.get(&location).await.1.contains("1 like")
    })
    .await;
    let refused = b.instance.reshare("bob", &limited).await.unwrap_err();
    assert!(matches!(
        refused.downcast_ref::<pod::Refused>(),
        Some(pod::Refused::NotPublic)
    ));

    // Carol reshares the public post: counted on A.
    assert!(b.instance.reshare("carol", &public).await.unwrap());
    let public_path = url::Url::parse(&public).unwrap().path().to_owned();
    eventually("alice sees carol's reshare", || async {
        alice_web.get(&public_path).await.1.contains("1 reshare")
    })
    .await;

    // Alice deletes it: gone on B too.
    let (status, _) = alice_web.post("/posts/delete", &[("post", &limited)]).await;
    assert_eq!(status, 303);
    eventually("bob's stream no longer shows it", || async {
        !bob_web.get("/").await.1.contains("friends only")
    })
    .await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn aspects_are_made_renamed_and_deleted_by_their_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    person(&a, "alice").await;
    person(&a, "mallory").await;
    let alice = Session::new(&a, "alice").await;
    let mallory = Session::new(&a, "mallory").await;
    assert_eq!(alice.post("/aspects", &[("name", "Work")]).await.0, 303);
    // The same name again, an empty one, and one too long are refused.
    assert_eq!(alice.post("/aspects", &[("name", "Work")]).await.0, 422);
    assert_eq!(alice.post("/aspects", &[("name", "  ")]).await.0, 422);
    assert_eq!(
        alice.post("/aspects", &[("name", &"x".repeat(61))]).await.0,
        422
    );
    let (_, page) = alice.get("/aspects").await;
    let aspect = page
        .split("name=\"aspect\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    // Mallory cannot rename or delete alice's.
    assert_eq!(
        mallory
            .post("/aspects/rename", &[("aspect", &aspect), ("name", "Mine")])
            .await
            .0,
        422
    );
    assert_eq!(
        mallory
            .post("/aspects/delete", &[("aspect", &aspect)])
            .await
            .0,
        422
    );
    assert_eq!(
        alice
            .post(
                "/aspects/rename",
                &[("aspect", &aspect), ("name", "Colleagues")]
            )
            .await
            .0,
        303
    );
    let (_, page) = alice.get("/aspects").await;
    assert!(
        page.contains("Colleagues") && !page.contains(">Work<"),
        "{page}"
    );
    // A post to an aspect that holds nobody is refused, with the form again.
    let (status, page) = alice
        .post(
            "/posts",
            &[
                ("text", "Hello"),
                ("audience", "aspects"),
                ("aspect", &aspect),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("have nobody in them"), "{page}");
    assert_eq!(
        alice
            .post("/aspects/delete", &[("aspect", &aspect)])
            .await
            .0,
        303
    );
    let (_, page) = alice.get("/aspects").await;
    assert!(!page.contains("Colleagues"), "{page}");
    // Without a token, refused.
    let forged = Session {
        csrf: "forged".to_owned(),
        ..Session::new(&a, "alice").await
    };
    assert_eq!(forged.post("/aspects", &[("name", "Sneaky")]).await.0, 403);
    a.stop().await.unwrap();
}
