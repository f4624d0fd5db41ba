//! Filling a form by its labels and submitting it; the cookie the server set.

use browser_harness::{Browser, Viewport};

use crate::support::Site;

#[tokio::test]
async fn fills_fields_by_label_and_submits_with_the_button() {
    let site = Site::start().await;
    let browser = Browser::start().await.unwrap();
    let session = browser.session(Viewport::PHONE).await.unwrap();

    session.goto(&site.url("/")).await.unwrap();
    session.fill("Your name", "Ada <Lovelace>").await.unwrap();
    session.select("Colour", "Green").await.unwrap();
    session.set_checked("Send me news", true).await.unwrap();
    assert_eq!(
        session.field_value("Your name").await.unwrap(),
        "Ada <Lovelace>"
    );
    session.click_button("Say hello").await.unwrap();

    session
        .wait_for_text("Hello, Ada <Lovelace>!")
        .await
        .unwrap();
    session.wait_for_path("/greet").await.unwrap();
    let text = session.text().await.unwrap();
    assert!(text.contains("Colour: Green. News: yes."), "{text}");
    assert_eq!(session.title().await.unwrap(), "Greeted");
    session.close().await.unwrap();
}

#[tokio::test]
async fn a_cookie_the_server_set_is_visible_with_its_attributes() {
    let site = Site::start().await;
    let browser = Browser::start().await.unwrap();
    let session = browser.session(Viewport::DESKTOP).await.unwrap();

    session.goto(&site.url("/")).await.unwrap();
    assert!(session.cookies().await.unwrap().is_empty());
    session.fill("Your name", "Ada").await.unwrap();
    session.click_button("Say hello").await.unwrap();
    session.wait_for_text("Hello, Ada!").await.unwrap();

    let cookie = session
        .cookie("greeted")
        .await
        .unwrap()
        .expect("the greeted cookie");
    assert_eq!(cookie.value(), "416461"); // "Ada", hex
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(
        cookie.same_site().map(|s| s.to_string()).as_deref(),
        Some("Lax")
    );
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.domain(), Some("127.0.0.1"));
    assert!(
        cookie.expires_datetime().is_some(),
        "Max-Age gives the cookie an expiry: {cookie:?}"
    );

    // The browser sends it back.
    session.click_link("Who am I?").await.unwrap();
    session.wait_for_text("Greeted: Ada").await.unwrap();
    session.close().await.unwrap();
}
