//! Two video instances on loopback: an instance follow carries one's videos to the other,
//! and a deletion follows them.

use std::time::Duration;
use video_instance::WithParts as _;

use serde_json::Value;

use crate::support::{
    admin_of, api_upload, eventually, fetch_json, loopback_instance, sample, until_followed,
};

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
    until_followed(&http, &a, &b).await;

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

/// Uploads `sample` into `channel` with the comment policy `policy`; gives its uuid.
async fn upload_with_policy(
    http: &reqwest::Client,
    at: &video_instance::Running,
    token: &str,
    channel: &str,
    name: &str,
    policy: u8,
) -> String {
    let form = reqwest::multipart::Form::new()
        .text("channel", channel.to_owned())
        .text("name", name.to_owned())
        .text("commentsPolicy", policy.to_string())
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(sample("vp8-vorbis.webm")).file_name("v.webm"),
        );
    let answer: Value = http
        .post(format!("{}api/v1/videos/upload", at.base_url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["video"]["uuid"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

async fn page_of(http: &reqwest::Client, at: &video_instance::Running, uuid: &str) -> String {
    http.get(format!("{}videos/watch/{uuid}", at.base_url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn comments_from_another_instance_thread_under_the_video_as_its_policy_says() {
    let dir = tempfile::tempdir().unwrap();
    let a = loopback_instance(dir.path(), "a").await.unwrap();
    let b = loopback_instance(dir.path(), "b").await.unwrap();
    let bob = admin_of(&a, dir.path(), "a")
        .create_account("bob")
        .await
        .unwrap();
    let carol = admin_of(&b, dir.path(), "b")
        .create_account("carol")
        .await
        .unwrap();
    admin_of(&b, dir.path(), "b")
        .follow_instance(&a.base_url)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    until_followed(&http, &a, &b).await;
    let bob_token = bob["token"].as_str().unwrap();
    let open = upload_with_policy(&http, &a, bob_token, "bob_channel", "Open to comments", 1).await;
    let held = upload_with_policy(&http, &a, bob_token, "bob_channel", "Comments held", 3).await;
    let closed = upload_with_policy(&http, &a, bob_token, "bob_channel", "No comments", 2).await;
    for uuid in [&open, &held, &closed] {
        eventually("B lists A's videos", || async {
            page_of(&http, &b, uuid).await.contains("<video")
        })
        .await;
    }
    let comment = |uuid: String, text: &'static str| {
        http.post(format!(
            "{}api/v1/videos/{uuid}/comment-threads",
            b.base_url
        ))
        .bearer_auth(carol["token"].as_str().unwrap())
        .json(&serde_json::json!({"text": text}))
        .send()
    };
    assert_eq!(
        comment(open.clone(), "Lovely & <b>bold</b> film")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        comment(held.clone(), "A comment to approve")
            .await
            .unwrap()
            .status(),
        200
    );
    // B knows A's policy: a video that takes no comments gets none.
    assert_eq!(
        comment(closed.clone(), "Refused").await.unwrap().status(),
        422
    );

    eventually("A shows the comment under its video", || async {
        page_of(&http, &a, &open)
            .await
            .contains("Lovely &amp; &lt;b&gt;bold&lt;/b&gt; film")
    })
    .await;
    assert!(
        page_of(&http, &b, &open)
            .await
            .contains("Lovely &amp; &lt;b&gt;bold&lt;/b&gt; film")
    );
    let comments = fetch_json(
        &http,
        &format!("{}videos/watch/{open}/comments", a.base_url),
    )
    .await
    .unwrap();
    assert_eq!(comments["totalItems"], 1, "{comments}");
    // The held one reached A (so it waits for bob) but is not shown to others.
    eventually("A holds the comment for approval", || async {
        let count: i64 = sqlx_count(&a, "a", dir.path()).await;
        count == 2
    })
    .await;
    assert!(
        !page_of(&http, &a, &held)
            .await
            .contains("A comment to approve")
    );
    // B holds it too (Carol sees it waiting), until A's owner decides.
    assert!(
        !page_of(&http, &b, &held)
            .await
            .contains("A comment to approve")
    );
    // Bob approves it with PeerTube's API; A shows it, and B once A's `ApproveReply` arrives.
    let held_id = {
        use sqlx::Row as _;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&format!(
            "sqlite://{}?mode=ro",
            crate::support::database(dir.path(), "a")
        ))
        .await
        .unwrap();
        let row = sqlx::query("SELECT id FROM vi_comments WHERE approved = 0")
            .fetch_one(&pool)
            .await
            .unwrap();
        let id: String = row.get("id");
        pool.close().await;
        id
    };
    let approve = |token: &str| {
        http.post(format!(
            "{}api/v1/videos/{held}/comments/{}/approve",
            a.base_url,
            url::form_urlencoded::byte_serialize(held_id.as_bytes()).collect::<String>()
        ))
        .bearer_auth(token.to_owned())
        .send()
    };
    // Only the owner decides.
    let mallory = admin_of(&a, dir.path(), "a")
        .create_account("mallory")
        .await
        .unwrap();
    assert_eq!(
        approve(mallory["token"].as_str().unwrap())
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(approve(bob_token).await.unwrap().status(), 204);
    assert!(
        page_of(&http, &a, &held)
            .await
            .contains("A comment to approve")
    );
    eventually("B shows the approved comment", || async {
        page_of(&http, &b, &held)
            .await
            .contains("A comment to approve")
    })
    .await;
    // Decided once: a second approval finds nothing held.
    assert_eq!(approve(bob_token).await.unwrap().status(), 404);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// How many comments instance `name` keeps (its database in `dir`).
async fn sqlx_count(_at: &video_instance::Running, name: &str, dir: &std::path::Path) -> i64 {
    use sqlx::Row as _;
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", crate::support::database(dir, name));
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let row = sqlx::query("SELECT COUNT(*) AS n FROM vi_comments")
        .fetch_one(&pool)
        .await
        .unwrap();
    let n: i64 = row.try_get("n").unwrap();
    pool.close().await;
    n
}

#[tokio::test]
async fn views_are_counted_once_per_viewer_sent_to_the_origin_and_federated_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let fast = |options: &mut video_instance::Options| {
        options.app = options
            .app
            .clone()
            .with_view_batch_interval(Duration::from_millis(500));
    };
    let a = crate::support::loopback_instance_with(dir.path(), "a", fast)
        .await
        .unwrap();
    let b = loopback_instance(dir.path(), "b").await.unwrap();
    let bob = admin_of(&a, dir.path(), "a")
        .create_account("bob")
        .await
        .unwrap();
    admin_of(&b, dir.path(), "b")
        .follow_instance(&a.base_url)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    until_followed(&http, &a, &b).await;
    let uuid = upload_with_policy(
        &http,
        &a,
        bob["token"].as_str().unwrap(),
        "bob_channel",
        "Watched",
        1,
    )
    .await;
    let id = format!("{}videos/watch/{uuid}", a.base_url);
    eventually("B lists A's video", || async {
        page_of(&http, &b, &uuid).await.contains("<video")
    })
    .await;
    // Someone watches on A, twice: one view. Someone watches on B: B tells A.
    page_of(&http, &a, &uuid).await;
    page_of(&http, &a, &uuid).await;
    page_of(&http, &b, &uuid).await;
    eventually("A counts two views", || async {
        fetch_json(&http, &id)
            .await
            .is_ok_and(|video| video["views"] == 2)
    })
    .await;
    // A's batch reaches B: its copy says 2 too.
    eventually("B's copy has A's count", || async {
        let answer: Value = http
            .get(format!("{}api/v1/search/videos?search=Watched", b.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["data"][0]["views"] == 2
    })
    .await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
