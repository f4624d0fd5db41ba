//! A relayed post with a forged Linked Data signature: a subscribed server (test-peer's, its
//! instance actor subscribed as Mastodon subscribes) forwards an author's LD-signed `Create`
//! with one word changed; the relay refuses it (`401`, nothing announced) and announces the
//! same author's well-signed one to the tag's follower. The pod refuses the same forged
//! `Create` from a relay it subscribes to. Another account of the author's server cannot
//! withdraw the post the relay announced.

use http_signatures::SigningKey;
use serde_json::{Value, json};
use tag_relay::WithParts as _;
use test_peer::Peer;

use crate::support::{PUBLIC, note, pod, relay, until_following};

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
    (author.clone(), format!("{author}#main-key"), key)
}

/// `author`'s public `Create` of note `n` with `text` and `#forged`, LD-signed with `key`.
fn signed_create(author: &str, n: u32, text: &str, key_id: &str, key: &SigningKey) -> Value {
    let mut object = note(author, n, text, "forged", &[PUBLIC]);
    object["cc"] = json!([format!("{author}/followers")]);
    let create = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", {"Hashtag": "as:Hashtag"}],
        "id": format!("{author}/statuses/{n}/activity"),
        "type": "Create",
        "actor": author,
        "published": "2026-12-07T01:00:00Z",
        "to": [PUBLIC],
        "cc": [format!("{author}/followers")],
        "object": object,
    });
    ld_signatures::sign(&create, key_id, time::OffsetDateTime::now_utc(), key).unwrap()
}

/// The same activity with a word of its post changed (the signature left as it was).
fn forged(signed: &Value) -> Value {
    let mut forged = signed.clone();
    let content = signed["object"]["content"].as_str().unwrap();
    forged["object"]["content"] = json!(content.replace("Hello", "Jello"));
    forged
}

/// POSTs `activity` to `inbox` signed over HTTP by `signer` (not its actor): status and text.
async fn forward(peer: &Peer, signer: &str, inbox: &str, activity: &Value) -> (u16, String) {
    let (headers, body) = peer.signed(signer, inbox, activity).unwrap();
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

/// `follower` (an actor of `peer`) follows `followed`, whose inbox is `inbox`, and waits for
/// the `Accept`.
async fn follow(peer: &Peer, follower: &str, followed: &str, inbox: &str) {
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{follower}#follows/{}", followed.len()),
        "type": "Follow",
        "actor": follower,
        "object": followed,
    });
    peer.deliver(follower, inbox, &follow).await.unwrap();
    let follow_id = follow["id"].clone();
    peer.wait_for("the Accept", |d| {
        d.iter().any(|d| {
            d.body["type"] == "Accept"
                && (d.body["object"] == follow_id || d.body["object"]["id"] == follow_id)
        })
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_ld_signature_is_refused_by_the_relay_and_by_the_pod() {
    let dir = tempfile::tempdir().unwrap();
    let relay = relay(dir.path()).await;
    let inbox = relay.base_url.join("/inbox").unwrap().to_string();

    // A subscribed server, as Mastodon subscribes: its instance actor follows the public
    // collection.
    let server = Peer::start().await.unwrap();
    let server_actor = server
        .actor_at("/actor", "Application", "server")
        .await
        .unwrap();
    follow(&server, &server_actor, PUBLIC, &inbox).await;

    // Someone following #forged on the relay (its actor made by the lookup).
    let reader = Peer::start().await.unwrap();
    let reader_actor = reader.actor("reader").await.unwrap();
    let tag_actor = relay.instance.actor_id("tag-forged").to_string();
    let (status, document) = reader.get(&reader_actor, &tag_actor).await.unwrap();
    assert_eq!(status, 200, "{document}");
    assert_eq!(document["type"], "Group");
    follow(&reader, &reader_actor, &tag_actor, &inbox).await;
    until_following(&relay, &reader_actor, &tag_actor).await;

    // An author elsewhere, whose posts the subscribed server forwards.
    let origin = Peer::start().await.unwrap();
    let (felix, key_id, key) = ld_author(&origin, "felix").await;
    let good = signed_create(&felix, 2, "Hello, well signed", &key_id, &key);
    let bad = forged(&signed_create(&felix, 1, "Hello, forged", &key_id, &key));

    let (status, text) = forward(&server, &server_actor, &inbox, &bad).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("LD signature does not verify"), "{text}");
    // The subscriber's signed headers with another body: refused by the inbox's digest check.
    let (mut headers, _) = server.signed(&server_actor, &inbox, &good).unwrap();
    headers.remove(http::header::CONTENT_LENGTH);
    let response = reqwest::Client::new()
        .post(&inbox)
        .headers(headers)
        .body(serde_json::to_vec(&bad).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("\"digest\""), "{text}");
    let (status, text) = forward(&server, &server_actor, &inbox, &good).await;
    assert_eq!(status, 202, "{text}");
    let good_note = good["object"]["id"].clone();
    let received = reader
        .wait_for("the Announce of the well-signed post", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Announce" && d.body["object"] == good_note)
        })
        .await
        .unwrap();
    let announces: Vec<&Value> = received
        .iter()
        .filter(|d| d.body["type"] == "Announce")
        .map(|d| &d.body)
        .collect();
    assert_eq!(announces.len(), 1, "{announces:?}");
    assert_eq!(announces[0]["actor"], json!(tag_actor));

    // Another account of the author's server cannot withdraw it: its Delete is taken (the
    // relay answers once it is handled) and the Announce stays, with no Undo.
    let mallory = origin.actor("mallory").await.unwrap();
    let delete = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{mallory}#deletes/1"),
        "type": "Delete",
        "actor": mallory,
        "object": good_note,
        "to": [PUBLIC],
    });
    origin.deliver(&mallory, &inbox, &delete).await.unwrap();
    let outbox = relay
        .instance
        .state()
        .collection_items(
            "tag-forged",
            federation::routes::CollectionKind::Outbox,
            0,
            20,
            None,
        )
        .await
        .unwrap()
        .unwrap();
    let undos = outbox
        .items
        .iter()
        .filter(|a| a.to_string().contains("\"Undo\""))
        .count();
    assert_eq!(undos, 0, "withdrawn by another account: {:?}", outbox.items);

    // A server that is not subscribed: the federation inbox refuses the forward (the signer
    // is not the actor), and nothing is announced.
    let stranger = Peer::start().await.unwrap();
    let stranger_actor = stranger
        .actor_at("/actor", "Application", "stranger")
        .await
        .unwrap();
    let other = signed_create(&felix, 3, "Hello from a stranger", &key_id, &key);
    let (status, _) = forward(&stranger, &stranger_actor, &inbox, &other).await;
    assert_eq!(status, 401);

    // The pod: subscribed to the same server as to a Mastodon relay, it refuses the forged
    // post the same way.
    let c = pod(dir.path(), "C").await;
    let address = url::Url::parse(&format!("{}/inbox", server.origin())).unwrap();
    c.instance
        .add_relay(&address, pod::RelayKind::Mastodon)
        .await
        .unwrap();
    let follows = server
        .wait_for("the pod's Follow of the public collection", |d| {
            d.iter()
                .any(|d| d.body["type"] == "Follow" && d.body["object"] == PUBLIC)
        })
        .await
        .unwrap();
    let follow = follows
        .iter()
        .find(|d| d.body["type"] == "Follow")
        .unwrap()
        .body
        .clone();
    let pod_inbox = c.base_url.join("inbox").unwrap().to_string();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{server_actor}#accepts/1"),
        "type": "Accept",
        "actor": server_actor,
        "object": follow,
    });
    server
        .deliver(&server_actor, &pod_inbox, &accept)
        .await
        .unwrap();
    crate::support::eventually("the pod's subscription accepted", || async {
        c.instance
            .relays()
            .await
            .unwrap()
            .iter()
            .any(|r| r.state == "accepted")
    })
    .await;
    let (status, text) = forward(&server, &server_actor, &pod_inbox, &bad).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("LD signature does not verify"), "{text}");
    let (status, text) = forward(&server, &server_actor, &pod_inbox, &good).await;
    assert_eq!(status, 202, "{text}");
    let response = reqwest::Client::new()
        .get(
            c.base_url
                .join(&format!(
                    "posts/remote?{}",
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("id", good_note.as_str().unwrap())
                        .finish()
                ))
                .unwrap(),
        )
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "the well-signed post is on the pod"
    );
    assert!(response.text().await.unwrap().contains("well signed"));
    c.stop().await.unwrap();
    relay.stop().await.unwrap();
}
