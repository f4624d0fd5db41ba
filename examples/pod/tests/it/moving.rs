//! Moving an account between pods, as Mastodon moves one (FEP-7628): alice on A, followed by
//! carol on C, moves to bob on B, who lists her among his other accounts. Carol then follows bob
//! and no longer alice, on both sides; alice's pages say where she went. A move to an account
//! that does not list its source, a move back within 30 days and a redelivered `Move` change
//! nothing.
//!
//! And when the old pod is gone (FEP-7628's pull mode): alice's archive carries a `Move` to bob
//! signed with her key; A stops; bob imports it on B and sends that `Move` to her followers on C
//! and D, who believe it from the key of alice they kept and follow bob. Forged proofs are
//! refused at the import and by the receivers. Fedify (the peer) believes such a `Move` by
//! the old key it kept, and refuses it when it never met the old account or the signature is
//! forged.

use http_signatures::Standard;
use instance_state::follows::FollowState;
use pod::Running;
use serde_json::{Value, json};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use test_peer::fedify::{self, FedifyOptions, FedifyPeer, moved, received};

use pod::archive::ArchiveError;

use crate::archive::{entries, gzip, tar_of};
use crate::support::{Session, deliver_to, eventually, fetch, person, pod, until_following};

/// The state of `follower`'s follow of `followed`, as `at` records it.
async fn follow_state(at: &Running, follower: &str, followed: &str) -> Option<FollowState> {
    at.instance
        .state()
        .follow(follower, followed)
        .await
        .unwrap()
        .map(|f| f.state)
}

/// Waits until `at` records `follower`'s follow of `followed` in `state` (`None`: no follow).
async fn until_state(at: &Running, follower: &str, followed: &str, state: Option<FollowState>) {
    eventually(
        &format!("{follower} -> {followed} is {state:?} on {}", at.base_url),
        || async { follow_state(at, follower, followed).await == state },
    )
    .await;
}

/// POSTs `activity` to `to`'s shared inbox, signed (draft-cavage, as Mastodon signs) with the
/// RSA key of `name`, a local actor of `by`: a delivery `by` could have made.
async fn deliver_as(by: &Running, name: &str, to: &Running, activity: &Value) -> u16 {
    let (status, text) = deliver(by, name, to, activity).await;
    assert!((200..300).contains(&status), "{status}: {text}");
    status
}

/// [`deliver_as`], whatever the answer: its status and text.
async fn deliver(by: &Running, name: &str, to: &Running, activity: &Value) -> (u16, String) {
    let inbox = to.base_url.join("inbox").unwrap().to_string();
    deliver_to(by, name, &inbox, activity).await
}

/// Waits until `at`'s inbox has processed `n` more activities than `before`.
async fn until_processed(at: &Running, before: u64, n: u64) {
    eventually("activities processed", || async {
        at.instance.state().processed_count().await.unwrap() >= before + n
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_moves_to_another_pod_with_its_followers() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let c = pod(dir.path(), "C").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let dave = person(&b, "dave").await;
    let carol = person(&c, "carol").await;
    c.instance.follow("carol", &alice).await.unwrap();
    until_following(&a, &carol, &alice).await;
    until_following(&c, &carol, &alice).await;

    // Alice cannot move to dave, who does not list her: refused, nothing sent.
    let alice_web = Session::new(&a, "alice").await;
    let (status, page) = alice_web.post("/profile/move", &[("account", &dave)]).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("does not list"), "{page}");
    assert_eq!(a.instance.state().moved_to(&alice).await.unwrap(), None);

    // Bob lists alice (found by WebFinger) among his other accounts, on his settings page;
    // not with a forged token.
    let bob_web = Session::new(&b, "bob").await;
    let forged = Session {
        csrf: "forged".to_owned(),
        ..Session::new(&b, "bob").await
    };
    assert_eq!(
        forged
            .post("/profile/aliases", &[("account", &alice)])
            .await
            .0,
        403
    );
    assert_eq!(
        forged.post("/profile/move", &[("account", &alice)]).await.0,
        403
    );
    let (status, page) = bob_web.get("/profile/moving").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("This account is also known as"), "{page}");
    let handle = format!("@alice@{}", a.base_url.authority());
    let (status, location) = bob_web
        .post("/profile/aliases", &[("account", &handle)])
        .await;
    assert_eq!(status, 303, "{location}");
    let (_, document) = fetch(&bob).await;
    assert_eq!(document["alsoKnownAs"], json!([alice]));
    let (_, page) = bob_web.get("/profile/moving").await;
    assert!(page.contains("Remove"), "{page}");

    // Alice moves to bob.
    let (status, location) = alice_web.post("/profile/move", &[("account", &bob)]).await;
    assert_eq!(status, 303, "{location}");
    let (_, document) = fetch(&alice).await;
    assert_eq!(document["movedTo"], json!(bob));
    assert_eq!(document["type"], "Person");
    let (_, page) = alice_web.get("/actors/alice").await;
    assert!(page.contains("This account has moved to"), "{page}");
    assert!(page.contains("/people?id="), "{page}");

    // Carol follows bob now, on C's side and in bob's followers on B, and no longer alice.
    until_state(&c, &carol, &bob, Some(FollowState::Accepted)).await;
    until_state(&b, &carol, &bob, Some(FollowState::Accepted)).await;
    until_state(&c, &carol, &alice, None).await;
    until_state(&a, &carol, &alice, None).await;
    let carol_web = Session::new(&c, "carol").await;
    let alice_there = format!(
        "/people?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", &alice)
            .finish()
    );
    let (_, page) = carol_web.get(&alice_there).await;
    assert!(page.contains("This account has moved to"), "{page}");
    let follow_id = c
        .instance
        .state()
        .follow(&carol, &bob)
        .await
        .unwrap()
        .unwrap()
        .follow_id;

    // The same Move again, and again under another id: nothing more happens.
    let sent = a
        .instance
        .state()
        .outbox(
            &alice,
            &a.instance.state().scope_of(&alice).await.unwrap(),
            0,
            10,
        )
        .await
        .unwrap();
    let moved = sent
        .iter()
        .find(|activity| activity.kind == "Move")
        .map(|activity| activity.document.clone())
        .unwrap();
    assert_eq!(moved["object"], json!(alice));
    assert_eq!(moved["target"], json!(bob));
    let before = c.instance.state().processed_count().await.unwrap();
    deliver_as(&a, "alice", &c, &moved).await;
    let mut again = moved.clone();
    again["id"] = json!(format!("{alice}#moves/again"));
    deliver_as(&a, "alice", &c, &again).await;
    until_processed(&c, before, 1).await;
    let now = c
        .instance
        .state()
        .follow(&carol, &bob)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.follow_id, follow_id);
    assert_eq!(follow_state(&c, &carol, &alice).await, None);

    // A second move of alice within 30 days is refused on A.
    let (status, page) = alice_web.post("/profile/move", &[("account", &dave)]).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("30 days"), "{page}");

    // Bob moves back to alice (who lists him) within 30 days: B cannot know, but C refuses
    // it. Carol stays with bob.
    alice_web
        .post("/profile/aliases", &[("account", &bob)])
        .await;
    let before = c.instance.state().processed_count().await.unwrap();
    let (status, location) = bob_web.post("/profile/move", &[("account", &alice)]).await;
    assert_eq!(status, 303, "{location}");
    // The Move and bob's document (Update) reach C. The inbox records an activity before
    // handling it, so the same Move, under another id, is also delivered here directly: its
    // answer comes once it has been handled.
    until_processed(&c, before, 2).await;
    let back = b
        .instance
        .state()
        .outbox(
            &bob,
            &b.instance.state().scope_of(&bob).await.unwrap(),
            0,
            10,
        )
        .await
        .unwrap()
        .into_iter()
        .find(|activity| activity.kind == "Move")
        .map(|activity| activity.document)
        .unwrap();
    assert_eq!(back["target"], json!(alice));
    let mut back_again = back;
    back_again["id"] = json!(format!("{bob}#moves/again"));
    deliver_as(&b, "bob", &c, &back_again).await;
    assert_eq!(
        follow_state(&c, &carol, &bob).await,
        Some(FollowState::Accepted)
    );
    assert_eq!(follow_state(&c, &carol, &alice).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_to_an_account_that_does_not_list_its_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let b = pod(dir.path(), "B").await;
    let c = pod(dir.path(), "C").await;
    let dave = person(&b, "dave").await;
    let eve = person(&b, "eve").await;
    let carol = person(&c, "carol").await;
    c.instance.follow("carol", &dave).await.unwrap();
    until_following(&c, &carol, &dave).await;

    // A Move from dave to eve, whose document does not name dave (as B would never send it).
    let forged = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{dave}#moves/1"),
        "type": "Move",
        "actor": dave,
        "object": dave,
        "target": eve,
        "to": format!("{dave}/followers"),
    });
    let before = c.instance.state().processed_count().await.unwrap();
    deliver_as(&b, "dave", &c, &forged).await;
    until_processed(&c, before, 1).await;
    assert_eq!(
        follow_state(&c, &carol, &dave).await,
        Some(FollowState::Accepted)
    );
    assert_eq!(follow_state(&c, &carol, &eve).await, None);
    assert_eq!(c.instance.state().moved_to(&dave).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_commands_add_an_alias_and_move() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let admin = |running: &Running, name: &str| {
        pod::admin::Admin::new(
            dir.path()
                .join(format!("{name}.sqlite"))
                .display()
                .to_string(),
        )
        .with_base_url(Some(running.base_url.clone()))
        .with_danger_allow_private_addresses(true)
    };
    let (admin_a, admin_b) = (admin(&a, "A"), admin(&b, "B"));

    // Not listed yet: refused.
    let refused = pod::moving::admin_move(&admin_a, "alice", &bob)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("does not list"), "{refused}");

    // Bob lists alice by her handle; alice moves to bob.
    let handle = format!("@alice@{}", a.base_url.authority());
    let listed = pod::moving::admin_add_alias(&admin_b, "bob", &handle)
        .await
        .unwrap();
    assert_eq!(listed["alsoKnownAs"], json!([alice]));
    let moved = pod::moving::admin_move(&admin_a, "alice", &bob)
        .await
        .unwrap();
    assert_eq!(moved["type"], "Move");
    assert_eq!(
        a.instance
            .state()
            .moved_to(&alice)
            .await
            .unwrap()
            .as_deref(),
        Some(bob.as_str())
    );
    let removed = pod::moving::admin_remove_alias(&admin_b, "bob", &alice)
        .await
        .unwrap();
    assert_eq!(removed["alsoKnownAs"], json!([]));
}

/// The archive at `file` with its move proof replaced by `proof`, written beside it as `name`.
fn with_proof(file: &Path, proof: &Value, name: &str) -> PathBuf {
    let entries: Vec<(String, Vec<u8>)> = entries(file)
        .into_iter()
        .map(|(path, bytes)| {
            if path == "pod/move.json" {
                (path, serde_json::to_vec(proof).unwrap())
            } else {
                (path, bytes)
            }
        })
        .collect();
    let out = file.with_file_name(name);
    std::fs::write(&out, gzip(&tar_of(&entries))).unwrap();
    out
}

/// The administration commands of the pod `name` (its database in `dir`) running as `running`.
fn admin(dir: &Path, running: &Running, name: &str) -> pod::admin::Admin {
    pod::admin::Admin::new(dir.join(format!("{name}.sqlite")).display().to_string())
        .with_base_url(Some(running.base_url.clone()))
        .with_danger_allow_private_addresses(true)
}

/// Now, in Unix microseconds.
fn now_micros() -> i64 {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_micros()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_old_pod_is_gone_the_new_account_sends_the_move_its_archive_carries() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let c = pod(dir.path(), "C").await;
    let d = pod(dir.path(), "D").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let eve = person(&b, "eve").await;
    let carol = person(&c, "carol").await;
    let dave = person(&d, "dave").await;
    c.instance.follow("carol", &alice).await.unwrap();
    d.instance.follow("dave", &alice).await.unwrap();
    let alice_key = format!("{alice}#main-key");
    for (at, follower) in [(&c, &carol), (&d, &dave)] {
        until_following(&a, follower, &alice).await;
        until_following(at, follower, &alice).await;
        // The follower's pod keeps alice's public key, from her Accept.
        eventually("alice's key kept", || async {
            at.instance
                .state()
                .remote_actor(&alice)
                .await
                .unwrap()
                .and_then(|remote| remote.key)
                .is_some_and(|key| key.key_id == alice_key && key.pem.contains("PUBLIC KEY"))
        })
        .await;
    }

    // Alice exports her account naming bob (by his handle) as the account she moves to.
    let file = dir.path().join("alice.tar.gz");
    let handle = format!("@bob@{}", b.base_url.authority());
    pod::archive::admin_export(&admin(dir.path(), &a, "A"), "alice", &file, Some(&handle))
        .await
        .unwrap();
    let proof: Value = entries(&file)
        .into_iter()
        .find(|(path, _)| path == "pod/move.json")
        .map(|(_, bytes)| serde_json::from_slice(&bytes).unwrap())
        .expect("the archive carries the move proof");
    assert_eq!(proof["type"], "Move");
    assert_eq!(proof["actor"], json!(alice));
    assert_eq!(proof["object"], json!(alice));
    assert_eq!(proof["target"], json!(bob));
    assert_eq!(proof["signature"]["type"], "RsaSignature2017");
    assert_eq!(proof["signature"]["creator"], json!(alice_key));
    let alice_rsa = a
        .instance
        .state()
        .signing_keys("alice")
        .await
        .unwrap()
        .unwrap()
        .rsa;

    // A is gone: its port refuses connections.
    a.stop().await.unwrap();

    // Forged proofs: another key, another target, a tampered Move. Each is refused at the
    // import, with nothing stored.
    let other_key = ld_signatures::SigningKey::generate_rsa(2048).unwrap();
    let by_another_key =
        pod::moving::sign_move_proof(&other_key, &alice_key, &alice, &bob, now_micros()).unwrap();
    let to_eve =
        pod::moving::sign_move_proof(&alice_rsa, &alice_key, &alice, &eve, now_micros()).unwrap();
    let mut tampered = to_eve.clone();
    tampered["target"] = json!(bob);
    let admin_b = admin(dir.path(), &b, "B");
    for (proof, name, expected) in [
        (
            &by_another_key,
            "another-key.tar.gz",
            "Linked Data signature",
        ),
        (&to_eve, "to-eve.tar.gz", "not to this account"),
        (&tampered, "tampered.tar.gz", "Linked Data signature"),
    ] {
        let forged = with_proof(&file, proof, name);
        let refused = pod::archive::admin_import(&admin_b, "bob", &forged, true)
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused.downcast_ref::<ArchiveError>(),
                Some(ArchiveError::MoveProof(_))
            ),
            "{name}: {refused:#}"
        );
        assert!(refused.to_string().contains(expected), "{name}: {refused}");
        let bob_now = b.instance.state().actor("bob").await.unwrap().unwrap();
        assert!(bob_now.also_known_as.is_empty(), "{name}");
        assert_eq!(bob_now.display_name, "bob", "{name}");
    }

    // The receivers refuse forged Moves too, passed on as bob would pass one on. Carol keeps
    // following alice each time, and follows nobody else.
    let to_bob_early =
        pod::moving::sign_move_proof(&alice_rsa, &alice_key, &alice, &bob, now_micros()).unwrap();
    for (by, move_, refused_by_inbox) in [
        ("bob", &by_another_key, true),
        ("bob", &tampered, true),
        // Passed on by someone other than its target.
        ("bob", &to_eve, true),
        // Signed by alice's key and passed on by its target, but eve does not list alice.
        ("eve", &to_eve, false),
        // Bob does not list alice yet.
        ("bob", &to_bob_early, false),
    ] {
        let before = c.instance.state().processed_count().await.unwrap();
        let (status, text) = deliver(&b, by, &c, move_).await;
        if refused_by_inbox {
            assert_eq!(status, 401, "{by}: {text}");
        } else {
            assert_eq!(status, 202, "{by}: {text}");
            until_processed(&c, before, 1).await;
        }
        assert_eq!(
            follow_state(&c, &carol, &alice).await,
            Some(FollowState::Accepted)
        );
        assert_eq!(follow_state(&c, &carol, &bob).await, None);
        assert_eq!(follow_state(&c, &carol, &eve).await, None);
        assert_eq!(c.instance.state().moved_to(&alice).await.unwrap(), None);
    }

    // Bob imports the archive and sends its Move to alice's followers.
    let imported = b
        .instance
        .import_archive_moving("bob", &file, &pod::archive::ImportLimits::default(), true)
        .await
        .unwrap();
    assert_eq!(imported.moved_from.as_deref(), Some(alice.as_str()));
    let sent = imported.move_sent.unwrap();
    assert_eq!((sent.queued, sent.unreachable), (2, 0));
    let (_, document) = fetch(&bob).await;
    assert_eq!(document["alsoKnownAs"], json!([alice]));

    // Carol on C and dave on D now follow bob (on both sides), and no longer alice.
    for (at, follower) in [(&c, &carol), (&d, &dave)] {
        until_state(at, follower, &bob, Some(FollowState::Accepted)).await;
        until_state(&b, follower, &bob, Some(FollowState::Accepted)).await;
        until_state(at, follower, &alice, None).await;
        assert_eq!(
            at.instance.state().moved_to(&alice).await.unwrap(),
            Some(bob.clone())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_export_a_move_and_import_the_archive_sending_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let c = pod(dir.path(), "C").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let carol = person(&c, "carol").await;
    c.instance.follow("carol", &alice).await.unwrap();
    until_following(&a, &carol, &alice).await;
    until_following(&c, &carol, &alice).await;
    eventually("alice's key kept", || async {
        c.instance
            .state()
            .remote_actor(&alice)
            .await
            .unwrap()
            .is_some_and(|remote| remote.key.is_some())
    })
    .await;

    // Alice downloads her archive naming bob; not herself.
    let web_a = Session::new(&a, "alice").await;
    let (_, page) = web_a.get("/profile/archive").await;
    assert!(page.contains("The account you move to"), "{page}");
    let herself = format!("@alice@{}", a.base_url.authority());
    let (status, page) = web_a
        .post("/profile/archive/export", &[("move_to", herself.as_str())])
        .await;
    assert_eq!(status, 422, "{page}");
    let response = web_a
        .http
        .post(web_a.base.join("/profile/archive/export").unwrap())
        .header("cookie", &web_a.cookie)
        .header("origin", web_a.base.origin().ascii_serialization())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("csrf", &web_a.csrf)
                .append_pair("move_to", &format!("@bob@{}", b.base_url.authority()))
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let archive = response.bytes().await.unwrap().to_vec();
    let file = dir.path().join("downloaded.tar.gz");
    std::fs::write(&file, &archive).unwrap();
    let proof: Value = entries(&file)
        .into_iter()
        .find(|(path, _)| path == "pod/move.json")
        .map(|(_, bytes)| serde_json::from_slice(&bytes).unwrap())
        .expect("the archive carries the move proof");
    assert_eq!(proof["target"], json!(bob));
    a.stop().await.unwrap();

    // Bob uploads it on B and asks for the move to be sent.
    let web_b = Session::new(&b, "bob").await;
    let part = reqwest::multipart::Part::bytes(archive)
        .file_name("archive.tar.gz")
        .mime_str("application/gzip")
        .unwrap();
    let (status, page) = web_b
        .post_multipart(
            "/profile/archive/import",
            web_b.multipart().text("send_move", "on").part("file", part),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("This account now lists {alice}")),
        "{page}"
    );
    assert!(page.contains("The move was sent to 1"), "{page}");
    until_state(&c, &carol, &bob, Some(FollowState::Accepted)).await;
    until_state(&c, &carol, &alice, None).await;
}

/// Waits until the Fedify peer follows `actor`, accepted, by its own list.
async fn until_peer_follows(peer: &mut FedifyPeer, actor: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !peer.follows(actor).await.unwrap() {
        assert!(
            Instant::now() < deadline,
            "the peer does not follow {actor}{}",
            peer.transcript()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The Fedify peer's shared inbox.
fn shared_inbox(peer: &FedifyPeer) -> String {
    url::Url::parse(peer.actor())
        .unwrap()
        .join("/inbox")
        .unwrap()
        .to_string()
}

/// Fedify's side of a `Move` passed on by its target once the old pod is gone (FEP-7628's
/// pull mode): the HTTP signature is bob's and the actor alice, so only alice's Linked Data
/// signature can vouch for it, checked with the key Fedify kept from alice's `Accept`. A Fedify
/// server that never met alice refuses it (`401`: the signer is not the actor), and so does
/// the one that met her when the signature is made with another key; the real one is believed,
/// and the peer follows bob.
#[tokio::test(flavor = "multi_thread")]
async fn fedify_believes_a_move_passed_on_by_its_target_only_by_the_old_key_it_kept() {
    fedify::install().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let mut met = FedifyPeer::spawn(FedifyOptions::new(Standard::Rfc9421))
        .await
        .unwrap();
    let mut stranger = FedifyPeer::spawn(FedifyOptions::new(Standard::Rfc9421))
        .await
        .unwrap();
    met.command(json!({"cmd": "follow", "target": alice}))
        .await
        .unwrap();
    until_peer_follows(&mut met, &alice).await;
    b.instance.add_alias("bob", &alice).await.unwrap();
    let alice_key = format!("{alice}#main-key");
    let alice_rsa = a
        .instance
        .state()
        .signing_keys("alice")
        .await
        .unwrap()
        .unwrap()
        .rsa;
    let real =
        pod::moving::sign_move_proof(&alice_rsa, &alice_key, &alice, &bob, now_micros()).unwrap();
    let other_key = ld_signatures::SigningKey::generate_rsa(2048).unwrap();
    let forged =
        pod::moving::sign_move_proof(&other_key, &alice_key, &alice, &bob, now_micros()).unwrap();
    a.stop().await.unwrap();

    for (peer, move_, what) in [
        (&mut stranger, &real, "a Move from someone it never met"),
        (&mut met, &forged, "a Move signed by another key"),
    ] {
        let (status, text) = deliver_to(&b, "bob", &shared_inbox(peer), move_).await;
        assert_eq!(status, 401, "{what}: {text}");
        assert!(
            text.contains("The signer and the actor do not match"),
            "{what}: {text}"
        );
        let id = move_["id"].as_str().unwrap();
        peer.expect(what, |e| {
            e["event"] == "inbox-rejected" && e["activity_id"] == id
        })
        .await
        .unwrap();
    }
    assert!(stranger.following().await.unwrap().is_empty());
    assert!(met.follows(&alice).await.unwrap());

    let (status, text) = deliver_to(&b, "bob", &shared_inbox(&met), &real).await;
    assert_eq!(status, 202, "{text}");
    let believed = met
        .expect("the Move received", |e| {
            received(e, "Move") && e["actor"] == alice.as_str()
        })
        .await
        .unwrap();
    assert_eq!(believed["verified_by"], "ld-signature", "{believed}");
    let followed = met
        .expect("the Move followed", |e| moved(e, &alice, &bob))
        .await
        .unwrap_or_else(|error| panic!("{error:#}{}", met.transcript()));
    assert_eq!(followed["undo"]["ok"], false, "{followed}");
    until_peer_follows(&mut met, &bob).await;
    until_state(&b, met.actor(), &bob, Some(FollowState::Accepted)).await;
    assert!(!met.follows(&alice).await.unwrap());
    met.quit().await;
    stranger.quit().await;
}

/// Pull mode with followers whose servers are down at the import: carol's pod C comes back
/// and gets the `Move` from the serving pod B's retries (and carol follows bob); dave's pod D
/// never does, and dave is given up after the bound (two seconds here, seven days by default).
#[tokio::test(flavor = "multi_thread")]
async fn a_move_to_followers_unreachable_at_the_import_is_retried_then_given_up() {
    move_retries().await;
}

/// The test above, on the database [`crate::support::pod`] makes (PostgreSQL in
/// `postgres.rs`).
pub(crate) async fn move_retries() {
    use pod::pending_moves::MoveRetry;
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let retry = MoveRetry::default()
        .with_interval(Duration::from_millis(100))
        .with_first_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_millis(400))
        .with_give_up_after(Duration::from_secs(2));
    let b = crate::support::pod_with(dir.path(), "B", |options| {
        options.app = options.app.clone().with_move_retry(retry);
    })
    .await;
    let c = pod(dir.path(), "C").await;
    let d = pod(dir.path(), "D").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let carol = person(&c, "carol").await;
    let dave = person(&d, "dave").await;
    c.instance.follow("carol", &alice).await.unwrap();
    d.instance.follow("dave", &alice).await.unwrap();
    for (at, follower) in [(&c, &carol), (&d, &dave)] {
        until_following(&a, follower, &alice).await;
        until_following(at, follower, &alice).await;
        eventually("alice's key kept", || async {
            at.instance
                .state()
                .remote_actor(&alice)
                .await
                .unwrap()
                .and_then(|remote| remote.key)
                .is_some()
        })
        .await;
    }
    let file = dir.path().join("alice.tar.gz");
    pod::archive::admin_export(
        &crate::archive::admin(dir.path(), &a, "A"),
        "alice",
        &file,
        Some(&bob),
    )
    .await
    .unwrap();

    // A is gone, and so are C and D for now.
    let c_listen = c.addr;
    a.stop().await.unwrap();
    c.stop().await.unwrap();
    d.stop().await.unwrap();

    // Bob imports the archive, sending its Move: nobody can be reached.
    let admin_b = crate::archive::admin(dir.path(), &b, "B");
    let imported = pod::archive::admin_import(&admin_b, "bob", &file, true)
        .await
        .unwrap();
    assert_eq!(
        imported["imported"]["move_sent"],
        json!({"queued": 0, "local": 0, "unreachable": 2}),
        "{imported}"
    );
    let pending = pod::admin::pending_moves(&admin_b).await.unwrap();
    assert_eq!(pending["pending"], 2, "{pending}");
    let recipients = pending["recipients"].as_array().unwrap();
    let followers: Vec<&str> = recipients
        .iter()
        .map(|r| r["follower"].as_str().unwrap())
        .collect();
    assert!(followers.contains(&carol.as_str()) && followers.contains(&dave.as_str()));
    assert!(
        recipients
            .iter()
            .all(|r| r["attempts"].as_i64().unwrap() >= 1
                && !r["last_error"].as_str().unwrap().is_empty()),
        "{pending}"
    );

    // C comes back on its address: B's retries reach it, and carol follows bob.
    let c = crate::support::pod_again(dir.path(), "C", |options| options.listen = c_listen).await;
    until_state(&c, &carol, &bob, Some(FollowState::Accepted)).await;
    until_state(&b, &carol, &bob, Some(FollowState::Accepted)).await;
    until_state(&c, &carol, &alice, None).await;

    // D stays gone: dave is given up after the bound, kept for the administrator to see.
    eventually("dave given up", || async {
        let now = pod::admin::pending_moves(&admin_b).await.unwrap();
        now["pending"] == 0 && now["given_up"] == 1
    })
    .await;
    let pending = pod::admin::pending_moves(&admin_b).await.unwrap();
    let given_up = &pending["recipients"][0];
    assert_eq!(given_up["follower"], json!(dave), "{pending}");
    assert_eq!(given_up["state"], "given_up");
    assert!(given_up["attempts"].as_i64().unwrap() >= 2, "{pending}");
    // Given up means never tried again: a round finds nobody due.
    let round = b.instance.retry_pending_moves().await.unwrap();
    assert_eq!((round.sent, round.failed, round.given_up), (0, 0, 0));
    b.stop().await.unwrap();
    c.stop().await.unwrap();
}
