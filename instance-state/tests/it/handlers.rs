//! The social handlers behind federation's inbox: signed deliveries from a remote actor go
//! through the whole pipeline (signature, origin, blocks, idempotency) into the state, and the
//! answers go out through the outbox.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use activitypub_core::{ActivityType, AnyObject, Iri};
use bytes::Bytes;
use federation::fetch::{FetchConfig, Fetcher};
use federation::inbox::{
    Accepted, Dispatcher, HandlerError, Inbox, InboxConfig, Incoming, Rejection,
};
use federation::keys::{KeyCache, KeyCacheConfig};
use federation::outbox::{Enqueuer, Outbox};
use federation_queue::{DeliveryId, Enqueue, EnqueueError};
use http_signatures::{Signer, SigningKey, Standard};
use instance_state::actors::{ActorKind, NewActor};
use instance_state::blocks::BlockTarget;
use instance_state::conformance::{ManualClock, actor};
use instance_state::follows::FollowState;
use instance_state::handlers::{Social, social_handlers};
use instance_state::moderation::ReportState;
use instance_state::{InstanceState, Options};
use serde_json::{Value, json};
use url::Url;

use crate::support::sqlite;

const AS: &str = "https://www.w3.org/ns/activitystreams";
pub(crate) const BASE: &str = "https://local.test";

/// The deliveries the outbox enqueued.
#[derive(Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Enqueue>>>);

impl Enqueuer for Recorder {
    async fn enqueue(&self, item: Enqueue) -> Result<Vec<DeliveryId>, EnqueueError> {
        self.0.lock().unwrap().push(item);
        Ok(Vec::new())
    }
}

impl Recorder {
    /// The activities enqueued since the last call, with their inboxes and key references.
    pub(crate) fn take(&self) -> Vec<(Value, Vec<String>, String)> {
        self.0
            .lock()
            .unwrap()
            .drain(..)
            .map(|item| {
                let inboxes = item
                    .recipients
                    .iter()
                    .map(|r| r.shared_inbox.as_ref().unwrap_or(&r.inbox).to_string())
                    .collect();
                (
                    serde_json::from_slice(&item.activity).unwrap(),
                    inboxes,
                    item.key_ref,
                )
            })
            .collect()
    }
}

/// The app: the state, an outbox, the key cache, and what reached the app's own handlers.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) state: InstanceState,
    pub(crate) outbox: Outbox<Recorder>,
    pub(crate) keys: KeyCache,
    unhandled: Arc<Mutex<Vec<String>>>,
    deleted: Arc<Mutex<Vec<String>>>,
}

impl Social for App {
    type Queue = Recorder;

    fn state(&self) -> &InstanceState {
        &self.state
    }

    fn outbox(&self) -> &Outbox<Recorder> {
        &self.outbox
    }

    fn keys(&self) -> Option<&KeyCache> {
        Some(&self.keys)
    }

    async fn unhandled(&self, incoming: Incoming) -> Result<(), HandlerError> {
        self.unhandled
            .lock()
            .unwrap()
            .push(incoming.activity.kind.to_string());
        Ok(())
    }

    async fn actor_deleted(&self, actor: &Iri) -> Result<(), HandlerError> {
        self.deleted.lock().unwrap().push(actor.to_string());
        Ok(())
    }
}

/// A remote actor on `https://{host}`, with an Ed25519 key.
pub(crate) struct Remote {
    pub(crate) id: String,
    pub(crate) key: SigningKey,
}

impl Remote {
    pub(crate) fn new(host: &str, name: &str) -> Self {
        Self {
            id: format!("https://{host}/users/{name}"),
            key: SigningKey::generate_ed25519().unwrap(),
        }
    }

    pub(crate) fn key_id(&self) -> String {
        format!("{}#main-key", self.id)
    }

    fn document(&self, name: &str) -> Value {
        let url = Url::parse(&self.id).unwrap();
        json!({
            "@context": [AS, "https://w3id.org/security/v1"],
            "id": self.id,
            "type": "Person",
            "preferredUsername": url.path_segments().unwrap().next_back().unwrap(),
            "name": name,
            "inbox": format!("{}/inbox", self.id),
            // Where Friendica keeps it: not under the actor's id.
            "followers": format!(
                "https://{}/followers/{}",
                url.host_str().unwrap(),
                url.path_segments().unwrap().next_back().unwrap()
            ),
            "endpoints": {"sharedInbox": format!("https://{}/inbox", url.host_str().unwrap())},
            "publicKey": {
                "id": self.key_id(),
                "owner": self.id,
                "publicKeyPem": self.key.verifying_key().to_spki_pem().unwrap(),
            },
        })
    }

    /// Puts the actor's document in `keys`, as if fetched.
    pub(crate) fn known_to(&self, keys: &KeyCache) {
        let AnyObject::Actor(actor) =
            AnyObject::from_value(self.document("Remote Person")).unwrap()
        else {
            panic!("an actor");
        };
        keys.insert_actor(*actor).unwrap();
    }

    /// `activity` POSTed to the shared inbox, signed with the actor's key.
    fn post(&self, activity: &Value) -> http::Request<Bytes> {
        let body = serde_json::to_vec(activity).unwrap();
        let mut request = http::Request::post(format!("{BASE}/inbox"))
            .header(http::header::CONTENT_TYPE, "application/activity+json")
            .body(body)
            .unwrap();
        Signer::new(self.key.clone(), self.key_id())
            .with_standard(Standard::Cavage)
            .sign(&mut request, SystemTime::now())
            .unwrap();
        let (mut parts, body) = request.into_parts();
        parts
            .headers
            .insert(http::header::HOST, "local.test".parse().unwrap());
        parts.uri = "/inbox".parse().unwrap();
        http::Request::from_parts(parts, Bytes::from(body))
    }

    fn activity(&self, n: &str, kind: &str, object: Value) -> Value {
        json!({
            "@context": AS,
            "id": format!("{}/activities/{n}", self.id),
            "type": kind,
            "actor": self.id,
            "object": object,
        })
    }
}

pub(crate) struct World {
    pub(crate) app: App,
    pub(crate) clock: ManualClock,
    pub(crate) inbox: Inbox<App, InstanceState>,
    pub(crate) sent: Recorder,
}

pub(crate) async fn world() -> World {
    let clock = ManualClock::new();
    let base = Url::parse(BASE).unwrap();
    let state = sqlite(
        "handlers",
        Options::new(base.clone()).with_clock(clock.clock()),
    )
    .await;
    // Loopback peers (test-peer's) serve plain http on 127.0.0.1.
    let fetcher = Fetcher::new(
        FetchConfig::default()
            .with_danger_allow_http(true)
            .with_danger_allow_private_addresses(true),
    )
    .unwrap();
    let keys = KeyCache::new(fetcher.clone(), KeyCacheConfig::default());
    let sent = Recorder::default();
    let outbox = Outbox::new(sent.clone(), keys.clone(), vec![base.clone()]);
    let app = App {
        state: state.clone(),
        outbox,
        keys: keys.clone(),
        unhandled: Arc::default(),
        deleted: Arc::default(),
    };
    let dispatcher = social_handlers(Dispatcher::new()).on(
        ActivityType::Create,
        |app: App, incoming: Incoming| async move { app.unhandled(incoming).await },
    );
    let inbox = Inbox::new(
        InboxConfig::new(&base),
        keys,
        fetcher,
        state,
        dispatcher,
        app.clone(),
    );
    World {
        app,
        clock,
        inbox,
        sent,
    }
}

impl World {
    pub(crate) async fn receive(
        &self,
        request: &http::Request<Bytes>,
    ) -> Result<Accepted, Rejection> {
        self.inbox.receive(request, None).await
    }

    pub(crate) fn state(&self) -> &InstanceState {
        &self.app.state
    }

    /// `activity` delivered by `from`, signed, to the shared inbox: it must be accepted.
    async fn deliver(&self, from: &Remote, activity: &Value) -> Accepted {
        self.receive(&from.post(activity)).await.unwrap()
    }

    /// Creates the local actor `new`.
    pub(crate) async fn add(&self, new: NewActor) {
        self.state().create_actor(new).await.unwrap();
    }

    /// The state of `follower`'s follow of `followed`, if any.
    async fn follow_state(&self, follower: &str, followed: &str) -> Option<FollowState> {
        let follow = self.state().follow(follower, followed).await.unwrap();
        follow.map(|f| f.state)
    }
}

pub(crate) fn local(name: &str) -> String {
    format!("{BASE}/actors/{name}")
}

#[tokio::test]
async fn follows_are_accepted_or_wait_for_approval() {
    let world = world().await;
    let state = world.state();
    world.add(actor("club", ActorKind::Group)).await;
    world
        .add(actor("shy", ActorKind::Person).with_manually_approves_followers(true))
        .await;
    let bob = Remote::new("remote.test", "bob");
    bob.known_to(&world.app.keys);

    // Auto-accepted: the follow is accepted and an Accept goes to bob's server.
    let follow = bob.activity("1", "Follow", json!(local("club")));
    let accepted = world.deliver(&bob, &follow).await;
    assert!(
        matches!(accepted, Accepted::Processed { .. }),
        "{accepted:?}"
    );
    let stored = state
        .follow(&bob.id, &local("club"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, FollowState::Accepted);
    assert_eq!(stored.follow_id, follow["id"]);
    let sent = world.sent.take();
    assert_eq!(sent.len(), 1);
    let (accept, inboxes, key_ref) = &sent[0];
    assert_eq!(accept["type"], "Accept");
    assert_eq!(accept["actor"], local("club"));
    assert_eq!(accept["object"]["id"], follow["id"]);
    assert_eq!(accept["object"]["actor"], bob.id.as_str());
    assert_eq!(inboxes, &["https://remote.test/inbox"]);
    assert_eq!(key_ref, "club");
    // The Accept is in the outbox, for bob to read; the follower was named and notified.
    let outbox = state
        .outbox(
            &local("club"),
            &state.scope_of(&bob.id).await.unwrap(),
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        state
            .remote_actor(&bob.id)
            .await
            .unwrap()
            .unwrap()
            .handle
            .as_deref(),
        Some("@bob@remote.test")
    );
    // And its followers collection, as its document names it.
    assert_eq!(
        state
            .remote_actor(&bob.id)
            .await
            .unwrap()
            .unwrap()
            .followers
            .as_deref(),
        Some("https://remote.test/followers/bob")
    );
    let notes = state.notifications(&local("club"), true, 10).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, "follow");
    // The same Follow again is a duplicate: nothing sent.
    let again = world.deliver(&bob, &follow).await;
    assert!(matches!(again, Accepted::Duplicate { .. }), "{again:?}");
    assert!(world.sent.take().is_empty());

    // Manual approval: pending, a follow request, nothing sent until the actor decides.
    let follow = bob.activity("2", "Follow", json!(local("shy")));
    world.deliver(&bob, &follow).await;
    assert_eq!(
        world.follow_state(&bob.id, &local("shy")).await,
        Some(FollowState::Pending)
    );
    assert!(world.sent.take().is_empty());
    assert_eq!(
        state.notifications(&local("shy"), true, 10).await.unwrap()[0].kind,
        "follow_request"
    );
    state
        .accept_follower(&world.app.outbox, "shy", &bob.id)
        .await
        .unwrap();
    assert_eq!(
        world.follow_state(&bob.id, &local("shy")).await,
        Some(FollowState::Accepted)
    );
    let sent = world.sent.take();
    assert_eq!(sent[0].0["type"], "Accept");
    assert_eq!(sent[0].0["object"]["id"], follow["id"]);
    // And rejecting removes the follower, with a Reject.
    state
        .reject_follower(&world.app.outbox, "shy", &bob.id)
        .await
        .unwrap();
    assert_eq!(world.sent.take()[0].0["type"], "Reject");
    assert_eq!(
        state
            .follower_count(&local("shy"), FollowState::Accepted)
            .await
            .unwrap(),
        0
    );

    // Undo{Follow}.
    let undo = bob.activity(
        "3",
        "Undo",
        json!({"id": format!("{}/activities/1", bob.id), "type": "Follow", "actor": bob.id, "object": local("club")}),
    );
    world.deliver(&bob, &undo).await;
    assert_eq!(world.follow_state(&bob.id, &local("club")).await, None);

    // A Follow of no one of ours is acknowledged, and nothing is stored.
    let follow = bob.activity("4", "Follow", json!(local("nobody")));
    world.deliver(&bob, &follow).await;
    assert_eq!(world.follow_state(&bob.id, &local("nobody")).await, None);
}

#[tokio::test]
async fn our_follows_are_answered_and_others_reach_the_app() {
    let world = world().await;
    let state = world.state();
    world.add(actor("me", ActorKind::Person)).await;
    let bob = Remote::new("remote.test", "bob");
    let eve = Remote::new("remote.test", "eve");
    bob.known_to(&world.app.keys);
    eve.known_to(&world.app.keys);
    let follow = state
        .send_follow(&world.app.outbox, "me", &bob.id)
        .await
        .unwrap();
    assert_eq!(follow.state, FollowState::Pending);
    let sent = world.sent.take();
    assert_eq!(sent[0].0["type"], "Follow");
    assert_eq!(sent[0].0["object"], bob.id.as_str());
    assert_eq!(sent[0].1, ["https://remote.test/inbox"]);
    // Someone else cannot answer it.
    let forged = eve.activity("1", "Accept", json!(follow.follow_id));
    world.deliver(&eve, &forged).await;
    assert_eq!(
        world.follow_state(&local("me"), &bob.id).await,
        Some(FollowState::Pending)
    );
    // Bob accepts it, by id.
    let accept = bob.activity("1", "Accept", json!(follow.follow_id));
    world.deliver(&bob, &accept).await;
    assert_eq!(
        world.follow_state(&local("me"), &bob.id).await,
        Some(FollowState::Accepted)
    );
    let items = state
        .collection_items(
            "me",
            federation::routes::CollectionKind::Following,
            0,
            10,
            None,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(items.items, [json!(bob.id)]);
    // Eve rejects ours, embedded without an id.
    state
        .send_follow(&world.app.outbox, "me", &eve.id)
        .await
        .unwrap();
    world.sent.take();
    let reject = eve.activity(
        "2",
        "Reject",
        json!({"type": "Follow", "actor": local("me"), "object": eve.id}),
    );
    world.deliver(&eve, &reject).await;
    assert_eq!(
        world.follow_state(&local("me"), &eve.id).await,
        Some(FollowState::Rejected)
    );
    // Unfollowing sends Undo.
    assert!(
        state
            .send_unfollow(&world.app.outbox, "me", &bob.id)
            .await
            .unwrap()
    );
    assert_eq!(world.sent.take()[0].0["type"], "Undo");
    // What is not about follows reaches the app.
    let join_answer = bob.activity("3", "Accept", json!(format!("{BASE}/joins/1")));
    world.deliver(&bob, &join_answer).await;
    let like_undo = bob.activity("4", "Undo", json!({"id": format!("{}/likes/1", bob.id), "type": "Like", "actor": bob.id, "object": format!("{BASE}/notes/1")}));
    world.deliver(&bob, &like_undo).await;
    let create = bob.activity(
        "5",
        "Create",
        json!({"id": format!("{}/notes/1", bob.id), "type": "Note", "attributedTo": bob.id}),
    );
    world.deliver(&bob, &create).await;
    assert_eq!(
        *world.app.unhandled.lock().unwrap(),
        ["Accept", "Undo", "Create"]
    );
}

#[tokio::test]
async fn blocks_are_obeyed_by_the_inbox_and_the_outbox() {
    let world = world().await;
    let state = world.state();
    world.add(actor("club", ActorKind::Group)).await;
    let bob = Remote::new("remote.test", "bob");
    let carol = Remote::new("remote.test", "carol");
    // Not in the key cache: a refusal must come before any key lookup (which would fail
    // otherwise with a fetch error, not a block).
    let spammer = Remote::new("spam.bad.test", "s");
    bob.known_to(&world.app.keys);
    carol.known_to(&world.app.keys);
    state
        .block(None, &BlockTarget::domain("bad.test"), "spam")
        .await
        .unwrap();
    let rejection = world
        .receive(&spammer.post(&spammer.activity("1", "Follow", json!(local("club")))))
        .await
        .unwrap_err();
    assert!(
        matches!(rejection, Rejection::Refused { .. }),
        "{rejection:?}"
    );
    assert_eq!(rejection.status(), http::StatusCode::FORBIDDEN);
    // An actor blocked by the instance: refused too, and nothing recorded.
    state
        .block(None, &BlockTarget::Actor(carol.id.clone()), "abuse")
        .await
        .unwrap();
    let follow = carol.activity("1", "Follow", json!(local("club")));
    assert!(matches!(
        world.receive(&carol.post(&follow)).await,
        Err(Rejection::Refused { .. })
    ));
    assert_eq!(state.processed_count().await.unwrap(), 0);
    state
        .unblock(None, &BlockTarget::Actor(carol.id.clone()))
        .await
        .unwrap();
    // An object on a blocked domain is refused as well (for a type with a handler: the
    // others are ignored before their object is looked at).
    let accept = bob.activity("9", "Accept", json!("https://bad.test/follows/1"));
    assert!(matches!(
        world.receive(&bob.post(&accept)).await,
        Err(Rejection::Refused { .. })
    ));
    // The club blocks carol: her Follow is rejected, not accepted.
    state
        .block(
            Some(&local("club")),
            &BlockTarget::Actor(carol.id.clone()),
            "",
        )
        .await
        .unwrap();
    world.deliver(&carol, &follow).await;
    assert_eq!(
        world.follow_state(&carol.id, &local("club")).await,
        Some(FollowState::Rejected)
    );
    let sent = world.sent.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0["type"], "Reject");
    // Bob follows; a note to followers and carol reaches bob only.
    world
        .deliver(&bob, &bob.activity("2", "Follow", json!(local("club"))))
        .await;
    world.sent.take();
    // Dave, in bcc, receives it and may read it, but is named nowhere.
    let dave = Remote::new("remote.test", "dave");
    dave.known_to(&world.app.keys);
    let mut note = state.new_activity(
        "Create",
        "club",
        json!({"id": format!("{BASE}/notes/1"), "type": "Note", "attributedTo": local("club"), "content": "hi"}),
        &[&format!("{}/followers", local("club")), &carol.id],
    );
    note["bcc"] = json!([dave.id]);
    let create_id = note["id"].as_str().unwrap().to_owned();
    let report = state
        .publish(&world.app.outbox, "club", note, None)
        .await
        .unwrap();
    let mut recipients: Vec<String> = report.recipients.iter().map(ToString::to_string).collect();
    recipients.sort();
    assert_eq!(recipients, [bob.id.as_str(), dave.id.as_str()]);
    let sent = world.sent.take();
    assert_eq!(sent.len(), 1);
    assert!(
        !sent[0].0.to_string().contains(&carol.id),
        "carol is not even named"
    );
    assert!(!sent[0].0.to_string().contains(&dave.id), "bcc is not sent");
    let dave_sees = state
        .outbox(
            &local("club"),
            &state.scope_of(&dave.id).await.unwrap(),
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(dave_sees.len(), 1);
    assert!(dave_sees[0].document.get("bcc").is_none());
    // Carol may not read it (her scope sees the Reject sent to her, not the note).
    let carol = state.scope_of(&carol.id).await.unwrap();
    assert!(
        state
            .visible_activity(&create_id, &carol)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        state
            .visible_activity(&create_id, &state.scope_of(&bob.id).await.unwrap())
            .await
            .unwrap()
            .is_some()
    );
    // A remote actor's Block of ours ends the follows both ways.
    state
        .send_follow(&world.app.outbox, "club", &bob.id)
        .await
        .unwrap();
    world
        .deliver(&bob, &bob.activity("3", "Block", json!(local("club"))))
        .await;
    assert_eq!(world.follow_state(&bob.id, &local("club")).await, None);
    assert_eq!(world.follow_state(&local("club"), &bob.id).await, None);
}

#[tokio::test]
async fn actors_update_and_delete_themselves_and_reports_are_filed() {
    let world = world().await;
    let state = world.state();
    world.add(actor("club", ActorKind::Group)).await;
    let bob = Remote::new("remote.test", "bob");
    bob.known_to(&world.app.keys);
    world
        .deliver(&bob, &bob.activity("1", "Follow", json!(local("club"))))
        .await;
    // Update of itself: the new name is kept.
    let update = bob.activity("2", "Update", bob.document("Bob Renamed"));
    world.deliver(&bob, &update).await;
    assert_eq!(
        state.remote_actor(&bob.id).await.unwrap().unwrap().name,
        "Bob Renamed"
    );
    // Its followers collection moved: the new one is kept; one on another server is not.
    let followers = |state: InstanceState, id: String| async move {
        state.remote_actor(&id).await.unwrap().unwrap().followers
    };
    let mut moved = bob.document("Bob Renamed");
    moved["followers"] = json!(format!("{}/followers", bob.id));
    // (Each Update drops the cached key, which these tests cannot fetch: known again.)
    bob.known_to(&world.app.keys);
    world
        .deliver(&bob, &bob.activity("2b", "Update", moved.clone()))
        .await;
    assert_eq!(
        followers(state.clone(), bob.id.clone()).await,
        Some(format!("{}/followers", bob.id))
    );
    moved["followers"] = json!(format!("{}/followers", local("club")));
    bob.known_to(&world.app.keys);
    world
        .deliver(&bob, &bob.activity("2c", "Update", moved))
        .await;
    assert_eq!(
        followers(state.clone(), bob.id.clone()).await,
        Some(format!("{}/followers", bob.id))
    );
    // A remote object of bob's, then its Delete: a Tombstone, and the app is told.
    state
        .put_object(&json!({"id": format!("{}/notes/1", bob.id), "type": "Note", "attributedTo": bob.id, "to": [AS.to_owned() + "#Public"]}), false)
        .await
        .unwrap();
    // Another account of bob's server cannot delete it (nor an event whose organizer bob is
    // not), though its server is the object's.
    let mallory = Remote::new("remote.test", "mallory");
    mallory.known_to(&world.app.keys);
    state
        .put_object(&json!({"id": format!("{}/events/1", bob.id), "type": "Event", "attributedTo": format!("{}/groups/g", bob.id), "actor": bob.id, "to": [AS.to_owned() + "#Public"]}), false)
        .await
        .unwrap();
    for object in ["notes/1", "events/1"] {
        let forged = mallory.activity(
            &format!("forged-{object}"),
            "Delete",
            json!(format!("{}/{object}", bob.id)),
        );
        world.deliver(&mallory, &forged).await;
        assert!(
            !state
                .object(&format!("{}/{object}", bob.id))
                .await
                .unwrap()
                .unwrap()
                .deleted,
            "{object} deleted by another account of its server"
        );
    }
    world.app.unhandled.lock().unwrap().clear();
    // The event's organizer deletes it.
    bob.known_to(&world.app.keys);
    let delete = bob.activity("3e", "Delete", json!(format!("{}/events/1", bob.id)));
    world.deliver(&bob, &delete).await;
    assert!(
        state
            .object(&format!("{}/events/1", bob.id))
            .await
            .unwrap()
            .unwrap()
            .deleted
    );
    world.app.unhandled.lock().unwrap().clear();
    bob.known_to(&world.app.keys);
    let delete = bob.activity("3", "Delete", json!(format!("{}/notes/1", bob.id)));
    world.deliver(&bob, &delete).await;
    assert!(
        state
            .object(&format!("{}/notes/1", bob.id))
            .await
            .unwrap()
            .unwrap()
            .deleted
    );
    assert_eq!(*world.app.unhandled.lock().unwrap(), ["Delete"]);
    // A Flag: one report per Flag.
    let flag = json!({
        "@context": AS,
        "id": format!("{}/flags/1", bob.id),
        "type": "Flag",
        "actor": bob.id,
        "content": "this group spams",
        "object": [local("club")],
    });
    world.deliver(&bob, &flag).await;
    let reports = state.reports(ReportState::Open, 10).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].target, local("club"));
    assert_eq!(reports[0].reporter, bob.id);
    assert_eq!(reports[0].content, "this group spams");
    // Delete of itself: forgotten, and the app is told.
    let delete = bob.activity("4", "Delete", json!(bob.id));
    world.deliver(&bob, &delete).await;
    assert_eq!(world.follow_state(&bob.id, &local("club")).await, None);
    assert!(state.remote_actor(&bob.id).await.unwrap().is_none());
    assert_eq!(*world.app.deleted.lock().unwrap(), [bob.id.as_str()]);
}

#[tokio::test]
async fn follows_between_local_actors_are_decided_without_http() {
    let world = world().await;
    let state = world.state();
    world.add(actor("ann", ActorKind::Person)).await;
    world.add(actor("open", ActorKind::Group)).await;
    world
        .add(actor("closed", ActorKind::Group).with_manually_approves_followers(true))
        .await;
    let open = state
        .send_follow(&world.app.outbox, "ann", &local("open"))
        .await
        .unwrap();
    assert_eq!(open.state, FollowState::Accepted);
    let closed = state
        .send_follow(&world.app.outbox, "ann", &local("closed"))
        .await
        .unwrap();
    assert_eq!(closed.state, FollowState::Pending);
    assert_eq!(
        state
            .notifications(&local("closed"), true, 10)
            .await
            .unwrap()[0]
            .kind,
        "follow_request"
    );
    state
        .accept_follower(&world.app.outbox, "closed", &local("ann"))
        .await
        .unwrap();
    assert_eq!(
        world.follow_state(&local("ann"), &local("closed")).await,
        Some(FollowState::Accepted)
    );
    assert!(world.sent.take().is_empty(), "nothing went over HTTP");
    // Unfollowing a local actor sends nothing either.
    assert!(
        state
            .send_unfollow(&world.app.outbox, "ann", &local("open"))
            .await
            .unwrap()
    );
    assert_eq!(
        world.follow_state(&local("ann"), &local("open")).await,
        None
    );
    assert!(world.sent.take().is_empty());
}
