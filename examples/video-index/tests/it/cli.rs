//! The binary, as a host runs it: `video-index serve` with its rules on the command line,
//! following a video instance given by `--follow` and another by `video-index admin
//! follow-instance`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use video_index::WithParts as _;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use crate::support::{Upload, account, search, until_total, upload, video_instance, within};

const BIN: &str = env!("CARGO_BIN_EXE_video-index");

/// `video-index serve ARGS...` on a port the OS picks; its base URL from the line it prints.
async fn serve(database: &Path, args: &[&str]) -> anyhow::Result<(Child, Url)> {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--danger-allow-private-addresses",
        ])
        .arg("--database")
        .arg(database)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await??
        .ok_or_else(|| anyhow::anyhow!("serve printed nothing"))?;
    let listening: Value = serde_json::from_str(&line)?;
    assert_eq!(listening["event"], "listening", "{line}");
    Ok((child, Url::parse(listening["base_url"].as_str().unwrap())?))
}

/// `video-index admin --database DB ARGS...`, its JSON output.
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

#[tokio::test(flavor = "multi_thread")]
async fn the_served_binary_follows_instances_and_applies_its_rules() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let http = reqwest::Client::new();
    let a = video_instance(dir.path(), "a").await?;
    let b = video_instance(dir.path(), "b").await?;
    let database = dir.path().join("index.sqlite");
    let (mut child, base) = serve(
        &database,
        &[
            "--follow",
            a.base_url.as_str(),
            "--exclude-sensitive",
            "--language",
            "en",
        ],
    )
    .await?;
    // B followed by the administration command, beside the serving process.
    admin(&database, &["follow-instance", b.base_url.as_str()]).await?;

    let token_a = account(&a, dir.path(), "a", "ada").await;
    let token_b = account(&b, dir.path(), "b", "ben").await;
    for (name, language, nsfw) in [
        ("Lighthouse at night, sensitive", "en", true),
        ("Lighthouse in French", "fr", false),
        ("Lighthouse from A", "en", false),
    ] {
        upload(
            &http,
            &a,
            &token_a,
            "ada",
            Upload {
                name,
                language,
                nsfw,
            },
        )
        .await;
    }
    // The follows are accepted in the background: upload on B once the index follows it, so
    // that its announce reaches the index.
    let following = base.join("actors/instance/following?page=1")?;
    let b_actor = b.instance.instance_actor().to_string();
    within("the index follows B", 15, || async {
        let page: Value = http
            .get(following.clone())
            .header("accept", "application/activity+json")
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        page["orderedItems"]
            .to_string()
            .contains(b_actor.as_str())
            .then_some(())
    })
    .await;
    upload(
        &http,
        &b,
        &token_b,
        "ben",
        Upload {
            name: "Lighthouse from B",
            language: "en",
            nsfw: false,
        },
    )
    .await;
    let found = until_total(&http, &base, "lighthouse", 2).await;
    let mut names: Vec<&str> = found["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Lighthouse from A", "Lighthouse from B"]);
    // The others arrived too (stored), and stay out.
    within("the four videos are stored", 15, || async {
        let stats = admin(&database, &["stats"]).await.ok()?;
        (stats["stored_videos"] == 4).then_some(())
    })
    .await;
    let stats = admin(&database, &["stats"]).await?;
    assert_eq!(stats["following"], 2, "{stats}");
    let all = search(&http, &base, &[("search", "lighthouse"), ("nsfw", "both")]).await;
    assert_eq!(all["total"], 2, "{all}");

    child.kill().await?;
    a.stop().await?;
    b.stop().await?;
    Ok(())
}
