//! Client-to-server addressing (ActivityPub §6, §6.11): what a client puts in `to`, `cc`,
//! `bto`, `bcc` and `audience` is kept and delivered to, beside what the server adds (the
//! followers of a public event); `bto` and `bcc` reach their recipients but are in no document,
//! stored or delivered.

use std::time::Duration;

use events_instance::demo::eventually;
use serde_json::{Value, json};

use crate::support::{fetch_json, instance_with_identity};
use test_peer::{Delivery, Peer};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The Creates of `object` delivered to the peer, by recipient.
fn creates_of<'a>(received: &'a [Delivery], object: &str) -> Vec<&'a Delivery> {
    received
        .iter()
        .filter(|d| d.body["type"] == "Create" && d.body["object"]["id"] == object)
        .collect()
}

fn assert_no_hidden_recipients(document: &Value, what: &str) {
    for key in ["bto", "bcc"] {
        assert!(document.get(key).is_none(), "{what} has {key}: {document}");
        assert!(
            document["object"].get(key).is_none(),
            "{what}'s object has {key}: {document}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_recipients_are_kept_and_reached() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (running, organizer) = instance_with_identity(dir.path(), "events", "organizer").await?;
    let peer = Peer::start().await?;
    let carol = peer.add_actor("users/carol", "carol")?;
    let dave = peer.add_actor("users/dave", "dave")?;
    let erin = peer.add_actor("users/erin", "erin")?;
    let fan = peer.add_actor("users/fan", "fan")?;

    // A follower of the organizer, on the peer.
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{fan}/follows/1"),
        "type": "Follow",
        "actor": fan,
        "object": organizer.actor,
    });
    let (status, body) = peer
        .post(&format!("{}/inbox", organizer.actor), &follow)
        .await?;
    assert!((200..300).contains(&status), "{status}: {body}");
    eventually(Duration::from_secs(30), "the follower", || async {
        Ok(running
            .instance
            .followers_of("organizer")
            .await?
            .contains(&fan)
            .then_some(()))
    })
    .await?;

    // Public, to carol; dave and erin blind.
    let create = organizer
        .post(json!({
            "type": "Create",
            "to": [PUBLIC, carol],
            "bto": [dave],
            "bcc": [erin],
            "object": {"type": "Event", "name": "Ridge walk", "startTime": "2031-10-04T09:00:00Z"}
        }))
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    assert_no_hidden_recipients(&create, "the answer to the client");
    for addressed in [&create, &create["object"]] {
        let to = addressed["to"].as_array().unwrap();
        assert!(
            to.contains(&json!(PUBLIC)) && to.contains(&json!(carol)),
            "{addressed}"
        );
    }
    let received = peer
        .wait_for(
            "the Create at carol, dave, erin and the follower",
            |received| {
                let to: Vec<&str> = creates_of(received, &event)
                    .iter()
                    .map(|d| d.to.as_str())
                    .collect();
                ["users/carol", "users/dave", "users/erin", "users/fan"]
                    .iter()
                    .all(|who| to.contains(who))
            },
        )
        .await?;
    for delivery in creates_of(&received, &event) {
        assert_no_hidden_recipients(&delivery.body, &format!("the delivery to {}", delivery.to));
        assert!(
            delivery.body["object"]["to"]
                .as_array()
                .unwrap()
                .contains(&json!(carol))
        );
    }

    // Stored and served without its hidden recipients.
    let stored = running.instance.stored_object(&event).await?.unwrap();
    assert_no_hidden_recipients(&stored, "the stored event");
    assert!(stored["to"].as_array().unwrap().contains(&json!(carol)));
    let http = reqwest::Client::builder().no_proxy().build()?;
    for id in [event.as_str(), create["id"].as_str().unwrap()] {
        let served = fetch_json(&http, id).await?;
        assert_eq!(served["id"], id);
        assert_no_hidden_recipients(&served, id);
    }

    // A bare object's addressing is the Create's too (§6.2.1).
    let bare = organizer
        .post(
            json!({"type": "Event", "name": "Choir", "startTime": "2031-10-05T19:00:00Z",
            "to": [PUBLIC], "cc": [carol]}),
        )
        .await?;
    let choir = bare["object"]["id"].as_str().unwrap().to_owned();
    assert!(
        bare["cc"].as_array().unwrap().contains(&json!(carol)),
        "{bare}"
    );
    peer.wait_for("the second Create at carol", |received| {
        creates_of(received, &choir)
            .iter()
            .any(|d| d.to == "users/carol")
    })
    .await?;
    running.stop().await
}
