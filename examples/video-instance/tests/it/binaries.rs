//! End to end with the binaries, as hosts run them: two `video-instance serve` processes
//! (each on two serving runtimes), administered with `video-instance admin`, and the global
//! index. An upload on A reaches B (B's instance follows A's) and the index; A's processing
//! `Update` reaches B; a comment from B threads under A's video; B mirrors the video and A
//! lists the copy; A's `Delete` reaches B and the index, and B's mirror goes with it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};
use url::Url;

use crate::processing::ffmpeg;
use crate::support::{fetch_json, sample};

const BIN: &str = env!("CARGO_BIN_EXE_video-instance");

/// `video-instance serve` for instance `name` in `dir` on a port the OS picks, with `args`;
/// the child and its base URL, from the line it prints.
async fn serve(dir: &Path, name: &str, args: &[&str]) -> (Child, Url) {
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--danger-allow-private-addresses",
            "--workers",
            "2",
            "--mirror-check-seconds",
            "1",
            "--name",
            name,
            "--database",
        ])
        .arg(database(dir, name))
        .args(args);
    let serving = test_peer::serve::spawn(command, Duration::from_secs(60))
        .await
        .unwrap();
    (serving.child, serving.base_url)
}

fn database(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.sqlite"))
}

/// `video-instance admin` on instance `name`'s database; its JSON output, if any.
async fn admin(dir: &Path, name: &str, args: &[&str]) -> Value {
    let output = Command::new(BIN)
        .args(["admin", "--danger-allow-private-addresses", "--database"])
        .arg(database(dir, name))
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

/// Polls `check` every 100 ms until it gives a value, for at most 60 seconds.
async fn within<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The total of a search for `text` on `base`'s PeerTube search API.
async fn total(http: &reqwest::Client, base: &Url, text: &str) -> Option<u64> {
    let mut url = base.join("api/v1/search/videos").ok()?;
    url.query_pairs_mut().append_pair("search", text);
    let answer: Value = http.get(url).send().await.ok()?.json().await.ok()?;
    answer["total"].as_u64()
}

/// The mirror of `video` as `admin mirrors` on B lists it.
async fn mirror(dir: &Path, video: &str) -> Option<Value> {
    admin(dir, "b", &["mirrors"]).await["mirrors"]
        .as_array()?
        .iter()
        .find(|m| m["video"] == video)
        .cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_served_instances_and_the_index_federate_a_video_its_comment_and_its_mirror() {
    let Some(ffmpeg) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let http = reqwest::Client::new();
    let ffmpeg = ffmpeg.to_string_lossy().into_owned();
    let (_a, a) = serve(dir, "a", &["--ffmpeg", &ffmpeg]).await;
    let (_b, b) = serve(dir, "b", &["--no-transcoding"]).await;
    crate::support::init_logging();
    let mut options = video_index::Options::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.join("index.sqlite").to_string_lossy().into_owned(),
    )
    .with_name("Index")
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    options.app =
        video_index::IndexOptions::default().with_commit_interval(Duration::from_millis(100));
    options.app.follow = vec![a.clone()];
    let index = video_index::start(options).await.unwrap();

    // Accounts, and B's instance following A's.
    let ann = admin(dir, "a", &["create-account", "ann"]).await;
    let ann_token = ann["token"].as_str().unwrap().to_owned();
    let bob = admin(dir, "b", &["create-account", "bob"]).await;
    let bob_token = bob["token"].as_str().unwrap().to_owned();
    admin(dir, "b", &["follow-instance", a.as_str()]).await;

    // ann uploads on A; A processes it (thumbnail and HLS) and sends its `Update`.
    let form = reqwest::multipart::Form::new()
        .text("channel", "ann_channel")
        .text("name", "Estuary birds at dawn")
        .text("description", "Filmed from the dyke.")
        .text("language", "en")
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(sample("h264-aac-moov-end.mp4")).file_name("birds.mp4"),
        );
    let answer: Value = http
        .post(a.join("api/v1/videos/upload").unwrap())
        .bearer_auth(&ann_token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uuid = answer["video"]["uuid"].as_str().expect("a uuid").to_owned();
    let video = answer["video"]["url"].as_str().expect("an id").to_owned();

    // B and the index list it; B's copy carries the HLS stream A's `Update` announced.
    within("B lists the video", || async {
        (total(&http, &b, "estuary").await == Some(1)).then_some(())
    })
    .await;
    within("the index lists the video", || async {
        (total(&http, &index.base_url, "estuary").await == Some(1)).then_some(())
    })
    .await;
    within("B has the processed video (A's Update)", || async {
        let page = http
            .get(b.join(&format!("videos/watch/{uuid}")).unwrap())
            .header("accept", "text/html")
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        page.contains("master.m3u8").then_some(())
    })
    .await;

    // bob comments from B; A threads it under the video.
    let commented = http
        .post(
            b.join(&format!("api/v1/videos/{uuid}/comment-threads"))
                .unwrap(),
        )
        .bearer_auth(&bob_token)
        .json(&json!({"text": "Curlews, I think"}))
        .send()
        .await
        .unwrap();
    assert!(commented.status().is_success(), "{}", commented.status());
    within("A threads bob's comment under the video", || async {
        let comments = fetch_json(&http, &format!("{video}/comments")).await.ok()?;
        (comments["totalItems"] == 1).then_some(())
    })
    .await;

    // B mirrors the video (asked from the command line); A lists the copy.
    admin(dir, "b", &["mirror-video", &uuid]).await;
    let done = within("B's mirror is done", || async {
        mirror(dir, &video).await.filter(|m| m["state"] == "done")
    })
    .await;
    assert!(done["cache_file"].is_string(), "{done}");
    within("A lists B's copy in the video's url[]", || async {
        let document = fetch_json(&http, &video).await.ok()?;
        document["url"]
            .to_string()
            .contains(b.host_str()?)
            .then_some(())
    })
    .await;

    // ann deletes the video: B and the index drop it, and B's mirror goes.
    let deleted = http
        .delete(a.join(&format!("api/v1/videos/{uuid}")).unwrap())
        .bearer_auth(&ann_token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    within("B drops the video", || async {
        (total(&http, &b, "estuary").await == Some(0)).then_some(())
    })
    .await;
    within("the index drops the video", || async {
        (total(&http, &index.base_url, "estuary").await == Some(0)).then_some(())
    })
    .await;
    within("B's mirror is gone", || async {
        let mirror = mirror(dir, &video).await;
        mirror.is_none_or(|m| m["state"] == "stopped").then_some(())
    })
    .await;
    index.stop().await.unwrap();
}
