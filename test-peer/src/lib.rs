//! Another ActivityPub server on loopback, for the instances' tests.
//!
//! A [`Peer`] listens on `127.0.0.1` on a port the OS picks. It publishes actors, each either
//! like Mastodon's ([`Peer::actor`]: an RSA key, draft-cavage signatures, a shared inbox) or
//! with an Ed25519 Multikey and RFC 9421 signatures and a personal inbox only
//! ([`Peer::add_actor`]); it serves any other document at its id ([`Peer::serve`]); it signs
//! what its actors send ([`Peer::post`], [`Peer::deliver`], [`Peer::get`]); and it records every
//! signed delivery to its inboxes ([`Peer::received`], [`Peer::wait_for`]). Real payloads from
//! the repository's `fixtures/` are moved to its origin with [`Peer::fixture_from`].
//!
//! Every wait is bounded: [`Peer::wait_for`] gives up after [`WAIT`].
//!
//! [`balance`] holds the TCP plumbing of the tests that run an instance as several processes:
//! a round-robin load balancer ([`balance::balance`]) and a [`balance::Gate`] that holds
//! requests.
//!
//! [`postgres`] gives the tests that run an instance on PostgreSQL their server and a fresh
//! database each.
//!
//! [`serve`] starts an instance's `serve` command as a child process and reads where it listens.
//!
//! [`fedify`] drives the Fedify peer (`scripts/fedify-peer`), an independent implementation run
//! as a child process.

pub mod balance;
pub mod fedify;
pub mod postgres;
pub mod serve;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, anyhow, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, StatusCode, header};
use http_signatures::{Signer, SigningKey, Standard};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How long [`Peer::wait_for`] waits at most.
pub const WAIT: Duration = Duration::from_secs(60);

/// The repository's `fixtures/` folder: real payloads, kept verbatim.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
}

/// The text of fixture `name` (a path under `fixtures/`, such as `mastodon/follow.json`).
///
/// # Errors
///
/// When the file cannot be read.
pub fn fixture_text(name: &str) -> anyhow::Result<String> {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path)
        .with_context(|| format!("reading the fixture {}", path.display()))
}

/// The JSON of fixture `name`.
///
/// # Errors
///
/// When the file cannot be read or is not JSON.
pub fn fixture(name: &str) -> anyhow::Result<Value> {
    serde_json::from_str(&fixture_text(name)?).with_context(|| format!("the fixture {name}"))
}

/// POSTs `body` to `url` as `application/activity+json`, signed by `signer` now; the status
/// and the answer's text.
///
/// # Errors
///
/// When the request cannot be signed or sent.
pub async fn signed_post(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    signer: &Signer,
) -> anyhow::Result<(u16, String)> {
    let mut request = http::Request::post(url)
        .header("content-type", "application/activity+json")
        .body(body)?;
    signer.sign(&mut request, SystemTime::now())?;
    let (parts, body) = request.into_parts();
    let response = http
        .post(url)
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// One delivery the peer received.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// The path of the actor whose inbox it reached (`users/p1`), or `inbox` for the shared
    /// inbox.
    pub to: String,
    /// The body.
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    /// Documents by path (without the leading `/`): actors and anything served.
    documents: Mutex<BTreeMap<String, Value>>,
    /// The paths of the actors (whose `{path}/inbox` takes deliveries).
    actors: Mutex<BTreeMap<String, ()>>,
    received: Mutex<Vec<Delivery>>,
    /// Every request answered, of any method.
    requests: std::sync::atomic::AtomicUsize,
}

/// The peer. Dropping it stops its server.
pub struct Peer {
    origin: String,
    state: Arc<Shared>,
    /// The RSA key the Mastodon-like actors share, made on first use (RSA keys are slow to
    /// make).
    rsa: tokio::sync::OnceCell<SigningKey>,
    signers: Mutex<BTreeMap<String, Arc<Signer>>>,
    http: reqwest::Client,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// A peer on a port the OS picks, with no actors yet.
    ///
    /// # Errors
    ///
    /// When it cannot listen.
    pub async fn start() -> anyhow::Result<Peer> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Shared::default());
        let routes = Router::new()
            .route("/{*path}", get(document).post(inbox))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, routes).await;
        });
        Ok(Peer {
            origin,
            state,
            rsa: tokio::sync::OnceCell::new(),
            signers: Mutex::new(BTreeMap::new()),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()?,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, without a final slash.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Publishes a Mastodon-like `Person` at `/users/{name}` and gives its id.
    ///
    /// # Errors
    ///
    /// When its key cannot be made.
    pub async fn actor(&self, name: &str) -> anyhow::Result<String> {
        self.actor_at(&format!("/users/{name}"), "Person", name)
            .await
    }

    /// Publishes a Mastodon-like actor of type `kind` at `path`: the peer's RSA key as its
    /// `publicKey` (`{id}#main-key`), draft-cavage signatures, an inbox and the peer's shared
    /// inbox (`/inbox`). Gives its id.
    ///
    /// # Errors
    ///
    /// When its key cannot be made.
    pub async fn actor_at(&self, path: &str, kind: &str, name: &str) -> anyhow::Result<String> {
        let key = self
            .rsa
            .get_or_try_init(|| async {
                tokio::task::spawn_blocking(|| SigningKey::generate_rsa(2048))
                    .await?
                    .map_err(anyhow::Error::from)
            })
            .await?
            .clone();
        let path = path.trim_start_matches('/');
        let id = format!("{}/{path}", self.origin);
        let document = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": id,
            "type": kind,
            "preferredUsername": name,
            "name": name,
            "inbox": format!("{id}/inbox"),
            "outbox": format!("{id}/outbox"),
            "followers": format!("{id}/followers"),
            "endpoints": {"sharedInbox": format!("{}/inbox", self.origin)},
            "publicKey": {
                "id": format!("{id}#main-key"),
                "owner": id,
                "publicKeyPem": key.verifying_key().to_spki_pem()?,
            },
        });
        let signer = Signer::new(key, format!("{id}#main-key")).with_standard(Standard::Cavage);
        self.publish_actor(path, &id, document, signer);
        Ok(id)
    }

    /// Publishes a `Person` at `path` (`users/p1`) with `preferredUsername` `username`, an
    /// Ed25519 key of its own as a Multikey, RFC 9421 signatures and a personal inbox only
    /// (`{id}/inbox`: each delivery to it is one request). Gives its id.
    ///
    /// # Errors
    ///
    /// When its key cannot be made.
    pub fn add_actor(&self, path: &str, username: &str) -> anyhow::Result<String> {
        let path = path.trim_start_matches('/');
        let id = format!("{}/{path}", self.origin);
        let key = SigningKey::generate_ed25519()?;
        let key_id = format!("{id}#ed25519-key");
        let document = json!({
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1",
                "https://w3id.org/security/multikey/v1"
            ],
            "id": id,
            "type": "Person",
            "preferredUsername": username,
            "name": format!("{username} (peer)"),
            "inbox": format!("{id}/inbox"),
            "outbox": format!("{id}/outbox"),
            "assertionMethod": [{
                "id": key_id,
                "type": "Multikey",
                "controller": id,
                "publicKeyMultibase": key.verifying_key().to_multikey()?,
            }],
        });
        let signer = Signer::new(key, key_id).with_standard(Standard::Rfc9421);
        self.publish_actor(path, &id, document, signer);
        Ok(id)
    }

    fn publish_actor(&self, path: &str, id: &str, document: Value, signer: Signer) {
        lock(&self.state.documents).insert(path.to_owned(), document);
        lock(&self.state.actors).insert(path.to_owned(), ());
        lock(&self.signers).insert(id.to_owned(), Arc::new(signer));
    }

    /// Serves `document` at its `id`, which must be on this peer's origin.
    ///
    /// # Errors
    ///
    /// When it has no `id` on this origin.
    pub fn serve(&self, document: &Value) -> anyhow::Result<()> {
        let id = document["id"]
            .as_str()
            .ok_or_else(|| anyhow!("the document has no id: {document}"))?;
        let path = id
            .strip_prefix(&self.origin)
            .and_then(|p| p.strip_prefix('/'))
            .ok_or_else(|| anyhow!("{id} is not on {}", self.origin))?;
        lock(&self.state.documents).insert(path.to_owned(), document.clone());
        Ok(())
    }

    /// The document served at `id` (an actor's, or one given to [`Peer::serve`]), to change
    /// and serve again.
    pub fn document(&self, id: &str) -> Option<Value> {
        let path = id.strip_prefix(&self.origin)?.strip_prefix('/')?;
        lock(&self.state.documents).get(path).cloned()
    }

    /// The headers and body of a POST of `activity` to `inbox`, signed by `actor` now (send it
    /// within the receiver's clock skew): for sending many requests prepared in advance.
    ///
    /// # Errors
    ///
    /// When `actor` is not the peer's, or the request cannot be signed.
    pub fn signed(
        &self,
        actor: &str,
        inbox: &str,
        activity: &Value,
    ) -> anyhow::Result<(http::HeaderMap, Vec<u8>)> {
        let mut request = http::Request::post(inbox)
            .header("content-type", "application/activity+json")
            .body(serde_json::to_vec(activity)?)?;
        self.signer(actor)?.sign(&mut request, SystemTime::now())?;
        let (parts, body) = request.into_parts();
        Ok((parts.headers, body))
    }

    fn signer(&self, actor: &str) -> anyhow::Result<Arc<Signer>> {
        lock(&self.signers)
            .get(actor)
            .cloned()
            .ok_or_else(|| anyhow!("{actor} is not an actor of the peer"))
    }

    /// POSTs `activity` to `inbox`, signed by its `actor` (one of this peer's); the status and
    /// the answer.
    ///
    /// # Errors
    ///
    /// When the activity's actor is not the peer's, or the request fails.
    pub async fn post(&self, inbox: &str, activity: &Value) -> anyhow::Result<(u16, String)> {
        let actor = activity["actor"]
            .as_str()
            .ok_or_else(|| anyhow!("no actor in {activity}"))?;
        let signer = self.signer(actor)?;
        signed_post(&self.http, inbox, serde_json::to_vec(activity)?, &signer).await
    }

    /// POSTs `activity` to `inbox`, signed by `actor`; the status, which must be a success.
    ///
    /// # Errors
    ///
    /// When the request fails or is not answered with a `2xx`.
    pub async fn deliver(&self, actor: &str, inbox: &str, activity: &Value) -> anyhow::Result<u16> {
        let signer = self.signer(actor)?;
        let (status, text) =
            signed_post(&self.http, inbox, serde_json::to_vec(activity)?, &signer).await?;
        if !(200..300).contains(&status) {
            bail!("{inbox} answered {status}: {text}");
        }
        Ok(status)
    }

    /// GETs `url` as ActivityPub, signed by `actor`; the status and the JSON (`Null` when there
    /// is none).
    ///
    /// # Errors
    ///
    /// When the request cannot be signed or sent.
    pub async fn get(&self, actor: &str, url: &str) -> anyhow::Result<(u16, Value)> {
        let mut request = http::Request::get(url)
            .header("accept", "application/activity+json")
            .body(Vec::new())?;
        self.signer(actor)?.sign(&mut request, SystemTime::now())?;
        let (parts, _) = request.into_parts();
        let response = self.http.get(url).headers(parts.headers).send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// Fixture `name` moved to this peer: every `from` (an origin, `https://host`) in it
    /// becomes this peer's origin.
    ///
    /// # Errors
    ///
    /// When the fixture cannot be read.
    pub fn fixture_from(&self, name: &str, from: &str) -> anyhow::Result<Value> {
        let text = fixture(name)?.to_string().replace(from, &self.origin);
        Ok(serde_json::from_str(&text)?)
    }

    /// How many requests the peer has had (fetches and deliveries alike).
    pub fn request_count(&self) -> usize {
        self.state
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Everything delivered so far, in order.
    pub fn received(&self) -> Vec<Delivery> {
        lock(&self.state.received).clone()
    }

    /// Waits until `matches` holds for what was delivered (at most [`WAIT`]), and gives the
    /// deliveries then.
    ///
    /// # Errors
    ///
    /// When it does not hold in time: the error says `what` and lists what came.
    pub async fn wait_for(
        &self,
        what: &str,
        matches: impl Fn(&[Delivery]) -> bool,
    ) -> anyhow::Result<Vec<Delivery>> {
        let deadline = Instant::now() + WAIT;
        loop {
            let received = self.received();
            if matches(&received) {
                return Ok(received);
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = received
                    .iter()
                    .map(|d| format!("{} to {}", d.body.get("type").unwrap_or(&Value::Null), d.to))
                    .collect();
                bail!("waited {WAIT:?} for {what}; received: {}", seen.join(", "));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn document(State(state): State<Arc<Shared>>, Path(path): Path<String>) -> Response {
    state
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    match lock(&state.documents).get(&path) {
        Some(document) => (
            [(header::CONTENT_TYPE, "application/activity+json")],
            document.to_string(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn inbox(
    State(state): State<Arc<Shared>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let to = if path == "inbox" {
        path
    } else {
        match path.strip_suffix("/inbox") {
            Some(owner) if lock(&state.actors).contains_key(owner) => owner.to_owned(),
            _ => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    // Only signed deliveries count (an instance signs every one).
    if !headers.contains_key("signature") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(body) = serde_json::from_slice(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    lock(&state.received).push(Delivery { to, body });
    StatusCode::ACCEPTED.into_response()
}
