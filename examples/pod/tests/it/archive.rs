//! Export and import: alice's archive from pod A (profile, images, aspects, follows, posts)
//! imported into an account on pod B with the admin commands; and archives that are cut,
//! too large, unpack to too much, escape their folder, hold links, claim another server's
//! posts or hold broken JSON, each refused with nothing stored.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use pod::Running;
use pod::archive::{ArchiveError, ImportLimits};
use serde_json::{Value, json};

use crate::support::{Session, database, fetch, person, pod, until_following};

/// A 1×1 PNG's first bytes (only they are read to know the type).
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    bytes.extend_from_slice(&[0x1f, 0x15, 0xc4, 0x89]);
    bytes
}

fn gif() -> Vec<u8> {
    b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04\x01\0\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;".to_vec()
}

fn upload(session: &Session, role: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    session.multipart().text("role", role.to_owned()).part(
        "file",
        reqwest::multipart::Part::bytes(bytes)
            .file_name("image")
            .mime_str("application/octet-stream")
            .unwrap(),
    )
}

/// The compose form: a public post `text` with one PNG photo described as `description`.
fn with_photo(session: &Session, text: &str, description: &str) -> reqwest::multipart::Form {
    session
        .multipart()
        .text("text", text.to_owned())
        .text("audience", "public")
        .text("description", description.to_owned())
        .part(
            "photo",
            reqwest::multipart::Part::bytes(png())
                .file_name("garden.png")
                .mime_str("image/png")
                .unwrap(),
        )
}

/// The administration commands of pod `name` (its database and media in `dir`) running as
/// `running`, on SQLite or PostgreSQL.
pub(crate) fn admin(dir: &Path, running: &Running, name: &str) -> pod::admin::Admin {
    pod::admin::Admin::new(database(dir, name))
        .with_app(
            pod::PodOptions::default().with_media_dir(dir.join(format!("{name}.sqlite.media"))),
        )
        .with_base_url(Some(running.base_url.clone()))
        .with_danger_allow_private_addresses(true)
}

/// The entries of a `.tar.gz`, in order.
pub(crate) fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

/// A plain tar of `entries`, each a regular file named as given (names are written into the
/// header as they are, unchecked, as a hostile archive would be).
pub(crate) fn tar_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        raw_name(&mut header, name);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(bytes);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

fn raw_name(header: &mut tar::Header, name: &str) {
    let field = &mut header.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
    header.set_cksum();
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archive_from_one_pod_is_imported_into_another() {
    archive_import().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn archive_import() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let c = pod(dir.path(), "C").await;
    let alice = person(&a, "alice").await;
    let carol = person(&c, "carol").await;
    let dave = person(&c, "dave").await;
    let alice2 = person(&b, "alice2").await;

    // Alice follows carol and dave; dave follows her.
    a.instance.follow("alice", &carol).await.unwrap();
    a.instance.follow("alice", &dave).await.unwrap();
    c.instance.follow("dave", &alice).await.unwrap();
    until_following(&a, &alice, &carol).await;
    until_following(&a, &alice, &dave).await;
    until_following(&a, &dave, &alice).await;

    // Her profile and images.
    a.instance
        .set_profile(
            "alice",
            &pod::Profile::new("Alice Liddell")
                .with_bio("Curious, **very** curious.")
                .with_field("Garden", "https://garden.example/")
                .with_field("Cat", "Dinah"),
        )
        .await
        .unwrap();
    let web = Session::new(&a, "alice").await;
    assert_eq!(
        web.post_multipart("/profile/image", upload(&web, "avatar", png()))
            .await
            .0,
        303
    );
    assert_eq!(
        web.post_multipart("/profile/image", upload(&web, "banner", gif()))
            .await
            .0,
        303
    );

    // An aspect with carol, and posts to everyone, the followers and the aspect.
    let friends = a.instance.create_aspect("alice", "Friends").await.unwrap();
    a.instance
        .add_to_aspect("alice", &friends, &carol)
        .await
        .unwrap();
    let public = a
        .instance
        .write_post(
            "alice",
            "Down the *rabbit hole*. #Wonderland",
            &pod::PostAudience::Public,
        )
        .await
        .unwrap();
    let followers = a
        .instance
        .write_post(
            "alice",
            "Only for followers.",
            &pod::PostAudience::Followers,
        )
        .await
        .unwrap();
    let limited = a
        .instance
        .write_post(
            "alice",
            "Tea at the Hatter's.",
            &pod::PostAudience::Aspects(vec![friends.clone()]),
        )
        .await
        .unwrap();
    let own_comment = a
        .instance
        .write_comment("alice", &public, "And a comment.")
        .await
        .unwrap();
    a.instance.like("alice", &public).await.unwrap();
    assert_eq!(
        web.post_multipart(
            "/posts",
            with_photo(&web, "The garden.", "Roses, painted red")
        )
        .await
        .0,
        303
    );
    let (_, original) = fetch(&public).await;
    let published = original["published"].as_str().unwrap().to_owned();

    // Exported from the command line's admin API.
    let file = dir.path().join("alice.tar.gz");
    let exported = pod::archive::admin_export(&admin(dir.path(), &a, "A"), "alice", &file, None)
        .await
        .unwrap();
    assert_eq!(exported["exported"]["posts"], 4, "{exported}");
    assert_eq!(exported["exported"]["media"], 3, "{exported}");
    assert_eq!(exported["exported"]["comments"], 1, "{exported}");
    assert_eq!(exported["exported"]["following"], 2, "{exported}");
    assert_eq!(exported["exported"]["followers"], 1, "{exported}");
    assert_eq!(exported["exported"]["likes"], 1, "{exported}");
    let files = entries(&file);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "manifest.yml",
        "actor.json",
        "outbox.json",
        "followers.json",
        "following.json",
        "likes.json",
        "pod/profile.json",
        "pod/aspects.json",
        "pod/posts.jsonl",
        "pod/comments.jsonl",
        "media/avatar.png",
        "media/banner.gif",
        "media/photo-1.png",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    assert_eq!(names.last(), Some(&"pod/summary.json"));
    let file_of = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.clone())
            .unwrap()
    };
    let outbox: Value = serde_json::from_slice(&file_of("outbox.json")).unwrap();
    assert_eq!(outbox["type"], "OrderedCollection");
    assert_eq!(outbox["totalItems"], 5);
    assert_eq!(outbox["orderedItems"][0]["type"], "Create");
    assert_eq!(outbox["orderedItems"][0]["object"]["id"], json!(public));
    assert_eq!(
        outbox["orderedItems"][0]["object"]["source"]["content"],
        "Down the *rabbit hole*. #Wonderland"
    );
    let following: Value = serde_json::from_slice(&file_of("following.json")).unwrap();
    let mut followed: Vec<String> =
        serde_json::from_value(following["orderedItems"].clone()).unwrap();
    followed.sort();
    let mut expected = vec![carol.clone(), dave.clone()];
    expected.sort();
    assert_eq!(followed, expected);
    let followers_file: Value = serde_json::from_slice(&file_of("followers.json")).unwrap();
    assert_eq!(followers_file["orderedItems"], json!([dave]));
    assert_eq!(file_of("media/avatar.png"), png());
    assert_eq!(file_of("media/photo-1.png"), png());
    let archived_posts = String::from_utf8(file_of("pod/posts.jsonl")).unwrap();
    let garden: Value = archived_posts
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|post| post["source"] == "The garden.")
        .unwrap();
    assert_eq!(garden["photos"][0]["path"], "media/photo-1.png", "{garden}");
    assert_eq!(garden["photos"][0]["mediaType"], "image/png");
    assert_eq!(garden["photos"][0]["description"], "Roses, painted red");
    let manifest = String::from_utf8(file_of("manifest.yml")).unwrap();
    assert!(manifest.starts_with("# An account export"), "{manifest}");
    assert!(manifest.contains("ubc-version: 0.1"), "{manifest}");

    // Imported into alice2 on B from the command line's admin API.
    let imported = pod::archive::admin_import(&admin(dir.path(), &b, "B"), "alice2", &file, false)
        .await
        .unwrap();
    assert_eq!(imported["imported"]["posts"], 4, "{imported}");
    assert_eq!(imported["imported"]["photos"], 1, "{imported}");
    assert_eq!(imported["imported"]["follows_sent"], 2, "{imported}");
    assert_eq!(imported["imported"]["images"], 2, "{imported}");
    assert_eq!(imported["imported"]["comments"], 1, "{imported}");
    assert_eq!(imported["imported"]["likes"], 1, "{imported}");

    // The profile and the images, byte for byte.
    let (_, document) = fetch(&alice2).await;
    assert_eq!(document["name"], "Alice Liddell");
    assert!(
        document["summary"]
            .as_str()
            .unwrap()
            .contains("<strong>very</strong>"),
        "{document}"
    );
    assert_eq!(document["attachment"][0]["name"], "Garden");
    assert_eq!(document["attachment"][1]["value"], "Dinah");
    let icon = document["icon"]["url"].as_str().unwrap();
    assert!(icon.starts_with(b.base_url.as_str()), "{icon}");
    let bytes = |url: String| async move {
        reqwest::get(url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec()
    };
    assert_eq!(bytes(icon.to_owned()).await, png());
    assert_eq!(
        bytes(document["image"]["url"].as_str().unwrap().to_owned()).await,
        gif()
    );

    // Follows sent again: carol's and dave's pod record alice2 as their follower.
    until_following(&c, &alice2, &carol).await;
    until_following(&c, &alice2, &dave).await;
    until_following(&b, &alice2, &carol).await;

    // The aspect and its member (shown among the contacts once B has carol's Accept).
    let web_b = Session::new(&b, "alice2").await;
    let (_, page) = web_b.get("/aspects").await;
    assert!(page.contains("Friends"), "{page}");
    let handle = format!("@carol@{}", c.base_url.authority());
    assert!(
        page.contains(&format!("Remove {handle} from Friends")),
        "{page}"
    );

    // The posts: new ids here, their dates, and where they were first published.
    let state = b.instance.state();
    let scope = state.scope_of(&alice2).await.unwrap();
    let outbox = state.outbox(&alice2, &scope, 0, 50).await.unwrap();
    let creates: Vec<&Value> = outbox
        .iter()
        .filter(|a| a.kind == "Create" && a.document["object"]["inReplyTo"].is_null())
        .map(|a| &a.document["object"])
        .collect();
    assert_eq!(creates.len(), 4, "{outbox:?}");
    for note in &creates {
        let id = note["id"].as_str().unwrap();
        assert!(id.starts_with(b.base_url.as_str()), "{id}");
        assert_eq!(note["attributedTo"], json!(alice2));
    }
    let rabbit = creates
        .iter()
        .find(|n| n["content"].as_str().unwrap().contains("rabbit hole"))
        .unwrap();
    assert_eq!(rabbit["published"], json!(published));
    let content = rabbit["content"].as_str().unwrap();
    assert!(content.contains("Originally published at"), "{content}");
    assert!(content.contains(&format!("href=\"{public}\"")), "{content}");
    // Its hashtag is a tag again: a link, a `Hashtag`, and the post on the tag's page.
    let tag_url = b.base_url.join("tags/wonderland").unwrap().to_string();
    assert!(
        content.contains(&format!("href=\"{tag_url}\"")),
        "{content}"
    );
    assert_eq!(
        rabbit["tag"],
        json!([{"type": "Hashtag", "href": tag_url, "name": "#wonderland"}])
    );
    let (status, tagged) = crate::support::fetch(&format!("{tag_url}?page=1")).await;
    assert_eq!(status, 200, "{tagged}");
    assert_eq!(tagged["orderedItems"], json!([rabbit["id"]]), "{tagged}");
    assert!(
        rabbit["source"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Down the *rabbit hole*.")
    );
    let tea = creates
        .iter()
        .find(|n| n["content"].as_str().unwrap().contains("Hatter"))
        .unwrap();
    assert_eq!(tea["to"], json!([carol]));
    // The photo, stored again on B, byte for byte, with its description.
    let garden = creates
        .iter()
        .find(|n| n["content"].as_str().unwrap().contains("The garden."))
        .unwrap();
    let photo = &garden["attachment"][0];
    assert_eq!(photo["type"], "Image", "{garden}");
    assert_eq!(photo["mediaType"], "image/png");
    assert_eq!(photo["name"], "Roses, painted red");
    let photo_url = photo["url"].as_str().unwrap().to_owned();
    assert!(photo_url.starts_with(b.base_url.as_str()), "{photo_url}");
    assert_eq!(bytes(photo_url).await, png());
    let only = creates
        .iter()
        .find(|n| {
            n["content"]
                .as_str()
                .unwrap()
                .contains("Only for followers")
        })
        .unwrap();
    assert_eq!(only["to"], json!([format!("{alice2}/followers")]));
    assert!(
        !creates
            .iter()
            .any(|n| n["id"] == json!(followers) || n["id"] == json!(limited))
    );
    // The person's page shows them, with the link.
    let (_, page) = web_b.get("/actors/alice2").await;
    assert!(page.contains("Down the"), "{page}");
    assert!(page.contains("Originally published at"), "{page}");
    // Her comment answers the new copy of her post, and her like is of that copy.
    let comment = outbox
        .iter()
        .map(|a| &a.document["object"])
        .find(|n| n["inReplyTo"] == rabbit["id"])
        .unwrap_or_else(|| panic!("{outbox:?}"));
    assert!(
        comment["content"]
            .as_str()
            .unwrap()
            .contains(&format!("href=\"{own_comment}\"")),
        "{comment}"
    );
    let (_, likes) = fetch(&format!("{}/likes", rabbit["id"].as_str().unwrap())).await;
    assert_eq!(likes["totalItems"], 1, "{likes}");

    // Importing it again adds no follow (already sent).
    let again = b
        .instance
        .import_archive("alice2", &file, &ImportLimits::default())
        .await
        .unwrap();
    assert_eq!(again.follows_sent, 0);
    assert_eq!(again.follows_skipped, 2);
    // Nor any post, comment or like: each was made once, and is skipped now.
    assert_eq!((again.posts, again.posts_skipped, again.photos), (0, 4, 0));
    assert_eq!((again.comments, again.comments_skipped), (0, 1));
    assert_eq!((again.likes, again.likes_skipped), (0, 1));
    let creates_after = state
        .outbox(&alice2, &scope, 0, 50)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.kind == "Create")
        .count();
    assert_eq!(creates_after, 5);
}

/// The archive's line of `file` whose `source` is `text`.
fn line_of(lines: &str, text: &str) -> Value {
    lines
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|line| line["source"] == text)
        .unwrap_or_else(|| panic!("{text} in {lines}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_and_likes_come_back_with_an_import() {
    comments_and_likes_import().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn comments_and_likes_import() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let c = pod(dir.path(), "C").await;
    let alice = person(&a, "alice").await;
    let bob = person(&a, "bob").await;
    let carol = person(&c, "carol").await;
    let alice2 = person(&b, "alice2").await;

    // Carol's public post, one to her aspect that holds alice, and one to her aspect that
    // holds alice and alice2: A has all three, B the last.
    a.instance.follow("alice", &carol).await.unwrap();
    c.instance.follow("carol", &alice2).await.unwrap();
    until_following(&c, &alice, &carol).await;
    until_following(&c, &carol, &alice2).await;
    let garden = c.instance.create_aspect("carol", "Garden").await.unwrap();
    c.instance
        .add_to_aspect("carol", &garden, &alice)
        .await
        .unwrap();
    let croquet = c.instance.create_aspect("carol", "Croquet").await.unwrap();
    for member in [&alice, &alice2] {
        c.instance
            .add_to_aspect("carol", &croquet, member)
            .await
            .unwrap();
    }
    let elsewhere = c
        .instance
        .write_post("carol", "The Queen's croquet.", &pod::PostAudience::Public)
        .await
        .unwrap();
    let limited = c
        .instance
        .write_post(
            "carol",
            "Only for the garden.",
            &pod::PostAudience::Aspects(vec![garden]),
        )
        .await
        .unwrap();
    let game = c
        .instance
        .write_post(
            "carol",
            "A game for the two of you.",
            &pod::PostAudience::Aspects(vec![croquet]),
        )
        .await
        .unwrap();
    crate::support::eventually("A and B have carol's posts", || async {
        let state = a.instance.state();
        state.object(&elsewhere).await.unwrap().is_some()
            && state.object(&limited).await.unwrap().is_some()
            && state.object(&game).await.unwrap().is_some()
            && b.instance.state().object(&game).await.unwrap().is_some()
    })
    .await;

    // Alice's own thread (her post, her comment, her answer to it), her comments on carol's
    // two posts, and her likes of her post and of carol's.
    let own = a
        .instance
        .write_post("alice", "Painting the roses.", &pod::PostAudience::Public)
        .await
        .unwrap();
    let first = a
        .instance
        .write_comment("alice", &own, "Red, all of them.")
        .await
        .unwrap();
    a.instance
        .write_comment("alice", &first, "Quickly, before she comes.")
        .await
        .unwrap();
    let no_mallet = a
        .instance
        .write_comment("alice", &elsewhere, "I have no mallet.")
        .await
        .unwrap();
    a.instance
        .write_comment("alice", &no_mallet, "Lend me a flamingo.")
        .await
        .unwrap();
    a.instance
        .write_comment("alice", &limited, "Just between us.")
        .await
        .unwrap();
    a.instance
        .write_comment("alice", &game, "Count me in.")
        .await
        .unwrap();
    a.instance.like("alice", &own).await.unwrap();
    a.instance.like("alice", &elsewhere).await.unwrap();
    crate::support::eventually("C counts alice's like and keeps her comment", || async {
        fetch(&format!("{elsewhere}/likes")).await.1["totalItems"] == 1
            && fetch(&format!("{elsewhere}/replies")).await.1["totalItems"] == 1
    })
    .await;
    let file = dir.path().join("alice.tar.gz");
    let exported = a.instance.export_archive("alice", &file).await.unwrap();
    assert_eq!(
        (exported.posts, exported.comments, exported.likes),
        (1, 6, 2)
    );
    let files = entries(&file);
    let file_of = |name: &str| {
        String::from_utf8(
            files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.clone())
                .unwrap(),
        )
        .unwrap()
    };
    let comments = file_of("pod/comments.jsonl");
    let archived = line_of(&comments, "Red, all of them.");
    assert_eq!(archived["inReplyTo"], json!(own));
    assert_eq!(line_of(&comments, "Just between us.")["to"], json!([carol]));

    // Bad comments refuse the whole archive, and nothing is stored.
    let before = snapshot(&b, dir.path(), &alice2).await;
    let replaced = |name: &str, text: String| {
        let mut changed = files.clone();
        for (n, bytes) in &mut changed {
            if n == name {
                *bytes = text.clone().into_bytes();
            }
        }
        changed
    };
    let first_line = comments.lines().next().unwrap().to_owned();
    let mut orphan: Value = serde_json::from_str(&first_line).unwrap();
    orphan.as_object_mut().unwrap().remove("inReplyTo");
    let mut bobs: Value = serde_json::from_str(&first_line).unwrap();
    bobs["attributedTo"] = json!(bob);
    let mut leaky: Value =
        serde_json::from_str(&line_of(&comments, "Just between us.").to_string()).unwrap();
    leaky["to"] = json!(["https://www.w3.org/ns/activitystreams#Public"]);
    let with_line = |line: &Value| {
        comments.replacen(
            comments
                .lines()
                .find(|l| serde_json::from_str::<Value>(l).unwrap()["id"] == line["id"])
                .unwrap(),
            &line.to_string(),
            1,
        )
    };
    let summary = file_of("pod/summary.json");
    let summary_value: Value = serde_json::from_str(&summary).unwrap();
    let mut miscounted = summary_value.clone();
    miscounted["comments"] = json!(7);
    let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
        (
            "a comment with no inReplyTo",
            tar_of(&replaced("pod/comments.jsonl", with_line(&orphan))),
            |e| matches!(e, ArchiveError::Json { path, line: Some(_), .. } if path == "pod/comments.jsonl"),
        ),
        (
            "a comment by someone else",
            tar_of(&replaced("pod/comments.jsonl", with_line(&bobs))),
            |e| matches!(e, ArchiveError::ForeignPost { .. }),
        ),
        (
            "a comment on another server",
            tar_of(&replaced(
                "pod/comments.jsonl",
                comments.replacen(
                    &format!("\"id\":\"{}", a.base_url),
                    "\"id\":\"https://elsewhere.example/",
                    1,
                ),
            )),
            |e| matches!(e, ArchiveError::ForeignPost { .. }),
        ),
        (
            "a limited comment made public",
            tar_of(&replaced("pod/comments.jsonl", with_line(&leaky))),
            |e| matches!(e, ArchiveError::Json { path, .. } if path == "pod/comments.jsonl"),
        ),
        (
            "a count of comments that does not match",
            tar_of(&replaced("pod/summary.json", miscounted.to_string())),
            |e| {
                matches!(
                    e,
                    ArchiveError::Count {
                        what: "comments",
                        declared: 7,
                        found: 6
                    }
                )
            },
        ),
        (
            "a like that is not an address",
            tar_of(&replaced(
                "likes.json",
                json!({"type": "OrderedCollection", "orderedItems": ["not a post"]}).to_string(),
            )),
            |e| matches!(e, ArchiveError::Json { path, .. } if path == "likes.json"),
        ),
    ];
    for (n, (what, bytes, expected)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("bad-comments-{n}.tar"));
        std::fs::write(&path, bytes).unwrap();
        let error = b
            .instance
            .import_archive("alice2", &path, &ImportLimits::default())
            .await
            .expect_err(what);
        let archive_error = error
            .downcast_ref::<ArchiveError>()
            .unwrap_or_else(|| panic!("{what}: {error:#}"));
        assert!(expected(archive_error), "{what}: {archive_error}");
        assert_eq!(
            snapshot(&b, dir.path(), &alice2).await,
            before,
            "{what} stored something"
        );
    }

    // Imported into alice2 on B.
    let summary = b
        .instance
        .import_archive("alice2", &file, &ImportLimits::default())
        .await
        .unwrap();
    assert_eq!((summary.posts, summary.comments), (1, 6), "{summary:?}");
    assert_eq!(summary.comments_not_imported, 0, "{summary:?}");
    // B holds her post, not carol's: the like of carol's post is skipped.
    assert_eq!(
        (summary.likes, summary.likes_skipped),
        (1, 1),
        "{summary:?}"
    );
    let state = b.instance.state();
    let scope = state.scope_of(&alice2).await.unwrap();
    let notes: Vec<Value> = state
        .outbox(&alice2, &scope, 0, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == "Create")
        .map(|a| a.document["object"].clone())
        .collect();
    let note = |text: &str| {
        notes
            .iter()
            .find(|n| n["content"].as_str().unwrap().contains(text))
            .cloned()
            .unwrap_or_else(|| panic!("{text} in {notes:?}"))
    };
    let new_own = note("Painting the roses.");
    let new_first = note("Red, all of them.");
    // Her own thread: on the new copies, with the original dates, and where each was first.
    assert_eq!(new_first["inReplyTo"], new_own["id"]);
    assert_eq!(new_first["published"], archived["published"]);
    assert!(
        new_first["id"]
            .as_str()
            .unwrap()
            .starts_with(b.base_url.as_str())
    );
    assert!(
        new_first["content"]
            .as_str()
            .unwrap()
            .contains(&format!("href=\"{first}\"")),
        "{new_first}"
    );
    assert_eq!(
        new_first["to"],
        json!(["https://www.w3.org/ns/activitystreams#Public"])
    );
    assert_eq!(
        note("Quickly, before she comes.")["inReplyTo"],
        new_first["id"]
    );
    let own_path = url::Url::parse(new_own["id"].as_str().unwrap())
        .unwrap()
        .path()
        .to_owned();
    let (_, page) = Session::new(&b, "alice2").await.get(&own_path).await;
    assert!(page.contains("Red, all of them."), "{page}");
    assert!(page.contains("Quickly, before she comes."), "{page}");
    let (_, likes) = fetch(&format!("{}/likes", new_own["id"].as_str().unwrap())).await;
    assert_eq!(likes["totalItems"], 1, "{likes}");
    // Her comments elsewhere answer the originals: the public one is public, the one in
    // carol's limited thread is for carol only, as it was.
    let on_public = note("I have no mallet.");
    assert_eq!(on_public["inReplyTo"], json!(elsewhere));
    assert_eq!(fetch(on_public["id"].as_str().unwrap()).await.0, 200);
    // B does not hold carol's post: the comment's page shows it alone, to anyone.
    let path_of = |note: &Value| {
        url::Url::parse(note["id"].as_str().unwrap())
            .unwrap()
            .path()
            .to_owned()
    };
    let (status, page) = crate::support::html(b.base_url.join(&path_of(&on_public)).unwrap()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("I have no mallet."), "{page}");
    // Her answer to that comment answers its new copy, public as it is.
    let flamingo = note("Lend me a flamingo.");
    assert_eq!(flamingo["inReplyTo"], on_public["id"]);
    assert_eq!(fetch(flamingo["id"].as_str().unwrap()).await.0, 200);
    let on_limited = note("Just between us.");
    assert_eq!(on_limited["inReplyTo"], json!(limited));
    assert_eq!(on_limited["to"], json!([carol]));
    assert_eq!(fetch(on_limited["id"].as_str().unwrap()).await.0, 404);
    // The one in the thread B holds is under carol's post for its readers, and nobody else.
    let in_game = note("Count me in.");
    assert_eq!(in_game["inReplyTo"], json!(game));
    let mut readers: Vec<String> = serde_json::from_value(in_game["to"].clone()).unwrap();
    readers.sort();
    let mut expected = vec![alice2.clone(), carol.clone()];
    expected.sort();
    assert_eq!(readers, expected);
    assert_eq!(fetch(in_game["id"].as_str().unwrap()).await.0, 404);
    let game_page = format!(
        "/posts/remote?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", &game)
            .finish()
    );
    let (_, page) = Session::new(&b, "alice2").await.get(&game_page).await;
    assert!(page.contains("Count me in."), "{page}");
    let limited_page = b.base_url.join(&path_of(&on_limited)).unwrap();
    assert_eq!(crate::support::html(limited_page.clone()).await.0, 404);
    let (status, page) = Session::new(&b, "alice2")
        .await
        .get(limited_page.path())
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Just between us."), "{page}");

    // Nothing was delivered: C, which gets alice2's follow, has none of her comments, and
    // carol's post still counts alice's like and comment only.
    until_following(&c, &alice2, &carol).await;
    for comment in [&on_public, &flamingo, &on_limited, &in_game] {
        let id = comment["id"].as_str().unwrap();
        assert!(
            c.instance.state().object(id).await.unwrap().is_none(),
            "{id}"
        );
    }
    assert_eq!(
        fetch(&format!("{elsewhere}/likes")).await.1["totalItems"],
        1
    );
    assert_eq!(
        fetch(&format!("{elsewhere}/replies")).await.1["totalItems"],
        1
    );

    // Importing again makes nothing twice.
    let again = b
        .instance
        .import_archive("alice2", &file, &ImportLimits::default())
        .await
        .unwrap();
    assert_eq!(
        (again.comments, again.comments_skipped),
        (0, 6),
        "{again:?}"
    );
    assert_eq!((again.likes, again.likes_skipped), (0, 2), "{again:?}");
    let creates = state
        .outbox(&alice2, &scope, 0, 50)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.kind == "Create")
        .count();
    assert_eq!(creates, 7);

    // An archive whose limited comment lost its addressing (as an earlier pod's would): that
    // comment is left out and counted, the others are made.
    let alice3 = person(&b, "alice3").await;
    let mut bare = line_of(&comments, "Just between us.");
    let bare_map = bare.as_object_mut().unwrap();
    bare_map.remove("to");
    bare_map.remove("cc");
    let stripped = dir.path().join("stripped.tar");
    std::fs::write(
        &stripped,
        tar_of(&replaced("pod/comments.jsonl", with_line(&bare))),
    )
    .unwrap();
    let partial = b
        .instance
        .import_archive("alice3", &stripped, &ImportLimits::default())
        .await
        .unwrap();
    assert_eq!(
        (partial.comments, partial.comments_not_imported),
        (5, 1),
        "{partial:?}"
    );
    let scope3 = state.scope_of(&alice3).await.unwrap();
    let texts: Vec<String> = state
        .outbox(&alice3, &scope3, 0, 50)
        .await
        .unwrap()
        .iter()
        .map(|a| a.document["object"]["content"].to_string())
        .collect();
    assert!(
        !texts.iter().any(|t| t.contains("Just between us")),
        "{texts:?}"
    );

    // An archive whose comment in the thread B holds names someone who may not read carol's
    // post (bob): that comment is left out and counted.
    let alice4 = person(&b, "alice4").await;
    let mut widened = line_of(&comments, "Count me in.");
    widened["to"].as_array_mut().unwrap().push(json!(bob));
    let tampered = dir.path().join("widened.tar");
    std::fs::write(
        &tampered,
        tar_of(&replaced("pod/comments.jsonl", with_line(&widened))),
    )
    .unwrap();
    let partial = b
        .instance
        .import_archive("alice4", &tampered, &ImportLimits::default())
        .await
        .unwrap();
    assert_eq!(
        (partial.comments, partial.comments_not_imported),
        (5, 1),
        "{partial:?}"
    );
    let scope4 = state.scope_of(&alice4).await.unwrap();
    assert!(
        !state
            .outbox(&alice4, &scope4, 0, 50)
            .await
            .unwrap()
            .iter()
            .any(|a| a.document["object"]["content"]
                .to_string()
                .contains("Count me in"))
    );

    for running in [a, b, c] {
        running.stop().await.unwrap();
    }
}

/// What B holds of alice2 that an import would change: posts in the outbox, the display name,
/// aspects page, follows, and the files of the media store.
async fn snapshot(b: &Running, dir: &Path, alice2: &str) -> (usize, String, u64, usize) {
    let state = b.instance.state();
    let scope = state.scope_of(alice2).await.unwrap();
    let outbox = state.outbox(alice2, &scope, 0, 50).await.unwrap().len();
    let actor = state.actor("alice2").await.unwrap().unwrap();
    let following = state
        .following_count(alice2, instance_state::follows::FollowState::Pending)
        .await
        .unwrap()
        + state
            .following_count(alice2, instance_state::follows::FollowState::Accepted)
            .await
            .unwrap();
    let media = count_files(&dir.join("B.sqlite.media").join("data"));
    (outbox, actor.display_name, following, media)
}

fn count_files(dir: &PathBuf) -> usize {
    let Ok(read) = std::fs::read_dir(dir) else {
        return 0;
    };
    read.map(|e| {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            count_files(&e.path())
        } else {
            1
        }
    })
    .sum()
}

/// What a bad archive's error must be.
type Expected = fn(&ArchiveError) -> bool;

#[tokio::test(flavor = "multi_thread")]
async fn bad_archives_are_refused_with_nothing_stored() {
    bad_archives().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn bad_archives() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let alice = person(&a, "alice").await;
    let alice2 = person(&b, "alice2").await;
    let bob = person(&a, "bob").await;
    a.instance.follow("alice", &bob).await.unwrap();
    a.instance
        .set_profile("alice", &pod::Profile::new("Alice from A"))
        .await
        .unwrap();
    let web = Session::new(&a, "alice").await;
    web.post_multipart("/profile/image", upload(&web, "avatar", png()))
        .await;
    a.instance
        .write_post("alice", "A post.", &pod::PostAudience::Public)
        .await
        .unwrap();
    assert_eq!(
        web.post_multipart("/posts", with_photo(&web, "A photo.", "A square"))
            .await
            .0,
        303
    );
    let good = dir.path().join("good.tar.gz");
    a.instance.export_archive("alice", &good).await.unwrap();
    let files = entries(&good);
    let before = snapshot(&b, dir.path(), &alice2).await;

    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let with = |name: &str, bytes: &[u8]| {
        let mut files = files.clone();
        files.insert(0, (name.to_owned(), bytes.to_vec()));
        files
    };
    let replaced = |name: &str, bytes: Vec<u8>| {
        let mut files = files.clone();
        for (n, b) in &mut files {
            if n == name {
                *b = bytes.clone();
            }
        }
        files
    };
    let good_bytes = std::fs::read(&good).unwrap();
    let posts = String::from_utf8(
        files
            .iter()
            .find(|(n, _)| n == "pod/posts.jsonl")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    let foreign_posts = posts.replace(&alice, &bob);
    let other_pod = posts.replace(a.base_url.as_str(), "https://elsewhere.example/");
    let mut bomb = files.clone();
    bomb.insert(0, ("media/zeros.bin".to_owned(), vec![0; 8 << 20]));
    let mut symlink = tar_of(&files);
    {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_link_name("/etc/passwd").unwrap();
        raw_name(&mut header, "media/avatar.png");
        let mut out = header.as_bytes().to_vec();
        out.extend_from_slice(&symlink);
        symlink = out;
    }
    let limits = ImportLimits::default();
    let cases: Vec<(&str, Vec<u8>, ImportLimits, Expected)> = vec![
        (
            "truncated",
            good_bytes[..good_bytes.len() / 2].to_vec(),
            limits,
            |e| matches!(e, ArchiveError::Truncated { .. }),
        ),
        (
            "cut at an entry's end",
            tar_of(&files[..files.len() - 1]),
            limits,
            |e| matches!(e, ArchiveError::Missing { path } if path == "pod/summary.json"),
        ),
        (
            "too large",
            good_bytes.clone(),
            limits.with_max_archive_bytes(100),
            |e| matches!(e, ArchiveError::TooLarge { limit: 100 }),
        ),
        (
            "a zip bomb",
            gzip(&tar_of(&bomb)),
            limits.with_max_unpacked_bytes(1 << 20),
            |e| matches!(e, ArchiveError::UnpackedTooLarge { .. }),
        ),
        (
            "a parent folder",
            tar_of(&with("../escape.json", b"{}")),
            limits,
            |e| matches!(e, ArchiveError::UnsafePath { path } if path == "../escape.json"),
        ),
        (
            "an absolute path",
            tar_of(&with("/tmp/escape.json", b"{}")),
            limits,
            |e| matches!(e, ArchiveError::UnsafePath { .. }),
        ),
        ("a symbolic link", symlink, limits, |e| {
            matches!(
                e,
                ArchiveError::NotAFile {
                    kind: "symbolic link",
                    ..
                }
            )
        }),
        (
            "another person's posts",
            tar_of(&replaced("pod/posts.jsonl", foreign_posts.into_bytes())),
            limits,
            |e| matches!(e, ArchiveError::ForeignPost { .. }),
        ),
        (
            "another server's posts",
            tar_of(&replaced("pod/posts.jsonl", other_pod.into_bytes())),
            limits,
            |e| matches!(e, ArchiveError::ForeignPost { .. }),
        ),
        (
            "malformed JSON",
            tar_of(&replaced("pod/profile.json", b"{\"actor\": ".to_vec())),
            limits,
            |e| matches!(e, ArchiveError::Json { path, .. } if path == "pod/profile.json"),
        ),
        (
            // The archive has two posts: the third line is the bad one.
            "a malformed post line",
            tar_of(&replaced(
                "pod/posts.jsonl",
                format!("{posts}not json\n").into_bytes(),
            )),
            limits,
            |e| matches!(e, ArchiveError::Json { path, line: Some(3), .. } if path == "pod/posts.jsonl"),
        ),
        (
            "an avatar that is not an image",
            tar_of(&replaced("media/avatar.png", b"<svg/>".to_vec())),
            limits,
            |e| matches!(e, ArchiveError::Image { role: "avatar", .. }),
        ),
        (
            "a photo that is not the one the post names",
            tar_of(&replaced("media/photo-1.png", gif())),
            limits,
            |e| matches!(e, ArchiveError::Image { role: "photo", reason, .. } if reason.contains("SHA-256")),
        ),
        (
            "a photo missing",
            tar_of(
                &files
                    .iter()
                    .filter(|(n, _)| n != "media/photo-1.png")
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            limits,
            |e| matches!(e, ArchiveError::Image { role: "photo", .. }),
        ),
        (
            "a duplicate entry",
            tar_of(&with("pod/posts.jsonl", b"")),
            limits,
            |e| matches!(e, ArchiveError::Duplicate { .. }),
        ),
        ("not an archive", b"just some text".to_vec(), limits, |e| {
            matches!(
                e,
                ArchiveError::Unreadable { .. } | ArchiveError::Missing { .. }
            )
        }),
    ];
    for (n, (what, bytes, limits, expected)) in cases.into_iter().enumerate() {
        let path = write(&format!("bad-{n}.tar"), &bytes);
        let error = b
            .instance
            .import_archive("alice2", &path, &limits)
            .await
            .expect_err(what);
        let archive_error = error
            .downcast_ref::<ArchiveError>()
            .unwrap_or_else(|| panic!("{what}: {error:#}"));
        assert!(expected(archive_error), "{what}: {archive_error}");
        assert!(!archive_error.to_string().is_empty());
        assert_eq!(
            snapshot(&b, dir.path(), &alice2).await,
            before,
            "{what} stored something"
        );
    }
    // No staging folder is left behind.
    assert_eq!(
        count_files(&dir.path().join("B.sqlite.media").join("tmp")),
        0
    );

    // The good archive is taken.
    let summary = b
        .instance
        .import_archive("alice2", &good, &limits)
        .await
        .unwrap();
    assert_eq!((summary.posts, summary.photos), (2, 1));
    assert_ne!(snapshot(&b, dir.path(), &alice2).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_download_and_upload_an_archive() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    person(&a, "alice").await;
    let alice2 = person(&b, "alice2").await;
    a.instance
        .set_profile("alice", &pod::Profile::new("Alice from A"))
        .await
        .unwrap();
    a.instance
        .write_post("alice", "Posted on A.", &pod::PostAudience::Public)
        .await
        .unwrap();
    let web_a = Session::new(&a, "alice").await;
    let (status, page) = web_a.get("/profile").await;
    assert_eq!(status, 200);
    assert!(page.contains("/profile/archive"), "{page}");
    let (status, page) = web_a.get("/profile/archive").await;
    assert_eq!(status, 200);
    assert!(page.contains("Download your archive"), "{page}");

    // The download: a POST with the token; refused without it.
    let download = |csrf: String| {
        let web = &web_a;
        async move {
            web.http
                .post(web.base.join("/profile/archive/export").unwrap())
                .header("cookie", &web.cookie)
                .header("origin", web.base.origin().ascii_serialization())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("csrf={csrf}"))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(download("forged".to_owned()).await.status(), 403);
    let response = download(web_a.csrf.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("alice-archive.tar.gz")
    );
    let archive = response.bytes().await.unwrap().to_vec();
    let file = dir.path().join("downloaded.tar.gz");
    std::fs::write(&file, &archive).unwrap();
    assert!(entries(&file).iter().any(|(n, _)| n == "pod/posts.jsonl"));
    // Nothing of it stays in A's media store.
    assert_eq!(
        count_files(&dir.path().join("A.sqlite.media").join("data")),
        0
    );

    // The upload on B: refused without the token first, and a broken archive refused with its
    // reason and nothing stored; the real one imported.
    let web_b = Session::new(&b, "alice2").await;
    let part = |bytes: Vec<u8>| {
        reqwest::multipart::Part::bytes(bytes)
            .file_name("archive.tar.gz")
            .mime_str("application/gzip")
            .unwrap()
    };
    let (status, _) = web_b
        .post_multipart(
            "/profile/archive/import",
            reqwest::multipart::Form::new().part("file", part(archive.clone())),
        )
        .await;
    assert_eq!(status, 403);
    let (status, page) = web_b
        .post_multipart(
            "/profile/archive/import",
            web_b
                .multipart()
                .part("file", part(archive[..archive.len() / 2].to_vec())),
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("truncated"), "{page}");
    let state = b.instance.state();
    let scope = state.scope_of(&alice2).await.unwrap();
    assert!(
        state
            .outbox(&alice2, &scope, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, page) = web_b
        .post_multipart(
            "/profile/archive/import",
            web_b.multipart().part("file", part(archive)),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Archive imported"), "{page}");
    assert!(page.contains("Posts: 1."), "{page}");
    let (_, page) = web_b.get("/actors/alice2").await;
    assert!(page.contains("Posted on A."), "{page}");
    assert!(page.contains("Alice from A"), "{page}");
}

/// In a real headless Chromium: alice2 on B signs in, goes from her profile to the export and
/// import page, chooses the archive alice made on A and imports it; her page then shows the
/// post with where it was first published.
#[tokio::test(flavor = "multi_thread")]
async fn an_archive_is_imported_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    person(&a, "alice").await;
    person(&b, "alice2").await;
    a.instance
        .set_profile("alice", &pod::Profile::new("Alice from A"))
        .await
        .unwrap();
    let post = a
        .instance
        .write_post("alice", "Written on *A*.", &pod::PostAudience::Public)
        .await
        .unwrap();
    let file = dir.path().join("alice.tar.gz");
    a.instance.export_archive("alice", &file).await.unwrap();

    let browser = browser_harness::Browser::start().await.unwrap();
    let page = browser
        .session(browser_harness::Viewport::DESKTOP)
        .await
        .unwrap();
    page.goto(b.base_url.join("/login").unwrap().as_str())
        .await
        .unwrap();
    page.fill("Username", "alice2").await.unwrap();
    page.fill("Password", crate::support::PASSWORD)
        .await
        .unwrap();
    page.click_button("Sign in").await.unwrap();
    page.wait_for_text("Sign out").await.unwrap();
    page.click_link("Profile").await.unwrap();
    page.click_link("Export or import your account")
        .await
        .unwrap();
    page.wait_for_text("Download your archive").await.unwrap();
    page.choose_file("Archive (.tar.gz, at most 1024 MiB)", &file)
        .await
        .unwrap();
    page.click_button("Import this archive").await.unwrap();
    page.wait_for_text("Archive imported").await.unwrap();
    page.wait_for_text("Posts: 1.").await.unwrap();
    page.click_link("See your page").await.unwrap();
    page.wait_for_text("Originally published at").await.unwrap();
    let text = page.text().await.unwrap();
    assert!(text.contains("Written on A."), "{text}");
    assert!(text.contains(&post), "{text}");
    assert!(text.contains("Alice from A"), "{text}");
    page.close().await.unwrap();
}
