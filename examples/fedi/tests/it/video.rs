//! `fedi check` against the video instance, started in-process on loopback: its column of the
//! interop matrix in `docs/conformance.md`.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::Value;
use video_instance::admin::Admin;
use video_instance::{Options, Running, start};

use crate::check::{check, outcomes};

/// A video instance in `dir` with an account `dora` (and her channel `dora_channel`); dora's
/// bearer token.
async fn instance(dir: &Path, authorized_fetch: bool) -> (Running, String) {
    let database = dir.join("tube.sqlite").to_string_lossy().into_owned();
    let options = Options::new(SocketAddr::from(([127, 0, 0, 1], 0)), database.clone())
        .with_name("tube")
        .with_danger_allow_private_addresses(true)
        .with_quick_retries(true)
        .with_authorized_fetch(authorized_fetch);
    let running = start(options).await.expect("the instance starts");
    let made = Admin::new(database)
        .with_base_url(Some(running.base_url.clone()))
        .with_danger_allow_private_addresses(true)
        .create_account("dora")
        .await
        .expect("an account");
    let token = made["token"].as_str().expect("a token").to_owned();
    (running, token)
}

/// The id of a video dora uploaded through PeerTube's API, then deleted.
async fn deleted_video(running: &Running, token: &str) -> String {
    let sample = crate::local("../../media-probe/tests/data/vp8-vorbis.webm");
    let bytes = std::fs::read(&sample).expect("the sample video");
    let form = reqwest::multipart::Form::new()
        .text("channel", "dora_channel")
        .text("name", "Gone soon")
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(bytes).file_name("v.webm"),
        );
    let http = reqwest::Client::new();
    let answer: Value = http
        .post(format!("{}api/v1/videos/upload", running.base_url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let uuid = answer["video"]["uuid"].as_str().expect("a uuid");
    let deleted = http
        .delete(format!("{}api/v1/videos/{uuid}", running.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    answer["video"]["url"].as_str().expect("a url").to_owned()
}

/// The checks of `report` that did not pass, as `id: outcome`.
fn not_passed(report: &Value) -> Vec<String> {
    outcomes(report)
        .into_iter()
        .filter(|(_, o)| o != "pass")
        .map(|(id, o)| format!("{id}: {o}"))
        .collect()
}

/// The account and the channel pass every check but the authorized-fetch ones, skipped (the
/// mode is off).
#[tokio::test(flavor = "multi_thread")]
async fn check_video_instance() {
    let dir = tempfile::tempdir().unwrap();
    let (running, token) = instance(dir.path(), false).await;
    let deleted = deleted_video(&running, &token).await;
    for handle in ["dora", "dora_channel"] {
        let handle = format!("{handle}@{}", running.addr);
        let (report, status) = check(&[&handle, "--deleted", &deleted]).await;
        assert_eq!(
            not_passed(&report),
            [
                "authorized-fetch.refuses-unsigned: skip",
                "authorized-fetch.accepts-signed: skip"
            ],
            "{handle}: {report:#}"
        );
        assert_eq!(status, 0, "{report:#}");
    }
    running.stop().await.unwrap();
}

/// In authorized-fetch mode every check passes, the authorized-fetch ones included.
#[tokio::test(flavor = "multi_thread")]
async fn check_video_instance_in_authorized_fetch_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (running, token) = instance(dir.path(), true).await;
    let deleted = deleted_video(&running, &token).await;
    let handle = format!("dora@{}", running.addr);
    let (report, status) = check(&[&handle, "--deleted", &deleted]).await;
    assert!(not_passed(&report).is_empty(), "{report:#}");
    assert_eq!(status, 0, "{report:#}");
    running.stop().await.unwrap();
}
