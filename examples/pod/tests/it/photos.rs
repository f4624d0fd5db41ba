//! Photos attached to posts: uploaded with the compose form, recognised from their bytes,
//! within the size limit, sent as `Image` attachments and shown on the post's page; what is
//! not an image, too large or one too many is refused and no post is made. A received Note's
//! attachments are shown from their http(s) address, and nothing else.

use pod::PostAudience;
use serde_json::json;
use test_peer::Peer;

use crate::support::{Session, eventually, fetch, person, pod_with};

/// The start of a PNG of 300×200: its signature and IHDR chunk, then padding to `len` bytes.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\x2c\0\0\0\xc8\x08\x06\0\0\0".to_vec();
    bytes.resize(len.max(bytes.len()), 0);
    bytes
}

/// The compose form with `text` (public) and `photos` (file name, bytes).
fn compose(session: &Session, text: &str, photos: &[(&str, Vec<u8>)]) -> reqwest::multipart::Form {
    let mut form = session
        .multipart()
        .text("text", text.to_owned())
        .text("audience", "public")
        .text("description", "A tiny square");
    for (name, bytes) in photos {
        form = form.part(
            "photo",
            reqwest::multipart::Part::bytes(bytes.clone())
                .file_name((*name).to_owned())
                .mime_str("image/png")
                .unwrap(),
        );
    }
    form
}

#[tokio::test(flavor = "multi_thread")]
async fn a_photo_is_uploaded_with_a_post_and_sent_as_an_image_attachment() {
    photo_upload().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn photo_upload() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod_with(dir.path(), "A", |options| {
        options.app = options.app.clone().with_max_image_bytes(4096);
    })
    .await;
    let alice_id = person(&a, "alice").await;
    let alice = Session::new(&a, "alice").await;

    let (status, _) = alice
        .post_multipart("/posts", compose(&alice, "Look!", &[("sq.png", png(1000))]))
        .await;
    assert_eq!(status, 303);
    let (_, outbox) = fetch(&format!("{alice_id}/outbox?page=1")).await;
    let id = outbox["orderedItems"][0]["object"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{outbox}"))
        .to_owned();
    let (_, note) = fetch(&id).await;
    let image = &note["attachment"][0];
    assert_eq!(image["type"], "Image", "{note}");
    assert_eq!(image["mediaType"], "image/png");
    assert_eq!(image["width"], 300);
    assert_eq!(image["height"], 200);
    assert_eq!(image["name"], "A tiny square");
    let url = image["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(a.base_url.join("media/images/").unwrap().as_str())
            && url.ends_with(".png"),
        "{url}"
    );
    let served = reqwest::get(&url).await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().len(), 1000);
    let path = url::Url::parse(&id).unwrap().path().to_owned();
    let (_, page) = alice.get(&path).await;
    assert!(
        page.contains(&format!(
            "<img src=\"{url}\" alt=\"A tiny square\" width=\"300\" height=\"200\""
        )),
        "{page}"
    );

    // Refused, with no post made: an SVG (415), a photo over the limit (413), five photos (422).
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec();
    let (status, page) = alice
        .post_multipart("/posts", compose(&alice, "Vector", &[("a.png", svg)]))
        .await;
    assert_eq!(status, 415, "{page}");
    assert!(page.contains("JPEG, PNG, WebP or GIF"), "{page}");
    let (status, _) = alice
        .post_multipart("/posts", compose(&alice, "Huge", &[("big.png", png(5000))]))
        .await;
    assert_eq!(status, 413);
    let five: Vec<(&str, Vec<u8>)> = (0..5).map(|_| ("p.png", png(100))).collect();
    let (status, _) = alice
        .post_multipart("/posts", compose(&alice, "Many", &five))
        .await;
    assert_eq!(status, 422);
    // A post without a photo, from the same form, and a form without its token.
    let (status, _) = alice
        .post_multipart("/posts", compose(&alice, "Just words", &[]))
        .await;
    assert_eq!(status, 303);
    let forged = reqwest::multipart::Form::new()
        .text("text", "Forged")
        .text("audience", "public");
    let (status, _) = alice.post_multipart("/posts", forged).await;
    assert_eq!(status, 403);
    let (_, front) = alice.get("/actors/alice").await;
    assert!(front.contains("Just words"), "{front}");
    for refused in ["Vector", "Huge", "Many", "Forged"] {
        assert!(!front.contains(refused), "{refused} in {front}");
    }
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_received_notes_attachments_are_shown_from_their_http_address_only() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod_with(dir.path(), "A", |_| {}).await;
    person(&a, "alice").await;
    let post = a
        .instance
        .write_post("alice", "Show me your cat", &PostAudience::Public)
        .await
        .unwrap();
    let peer = Peer::start().await.unwrap();
    let felix = peer.actor("felix").await.unwrap();
    let mut reply = peer
        .fixture_from("mastodon/create-note.json", "https://mastodon.madrid")
        .unwrap();
    let note = format!("{}/users/felix/statuses/9", peer.origin());
    reply["id"] = json!(format!("{note}/activity"));
    reply["object"]["id"] = json!(note);
    reply["object"]["inReplyTo"] = json!(post);
    reply["object"]["attachment"] = json!([
        {"type": "Document", "mediaType": "image/jpeg", "url": "https://files.example/cat.jpg",
         "name": "A cat", "width": 640, "height": 480},
        {"type": "Document", "mediaType": "image/png", "url": "javascript:alert(1)"},
        {"type": "Document", "mediaType": "video/mp4",
         "url": [{"type": "Link", "href": "https://files.example/cat.mp4"}]},
        {"type": "Document", "mediaType": "image/png", "url": "ftp://files.example/x.png"}
    ]);
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    peer.deliver(&felix, &inbox, &reply).await.unwrap();
    let alice = Session::new(&a, "alice").await;
    let path = url::Url::parse(&post).unwrap().path().to_owned();
    eventually("the reply is shown", || async {
        alice.get(&path).await.1.contains("1 comment")
    })
    .await;
    let (_, page) = alice.get(&path).await;
    assert!(
        page.contains(
            "<img src=\"https://files.example/cat.jpg\" alt=\"A cat\" width=\"640\" height=\"480\""
        ),
        "{page}"
    );
    assert!(
        page.contains("href=\"https://files.example/cat.mp4\""),
        "{page}"
    );
    assert!(page.contains("Attachment (video/mp4)"), "{page}");
    assert!(!page.contains("javascript:"), "{page}");
    assert!(!page.contains("ftp:"), "{page}");
    a.stop().await.unwrap();
}
