//! Screenshots are PNGs of the requested size, and the viewport is the one asked for.

use std::path::Path;

use browser_harness::{Browser, Viewport};

use crate::support::Site;

/// The width and height in a PNG's header (its first chunk must be IHDR).
fn png_size(path: &Path) -> (u32, u32) {
    let png = std::fs::read(path).unwrap();
    assert_eq!(
        &png[..8],
        b"\x89PNG\r\n\x1a\n",
        "not a PNG: {}",
        path.display()
    );
    assert_eq!(&png[12..16], b"IHDR");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

async fn layout_viewport(session: &browser_harness::Session) -> (u64, u64) {
    let size = session
        .client()
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await
        .unwrap();
    (size[0].as_u64().unwrap(), size[1].as_u64().unwrap())
}

#[tokio::test]
async fn a_phone_screenshot_is_a_png_390_pixels_wide() {
    let site = Site::start().await;
    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::start().await.unwrap();
    let session = browser.session(Viewport::PHONE).await.unwrap();
    session.goto(&site.url("/")).await.unwrap();
    assert_eq!(layout_viewport(&session).await, (390, 844));

    let path = dir.path().join("phone/form.png"); // the folder is made
    session.screenshot(&path).await.unwrap();
    assert_eq!(png_size(&path), (390, 844));

    session.goto(&site.url("/tall")).await.unwrap();
    let full = dir.path().join("tall.png");
    session.screenshot_full_page(&full).await.unwrap();
    let (width, height) = png_size(&full);
    assert_eq!(width, 390);
    assert!(height > 3000, "the whole page, {height} pixels tall");
    session.close().await.unwrap();
}

#[tokio::test]
async fn a_desktop_screenshot_is_1280_by_900() {
    let site = Site::start().await;
    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::start().await.unwrap();
    let session = browser.session(Viewport::DESKTOP).await.unwrap();
    session.goto(&site.url("/")).await.unwrap();
    assert_eq!(layout_viewport(&session).await, (1280, 900));
    let path = dir.path().join("desktop.png");
    session.screenshot(&path).await.unwrap();
    assert_eq!(png_size(&path), (1280, 900));
    session.close().await.unwrap();
}
