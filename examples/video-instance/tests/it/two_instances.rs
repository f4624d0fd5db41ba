//! Two video instances on loopback: an instance follow carries one's videos to the other,
//! and a deletion follows them.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{admin_of, api_upload, fetch_json, loopback_instance, sample};

/// Polls `check` every 100 ms until it holds, for at most 30 seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 30 seconds");
}

#[tokio::test]
async fn an_instance_follow_brings_the_followed_instances_videos_and_their_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let a = loopback_instance(dir.path(), "a").await.unwrap();
    let b = loopback_instance(dir.path(), "b").await.unwrap();
    let made = admin_of(&a, dir.path(), "a")
        .create_account("bob")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    // B's administrator follows A (its base URL: the instance actor is found in NodeInfo).
    let followed = admin_of(&b, dir.path(), "b")
        .follow_instance(&a.base_url)
        .await
        .unwrap();
    assert_eq!(followed["target"], a.instance.instance_actor().as_str());
    let http = reqwest::Client::new();
    let following = format!("{}/following?page=1", b.instance.instance_actor());
    eventually("A accepts B's follow", || async {
        fetch_json(&http, &following).await.is_ok_and(|page| {
            page["orderedItems"]
                .to_string()
                .contains(a.instance.instance_actor().as_str())
        })
    })
    .await;

    let (status, answer) = api_upload(
        &http,
        &a,
        token,
        "bob_channel",
        "Travelling far",
        "t.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let uuid = answer["video"]["uuid"].as_str().unwrap().to_owned();
    let id = answer["video"]["url"].as_str().unwrap().to_owned();
    eventually("B lists A's video", || async {
        http.get(b.base_url.as_str())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("Travelling far")
    })
    .await;
    // B's page of it plays the file from A.
    let page = http
        .get(format!("{}videos/watch/{uuid}", b.base_url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("media-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("{}static/videos/{uuid}/original.webm", a.base_url)),
        "{html}"
    );

    // A deletes it: B forgets it.
    let deleted = http
        .delete(format!("{}api/v1/videos/{uuid}", a.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    eventually("B forgets A's deleted video", || async {
        !http
            .get(b.base_url.as_str())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("Travelling far")
    })
    .await;
    let gone: Value = http
        .get(&id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gone["type"], "Tombstone");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
