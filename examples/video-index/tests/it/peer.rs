//! Another server on loopback: its actors' documents served over HTTP with a test key, its
//! activities signed with it, real PeerTube payloads moved to its origin.

use std::time::SystemTime;

use http_signatures::{Signer, SigningKey, Standard};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{fixture_text, loopback_index, until_following, within};

/// A server of actors and objects on loopback: `GET` of what [`Peer::serve`] put there, and
/// every `POST` (an inbox) accepted and kept for [`Peer::received`].
pub(crate) struct Peer {
    server: MockServer,
    key: SigningKey,
    http: reqwest::Client,
}

impl Peer {
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let key = tokio::task::spawn_blocking(|| SigningKey::generate_rsa(2048)).await??;
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&server)
            .await;
        Ok(Self {
            server,
            key,
            http: reqwest::Client::builder().no_proxy().build()?,
        })
    }

    /// `http://127.0.0.1:PORT`, without a final slash.
    pub(crate) fn origin(&self) -> String {
        self.server.uri()
    }

    /// Publishes an actor of type `kind` at `path` named `name` and gives its id.
    pub(crate) async fn actor_at(&self, path_: &str, kind: &str, name: &str) -> String {
        let id = format!("{}{path_}", self.origin());
        let document = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": id,
            "type": kind,
            "preferredUsername": name.to_lowercase().replace(' ', "_"),
            "name": name,
            "inbox": format!("{id}/inbox"),
            "outbox": format!("{id}/outbox"),
            "followers": format!("{id}/followers"),
            "endpoints": {"sharedInbox": format!("{}/inbox", self.origin())},
            "icon": {"type": "Image", "mediaType": "image/png", "url": format!("{id}/avatar.png"), "width": 120},
            "publicKey": {
                "id": format!("{id}#main-key"),
                "owner": id,
                "publicKeyPem": self.key.verifying_key().to_spki_pem().unwrap(),
            },
        });
        self.serve(&document).await;
        id
    }

    /// Serves `document` at its id (on this peer's origin).
    pub(crate) async fn serve(&self, document: &Value) {
        let id = document["id"].as_str().unwrap();
        let at = id.strip_prefix(&self.origin()).unwrap().to_owned();
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                serde_json::to_vec(document).unwrap(),
                "application/activity+json",
            ))
            .mount(&self.server)
            .await;
    }

    /// The headers and body of a POST of `activity` to `inbox` signed by `actor` (signed now:
    /// send it within the inbox's clock skew).
    pub(crate) fn signed(
        &self,
        actor: &str,
        inbox: &str,
        activity: &Value,
    ) -> (http::HeaderMap, Vec<u8>) {
        let signer = Signer::new(self.key.clone(), format!("{actor}#main-key"))
            .with_standard(Standard::Cavage);
        let mut request = http::Request::post(inbox)
            .header("content-type", "application/activity+json")
            .body(serde_json::to_vec(activity).unwrap())
            .unwrap();
        signer.sign(&mut request, SystemTime::now()).unwrap();
        let (parts, body) = request.into_parts();
        (parts.headers, body)
    }

    /// POSTs `activity` to `inbox`, signed by `actor`; gives the status and the answer.
    pub(crate) async fn deliver(
        &self,
        actor: &str,
        inbox: &str,
        activity: &Value,
    ) -> (u16, String) {
        let (headers, body) = self.signed(actor, inbox, activity);
        let response = self
            .http
            .post(inbox)
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Like [`Peer::deliver`], asserting a `2xx`.
    pub(crate) async fn deliver_ok(&self, actor: &str, inbox: &str, activity: &Value) {
        let (status, text) = self.deliver(actor, inbox, activity).await;
        assert!(
            (200..300).contains(&status),
            "{inbox} answered {status}: {text}"
        );
    }

    /// The JSON bodies POSTed to this peer so far.
    pub(crate) async fn received(&self) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect()
    }

    /// How many requests this peer has had.
    pub(crate) async fn request_count(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .len()
    }

    /// Fixture `name` moved to this peer: every `from` (an origin) in it becomes this peer's
    /// origin.
    pub(crate) fn fixture_from(&self, name: &str, from: &str) -> Value {
        let text = fixture_text(name).replace(from, &self.origin());
        serde_json::from_str(&text).unwrap()
    }
}

/// An index following a peer's instance actor (the follow accepted by the peer); gives the
/// index, the peer and the index's inbox.
pub(crate) async fn followed_peer(
    dir: &std::path::Path,
    change: impl FnOnce(&mut video_index::Options),
) -> (video_index::Running, Peer, String) {
    let http = reqwest::Client::new();
    let peer = Peer::start().await.unwrap();
    let instance = peer
        .actor_at("/accounts/peertube", "Application", "peertube")
        .await;
    let index = loopback_index(dir, |options| {
        options.app.follow = vec![url::Url::parse(&instance).unwrap()];
        change(options);
    })
    .await
    .unwrap();
    let follow = within("the index's Follow reaches the peer", 15, || async {
        peer.received()
            .await
            .into_iter()
            .find(|a| a["type"] == "Follow" && a["object"] == instance.as_str())
    })
    .await;
    let actor: Value = http
        .get(index.instance.instance_actor())
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let inbox = actor["inbox"].as_str().unwrap().to_owned();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{instance}/accepts/follows/1"),
        "type": "Accept",
        "actor": instance,
        "object": follow,
    });
    peer.deliver_ok(&instance, &inbox, &accept).await;
    until_following(&http, &index, &instance).await;
    (index, peer, inbox)
}
