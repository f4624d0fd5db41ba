//! The binary, as a host runs it: two `events-instance serve` processes on loopback, set up
//! with `events-instance admin`, used through client-to-server HTTP and read through their
//! web pages.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use events_instance::demo::{Client, eventually};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::fetch_json;

const BIN: &str = env!("CARGO_BIN_EXE_events-instance");
const WAIT: Duration = Duration::from_secs(30);

/// `events-instance serve` on a port the OS picks; its base URL from the line it prints.
async fn serve(database: &Path) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--danger-allow-private-addresses",
        ])
        .arg("--database")
        .arg(database)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await??
        .ok_or_else(|| anyhow::anyhow!("serve printed nothing"))?;
    let listening: Value = serde_json::from_str(&line)?;
    assert_eq!(listening["event"], "listening", "{line}");
    let base = listening["base_url"].as_str().unwrap().to_owned();
    Ok((child, base))
}

/// `events-instance admin --database DB ARGS...`, its JSON output.
async fn admin(database: &Path, args: &[&str]) -> anyhow::Result<Value> {
    let output = Command::new(BIN)
        .args(["admin", "--danger-allow-private-addresses", "--database"])
        .arg(database)
        .args(args)
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

async fn page(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    Ok(http
        .get(url)
        .header("accept", "text/html")
        .send()
        .await?
        .text()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_served_instances_federate_through_the_command_line_interface() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha_db = dir.path().join("alpha.sqlite");
    let beta_db = dir.path().join("beta.sqlite");
    let (mut alpha, alpha_url) = serve(&alpha_db).await?;
    let (mut beta, beta_url) = serve(&beta_db).await?;
    let http = reqwest::Client::builder().no_proxy().build()?;

    let alice = Client::from_identity(&admin(&alpha_db, &["create-identity", "alice"]).await?)?;
    let organizer =
        Client::from_identity(&admin(&beta_db, &["create-identity", "organizer"]).await?)?;
    let group = admin(
        &beta_db,
        &["create-group", "hikers", "--admin", "organizer"],
    )
    .await?;
    let group = group["actor"].as_str().unwrap().to_owned();
    assert!(group.starts_with(&beta_url), "{group}");
    // The admin command refuses what it cannot do.
    assert!(
        admin(
            &beta_db,
            &["create-group", "hikers", "--admin", "organizer"]
        )
        .await
        .is_err()
    );

    // The instance actors: alpha follows beta (a Follow queued by one process, delivered by
    // the serving one).
    let followed = admin(&alpha_db, &["follow-instance", &beta_url]).await?;
    assert_eq!(
        followed["target"],
        format!("{beta_url}actors/instance").as_str()
    );
    alice
        .post(json!({"type": "Follow", "object": group}))
        .await?;
    eventually(WAIT, "the follow at beta", || async {
        let followers = fetch_json(&http, &format!("{group}/followers?page=1")).await?;
        let items = followers["orderedItems"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(items.contains(&json!(alice.actor)).then_some(()))
    })
    .await?;

    // An event published on beta shows on alpha's page of upcoming events.
    let create = organizer
        .post(
            json!({"type": "Event", "name": "Lantern walk", "startTime": "2031-11-11T17:00:00Z",
            "attributedTo": group}),
        )
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    let location = create["id"].as_str().unwrap().to_owned();
    assert!(location.starts_with(&beta_url));
    eventually(WAIT, "the event on alpha's page", || async {
        Ok(page(&http, &alpha_url)
            .await?
            .contains("Lantern walk")
            .then_some(()))
    })
    .await?;
    assert!(page(&http, &event).await?.contains("Lantern walk"));
    alice.post(json!({"type": "Join", "object": event})).await?;
    eventually(WAIT, "the participant on beta's page", || async {
        Ok(page(&http, &event)
            .await?
            .contains("1 participant")
            .then_some(()))
    })
    .await?;

    alpha.kill().await?;
    beta.kill().await?;
    Ok(())
}

/// `SIGTERM` (what service managers send to stop a service) stops `serve` cleanly, as Ctrl-C
/// does: the process ends by itself, with success, and its address stops answering.
#[tokio::test]
async fn serve_stops_cleanly_on_sigterm() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (mut child, base) = serve(&dir.path().join("term.sqlite")).await?;
    let http = reqwest::Client::new();
    assert!(http.get(&base).send().await?.status().is_success());
    let pid = child.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()?;
    assert!(sent.success());
    let status = tokio::time::timeout(WAIT, child.wait()).await??;
    assert!(status.success(), "{status}");
    assert!(http.get(&base).send().await.is_err());
    Ok(())
}
