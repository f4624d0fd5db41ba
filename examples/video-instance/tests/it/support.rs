//! What several test modules share: instances set up the usual ways and the requests they make.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use browser_harness::Session;
use serde_json::Value;
use video_instance::WithParts as _;
use video_instance::admin::Admin;
use video_instance::{Options, Running, start};

/// The repository's `fixtures/` folder.
#[allow(dead_code)]
pub(crate) fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures"))
}

/// The database of instance `name` in `dir`.
pub(crate) fn database(dir: &Path, name: &str) -> String {
    dir.join(format!("{name}.sqlite"))
        .to_string_lossy()
        .into_owned()
}

/// Logs to the test's output when `RUST_LOG` asks (`RUST_LOG=info cargo test -- --nocapture`).
pub(crate) fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A loopback instance `name`, its database and files in `dir`.
pub(crate) async fn loopback_instance(dir: &Path, name: &str) -> anyhow::Result<Running> {
    loopback_instance_with(dir, name, |_| {}).await
}

/// A loopback instance `name` with options changed by `change`.
pub(crate) async fn loopback_instance_with(
    dir: &Path,
    name: &str,
    change: impl FnOnce(&mut Options),
) -> anyhow::Result<Running> {
    init_logging();
    let mut options = Options::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        database(dir, name),
    )
    .with_name(name)
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    change(&mut options);
    start(options).await
}

/// The administration commands of `running` (instance `name` in `dir`).
pub(crate) fn admin_of(running: &Running, dir: &Path, name: &str) -> Admin {
    Admin::new(database(dir, name))
        .with_base_url(Some(running.base_url.clone()))
        .with_danger_allow_private_addresses(true)
}

/// GETs `url` as ActivityPub, unsigned; gives its JSON (an error when it is not).
pub(crate) async fn fetch_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let response = http
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await?
        .error_for_status()?;
    Ok(serde_json::from_slice(&response.bytes().await?)?)
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

/// Uploads `bytes` as `file_name` through PeerTube's API with `token` into `channel`; gives the
/// status and the JSON answer.
pub(crate) async fn api_upload(
    http: &reqwest::Client,
    running: &Running,
    token: &str,
    channel: &str,
    name: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .text("channel", channel.to_owned())
        .text("name", name.to_owned())
        .text("description", "A *test* video.\nSecond line.")
        .text("tags", "test, sample")
        .text("category", "15")
        .text("licence", "2")
        .text("language", "en")
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        );
    let response = http
        .post(format!("{}api/v1/videos/upload", running.base_url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
    )
}

/// Polls `check` every 100 ms until it holds, for at most 30 seconds.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 30 seconds");
}

/// Waits until `a` accepted the follow of `b`'s instance actor (it is in `b`'s following).
pub(crate) async fn until_followed(
    http: &reqwest::Client,
    a: &video_instance::Running,
    b: &video_instance::Running,
) {
    let following = format!("{}/following?page=1", b.instance.instance_actor());
    let target = a.instance.instance_actor().to_string();
    eventually("A accepts B's follow", || async {
        fetch_json(http, &following)
            .await
            .is_ok_and(|page| page["orderedItems"].to_string().contains(target.as_str()))
    })
    .await;
}

/// `path` on `running`'s base URL.
pub(crate) fn url(running: &Running, path: &str) -> String {
    running
        .base_url
        .join(path)
        .map(|u| u.to_string())
        .unwrap_or_default()
}

/// Signs `name` up on `at` in the browser `page`, which stays signed in.
pub(crate) async fn sign_up(page: &Session, at: &Running, name: &str) -> anyhow::Result<()> {
    page.goto(&url(at, "/signup")).await?;
    page.fill("Username", name).await?;
    page.fill("Password", "correct horse battery staple")
        .await?;
    page.fill("Password again", "correct horse battery staple")
        .await?;
    page.click_button("Sign up").await?;
    page.wait_for_text("Sign out").await?;
    Ok(())
}

/// GETs `url` as a browser would (`Accept: text/html`): its status and text.
pub(crate) async fn html(http: &reqwest::Client, url: &str) -> (u16, String) {
    match http.get(url).header("accept", "text/html").send().await {
        Ok(response) => (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        ),
        Err(_) => (0, String::new()),
    }
}

/// Reloads `path` on `at` until its text holds `wanted` (30 s at most).
pub(crate) async fn reload_until(page: &Session, at: &Running, path: &str, wanted: &str) {
    eventually(&format!("{path} shows {wanted:?}"), || async {
        page.goto(&url(at, path)).await.is_ok()
            && page.text().await.is_ok_and(|text| text.contains(wanted))
    })
    .await;
}
