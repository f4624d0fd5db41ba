//! The ephemeral actor of `fedi inbox` and `fedi check`: keys made at start, WebFinger, the
//! actor documents, an inbox verified by `federation`'s pipeline, served on a local port until
//! stopped. Every request it receives becomes an [event](Events) (a JSON value), printed by
//! `fedi inbox` and awaited by `fedi check`.
//!
//! Two actors are served: `main` (named on the command line, `fedi` by default), the one that
//! follows and delivers, and `other`, whose only use is to be someone else (`fedi check` signs
//! an activity of `other` with `main`'s key, which an inbox must refuse).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use federation::fetch::FetchBudget;
use federation::inbox::{
    Accepted, Dispatcher, HandlerError, Inbox, InboxConfig, Incoming, MemoryInboxStore, Rejection,
};
use federation::keys::{KeyCache, KeyCacheConfig};
use http_signatures::{Policy, Signer, SigningKey, Standard, Verifier};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use url::Url;
use webfinger::Resource;
use webfinger::server::account_jrd;

use crate::deliver::{Signing, deliver};
use crate::net::Network;
use crate::probe::Probe;

/// The largest activity the inbox reads.
const MAX_INBOX_BODY: usize = 1024 * 1024;

/// The most events kept for [`Events::wait_for`] (older ones are dropped: `fedi inbox` may run
/// for days; what it printed stays printed).
const MAX_EVENTS: usize = 10_000;

/// How to run the ephemeral actor.
#[derive(Debug, Clone)]
pub(crate) struct ActorConfig {
    /// Where to listen (port 0: one the OS picks).
    pub(crate) listen: SocketAddr,
    /// The base URL of the ids, when a tunnel or a reverse proxy is in front; else
    /// `http://` + the listening address.
    pub(crate) public_url: Option<Url>,
    /// The main actor's name.
    pub(crate) name: String,
    /// The network switches, for the key fetches and deliveries.
    pub(crate) network: Network,
    /// Where to send each event as it happens (besides the log).
    pub(crate) printer: Option<mpsc::UnboundedSender<Value>>,
}

/// One of the served actors, with its keys.
#[derive(Debug, Clone)]
pub(crate) struct LocalActor {
    /// Its name (`preferredUsername`, the last path segment).
    pub(crate) name: String,
    /// Its id.
    pub(crate) id: Url,
    /// Its inbox.
    pub(crate) inbox: Url,
    /// Its RSA key, published in `publicKey` (`#main-key`).
    pub(crate) rsa: SigningKey,
    /// Its Ed25519 key, published as a Multikey in `assertionMethod` (`#ed25519-key`).
    pub(crate) ed25519: SigningKey,
}

impl LocalActor {
    /// The id of the RSA key.
    pub(crate) fn rsa_key_id(&self) -> String {
        format!("{}#main-key", self.id)
    }

    /// The id of the Ed25519 key.
    pub(crate) fn ed25519_key_id(&self) -> String {
        format!("{}#ed25519-key", self.id)
    }

    /// A signer with the RSA key.
    pub(crate) fn rsa_signer(&self, standard: Standard) -> Signer {
        Signer::new(self.rsa.clone(), self.rsa_key_id()).with_standard(standard)
    }

    /// A signer with the Ed25519 key.
    pub(crate) fn ed25519_signer(&self, standard: Standard) -> Signer {
        Signer::new(self.ed25519.clone(), self.ed25519_key_id()).with_standard(standard)
    }

    fn document(&self, base: &Url) -> anyhow::Result<Value> {
        let id = self.id.as_str();
        Ok(json!({
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1",
                "https://w3id.org/security/data-integrity/v1",
            ],
            "id": id,
            "type": "Service",
            "preferredUsername": self.name,
            "name": format!("fedi ({})", self.name),
            "summary": "An ephemeral actor of the fedi command-line tool; it forgets everything when it stops.",
            "inbox": self.inbox.as_str(),
            "outbox": format!("{id}/outbox"),
            "followers": format!("{id}/followers"),
            "following": format!("{id}/following"),
            "endpoints": {"sharedInbox": base.join("inbox")?.as_str()},
            "manuallyApprovesFollowers": false,
            "publicKey": {
                "id": self.rsa_key_id(),
                "owner": id,
                "publicKeyPem": self.rsa.verifying_key().to_spki_pem()?,
            },
            "assertionMethod": [{
                "id": self.ed25519_key_id(),
                "type": "Multikey",
                "controller": id,
                "publicKeyMultibase": self.ed25519.verifying_key().to_multikey()?,
            }],
        }))
    }
}

/// Every event so far, and a way to wait for one.
#[derive(Debug, Default)]
pub(crate) struct Events {
    log: Mutex<Vec<Value>>,
    notify: Notify,
    printer: Option<mpsc::UnboundedSender<Value>>,
}

impl Events {
    /// Records `event` (and prints it, when printing).
    pub(crate) fn push(&self, event: Value) {
        if let Some(printer) = &self.printer {
            let _ = printer.send(event.clone());
        }
        {
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            if log.len() >= MAX_EVENTS {
                log.drain(..MAX_EVENTS / 2);
            }
            log.push(event);
        }
        self.notify.notify_waiters();
    }

    /// Every event so far.
    pub(crate) fn snapshot(&self) -> Vec<Value> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The first event (past or future) for which `matches` holds, or `None` at `deadline`.
    pub(crate) async fn wait_for(
        &self,
        deadline: Instant,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = self.snapshot().into_iter().find(|e| matches(e)) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

/// What the handlers and routes share.
#[derive(Debug)]
pub(crate) struct Core {
    base: Url,
    main: LocalActor,
    other: LocalActor,
    events: Events,
    sent: Mutex<BTreeMap<String, Value>>,
    keys: KeyCache,
    probe: Probe,
    counter: AtomicU64,
    started: u128,
}

impl Core {
    fn actor(&self, name: &str) -> Option<&LocalActor> {
        [&self.main, &self.other]
            .into_iter()
            .find(|actor| actor.name == name)
    }

    /// A new activity id on this server.
    pub(crate) fn new_id(&self) -> Url {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut id = self.base.clone();
        id.set_path(&format!("/activities/{:x}-{n}", self.started));
        id
    }

    /// Keeps `activity` to serve at its id.
    pub(crate) fn remember(&self, activity: &Value) {
        if let Some(id) = activity.get("id").and_then(Value::as_str) {
            self.sent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id.to_owned(), activity.clone());
        }
    }
}

/// The ephemeral actor, serving.
#[derive(Debug)]
pub(crate) struct Ephemeral {
    /// The base URL of the ids.
    pub(crate) base: Url,
    /// The address listened on.
    pub(crate) listen: SocketAddr,
    core: Arc<Core>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Ephemeral {
    /// Makes the keys and starts serving.
    pub(crate) async fn start(config: ActorConfig) -> anyhow::Result<Ephemeral> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let listen = listener.local_addr()?;
        let base = match &config.public_url {
            Some(url) => {
                let mut url = url.clone();
                url.set_path("/");
                url.set_query(None);
                url.set_fragment(None);
                url
            }
            None => Url::parse(&format!("http://{listen}/"))?,
        };
        if config.name.is_empty()
            || !config
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("the actor name must be letters, digits, `-` and `_`");
        }
        let other_name = if config.name == "other" {
            "someone-else"
        } else {
            "other"
        };
        let (main, other) = tokio::try_join!(
            make_actor(&base, &config.name),
            make_actor(&base, other_name)
        )?;
        let signer = main.rsa_signer(Standard::Cavage);
        let fetcher = config.network.fetcher(Some(signer))?;
        let keys = KeyCache::new(fetcher.clone(), KeyCacheConfig::default());
        let core = Arc::new(Core {
            base: base.clone(),
            main,
            other,
            events: Events {
                printer: config.printer.clone(),
                ..Events::default()
            },
            sent: Mutex::new(BTreeMap::new()),
            keys: keys.clone(),
            probe: Probe::new(&config.network)?,
            counter: AtomicU64::new(1),
            started: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        });
        let listen_host = format!("{listen}");
        let inbox_config = InboxConfig::new(&base)
            .with_accepted_hosts([listen_host])
            .with_max_body_bytes(MAX_INBOX_BODY)
            .with_fetch_budget(
                FetchBudget::default().with_time_limit(config.network.timeout().saturating_mul(2)),
            );
        let dispatcher = Dispatcher::new()
            .on(activitypub_core::ActivityType::Follow, on_follow)
            .on(activitypub_core::ActivityType::Accept, on_answer)
            .on(activitypub_core::ActivityType::Reject, on_answer);
        let inbox = Inbox::new(
            inbox_config,
            keys,
            fetcher,
            MemoryInboxStore::new(),
            dispatcher,
            core.clone(),
        );
        let state = AppState {
            core: core.clone(),
            inbox: Arc::new(inbox),
        };
        let router = Router::new()
            .route("/.well-known/webfinger", get(webfinger))
            .route("/actors/{name}", get(actor_document))
            .route("/actors/{name}/{collection}", get(collection))
            .route("/actors/{name}/inbox", post(actor_inbox))
            .route("/inbox", post(shared_inbox))
            .route("/activities/{id}", get(activity))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(
                state.clone(),
                record_request,
            ))
            .with_state(state);
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            federation::serve::serve(
                listener,
                router,
                federation::serve::ServeConfig::default(),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )
            .await;
        });
        Ok(Ephemeral {
            base,
            listen,
            core,
            stop,
            task,
        })
    }

    /// The main actor.
    pub(crate) fn main(&self) -> &LocalActor {
        &self.core.main
    }

    /// The other actor.
    pub(crate) fn other(&self) -> &LocalActor {
        &self.core.other
    }

    /// The events.
    pub(crate) fn events(&self) -> &Events {
        &self.core.events
    }

    /// The main actor's handle, `name@host[:port]`.
    pub(crate) fn handle(&self) -> String {
        let host = self.base.host_str().unwrap_or_default();
        match self.base.port() {
            Some(port) => format!("{}@{host}:{port}", self.core.main.name),
            None => format!("{}@{host}", self.core.main.name),
        }
    }

    /// A new activity id.
    pub(crate) fn new_id(&self) -> Url {
        self.core.new_id()
    }

    /// Serves `activity` at its id from now on (peers fetch the object of an Accept).
    pub(crate) fn remember(&self, activity: &Value) {
        self.core.remember(activity);
    }

    /// The `ready` event.
    pub(crate) fn ready_event(&self) -> Value {
        json!({
            "event": "ready",
            "actor": self.core.main.id.as_str(),
            "inbox": self.core.main.inbox.as_str(),
            "shared_inbox": self.base.join("inbox").map(String::from).unwrap_or_default(),
            "handle": self.handle(),
            "listen": self.listen.to_string(),
            "key_id": self.core.main.rsa_key_id(),
            "ed25519_key_id": self.core.main.ed25519_key_id(),
        })
    }

    /// The inbox of the actor at `actor` (a URL), fetched with the main actor's signature.
    pub(crate) async fn inbox_of(&self, actor: &Url) -> anyhow::Result<Url> {
        let mut budget = FetchBudget::default();
        let remote = self
            .core
            .keys
            .actor(actor, &mut budget)
            .await
            .with_context(|| format!("cannot fetch the actor {actor}"))?;
        let inbox = remote
            .inbox
            .as_ref()
            .with_context(|| format!("the actor {actor} has no inbox"))?;
        Url::parse(inbox.as_str()).with_context(|| format!("the inbox {inbox} is not a URL"))
    }

    /// Sends a Follow of `target` (an actor URL) by the main actor to `inbox`; returns its id
    /// and the delivery.
    pub(crate) async fn follow(
        &self,
        target: &Url,
        inbox: &Url,
        signing: &Signing,
    ) -> anyhow::Result<(Url, crate::deliver::Delivery)> {
        let follow = self.follow_activity(&self.core.main, target);
        let id = Url::parse(crate::field(&follow, "id").as_str().unwrap_or_default())?;
        let body = serde_json::to_vec(&follow)?;
        let delivery = deliver(&self.core.probe, inbox, &body, signing).await?;
        self.core.events.push(json!({
            "event": "sent",
            "type": "Follow",
            "id": id.as_str(),
            "object": target.as_str(),
            "delivery": delivery.to_json(),
        }));
        Ok((id, delivery))
    }

    /// A new Follow of `target` by `actor`, served at its id from now on.
    pub(crate) fn follow_activity(&self, actor: &LocalActor, target: &Url) -> Value {
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.new_id().as_str(),
            "type": "Follow",
            "actor": actor.id.as_str(),
            "object": target.as_str(),
        });
        self.remember(&follow);
        follow
    }

    /// Stops serving.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn make_actor(base: &Url, name: &str) -> anyhow::Result<LocalActor> {
    let rsa = tokio::task::spawn_blocking(|| SigningKey::generate_rsa(2048))
        .await?
        .context("cannot generate an RSA key")?;
    let ed25519 = SigningKey::generate_ed25519().context("cannot generate an Ed25519 key")?;
    let id = base.join(&format!("actors/{name}"))?;
    let inbox = base.join(&format!("actors/{name}/inbox"))?;
    Ok(LocalActor {
        name: name.to_owned(),
        id,
        inbox,
        rsa,
        ed25519,
    })
}

#[derive(Clone)]
struct AppState {
    core: Arc<Core>,
    inbox: Arc<Inbox<Arc<Core>, MemoryInboxStore>>,
}

fn activity_response(document: &Value) -> Response {
    let mut response = Json(document).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/activity+json"),
    );
    response
}

/// `axum::Json` without its content type (set by the caller).
struct Json<'a>(&'a Value);

impl IntoResponse for Json<'_> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(self.0) {
            Ok(bytes) => bytes.into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

async fn webfinger(State(state): State<AppState>, request: Request) -> Response {
    let core = &state.core;
    let response = webfinger::server::respond(request.uri().query(), |query| {
        let actor = match &query.resource {
            Resource::Acct(acct) => {
                let host_matches = acct
                    .host()
                    .to_string()
                    .eq_ignore_ascii_case(&authority(&core.base));
                let actor = core.actor(acct.user());
                actor.filter(|_| host_matches)
            }
            Resource::Uri(url) => [&core.main, &core.other]
                .into_iter()
                .find(|actor| &actor.id == url),
            _ => None,
        }?;
        let acct = webfinger::AcctUri::new(
            actor.name.clone(),
            webfinger::Host::parse(&authority(&core.base)).ok()?,
        )
        .ok()?;
        Some(account_jrd(&acct, &actor.id, None))
    });
    response.map(Body::from)
}

/// `host[:port]` of `url`.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

async fn actor_document(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.core.actor(&name) {
        Some(actor) => match actor.document(&state.core.base) {
            Ok(document) => activity_response(&document),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn collection(
    State(state): State<AppState>,
    Path((name, collection)): Path<(String, String)>,
) -> Response {
    let Some(actor) = state.core.actor(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !matches!(collection.as_str(), "outbox" | "followers" | "following") {
        return StatusCode::NOT_FOUND.into_response();
    }
    activity_response(&json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/{collection}", actor.id),
        "type": "OrderedCollection",
        "totalItems": 0,
        "orderedItems": [],
    }))
}

async fn activity(State(state): State<AppState>, request: Request) -> Response {
    let mut url = state.core.base.clone();
    url.set_path(request.uri().path());
    let found = state
        .core
        .sent
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(url.as_str())
        .cloned();
    match found {
        Some(document) => activity_response(&document),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// Records every request but the inbox POSTs (which [`receive`] records with their outcome).
/// A signed GET's signature is checked with its key after the answer is sent, so that a peer
/// that fetches this actor while this actor fetches its key never waits on itself.
async fn record_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() == http::Method::POST {
        return next.run(request).await;
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut copy = http::Request::new(Vec::<u8>::new());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    let response = next.run(request).await;
    let mut event = json!({
        "event": "request",
        "method": copy.method().as_str(),
        "target": copy.uri().to_string(),
        "accept": accept,
        "status": response.status().as_u16(),
        "signature": signature_summary(&copy, &state.core.base),
    });
    let core = state.core.clone();
    tokio::spawn(async move {
        let (verified, reason) = verify_get(&core, &copy).await;
        insert(&mut event, "verified", verified);
        if let Some(reason) = reason {
            insert(&mut event, "reason", json!(reason));
        }
        // Only a failure shows the signing string.
        if event.get("verified") == Some(&json!(true))
            && let Some(signature) = event.get_mut("signature").and_then(Value::as_object_mut)
        {
            signature.remove("signing_string");
        }
        core.events.push(event);
    });
    response
}

/// Checks the signature of a GET with its key (fetched, or from the cache): `null` when
/// unsigned, else whether it verified and, when not, why.
async fn verify_get(core: &Core, request: &http::Request<Vec<u8>>) -> (Value, Option<String>) {
    let headers = request.headers();
    if !headers.contains_key("signature")
        && !headers.contains_key("signature-input")
        && !headers.contains_key(header::AUTHORIZATION)
    {
        return (Value::Null, None);
    }
    let verifier = Verifier::new(Policy::fediverse()).with_default_scheme(core.base.scheme());
    let unverified = match verifier.parse_request(request, SystemTime::now()) {
        Ok(unverified) => unverified,
        Err(error) => return (json!(false), Some(error.to_string())),
    };
    let mut budget = FetchBudget::default();
    let key = match core.keys.key(unverified.key_id(), &mut budget).await {
        Ok(key) => key,
        Err(error) => {
            return (
                json!(false),
                Some(format!("signing key {}: {error}", unverified.key_id())),
            );
        }
    };
    match unverified.verify(&key.key) {
        Ok(_) => (json!(true), None),
        Err(error) => (json!(false), Some(error.to_string())),
    }
}

/// What the request's signature says, before any key: standard, key id, covered components;
/// or why it cannot be read (`null` when unsigned).
fn signature_summary<B: AsRef<[u8]>>(request: &http::Request<B>, base: &Url) -> Value {
    let headers = request.headers();
    if !headers.contains_key("signature")
        && !headers.contains_key("signature-input")
        && !headers.contains_key(header::AUTHORIZATION)
    {
        return Value::Null;
    }
    let verifier = Verifier::new(Policy::fediverse()).with_default_scheme(base.scheme());
    match verifier.parse_request(request, SystemTime::now()) {
        Ok(unverified) => json!({
            "standard": unverified.standard().name(),
            "key_id": unverified.key_id(),
            "algorithm": unverified.declared_algorithm(),
            "covered": unverified.covered(),
            "signing_string": unverified.signing_string(),
        }),
        Err(error) => json!({
            "standard": error.standard().map(Standard::name),
            "key_id": error.key_id(),
            "error": error.to_string(),
            "signing_string": error.signing_string(),
        }),
    }
}

async fn actor_inbox(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    if state.core.actor(&name).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    receive(&state, request, Some(name)).await
}

async fn shared_inbox(State(state): State<AppState>, request: Request) -> Response {
    receive(&state, request, None).await
}

/// Runs the inbox pipeline on a POST and records what happened.
async fn receive(state: &AppState, request: Request, owner: Option<String>) -> Response {
    let target = request.uri().to_string();
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_INBOX_BODY).await else {
        state.core.events.push(json!({
            "event": "inbox",
            "target": target,
            "status": 413,
            "outcome": "rejected",
            "step": "body-size",
            "reason": format!("the body is larger than {MAX_INBOX_BODY} bytes"),
        }));
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let request = http::Request::from_parts(parts, bytes);
    let activity: Value = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
    let signature = signature_summary(&request, &state.core.base);
    let outcome = state.inbox.receive(&request, owner).await;
    let mut event = json!({
        "event": "inbox",
        "target": target,
        "activity_type": activity.get("type"),
        "activity_id": activity.get("id"),
        "actor": activity.get("actor"),
        "signature": signature,
    });
    let status = match &outcome {
        Ok(accepted) => {
            let outcome = match accepted {
                Accepted::Processed { .. } => "processed",
                Accepted::Ignored { .. } => "ignored",
                Accepted::Duplicate { .. } => "duplicate",
                _ => "accepted",
            };
            insert(&mut event, "outcome", json!(outcome));
            insert(&mut event, "verified", json!(true));
            StatusCode::ACCEPTED
        }
        Err(rejection) => {
            insert(&mut event, "outcome", json!("rejected"));
            insert(&mut event, "step", json!(rejection.step()));
            insert(&mut event, "reason", json!(rejection.to_string()));
            let verified = match rejection.step() {
                "signature" => json!(false),
                "body-size" | "digest" | "activity" => Value::Null,
                _ => json!(true),
            };
            insert(&mut event, "verified", verified);
            let signing_string = match rejection {
                Rejection::Signature(error) | Rejection::BadSignature { source: error, .. } => {
                    error.signing_string().map(str::to_owned)
                }
                _ => None,
            };
            if let Some(signing_string) = signing_string {
                insert(&mut event, "signing_string", json!(signing_string));
            }
            rejection.status()
        }
    };
    // Only a failure shows the signing string (the summary's copy is dropped otherwise).
    if status.is_success()
        && let Some(signature) = event.get_mut("signature").and_then(Value::as_object_mut)
    {
        signature.remove("signing_string");
    } else if let Some(signature) = event.get_mut("signature").and_then(Value::as_object_mut)
        && let Some(signing_string) = signature.remove("signing_string")
        && event.get("signing_string").is_none()
    {
        insert(&mut event, "signing_string", signing_string);
    }
    insert(&mut event, "status", json!(status.as_u16()));
    state.core.events.push(event);
    status.into_response()
}

fn insert(event: &mut Value, key: &str, value: Value) {
    if let Some(map) = event.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
}

/// A Follow of one of our actors: recorded, and answered with an Accept once the POST has
/// been answered.
async fn on_follow(core: Arc<Core>, incoming: Incoming) -> Result<(), HandlerError> {
    let follow: Value = serde_json::from_slice(&incoming.body).unwrap_or(Value::Null);
    let follower = incoming.actor.as_str().to_owned();
    core.events.push(json!({
        "event": "received",
        "type": "Follow",
        "id": follow.get("id"),
        "actor": follower,
        "object_id": incoming.object.id().map(|id| id.as_str().to_owned()),
    }));
    let followed = incoming
        .inbox_owner
        .as_deref()
        .and_then(|name| core.actor(name))
        .unwrap_or(&core.main)
        .clone();
    tokio::spawn(async move {
        let event = match send_accept(&core, &followed, &follower, follow).await {
            Ok(event) => event,
            Err(error) => json!({
                "event": "sent",
                "type": "Accept",
                "to": follower,
                "ok": false,
                "error": format!("{error:#}"),
            }),
        };
        core.events.push(event);
    });
    Ok(())
}

async fn send_accept(
    core: &Core,
    followed: &LocalActor,
    follower: &str,
    follow: Value,
) -> anyhow::Result<Value> {
    let follower_url = Url::parse(follower)?;
    let mut budget = FetchBudget::default();
    let remote = core.keys.actor(&follower_url, &mut budget).await?;
    let inbox = remote
        .shared_inbox
        .as_ref()
        .or(remote.inbox.as_ref())
        .context("the follower has no inbox")?;
    let inbox = Url::parse(inbox.as_str())?;
    let id = core.new_id();
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id.as_str(),
        "type": "Accept",
        "actor": followed.id.as_str(),
        "to": [follower],
        "object": follow,
    });
    core.remember(&accept);
    let signing = Signing::DoubleKnock {
        base: followed.rsa_signer(Standard::Rfc9421),
        first: Standard::Rfc9421,
    };
    let delivery = deliver(&core.probe, &inbox, &serde_json::to_vec(&accept)?, &signing).await?;
    Ok(json!({
        "event": "sent",
        "type": "Accept",
        "id": id.as_str(),
        "to": follower,
        "ok": delivery.answer.status.is_success(),
        "delivery": delivery.to_json(),
    }))
}

/// An Accept or Reject (of one of our Follows): recorded.
async fn on_answer(core: Arc<Core>, incoming: Incoming) -> Result<(), HandlerError> {
    core.events.push(json!({
        "event": "received",
        "type": incoming.activity.kind.to_string(),
        "id": incoming.activity.props.id.as_ref().map(|id| id.as_str().to_owned()),
        "actor": incoming.actor.as_str(),
        "object_id": incoming.object.id().map(|id| id.as_str().to_owned()),
        "key_id": incoming.key.key_id.as_str(),
    }));
    Ok(())
}
