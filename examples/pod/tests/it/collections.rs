//! A post's `replies`, `likes` and `shares` collections: named in its document, paged, and
//! read only by whoever may read the post (a post to an aspect: its members, signed).

use pod::PostAudience;
use serde_json::json;

use crate::support::{fetch, html, person, pod, signed_fetch, until_following};

#[tokio::test(flavor = "multi_thread")]
async fn a_posts_collections_are_counted_paged_and_as_private_as_the_post() {
    post_collections().await;
}

/// The flow of the test above (also run on PostgreSQL).
pub(crate) async fn post_collections() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice = person(&a, "alice").await;
    let bob = person(&a, "bob").await;
    person(&a, "carol").await;
    a.instance.follow("bob", &alice).await.unwrap();
    until_following(&a, &bob, &alice).await;

    let public = a
        .instance
        .write_post("alice", "Open day at the garden", &PostAudience::Public)
        .await
        .unwrap();
    let comment = a
        .instance
        .write_comment("bob", &public, "I will bring seeds")
        .await
        .unwrap();
    assert!(a.instance.like("carol", &public).await.unwrap());
    assert!(a.instance.like("bob", &public).await.unwrap());
    a.instance.reshare("bob", &public).await.unwrap();

    let (status, note) = fetch(&public).await;
    assert_eq!(status, 200, "{note}");
    for kind in ["replies", "likes", "shares"] {
        assert_eq!(note[kind], json!(format!("{public}/{kind}")), "{note}");
    }
    let (status, replies) = fetch(&format!("{public}/replies")).await;
    assert_eq!(status, 200, "{replies}");
    assert_eq!(replies["type"], "OrderedCollection");
    assert_eq!(replies["totalItems"], 1);
    let (_, first) = fetch(replies["first"].as_str().unwrap()).await;
    assert_eq!(first["type"], "OrderedCollectionPage", "{first}");
    assert_eq!(first["orderedItems"], json!([comment]));
    assert_eq!(first["partOf"], json!(format!("{public}/replies")));
    assert_eq!(fetch(&format!("{public}/likes")).await.1["totalItems"], 2);
    assert_eq!(fetch(&format!("{public}/shares")).await.1["totalItems"], 1);
    // The comment's own replies: none yet.
    assert_eq!(
        fetch(&format!("{comment}/replies")).await.1["totalItems"],
        0
    );
    // What is not a page of them is no document.
    for query in [
        "replies?page=0",
        "replies?page=x",
        "replies?page=1&page=2",
        "likes?page=1",
    ] {
        assert_eq!(fetch(&format!("{public}/{query}")).await.0, 404, "{query}");
    }

    // A post to an aspect with bob in it: its collections are bob's to read, signed.
    let friends = a.instance.create_aspect("alice", "Friends").await.unwrap();
    a.instance
        .add_to_aspect("alice", &friends, &bob)
        .await
        .unwrap();
    let limited = a
        .instance
        .write_post(
            "alice",
            "Keys under the pot",
            &PostAudience::Aspects(vec![friends]),
        )
        .await
        .unwrap();
    let answer = a
        .instance
        .write_comment("bob", &limited, "Got it")
        .await
        .unwrap();
    let url = format!("{limited}/replies");
    assert_eq!(fetch(&url).await.0, 404);
    assert_eq!(signed_fetch(&a, "carol", &url).await.0, 404);
    assert_eq!(fetch(&format!("{limited}/likes")).await.0, 404);
    let (status, replies) = signed_fetch(&a, "bob", &url).await;
    assert_eq!(status, 200, "{replies}");
    assert_eq!(replies["totalItems"], 1);
    let (_, page) = signed_fetch(&a, "bob", &format!("{url}?page=1")).await;
    assert_eq!(page["orderedItems"], json!([answer]), "{page}");

    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tags_page_and_collection_page_back_through_every_post() {
    tag_paging().await;
}

/// The flow of the test above (also run on PostgreSQL).
pub(crate) async fn tag_paging() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    person(&a, "alice").await;
    let mut posts = Vec::new();
    for n in 0..45 {
        posts.push(
            a.instance
                .write_post(
                    "alice",
                    &format!("Bed number {n} #Garden"),
                    &PostAudience::Public,
                )
                .await
                .unwrap(),
        );
    }
    a.instance
        .write_post(
            "alice",
            "Not for everyone #Garden",
            &PostAudience::Followers,
        )
        .await
        .unwrap();
    let tag = a.base_url.join("tags/garden").unwrap().to_string();

    // The collection: 45 public posts, newest first, 20 a page.
    let (status, collection) = fetch(&tag).await;
    assert_eq!(status, 200, "{collection}");
    assert_eq!(collection["totalItems"], 45);
    assert_eq!(collection["last"], json!(format!("{tag}?page=3")));
    let mut seen = Vec::new();
    let mut next = collection["first"].as_str().map(str::to_owned);
    while let Some(url) = next {
        assert!(seen.len() <= 45, "pages do not end");
        let (_, page) = fetch(&url).await;
        for id in page["orderedItems"].as_array().unwrap() {
            seen.push(id.as_str().unwrap().to_owned());
        }
        next = page["next"].as_str().map(str::to_owned);
    }
    let newest_first: Vec<String> = posts.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    // The page: 40, then the older ones behind a link.
    let (status, first) = html(tag.clone()).await;
    assert_eq!(status, 200);
    assert!(first.contains("Bed number 44 "), "{first}");
    assert!(first.contains("Bed number 5 "), "{first}");
    assert!(!first.contains("Bed number 4 "), "{first}");
    assert!(first.contains("href=\"?page=2\""), "{first}");
    let (_, second) = html(format!("{tag}?page=2")).await;
    assert!(
        second.contains("Bed number 4 ") && second.contains("Bed number 0 "),
        "{second}"
    );
    assert!(!second.contains("Older posts"), "{second}");
    assert!(!second.contains("Not for everyone"), "{second}");
    for bad in ["page=0", "page=two", "sort=old"] {
        assert_eq!(html(format!("{tag}?{bad}")).await.0, 404, "{bad}");
    }

    a.stop().await.unwrap();
}
