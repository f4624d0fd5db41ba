//! A person uses the video instance in a real headless Chromium (through `browser-harness`):
//! signs up, uploads a file through the form, watches it (the `<video>` element loads it
//! through range requests), comments, and finds it with the search page.

use std::path::PathBuf;

use browser_harness::{Browser, Viewport};
use video_instance::SignupMode;

use crate::support::loopback_instance_with;

fn sample_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../media-probe/tests/data"
    ))
    .join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_uploads_watches_comments_and_searches_in_a_browser() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let running = loopback_instance_with(dir.path(), "Tube", |options| {
        options.signup = SignupMode::Open;
    })
    .await?;
    let url = |path: &str| {
        running
            .base_url
            .join(path)
            .map(|u| u.to_string())
            .unwrap_or_default()
    };
    let browser = Browser::start().await?;
    let page = browser.session(Viewport::DESKTOP).await?;

    page.goto(&url("/signup")).await?;
    page.fill("Username", "maya").await?;
    page.fill("Password", "correct horse battery staple")
        .await?;
    page.fill("Password again", "correct horse battery staple")
        .await?;
    page.click_button("Sign up").await?;
    page.wait_for_text("Sign out").await?;

    page.goto(&url("/videos/upload")).await?;
    page.select("Channel", "maya_channel").await?;
    page.fill("Title", "Waves at dusk").await?;
    page.fill("Description", "Filmed on the beach.").await?;
    page.fill("Tags (separated by commas, at most 5)", "sea, evening")
        .await?;
    page.choose_file("Video file", sample_path("vp9-opus.webm"))
        .await?;
    page.click_button("Upload").await?;
    page.wait_for_text("Filmed on the beach.").await?;
    assert!(
        page.current_url()
            .await?
            .path()
            .starts_with("/videos/watch/")
    );

    // The player loads the file: enough data for the current frame at least.
    page.wait_until_script(
        "the video to load",
        "const v = document.getElementById('player'); return v !== null && v.readyState >= 2;",
    )
    .await?;

    page.fill("Your comment", "What a light!").await?;
    page.click_button("Comment").await?;
    page.wait_for_text("What a light!").await?;
    page.wait_for_text("1 comment").await?;

    page.goto(&url("/search")).await?;
    page.fill("Search videos", "waves").await?;
    page.click_button("Search").await?;
    page.wait_for_text("1 result").await?;
    page.click_link("Waves at dusk").await?;
    page.wait_for_text("What a light!").await?;

    page.close().await?;
    running.stop().await?;
    Ok(())
}
