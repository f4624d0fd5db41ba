//! Using the form with the keyboard alone.

use browser_harness::{Browser, Key, Viewport};

use crate::support::Site;

#[tokio::test]
async fn tab_moves_through_the_form_and_enter_submits_it() {
    let site = Site::start().await;
    let browser = Browser::start().await.unwrap();
    let session = browser.session(Viewport::DESKTOP).await.unwrap();
    session.goto(&site.url("/")).await.unwrap();
    assert_eq!(session.focused().await.unwrap(), None);

    session.press(Key::Tab).await.unwrap();
    assert_eq!(
        session.focused().await.unwrap().as_deref(),
        Some("Your name")
    );
    session.type_text("Grace").await.unwrap();
    session.press(Key::Tab).await.unwrap();
    assert_eq!(session.focused().await.unwrap().as_deref(), Some("Colour"));
    session.press(Key::Tab).await.unwrap();
    assert_eq!(
        session.focused().await.unwrap().as_deref(),
        Some("Send me news")
    );
    session.press(Key::Space).await.unwrap();
    session.press(Key::Tab).await.unwrap();
    assert_eq!(
        session.focused().await.unwrap().as_deref(),
        Some("Say hello")
    );
    session.press_chord(&[Key::Shift, Key::Tab]).await.unwrap();
    assert_eq!(
        session.focused().await.unwrap().as_deref(),
        Some("Send me news")
    );
    session.press(Key::Tab).await.unwrap();
    session.press(Key::Enter).await.unwrap();

    session.wait_for_text("Hello, Grace!").await.unwrap();
    session.wait_for_text("News: yes.").await.unwrap();
    session.close().await.unwrap();
}

#[tokio::test]
async fn enter_in_a_text_field_submits_its_form() {
    let site = Site::start().await;
    let browser = Browser::start().await.unwrap();
    let session = browser.session(Viewport::PHONE).await.unwrap();
    session.goto(&site.url("/")).await.unwrap();
    session.fill("Your name", "Hedy").await.unwrap();
    session.press(Key::Enter).await.unwrap();
    session.wait_for_text("Hello, Hedy!").await.unwrap();
    session.wait_for_text("News: no.").await.unwrap();
    session.close().await.unwrap();
}
