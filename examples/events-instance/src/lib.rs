//! The events instance: a minimal Mobilizon-like server built on the toolkit.
//!
//! Identities (Person actors) with bearer tokens, groups (Group actors with administrators,
//! moderators and members), events in Mobilizon's shape, participation (Join, Accept or Reject,
//! Leave, with capacity), comments with replies, Update and Delete, and an instance actor that
//! follows other instances and announces public events. Storage is SQLite (a file) or
//! PostgreSQL; deliveries go through `federation-queue` on the same database.
//!
//! [`start`] runs one instance (the `serve` command, the demo and the tests all use it);
//! [`admin`] holds the administration commands.

mod activities;
pub mod admin;
mod app;
mod backfill;
mod db;
pub mod demo;
mod groups;
mod html;
mod ics;
mod pages;
mod upgrade;
mod web;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use federation::fetch::{FetchConfig, Fetcher};
use federation::inbox::{DomainPolicy, Inbox, InboxConfig};
use federation::keys::{KeyCache, KeyCacheConfig};
use federation::outbox::Outbox;
use federation::routes::{RoutesConfig, Server, router};
use federation::serve::ServeConfig;
use federation_queue::{
    KeyProvider, PostgresStore, Queue, QueueConfig, ReqwestTransport, RetryPolicy, SqliteStore,
    Store, TransportConfig,
};
use http_signatures::{PeerPreference, Standard};
use instance_state::InstanceState;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;
use url::Url;

pub use app::{INSTANCE_ACTOR, Instance};
pub use instance_web::SignupMode;

use crate::app::{ErasedQueue, InstanceStore, Settings};
use crate::db::{Db, Signing};

/// How to run an instance.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The public base URL. `None`: `http://` + the listening address (needs
    /// `danger_allow_private_addresses`, for tests and the demo).
    pub base_url: Option<Url>,
    /// Where to listen (port 0: one the OS picks).
    pub listen: SocketAddr,
    /// A SQLite file path, or a `postgres://` URL.
    pub database: String,
    /// The instance's name, shown on its pages.
    pub name: String,
    /// **Dangerous**: allow plain http and private, loopback and link-local addresses, for
    /// federating over loopback in tests.
    pub danger_allow_private_addresses: bool,
    /// The signature standard tried first with a peer whose preference is unknown.
    pub first_knock: Standard,
    /// Sign deliveries with the Ed25519 keys rather than the RSA ones.
    pub sign_with_ed25519: bool,
    /// Require signed GETs for ActivityPub documents.
    pub authorized_fetch: bool,
    /// Domains refused.
    pub blocked_domains: Vec<String>,
    /// Retry quickly (a first retry after a fraction of a second): for tests and the demo.
    pub quick_retries: bool,
    /// Who may make an account in the browser: anyone (`Open`), anyone a moderator approves
    /// (`Approval`, the default), or nobody (`Closed`: the host makes the accounts).
    pub signup: SignupMode,
    /// The time zone new events start in, in the event form (an IANA name).
    pub default_time_zone: String,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the sign-in limits (none: each
    /// request counts as coming from the address it came from).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long the delivery queue's worker holds a delivery it claimed (its lease): a
    /// process killed mid-delivery leaves its claims to the other processes on the same
    /// database for this long. Each delivery request is cut off after half of it (60 seconds
    /// at most), so that a live worker never outlasts its lease. Default: 5 minutes; at
    /// least [`MIN_DELIVERY_LEASE`].
    pub delivery_lease: Duration,
}

/// The shortest delivery lease [`start`] accepts.
pub const MIN_DELIVERY_LEASE: Duration = Duration::from_secs(2);

impl Options {
    /// Options for `database`, listening on `listen`, with the defaults: no base URL (derived
    /// from the address), RFC 9421 first, RSA signatures, no authorized fetch.
    pub fn new(listen: SocketAddr, database: impl Into<String>) -> Self {
        Self {
            base_url: None,
            listen,
            database: database.into(),
            name: "Events".to_owned(),
            danger_allow_private_addresses: false,
            first_knock: Standard::Rfc9421,
            sign_with_ed25519: false,
            authorized_fetch: false,
            blocked_domains: Vec::new(),
            quick_retries: false,
            signup: SignupMode::Approval,
            default_time_zone: "UTC".to_owned(),
            trusted_proxies: Vec::new(),
            delivery_lease: Duration::from_secs(5 * 60),
        }
    }

    /// Sets [`Options::delivery_lease`].
    pub fn with_delivery_lease(mut self, lease: Duration) -> Self {
        self.delivery_lease = lease;
        self
    }

    /// Sets who may make an account in the browser.
    pub fn with_signup(mut self, signup: SignupMode) -> Self {
        self.signup = signup;
        self
    }

    /// Sets the reverse proxies whose `X-Forwarded-For` is believed.
    pub fn with_trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Sets the time zone new events start in (an IANA name).
    pub fn with_default_time_zone(mut self, zone: impl Into<String>) -> Self {
        self.default_time_zone = zone.into();
        self
    }

    /// Sets the base URL.
    pub fn with_base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// Sets the dangerous loopback switch.
    pub fn with_danger_allow_private_addresses(mut self, allow: bool) -> Self {
        self.danger_allow_private_addresses = allow;
        self
    }

    /// Sets the first knock.
    pub fn with_first_knock(mut self, standard: Standard) -> Self {
        self.first_knock = standard;
        self
    }

    /// Sets the instance name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Blocks `domains`.
    pub fn with_blocked_domains(mut self, domains: Vec<String>) -> Self {
        self.blocked_domains = domains;
        self
    }

    /// Sets quick retries.
    pub fn with_quick_retries(mut self, quick: bool) -> Self {
        self.quick_retries = quick;
        self
    }

    /// Sets authorized fetch.
    pub fn with_authorized_fetch(mut self, on: bool) -> Self {
        self.authorized_fetch = on;
        self
    }

    /// Signs with Ed25519 keys.
    pub fn with_ed25519_signatures(mut self, on: bool) -> Self {
        self.sign_with_ed25519 = on;
        self
    }
}

/// A running instance.
#[derive(Debug)]
pub struct Running {
    /// Its base URL.
    pub base_url: Url,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state.
    pub instance: Instance,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<()>>>,
}

impl Running {
    /// Stops serving, drains the queue's requests in flight, and waits for both.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        for task in self.tasks {
            task.await.context("a task panicked")??;
        }
        Ok(())
    }

    /// Waits until the server or the queue stops (an error, or [`Running::stop`] elsewhere).
    pub async fn wait(self) -> Result<()> {
        for task in self.tasks {
            task.await.context("a task panicked")??;
        }
        Ok(())
    }

    /// Asks the instance to stop (see [`Running::wait`]).
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// The settings key of the peers' signature preferences.
const PEER_PREFERENCES: &str = "peer_preferences";

fn is_postgres(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// The path of the queue's SQLite file next to the instance's.
fn queue_path(database: &str) -> String {
    format!("{database}.queue")
}

/// Starts an instance.
pub async fn start(options: Options) -> Result<Running> {
    check_name(&options.name)?;
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let addr = listener.local_addr()?;
    let base_url = match &options.base_url {
        Some(url) => url.clone(),
        None if options.danger_allow_private_addresses => Url::parse(&format!("http://{addr}"))?,
        None => bail!("a base URL is required (or the danger switch, for loopback tests)"),
    };
    if base_url.scheme() != "https" && !options.danger_allow_private_addresses {
        bail!(
            "plain http base URLs are only for loopback tests (--danger-allow-private-addresses)"
        );
    }
    if is_postgres(&options.database) {
        let store = PostgresStore::connect(&options.database)
            .await
            .context("opening the delivery queue on PostgreSQL")?;
        start_with(options, listener, base_url, store).await
    } else {
        let store = SqliteStore::open(queue_path(&options.database))
            .await
            .context("opening the delivery queue")?;
        start_with(options, listener, base_url, store).await
    }
}

/// The parts of an instance, before it serves.
struct Assembled<S: Store> {
    instance: Instance,
    queue: Arc<Queue<S, ReqwestTransport, InstanceState>>,
    keys: KeyCache,
    fetcher: Fetcher,
    db: Db,
}

async fn assemble<S: Store>(options: &Options, base_url: &Url, store: S) -> Result<Assembled<S>> {
    let signing = Signing {
        first_knock: options.first_knock,
        ed25519: options.sign_with_ed25519,
    };
    let db = Db::open(&options.database, Some(base_url), signing).await?;
    db.set_setting("base_url", base_url.as_str()).await?;
    if db.actor(INSTANCE_ACTOR).await?.is_none() {
        db.create_actor(INSTANCE_ACTOR, "Application", &options.name, None)
            .await?;
    }
    let settings = Settings {
        base_url: base_url.clone(),
        name: options.name.clone(),
    };
    let local_keys = db.state().clone();
    let danger = options.danger_allow_private_addresses;
    // Signed fetches are signed by the instance actor, with the standard Mastodon's
    // authorized fetch expects.
    let fetch_signer = KeyProvider::signer(&local_keys, INSTANCE_ACTOR)
        .await
        .context("the instance actor has no key")?;
    let fetch_signer = (*fetch_signer).clone().with_standard(Standard::Cavage);
    let fetcher = Fetcher::new(
        FetchConfig::default()
            .with_signer(fetch_signer)
            .with_danger_allow_http(danger)
            .with_danger_allow_private_addresses(danger),
    )?;
    let keys = KeyCache::new(fetcher.clone(), KeyCacheConfig::default());
    if options.delivery_lease < MIN_DELIVERY_LEASE {
        bail!(
            "the delivery lease ({:?}) must be at least {MIN_DELIVERY_LEASE:?}",
            options.delivery_lease
        );
    }
    // A request ends well within its claim's lease (the queue refuses to run otherwise).
    let request = (options.delivery_lease / 2).min(Duration::from_secs(60));
    let transport = ReqwestTransport::new(
        TransportConfig::new()
            .with_timeouts(
                request.min(Duration::from_secs(10)),
                request.min(Duration::from_secs(30)),
                request,
            )
            .with_danger_allow_http(danger)
            .with_danger_allow_private_addresses(danger),
    )?;
    let mut config = QueueConfig::new()
        .with_poll_interval(Duration::from_millis(200))
        .with_lease(options.delivery_lease);
    if options.quick_retries {
        config = config.with_retry(
            RetryPolicy::new().with_delays(Duration::from_millis(200), Duration::from_secs(2)),
        );
    }
    let queue = Arc::new(Queue::with_config(store, transport, local_keys, config));
    let outbox = Outbox::new(
        ErasedQueue::new(queue.clone()),
        keys.clone(),
        vec![base_url.clone()],
    );
    let instance = Instance::new(db.clone(), settings, keys.clone(), fetcher.clone(), outbox);
    Ok(Assembled {
        instance,
        queue,
        keys,
        fetcher,
        db,
    })
}

/// Refuses an instance name that the NodeInfo document could not carry (NodeInfo 2.2 allows one
/// line of at most 500 characters): found at start, not as a `500` on `/nodeinfo` later.
fn check_name(name: &str) -> Result<()> {
    nodeinfo::NodeInfoBuilder::new(
        nodeinfo::Version::V2_2,
        "events-instance",
        env!("CARGO_PKG_VERSION"),
    )
    .protocol(nodeinfo::Protocol::ACTIVITYPUB)
    .instance_name(name)
    .build()
    .map(drop)
    .with_context(|| format!("the instance name {name:?} cannot be used"))
}

/// Opens an instance's database and queue without serving (for the administration commands).
pub(crate) async fn open_instance(options: &Options, base_url: &Url) -> Result<Instance> {
    check_name(&options.name)?;
    if is_postgres(&options.database) {
        let store = PostgresStore::connect(&options.database).await?;
        Ok(assemble(options, base_url, store).await?.instance)
    } else {
        let store = SqliteStore::open(queue_path(&options.database)).await?;
        Ok(assemble(options, base_url, store).await?.instance)
    }
}

async fn start_with<S: Store>(
    options: Options,
    listener: TcpListener,
    base_url: Url,
    store: S,
) -> Result<Running> {
    let addr = listener.local_addr()?;
    let Assembled {
        instance,
        queue,
        keys,
        fetcher,
        db,
    } = assemble(&options, &base_url, store).await?;
    let inbox_config = InboxConfig::new(&base_url)
        .with_domains(DomainPolicy::block(options.blocked_domains.clone()));
    let inbox = Inbox::new(
        inbox_config,
        keys,
        fetcher,
        InstanceStore(db.clone()),
        activities::dispatcher(),
        instance.clone(),
    );
    let server = Arc::new(Server {
        config: RoutesConfig::new(base_url.clone())
            .with_instance_actor(INSTANCE_ACTOR)
            .with_authorized_fetch(options.authorized_fetch)
            // Who signed a GET decides what it is shown (web.rs).
            .with_identify_signed_fetches(true),
        app: instance.clone(),
        inbox,
    });
    // People's pages (and the accounts'), then the calendars, then the federation routes,
    // around which a browser asking for an event's or a group's address gets its page.
    let web = instance_web::Web::new(
        db.state().clone(),
        instance_web::WebConfig::new(base_url.clone())
            .with_signup(options.signup)
            // On PostgreSQL several processes may serve one instance: they limit together.
            .with_shared_limits(is_postgres(&options.database))
            .with_trusted_proxies(options.trusted_proxies.clone()),
        Arc::new(instance.layout()),
    );
    let pages = pages::Pages::new(
        instance.clone(),
        web,
        &options.default_time_zone,
        options.danger_allow_private_addresses,
    )?;
    let routes = pages::router(pages.clone())
        .merge(web::calendars(instance.clone()).merge(router(server).layer(
            axum::middleware::from_fn_with_state(pages, pages::html_pages),
        )))
        .layer(axum::middleware::from_fn(instance_web::security_headers));
    let (stop, stopped) = watch::channel(false);
    let serve = {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            // Time limits for slow clients and a bound on connections.
            federation::serve::serve(listener, routes, ServeConfig::default(), async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
            Ok(())
        })
    };
    // What each peer accepted (double-knocking) survives restarts.
    if let Some(saved) = db.setting(PEER_PREFERENCES).await? {
        let saved: BTreeMap<String, PeerPreference> =
            serde_json::from_str(&saved).unwrap_or_default();
        for (host, preference) in saved {
            queue.set_peer_preference(host, preference);
        }
    }
    let work = {
        let mut stopped = stopped.clone();
        let queue = queue.clone();
        let db = db.clone();
        tokio::spawn(async move {
            let outcome = queue
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
                .context("the delivery queue failed");
            let preferences = serde_json::to_string(&queue.peer_preferences())?;
            db.set_setting(PEER_PREFERENCES, &preferences).await?;
            outcome
        })
    };
    info!(%base_url, %addr, "events instance started");
    Ok(Running {
        base_url,
        addr,
        instance,
        stop,
        tasks: vec![serve, work],
    })
}
