//! Remote actors and their public keys, fetched through the guarded [`Fetcher`] and cached.
//!
//! A signed request names its key by id (`keyId`). [`KeyCache::key`] turns that id into a
//! [`RemoteKey`]:
//!
//! * It fetches the key id's URL without its fragment. The document is either the **actor**
//!   (Mastodon's `https://host/users/alice#main-key`): the key is the `publicKey` whose `id` is
//!   the key id, or a [FEP-521a] `assertionMethod` Multikey with that id; or a **standalone key
//!   document** (`CryptographicKey` with `owner` and `publicKeyPem`, or `Multikey` with
//!   `controller` and `publicKeyMultibase`) whose `id` is the key id. Then the owner is fetched
//!   too, and it must list the key id (in `publicKey` or `assertionMethod`): a key document
//!   alone cannot make itself the key of an actor.
//! * In an actor document only keys owned by that actor (`owner`, `controller`) and on its
//!   origin count: an actor cannot publish keys for another server's key ids.
//! * Actors and keys are cached for [`KeyCacheConfig::ttl`], at most
//!   [`KeyCacheConfig::max_entries`] of each. So is the type of a document fetched as an actor
//!   that was something else (another server's followers collection, say), so that it is not
//!   fetched again each time it is addressed.
//!
//! When a signature does not verify with the cached key, the peer may have rotated it:
//! [`KeyCache::refresh`] refetches it, once. Refreshes are **single-flight** (concurrent
//! refreshes, and lookups, of one key id share one fetch and all get its result) and **cool off
//! per origin**: after a refresh for an origin, further refreshes for that origin within
//! [`KeyCacheConfig::refresh_cool_off`] fail with [`KeyError::CoolingOff`] without fetching, so a
//! flood of badly signed requests cannot make the server hammer their origin.
//!
//! Time comes from a [`Clock`], so tests can move it by hand.
//!
//! [FEP-521a]: https://codeberg.org/fediverse/fep/src/branch/main/fep/521a/fep-521a.md

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use activitypub_core::origin::Origin;
use activitypub_core::{Actor, AnyObject, Iri};
use federation_queue::{Clock, SystemClock};
use http_signatures::VerifyingKey;
use serde_json::Value;
use tokio::sync::watch;
use url::Url;

use crate::fetch::{FetchBudget, FetchError, Fetcher, without_fragment};

/// What is kept of a fetched actor.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RemoteActor {
    /// The actor's `id`.
    pub id: Iri,
    /// `inbox`.
    pub inbox: Option<Iri>,
    /// `endpoints.sharedInbox`.
    pub shared_inbox: Option<Iri>,
    /// `preferredUsername`.
    pub preferred_username: Option<String>,
    /// The keys of the actor that could be read: `publicKey` (PEM: SPKI or PKCS#1) and
    /// `assertionMethod` Multikeys, owned by this actor and on its origin. A key that is listed
    /// but cannot be read is left out (and [`RemoteActor::find_key`] says why).
    pub keys: Vec<Arc<RemoteKey>>,
    /// The whole actor document.
    pub actor: Actor,
    /// When it was fetched (or inserted).
    pub fetched_at: SystemTime,
}

/// A public key of a remote actor.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RemoteKey {
    /// The key id, as signatures name it.
    pub key_id: Iri,
    /// The actor the key belongs to, which lists it.
    pub owner: Iri,
    /// The key.
    pub key: VerifyingKey,
}

/// The settings of a [`KeyCache`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyCacheConfig {
    /// How long a fetched actor or key is used without fetching it again. Default 24 hours,
    /// as Mastodon refreshes remote accounts: a rotated key is caught sooner by
    /// [`KeyCache::refresh`].
    pub ttl: Duration,
    /// The most actors, the most keys, and the most documents known not to be actors, kept.
    /// When full, expired entries go first, then the oldest. Default 10 000.
    pub max_entries: usize,
    /// After a refresh for an origin, how long further refreshes for that origin are refused.
    /// Default 60 s.
    pub refresh_cool_off: Duration,
}

impl Default for KeyCacheConfig {
    fn default() -> KeyCacheConfig {
        KeyCacheConfig {
            ttl: Duration::from_secs(24 * 60 * 60),
            max_entries: 10_000,
            refresh_cool_off: Duration::from_secs(60),
        }
    }
}

impl KeyCacheConfig {
    /// Sets [`KeyCacheConfig::ttl`].
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> KeyCacheConfig {
        self.ttl = ttl;
        self
    }

    /// Sets [`KeyCacheConfig::max_entries`].
    #[must_use]
    pub fn with_max_entries(mut self, max: usize) -> KeyCacheConfig {
        self.max_entries = max;
        self
    }

    /// Sets [`KeyCacheConfig::refresh_cool_off`].
    #[must_use]
    pub fn with_refresh_cool_off(mut self, cool_off: Duration) -> KeyCacheConfig {
        self.refresh_cool_off = cool_off;
        self
    }
}

/// Why an actor or a key could not be had. Cheap to clone (the sources are shared), so that
/// every caller waiting on one fetch gets the same error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Fetching a document failed.
    #[error(transparent)]
    Fetch(Arc<FetchError>),
    /// A key id or an owner is not an `http(s)` URL, so it cannot be fetched.
    #[error("`{iri}` is not a URL that can be fetched")]
    NotAUrl {
        /// The id.
        iri: String,
    },
    /// The document asked for as an actor is something else.
    #[error("the document at `{url}` is a {type_name}, not an actor")]
    NotAnActor {
        /// Where it came from.
        url: Url,
        /// Its `type`.
        type_name: String,
    },
    /// An actor without an `id` (only possible for one given to [`KeyCache::insert_actor`]).
    #[error("the actor has no id")]
    ActorIdMissing,
    /// The document at the key id's URL neither is an actor listing the key nor is the key.
    #[error("the document at `{url}` has no key `{key_id}`")]
    NoSuchKey {
        /// The key id.
        key_id: String,
        /// The document's URL.
        url: Url,
    },
    /// A standalone key document names no owner (`owner` or `controller`).
    #[error("the key document `{key_id}` names no owner")]
    OwnerMissing {
        /// The key id.
        key_id: String,
    },
    /// The owner a key document names does not list the key: the key document cannot make
    /// itself an actor's key.
    #[error("`{owner}` does not list the key `{key_id}` that claims to be its key")]
    KeyNotListed {
        /// The key id.
        key_id: String,
        /// The owner named by the key document.
        owner: Iri,
    },
    /// A key in an actor document is owned by someone else, or its id is on another origin.
    #[error("the key `{key_id}` in the actor `{actor}` belongs to `{owner}` or to another origin")]
    WrongOwner {
        /// The key id.
        key_id: String,
        /// The actor whose document lists it.
        actor: Iri,
        /// The key's `owner` or `controller`.
        owner: Iri,
    },
    /// The key material cannot be read.
    #[error("the key `{key_id}` cannot be read")]
    UnparseableKey {
        /// The key id.
        key_id: String,
        /// What the key reader said.
        #[source]
        source: Arc<http_signatures::KeyError>,
    },
    /// A refresh for this origin was made less than [`KeyCacheConfig::refresh_cool_off`] ago.
    #[error("not refreshing `{key_id}`: {origin} was refreshed recently, retry in {retry_after:?}")]
    CoolingOff {
        /// The key id.
        key_id: String,
        /// Its origin.
        origin: String,
        /// When the cool-off ends.
        retry_after: Duration,
    },
    /// The lookup this call was waiting on (made by another caller for the same id) was
    /// cancelled before it finished.
    #[error("the shared lookup of `{id}` was cancelled")]
    Abandoned {
        /// The key or actor id.
        id: String,
    },
}

impl KeyError {
    /// The fetch error, if fetching failed (to tell a deleted actor, 410 Gone, from a network
    /// failure).
    pub fn fetch_error(&self) -> Option<&FetchError> {
        match self {
            KeyError::Fetch(error) => Some(error),
            _ => None,
        }
    }
}

impl From<FetchError> for KeyError {
    fn from(error: FetchError) -> KeyError {
        KeyError::Fetch(Arc::new(error))
    }
}

impl RemoteActor {
    /// What to keep of `actor`, fetched (or received) at `fetched_at`. Reads its keys (see
    /// [`RemoteActor::keys`]).
    ///
    /// # Errors
    ///
    /// [`KeyError::ActorIdMissing`] when it has no `id`.
    pub fn from_actor(actor: Actor, fetched_at: SystemTime) -> Result<RemoteActor, KeyError> {
        let id = actor.props.id.clone().ok_or(KeyError::ActorIdMissing)?;
        let keys = listed_keys(&actor)
            .filter_map(|listed| match listed.read(&id) {
                Ok(key) => Some(Arc::new(key)),
                Err(error) => {
                    tracing::debug!(actor = %id, %error, "skipping a key of the actor");
                    None
                }
            })
            .collect();
        Ok(RemoteActor {
            inbox: actor.inbox.clone(),
            shared_inbox: actor.shared_inbox().cloned(),
            preferred_username: actor.preferred_username.clone(),
            id,
            keys,
            actor,
            fetched_at,
        })
    }

    /// [`RemoteActor::from_actor`] for a document of any type.
    ///
    /// # Errors
    ///
    /// [`KeyError::NotAnActor`] when it is not an actor (`url` is where it came from, for the
    /// message), or as [`RemoteActor::from_actor`].
    pub fn from_object(
        object: AnyObject,
        url: &Url,
        fetched_at: SystemTime,
    ) -> Result<RemoteActor, KeyError> {
        match object {
            AnyObject::Actor(actor) => RemoteActor::from_actor(*actor, fetched_at),
            other => Err(KeyError::NotAnActor {
                url: url.clone(),
                type_name: other.type_name().to_owned(),
            }),
        }
    }

    /// The key `key_id` of this actor.
    ///
    /// # Errors
    ///
    /// Why the actor has no usable key of that id: [`KeyError::WrongOwner`],
    /// [`KeyError::UnparseableKey`], or [`KeyError::NoSuchKey`] (`url` is the actor's document,
    /// for the message).
    pub fn find_key(&self, key_id: &str, url: &Url) -> Result<Arc<RemoteKey>, KeyError> {
        if let Some(key) = self.keys.iter().find(|key| key.key_id == key_id) {
            return Ok(Arc::clone(key));
        }
        // Not among the readable keys: say why.
        match listed_keys(&self.actor).find(|listed| listed.id == key_id) {
            Some(listed) => listed.read(&self.id).map(Arc::new),
            None => Err(KeyError::NoSuchKey {
                key_id: key_id.to_owned(),
                url: url.clone(),
            }),
        }
    }

    /// Whether the actor lists `key_id` in `publicKey` or `assertionMethod`, as an object with
    /// that `id` or as a bare id (the shapes the typed fields do not hold are looked up in the
    /// raw members).
    pub fn lists_key(&self, key_id: &str) -> bool {
        self.actor.public_key_by_id(key_id).is_some()
            || self.actor.multikey_by_id(key_id).is_some()
            || ["publicKey", "assertionMethod"].iter().any(|member| {
                self.actor
                    .props
                    .extra
                    .get(*member)
                    .is_some_and(|value| raw_lists(value, key_id))
            })
    }

    /// The `user@host[:port]` handle, from `preferredUsername` and the id's host (see
    /// `activitypub_core::Actor::handle`).
    pub fn handle(&self) -> Option<String> {
        self.actor.handle()
    }
}

/// Remote actors and keys, fetched on demand and cached; see the [module documentation](self).
/// Cheap to clone: clones share the cache.
#[derive(Clone)]
pub struct KeyCache {
    inner: Arc<Inner>,
}

struct Inner {
    fetcher: Fetcher,
    config: KeyCacheConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    actors: HashMap<String, Arc<RemoteActor>>,
    /// Documents fetched as actors that were something else (a collection, a note), with
    /// their type and when: asked for again within the TTL, they are not fetched again.
    not_actors: HashMap<String, Cached<str>>,
    keys: HashMap<String, Cached<RemoteKey>>,
    actor_flights: Flights<RemoteActor>,
    key_flights: Flights<RemoteKey>,
    /// The start of the last refresh per origin.
    refreshed: HashMap<String, SystemTime>,
}

struct Cached<T: ?Sized> {
    value: Arc<T>,
    at: SystemTime,
}

/// The state of a lookup that callers may share.
enum Flight<T> {
    /// Under way.
    Running,
    /// Finished, with this outcome.
    Done(Result<Arc<T>, KeyError>),
}

/// The lookups in progress, by id: callers that find one wait for its outcome.
struct Flights<T> {
    map: HashMap<String, watch::Receiver<Flight<T>>>,
}

impl<T> Default for Flights<T> {
    fn default() -> Flights<T> {
        Flights {
            map: HashMap::new(),
        }
    }
}

enum Role<T> {
    Leader(watch::Sender<Flight<T>>),
    Follower(watch::Receiver<Flight<T>>),
}

impl<T> Flights<T> {
    fn join(&mut self, id: &str) -> Role<T> {
        match self.map.get(id) {
            Some(receiver) => Role::Follower(receiver.clone()),
            None => self.lead(id),
        }
    }

    fn lead(&mut self, id: &str) -> Role<T> {
        let (sender, receiver) = watch::channel(Flight::Running);
        self.map.insert(id.to_owned(), receiver);
        Role::Leader(sender)
    }
}

/// Ends a flight when the leader finishes or is cancelled: the entry goes, and the sender with
/// it, so that waiters see either the outcome or a closed channel.
struct FlightGuard<'a, T> {
    inner: &'a Inner,
    id: String,
    flights: fn(&mut State) -> &mut Flights<T>,
    sender: watch::Sender<Flight<T>>,
}

impl<T> FlightGuard<'_, T> {
    fn finish(self, outcome: &Result<Arc<T>, KeyError>) {
        // No receiver left is fine: nobody was waiting.
        let _ = self.sender.send(Flight::Done(outcome.clone()));
    }
}

impl<T> Drop for FlightGuard<'_, T> {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        (self.flights)(&mut state).map.remove(&self.id);
    }
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("KeyCache")
            .field("config", &self.inner.config)
            .field("actors", &state.actors.len())
            .field("keys", &state.keys.len())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache fetching with `fetcher`, on the system clock.
    pub fn new(fetcher: Fetcher, config: KeyCacheConfig) -> KeyCache {
        KeyCache::with_clock(fetcher, config, Arc::new(SystemClock::new()))
    }

    /// A cache fetching with `fetcher`, reading the time from `clock` (for the TTL, the
    /// cool-off and [`RemoteActor::fetched_at`]).
    pub fn with_clock(fetcher: Fetcher, config: KeyCacheConfig, clock: Arc<dyn Clock>) -> KeyCache {
        KeyCache {
            inner: Arc::new(Inner {
                fetcher,
                config,
                clock,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The fetcher.
    pub fn fetcher(&self) -> &Fetcher {
        &self.inner.fetcher
    }

    /// The settings.
    pub fn config(&self) -> &KeyCacheConfig {
        &self.inner.config
    }

    /// The actor `id`: from the cache if fetched less than [`KeyCacheConfig::ttl`] ago, else
    /// fetched (one fetch for concurrent callers) and cached under its `id`.
    ///
    /// # Errors
    ///
    /// [`KeyError::Fetch`], or [`KeyError::NotAnActor`].
    pub async fn actor(
        &self,
        id: &Url,
        budget: &mut FetchBudget,
    ) -> Result<Arc<RemoteActor>, KeyError> {
        let url = without_fragment(id);
        let now = self.inner.clock.now();
        let role = {
            let mut state = self.inner.lock();
            if let Some(actor) = state.fresh_actor(url.as_str(), now, self.inner.config.ttl) {
                return Ok(actor);
            }
            if let Some(type_name) = state.known_not_actor(url.as_str(), now, self.inner.config.ttl)
            {
                return Err(KeyError::NotAnActor {
                    url,
                    type_name: type_name.to_string(),
                });
            }
            state.actor_flights.join(url.as_str())
        };
        match role {
            Role::Follower(receiver) => wait(receiver, url.as_str()).await,
            Role::Leader(sender) => {
                let guard = FlightGuard {
                    inner: &self.inner,
                    id: url.as_str().to_owned(),
                    flights: actor_flights,
                    sender,
                };
                let outcome = self.fetch_actor(&url, budget).await;
                guard.finish(&outcome);
                outcome
            }
        }
    }

    /// The key `key_id`: from the cache if fetched less than [`KeyCacheConfig::ttl`] ago, else
    /// resolved as the [module documentation](self) describes (one resolution for concurrent
    /// callers) and cached.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] naming what failed.
    pub async fn key(
        &self,
        key_id: &str,
        budget: &mut FetchBudget,
    ) -> Result<Arc<RemoteKey>, KeyError> {
        let now = self.inner.clock.now();
        let role = {
            let mut state = self.inner.lock();
            if let Some(key) = state.fresh_key(key_id, now, self.inner.config.ttl) {
                return Ok(key);
            }
            state.key_flights.join(key_id)
        };
        self.run_key_flight(role, key_id, false, budget).await
    }

    /// Fetches the key `key_id` again, ignoring the cache, after a signature failed to verify
    /// with the cached key (the peer may have rotated it). Concurrent refreshes (and lookups)
    /// of one key id share one fetch. After a refresh for an origin, refreshes of keys on that
    /// origin are refused for [`KeyCacheConfig::refresh_cool_off`] (joining a fetch already
    /// under way is not refused).
    ///
    /// Call it once per failed verification, not in a loop. A key id the refetch finds `Gone`
    /// is dropped from the cache with its owner.
    ///
    /// # Errors
    ///
    /// [`KeyError::CoolingOff`] without fetching, or as [`KeyCache::key`].
    pub async fn refresh(
        &self,
        key_id: &str,
        budget: &mut FetchBudget,
    ) -> Result<Arc<RemoteKey>, KeyError> {
        let url = key_url(key_id)?;
        let origin = url.origin().ascii_serialization();
        let now = self.inner.clock.now();
        let cool_off = self.inner.config.refresh_cool_off;
        let role = {
            let mut state = self.inner.lock();
            match state.key_flights.map.get(key_id) {
                Some(receiver) => Role::Follower(receiver.clone()),
                None => {
                    if let Some(last) = state.refreshed.get(&origin) {
                        let until = later(*last, cool_off);
                        if now < until {
                            return Err(KeyError::CoolingOff {
                                key_id: key_id.to_owned(),
                                origin,
                                retry_after: until.duration_since(now).unwrap_or_default(),
                            });
                        }
                    }
                    if state.refreshed.len() >= self.inner.config.max_entries {
                        state
                            .refreshed
                            .retain(|_, last| now < later(*last, cool_off));
                    }
                    state.refreshed.insert(origin, now);
                    state.key_flights.lead(key_id)
                }
            }
        };
        self.run_key_flight(role, key_id, true, budget).await
    }

    /// Forgets the actor `actor_id` and every key it owns: call it when the actor sends a
    /// `Delete`, or an `Update` that is not given to [`KeyCache::insert_actor`].
    pub fn invalidate(&self, actor_id: &str) {
        self.inner.lock().invalidate(actor_id);
    }

    /// Caches an actor document received otherwise than by fetching it, such as the object of
    /// an `Update` whose signature was verified with a key of that same actor. Its keys replace
    /// the cached keys it owns (as they do whenever an actor is fetched).
    ///
    /// Only insert an actor its own server vouched for: the cache believes the keys it lists.
    ///
    /// # Errors
    ///
    /// [`KeyError::ActorIdMissing`].
    pub fn insert_actor(&self, actor: Actor) -> Result<Arc<RemoteActor>, KeyError> {
        let actor = Arc::new(RemoteActor::from_actor(actor, self.inner.clock.now())?);
        self.inner.lock().insert_actor(
            Arc::clone(&actor),
            self.inner.config.max_entries,
            self.inner.config.ttl,
        );
        Ok(actor)
    }

    /// The cached actor `id`, if fetched less than [`KeyCacheConfig::ttl`] ago. Never fetches.
    pub fn cached_actor(&self, id: &str) -> Option<Arc<RemoteActor>> {
        let now = self.inner.clock.now();
        self.inner
            .lock()
            .fresh_actor(id, now, self.inner.config.ttl)
    }

    /// The cached key `key_id`, if fetched less than [`KeyCacheConfig::ttl`] ago. Never
    /// fetches.
    pub fn cached_key(&self, key_id: &str) -> Option<Arc<RemoteKey>> {
        let now = self.inner.clock.now();
        self.inner
            .lock()
            .fresh_key(key_id, now, self.inner.config.ttl)
    }

    async fn run_key_flight(
        &self,
        role: Role<RemoteKey>,
        key_id: &str,
        refresh: bool,
        budget: &mut FetchBudget,
    ) -> Result<Arc<RemoteKey>, KeyError> {
        match role {
            Role::Follower(receiver) => wait(receiver, key_id).await,
            Role::Leader(sender) => {
                let guard = FlightGuard {
                    inner: &self.inner,
                    id: key_id.to_owned(),
                    flights: key_flights,
                    sender,
                };
                let outcome = self.resolve_key(key_id, refresh, budget).await;
                if refresh
                    && let Err(KeyError::Fetch(error)) = &outcome
                    && let FetchError::Gone { url } = &**error
                {
                    let mut state = self.inner.lock();
                    state.keys.remove(key_id);
                    state.invalidate(url.as_str());
                }
                guard.finish(&outcome);
                outcome
            }
        }
    }

    async fn fetch_actor(
        &self,
        url: &Url,
        budget: &mut FetchBudget,
    ) -> Result<Arc<RemoteActor>, KeyError> {
        let fetched = self.inner.fetcher.fetch(url, budget).await?;
        let (object, _bytes) = fetched.document.into_parts();
        let now = self.inner.clock.now();
        let actor = match RemoteActor::from_object(object, &fetched.url, now) {
            Ok(actor) => Arc::new(actor),
            Err(error) => {
                if let KeyError::NotAnActor { type_name, .. } = &error {
                    self.inner.lock().insert_not_actor(
                        url.as_str(),
                        type_name,
                        now,
                        self.inner.config.max_entries,
                        self.inner.config.ttl,
                    );
                }
                return Err(error);
            }
        };
        self.inner.lock().insert_actor(
            Arc::clone(&actor),
            self.inner.config.max_entries,
            self.inner.config.ttl,
        );
        Ok(actor)
    }

    async fn resolve_key(
        &self,
        key_id: &str,
        refresh: bool,
        budget: &mut FetchBudget,
    ) -> Result<Arc<RemoteKey>, KeyError> {
        let url = key_url(key_id)?;
        let fetched = self.inner.fetcher.fetch(&url, budget).await?;
        let document_url = fetched.url.clone();
        let (object, _bytes) = fetched.document.into_parts();
        if let AnyObject::Actor(actor) = object {
            let actor = Arc::new(RemoteActor::from_actor(*actor, self.inner.clock.now())?);
            self.inner.lock().insert_actor(
                Arc::clone(&actor),
                self.inner.config.max_entries,
                self.inner.config.ttl,
            );
            return actor.find_key(key_id, &document_url);
        }

        // A standalone key document: it must be the key itself, and its owner must list it.
        if object.id().is_none_or(|id| id != key_id) {
            return Err(KeyError::NoSuchKey {
                key_id: key_id.to_owned(),
                url: document_url,
            });
        }
        let Some(listed) = standalone_key(&object) else {
            return Err(KeyError::NoSuchKey {
                key_id: key_id.to_owned(),
                url: document_url,
            });
        };
        let owner = listed.owner.clone().ok_or_else(|| KeyError::OwnerMissing {
            key_id: key_id.to_owned(),
        })?;
        let key = listed.read(&owner)?;
        let owner_url = Url::parse(owner.as_str()).map_err(|_| KeyError::NotAUrl {
            iri: owner.as_str().to_owned(),
        })?;
        // A refresh fetches the owner again too; so does a cached owner that does not list
        // the key, since it may predate it.
        let actor = match self.cached_actor(owner_url.as_str()) {
            Some(actor) if !refresh && actor.lists_key(key_id) => actor,
            None if !refresh => self.actor(&owner_url, budget).await?,
            _ => self.fetch_actor(&owner_url, budget).await?,
        };
        if !actor.lists_key(key_id) || actor.id != owner {
            return Err(KeyError::KeyNotListed {
                key_id: key_id.to_owned(),
                owner,
            });
        }
        let key = Arc::new(key);
        self.inner.lock().insert_key(
            Arc::clone(&key),
            self.inner.clock.now(),
            self.inner.config.max_entries,
            self.inner.config.ttl,
        );
        Ok(key)
    }
}

fn actor_flights(state: &mut State) -> &mut Flights<RemoteActor> {
    &mut state.actor_flights
}

fn key_flights(state: &mut State) -> &mut Flights<RemoteKey> {
    &mut state.key_flights
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements: a panic elsewhere cannot leave it
        // half-updated, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn known_not_actor(&self, id: &str, now: SystemTime, ttl: Duration) -> Option<Arc<str>> {
        self.not_actors
            .get(id)
            .filter(|entry| fresh(entry.at, now, ttl))
            .map(|entry| Arc::clone(&entry.value))
    }

    /// Remembers that `id` is a document of `type_name`, not an actor, keeping at most `max`
    /// such entries (stale ones go first, then the oldest).
    fn insert_not_actor(
        &mut self,
        id: &str,
        type_name: &str,
        now: SystemTime,
        max: usize,
        ttl: Duration,
    ) {
        insert_bounded(
            &mut self.not_actors,
            id.to_owned(),
            Arc::from(type_name),
            now,
            (max, ttl),
        );
    }

    fn fresh_actor(&self, id: &str, now: SystemTime, ttl: Duration) -> Option<Arc<RemoteActor>> {
        self.actors
            .get(id)
            .filter(|actor| fresh(actor.fetched_at, now, ttl))
            .cloned()
    }

    fn fresh_key(&self, key_id: &str, now: SystemTime, ttl: Duration) -> Option<Arc<RemoteKey>> {
        self.keys
            .get(key_id)
            .filter(|key| fresh(key.at, now, ttl))
            .map(|key| Arc::clone(&key.value))
    }

    fn invalidate(&mut self, actor_id: &str) {
        self.actors.remove(actor_id);
        self.keys.retain(|_, key| key.value.owner != actor_id);
    }

    /// Caches `actor` and its keys, in place of what was cached of it: a key the new document
    /// no longer lists (rotated away, perhaps compromised) must not verify anything.
    fn insert_actor(&mut self, actor: Arc<RemoteActor>, max: usize, ttl: Duration) {
        let now = actor.fetched_at;
        self.invalidate(actor.id.as_str());
        self.not_actors.remove(actor.id.as_str());
        for key in &actor.keys {
            self.insert_key(Arc::clone(key), now, max, ttl);
        }
        let id = actor.id.as_str().to_owned();
        if !self.actors.contains_key(&id) && self.actors.len() >= max {
            self.actors
                .retain(|_, actor| fresh(actor.fetched_at, now, ttl));
            if self.actors.len() >= max
                && let Some(oldest) = self
                    .actors
                    .iter()
                    .min_by_key(|(_, actor)| actor.fetched_at)
                    .map(|(id, _)| id.clone())
            {
                self.actors.remove(&oldest);
            }
        }
        if max > 0 {
            self.actors.insert(id, actor);
        }
    }

    fn insert_key(&mut self, key: Arc<RemoteKey>, now: SystemTime, max: usize, ttl: Duration) {
        let id = key.key_id.as_str().to_owned();
        insert_bounded(&mut self.keys, id, key, now, (max, ttl));
    }
}

/// Caches `value` under `id` in `map`, which holds at most `max` entries: when it is full, the
/// entries older than `ttl` go first, then the oldest.
fn insert_bounded<T: ?Sized>(
    map: &mut HashMap<String, Cached<T>>,
    id: String,
    value: Arc<T>,
    now: SystemTime,
    (max, ttl): (usize, Duration),
) {
    if !map.contains_key(&id) && map.len() >= max {
        map.retain(|_, entry| fresh(entry.at, now, ttl));
        if map.len() >= max
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, entry)| entry.at)
                .map(|(id, _)| id.clone())
        {
            map.remove(&oldest);
        }
    }
    if max > 0 {
        map.insert(id, Cached { value, at: now });
    }
}

/// A key as an actor or a key document lists it, before its material is read.
struct ListedKey<'a> {
    id: &'a Iri,
    owner: &'a Iri,
    material: Material<'a>,
}

enum Material<'a> {
    Pem(&'a str),
    Multibase(&'a str),
}

impl ListedKey<'_> {
    /// Reads the key, checking that it belongs to `actor` and to its origin.
    fn read(&self, actor: &Iri) -> Result<RemoteKey, KeyError> {
        let owner = self.owner;
        if owner != actor || !same_origin(self.id, actor) {
            return Err(KeyError::WrongOwner {
                key_id: self.id.as_str().to_owned(),
                actor: actor.clone(),
                owner: owner.clone(),
            });
        }
        let key = match self.material {
            Material::Pem(pem) => VerifyingKey::from_pem(pem),
            Material::Multibase(value) => VerifyingKey::from_multikey(value),
        }
        .map_err(|source| KeyError::UnparseableKey {
            key_id: self.id.as_str().to_owned(),
            source: Arc::new(source),
        })?;
        Ok(RemoteKey {
            key_id: self.id.clone(),
            owner: owner.clone(),
            key,
        })
    }
}

/// The keys an actor lists with their material: `publicKey` and `assertionMethod`.
fn listed_keys(actor: &Actor) -> impl Iterator<Item = ListedKey<'_>> {
    let pems = actor
        .public_key
        .iter()
        .flat_map(|keys| keys.iter())
        .map(|key| ListedKey {
            id: &key.id,
            owner: &key.owner,
            material: Material::Pem(&key.public_key_pem),
        });
    let multikeys = actor
        .assertion_method
        .iter()
        .flat_map(|keys| keys.iter())
        .map(|key| ListedKey {
            id: &key.id,
            owner: &key.controller,
            material: Material::Multibase(&key.public_key_multibase),
        });
    pems.chain(multikeys)
}

/// A standalone key document (`CryptographicKey`, `Key` or `Multikey`), read from the members
/// kept raw: key documents are not a type the vocabulary models.
fn standalone_key(object: &AnyObject) -> Option<StandaloneKey> {
    let props = object.props();
    let id = props.id.clone()?;
    let text = |name: &str| props.extra.get(name).and_then(Value::as_str);
    let iri = |name: &str| text(name).and_then(|value| Iri::parse(value).ok());
    if let Some(pem) = text("publicKeyPem") {
        return Some(StandaloneKey {
            id,
            owner: iri("owner"),
            material: OwnedMaterial::Pem(pem.to_owned()),
        });
    }
    let multibase = text("publicKeyMultibase")?;
    Some(StandaloneKey {
        id,
        owner: iri("controller"),
        material: OwnedMaterial::Multibase(multibase.to_owned()),
    })
}

struct StandaloneKey {
    id: Iri,
    owner: Option<Iri>,
    material: OwnedMaterial,
}

enum OwnedMaterial {
    Pem(String),
    Multibase(String),
}

impl StandaloneKey {
    fn read(&self, owner: &Iri) -> Result<RemoteKey, KeyError> {
        let key = match &self.material {
            OwnedMaterial::Pem(pem) => VerifyingKey::from_pem(pem),
            OwnedMaterial::Multibase(value) => VerifyingKey::from_multikey(value),
        }
        .map_err(|source| KeyError::UnparseableKey {
            key_id: self.id.as_str().to_owned(),
            source: Arc::new(source),
        })?;
        Ok(RemoteKey {
            key_id: self.id.clone(),
            owner: owner.clone(),
            key,
        })
    }
}

/// Whether a raw `publicKey` or `assertionMethod` value lists `key_id`: as a string, an object
/// with that `id`, or an array holding either.
fn raw_lists(value: &Value, key_id: &str) -> bool {
    match value {
        Value::String(id) => id == key_id,
        Value::Object(members) => members.get("id").and_then(Value::as_str) == Some(key_id),
        Value::Array(values) => values.iter().any(|value| match value {
            Value::Array(_) => false,
            other => raw_lists(other, key_id),
        }),
        _ => false,
    }
}

fn same_origin(a: &Iri, b: &Iri) -> bool {
    matches!((Origin::of(a), Origin::of(b)), (Some(a), Some(b)) if a == b)
}

/// The URL to fetch for a key id: the id without its fragment, if it is an http(s) URL.
fn key_url(key_id: &str) -> Result<Url, KeyError> {
    match Url::parse(key_id) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(without_fragment(&url)),
        _ => Err(KeyError::NotAUrl {
            iri: key_id.to_owned(),
        }),
    }
}

/// `time + by`, or about a century after `time` when that cannot be represented.
fn later(time: SystemTime, by: Duration) -> SystemTime {
    time.checked_add(by)
        .or_else(|| time.checked_add(Duration::from_secs(100 * 365 * 24 * 60 * 60)))
        .unwrap_or(time)
}

fn fresh(at: SystemTime, now: SystemTime, ttl: Duration) -> bool {
    now.duration_since(at).unwrap_or_default() < ttl
}

async fn wait<T>(mut receiver: watch::Receiver<Flight<T>>, id: &str) -> Result<Arc<T>, KeyError> {
    match receiver
        .wait_for(|flight| matches!(flight, Flight::Done(_)))
        .await
    {
        Ok(flight) => match &*flight {
            Flight::Done(outcome) => outcome.clone(),
            Flight::Running => Err(KeyError::Abandoned { id: id.to_owned() }),
        },
        Err(_closed) => Err(KeyError::Abandoned { id: id.to_owned() }),
    }
}
