//! Feeds at PeerTube's addresses: the instance's, a channel's and an account's videos, and a
//! video's comments, in RSS, Atom and JSON Feed.

use serde_json::Value;

use crate::support::{admin_of, api_upload, loopback_instance, sample};

#[tokio::test]
async fn videos_and_comments_have_feeds_in_three_formats() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance(dir.path(), "tube").await.unwrap();
    let admin = admin_of(&running, dir.path(), "tube");
    let ana = admin.create_account("ana").await.unwrap();
    let ben = admin.create_account("ben").await.unwrap();
    let http = reqwest::Client::new();
    let base = running.base_url.as_str().to_owned();
    let mut uuids = Vec::new();
    for (token, channel, name) in [
        (&ana, "ana_channel", "Ana's first & best"),
        (&ana, "ana_channel", "Ana's second"),
        (&ben, "ben_channel", "Ben's only"),
    ] {
        let (status, answer) = api_upload(
            &http,
            &running,
            token["token"].as_str().unwrap(),
            channel,
            name,
            "v.webm",
            sample("vp8-vorbis.webm"),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        uuids.push(answer["video"]["uuid"].as_str().unwrap().to_owned());
    }
    let commented = http
        .post(format!("{base}api/v1/videos/{}/comment-threads", uuids[0]))
        .bearer_auth(ben["token"].as_str().unwrap())
        .json(&serde_json::json!({"text": "Lovely <3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(commented.status(), 200);

    let get = |path: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let response = http.get(format!("{base}{path}")).send().await.unwrap();
            let status = response.status().as_u16();
            let media_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (status, media_type, response.text().await.unwrap())
        }
    };

    let (status, media_type, rss) = get("feeds/videos.xml".into()).await;
    assert_eq!(status, 200);
    assert!(
        media_type.starts_with("application/rss+xml"),
        "{media_type}"
    );
    assert!(rss.starts_with("<?xml"), "{rss}");
    assert_eq!(rss.matches("<item>").count(), 3, "{rss}");
    assert!(
        rss.contains("<title>Ana&apos;s first &amp; best</title>")
            || rss.contains("<title>Ana's first &amp; best</title>"),
        "{rss}"
    );
    assert!(
        rss.contains(&format!(r#"<enclosure url="{base}static/videos/"#)),
        "{rss}"
    );
    assert!(rss.contains(r#"type="video/webm""#), "{rss}");
    let (_, _, ana_feed) = get("feeds/videos.xml?accountName=ana".into()).await;
    assert_eq!(ana_feed.matches("<item>").count(), 2, "{ana_feed}");
    let (_, _, ben_feed) = get("feeds/videos.xml?videoChannelName=ben_channel".into()).await;
    assert_eq!(ben_feed.matches("<item>").count(), 1, "{ben_feed}");
    assert_eq!(
        get("feeds/videos.xml?accountName=nobody".into()).await.0,
        404
    );
    assert_eq!(get("feeds/videos.xml?format=podcast".into()).await.0, 400);
    assert_eq!(get("feeds/nothing.xml".into()).await.0, 404);

    for path in ["feeds/videos.atom", "feeds/videos.xml?format=atom"] {
        let (status, media_type, atom) = get(path.into()).await;
        assert_eq!(status, 200);
        assert!(
            media_type.starts_with("application/atom+xml"),
            "{media_type}"
        );
        assert_eq!(atom.matches("<entry>").count(), 3, "{atom}");
        assert!(
            atom.contains(r#"<feed xmlns="http://www.w3.org/2005/Atom">"#),
            "{atom}"
        );
    }
    let (status, media_type, json) = get("feeds/videos.json".into()).await;
    assert_eq!(status, 200);
    assert!(
        media_type.starts_with("application/feed+json"),
        "{media_type}"
    );
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), 3, "{json}");
    assert_eq!(
        json["items"][0]["attachments"][0]["mime_type"],
        "video/webm"
    );

    let (status, _, comments) = get(format!("feeds/video-comments.xml?videoId={}", uuids[0])).await;
    assert_eq!(status, 200);
    assert_eq!(comments.matches("<item>").count(), 1, "{comments}");
    assert!(
        comments.contains("Lovely &amp;lt;3"),
        "the comment's HTML, escaped: {comments}"
    );
    assert_eq!(get("feeds/video-comments.xml".into()).await.0, 400);
    assert_eq!(
        get("feeds/video-comments.xml?videoId=nope".into()).await.0,
        404
    );

    // A deleted video leaves the feed.
    let deleted = http
        .delete(format!("{base}api/v1/videos/{}", uuids[1]))
        .bearer_auth(ana["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let (_, _, rss) = get("feeds/videos.xml".into()).await;
    assert_eq!(rss.matches("<item>").count(), 2, "{rss}");
    assert!(!rss.contains("second"), "{rss}");
    running.stop().await.unwrap();
}
