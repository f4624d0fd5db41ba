//! Failures say what was missing: no label, two buttons alike, a wait that ran out, no browser.

use std::{path::PathBuf, time::Duration};

use browser_harness::{Browser, DEFAULT_CHROMEDRIVER, Error, Viewport};

use crate::support::Site;

#[tokio::test]
async fn a_page_without_what_the_test_looks_for_fails_with_its_reason() {
    let site = Site::start().await;
    let browser = Browser::start().await.unwrap();
    let session = browser
        .session(Viewport::DESKTOP)
        .await
        .unwrap()
        .with_deadline(Duration::from_millis(300));
    let faulty = site.url("/faulty");
    session.goto(&faulty).await.unwrap();

    match session.fill("Secret", "x").await {
        Err(Error::NotFound {
            kind: "label",
            text,
            url,
            ..
        }) => {
            assert_eq!(text, "Secret");
            assert_eq!(url, faulty);
        }
        other => panic!("an unlabelled field is not found: {other:?}"),
    }
    assert!(matches!(
        session.fill("Orphan", "x").await,
        Err(Error::UnattachedLabel { .. })
    ));
    assert!(matches!(
        session.click_button("Go").await,
        Err(Error::Ambiguous {
            kind: "button",
            count: 2,
            ..
        })
    ));
    assert!(matches!(
        session.click_link("Nowhere").await,
        Err(Error::NotFound { kind: "link", .. })
    ));
    match session.wait_for_text("Never shown").await {
        Err(Error::Timeout { waited, page, .. }) => {
            assert!(waited >= Duration::from_millis(300));
            assert!(page.contains("Go"), "the error quotes the page: {page:?}");
        }
        other => panic!("the wait runs out: {other:?}"),
    }
    assert!(matches!(
        session.wait_for_element("#nothing").await,
        Err(Error::Timeout { .. })
    ));
    session.close().await.unwrap();
}

#[tokio::test]
async fn a_missing_chromium_fails_and_says_how_to_install_it() {
    let missing = PathBuf::from("/nonexistent/chromium");
    let error = Browser::start_with(missing.clone(), PathBuf::from(DEFAULT_CHROMEDRIVER))
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Missing { program: "chromium", path, .. } if *path == missing));
    let message = error.to_string();
    assert!(message.contains("scripts/with-chromium"), "{message}");
    assert!(
        message.contains("apt-get install chromium chromium-driver"),
        "{message}"
    );
}
