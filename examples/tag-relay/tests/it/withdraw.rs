//! A relayed post deleted at its server is withdrawn: the relay's tag actors send `Undo` of
//! their `Announce`s, and a pod that kept the post through the relay drops it once the post's
//! server answers that it is gone. An `Update` adding a tag is announced by the new tag only.

use instance_state::follows::FollowState;
use pod::PostAudience;
use tag_relay::WithParts as _;

use crate::support::{
    eventually, follow_tag, page, person, pod, relay, stream, until_following, until_subscribed,
};

/// The activities in tag actor `tag`'s outbox, as text.
async fn outbox(relay: &tag_relay::Running, tag: &str) -> Vec<String> {
    relay
        .instance
        .state()
        .collection_items(tag, federation::routes::CollectionKind::Outbox, 0, 20, None)
        .await
        .unwrap()
        .unwrap()
        .items
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_post_is_withdrawn_and_an_edited_one_announced_by_its_new_tags() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(dir.path()).await;
    let a = pod(dir.path(), "A").await;
    let c = pod(dir.path(), "C").await;
    person(&a, "alice").await;
    person(&c, "carol").await;
    a.instance.set_tag_relay(&relay.base_url).await.unwrap();
    c.instance.set_tag_relay(&relay.base_url).await.unwrap();
    until_subscribed(&a, &relay).await;
    until_subscribed(&c, &relay).await;

    let c_actor = c.instance.instance_actor().to_string();
    for tag in ["climate", "energy"] {
        follow_tag(&c, "carol", tag).await;
        let tag_actor = relay.instance.actor_id(&format!("tag-{tag}")).to_string();
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
    }

    let kept = a
        .instance
        .write_post(
            "alice",
            "Solar panels on the school #climate",
            &PostAudience::Public,
        )
        .await
        .unwrap();
    let deleted = a
        .instance
        .write_post(
            "alice",
            "A rumour about the dam #climate",
            &PostAudience::Public,
        )
        .await
        .unwrap();
    eventually("both posts in carol's stream", || async {
        let carols = stream(&c, "carol").await;
        carols.contains("Solar panels") && carols.contains("A rumour about the dam")
    })
    .await;

    // Alice deletes one: her pod sends the Delete to its relay subscription; the tag actor
    // withdraws its Announce, and C, asking A, finds the post gone and drops it.
    a.instance.delete_post("alice", &deleted).await.unwrap();
    eventually("the withdrawn post leaves carol's stream", || async {
        !stream(&c, "carol").await.contains("A rumour about the dam")
    })
    .await;
    let climate = outbox(&relay, "tag-climate").await;
    let undos: Vec<&String> = climate.iter().filter(|a| a.contains("\"Undo\"")).collect();
    assert_eq!(undos.len(), 1, "{climate:?}");
    assert!(undos[0].contains(&deleted), "{}", undos[0]);
    // The other post stays, at C and announced.
    let carols = stream(&c, "carol").await;
    assert!(carols.contains("Solar panels"), "{carols}");
    let tag_page = page(&c, "carol", "tags/climate").await;
    assert!(!tag_page.contains("A rumour about the dam"), "{tag_page}");

    // Alice adds #energy to the kept post: the Update reaches the relay, and only the new
    // tag's actor announces it (the climate one did already).
    a.instance
        .edit_post(
            "alice",
            &kept,
            "Solar panels on the school #climate #energy",
        )
        .await
        .unwrap();
    eventually("tag-energy announces the edited post", || async {
        outbox(&relay, "tag-energy")
            .await
            .iter()
            .any(|a| a.contains("Announce") && a.contains(&kept))
    })
    .await;
    let climate = outbox(&relay, "tag-climate").await;
    let announces = climate
        .iter()
        .filter(|a| a.contains("\"Announce\"") && !a.contains("\"Undo\"") && a.contains(&kept))
        .count();
    assert_eq!(announces, 1, "{climate:?}");

    for running in [a, c] {
        running.stop().await.unwrap();
    }
    relay.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_with_letters_outside_ascii_has_an_actor_and_is_relayed() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(dir.path()).await;
    let a = pod(dir.path(), "A").await;
    let c = pod(dir.path(), "C").await;
    person(&a, "alice").await;
    person(&c, "carol").await;
    a.instance.set_tag_relay(&relay.base_url).await.unwrap();
    c.instance.set_tag_relay(&relay.base_url).await.unwrap();
    until_subscribed(&a, &relay).await;
    until_subscribed(&c, &relay).await;

    // Carol follows #Café (as written on a French keyboard, or with a combining accent): C's
    // instance actor follows tag-xn--caf-dma, found by WebFinger.
    follow_tag(&c, "carol", "Cafe\u{301}").await;
    let tag_actor = relay.instance.actor_id("tag-xn--caf-dma").to_string();
    let c_actor = c.instance.instance_actor().to_string();
    until_following(&relay, &c_actor, &tag_actor).await;
    let (status, actor) = crate::support::fetch_json(&tag_actor).await;
    assert_eq!(status, 200, "{actor}");
    assert_eq!(actor["name"], "#café");
    assert_eq!(actor["preferredUsername"], "tag-xn--caf-dma");

    a.instance
        .write_post(
            "alice",
            "Opening of the #CAFÉ on the square",
            &PostAudience::Public,
        )
        .await
        .unwrap();
    eventually("the post reaches carol through tag-xn--caf-dma", || async {
        stream(&c, "carol").await.contains("Opening of the")
    })
    .await;
    assert_eq!(outbox(&relay, "tag-xn--caf-dma").await.len(), 1);

    for running in [a, c] {
        running.stop().await.unwrap();
    }
    relay.stop().await.unwrap();
}
