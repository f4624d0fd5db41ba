//! Playlists: made, filled, reordered and emptied through PeerTube's API, their ActivityPub
//! documents in PeerTube's shape with the positions; privacy (private and unlisted ones, and a
//! video not shown to others inside a public one); the embed page and oEmbed; the search API;
//! and two instances, where a public playlist reaches the follower in its order, then its
//! reorder and its deletion.

use serde_json::{Value, json};
use video_instance::Transcoding;

use crate::postgres::{fresh_database, postgres_url};
use crate::support::{
    admin_of, api_upload, eventually, fetch_json, html as page, loopback_instance,
    loopback_instance_with, sample, until_followed,
};

/// Uploads a short video named `name` with `token` into `channel`; gives its uuid and id.
async fn upload(
    http: &reqwest::Client,
    at: &video_instance::Running,
    token: &str,
    channel: &str,
    name: &str,
) -> (String, String) {
    let (status, answer) = api_upload(
        http,
        at,
        token,
        channel,
        name,
        "v.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    (
        answer["video"]["uuid"].as_str().unwrap().to_owned(),
        answer["video"]["url"].as_str().unwrap().to_owned(),
    )
}

/// Makes a playlist through the API; gives its uuid.
async fn create_playlist(
    http: &reqwest::Client,
    at: &video_instance::Running,
    token: &str,
    body: Value,
) -> String {
    let response = http
        .post(format!("{}api/v1/video-playlists", at.base_url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    answer["videoPlaylist"]["uuid"].as_str().unwrap().to_owned()
}

/// Adds video `video` to playlist `playlist`; gives the element's id in the API.
async fn add(
    http: &reqwest::Client,
    at: &video_instance::Running,
    token: &str,
    playlist: &str,
    video: &str,
) -> String {
    let response = http
        .post(format!(
            "{}api/v1/video-playlists/{playlist}/videos",
            at.base_url
        ))
        .bearer_auth(token)
        .json(&json!({"videoId": video}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    answer["videoPlaylistElement"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The videos (ids) of a local playlist's ActivityPub document, with their positions, read as
/// a remote server reads them: the collection, its pages, each element.
async fn document_order(http: &reqwest::Client, id: &str) -> Vec<(String, u64)> {
    let playlist = fetch_json(http, id).await.unwrap();
    assert_eq!(playlist["type"], "Playlist", "{playlist}");
    let mut out = Vec::new();
    let mut next = playlist["first"].as_str().map(str::to_owned);
    while let Some(page) = next.take() {
        let page = fetch_json(http, &page).await.unwrap();
        assert_eq!(page["partOf"], id, "{page}");
        for item in page["orderedItems"].as_array().unwrap() {
            let element = fetch_json(http, item.as_str().unwrap()).await.unwrap();
            assert_eq!(element["type"], "PlaylistElement", "{element}");
            out.push((
                element["url"].as_str().unwrap().to_owned(),
                element["position"].as_u64().unwrap(),
            ));
        }
        next = page["next"].as_str().map(str::to_owned);
    }
    assert_eq!(
        playlist["totalItems"].as_u64().unwrap(),
        out.len() as u64,
        "{playlist}"
    );
    out
}

#[tokio::test]
async fn a_playlist_keeps_its_order_through_adds_reorders_and_removals() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance(dir.path(), "tube").await.unwrap();
    let made = admin_of(&running, dir.path(), "tube")
        .create_account("olga")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let base = running.base_url.as_str();
    let mut videos = Vec::new();
    for name in ["First light", "Second wind", "Third act"] {
        videos.push(upload(&http, &running, token, "olga_channel", name).await);
    }
    let uuid = create_playlist(
        &http,
        &running,
        token,
        json!({"displayName": "Evening <reel>", "description": "Three films.", "privacy": 1,
               "videoChannelId": "olga_channel"}),
    )
    .await;
    let id = format!("{base}video-playlists/{uuid}");
    let mut elements = Vec::new();
    for (video, _) in &videos {
        elements.push(add(&http, &running, token, &uuid, video).await);
    }
    let ids: Vec<String> = videos.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(
        document_order(&http, &id).await,
        vec![
            (ids[0].clone(), 1),
            (ids[1].clone(), 2),
            (ids[2].clone(), 3)
        ]
    );
    // The collection in PeerTube's shape.
    let document = fetch_json(&http, &id).await.unwrap();
    assert_eq!(document["name"], "Evening <reel>");
    assert_eq!(document["content"], "Three films.");
    assert_eq!(document["mediaType"], "text/markdown");
    assert_eq!(document["uuid"], uuid.as_str());
    assert_eq!(
        document["attributedTo"],
        json!([format!("{base}actors/olga_channel")])
    );
    assert_eq!(document["icon"]["type"], "Image", "{document}");
    // The account's and the channel's `playlists` collections list it.
    for actor in ["olga", "olga_channel"] {
        let collection = fetch_json(&http, &format!("{base}actors/{actor}/playlists"))
            .await
            .unwrap();
        assert_eq!(collection["orderedItems"], json!([id]), "{collection}");
    }

    // The third moves to the front (PeerTube's reorder), then the first one (now second) goes.
    let reorder = http
        .post(format!(
            "{base}api/v1/video-playlists/{uuid}/videos/reorder"
        ))
        .bearer_auth(token)
        .json(&json!({"startPosition": 3, "insertAfterPosition": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(reorder.status(), 204);
    assert_eq!(
        document_order(&http, &id).await,
        vec![
            (ids[2].clone(), 1),
            (ids[0].clone(), 2),
            (ids[1].clone(), 3)
        ]
    );
    let removed = http
        .delete(format!(
            "{base}api/v1/video-playlists/{uuid}/videos/{}",
            elements[0]
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(
        document_order(&http, &id).await,
        vec![(ids[2].clone(), 1), (ids[1].clone(), 2)]
    );
    // PeerTube's REST read agrees, and so does the page.
    let rest: Value = http
        .get(format!("{base}api/v1/video-playlists/{uuid}/videos"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["total"], 2);
    assert_eq!(rest["data"][0]["video"]["name"], "Third act", "{rest}");
    assert_eq!(rest["data"][1]["position"], 2);
    let playlist: Value = http
        .get(format!("{base}api/v1/video-playlists/{uuid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(playlist["displayName"], "Evening <reel>");
    assert_eq!(playlist["videosLength"], 2);
    assert_eq!(playlist["privacy"]["id"], 1);
    let (status, html) = page(&http, &id).await;
    assert_eq!(status, 200);
    let third = html.find("Third act").unwrap();
    let second = html.find("Second wind").unwrap();
    assert!(third < second, "{html}");
    assert!(!html.contains("First light"), "{html}");
    assert!(html.contains("Evening &lt;reel&gt;"));

    // Someone else changes nothing.
    let other = admin_of(&running, dir.path(), "tube")
        .create_account("mallory")
        .await
        .unwrap();
    let refused = http
        .post(format!(
            "{base}api/v1/video-playlists/{uuid}/videos/reorder"
        ))
        .bearer_auth(other["token"].as_str().unwrap())
        .json(&json!({"startPosition": 2, "insertAfterPosition": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    assert_eq!(
        document_order(&http, &id).await,
        vec![(ids[2].clone(), 1), (ids[1].clone(), 2)]
    );

    // The search API finds it.
    let mut search = running
        .base_url
        .join("api/v1/search/video-playlists")
        .unwrap();
    search.query_pairs_mut().append_pair("search", "evening");
    eventually("the search finds the playlist", || async {
        let answer: Value = http
            .get(search.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["total"] == 1 && answer["data"][0]["uuid"] == uuid.as_str()
    })
    .await;

    // The embed page plays the first video, lists the other, and any site may frame it.
    let embed = http
        .get(format!("{base}video-playlists/embed/{uuid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(embed.status(), 200);
    let policy = embed.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("frame-ancestors *"), "{policy}");
    assert!(!embed.headers().contains_key("x-frame-options"));
    let html = embed.text().await.unwrap();
    let third_uuid = &videos[2].0;
    assert!(
        html.contains(&format!("/static/videos/{third_uuid}/original.webm")),
        "{html}"
    );
    assert!(html.contains("playlistPosition=2"), "{html}");
    let second_embed = http
        .get(format!(
            "{base}video-playlists/embed/{uuid}?playlistPosition=2"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let second_uuid = &videos[1].0;
    assert!(
        second_embed.contains(&format!("/static/videos/{second_uuid}/original.webm")),
        "{second_embed}"
    );
    // oEmbed for the playlist's address.
    let mut oembed = running.base_url.join("services/oembed").unwrap();
    oembed.query_pairs_mut().append_pair("url", &id);
    let answer: Value = http.get(oembed).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer["type"], "video");
    assert!(
        answer["html"]
            .as_str()
            .unwrap()
            .contains(&format!("video-playlists/embed/{uuid}")),
        "{answer}"
    );

    // Deleted: gone from its address and the search.
    let deleted = http
        .delete(format!("{base}api/v1/video-playlists/{uuid}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(fetch_json(&http, &id).await.is_err());
    running.stop().await.unwrap();
}

#[tokio::test]
async fn private_and_unlisted_playlists_and_hidden_videos_are_shown_only_to_whom_they_may_be() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance(dir.path(), "tube").await.unwrap();
    let admin = admin_of(&running, dir.path(), "tube");
    let owner = admin.create_account("pia").await.unwrap();
    let other = admin.create_account("quentin").await.unwrap();
    let token = owner["token"].as_str().unwrap();
    let other_token = other["token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let base = running.base_url.as_str();
    let (shown_uuid, _) = upload(&http, &running, token, "pia_channel", "Shown film").await;
    let (hidden_uuid, hidden_id) =
        upload(&http, &running, token, "pia_channel", "Hidden film").await;
    let private = create_playlist(
        &http,
        &running,
        token,
        json!({"displayName": "Secret list", "privacy": 3}),
    )
    .await;
    let unlisted = create_playlist(
        &http,
        &running,
        token,
        json!({"displayName": "Link-only list", "privacy": 2}),
    )
    .await;
    let public = create_playlist(
        &http,
        &running,
        token,
        json!({"displayName": "Open list", "privacy": 1, "videoChannelId": "pia_channel"}),
    )
    .await;
    // A public playlist is in a channel (PeerTube takes a remote one only with it).
    let refused = http
        .post(format!("{base}api/v1/video-playlists"))
        .bearer_auth(token)
        .json(&json!({"displayName": "Channelless", "privacy": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    for playlist in [&private, &unlisted, &public] {
        add(&http, &running, token, playlist, &shown_uuid).await;
        add(&http, &running, token, playlist, &hidden_uuid).await;
    }

    // The private one: its owner's only, nowhere for anyone else (page, document, API).
    let private_id = format!("{base}video-playlists/{private}");
    assert_eq!(page(&http, &private_id).await.0, 404);
    assert!(fetch_json(&http, &private_id).await.is_err());
    let api = |uuid: &str, token: Option<&str>| {
        let mut request = http.get(format!("{base}api/v1/video-playlists/{uuid}"));
        if let Some(token) = token {
            request = request.bearer_auth(token.to_owned());
        }
        request.send()
    };
    assert_eq!(api(&private, None).await.unwrap().status(), 404);
    assert_eq!(
        api(&private, Some(other_token)).await.unwrap().status(),
        404
    );
    assert_eq!(api(&private, Some(token)).await.unwrap().status(), 200);
    // The unlisted one: reachable by its address, listed nowhere.
    let unlisted_id = format!("{base}video-playlists/{unlisted}");
    let (status, html) = page(&http, &unlisted_id).await;
    assert_eq!(status, 200);
    assert!(html.contains("Link-only list"));
    assert_eq!(
        api(&unlisted, Some(other_token)).await.unwrap().status(),
        200
    );
    let (_, list) = page(&http, &format!("{base}video-playlists")).await;
    assert!(list.contains("Open list"), "{list}");
    assert!(
        !list.contains("Link-only list") && !list.contains("Secret list"),
        "{list}"
    );
    // The account's playlists, for a browser: only the public one to others.
    let (status, html) = page(&http, &format!("{base}actors/pia/playlists")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Open list") && !html.contains("Link-only list"),
        "{html}"
    );
    assert_eq!(
        page(&http, &format!("{base}actors/nobody/playlists"))
            .await
            .0,
        404
    );
    let collection = fetch_json(&http, &format!("{base}actors/pia/playlists"))
        .await
        .unwrap();
    assert_eq!(
        collection["orderedItems"],
        json!([format!("{base}video-playlists/{public}")])
    );
    // Only the public one is searchable.
    eventually("the search finds the public playlist", || async {
        let answer: Value = http
            .get(format!("{base}api/v1/search/video-playlists?search=list"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["total"] == 1 && answer["data"][0]["displayName"] == "Open list"
    })
    .await;

    // A video nobody may see any more (hidden by the moderators) leaves the public playlist's
    // page, document and API for everyone.
    {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&format!(
            "sqlite://{}",
            crate::support::database(dir.path(), "tube")
        ))
        .await
        .unwrap();
        sqlx::query("UPDATE st_objects SET hidden = 1 WHERE id = $1")
            .bind(hidden_id.clone())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let public_id = format!("{base}video-playlists/{public}");
    let (status, html) = page(&http, &public_id).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Shown film") && !html.contains("Hidden film"),
        "{html}"
    );
    let document = fetch_json(&http, &public_id).await.unwrap();
    assert_eq!(document["totalItems"], 1, "{document}");
    let rest: Value = http
        .get(format!("{base}api/v1/video-playlists/{public}/videos"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"][1]["video"], Value::Null, "{rest}");
    assert!(!rest.to_string().contains("Hidden film"), "{rest}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_public_playlist_reaches_the_follower_in_order_then_its_reorder_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    // Without processing: its `Update` of the video uploaded before the follow would tell B of
    // it, and this test needs a video B never heard of.
    let a = loopback_instance_with(dir.path(), "a", |options| {
        options.app = options.app.clone().with_transcoding(Transcoding::Off);
    })
    .await
    .unwrap();
    let b = loopback_instance(dir.path(), "b").await.unwrap();
    let made = admin_of(&a, dir.path(), "a")
        .create_account("rosa")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let http = reqwest::Client::new();
    // Uploaded before B follows A: B never hears of it.
    let (old, old_id) = upload(&http, &a, token, "rosa_channel", "Old harbour").await;
    admin_of(&b, dir.path(), "b")
        .follow_instance(&a.base_url)
        .await
        .unwrap();
    until_followed(&http, &a, &b).await;
    let (north, _) = upload(&http, &a, token, "rosa_channel", "North shore").await;
    let (south, _) = upload(&http, &a, token, "rosa_channel", "South bay").await;
    for uuid in [&north, &south] {
        eventually("B lists A's videos", || async {
            page(&http, &format!("{}videos/watch/{uuid}", b.base_url))
                .await
                .1
                .contains("<video")
        })
        .await;
    }
    // A private playlist first: it never leaves A.
    let private = create_playlist(
        &http,
        &a,
        token,
        json!({"displayName": "Rosa's drafts", "privacy": 3}),
    )
    .await;
    add(&http, &a, token, &private, &north).await;
    let playlist = create_playlist(
        &http,
        &a,
        token,
        json!({"displayName": "Coastline", "privacy": 1, "videoChannelId": "rosa_channel"}),
    )
    .await;
    add(&http, &a, token, &playlist, &north).await;
    add(&http, &a, token, &playlist, &south).await;
    add(&http, &a, token, &playlist, &old).await;

    let on_b = format!("{}video-playlists/{playlist}", b.base_url);
    let in_order = |first: &'static str, second: &'static str| {
        let http = http.clone();
        let on_b = on_b.clone();
        async move {
            let (status, html) = page(&http, &on_b).await;
            status == 200
                && matches!(
                    (html.find(first), html.find(second)),
                    (Some(i), Some(j)) if i < j
                )
        }
    };
    eventually("B shows the playlist in A's order", || {
        in_order("North shore", "South bay")
    })
    .await;
    // The video B does not list is linked where it lives, in its place.
    eventually("B shows the third element by its link", || async {
        let (_, html) = page(&http, &on_b).await;
        matches!(
            (html.find("South bay"), html.find(&format!("href=\"{old_id}\""))),
            (Some(i), Some(j)) if i < j
        )
    })
    .await;
    let (_, html) = page(&http, &on_b).await;
    assert!(html.contains("Coastline"), "{html}");
    assert!(!html.contains("Old harbour"), "{html}");
    // Listed on B, found by B's search; the private one is on neither.
    let (_, list) = page(&http, &format!("{}video-playlists", b.base_url)).await;
    assert!(
        list.contains("Coastline") && !list.contains("Rosa's drafts"),
        "{list}"
    );
    eventually("B's search finds A's playlist", || async {
        let answer: Value = http
            .get(format!(
                "{}api/v1/search/video-playlists?search=coastline",
                b.base_url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["total"] == 1 && answer["data"][0]["isLocal"] == false
    })
    .await;
    assert_eq!(
        page(&http, &format!("{}video-playlists/{private}", b.base_url))
            .await
            .0,
        404
    );

    // A reorders: B follows (an Update).
    let reorder = http
        .post(format!(
            "{}api/v1/video-playlists/{playlist}/videos/reorder",
            a.base_url
        ))
        .bearer_auth(token)
        .json(&json!({"startPosition": 2, "insertAfterPosition": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(reorder.status(), 204);
    eventually("B shows the new order", || {
        in_order("South bay", "North shore")
    })
    .await;

    // A deletes a video of it: B's copy of the playlist (an Update) no longer has it.
    let north_id = format!("{}videos/watch/{north}", a.base_url);
    let gone = http
        .delete(format!("{}api/v1/videos/{north}", a.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    eventually("B's copy leaves the deleted video out", || async {
        let (status, html) = page(&http, &on_b).await;
        status == 200
            && html.contains("South bay")
            && !html.contains("North shore")
            && !html.contains(&format!("href=\"{north_id}\""))
    })
    .await;

    // A deletes it: B forgets it.
    let deleted = http
        .delete(format!("{}api/v1/video-playlists/{playlist}", a.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    eventually("B forgets the deleted playlist", || async {
        page(&http, &on_b).await.0 == 404
    })
    .await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_makes_a_playlist_from_the_watch_page_in_a_browser() -> anyhow::Result<()> {
    use browser_harness::{Browser, Viewport};

    let dir = tempfile::tempdir()?;
    let running = crate::support::loopback_instance_with(dir.path(), "Tube", |options| {
        options.signup = video_instance::SignupMode::Open;
    })
    .await?;
    let url = |path: &str| {
        running
            .base_url
            .join(path)
            .map(|u| u.to_string())
            .unwrap_or_default()
    };
    let sample_path = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../media-probe/tests/data/vp8-vorbis.webm"
    ));
    let browser = Browser::start().await?;
    let page = browser.session(Viewport::DESKTOP).await?;
    page.goto(&url("/signup")).await?;
    page.fill("Username", "noor").await?;
    page.fill("Password", "correct horse battery staple")
        .await?;
    page.fill("Password again", "correct horse battery staple")
        .await?;
    page.click_button("Sign up").await?;
    page.wait_for_text("Sign out").await?;
    for (title, description) in [
        ("Waves at dusk", "Filmed on the beach."),
        ("Tide at dawn", "Filmed at sunrise."),
    ] {
        page.goto(&url("/videos/upload")).await?;
        page.fill("Title", title).await?;
        page.fill("Description", description).await?;
        page.choose_file("Video file", &sample_path).await?;
        page.click_button("Upload").await?;
        page.wait_for_text(description).await?;
        if title == "Waves at dusk" {
            // From the first video's page: a new public playlist holding it.
            page.fill("New playlist name", "Beach evenings").await?;
            page.select("Privacy", "Public: listed and federated")
                .await?;
            page.click_button("Save to a new playlist").await?;
            page.wait_for_text("A playlist by").await?;
            page.wait_for_text("Waves at dusk").await?;
        } else {
            // From the second's: saved in that playlist, at its end.
            page.select("Playlist", "Beach evenings").await?;
            page.click_button("Save").await?;
            page.wait_for_text("Tide at dawn").await?;
        }
    }
    let order = "const items = [...document.querySelectorAll('ol.playlist-videos li a')]\
        .map(a => a.textContent); return JSON.stringify(items) === JSON.stringify(%s);";
    page.wait_until_script(
        "the playlist in the order the videos were saved",
        &order.replace("%s", r#"["Waves at dusk", "Tide at dawn"]"#),
    )
    .await?;
    page.click_button("Move up Tide at dawn").await?;
    page.wait_until_script(
        "the second video first",
        &order.replace("%s", r#"["Tide at dawn", "Waves at dusk"]"#),
    )
    .await?;
    page.click_button("Remove Waves at dusk").await?;
    page.wait_until_script(
        "one video left",
        &order.replace("%s", r#"["Tide at dawn"]"#),
    )
    .await?;
    page.fill("Name", "Sunrise reel").await?;
    page.click_button("Save the changes").await?;
    page.wait_for_text("Sunrise reel").await?;
    // It is listed for everyone, and its document has the one video left.
    let address = page.current_url().await?.to_string();
    let http = reqwest::Client::new();
    let (_, list) = self::page(&http, &url("/video-playlists")).await;
    assert!(list.contains("Sunrise reel"), "{list}");
    let document = fetch_json(&http, &address).await?;
    assert_eq!(document["name"], "Sunrise reel");
    assert_eq!(document["totalItems"], 1);
    page.close().await?;
    running.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_keep_their_order_on_postgresql() {
    let Some(server) = postgres_url() else {
        return;
    };
    // A fresh database: the migrations (0001, then 0003 without 0002) apply on PostgreSQL.
    sqlx::any::install_default_drivers();
    let database = fresh_database(&server).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    crate::support::init_logging();
    let mut options = video_instance::Options::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database.clone(),
    )
    .with_name("pg")
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    options.app = options.app.clone().with_media_dir(dir.path().join("media"));
    let running = video_instance::start(options).await.unwrap();
    let made = video_instance::admin::Admin::new(database.clone())
        .with_base_url(Some(running.base_url.clone()))
        .with_media_dir(Some(dir.path().join("media")))
        .with_danger_allow_private_addresses(true)
        .create_account("sam")
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let base = running.base_url.as_str();
    let (first, first_id) = upload(&http, &running, token, "sam_channel", "Morning").await;
    let (second, second_id) = upload(&http, &running, token, "sam_channel", "Noon").await;
    let uuid = create_playlist(
        &http,
        &running,
        token,
        json!({"displayName": "A day", "privacy": 1, "videoChannelId": "sam_channel"}),
    )
    .await;
    add(&http, &running, token, &uuid, &first).await;
    add(&http, &running, token, &uuid, &second).await;
    let id = format!("{base}video-playlists/{uuid}");
    assert_eq!(
        document_order(&http, &id).await,
        vec![(first_id.clone(), 1), (second_id.clone(), 2)]
    );
    let reorder = http
        .post(format!(
            "{base}api/v1/video-playlists/{uuid}/videos/reorder"
        ))
        .bearer_auth(token)
        .json(&json!({"startPosition": 1, "insertAfterPosition": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(reorder.status(), 204);
    assert_eq!(
        document_order(&http, &id).await,
        vec![(second_id, 1), (first_id, 2)]
    );
    let (_, list) = page(&http, &format!("{base}video-playlists")).await;
    assert!(list.contains("A day"), "{list}");
    running.stop().await.unwrap();
}
