//! What the inbox, outbox and routes tests share: remote servers on loopback (wiremock)
//! publishing actors with real keys, and signed requests.

use std::sync::Arc;
use std::time::SystemTime;

use activitypub_core::{Actor, AnyObject};
use bytes::Bytes;
use federation::fetch::Fetcher;
use federation::keys::{KeyCache, KeyCacheConfig};
use federation_queue::ManualClock;
use http_signatures::{Signer, SigningKey, Standard};
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fetch::{activity, local_fetcher};

/// The media type of ActivityPub documents.
pub(crate) const ACTIVITY_JSON: &str = "application/activity+json";

/// The `@context` of the actors served.
const CONTEXT: [&str; 2] = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
];

/// The time every test signs and verifies at (the signature window is an hour either way, so
/// the wall clock is only read once per test).
pub(crate) fn now() -> SystemTime {
    SystemTime::now()
}

/// A remote server: a wiremock server on loopback, reached as `http://{host}:{port}`.
pub(crate) struct Remote {
    pub(crate) server: MockServer,
    /// The host its URLs name: `127.0.0.1`, or `localhost` to have a second domain.
    pub(crate) host: &'static str,
}

impl Remote {
    pub(crate) async fn start() -> Remote {
        Remote::start_as("127.0.0.1").await
    }

    /// A server whose URLs name `host` (which must resolve to loopback).
    pub(crate) async fn start_as(host: &'static str) -> Remote {
        Remote {
            server: MockServer::start().await,
            host,
        }
    }

    /// `path` on this server.
    pub(crate) fn url(&self, path: &str) -> Url {
        let port = self.server.address().port();
        Url::parse(&format!("http://{}:{port}{path}", self.host)).unwrap()
    }

    /// The shared inbox of the actors this server publishes.
    pub(crate) fn shared_inbox(&self) -> Url {
        self.url("/inbox")
    }

    /// How many requests it received.
    pub(crate) async fn requests(&self) -> usize {
        self.server.received_requests().await.unwrap().len()
    }

    /// Serves `body` as an ActivityPub document at `at`.
    pub(crate) async fn serve(&self, at: &str, body: &Value) {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(activity(body))
            .mount(&self.server)
            .await;
    }

    /// Answers `status` to GETs of `at`.
    pub(crate) async fn serve_status(&self, at: &str, status: u16) {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(status))
            .mount(&self.server)
            .await;
    }

    /// An actor `/users/{name}` with an Ed25519 key, not yet served.
    pub(crate) fn actor(&self, name: &str) -> TestActor {
        self.actor_with_key(name, SigningKey::generate_ed25519().unwrap())
    }

    /// An actor `/users/{name}` with `key`, not yet served.
    pub(crate) fn actor_with_key(&self, name: &str, key: SigningKey) -> TestActor {
        let id = self.url(&format!("/users/{name}"));
        TestActor {
            key_id: format!("{id}#main-key"),
            shared_inbox: Some(self.shared_inbox()),
            id,
            key,
        }
    }

    /// An actor with an Ed25519 key, served.
    pub(crate) async fn served_actor(&self, name: &str) -> TestActor {
        let actor = self.actor(name);
        self.publish(&actor).await;
        actor
    }

    /// Serves `actor`'s document at its id.
    pub(crate) async fn publish(&self, actor: &TestActor) {
        self.serve(actor.id.path(), &actor.document()).await;
    }
}

/// A remote actor and its private key.
#[derive(Clone)]
pub(crate) struct TestActor {
    pub(crate) id: Url,
    pub(crate) key_id: String,
    pub(crate) key: SigningKey,
    pub(crate) shared_inbox: Option<Url>,
}

impl TestActor {
    /// The actor's document, as its server publishes it (Mastodon's shape).
    pub(crate) fn document(&self) -> Value {
        let mut document = json!({
            "@context": CONTEXT,
            "id": self.id.as_str(),
            "type": "Person",
            "preferredUsername": self.id.path_segments().unwrap().next_back().unwrap(),
            "inbox": self.inbox().as_str(),
            "publicKey": {
                "id": self.key_id,
                "owner": self.id.as_str(),
                "publicKeyPem": self.key.verifying_key().to_spki_pem().unwrap(),
            },
        });
        if let Some(shared) = &self.shared_inbox {
            document["endpoints"] = json!({"sharedInbox": shared.as_str()});
        }
        document
    }

    /// The typed document.
    pub(crate) fn typed(&self) -> Actor {
        match AnyObject::from_value(self.document()).unwrap() {
            AnyObject::Actor(actor) => *actor,
            other => panic!("not an actor: {other:?}"),
        }
    }

    pub(crate) fn inbox(&self) -> Url {
        Url::parse(&format!("{}/inbox", self.id)).unwrap()
    }

    /// The same actor without a shared inbox.
    pub(crate) fn without_shared_inbox(mut self) -> TestActor {
        self.shared_inbox = None;
        self
    }

    /// A signer with the actor's key, under `standard`.
    pub(crate) fn signer(&self, standard: Standard) -> Signer {
        Signer::new(self.key.clone(), self.key_id.clone()).with_standard(standard)
    }

    /// `path` on the actor's server.
    pub(crate) fn url(&self, path: &str) -> Url {
        self.id.join(path).unwrap()
    }
}

/// A key cache over the loopback fetcher, on a manual clock starting now.
pub(crate) fn key_cache() -> KeyCache {
    let clock = Arc::new(ManualClock::new(now()));
    KeyCache::with_clock(local_fetcher(), KeyCacheConfig::default(), clock)
}

pub(crate) fn fetcher() -> Fetcher {
    local_fetcher()
}

/// A POST of `body` to `url`, signed by `signer` at `at`, as a server receives it: an
/// origin-form target and a `Host` header.
pub(crate) fn signed_post(
    signer: &Signer,
    url: &Url,
    body: &Value,
    at: SystemTime,
) -> http::Request<Bytes> {
    let body = serde_json::to_vec(body).unwrap();
    let mut request = http::Request::post(url.as_str())
        .header(http::header::CONTENT_TYPE, ACTIVITY_JSON)
        .body(body)
        .unwrap();
    signer.sign(&mut request, at).unwrap();
    origin_form(request.map(Bytes::from))
}

/// A POST of `body` to `url` without a signature.
pub(crate) fn unsigned_post(url: &Url, body: &Value) -> http::Request<Bytes> {
    let request = http::Request::post(url.as_str())
        .header(http::header::CONTENT_TYPE, ACTIVITY_JSON)
        .body(Bytes::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    origin_form(request)
}

/// A GET of `url` with `accept`, signed by `signer` when there is one.
pub(crate) fn get(url: &Url, accept: &str, signer: Option<&Signer>) -> http::Request<Bytes> {
    let mut request = http::Request::get(url.as_str())
        .header(http::header::ACCEPT, accept)
        .body(Vec::new())
        .unwrap();
    if let Some(signer) = signer {
        signer.sign(&mut request, now()).unwrap();
    }
    origin_form(request.map(Bytes::from))
}

/// `request` with its target in origin form (`/inbox`) and its authority in `Host`.
pub(crate) fn origin_form<B>(request: http::Request<B>) -> http::Request<B> {
    let (mut parts, body) = request.into_parts();
    if let Some(authority) = parts.uri.authority().cloned() {
        parts
            .headers
            .entry(http::header::HOST)
            .or_insert_with(|| authority.as_str().parse().unwrap());
    }
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .unwrap();
    http::Request::from_parts(parts, body)
}
