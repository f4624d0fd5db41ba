//! A person posts to an aspect in a real headless Chromium (through `browser-harness`): signs
//! in, makes an aspect, puts a contact in it, writes a post to it that mentions the contact and
//! has a hashtag, with a photo; the contact reads it, another follower does not. The contact, in a browser
//! too, sees the notification and follows the tag from its page.

use browser_harness::{Browser, Viewport};

use crate::support::{PASSWORD, Session, person, pod, until_following};

#[tokio::test(flavor = "multi_thread")]
async fn a_person_posts_to_an_aspect_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice = person(&a, "alice").await;
    let bob = person(&a, "bob").await;
    let carol = person(&a, "carol").await;
    a.instance.follow("bob", &alice).await.unwrap();
    a.instance.follow("carol", &alice).await.unwrap();
    until_following(&a, &bob, &alice).await;
    until_following(&a, &carol, &alice).await;
    let url = |path: &str| a.base_url.join(path).unwrap().to_string();

    let browser = Browser::start().await.unwrap();
    let page = browser.session(Viewport::DESKTOP).await.unwrap();
    page.goto(&url("/login")).await.unwrap();
    page.fill("Username", "alice").await.unwrap();
    page.fill("Password", PASSWORD).await.unwrap();
    page.click_button("Sign in").await.unwrap();
    page.wait_for_text("Sign out").await.unwrap();

    page.click_link("Aspects").await.unwrap();
    page.fill("New aspect", "Family").await.unwrap();
    page.click_button("Make aspect").await.unwrap();
    page.wait_for_text("Rename Family").await.unwrap();
    let handle = format!("@bob@{}", a.base_url.authority());
    page.click_button(&format!("Add {handle} to Family"))
        .await
        .unwrap();
    page.wait_for_text(&format!("Remove {handle} from Family"))
        .await
        .unwrap();

    page.click_link("Write").await.unwrap();
    page.fill(
        "Your post (Markdown)",
        "Sunday lunch at **grandma's**, @bob? #SundayLunch",
    )
    .await
    .unwrap();
    page.set_checked("Only the aspects chosen below", true)
        .await
        .unwrap();
    page.set_checked("Aspect: Family", true).await.unwrap();
    // A photo of the table (a PNG's first bytes: its type and size are read from them).
    let photo = dir.path().join("table.png");
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x40\0\0\0\x30\x08\x06\0\0\0".to_vec();
    png.resize(200, 0);
    std::fs::write(&photo, png).unwrap();
    page.fill(
        "Describe the photos (for people who cannot see them)",
        "The table, laid",
    )
    .await
    .unwrap();
    page.choose_file("Photo", &photo).await.unwrap();
    page.click_button("Post").await.unwrap();
    page.wait_for_text("Limited to Family").await.unwrap();
    assert!(
        page.current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/posts/")
    );
    // The mention and the hashtag are links.
    page.wait_for_element(&format!("a.u-url.mention[href=\"{bob}\"]"))
        .await
        .unwrap();
    page.wait_for_element("a.mention.hashtag[href$=\"/tags/sundaylunch\"]")
        .await
        .unwrap();
    page.wait_for_element("img[alt=\"The table, laid\"][width=\"64\"][height=\"48\"]")
        .await
        .unwrap();
    let post_path = page.current_url().await.unwrap().path().to_owned();
    // She edits it: an empty text is refused with the form again; then a new time.
    page.click_link("Edit").await.unwrap();
    page.wait_for_text("Who can see it stays as it was")
        .await
        .unwrap();
    page.fill("Your text (Markdown)", " ").await.unwrap();
    page.click_button("Save").await.unwrap();
    page.wait_for_text("Write something first").await.unwrap();
    page.fill(
        "Your text (Markdown)",
        "Sunday lunch at **grandma's**, @bob? At one sharp. #SundayLunch",
    )
    .await
    .unwrap();
    page.click_button("Save").await.unwrap();
    page.wait_for_text("At one sharp").await.unwrap();
    assert_eq!(page.current_url().await.unwrap().path(), post_path);
    page.wait_for_text("Limited to Family").await.unwrap();
    page.close().await.unwrap();

    // Bob (in Family) reads it in his stream; carol (a follower, not in it) does not.
    let bob_web = Session::new(&a, "bob").await;
    let carol_web = Session::new(&a, "carol").await;
    assert!(bob_web.get("/").await.1.contains("At one sharp"));
    assert!(!carol_web.get("/").await.1.contains("Sunday lunch"));
    // Only its author has the edit form.
    let edit = format!(
        "/posts/edit?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", a.base_url.join(&post_path).unwrap().as_str())
            .finish()
    );
    assert_eq!(bob_web.get(&edit).await.0, http::StatusCode::NOT_FOUND);
    assert!(!carol_web.get("/").await.1.contains("new notification"));

    // Bob, in a browser, sees he was mentioned, and follows the tag from its page.
    let page = browser.session(Viewport::PHONE).await.unwrap();
    page.goto(&url("/login")).await.unwrap();
    page.fill("Username", "bob").await.unwrap();
    page.fill("Password", PASSWORD).await.unwrap();
    page.click_button("Sign in").await.unwrap();
    page.wait_for_text("1 new notification").await.unwrap();
    page.click_link("1 new notification").await.unwrap();
    page.wait_for_text("mentioned you in").await.unwrap();
    page.click_link("a post").await.unwrap();
    page.wait_for_text("Sunday lunch").await.unwrap();
    page.click_link("#SundayLunch").await.unwrap();
    page.wait_for_text("#sundaylunch").await.unwrap();
    page.click_button("Follow #sundaylunch").await.unwrap();
    page.wait_for_text("Unfollow #sundaylunch").await.unwrap();
    assert!(!page.text().await.unwrap().contains("new notification"));
    page.close().await.unwrap();
    a.stop().await.unwrap();
}
