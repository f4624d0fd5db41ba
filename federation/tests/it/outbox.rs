//! From addressing to what is enqueued: followers expanded, remote actors resolved on loopback
//! servers, shared inboxes collapsed, hidden recipients stripped but delivered to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use activitypub_core::{AnyObject, Iri};
use federation::inbox::StoreError;
use federation::outbox::{Audience, Enqueuer, Outbox, OutboxError};
use federation_queue::{
    DeliveryId, Enqueue, EnqueueError, MemoryStore, Queue, ReqwestTransport, StaticKeys,
    TransportConfig, collapse_recipients,
};
use serde_json::{Value, json};
use url::Url;

use crate::support::{Remote, TestActor, key_cache};

const AS: &str = "https://www.w3.org/ns/activitystreams";

fn local(path: &str) -> Url {
    Url::parse("http://local.example/")
        .unwrap()
        .join(path)
        .unwrap()
}

fn iri(url: &Url) -> Iri {
    Iri::parse(url.as_str()).unwrap()
}

/// The app's collections: each local collection and its members.
#[derive(Default)]
struct Collections(BTreeMap<String, Vec<Iri>>);

impl Audience for Collections {
    async fn expand(&self, collection: &Iri) -> Result<Option<Vec<Iri>>, StoreError> {
        Ok(self.0.get(collection.as_str()).cloned())
    }
}

/// An app whose collections cannot be read.
struct Broken;

impl Audience for Broken {
    async fn expand(&self, _: &Iri) -> Result<Option<Vec<Iri>>, StoreError> {
        Err(StoreError::new(
            "reading the followers",
            std::io::Error::other("the database is down"),
        ))
    }
}

/// Keeps what is enqueued; answers one delivery id per distinct target, as the queue would.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Enqueue>>>);

impl Capture {
    fn items(&self) -> Vec<Enqueue> {
        self.0.lock().unwrap().clone()
    }
}

impl Enqueuer for Capture {
    async fn enqueue(&self, item: Enqueue) -> Result<Vec<DeliveryId>, EnqueueError> {
        let deliveries = collapse_recipients(&item.recipients)?;
        self.0.lock().unwrap().push(item);
        Ok((1..).map(DeliveryId).take(deliveries.len()).collect())
    }
}

/// Two remote servers: `a` where alice, bob and erin share an inbox, `b` where carol and dave
/// have their own only and `ghost` is not found.
struct World {
    a: Remote,
    b: Remote,
    alice: TestActor,
    bob: TestActor,
    erin: TestActor,
    carol: TestActor,
    dave: TestActor,
    ghost: Url,
    collections: Collections,
}

async fn world() -> World {
    let a = Remote::start().await;
    let b = Remote::start_as("localhost").await;
    let alice = a.served_actor("alice").await;
    let bob = a.served_actor("bob").await;
    let erin = a.served_actor("erin").await;
    let carol = b.actor("carol").without_shared_inbox();
    b.publish(&carol).await;
    let dave = b.actor("dave").without_shared_inbox();
    b.publish(&dave).await;
    b.serve_status("/users/ghost", 404).await;
    let ghost = b.url("/users/ghost");
    let mut collections = Collections::default();
    collections.0.insert(
        local("/actors/me/followers").to_string(),
        vec![
            iri(&alice.id),
            iri(&bob.id),
            iri(&local("/actors/other")),
            iri(&carol.id),
        ],
    );
    World {
        a,
        b,
        alice,
        bob,
        erin,
        carol,
        dave,
        ghost,
        collections,
    }
}

/// A `Create` by the local `me`, public and to its followers, with carol in `cc`, dave in
/// `bto`, the ghost in `bcc`, a local actor in `cc`, and erin in the note's own `bcc`.
fn create(world: &World) -> AnyObject {
    AnyObject::from_value(json!({
        "@context": AS,
        "id": local("/activities/1").as_str(),
        "type": "Create",
        "actor": local("/actors/me").as_str(),
        "to": ["https://www.w3.org/ns/activitystreams#Public", local("/actors/me/followers").as_str()],
        "cc": [world.carol.id.as_str(), local("/actors/zoe").as_str()],
        "bto": [world.dave.id.as_str()],
        "bcc": world.ghost.as_str(),
        "object": {
            "id": local("/notes/1").as_str(),
            "type": "Note",
            "attributedTo": local("/actors/me").as_str(),
            "content": "hello",
            "to": ["as:Public"],
            "cc": [local("/actors/me/followers").as_str()],
            "bcc": [world.erin.id.as_str()],
        },
    }))
    .unwrap()
}

fn inboxes(item: &Enqueue) -> Vec<String> {
    collapse_recipients(&item.recipients)
        .unwrap()
        .into_iter()
        .map(|delivery| delivery.inbox)
        .collect()
}

#[tokio::test]
async fn an_activity_goes_once_to_each_inbox_of_its_audience() {
    let world = world().await;
    let capture = Capture::default();
    let outbox = Outbox::new(capture.clone(), key_cache(), vec![local("/")]);

    let report = outbox
        .deliver(
            create(&world),
            "me",
            Some(local("/notes/1").as_str()),
            &world.collections,
        )
        .await
        .unwrap();

    // Followers expanded, the public collection and local actors skipped, each actor once
    // (carol is a follower and in `cc`), the note's recipients included.
    let recipients: Vec<&str> = report.recipients.iter().map(Iri::as_str).collect();
    assert_eq!(
        recipients,
        [
            world.alice.id.as_str(),
            world.bob.id.as_str(),
            world.carol.id.as_str(),
            world.dave.id.as_str(),
            world.erin.id.as_str(),
        ]
    );
    assert!(report.stripped_hidden);
    // The ghost could not be resolved; the others were delivered all the same.
    assert_eq!(report.unresolved.len(), 1);
    assert_eq!(report.unresolved[0].0, world.ghost.as_str());
    assert!(
        report.unresolved[0].1.contains("404"),
        "{}",
        report.unresolved[0].1
    );

    let items = capture.items();
    assert_eq!(items.len(), 1, "enqueued once for every recipient");
    let item = &items[0];
    assert_eq!(item.key_ref, "me");
    assert_eq!(
        item.ordering_key.as_deref(),
        Some(local("/notes/1").as_str())
    );
    // Each remote actor resolved to its inbox and shared inbox...
    let shared = world.a.shared_inbox();
    for actor in [&world.alice, &world.bob, &world.erin] {
        assert!(
            item.recipients
                .iter()
                .any(|r| r.inbox == actor.inbox() && r.shared_inbox.as_ref() == Some(&shared)),
            "{}",
            actor.id
        );
    }
    // ... so that alice, bob and erin share one delivery.
    assert_eq!(
        inboxes(item),
        [
            shared.to_string(),
            world.carol.inbox().to_string(),
            world.dave.inbox().to_string(),
        ]
    );
    assert_eq!(report.deliveries.len(), 3);

    // `bto` and `bcc` are gone from what is delivered, at both levels; the rest is intact.
    let delivered: Value = serde_json::from_slice(&item.activity).unwrap();
    for hidden in ["bto", "bcc"] {
        assert!(delivered.get(hidden).is_none(), "{delivered}");
        assert!(delivered["object"].get(hidden).is_none(), "{delivered}");
    }
    let text = String::from_utf8(item.activity.to_vec()).unwrap();
    assert!(!text.contains(world.dave.id.as_str()), "{text}");
    assert!(!text.contains(world.erin.id.as_str()), "{text}");
    assert_eq!(delivered["cc"][0], world.carol.id.as_str());
    assert_eq!(delivered["object"]["content"], "hello");
    assert_eq!(delivered["@context"], AS);

    // Each actor was fetched once; nothing was asked of this server's own actors.
    assert_eq!(world.a.requests().await, 3);
    assert_eq!(world.b.requests().await, 3);
}

#[tokio::test]
async fn a_remote_collection_is_reported_and_fetched_once() {
    let world = world().await;
    let followers = world.a.url("/users/alice/followers");
    world
        .a
        .serve(
            followers.path(),
            &json!({
                "@context": AS,
                "id": followers.as_str(),
                "type": "OrderedCollection",
                "totalItems": 3,
            }),
        )
        .await;
    let note = world.a.url("/notes/7");
    world
        .a
        .serve(
            note.path(),
            &json!({"@context": AS, "id": note.as_str(), "type": "Note", "content": "hi"}),
        )
        .await;
    let reply = || {
        AnyObject::from_value(json!({
            "@context": AS,
            "id": local("/activities/2").as_str(),
            "type": "Create",
            "actor": local("/actors/me").as_str(),
            "to": [world.alice.id.as_str()],
            "cc": [followers.as_str(), note.as_str()],
            "object": {
                "id": local("/notes/2").as_str(),
                "type": "Note",
                "attributedTo": local("/actors/me").as_str(),
                "content": "a reply",
            },
        }))
        .unwrap()
    };
    let capture = Capture::default();
    let outbox = Outbox::new(capture.clone(), key_cache(), vec![local("/")]);

    let mut fetched = Vec::new();
    for _ in 0..2 {
        let before = world.a.requests().await;
        let report = outbox
            .deliver(reply(), "me", None, &world.collections)
            .await
            .unwrap();
        fetched.push(world.a.requests().await - before);
        let recipients: Vec<&str> = report.recipients.iter().map(Iri::as_str).collect();
        assert_eq!(recipients, [world.alice.id.as_str()]);
        // The collection is another server's to expand: reported, not an error.
        let collections: Vec<&str> = report.remote_collections.iter().map(Iri::as_str).collect();
        assert_eq!(collections, [followers.as_str()]);
        // Something that is neither an actor nor a collection is an error.
        assert_eq!(report.unresolved.len(), 1, "{:?}", report.unresolved);
        assert_eq!(report.unresolved[0].0, note.as_str());
        assert!(
            report.unresolved[0].1.contains("Note"),
            "{}",
            report.unresolved[0].1
        );
    }
    // The first delivery fetched alice, the collection and the note; the second fetched
    // nothing: the key cache remembers what is not an actor, as it remembers actors.
    assert_eq!(fetched, [3, 0]);
    assert_eq!(capture.items().len(), 2);
}

#[tokio::test]
async fn the_queue_makes_one_delivery_per_shared_inbox() {
    let world = world().await;
    let queue = Queue::new(
        MemoryStore::new(),
        ReqwestTransport::new(TransportConfig::new()).unwrap(),
        StaticKeys::new(),
    );
    let outbox = Outbox::new(queue, key_cache(), vec![local("/")]);

    let report = outbox
        .deliver(create(&world), "me", None, &world.collections)
        .await
        .unwrap();

    assert_eq!(report.recipients.len(), 5);
    assert_eq!(report.deliveries.len(), 3);
    let counts = outbox.queue().counts().await.unwrap();
    assert_eq!(counts.pending, 3, "{counts:?}");
}

#[tokio::test]
async fn an_activity_for_local_actors_and_the_public_only_enqueues_nothing() {
    let capture = Capture::default();
    let outbox = Outbox::new(capture.clone(), key_cache(), vec![local("/")]);
    let mut collections = Collections::default();
    collections.0.insert(
        local("/actors/me/followers").to_string(),
        vec![iri(&local("/actors/other"))],
    );
    let like = AnyObject::from_value(json!({
        "@context": AS,
        "id": local("/activities/2").as_str(),
        "type": "Like",
        "actor": local("/actors/me").as_str(),
        "object": local("/notes/9").as_str(),
        "to": ["Public", local("/actors/zoe").as_str()],
        "cc": [local("/actors/me/followers").as_str()],
    }))
    .unwrap();

    let report = outbox
        .deliver(like, "me", None, &collections)
        .await
        .unwrap();

    assert!(report.recipients.is_empty());
    assert!(report.unresolved.is_empty(), "{:?}", report.unresolved);
    assert!(report.deliveries.is_empty());
    assert!(!report.stripped_hidden);
    assert!(capture.items().is_empty());
}

#[tokio::test]
async fn a_collection_the_app_cannot_read_fails_the_delivery() {
    let world = world().await;
    let capture = Capture::default();
    let outbox = Outbox::new(capture.clone(), key_cache(), vec![local("/")]);

    let error = outbox
        .deliver(create(&world), "me", None, &Broken)
        .await
        .unwrap_err();

    assert!(
        matches!(&error, OutboxError::Audience { collection, .. } if *collection == local("/actors/me/followers").as_str()),
        "{error:?}"
    );
    assert!(capture.items().is_empty());
}

#[tokio::test]
async fn every_recipient_is_resolved_however_many_and_however_late() {
    let remote = Remote::start().await;
    let mut followers = Vec::new();
    for n in 0..25 {
        followers.push(iri(&remote.served_actor(&format!("follower{n}")).await.id));
    }
    let mut collections = Collections::default();
    collections
        .0
        .insert(local("/actors/me/followers").to_string(), followers.clone());
    let capture = Capture::default();
    // Made when the server starts...
    let outbox = Outbox::new(capture.clone(), key_cache(), vec![local("/")]);
    // ... used a minute later.
    tokio::time::pause();
    tokio::time::advance(std::time::Duration::from_secs(60)).await;
    tokio::time::resume();
    let note = AnyObject::from_value(json!({
        "@context": AS,
        "id": local("/notes/2").as_str(),
        "type": "Note",
        "attributedTo": local("/actors/me").as_str(),
        "to": [local("/actors/me/followers").as_str()],
    }))
    .unwrap();

    let report = outbox
        .deliver(note, "me", None, &collections)
        .await
        .unwrap();

    assert!(report.unresolved.is_empty(), "{:?}", report.unresolved);
    assert_eq!(report.recipients, followers);
    assert_eq!(capture.items()[0].recipients.len(), 25);
    assert_eq!(remote.requests().await, 25);
}
