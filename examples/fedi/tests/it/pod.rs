//! `fedi check` against the pod, started in-process on loopback: its column of the interop
//! matrix in `docs/conformance.md`.

use std::net::SocketAddr;
use std::path::Path;

use pod::{Options, Pod, PostAudience, Running, start};
use serde_json::Value;

use crate::check::{check, outcomes};

/// A pod in `dir` with a person `dora`.
async fn pod(dir: &Path, authorized_fetch: bool) -> Running {
    let database = dir.join("pod.sqlite").to_string_lossy().into_owned();
    let options = Options::new(SocketAddr::from(([127, 0, 0, 1], 0)), database.clone())
        .with_name("pod")
        .with_danger_allow_private_addresses(true)
        .with_quick_retries(true)
        .with_authorized_fetch(authorized_fetch);
    let running = start(options).await.expect("the pod starts");
    pod::admin::Admin::new(database)
        .with_base_url(Some(running.base_url.clone()))
        .with_danger_allow_private_addresses(true)
        .create_account::<Pod>("dora")
        .await
        .expect("a person");
    running
}

/// The id of a public post dora wrote, then deleted.
async fn deleted_post(running: &Running) -> String {
    let id = running
        .instance
        .write_post("dora", "Gone soon", &PostAudience::Public)
        .await
        .expect("a post");
    running
        .instance
        .delete_post("dora", &id)
        .await
        .expect("deleted");
    id
}

/// The checks of `report` that did not pass, as `id: outcome`.
fn not_passed(report: &Value) -> Vec<String> {
    outcomes(report)
        .into_iter()
        .filter(|(_, o)| o != "pass")
        .map(|(id, o)| format!("{id}: {o}"))
        .collect()
}

/// A person of the pod passes every check but the authorized-fetch ones, skipped (the mode
/// is off); a deleted post answers `410` with a `Tombstone`.
#[tokio::test(flavor = "multi_thread")]
async fn check_pod() {
    let dir = tempfile::tempdir().unwrap();
    let running = pod(dir.path(), false).await;
    let deleted = deleted_post(&running).await;
    let handle = format!("dora@{}", running.addr);
    let (report, status) = check(&[&handle, "--deleted", &deleted]).await;
    assert_eq!(
        not_passed(&report),
        [
            "authorized-fetch.refuses-unsigned: skip",
            "authorized-fetch.accepts-signed: skip"
        ],
        "{report:#}"
    );
    assert_eq!(status, 0, "{report:#}");
    running.stop().await.unwrap();
}

/// In authorized-fetch mode every check passes, the authorized-fetch ones included.
#[tokio::test(flavor = "multi_thread")]
async fn check_pod_in_authorized_fetch_mode() {
    let dir = tempfile::tempdir().unwrap();
    let running = pod(dir.path(), true).await;
    let deleted = deleted_post(&running).await;
    let handle = format!("dora@{}", running.addr);
    let (report, status) = check(&[&handle, "--deleted", &deleted]).await;
    assert!(not_passed(&report).is_empty(), "{report:#}");
    assert_eq!(status, 0, "{report:#}");
    running.stop().await.unwrap();
}
