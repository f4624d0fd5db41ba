//! `fedi lookup`, `deliver`, `inbox` and `check` against the events instance, started in-process
//! on loopback (SQLite in a temporary directory).

use std::net::SocketAddr;
use std::path::Path;

use events_instance::demo::{Client, admin_of};
use events_instance::{Options, Running, start};
use serde_json::{Value, json};

use crate::{fedi_async, stdout_json};

/// The switches every loopback run needs.
pub(crate) const LOOPBACK: [&str; 2] = ["--danger-allow-http", "--danger-allow-private-addresses"];

/// An events instance with a group `hikers` (administered by `organizer`); the organizer's
/// client.
async fn instance(dir: &Path, authorized_fetch: bool) -> (Running, Client, String) {
    let database = dir.join("events.sqlite");
    let options = Options::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        database.to_string_lossy().into_owned(),
    )
    .with_name("events")
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true)
    .with_authorized_fetch(authorized_fetch);
    let running = start(options).await.expect("the instance starts");
    let admin = admin_of(&running, dir, "events");
    let organizer = Client::from_identity(&admin.create_identity("organizer").await.unwrap())
        .expect("a client");
    let group = admin.create_group("hikers", "organizer").await.unwrap();
    let group = group["actor"].as_str().expect("a group id").to_owned();
    (running, organizer, group)
}

/// The URL of an event the organizer published, then deleted.
async fn deleted_event(organizer: &Client, group: &str) -> String {
    let create = organizer
        .post(json!({
            "type": "Create",
            "object": {
                "type": "Event",
                "name": "Cancelled walk",
                "startTime": "2031-10-04T09:00:00+02:00",
                "attributedTo": group,
            }
        }))
        .await
        .expect("the event is published");
    let event = create["object"]["id"]
        .as_str()
        .expect("an event id")
        .to_owned();
    organizer
        .post(json!({"type": "Delete", "object": event}))
        .await
        .expect("the event is deleted");
    event
}

/// `fedi check` with `args` and the loopback switches; its JSON report and exit status.
pub(crate) async fn check(args: &[&str]) -> (Value, i32) {
    let mut all = vec!["check", "--format", "json", "--wait", "20"];
    all.extend(LOOPBACK);
    all.extend(args);
    let output = fedi_async(&all).await;
    let report = stdout_json(&output);
    (report, output.status.code().unwrap_or(-1))
}

/// The outcome of check `id` in `report`.
pub(crate) fn outcome<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// Every check's outcome, `id → pass|fail|skip`.
pub(crate) fn outcomes(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The matrix column of the events instance in `docs/conformance.md`: every check passes but
/// the authorized-fetch ones, skipped (the mode is off).
#[tokio::test(flavor = "multi_thread")]
async fn check_events_instance() {
    let dir = tempfile::tempdir().unwrap();
    let (running, organizer, group) = instance(dir.path(), false).await;
    let deleted = deleted_event(&organizer, &group).await;
    let handle = format!("hikers@{}", running.addr);
    let (report, status) = check(&[&handle, "--deleted", &deleted]).await;
    let skipped: Vec<String> = outcomes(&report)
        .into_iter()
        .filter(|(_, o)| o != "pass")
        .map(|(id, o)| format!("{id}: {o}"))
        .collect();
    assert_eq!(
        skipped,
        [
            "authorized-fetch.refuses-unsigned: skip",
            "authorized-fetch.accepts-signed: skip"
        ],
        "{report:#}"
    );
    assert_eq!(status, 0, "{report:#}");
    running.stop().await.unwrap();
}

/// In authorized-fetch mode, the instance is detected as such (it refuses the unsigned GET of
/// its actor) and read with signed GETs.
#[tokio::test(flavor = "multi_thread")]
async fn check_events_instance_in_authorized_fetch_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (running, organizer, group) = instance(dir.path(), true).await;
    let deleted = deleted_event(&organizer, &group).await;
    let (report, status) = check(&[&group, "--deleted", &deleted]).await;
    let failed: Vec<String> = outcomes(&report)
        .into_iter()
        .filter(|(_, o)| o != "pass")
        .map(|(id, o)| format!("{id}: {o}"))
        .collect();
    assert!(failed.is_empty(), "{report:#}");
    assert_eq!(status, 0, "{report:#}");
    running.stop().await.unwrap();
}

/// Without the loud switches, loopback is refused, and the run says so.
#[tokio::test(flavor = "multi_thread")]
async fn check_refuses_loopback_without_the_switches() {
    let dir = tempfile::tempdir().unwrap();
    let (running, _, _) = instance(dir.path(), false).await;
    let handle = format!("hikers@{}", running.addr);
    let output = fedi_async(&[
        "check",
        "--format",
        "json",
        "--only",
        "webfinger.acct",
        &handle,
    ])
    .await;
    let report = stdout_json(&output);
    let acct = outcome(&report, "webfinger.acct");
    assert_eq!(acct["outcome"], "fail", "{report:#}");
    assert!(
        acct["evidence"].as_str().unwrap().contains("danger-allow"),
        "{report:#}"
    );
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    running.stop().await.unwrap();
}

/// TAP and text name every check and carry the evidence of a failure.
#[tokio::test(flavor = "multi_thread")]
async fn check_prints_tap_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let (running, _, _) = instance(dir.path(), false).await;
    let handle = format!("hikers@{}", running.addr);
    let mut args = vec![
        "check",
        "--format",
        "tap",
        "--only",
        "webfinger.",
        "--only",
        "nodeinfo.",
    ];
    args.extend(LOOPBACK);
    args.push(&handle);
    let output = fedi_async(&args).await;
    let tap = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(tap.starts_with("TAP version 14\n"), "{tap}");
    assert!(tap.contains("\n1..8\n"), "{tap}");
    assert!(tap.contains("ok 1 - webfinger.acct: "), "{tap}");
    assert!(!tap.contains("not ok"), "{tap}");
    args[2] = "text";
    let output = fedi_async(&args).await;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(text.contains("PASS webfinger.cors"), "{text}");
    assert!(text.contains("8 passed, 0 failed, 0 skipped"), "{text}");
    running.stop().await.unwrap();
}

/// The catalogue in `docs/conformance.md` is the one `fedi check --list` prints.
#[tokio::test(flavor = "multi_thread")]
async fn the_documented_catalogue_is_the_real_one() {
    let output = fedi_async(&["check", "--list", "--format", "json"]).await;
    let listed: Vec<(String, String, bool)> = stdout_json(&output)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["statement"].as_str().unwrap().to_owned(),
                c["reaches_back"].as_bool().unwrap(),
            )
        })
        .collect();
    let docs = std::fs::read_to_string(crate::local("../../docs/conformance.md")).unwrap();
    let section = docs
        .split("## The catalogue")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    let documented: Vec<(String, String, bool)> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            (
                cells[0].trim_matches('`').to_owned(),
                cells[1].to_owned(),
                cells[2] == "yes",
            )
        })
        .collect();
    assert_eq!(documented, listed);
}
