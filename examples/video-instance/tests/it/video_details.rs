//! PeerTube's REST details of a video (`GET /api/v1/videos/{id}`): by uuid, short uuid and
//! number, in PeerTube's `VideoDetails` shape (the Video members of a real PeerTube answer,
//! the files, the HLS stream and the copies other servers keep), for a local video and a
//! remote one, with PeerTube's refusals.

use std::time::Duration;

use instance_state::blocks::BlockTarget;
use serde_json::Value;
use video_instance::WithParts as _;
use video_search::api::{VideoDetails, uuid_to_short};

use crate::processing::ffmpeg;
use crate::redundancy::{Pair, copies_on_a, pair, until_mirror};
use crate::support::{admin_of, eventually, fixtures_dir, url};

/// `GET` `url` (with `token` as a bearer token, if any): its status and JSON.
async fn get(http: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {status} {text}")),
    )
}

/// JSON's kind of `value`, for comparing shapes.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every member of `real` (a PeerTube server's answer) is in `ours` with the same JSON kind
/// (a `null` on either side stands for a value PeerTube may leave null), recursively into
/// objects.
fn same_shape(path: &str, real: &Value, ours: &Value) {
    let Value::Object(real) = real else { return };
    let Value::Object(ours) = ours else {
        panic!("{path} is not an object: {ours}");
    };
    for (key, value) in real {
        let at = format!("{path}.{key}");
        let mine = ours
            .get(key)
            .unwrap_or_else(|| panic!("{at} is missing from {}", Value::Object(ours.clone())));
        if value.is_null() || mine.is_null() {
            continue;
        }
        assert_eq!(
            kind(mine),
            kind(value),
            "{at}: ours {mine}, PeerTube's {value}"
        );
        if key != "avatars" {
            same_shape(&at, value, mine);
        }
    }
}

#[tokio::test]
async fn a_video_s_details_are_peertube_s_with_its_files_and_the_copies_other_servers_keep() {
    let Some(ffmpeg) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Pair {
        a,
        b,
        uuid,
        id,
        http,
        token,
    } = pair(dir.path(), ffmpeg, Duration::from_secs(3600)).await;
    // B mirrors the video; A learns of the copy.
    admin_of(&b, dir.path(), "b")
        .mirror_video(&uuid)
        .await
        .unwrap();
    until_mirror(dir.path(), &b, &id, "done").await;
    eventually("A knows B's copy", || async {
        !copies_on_a(dir.path(), &id).await.is_empty()
    })
    .await;
    let copy = copies_on_a(dir.path(), &id).await[0].0.clone();

    // A's details of its video, by uuid.
    let details_url = url(&a, &format!("/api/v1/videos/{uuid}"));
    let (status, ours) = get(&http, &details_url, None).await;
    assert_eq!(status, 200, "{ours}");
    let short = uuid_to_short(&uuid).unwrap();
    assert_eq!(ours["uuid"], uuid.as_str());
    assert_eq!(ours["shortUUID"], short.as_str());
    assert_eq!(ours["url"], id.as_str());
    assert_eq!(ours["isLocal"], true);
    assert_eq!(ours["privacy"]["id"], 1);
    assert_eq!(ours["state"]["label"], "Published");
    assert_eq!(ours["commentsPolicy"]["id"], 1);
    // The account and channel as PeerTube's full ones: B's instance follows A's, not them.
    assert_eq!(ours["account"]["followersCount"], 0, "{ours}");
    assert_eq!(ours["channel"]["followingCount"], 0, "{ours}");
    assert_eq!(
        ours["channel"]["ownerAccount"]["url"],
        ours["account"]["url"]
    );
    // The HLS stream: absolute addresses, its rendition, and B's copy.
    let playlist = &ours["streamingPlaylists"][0];
    assert_eq!(playlist["type"], 1, "{ours}");
    let master = playlist["playlistUrl"].as_str().unwrap();
    assert!(
        master.starts_with(&format!("{}static/videos/{uuid}/hls/", a.base_url))
            && master.ends_with(".m3u8"),
        "{master}"
    );
    assert!(
        playlist["segmentsSha256Url"]
            .as_str()
            .unwrap()
            .ends_with(".json"),
        "{playlist}"
    );
    let rendition = &playlist["files"][0];
    let height = rendition["resolution"]["id"].as_u64().unwrap();
    assert!(height > 0, "{rendition}");
    assert_eq!(rendition["resolution"]["label"], format!("{height}p"));
    assert!(rendition["size"].as_u64().unwrap() > 0);
    assert!(
        rendition["playlistUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{height}.m3u8")),
        "{rendition}"
    );
    assert_eq!(
        playlist["redundancies"],
        serde_json::json!([{ "baseUrl": copy }]),
        "{playlist}"
    );
    assert!(
        copy.starts_with(&format!("{}static/redundancy/hls/", b.base_url)),
        "{copy}"
    );
    // The rendition's media playlist is where the details say.
    let media = http
        .get(rendition["playlistUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 200);
    // The web-video files: the original, served where the details say.
    let original = &ours["files"][0];
    assert!(original["torrentUrl"].is_null(), "{original}");
    assert_eq!(original["storage"], 0);
    let file = http
        .get(original["fileUrl"].as_str().unwrap())
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 206);
    assert_eq!(
        u64::try_from(file.bytes().await.unwrap().len()).unwrap(),
        10
    );

    // The shape of a real PeerTube answer: every member of Framatube's Video is here too.
    let fixture: Value = serde_json::from_slice(
        &std::fs::read(
            fixtures_dir().join("peertube-rest/framatube-search-videos-fsf-start0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    same_shape("video", &fixture["data"][0], &ours);
    // And the model reads it back as it was written.
    let read: VideoDetails = serde_json::from_value(ours.clone()).unwrap();
    assert_eq!(serde_json::to_value(&read).unwrap(), ours);

    // The same details by short uuid and by number; the number is the search's.
    let (status, by_short) = get(&http, &url(&a, &format!("/api/v1/videos/{short}")), None).await;
    assert_eq!((status, &by_short["uuid"]), (200, &ours["uuid"]));
    let number = ours["id"].as_i64().unwrap();
    let (status, by_number) = get(&http, &url(&a, &format!("/api/v1/videos/{number}")), None).await;
    assert_eq!((status, &by_number["uuid"]), (200, &ours["uuid"]));
    eventually(
        "A's search gives the same number and short uuid",
        || async {
            let (_, found) = get(
                &http,
                &url(&a, "/api/v1/search/videos?search=processed"),
                None,
            )
            .await;
            found["data"].as_array().is_some_and(|d| {
                d.iter()
                    .any(|v| v["id"] == number && v["shortUUID"] == short.as_str())
            })
        },
    )
    .await;

    // B's details of A's video: remote, A's addresses, and B's own copy listed.
    let (status, remote) = get(&http, &url(&b, &format!("/api/v1/videos/{uuid}")), None).await;
    assert_eq!(status, 200, "{remote}");
    assert_eq!(remote["isLocal"], false);
    // Another server's actors: their follows are theirs to count.
    assert!(
        remote["account"].get("followersCount").is_none(),
        "{remote}"
    );
    assert_eq!(
        remote["channel"]["ownerAccount"]["url"],
        remote["account"]["url"]
    );
    assert_eq!(remote["streamingPlaylists"][0]["playlistUrl"], master);
    assert_eq!(
        remote["streamingPlaylists"][0]["redundancies"],
        serde_json::json!([{ "baseUrl": copy }])
    );
    assert!(remote["files"][0]["storage"].is_null(), "{remote}");
    same_shape("video", &fixture["data"][0], &remote);

    // Ids of no known shape, and unknown videos, with PeerTube's problem documents.
    for (bad, wanted) in [
        ("not-a-video", 400),
        ("123456789012345678901234", 400),
        ("kmtJJ4jnGmKD6v9JV99Wf0", 400),
        ("9cb99a6e-b1e2-4636-8a22-f746c0244227", 404),
        ("kmtJJ4jnGmKD6v9JV99Wf4", 404),
        ("42", 404),
    ] {
        let response = http
            .get(url(&a, &format!("/api/v1/videos/{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), wanted, "{bad}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json")
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], wanted, "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (status, _) = get(&http, &details_url, Some("not-a-token")).await;
    assert_eq!(status, 401);

    // A copy from a server blocked here is not listed.
    let b_actor = b.instance.instance_actor().to_string();
    a.instance
        .state()
        .block(None, &BlockTarget::Actor(b_actor.clone()), "test")
        .await
        .unwrap();
    let (_, blocked) = get(&http, &details_url, None).await;
    assert_eq!(
        blocked["streamingPlaylists"][0]["redundancies"],
        serde_json::json!([])
    );
    a.instance
        .state()
        .unblock(None, &BlockTarget::Actor(b_actor))
        .await
        .unwrap();

    // A video a moderator hid: refused to anyone but its owner (and the moderators).
    assert!(a.instance.state().hide_object(&id, "test").await.unwrap());
    let (status, problem) = get(&http, &details_url, None).await;
    assert_eq!(status, 403, "{problem}");
    let (status, _) = get(&http, &url(&a, &format!("/api/v1/videos/{number}")), None).await;
    assert_eq!(status, 403);
    let (status, owned) = get(&http, &details_url, Some(&token)).await;
    assert_eq!((status, &owned["uuid"]), (200, &ours["uuid"]));
    let other = admin_of(&a, dir.path(), "a")
        .create_account("olga")
        .await
        .unwrap();
    let (status, _) = get(&http, &details_url, other["token"].as_str()).await;
    assert_eq!(status, 403);
    admin_of(&a, dir.path(), "a")
        .set_role("olga", "moderator")
        .await
        .unwrap();
    let (status, _) = get(&http, &details_url, other["token"].as_str()).await;
    assert_eq!(status, 200);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
