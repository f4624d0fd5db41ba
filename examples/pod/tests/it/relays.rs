//! Relays, with test-peer's `Peer` as the relay and as the author's server: the instance
//! actor's subscription (a `Follow` of the public collection, the relay's `Accept` recorded);
//! a relayed post with a valid LD signature stored and shown on its tag's page and in a tag
//! follower's stream; the same post with one character changed refused; a LitePub `Announce`
//! stored after fetching the post from its origin, refused when the origin answers 404; a post
//! forwarded by a relay the pod is not subscribed to refused; the real relayed fixture
//! (`mastodon/create-note-ld-signed-for-relay.json`) accepted with its signature unchanged; a
//! local public post sent to the relay (and to a follower) LD-signed by its author, its edit
//! and deletion too, a followers-only one not (one naming someone blocked signed without
//! them); unsubscribing; a rejected subscription (an
//! answer from someone else ignored) brings nothing. A relayed `Update` LD-signed by its
//! author changes the post kept; a forged one, an older one replayed, one of another author's
//! post change nothing. The administrators' page shows and changes the relays and the tag
//! relay. Relayed deliveries go through the federation inbox's own checks: a bad digest is
//! refused, an activity id seen before is not handled again.

use http_signatures::SigningKey;
use pod::{PostAudience, RelayKind, Running};
use serde_json::{Value, json};
use test_peer::Peer;

use crate::support::{Session, eventually, fetch, person, pod};

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

/// An `Update` by `author` of its note number `n` (as [`create_note`] makes it) to `text`,
/// updated at `updated`.
fn update_note(author: &str, n: u32, text: &str, updated: &str) -> Value {
    let create = create_note(author, n, text, "relayed");
    let mut note = create["object"].clone();
    note["updated"] = json!(updated);
    json!({
        "@context": create["@context"],
        "id": format!("{}#updates/{updated}", note["id"].as_str().unwrap()),
        "type": "Update",
        "actor": author,
        "to": [PUBLIC],
        "object": note,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relayed_update_changes_the_post_only_when_signed_by_its_author() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let relay = Peer::start().await.unwrap();
    let relay_actor = subscribed_mastodon_relay(&a, &relay).await;
    let origin = Peer::start().await.unwrap();
    let (felix, key_id, key) = ld_author(&origin, "felix").await;
    let (ghost, ghost_key_id, ghost_key) = ld_author(&origin, "ghost").await;
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    for (author, key_id, key, text) in [
        (&felix, &key_id, &key, "First words of felix"),
        (&ghost, &ghost_key_id, &ghost_key, "First words of ghost"),
    ] {
        let create = signed(&create_note(author, 1, text, "relayed"), key_id, key);
        let (status, answer) = relay_post(&relay, &relay_actor, &inbox, &create).await;
        assert_eq!(status, 202, "{answer}");
    }
    let page = tag_page(&a, "relayed").await;
    assert!(page.contains("First words of felix"), "{page}");
    assert!(page.contains("First words of ghost"), "{page}");

    // Forged: signed, then changed. Refused, the post as it was.
    let good = signed(
        &update_note(&felix, 1, "Second words of felix", "2026-12-07T02:00:00Z"),
        &key_id,
        &key,
    );
    let mut forged = good.clone();
    forged["object"]["content"] = json!(
        good["object"]["content"]
            .as_str()
            .unwrap()
            .replace("Second", "Forged")
    );
    let (status, answer) = relay_post(&relay, &relay_actor, &inbox, &forged).await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("LD signature does not verify"), "{answer}");
    let page = tag_page(&a, "relayed").await;
    assert!(page.contains("First words of felix"), "{page}");
    assert!(!page.contains("Forged words"), "{page}");

    // Signed by felix: the post changes.
    let (status, answer) = relay_post(&relay, &relay_actor, &inbox, &good).await;
    assert_eq!(status, 202, "{answer}");
    let page = tag_page(&a, "relayed").await;
    assert!(page.contains("Second words of felix"), "{page}");
    assert!(!page.contains("First words of felix"), "{page}");

    // An older signed Update, replayed by the relay: acknowledged, nothing changes.
    let older = signed(
        &update_note(&felix, 1, "Stale words of felix", "2026-12-07T01:30:00Z"),
        &key_id,
        &key,
    );
    let (status, answer) = relay_post(&relay, &relay_actor, &inbox, &older).await;
    assert_eq!(status, 202, "{answer}");
    let page = tag_page(&a, "relayed").await;
    assert!(page.contains("Second words of felix"), "{page}");
    assert!(!page.contains("Stale words"), "{page}");

    // Felix updating ghost's post (well signed by felix, claiming it as his): refused.
    let mut hijack = update_note(&felix, 1, "Felix in ghost's post", "2026-12-07T03:00:00Z");
    let ghost_post = format!("{ghost}/statuses/1");
    hijack["object"]["id"] = json!(ghost_post);
    hijack["id"] = json!(format!("{ghost_post}#updates/hijack"));
    let (status, answer) = relay_post(
        &relay,
        &relay_actor,
        &inbox,
        &signed(&hijack, &key_id, &key),
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    let page = tag_page(&a, "relayed").await;
    assert!(page.contains("First words of ghost"), "{page}");
    assert!(!page.contains("Felix in ghost"), "{page}");

    // An Update of a post the pod does not keep: acknowledged, nothing stored.
    let unknown = signed(
        &update_note(&felix, 9, "Never seen before", "2026-12-07T03:00:00Z"),
        &key_id,
        &key,
    );
    let (status, answer) = relay_post(&relay, &relay_actor, &inbox, &unknown).await;
    assert_eq!(status, 202, "{answer}");
    assert!(!tag_page(&a, "relayed").await.contains("Never seen before"));
    let (status, _) = html(&a, &remote_path(&format!("{felix}/statuses/9"))).await;
    assert_eq!(status, 404);
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

    // A relayed Update of the deleted post (well signed) is acknowledged and ignored: the pod
    // keeps no such post, and an Update never brings one back.
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

/// The RSA key local person `name` of `a` publishes in its actor document.
async fn published_key(a: &Running, name: &str) -> http_signatures::VerifyingKey {
    let (status, actor) = fetch(a.instance.state().actor_id(name).as_str()).await;
    assert_eq!(status, 200, "{actor}");
    http_signatures::VerifyingKey::from_pem(actor["publicKey"]["publicKeyPem"].as_str().unwrap())
        .unwrap()
}

/// Asserts that `activity` carries a Linked Data signature of local person `name` of `a`
/// that verifies with the key its actor document publishes.
async fn assert_ld_signed_by(a: &Running, name: &str, activity: &Value) {
    let key = published_key(a, name).await;
    let verified = ld_signatures::verify(activity, &key)
        .unwrap_or_else(|e| panic!("the LD signature does not verify: {e}\n{activity}"));
    assert_eq!(
        verified.creator,
        format!("{}#main-key", a.instance.state().actor_id(name))
    );
    assert_eq!(json!(verified.id), activity["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn public_posts_go_to_accepted_mastodon_relays() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let alice = person(&a, "alice").await;
    let relay = Peer::start().await.unwrap();
    subscribed_mastodon_relay(&a, &relay).await;
    // A follower on another server, who gets what the relay gets.
    let elsewhere = Peer::start().await.unwrap();
    let felix = elsewhere.actor("felix").await.unwrap();
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{felix}#follows/1"),
        "type": "Follow",
        "actor": felix,
        "object": alice,
    });
    let inbox = a.base_url.join("inbox").unwrap().to_string();
    elsewhere.deliver(&felix, &inbox, &follow).await.unwrap();
    elsewhere
        .wait_for("the Accept of felix's Follow", |d| {
            d.iter().any(|d| d.body["type"] == "Accept")
        })
        .await
        .unwrap();
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
    // LD-signed by alice (what lets a Mastodon inbox believe the relay's forward), and the
    // signed document is what the relay got.
    assert_ld_signed_by(&a, "alice", &create.body).await;
    assert_eq!(create.body["object"]["id"], json!(post));
    // Her follower gets the same signed Create; the followers-only post, unsigned, went to
    // the follower and never to the relay.
    let delivered = elsewhere
        .wait_for("alice's public post at her follower's", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Create" && d.body["object"]["id"] == json!(post))
        })
        .await
        .unwrap();
    let to_follower = delivered
        .iter()
        .find(|d| d.body["type"] == "Create" && d.body["object"]["id"] == json!(post))
        .unwrap();
    assert_ld_signed_by(&a, "alice", &to_follower.body).await;
    let followers_only = delivered
        .iter()
        .find(|d| d.body.to_string().contains("For my followers only"))
        .unwrap();
    assert!(followers_only.body.get("signature").is_none());
    assert!(
        !received
            .iter()
            .any(|d| d.body.to_string().contains("For my followers only"))
    );
    // An edit and a deletion go to the relay LD-signed too.
    a.instance
        .edit_post("alice", &post, "Hello again, relay #relayed")
        .await
        .unwrap();
    a.instance.delete_post("alice", &post).await.unwrap();
    let received = relay
        .wait_for("the Update and the Delete", |d| {
            d.iter().any(|d| d.body["type"] == "Update")
                && d.iter().any(|d| d.body["type"] == "Delete")
        })
        .await
        .unwrap();
    for kind in ["Update", "Delete"] {
        let activity = received.iter().find(|d| d.body["type"] == kind).unwrap();
        assert_ld_signed_by(&a, "alice", &activity.body).await;
    }
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
async fn a_public_post_naming_someone_blocked_is_signed_as_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let a = pod(dir.path(), "A").await;
    let b = pod(dir.path(), "B").await;
    let alice = person(&a, "alice").await;
    let bob = person(&b, "bob").await;
    let relay = Peer::start().await.unwrap();
    subscribed_mastodon_relay(&a, &relay).await;
    a.instance
        .state()
        .block(
            Some(&alice),
            &instance_state::blocks::BlockTarget::Actor(bob.clone()),
            "test",
        )
        .await
        .unwrap();
    let b_host = b.base_url.authority().to_owned();
    let post = a
        .instance
        .write_post(
            "alice",
            &format!("Not you, @bob@{b_host} #relayed"),
            &PostAudience::Public,
        )
        .await
        .unwrap();
    let received = relay
        .wait_for("alice's public post", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Create" && d.body["object"]["id"] == json!(post))
        })
        .await
        .unwrap();
    let create = &received
        .iter()
        .find(|d| d.body["type"] == "Create")
        .unwrap()
        .body;
    // The stored copy (what the outbox serves and the followers get) and the relay's are the
    // same signed document, bob removed from its addressing before it was signed.
    let stored = a
        .instance
        .state()
        .activity(create["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap()
        .document;
    for activity in [create, &stored] {
        assert_ld_signed_by(&a, "alice", activity).await;
        let addressed = [&activity["to"], &activity["cc"], &activity["object"]["cc"]];
        assert!(
            addressed.iter().all(|a| !a.to_string().contains(&bob)),
            "{activity}"
        );
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
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

#[tokio::test(flavor = "multi_thread")]
async fn administrators_see_and_change_the_tag_relay_on_the_relays_page() {
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
    let erin = Session::new(&a, "erin").await;
    let (status, _) = erin.post("/tags/follow", &[("tag", "climate")]).await;
    assert_eq!(status, 303);
    let tag_relay = Peer::start().await.unwrap();
    let base = format!("{}/", tag_relay.origin());
    let inbox = format!("{}/inbox", tag_relay.origin());

    // Not an administrator: no link, no page, and the forms do nothing.
    let (_, stream) = erin.get("/").await;
    assert!(!stream.contains("href=\"/admin/relays\""), "{stream}");
    for (path, fields) in [
        ("/admin/tag-relay", vec![("address", base.as_str())]),
        (
            "/admin/relays/tags",
            vec![("address", inbox.as_str()), ("tags", "climate")],
        ),
        ("/admin/tag-relay/remove", vec![]),
    ] {
        assert_eq!(erin.post(path, &fields).await.0, 404, "{path}");
    }
    assert_eq!(a.instance.tag_relay_state().await.unwrap(), None);

    // The administrator: the layout links the page, which has no tag relay yet.
    let root = Session::new(&a, "root").await;
    let (status, page) = root.get("/admin/relays").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("href=\"/admin/relays\""), "{page}");
    assert!(page.contains("No tag relay."), "{page}");

    // A form without the session's token changes nothing.
    let forged = Session {
        cookie: root.cookie.clone(),
        csrf: "not-the-token".to_owned(),
        base: root.base.clone(),
        http: root.http.clone(),
    };
    let (status, _) = forged.post("/admin/tag-relay", &[("address", &base)]).await;
    assert!((400..500).contains(&status), "{status}");
    assert_eq!(a.instance.tag_relay_state().await.unwrap(), None);

    // Naming the tag relay: its subscription sent and pending, the tag's follow not made
    // (this relay answers no WebFinger).
    let (status, location) = root.post("/admin/tag-relay", &[("address", &base)]).await;
    assert_eq!((status, location.as_str()), (303, "/admin/relays"));
    let received = tag_relay
        .wait_for("the Follow of the public collection", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Follow" && d.body["object"] == PUBLIC)
        })
        .await
        .unwrap();
    let (_, page) = root.get("/admin/relays").await;
    assert!(page.contains(&format!("Tag relay: {base}")), "{page}");
    assert!(page.contains("pending; sent every public post"), "{page}");
    assert!(page.contains("#climate"), "{page}");
    assert!(page.contains("not-followed"), "{page}");

    // The relay accepts: the page says so.
    let follow = received
        .iter()
        .find(|d| d.body["type"] == "Follow")
        .unwrap()
        .body
        .clone();
    let relay_actor = tag_relay
        .actor_at("/actor", "Application", "relay")
        .await
        .unwrap();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{relay_actor}#accepts/1"),
        "type": "Accept",
        "actor": relay_actor,
        "object": follow,
    });
    let pod_inbox = a.base_url.join("inbox").unwrap().to_string();
    tag_relay
        .deliver(&relay_actor, &pod_inbox, &accept)
        .await
        .unwrap();
    until_relay_state(&a, &inbox, "accepted").await;
    let (_, page) = root.get("/admin/relays").await;
    assert!(page.contains("accepted; sent every public post"), "{page}");

    // Limited to some tags, then a name that is not a tag refused, then every post again.
    let (status, _) = root
        .post(
            "/admin/relays/tags",
            &[("address", &inbox), ("tags", "#Climate, energy")],
        )
        .await;
    assert_eq!(status, 303);
    let tags = |relays: Vec<pod::Relay>| relays.into_iter().find_map(|r| r.tags);
    assert_eq!(
        tags(a.instance.relays().await.unwrap()),
        Some(vec!["climate".to_owned(), "energy".to_owned()])
    );
    let (_, page) = root.get("/admin/relays").await;
    assert!(
        page.contains("sent the public posts tagged #climate, #energy"),
        "{page}"
    );
    let (status, answer) = root
        .post(
            "/admin/relays/tags",
            &[("address", &inbox), ("tags", "123")],
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("not a hashtag"), "{answer}");
    assert_eq!(
        tags(a.instance.relays().await.unwrap()),
        Some(vec!["climate".to_owned(), "energy".to_owned()])
    );
    let (status, _) = root
        .post("/admin/relays/tags", &[("address", &inbox), ("tags", "")])
        .await;
    assert_eq!(status, 303);
    assert_eq!(tags(a.instance.relays().await.unwrap()), None);

    // Stopping: the subscription undone, the relay forgotten.
    let (status, _) = root.post("/admin/tag-relay/remove", &[]).await;
    assert_eq!(status, 303);
    assert_eq!(a.instance.tag_relay_state().await.unwrap(), None);
    assert!(a.instance.relays().await.unwrap().is_empty());
    tag_relay
        .wait_for("the Undo of the subscription", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Undo" && d.body["object"]["object"] == PUBLIC)
        })
        .await
        .unwrap();
    let (_, page) = root.get("/admin/relays").await;
    assert!(page.contains("No tag relay."), "{page}");
    a.stop().await.unwrap();
}
