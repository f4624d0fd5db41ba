//! The demo: two video instances on loopback federate. Beta follows alpha; Alice uploads a
//! video on alpha through PeerTube's API; beta lists it and finds it in its search; Bob
//! comments from beta and alpha threads the comment under the video. Each step is printed.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::admin::Admin;
use crate::{Options, Running, SignupMode, start};
use instance_server::WithParts as _;

/// The video Alice uploads: two seconds of ffmpeg's test pattern in WebM (media-probe's sample
/// `vp8-vorbis.webm`, made by `scripts/media-samples`).
const SAMPLE: &[u8] = include_bytes!("../../../media-probe/tests/data/vp8-vorbis.webm");

/// How long a step may take.
const WAIT: Duration = Duration::from_secs(30);

/// Starts instance `name` for the demo: loopback, embedded SQLite in `dir`, sign-up open to
/// anyone (its pages are there to be tried).
async fn loopback_instance(dir: &Path, name: &str) -> Result<Running> {
    let options = Options::new(SocketAddr::from(([127, 0, 0, 1], 0)), database(dir, name))
        .with_name(name)
        .with_signup(SignupMode::Open)
        .with_danger_allow_private_addresses(true)
        .with_quick_retries(true);
    start(options).await
}

fn database(dir: &Path, name: &str) -> String {
    dir.join(format!("{name}.sqlite"))
        .to_string_lossy()
        .into_owned()
}

fn admin_of(running: &Running, dir: &Path, name: &str) -> Admin {
    Admin::new(database(dir, name))
        .with_base_url(Some(running.base_url.clone()))
        .with_danger_allow_private_addresses(true)
}

/// Polls `check` every 100 ms until it gives `Some`, for at most [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("waited {WAIT:?} for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn token(account: &Value) -> Result<String> {
    account
        .get("token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("the new account has no token")
}

/// Runs the demo in `dir`; stops both instances at the end when `once`, else serves until
/// interrupted.
pub async fn run(dir: &Path, once: bool) -> Result<()> {
    let alpha = loopback_instance(dir, "alpha").await?;
    let beta = loopback_instance(dir, "beta").await?;
    println!("1. two video instances are running:");
    println!("   alpha at {}", alpha.base_url);
    println!("   beta  at {}", beta.base_url);

    let alice = token(
        &admin_of(&alpha, dir, "alpha")
            .create_account("alice")
            .await?,
    )?;
    let bob = token(&admin_of(&beta, dir, "beta").create_account("bob").await?)?;
    println!("2. accounts: alice (channel alice_channel) on alpha, bob on beta");

    admin_of(&beta, dir, "beta")
        .follow_instance(&alpha.base_url)
        .await?;
    let followed = alpha.instance.instance_actor();
    eventually("alpha to accept beta's follow", || async {
        let follower = beta.instance.instance_actor();
        let follow = beta
            .instance
            .state()
            .follow(follower.as_str(), followed.as_str())
            .await?;
        Ok(follow
            .filter(|f| f.state == instance_state::follows::FollowState::Accepted)
            .map(|_| ()))
    })
    .await?;
    println!("3. beta follows alpha (instance actor to instance actor); alpha accepted");

    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .build()?;
    let form = reqwest::multipart::Form::new()
        .text("channel", "alice_channel")
        .text("name", "A walk by the sea")
        .text(
            "description",
            "Waves, wind and a test pattern: the demo's video.",
        )
        .text("tags", "sea, demo")
        .text("language", "en")
        .part(
            "videofile",
            reqwest::multipart::Part::bytes(SAMPLE).file_name("sea.webm"),
        );
    let answer: Value = http
        .post(alpha.base_url.join("api/v1/videos/upload")?)
        .bearer_auth(&alice)
        .multipart(form)
        .send()
        .await?
        .error_for_status()
        .context("uploading the demo's video to alpha")?
        .json()
        .await?;
    let uuid = answer
        .pointer("/video/uuid")
        .and_then(Value::as_str)
        .context("the upload's answer has no uuid")?
        .to_owned();
    let video = alpha.instance.video_id(&uuid).to_string();
    println!("4. alice uploaded {video}");

    eventually("beta to list the video", || async {
        Ok(beta.instance.db().video(&video).await?.map(|_| ()))
    })
    .await?;
    let total = eventually("beta's search to find the video", || async {
        let found: Value = http
            .get(
                beta.base_url
                    .join("api/v1/search/videos?search=walking%20sea")?,
            )
            .send()
            .await?
            .json()
            .await?;
        Ok(found
            .get("total")
            .and_then(Value::as_u64)
            .filter(|total| *total == 1))
    })
    .await?;
    println!(
        "5. beta lists it and its search for \"walking sea\" finds it ({} result, stemmed)",
        total
    );

    http.post(
        beta.base_url
            .join(&format!("api/v1/videos/{uuid}/comment-threads"))?,
    )
    .bearer_auth(&bob)
    .json(&json!({"text": "Lovely light on the water."}))
    .send()
    .await?
    .error_for_status()
    .context("commenting from beta")?;
    let scope = instance_state::objects::Scope::anonymous();
    eventually("alpha to thread bob's comment", || async {
        let comments = alpha.instance.comments(&video, &scope, false).await?;
        Ok((!comments.is_empty()).then_some(()))
    })
    .await?;
    println!("6. bob commented from beta; alpha threads the comment under the video");
    println!("   watch it on alpha: {video}");
    println!(
        "   and on beta:      {}",
        beta.base_url.join(&format!("videos/watch/{uuid}"))?
    );

    if once {
        alpha.stop().await?;
        beta.stop().await?;
        println!("done");
        return Ok(());
    }
    println!(
        "both instances keep running (sign-up is open on both); Ctrl-C stops them. \
         Their data is in {}",
        dir.display()
    );
    tokio::signal::ctrl_c().await?;
    alpha.stop().await?;
    beta.stop().await?;
    Ok(())
}
