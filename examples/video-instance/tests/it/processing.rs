//! Processing with ffmpeg: an upload gets a thumbnail and an HLS rendition in the background
//! (progress on its page, files served with ranges, hashes that match, the document and an
//! `Update` to followers); without ffmpeg the page says the original is served; a failing or
//! slow ffmpeg leaves nothing behind and says why; a restart resumes an interrupted job.
//!
//! ffmpeg is `$FFMPEG` (scripts/with-ffmpeg sets it), else `/usr/bin/ffmpeg`; outside CI a
//! missing one skips these tests loudly, in CI (`CI=true`) it fails them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sqlx::Row as _;
use url::Url;
use video_instance::{Running, Transcoding};

use crate::support::{
    admin_of, api_upload, database, eventually, fetch_json, loopback_instance_with, sample,
    until_followed,
};

/// The ffmpeg to test with, or `None` (said loudly) when there is none outside CI.
pub(crate) fn ffmpeg() -> Option<PathBuf> {
    let path = std::env::var_os("FFMPEG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/ffmpeg"));
    if path.is_file() {
        return Some(path);
    }
    let message = format!(
        "ffmpeg is not at {} (run the tests through scripts/with-ffmpeg)",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("\n**** SKIPPED: {message} ****\n");
    None
}

/// Writes an executable shell script `name` in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// An ffmpeg that makes the thumbnail at once, then, asked for the HLS rendition, reports
/// one second encoded (as ffmpeg's `-progress pipe:1` does) and waits until the file `gate`
/// exists before it runs the real one: the test sees the job running, its progress, and the
/// next job waiting. It writes its process id to `pid`.
fn gated_ffmpeg(dir: &Path, real: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let gate = dir.join("gate");
    let pid = dir.join("ffmpeg.pid");
    let path = script(
        dir,
        "gated-ffmpeg",
        &format!(
            "echo $$ > '{pid}'\n\
             case \"$*\" in *-hls_time*)\n\
               printf 'frame=30\\nout_time_us=1000000\\nprogress=continue\\n'\n\
               while [ ! -e '{gate}' ]; do sleep 0.05; done;;\n\
             esac\n\
             exec '{real}' \"$@\"",
            pid = pid.display(),
            gate = gate.display(),
            real = real.display()
        ),
    );
    (path, gate, pid)
}

/// Waits until the page of `uuid` shows a running job past 0 %; gives the percentage.
async fn until_progress(http: &reqwest::Client, running: &Running, uuid: &str) -> u32 {
    let percent = |page: &str| -> Option<u32> {
        let (before, _) = page.split_once(" % done</span>")?;
        before.rsplit('>').next()?.trim().parse().ok()
    };
    eventually("the page shows the progress", || async {
        percent(&watch_page(http, running, uuid, None).await).is_some_and(|p| p > 0)
    })
    .await;
    percent(&watch_page(http, running, uuid, None).await).unwrap()
}

/// A loopback instance `name` in `dir` processing with `transcoding`.
async fn instance(dir: &Path, name: &str, transcoding: Transcoding) -> Running {
    loopback_instance_with(dir, name, |options| {
        options.app = options.app.clone().with_transcoding(transcoding);
    })
    .await
    .unwrap()
}

/// Starts instance `name` again with its base URL `base_url`, on a port the OS picks (the one
/// before may have gone to another test meanwhile).
async fn restart(dir: &Path, name: &str, base_url: Url, transcoding: Transcoding) -> Running {
    loopback_instance_with(dir, name, |options| {
        options.base_url = Some(base_url);
        options.app = options.app.clone().with_transcoding(transcoding);
    })
    .await
    .unwrap()
}

/// Makes account `name` on `running`; gives its token.
pub(crate) async fn account(running: &Running, dir: &Path, instance: &str, name: &str) -> String {
    let made = admin_of(running, dir, instance)
        .create_account(name)
        .await
        .unwrap();
    made["token"].as_str().unwrap().to_owned()
}

/// Uploads `file` from the samples; gives the video's uuid and id.
pub(crate) async fn upload(
    http: &reqwest::Client,
    running: &Running,
    token: &str,
    channel: &str,
    file: &str,
) -> (String, String) {
    let (status, answer) = api_upload(
        http,
        running,
        token,
        channel,
        "Processed video",
        file,
        sample(file),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    (
        answer["video"]["uuid"].as_str().unwrap().to_owned(),
        answer["video"]["url"].as_str().unwrap().to_owned(),
    )
}

/// The watch page of `uuid`, as `cookie` (a session) or anonymously.
async fn watch_page(
    http: &reqwest::Client,
    running: &Running,
    uuid: &str,
    cookie: Option<&str>,
) -> String {
    // By the address it listens on (after a restart, its base URL names the one before).
    let mut request = http
        .get(format!("http://{}/videos/watch/{uuid}", running.addr))
        .header("accept", "text/html");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Waits until the page of `uuid` shows the processing state `state` (which then stays: the
/// tests hold ffmpeg at a gate, or wait for an end); gives the page.
async fn until_state(http: &reqwest::Client, running: &Running, uuid: &str, state: &str) -> String {
    let marker = format!("data-state=\"{state}\"");
    eventually(
        &format!("the page shows the processing {state}"),
        || async {
            watch_page(http, running, uuid, None)
                .await
                .contains(&marker)
        },
    )
    .await;
    watch_page(http, running, uuid, None).await
}

/// Signs `name` (password `password`) in through the pages; gives the cookies to send.
pub(crate) async fn sign_in(running: &Running, name: &str, password: &str) -> String {
    fn cookies_of(response: &reqwest::Response, jar: &mut Vec<String>) {
        for value in response.headers().get_all("set-cookie") {
            let pair = value
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            let name = pair.split('=').next().unwrap().to_owned();
            jar.retain(|c| !c.starts_with(&format!("{name}=")));
            jar.push(pair);
        }
    }
    // The session cookie comes with the redirect.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar = Vec::new();
    let form = http
        .get(format!("{}login", running.base_url))
        .send()
        .await
        .unwrap();
    cookies_of(&form, &mut jar);
    let html = form.text().await.unwrap();
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no token in {html}"))
        .to_owned();
    let origin = running.base_url.as_str().trim_end_matches('/').to_owned();
    let signed = http
        .post(format!("{}login", running.base_url))
        .header("cookie", jar.join("; "))
        .header("origin", origin)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("username", name), ("password", password), ("csrf", &token)])
                .finish(),
        )
        .send()
        .await
        .unwrap();
    cookies_of(&signed, &mut jar);
    assert!(
        jar.iter().any(|c| c.starts_with("session=")),
        "not signed in: {} {:?}",
        signed.status(),
        signed.text().await
    );
    jar.join("; ")
}

/// The files stored under `videos/{uuid}` of the instance `name` in `dir`, by key.
fn stored_keys(dir: &Path, name: &str, uuid: &str) -> Vec<String> {
    let root = dir.join(format!("{name}.sqlite.media/data/videos/{uuid}"));
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                out.push(
                    entry
                        .path()
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

/// A query on the database of instance `name` in `dir`.
pub(crate) async fn pool_of(dir: &Path, name: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&format!("sqlite://{}", database(dir, name)))
        .await
        .unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn an_upload_gets_a_thumbnail_and_hls_with_progress_and_followers_get_the_update() {
    let Some(real) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (gated, gate, _) = gated_ffmpeg(dir.path(), &real);
    let a = instance(dir.path(), "a", Transcoding::Ffmpeg(gated)).await;
    let b = instance(dir.path(), "b", Transcoding::Off).await;
    let token = account(&a, dir.path(), "a", "carol").await;
    admin_of(&b, dir.path(), "b")
        .follow_instance(&a.base_url)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    until_followed(&http, &a, &b).await;

    // A WebM (VP9 and Opus, 192x108): the rendition is H.264 and AAC, 108 pixels high.
    let (uuid, id) = upload(&http, &a, &token, "carol_channel", "vp9-opus.webm").await;
    // Published at once, playing its original while ffmpeg waits at the gate.
    let page = until_state(&http, &a, &uuid, "running").await;
    // ffmpeg's progress (1 s of the 2 s) on the page.
    let percent = until_progress(&http, &a, &uuid).await;
    assert!((45..=55).contains(&percent), "{percent} %");
    assert!(
        page.contains("the original file is served meanwhile"),
        "{page}"
    );
    assert!(page.contains(&format!("/static/videos/{uuid}/original.webm")));
    let before = fetch_json(&http, &id).await.unwrap();
    assert_eq!(before["state"], 1, "published while it is processed");
    assert!(!before["url"].to_string().contains("application/x-mpegURL"));

    std::fs::write(&gate, b"").unwrap();
    let page = until_state(&http, &a, &uuid, "done").await;
    // The page plays the HLS stream first, then its rendition, then the original, with the
    // thumbnail as poster.
    let hls_at = page.find(&format!("/static/videos/{uuid}/hls/master.m3u8"));
    let rendition_at = page.find(&format!("/static/videos/{uuid}/hls/108-fragmented.mp4"));
    let original_at = page.find(&format!("/static/videos/{uuid}/original.webm"));
    assert!(
        hls_at.is_some() && hls_at < rendition_at && rendition_at < original_at,
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "poster=\"{}static/videos/{uuid}/thumbnail.jpg\"",
            a.base_url
        )),
        "{page}"
    );

    // The document: the HLS link with its hashes and rendition, the thumbnail as icon.
    let video = fetch_json(&http, &id).await.unwrap();
    assert_eq!(video["state"], 1);
    let urls = video["url"].as_array().unwrap();
    let hls = urls
        .iter()
        .find(|u| u["mediaType"] == "application/x-mpegURL")
        .unwrap_or_else(|| panic!("no HLS link in {urls:?}"));
    let master_url = hls["href"].as_str().unwrap().to_owned();
    let tags = hls["tag"].as_array().unwrap();
    let sha_url = tags
        .iter()
        .find(|t| t["name"] == "sha256")
        .and_then(|t| t["href"].as_str())
        .unwrap()
        .to_owned();
    let file = tags
        .iter()
        .find(|t| t["mediaType"] == "video/mp4")
        .unwrap_or_else(|| panic!("no rendition in {tags:?}"));
    assert_eq!(file["height"], 108);
    assert_eq!(file["width"], 192);
    assert_eq!(file["fps"], 30);
    let file_url = file["href"].as_str().unwrap().to_owned();
    let icon = &video["icon"][0];
    assert_eq!(icon["mediaType"], "image/jpeg");
    assert_eq!(
        (icon["width"].as_u64(), icon["height"].as_u64()),
        (Some(280), Some(157))
    );
    let activitypub_core::AnyObject::Video(typed) =
        activitypub_core::AnyObject::from_value(video.clone()).unwrap()
    else {
        panic!("not a Video");
    };
    let summary = activitypub_core::ext::peertube::VideoSummary::read(&typed).unwrap();
    assert_eq!(summary.hls.len(), 1);
    assert_eq!(summary.hls[0].files.len(), 1);
    assert_eq!(file["size"].as_u64(), Some(summary.hls[0].files[0].size));

    // The files, with their types, CORS and ranges.
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let thumbnail = get(icon["url"].as_str().unwrap().to_owned()).await;
    assert_eq!(thumbnail.status(), 200);
    assert_eq!(thumbnail.headers()["content-type"], "image/jpeg");
    assert!(thumbnail.bytes().await.unwrap().starts_with(&[0xff, 0xd8]));
    let master = get(master_url.clone()).await;
    assert_eq!(master.status(), 200);
    assert_eq!(
        master.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(master.headers()["access-control-allow-origin"], "*");
    let master = master.text().await.unwrap();
    assert!(master.starts_with("#EXTM3U"), "{master}");
    assert!(master.contains("RESOLUTION=192x108"), "{master}");
    let media_name = master
        .lines()
        .find(|l| l.ends_with(".m3u8"))
        .unwrap()
        .to_owned();
    let media_url = master_url.replace("master.m3u8", &media_name);
    let media = get(media_url).await;
    assert_eq!(media.status(), 200);
    assert_eq!(
        media.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    let media = media.text().await.unwrap();
    assert!(
        media.contains("#EXT-X-MAP:URI=\"108-fragmented.mp4\""),
        "{media}"
    );
    let ranges: Vec<String> = media
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-BYTERANGE:"))
        .map(|r| {
            let (length, offset) = r.split_once('@').unwrap();
            let (length, offset): (u64, u64) = (length.parse().unwrap(), offset.parse().unwrap());
            format!("{offset}-{}", offset + length - 1)
        })
        .collect();
    assert!(!ranges.is_empty(), "{media}");
    let hashes = get(sha_url).await;
    assert_eq!(hashes.headers()["content-type"], "application/json");
    let hashes: Value = hashes.json().await.unwrap();
    let of_file = hashes["108-fragmented.mp4"].as_object().unwrap();
    let mut listed: Vec<&String> = of_file.keys().collect();
    listed.sort();
    let mut expected: Vec<&String> = ranges.iter().collect();
    expected.sort();
    assert_eq!(listed, expected, "one hash per segment");
    for (range, hash) in of_file {
        let part = http
            .get(&file_url)
            .header("range", format!("bytes={range}"))
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), 206, "{range}");
        assert_eq!(part.headers()["content-type"], "video/mp4");
        assert_eq!(
            sha256_hex(&part.bytes().await.unwrap()),
            hash.as_str().unwrap(),
            "the hash of {range}"
        );
    }

    // The embed and oEmbed show the thumbnail too.
    let oembed: Value = http
        .get(format!(
            "{}services/oembed?{}",
            a.base_url,
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("url", id.as_str()), ("format", "json")])
                .finish()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oembed["thumbnail_url"], icon["url"]);

    // B, following A, got the Update: its copy has the HLS link and the thumbnail, and its
    // page plays A's stream and rendition before the original.

    let pool = pool_of(dir.path(), "b").await;
    eventually("B stores the updated video", || async {
        sqlx::query("SELECT document FROM st_objects WHERE id = $1")
            .bind(id.clone())
            .fetch_optional(&pool)
            .await
            .unwrap()
            .is_some_and(|row| {
                let document: String = row.try_get("document").unwrap();
                document.contains(&master_url) && document.contains("thumbnail.jpg")
            })
    })
    .await;
    let copy = watch_page(&http, &b, &uuid, None).await;
    let hls_at = copy.find(&master_url);
    let rendition_at = copy.find(&file_url);
    let original_at = copy.find(&format!("{}static/videos/{uuid}/original.webm", a.base_url));
    assert!(
        hls_at.is_some() && hls_at < rendition_at && rendition_at < original_at,
        "{copy}"
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn without_transcoding_the_page_says_the_original_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let a = instance(dir.path(), "a", Transcoding::Off).await;
    let token = account(&a, dir.path(), "a", "dan").await;
    let http = reqwest::Client::new();
    let (uuid, id) = upload(&http, &a, &token, "dan_channel", "h264-aac-faststart.mp4").await;
    let page = watch_page(&http, &a, &uuid, None).await;
    assert!(page.contains("data-state=\"off\""), "{page}");
    assert!(
        page.contains("the original file is served, without a thumbnail or HLS"),
        "{page}"
    );
    let video = fetch_json(&http, &id).await.unwrap();
    assert!(!video["url"].to_string().contains("application/x-mpegURL"));
    assert_eq!(
        video["icon"][0]["mediaType"], "image/png",
        "the placeholder"
    );
    let jobs: i64 = sqlx::query("SELECT COUNT(*) AS n FROM vi_jobs")
        .fetch_one(&pool_of(dir.path(), "a").await)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(jobs, 0);
    assert_eq!(stored_keys(dir.path(), "a", &uuid), ["original.mp4"]);
    a.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_ffmpeg_leaves_the_original_and_tells_the_owner_why() {
    let dir = tempfile::tempdir().unwrap();
    // It writes half a thumbnail, then fails as ffmpeg does.
    let failing = script(
        dir.path(),
        "failing-ffmpeg",
        "echo partial > thumbnail.jpg\necho 'Unknown encoder libx264' >&2\nexit 1",
    );
    let a = instance(dir.path(), "a", Transcoding::Ffmpeg(failing)).await;
    let token = account(&a, dir.path(), "a", "erin").await;
    admin_of(&a, dir.path(), "a")
        .set_password("erin", "a long enough password")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let (uuid, id) = upload(&http, &a, &token, "erin_channel", "h264-aac-faststart.mp4").await;
    let page = until_state(&http, &a, &uuid, "failed").await;
    assert!(page.contains("the original file is served"), "{page}");
    assert!(
        !page.contains("Unknown encoder"),
        "the reason is the owner's: {page}"
    );
    let cookie = sign_in(&a, "erin", "a long enough password").await;
    let owners = watch_page(&http, &a, &uuid, Some(&cookie)).await;
    assert!(
        owners.contains("Unknown encoder libx264") && owners.contains("exit status: 1"),
        "{owners}"
    );
    // Nothing half-stored: the original alone, no work directory, the document unchanged.
    assert_eq!(stored_keys(dir.path(), "a", &uuid), ["original.mp4"]);
    assert!(
        !dir.path()
            .join(format!("a.sqlite.media/processing/{uuid}"))
            .exists()
    );
    let video = fetch_json(&http, &id).await.unwrap();
    assert!(!video["url"].to_string().contains("application/x-mpegURL"));
    assert_eq!(video["icon"][0]["mediaType"], "image/png");
    a.stop().await.unwrap();
}

#[tokio::test]
async fn a_failed_processing_runs_again_when_the_administrator_asks() {
    let Some(real) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let failing = script(
        dir.path(),
        "failing-ffmpeg",
        "echo 'Unknown encoder libx264' >&2\nexit 1",
    );
    let a = instance(dir.path(), "a", Transcoding::Ffmpeg(failing)).await;
    let token = account(&a, dir.path(), "a", "hal").await;
    let http = reqwest::Client::new();
    let (uuid, id) = upload(&http, &a, &token, "hal_channel", "h264-aac-faststart.mp4").await;
    until_state(&http, &a, &uuid, "failed").await;
    // Nothing to run again for a video whose processing did not fail, nor for an unknown one.
    let admin = admin_of(&a, dir.path(), "a");
    assert!(admin.reprocess("no-such-video").await.is_err());

    // Started again with a working ffmpeg, the failed job stays failed until asked for.
    let base_url = a.base_url.clone();
    a.stop().await.unwrap();
    let a = restart(dir.path(), "a", base_url, Transcoding::Ffmpeg(real)).await;
    until_state(&http, &a, &uuid, "failed").await;
    let asked = admin_of(&a, dir.path(), "a")
        .reprocess(&uuid)
        .await
        .unwrap();
    assert_eq!(asked["video"], id.as_str());
    until_state(&http, &a, &uuid, "done").await;
    let moved = id.replace(a.base_url.as_str(), &format!("http://{}/", a.addr));
    let video = fetch_json(&http, &moved).await.unwrap();
    assert!(video["url"].to_string().contains("application/x-mpegURL"));
    let again = admin_of(&a, dir.path(), "a").reprocess(&uuid).await;
    assert!(
        again
            .unwrap_err()
            .to_string()
            .contains("has no failed processing to run again")
    );
    a.stop().await.unwrap();
}

#[tokio::test]
async fn a_slow_ffmpeg_is_stopped_at_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("slow.pid");
    let slow = script(
        dir.path(),
        "slow-ffmpeg",
        &format!("echo $$ > '{}'\nexec sleep 600", pid.display()),
    );
    let a = loopback_instance_with(dir.path(), "a", |options| {
        options.app = options
            .app
            .clone()
            .with_transcoding(Transcoding::Ffmpeg(slow))
            .with_transcoding_time_limit(Duration::from_secs(1));
    })
    .await
    .unwrap();
    let token = account(&a, dir.path(), "a", "fay").await;
    let http = reqwest::Client::new();
    let (uuid, _) = upload(&http, &a, &token, "fay_channel", "h264-aac-faststart.mp4").await;
    until_state(&http, &a, &uuid, "failed").await;
    let error: String = sqlx::query("SELECT error FROM vi_jobs")
        .fetch_one(&pool_of(dir.path(), "a").await)
        .await
        .unwrap()
        .try_get("error")
        .unwrap();
    assert!(error.contains("longer than its limit of 1 s"), "{error}");
    // ffmpeg (here, the sleep it became) was killed.
    let pid = std::fs::read_to_string(&pid).unwrap().trim().to_owned();
    eventually("the slow ffmpeg is killed", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting to be reaped.
        async move { stat.is_empty() || stat.split(' ').nth(2) == Some("Z") }
    })
    .await;
    assert_eq!(stored_keys(dir.path(), "a", &uuid), ["original.mp4"]);
    a.stop().await.unwrap();
}

#[tokio::test]
async fn a_job_interrupted_by_a_stop_resumes_at_the_next_start() {
    let Some(real) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    // The first run's ffmpeg never gets past its gate.
    let (gated, _gate, pid) = gated_ffmpeg(dir.path(), &real);
    let a = instance(dir.path(), "a", Transcoding::Ffmpeg(gated)).await;
    let token = account(&a, dir.path(), "a", "gus").await;
    let http = reqwest::Client::new();
    let (uuid, id) = upload(&http, &a, &token, "gus_channel", "h264-aac-moov-end.mp4").await;
    until_state(&http, &a, &uuid, "running").await;
    // One job at a time: a second upload waits for its turn.
    let (second, _) = upload(&http, &a, &token, "gus_channel", "vp8-vorbis.webm").await;
    let page = until_state(&http, &a, &second, "waiting").await;
    assert!(
        page.contains("the original file is served meanwhile"),
        "{page}"
    );
    let base_url = a.base_url.clone();
    a.stop().await.unwrap();
    // Stopping killed the waiting ffmpeg.
    let pid = std::fs::read_to_string(&pid).unwrap().trim().to_owned();
    eventually("the interrupted ffmpeg is killed", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        async move { stat.is_empty() || stat.split(' ').nth(2) == Some("Z") }
    })
    .await;

    // Started again with a working ffmpeg: its base URL the same, on a port the OS picks (the
    // one before may have gone to another test meanwhile).
    let a = restart(dir.path(), "a", base_url, Transcoding::Ffmpeg(real)).await;
    until_state(&http, &a, &uuid, "done").await;
    until_state(&http, &a, &second, "done").await;
    let moved = id.replace(a.base_url.as_str(), &format!("http://{}/", a.addr));
    let video = fetch_json(&http, &moved).await.unwrap();
    assert_eq!(video["id"], id.as_str());
    assert!(video["url"].to_string().contains("application/x-mpegURL"));
    assert_eq!(
        stored_keys(dir.path(), "a", &uuid),
        [
            "hls/90-fragmented.mp4",
            "hls/90.m3u8",
            "hls/master.m3u8",
            "hls/segments-sha256.json",
            "original.mp4",
            "thumbnail.jpg",
        ]
    );
    a.stop().await.unwrap();
}

#[tokio::test]
async fn an_original_gone_before_ffmpeg_reads_it_fails_the_job_cleanly() {
    let Some(real) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (gated, gate, _) = gated_ffmpeg(dir.path(), &real);
    let a = instance(dir.path(), "a", Transcoding::Ffmpeg(gated)).await;
    let token = account(&a, dir.path(), "a", "hal").await;
    let http = reqwest::Client::new();
    let (uuid, id) = upload(&http, &a, &token, "hal_channel", "h264-aac-faststart.mp4").await;
    until_state(&http, &a, &uuid, "running").await;
    // The file vanishes (a disk swapped, an operator's mistake) while ffmpeg waits.
    std::fs::remove_file(
        dir.path()
            .join(format!("a.sqlite.media/data/videos/{uuid}/original.mp4")),
    )
    .unwrap();
    std::fs::write(&gate, b"").unwrap();
    until_state(&http, &a, &uuid, "failed").await;
    let error: String = sqlx::query("SELECT error FROM vi_jobs")
        .fetch_one(&pool_of(dir.path(), "a").await)
        .await
        .unwrap()
        .try_get("error")
        .unwrap();
    assert!(error.contains("ffmpeg failed"), "{error}");
    assert!(stored_keys(dir.path(), "a", &uuid).is_empty());
    assert!(
        !dir.path()
            .join(format!("a.sqlite.media/processing/{uuid}"))
            .exists()
    );
    let video = fetch_json(&http, &id).await.unwrap();
    assert!(!video["url"].to_string().contains("application/x-mpegURL"));
    a.stop().await.unwrap();
}
