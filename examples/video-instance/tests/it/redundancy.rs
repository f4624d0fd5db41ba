//! Redundancy: an instance mirrors a followed instance's videos and announces the copies with
//! `CacheFile`s; the origin lists them; bad copies are refused with nothing stored.

use std::path::{Path, PathBuf};
use std::time::Duration;
use video_instance::WithParts as _;

use serde_json::{Value, json};
use sqlx::Row as _;
use test_peer::Peer;
use video_instance::{Running, Transcoding};

use crate::processing::{account, ffmpeg, pool_of, upload};
use crate::support::{
    admin_of, eventually, fetch_json, html, loopback_instance_with, until_followed,
};

/// A (processing with `ffmpeg`) and B (mirroring, with a quick timer and a short lifetime),
/// B following A, and a video uploaded on A, processed, and listed on B with its HLS stream.
pub(crate) struct Pair {
    pub(crate) a: Running,
    pub(crate) b: Running,
    pub(crate) uuid: String,
    pub(crate) id: String,
    pub(crate) http: reqwest::Client,
    /// The token of A's account `ann`, who uploaded the video.
    pub(crate) token: String,
}

pub(crate) async fn mirroring(dir: &Path, name: &str, lifetime: Duration) -> Running {
    loopback_instance_with(dir, name, |options| {
        options.app = options
            .app
            .clone()
            .with_transcoding(Transcoding::Off)
            .with_mirror_check_interval(Duration::from_millis(200))
            .with_mirror_lifetime(lifetime);
    })
    .await
    .unwrap()
}

pub(crate) async fn pair(dir: &Path, ffmpeg: PathBuf, lifetime: Duration) -> Pair {
    let http = reqwest::Client::new();
    let a = loopback_instance_with(dir, "a", |options| {
        options.app = options
            .app
            .clone()
            .with_transcoding(Transcoding::Ffmpeg(ffmpeg));
    })
    .await
    .unwrap();
    let b = mirroring(dir, "b", lifetime).await;
    admin_of(&b, dir, "b")
        .follow_instance(&a.base_url)
        .await
        .unwrap();
    until_followed(&http, &a, &b).await;
    let token = account(&a, dir, "a", "ann").await;
    let (uuid, id) = upload(&http, &a, &token, "ann_channel", "h264-aac-moov-end.mp4").await;
    until_stored_with_hls(&pool_of(dir, "b").await, &id).await;
    Pair {
        a,
        b,
        uuid,
        id,
        http,
        token,
    }
}

/// Waits until the instance of `pool` stores video `id` with its HLS stream.
pub(crate) async fn until_stored_with_hls(pool: &sqlx::AnyPool, id: &str) {
    eventually(&format!("{id} is stored with its HLS stream"), || {
        let (pool, id) = (pool.clone(), id.to_owned());
        async move {
            sqlx::query("SELECT document FROM st_objects WHERE id = $1")
                .bind(id)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .is_some_and(|r| r.get::<String, _>("document").contains("x-mpegURL"))
        }
    })
    .await;
}

pub(crate) async fn mirror_state(dir: &Path, b: &Running, video: &str) -> Option<Value> {
    let mirrors = admin_of(b, dir, "b").mirrors().await.unwrap();
    mirrors["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["video"] == video)
        .cloned()
}

pub(crate) async fn until_mirror(dir: &Path, b: &Running, video: &str, state: &str) -> Value {
    eventually(&format!("B's mirror is {state}"), || async {
        mirror_state(dir, b, video)
            .await
            .is_some_and(|m| m["state"] == state)
    })
    .await;
    mirror_state(dir, b, video).await.unwrap()
}

/// The copies A knows of its video `id`: `(href, expires)`.
pub(crate) async fn copies_on_a(dir: &Path, id: &str) -> Vec<(String, Option<i64>)> {
    sqlx::query("SELECT href, expires FROM vi_cache_files WHERE video = $1 AND withdrawn IS NULL")
        .bind(id.to_owned())
        .fetch_all(&pool_of(dir, "a").await)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("href"), r.get("expires")))
        .collect()
}

/// Every file under `name`'s media store's `redundancy/` (and its temporary files).
fn mirrored_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let media = dir.join(format!("{name}.sqlite.media"));
    let mut out = Vec::new();
    let mut stack = vec![media.join("data/redundancy"), media.join("tmp")];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}

/// The path of A's fragmented MP4 of video `uuid`.
fn origin_rendition(dir: &Path, uuid: &str) -> PathBuf {
    let hls = dir.join(format!("a.sqlite.media/data/videos/{uuid}/hls"));
    std::fs::read_dir(&hls)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-fragmented.mp4"))
        .unwrap()
}

#[tokio::test]
async fn an_instance_mirrors_a_followed_instance_and_the_origin_lists_the_copy() {
    let Some(ffmpeg) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Pair {
        a,
        b,
        uuid,
        id,
        http,
        ..
    } = pair(dir.path(), ffmpeg, Duration::from_secs(4)).await;

    // B mirrors all of A's videos.
    let queued = admin_of(&b, dir.path(), "b")
        .mirror_instance(&a.base_url)
        .await
        .unwrap();
    assert_eq!(queued["queued"], 1, "{queued}");
    let done = until_mirror(dir.path(), &b, &id, "done").await;
    let cache_file = done["cache_file"].as_str().unwrap().to_owned();
    assert!(
        cache_file.starts_with(&format!(
            "{}redundancy/streaming-playlists/hls/",
            b.base_url
        )),
        "{cache_file}"
    );

    // B serves its CacheFile at its id, in PeerTube's shape.
    let served = fetch_json(&http, &cache_file).await.unwrap();
    assert_eq!(served["type"], "CacheFile");
    assert_eq!(served["object"], id.as_str());
    assert_eq!(served["url"]["mediaType"], "application/x-mpegURL");
    assert!(served["expires"].is_string(), "{served}");

    // A received the Create(CacheFile) and lists B's copy: the directory PeerTube's player
    // joins file names to.
    // The row comes, then the document is rewritten with the copy.
    eventually("A knows B's copy", || async {
        !copies_on_a(dir.path(), &id).await.is_empty()
            && fetch_json(&http, &id)
                .await
                .unwrap()
                .to_string()
                .contains("redundancy")
    })
    .await;
    let copies = copies_on_a(dir.path(), &id).await;
    let (base, first_expiry) = copies[0].clone();
    assert!(
        base.starts_with(&format!("{}static/redundancy/hls/", b.base_url)),
        "{base}"
    );
    let document = fetch_json(&http, &id).await.unwrap();
    let playlist = document["url"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["mediaType"] == "application/x-mpegURL")
        .unwrap()
        .clone();
    let mirror_master = format!("{base}/master.m3u8");
    assert!(
        playlist["tag"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["href"] == mirror_master.as_str() && t["rel"] == json!(["redundancy"])),
        "{playlist}"
    );
    let (status, page) = html(&http, &format!("{}videos/watch/{uuid}", a.base_url)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("<source src=\"{mirror_master}\"")),
        "{page}"
    );
    assert!(page.contains("Also served by other servers"), "{page}");

    // B serves the copy's bytes, with ranges, as A serves them.
    let original = std::fs::read(origin_rendition(dir.path(), &uuid)).unwrap();
    let name = origin_rendition(dir.path(), &uuid)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let response = http
        .get(format!("{base}/{name}"))
        .header("range", "bytes=10-109")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 206);
    assert_eq!(&response.bytes().await.unwrap()[..], &original[10..110]);
    let master = http.get(&mirror_master).send().await.unwrap();
    assert_eq!(master.status().as_u16(), 200);
    assert!(master.text().await.unwrap().starts_with("#EXTM3U"));

    // Before it lapses, B renews the copy with Update(CacheFile): A's expiry moves.
    eventually("A's expiry of B's copy moves", || async {
        copies_on_a(dir.path(), &id)
            .await
            .first()
            .is_some_and(|(_, e)| *e > first_expiry)
    })
    .await;

    // Stopping the mirror: B's files go, A gets the Undo and drops the copy.
    let stopped = admin_of(&b, dir.path(), "b")
        .stop_mirror(&uuid)
        .await
        .unwrap();
    assert_eq!(stopped["stopped"], true);
    let left = mirrored_files(dir.path(), "b");
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        http.get(format!("{base}/{name}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    // The row goes, then the document is rewritten without the copy.
    eventually("A drops B's copy", || async {
        copies_on_a(dir.path(), &id).await.is_empty()
            && !fetch_json(&http, &id)
                .await
                .unwrap()
                .to_string()
                .contains("redundancy")
    })
    .await;
    // Stopped, it is not mirrored again with its instance.
    assert_eq!(
        mirror_state(dir.path(), &b, &id).await.unwrap()["state"],
        "stopped"
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn stopping_an_instance_s_mirrors_removes_them_and_its_new_videos_are_not_mirrored() {
    let Some(ffmpeg) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Pair { a, b, id, http, .. } = pair(dir.path(), ffmpeg, Duration::from_secs(3600)).await;
    let admin = admin_of(&b, dir.path(), "b");
    assert_eq!(
        admin.mirror_instance(&a.base_url).await.unwrap()["queued"],
        1
    );
    until_mirror(dir.path(), &b, &id, "done").await;
    assert!(!mirrored_files(dir.path(), "b").is_empty());

    let stopped = admin.stop_mirror_instance(&a.base_url).await.unwrap();
    assert_eq!(stopped["stopped"], 1, "{stopped}");
    let left = mirrored_files(dir.path(), "b");
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        mirror_state(dir.path(), &b, &id).await.unwrap()["state"],
        "stopped"
    );
    eventually("A drops B's copy", || async {
        copies_on_a(dir.path(), &id).await.is_empty()
            && !fetch_json(&http, &id)
                .await
                .unwrap()
                .to_string()
                .contains("redundancy")
    })
    .await;

    // A's next video reaches B, processed, and is not mirrored.
    let token = account(&a, dir.path(), "a", "abe").await;
    let (_, second) = upload(&http, &a, &token, "abe_channel", "h264-aac-moov-end.mp4").await;
    let b_pool = pool_of(dir.path(), "b").await;
    until_stored_with_hls(&b_pool, &second).await;
    assert!(mirror_state(dir.path(), &b, &second).await.is_none());
    assert!(mirrored_files(dir.path(), "b").is_empty());
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn absurd_sizes_and_bad_hashes_are_refused_with_nothing_stored_and_a_stop_resumes() {
    let Some(ffmpeg) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Pair { a, b, uuid, id, .. } =
        pair(dir.path(), ffmpeg, Duration::from_secs(48 * 3600)).await;
    let b_pool = pool_of(dir.path(), "b").await;
    let stored: String = sqlx::query("SELECT document FROM st_objects WHERE id = $1")
        .bind(id.clone())
        .fetch_one(&b_pool)
        .await
        .unwrap()
        .get("document");

    // The video as B stored it claims an absurd size for its rendition: refused before any
    // byte is fetched.
    let mut absurd: Value = serde_json::from_str(&stored).unwrap();
    for link in absurd["url"].as_array_mut().unwrap() {
        if let Some(tags) = link["tag"].as_array_mut() {
            for tag in tags {
                if tag["mediaType"] == "video/mp4" {
                    tag["size"] = json!(1_000_000_000_000_u64);
                }
            }
        }
    }
    let set_document = |document: String| {
        let (pool, id) = (b_pool.clone(), id.clone());
        async move {
            sqlx::query("UPDATE st_objects SET document = $2 WHERE id = $1")
                .bind(id)
                .bind(document)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    set_document(absurd.to_string()).await;
    let admin = admin_of(&b, dir.path(), "b");
    admin.mirror_video(&uuid).await.unwrap();
    let failed = until_mirror(dir.path(), &b, &id, "failed").await;
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("over this instance's mirroring limit"),
        "{failed}"
    );
    assert!(mirrored_files(dir.path(), "b").is_empty());

    // The origin's bytes no longer match its segments' SHA-256: refused, nothing stored.
    set_document(stored.clone()).await;
    let rendition = origin_rendition(dir.path(), &uuid);
    let mut bytes = std::fs::read(&rendition).unwrap();
    let middle = bytes.len() - 100;
    bytes[middle] ^= 0xff;
    std::fs::write(&rendition, &bytes).unwrap();
    admin.mirror_video(&uuid).await.unwrap();
    eventually("the second attempt runs", || async {
        mirror_state(dir.path(), &b, &id)
            .await
            .is_some_and(|m| m["state"] == "failed" && m["error"].to_string().contains("SHA-256"))
    })
    .await;
    let failed = mirror_state(dir.path(), &b, &id).await.unwrap();
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("but the origin's segments-sha256 says"),
        "{failed}"
    );
    assert!(mirrored_files(dir.path(), "b").is_empty());
    let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM vi_files WHERE role LIKE 'mirror%'")
        .fetch_one(&b_pool)
        .await
        .unwrap()
        .get("n");
    assert_eq!(rows, 0);
    assert!(copies_on_a(dir.path(), &id).await.is_empty());

    // The bytes mended, a copy interrupted by a crash (its row left running under a lease that
    // lapsed, a file of its attempt committed) resumes at the next start, and what the crash
    // left goes.
    bytes[middle] ^= 0xff;
    std::fs::write(&rendition, &bytes).unwrap();
    let base_url = b.base_url.clone();
    b.stop().await.unwrap();
    sqlx::query(
        "UPDATE vi_mirrors SET state = 'running', attempt = 'crashed', lease_until = 1
         WHERE video = $1",
    )
    .bind(id.clone())
    .execute(&b_pool)
    .await
    .unwrap();
    let leftover = dir
        .path()
        .join("b.sqlite.media/data/redundancy/hls/crashed");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("master.m3u8"), "#EXTM3U\n").unwrap();
    let b = loopback_instance_with(dir.path(), "b", |options| {
        options.base_url = Some(base_url);
        options.app = options
            .app
            .clone()
            .with_transcoding(Transcoding::Off)
            .with_mirror_check_interval(Duration::from_millis(200));
    })
    .await
    .unwrap();
    until_mirror(dir.path(), &b, &id, "done").await;
    assert!(
        !leftover.exists(),
        "the crashed attempt's files are removed"
    );
    assert!(!mirrored_files(dir.path(), "b").is_empty());
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// The bytes B's mirrors take, as its files' rows say.
async fn mirrors_bytes(pool: &sqlx::AnyPool) -> i64 {
    sqlx::query(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM vi_files
         WHERE role LIKE 'mirror%'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
    .get("n")
}

#[tokio::test]
async fn a_copy_that_does_not_fit_in_the_mirror_cache_is_refused_until_room_is_made() {
    let Some(ffmpeg) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Pair {
        a,
        b,
        uuid,
        id,
        http,
        token,
    } = pair(dir.path(), ffmpeg, Duration::from_secs(48 * 3600)).await;
    let b_pool = pool_of(dir.path(), "b").await;
    admin_of(&b, dir.path(), "b")
        .mirror_video(&uuid)
        .await
        .unwrap();
    until_mirror(dir.path(), &b, &id, "done").await;
    let one = mirrors_bytes(&b_pool).await;
    assert!(one > 0);

    // A second video of the same file: its copy weighs as much as the first.
    let (second_uuid, second) =
        upload(&http, &a, &token, "ann_channel", "h264-aac-moov-end.mp4").await;
    until_stored_with_hls(&b_pool, &second).await;

    // B again, with a cache that holds one copy and a half.
    let base_url = b.base_url.clone();
    b.stop().await.unwrap();
    let cache = u64::try_from(one + one / 2).unwrap();
    let b = loopback_instance_with(dir.path(), "b", |options| {
        options.base_url = Some(base_url);
        options.app = options
            .app
            .clone()
            .with_transcoding(Transcoding::Off)
            .with_mirror_check_interval(Duration::from_millis(200))
            .with_mirror_cache_bytes(cache);
    })
    .await
    .unwrap();
    let admin = admin_of(&b, dir.path(), "b");
    admin.mirror_video(&second_uuid).await.unwrap();
    let failed = until_mirror(dir.path(), &b, &second, "failed").await;
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "take {one} of this instance's mirror cache of {cache} bytes"
        )),
        "{failed}"
    );
    assert_eq!(
        mirrors_bytes(&b_pool).await,
        one,
        "nothing of the second copy is kept"
    );
    assert_eq!(
        mirror_state(dir.path(), &b, &id).await.unwrap()["state"],
        "done",
        "the first copy stays"
    );

    // Stopping the first mirror makes room: the second copy is made.
    assert!(
        admin.stop_mirror(&uuid).await.unwrap()["stopped"]
            .as_bool()
            .unwrap()
    );
    admin.mirror_video(&second_uuid).await.unwrap();
    until_mirror(dir.path(), &b, &second, "done").await;
    assert_eq!(mirrors_bytes(&b_pool).await, one);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn peertube_s_create_cachefile_is_kept_undone_and_dropped_when_it_lapses() {
    let dir = tempfile::tempdir().unwrap();
    let a = loopback_instance_with(dir.path(), "a", |options| {
        options.app = options
            .app
            .clone()
            .with_transcoding(Transcoding::Off)
            .with_mirror_check_interval(Duration::from_millis(200));
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let token = account(&a, dir.path(), "a", "ann").await;
    let (uuid, id) = upload(&http, &a, &token, "ann_channel", "h264-aac-moov-end.mp4").await;
    let original = sqlx::query("SELECT height, fps_milli FROM vi_files WHERE video = $1")
        .bind(id.clone())
        .fetch_one(&pool_of(dir.path(), "a").await)
        .await
        .unwrap();
    let height: i64 = original.get("height");
    let fps: Option<i64> = original.get("fps_milli");

    // PeerTube's Create(CacheFile), from its instance account, moved to the peer and made
    // about A's video (its file's resolution, an expiry to come).
    let peer = Peer::start().await.unwrap();
    let actor = peer
        .actor_at("/accounts/peertube", "Application", "peertube")
        .await
        .unwrap();
    let mut create = peer
        .fixture_from(
            "peertube/create-cachefile.json",
            "https://peertube.behostings.net",
        )
        .unwrap();
    let account_id = format!("{}accounts/ann", a.base_url);
    let account_id = fetch_json(&http, &id).await.unwrap()["attributedTo"][0]
        .as_str()
        .map(str::to_owned)
        .unwrap_or(account_id);
    create["to"] = json!([account_id]);
    create["object"]["to"] = json!([account_id]);
    create["object"]["object"] = json!(id);
    create["object"]["url"]["height"] = json!(height);
    create["object"]["url"]["fps"] = json!(fps.map(|f| (f + 500) / 1000));
    let expires = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    create["object"]["expires"] = json!(
        expires
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
    let copy = create["object"]["url"]["href"].as_str().unwrap().to_owned();
    let inbox = a.instance.base_url().join("inbox").unwrap().to_string();
    let status = peer.deliver(&actor, &inbox, &create).await.unwrap();
    assert!((200..300).contains(&status), "{status}");
    eventually("A keeps PeerTube's copy", || async {
        copies_on_a(dir.path(), &id)
            .await
            .iter()
            .any(|(href, _)| *href == copy)
    })
    .await;
    let (_, page) = html(&http, &format!("{}videos/watch/{uuid}", a.base_url)).await;
    assert!(page.contains(&format!("href=\"{copy}\"")), "{page}");

    // The same copy announced by another server's actor is not believed.
    let other = Peer::start().await.unwrap();
    let stranger = other
        .actor_at("/accounts/peertube", "Application", "peertube")
        .await
        .unwrap();
    let mut forged = create.clone();
    forged["actor"] = json!(stranger);
    forged["id"] = json!(format!("{stranger}/forged/activity"));
    let refused = other.deliver(&stranger, &inbox, &forged).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("origin")),
        "{refused:?}"
    );
    // Its own CacheFile, of a copy on the first server: taken in, not believed.
    forged["object"]["id"] = json!(format!("{stranger}/forged"));
    let status = other.deliver(&stranger, &inbox, &forged).await.unwrap();
    assert!((200..300).contains(&status), "{status}");
    assert_eq!(copies_on_a(dir.path(), &id).await.len(), 1);

    // PeerTube's Undo of it (the Create embedded): the copy goes.
    let undo = json!({
        "@context": create["@context"].clone(),
        "type": "Undo",
        "id": format!("{}/undo", create["object"]["id"].as_str().unwrap()),
        "actor": actor,
        "object": create,
        "to": [account_id],
        "cc": [],
    });
    let status = peer.deliver(&actor, &inbox, &undo).await.unwrap();
    assert!((200..300).contains(&status), "{status}");
    eventually("A drops PeerTube's copy", || async {
        copies_on_a(dir.path(), &id).await.is_empty()
    })
    .await;

    // A copy announced for a few seconds lapses: A's timer drops it, with its mention in the
    // video's document, without any Undo.
    let mut brief = create.clone();
    brief["id"] = json!(format!("{}/brief", create["id"].as_str().unwrap()));
    brief["object"]["id"] = json!(format!(
        "{}/brief",
        create["object"]["id"].as_str().unwrap()
    ));
    let lapse = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    brief["object"]["expires"] = json!(
        lapse
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
    let status = peer.deliver(&actor, &inbox, &brief).await.unwrap();
    assert!((200..300).contains(&status), "{status}");
    eventually("A keeps the brief copy", || async {
        !copies_on_a(dir.path(), &id).await.is_empty()
    })
    .await;
    eventually("A drops the lapsed copy", || async {
        copies_on_a(dir.path(), &id).await.is_empty()
            && !fetch_json(&http, &id)
                .await
                .unwrap()
                .to_string()
                .contains("redundancy")
    })
    .await;
    let lapsed = sqlx::query(
        "SELECT COUNT(*) AS n FROM vi_cache_files WHERE video = $1 AND withdrawn IS NULL",
    )
    .bind(id.clone())
    .fetch_one(&pool_of(dir.path(), "a").await)
    .await
    .unwrap()
    .get::<i64, _>("n");
    assert_eq!(lapsed, 0);
    a.stop().await.unwrap();
}
