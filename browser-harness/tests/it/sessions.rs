//! Two sessions are two people: opened at once, they share no cookies.

use browser_harness::{Browser, Viewport};

use crate::support::Site;

#[tokio::test]
async fn two_sessions_share_no_cookies() {
    let site = Site::start().await;
    let browser = Browser::start().await.unwrap();
    let (alice, bob) = tokio::join!(
        browser.session(Viewport::PHONE),
        browser.session(Viewport::DESKTOP)
    );
    let (alice, bob) = (alice.unwrap(), bob.unwrap());

    alice.goto(&site.url("/")).await.unwrap();
    alice.fill("Your name", "Alice").await.unwrap();
    alice.click_button("Say hello").await.unwrap();
    alice.wait_for_text("Hello, Alice!").await.unwrap();

    bob.goto(&site.url("/whoami")).await.unwrap();
    bob.wait_for_text("Nobody greeted yet").await.unwrap();
    assert!(bob.cookies().await.unwrap().is_empty());
    alice.goto(&site.url("/whoami")).await.unwrap();
    alice.wait_for_text("Greeted: Alice").await.unwrap();

    // Both at once, each its own.
    let (a, b) = tokio::join!(
        alice.fill_and_greet(&site, "Alice again"),
        bob.fill_and_greet(&site, "Bob")
    );
    a.unwrap();
    b.unwrap();
    alice.goto(&site.url("/whoami")).await.unwrap();
    bob.goto(&site.url("/whoami")).await.unwrap();
    alice.wait_for_text("Greeted: Alice again").await.unwrap();
    bob.wait_for_text("Greeted: Bob").await.unwrap();

    alice.close().await.unwrap();
    bob.close().await.unwrap();
}

trait Greet {
    async fn fill_and_greet(&self, site: &Site, name: &str) -> Result<(), browser_harness::Error>;
}

impl Greet for browser_harness::Session {
    async fn fill_and_greet(&self, site: &Site, name: &str) -> Result<(), browser_harness::Error> {
        self.goto(&site.url("/")).await?;
        self.fill("Your name", name).await?;
        self.click_button("Say hello").await?;
        self.wait_for_text(&format!("Hello, {name}!")).await
    }
}
