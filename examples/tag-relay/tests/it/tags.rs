//! Three pods and the tag relay: A and C name the relay (and so subscribe to it), B does not.
//! Carol on C follows `#climate`, so C's instance actor follows `tag-climate` on the relay; a
//! public post with `#Climate` by alice on A reaches carol's stream though nobody on C follows
//! alice; bob on B, who follows the tag too but whose pod has no tag relay, does not get it;
//! alice's untagged post, her post to her followers and her post to an aspect are never
//! relayed.

use activitypub_core::Iri;
use instance_state::follows::FollowState;
use pod::PostAudience;
use tag_relay::{Relayed, WithParts as _};

use crate::support::{
    PUBLIC, eventually, follow_tag, note, page, person, pod, relay, stream, until_following,
    until_subscribed,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_tagged_post_reaches_a_tag_follower_on_another_pod_through_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(dir.path()).await;
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let c = pod(dir.path(), "C").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let carol = person(&c, "carol").await;

    // A and C name the tag relay: each subscribes to it, as to a Mastodon relay.
    a.instance.set_tag_relay(&relay.base_url).await.unwrap();
    c.instance.set_tag_relay(&relay.base_url).await.unwrap();
    until_subscribed(&a, &relay).await;
    until_subscribed(&c, &relay).await;

    // Carol follows the tag on C: C's instance actor follows the tag's actor on the relay.
    follow_tag(&c, "carol", "climate").await;
    let tag_actor = relay.instance.actor_id("tag-climate").to_string();
    let c_actor = c.instance.instance_actor().to_string();
    until_following(&relay, &c_actor, &tag_actor).await;
    eventually("C records the relay's Accept", || async {
        c.instance
            .state()
            .follow(&c_actor, &tag_actor)
            .await
            .unwrap()
            .is_some_and(|f| f.state == FollowState::Accepted)
    })
    .await;
    // Bob follows it on B, which has no tag relay.
    follow_tag(&b, "bob", "climate").await;

    // Alice follows bob, so that she can put him in an aspect (B hears nothing of alice
    // from that: nobody on B follows her).
    a.instance.follow("alice", &bob).await.unwrap();
    eventually("alice follows bob", || async {
        a.instance
            .state()
            .follow(&alice, &bob)
            .await
            .unwrap()
            .is_some_and(|f| f.state == FollowState::Accepted)
    })
    .await;
    let friends = a.instance.create_aspect("alice", "Friends").await.unwrap();
    a.instance
        .add_to_aspect("alice", &friends, &bob)
        .await
        .unwrap();

    let write = |text: &'static str, audience: PostAudience| {
        let a = &a;
        async move {
            a.instance
                .write_post("alice", text, &audience)
                .await
                .unwrap()
        }
    };
    let aspect_post = write(
        "Only for friends #climate",
        PostAudience::Aspects(vec![friends.clone()]),
    )
    .await;
    write("Only for followers #climate", PostAudience::Followers).await;
    write("Nothing tagged here", PostAudience::Public).await;
    let post = write("The glaciers are melting #Climate", PostAudience::Public).await;

    eventually("alice's tagged post in carol's stream", || async {
        stream(&c, "carol")
            .await
            .contains("The glaciers are melting")
    })
    .await;
    assert!(
        c.instance
            .state()
            .follow(&carol, &alice)
            .await
            .unwrap()
            .is_none()
    );
    let carols = stream(&c, "carol").await;
    for absent in [
        "Only for friends",
        "Only for followers",
        "Nothing tagged here",
    ] {
        assert!(!carols.contains(absent), "{absent} reached C: {carols}");
    }
    // The relay announced the post once, by the tag's actor.
    let outbox = relay
        .instance
        .state()
        .collection_items(
            "tag-climate",
            federation::routes::CollectionKind::Outbox,
            0,
            10,
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outbox.total, 1, "{:?}", outbox.items);
    let announce = outbox.items[0].to_string();
    assert!(
        announce.contains(&post) && announce.contains("Announce"),
        "{announce}"
    );
    // Bob's pod has no tag relay: it has the aspect post (to bob), not the tagged one.
    let aspect_page = format!(
        "posts/remote?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", &aspect_post)
            .finish()
    );
    eventually("the aspect post reaches bob", || async {
        page(&b, "bob", &aspect_page)
            .await
            .contains("Only for friends")
    })
    .await;
    let bobs = stream(&b, "bob").await;
    assert!(!bobs.contains("The glaciers are melting"), "{bobs}");

    // What the relay does with posts that are not public or not tagged, whoever sends them.
    let author = Iri::parse(alice.as_str()).unwrap();
    let followers = format!("{alice}/followers");
    let cases = [
        (
            note(&alice, 90, "For followers", "climate", &[&followers]),
            Relayed::Dropped("not public"),
        ),
        (
            note(&alice, 91, "To bob", "climate", &[&bob]),
            Relayed::Dropped("not public"),
        ),
        (
            note(&alice, 92, "Named but not tagged", "", &[PUBLIC]),
            Relayed::Dropped("no hashtag"),
        ),
    ];
    for (document, expected) in cases {
        assert_eq!(
            relay.instance.relay_post(&document, &author).await.unwrap(),
            expected,
            "{document}"
        );
    }
    for running in [a, b, c] {
        running.stop().await.unwrap();
    }
    relay.stop().await.unwrap();
}
