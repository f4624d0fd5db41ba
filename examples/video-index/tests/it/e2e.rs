//! End to end with real video instances: the index follows an instance's actor; an upload
//! there is found in the index within seconds; an `Update` (the view count) and a `Delete`
//! reach it; the eligibility rules keep out what they name, on ingest and again when the
//! index restarts with other rules.

use serde_json::Value;
use video_index::WithParts as _;

use crate::support::{
    Upload, account, loopback_index, search, until_following, until_total, upload, video_instance,
    within,
};

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_appears_in_the_index_and_its_update_and_delete_follow() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let a = video_instance(dir.path(), "a").await.unwrap();
    let index = loopback_index(dir.path(), |options| {
        options.app.follow = vec![a.base_url.clone()];
    })
    .await
    .unwrap();
    until_following(&http, &index, a.instance.instance_actor().as_str()).await;

    let token = account(&a, dir.path(), "a", "zoe").await;
    let uuid = upload(
        &http,
        &a,
        &token,
        "zoe",
        Upload {
            name: "Électricité au jardin",
            language: "fr",
            nsfw: false,
        },
    )
    .await;
    let base = &index.base_url;
    // Accents and case folded, French stemming.
    let found = until_total(&http, base, "ELECTRICITE jardins", 1).await;
    let video = &found["data"][0];
    assert_eq!(video["uuid"], uuid.as_str());
    assert_eq!(video["name"], "Électricité au jardin");
    assert_eq!(video["channel"]["name"], "zoe_channel");
    assert_eq!(video["channel"]["displayName"], "Main zoe channel");
    assert_eq!(video["account"]["name"], "zoe");
    assert_eq!(video["language"]["id"], "fr");
    // URLs on the video's own instance, absolute.
    let a_base = a.base_url.as_str();
    assert_eq!(
        video["url"].as_str().unwrap(),
        format!("{a_base}videos/watch/{uuid}")
    );
    assert_eq!(
        video["embedUrl"].as_str().unwrap(),
        format!("{a_base}videos/embed/{uuid}")
    );
    assert!(
        video["thumbnailUrl"].as_str().unwrap().starts_with(a_base),
        "{video}"
    );
    assert_eq!(video["views"], 0);

    // A view on A: its batch sends an `Update` of the video, which the index takes.
    let watch = http
        .get(format!("{a_base}videos/watch/{uuid}"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    within("the view count reaches the index", 10, || async {
        let answer = search(&http, base, &[("search", "jardin")]).await;
        (answer["data"][0]["views"] == 1).then_some(())
    })
    .await;

    // Deleted on A: gone from the index.
    let deleted = http
        .delete(format!("{a_base}api/v1/videos/{uuid}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    until_total(&http, base, "jardin", 0).await;

    index.stop().await.unwrap();
    a.stop().await.unwrap();
}

/// The titles `answer` lists.
fn names(answer: &Value) -> Vec<String> {
    let mut names: Vec<String> = answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rules_keep_out_what_they_name_on_ingest_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let a = video_instance(dir.path(), "a").await.unwrap();
    let b = video_instance(dir.path(), "b").await.unwrap();
    let b_host = b.addr.to_string();
    let mut rules = video_index::Eligibility::default();
    rules.exclude_sensitive = true;
    rules.languages = vec!["en".to_owned()];
    let index = loopback_index(dir.path(), |options| {
        options.app.follow = vec![a.base_url.clone(), b.base_url.clone()];
        options.app.rules = rules.clone();
    })
    .await
    .unwrap();
    until_following(&http, &index, a.instance.instance_actor().as_str()).await;
    until_following(&http, &index, b.instance.instance_actor().as_str()).await;

    let token_a = account(&a, dir.path(), "a", "ann").await;
    let token_b = account(&b, dir.path(), "b", "bob").await;
    for (name, language, nsfw) in [
        ("Sensitive mountain film", "en", true),
        ("Bergfilm mountain auf Deutsch", "de", false),
        ("Plain mountain film", "en", false),
    ] {
        upload(
            &http,
            &a,
            &token_a,
            "ann",
            Upload {
                name,
                language,
                nsfw,
            },
        )
        .await;
    }
    upload(
        &http,
        &b,
        &token_b,
        "bob",
        Upload {
            name: "Mountain film from B",
            language: "en",
            nsfw: false,
        },
    )
    .await;
    // All four are stored; two are listed.
    within("the four videos reach the index", 15, || async {
        let listed = search(&http, &index.base_url, &[("search", "mountain")]).await;
        (index.instance.stored_video_count().await.unwrap() == 4 && listed["total"] == 2)
            .then_some(())
    })
    .await;
    let answer = search(&http, &index.base_url, &[("search", "mountain")]).await;
    assert_eq!(
        names(&answer),
        ["Mountain film from B", "Plain mountain film"],
        "{answer}"
    );
    // Even when the asker wants sensitive videos.
    let answer = search(
        &http,
        &index.base_url,
        &[("search", "mountain"), ("nsfw", "both")],
    )
    .await;
    assert_eq!(answer["total"], 2, "{answer}");

    // Restarted with other rules (B's host denied, any language, sensitive videos kept):
    // the index is built again from the stored videos.
    let listen = index.addr;
    let base_url = index.base_url.clone();
    index.stop().await.unwrap();
    let mut rules = video_index::Eligibility::default();
    rules.denied_hosts = vec![b_host.clone()];
    let index = loopback_index(dir.path(), |options| {
        options.listen = listen;
        options.base_url = Some(base_url);
        options.app.rules = rules;
    })
    .await
    .unwrap();
    let answer = search(
        &http,
        &index.base_url,
        &[("search", "mountain"), ("nsfw", "both")],
    )
    .await;
    assert_eq!(
        names(&answer),
        [
            "Bergfilm mountain auf Deutsch",
            "Plain mountain film",
            "Sensitive mountain film"
        ],
        "{answer}"
    );
    // The language filter of the API: only the German one.
    let answer = search(
        &http,
        &index.base_url,
        &[("search", "mountain"), ("languageOneOf", "de")],
    )
    .await;
    assert_eq!(
        names(&answer),
        ["Bergfilm mountain auf Deutsch"],
        "{answer}"
    );

    index.stop().await.unwrap();
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_that_asks_is_followed_back_when_the_host_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let index = loopback_index(dir.path(), |options| {
        options.app.follow_back = true;
    })
    .await
    .unwrap();
    let b = video_instance(dir.path(), "b").await.unwrap();
    // B's administrator asks the index to index B: B's instance actor follows the index's.
    video_instance::admin::Admin::new(crate::support::database(dir.path(), "b"))
        .with_base_url(Some(b.base_url.clone()))
        .with_danger_allow_private_addresses(true)
        .follow_instance(&index.instance.instance_actor())
        .await
        .unwrap();
    until_following(&http, &index, b.instance.instance_actor().as_str()).await;
    let token = account(&b, dir.path(), "b", "bea").await;
    upload(
        &http,
        &b,
        &token,
        "bea",
        Upload {
            name: "Asked to be indexed",
            language: "en",
            nsfw: false,
        },
    )
    .await;
    until_total(&http, &index.base_url, "indexed", 1).await;
    index.stop().await.unwrap();
    b.stop().await.unwrap();
}
