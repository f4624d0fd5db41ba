//! Another server on loopback that records what it is sent: it publishes actors (each with an
//! Ed25519 key of its own, as a Multikey), keeps every delivery to their inboxes (which are
//! personal: no shared inbox, so each delivery is one request), and signs activities as them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use events_instance::demo::eventually;
use http_signatures::{Signer, SigningKey, Standard};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::support::signed_post;

/// One delivery the peer received.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// The path of the actor whose inbox it reached (`users/p1`).
    pub(crate) to: String,
    /// The body.
    pub(crate) body: Value,
}

#[derive(Default)]
struct Shared {
    /// Actor documents by path.
    actors: Mutex<BTreeMap<String, Value>>,
    received: Mutex<Vec<Delivery>>,
}

/// The peer.
pub(crate) struct RecordingPeer {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub(crate) base: String,
    state: Arc<Shared>,
    signers: Mutex<BTreeMap<String, Arc<Signer>>>,
    http: reqwest::Client,
    task: JoinHandle<()>,
}

impl RecordingPeer {
    /// A peer on a port the OS picks, with no actors yet.
    pub(crate) async fn start() -> anyhow::Result<RecordingPeer> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Shared::default());
        let routes = Router::new()
            .route("/{*path}", get(actor_document).post(inbox))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, routes).await;
        });
        Ok(RecordingPeer {
            base,
            state,
            signers: Mutex::new(BTreeMap::new()),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()?,
            task,
        })
    }

    /// Publishes a Person at `path` (`users/p1`) with `preferredUsername` `username`; returns
    /// its id. Its inbox is `{id}/inbox`.
    pub(crate) fn add_actor(&self, path: &str, username: &str) -> anyhow::Result<String> {
        let id = format!("{}/{path}", self.base);
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
        lock(&self.state.actors).insert(path.to_owned(), document);
        let signer = Signer::new(key, key_id).with_standard(Standard::Rfc9421);
        lock(&self.signers).insert(id.clone(), Arc::new(signer));
        Ok(id)
    }

    /// POSTs `activity` to `inbox`, signed by its `actor` (one of this peer's); returns the
    /// status and the answer.
    pub(crate) async fn post(
        &self,
        inbox: &str,
        activity: &Value,
    ) -> anyhow::Result<(u16, String)> {
        let actor = activity["actor"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no actor in {activity}"))?;
        let signer = lock(&self.signers)
            .get(actor)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("{actor} is not an actor of the peer"))?;
        signed_post(&self.http, inbox, serde_json::to_vec(activity)?, &signer).await
    }

    /// Everything delivered so far.
    pub(crate) fn received(&self) -> Vec<Delivery> {
        lock(&self.state.received).clone()
    }

    /// Waits until `matches` holds for what was delivered, and returns the deliveries then.
    pub(crate) async fn wait_for(
        &self,
        what: &str,
        matches: impl Fn(&[Delivery]) -> bool,
    ) -> anyhow::Result<Vec<Delivery>> {
        eventually(Duration::from_secs(60), what, || async {
            let received = self.received();
            Ok(matches(&received).then_some(received))
        })
        .await
    }
}

impl Drop for RecordingPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn actor_document(State(state): State<Arc<Shared>>, Path(path): Path<String>) -> Response {
    match lock(&state.actors).get(&path) {
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
    let Some(owner) = path.strip_suffix("/inbox") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !lock(&state.actors).contains_key(owner) {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Only signed deliveries count (the instance signs every one).
    if !headers.contains_key("signature") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(body) = serde_json::from_slice(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    lock(&state.received).push(Delivery {
        to: owner.to_owned(),
        body,
    });
    StatusCode::ACCEPTED.into_response()
}
