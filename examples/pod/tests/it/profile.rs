//! Profiles: the display name, the Markdown bio and the fields in the actor document (fields as
//! Mastodon's `PropertyValue` attachments), and the avatar and banner uploads, accepted or
//! refused by their bytes and their size, served, and carried as `icon` and `image`.

use crate::support::{Session, fetch, person, pod_with};

/// The start of a PNG file: its signature and an IHDR chunk (1×1). Only the first bytes are
/// read, to know the type.
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    bytes.extend_from_slice(&[0x1f, 0x15, 0xc4, 0x89]);
    bytes
}

fn upload(session: &Session, role: &str, name: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    session.multipart().text("role", role.to_owned()).part(
        "file",
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("image/png")
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_images_are_taken_by_their_bytes_and_served() {
    profile_images().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn profile_images() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod_with(dir.path(), "A", |options| {
        options.app = options.app.clone().with_max_image_bytes(4096);
    })
    .await;
    let alice_id = person(&a, "alice").await;
    let alice = Session::new(&a, "alice").await;

    // A PNG as the avatar, a GIF (declared as PNG: the bytes decide) as the banner.
    let (status, body) = alice
        .post_multipart("/profile/image", upload(&alice, "avatar", "me.png", png()))
        .await;
    assert!(status == 303 || status == 200, "{status} {body}");
    let gif = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04\x01\0\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;".to_vec();
    let (status, _) = alice
        .post_multipart(
            "/profile/image",
            upload(&alice, "banner", "banner.png", gif.clone()),
        )
        .await;
    assert_eq!(status, 303);
    let (_, actor) = fetch(&alice_id).await;
    assert_eq!(actor["icon"]["type"], "Image");
    assert_eq!(actor["icon"]["mediaType"], "image/png");
    assert_eq!(actor["image"]["mediaType"], "image/gif");
    let icon = actor["icon"]["url"].as_str().unwrap().to_owned();
    assert!(icon.ends_with(".png"), "{icon}");
    let served = reqwest::get(&icon).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().to_vec(), png());
    let banner = actor["image"]["url"].as_str().unwrap();
    assert_eq!(
        reqwest::get(banner)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        gif
    );

    // Not an image (an SVG, a text file named .jpg): refused, said so, nothing changed.
    for (name, bytes) in [
        (
            "drawing.png",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
        ),
        ("photo.jpg", b"just some text, not a photo".to_vec()),
    ] {
        let (status, page) = alice
            .post_multipart("/profile/image", upload(&alice, "avatar", name, bytes))
            .await;
        assert_eq!(status, 415, "{page}");
        assert!(page.contains("JPEG, PNG, WebP or GIF"), "{page}");
    }
    // Too large (a JPEG over the 4 KiB limit).
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    jpeg.resize(10_000, 0);
    let (status, page) = alice
        .post_multipart("/profile/image", upload(&alice, "avatar", "big.jpg", jpeg))
        .await;
    assert_eq!(status, 413, "{page}");
    let (_, after) = fetch(&alice_id).await;
    assert_eq!(after["icon"]["url"].as_str(), Some(icon.as_str()));
    // Only the two accepted images are kept.
    let kept = std::fs::read_dir(
        dir.path()
            .join("A.sqlite.media")
            .join("data")
            .join("images"),
    )
    .unwrap()
    .count();
    assert_eq!(kept, 2);

    // Without the token first, nothing is read.
    let forged = reqwest::multipart::Form::new().text("role", "avatar").part(
        "file",
        reqwest::multipart::Part::bytes(png()).file_name("x.png"),
    );
    assert_eq!(alice.post_multipart("/profile/image", forged).await.0, 403);
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_profile_is_in_the_actor_document() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod_with(dir.path(), "A", |_| {}).await;
    let alice_id = person(&a, "alice").await;
    let alice = Session::new(&a, "alice").await;
    let (status, _) = alice
        .post(
            "/profile",
            &[
                ("display_name", "Alice Liddell"),
                ("bio", "I write **Markdown** <script>alert(1)</script>"),
                ("field_name_0", "Website"),
                ("field_value_0", "https://alice.example/"),
                ("field_name_1", "Pronouns"),
                ("field_value_1", "she/her <b>bold</b>"),
                ("field_name_2", ""),
                ("field_value_2", ""),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, actor) = fetch(&alice_id).await;
    assert_eq!(actor["name"], "Alice Liddell");
    let summary = actor["summary"].as_str().unwrap();
    assert!(summary.contains("<strong>Markdown</strong>"), "{summary}");
    assert!(!summary.contains("<script"), "{summary}");
    let fields = actor["attachment"].as_array().unwrap();
    assert_eq!(fields.len(), 2, "{actor}");
    assert_eq!(fields[0]["type"], "PropertyValue");
    assert_eq!(fields[0]["name"], "Website");
    assert!(
        fields[0]["value"]
            .as_str()
            .unwrap()
            .contains("href=\"https://alice.example/\""),
        "{fields:?}"
    );
    assert_eq!(fields[1]["value"], "she/her &lt;b&gt;bold&lt;/b&gt;");
    // The person's page shows them.
    let (_, page) = alice.get("/actors/alice").await;
    assert!(
        page.contains("Alice Liddell") && page.contains("Pronouns"),
        "{page}"
    );
    // An empty display name is refused.
    let (status, _) = alice.post("/profile", &[("display_name", " ")]).await;
    assert_eq!(status, 422);
    a.stop().await.unwrap();
}
