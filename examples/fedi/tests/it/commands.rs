//! `fedi lookup`, `fedi deliver` and `fedi inbox` against the events instance and mock servers
//! on loopback.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use events_instance::demo::admin_of;
use events_instance::{Options, Running, start};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use wiremock::matchers::{header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::check::LOOPBACK;
use crate::{fedi_async, follow_answer, json_lines, stdout_json};

/// An events instance with a group `hikers`; the group's id.
async fn instance(dir: &std::path::Path) -> (Running, String) {
    let options = Options::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.join("events.sqlite").to_string_lossy().into_owned(),
    )
    .with_name("events")
    .with_danger_allow_private_addresses(true)
    .with_quick_retries(true);
    let running = start(options).await.expect("the instance starts");
    let admin = admin_of(&running, dir, "events");
    admin.create_identity("organizer").await.unwrap();
    let group = admin.create_group("hikers", "organizer").await.unwrap();
    let group = group["actor"].as_str().expect("a group id").to_owned();
    (running, group)
}

fn with_loopback<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(LOOPBACK);
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_a_handle_then_traverse_a_collection() {
    let dir = tempfile::tempdir().unwrap();
    let (running, group) = instance(dir.path()).await;
    let handle = format!("@hikers@{}", running.addr);
    let output = fedi_async(&with_loopback(&["lookup", &handle])).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    assert_eq!(
        report["webfinger"]["actor_id"],
        group.as_str(),
        "{report:#}"
    );
    assert_eq!(report["id"], group.as_str(), "{report:#}");
    assert_eq!(report["id_matches_url"], true, "{report:#}");
    assert_eq!(report["understood"]["kind"], "Actor", "{report:#}");
    assert_eq!(report["understood"]["type"], "Group", "{report:#}");
    assert_eq!(report["understood"]["lossless"], true, "{report:#}");
    assert_eq!(report["raw"]["id"], group.as_str(), "{report:#}");

    let followers = format!("{group}/followers");
    let output = fedi_async(&with_loopback(&["lookup", "--traverse", &followers])).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    assert_eq!(report["understood"]["kind"], "Collection", "{report:#}");
    assert_eq!(report["pages"]["stopped"], "end", "{report:#}");
    running.stop().await.unwrap();
}

/// Each failure is named: the scheme, the status, the content type, an id on another origin,
/// an id that is not the URL.
#[tokio::test(flavor = "multi_thread")]
async fn lookup_failures_are_explained() {
    let server = MockServer::start().await;
    let base = server.uri();
    let document = |id: &str| {
        ResponseTemplate::new(200).set_body_raw(
            json!({"id": id, "type": "Note", "content": "hi"}).to_string(),
            "application/activity+json",
        )
    };
    Mock::given(path("/html"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<p>hi</p>", "text/html"))
        .mount(&server)
        .await;
    Mock::given(path("/foreign"))
        .respond_with(document("https://elsewhere.example/notes/1"))
        .mount(&server)
        .await;
    Mock::given(path("/alias"))
        .respond_with(document(&format!("{base}/notes/1")))
        .mount(&server)
        .await;
    Mock::given(path("/notes/1"))
        .respond_with(document(&format!("{base}/notes/1")))
        .mount(&server)
        .await;

    let cases = [
        (format!("{base}/notes/1"), false, 2, "only https is allowed"),
        (format!("{base}/missing"), true, 2, "404 Not Found"),
        (
            format!("{base}/html"),
            true,
            2,
            "content type Some(\"text/html\")",
        ),
        (format!("{base}/foreign"), true, 2, "on another origin"),
        (
            format!("{base}/alias"),
            true,
            1,
            "is not the URL it was served from",
        ),
        // An https URL on a plain-http port: the TLS handshake fails.
        (
            format!("https://{}/notes/1", server.address()),
            true,
            2,
            "TLS failure",
        ),
        (
            "https://no-such-host.invalid/actor".to_owned(),
            false,
            2,
            "DNS failure",
        ),
    ];
    for (url, loopback, code, message) in cases {
        let args = if loopback {
            with_loopback(&["lookup", &url])
        } else {
            vec!["lookup", url.as_str()]
        };
        let output = fedi_async(&args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{url}: {stderr}");
        assert!(
            stderr.contains(message),
            "{url}: expected {message:?} in {stderr}"
        );
    }
    let output = fedi_async(&with_loopback(&["lookup", &format!("{base}/notes/1")])).await;
    assert!(output.status.success());
}

/// Double-knocking: the inbox refuses RFC 9421, accepts draft-cavage; both knocks are shown.
#[tokio::test(flavor = "multi_thread")]
async fn deliver_double_knocks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/inbox"))
        .and(header_exists("signature-input"))
        .respond_with(ResponseTemplate::new(401).set_body_string("no RFC 9421 here"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/inbox"))
        .and(header_exists("signature"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let pem = http_signatures_key();
    std::fs::write(&key, pem).unwrap();
    let activity = dir.path().join("follow.json");
    std::fs::write(
        &activity,
        br#"{"type":"Follow","id":"https://a.example/1","actor":"https://a.example/actor","object":"https://b.example/actor"}"#,
    )
    .unwrap();
    let inbox = format!("{}/inbox", server.uri());
    let key_arg = key.to_string_lossy().into_owned();
    let activity_arg = activity.to_string_lossy().into_owned();
    let output = deliver(&[], &key_arg, &inbox, &activity_arg).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    assert_eq!(report["status"], 202, "{report:#}");
    assert_eq!(report["signed_with"], "cavage", "{report:#}");
    assert_eq!(report["knocks"][0]["standard"], "rfc9421", "{report:#}");
    assert_eq!(report["knocks"][0]["status"], 401, "{report:#}");

    // One standard only: the refusal is the answer, and the exit status says so.
    let output = deliver(&["--standard", "rfc9421"], &key_arg, &inbox, &activity_arg).await;
    assert_eq!(output.status.code(), Some(1));
    let report = stdout_json(&output);
    assert_eq!(report["status"], 401, "{report:#}");
    assert_eq!(report["body"], "no RFC 9421 here", "{report:#}");
}

/// Runs `fedi deliver` (on loopback) with `options`, of the activity in the file `activity` to
/// `inbox`, signed with the key in the file `key` as `https://a.example/actor#main-key`.
async fn deliver(options: &[&str], key: &str, inbox: &str, activity: &str) -> std::process::Output {
    let mut args = vec!["deliver"];
    args.extend(options);
    args.extend([
        "--key",
        key,
        "--key-id",
        "https://a.example/actor#main-key",
        "--to",
        inbox,
        activity,
    ]);
    fedi_async(&with_loopback(&args)).await
}

/// An Ed25519 private key (PKCS#8 PEM) made for the test.
fn http_signatures_key() -> String {
    include_str!("../data/ed25519-test-key.pem").to_owned()
}

/// `fedi inbox --follow` follows a group of the events instance, which accepts.
#[tokio::test(flavor = "multi_thread")]
async fn inbox_follows_and_shows_the_accept() {
    let dir = tempfile::tempdir().unwrap();
    let (running, group) = instance(dir.path()).await;
    let handle = format!("hikers@{}", running.addr);
    let output = fedi_async(&with_loopback(&[
        "inbox",
        "--follow",
        &handle,
        "--exit-after-follow",
        "--wait",
        "30",
    ]))
    .await;
    let lines = json_lines(&output);
    assert_eq!(lines[0]["event"], "ready", "{lines:#?}");
    let answer = follow_answer(&lines);
    assert_eq!(answer["event"], "follow-accepted", "{lines:#?}");
    assert_eq!(answer["target"], group.as_str(), "{lines:#?}");
    assert_eq!(answer["accept"]["actor"], group.as_str(), "{lines:#?}");
    // The Accept came through the verifying inbox, and the instance fetched fedi's actor.
    assert!(
        lines.iter().any(|e| e["event"] == "inbox"
            && e["activity_type"] == "Accept"
            && e["verified"] == true
            && e["status"] == 202),
        "{lines:#?}"
    );
    // Every GET the instance made (WebFinger aside, its key fetches of fedi's actor) is shown
    // with the result of checking its signature.
    let gets: Vec<&Value> = lines.iter().filter(|e| e["event"] == "request").collect();
    assert!(!gets.is_empty(), "{lines:#?}");
    for get in gets {
        let signed = !get["signature"].is_null();
        assert_eq!(get["verified"].is_boolean(), signed, "{get:#}");
        assert_ne!(get["verified"], false, "{get:#}");
    }
    assert!(output.status.success(), "{lines:#?}");
    running.stop().await.unwrap();
}

/// A request signed with the wrong key is printed with the reason and the signing string.
#[tokio::test(flavor = "multi_thread")]
async fn inbox_prints_why_a_signature_fails() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fedi"))
        .args(with_loopback(&["inbox", "--duration", "60"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("a line");
        serde_json::from_str(&line).unwrap()
    };
    let ready = next().await;
    assert_eq!(ready["event"], "ready", "{ready}");
    let actor = ready["actor"].as_str().unwrap().to_owned();
    let inbox = ready["inbox"].as_str().unwrap().to_owned();

    // Signed with a key that is not the actor's, under the actor's key id.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, http_signatures_key()).unwrap();
    let activity = dir.path().join("follow.json");
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Follow",
        "id": format!("{actor}/forged"),
        "actor": actor,
        "object": actor,
    });
    std::fs::write(&activity, follow.to_string()).unwrap();
    let key_id = format!("{actor}#ed25519-key");
    let output = fedi_async(&with_loopback(&[
        "deliver",
        "--standard",
        "cavage",
        "--key",
        &key.to_string_lossy(),
        "--key-id",
        &key_id,
        "--to",
        &inbox,
        &activity.to_string_lossy(),
    ]))
    .await;
    assert_eq!(output.status.code(), Some(1));

    let event = loop {
        let event = next().await;
        if event["event"] == "inbox" {
            break event;
        }
    };
    assert_eq!(event["status"], 401, "{event:#}");
    assert_eq!(event["verified"], false, "{event:#}");
    assert_eq!(event["step"], "signature", "{event:#}");
    assert!(
        event["reason"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{event:#}"
    );
    let signing_string = event["signing_string"].as_str().unwrap();
    assert!(
        signing_string.starts_with("(request-target): post /actors/fedi/inbox\n"),
        "{event:#}"
    );
    child.kill().await.unwrap();
}

/// `--traverse` follows `first` then each `next`, and stops at `--max-pages`.
#[tokio::test(flavor = "multi_thread")]
async fn lookup_traverses_pages_within_the_bound() {
    let server = MockServer::start().await;
    let base = server.uri();
    let collection = format!("{base}/outbox");
    let page = |n: u32| {
        let mut page = json!({
            "id": format!("{base}/outbox?page={n}"),
            "type": "OrderedCollectionPage",
            "partOf": collection,
            "orderedItems": [format!("{base}/notes/{n}")],
        });
        if n < 3 {
            page["next"] = json!(format!("{base}/outbox?page={}", n + 1));
        }
        ResponseTemplate::new(200).set_body_raw(page.to_string(), "application/activity+json")
    };
    for n in 1..=3 {
        Mock::given(path("/outbox"))
            .and(query_param("page", n.to_string()))
            .respond_with(page(n))
            .mount(&server)
            .await;
    }
    Mock::given(path("/outbox"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                json!({
                    "id": collection,
                    "type": "OrderedCollection",
                    "totalItems": 3,
                    "first": format!("{base}/outbox?page=1"),
                })
                .to_string(),
                "application/activity+json",
            ),
        )
        .mount(&server)
        .await;

    let output = fedi_async(&with_loopback(&["lookup", "--traverse", &collection])).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    let pages = report["pages"]["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 3, "{report:#}");
    assert_eq!(
        pages[2]["understood"]["type"], "OrderedCollectionPage",
        "{report:#}"
    );
    assert_eq!(pages[2]["items"], 1, "{report:#}");
    assert_eq!(report["pages"]["stopped"], "end", "{report:#}");

    let output = fedi_async(&with_loopback(&[
        "lookup",
        "--traverse",
        "--max-pages",
        "2",
        &collection,
    ]))
    .await;
    let report = stdout_json(&output);
    assert_eq!(
        report["pages"]["pages"].as_array().unwrap().len(),
        2,
        "{report:#}"
    );
    assert_eq!(
        report["pages"]["stopped"], "--max-pages (2) reached",
        "{report:#}"
    );
}

/// `--sign-with` signs the GET, for servers in authorized-fetch mode.
#[tokio::test(flavor = "multi_thread")]
async fn lookup_signs_with_a_key() {
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(path("/notes/1"))
        .and(header_exists("signature"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            json!({"id": format!("{base}/notes/1"), "type": "Note"}).to_string(),
            "application/activity+json",
        ))
        .mount(&server)
        .await;
    Mock::given(path("/notes/1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let url = format!("{base}/notes/1");
    let output = fedi_async(&with_loopback(&["lookup", &url])).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("401 Unauthorized"));

    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, http_signatures_key()).unwrap();
    let output = fedi_async(&with_loopback(&[
        "lookup",
        "--sign-with",
        &key.to_string_lossy(),
        "--key-id",
        "https://a.example/actor#key",
        &url,
    ]))
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout_json(&output)["understood"]["type"], "Note");
}

/// Behind a tunnel, `--public-url` makes the ids.
#[tokio::test(flavor = "multi_thread")]
async fn inbox_ids_follow_the_public_url() {
    let output = fedi_async(&with_loopback(&[
        "inbox",
        "--public-url",
        "https://tunnel.example/",
        "--duration",
        "0",
    ]))
    .await;
    let lines = json_lines(&output);
    assert_eq!(
        lines[0]["actor"], "https://tunnel.example/actors/fedi",
        "{lines:#?}"
    );
    assert_eq!(lines[0]["handle"], "fedi@tunnel.example", "{lines:#?}");
    assert!(output.status.success());
}
