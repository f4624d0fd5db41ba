//! Channel and account pages and following from the pages, in a real headless Chromium: a
//! person on B follows a channel of A by its handle; A's channel page counts the follower;
//! what the channel publishes next reaches B's catalogue; the person unfollows from the follow
//! page and A forgets the follower.

use browser_harness::{Browser, Viewport};
use video_instance::WithParts as _;
use video_instance::{Running, SignupMode};

use crate::support::{
    admin_of, api_upload, eventually, html, loopback_instance_with, reload_until, sample, sign_up,
    url,
};

async fn open_instance(dir: &std::path::Path, name: &str) -> anyhow::Result<Running> {
    loopback_instance_with(dir, name, |options| {
        options.signup = SignupMode::Open;
    })
    .await
}

fn handle(running: &Running, name: &str) -> String {
    format!(
        "@{name}@{}:{}",
        running.base_url.host_str().unwrap_or_default(),
        running.base_url.port().unwrap_or_default()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_follows_a_remote_channel_from_the_pages_and_gets_its_videos() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let a = open_instance(dir.path(), "a").await?;
    let b = open_instance(dir.path(), "b").await?;
    let bob = admin_of(&a, dir.path(), "a").create_account("bob").await?;
    let bob_token = bob["token"].as_str().unwrap_or_default().to_owned();
    let http = reqwest::Client::new();

    // A's channel page, for anyone: who it is, whose, and how to follow it from elsewhere.
    let (status, page) = html(&http, &url(&a, "/c/bob_channel")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("A channel"), "{page}");
    assert!(
        page.contains(r#"href="/a/bob""#),
        "the owner's page: {page}"
    );
    assert!(page.contains("0 followers"), "{page}");
    assert!(page.contains(&handle(&a, "bob_channel")), "{page}");
    assert!(
        page.contains("/feeds/videos.xml?videoChannelName=bob_channel"),
        "{page}"
    );
    // Its address asked for by a browser is the same page; by a server, the actor document.
    let channel_id = url(&a, "/actors/bob_channel");
    let (status, same) = html(&http, &channel_id).await;
    assert_eq!(status, 200);
    assert!(same.contains("A channel"), "{same}");
    let document: serde_json::Value = http
        .get(&channel_id)
        .header("accept", "application/activity+json")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(document["type"], "Group", "{document}");
    // The instance actor has no page: a browser gets its document.
    let instance_actor = a.instance.instance_actor().to_string();
    let (status, text) = html(&http, &instance_actor).await;
    assert_eq!(status, 200);
    assert!(text.contains("\"Application\""), "{text}");
    // The account's page lists its channels; what is neither is not found.
    let (_, account) = html(&http, &url(&a, "/a/bob")).await;
    assert!(account.contains(r#"href="/c/bob_channel""#), "{account}");
    assert_eq!(
        html(&http, &url(&a, "/c/bob")).await.0,
        404,
        "bob is no channel"
    );
    assert_eq!(html(&http, &url(&a, "/c/nobody")).await.0, 404);

    let browser = Browser::start().await?;
    let carol = browser.session(Viewport::DESKTOP).await?;
    sign_up(&carol, &b, "carol").await?;
    carol.goto(&url(&b, "/follow")).await?;
    carol.wait_for_text("Nothing yet.").await?;
    // A handle that names nobody is refused with a reason, the form kept.
    carol
        .fill(
            "Channel or account (@name@server, or its address)",
            &handle(&a, "nobody_here"),
        )
        .await?;
    carol.click_button("Follow").await?;
    carol.wait_for_text("could not be found").await?;
    carol
        .fill(
            "Channel or account (@name@server, or its address)",
            &handle(&a, "bob_channel"),
        )
        .await?;
    carol.click_button("Follow").await?;
    carol.wait_for_text("Follow sent.").await?;
    carol.wait_for_text("bob_channel@").await?;

    // A accepts: its channel page counts Carol, and B's follow page no longer waits.
    eventually("A counts the follower", || async {
        html(&http, &url(&a, "/c/bob_channel"))
            .await
            .1
            .contains("1 follower")
    })
    .await;
    reload_until(&carol, &b, "/follow", "bob_channel@").await;
    eventually("B's follow is accepted", || async {
        carol.goto(&url(&b, "/follow")).await.is_ok()
            && carol
                .text()
                .await
                .is_ok_and(|t| t.contains("bob_channel@") && !t.contains("waiting for approval"))
    })
    .await;

    // What the channel publishes now reaches B, without any instance follow.
    let (status, answer) = api_upload(
        &http,
        &a,
        &bob_token,
        "bob_channel",
        "Carving a wooden spoon",
        "spoon.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    reload_until(&carol, &b, "/", "Carving a wooden spoon").await;
    // On A the channel's page lists it, and the watch page names the channel and the account.
    let (_, channel_page) = html(&http, &url(&a, "/c/bob_channel")).await;
    assert!(
        channel_page.contains("Carving a wooden spoon"),
        "{channel_page}"
    );
    let uuid = answer["video"]["uuid"].as_str().unwrap_or_default();
    let (_, watch) = html(&http, &url(&a, &format!("/videos/watch/{uuid}"))).await;
    assert!(watch.contains(r#"href="/actors/bob_channel""#), "{watch}");
    assert!(watch.contains(r#"href="/actors/bob""#), "{watch}");

    // Carol unfollows from the follow page; A forgets her.
    carol.goto(&url(&b, "/follow")).await?;
    let label = format!(
        "Unfollow {}",
        handle(&a, "bob_channel").trim_start_matches('@')
    );
    carol
        .wait_for_element(&format!("button[aria-label=\"{label}\"]"))
        .await?
        .click()
        .await?;
    carol.wait_for_text("You no longer follow it.").await?;
    carol.wait_for_text("Nothing yet.").await?;
    eventually("A forgets the follower", || async {
        html(&http, &url(&a, "/c/bob_channel"))
            .await
            .1
            .contains("0 followers")
    })
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_channel_page_has_follow_and_unfollow_buttons() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let a = open_instance(dir.path(), "a").await?;
    admin_of(&a, dir.path(), "a").create_account("bob").await?;
    let browser = Browser::start().await?;
    let dana = browser.session(Viewport::PHONE).await?;
    sign_up(&dana, &a, "dana").await?;
    // Her own account's page offers no button to follow herself.
    dana.goto(&url(&a, "/a/dana")).await?;
    dana.wait_for_text("An account").await?;
    assert!(!dana.text().await?.contains("Unfollow"));
    dana.goto(&url(&a, "/c/bob_channel")).await?;
    dana.click_button("Follow").await?;
    dana.wait_for_text("You follow").await?;
    dana.wait_for_text("1 follower").await?;
    dana.click_button("Unfollow").await?;
    dana.wait_for_text("0 followers").await?;
    dana.click_button("Follow").await?;
    dana.wait_for_text("1 follower").await?;
    Ok(())
}
