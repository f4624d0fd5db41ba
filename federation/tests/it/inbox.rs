//! The inbox pipeline against remote actors served on loopback, with real keys: every refusal
//! names its step and stores nothing; what passes reaches its handler once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use activitypub_core::ActivityType;
use bytes::Bytes;
use federation::fetch::FetchBudget;
use federation::inbox::{
    Accepted, Dispatcher, DomainPolicy, Forward, HandlerError, Inbox, InboxConfig, Incoming,
    IncomingObject, MemoryInboxStore, REPLAY_KEY_PREFIX, Rejection, Vouch,
};
use federation::keys::KeyCache;
use http::StatusCode;
use http_signatures::digest::DigestError;
use http_signatures::{SigningKey, Standard};
use serde_json::{Value, json};
use url::Url;

use crate::support::{Remote, TestActor, fetcher, key_cache, now, signed_post, unsigned_post};

const AS: &str = "https://www.w3.org/ns/activitystreams";
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The handlers' state: every activity they were given, and how many calls should fail.
#[derive(Clone, Default)]
struct Calls {
    seen: Arc<Mutex<Vec<Incoming>>>,
    failures: Arc<AtomicUsize>,
    gone: Arc<Mutex<Vec<String>>>,
}

async fn handle(calls: Calls, incoming: Incoming) -> Result<(), HandlerError> {
    calls.seen.lock().unwrap().push(incoming);
    let fail = calls
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if fail {
        return Err(HandlerError::Failed("the database is down".into()));
    }
    Ok(())
}

/// This server, at `http://local.example/`: its inbox, store and handlers.
struct Local {
    inbox: Inbox<Calls, MemoryInboxStore>,
    store: MemoryInboxStore,
    calls: Calls,
    keys: KeyCache,
}

fn base() -> Url {
    Url::parse("http://local.example/").unwrap()
}

fn shared_inbox() -> Url {
    base().join("/inbox").unwrap()
}

/// A local server with handlers for the usual types (not `Flag`), configured by `configure`.
fn local_with(configure: impl FnOnce(InboxConfig) -> InboxConfig) -> Local {
    let mut dispatcher = Dispatcher::new();
    for kind in [
        ActivityType::Create,
        ActivityType::Update,
        ActivityType::Delete,
        ActivityType::Announce,
        ActivityType::Follow,
        ActivityType::Like,
        ActivityType::Undo,
    ] {
        dispatcher = dispatcher.on(kind, handle);
    }
    dispatcher =
        dispatcher.on_actor_gone(|calls: Calls, actor: activitypub_core::Iri| async move {
            calls.gone.lock().unwrap().push(actor.to_string());
            Ok(())
        });
    local_dispatching(dispatcher, configure)
}

/// A local server dispatching to `dispatcher`, configured by `configure`.
fn local_dispatching(
    dispatcher: Dispatcher<Calls>,
    configure: impl FnOnce(InboxConfig) -> InboxConfig,
) -> Local {
    let calls = Calls::default();
    let store = MemoryInboxStore::new();
    let keys = key_cache();
    let inbox = Inbox::new(
        configure(InboxConfig::new(&base())),
        keys.clone(),
        fetcher(),
        store.clone(),
        dispatcher,
        calls.clone(),
    );
    Local {
        inbox,
        store,
        calls,
        keys,
    }
}

/// `activity` POSTed to the shared inbox, signed by `actor` (draft-cavage) at `at`.
fn to_shared_inbox(
    actor: &TestActor,
    activity: &serde_json::Value,
    at: SystemTime,
) -> http::Request<Bytes> {
    signed_post(
        &actor.signer(Standard::Cavage),
        &shared_inbox(),
        activity,
        at,
    )
}

/// `actor`'s `Delete` of itself, as a server sends it when an account is removed.
fn self_delete(actor: &TestActor) -> serde_json::Value {
    json!({
        "@context": AS,
        "id": format!("{}#delete", actor.id),
        "type": "Delete",
        "actor": actor.id.as_str(),
        "object": actor.id.as_str(),
        "to": [PUBLIC],
    })
}

fn local() -> Local {
    local_with(|config| config)
}

impl Local {
    async fn receive(
        &self,
        request: &http::Request<Bytes>,
        at: SystemTime,
    ) -> Result<Accepted, Rejection> {
        self.inbox.receive_at(request, None, at).await
    }

    fn handled(&self) -> Vec<Incoming> {
        self.calls.seen.lock().unwrap().clone()
    }

    /// Nothing was recorded as processed, and no handler ran.
    fn assert_nothing_stored(&self) {
        assert_eq!(self.store.processed_count(), 0, "an id was recorded");
        assert_eq!(self.handled().len(), 0, "a handler ran");
    }
}

/// Checks that `result` is a rejection matching `expected`, answered `status`, and that nothing
/// was stored or handled.
macro_rules! assert_rejected {
    ($local:expr, $result:expr, $expected:pat, $status:expr) => {{
        match &$result {
            Err(rejection) => {
                assert!(
                    matches!(rejection, $expected),
                    "expected {}, got {rejection:?}",
                    stringify!($expected)
                );
                assert_eq!(rejection.status(), $status, "{rejection}");
            }
            Ok(accepted) => panic!("accepted: {accepted:?}"),
        }
        $local.assert_nothing_stored();
    }};
}

fn note(actor: &TestActor, n: u32) -> Value {
    json!({
        "id": actor.url(&format!("/notes/{n}")).as_str(),
        "type": "Note",
        "attributedTo": actor.id.as_str(),
        "content": "hello",
        "to": [PUBLIC],
    })
}

fn create(actor: &TestActor, n: u32) -> Value {
    json!({
        "@context": AS,
        "id": actor.url(&format!("/activities/create-{n}")).as_str(),
        "type": "Create",
        "actor": actor.id.as_str(),
        "to": [PUBLIC],
        "object": note(actor, n),
    })
}

fn follow(actor: &TestActor, n: u32) -> Value {
    json!({
        "@context": AS,
        "id": actor.url(&format!("/activities/follow-{n}")).as_str(),
        "type": "Follow",
        "actor": actor.id.as_str(),
        "object": base().join("/actors/bob").unwrap().as_str(),
    })
}

#[tokio::test]
async fn a_signed_activity_reaches_its_handler() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    let at = now();
    let activity = create(&alice, 1);

    let request = to_shared_inbox(&alice, &activity, at);
    let accepted = local.receive(&request, at).await.unwrap();

    let id = activity["id"].as_str().unwrap();
    assert_eq!(
        accepted,
        Accepted::Processed {
            id: Some(id.to_owned())
        }
    );
    let handled = local.handled();
    assert_eq!(handled.len(), 1);
    assert_eq!(handled[0].actor, alice.id.as_str());
    assert_eq!(handled[0].key.key_id, alice.key_id.as_str());
    assert_eq!(handled[0].body, request.body());
    assert!(handled[0].inbox_owner.is_none());
    // Embedded by its own server: believed as sent.
    let object = handled[0].object.object().expect("the embedded note");
    assert_eq!(
        Some(object.id().unwrap().as_str()),
        activity["object"]["id"].as_str()
    );
    assert_eq!(local.store.processed_count(), 1);
    // The key was fetched once, for the signature.
    assert_eq!(remote.requests().await, 1);
}

#[tokio::test]
async fn both_signature_standards_and_both_key_types_are_accepted() {
    let remote = Remote::start().await;
    let ed25519 = remote.served_actor("ed").await;
    let rsa = remote.actor_with_key("rsa", SigningKey::generate_rsa(2048).unwrap());
    remote.publish(&rsa).await;
    let local = local();
    let mut n = 0;
    for actor in [&ed25519, &rsa] {
        for standard in [Standard::Cavage, Standard::Rfc9421] {
            n += 1;
            let at = now();
            let activity = create(actor, n);
            let request = signed_post(&actor.signer(standard), &shared_inbox(), &activity, at);
            let header = match standard {
                Standard::Cavage => "signature",
                Standard::Rfc9421 => "signature-input",
            };
            assert!(request.headers().contains_key(header));
            let accepted = local.receive(&request, at).await;
            assert!(
                matches!(accepted, Ok(Accepted::Processed { .. })),
                "{} with {standard}: {accepted:?}",
                actor.id
            );
        }
    }
    assert_eq!(local.handled().len(), 4);
    assert_eq!(local.store.processed_count(), 4);
}

#[tokio::test]
async fn an_unsigned_post_is_refused() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();

    let result = local
        .receive(&unsigned_post(&shared_inbox(), &create(&alice, 1)), now())
        .await;

    assert_rejected!(
        local,
        result,
        Rejection::Signature(_),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(result.unwrap_err().step(), "signature");
    // Nothing to fetch without a key id.
    assert_eq!(remote.requests().await, 0);
}

#[tokio::test]
async fn a_signature_by_another_actor_than_the_activitys_is_refused() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let mallory = remote.served_actor("mallory").await;
    let local = local();
    let at = now();

    // Mallory signs, with her own valid key, an activity claiming to be Alice's.
    let request = signed_post(
        &mallory.signer(Standard::Cavage),
        &shared_inbox(),
        &create(&alice, 1),
        at,
    );
    let result = local.receive(&request, at).await;

    assert_rejected!(
        local,
        result,
        Rejection::ActorMismatch { .. },
        StatusCode::UNAUTHORIZED
    );
    let Err(Rejection::ActorMismatch { key_owner, actor }) = result else {
        unreachable!()
    };
    assert_eq!(key_owner, mallory.id.as_str());
    assert_eq!(actor, alice.id.as_str());
}

#[tokio::test]
async fn an_activity_id_on_another_host_than_its_actor_is_refused() {
    let remote = Remote::start().await;
    let other = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    let at = now();
    let mut activity = follow(&alice, 1);
    // The id claims to be another server's, to take its place in the idempotency record.
    activity["id"] = json!(other.url("/activities/1").as_str());

    let request = signed_post(
        &alice.signer(Standard::Rfc9421),
        &shared_inbox(),
        &activity,
        at,
    );
    let result = local.receive(&request, at).await;

    assert_rejected!(
        local,
        result,
        Rejection::Origin(activitypub_core::origin::OriginError::Mismatch { field: "id", .. }),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(other.requests().await, 0);
}

#[tokio::test]
async fn a_create_of_another_servers_object_is_refused() {
    let remote = Remote::start().await;
    let other = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    let at = now();
    let mut activity = create(&alice, 1);
    activity["object"]["id"] = json!(other.url("/notes/1").as_str());

    let request = to_shared_inbox(&alice, &activity, at);
    let result = local.receive(&request, at).await;

    assert_rejected!(
        local,
        result,
        Rejection::Origin(activitypub_core::origin::OriginError::Mismatch {
            field: "object.id",
            ..
        }),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(other.requests().await, 0);
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_anything_else() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local_with(|config| config.with_max_body_bytes(256));
    let at = now();
    let mut activity = create(&alice, 1);
    activity["object"]["content"] = json!("a".repeat(300));

    let request = to_shared_inbox(&alice, &activity, at);
    let result = local.receive(&request, at).await;

    assert_rejected!(
        local,
        result,
        Rejection::BodyTooLarge { limit: 256 },
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(remote.requests().await, 0);
}

#[tokio::test]
async fn a_body_that_does_not_match_its_digest_is_refused() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    let at = now();
    for standard in [Standard::Cavage, Standard::Rfc9421] {
        let request = signed_post(
            &alice.signer(standard),
            &shared_inbox(),
            &create(&alice, 1),
            at,
        );
        // The body changed on the way; the signed digest is of the original.
        let tampered = request.map(|body| {
            Bytes::from(
                String::from_utf8(body.to_vec())
                    .unwrap()
                    .replace("hello", "HELLO"),
            )
        });
        let result = local.receive(&tampered, at).await;

        assert_rejected!(
            local,
            result,
            Rejection::Digest(DigestError::Mismatch { .. }),
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(remote.requests().await, 0);
}

#[tokio::test]
async fn an_activity_is_processed_once() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    let activity = follow(&alice, 1);
    let id = activity["id"].as_str().unwrap().to_owned();

    let at = now();
    let first = to_shared_inbox(&alice, &activity, at);
    assert_eq!(
        local.receive(&first, at).await.unwrap(),
        Accepted::Processed {
            id: Some(id.clone())
        }
    );
    // Delivered again (a retry, or through a second inbox), signed afresh...
    let again = signed_post(
        &alice.signer(Standard::Rfc9421),
        &shared_inbox(),
        &activity,
        at,
    );
    assert_eq!(
        local.receive(&again, at).await.unwrap(),
        Accepted::Duplicate { id: id.clone() }
    );
    // ... or the very same request replayed.
    assert_eq!(
        local.receive(&first, at).await.unwrap(),
        Accepted::Duplicate { id }
    );
    assert_eq!(local.handled().len(), 1);
    assert_eq!(local.store.processed_count(), 1);
}

#[tokio::test]
async fn an_activity_without_an_id_is_processed_but_a_replay_of_its_request_is_not() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    let mut activity = follow(&alice, 1);
    activity.as_object_mut().unwrap().remove("id");

    let at = now();
    let request = to_shared_inbox(&alice, &activity, at);
    assert_eq!(
        local.receive(&request, at).await.unwrap(),
        Accepted::Processed { id: None }
    );
    match local.receive(&request, at).await.unwrap() {
        Accepted::Duplicate { id } => assert!(id.starts_with(REPLAY_KEY_PREFIX), "{id}"),
        other => panic!("the replay was {other:?}"),
    }
    assert_eq!(local.handled().len(), 1);
    // Sent again by its actor, signed a second later: nothing says it is the same activity.
    let later = at + std::time::Duration::from_secs(1);
    let resent = to_shared_inbox(&alice, &activity, later);
    assert_eq!(
        local.receive(&resent, later).await.unwrap(),
        Accepted::Processed { id: None }
    );
    assert_eq!(local.handled().len(), 2);
}

#[tokio::test]
async fn an_embedded_object_from_another_server_is_fetched_from_its_origin() {
    let remote = Remote::start().await;
    let origin = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let carol = origin.served_actor("carol").await;
    let original = json!({
        "@context": AS,
        "id": carol.url("/notes/1").as_str(),
        "type": "Note",
        "attributedTo": carol.id.as_str(),
        "content": "what carol wrote",
    });
    origin.serve("/notes/1", &original).await;
    let mut forged = original.clone();
    forged["content"] = json!("what alice claims carol wrote");
    let announce = json!({
        "@context": AS,
        "id": alice.url("/activities/announce-1").as_str(),
        "type": "Announce",
        "actor": alice.id.as_str(),
        "object": forged,
    });
    let local = local();
    let at = now();

    let request = to_shared_inbox(&alice, &announce, at);
    assert!(matches!(
        local.receive(&request, at).await.unwrap(),
        Accepted::Processed { .. }
    ));

    let handled = local.handled();
    assert_eq!(handled.len(), 1);
    let object = serde_json::to_value(handled[0].object.object().expect("an object")).unwrap();
    assert_eq!(object["content"], "what carol wrote");
    assert_eq!(object["id"], original["id"]);
    // The activity itself is kept as received, for whoever needs the bytes.
    assert_eq!(
        handled[0]
            .activity
            .embedded_object()
            .unwrap()
            .props()
            .content
            .as_deref(),
        Some("what alice claims carol wrote")
    );
    assert_eq!(origin.requests().await, 1);
}

#[tokio::test]
async fn an_embedded_object_whose_origin_does_not_serve_it_is_passed_by_id() {
    let remote = Remote::start().await;
    let origin = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    origin.serve_status("/notes/1", 410).await;
    let claimed = origin.url("/notes/1");
    let announce = json!({
        "@context": AS,
        "id": alice.url("/activities/announce-1").as_str(),
        "type": "Announce",
        "actor": alice.id.as_str(),
        "object": {"id": claimed.as_str(), "type": "Note", "content": "never believed"},
    });
    let local = local();
    let at = now();

    let request = to_shared_inbox(&alice, &announce, at);
    assert!(matches!(
        local.receive(&request, at).await.unwrap(),
        Accepted::Processed { .. }
    ));

    let handled = local.handled();
    assert!(
        matches!(&handled[0].object, IncomingObject::Id(id) if *id == claimed.as_str()),
        "{:?}",
        handled[0].object
    );
    assert_eq!(origin.requests().await, 1);
}

#[tokio::test]
async fn an_embedded_copy_of_a_local_object_is_passed_by_id() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let ours = base().join("/activities/follow-1").unwrap();
    let accept = json!({
        "@context": AS,
        "id": alice.url("/activities/accept-1").as_str(),
        "type": "Like",
        "actor": alice.id.as_str(),
        "object": {"id": ours.as_str(), "type": "Note", "content": "rewritten"},
    });
    let local = local();
    let at = now();

    let request = to_shared_inbox(&alice, &accept, at);
    local.receive(&request, at).await.unwrap();

    let handled = local.handled();
    assert!(matches!(&handled[0].object, IncomingObject::Id(id) if *id == ours.as_str()));
    // Only the key was fetched; our own object never is.
    assert_eq!(remote.requests().await, 1);
}

#[tokio::test]
async fn a_key_on_a_blocked_domain_is_refused_before_it_is_fetched() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    for policy in [
        DomainPolicy::block(["127.0.0.1"]),
        DomainPolicy::allow(["friends.example"]),
    ] {
        let local = local_with(|config| config.with_domains(policy));
        let at = now();
        let request = signed_post(
            &alice.signer(Standard::Cavage),
            &shared_inbox(),
            &create(&alice, 1),
            at,
        );
        let result = local.receive(&request, at).await;

        assert_rejected!(
            local,
            result,
            Rejection::Blocked { .. },
            StatusCode::FORBIDDEN
        );
        let Err(Rejection::Blocked { host }) = result else {
            unreachable!()
        };
        assert_eq!(host, "127.0.0.1");
    }
    assert_eq!(remote.requests().await, 0);
}

#[tokio::test]
async fn an_object_from_a_blocked_domain_does_not_come_in_through_another_server() {
    // Alice's server is `localhost`; the announced note is on the blocked `127.0.0.1`.
    let remote = Remote::start_as("localhost").await;
    let blocked = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local_with(|config| config.with_domains(DomainPolicy::block(["127.0.0.1"])));
    let at = now();
    for object in [
        json!(blocked.url("/notes/1").as_str()),
        json!({"id": blocked.url("/notes/1").as_str(), "type": "Note"}),
    ] {
        let announce = json!({
            "@context": AS,
            "id": alice.url("/activities/announce-1").as_str(),
            "type": "Announce",
            "actor": alice.id.as_str(),
            "object": object,
        });
        let request = to_shared_inbox(&alice, &announce, at);
        let result = local.receive(&request, at).await;

        assert_rejected!(
            local,
            result,
            Rejection::Blocked { .. },
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(blocked.requests().await, 0);
}

#[tokio::test]
async fn the_delete_of_an_actor_never_known_is_dropped_before_any_request() {
    let remote = Remote::start().await;
    let alice = remote.actor("alice");
    // Alice's server answers 410 for her now; it must not even be asked.
    remote.serve_status("/users/alice", 410).await;
    let delete = self_delete(&alice);
    let local = local();
    let at = now();

    let request = to_shared_inbox(&alice, &delete, at);
    let accepted = local.receive(&request, at).await.unwrap();

    assert_eq!(
        accepted,
        Accepted::UnknownActorDeleted {
            actor: alice.id.to_string()
        }
    );
    local.assert_nothing_stored();
    assert_eq!(remote.requests().await, 0);

    // Known, the same Delete is verified (with the cached key) and handled.
    local.store.add_actor(alice.id.as_str());
    local.keys.insert_actor(alice.typed()).unwrap();
    let accepted = local.receive(&request, at).await.unwrap();
    assert!(
        matches!(accepted, Accepted::Processed { .. }),
        "{accepted:?}"
    );
    assert_eq!(local.handled().len(), 1);
    assert_eq!(remote.requests().await, 0);
}

#[tokio::test]
async fn a_rotated_key_is_refetched_once() {
    let remote = Remote::start().await;
    let old = remote.actor("alice");
    let local = local();
    // The cache holds Alice's old key; her server now publishes a new one.
    local.keys.insert_actor(old.typed()).unwrap();
    let rotated = remote.actor_with_key("alice", SigningKey::generate_rsa(2048).unwrap());
    remote.publish(&rotated).await;
    let at = now();

    let request = signed_post(
        &rotated.signer(Standard::Cavage),
        &shared_inbox(),
        &create(&rotated, 1),
        at,
    );
    let accepted = local.receive(&request, at).await.unwrap();

    assert!(
        matches!(accepted, Accepted::Processed { .. }),
        "{accepted:?}"
    );
    assert_eq!(remote.requests().await, 1);
    // The new key is cached now: the next activity needs no fetch.
    let request = signed_post(
        &rotated.signer(Standard::Cavage),
        &shared_inbox(),
        &create(&rotated, 2),
        at,
    );
    local.receive(&request, at).await.unwrap();
    assert_eq!(remote.requests().await, 1);
    assert_eq!(local.handled().len(), 2);
}

#[tokio::test]
async fn a_signature_that_the_fetched_key_does_not_verify_is_refused_without_refetching() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let impostor = remote.actor("alice"); // the same key id, another key
    let local = local();
    let at = now();

    let request = signed_post(
        &impostor.signer(Standard::Cavage),
        &shared_inbox(),
        &create(&alice, 1),
        at,
    );
    let result = local.receive(&request, at).await;

    assert_rejected!(
        local,
        result,
        Rejection::BadSignature { .. },
        StatusCode::UNAUTHORIZED
    );
    // The key was fetched for this request: fetching it again could not give a fresher one.
    assert_eq!(remote.requests().await, 1);

    // Once cached, a bad signature gets one refetch (the peer may have rotated), then the
    // origin cools off.
    for expected_requests in [2, 2] {
        let request = signed_post(
            &impostor.signer(Standard::Cavage),
            &shared_inbox(),
            &create(&alice, 1),
            at,
        );
        let result = local.receive(&request, at).await;
        assert_rejected!(
            local,
            result,
            Rejection::BadSignature { .. },
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(remote.requests().await, expected_requests);
    }
}

#[tokio::test]
async fn a_failing_handler_answers_500_and_the_retry_is_processed() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    local.calls.failures.store(1, Ordering::SeqCst);
    let activity = create(&alice, 1);
    let at = now();

    let request = to_shared_inbox(&alice, &activity, at);
    let result = local.receive(&request, at).await;

    let Err(rejection) = &result else {
        panic!("accepted: {result:?}")
    };
    assert!(matches!(
        rejection,
        Rejection::Handler(HandlerError::Failed(_))
    ));
    assert_eq!(rejection.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rejection.step(), "handler");
    // Forgotten: the sender's retry is processed.
    assert_eq!(local.store.processed_count(), 0);
    let retry = to_shared_inbox(&alice, &activity, at);
    assert!(matches!(
        local.receive(&retry, at).await.unwrap(),
        Accepted::Processed { .. }
    ));
    assert_eq!(local.store.processed_count(), 1);
    assert_eq!(local.handled().len(), 2);
}

#[tokio::test]
async fn activities_nobody_handles_are_checked_then_ignored() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    let flag = json!({
        "@context": AS,
        "id": alice.url("/activities/flag-1").as_str(),
        "type": "Flag",
        "actor": alice.id.as_str(),
        "object": base().join("/actors/bob").unwrap().as_str(),
    });
    // A type this crate does not know.
    let bite = json!({
        "@context": [AS, {"Bite": "https://ns.mia.jetzt/as#Bite"}],
        "id": alice.url("/activities/bite-1").as_str(),
        "type": "Bite",
        "actor": alice.id.as_str(),
        "target": base().join("/actors/bob").unwrap().as_str(),
    });
    let at = now();
    for (activity, kind) in [(&flag, "Flag"), (&bite, "Bite")] {
        let request = signed_post(
            &alice.signer(Standard::Cavage),
            &shared_inbox(),
            activity,
            at,
        );
        assert_eq!(
            local.receive(&request, at).await.unwrap(),
            Accepted::Ignored {
                kind: kind.to_owned()
            }
        );
        // Ignored only once checked: unsigned, it is refused.
        let result = local
            .receive(&unsigned_post(&shared_inbox(), activity), at)
            .await;
        assert_rejected!(
            local,
            result,
            Rejection::Signature(_),
            StatusCode::UNAUTHORIZED
        );
    }
    local.assert_nothing_stored();
    // An unknown type signed by someone else than its actor is refused too.
    let mallory = remote.served_actor("mallory").await;
    let request = to_shared_inbox(&mallory, &bite, at);
    let result = local.receive(&request, at).await;
    assert_rejected!(
        local,
        result,
        Rejection::ActorMismatch { .. },
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn documents_that_are_not_activities_are_refused() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    let at = now();
    let mut without_actor = follow(&alice, 1);
    without_actor.as_object_mut().unwrap().remove("actor");
    let mut note = note(&alice, 1);
    note["@context"] = json!(AS);
    for document in [note, without_actor, json!({"type": "Zap"})] {
        let request = to_shared_inbox(&alice, &document, at);
        let result = local.receive(&request, at).await;
        assert_rejected!(
            local,
            result,
            Rejection::NotAnActivity { .. },
            StatusCode::BAD_REQUEST
        );
    }
    let request = signed_post(
        &alice.signer(Standard::Cavage),
        &shared_inbox(),
        &json!([1, 2]),
        at,
    );
    let result = local.receive(&request, at).await;
    assert_rejected!(
        local,
        result,
        Rejection::Malformed(_),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(remote.requests().await, 0);
}

#[test]
fn domain_rules_cover_subdomains() {
    let blocked = DomainPolicy::block(["Spam.Example."]);
    assert!(!blocked.allows("spam.example"));
    assert!(!blocked.allows("a.b.spam.example"));
    assert!(blocked.allows("notspam.example"));
    let allowed = DomainPolicy::allow(["friends.example"]);
    assert!(allowed.allows("social.friends.example"));
    assert!(!allowed.allows("example"));
    assert!(DomainPolicy::default().allows("anything.example"));
}

#[tokio::test]
async fn the_fetch_budget_is_renewed_for_each_request() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    // The budget is configuration: made once, when the server starts...
    let local = local_with(|config| {
        config.with_fetch_budget(FetchBudget::default().with_time_limit(Duration::from_secs(15)))
    });
    // ... and the server runs for a while before the first activity comes in.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(60)).await;
    tokio::time::resume();
    let at = now();

    let request = signed_post(
        &alice.signer(Standard::Cavage),
        &shared_inbox(),
        &create(&alice, 1),
        at,
    );
    let accepted = local.receive(&request, at).await;

    assert!(
        matches!(accepted, Ok(Accepted::Processed { .. })),
        "{accepted:?}"
    );
}

#[tokio::test]
async fn a_known_actor_whose_server_answers_gone_is_deleted_without_its_key() {
    let remote = Remote::start().await;
    let alice = remote.actor("alice");
    // The key is no longer cached, and her server deleted her (and her key) with a 410.
    remote.serve_status("/users/alice", 410).await;
    let delete = self_delete(&alice);
    let local = local();
    local.store.add_actor(alice.id.as_str());
    let at = now();
    let request = to_shared_inbox(&alice, &delete, at);
    let accepted = local.receive(&request, at).await.unwrap();
    assert_eq!(
        accepted,
        Accepted::ActorGone {
            actor: alice.id.to_string()
        }
    );
    assert_eq!(*local.calls.gone.lock().unwrap(), [alice.id.to_string()]);
    assert_eq!(local.handled().len(), 0);

    // Anything else from a gone actor is refused: the key cannot be had.
    let create = json!({
        "@context": AS,
        "id": format!("{}#create", alice.id),
        "type": "Create",
        "actor": alice.id.as_str(),
        "object": {"id": format!("{}/notes/1", alice.id), "type": "Note", "content": "hi"},
        "to": [PUBLIC],
    });
    let request = to_shared_inbox(&alice, &create, at);
    let result = local.receive(&request, at).await;
    assert!(matches!(result, Err(Rejection::Key { .. })), "{result:?}");
    assert_eq!(local.calls.gone.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn only_the_actor_of_an_activity_undoes_it() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let bob = remote.actor("bob");
    // Alice, on Bob's server, tries to undo Bob's follow.
    let undo = json!({
        "@context": AS,
        "id": alice.url("/activities/undo-1").as_str(),
        "type": "Undo",
        "actor": alice.id.as_str(),
        "object": {
            "id": bob.url("/activities/follow-1").as_str(),
            "type": "Follow",
            "actor": bob.id.as_str(),
            "object": base().join("/users/carol").unwrap().as_str(),
        },
    });
    let local = local();
    let at = now();
    let result = local.receive(&to_shared_inbox(&alice, &undo, at), at).await;
    assert_rejected!(
        local,
        result,
        Rejection::ActorMismatch { .. },
        StatusCode::UNAUTHORIZED
    );
}

/// A delivery to `url` on another server (or on this one under another name), signed by
/// `actor` under `standard`, replayed here as it was sent.
fn delivery_to(
    actor: &TestActor,
    standard: Standard,
    url: &str,
    activity: &Value,
    at: SystemTime,
) -> http::Request<Bytes> {
    signed_post(
        &actor.signer(standard),
        &Url::parse(url).unwrap(),
        activity,
        at,
    )
}

#[tokio::test]
async fn a_delivery_signed_for_another_server_is_refused_before_any_fetch() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    for standard in [Standard::Cavage, Standard::Rfc9421] {
        let at = now();
        // What `peer.example` received from alice, replayed here.
        let request = delivery_to(
            &alice,
            standard,
            "http://peer.example/inbox",
            &create(&alice, 1),
            at,
        );
        let result = local.receive(&request, at).await;
        assert_rejected!(
            local,
            result,
            Rejection::SignedForAnotherHost { .. },
            StatusCode::UNAUTHORIZED
        );
        let rejection = result.unwrap_err();
        let Rejection::SignedForAnotherHost { host, accepted } = &rejection else {
            unreachable!()
        };
        assert_eq!(host, "peer.example", "{standard}");
        assert_eq!(accepted, &["local.example"], "{standard}");
        assert_eq!(rejection.step(), "signature", "{standard}");
    }
    // Refused before the key was fetched.
    assert_eq!(remote.requests().await, 0);
}

#[tokio::test]
async fn a_replay_naming_our_host_beside_the_signed_one_is_refused() {
    // RFC 9421's `@authority` comes from an absolute request URI: a replay may keep the URI
    // the signature covers and put this server's name in `Host`.
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let local = local();
    let at = now();
    let body = serde_json::to_vec(&create(&alice, 1)).unwrap();
    let mut request = http::Request::post("http://peer.example/inbox")
        .header(http::header::CONTENT_TYPE, "application/activity+json")
        .body(body)
        .unwrap();
    alice
        .signer(Standard::Rfc9421)
        .sign(&mut request, at)
        .unwrap();
    request
        .headers_mut()
        .insert(http::header::HOST, "local.example".parse().unwrap());
    let result = local.receive(&request.map(Bytes::from), at).await;
    assert_rejected!(
        local,
        result,
        Rejection::SignedForAnotherHost { .. },
        StatusCode::UNAUTHORIZED
    );
    assert!(
        matches!(&result, Err(Rejection::SignedForAnotherHost { host, .. }) if host == "peer.example"),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_delivery_signed_for_this_server_or_a_configured_alias_is_accepted() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    // The name a reverse proxy passes on, configured.
    let behind_proxy = local_with(|config| config.with_accepted_hosts(["Internal.Example:8080"]));
    let mut n = 0;
    for url in [
        "http://local.example/inbox",
        "http://internal.example:8080/inbox",
    ] {
        for standard in [Standard::Cavage, Standard::Rfc9421] {
            n += 1;
            let at = now();
            let request = delivery_to(&alice, standard, url, &create(&alice, n), at);
            let accepted = behind_proxy.receive(&request, at).await;
            assert!(
                matches!(accepted, Ok(Accepted::Processed { .. })),
                "{url} with {standard}: {accepted:?}"
            );
        }
    }
    // Without the setting, the alias is another server.
    let strict = local();
    let at = now();
    let request = delivery_to(
        &alice,
        Standard::Cavage,
        "http://internal.example:8080/inbox",
        &create(&alice, 9),
        at,
    );
    let result = strict.receive(&request, at).await;
    assert_rejected!(
        strict,
        result,
        Rejection::SignedForAnotherHost { .. },
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_signature_that_does_not_cover_the_host_is_refused_unless_told_otherwise() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let at = now();
    let signer =
        alice
            .signer(Standard::Cavage)
            .with_components(["(request-target)", "date", "digest"]);
    let request = signed_post(&signer, &shared_inbox(), &create(&alice, 1), at);

    let local = local();
    let result = local.receive(&request, at).await;
    assert_rejected!(
        local,
        result,
        Rejection::HostNotSigned,
        StatusCode::UNAUTHORIZED
    );

    let lenient = local_with(|config| config.with_danger_accept_unsigned_host(true));
    let accepted = lenient.receive(&request, at).await;
    assert!(
        matches!(accepted, Ok(Accepted::Processed { .. })),
        "{accepted:?}"
    );
}

#[test]
fn accepted_hosts_compare_without_case_default_port_or_final_dot() {
    // (base URL, aliases, a signed host, accepted)
    let cases: [(&str, &[&str], &str, bool); 13] = [
        ("https://events.example/", &[], "events.example", true),
        ("https://events.example/", &[], "EVENTS.example", true),
        ("https://events.example/", &[], "events.example:443", true),
        ("https://events.example/", &[], "events.example.", true),
        ("https://events.example/", &[], "events.example:80", false),
        ("https://events.example/", &[], "events.example:8443", false),
        ("https://events.example/", &[], "peer.example", false),
        ("https://events.example/", &[], "sub.events.example", false),
        (
            "https://events.example:8443/",
            &[],
            "events.example:8443",
            true,
        ),
        ("https://events.example:8443/", &[], "events.example", false),
        ("http://127.0.0.1:3000/", &[], "127.0.0.1:3000", true),
        ("http://[::1]:3000/", &[], "[::1]:3000", true),
        (
            "https://events.example/",
            &["www.events.example", "events.internal:8080"],
            "events.internal:8080",
            true,
        ),
    ];
    for (base, aliases, host, expected) in cases {
        let config = InboxConfig::new(&Url::parse(base).unwrap())
            .with_accepted_hosts(aliases.iter().copied());
        assert_eq!(
            config.accepts_host(host),
            expected,
            "{host} for {base} and {aliases:?}"
        );
    }
    // Without a base URL nothing is accepted.
    assert!(!InboxConfig::default().accepts_host("events.example"));
}

/// A local server whose `forwarded` hook vouches for what `trusted` signs (and counts its
/// calls), and refuses the rest.
fn local_taking_forwards_from(trusted: &TestActor) -> (Local, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let trusted = trusted.id.clone();
    let counted = asked.clone();
    let dispatcher = Dispatcher::new()
        .on(ActivityType::Create, handle)
        .on_forwarded(move |_: Calls, forward: Forward| {
            let trusted = trusted.clone();
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                assert_ne!(forward.signer.owner, forward.actor);
                Ok(if forward.signer.owner.as_str() == trusted.as_str() {
                    Vouch::Vouched {
                        budget: forward.budget,
                    }
                } else {
                    Vouch::Refused {
                        reason: "not a relay of ours".to_owned(),
                    }
                })
            }
        });
    (local_dispatching(dispatcher, |config| config), asked)
}

#[tokio::test]
async fn a_forward_is_taken_only_when_the_app_vouches_for_it_and_still_recorded_once() {
    let remote = Remote::start().await;
    let relay_server = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let relay = relay_server.served_actor("relay").await;
    let mallory = relay_server.served_actor("mallory").await;
    let (local, asked) = local_taking_forwards_from(&relay);
    let at = now();

    // Mallory forwards alice's Create: the hook does not vouch, nothing is stored.
    let result = local
        .receive(&to_shared_inbox(&mallory, &create(&alice, 1), at), at)
        .await;
    assert_rejected!(
        local,
        result,
        Rejection::NotVouched { .. },
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(result.unwrap_err().step(), "origin");
    assert_eq!(asked.load(Ordering::SeqCst), 1);

    // The relay forwards it: handled as alice's, with the relay's key; once.
    let request = to_shared_inbox(&relay, &create(&alice, 1), at);
    let accepted = local.receive(&request, at).await.unwrap();
    assert!(
        matches!(accepted, Accepted::Processed { .. }),
        "{accepted:?}"
    );
    let handled = local.handled();
    assert_eq!(handled.len(), 1);
    assert_eq!(handled[0].actor.as_str(), alice.id.as_str());
    assert_eq!(handled[0].key.owner.as_str(), relay.id.as_str());
    let again = to_shared_inbox(&relay, &create(&alice, 1), at);
    let duplicate = local.receive(&again, at).await.unwrap();
    assert!(
        matches!(duplicate, Accepted::Duplicate { .. }),
        "{duplicate:?}"
    );
    assert_eq!(local.handled().len(), 1);

    // The inbox's other checks still apply to a vouched forward: an id on another server
    // than the actor's is refused.
    let mut elsewhere = create(&alice, 2);
    elsewhere["id"] = json!(relay_server.url("/activities/2").as_str());
    let result = local
        .receive(&to_shared_inbox(&relay, &elsewhere, at), at)
        .await;
    assert!(matches!(result, Err(Rejection::Origin(_))), "{result:?}");
    assert_eq!(local.handled().len(), 1);

    // A type with no handler is ignored before the hook is asked.
    let asked_before = asked.load(Ordering::SeqCst);
    let accepted = local
        .receive(&to_shared_inbox(&relay, &follow(&alice, 3), at), at)
        .await
        .unwrap();
    assert!(matches!(accepted, Accepted::Ignored { .. }), "{accepted:?}");
    assert_eq!(asked.load(Ordering::SeqCst), asked_before);
}

/// A local server whose `forwarded` hook answers by the forwarded `Create`'s number: 1, the
/// object as the app believes it (another `content`); 2, an object with another id; 3,
/// ignored.
fn local_vouching_with_objects() -> Local {
    let dispatcher = Dispatcher::new()
        .on(ActivityType::Create, handle)
        .on_forwarded(|_: Calls, forward: Forward| async move {
            let id = forward.activity.object_id().unwrap().to_string();
            let believed = |id: &str| {
                Box::new(
                    activitypub_core::AnyObject::from_value(json!({
                        "id": id,
                        "type": "Note",
                        "attributedTo": forward.actor.as_str(),
                        "content": "as believed",
                        "to": [PUBLIC],
                    }))
                    .unwrap(),
                )
            };
            Ok(if id.ends_with("/notes/1") {
                Vouch::VouchedWithObject {
                    budget: forward.budget,
                    object: believed(&id),
                }
            } else if id.ends_with("/notes/2") {
                Vouch::VouchedWithObject {
                    budget: forward.budget,
                    object: believed(&id.replace("/notes/2", "/notes/9")),
                }
            } else {
                Vouch::Ignored {
                    reason: "nothing to do with it".to_owned(),
                }
            })
        });
    local_dispatching(dispatcher, |config| config)
}

#[tokio::test]
async fn a_vouched_forward_carries_the_object_the_app_believes_and_an_ignored_one_nothing() {
    let remote = Remote::start().await;
    let relay_server = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let relay = relay_server.served_actor("relay").await;
    let local = local_vouching_with_objects();
    let at = now();

    // The handler gets the object the hook handed back, not the copy embedded by the relay.
    let accepted = local
        .receive(&to_shared_inbox(&relay, &create(&alice, 1), at), at)
        .await
        .unwrap();
    assert!(
        matches!(accepted, Accepted::Processed { .. }),
        "{accepted:?}"
    );
    let handled = local.handled();
    assert_eq!(handled.len(), 1);
    let object = handled[0].object.object().unwrap().to_value();
    assert_eq!(object["content"], "as believed");
    assert_eq!(object["id"], create(&alice, 1)["object"]["id"]);

    // An object with another id than the activity's: refused, nothing recorded or handled.
    let result = local
        .receive(&to_shared_inbox(&relay, &create(&alice, 2), at), at)
        .await;
    assert!(
        matches!(&result, Err(Rejection::NotVouched { reason, .. }) if reason.contains("not the activity's")),
        "{result:?}"
    );
    assert_eq!(result.unwrap_err().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(local.handled().len(), 1);
    assert_eq!(local.store.processed_count(), 1);

    // Ignored: acknowledged, nothing recorded, no handler; the same forward is asked again.
    for _ in 0..2 {
        let accepted = local
            .receive(&to_shared_inbox(&relay, &create(&alice, 3), at), at)
            .await
            .unwrap();
        assert!(matches!(accepted, Accepted::Ignored { .. }), "{accepted:?}");
    }
    assert_eq!(local.handled().len(), 1);
    assert_eq!(local.store.processed_count(), 1);
}
