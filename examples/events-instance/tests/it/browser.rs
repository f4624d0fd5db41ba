//! People using two instances in a real headless Chromium (through `browser-harness`): a person
//! signs up on A, creates a group and an event that needs approval; a person on B follows the
//! group by `@group@A`, sees the event, asks to join; the organizer approves in the browser;
//! both instances count one participant; a comment written on B appears on A.
//!
//! The pages' screenshots in `docs/screenshots/` are taken here, so they show the pages as
//! they are.

use std::path::{Path, PathBuf};
use std::time::Duration;

use browser_harness::{Browser, Session, Viewport};
use events_instance::demo::eventually;
use events_instance::{Options, Running, SignupMode, start};
use serde_json::json;

use test_peer::Peer;

const WAIT: Duration = Duration::from_secs(30);

async fn instance(dir: &Path, name: &str) -> anyhow::Result<Running> {
    start(
        Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.join(format!("{name}.sqlite"))
                .to_string_lossy()
                .into_owned(),
        )
        .with_name(name)
        .with_signup(SignupMode::Open)
        .with_danger_allow_private_addresses(true)
        .with_quick_retries(true),
    )
    .await
}

/// Where the screenshots of the documentation go.
fn screenshots() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/screenshots"
    ))
}

fn url(running: &Running, path: &str) -> String {
    running
        .base_url
        .join(path)
        .map(|u| u.to_string())
        .unwrap_or_default()
}

/// Signs up `username` on `at` through the sign-up form.
async fn sign_up(
    page: &Session,
    at: &Running,
    username: &str,
    display: &str,
) -> anyhow::Result<()> {
    page.goto(&url(at, "/signup")).await?;
    page.fill("Username", username).await?;
    page.fill("Display name (optional)", display).await?;
    page.fill("Password", "correct horse battery staple")
        .await?;
    page.fill("Password again", "correct horse battery staple")
        .await?;
    page.click_button("Sign up").await?;
    page.wait_for_text("Sign out").await?;
    Ok(())
}

/// Sets a `datetime-local` input: typing into one depends on the browser's locale, so its
/// value is set as a script would, and the rest of the form is filled by its labels.
async fn set_datetime(page: &Session, id: &str, value: &str) -> anyhow::Result<()> {
    page.client()
        .execute(
            "document.getElementById(arguments[0]).value = arguments[1];",
            vec![json!(id), json!(value)],
        )
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_event_is_followed_joined_approved_and_commented_across_two_instances()
-> anyhow::Result<()> {
    // The instances' warnings, shown with the test's output when it fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir()?;
    let a = instance(dir.path(), "Events-A").await?;
    let b = instance(dir.path(), "Events-B").await?;
    let browser = Browser::start().await?;
    let (alice, bob) = tokio::join!(
        browser.session(Viewport::DESKTOP),
        browser.session(Viewport::PHONE)
    );
    let (alice, bob) = (alice?, bob?);
    let shots = screenshots();
    std::fs::create_dir_all(&shots)?;

    // Alice signs up on A and creates a group.
    sign_up(&alice, &a, "alice", "Alice Organizer").await?;
    alice.click_link("Groups").await?;
    alice.click_link("Create a group").await?;
    alice.fill("Address name", "bikes").await?;
    alice.fill("Display name", "Bike repair club").await?;
    alice
        .fill("About the group", "We fix bikes together.")
        .await?;
    alice.screenshot(shots.join("new-group.png")).await?;
    alice.click_button("Create the group").await?;
    alice.wait_for_text("Members of Bike repair club").await?;

    // ... and an event of the group that needs approval.
    alice.click_link("New event").await?;
    alice.fill("Title", "Repair café").await?;
    alice
        .fill("Description", "Bring your bike.\n\nTools provided.")
        .await?;
    set_datetime(&alice, "starts", "2031-05-17T14:00").await?;
    set_datetime(&alice, "ends", "2031-05-17T18:00").await?;
    alice.select("Time zone", "Europe/Paris").await?;
    alice.fill("Place", "Maison des associations").await?;
    alice.fill("Town or city", "Rennes").await?;
    alice.fill("Seats", "10").await?;
    alice
        .select("Who can join", "The organizer approves each participant")
        .await?;
    alice.select("Organized by", "Bike repair club").await?;
    alice
        .screenshot_full_page(shots.join("new-event.png"))
        .await?;
    alice.click_button("Publish the event").await?;
    alice.wait_for_text("Repair café").await?;
    alice.wait_for_text("Saturday 17 May 2031, 14:00").await?;
    let event_page = alice.current_url().await?;
    let event_id = event_page.to_string();
    alice.screenshot_full_page(shots.join("event.png")).await?;

    // Bob signs up on B and follows the group by its handle.
    sign_up(&bob, &b, "bob", "Bob").await?;
    let handle = format!(
        "@bikes@{}",
        a.base_url.host_str().unwrap_or_default().to_owned()
            + &a.base_url
                .port()
                .map(|p| format!(":{p}"))
                .unwrap_or_default()
    );
    bob.click_link("Follow").await?;
    bob.fill("Address of a group or a person", &handle).await?;
    bob.click_button("Follow").await?;
    bob.wait_for_text("Follow request sent").await?;
    // The group accepts at once; its events reach B.
    let bob_id = url(&b, "/actors/bob");
    let group_id = url(&a, "/actors/bikes");
    eventually(WAIT, "B's follow of the group accepted", || async {
        let state = b.instance.following_state("bob", &group_id).await?;
        Ok((state.as_deref() == Some("accepted")).then_some(()))
    })
    .await?;
    eventually(WAIT, "the event stored on B", || async {
        Ok(b.instance.stored_object(&event_id).await?.map(|_| ()))
    })
    .await?;
    bob.goto(&url(&b, "/")).await?;
    bob.wait_for_text("From those you follow").await?;
    bob.wait_for_text("Repair café").await?;
    bob.screenshot(shots.join("home-phone.png")).await?;
    // The event's page on B (listed twice on the home page: followed, and upcoming here).
    let mut on_b = b.base_url.join("/event")?;
    on_b.query_pairs_mut().append_pair("id", &event_id);
    bob.goto(on_b.as_str()).await?;
    bob.wait_for_text("Ask to join").await?;
    bob.click_button("Ask to join").await?;
    bob.wait_for_text("Your request to join is waiting for the organizer.")
        .await?;

    // Alice approves Bob in the browser.
    eventually(WAIT, "Bob's request reaching A", || async {
        let state = a.instance.participation_state(&event_id, &bob_id).await?;
        Ok((state.as_deref() == Some("pending")).then_some(()))
    })
    .await?;
    alice.goto(&event_id).await?;
    alice.click_link("Participants").await?;
    alice.wait_for_text("Waiting for approval (1)").await?;
    alice.screenshot(shots.join("participants.png")).await?;
    alice.click_button("Approve Bob").await?;
    alice.wait_for_text("Taking part (1)").await?;

    // Both instances count one participant.
    eventually(WAIT, "B told of the approval", || async {
        let state = b.instance.participation_state(&event_id, &bob_id).await?;
        Ok((state.as_deref() == Some("accepted")).then_some(()))
    })
    .await?;
    assert_eq!(a.instance.participant_count(&event_id).await?, Some(1));
    eventually(
        WAIT,
        "B's copy of the event counting one participant",
        || async { Ok((b.instance.participant_count(&event_id).await? == Some(1)).then_some(())) },
    )
    .await?;
    bob.goto(on_b.as_str()).await?;
    bob.wait_for_text("You take part.").await?;
    bob.wait_for_text("1 / 10 participants").await?;
    alice.goto(&event_id).await?;
    alice.wait_for_text("1 / 10 participants").await?;

    // Bob comments on B; the comment appears on A.
    bob.fill("Your comment", "See you there, I will bring a pump.")
        .await?;
    bob.click_button("Send the comment").await?;
    bob.wait_for_text("See you there, I will bring a pump.")
        .await?;
    eventually(WAIT, "Bob's comment on A", || async {
        Ok((!a.instance.comment_ids(&event_id).await?.is_empty()).then_some(()))
    })
    .await?;
    alice.goto(&event_id).await?;
    alice
        .wait_for_text("See you there, I will bring a pump.")
        .await?;
    alice
        .screenshot_full_page(shots.join("event-with-comment.png"))
        .await?;

    // The event page links the report form, for the event and for each comment.
    alice.click_link("Report this comment").await?;
    alice.wait_for_text("You report this, by").await?;
    alice
        .wait_for_text("See you there, I will bring a pump.")
        .await?;
    alice.select("What is wrong", "Spam or misleading").await?;
    alice
        .fill("Tell the moderators more", "Checking the report link")
        .await?;
    alice.click_button("Send the report").await?;
    alice
        .wait_for_text("The moderators will look at your report.")
        .await?;
    // The organizer is not offered to report her own event; a participant is.
    alice.goto(&event_id).await?;
    alice.wait_for_text("Repair café").await?;
    let text = alice.text().await?;
    assert!(!text.contains("Report this event"), "{text}");
    bob.goto(on_b.as_str()).await?;
    bob.click_link("Report this event").await?;
    bob.wait_for_text("You report this, by").await?;
    bob.wait_for_text("Repair café").await?;

    alice.close().await?;
    bob.close().await?;
    a.stop().await?;
    b.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn organizers_edit_and_cancel_and_moderators_hide_and_block() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let a = instance(dir.path(), "Events-M").await?;
    let browser = Browser::start().await?;
    let (moderator, mallory) = tokio::join!(
        browser.session(Viewport::DESKTOP),
        browser.session(Viewport::DESKTOP)
    );
    let (moderator, mallory) = (moderator?, mallory?);
    sign_up(&moderator, &a, "maude", "Maude").await?;
    sign_up(&mallory, &a, "mallory", "Mallory").await?;
    events_instance::demo::admin_of(&a, dir.path(), "Events-M")
        .set_role("maude", "moderator")
        .await?;

    // A person who does not moderate is refused the moderators' page.
    mallory.goto(&url(&a, "/moderation")).await?;
    mallory
        .wait_for_text("This page is for moderators.")
        .await?;

    // Maude organizes an event, edits its title, Mallory comments.
    moderator.goto(&url(&a, "/events/new")).await?;
    moderator.fill("Title", "Potluck").await?;
    set_datetime(&moderator, "starts", "2031-06-01T12:00").await?;
    moderator.click_button("Publish the event").await?;
    moderator.wait_for_text("Edit the event").await?;
    let event = moderator.current_url().await?.to_string();
    moderator.click_link("Edit the event").await?;
    assert_eq!(moderator.field_value("Title").await?, "Potluck");
    moderator.fill("Title", "Potluck picnic").await?;
    moderator.click_button("Save the event").await?;
    moderator.wait_for_text("Potluck picnic").await?;

    mallory.goto(&event).await?;
    mallory
        .fill("Your comment", "Buy cheap pills at spam.example")
        .await?;
    mallory.click_button("Send the comment").await?;
    mallory.wait_for_text("Buy cheap pills").await?;
    // Mallory may not edit someone else's event.
    mallory.goto(&format!("{event}/edit")).await?;
    mallory
        .wait_for_text("Only the event's organizers may do this.")
        .await?;

    // Someone on another server reports the comment (a signed `Flag`); the moderator sees
    // the report with the comment's text and hides it: nobody sees it any more.
    let comment = a.instance.comment_ids(&event).await?.remove(0);
    let peer = Peer::start().await?;
    let reporter = peer.actor("reporter").await?;
    let mallory_id = url(&a, "/actors/mallory");
    peer.deliver(
        &reporter,
        &url(&a, "/inbox"),
        &json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/flags/1", peer.origin()),
            "type": "Flag",
            "actor": reporter,
            "object": [mallory_id, comment],
            "content": "Spam from a new account",
        }),
    )
    .await?;
    moderator.goto(&url(&a, "/moderation")).await?;
    moderator.wait_for_text("Reports (1)").await?;
    moderator.wait_for_text("Spam from a new account").await?;
    moderator
        .wait_for_text("Buy cheap pills at spam.example")
        .await?;
    moderator.screenshot(shots_path("moderation.png")).await?;
    moderator.click_button("Hide this content").await?;
    moderator.wait_for_text("The content is hidden.").await?;
    moderator.wait_for_text("Hidden.").await?;
    for page in [&moderator, &mallory] {
        page.goto(&event).await?;
        page.wait_for_text("No comments yet.").await?;
    }
    let anonymous = reqwest::get(&event).await?.text().await?;
    assert!(anonymous.contains("Potluck picnic") && !anonymous.contains("cheap pills"));

    // ... blocks the domain the spam came from.
    moderator.goto(&url(&a, "/moderation")).await?;
    moderator
        .fill(
            "An actor (@name@server or its address) or a domain",
            "spam.example",
        )
        .await?;
    moderator.click_button("Block").await?;
    moderator.wait_for_text("Blocked.").await?;
    moderator.wait_for_text("Unblock spam.example").await?;

    // ... and cancels the event, which says so.
    moderator.goto(&event).await?;
    moderator.click_button("Cancel the event").await?;
    moderator
        .wait_for_text("Cancelled: this event will not take place.")
        .await?;

    // A form posted with Mallory's session but without its token (as another site would
    // make her browser post it) changes nothing.
    let cookie = mallory
        .cookie("session")
        .await?
        .expect("Mallory's session cookie");
    let refused = reqwest::Client::new()
        .post(url(&a, "/event/comment"))
        .header("cookie", format!("session={}", cookie.value()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "event={}&content=forged",
            url::form_urlencoded::byte_serialize(event.as_bytes()).collect::<String>()
        ))
        .send()
        .await?;
    assert_eq!(refused.status(), 403);
    // The hidden comment stays stored; nothing was added.
    assert_eq!(a.instance.comment_ids(&event).await?.len(), 1);

    // The moderator suspends Mallory's account from the report: her session ends.
    moderator.goto(&url(&a, "/moderation")).await?;
    moderator.click_button("Suspend Mallory").await?;
    moderator.wait_for_text("The account is suspended.").await?;
    mallory.goto(&url(&a, "/")).await?;
    mallory.wait_for_text("Sign in").await?;

    moderator.close().await?;
    mallory.close().await?;
    a.stop().await?;
    Ok(())
}

fn shots_path(name: &str) -> PathBuf {
    screenshots().join(name)
}
