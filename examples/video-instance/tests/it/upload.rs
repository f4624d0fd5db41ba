//! Uploads through PeerTube's API: the file recognised from its bytes, stored, published in
//! PeerTube's shape, served with ranges; bad files refused with nothing stored.

use serde_json::Value;

use crate::support::{admin_of, api_upload, fetch_json, loopback_instance, sample};

/// The files under the media directory's data (what was stored).
fn stored_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(path: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.retain(|p| p.to_string_lossy().contains("videos"));
    out
}

#[tokio::test]
async fn an_uploaded_video_is_published_in_peertube_shape_and_served_with_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance(dir.path(), "tube").await.unwrap();
    let made = admin_of(&running, dir.path(), "tube")
        .create_account("alice")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let bytes = sample("vp9-opus.webm");
    // The name says MP4; the bytes say WebM, and the bytes win.
    let (status, answer) = api_upload(
        &http,
        &running,
        token,
        "alice_channel",
        "A first video",
        "misnamed.mp4",
        bytes.clone(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["video"]["url"].as_str().unwrap().to_owned();
    let uuid = answer["video"]["uuid"].as_str().unwrap().to_owned();
    assert!(id.ends_with(&format!("/videos/watch/{uuid}")));

    let video = fetch_json(&http, &id).await.unwrap();
    assert_eq!(video["type"], "Video");
    assert_eq!(video["name"], "A first video");
    assert_eq!(video["uuid"], uuid.as_str());
    assert_eq!(video["mediaType"], "text/markdown");
    assert_eq!(video["content"], "A *test* video.\nSecond line.");
    assert_eq!(
        video["category"],
        serde_json::json!({"identifier": "15", "name": "Science & Technology"})
    );
    assert_eq!(video["licence"]["identifier"], "2");
    assert_eq!(video["language"]["identifier"], "en");
    assert!(video["duration"].as_str().unwrap().starts_with("PT"));
    let attributed: Vec<&str> = video["attributedTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        attributed,
        [
            made["actor"].as_str().unwrap(),
            made["channel"].as_str().unwrap()
        ]
    );
    let urls = video["url"].as_array().unwrap();
    assert_eq!(urls[0]["mediaType"], "text/html");
    assert_eq!(urls[0]["href"], id.as_str());
    let file = urls
        .iter()
        .find(|u| u["mediaType"] == "video/webm")
        .unwrap_or_else(|| panic!("no WebM file in {urls:?}"));
    assert_eq!(file["size"], bytes.len());
    assert!(file["height"].as_u64().unwrap() > 0);
    let tags: Vec<&str> = video["tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["test", "sample"]);
    // It reads back through the toolkit's own PeerTube reader.
    let typed = activitypub_core::AnyObject::from_value(video.clone()).unwrap();
    let activitypub_core::AnyObject::Video(typed) = typed else {
        panic!("not a Video");
    };
    let summary = activitypub_core::ext::peertube::VideoSummary::read(&typed).unwrap();
    assert_eq!(summary.uuid, uuid);

    // Its collections, as PeerTube serves them.
    for kind in ["likes", "dislikes", "announces", "comments"] {
        let collection = fetch_json(
            &http,
            video[if kind == "announces" { "shares" } else { kind }]
                .as_str()
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(collection["type"], "OrderedCollection", "{kind}");
        assert_eq!(collection["totalItems"], 0, "{kind}");
    }
    let none = http
        .get(format!("{id}/nonsense"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404);

    // The file, whole and by ranges.
    let href = file["href"].as_str().unwrap();
    let whole = http.get(href).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "video/webm");
    assert_eq!(whole.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let part = http
        .get(href)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-199/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[100..200]);
    let past = http
        .get(href)
        .header("range", format!("bytes={}-", bytes.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);

    // The watch page, for browsers, with a <video> element on the file.
    let page = http
        .get(&id)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<video"), "{html}");
    assert!(
        html.contains(&format!("/static/videos/{uuid}/original.webm")),
        "{html}"
    );
    // And the catalogue lists it.
    let home = http
        .get(running.base_url.as_str())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("A first video"));

    // The account's outbox holds the Create, the channel's the Announce.
    let outbox: Value = fetch_json(
        &http,
        &format!("{}/outbox?page=1", made["actor"].as_str().unwrap()),
    )
    .await
    .unwrap();
    let items = outbox["orderedItems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        items
            .iter()
            .any(|a| a["type"] == "Create" && a["object"]["id"] == id.as_str()),
        "{outbox}"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let running = crate::support::loopback_instance_with(dir.path(), "tube", |options| {
        options.app = options.app.clone().with_max_upload_bytes(20_000);
    })
    .await
    .unwrap();
    let made = admin_of(&running, dir.path(), "tube")
        .create_account("bob")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let media = running.instance.media_dir().to_owned();

    // Not a video at all.
    let (status, answer) = api_upload(
        &http,
        &running,
        token,
        "bob_channel",
        "Text",
        "notes.mp4",
        b"just some text, not a video at all".repeat(10),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("not a video"),
        "{answer}"
    );
    // Truncated: the first half of a real file.
    let whole = sample("h264-aac-moov-end.mp4");
    let (status, answer) = api_upload(
        &http,
        &running,
        token,
        "bob_channel",
        "Cut",
        "cut.mp4",
        whole[..whole.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    // Audio only.
    let (status, answer) = api_upload(
        &http,
        &running,
        token,
        "bob_channel",
        "Song",
        "a.ogg",
        sample("opus.ogg"),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("no video track"),
        "{answer}"
    );
    // Over the limit (20,000 bytes).
    let (status, answer) = api_upload(
        &http,
        &running,
        token,
        "bob_channel",
        "Big",
        "big.webm",
        sample("vp9-opus.webm"),
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    // Someone else's channel, and no token.
    admin_of(&running, dir.path(), "tube")
        .create_account("carol")
        .await
        .unwrap();
    let (status, _) = api_upload(
        &http,
        &running,
        token,
        "carol_channel",
        "Theirs",
        "t.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = api_upload(
        &http,
        &running,
        "not-a-token",
        "bob_channel",
        "Anon",
        "t.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 401);

    assert_eq!(stored_files(&media), Vec::<std::path::PathBuf>::new());
    let home = http
        .get(running.base_url.as_str())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("No videos yet."));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_deleted_video_becomes_a_tombstone_and_its_files_go() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance(dir.path(), "tube").await.unwrap();
    let made = admin_of(&running, dir.path(), "tube")
        .create_account("dora")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let (status, answer) = api_upload(
        &http,
        &running,
        token,
        "dora_channel",
        "Short lived",
        "v.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let uuid = answer["video"]["uuid"].as_str().unwrap();
    let id = answer["video"]["url"].as_str().unwrap();
    let delete = |token: &str| {
        http.delete(format!("{}api/v1/videos/{uuid}", running.base_url))
            .bearer_auth(token.to_owned())
            .send()
    };
    let other = admin_of(&running, dir.path(), "tube")
        .create_account("eve")
        .await
        .unwrap();
    assert_eq!(
        delete(other["token"].as_str().unwrap())
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(delete(token).await.unwrap().status(), 204);
    let gone = http
        .get(id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 410);
    let tombstone: Value = gone.json().await.unwrap();
    assert_eq!(tombstone["type"], "Tombstone");
    assert_eq!(
        stored_files(running.instance.media_dir()),
        Vec::<std::path::PathBuf>::new()
    );
    let file = http
        .get(format!(
            "{}static/videos/{uuid}/original.webm",
            running.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 404);
    assert_eq!(delete(token).await.unwrap().status(), 404);
    running.stop().await.unwrap();
}
