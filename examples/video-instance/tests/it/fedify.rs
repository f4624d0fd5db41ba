//! End to end against [Fedify](https://fedify.dev), an independent TypeScript implementation
//! (`scripts/fedify-peer`, driven through `test_peer::fedify`): it follows a channel, receives
//! the channel's `Announce` of a new video with our signature verified, reads the `Video` with
//! its own vocabulary, and receives the `Delete` when the video goes. Each test pairs the
//! signature standard our instance tries first with the one Fedify tries first; both verify
//! both, so every delivery must pass at the first knock.

use anyhow::{Context, Result, ensure};
use http_signatures::Standard;
use serde_json::{Value, json};
use test_peer::fedify::{self, FedifyOptions, FedifyPeer, received, standard_name};

use crate::support::{admin_of, api_upload, loopback_instance_with, sample};

#[tokio::test(flavor = "multi_thread")]
async fn fedify_follows_a_channel_and_gets_its_video_rfc9421() -> Result<()> {
    check(Standard::Rfc9421, Standard::Rfc9421).await
}

#[tokio::test(flavor = "multi_thread")]
async fn fedify_follows_a_channel_and_gets_its_video_cavage() -> Result<()> {
    check(Standard::Cavage, Standard::Cavage).await
}

async fn check(ours: Standard, theirs: Standard) -> Result<()> {
    fedify::install().await?;
    let dir = tempfile::tempdir()?;
    let running = loopback_instance_with(dir.path(), "videos", |options| {
        options.first_knock = ours;
    })
    .await?;
    let mut peer = FedifyPeer::spawn(FedifyOptions::new(theirs)).await?;
    let outcome = flow(&running, dir.path(), &mut peer, ours, theirs).await;
    // Shown on failure, and with `--nocapture`.
    println!("{}", peer.transcript());
    peer.quit().await;
    running.stop().await?;
    outcome
}

async fn flow(
    running: &video_instance::Running,
    dir: &std::path::Path,
    peer: &mut FedifyPeer,
    ours: Standard,
    theirs: Standard,
) -> Result<()> {
    let bob = admin_of(running, dir, "videos")
        .create_account("bob")
        .await?;
    let token = bob["token"].as_str().context("no token")?.to_owned();
    let channel = running.base_url.join("actors/bob_channel")?.to_string();

    // 1. Fedify follows the channel; our inbox takes it at the first knock and the channel
    // accepts, signed as we sign.
    let done = peer
        .command(json!({"cmd": "follow", "target": channel}))
        .await?;
    ensure!(
        done["knocks"] == json!([]) && done["signed_with"] == standard_name(theirs),
        "our inbox refused Fedify's first knock: {done}"
    );
    let follow_id = done["id"].as_str().context("no Follow id")?.to_owned();
    let accept = peer
        .expect("the channel's Accept", |e| {
            received(e, "Accept") && e["object_id"] == follow_id.as_str()
        })
        .await?;
    ensure!(accept["actor"] == channel.as_str(), "{accept}");
    fedify::check_signature(&accept, ours, "#main-key")?;

    // 2. A video in the channel: Fedify receives the channel's Announce of it.
    let http = reqwest::Client::new();
    let (status, answer) = api_upload(
        &http,
        running,
        &token,
        "bob_channel",
        "Sharpening a chisel",
        "chisel.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    ensure!(status == 200, "the upload failed: {answer}");
    let uuid = answer["video"]["uuid"].as_str().context("no uuid")?;
    let video = running
        .base_url
        .join(&format!("videos/watch/{uuid}"))?
        .to_string();
    let announce = peer
        .expect("the channel's Announce of the video", |e| {
            received(e, "Announce") && e["object_id"] == video.as_str()
        })
        .await?;
    ensure!(announce["actor"] == channel.as_str(), "{announce}");
    fedify::check_signature(&announce, ours, "#main-key")?;

    // 3. Fedify reads the Video with its own vocabulary: the title, the page Mastodon links
    // to, the duration and the account and channel it is attributed to.
    let looked_up = peer.command(json!({"cmd": "lookup", "url": video})).await?;
    ensure!(looked_up["type"] == "Video", "{looked_up}");
    let object = &looked_up["object"];
    ensure!(object["name"] == "Sharpening a chisel", "{object}");
    ensure!(
        object["duration"]
            .as_str()
            .is_some_and(|d| d.starts_with("PT")),
        "{object}"
    );
    let text = object.to_string();
    ensure!(
        text.contains(&channel) && text.contains(&format!("{video}\"")),
        "Fedify lost the channel or the page: {object}"
    );

    // 4. The video is deleted: Fedify receives the Delete.
    let deleted = http
        .delete(running.base_url.join(&format!("api/v1/videos/{uuid}"))?)
        .bearer_auth(&token)
        .send()
        .await?;
    ensure!(deleted.status().is_success(), "{}", deleted.status());
    let delete = peer
        .expect("the Delete of the video", |e| {
            received(e, "Delete") && e["object_id"] == video.as_str()
        })
        .await?;
    fedify::check_signature(&delete, ours, "#main-key")?;

    let refused: Vec<&Value> = peer.refusals();
    ensure!(refused.is_empty(), "Fedify refused requests: {refused:?}");
    Ok(())
}
