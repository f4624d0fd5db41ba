//! The moderators' mirrors page (`/moderation/mirrors`): who may see it and use its forms,
//! what its actions do over HTTP (mirror, stop, hide a copy and show it again), and the page
//! in a real headless Chromium.

use std::time::Duration;

use browser_harness::{Browser, Viewport};
use serde_json::Value;
use video_instance::Running;

use crate::processing::{ffmpeg, sign_in};
use crate::redundancy::{Pair, copies_on_a, mirror_state, pair, until_mirror};
use crate::support::{admin_of, eventually, url};

const PASSWORD: &str = "correct horse battery staple";

/// Makes account `name` on `running` (instance `instance` in `dir`) with a password and
/// `role`.
async fn person(running: &Running, dir: &std::path::Path, instance: &str, name: &str, role: &str) {
    let admin = admin_of(running, dir, instance);
    admin.create_account(name).await.unwrap();
    admin.set_password(name, PASSWORD).await.unwrap();
    admin.set_role(name, role).await.unwrap();
}

/// A client that does not follow redirects.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GETs `path` on `at` with `cookie` (a session): status and text.
async fn page(at: &Running, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = client().get(url(at, path)).header("accept", "text/html");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// The CSRF token of a page's forms.
fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no token in {html}"))
        .to_owned()
}

/// POSTs a same-origin form to `path` on `at` with `cookie`: status and text.
async fn post(at: &Running, path: &str, cookie: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let origin = at.base_url.as_str().trim_end_matches('/').to_owned();
    let response = client()
        .post(url(at, path))
        .header("cookie", cookie)
        .header("origin", origin)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// The copies of `uuid` A's REST details list.
async fn redundancies(http: &reqwest::Client, a: &Running, uuid: &str) -> Value {
    let details: Value = http
        .get(url(a, &format!("/api/v1/videos/{uuid}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    details["streamingPlaylists"][0]["redundancies"].clone()
}

#[tokio::test]
async fn only_moderators_see_the_mirrors_page_and_its_forms_mirror_stop_and_hide_copies() {
    let Some(ffmpeg) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Pair {
        a,
        b,
        uuid,
        id,
        http,
        ..
    } = pair(dir.path(), ffmpeg, Duration::from_secs(3600)).await;
    person(&b, dir.path(), "b", "mona", "moderator").await;
    person(&b, dir.path(), "b", "ulla", "user").await;
    person(&a, dir.path(), "a", "maud", "admin").await;
    let mona = sign_in(&b, "mona", PASSWORD).await;
    let ulla = sign_in(&b, "ulla", PASSWORD).await;
    let maud = sign_in(&a, "maud", PASSWORD).await;

    // Nobody signed in, and someone who does not moderate, are refused.
    let (status, text) = page(&b, "/moderation/mirrors", None).await;
    assert_ne!(status, 200);
    assert!(!text.contains("Remote videos duplicated"), "{text}");
    let (status, text) = page(&b, "/moderation/mirrors", Some(&ulla)).await;
    assert_eq!(status, 403);
    assert!(text.contains("This page is for moderators."), "{text}");
    // The moderation page links the mirrors page.
    let (status, text) = page(&b, "/moderation", Some(&mona)).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("href=\"/moderation/mirrors\"") && text.contains("Mirrors (redundancy)"),
        "{text}"
    );
    let (status, text) = page(&b, "/moderation/mirrors", Some(&mona)).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("Remote videos duplicated by this instance"),
        "{text}"
    );
    assert!(text.contains("No video is mirrored here."), "{text}");
    assert!(text.contains("My videos duplicated by remote instances"));
    let token = csrf_of(&text);

    // A form without its CSRF token, and one from someone who does not moderate, do nothing.
    let (status, _) = post(&b, "/moderation/mirrors/mirror", &mona, &[("video", &uuid)]).await;
    assert_eq!(status, 403);
    let (_, upload_page) = page(&b, "/videos/upload", Some(&ulla)).await;
    let ulla_token = csrf_of(&upload_page);
    let (status, _) = post(
        &b,
        "/moderation/mirrors/mirror",
        &ulla,
        &[("video", &uuid), ("csrf", &ulla_token)],
    )
    .await;
    assert_eq!(status, 403);
    assert!(mirror_state(dir.path(), &b, &id).await.is_none());
    // What is not a remote video here is refused with the reason.
    let (status, text) = post(
        &b,
        "/moderation/mirrors/mirror",
        &mona,
        &[("video", "no-such-video"), ("csrf", &token)],
    )
    .await;
    assert_eq!(status, 422);
    assert!(text.contains("there is no video"), "{text}");

    // Mirroring from the page.
    let (status, _) = post(
        &b,
        "/moderation/mirrors/mirror",
        &mona,
        &[("video", &uuid), ("csrf", &token)],
    )
    .await;
    assert_eq!(status, 303);
    until_mirror(dir.path(), &b, &id, "done").await;
    let (_, text) = page(&b, "/moderation/mirrors", Some(&mona)).await;
    let row = text
        .split(&format!("data-video=\"{id}\""))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap_or_else(|| panic!("no row of the mirror in {text}"))
        .to_owned();
    assert!(row.contains("<span class=\"state\">done</span>"), "{row}");
    assert!(row.contains("Processed video"), "{row}");
    assert!(row.contains("KiB") || row.contains("MiB"), "{row}");
    assert!(row.contains("<time datetime="), "{row}");
    assert!(row.contains("Stop mirroring"), "{row}");
    assert!(!row.contains("Mirror again"), "{row}");

    // On A, the copy B announced, live; hiding it takes it out of the details, and showing
    // it puts it back.
    eventually("A knows B's copy", || async {
        !copies_on_a(dir.path(), &id).await.is_empty()
    })
    .await;
    let (status, text) = page(&a, "/moderation/mirrors", Some(&maud)).await;
    assert_eq!(status, 200);
    let copy_row = text
        .split("data-copy=\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no copy in {text}"))
        .to_owned();
    let copy_id = copy_row.split('"').next().unwrap().to_owned();
    let copy_row = copy_row.split("</tr>").next().unwrap();
    assert!(copy_row.contains(">live<"), "{copy_row}");
    assert!(copy_row.contains("Hide this copy"), "{copy_row}");
    assert!(
        copy_row.contains("action=\"/moderation/block\""),
        "{copy_row}"
    );
    assert_eq!(
        redundancies(&http, &a, &uuid)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let maud_token = csrf_of(&text);
    let (status, _) = post(
        &a,
        "/moderation/mirrors/hide-copy",
        &maud,
        &[("copy", &copy_id), ("csrf", &maud_token)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(redundancies(&http, &a, &uuid).await, serde_json::json!([]));
    let document: Value = http
        .get(&id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!document.to_string().contains("redundancy"), "{document}");
    let (_, text) = page(&a, "/moderation/mirrors", Some(&maud)).await;
    assert!(
        text.contains(">hidden<") && text.contains("Show this copy again"),
        "{text}"
    );
    // Hiding it twice says so.
    let (status, _) = post(
        &a,
        "/moderation/mirrors/hide-copy",
        &maud,
        &[("copy", &copy_id), ("csrf", &maud_token)],
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = post(
        &a,
        "/moderation/mirrors/show-copy",
        &maud,
        &[("copy", &copy_id), ("csrf", &maud_token)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        redundancies(&http, &a, &uuid)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Someone who does not moderate cannot stop it; a moderator can, from the page.
    let (status, _) = post(
        &b,
        "/moderation/mirrors/stop",
        &ulla,
        &[("video", &id), ("csrf", &ulla_token)],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        mirror_state(dir.path(), &b, &id).await.unwrap()["state"],
        "done"
    );
    let (status, _) = post(
        &b,
        "/moderation/mirrors/stop",
        &mona,
        &[("video", &id), ("csrf", &token)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        mirror_state(dir.path(), &b, &id).await.unwrap()["state"],
        "stopped"
    );
    eventually("A drops B's copy", || async {
        copies_on_a(dir.path(), &id).await.is_empty()
    })
    .await;
    let (_, text) = page(&b, "/moderation/mirrors", Some(&mona)).await;
    assert!(
        text.contains("<span class=\"state\">stopped</span>"),
        "{text}"
    );
    assert!(text.contains("Mirror again"), "{text}");
    // The moderation log keeps what was done.
    let (_, log) = page(&b, "/moderation", Some(&mona)).await;
    assert!(
        log.contains("stop-mirror") && log.contains(">mirror<"),
        "{log}"
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moderator_mirrors_and_stops_a_video_from_the_mirrors_page_in_a_browser() {
    let Some(ffmpeg) = ffmpeg() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Pair { a, b, uuid, id, .. } = pair(dir.path(), ffmpeg, Duration::from_secs(3600)).await;
    person(&b, dir.path(), "b", "mona", "moderator").await;

    let browser = Browser::start().await.unwrap();
    let page = browser.session(Viewport::DESKTOP).await.unwrap();
    page.goto(&url(&b, "/login")).await.unwrap();
    page.fill("Username", "mona").await.unwrap();
    page.fill("Password", PASSWORD).await.unwrap();
    page.click_button("Sign in").await.unwrap();
    page.wait_for_text("Sign out").await.unwrap();
    page.click_link("Moderation").await.unwrap();
    page.click_link("Mirrors (redundancy)").await.unwrap();
    page.wait_for_text("Remote videos duplicated by this instance")
        .await
        .unwrap();
    page.wait_for_text("No video is mirrored here.")
        .await
        .unwrap();
    page.fill("Mirror a remote video (its address or uuid)", &uuid)
        .await
        .unwrap();
    page.click_button("Mirror it").await.unwrap();
    page.wait_for_text("The video will be mirrored")
        .await
        .unwrap();
    until_mirror(dir.path(), &b, &id, "done").await;
    page.goto(&url(&b, "/moderation/mirrors")).await.unwrap();
    page.wait_for_text("Processed video").await.unwrap();
    let text = page.text().await.unwrap();
    assert!(text.contains("done"), "{text}");
    assert!(
        text.contains(&a.base_url.host_str().unwrap().to_owned()),
        "{text}"
    );
    page.click_button("Stop mirroring").await.unwrap();
    page.wait_for_text("The mirror is stopped").await.unwrap();
    page.wait_for_text("Mirror again").await.unwrap();
    assert_eq!(
        mirror_state(dir.path(), &b, &id).await.unwrap()["state"],
        "stopped"
    );
    page.click_button("Mirror again").await.unwrap();
    page.wait_for_text("The video will be mirrored")
        .await
        .unwrap();
    until_mirror(dir.path(), &b, &id, "done").await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
