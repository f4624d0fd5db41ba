//! The inbox pipeline: from a POSTed request to the app's typed handlers.
//!
//! The steps run in this order, and the first that fails ends the request with a
//! [`Rejection`] that names the step and carries its HTTP status:
//!
//! 1. **Body size**: at most [`InboxConfig::max_body_bytes`] (`413`).
//! 2. **Body digest**: every `Digest` and `Content-Digest` header matches the body (`400`).
//! 3. **Reading the activity**: JSON within [`activitypub_core::Limits`], an activity with an
//!    actor (`400`); a document of a type this crate does not know is an activity when it has an
//!    actor (it goes through steps 4 to 6, then is ignored). Nothing has been fetched yet, so two
//!    cheap refusals happen here, before any I/O: a `Delete` of an actor this server never knew
//!    is dropped (`202`, as Mastodon does: fetching a deleted actor's key only yields a `410`),
//!    and a signature whose key lives on a blocked domain is refused (`403`).
//! 4. **Signature** (draft-cavage or RFC 9421, under [`InboxConfig::signature_policy`]): it
//!    must have been made for this server: it covers the host (`host`, `@authority` or
//!    `@target-uri`), and the host is one of [`InboxConfig::accepted_hosts`], so that a
//!    delivery signed for another server cannot be replayed here (checked before any I/O; see
//!    [`InboxConfig::danger_accept_unsigned_host`]). Then the key is taken from the
//!    [`KeyCache`] and, when a cached key does not verify, refetched once (key rotation;
//!    single-flight, with a cool-off per origin) (`401`).
//! 5. **Origin**: the key's owner is the activity's actor (or, for a *forward*, whose signer is
//!    someone else, the app vouches for it: [`Dispatcher::on_forwarded`]); the activity id and
//!    the key are on the actor's server (a forward's key is on its signer's); a `Create`, `Update` or `Delete` is about objects of that server. An
//!    embedded object from another server is not believed: it is fetched from its own origin
//!    and passed on as fetched, or by id only when it is one of ours or its origin does not
//!    serve it (the sender could do nothing about a third server) (`401`).
//! 6. **Domain policy**: the actor's domain is allowed ([`DomainPolicy`]), and so is that of
//!    the activity's object, embedded or referenced, before it is fetched or handed over; the
//!    app's own blocks ([`InboxStore::refuses`]) are asked about the actor and the key before
//!    the key is fetched, and about the object before it is (`403`).
//! 7. **Idempotency**: the activity id is recorded durably ([`InboxStore`]); an id seen before
//!    is acknowledged and not processed again (`202`). An activity without an id is recorded
//!    under a key of the signed request ([`REPLAY_KEY_PREFIX`]), so that a replayed copy of the
//!    request is not processed twice.
//! 8. **Dispatch** to the handler the app registered for the activity's type ([`Dispatcher`]);
//!    types with no handler are acknowledged and ignored (before anything is fetched for them
//!    or recorded). When a handler fails, the id is forgotten again so that the sender's retry
//!    is processed. Steps 7 and 8 run as a task of their own (`tokio::spawn`): a request
//!    abandoned meanwhile (its sender hung up, and the server dropped its future) still has
//!    its recorded activity handled to the end, or its record forgotten, never an id recorded
//!    for an activity nobody processed.

use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use activitypub_core::origin::{self, OriginError};
use activitypub_core::{Activity, ActivityType, AnyObject, Iri, Limits, ParseError, Reference};
use bytes::Bytes;
use http::StatusCode;
use http_signatures::digest::{BodyDigests, DigestAlgorithm, DigestError};
use http_signatures::{Policy, Unverified, Verifier, VerifyError};
use serde_json::Value;
use tracing::{debug, info};
use url::Url;

use crate::fetch::{FetchBudget, FetchError, Fetcher};
use crate::keys::{KeyCache, KeyError, RemoteKey};

/// The prefix of the keys under which activities without an id are recorded in the
/// [`InboxStore`] (followed by a SHA-256 in hex). Such a key only matches a copy of one signed
/// request, which the signature policy refuses once its date is older than
/// [`Policy::max_age`]: a store may drop these keys after that time.
pub const REPLAY_KEY_PREFIX: &str = "urn:x-signed-request:sha-256:";

/// How the inbox checks what it receives.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InboxConfig {
    /// The largest body accepted, in bytes. Default 1 MiB (Mastodon's limit is similar).
    pub max_body_bytes: usize,
    /// JSON limits for the activity.
    pub limits: Limits,
    /// The signature rules. Default: [`Policy::fediverse`] (an hour of skew either way; date or
    /// `created`; a digest on POST).
    pub signature_policy: Policy,
    /// The scheme the signed target URI had for the sender (`https` behind a TLS-terminating
    /// proxy). Default `https`.
    pub scheme: String,
    /// Which domains may deliver.
    pub domains: DomainPolicy,
    /// What following one incoming activity may fetch (its embedded objects, its key): each
    /// request gets a [renewed](FetchBudget::renewed) copy, its time limit counted from its
    /// arrival.
    pub fetch_budget: FetchBudget,
    /// This server's own origins: objects with ids here are never fetched (the app has them);
    /// an embedded copy of one is passed on by id only.
    pub local_origins: Vec<Url>,
    /// The hosts this server answers to, as a signed `host` or `@authority` names them
    /// (`events.example`, or `events.example:8443` on a port other than the
    /// [`scheme`](Self::scheme)'s default; compared without case). A signature made for any
    /// other host is refused ([`Rejection::SignedForAnotherHost`]): it is a request another
    /// server received, replayed here. [`InboxConfig::new`] puts the base URL's host here; add
    /// the other names a reverse proxy passes on with [`InboxConfig::with_accepted_hosts`].
    /// Empty (as in `InboxConfig::default()`), every signature is refused.
    pub accepted_hosts: Vec<String>,
    /// **Dangerous**: accept a signature that does not cover the host (neither `host` nor
    /// `@authority` nor `@target-uri`), although it could have been made for any server with
    /// the same paths and replayed here (Mastodon's and this crate's shared inbox are both
    /// `/inbox`). Off by default: Mastodon, GoToSocial and Fedify sign the host in every
    /// request, and so does this workspace's signer. Only for a peer known to leave it out.
    pub danger_accept_unsigned_host: bool,
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            limits: Limits::default(),
            signature_policy: Policy::fediverse(),
            scheme: "https".to_owned(),
            domains: DomainPolicy::default(),
            fetch_budget: FetchBudget::default(),
            local_origins: Vec::new(),
            accepted_hosts: Vec::new(),
            danger_accept_unsigned_host: false,
        }
    }
}

impl InboxConfig {
    /// The defaults, for a server at `base_url` (which is the one host it accepts signatures
    /// for, see [`InboxConfig::accepted_hosts`]).
    pub fn new(base_url: &Url) -> Self {
        let accepted_hosts = base_url
            .host_str()
            .map(|host| match base_url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
            .into_iter()
            .collect();
        Self {
            scheme: base_url.scheme().to_owned(),
            local_origins: vec![base_url.clone()],
            accepted_hosts,
            ..Self::default()
        }
    }

    /// Accepts signatures made for `hosts` as well ([`InboxConfig::accepted_hosts`]): the other
    /// names this server answers to, such as the name a reverse proxy passes on in `Host`.
    pub fn with_accepted_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.accepted_hosts
            .extend(hosts.into_iter().map(Into::into));
        self
    }

    /// Sets [`InboxConfig::danger_accept_unsigned_host`].
    pub fn with_danger_accept_unsigned_host(mut self, accept: bool) -> Self {
        self.danger_accept_unsigned_host = accept;
        self
    }

    /// Whether `authority` (a `Host` value, or a request URI's authority) is one of
    /// [`InboxConfig::accepted_hosts`].
    pub fn accepts_host(&self, authority: &str) -> bool {
        let wanted = normalize_authority(authority, &self.scheme);
        self.accepted_hosts
            .iter()
            .any(|host| normalize_authority(host, &self.scheme) == wanted)
    }

    /// Sets the body limit.
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Sets the domain policy.
    pub fn with_domains(mut self, domains: DomainPolicy) -> Self {
        self.domains = domains;
        self
    }

    /// Sets the signature policy.
    pub fn with_signature_policy(mut self, policy: Policy) -> Self {
        self.signature_policy = policy;
        self
    }

    /// Sets the fetch budget of one incoming activity.
    pub fn with_fetch_budget(mut self, budget: FetchBudget) -> Self {
        self.fetch_budget = budget;
        self
    }
}

/// Which domains may talk to this server. A rule for `example.com` covers its subdomains.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainPolicy {
    /// Everyone but the blocked domains (the fediverse's usual mode).
    #[default]
    Open,
    /// Everyone but these domains.
    Block(BTreeSet<String>),
    /// Only these domains ("allowlist mode").
    Allow(BTreeSet<String>),
}

impl DomainPolicy {
    /// A policy blocking `domains`.
    pub fn block<I: IntoIterator<Item = S>, S: Into<String>>(domains: I) -> Self {
        Self::Block(domains.into_iter().map(normalize_domain).collect())
    }

    /// A policy allowing only `domains`.
    pub fn allow<I: IntoIterator<Item = S>, S: Into<String>>(domains: I) -> Self {
        Self::Allow(domains.into_iter().map(normalize_domain).collect())
    }

    /// Whether `host` may talk to this server.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self {
            Self::Open => true,
            Self::Block(blocked) => !covered(blocked, &host),
            Self::Allow(allowed) => covered(allowed, &host),
        }
    }
}

fn normalize_domain(domain: impl Into<String>) -> String {
    domain.into().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` or one of its parent domains is in `set`.
fn covered(set: &BTreeSet<String>, host: &str) -> bool {
    let mut rest = host;
    loop {
        if set.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) => rest = parent,
            None => return false,
        }
    }
}

/// Why the inbox refused a request. [`Rejection::status`] is the status to answer with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The body is larger than the limit.
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body does not match its digest header.
    #[error("body digest: {0}")]
    Digest(#[source] DigestError),
    /// The body is not an activity this server can read.
    #[error("unreadable activity: {0}")]
    Malformed(#[source] ParseError),
    /// The document is not an activity, or has no actor.
    #[error("not an activity with an actor (found a {found})")]
    NotAnActivity {
        /// What was found instead.
        found: String,
    },
    /// The request carries no signature, or one that does not check out (before any key).
    #[error("signature: {0}")]
    Signature(#[source] VerifyError),
    /// The signature was made for another server: the host it covers is not one this server
    /// answers to ([`InboxConfig::accepted_hosts`]). A request another server received,
    /// replayed here.
    #[error(
        "the signature was made for {host}, not for this server (which answers to {})",
        accepted.join(", ")
    )]
    SignedForAnotherHost {
        /// The host the request names (and the signature covers).
        host: String,
        /// The hosts this server accepts.
        accepted: Vec<String>,
    },
    /// The signature does not cover the host (`host`, `@authority` or `@target-uri`), so it
    /// could have been made for any server (see
    /// [`InboxConfig::danger_accept_unsigned_host`]).
    #[error(
        "the signature does not cover the host (host, @authority or @target-uri), so it could \
         have been made for another server"
    )]
    HostNotSigned,
    /// The signing key could not be had.
    #[error("signing key {key_id}: {source}")]
    Key {
        /// The key id.
        key_id: String,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The signature does not verify with the key, even after refetching it.
    #[error("signature by {key_id} does not verify: {source}")]
    BadSignature {
        /// The key id.
        key_id: String,
        /// The verification error, after the refetch when there was one.
        #[source]
        source: VerifyError,
    },
    /// The key's owner is not the activity's actor.
    #[error("signed by {key_owner}'s key, but the actor is {actor}")]
    ActorMismatch {
        /// Who owns the key.
        key_owner: String,
        /// The activity's actor.
        actor: String,
    },
    /// The activity was signed over HTTP by someone other than its actor (a forward), and the
    /// app did not vouch for it ([`Dispatcher::on_forwarded`]).
    #[error("signed by {signer}, not by the actor {actor}, and not vouched for: {reason}")]
    NotVouched {
        /// Who signed (the key's owner).
        signer: String,
        /// The activity's actor.
        actor: String,
        /// Why the app did not vouch for it.
        reason: String,
    },
    /// An id is not on the server it should be on.
    #[error("origin: {0}")]
    Origin(#[source] OriginError),
    /// A domain is not allowed: the key's, the actor's, or that of the activity's object.
    #[error("{host} is not allowed here")]
    Blocked {
        /// The host.
        host: String,
    },
    /// The [`InboxStore`] refuses the actor, the key or the activity's object (a block the app
    /// keeps: of that actor, or of its domain; see [`InboxStore::refuses`]).
    #[error("{iri} is blocked here")]
    Refused {
        /// The actor, key or object id refused.
        iri: String,
    },
    /// The durable record of processed activities failed.
    #[error("the inbox store failed: {0}")]
    Store(#[source] StoreError),
    /// The app's handler refused the activity.
    #[error("the handler refused the activity: {0}")]
    Handler(#[source] HandlerError),
}

impl Rejection {
    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Digest(_) | Self::Malformed(_) | Self::NotAnActivity { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::Signature(_)
            | Self::SignedForAnotherHost { .. }
            | Self::HostNotSigned
            | Self::Key { .. }
            | Self::BadSignature { .. }
            | Self::ActorMismatch { .. }
            | Self::NotVouched { .. }
            | Self::Origin(_) => StatusCode::UNAUTHORIZED,
            Self::Blocked { .. } | Self::Refused { .. } => StatusCode::FORBIDDEN,
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Handler(error) => error.status(),
        }
    }

    /// A short machine-readable name of the failed step (`signature`, `origin`...).
    pub fn step(&self) -> &'static str {
        match self {
            Self::BodyTooLarge { .. } => "body-size",
            Self::Digest(_) => "digest",
            Self::Malformed(_) | Self::NotAnActivity { .. } => "activity",
            Self::Signature(_)
            | Self::SignedForAnotherHost { .. }
            | Self::HostNotSigned
            | Self::Key { .. }
            | Self::BadSignature { .. } => "signature",
            Self::ActorMismatch { .. } | Self::NotVouched { .. } | Self::Origin(_) => "origin",
            Self::Blocked { .. } | Self::Refused { .. } => "domain-policy",
            Self::Store(_) => "idempotency",
            Self::Handler(_) => "handler",
        }
    }
}

/// What the inbox did with an accepted request (every one is answered `202 Accepted`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Accepted {
    /// The handler for the activity's type processed it.
    Processed {
        /// The activity id.
        id: Option<String>,
    },
    /// No handler is registered for the type; nothing was done.
    Ignored {
        /// The activity's type.
        kind: String,
    },
    /// The activity id was processed before (for an activity without an id: this very signed
    /// request was).
    Duplicate {
        /// The activity id, or for an activity without one the key of the signed request
        /// (starting with [`REPLAY_KEY_PREFIX`]).
        id: String,
    },
    /// A `Delete` of an actor this server never knew, dropped before any I/O.
    UnknownActorDeleted {
        /// The actor.
        actor: String,
    },
    /// A `Delete` of a known actor by itself, whose key its own server answers `410 Gone`:
    /// handed to [`Dispatcher::on_actor_gone`].
    ActorGone {
        /// The actor.
        actor: String,
    },
}

/// An error of an [`InboxStore`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// An error with `message`, caused by `source`.
    pub fn new(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// What the inbox remembers durably: the activities it processed, and the actors it knows.
pub trait InboxStore: Send + Sync + 'static {
    /// Records `activity_id` as processed. `Ok(true)` the first time, `Ok(false)` if it was
    /// recorded before. Must be atomic: of two concurrent calls with one id, one gets `true`.
    fn record(&self, activity_id: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Forgets `activity_id` (its processing failed, so a retry must be processed).
    fn forget(&self, activity_id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether this server knows (follows, is followed by, stored something of) `actor`. Used to
    /// drop the `Delete` of an unknown actor before fetching anything.
    fn knows_actor(&self, actor: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether this server refuses `iri`: an actor id, a key id or an object id, refused when
    /// the app blocks that actor or its domain. The app's blocks change while the server runs
    /// (moderators decide), unlike the [`DomainPolicy`] of [`InboxConfig`]; the inbox asks
    /// here for the activity's actor and key, before the key is fetched, and for the
    /// activity's object before it is fetched or handed over ([`Rejection::Refused`], `403`).
    /// The default refuses nothing.
    fn refuses(&self, iri: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = iri;
        async { Ok(false) }
    }
}

/// An [`InboxStore`] in memory, for tests (not durable: a restart forgets everything).
#[derive(Debug, Default, Clone)]
pub struct MemoryInboxStore {
    processed: Arc<Mutex<BTreeSet<String>>>,
    actors: Arc<Mutex<BTreeSet<String>>>,
}

impl MemoryInboxStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks `actor` as known.
    pub fn add_actor(&self, actor: impl Into<String>) {
        self.actors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(actor.into());
    }

    /// How many activity ids are recorded.
    pub fn processed_count(&self) -> usize {
        self.processed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl InboxStore for MemoryInboxStore {
    async fn record(&self, activity_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .processed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(activity_id.to_owned()))
    }

    async fn forget(&self, activity_id: &str) -> Result<(), StoreError> {
        self.processed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(activity_id);
        Ok(())
    }

    async fn knows_actor(&self, actor: &str) -> Result<bool, StoreError> {
        Ok(self
            .actors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(actor))
    }
}

/// A handler's refusal or failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The activity is not acceptable (it refers to nothing we have, breaks a rule...): the
    /// sender should not retry. Answered `422`.
    #[error("refused: {0}")]
    Refused(String),
    /// Something failed on our side: the sender may retry. Answered `500`.
    #[error("failed: {0}")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl HandlerError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The `object` of an incoming activity, as far as it can be believed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum IncomingObject {
    /// The activity has no object.
    None,
    /// An id only: the activity referenced it, or it is one of this server's own objects (an
    /// embedded copy of a local object is never believed), or it was embedded by another server
    /// than its own and its origin did not serve it (the copy is not believed either).
    Id(Iri),
    /// An object that can be believed: embedded by its own server, or fetched from its origin.
    Object(Box<AnyObject>),
}

impl IncomingObject {
    /// The object's id.
    pub fn id(&self) -> Option<&Iri> {
        match self {
            Self::None => None,
            Self::Id(id) => Some(id),
            Self::Object(object) => object.id(),
        }
    }

    /// The object, when there is a trusted one.
    pub fn object(&self) -> Option<&AnyObject> {
        match self {
            Self::Object(object) => Some(object),
            _ => None,
        }
    }
}

/// An activity that passed every check, handed to the app's handler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Incoming {
    /// The activity, as received (its embedded object may be untrusted: use [`Self::object`]).
    pub activity: Activity,
    /// The activity's actor: the key's owner, or for a forward the app vouched for
    /// ([`Dispatcher::on_forwarded`]) the actor it names.
    pub actor: Iri,
    /// The key that signed the request: the actor's, or for a forward its signer's (whose
    /// `owner` then is not [`Self::actor`]).
    pub key: Arc<RemoteKey>,
    /// The object, checked (see [`IncomingObject`]).
    pub object: IncomingObject,
    /// The exact bytes received.
    pub body: Bytes,
    /// Which inbox received it: `None` for the shared inbox, else the local actor's name.
    pub inbox_owner: Option<String>,
    /// What is left of this request's fetch budget, for the handler's own fetches (the
    /// ancestors of a reply, an announced object): one incoming activity costs at most one
    /// budget, however its handling goes.
    pub budget: FetchBudget,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Handler<S> =
    Arc<dyn Fn(S, Incoming) -> BoxFuture<'static, Result<(), HandlerError>> + Send + Sync>;

/// An activity signed over HTTP by someone other than its actor (a *forward*: a relay passing
/// on a post, a new account passing on the `Move` its old server signed), once that signature
/// verified, handed to the app's [`Dispatcher::on_forwarded`] hook. Without the hook such a
/// delivery is refused ([`Rejection::ActorMismatch`]); the hook decides whether something
/// else (a Linked Data signature, the actor's own server) vouches for the activity.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Forward {
    /// The activity, as received.
    pub activity: Activity,
    /// The actor it names.
    pub actor: Iri,
    /// The key that signed the request (its `owner` is the forwarder).
    pub signer: Arc<RemoteKey>,
    /// The exact bytes received (a Linked Data signature is checked over them).
    pub body: Bytes,
    /// What is left of this request's fetch budget, for the hook's own fetches. What the hook
    /// spends is not given back: it hands back what is left in [`Vouch::Vouched`].
    pub budget: FetchBudget,
}

/// The app's answer to a [`Forward`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Vouch {
    /// The app vouches for the activity as its actor's: the inbox goes on with its other
    /// checks (the id's origin, the domain policy, the object's origin, the idempotency
    /// record) and dispatches it by type, with what is left of the budget.
    Vouched {
        /// What is left of the fetch budget.
        budget: FetchBudget,
    },
    /// As [`Self::Vouched`], and the app established the activity's object itself (the
    /// document a Linked Data signature covers, or the object as its own server serves it):
    /// the handler gets this one as [`Incoming::object`], never the copy the forwarder
    /// embedded. Its id must be the activity's object's, or the forward is refused
    /// ([`Rejection::NotVouched`]).
    VouchedWithObject {
        /// What is left of the fetch budget.
        budget: FetchBudget,
        /// The object, as the app believes it.
        object: Box<AnyObject>,
    },
    /// Not vouched for, but not refused either: the app takes such forwards and has nothing
    /// to do with this one (a relay passing on an activity of a kind the app does not take
    /// from relays). Answered as an activity no handler takes ([`Accepted::Ignored`]):
    /// nothing recorded, no handler called.
    Ignored {
        /// Why, for the log.
        reason: String,
    },
    /// Not vouched for: refused ([`Rejection::NotVouched`], `401`), as any delivery whose
    /// signer is not its actor.
    Refused {
        /// Why, for the log and the answer.
        reason: String,
    },
}

/// The app's handlers, one per activity type, over the app's state `S` (cloned per call).
pub struct Dispatcher<S> {
    handlers: HashMap<ActivityType, Handler<S>>,
    gone: Option<GoneHandler<S>>,
    forwarded: Option<ForwardHandler<S>>,
}

type ForwardHandler<S> =
    Arc<dyn Fn(S, Forward) -> BoxFuture<'static, Result<Vouch, HandlerError>> + Send + Sync>;

type GoneHandler<S> =
    Arc<dyn Fn(S, Iri) -> BoxFuture<'static, Result<(), HandlerError>> + Send + Sync>;

impl<S> fmt::Debug for Dispatcher<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("types", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<S> Default for Dispatcher<S> {
    fn default() -> Self {
        Self {
            handlers: HashMap::new(),
            gone: None,
            forwarded: None,
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Dispatcher<S> {
    /// No handlers: every activity is ignored.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for activities of type `kind` (replacing an earlier one).
    pub fn on<F, Fut>(mut self, kind: ActivityType, handler: F) -> Self
    where
        F: Fn(S, Incoming) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let handler: Handler<S> =
            Arc::new(move |state, incoming| Box::pin(handler(state, incoming)));
        self.handlers.insert(kind, handler);
        self
    }

    /// Registers `handler` for actors deleted while their key could not be had: a `Delete` of
    /// an actor by itself whose key's document its own server answers `410 Gone` (the actor's
    /// server deleted the key with the actor, so the signature cannot be checked, but the
    /// server itself says the actor is gone). Without it, such a Delete is refused as unsigned.
    pub fn on_actor_gone<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(S, Iri) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let handler: GoneHandler<S> = Arc::new(move |state, actor| Box::pin(handler(state, actor)));
        self.gone = Some(handler);
        self
    }

    /// Registers `hook` for forwards: activities whose HTTP signature (verified) is not by
    /// their actor ([`Forward`]). The hook vouches for one ([`Vouch::Vouched`]) from what else
    /// proves it the actor's, such as a Linked Data signature by the actor's key; the inbox
    /// then applies its other checks and its idempotency record, and dispatches the activity
    /// to the handler of its type, whose [`Incoming::key`] is the forwarder's (and whose
    /// [`Incoming::object`] is the one the hook established, when it answers
    /// [`Vouch::VouchedWithObject`]). Without a hook (the default), or when it answers
    /// [`Vouch::Refused`], a forward is refused, as every delivery whose signer is not its actor
    /// is; [`Vouch::Ignored`] acknowledges it without recording or handling it. Activities of a
    /// type with no handler are ignored before the hook is asked.
    pub fn on_forwarded<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(S, Forward) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vouch, HandlerError>> + Send + 'static,
    {
        let hook: ForwardHandler<S> =
            Arc::new(move |state, forward| Box::pin(hook(state, forward)));
        self.forwarded = Some(hook);
        self
    }

    /// Whether a handler is registered for `kind`.
    pub fn handles(&self, kind: &ActivityType) -> bool {
        self.handlers.contains_key(kind)
    }
}

/// The inbox pipeline. Cheap to share behind an `Arc`.
pub struct Inbox<S, St> {
    config: InboxConfig,
    /// The verifier of [`InboxConfig::signature_policy`] and [`InboxConfig::scheme`].
    verifier: Verifier,
    /// The origins of [`InboxConfig::local_origins`], read once.
    local_origins: Vec<origin::Origin>,
    keys: KeyCache,
    fetcher: Fetcher,
    /// Shared with the task that records and dispatches each activity.
    store: Arc<St>,
    dispatcher: Dispatcher<S>,
    state: S,
}

impl<S, St> fmt::Debug for Inbox<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("config", &self.config)
            .field("dispatcher", &self.dispatcher)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static, St: InboxStore> Inbox<S, St> {
    /// A pipeline checking keys with `keys`, fetching with `fetcher`, recording in `store` and
    /// dispatching to `dispatcher` with `state`.
    pub fn new(
        config: InboxConfig,
        keys: KeyCache,
        fetcher: Fetcher,
        store: St,
        dispatcher: Dispatcher<S>,
        state: S,
    ) -> Self {
        Self {
            verifier: Verifier::new(config.signature_policy.clone())
                .with_default_scheme(config.scheme.clone()),
            local_origins: local_origins(&config.local_origins),
            config,
            keys,
            fetcher,
            store: Arc::new(store),
            dispatcher,
            state,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &InboxConfig {
        &self.config
    }

    /// The key cache.
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// The store.
    pub fn store(&self) -> &St {
        &self.store
    }

    /// Runs the pipeline on a request whose body has been read (the route reads it within
    /// [`InboxConfig::max_body_bytes`]), at the current time.
    pub async fn receive(
        &self,
        request: &http::Request<Bytes>,
        inbox_owner: Option<String>,
    ) -> Result<Accepted, Rejection> {
        self.receive_at(request, inbox_owner, SystemTime::now())
            .await
    }

    /// [`Self::receive`] at `now`.
    pub async fn receive_at(
        &self,
        request: &http::Request<Bytes>,
        inbox_owner: Option<String>,
        now: SystemTime,
    ) -> Result<Accepted, Rejection> {
        let body = request.body();
        // 1. Body size (the route already stopped reading past the limit; this covers callers
        // that hand a request over directly).
        if body.len() > self.config.max_body_bytes {
            return Err(Rejection::BodyTooLarge {
                limit: self.config.max_body_bytes,
            });
        }
        // 2. Digest.
        // The body is hashed once: the verifier checks the same digests again (step 4) with
        // the ones computed here.
        let mut digests = BodyDigests::new(body);
        http_signatures::digest::check_body_digests(request.headers(), &mut digests)
            .map_err(Rejection::Digest)?;
        // 3. The activity, and what can be refused before any I/O.
        // Read from the body in place (the request keeps the bytes).
        let document =
            AnyObject::from_slice_with(body, &self.config.limits).map_err(Rejection::Malformed)?;
        let activity = match document {
            AnyObject::Activity(activity) => *activity,
            // A type this crate does not know (`Bite`, `QuoteRequest`, a new FEP's) is still an
            // activity when it has an actor: it is checked like any other, then ignored, since
            // no handler can be registered for it.
            AnyObject::Unknown(unknown) => {
                let kind = unknown.kind.clone();
                let Some(actor) = unknown.props.extra.get("actor").and_then(raw_id) else {
                    return Err(Rejection::NotAnActivity {
                        found: format!("{kind} without an actor"),
                    });
                };
                let mut budget = self.config.fetch_budget.renewed();
                let unverified = self.parse_signature(request, &mut digests, now)?;
                self.authenticate(
                    request,
                    unverified,
                    &actor,
                    unknown.props.id.as_ref(),
                    &mut budget,
                    false,
                )
                .await?;
                info!(%kind, %actor, "activity of an unknown type; ignoring");
                return Ok(Accepted::Ignored { kind });
            }
            other => {
                return Err(Rejection::NotAnActivity {
                    found: other.type_name().to_owned(),
                });
            }
        };
        let Some(actor) = activity.actor_id().cloned() else {
            return Err(Rejection::NotAnActivity {
                found: format!("{} without an actor", activity.kind),
            });
        };
        if activity.kind == ActivityType::Delete
            && activity.object_id() == Some(&actor)
            && !self
                .store
                .knows_actor(actor.as_str())
                .await
                .map_err(Rejection::Store)?
        {
            debug!(%actor, "dropping the Delete of an actor never known");
            return Ok(Accepted::UnknownActorDeleted {
                actor: actor.to_string(),
            });
        }
        // 4. to 6. Signature, origin of the key and the id, domain policy.
        let mut budget = self.config.fetch_budget.renewed();
        let self_delete =
            activity.kind == ActivityType::Delete && activity.object_id() == Some(&actor);
        let unverified = self.parse_signature(request, &mut digests, now)?;
        let authenticated = self
            .authenticate(
                request,
                unverified,
                &actor,
                activity.props.id.as_ref(),
                &mut budget,
                self.dispatcher.forwarded.is_some(),
            )
            .await;
        let (key, unverified) = match authenticated {
            Ok(authenticated) => authenticated,
            Err(Rejection::Key { key_id, source })
                if self_delete && self.dispatcher.gone.is_some() && is_gone(&source, &actor) =>
            {
                // The actor's own server says the actor is gone: that is what the Delete says,
                // and no one else can make that server answer 410.
                if let Some(host) = host_of(&actor)
                    && !self.config.domains.allows(&host)
                {
                    return Err(Rejection::Blocked {
                        host: host.into_owned(),
                    });
                }
                info!(%actor, %key_id, "the actor's server answers 410 Gone; the actor is deleted");
                if let Some(gone) = &self.dispatcher.gone {
                    gone(self.state.clone(), actor.clone())
                        .await
                        .map_err(Rejection::Handler)?;
                }
                return Ok(Accepted::ActorGone {
                    actor: actor.to_string(),
                });
            }
            Err(rejection) => return Err(rejection),
        };
        // A forward (signed by someone other than the actor): only when the app vouches.
        let mut vouched_object = None;
        if key.owner != actor {
            if !self.dispatcher.handles(&activity.kind) {
                info!(kind = %activity.kind, %actor, signer = %key.owner, "a forward with no handler; ignoring");
                return Ok(Accepted::Ignored {
                    kind: activity.kind.to_string(),
                });
            }
            let Some(hook) = &self.dispatcher.forwarded else {
                return Err(Rejection::ActorMismatch {
                    key_owner: key.owner.to_string(),
                    actor: actor.to_string(),
                });
            };
            let forward = Forward {
                activity: activity.clone(),
                actor: actor.clone(),
                signer: key.clone(),
                body: body.clone(),
                budget: budget.clone(),
            };
            match hook(self.state.clone(), forward)
                .await
                .map_err(Rejection::Handler)?
            {
                Vouch::Vouched { budget: left } => {
                    info!(kind = %activity.kind, %actor, signer = %key.owner, "a forward vouched for");
                    budget = left;
                }
                Vouch::VouchedWithObject {
                    budget: left,
                    object,
                } => {
                    if object.id() != activity.object_id() {
                        return Err(Rejection::NotVouched {
                            signer: key.owner.to_string(),
                            actor: actor.to_string(),
                            reason: "the object vouched for is not the activity's".to_owned(),
                        });
                    }
                    info!(kind = %activity.kind, %actor, signer = %key.owner, "a forward and its object vouched for");
                    budget = left;
                    vouched_object = Some(object);
                }
                Vouch::Ignored { reason } => {
                    info!(kind = %activity.kind, %actor, signer = %key.owner, %reason, "a forward ignored");
                    return Ok(Accepted::Ignored {
                        kind: activity.kind.to_string(),
                    });
                }
                Vouch::Refused { reason } => {
                    return Err(Rejection::NotVouched {
                        signer: key.owner.to_string(),
                        actor: actor.to_string(),
                        reason,
                    });
                }
            }
        }
        // 5. Origin of the objects.
        origin::check_activity_origin(&activity).map_err(Rejection::Origin)?;
        // Only whoever did something undoes it: an embedded activity's actor is the Undo's.
        if activity.kind == ActivityType::Undo
            && let Some(AnyObject::Activity(undone)) = activity
                .object
                .iter()
                .flatten()
                .next()
                .and_then(Reference::as_object)
            && let Some(undone_actor) = undone.actor_id()
            && *undone_actor != actor
        {
            return Err(Rejection::ActorMismatch {
                key_owner: actor.to_string(),
                actor: undone_actor.to_string(),
            });
        }
        if !self.dispatcher.handles(&activity.kind) {
            info!(kind = %activity.kind, %actor, "no handler; ignoring");
            return Ok(Accepted::Ignored {
                kind: activity.kind.to_string(),
            });
        }
        // The object, believed only from its own server (fetched after the idempotency check
        // would save a fetch for a duplicate, but the record must not be taken for an activity
        // whose object cannot be had, so the fetch comes first).
        let mut object = self.checked_object(&activity, &actor, &mut budget).await?;
        if let Some(vouched) = vouched_object {
            object = IncomingObject::Object(vouched);
        }
        // 7. Idempotency. An activity without an id cannot be recognized when it is sent
        // again, but a replay of the very same signed request can: its key is the hash of the
        // signature base and the body (a sender that delivers it again signs afresh, with
        // another date, so only a copy of the request matches).
        let id = activity.props.id.as_ref().map(|id| id.to_string());
        let record_key = id
            .clone()
            .unwrap_or_else(|| replay_key(unverified.signing_bytes(), body));
        // Steps 7 and 8 run as a task of their own, so that they end as they began even when
        // the request is abandoned meanwhile (its sender hung up or died, and the server drops
        // the request's future): once the id is recorded the activity is dispatched, or the
        // record is forgotten. Otherwise the sender's retry would find the id recorded and be
        // taken for a duplicate of an activity that was never processed.
        let store = Arc::clone(&self.store);
        let handler = self.dispatcher.handlers.get(&activity.kind).cloned();
        let state = self.state.clone();
        let incoming = Incoming {
            activity,
            actor,
            key,
            object,
            body: body.clone(),
            inbox_owner,
            budget,
        };
        let key_kept = record_key.clone();
        let recorded = tokio::spawn(async move {
            // 7. Idempotency.
            if !store.record(&record_key).await.map_err(Rejection::Store)? {
                debug!(id = %record_key, "already processed");
                return Ok(Accepted::Duplicate { id: record_key });
            }
            // 8. Dispatch.
            let outcome = match handler {
                Some(handler) => handler(state, incoming).await,
                None => Ok(()),
            };
            match outcome {
                Ok(()) => Ok(Accepted::Processed { id }),
                Err(error) => {
                    store.forget(&record_key).await.map_err(Rejection::Store)?;
                    Err(Rejection::Handler(error))
                }
            }
        });
        match recorded.await {
            Ok(result) => result,
            // The handler panicked: its activity was not processed.
            Err(panicked) => {
                self.store
                    .forget(&key_kept)
                    .await
                    .map_err(Rejection::Store)?;
                Err(Rejection::Handler(HandlerError::Failed(Box::new(panicked))))
            }
        }
    }

    /// The first part of step 4: the request's signature parsed and checked as far as no key
    /// is needed (the digests compared with those of step 2, `digests`).
    #[expect(
        clippy::result_large_err,
        reason = "the inbox's own rejection, once per request, as the async steps beside it return"
    )]
    fn parse_signature(
        &self,
        request: &http::Request<Bytes>,
        digests: &mut BodyDigests<'_>,
        now: SystemTime,
    ) -> Result<Unverified, Rejection> {
        self.verifier
            .parse_request_with_digests(request, digests, now)
            .map_err(Rejection::Signature)
    }

    /// Steps 4 to 6 for an activity by `actor` with id `id`, whose request's signature is
    /// `unverified` ([`Self::parse_signature`]): the signature (the key on a blocked domain
    /// refused before it is fetched), the key's owner and origin, the id's origin, and the
    /// actor's domain. With `forwards`, a key of someone other than `actor` is returned (the
    /// caller asks the app to vouch) instead of refused.
    async fn authenticate(
        &self,
        request: &http::Request<Bytes>,
        unverified: Unverified,
        actor: &Iri,
        id: Option<&Iri>,
        budget: &mut FetchBudget,
        forwards: bool,
    ) -> Result<(Arc<RemoteKey>, Unverified), Rejection> {
        check_signed_host(&self.config, request, &unverified)?;
        if let Some(host) = blocked_key_host(&self.config.domains, unverified.key_id()) {
            return Err(Rejection::Blocked { host });
        }
        // The app's own blocks, before the key is fetched.
        for iri in [actor.as_str(), unverified.key_id()] {
            if self.store.refuses(iri).await.map_err(Rejection::Store)? {
                return Err(Rejection::Refused {
                    iri: iri.to_owned(),
                });
            }
        }
        // 4. Signature, with one refetch of a cached key when it fails.
        let key = verify_signature(&self.keys, &unverified, budget).await?;
        // 5. Origin.
        if key.owner != *actor {
            if !forwards {
                return Err(Rejection::ActorMismatch {
                    key_owner: key.owner.to_string(),
                    actor: actor.to_string(),
                });
            }
            // A forward: the key is its signer's, on the signer's server.
            origin::check_key_owner(&key.key_id, &key.owner).map_err(Rejection::Origin)?;
        } else {
            origin::check_key_owner(&key.key_id, actor).map_err(Rejection::Origin)?;
        }
        if let Some(id) = id {
            origin::check_same_origin("id", id, "actor", actor).map_err(Rejection::Origin)?;
        }
        // 6. Domain policy.
        if let Some(host) = host_of(actor)
            && !self.config.domains.allows(&host)
        {
            return Err(Rejection::Blocked {
                host: host.into_owned(),
            });
        }
        Ok((key, unverified))
    }

    /// The activity's (first) object, believed only from its own server.
    async fn checked_object(
        &self,
        activity: &Activity,
        actor: &Iri,
        budget: &mut FetchBudget,
    ) -> Result<IncomingObject, Rejection> {
        let Some(first) = activity.object.iter().flatten().next() else {
            return Ok(IncomingObject::None);
        };
        // Content from a blocked domain does not come in through another server either (an
        // `Announce` of it, say), neither embedded nor by id for the handler to fetch.
        if let Some(id) = activitypub_core::reference_id(first)
            && !self.is_local(id)
            && let Some(host) = host_of(id)
            && !self.config.domains.allows(&host)
        {
            return Err(Rejection::Blocked {
                host: host.into_owned(),
            });
        }
        if let Some(id) = activitypub_core::reference_id(first)
            && !self.is_local(id)
            && self
                .store
                .refuses(id.as_str())
                .await
                .map_err(Rejection::Store)?
        {
            return Err(Rejection::Refused {
                iri: id.to_string(),
            });
        }
        let embedded = match first {
            Reference::Object(object) => object,
            other => {
                return Ok(match activitypub_core::reference_id(other) {
                    Some(id) => IncomingObject::Id(id.clone()),
                    None => IncomingObject::None,
                });
            }
        };
        let Some(id) = embedded.id() else {
            // An object with no id (a transient one) is believed as the actor's own words.
            return Ok(IncomingObject::Object(Box::new(embedded.clone())));
        };
        if self.is_local(id) {
            return Ok(IncomingObject::Id(id.clone()));
        }
        if origin::same_origin(id, actor) {
            return Ok(IncomingObject::Object(Box::new(embedded.clone())));
        }
        // From another server: fetch it from there.
        let url = Url::parse(id.as_str()).map_err(|_| {
            Rejection::Origin(OriginError::NoOrigin {
                field: "object.id",
                iri: id.to_string(),
            })
        })?;
        debug!(%url, "embedded object from another server; fetching it from its origin");
        match self.fetcher.fetch(&url, budget).await {
            Ok(fetched) => Ok(IncomingObject::Object(Box::new(fetched.object().clone()))),
            // The sender cannot make a third server answer: refusing the activity would only
            // make it retry for days. The copy is not believed; the handler gets the id, as if
            // the object had been referenced, and may try again or let it be.
            Err(error) => {
                info!(%url, %error, "cannot fetch an embedded object from its origin; passing its id");
                Ok(IncomingObject::Id(id.clone()))
            }
        }
    }

    fn is_local(&self, id: &Iri) -> bool {
        is_local(&self.local_origins, id)
    }
}

/// Refuses a signature that was not made for this server: it must cover the host (unless
/// [`InboxConfig::danger_accept_unsigned_host`]), and every host the request names must be one
/// of [`InboxConfig::accepted_hosts`].
///
/// The verifier took the signed host from the request: draft-cavage's `host` from the `Host`
/// header (else the URI's authority), RFC 9421's `@authority` and `@target-uri` from the URI's
/// authority (else `Host`). Rather than repeat those rules, every authority the request names
/// (the URI's and each `Host` line) must be accepted: then whichever was signed is.
#[expect(
    clippy::result_large_err,
    reason = "the inbox's own rejection, once per request, as the async steps beside it return"
)]
pub(crate) fn check_signed_host<B>(
    config: &InboxConfig,
    request: &http::Request<B>,
    unverified: &Unverified,
) -> Result<(), Rejection> {
    let covers_host = unverified
        .covered()
        .iter()
        .any(|component| matches!(component.as_ref(), "host" | "@authority" | "@target-uri"));
    if !covers_host {
        return if config.danger_accept_unsigned_host {
            Ok(())
        } else {
            Err(Rejection::HostNotSigned)
        };
    }
    let from_uri = request.uri().authority().map(|a| a.as_str().to_owned());
    let from_header = request
        .headers()
        .get_all(http::header::HOST)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let mut named = from_uri.into_iter().chain(from_header).peekable();
    if named.peek().is_none() {
        // Nothing to have signed: the verifier would have refused it already.
        return Err(Rejection::HostNotSigned);
    }
    for host in named {
        if !config.accepts_host(&host) {
            return Err(Rejection::SignedForAnotherHost {
                host,
                accepted: config.accepted_hosts.clone(),
            });
        }
    }
    Ok(())
}

/// An authority as compared with [`InboxConfig::accepted_hosts`]: trimmed, lowercased, without
/// the default port of `scheme` and without a final dot after the host name.
fn normalize_authority(authority: &str, scheme: &str) -> String {
    let lower = authority.trim().to_ascii_lowercase();
    let default_port = match scheme {
        "https" => Some(":443"),
        "http" => Some(":80"),
        _ => None,
    };
    let without_port = default_port
        .and_then(|port| lower.strip_suffix(port))
        .unwrap_or(&lower);
    match without_port.rsplit_once(':') {
        // `host.:port` (not an IPv6 literal, whose last colon is inside the brackets).
        Some((host, port)) if !port.contains(']') => {
            format!("{}:{port}", host.strip_suffix('.').unwrap_or(host))
        }
        _ => without_port
            .strip_suffix('.')
            .unwrap_or(without_port)
            .to_owned(),
    }
}

/// The host of `key_id` when `domains` does not allow it: a signature by a key on a blocked
/// domain is refused before the key is fetched.
pub(crate) fn blocked_key_host(domains: &DomainPolicy, key_id: &str) -> Option<String> {
    origin::url_host(key_id)
        .filter(|host| !domains.allows(host))
        .map(std::borrow::Cow::into_owned)
}

/// Verifies `unverified` with the key it names, from `keys`. When a key taken from the cache
/// does not verify, the peer may have rotated it: it is refetched once. A key that was just
/// fetched is not fetched again (it cannot be fresher, and the refetch would spend the
/// origin's cool-off).
pub(crate) async fn verify_signature(
    keys: &KeyCache,
    unverified: &Unverified,
    budget: &mut FetchBudget,
) -> Result<Arc<RemoteKey>, Rejection> {
    let key_id = unverified.key_id();
    let was_cached = keys.cached_key(key_id).is_some();
    let key = keys
        .key(key_id, budget)
        .await
        .map_err(|source| Rejection::Key {
            key_id: key_id.to_owned(),
            source,
        })?;
    let first = match unverified.verify(&key.key) {
        Ok(_) => return Ok(key),
        Err(first) => first,
    };
    if !was_cached {
        return Err(Rejection::BadSignature {
            key_id: key_id.to_owned(),
            source: first,
        });
    }
    debug!(%key_id, error = %first, "signature failed; refetching the key once");
    let fresh = keys
        .refresh(key_id, budget)
        .await
        .map_err(|_| Rejection::BadSignature {
            key_id: key_id.to_owned(),
            source: first,
        })?;
    unverified
        .verify(&fresh.key)
        .map_err(|source| Rejection::BadSignature {
            key_id: key_id.to_owned(),
            source,
        })?;
    Ok(fresh)
}

/// The origins of `urls` that an id can share: those of URLs with a host whose scheme has
/// origins made of scheme, host and port (`http`, `https`, `ws`, `wss`, `ftp`; the URL parser
/// gives every other URL an opaque origin, equal to no other).
fn local_origins(urls: &[Url]) -> Vec<origin::Origin> {
    urls.iter()
        .filter(|url| url.origin().is_tuple())
        .filter_map(|url| Iri::parse(url.as_str()).ok())
        .filter_map(|iri| origin::Origin::of(&iri))
        .collect()
}

/// Whether `id` is on one of `local` (see [`local_origins`]): the URL parser's origins of
/// both are equal.
fn is_local(local: &[origin::Origin], id: &Iri) -> bool {
    if local.is_empty() {
        return false;
    }
    let Some(id) = origin::Origin::of(id) else {
        return false;
    };
    matches!(id.scheme(), "http" | "https" | "ws" | "wss" | "ftp") && local.contains(&id)
}

/// Whether a key lookup failed because the actor's own document is `410 Gone`.
fn is_gone(error: &KeyError, actor: &Iri) -> bool {
    match error.fetch_error() {
        Some(FetchError::Gone { url }) => {
            let mut url = url.clone();
            url.set_fragment(None);
            url.as_str() == actor.as_str()
        }
        _ => false,
    }
}

/// The host of `iri`, if it is a URL with one.
fn host_of(iri: &Iri) -> Option<std::borrow::Cow<'_, str>> {
    origin::url_host(iri.as_str())
}

/// The id a raw reference names: a string, an object's `id`, or the first of an array's.
fn raw_id(value: &Value) -> Option<Iri> {
    match value {
        Value::String(id) => Iri::parse(id.clone()).ok(),
        Value::Object(object) => object
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| Iri::parse(id.to_owned()).ok()),
        Value::Array(items) => items.first().and_then(raw_id),
        _ => None,
    }
}

/// The idempotency key of an activity without an id: the SHA-256 of the signature base and
/// the body, which only a copy of the same signed request shares.
fn replay_key(signature_base: &[u8], body: &[u8]) -> String {
    let mut hashed = Vec::with_capacity(signature_base.len().saturating_add(body.len()));
    hashed.extend_from_slice(signature_base);
    // The signature base is text: a NUL cannot be part of it, so it marks where it ends.
    hashed.push(0);
    hashed.extend_from_slice(body);
    DigestAlgorithm::Sha256.digest(&hashed).iter().fold(
        String::from(REPLAY_KEY_PREFIX),
        |mut key, byte| {
            let _ = write!(key, "{byte:02x}");
            key
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// `is_local` over the origins read once answers what comparing the URL parser's origins
    /// answered.
    #[test]
    fn local_ids_are_those_the_url_parser_puts_on_a_local_origin() {
        let locals: Vec<Url> = [
            "https://events.example/",
            "http://localhost:8080/base/",
            "https://[::1]:8443/",
            "file:///srv/",
            "foo://events.example/",
        ]
        .iter()
        .map(|u| Url::parse(u).unwrap())
        .collect();
        let origins = local_origins(&locals);
        for id in [
            "https://events.example/notes/1",
            "https://EVENTS.example:443/notes/1",
            "https://events.example:8443/notes/1",
            "http://events.example/notes/1",
            "https://other.example/notes/1",
            "https://events.example./notes/1",
            "http://localhost:8080/x",
            "http://LOCALHOST:8080/x",
            "http://localhost/x",
            "https://[::1]:8443/x",
            "https://[0:0::1]:8443/x",
            "file:///srv/x",
            "foo://events.example/x",
            "wss://events.example/x",
            "urn:uuid:1",
            "https://user@events.example/x",
            "https://xn--bcher-kva.example/x",
        ] {
            let iri = Iri::parse(id).unwrap();
            let url = Url::parse(id).unwrap();
            let expected = locals.iter().any(|local| local.origin() == url.origin());
            assert_eq!(is_local(&origins, &iri), expected, "{id}");
        }
        assert!(!is_local(
            &[],
            &Iri::parse("https://events.example/x").unwrap()
        ));
    }
}
