//! Search: uploads are found within seconds through PeerTube's search API (GET and POST) and
//! the search page, accents folded; a deleted video is no longer found.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{admin_of, api_upload, loopback_instance, sample};

async fn search_get(http: &reqwest::Client, base: &url::Url, text: &str) -> Value {
    let mut url = base.join("api/v1/search/videos").unwrap();
    url.query_pairs_mut().append_pair("search", text);
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// Polls the search for `text` until it finds `expected` videos, for at most 10 seconds.
async fn until_found(http: &reqwest::Client, base: &url::Url, text: &str, expected: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = search_get(http, base, text).await;
        if answer["total"] == expected {
            return answer;
        }
        assert!(Instant::now() < deadline, "{text:?}: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn uploads_are_found_by_the_search_api_and_page_and_deletions_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance(dir.path(), "tube").await.unwrap();
    let made = admin_of(&running, dir.path(), "tube")
        .create_account("zoe")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let (status, first) = api_upload(
        &http,
        &running,
        token,
        "zoe_channel",
        "Électricité au jardin",
        "a.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = api_upload(
        &http,
        &running,
        token,
        "zoe_channel",
        "Running in the mountains",
        "b.webm",
        sample("vp9-opus.webm"),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let base = &running.base_url;

    let found = until_found(&http, base, "electricite", 1).await;
    assert_eq!(found["data"][0]["uuid"], first["video"]["uuid"]);
    assert_eq!(found["data"][0]["name"], "Électricité au jardin");
    assert_eq!(found["data"][0]["channel"]["name"], "zoe_channel");
    let embed = found["data"][0]["embedUrl"].as_str().unwrap();
    assert!(embed.starts_with(base.as_str()), "{embed}");
    // Stemmed: "run" finds "Running".
    let run = until_found(&http, base, "run", 1).await;
    assert_eq!(run["data"][0]["uuid"], second["video"]["uuid"]);
    // POST with a JSON body, as a PeerTube instance asks its index.
    let posted: Value = http
        .post(format!("{base}api/v1/search/videos"))
        .json(&json!({"search": "mountains", "start": 0, "count": 10, "sort": "-publishedAt"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["total"], 1, "{posted}");
    // A bad sort is refused with a message.
    let bad = http
        .get(format!(
            "{base}api/v1/search/videos?search=x&sort=-nonsense"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // The page.
    let page = http
        .get(format!("{base}search?search=jardin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Électricité au jardin"), "{page}");
    assert!(!page.contains("Running in the mountains"), "{page}");

    let uuid = first["video"]["uuid"].as_str().unwrap();
    let deleted = http
        .delete(format!("{base}api/v1/videos/{uuid}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    until_found(&http, base, "electricite", 0).await;
    running.stop().await.unwrap();
}
