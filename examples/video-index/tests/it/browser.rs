//! The search page in a real headless Chromium (through `browser-harness`): a person searches
//! the index, narrows the results with the filters, and follows a result to the video on its
//! own instance.

use browser_harness::{Browser, Viewport};
use video_index::WithParts as _;

use crate::support::{
    Upload, account, loopback_index, until_following, until_total, upload, video_instance,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_person_searches_the_index_with_filters_in_a_browser() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let http = reqwest::Client::new();
    let a = video_instance(dir.path(), "a").await?;
    let index = loopback_index(dir.path(), |options| {
        options.app.follow = vec![a.base_url.clone()];
    })
    .await?;
    until_following(&http, &index, a.instance.instance_actor().as_str()).await;
    let token = account(&a, dir.path(), "a", "lou").await;
    upload(
        &http,
        &a,
        &token,
        "lou",
        Upload {
            name: "Sunrise over the harbour",
            language: "en",
            nsfw: false,
        },
    )
    .await;
    let french = upload(
        &http,
        &a,
        &token,
        "lou",
        Upload {
            name: "Sunrise sur les montagnes",
            language: "fr",
            nsfw: false,
        },
    )
    .await;
    until_total(&http, &index.base_url, "sunrise", 2).await;

    let browser = Browser::start().await?;
    let page = browser.session(Viewport::DESKTOP).await?;
    page.goto(index.base_url.as_str()).await?;
    page.fill("Words", "sunrise").await?;
    page.click_button("Search").await?;
    page.wait_for_text("2 videos").await?;
    page.wait_for_text("Sunrise over the harbour").await?;

    // The filters are folded away until asked for.
    page.wait_for_element("details summary")
        .await?
        .click()
        .await?;
    page.fill("Language code", "fr").await?;
    page.select("Order", "Newest").await?;
    page.click_button("Search").await?;
    page.wait_for_text("1 video").await?;
    let text = page.text().await?;
    assert!(text.contains("Sunrise sur les montagnes"), "{text}");
    assert!(!text.contains("harbour"), "{text}");
    // What was asked stays in the form.
    assert_eq!(page.field_value("Language code").await?, "fr");

    // A result leads to the video on its own instance.
    page.click_link("Sunrise sur les montagnes").await?;
    page.wait_for_path(&format!("/videos/watch/{french}"))
        .await?;
    assert_eq!(
        page.current_url().await?.port(),
        a.base_url.port(),
        "the video's own instance"
    );

    page.close().await?;
    index.stop().await?;
    a.stop().await?;
    Ok(())
}
