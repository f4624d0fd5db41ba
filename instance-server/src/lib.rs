//! Runs an instance built on `instance-state`.
//!
//! Every reference instance, and any app built like them, needs the same machinery around its
//! own pages and handlers: the delivery queue on the instance's database (SQLite beside the
//! file, or the same PostgreSQL), the guarded fetcher signing as the instance actor, the key
//! cache, the outbox, the inbox's configuration, the cookie-session web side, the server with
//! `federation::serve`'s limits, the peers' signature preferences kept across restarts, and a
//! graceful stop. This crate is that machinery; an instance implements [`Application`] (open
//! its database, build its state from the [`Parts`], give its routes) and calls [`start`].
//!
//! With the `cli` feature, [`cli`] has the `serve` arguments every instance binary shares, the
//! logging set-up and the signal handling.
//!
//! **Serving runtimes.** With [`Options::workers`] at `0`, requests are served on the runtime
//! that called [`start`]. With `N`, on `N` single-threaded tokio runtimes, each on a thread of
//! its own with its own socket bound to the listening address with `SO_REUSEPORT`: the kernel
//! spreads connections over them, and a request stays on one thread from accept to answer (no
//! wake-up of another worker between reading the request and writing the file). What is made
//! at start stays on the calling runtime: the delivery queue's worker, the instance's
//! background tasks (`Application::build` runs there) and the database pool, which is shared:
//! SQLite connections run on sqlx's own threads, whatever runtime asks; a PostgreSQL connection
//! is a socket of the runtime that opened it, which may be a serving runtime, so those
//! runtimes live on, no longer serving, until the queue has stopped and [`Running::wait`]
//! returns. The connection bound counts the connections of all runtimes; [`Running::stop`]
//! stops every runtime's listener, lets each answer the requests under way, and returns once
//! all have. Tasks a handler spawns run on its serving runtime.
//!
//! **Connections** are wrapped by [`Application::connector`] (`federation::serve::Connector`):
//! plain TCP, or, for the video instance, media-store's `SendfileStream`, whose handle each
//! request carries so that file responses go out by `sendfile(2)`. The hook is federation's
//! trait so that neither federation nor this crate depends on the media store.
//!
//! **Static files** ([`Application::static_files`], [`StaticFiles`]): `GET` and `HEAD` of a
//! path prefix (`/static/`) answered by the instance's handler before its router and the
//! middleware around it, with the same security headers, so that each of the many ranges a
//! video player asks for costs little more than the file's own work.

pub mod admin;
#[cfg(feature = "cli")]
pub mod cli;
mod front;
pub mod moderation;
mod options;
mod queue;
mod site;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use federation::fetch::{FetchConfig, Fetcher};
use federation::inbox::{DomainPolicy, InboxConfig};
use federation::keys::{KeyCache, KeyCacheConfig};
use federation::outbox::Outbox;
use federation::routes::RoutesConfig;
use federation::serve::{Connector, PlainTcp, Server};
use federation_queue::{
    KeyProvider, PostgresStore, Queue, QueueConfig, ReqwestTransport, RetryPolicy, SqliteStore,
    Store, TransportConfig,
};
use http_signatures::{PeerPreference, Standard};
use instance_state::actors::{ActorKind, NewActor};
use instance_state::{InstanceState, KeyChoice};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;
use url::Url;

pub use front::StaticFiles;
pub use options::{MIN_DELIVERY_LEASE, Options};
pub use queue::ErasedQueue;
pub use site::Site;

/// The name of the instance actor (an `Application`), which signs fetches and follows other
/// instances.
pub const INSTANCE_ACTOR: &str = "instance";

/// The settings key of the peers' signature preferences.
const PEER_PREFERENCES: &str = "peer_preferences";

/// What an instance supplies to be run by [`start`].
pub trait Application: Send + Sync + 'static {
    /// The instance's own options, beside the server's ([`Options::app`]).
    type Options: Clone + std::fmt::Debug + Send + Sync + 'static;
    /// The instance's state, shared by its routes, its inbox handlers and its tests.
    type Instance: Clone + Send + Sync + 'static;

    /// The software's name, as NodeInfo gives it (`events-instance`).
    const SOFTWARE: &'static str;
    /// The software's version, as NodeInfo gives it.
    const VERSION: &'static str;

    /// Opens the database: `instance-state`, then the instance's own migrations (and upgrades
    /// of an older layout). `base_url` is the configured one, or `None` when the caller (an
    /// administration command) wants the one stored.
    /// [`state_options`] gives `instance-state`'s options for a base URL.
    fn open(
        options: &Options<Self::Options>,
        base_url: Option<&Url>,
    ) -> impl Future<Output = Result<InstanceState>> + Send;

    /// Builds the instance from the parts the server made.
    fn build(
        parts: Parts,
        options: &Options<Self::Options>,
    ) -> impl Future<Output = Result<Self::Instance>> + Send;

    /// The routes the instance serves: its pages, the account pages from [`Parts::web`], and
    /// `federation::routes::router` with an inbox configured from [`Parts::inbox_config`].
    fn routes(
        instance: &Self::Instance,
        parts: &Parts,
        options: &Options<Self::Options>,
    ) -> Result<axum::Router>;

    /// How the server wraps each accepted connection before hyper reads it
    /// (`federation::serve::Connector`): plain TCP unless the instance says otherwise. The
    /// video instance answers with media-store's `SendfileStream`, so that its files go out
    /// by `sendfile(2)`; an instance doing so must have no layer that reads or transforms
    /// response bodies (compression) on its file routes.
    fn connector(instance: &Self::Instance) -> impl Connector {
        let _ = instance;
        PlainTcp
    }

    /// The static files the instance answers before its routes and the middleware around
    /// them ([`StaticFiles`]): `GET` and `HEAD` of a path prefix, with the security headers
    /// added all the same. `None` (the default): every request goes through the routes. The
    /// routes should serve the same paths too (for the other methods, and for whoever serves
    /// the router alone).
    fn static_files(instance: &Self::Instance) -> Result<Option<StaticFiles>> {
        let _ = instance;
        Ok(None)
    }
}

/// What the server makes for an instance: the state, and the federation pieces around it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Parts {
    /// The public base URL.
    pub base_url: Url,
    /// The instance's name, shown on its pages and in NodeInfo.
    pub name: String,
    /// The social state, on the instance's database.
    pub state: InstanceState,
    /// The guarded fetcher, signing as the instance actor.
    pub fetcher: Fetcher,
    /// Remote actors and keys.
    pub keys: KeyCache,
    /// Where activities are published (onto the delivery queue).
    pub outbox: Outbox<ErasedQueue>,
    /// Whether the instance is built to serve ([`start`]) rather than for an administration
    /// command ([`open`]), which should not take what only one process may hold (a search
    /// index's writer, say) from a serving one.
    pub serving: bool,
    settings: Arc<Settings>,
}

/// The server options the parts' helpers read.
#[derive(Debug)]
struct Settings {
    blocked_domains: Vec<String>,
    authorized_fetch: bool,
    signup: instance_web::SignupMode,
    trusted_proxies: Vec<std::net::IpAddr>,
    shared_limits: bool,
    danger_allow_private_addresses: bool,
}

impl Parts {
    /// The inbox configuration: the base URL's host accepted, the blocked domains refused.
    pub fn inbox_config(&self) -> InboxConfig {
        InboxConfig::new(&self.base_url)
            .with_domains(DomainPolicy::block(self.settings.blocked_domains.clone()))
    }

    /// The routes' configuration: the instance actor, authorized fetch as configured, and the
    /// signer of a GET handed to the app (who asks decides what is shown).
    pub fn routes_config(&self) -> RoutesConfig {
        RoutesConfig::new(self.base_url.clone())
            .with_instance_actor(INSTANCE_ACTOR)
            .with_authorized_fetch(self.settings.authorized_fetch)
            .with_identify_signed_fetches(true)
    }

    /// The browser side's configuration: sign-up as configured, limits shared through the
    /// database on PostgreSQL (where several processes may serve one instance), the trusted
    /// proxies.
    pub fn web_config(&self) -> instance_web::WebConfig {
        instance_web::WebConfig::new(self.base_url.clone())
            .with_signup(self.settings.signup)
            .with_shared_limits(self.settings.shared_limits)
            .with_trusted_proxies(self.settings.trusted_proxies.clone())
    }

    /// The browser side, with `layout`.
    pub fn web(&self, layout: Arc<dyn instance_web::Layout>) -> instance_web::Web {
        instance_web::Web::new(self.state.clone(), self.web_config(), layout)
    }

    /// The federation routes (WebFinger, NodeInfo, actors, inboxes, collections, objects) over
    /// `app`, with an inbox configured from [`Parts::inbox_config`] on the state, handing what
    /// passes its checks to `dispatcher`, and the routes configured from
    /// [`Parts::routes_config`]: what an [`Application::routes`] merges its pages with.
    pub fn federation_router<A: federation::routes::App>(
        &self,
        app: A,
        dispatcher: federation::inbox::Dispatcher<A>,
    ) -> axum::Router {
        let inbox = federation::inbox::Inbox::new(
            self.inbox_config(),
            self.keys.clone(),
            self.fetcher.clone(),
            self.state.clone(),
            dispatcher,
            app.clone(),
        );
        federation::routes::router(Arc::new(federation::routes::Server {
            config: self.routes_config(),
            app,
            inbox,
        }))
    }

    /// Whether plain http and private addresses are allowed (loopback tests).
    pub fn danger_allow_private_addresses(&self) -> bool {
        self.settings.danger_allow_private_addresses
    }
}

/// What an instance built from [`Parts`] answers from them: implement [`WithParts::parts`]
/// (the instance keeps the `Parts` it was built from) and the rest comes with it, the same in
/// every instance.
pub trait WithParts {
    /// The parts the instance was built from.
    fn parts(&self) -> &Parts;

    /// The public base URL.
    fn base_url(&self) -> &Url {
        &self.parts().base_url
    }

    /// The instance's name.
    fn name(&self) -> &str {
        &self.parts().name
    }

    /// The social state.
    fn state(&self) -> &InstanceState {
        &self.parts().state
    }

    /// The cache of remote actors and keys.
    fn keys(&self) -> &KeyCache {
        &self.parts().keys
    }

    /// The guarded fetcher, signing as the instance actor.
    fn fetcher(&self) -> &Fetcher {
        &self.parts().fetcher
    }

    /// Where activities are published.
    fn outbox(&self) -> &Outbox<ErasedQueue> {
        &self.parts().outbox
    }

    /// `path` (absolute: `/videos/1`) on the base URL.
    fn url(&self, path: &str) -> Url {
        let mut url = self.parts().base_url.clone();
        url.set_path(path);
        url
    }

    /// The id of local actor `name`.
    fn actor_id(&self, name: &str) -> Url {
        self.state().actor_id(name)
    }

    /// The instance actor's id.
    fn instance_actor(&self) -> Url {
        self.actor_id(INSTANCE_ACTOR)
    }
}

/// A running instance.
#[derive(Debug)]
pub struct Running<I> {
    /// Its base URL.
    pub base_url: Url,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state.
    pub instance: I,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<()>>>,
    /// The serving runtimes' threads ([`Options::workers`]), kept until the rest has stopped.
    workers: Option<Workers>,
}

/// The threads of the serving runtimes. Each runtime, once it has stopped serving, lives on
/// until released: what was made on it (a PostgreSQL connection the pool opened while a
/// request ran there) stays usable until the queue and the instance are done with the
/// database.
#[derive(Debug)]
struct Workers {
    release: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Lets the runtimes end, and waits for their threads.
    async fn release(self) {
        let _ = self.release.send(true);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

impl<I> Running<I> {
    /// Stops serving, lets the queue's requests in flight finish, and waits for both.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the server or the queue stops (an error, or a stop asked through
    /// [`Running::shutdown_handle`]).
    pub async fn wait(self) -> Result<()> {
        for task in self.tasks {
            let outcome = task.await.context("a task panicked").and_then(|r| r);
            if outcome.is_err()
                && let Some(workers) = &self.workers
            {
                // Serving may still go on: let the runtimes end when it does, unwaited.
                let _ = workers.release.send(true);
            }
            outcome?;
        }
        if let Some(workers) = self.workers {
            workers.release().await;
        }
        Ok(())
    }

    /// Asks the instance to stop (see [`Running::wait`]).
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Whether `database` names a PostgreSQL database (else it is a SQLite file).
pub fn is_postgres(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// Where an instance keeps its files (uploads, images) for `database`: `configured` when
/// given, else beside a SQLite file (`{database}.media`), made if missing. With PostgreSQL there
/// is no file to put it beside, so it must be configured (the error says so, naming `what` the
/// files are).
pub fn files_dir(
    configured: Option<&std::path::Path>,
    database: &str,
    what: &str,
) -> Result<std::path::PathBuf> {
    let dir = match configured {
        Some(dir) => dir.to_owned(),
        None if is_postgres(database) => {
            bail!("with PostgreSQL, say where {what} are kept (--media-dir)")
        }
        None => std::path::PathBuf::from(format!("{database}.media")),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the directory of {what}, {}", dir.display()))?;
    Ok(dir)
}

/// The path of the queue's SQLite file next to the instance's.
fn queue_path(database: &str) -> String {
    format!("{database}.queue")
}

/// `instance-state`'s options for `base_url` with the signing choices of `options`.
pub fn state_options<X>(options: &Options<X>, base_url: Url) -> instance_state::Options {
    instance_state::Options::new(base_url)
        .with_first_knock(options.first_knock)
        .with_signing_key(if options.sign_with_ed25519 {
            KeyChoice::Ed25519
        } else {
            KeyChoice::Rsa
        })
}

/// The base URL recorded in `database` when an instance last served from it (`None`: it never
/// did), for administration commands that are not told it.
pub async fn stored_base_url<X>(options: &Options<X>) -> Result<Option<Url>> {
    // The base URL a state is opened with only makes ids; reading a setting needs none.
    let probe = Url::parse("http://stored-base-url.invalid/")?;
    let state = InstanceState::open(&options.database, state_options(options, probe))
        .await
        .with_context(|| format!("cannot open the database {}", options.database))?;
    let stored = state.setting("base_url").await;
    state.close().await;
    match stored? {
        Some(stored) => Ok(Some(
            Url::parse(&stored).context("the stored base URL is not a URL")?,
        )),
        None => Ok(None),
    }
}

/// Opens `options.database` for an application whose tables are made by `migrations`
/// (recorded in `migrations_table`): instance-state's tables, then the application's, with
/// `base_url`, or the one recorded when the instance last served (an error when it never did:
/// administration commands are then given `--base-url`).
pub async fn open_state<X>(
    options: &Options<X>,
    base_url: Option<&Url>,
    migrations_table: &'static str,
    migrations: &[(i64, &'static str, &'static str)],
) -> Result<InstanceState> {
    let base = match base_url {
        Some(base) => base.clone(),
        None => match stored_base_url(options).await? {
            Some(base) => base,
            None => anyhow::bail!("this database never served: pass --base-url, or run serve once"),
        },
    };
    let state = InstanceState::open(&options.database, state_options(options, base))
        .await
        .with_context(|| format!("cannot open the database {}", options.database))?;
    instance_state::app_migrator(migrations_table, migrations)
        .run(state.pool())
        .await
        .with_context(|| format!("migrating the tables recorded in {migrations_table}"))?;
    Ok(state)
}

/// Starts an instance: listens, opens the database and the queue, builds the instance, and
/// serves until [`Running::stop`].
pub async fn start<A: Application>(options: Options<A::Options>) -> Result<Running<A::Instance>> {
    check_name::<A>(&options.name)?;
    let listeners = Listeners::bind(options.listen, options.workers)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let addr = listeners.local_addr()?;
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
        serve_with::<A, _>(options, listeners, base_url, store).await
    } else {
        let store = SqliteStore::open(queue_path(&options.database))
            .await
            .context("opening the delivery queue")?;
        serve_with::<A, _>(options, listeners, base_url, store).await
    }
}

/// Opens an instance's database and queue without serving, for administration commands:
/// what they publish is delivered when the instance next serves. `base_url`: the one to use
/// (the one stored when the instance last served, as the caller read it).
pub async fn open<A: Application>(
    options: &Options<A::Options>,
    base_url: &Url,
) -> Result<A::Instance> {
    check_name::<A>(&options.name)?;
    if is_postgres(&options.database) {
        let store = PostgresStore::connect(&options.database).await?;
        Ok(assemble::<A, _>(options, base_url, store, false)
            .await?
            .instance)
    } else {
        let store = SqliteStore::open(queue_path(&options.database)).await?;
        Ok(assemble::<A, _>(options, base_url, store, false)
            .await?
            .instance)
    }
}

/// Refuses an instance name that the NodeInfo document could not carry (NodeInfo 2.2 allows one
/// line of at most 500 characters): found at start, not as a `500` on `/nodeinfo` later.
fn check_name<A: Application>(name: &str) -> Result<()> {
    nodeinfo::NodeInfoBuilder::new(nodeinfo::Version::V2_2, A::SOFTWARE, A::VERSION)
        .protocol(nodeinfo::Protocol::ACTIVITYPUB)
        .instance_name(name)
        .build()
        .map(drop)
        .with_context(|| format!("the instance name {name:?} cannot be used"))
}

/// The parts of an instance, before it serves.
struct Assembled<A: Application, S: Store> {
    instance: A::Instance,
    parts: Parts,
    queue: Arc<Queue<S, ReqwestTransport, InstanceState>>,
}

async fn assemble<A: Application, S: Store>(
    options: &Options<A::Options>,
    base_url: &Url,
    store: S,
    serving: bool,
) -> Result<Assembled<A, S>> {
    if options.delivery_lease < MIN_DELIVERY_LEASE {
        bail!(
            "the delivery lease ({:?}) must be at least {MIN_DELIVERY_LEASE:?}",
            options.delivery_lease
        );
    }
    let state = A::open(options, Some(base_url)).await?;
    state
        .set_setting("base_url", base_url.as_str())
        .await
        .context("recording the base URL")?;
    if state.actor(INSTANCE_ACTOR).await?.is_none() {
        match state
            .create_actor(NewActor::new(
                INSTANCE_ACTOR,
                ActorKind::Application,
                &options.name,
            ))
            .await
        {
            // Another process on the same database made it first.
            Ok(_) | Err(instance_state::Error::NameTaken { .. }) => {}
            Err(e) => return Err(e).context("creating the instance actor"),
        }
    }
    let danger = options.danger_allow_private_addresses;
    // Signed fetches are signed by the instance actor, with the standard Mastodon's
    // authorized fetch expects.
    let fetch_signer = KeyProvider::signer(&state, INSTANCE_ACTOR)
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
    let queue = Arc::new(Queue::with_config(store, transport, state.clone(), config));
    let outbox = Outbox::new(
        ErasedQueue::new(queue.clone()),
        keys.clone(),
        vec![base_url.clone()],
    );
    let parts = Parts {
        base_url: base_url.clone(),
        name: options.name.clone(),
        state,
        fetcher,
        keys,
        outbox,
        serving,
        settings: Arc::new(Settings {
            blocked_domains: options.blocked_domains.clone(),
            authorized_fetch: options.authorized_fetch,
            signup: options.signup,
            trusted_proxies: options.trusted_proxies.clone(),
            shared_limits: is_postgres(&options.database),
            danger_allow_private_addresses: danger,
        }),
    };
    let instance = A::build(parts.clone(), options).await?;
    Ok(Assembled {
        instance,
        parts,
        queue,
    })
}

/// Where the instance listens: one socket served on the calling runtime, or one socket per
/// serving runtime, all bound to the same address with `SO_REUSEPORT`.
enum Listeners {
    Shared(TcpListener),
    PerRuntime(Vec<std::net::TcpListener>),
}

impl Listeners {
    async fn bind(addr: SocketAddr, workers: usize) -> std::io::Result<Self> {
        if workers == 0 {
            return Ok(Self::Shared(TcpListener::bind(addr).await?));
        }
        let bind = |addr: SocketAddr| -> std::io::Result<std::net::TcpListener> {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket.set_reuseport(true)?;
            socket.bind(addr)?;
            // Made on this runtime, handed to its serving runtime as a std socket.
            socket.listen(1024)?.into_std()
        };
        let first = bind(addr)?;
        // Port 0: the others join the port the first one got.
        let addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..workers {
            listeners.push(bind(addr)?);
        }
        Ok(Self::PerRuntime(listeners))
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Self::Shared(listener) => listener.local_addr(),
            Self::PerRuntime(listeners) => listeners.first().map_or_else(
                || Err(std::io::ErrorKind::NotFound.into()),
                |l| l.local_addr(),
            ),
        }
    }
}

/// Serves `server` on `listeners`: a task of the calling runtime, or a single-threaded runtime
/// per listener on a thread of its own. The task ends when every listener has stopped
/// serving (`stopped` turned true, or its sender gone).
fn spawn_serving<C: Connector>(
    server: Server<C, front::Front>,
    listeners: Listeners,
    stopped: &watch::Receiver<bool>,
) -> Result<(JoinHandle<Result<()>>, Option<Workers>)> {
    let shutdown = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let listeners = match listeners {
        Listeners::Shared(listener) => {
            let shutdown = shutdown(stopped.clone());
            let task = tokio::spawn(async move {
                server.serve(listener, shutdown).await;
                Ok(())
            });
            return Ok((task, None));
        }
        Listeners::PerRuntime(listeners) => listeners,
    };
    let (release, released) = watch::channel(false);
    let mut threads = Vec::new();
    let mut served = Vec::new();
    for (n, listener) in listeners.into_iter().enumerate() {
        let port = listener.local_addr()?.port();
        let (server, shutdown) = (server.clone(), shutdown(stopped.clone()));
        let mut released = released.clone();
        let (done, done_rx) = tokio::sync::oneshot::channel::<Result<()>>();
        let thread = std::thread::Builder::new()
            // `serve-PORT-N`: within the 15 bytes Linux keeps of a thread's name.
            .name(format!("serve-{port}-{n}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = done.send(Err(error).context("starting a serving runtime"));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let outcome = match TcpListener::from_std(listener) {
                        Ok(listener) => {
                            server.serve(listener, shutdown).await;
                            Ok(())
                        }
                        Err(error) => Err(error).context("listening on a serving runtime"),
                    };
                    let _ = done.send(outcome);
                    let _ = released.wait_for(|r| *r).await;
                });
            })
            .context("starting a serving thread")?;
        threads.push(thread);
        served.push(done_rx);
    }
    let task = tokio::spawn(async move {
        for done in served {
            done.await.context("a serving runtime ended early")??;
        }
        Ok(())
    });
    Ok((task, Some(Workers { release, threads })))
}

async fn serve_with<A: Application, S: Store>(
    options: Options<A::Options>,
    listeners: Listeners,
    base_url: Url,
    store: S,
) -> Result<Running<A::Instance>> {
    let addr = listeners.local_addr()?;
    let Assembled {
        instance,
        parts,
        queue,
    } = assemble::<A, S>(&options, &base_url, store, true).await?;
    let routes = A::routes(&instance, &parts, &options)?
        .layer(axum::middleware::from_fn(instance_web::security_headers));
    let (stop, stopped) = watch::channel(false);
    // Time limits for slow clients and a bound on connections (counted over every listener).
    let service = front::Front::new(routes, A::static_files(&instance)?);
    let server = Server::with_service(service, options.serve.clone(), A::connector(&instance));
    let (serve, workers) = spawn_serving(server, listeners, &stopped)?;
    // What each peer accepted (double-knocking) survives restarts.
    let state = parts.state.clone();
    if let Some(saved) = state.setting(PEER_PREFERENCES).await? {
        let saved: BTreeMap<String, PeerPreference> =
            serde_json::from_str(&saved).unwrap_or_default();
        for (host, preference) in saved {
            queue.set_peer_preference(host, preference);
        }
    }
    let work = {
        let mut stopped = stopped.clone();
        let queue = queue.clone();
        tokio::spawn(async move {
            let outcome = queue
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
                .context("the delivery queue failed");
            let preferences = serde_json::to_string(&queue.peer_preferences())?;
            state.set_setting(PEER_PREFERENCES, &preferences).await?;
            outcome
        })
    };
    info!(%base_url, %addr, software = A::SOFTWARE, "instance started");
    Ok(Running {
        base_url,
        addr,
        instance,
        stop,
        tasks: vec![serve, work],
        workers,
    })
}
