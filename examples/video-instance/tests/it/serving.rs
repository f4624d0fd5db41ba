//! The files served over `sendfile(2)` connections (media-store's `SendfileStream`, which the
//! video instance plugs into `federation::serve`): byte for byte, whole, in ranges and in
//! multipart answers, with random content (a placeholder's zeros sent in place of the file would
//! show); and the instance served by several single-threaded runtimes (`Options::workers`), on
//! SQLite and on PostgreSQL: both runtimes answer, and a stop lets every request under way end
//! whole, then ends every runtime's thread.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use video_instance::admin::Admin;
use video_instance::{Running, Transcoding};

use crate::postgres::{fresh_database, postgres_url};
use crate::support::{database, loopback_instance_with};

#[path = "../../benches/support/padded_mp4.rs"]
mod padded_mp4;

/// A valid MP4 of `len` bytes whose media data is padded with random bytes.
async fn random_video(len: u64) -> Vec<u8> {
    let fill = bytes::Bytes::from((0..1 << 20).map(|_| fastrand::u8(..)).collect::<Vec<u8>>());
    let (total, pieces) = padded_mp4::padded_sample(len, fill);
    let mut out = Vec::with_capacity(total as usize);
    let mut pieces = std::pin::pin!(pieces);
    while let Some(piece) = pieces.next().await {
        out.extend_from_slice(&piece.unwrap());
    }
    out
}

/// Uploads `bytes` as a video of a new account of `running` (its database and media
/// directory given); the URL of its stored original.
async fn upload(
    running: &Running,
    database: &str,
    media: Option<PathBuf>,
    bytes: Vec<u8>,
) -> String {
    upload_with_token(running, database, media, bytes).await.0
}

/// [`upload`], with the uploader's API token and the video's uuid.
async fn upload_with_token(
    running: &Running,
    database: &str,
    media: Option<PathBuf>,
    bytes: Vec<u8>,
) -> (String, String, String) {
    let made = Admin::new(database)
        .with_base_url(Some(running.base_url.clone()))
        .with_media_dir(media)
        .with_danger_allow_private_addresses(true)
        .create_account("uploader")
        .await
        .unwrap();
    let len = bytes.len() as u64;
    let form = reqwest::multipart::Form::new()
        .text("channel", "uploader_channel")
        .text("name", "Random bytes")
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(bytes).file_name("random.mp4"),
        );
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}api/v1/videos/upload", running.base_url))
        .bearer_auth(made["token"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let uuid = answer["video"]["uuid"].as_str().unwrap();
    let url = format!("{}static/videos/{uuid}/original.mp4", running.base_url);
    let head = reqwest::Client::new().head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200, "the original is served at {url}");
    assert_eq!(head.headers()["content-length"], len.to_string().as_str());
    let token = made["token"].as_str().unwrap().to_owned();
    (url, token, uuid.to_owned())
}

async fn get(http: &reqwest::Client, url: &str, range: Option<&str>) -> reqwest::Response {
    let mut request = http.get(url);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_out_byte_exact_over_sendfile_connections() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance_with(dir.path(), "files", |options| {
        options.app = options.app.clone().with_transcoding(Transcoding::Off);
    })
    .await
    .unwrap();
    // Several 2 MiB sendfile frames, and a tail.
    let video = random_video(5 * (1 << 20) + 12_345).await;
    let url = upload(
        &running,
        &database(dir.path(), "files"),
        None,
        video.clone(),
    )
    .await;
    let len = video.len();
    // One kept-alive connection for all the requests below.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    for _ in 0..2 {
        let whole = get(&http, &url, None).await;
        assert_eq!(whole.status(), 200);
        assert_eq!(whole.headers()["content-type"], "video/mp4");
        assert_eq!(whole.headers()["access-control-allow-origin"], "*");
        assert!(whole.bytes().await.unwrap() == video, "the whole file");
    }
    let slices = [
        ("bytes=0-0", 0, 1),
        ("bytes=1000-2999999", 1000, 3_000_000),
        ("bytes=2097150-2097153", 2_097_150, 2_097_154),
        ("bytes=-70000", len - 70_000, len),
        ("bytes=5000000-", 5_000_000, len),
        ("bytes=4000000-99999999", 4_000_000, len),
    ];
    for (range, start, end) in slices {
        let answer = get(&http, &url, Some(range)).await;
        assert_eq!(answer.status(), 206, "{range}");
        assert_eq!(
            answer.headers()["content-range"],
            format!("bytes {start}-{}/{len}", end - 1).as_str(),
            "{range}"
        );
        assert!(
            answer.bytes().await.unwrap() == video[start..end],
            "the bytes of {range}"
        );
    }
    // Multipart: each part's bytes, in order, between boundaries.
    let answer = get(&http, &url, Some("bytes=0-99,3000000-3100000,-10")).await;
    assert_eq!(answer.status(), 206);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"))
        .to_owned();
    let body = answer.bytes().await.unwrap();
    let mut at = 0;
    for (start, end) in [(0, 100), (3_000_000, 3_100_001), (len - 10, len)] {
        let header = format!("Content-Range: bytes {start}-{}/{len}", end - 1);
        let found =
            find(&body[at..], header.as_bytes()).unwrap_or_else(|| panic!("no part {header}"));
        at += found;
        let data = at + find(&body[at..], b"\r\n\r\n").unwrap() + 4;
        assert!(
            body[data..data + (end - start)] == video[start..end],
            "{header}"
        );
        at = data + (end - start);
        assert!(body[at..].starts_with(format!("\r\n--{boundary}").as_bytes()));
    }
    assert!(body.ends_with(format!("--{boundary}--\r\n").as_bytes()));
    running.stop().await.unwrap();
}

/// `GET` and `HEAD` of `/static/` are answered before the router (`files::static_files`):
/// with every header the router's path set (the file's, CORS, the security headers), ranges,
/// `416`, ETags and conditional requests as before; a percent-encoded path as the router
/// decoded it; other methods and other paths still through the router; and a removed file
/// `404` from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_skip_the_router_with_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let running = loopback_instance_with(dir.path(), "lean", |options| {
        options.app = options.app.clone().with_transcoding(Transcoding::Off);
    })
    .await
    .unwrap();
    let video = random_video(300_000).await;
    let len = video.len();
    let (url, token, uuid) =
        upload_with_token(&running, &database(dir.path(), "lean"), None, video.clone()).await;
    let http = reqwest::Client::new();

    let whole = get(&http, &url, None).await;
    assert_eq!(whole.status(), 200);
    let headers = whole.headers().clone();
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.len() == 66 && etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
    let expected = [
        ("content-type", "video/mp4"),
        ("content-length", &len.to_string()),
        ("accept-ranges", "bytes"),
        ("cache-control", "public, max-age=31536000, immutable"),
        ("access-control-allow-origin", "*"),
        (
            "content-security-policy",
            instance_web::CONTENT_SECURITY_POLICY,
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("etag", &etag),
    ];
    for (name, value) in expected {
        assert_eq!(headers[name], value, "{name}");
        assert_eq!(headers.get_all(name).iter().count(), 1, "one {name}");
    }
    assert!(headers.contains_key("last-modified"));
    assert!(whole.bytes().await.unwrap() == video);

    // HEAD: the same headers, no body.
    let head = http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    for (name, value) in expected {
        assert_eq!(head.headers()[name], value, "HEAD {name}");
    }
    assert!(head.bytes().await.unwrap().is_empty());

    // Ranges, 416, conditional requests.
    let part = get(&http, &url, Some("bytes=1000-1999")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 1000-1999/{len}").as_str()
    );
    assert_eq!(part.headers()["x-frame-options"], "DENY");
    assert!(part.bytes().await.unwrap() == video[1000..2000]);
    let past = get(&http, &url, Some(&format!("bytes={}-", len + 10))).await;
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
    let unchanged = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.headers()["etag"], etag.as_str());
    let same = http
        .get(&url)
        .header("range", "bytes=0-9")
        .header("if-range", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 206);
    let other = http
        .get(&url)
        .header("range", "bytes=0-9")
        .header("if-range", "\"another\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "If-Range not matching: the whole file");
    assert_eq!(other.bytes().await.unwrap().len(), len);

    // A percent-encoded path names the same file.
    let encoded = url.replace("original.mp4", "original%2Emp4");
    assert_ne!(encoded, url);
    let answer = get(&http, &encoded, Some("bytes=0-9")).await;
    assert_eq!(answer.status(), 206);
    assert!(answer.bytes().await.unwrap() == video[..10]);
    // No such file.
    let missing = get(
        &http,
        &format!("{}static/videos/none.mp4", running.base_url),
        None,
    )
    .await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["x-frame-options"], "DENY");

    // Other methods on the files, and other paths, go through the router as before.
    let posted = http.post(&url).send().await.unwrap();
    assert_eq!(posted.status(), 405);
    assert_eq!(
        posted.headers()["content-security-policy"],
        instance_web::CONTENT_SECURITY_POLICY
    );
    let home = http.get(running.base_url.as_str()).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert_eq!(home.headers()["x-frame-options"], "DENY");
    assert!(home.text().await.unwrap().contains("<html"));
    let embed = http
        .get(format!("{}videos/embed/{uuid}", running.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(embed.status(), 200);
    assert!(
        embed.headers().get("x-frame-options").is_none(),
        "the embed page's own policy is kept, as the router's middleware keeps it"
    );

    // Removed, the file is gone from the fast path too, however often asked.
    let deleted = http
        .delete(format!("{}api/v1/videos/{uuid}", running.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    for _ in 0..2 {
        assert_eq!(get(&http, &url, Some("bytes=0-9")).await.status(), 404);
        assert_eq!(http.head(&url).send().await.unwrap().status(), 404);
    }
    running.stop().await.unwrap();
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The CPU time so far of each thread of this process named `serve-PORT-N`.
fn serving_threads(port: u16) -> Vec<u64> {
    let prefix = format!("serve-{port}-");
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| {
            let path = task.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            if !name.trim().starts_with(&prefix) {
                return None;
            }
            // The first field: nanoseconds spent on a CPU.
            let schedstat = std::fs::read_to_string(path.join("schedstat")).ok()?;
            schedstat.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// An instance on `database` served by two runtimes: ranges from 32 connections, answered by
/// both; then a stop while 8 whole-file answers are under way: each ends whole, the port is
/// closed, and the runtimes' threads are gone.
async fn two_runtimes_serve_and_stop_cleanly(database: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let database = database.unwrap_or_else(|| crate::support::database(dir.path(), "runtimes"));
    let running = loopback_instance_with(dir.path(), "runtimes", |options| {
        options.workers = 2;
        options.app = options
            .app
            .clone()
            .with_transcoding(Transcoding::Off)
            .with_media_dir(media.clone());
        options.database = database.clone();
    })
    .await
    .unwrap();
    let port = running.addr.port();
    // A thread takes its name once it runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while serving_threads(port).len() != 2 {
        assert!(Instant::now() < deadline, "two serving threads");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let video = random_video(3 << 20).await;
    let url = upload(&running, &database, Some(media), video.clone()).await;

    let before = serving_threads(port);
    let readers: Vec<_> = (0..32u64)
        .map(|reader| {
            let (url, video) = (url.clone(), video.clone());
            tokio::spawn(async move {
                // A client of its own: a connection of its own.
                let http = reqwest::Client::new();
                for n in 0..8u64 {
                    let start = ((reader * 8 + n) * 65_536) as usize % (video.len() - 65_536);
                    let range = format!("bytes={start}-{}", start + 65_535);
                    let answer = get(&http, &url, Some(&range)).await;
                    assert_eq!(answer.status(), 206);
                    assert!(answer.bytes().await.unwrap() == video[start..start + 65_536]);
                }
            })
        })
        .collect();
    for reader in readers {
        reader.await.unwrap();
    }
    let after = serving_threads(port);
    for (b, a) in before.iter().zip(&after) {
        assert!(
            a > b,
            "each runtime answered some of 32 connections: {before:?} -> {after:?}"
        );
    }

    // Eight whole-file answers under way (headers received, bodies not yet read), then the stop.
    let mut under_way = Vec::new();
    for _ in 0..8 {
        let answer = get(&reqwest::Client::new(), &url, None).await;
        assert_eq!(answer.status(), 200);
        under_way.push(answer);
    }
    let stopping = tokio::spawn(running.stop());
    for answer in under_way {
        assert!(
            answer.bytes().await.unwrap() == video,
            "a request under way at the stop is answered whole"
        );
    }
    tokio::time::timeout(Duration::from_secs(30), stopping)
        .await
        .expect("the stop ends")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "nothing listens any more"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !serving_threads(port).is_empty() {
        assert!(Instant::now() < deadline, "the serving threads end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serving_runtimes_on_sqlite_serve_and_stop_cleanly() {
    two_runtimes_serve_and_stop_cleanly(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serving_runtimes_on_postgresql_serve_and_stop_cleanly() {
    let Some(server) = postgres_url() else {
        return;
    };
    let database = fresh_database(&server).await.unwrap();
    two_runtimes_serve_and_stop_cleanly(Some(database)).await;
}
