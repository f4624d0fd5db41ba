//! What an app with tables of its own needs of the stored objects: a page of objects it chose
//! (in its own order, with `Scope::condition`), and a document read and replaced inside its
//! own transaction, the addressing kept.

use instance_state::conformance::{BASE, ManualClock, options};
use instance_state::objects::{PUBLIC, Scope};
use serde_json::json;

use crate::support::{remove_db, sqlite_at};

#[tokio::test]
async fn objects_in_the_apps_order_and_documents_read_and_replaced_under_its_lock() {
    let clock = ManualClock::new();
    let (state, path) = sqlite_at("app_objects", options(&clock)).await;
    let alice = format!("{BASE}/actors/alice");
    let public = format!("{BASE}/events/1");
    let private = format!("{BASE}/events/2");
    state
        .put_object(
            &json!({"id": public, "type": "Event", "attributedTo": alice, "to": [PUBLIC]}),
            true,
        )
        .await
        .unwrap();
    state
        .put_object(
            &json!({"id": private, "type": "Event", "attributedTo": alice,
                "to": [format!("{BASE}/actors/bob")], "bcc": ["https://elsewhere.test/carol"]}),
            true,
        )
        .await
        .unwrap();

    // In the order asked, the unknown left out.
    let ids = [
        private.clone(),
        format!("{BASE}/events/none"),
        public.clone(),
    ];
    let found = state.objects(&ids).await.unwrap();
    let found: Vec<&str> = found.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(found, [private.as_str(), public.as_str()]);
    assert!(state.objects(&[]).await.unwrap().is_empty());

    // Replaced in the caller's transaction: nothing changes until it commits, and the
    // addressing (the bcc recipient among it) stays.
    let mut tx = state.pool().begin().await.unwrap();
    let document = json!({"id": private, "type": "Event", "name": "moved", "to": [PUBLIC],
        "bcc": ["https://elsewhere.test/dave"]});
    assert!(
        state
            .replace_document(&mut tx, &private, &document)
            .await
            .unwrap()
    );
    assert!(
        !state
            .replace_document(&mut tx, &format!("{BASE}/events/none"), &document)
            .await
            .unwrap()
    );
    // Read in the transaction, the replacement is there (and the addressing with it); read
    // elsewhere, not yet.
    let inside = state.object_in(&mut tx, &private).await.unwrap().unwrap();
    assert_eq!(inside.document["name"], "moved");
    assert!(inside.addressing.names("https://elsewhere.test/carol"));
    assert!(state.object_in(&mut tx, "none").await.unwrap().is_none());
    let outside = state.object(&private).await.unwrap().unwrap();
    assert!(outside.document.get("name").is_none());
    tx.commit().await.unwrap();
    let stored = state.object(&private).await.unwrap().unwrap();
    assert_eq!(stored.document["name"], "moved");
    assert!(stored.document.get("bcc").is_none());
    assert!(!Scope::anonymous().sees(&stored.addressing));
    assert!(Scope::of(["https://elsewhere.test/carol".to_owned()]).sees(&stored.addressing));

    // A rolled-back replacement leaves the document as it was.
    let mut tx = state.pool().begin().await.unwrap();
    state
        .replace_document(&mut tx, &private, &json!({"id": private, "type": "Event"}))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let stored = state.object(&private).await.unwrap().unwrap();
    assert_eq!(stored.document["name"], "moved");
    state.close().await;
    remove_db(&path);
}
