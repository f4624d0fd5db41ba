//! The axum routes of a federating server.
//!
//! [`router`] serves, for an app implementing [`App`]:
//!
//! | route | what |
//! |---|---|
//! | `GET /.well-known/webfinger` | `acct:name@host` and actor URLs of local actors |
//! | `GET /.well-known/nodeinfo`, `GET /nodeinfo/2.0`, `/nodeinfo/2.1` | NodeInfo, naming the instance actor (FEP-2677) |
//! | `GET /actors/{name}` | an actor: JSON for ActivityPub clients, the app's HTML for browsers |
//! | `POST /actors/{name}/inbox`, `POST /inbox` | the inbox and the shared inbox ([`Inbox`]) |
//! | `GET /actors/{name}/outbox`, `/followers`, `/following` | paged `OrderedCollection`s (`?page=N`) |
//! | `POST /actors/{name}/outbox` | client-to-server, when the app implements [`App::post_outbox`] |
//! | `GET` anything else | an object of the app's: `200`, `410` with its `Tombstone`, or `404` |
//!
//! A browser (an `Accept` naming `text/html` and no ActivityStreams type) gets the app's page;
//! for something without one it is redirected to the document's `url` when that names another
//! page, and otherwise gets the JSON.
//!
//! In **authorized-fetch** mode ([`RoutesConfig::authorized_fetch`]) every ActivityPub GET but
//! the instance actor's, WebFinger's and NodeInfo's must carry a valid HTTP signature, made for
//! this server (its signed host one of the inbox's
//! [`accepted_hosts`](crate::inbox::InboxConfig::accepted_hosts), as in the inbox), from a
//! domain the [`DomainPolicy`](crate::inbox::DomainPolicy) allows and by a key the app's
//! [`InboxStore::refuses`] does not refuse (`401` without one, `403` from a blocked domain or
//! actor); the instance actor stays readable so that peers can verify its signed
//! fetches. Web pages are still served without a signature, but the JSON never is: a browser
//! asking for something without a page (and without another `url`) gets `406 Not Acceptable`,
//! and for a deleted object a bare `410` without its tombstone. The key that signed is handed to
//! [`App::object_for`] and [`App::collection_for`], so that the app can serve some things to
//! some actors only.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, OriginalUri, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http_signatures::Verifier;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tracing::{debug, info, warn};
use url::Url;

use crate::fetch::FetchBudget;
use crate::inbox::{
    Accepted, Inbox, InboxStore, Rejection, blocked_key_host, check_signed_host, verify_signature,
};
use crate::keys::RemoteKey;

/// The media type of ActivityPub documents.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// The NodeInfo versions served, each at `/nodeinfo/{version}` and linked from
/// `/.well-known/nodeinfo`: 2.0, which every reader knows, and 2.1. Not 2.2: the NodeInfo
/// repository has not released it (its schema is still changing).
pub const NODEINFO_VERSIONS: [nodeinfo::Version; 2] =
    [nodeinfo::Version::V2_0, nodeinfo::Version::V2_1];

/// The `@context` of the documents this crate writes: ActivityStreams and the security
/// vocabularies (both preloaded by every implementation, so no peer needs to fetch a context).
pub fn default_context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        "https://w3id.org/security/data-integrity/v1",
    ])
}

/// What a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// An ActivityPub document (`application/activity+json` or `application/ld+json`).
    ActivityJson,
    /// A web page.
    Html,
}

impl Representation {
    /// Content negotiation on `Accept`: ActivityPub when it names an ActivityStreams media type
    /// (or `application/json`), HTML when it names `text/html`, ActivityPub when it says neither
    /// (clients that send no `Accept` are programs).
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let accept = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
            .to_ascii_lowercase();
        let json = accept.contains("application/activity+json")
            || accept.contains("application/ld+json")
            || accept.contains("application/json");
        if json {
            Self::ActivityJson
        } else if accept.contains("text/html") {
            Self::Html
        } else {
            Self::ActivityJson
        }
    }
}

/// An object of the app, as [`App::object`] finds it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ObjectState {
    /// It exists: its document, and the page for browsers (`None`: browsers are redirected to
    /// the document's `url` when it names another page, else get the JSON, or in
    /// authorized-fetch mode `406 Not Acceptable`).
    Found {
        /// The ActivityPub document.
        document: Value,
        /// The web page.
        html: Option<String>,
    },
    /// It was deleted: its `Tombstone`, served with `410 Gone`.
    Gone {
        /// The tombstone.
        tombstone: Value,
    },
    /// No such object.
    NotFound,
}

impl ObjectState {
    /// An object that may have been deleted: `Gone` with `document` as its tombstone when
    /// `deleted`, else `Found` without a page (an actor's document, as a local actor's row
    /// gives it).
    pub fn found_or_gone(document: Value, deleted: bool) -> Self {
        if deleted {
            Self::Gone {
                tombstone: document,
            }
        } else {
            Self::Found {
                document,
                html: None,
            }
        }
    }
}

/// Which collection of an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionKind {
    /// `outbox`.
    Outbox,
    /// `followers`.
    Followers,
    /// `following`.
    Following,
}

impl CollectionKind {
    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbox => "outbox",
            Self::Followers => "followers",
            Self::Following => "following",
        }
    }
}

/// One page of a collection, as the app gives it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CollectionItems {
    /// How many items the whole collection has.
    pub total: u64,
    /// This page's items (ids or embedded documents), newest first.
    pub items: Vec<Value>,
}

impl CollectionItems {
    /// A page of `items` out of `total`.
    pub fn new(total: u64, items: Vec<Value>) -> Self {
        Self { total, items }
    }
}

/// An error of the app's, answered `500` (and logged).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AppError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl AppError {
    /// Wraps `error`.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

/// What the app provides to the routes.
pub trait App: Clone + Send + Sync + 'static {
    /// The local actor `name` (the `{name}` of `/actors/{name}`) in the representation asked
    /// for: `Ok(None)` if there is none.
    fn actor(
        &self,
        name: &str,
        representation: Representation,
    ) -> impl Future<Output = Result<Option<ObjectState>, AppError>> + Send;

    /// The object at `url` (any other GET).
    fn object(
        &self,
        url: &Url,
        representation: Representation,
    ) -> impl Future<Output = Result<ObjectState, AppError>> + Send;

    /// The object at `url`, as `requester` may see it: the key that signed the GET (its
    /// `owner` is the actor asking), in authorized-fetch mode or with
    /// [`RoutesConfig::identify_signed_fetches`]; `None` for an anonymous GET, and for web
    /// pages, which are served without a signature. Implement this instead of relying on
    /// [`App::object`] alone to serve some objects only to some actors (followers-only posts,
    /// a group's private events): answer [`ObjectState::NotFound`] to the others, as
    /// Mastodon does, so that whether the object exists is not given away. The default
    /// serves [`App::object`]'s answer to everyone.
    fn object_for(
        &self,
        url: &Url,
        representation: Representation,
        requester: Option<&RemoteKey>,
    ) -> impl Future<Output = Result<ObjectState, AppError>> + Send {
        let _ = requester;
        self.object(url, representation)
    }

    /// Items `offset..offset + limit` of the collection `kind` of actor `name`: `Ok(None)` if
    /// there is no such actor.
    fn collection(
        &self,
        name: &str,
        kind: CollectionKind,
        offset: u64,
        limit: u64,
    ) -> impl Future<Output = Result<Option<CollectionItems>, AppError>> + Send;

    /// The collection `kind` of actor `name`, as `requester` may see it (see
    /// [`App::object_for`]): `Ok(None)` answers `404`, for an actor that hides its followers
    /// from others, say. The default serves [`App::collection`]'s answer to everyone.
    fn collection_for(
        &self,
        name: &str,
        kind: CollectionKind,
        offset: u64,
        limit: u64,
        requester: Option<&RemoteKey>,
    ) -> impl Future<Output = Result<Option<CollectionItems>, AppError>> + Send {
        let _ = requester;
        self.collection(name, kind, offset, limit)
    }

    /// The NodeInfo document, in any version [`nodeinfo::NodeInfoBuilder`] builds (2.2 carries
    /// the most: the instance's name). The routes serve it in each version of
    /// [`NODEINFO_VERSIONS`] through [`nodeinfo::NodeInfo::to_version`], so that each validates
    /// against its own schema.
    fn nodeinfo(&self) -> impl Future<Output = Result<nodeinfo::NodeInfo, AppError>> + Send;

    /// A client-to-server POST to actor `name`'s outbox. The default refuses it (`405`).
    fn post_outbox(
        &self,
        name: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> impl Future<Output = Response> + Send {
        let _ = (name, headers, body);
        async { StatusCode::METHOD_NOT_ALLOWED.into_response() }
    }
}

/// How the routes behave.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RoutesConfig {
    /// The server's base URL (`https://events.example`): ids are built on it.
    pub base_url: Url,
    /// The name of the instance actor (served at `/actors/{name}`, readable without signature).
    pub instance_actor: String,
    /// Require signed GETs.
    pub authorized_fetch: bool,
    /// Outside authorized-fetch mode, verify the GETs that carry a signature anyway, so that
    /// [`App::object_for`] and [`App::collection_for`] learn who asks (as Mastodon does, to
    /// serve followers-only posts to their followers' servers). A signature that does not
    /// verify, or from a domain the [`DomainPolicy`](crate::inbox::DomainPolicy) refuses, makes
    /// the request anonymous rather than refused. Costs a key lookup per signed GET (a fetch
    /// when the key is not cached). Off by default; authorized-fetch mode implies it.
    pub identify_signed_fetches: bool,
    /// Items per collection page.
    pub page_size: u64,
}

impl RoutesConfig {
    /// The defaults for a server at `base_url`: instance actor `instance`, no authorized fetch,
    /// 20 items a page.
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            instance_actor: "instance".to_owned(),
            authorized_fetch: false,
            identify_signed_fetches: false,
            page_size: 20,
        }
    }

    /// Sets authorized-fetch mode.
    pub fn with_authorized_fetch(mut self, on: bool) -> Self {
        self.authorized_fetch = on;
        self
    }

    /// Sets [`RoutesConfig::identify_signed_fetches`].
    pub fn with_identify_signed_fetches(mut self, on: bool) -> Self {
        self.identify_signed_fetches = on;
        self
    }

    /// Sets the instance actor's name.
    pub fn with_instance_actor(mut self, name: impl Into<String>) -> Self {
        self.instance_actor = name.into();
        self
    }

    /// The id of local actor `name`.
    pub fn actor_id(&self, name: &str) -> Url {
        self.url(&format!("actors/{name}"))
    }

    /// `path` on the base URL.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(path);
        url.set_query(None);
        url.set_fragment(None);
        url
    }
}

/// Everything the routes need: the config, the app and the inbox.
pub struct Server<A, St> {
    /// How the routes behave.
    pub config: RoutesConfig,
    /// The app.
    pub app: A,
    /// The inbox pipeline (its handlers get the app as state).
    pub inbox: Inbox<A, St>,
}

impl<A, St> fmt::Debug for Server<A, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

type Shared<A, St> = Arc<Server<A, St>>;

/// The router for `server`. Merge the app's own routes (web pages, static files) into it.
pub fn router<A: App, St: InboxStore>(server: Arc<Server<A, St>>) -> Router {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger::<A, St>))
        .route("/.well-known/nodeinfo", get(nodeinfo_discovery::<A, St>))
        .route("/nodeinfo/{version}", get(nodeinfo_document::<A, St>))
        .route("/actors/{name}", get(actor::<A, St>))
        .route("/actors/{name}/inbox", post(actor_inbox::<A, St>))
        .route("/inbox", post(shared_inbox::<A, St>))
        .route(
            "/actors/{name}/outbox",
            get(collection_handler::<A, St>(CollectionKind::Outbox)).post(post_outbox::<A, St>),
        )
        .route(
            "/actors/{name}/followers",
            get(collection_handler::<A, St>(CollectionKind::Followers)),
        )
        .route(
            "/actors/{name}/following",
            get(collection_handler::<A, St>(CollectionKind::Following)),
        )
        .fallback(object::<A, St>)
        .with_state(server)
}

/// A JSON response with `content_type`.
pub fn json_response(status: StatusCode, document: &Value, content_type: &'static str) -> Response {
    let body = serde_json::to_vec(document).unwrap_or_default();
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An ActivityPub document response (`200`, `application/activity+json`).
pub fn activity_response(document: &Value) -> Response {
    let mut response = json_response(StatusCode::OK, document, ACTIVITY_JSON);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn html_response(page: String) -> Response {
    let mut response = (StatusCode::OK, page).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn problem(status: StatusCode, step: &str, detail: String) -> Response {
    json_response(
        status,
        &json!({"error": step, "detail": detail}),
        "application/json",
    )
}

fn app_error(error: &AppError) -> Response {
    warn!(%error, "app error");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error".to_owned(),
    )
}

/// The response for `state` in `representation`. A browser asking for something that has no
/// web page is sent to the document's `url` when it names another page; otherwise it gets the
/// JSON, except in authorized-fetch mode, where the HTML representation is served without a
/// signature and so must not carry the document (`406`, or a bare `410` for a tombstone).
fn respond_state(
    state: ObjectState,
    representation: Representation,
    config: &RoutesConfig,
) -> Response {
    match (state, representation) {
        (
            ObjectState::Found {
                html: Some(page), ..
            },
            Representation::Html,
        ) => html_response(page),
        (ObjectState::Found { document, .. }, Representation::Html) => {
            match web_page_url(&document) {
                Some(page) => with_vary(see_other(&page)),
                None if config.authorized_fetch => with_vary(
                    (
                        StatusCode::NOT_ACCEPTABLE,
                        "This is served as application/activity+json only, to signed requests.\n",
                    )
                        .into_response(),
                ),
                None => activity_response(&document),
            }
        }
        (ObjectState::Found { document, .. }, Representation::ActivityJson) => {
            activity_response(&document)
        }
        (ObjectState::Gone { .. }, Representation::Html) if config.authorized_fetch => {
            with_vary((StatusCode::GONE, "Deleted.\n").into_response())
        }
        (ObjectState::Gone { tombstone }, _) => {
            with_vary(json_response(StatusCode::GONE, &tombstone, ACTIVITY_JSON))
        }
        (ObjectState::NotFound, _) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The `url` of a document that is a web page other than the document itself: the first
/// `http(s)` entry, preferring one of type `text/html`.
fn web_page_url(document: &Value) -> Option<Url> {
    let id = document.get("id").and_then(Value::as_str);
    let entries: Vec<&Value> = match document.get("url")? {
        Value::Array(entries) => entries.iter().collect(),
        entry => vec![entry],
    };
    let candidates = entries.iter().filter_map(|entry| match entry {
        Value::String(href) => Some((href.as_str(), None)),
        Value::Object(link) => link
            .get("href")
            .and_then(Value::as_str)
            .map(|href| (href, link.get("mediaType").and_then(Value::as_str))),
        _ => None,
    });
    let usable = |href: &str| {
        Url::parse(href)
            .ok()
            .filter(|url| matches!(url.scheme(), "https" | "http") && Some(href) != id)
    };
    let mut fallback = None;
    for (href, media_type) in candidates {
        let Some(url) = usable(href) else {
            continue;
        };
        if media_type.is_some_and(|t| t.starts_with("text/html")) {
            return Some(url);
        }
        if fallback.is_none() && media_type.is_none() {
            fallback = Some(url);
        }
    }
    fallback
}

/// `303 See Other` to `page` (a parsed URL, so ASCII and a valid header value).
fn see_other(page: &Url) -> Response {
    match HeaderValue::from_str(page.as_str()) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::NOT_ACCEPTABLE.into_response(),
    }
}

fn with_vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// Who asks for an ActivityPub document: in authorized-fetch mode, the key that signed the GET,
/// or the refusal to send (see [`verify_get`]). Otherwise `None`, unless
/// [`RoutesConfig::identify_signed_fetches`] is on and the GET carries a signature that
/// verifies.
async fn authorize<A: App, St: InboxStore>(
    server: &Server<A, St>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<Arc<RemoteKey>>, Response> {
    if server.config.authorized_fetch {
        return verify_get(server, method, uri, headers).await.map(Some);
    }
    if !server.config.identify_signed_fetches || !is_signed(headers) {
        return Ok(None);
    }
    match verify_get(server, method, uri, headers).await {
        Ok(key) => Ok(Some(key)),
        Err(_) => {
            debug!(%uri, "a signed GET that does not verify; served as anonymous");
            Ok(None)
        }
    }
}

/// Whether a request carries an HTTP signature of either standard.
fn is_signed(headers: &HeaderMap) -> bool {
    headers.contains_key("signature")
        || headers.contains_key("signature-input")
        || headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim_start().get(..10))
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("signature "))
}

/// Checks the signature of a GET: valid under the inbox's signature policy, by a key on an
/// allowed domain, which the key cache has or can fetch (a cached key that does not verify is
/// refetched once, as in the inbox). Gives the key that signed it, or the response refusing
/// the request.
async fn verify_get<A: App, St: InboxStore>(
    server: &Server<A, St>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Arc<RemoteKey>, Response> {
    let mut builder = http::Request::builder()
        .method(method.clone())
        .uri(uri.clone());
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let request = builder.body(Bytes::new()).map_err(|_| {
        problem(
            StatusCode::BAD_REQUEST,
            "request",
            "malformed request".to_owned(),
        )
    })?;
    let inbox_config = server.inbox.config();
    let verifier = Verifier::new(inbox_config.signature_policy.clone())
        .with_default_scheme(server.config.base_url.scheme().to_owned());
    let unverified = verifier
        .parse_request_with_body(&request, &[], SystemTime::now())
        .map_err(|e| problem(StatusCode::UNAUTHORIZED, "authorized-fetch", e.to_string()))?;
    // A GET signed for another server, replayed here, is refused as the inbox refuses one.
    check_signed_host(inbox_config, &request, &unverified).map_err(|rejection| {
        problem(
            rejection.status(),
            "authorized-fetch",
            rejection.to_string(),
        )
    })?;
    let mut budget: FetchBudget = inbox_config.fetch_budget.renewed();
    if let Some(host) = blocked_key_host(&inbox_config.domains, unverified.key_id()) {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "domain-policy",
            format!("{host} is not allowed here"),
        ));
    }
    // The app's own blocks (`InboxStore::refuses`), as in the inbox: before the key is fetched.
    let refused = server
        .inbox
        .store()
        .refuses(unverified.key_id())
        .await
        .map_err(|e| {
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "domain-policy",
                e.to_string(),
            )
        })?;
    if refused {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "domain-policy",
            format!("{} is blocked here", unverified.key_id()),
        ));
    }
    let key = verify_signature(server.inbox.keys(), &unverified, &mut budget)
        .await
        .map_err(|rejection| {
            problem(
                StatusCode::UNAUTHORIZED,
                "authorized-fetch",
                rejection.to_string(),
            )
        })?;
    Ok(key)
}

async fn webfinger<A: App, St: InboxStore>(
    State(server): State<Shared<A, St>>,
    uri: Uri,
) -> Response {
    let query = match webfinger::server::Query::parse(uri.query()) {
        Ok(query) => query,
        Err(error) => return into_axum(webfinger::server::error_response(&error)),
    };
    let base = &server.config.base_url;
    let our_host = host_with_port(base.host_str().unwrap_or_default(), base.port());
    let name: Option<String> = match &query.resource {
        webfinger::Resource::Acct(acct) => {
            is_our_host(acct.host(), base).then(|| acct.user().to_owned())
        }
        webfinger::Resource::Uri(url) => url
            .as_str()
            .strip_prefix(server.config.actor_id("").as_str())
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_owned),
        _ => None,
    };
    let found = match name {
        Some(name) => match server.app.actor(&name, Representation::ActivityJson).await {
            Ok(Some(ObjectState::Found { .. })) => {
                let id = server.config.actor_id(&name);
                webfinger::AcctUri::from_handle(&format!("{name}@{our_host}"))
                    .ok()
                    .map(|acct| webfinger::server::account_jrd(&acct, &id, Some(&id)))
            }
            Ok(_) => None,
            Err(error) => return app_error(&error),
        },
        None => None,
    };
    into_axum(query.respond(found))
}

/// Whether the host of an `acct:` URI is this server's: the same host and the same port, an
/// absent port meaning the default one of the server's scheme (`acct:a@example.com:443` is
/// `https://example.com`'s; a server on another port has its port in its handles).
fn is_our_host(host: &webfinger::Host, base: &Url) -> bool {
    let same_host = base
        .host_str()
        .is_some_and(|ours| host.host().to_string().eq_ignore_ascii_case(ours));
    let default_port = match base.scheme() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    };
    same_host && host.port().or(default_port) == base.port_or_known_default()
}

fn host_with_port(host: &str, port: Option<u16>) -> String {
    match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn into_axum(response: http::Response<Vec<u8>>) -> Response {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Body::from(body))
}

async fn nodeinfo_discovery<A: App, St: InboxStore>(
    State(server): State<Shared<A, St>>,
) -> Response {
    let mut document = nodeinfo::DiscoveryDocument::new();
    for version in NODEINFO_VERSIONS {
        let url = server.config.url(&format!("nodeinfo/{}", version.as_str()));
        document = document.with_nodeinfo(version, &url);
    }
    let document =
        document.with_instance_actor(&server.config.actor_id(&server.config.instance_actor));
    into_axum(nodeinfo::server::discovery_response(&document))
}

async fn nodeinfo_document<A: App, St: InboxStore>(
    State(server): State<Shared<A, St>>,
    Path(version): Path<String>,
) -> Response {
    let Some(version) = NODEINFO_VERSIONS
        .into_iter()
        .find(|served| served.as_str() == version)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let info = match server.app.nodeinfo().await {
        Ok(info) => info,
        Err(error) => return app_error(&error),
    };
    match info.to_version(version.clone()) {
        Ok(info) => into_axum(nodeinfo::server::nodeinfo_response(&info)),
        Err(error) => {
            warn!(%error, version = version.as_str(), "the app's NodeInfo cannot be served");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error".to_owned(),
            )
        }
    }
}

async fn actor<A: App, St: InboxStore>(
    State(server): State<Shared<A, St>>,
    Path(name): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let representation = Representation::negotiate(&headers);
    // Actors are the same for everyone: a signature is checked only when one is required.
    if representation == Representation::ActivityJson
        && server.config.authorized_fetch
        && name != server.config.instance_actor
        && let Err(response) = verify_get(&server, &method, &uri, &headers).await
    {
        return response;
    }
    match server.app.actor(&name, representation).await {
        Ok(Some(state)) => respond_state(state, representation, &server.config),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => app_error(&error),
    }
}

async fn read_body<A: App, St: InboxStore>(
    server: &Server<A, St>,
    request: Request,
) -> Result<http::Request<Bytes>, Rejection> {
    let limit = server.inbox.config().max_body_bytes;
    let too_large = Rejection::BodyTooLarge { limit };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large);
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, limit).await.map_err(|_| too_large)?;
    Ok(http::Request::from_parts(parts, bytes))
}

async fn receive<A: App, St: InboxStore>(
    server: &Server<A, St>,
    request: Request,
    owner: Option<String>,
) -> Response {
    let outcome = match read_body(server, request).await {
        Ok(request) => server.inbox.receive(&request, owner).await,
        Err(rejection) => Err(rejection),
    };
    match outcome {
        Ok(accepted) => {
            debug!(?accepted, "inbox accepted");
            if let Accepted::Processed { id } = &accepted {
                info!(id = id.as_deref().unwrap_or("-"), "activity processed");
            }
            StatusCode::ACCEPTED.into_response()
        }
        Err(rejection) => {
            info!(step = rejection.step(), error = %rejection, "inbox rejected");
            problem(rejection.status(), rejection.step(), rejection.to_string())
        }
    }
}

async fn actor_inbox<A: App, St: InboxStore>(
    State(server): State<Shared<A, St>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    match server.app.actor(&name, Representation::ActivityJson).await {
        Ok(Some(ObjectState::Found { .. })) => receive(&server, request, Some(name)).await,
        Ok(Some(ObjectState::Gone { .. })) => StatusCode::GONE.into_response(),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => app_error(&error),
    }
}

async fn shared_inbox<A: App, St: InboxStore>(
    State(server): State<Shared<A, St>>,
    request: Request,
) -> Response {
    receive(&server, request, None).await
}

/// `?page=N`.
#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<u64>,
}

async fn collection<A: App, St: InboxStore>(
    server: &Server<A, St>,
    name: &str,
    kind: CollectionKind,
    page: Option<u64>,
    (method, uri, headers): (Method, Uri, HeaderMap),
) -> Response {
    let requester = match authorize(server, &method, &uri, &headers).await {
        Ok(requester) => requester,
        Err(response) => return response,
    };
    let size = server.config.page_size.max(1);
    let id = server
        .config
        .url(&format!("actors/{name}/{}", kind.as_str()));
    let (offset, limit) = match page {
        Some(n) => (n.saturating_sub(1).saturating_mul(size), size),
        None => (0, 0),
    };
    let items = match server
        .app
        .collection_for(name, kind, offset, limit, requester.as_deref())
        .await
    {
        Ok(Some(items)) => items,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => return app_error(&error),
    };
    let document = paged_collection(id.as_str(), page, size, items.total, items.items);
    activity_response(&document)
}

/// A paged `OrderedCollection` as the actors' collections are served: the collection itself
/// (`page` `None`) with `totalItems`, `first` and `last`, or its page `page` (from 1) with
/// `orderedItems`, `next` and `prev`, pages being `?page=N` of `id`. `items` are the page's
/// (none for the collection itself); `page_size` is how many a page holds.
pub fn paged_collection(
    id: &str,
    page: Option<u64>,
    page_size: u64,
    total: u64,
    items: Vec<Value>,
) -> Value {
    let size = page_size.max(1);
    let page_url = |n: u64| format!("{id}?page={n}");
    let mut document = Map::new();
    document.insert("@context".to_owned(), default_context());
    match page {
        None => {
            document.insert("id".to_owned(), json!(id));
            document.insert("type".to_owned(), json!("OrderedCollection"));
            document.insert("totalItems".to_owned(), json!(total));
            document.insert("first".to_owned(), json!(page_url(1)));
            if total > 0 {
                document.insert("last".to_owned(), json!(page_url(total.div_ceil(size))));
            }
        }
        Some(n) => {
            let n = n.max(1);
            document.insert("id".to_owned(), json!(page_url(n)));
            document.insert("type".to_owned(), json!("OrderedCollectionPage"));
            document.insert("partOf".to_owned(), json!(id));
            document.insert("totalItems".to_owned(), json!(total));
            document.insert("orderedItems".to_owned(), Value::Array(items));
            if n.saturating_mul(size) < total {
                document.insert("next".to_owned(), json!(page_url(n.saturating_add(1))));
            }
            if n > 1 {
                document.insert("prev".to_owned(), json!(page_url(n - 1)));
            }
        }
    }
    Value::Object(document)
}

/// A collection URL's query that is not `page=N` (N from 1, once): no such document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a collection's query is `page=N`, N from 1")]
pub struct NotAPage;

/// The page a collection's URL asks for (`?page=N`): `None` for the collection itself.
pub fn page_of(url: &Url) -> Result<Option<u64>, NotAPage> {
    if url.query().is_none() {
        return Ok(None);
    }
    let mut page = None;
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.parse::<u64>()) {
            ("page", Ok(n)) if n >= 1 && page.is_none() => page = Some(n),
            _ => return Err(NotAPage),
        }
    }
    page.map(Some).ok_or(NotAPage)
}

/// A boxed handler future.
type ResponseFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// The GET handler of one collection of every actor.
fn collection_handler<A: App, St: InboxStore>(
    kind: CollectionKind,
) -> impl Fn(State<Shared<A, St>>, CollectionRequest) -> ResponseFuture + Clone + Send + Sync + 'static
{
    move |State(server), request: CollectionRequest| {
        Box::pin(async move {
            let CollectionRequest { name, page, target } = request;
            collection(
                &server,
                &name,
                kind,
                page,
                (target.method, target.uri, target.headers),
            )
            .await
        })
    }
}

/// A GET of a collection: the actor's name, the page, and what a signature check needs.
struct CollectionRequest {
    name: String,
    page: Option<u64>,
    target: Target,
}

impl<S: Send + Sync> FromRequestParts<S> for CollectionRequest {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(query) = Query::<PageQuery>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Ok(target) = Target::from_request_parts(parts, state).await;
        Ok(CollectionRequest {
            name,
            page: query.page,
            target,
        })
    }
}

/// What a signature check needs of a request: its method, its URI as the client sent it
/// (before any nesting of routers) and its headers.
struct Target {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for Target {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
        Ok(Target {
            method: parts.method.clone(),
            uri,
            headers: parts.headers.clone(),
        })
    }
}

async fn post_outbox<A: App, St: InboxStore>(
    State(server): State<Shared<A, St>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let limit = server.inbox.config().max_body_bytes;
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, limit).await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-size",
            format!("the body is larger than {limit} bytes"),
        );
    };
    server.app.post_outbox(&name, &parts.headers, body).await
}

async fn object<A: App, St: InboxStore>(
    State(server): State<Shared<A, St>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let mut url = server.config.base_url.clone();
    url.set_path(uri.path());
    url.set_query(uri.query());
    let representation = Representation::negotiate(&headers);
    let requester = if representation == Representation::ActivityJson {
        match authorize(&server, &method, &uri, &headers).await {
            Ok(requester) => requester,
            Err(response) => return response,
        }
    } else {
        None
    };
    match server
        .app
        .object_for(&url, representation, requester.as_deref())
        .await
    {
        Ok(state) => respond_state(state, representation, &server.config),
        Err(error) => app_error(&error),
    }
}
