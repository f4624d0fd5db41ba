//! Every collection the instance's documents name answers, paged like the actors' collections.

use events_instance::demo::{Client, admin_of, loopback_instance};
use serde_json::{Value, json};

use crate::peer::get_json;

/// The URLs on `base` that `document` names as collections: its collection members, and the
/// local addresses it (or its embedded object) is sent to.
fn named_collections(document: &Value, base: &str, out: &mut Vec<String>) {
    for key in [
        "outbox",
        "followers",
        "following",
        "members",
        "replies",
        "participants",
    ] {
        if let Some(url) = document[key].as_str() {
            out.push(url.to_owned());
        }
    }
    for key in ["to", "cc", "bto", "bcc", "audience"] {
        for address in document[key].as_array().into_iter().flatten() {
            // Actors (`actors/{name}`) are addressed too; they are not collections.
            if let Some(url) = address.as_str().filter(|a| a.starts_with(base))
                && url.trim_start_matches(base).matches('/').count() > 1
                && !out.iter().any(|known| known == url)
            {
                out.push(url.to_owned());
            }
        }
    }
    if document["object"].is_object() {
        named_collections(&document["object"], base, out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_collection_a_document_names_answers() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let alpha = loopback_instance(dir.path(), "alpha").await?;
    let admin = admin_of(&alpha, dir.path(), "alpha");
    let alice = Client::from_identity(&admin.create_identity("alice").await?)?;
    let group = admin.create_group("hikers", "alice").await?["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = alice
        .post(
            json!({"type": "Event", "name": "Ridge walk", "startTime": "2031-10-04T09:00:00+02:00",
            "attributedTo": group}),
        )
        .await?;
    let event = create["object"]["id"].as_str().unwrap().to_owned();
    let comment = alice
        .post(json!({"type": "Note", "inReplyTo": event, "content": "<p>Bring water.</p>"}))
        .await?;

    let base = alpha.base_url.as_str();
    let mut collections = Vec::new();
    for url in [
        &alice.actor,
        &group,
        &format!("{base}actors/instance"),
        &event,
    ] {
        let (status, document) = get_json(url).await?;
        assert_eq!(status, 200, "{url}");
        named_collections(&document, base, &mut collections);
    }
    named_collections(&create, base, &mut collections);
    named_collections(&comment, base, &mut collections);
    for expected in [
        "/replies",
        "/participants",
        "/members",
        "/followers",
        "/outbox",
    ] {
        assert!(
            collections.iter().any(|c| c.ends_with(expected)),
            "no {expected} among {collections:?}"
        );
    }
    for url in &collections {
        let (status, collection) = get_json(url).await?;
        assert_eq!(status, 200, "{url}: {collection}");
        assert_eq!(collection["type"], "OrderedCollection", "{url}");
        assert_eq!(collection["id"], url.as_str());
        let first = collection["first"].as_str().unwrap();
        let (status, page) = get_json(first).await?;
        assert_eq!(status, 200, "{first}");
        assert_eq!(page["type"], "OrderedCollectionPage", "{first}");
        assert_eq!(page["partOf"], url.as_str(), "{first}");
        assert!(page["orderedItems"].is_array(), "{first}");
    }
    // The replies of the event hold the comment; a page past the end is empty, and a query
    // that is not a page is not a collection.
    let (_, page) = get_json(&format!("{event}/replies?page=1")).await?;
    assert_eq!(page["orderedItems"], json!([comment["object"]["id"]]));
    assert!(page.get("next").is_none());
    let (_, page) = get_json(&format!("{event}/replies?page=2")).await?;
    assert_eq!(page["orderedItems"], json!([]));
    assert_eq!(page["prev"], format!("{event}/replies?page=1"));
    let (status, _) = get_json(&format!("{event}/replies?page=0")).await?;
    assert_eq!(status, 404);
    alpha.stop().await?;
    Ok(())
}
