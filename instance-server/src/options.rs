//! How to run an instance.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use federation::serve::ServeConfig;
use http_signatures::Standard;
use instance_web::SignupMode;
use url::Url;

/// The shortest delivery lease [`crate::start`] accepts.
pub const MIN_DELIVERY_LEASE: Duration = Duration::from_secs(2);

/// How to run an instance: the server's options, and the instance's own in [`Options::app`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options<X> {
    /// The public base URL. `None`: `http://` + the listening address (needs
    /// `danger_allow_private_addresses`, for tests and demos).
    pub base_url: Option<Url>,
    /// Where to listen (port 0: one the OS picks).
    pub listen: SocketAddr,
    /// A SQLite file path, or a `postgres://` URL.
    pub database: String,
    /// The instance's name, shown on its pages and in NodeInfo.
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
    /// Retry quickly (a first retry after a fraction of a second): for tests and demos.
    pub quick_retries: bool,
    /// Who may make an account in the browser: anyone (`Open`), anyone a moderator approves
    /// (`Approval`, the default), or nobody (`Closed`: the host makes the accounts).
    pub signup: SignupMode,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the sign-in limits (none: each
    /// request counts as coming from the address it came from).
    pub trusted_proxies: Vec<IpAddr>,
    /// How long the delivery queue's worker holds a delivery it claimed (its lease): a
    /// process killed mid-delivery leaves its claims to the other processes on the same
    /// database for this long. Each delivery request is cut off after half of it (60 seconds
    /// at most), so that a live worker never outlasts its lease. Default: 5 minutes; at
    /// least [`MIN_DELIVERY_LEASE`].
    pub delivery_lease: Duration,
    /// The server's limits for slow clients and connections.
    pub serve: ServeConfig,
    /// How many single-threaded runtimes serve requests, each on a thread of its own with its
    /// own listening socket bound to [`Options::listen`] with `SO_REUSEPORT` (the kernel
    /// spreads the connections, as between nginx's workers): one per core keeps each request
    /// on one thread from accept to answer, with no hand-off between a multi-threaded
    /// runtime's workers. `0` (the default here; the `serve` command's default is the number
    /// of cores): requests are served on the runtime that called [`crate::start`]. The
    /// delivery queue, the instance's background tasks and the database pool are made on the
    /// calling runtime whatever this is; see the crate documentation.
    pub workers: usize,
    /// The instance's own options.
    pub app: X,
}

impl<X: Default> Options<X> {
    /// Options for `database`, listening on `listen`, with the defaults: no base URL (derived
    /// from the address), RFC 9421 first, RSA signatures, no authorized fetch, sign-up with
    /// approval, the instance's default options.
    pub fn new(listen: SocketAddr, database: impl Into<String>) -> Self {
        Self::with_app(listen, database, X::default())
    }
}

impl<X> Options<X> {
    /// Options as [`Options::new`] makes them, with the instance's options `app`.
    pub fn with_app(listen: SocketAddr, database: impl Into<String>, app: X) -> Self {
        Self {
            base_url: None,
            listen,
            database: database.into(),
            name: "Instance".to_owned(),
            danger_allow_private_addresses: false,
            first_knock: Standard::Rfc9421,
            sign_with_ed25519: false,
            authorized_fetch: false,
            blocked_domains: Vec::new(),
            quick_retries: false,
            signup: SignupMode::Approval,
            trusted_proxies: Vec::new(),
            delivery_lease: Duration::from_secs(5 * 60),
            serve: ServeConfig::default(),
            workers: 0,
            app,
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
    pub fn with_trusted_proxies(mut self, proxies: Vec<IpAddr>) -> Self {
        self.trusted_proxies = proxies;
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

    /// Sets the server's limits.
    pub fn with_serve_config(mut self, serve: ServeConfig) -> Self {
        self.serve = serve;
        self
    }

    /// Sets [`Options::workers`].
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Sets the instance's own options.
    pub fn with_app_options(mut self, app: X) -> Self {
        self.app = app;
        self
    }
}
