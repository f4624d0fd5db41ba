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

/// How many deliveries the queue at `path` (a SQLite file) gave up.
async fn dead_letters(path: &std::path::Path) -> i64 {
    let Ok(pool) = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await else {
        return 0;
    };
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM fq_deliveries WHERE state = 2")
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
    pool.close().await;
    dead
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
