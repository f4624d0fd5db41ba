//! What several test modules share: indexes and video instances on loopback, the searches,
//! and polling with a deadline.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use video_index::WithParts as _;

use serde_json::Value;
use url::Url;

/// The repository's `fixtures/` folder.
pub(crate) fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures"))
}

/// The text of fixture `name` (a path under `fixtures/`).
pub(crate) fn fixture_text(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the fixture {} is missing: {e}", path.display()))
}

/// Logs to the test's output when `RUST_LOG` asks (`RUST_LOG=info cargo test -- --nocapture`).
pub(crate) fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The database file `name` in `dir`.
pub(crate) fn database(dir: &Path, name: &str) -> String {
    dir.join(format!("{name}.sqlite"))
        .to_string_lossy()
        .into_owned()
}

/// The options of a loopback index in `dir`, committing every 100 ms.
pub(crate) fn index_options(dir: &Path) -> video_index::Options {
    let mut options = video_index::Options::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        database(dir, "index"),
    )
    .with_name("Index")
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    options.app =
        video_index::IndexOptions::default().with_commit_interval(Duration::from_millis(100));
    options
}

/// A loopback index in `dir` with options changed by `change`.
pub(crate) async fn loopback_index(
    dir: &Path,
    change: impl FnOnce(&mut video_index::Options),
) -> anyhow::Result<video_index::Running> {
    init_logging();
    let mut options = index_options(dir);
    change(&mut options);
    video_index::start(options).await
}

/// A loopback video instance `name` in `dir`, sending its view counts every 200 ms.
pub(crate) async fn video_instance(
    dir: &Path,
    name: &str,
) -> anyhow::Result<video_instance::Running> {
    init_logging();
    let mut options =
        video_instance::Options::new(SocketAddr::from(([127, 0, 0, 1], 0)), database(dir, name))
            .with_name(name)
            .with_danger_allow_private_addresses(true)
            .with_quick_retries(true);
    options.app = video_instance::VideoOptions::default()
        .with_view_batch_interval(Duration::from_millis(200));
    video_instance::start(options).await
}

/// Makes an account `name` on video instance `running` (in `dir` as `instance`); gives its
/// API token.
pub(crate) async fn account(
    running: &video_instance::Running,
    dir: &Path,
    instance: &str,
    name: &str,
) -> String {
    let made = video_instance::admin::Admin::new(database(dir, instance))
        .with_base_url(Some(running.base_url.clone()))
        .with_danger_allow_private_addresses(true)
        .create_account(name)
        .await
        .unwrap();
    made["token"].as_str().unwrap().to_owned()
}

/// A sample video made by `scripts/media-samples` (media-probe's test data).
pub(crate) fn sample(name: &str) -> Vec<u8> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../media-probe/tests/data"
    ))
    .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("the sample {} is missing: {e}", path.display()))
}

/// What an upload says of its video.
pub(crate) struct Upload<'a> {
    pub(crate) name: &'a str,
    pub(crate) language: &'a str,
    pub(crate) nsfw: bool,
}

/// Uploads a sample through PeerTube's API into `{account}_channel`; gives the video's UUID.
pub(crate) async fn upload(
    http: &reqwest::Client,
    running: &video_instance::Running,
    token: &str,
    account: &str,
    video: Upload<'_>,
) -> String {
    let form = reqwest::multipart::Form::new()
        .text("channel", format!("{account}_channel"))
        .text("name", video.name.to_owned())
        .text("description", "A video for the index.")
        .text("tags", "test")
        .text("language", video.language.to_owned())
        .text("nsfw", if video.nsfw { "true" } else { "false" })
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(sample("vp9-opus.webm")).file_name("v.webm"),
        );
    let response = http
        .post(format!("{}api/v1/videos/upload", running.base_url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "upload: {status} {body}");
    body["video"]["uuid"].as_str().unwrap().to_owned()
}

/// `GET /api/v1/search/videos` on `base` with `pairs`.
pub(crate) async fn search(http: &reqwest::Client, base: &Url, pairs: &[(&str, &str)]) -> Value {
    let mut url = base.join("api/v1/search/videos").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Polls `check` every 50 ms until it gives a value, for at most `seconds`.
pub(crate) async fn within<T, F, Fut>(what: &str, seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {seconds} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the search for `text` until it answers `total` videos (10 s at most); gives the
/// answer.
pub(crate) async fn until_total(
    http: &reqwest::Client,
    base: &Url,
    text: &str,
    total: u64,
) -> Value {
    within(&format!("{total} result(s) for {text:?}"), 10, || async {
        let answer = search(http, base, &[("search", text)]).await;
        (answer["total"] == total).then_some(answer)
    })
    .await
}

/// Polls until the index's instance actor follows `target` (its `following` collection
/// names it: the follow was accepted).
pub(crate) async fn until_following(
    http: &reqwest::Client,
    index: &video_index::Running,
    target: &str,
) {
    let following = format!("{}/following?page=1", index.instance.instance_actor());
    within(&format!("the index follows {target}"), 15, || async {
        let page: Value = http
            .get(&following)
            .header("accept", "application/activity+json")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        page["orderedItems"]
            .to_string()
            .contains(target)
            .then_some(())
    })
    .await;
}
