//! The relay's bounds, on a relay in process: a server's posts past its allowance are not
//! relayed; only the first tags of a post are; a lookup of a tag past the most tag actors, or
//! of a name that is no tag actor's, finds nothing.

use activitypub_core::Iri;
use instance_state::follows::FollowState;
use serde_json::json;
use tag_relay::{RelayOptions, Relayed, WithParts as _};
use test_peer::Peer;

use crate::support::{PUBLIC, note, relay_with};

#[tokio::test(flavor = "multi_thread")]
async fn posts_past_the_allowance_and_tags_past_the_bounds_are_not_relayed() {
    let dir = tempfile::tempdir().unwrap();
    let options = RelayOptions::default()
        .with_posts_per_minute(2)
        .with_max_tags(2)
        .with_max_tags_per_post(1);
    let relay = relay_with(dir.path(), options).await;
    let author = "https://a.example/users/alice";
    let iri = Iri::parse(author).unwrap();

    // Two posts a minute (and a burst of as many): the third is refused. Another server's
    // allowance is its own.
    for n in 0..2 {
        let outcome = relay
            .instance
            .relay_post(&note(author, n, "Allowed", "bounds", &[PUBLIC]), &iri)
            .await
            .unwrap();
        assert_eq!(outcome, Relayed::Announced(Vec::new()), "post {n}");
    }
    let third = note(author, 3, "Too many", "bounds", &[PUBLIC]);
    assert_eq!(
        relay.instance.relay_post(&third, &iri).await.unwrap(),
        Relayed::Dropped("over the allowance")
    );

    // At most two tag actors; names that are no tag actor's are none, and WebFinger finds
    // none of them.
    assert!(relay.instance.tag_actor("tag-one").await.unwrap().is_some());
    assert!(relay.instance.tag_actor("tag-two").await.unwrap().is_some());
    assert!(
        relay
            .instance
            .tag_actor("tag-three")
            .await
            .unwrap()
            .is_none()
    );
    assert!(relay.instance.tag_actor("tag-one").await.unwrap().is_some());
    for name in ["tag-One", "tag-", "tag-two words", "someone"] {
        assert!(
            relay.instance.tag_actor(name).await.unwrap().is_none(),
            "{name}"
        );
    }
    let authority = relay.base_url.authority().to_owned();
    for (user, status) in [("tag-two", 200), ("tag-three", 404), ("tag-Two", 404)] {
        let url = relay
            .base_url
            .join(&format!(
                "/.well-known/webfinger?resource=acct:{user}@{authority}"
            ))
            .unwrap();
        let response = reqwest::get(url).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{user}");
    }

    // Both tags followed: a post with both is announced by its first one only.
    let reader = Peer::start().await.unwrap();
    let reader_actor = reader.actor("reader").await.unwrap();
    for name in ["tag-one", "tag-two"] {
        let tag_actor = relay.instance.actor_id(name).to_string();
        relay
            .instance
            .state()
            .put_follow(
                &reader_actor,
                &tag_actor,
                &format!("{reader_actor}#{name}"),
                FollowState::Accepted,
            )
            .await
            .unwrap();
    }
    let other = "https://b.example/users/bob";
    let mut both = note(other, 1, "Two tags", "one", &[PUBLIC]);
    both["tag"] = json!([
        {"type": "Hashtag", "name": "#One"},
        {"type": "Hashtag", "name": "#two"},
    ]);
    assert_eq!(
        relay
            .instance
            .relay_post(&both, &Iri::parse(other).unwrap())
            .await
            .unwrap(),
        Relayed::Announced(vec!["tag-one".to_owned()])
    );
    let received = reader
        .wait_for("the Announce by tag-one", |d| {
            d.iter().any(|d| d.body["type"] == "Announce")
        })
        .await
        .unwrap();
    let announce = &received
        .iter()
        .find(|d| d.body["type"] == "Announce")
        .unwrap()
        .body;
    assert_eq!(
        announce["actor"],
        json!(relay.instance.actor_id("tag-one").as_str())
    );
    assert_eq!(announce["object"], both["id"]);
    relay.stop().await.unwrap();
}
