//! The video instance as the receiver of a pull-mode `Move` (FEP-7628), which it gets from
//! instance-state's handlers: the new account announces the move itself (the request signed
//! over HTTP by the new account, the `Move`'s actor the old one). A follower here follows the
//! new account and no longer the old one when the old account's live document names the new
//! one, or, when that document cannot be had (its server gone), when the `Move` carries a
//! Linked Data signature of the old key kept here since the old account accepted the follow.
//! A `Move` the old document contradicts, signed by another key or changed after signing is
//! refused (`401`); one whose target does not list the old account changes nothing.

use http_signatures::{Signer, SigningKey, Standard};
use instance_state::follows::FollowState;
use serde_json::{Value, json};
use test_peer::Peer;
use video_instance::{Running, WithParts as _};

use crate::support::{eventually, loopback_instance};

/// An actor `name` on `server` whose RSA key is one made here (the peer's own is not to be
/// had): its id and a draft-cavage signer of its key, as its server signs.
async fn actor_with_key(server: &Peer, name: &str) -> (String, SigningKey, Signer) {
    let id = server.actor(name).await.unwrap();
    let key = tokio::task::spawn_blocking(|| SigningKey::generate_rsa(2048))
        .await
        .unwrap()
        .unwrap();
    let mut document = server.document(&id).unwrap();
    document["publicKey"]["publicKeyPem"] = json!(key.verifying_key().to_spki_pem().unwrap());
    server.serve(&document).unwrap();
    let signer = Signer::new(key.clone(), format!("{id}#main-key")).with_standard(Standard::Cavage);
    (id, key, signer)
}

/// Local person `follower` of `at` follows `old` (on `server`), which accepts with its own
/// signature: the follow accepted here, and `old`'s key kept.
async fn followed(at: &Running, follower: &str, server: &Peer, old: &str, signer: &Signer) {
    let state = at.instance.state();
    state
        .send_follow(at.instance.outbox(), follower, old)
        .await
        .unwrap();
    let received = server
        .wait_for("the Follow", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Follow" && d.body["object"] == json!(old))
        })
        .await
        .unwrap();
    let follow = received
        .iter()
        .find(|d| d.body["type"] == "Follow" && d.body["object"] == json!(old))
        .unwrap()
        .body
        .clone();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{old}#accepts/1"),
        "type": "Accept",
        "actor": old,
        "object": follow,
    });
    let (status, text) = test_peer::signed_post(
        &reqwest::Client::new(),
        &inbox(at),
        serde_json::to_vec(&accept).unwrap(),
        signer,
    )
    .await
    .unwrap();
    assert!((200..300).contains(&status), "{status} {text}");
    let me = at.instance.actor_id(follower).to_string();
    eventually("the follow accepted", || async {
        follow_state(at, &me, old).await == Some(FollowState::Accepted)
    })
    .await;
}

fn inbox(at: &Running) -> String {
    at.instance.url("/inbox").to_string()
}

async fn follow_state(at: &Running, follower: &str, followed: &str) -> Option<FollowState> {
    at.instance
        .state()
        .follow(follower, followed)
        .await
        .unwrap()
        .map(|f| f.state)
}

/// `Move{actor: old, object: old, target}`, number `n`, to `old`'s followers.
fn move_of(old: &str, target: &str, n: u32) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{old}#moves/{n}"),
        "type": "Move",
        "actor": old,
        "object": old,
        "target": target,
        "to": [format!("{old}/followers")],
    })
}

fn ld_signed(activity: &Value, old: &str, key: &SigningKey) -> Value {
    ld_signatures::sign(
        activity,
        &format!("{old}#main-key"),
        time::OffsetDateTime::now_utc(),
        key,
    )
    .unwrap()
}

/// `activity` passed on by `by` (an actor of `server`), signed over HTTP by it: the status and
/// the answer.
async fn passed_on(server: &Peer, by: &str, at: &Running, activity: &Value) -> (u16, String) {
    let inbox = inbox(at);
    let (headers, body) = server.signed(by, &inbox, activity).unwrap();
    let response = reqwest::Client::new()
        .post(&inbox)
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// Lists `old` in the `alsoKnownAs` of `new` (on `server`).
fn lists(server: &Peer, new: &str, old: &str) {
    let mut document = server.document(new).unwrap();
    document["alsoKnownAs"] = json!([old]);
    server.serve(&document).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_announced_by_the_new_account_is_believed_from_the_old_document() {
    let dir = tempfile::tempdir().unwrap();
    let v = loopback_instance(dir.path(), "v").await.unwrap();
    instance_server::admin::create_person(v.instance.state(), "fan")
        .await
        .unwrap();
    let fan = v.instance.actor_id("fan").to_string();
    let old_server = Peer::start().await.unwrap();
    let (alice, _, alice_signer) = actor_with_key(&old_server, "alice").await;
    followed(&v, "fan", &old_server, &alice, &alice_signer).await;
    let new_server = Peer::start().await.unwrap();
    let bob = new_server.actor("bob").await.unwrap();
    let eve = new_server.actor("eve").await.unwrap();
    lists(&new_server, &bob, &alice);
    let unchanged = || async {
        assert_eq!(
            follow_state(&v, &fan, &alice).await,
            Some(FollowState::Accepted)
        );
        assert_eq!(follow_state(&v, &fan, &bob).await, None);
        assert_eq!(follow_state(&v, &fan, &eve).await, None);
    };

    // Alice's document, which her server still serves, names nobody: refused.
    let (status, text) = passed_on(&new_server, &bob, &v, &move_of(&alice, &bob, 1)).await;
    assert_eq!(status, 401, "{text}");
    unchanged().await;

    // It names eve, who does not list alice: acknowledged, and nothing changes.
    let mut document = old_server.document(&alice).unwrap();
    document["movedTo"] = json!(eve);
    old_server.serve(&document).unwrap();
    let (status, text) = passed_on(&new_server, &eve, &v, &move_of(&alice, &eve, 2)).await;
    assert!((200..300).contains(&status), "{status} {text}");
    unchanged().await;

    // It names bob, who lists alice: fan follows bob (a Follow to his server) and no longer
    // alice (an Undo to hers).
    document["movedTo"] = json!(bob);
    old_server.serve(&document).unwrap();
    let (status, text) = passed_on(&new_server, &bob, &v, &move_of(&alice, &bob, 3)).await;
    assert!((200..300).contains(&status), "{status} {text}");
    eventually("fan follows bob", || async {
        follow_state(&v, &fan, &bob).await.is_some()
    })
    .await;
    assert_eq!(follow_state(&v, &fan, &alice).await, None);
    assert_eq!(follow_state(&v, &fan, &eve).await, None);
    new_server
        .wait_for("fan's Follow of bob", |d| {
            d.iter().any(|d| {
                d.body["type"] == "Follow"
                    && d.body["actor"] == json!(fan)
                    && d.body["object"] == json!(bob)
            })
        })
        .await
        .unwrap();
    old_server
        .wait_for("fan's Undo of the follow of alice", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Undo" && d.body["object"]["object"] == json!(alice))
        })
        .await
        .unwrap();
    v.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_old_server_is_gone_a_move_is_believed_from_the_old_key_kept_here() {
    let dir = tempfile::tempdir().unwrap();
    let v = loopback_instance(dir.path(), "v").await.unwrap();
    instance_server::admin::create_person(v.instance.state(), "fan")
        .await
        .unwrap();
    let fan = v.instance.actor_id("fan").to_string();
    let old_server = Peer::start().await.unwrap();
    let (carol, carol_key, carol_signer) = actor_with_key(&old_server, "carol").await;
    followed(&v, "fan", &old_server, &carol, &carol_signer).await;
    // Carol's server is gone: a connection to it is refused.
    drop(old_server);
    let new_server = Peer::start().await.unwrap();
    let bob = new_server.actor("bob").await.unwrap();
    let eve = new_server.actor("eve").await.unwrap();
    lists(&new_server, &bob, &carol);
    let unchanged = || async {
        assert_eq!(
            follow_state(&v, &fan, &carol).await,
            Some(FollowState::Accepted)
        );
        assert_eq!(follow_state(&v, &fan, &bob).await, None);
        assert_eq!(follow_state(&v, &fan, &eve).await, None);
    };

    // Refused (401), nothing done: without a signature, signed by another key, changed
    // after signing (eve's target made bob's), passed on by someone other than its target.
    let other_key = tokio::task::spawn_blocking(|| SigningKey::generate_rsa(2048))
        .await
        .unwrap()
        .unwrap();
    let mut tampered = ld_signed(&move_of(&carol, &eve, 3), &carol, &carol_key);
    tampered["target"] = json!(bob);
    for (n, by, activity) in [
        (1, &bob, move_of(&carol, &bob, 1)),
        (
            2,
            &bob,
            ld_signed(&move_of(&carol, &bob, 2), &carol, &other_key),
        ),
        (3, &bob, tampered),
        (
            4,
            &eve,
            ld_signed(&move_of(&carol, &bob, 4), &carol, &carol_key),
        ),
    ] {
        let (status, text) = passed_on(&new_server, by, &v, &activity).await;
        assert_eq!(status, 401, "case {n}: {text}");
        unchanged().await;
    }

    // Signed by carol's key, to eve, who does not list carol: acknowledged, nothing changes.
    let to_eve = ld_signed(&move_of(&carol, &eve, 5), &carol, &carol_key);
    let (status, text) = passed_on(&new_server, &eve, &v, &to_eve).await;
    assert!((200..300).contains(&status), "{status} {text}");
    unchanged().await;

    // Signed by carol's key, to bob, who lists her: fan follows bob and no longer carol.
    let to_bob = ld_signed(&move_of(&carol, &bob, 6), &carol, &carol_key);
    let (status, text) = passed_on(&new_server, &bob, &v, &to_bob).await;
    assert!((200..300).contains(&status), "{status} {text}");
    eventually("fan follows bob", || async {
        follow_state(&v, &fan, &bob).await.is_some()
    })
    .await;
    assert_eq!(follow_state(&v, &fan, &carol).await, None);
    new_server
        .wait_for("fan's Follow of bob", |d| {
            d.iter().any(|d| {
                d.body["type"] == "Follow"
                    && d.body["actor"] == json!(fan)
                    && d.body["object"] == json!(bob)
            })
        })
        .await
        .unwrap();
    v.stop().await.unwrap();
}
