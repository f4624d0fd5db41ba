//! Accounts, channels and the instance actor, as other servers read them.

use serde_json::Value;

use crate::support::{admin_of, fetch_json, loopback_instance};
use video_instance::WithParts as _;

/// An account gets its person and its default channel; the channel is a Group attributed to
/// its owner, as PeerTube's channels are; the instance actor is an Application; WebFinger
/// finds the channel; NodeInfo names the software and counts the person.
#[tokio::test]
async fn accounts_channels_and_the_instance_actor_are_served_as_peertube_serves_them() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance(dir.path(), "tube").await.unwrap();
    let admin = admin_of(&running, dir.path(), "tube");
    let made = admin.create_account("alice").await.unwrap();
    let person_id = made["actor"].as_str().unwrap().to_owned();
    let channel_id = made["channel"].as_str().unwrap().to_owned();
    assert!(made["token"].as_str().is_some_and(|t| t.len() >= 20));
    // A second channel for the same person; names are unique across actors.
    admin.create_channel("cooking", "alice").await.unwrap();
    assert!(admin.create_channel("cooking", "alice").await.is_err());
    assert!(admin.create_channel("other", "nobody").await.is_err());

    let http = reqwest::Client::new();
    let person = fetch_json(&http, &person_id).await.unwrap();
    assert_eq!(person["type"], "Person");
    assert_eq!(person["preferredUsername"], "alice");
    assert!(person["publicKey"]["publicKeyPem"].as_str().is_some());

    let channel = fetch_json(&http, &channel_id).await.unwrap();
    assert_eq!(channel["type"], "Group");
    assert_eq!(channel["preferredUsername"], "alice_channel");
    assert_eq!(
        channel["attributedTo"],
        serde_json::json!([{"type": "Person", "id": person_id}])
    );
    let cooking = fetch_json(&http, &format!("{}actors/cooking", running.base_url))
        .await
        .unwrap();
    assert_eq!(cooking["attributedTo"][0]["id"], person_id.as_str());

    let instance = fetch_json(&http, running.instance.instance_actor().as_str())
        .await
        .unwrap();
    assert_eq!(instance["type"], "Application");

    let host = running.base_url.host_str().unwrap();
    let port = running.base_url.port().unwrap();
    let finger: Value = http
        .get(format!(
            "{}.well-known/webfinger?resource=acct:alice_channel@{host}:{port}",
            running.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        finger["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["href"] == channel_id.as_str()),
        "{finger}"
    );

    let discovery: Value = http
        .get(format!("{}.well-known/nodeinfo", running.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let href = discovery["links"][0]["href"].as_str().unwrap().to_owned();
    let info: Value = http.get(href).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["software"]["name"], "video-instance");
    assert_eq!(info["usage"]["users"]["total"], 1);

    // The catalogue page answers, empty.
    let home = http.get(running.base_url.as_str()).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("No videos yet."));
    running.stop().await.unwrap();
}
