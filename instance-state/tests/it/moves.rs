//! Moves (FEP-7628, as Mastodon does them), received through the whole inbox pipeline from
//! actors of a loopback peer (test-peer's `Peer`, whose documents the handler fetches afresh),
//! and made by local actors.

use bytes::Bytes;
use federation::inbox::{Accepted, Rejection};
use instance_state::actors::ActorKind;
use instance_state::blocks::BlockTarget;
use instance_state::conformance::{SECOND, actor};
use instance_state::follows::FollowState;
use instance_state::moves::{MOVE_COOLDOWN, MoveError};
use instance_state::remote::{RemoteActor, RemoteKeyRecord};
use serde_json::{Value, json};
use test_peer::Peer;

use crate::handlers::{BASE, World, local, world};

/// `activity` POSTed to the world's shared inbox, signed by its actor on `peer`.
fn signed(peer: &Peer, activity: &Value) -> http::Request<Bytes> {
    let actor = activity["actor"].as_str().unwrap();
    let (headers, body) = peer
        .signed(actor, &format!("{BASE}/inbox"), activity)
        .unwrap();
    let mut request = http::Request::post("/inbox")
        .body(Bytes::from(body))
        .unwrap();
    *request.headers_mut() = headers;
    request
}

async fn deliver(world: &World, peer: &Peer, activity: &Value) -> Accepted {
    world.receive(&signed(peer, activity)).await.unwrap()
}

/// Mastodon's `Move` (the fixture `mastodon/move.json`), from `origin` to `target` (both on
/// `peer`), with the id Mastodon gives it (`{origin}#moves/{n}`).
fn mastodon_move(peer: &Peer, origin: &str, target: &str, n: u32) -> Value {
    let mut activity = peer
        .fixture_from("mastodon/move.json", "https://mastodon.example")
        .unwrap();
    assert_eq!(activity["type"], "Move");
    activity["id"] = json!(format!("{origin}#moves/{n}"));
    activity["actor"] = json!(origin);
    activity["object"] = json!(origin);
    activity["target"] = json!(target);
    activity["to"] = json!(format!("{origin}/followers"));
    activity
}

/// Has `peer` serve `actor`'s document with `aliases` as its `alsoKnownAs`.
fn aliases(peer: &Peer, actor: &str, aliases: &[&str]) {
    let mut document = peer.document(actor).unwrap();
    document["alsoKnownAs"] = json!(aliases);
    peer.serve(&document).unwrap();
}

async fn follows(world: &World, follower: &str, followed: &str) -> Option<FollowState> {
    world
        .state()
        .follow(follower, followed)
        .await
        .unwrap()
        .map(|f| f.state)
}

/// The types, actors and objects of what was sent since the last look.
fn sent(world: &World) -> Vec<(String, String, Value)> {
    world
        .sent
        .take()
        .into_iter()
        .map(|(activity, _, _)| {
            (
                activity["type"].as_str().unwrap().to_owned(),
                activity["actor"].as_str().unwrap().to_owned(),
                activity["object"].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_takes_the_local_followers_to_the_new_account_once() {
    let world = world().await;
    let state = world.state();
    let peer = Peer::start().await.unwrap();
    let alice = peer.actor("alice").await.unwrap();
    let bob = peer.actor("bob").await.unwrap();
    let eve = peer.actor("eve").await.unwrap();
    for name in ["fan", "picky", "both", "wary"] {
        world.add(actor(name, ActorKind::Person)).await;
    }
    let (fan, picky, both) = (local("fan"), local("picky"), local("both"));
    for follower in [&fan, &picky, &both] {
        state
            .put_follow(
                follower,
                &alice,
                &format!("{follower}/f"),
                FollowState::Accepted,
            )
            .await
            .unwrap();
    }
    state
        .put_follow(&both, &bob, &format!("{both}/fb"), FollowState::Accepted)
        .await
        .unwrap();
    state
        .block(Some(&picky), &BlockTarget::Actor(bob.clone()), "")
        .await
        .unwrap();
    let wary = local("wary");
    state
        .block(Some(&wary), &BlockTarget::Actor(alice.clone()), "")
        .await
        .unwrap();

    // Bob does not list alice yet: refused, nothing done, nothing sent.
    let first = mastodon_move(&peer, &alice, &bob, 1);
    assert!(matches!(
        deliver(&world, &peer, &first).await,
        Accepted::Processed { .. }
    ));
    assert_eq!(
        follows(&world, &fan, &alice).await,
        Some(FollowState::Accepted)
    );
    assert_eq!(follows(&world, &fan, &bob).await, None);
    assert!(sent(&world).is_empty());
    assert_eq!(state.moved_to(&alice).await.unwrap(), None);

    // A Move of someone else, and a Move to itself: refused.
    let mut other = mastodon_move(&peer, &alice, &bob, 2);
    other["object"] = json!(eve);
    deliver(&world, &peer, &other).await;
    let itself = mastodon_move(&peer, &alice, &alice, 3);
    deliver(&world, &peer, &itself).await;
    // To nobody of ours: acknowledged (not an error the sender would retry), nothing done.
    let nobody = mastodon_move(&peer, &alice, &local("nobody"), 6);
    assert!(matches!(
        deliver(&world, &peer, &nobody).await,
        Accepted::Processed { .. }
    ));
    assert_eq!(
        follows(&world, &fan, &alice).await,
        Some(FollowState::Accepted)
    );
    assert!(sent(&world).is_empty());

    // Bob lists alice (the handler fetches his document afresh): fan follows bob (pending,
    // a Follow sent) and no longer alice (an Undo sent); picky, who blocks bob, is left as it
    // was; both, who followed bob already, only stops following alice.
    aliases(
        &peer,
        &bob,
        &["https://elsewhere.example/users/alice", &alice],
    );
    let accepted = mastodon_move(&peer, &alice, &bob, 4);
    deliver(&world, &peer, &accepted).await;
    assert_eq!(
        follows(&world, &fan, &bob).await,
        Some(FollowState::Pending)
    );
    assert_eq!(follows(&world, &fan, &alice).await, None);
    assert_eq!(
        follows(&world, &picky, &alice).await,
        Some(FollowState::Accepted)
    );
    assert_eq!(follows(&world, &picky, &bob).await, None);
    assert_eq!(
        follows(&world, &both, &bob).await,
        Some(FollowState::Accepted)
    );
    assert_eq!(follows(&world, &both, &alice).await, None);
    let mut out = sent(&world);
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(
        (out[0].0.as_str(), out[0].1.as_str()),
        ("Follow", fan.as_str())
    );
    assert_eq!(out[0].2, json!(bob));
    assert_eq!(
        (out[1].0.as_str(), out[1].1.as_str()),
        ("Undo", both.as_str())
    );
    assert_eq!(out[1].2["object"], json!(alice));
    assert_eq!(
        (out[2].0.as_str(), out[2].1.as_str()),
        ("Undo", fan.as_str())
    );
    assert_eq!(out[2].2["type"], "Follow");
    assert_eq!(
        state.moved_to(&alice).await.unwrap().as_deref(),
        Some(bob.as_str())
    );
    // Wary, who blocked alice, blocks bob now (as Mastodon carries blocks over); fan does not.
    assert!(state.is_blocked(Some(&wary), &bob).await.unwrap());
    assert!(!state.is_blocked(Some(&fan), &bob).await.unwrap());
    let notes = state.notifications(&fan, true, 10).await.unwrap();
    assert_eq!(notes[0].kind, "move");
    assert_eq!(notes[0].actor, alice);
    assert_eq!(notes[0].object.as_deref(), Some(bob.as_str()));

    // Redelivered: a duplicate; sent again with another id: nothing more is done.
    assert!(matches!(
        deliver(&world, &peer, &accepted).await,
        Accepted::Duplicate { .. }
    ));
    deliver(&world, &peer, &mastodon_move(&peer, &alice, &bob, 5)).await;
    assert!(sent(&world).is_empty());
    assert_eq!(
        follows(&world, &fan, &bob).await,
        Some(FollowState::Pending)
    );

    // Bob accepts fan, then moves back to alice (who lists him) within 30 days: refused.
    state
        .set_follow_state(&fan, &bob, FollowState::Accepted)
        .await
        .unwrap();
    aliases(&peer, &alice, &[&bob]);
    deliver(&world, &peer, &mastodon_move(&peer, &bob, &alice, 1)).await;
    assert_eq!(
        follows(&world, &fan, &bob).await,
        Some(FollowState::Accepted)
    );
    assert_eq!(follows(&world, &fan, &alice).await, None);
    assert!(sent(&world).is_empty());
    // After 30 days, it is a move like any other.
    world.clock.advance(MOVE_COOLDOWN + SECOND);
    deliver(&world, &peer, &mastodon_move(&peer, &bob, &alice, 2)).await;
    assert_eq!(
        follows(&world, &fan, &alice).await,
        Some(FollowState::Pending)
    );
    assert_eq!(follows(&world, &fan, &bob).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_actor_moves_only_to_an_account_that_lists_it() {
    let world = world().await;
    let state = world.state();
    let peer = Peer::start().await.unwrap();
    let new = peer.actor("new").await.unwrap();
    world.add(actor("old", ActorKind::Person)).await;
    world.add(actor("fan", ActorKind::Person)).await;
    let (old, fan) = (local("old"), local("fan"));
    let remote_fan = peer.actor("remote-fan").await.unwrap();
    state
        .put_follow(&remote_fan, &old, "https://x/f1", FollowState::Accepted)
        .await
        .unwrap();
    state
        .put_follow(&fan, &old, "https://x/f2", FollowState::Accepted)
        .await
        .unwrap();
    let keys = &world.app.keys;
    let outbox = &world.app.outbox;

    // Aliases are shown in the document, each once.
    let aka = state
        .set_also_known_as("fan", &[new.clone(), new.clone()])
        .await
        .unwrap();
    assert_eq!(aka.also_known_as, std::slice::from_ref(&new));
    let document = state.actor_document(&aka).await.unwrap();
    assert_eq!(document["alsoKnownAs"], json!([new]));

    // The target does not list old: refused, nothing sent, not moved.
    let refused = state.move_to(outbox, keys, "old", &new).await.unwrap_err();
    assert!(matches!(refused, MoveError::NotListed { .. }), "{refused}");
    assert!(sent(&world).is_empty());
    assert_eq!(state.moved_to(&old).await.unwrap(), None);
    let itself = state.move_to(outbox, keys, "old", &old).await.unwrap_err();
    assert!(matches!(itself, MoveError::SameActor { .. }), "{itself}");

    // It lists old: the Move goes to old's followers, old says movedTo, its local follower
    // follows new instead.
    aliases(&peer, &new, &[&old]);
    let moved = state.move_to(outbox, keys, "old", &new).await.unwrap();
    assert_eq!(moved["type"], "Move");
    assert_eq!(moved["object"], json!(old));
    assert_eq!(moved["target"], json!(new));
    assert_eq!(moved["to"], json!([format!("{old}/followers")]));
    let out = world.sent.take();
    let (activity, inboxes, key_ref) = &out[0];
    assert_eq!(activity["type"], "Move");
    assert_eq!(inboxes, &[format!("{}/inbox", peer.origin())]);
    assert_eq!(key_ref, "old");
    assert_eq!(out[1].0["type"], "Follow");
    assert_eq!(out[1].0["actor"], json!(fan));
    assert_eq!(
        follows(&world, &fan, &new).await,
        Some(FollowState::Pending)
    );
    assert_eq!(follows(&world, &fan, &old).await, None);
    let old_actor = state.live_actor("old").await.unwrap();
    assert_eq!(old_actor.moved_to.as_deref(), Some(new.as_str()));
    let document = state.actor_document(&old_actor).await.unwrap();
    assert_eq!(document["movedTo"], json!(new));

    // A second move within 30 days is refused; after, it is not.
    world.add(actor("third", ActorKind::Person)).await;
    state
        .set_also_known_as("third", std::slice::from_ref(&old))
        .await
        .unwrap();
    let again = state
        .move_to(outbox, keys, "old", &local("third"))
        .await
        .unwrap_err();
    assert!(matches!(again, MoveError::TooSoon { .. }), "{again}");
    world.clock.advance(MOVE_COOLDOWN + SECOND);
    state
        .move_to(outbox, keys, "old", &local("third"))
        .await
        .unwrap();
}

/// FEP-7628's pull mode: alice's server is gone (nothing listens at its address); bob passes on
/// the `Move` her server signed (`RsaSignature2017`) before it went. It is believed from the
/// key of alice kept here, and refused when signed by another key, tampered with, or passed
/// on by someone other than its target; then handled as any `Move`.
#[tokio::test(flavor = "multi_thread")]
async fn a_move_passed_on_by_its_target_is_believed_from_the_old_key_kept_here() {
    let world = world().await;
    let state = world.state();
    let peer = Peer::start().await.unwrap();
    let bob = peer.actor("bob").await.unwrap();
    let eve = peer.actor("eve").await.unwrap();
    // A server that is gone: port 1 on loopback refuses connections.
    let alice = "http://127.0.0.1:1/users/alice".to_owned();
    let alice_key = format!("{alice}#main-key");
    let key = ld_signatures::SigningKey::generate_rsa(2048).unwrap();
    state
        .put_remote_actor(
            &RemoteActor::new(&alice, "alice").with_key(RemoteKeyRecord::new(
                &alice_key,
                key.verifying_key().to_spki_pem().unwrap(),
            )),
        )
        .await
        .unwrap();
    world.add(actor("fan", ActorKind::Person)).await;
    let fan = local("fan");
    state
        .put_follow(&fan, &alice, &format!("{fan}/f"), FollowState::Accepted)
        .await
        .unwrap();
    let signed_move = |target: &str, n: u32, with: &ld_signatures::SigningKey| {
        let activity = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{alice}#moves/{n}"),
            "type": "Move",
            "actor": alice,
            "object": alice,
            "target": target,
            "to": format!("{alice}/followers"),
        });
        let created = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        ld_signatures::sign(&activity, &alice_key, created, with).unwrap()
    };
    let passed_on = |by: &str, activity: &Value| {
        let (headers, body) = peer.signed(by, &format!("{BASE}/inbox"), activity).unwrap();
        let mut request = http::Request::post("/inbox")
            .body(Bytes::from(body))
            .unwrap();
        *request.headers_mut() = headers;
        request
    };
    let unchanged = || async {
        assert_eq!(
            follows(&world, &fan, &alice).await,
            Some(FollowState::Accepted)
        );
        assert_eq!(follows(&world, &fan, &bob).await, None);
        assert_eq!(state.moved_to(&alice).await.unwrap(), None);
        assert!(sent(&world).is_empty());
    };
    aliases(&peer, &bob, &[&alice]);

    // Refused by the inbox (401), nothing recorded: another key, a tampered Move, a Move
    // passed on by someone other than its target, a Move without a signature.
    let other_key = ld_signatures::SigningKey::generate_rsa(2048).unwrap();
    let mut tampered = signed_move(&eve, 2, &key);
    tampered["target"] = json!(bob);
    let mut unsigned = signed_move(&bob, 4, &key);
    unsigned.as_object_mut().unwrap().remove("signature");
    for (by, activity) in [
        (&bob, signed_move(&bob, 1, &other_key)),
        (&bob, tampered),
        (&eve, signed_move(&bob, 3, &key)),
        (&bob, unsigned),
    ] {
        let before = state.processed_count().await.unwrap();
        let refused = world.receive(&passed_on(by, &activity)).await.unwrap_err();
        assert!(matches!(refused, Rejection::NotVouched { .. }), "{refused}");
        assert_eq!(refused.status(), 401);
        assert_eq!(state.processed_count().await.unwrap(), before);
        unchanged().await;
    }

    // Signed by alice's key and passed on by eve, its target, who does not list alice:
    // vouched for, then refused by the Move handler (nothing done).
    let accepted = world
        .receive(&passed_on(&eve, &signed_move(&eve, 5, &key)))
        .await
        .unwrap();
    assert!(matches!(accepted, Accepted::Processed { .. }));
    unchanged().await;

    // Passed on by bob, who lists alice: fan follows bob and no longer alice.
    let accepted = world
        .receive(&passed_on(&bob, &signed_move(&bob, 6, &key)))
        .await
        .unwrap();
    assert!(matches!(accepted, Accepted::Processed { .. }));
    assert_eq!(
        follows(&world, &fan, &bob).await,
        Some(FollowState::Pending)
    );
    assert_eq!(follows(&world, &fan, &alice).await, None);
    assert_eq!(state.moved_to(&alice).await.unwrap(), Some(bob.clone()));
}
