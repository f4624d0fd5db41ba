//! Relays, with test-peer's `Peer` as the relay and as the author's server: the instance
//! actor's subscription (a `Follow` of the public collection, the relay's `Accept` recorded);
//! a relayed post with a valid LD signature stored and shown on its tag's page and in a tag
//! follower's stream; the same post with one character changed refused; a LitePub `Announce`
//! stored after fetching the post from its origin, refused when the origin answers 404; a post
//! forwarded by a relay the pod is not subscribed to refused; the real relayed fixture
//! (`mastodon/create-note-ld-signed-for-relay.json`) accepted with its signature unchanged; a
//! local public post sent to the relay, a followers-only one not; unsubscribing; a rejected
//! subscription (an answer from someone else ignored) brings nothing. Relayed deliveries go
//! through the federation inbox's own checks: a bad digest is refused, an activity id seen
//! before is not handled again.

use http_signatures::SigningKey;
use pod::{PostAudience, RelayKind, Running};
use serde_json::{Value, json};
use test_peer::Peer;

use crate::support::{Session, eventually, person, pod};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The relay's state for `address` once it is `state`.
async fn until_relay_state(a: &Running, address: &str, state: &str) {
    eventually("the relay's state", || async {
        a.instance
            .relays()
            .await
            .unwrap()
            .iter()
            .any(|r| r.address == address && r.state == state)
    })
    .await;
}

/// A relay actor on `relay`, subscribed to by `a` (Mastodon-style: `Follow` of the public
/// collection to the relay's inbox) and accepted.
async fn subscribed_mastodon_relay(a: &Running, relay: &Peer) -> String {
    let relay_actor = relay
        .actor_at("/actor", "Application", "relay")
        .await
        .unwrap();
    let address = format!("{}/inbox", relay.origin());
    a.instance
        .add_relay(&url::Url::parse(&address).unwrap(), RelayKind::Mastodon)
        .await
        .unwrap();
    let received = relay
        .wait_for("the Follow of the public collection", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Follow" && d.body["object"] == PUBLIC)
        })
        .await
        .unwrap();
    let follow = received
        .iter()
        .find(|d| d.body["type"] == "Follow")
        .unwrap();
    assert!(
        address.ends_with(&format!("/{}", follow.to)),
        "{}",
        follow.to
    );
    assert_eq!(
        follow.body["actor"],
        json!(a.instance.state().actor_id(pod::INSTANCE_ACTOR).as_str())
    );
    until_relay_state(a, &address, "pending").await;
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{relay_actor}#accepts/1"),
        "type": "Accept",
        "actor": relay_actor,
        "object": follow.body,
    });
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    relay.deliver(&relay_actor, &inbox, &accept).await.unwrap();
    until_relay_state(a, &address, "accepted").await;
    relay_actor
}

/// An author on `peer` whose key (an RSA key made here) LD-signs: its id, key id and key.
async fn ld_author(peer: &Peer, name: &str) -> (String, String, SigningKey) {
    let author = peer.actor(name).await.unwrap();
    let key = tokio::task::spawn_blocking(|| SigningKey::generate_rsa(2048))
        .await
        .unwrap()
        .unwrap();
    let mut document = peer.document(&author).unwrap();
    document["publicKey"]["publicKeyPem"] = json!(key.verifying_key().to_spki_pem().unwrap());
    peer.serve(&document).unwrap();
    let key_id = format!("{author}#main-key");
    (author, key_id, key)
}

/// A public `Create{Note}` by `author`, number `n`, with `text` and hashtag `tag`.
fn create_note(author: &str, n: u32, text: &str, tag: &str) -> Value {
    let note = format!("{author}/statuses/{n}");
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", {"Hashtag": "as:Hashtag"}],
        "id": format!("{note}/activity"),
        "type": "Create",
        "actor": author,
        "published": "2026-12-07T01:00:00Z",
        "to": [PUBLIC],
        "cc": [format!("{author}/followers")],
        "object": {
            "id": note,
            "type": "Note",
            "attributedTo": author,
            "published": "2026-12-07T01:00:00Z",
            "to": [PUBLIC],
            "cc": [format!("{author}/followers")],
            "content": format!("<p>{text} <a href=\"https://example.com/tags/{tag}\" class=\"mention hashtag\" rel=\"tag\">#<span>{tag}</span></a></p>"),
            "tag": [{"type": "Hashtag", "href": format!("https://example.com/tags/{tag}"), "name": format!("#{tag}")}],
        },
    })
}

fn signed(document: &Value, key_id: &str, key: &SigningKey) -> Value {
    ld_signatures::sign(document, key_id, time::OffsetDateTime::now_utc(), key).unwrap()
}

/// `path`'s page on `a`, as a browser asks for it: status and text.
async fn html(a: &Running, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(a.base_url.join(path).unwrap())
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

async fn tag_page(a: &Running, tag: &str) -> String {
    html(a, &format!("tags/{tag}")).await.1
}

fn remote_path(id: &str) -> String {
    format!(
        "posts/remote?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", id)
            .finish()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relayed_ld_signed_post_reaches_its_tag_and_a_forged_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    person(&a, "dave").await;
    let dave = Session::new(&a, "dave").await;
    let (status, _) = dave.post("/tags/follow", &[("tag", "relayed")]).await;
    assert_eq!(status, 303);
    let relay = Peer::start().await.unwrap();
    let relay_actor = subscribed_mastodon_relay(&a, &relay).await;
    let origin = Peer::start().await.unwrap();
    let (felix, key_id, key) = ld_author(&origin, "felix").await;
    let inbox = a.base_url.join("inbox").unwrap().to_string();

    // Forged: the signed post with one character changed is refused, nothing stored.
    let good = signed(
        &create_note(&felix, 1, "Hello from far away", "relayed"),
        &key_id,
        &key,
    );
    let mut forged = good.clone();
    forged["object"]["content"] = json!(
        good["object"]["content"]
            .as_str()
            .unwrap()
            .replace("Hello", "Jello")
    );
    let (status, text) = relay_post(&relay, &relay_actor, &inbox, &forged).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("LD signature does not verify"), "{text}");
    assert!(!tag_page(&a, "relayed").await.contains("Jello"));

    // Forwarded by the relay, signed by felix: on the tag's page and in dave's stream.
    let (status, text) = relay_post(&relay, &relay_actor, &inbox, &good).await;
    assert_eq!(status, 202, "{text}");
    eventually("the relayed post is on the tag's page", || async {
        tag_page(&a, "relayed")
            .await
            .contains("Hello from far away")
    })
    .await;
    assert!(dave.get("/").await.1.contains("/posts/remote?"));

    // Felix deletes it: a Delete LD-signed by another key is refused, his own is believed.
    let note = good["object"]["id"].as_str().unwrap();
    let delete = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{note}#delete"),
        "type": "Delete",
        "actor": felix,
        "to": [PUBLIC],
        "object": {"id": note, "type": "Tombstone"},
    });
    let other_key = tokio::task::spawn_blocking(|| SigningKey::generate_rsa(2048))
        .await
        .unwrap()
        .unwrap();
    let (status, text) = relay_post(
        &relay,
        &relay_actor,
        &inbox,
        &signed(&delete, &key_id, &other_key),
    )
    .await;
    assert_eq!(status, 401, "{text}");
    assert!(
        tag_page(&a, "relayed")
            .await
            .contains("Hello from far away")
    );
    let (status, text) = relay_post(
        &relay,
        &relay_actor,
        &inbox,
        &signed(&delete, &key_id, &key),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert!(
        !tag_page(&a, "relayed")
            .await
            .contains("Hello from far away")
    );
    // A relay the pod is not subscribed to: refused by the inbox (its key is not the actor's).
    let stranger = Peer::start().await.unwrap();
    let stranger_relay = stranger
        .actor_at("/actor", "Application", "relay")
        .await
        .unwrap();
    let other = signed(
        &create_note(&felix, 2, "Through a stranger", "relayed"),
        &key_id,
        &key,
    );
    let (status, text) = relay_post(&stranger, &stranger_relay, &inbox, &other).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("origin"), "{text}");
    assert!(!tag_page(&a, "relayed").await.contains("Through a stranger"));

    // Felix blocked here: his relayed posts are refused by the inbox's blocks, however well
    // signed.
    a.instance
        .state()
        .block(
            None,
            &instance_state::blocks::BlockTarget::Actor(felix.to_string()),
            "test",
        )
        .await
        .unwrap();
    let blocked = signed(
        &create_note(&felix, 3, "From a blocked server", "relayed"),
        &key_id,
        &key,
    );
    let (status, text) = relay_post(&relay, &relay_actor, &inbox, &blocked).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("blocked here"), "{text}");
    assert!(
        !tag_page(&a, "relayed")
            .await
            .contains("From a blocked server")
    );
    a.stop().await.unwrap();
}

/// POSTs `activity` to `inbox` signed by `signer` (the relay's actor): status and answer.
async fn relay_post(relay: &Peer, signer: &str, inbox: &str, activity: &Value) -> (u16, String) {
    let (headers, body) = relay.signed(signer, inbox, activity).unwrap();
    let response = reqwest::Client::new()
        .post(inbox)
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

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_refuses_a_relayed_delivery_with_a_bad_digest_or_an_id_seen_before() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let relay = Peer::start().await.unwrap();
    let relay_actor = subscribed_mastodon_relay(&a, &relay).await;
    let origin = Peer::start().await.unwrap();
    let (felix, key_id, key) = ld_author(&origin, "felix").await;
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    let good = signed(
        &create_note(&felix, 1, "Said once", "replayed"),
        &key_id,
        &key,
    );

    // The relay's signed headers over one body, sent with another (well LD-signed too): the
    // inbox refuses it at the digest, before any signature is looked at.
    let (mut headers, _) = relay.signed(&relay_actor, &inbox, &good).unwrap();
    headers.remove(http::header::CONTENT_LENGTH);
    let swapped = signed(
        &create_note(&felix, 2, "Swapped in", "replayed"),
        &key_id,
        &key,
    );
    let response = reqwest::Client::new()
        .post(&inbox)
        .headers(headers)
        .body(serde_json::to_vec(&swapped).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error"],
        "digest",
        "{text}"
    );
    assert!(!tag_page(&a, "replayed").await.contains("Swapped in"));

    // Delivered: stored. Then deleted by its author (an LD-signed Delete the relay forwards).
    let (status, text) = relay_post(&relay, &relay_actor, &inbox, &good).await;
    assert_eq!(status, 202, "{text}");
    assert!(tag_page(&a, "replayed").await.contains("Said once"));
    let note = good["object"]["id"].as_str().unwrap();
    let delete = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{note}#delete"),
        "type": "Delete",
        "actor": felix,
        "to": [PUBLIC],
        "object": {"id": note, "type": "Tombstone"},
    });
    let (status, text) = relay_post(
        &relay,
        &relay_actor,
        &inbox,
        &signed(&delete, &key_id, &key),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert!(!tag_page(&a, "replayed").await.contains("Said once"));

    // The relay sends the Create again (signed afresh over HTTP, its LD signature still
    // good): the inbox's record knows its id, and the deleted post does not come back.
    let (status, text) = relay_post(&relay, &relay_actor, &inbox, &good).await;
    assert_eq!(status, 202, "{text}");
    assert!(!tag_page(&a, "replayed").await.contains("Said once"));
    let (status, _) = html(&a, &remote_path(note)).await;
    assert_eq!(status, 404);

    // Another relayed activity (an Update) is acknowledged and ignored.
    let mut update = create_note(&felix, 1, "Said twice", "replayed");
    update["type"] = json!("Update");
    update["id"] = json!(format!("{note}#update"));
    let (status, text) = relay_post(
        &relay,
        &relay_actor,
        &inbox,
        &signed(&update, &key_id, &key),
    )
    .await;
    assert_eq!(status, 202, "{text}");
    assert!(!tag_page(&a, "replayed").await.contains("Said twice"));
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_relayed_fixture_verifies_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let relay = Peer::start().await.unwrap();
    let relay_actor = subscribed_mastodon_relay(&a, &relay).await;
    // The author's server is a real host: its actor document (the fixture) is put in the key
    // cache, as a fetch would.
    let person = test_peer::fixture("mastodon/person-ld-signer.json").unwrap();
    let activitypub_core::AnyObject::Actor(actor) =
        activitypub_core::AnyObject::from_value(person).unwrap()
    else {
        panic!("the fixture is an actor");
    };
    a.instance.keys().insert_actor(*actor).unwrap();
    let create = test_peer::fixture("mastodon/create-note-ld-signed-for-relay.json").unwrap();
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    let (status, text) = relay_post(&relay, &relay_actor, &inbox, &create).await;
    assert_eq!(status, 202, "{text}");
    let id = create["object"]["id"].as_str().unwrap();
    let (status, page) = html(&a, &remote_path(id)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("てすてす"), "{page}");
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_litepub_announce_is_believed_from_the_origin_only() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let relay = Peer::start().await.unwrap();
    let relay_actor = relay
        .actor_at("/relay", "Application", "relay")
        .await
        .unwrap();
    a.instance
        .add_relay(&url::Url::parse(&relay_actor).unwrap(), RelayKind::Litepub)
        .await
        .unwrap();
    let received = relay
        .wait_for("the Follow of the relay's actor", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Follow" && d.body["object"] == json!(relay_actor))
        })
        .await
        .unwrap();
    let follow = received
        .iter()
        .find(|d| d.body["type"] == "Follow")
        .unwrap()
        .body
        .clone();
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{relay_actor}#accepts/1"),
        "type": "Accept",
        "actor": relay_actor,
        "object": follow,
    });
    relay.deliver(&relay_actor, &inbox, &accept).await.unwrap();
    until_relay_state(&a, &relay_actor, "accepted").await;

    let origin = Peer::start().await.unwrap();
    let felix = origin.actor("felix").await.unwrap();
    let note = create_note(&felix, 7, "Announced by a relay", "litepub")["object"].clone();
    origin.serve(&note).unwrap();
    let announce = |n: u32, object: &str| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{relay_actor}/activities/{n}"),
            "type": "Announce",
            "actor": relay_actor,
            "to": [format!("{relay_actor}/followers")],
            "object": object,
        })
    };
    // Its origin answers 404: refused.
    let missing = format!("{felix}/statuses/404");
    relay
        .deliver(&relay_actor, &inbox, &announce(1, &missing))
        .await
        .unwrap();
    // Its origin serves it: stored, on the tag's page.
    relay
        .deliver(
            &relay_actor,
            &inbox,
            &announce(2, note["id"].as_str().unwrap()),
        )
        .await
        .unwrap();
    eventually("the announced post is on the tag's page", || async {
        tag_page(&a, "litepub")
            .await
            .contains("Announced by a relay")
    })
    .await;
    let (status, _) = html(&a, &remote_path(&missing)).await;
    assert_eq!(status, 404);
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn public_posts_go_to_accepted_mastodon_relays() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    person(&a, "alice").await;
    let relay = Peer::start().await.unwrap();
    subscribed_mastodon_relay(&a, &relay).await;
    a.instance
        .write_post("alice", "For my followers only", &PostAudience::Followers)
        .await
        .unwrap();
    let post = a
        .instance
        .write_post("alice", "Hello, relay #relayed", &PostAudience::Public)
        .await
        .unwrap();
    let received = relay
        .wait_for("alice's public post", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Create" && d.body["object"]["id"] == json!(post))
        })
        .await
        .unwrap();
    let create = received
        .iter()
        .find(|d| d.body["type"] == "Create")
        .unwrap();
    assert!(
        create.to.ends_with("inbox") && !create.to.contains("users"),
        "{}",
        create.to
    );
    assert!(
        !received
            .iter()
            .any(|d| d.body.to_string().contains("For my followers only"))
    );
    // Unsubscribed: an Undo of the Follow to the relay, and the relay forgotten.
    let address = url::Url::parse(&format!("{}/inbox", relay.origin())).unwrap();
    assert!(a.instance.remove_relay(&address).await.unwrap());
    assert!(!a.instance.remove_relay(&address).await.unwrap());
    assert!(a.instance.relays().await.unwrap().is_empty());
    relay
        .wait_for("the Undo of the Follow", |d| {
            d.iter().any(|d| {
                d.body["type"] == "Undo"
                    && d.body["object"]["type"] == "Follow"
                    && d.body["object"]["object"] == PUBLIC
            })
        })
        .await
        .unwrap();
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_relay_brings_nothing_and_only_the_relay_answers() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let relay = Peer::start().await.unwrap();
    let relay_actor = relay
        .actor_at("/actor", "Application", "relay")
        .await
        .unwrap();
    let address = format!("{}/inbox", relay.origin());
    a.instance
        .add_relay(&url::Url::parse(&address).unwrap(), RelayKind::Mastodon)
        .await
        .unwrap();
    let received = relay
        .wait_for("the Follow", |d| {
            d.iter().any(|d| d.body["type"] == "Follow")
        })
        .await
        .unwrap();
    let follow = received
        .iter()
        .find(|d| d.body["type"] == "Follow")
        .unwrap()
        .body
        .clone();
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    // Someone on another server accepting the relay's Follow changes nothing.
    let other = Peer::start().await.unwrap();
    let intruder = other.actor("intruder").await.unwrap();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{intruder}#accepts/1"),
        "type": "Accept",
        "actor": intruder,
        "object": follow,
    });
    other.deliver(&intruder, &inbox, &accept).await.unwrap();
    // (The inbox handles an activity before it answers.)
    let relays = a.instance.relays().await.unwrap();
    assert_eq!(relays[0].state, "pending");
    assert_eq!(relays[0].actor, None);
    // The relay rejects it.
    let reject = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{relay_actor}#rejects/1"),
        "type": "Reject",
        "actor": relay_actor,
        "object": follow,
    });
    relay.deliver(&relay_actor, &inbox, &reject).await.unwrap();
    until_relay_state(&a, &address, "rejected").await;
    let relays = a.instance.relays().await.unwrap();
    assert_eq!(relays.len(), 1);
    assert_eq!(relays[0].actor.as_deref(), Some(relay_actor.as_str()));

    // What it forwards then is refused.
    let origin = Peer::start().await.unwrap();
    let (felix, key_id, key) = ld_author(&origin, "felix").await;
    let create = signed(
        &create_note(&felix, 1, "Through a rejected relay", "relayed"),
        &key_id,
        &key,
    );
    let (status, text) = relay_post(&relay, &relay_actor, &inbox, &create).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("origin"), "{text}");
    assert!(
        !tag_page(&a, "relayed")
            .await
            .contains("Through a rejected relay")
    );
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn administrators_subscribe_from_the_relays_page() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    person(&a, "root").await;
    person(&a, "erin").await;
    let state = a.instance.state();
    let account = state.account_by_username("root").await.unwrap().unwrap();
    state
        .set_role(&account.id, instance_state::accounts::Role::Admin)
        .await
        .unwrap();
    let relay = Peer::start().await.unwrap();
    let address = format!("{}/inbox", relay.origin());

    // Not an administrator: no such page, and the form does nothing.
    let erin = Session::new(&a, "erin").await;
    assert_eq!(erin.get("/admin/relays").await.0, 404);
    let (status, _) = erin.post("/admin/relays", &[("address", &address)]).await;
    assert_eq!(status, 404);
    assert!(a.instance.relays().await.unwrap().is_empty());

    let root = Session::new(&a, "root").await;
    let (status, page) = root.get("/admin/relays").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("No relay."), "{page}");
    let (status, location) = root.post("/admin/relays", &[("address", &address)]).await;
    assert_eq!(status, 303, "{location}");
    assert_eq!(location, "/admin/relays");
    relay
        .wait_for("the Follow of the public collection", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Follow" && d.body["object"] == PUBLIC)
        })
        .await
        .unwrap();
    let (_, page) = root.get("/admin/relays").await;
    assert!(page.contains(&address), "{page}");
    assert!(page.contains("pending"), "{page}");
    let (status, _) = root
        .post("/admin/relays/remove", &[("address", &address)])
        .await;
    assert_eq!(status, 303);
    assert!(a.instance.relays().await.unwrap().is_empty());
    a.stop().await.unwrap();
}
