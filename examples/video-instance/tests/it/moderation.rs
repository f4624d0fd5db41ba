//! Reports and moderation across two instances, in a real headless Chromium: a person on B
//! reports a video of A from B's copy of it; B's moderators see the report, A's receive it as a
//! `Flag` and hide the video (gone from A's pages and search) and block the reporter's
//! neighbour who spams; the log keeps what they did.

use browser_harness::{Browser, Viewport};
use video_instance::{Running, SignupMode};

use crate::support::{
    admin_of, api_upload, eventually, html, loopback_instance_with, reload_until, sample, sign_up,
    until_followed, url,
};

async fn open_instance(dir: &std::path::Path, name: &str) -> anyhow::Result<Running> {
    loopback_instance_with(dir, name, |options| {
        options.signup = SignupMode::Open;
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_from_another_instance_reaches_the_moderators_who_hide_and_block()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let a = open_instance(dir.path(), "a").await?;
    let b = open_instance(dir.path(), "b").await?;
    let admin_a = admin_of(&a, dir.path(), "a");
    let admin_b = admin_of(&b, dir.path(), "b");
    let bob = admin_a.create_account("bob").await?;
    let carol = admin_b.create_account("carol").await?;
    admin_b.follow_instance(&a.base_url).await?;
    let http = reqwest::Client::new();
    until_followed(&http, &a, &b).await;
    let bob_token = bob["token"].as_str().unwrap_or_default();
    let (status, answer) = api_upload(
        &http,
        &a,
        bob_token,
        "bob_channel",
        "Cheap pills for sale",
        "p.webm",
        sample("vp8-vorbis.webm"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let uuid = answer["video"]["uuid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let watch = format!("/videos/watch/{uuid}");
    eventually("B lists A's video", || async {
        html(&http, &url(&b, &watch)).await.1.contains("<video")
    })
    .await;

    let browser = Browser::start().await?;
    let (rita, maude) = tokio::join!(
        browser.session(Viewport::DESKTOP),
        browser.session(Viewport::DESKTOP)
    );
    let (rita, maude) = (rita?, maude?);
    sign_up(&rita, &b, "rita").await?;
    sign_up(&maude, &a, "maude").await?;
    // Someone who does not moderate is refused the moderators' page.
    maude.goto(&url(&a, "/moderation")).await?;
    maude.wait_for_text("This page is for moderators.").await?;
    admin_b.set_role("rita", "moderator").await?;
    admin_a.set_role("maude", "moderator").await?;

    // Rita reports the video from B's copy of it.
    rita.goto(&url(&b, &watch)).await?;
    rita.click_link("Report this video").await?;
    rita.wait_for_text("You report this, by").await?;
    rita.wait_for_text("Cheap pills for sale").await?;
    // An empty report is refused with a reason.
    rita.click_button("Send the report").await?;
    rita.wait_for_text("Say what is wrong").await?;
    rita.select("What is wrong", "Spam or misleading").await?;
    rita.fill("Tell the moderators more", "Selling pills to everyone")
        .await?;
    rita.click_button("Send the report").await?;
    rita.wait_for_text("The moderators will look at your report.")
        .await?;

    // B's moderators have it, by Rita.
    rita.goto(&url(&b, "/moderation")).await?;
    rita.wait_for_text("Reports (1)").await?;
    rita.wait_for_text("Spam or misleading: Selling pills to everyone")
        .await?;

    // A's moderators get it from B's instance actor, without Rita's name, with the video.
    reload_until(&maude, &a, "/moderation", "Reports (1)").await;
    let page = maude.text().await?;
    // With the category the Flag named in its tag, in words.
    assert!(
        page.contains("Spam or misleading: Selling pills to everyone"),
        "{page}"
    );
    assert!(page.contains("Cheap pills for sale"), "{page}");
    assert!(
        !page.contains("rita"),
        "the reporter's name stays on B: {page}"
    );
    maude.click_button("Hide this content").await?;
    maude.wait_for_text("The content is hidden.").await?;
    maude.wait_for_text("Hidden.").await?;

    // Gone from A's pages, its catalogue and its search; kept stored.
    assert_eq!(html(&http, &url(&a, &watch)).await.0, 404);
    let home = html(&http, &url(&a, "/")).await.1;
    assert!(!home.contains("Cheap pills"), "{home}");
    let found: serde_json::Value = http
        .get(url(&a, "/api/v1/search/videos?search=pills"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(found["total"], 0, "{found}");

    // Shown again, it is found again; hidden again for the rest.
    maude.click_button("Show it again").await?;
    maude.wait_for_text("The content is shown again.").await?;
    assert_eq!(html(&http, &url(&a, &watch)).await.0, 200);
    eventually("the search finds the video again", || async {
        let Ok(response) = http
            .get(url(&a, "/api/v1/search/videos?search=pills"))
            .send()
            .await
        else {
            return false;
        };
        response
            .json::<serde_json::Value>()
            .await
            .is_ok_and(|found| found["total"] == 1)
    })
    .await;

    // Rita's neighbour Sam spams; Maude blocks him by his handle (found with WebFinger).
    let sam = admin_b.create_account("sam").await?;
    let handle = format!(
        "@sam@{}:{}",
        b.base_url.host_str().unwrap_or_default(),
        b.base_url.port().unwrap_or_default()
    );
    maude.goto(&url(&a, "/moderation")).await?;
    maude
        .fill(
            "An actor (@name@server or its address) or a domain",
            &handle,
        )
        .await?;
    maude.click_button("Block").await?;
    maude.wait_for_text("Blocked.").await?;
    let sam_actor = sam["actor"].as_str().unwrap_or_default().to_owned();
    maude.wait_for_text(&format!("Unblock {sam_actor}")).await?;

    // Sam's comment is refused by A's inbox; Carol's, sent after it, arrives.
    let comment = |token: String, text: &'static str| {
        http.post(url(&b, &format!("/api/v1/videos/{uuid}/comment-threads")))
            .bearer_auth(token)
            .json(&serde_json::json!({ "text": text }))
            .send()
    };
    let sent = comment(
        sam["token"].as_str().unwrap_or_default().to_owned(),
        "Buy more pills",
    )
    .await?;
    assert_eq!(sent.status(), 200);
    let sent = comment(
        carol["token"].as_str().unwrap_or_default().to_owned(),
        "Reported, thanks",
    )
    .await?;
    assert_eq!(sent.status(), 200);
    eventually("Carol's comment reaches A", || async {
        html(&http, &url(&a, &watch))
            .await
            .1
            .contains("Reported, thanks")
    })
    .await;
    let page = html(&http, &url(&a, &watch)).await.1;
    assert!(!page.contains("Buy more pills"), "{page}");

    // The log keeps who did what.
    maude.goto(&url(&a, "/moderation")).await?;
    let page = maude.text().await?;
    let log = page
        .split_once("Moderation log")
        .map(|(_, log)| log)
        .unwrap_or_default();
    assert!(log.contains("maude"), "{page}");
    assert!(log.contains(&sam_actor), "the block is logged: {page}");
    assert!(log.contains("unhide"), "{page}");
    assert!(
        log.matches("hide").count() >= 2,
        "hiding and showing again are logged: {page}"
    );

    rita.close().await?;
    maude.close().await?;
    a.stop().await?;
    b.stop().await?;
    Ok(())
}
