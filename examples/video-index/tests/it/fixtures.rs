//! PeerTube's own payloads (`fixtures/peertube/`), moved to a loopback peer the index follows
//! and delivered signed to the index's inbox: `Create`, `Update`, `Delete` and `Announce` of
//! videos reach the search, whose answers carry the members and types of SepiaSearch's
//! (`fixtures/peertube-rest/`); and what must be refused is refused without being indexed.

use serde_json::{Value, json};

use test_peer::Peer;

use crate::peer::{actor_at, followed_peer};
use crate::support::{fixture_text, search, until_total, within};

/// Whether `actual` has every member of `expected`, each of the same JSON type where both
/// are given (PeerTube writes `null` for what it lacks), recursively; `skip` names members
/// (`path.member`) left out.
fn check_shape(
    expected: &Value,
    actual: &Value,
    path: &str,
    skip: &[&str],
    problems: &mut Vec<String>,
) {
    match (expected, actual) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if skip.contains(&here.as_str()) {
                    continue;
                }
                match a.get(key) {
                    Some(found) => check_shape(value, found, &here, skip, problems),
                    None => problems.push(format!("{here} is missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e), Some(a)) = (e.first(), a.first()) {
                check_shape(e, a, &format!("{path}[]"), skip, problems);
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        (e, a) => problems.push(format!("{path}: {e} in PeerTube's answer, {a} in ours")),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn peertube_payloads_are_indexed_updated_deleted_and_answered_in_peertube_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (index, peer, inbox) = followed_peer(dir.path(), |_| {}).await;
    let origin = peer.origin();
    let base = &index.base_url;

    // Create(Video) from framatube.org, its account and channel served by the peer.
    let account = actor_at(&peer, "/accounts/framasoft", "Person", "Framasoft").await;
    let framasoft_channel = actor_at(
        &peer,
        "/video-channels/bf54d359-cfad-4935-9d45-9d6be93f63e8",
        "Group",
        "Framasoft channel",
    )
    .await;
    let create = peer
        .fixture_from("peertube/create-video.json", "https://framatube.org")
        .unwrap();
    peer.deliver(&account, &inbox, &create).await.unwrap();
    let found = until_total(&http, base, "deframasoftisons", 1).await;
    let video = &found["data"][0];
    assert_eq!(video["uuid"], "6050732a-8a7a-43d4-a6cd-809525a1d206");
    assert_eq!(video["duration"], 3622);
    assert_eq!(video["views"], 154);
    assert_eq!(video["category"]["id"], 15);
    assert_eq!(video["channel"]["displayName"], "Framasoft channel");
    assert_eq!(video["account"]["displayName"], "Framasoft");
    assert_eq!(
        video["embedUrl"],
        format!("{origin}/videos/embed/6050732a-8a7a-43d4-a6cd-809525a1d206")
    );
    assert_eq!(
        video["thumbnailUrl"],
        format!("{origin}/static/thumbnails/6050732a-8a7a-43d4-a6cd-809525a1d206.jpg")
    );
    assert_eq!(
        video["previewUrl"],
        format!("{origin}/static/previews/6050732a-8a7a-43d4-a6cd-809525a1d206.jpg")
    );
    // The members and types SepiaSearch answers with.
    let sepia: Value = serde_json::from_str(&fixture_text(
        "peertube-rest/sepiasearch-search-videos-kde-start0.json",
    ))
    .unwrap();
    let mut problems = Vec::new();
    // Left out: `avatar`, the single avatar of PeerTube before 4.0 (always null there); the
    // avatars' file dates, which an actor's `icon` does not carry; `comments`, a count
    // ActivityPub does not carry either (a video names its comments collection), which
    // PeerTube before 7 left out too.
    check_shape(
        &sepia,
        &found,
        "",
        &[
            "data[].account.avatar",
            "data[].channel.avatar",
            "data[].account.avatars[].createdAt",
            "data[].account.avatars[].updatedAt",
            "data[].channel.avatars[].createdAt",
            "data[].channel.avatars[].updatedAt",
            "data[].comments",
        ],
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:#?}\n{found}");
    // The same by POST with a JSON body, as a PeerTube instance asks its index.
    let posted: Value = http
        .post(base.join("api/v1/search/videos").unwrap())
        .json(&json!({"search": "déframasoftisons", "start": 0, "count": 5, "sort": "-match", "nsfw": "false"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["total"], 1, "{posted}");
    // Its channel is found by the channel search, GET and POST.
    let channels: Value = http
        .get(
            base.join("api/v1/search/video-channels?search=framasoft")
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(channels["total"], 1, "{channels}");
    assert_eq!(channels["data"][0]["displayName"], "Framasoft channel");
    assert_eq!(
        channels["data"][0]["avatars"][0]["fileUrl"]
            .as_str()
            .map(|u| u.starts_with(origin)),
        Some(true),
        "{channels}"
    );
    let channels: Value = http
        .post(base.join("api/v1/search/video-channels").unwrap())
        .json(&json!({"search": "framasoft", "start": 0, "count": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(channels["total"], 1, "{channels}");
    // No playlists are indexed: an empty list, GET and POST.
    let playlists: Value = http
        .post(base.join("api/v1/search/video-playlists").unwrap())
        .json(&json!({"search": "framasoft", "start": 0, "count": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(playlists, json!({"total": 0, "data": []}));
    let playlists = http
        .get(base.join("api/v1/search/video-playlists?search=x").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(playlists.status(), 200);

    // The channel renames itself: its videos' entries and its own follow.
    let mut renamed: Value = http
        .get(&framasoft_channel)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    renamed["name"] = json!("Framasoft renamed");
    let update_channel = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{framasoft_channel}/updates/1"),
        "type": "Update",
        "actor": framasoft_channel,
        "object": renamed,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    });
    peer.deliver(&framasoft_channel, &inbox, &update_channel)
        .await
        .unwrap();
    within("the channel's new name reaches its video", 10, || async {
        let found = search(&http, base, &[("search", "deframasoftisons")]).await;
        (found["data"][0]["channel"]["displayName"] == "Framasoft renamed").then_some(())
    })
    .await;
    let channels: Value = http
        .get(
            base.join("api/v1/search/video-channels?search=renamed")
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(channels["total"], 1, "{channels}");

    // A video created under one name, then PeerTube's Update of it renames it.
    let root = actor_at(&peer, "/accounts/root", "Person", "root").await;
    actor_at(
        &peer,
        "/video-channels/root_channel",
        "Group",
        "Main root channel",
    )
    .await;
    let update = peer
        .fixture_from("peertube/update-video.json", "http://peertube.test")
        .unwrap();
    let mut first = update["object"].clone();
    first["name"] = json!("Earth before its update");
    first["updated"] = json!("2024-05-15T12:39:50.000Z");
    let create = json!({
        "@context": update["@context"],
        "id": format!("{}/activity", first["id"].as_str().unwrap()),
        "type": "Create",
        "actor": root,
        "object": first,
        "to": update["to"],
        "cc": update["cc"],
    });
    peer.deliver(&root, &inbox, &create).await.unwrap();
    until_total(&http, base, "earth", 1).await;
    peer.deliver(&root, &inbox, &update).await.unwrap();
    let renamed = until_total(&http, base, "terre", 1).await;
    assert_eq!(
        renamed["data"][0]["uuid"],
        "717c9d87-c912-4943-a392-49fadf2f235d"
    );
    until_total(&http, base, "earth", 0).await;
    // An older version arriving late changes nothing.
    peer.deliver(
        &root,
        &inbox,
        &json!({
            "@context": update["@context"],
            "id": format!("{}/updates/late", update["object"]["id"].as_str().unwrap()),
            "type": "Update",
            "actor": root,
            "object": create["object"],
            "to": update["to"],
            "cc": update["cc"],
        }),
    )
    .await
    .unwrap();
    index.instance.commit().await.unwrap();
    assert_eq!(
        search(&http, base, &[("search", "terre")]).await["total"],
        1
    );
    // PeerTube's Delete of it.
    let delete = peer
        .fixture_from("peertube/delete-video.json", "http://peertube.test")
        .unwrap();
    peer.deliver(&root, &inbox, &delete).await.unwrap();
    until_total(&http, base, "terre", 0).await;

    // PeerTube's Announce of a video by its channel: the video fetched from its origin.
    let video = peer
        .fixture_from("peertube/video.json", "https://tilvids.com")
        .unwrap();
    peer.serve(&video).unwrap();
    actor_at(
        &peer,
        "/accounts/thelinuxexperiment",
        "Person",
        "The Linux Experiment",
    )
    .await;
    let channel = actor_at(
        &peer,
        "/video-channels/thelinuxexperiment_channel",
        "Group",
        "The Linux Experiment channel",
    )
    .await;
    let announce = peer
        .fixture_from("peertube/announce-video.json", "https://tilvids.com")
        .unwrap();
    peer.deliver(&channel, &inbox, &announce).await.unwrap();
    let found = until_total(&http, base, "wayland debian", 1).await;
    assert_eq!(found["data"][0]["language"]["id"], "en");

    // Delete of the channel actor itself: its videos go.
    let gone = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{channel}#delete"),
        "type": "Delete",
        "actor": channel,
        "object": channel,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    });
    peer.deliver(&channel, &inbox, &gone).await.unwrap();
    until_total(&http, base, "wayland debian", 0).await;
    assert_eq!(index.instance.stored_video_count().await.unwrap(), 1);

    index.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn what_must_be_refused_is_refused_and_not_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (index, peer, inbox) = followed_peer(dir.path(), |options| {
        options.app.rules.exclude_sensitive = true;
    })
    .await;
    let base = &index.base_url;
    let root = actor_at(&peer, "/accounts/root", "Person", "root").await;
    let channel = actor_at(
        &peer,
        "/video-channels/root_channel",
        "Group",
        "Main root channel",
    )
    .await;
    let update = peer
        .fixture_from("peertube/update-video.json", "http://peertube.test")
        .unwrap();
    // Each Create with an id of its own (the inbox takes an activity once).
    let created = std::sync::atomic::AtomicUsize::new(0);
    let create_of = |object: Value| {
        let n = created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        json!({
            "@context": update["@context"],
            "id": format!("{}/activity/{n}", object["id"].as_str().unwrap()),
            "type": "Create",
            "actor": object["attributedTo"][0]["id"],
            "object": object,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [],
        })
    };

    // An Announce, by a followed server's channel, of a video on another server: not even
    // fetched.
    let other = Peer::start().await.unwrap();
    let elsewhere = other
        .fixture_from("peertube/video.json", "https://tilvids.com")
        .unwrap();
    other.serve(&elsewhere).unwrap();
    let announce = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{channel}/announces/elsewhere"),
        "type": "Announce",
        "actor": channel,
        "object": elsewhere["id"],
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    });
    peer.deliver(&channel, &inbox, &announce).await.unwrap();
    assert_eq!(other.request_count(), 0);

    // A Create from a server the index does not follow.
    let stranger = actor_at(&other, "/accounts/root", "Person", "root").await;
    actor_at(
        &other,
        "/video-channels/root_channel",
        "Group",
        "Stranger channel",
    )
    .await;
    let strange = other
        .fixture_from("peertube/update-video.json", "http://peertube.test")
        .unwrap();
    let mut strange_video = strange["object"].clone();
    strange_video["name"] = json!("Unsolicited wayland video");
    other
        .deliver(&stranger, &inbox, &create_of(strange_video))
        .await
        .unwrap();

    // A video whose title is absurdly long.
    let mut long = update["object"].clone();
    long["name"] = json!("wayland ".repeat(200));
    peer.deliver(&root, &inbox, &create_of(long)).await.unwrap();

    // A video attributed to a channel of another server: the inbox refuses it.
    let mut foreign = update["object"].clone();
    foreign["name"] = json!("Foreign channel wayland video");
    foreign["attributedTo"][1]["id"] =
        json!(format!("{}/video-channels/root_channel", other.origin()));
    let (status, _) = peer.post(&inbox, &create_of(foreign)).await.unwrap();
    assert_eq!(status, 401);

    // A video that is not public (followers only).
    let mut private = update["object"].clone();
    private["name"] = json!("Followers only wayland video");
    private["to"] = json!([format!("{root}/followers")]);
    private["cc"] = json!([]);
    let mut private_create = create_of(private);
    private_create["to"] = json!([format!("{root}/followers")]);
    peer.deliver(&root, &inbox, &private_create).await.unwrap();

    // A body over the inbox's limit: refused before anything is read.
    let huge = vec![b' '; 2 << 20];
    let response = http
        .post(&inbox)
        .header("content-type", "application/activity+json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // The inbox answers once its handler is done: nothing was stored, nothing is found.
    assert_eq!(index.instance.stored_video_count().await.unwrap(), 0);
    index.instance.commit().await.unwrap();
    assert_eq!(
        search(&http, base, &[("search", "wayland")]).await["total"],
        0
    );

    // A positive control: the same kind of Create, well formed, is taken.
    peer.deliver(&root, &inbox, &create_of(update["object"].clone()))
        .await
        .unwrap();
    until_total(&http, base, "terre", 1).await;

    // Another account of the video's server cannot delete it.
    let mallory = actor_at(&peer, "/accounts/mallory", "Person", "mallory").await;
    let forged = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{mallory}/deletes/1"),
        "type": "Delete",
        "actor": mallory,
        "object": update["object"]["id"],
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    });
    peer.deliver(&mallory, &inbox, &forged).await.unwrap();
    assert_eq!(index.instance.stored_video_count().await.unwrap(), 1);
    index.instance.commit().await.unwrap();
    assert_eq!(
        search(&http, base, &[("search", "terre")]).await["total"],
        1
    );

    // Updates: marked sensitive (which this index leaves out), it leaves the index but stays
    // stored; unmarked, it comes back; made followers-only, it is forgotten.
    let update_with = |n: u32, change: &dyn Fn(&mut Value)| {
        let mut activity = update.clone();
        activity["id"] = json!(format!(
            "{}/updates/test-{n}",
            update["object"]["id"].as_str().unwrap()
        ));
        activity["object"]["updated"] = json!(format!("2030-01-01T00:00:0{n}.000Z"));
        change(&mut activity["object"]);
        activity
    };
    peer.deliver(
        &root,
        &inbox,
        &update_with(1, &|v| v["sensitive"] = json!(true)),
    )
    .await
    .unwrap();
    until_total(&http, base, "terre", 0).await;
    assert_eq!(index.instance.stored_video_count().await.unwrap(), 1);
    peer.deliver(&root, &inbox, &update_with(2, &|_| {}))
        .await
        .unwrap();
    until_total(&http, base, "terre", 1).await;
    let followers_only = update_with(3, &|v| {
        v["to"] = json!([format!(
            "{}/followers",
            v["attributedTo"][0]["id"].as_str().unwrap()
        )]);
        v["cc"] = json!([]);
    });
    peer.deliver(&root, &inbox, &followers_only).await.unwrap();
    until_total(&http, base, "terre", 0).await;
    assert_eq!(index.instance.stored_video_count().await.unwrap(), 0);

    index.stop().await.unwrap();
}
