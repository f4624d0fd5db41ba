//! A pod's subscription to the tag relay over time. While the relay blocks the pod's instance
//! actor, what the pod sends it is refused (`403`) and the delivery queue gives it up: the
//! subscription and the tag's follow stay `pending` (`tag_relay_state`). Once unblocked, naming
//! the relay again sends both again, and they are accepted; naming it once more sends nothing
//! accepted again. Removing the tag relay undoes the tag actor's follow and the subscription on
//! the relay, forgets the relay on the pod, and keeps the posts it brought.

use instance_state::blocks::BlockTarget;
use pod::PostAudience;
use serde_json::{Value, json};
use tag_relay::WithParts as _;

use crate::support::{
    eventually, follow_tag, person, pod, relay, stream, until_following, until_subscribed,
};

/// How many deliveries of the queue at `path` (a SQLite file) were given up (`dead`), or are
/// waiting or in flight; `None` when it cannot be read.
async fn deliveries(path: &std::path::Path, dead: bool) -> Option<i64> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .ok()?;
    let sql = if dead {
        "SELECT count(*) FROM fq_deliveries WHERE state = 2"
    } else {
        "SELECT count(*) FROM fq_deliveries WHERE state IN (0, 1)"
    };
    let count: Option<i64> = sqlx::query_scalar(sql).fetch_one(&pool).await.ok();
    pool.close().await;
    count
}

/// How many deliveries the queue at `path` gave up.
async fn dead_letters(path: &std::path::Path) -> i64 {
    deliveries(path, true).await.unwrap_or(0)
}

/// The number of items in the outbox of `name` on `relay`.
async fn outbox_total(relay: &tag_relay::Running, name: &str) -> u64 {
    relay
        .instance
        .state()
        .collection_items(
            name,
            federation::routes::CollectionKind::Outbox,
            0,
            10,
            None,
        )
        .await
        .unwrap()
        .unwrap()
        .total
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_follow_never_answered_is_sent_again_and_the_tag_relay_can_be_removed() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(dir.path()).await;
    let a = pod(dir.path(), "A").await;
    let c = pod(dir.path(), "C").await;
    person(&a, "alice").await;
    person(&c, "carol").await;
    let c_actor = c.instance.instance_actor().to_string();
    let tag_actor = relay.instance.actor_id("tag-climate").to_string();
    let relay_actor = relay.instance.instance_actor().to_string();
    a.instance.set_tag_relay(&relay.base_url).await.unwrap();
    until_subscribed(&a, &relay).await;

    // The relay blocks C's instance actor; carol follows #climate and C names the relay: the
    // tag's actor is found (WebFinger is not signed), but the relay refuses C's Follows and the
    // queue gives them up.
    let blocked = BlockTarget::Actor(c_actor.clone());
    relay
        .instance
        .state()
        .block(None, &blocked, "test")
        .await
        .unwrap();
    follow_tag(&c, "carol", "climate").await;
    let named = c.instance.set_tag_relay(&relay.base_url).await.unwrap();
    assert_eq!(named["followed"], json!([tag_actor]), "{named}");
    let queue = dir.path().join("C.sqlite.queue");
    eventually("C's deliveries to the relay given up", || async {
        dead_letters(&queue).await >= 2
    })
    .await;
    let state = c.instance.tag_relay_state().await.unwrap().unwrap();
    assert_eq!(state.tag_relay, relay.base_url.to_string());
    assert_eq!(state.subscription.as_ref().unwrap().state, "pending");
    assert_eq!(state.tags.len(), 1, "{state:?}");
    assert_eq!(state.tags[0].tag, "climate");
    assert_eq!(state.tags[0].actor.as_deref(), Some(tag_actor.as_str()));
    assert_eq!(state.tags[0].state, "pending");
    let on_relay = relay.instance.state();
    assert!(
        on_relay
            .follow(&c_actor, &tag_actor)
            .await
            .unwrap()
            .is_none()
    );

    // Unblocked, the relay named again: the subscription and the tag's follow are sent again,
    // and accepted.
    on_relay.unblock(None, &blocked).await.unwrap();
    let again = c.instance.set_tag_relay(&relay.base_url).await.unwrap();
    assert_eq!(again["followed"], json!([tag_actor]), "{again}");
    until_subscribed(&c, &relay).await;
    until_following(&relay, &c_actor, &tag_actor).await;
    eventually("C records the tag actor's Accept", || async {
        c.instance.tag_relay_state().await.unwrap().unwrap().tags[0].state == "accepted"
    })
    .await;
    // Named once more: what is accepted is not sent again.
    let once_more = c.instance.set_tag_relay(&relay.base_url).await.unwrap();
    assert_eq!(once_more["followed"], json!([]), "{once_more}");
    assert_eq!(once_more["accepted"], json!([tag_actor]), "{once_more}");
    assert_eq!(
        once_more["subscription"]["state"], "accepted",
        "{once_more}"
    );

    // A post with the tag reaches carol through the relay.
    a.instance
        .write_post("alice", "A warm winter #climate", &PostAudience::Public)
        .await
        .unwrap();
    eventually("alice's post reaches carol's stream", || async {
        stream(&c, "carol").await.contains("A warm winter")
    })
    .await;

    // Removed: the relay no longer counts C among the tag's followers nor its subscribers, C
    // forgot the relay, and carol keeps the post it brought.
    let removed = c.instance.remove_tag_relay().await.unwrap();
    assert_eq!(removed["unfollowed"], json!([tag_actor]), "{removed}");
    assert_eq!(removed["unsubscribed"], true, "{removed}");
    assert!(c.instance.tag_relay().await.unwrap().is_none());
    assert!(c.instance.tag_relay_state().await.unwrap().is_none());
    assert!(c.instance.relays().await.unwrap().is_empty());
    eventually("the relay drops C's follow of the tag", || async {
        on_relay
            .follow(&c_actor, &tag_actor)
            .await
            .unwrap()
            .is_none()
    })
    .await;
    eventually("the relay drops C's subscription", || async {
        on_relay
            .follow(&c_actor, &relay_actor)
            .await
            .unwrap()
            .is_none()
    })
    .await;
    assert!(stream(&c, "carol").await.contains("A warm winter"));
    // Nothing named any more: removing again does nothing.
    assert_eq!(
        c.instance.remove_tag_relay().await.unwrap()["tag_relay"],
        Value::Null
    );
    a.stop().await.unwrap();
    c.stop().await.unwrap();
    relay.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_for_some_tags_sends_the_relay_only_their_posts() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(dir.path()).await;
    let a = pod(dir.path(), "A").await;
    let c = pod(dir.path(), "C").await;
    person(&a, "alice").await;
    person(&c, "carol").await;

    // Carol on C follows #climate and #energy through the relay.
    c.instance.set_tag_relay(&relay.base_url).await.unwrap();
    until_subscribed(&c, &relay).await;
    follow_tag(&c, "carol", "climate").await;
    follow_tag(&c, "carol", "energy").await;
    let c_actor = c.instance.instance_actor().to_string();
    for tag in ["tag-climate", "tag-energy"] {
        until_following(&relay, &c_actor, relay.instance.actor_id(tag).as_str()).await;
    }

    // A sends the relay its posts with #climate only; naming the relay again keeps that.
    a.instance.set_tag_relay(&relay.base_url).await.unwrap();
    let subscription = a
        .instance
        .set_tag_relay_tags(Some(&["#Climate".to_owned()]))
        .await
        .unwrap();
    assert_eq!(subscription.tags, Some(vec!["climate".to_owned()]));
    until_subscribed(&a, &relay).await;
    let again = a.instance.set_tag_relay(&relay.base_url).await.unwrap();
    assert_eq!(again["subscription"]["tags"], json!(["climate"]), "{again}");

    let write = |text: &'static str| {
        let a = &a;
        async move {
            a.instance
                .write_post("alice", text, &PostAudience::Public)
                .await
                .unwrap()
        }
    };
    write("Wind farms #energy").await;
    write("Melting ice #climate #energy").await;
    eventually("the #climate post reaches carol", || async {
        stream(&c, "carol").await.contains("Melting ice")
    })
    .await;
    let queue = dir.path().join("A.sqlite.queue");
    eventually("A's deliveries done", || async {
        deliveries(&queue, false).await == Some(0)
    })
    .await;
    // The #energy post never went to the relay: tag-energy announced the other one only.
    assert_eq!(outbox_total(&relay, "tag-energy").await, 1);
    assert_eq!(outbox_total(&relay, "tag-climate").await, 1);
    assert!(!stream(&c, "carol").await.contains("Wind farms"));

    // Every public post again: the next #energy post reaches carol.
    let subscription = a.instance.set_tag_relay_tags(None).await.unwrap();
    assert_eq!(subscription.tags, None);
    write("Solar roofs #energy").await;
    eventually("the #energy post reaches carol", || async {
        stream(&c, "carol").await.contains("Solar roofs")
    })
    .await;
    assert_eq!(outbox_total(&relay, "tag-energy").await, 2);
    a.stop().await.unwrap();
    c.stop().await.unwrap();
    relay.stop().await.unwrap();
}
