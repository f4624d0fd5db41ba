//! What the commands that talk to servers share: the network switches and limits, the clients
//! built from them, and the wording of network failures.

use std::error::Error as StdError;
use std::time::Duration;

use anyhow::Context as _;
use federation::fetch::{FetchConfig, Fetcher};
use http_signatures::Signer;
use webfinger::fetch::{HttpConfig, PublicOnlyResolver};

/// The `User-Agent` of every request `fedi` makes.
pub(crate) const USER_AGENT: &str = concat!("fedi/", env!("CARGO_PKG_VERSION"));

/// The network switches and limits of `lookup`, `inbox`, `deliver` and `check`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Network {
    /// DANGEROUS, for a server on this machine or a test network: allow plain `http:` URLs
    /// (anyone on the path can answer for the server). Off by default.
    #[arg(long)]
    pub(crate) danger_allow_http: bool,
    /// DANGEROUS, for a server on this machine or a test network: allow hosts that are or
    /// resolve to loopback, private or link-local addresses. Off by default.
    #[arg(long)]
    pub(crate) danger_allow_private_addresses: bool,
    /// Time limit of each request, in seconds.
    #[arg(long, default_value_t = 10)]
    pub(crate) timeout: u64,
    /// Largest response body read, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub(crate) max_body_bytes: usize,
    /// Most redirects followed for one GET (a POST is never redirected).
    #[arg(long, default_value_t = 3)]
    pub(crate) max_redirects: usize,
}

impl Network {
    /// The time limit of one request.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }

    /// The settings of `federation`'s guarded fetcher, signing with `signer` when given.
    pub(crate) fn fetch_config(&self, signer: Option<Signer>) -> FetchConfig {
        let config = FetchConfig::default()
            .with_timeout(self.timeout())
            .with_max_body_bytes(self.max_body_bytes)
            .with_max_redirects(self.max_redirects)
            .with_user_agent(USER_AGENT)
            .with_danger_allow_http(self.danger_allow_http)
            .with_danger_allow_private_addresses(self.danger_allow_private_addresses);
        match signer {
            Some(signer) => config.with_signer(signer),
            None => config,
        }
    }

    /// `federation`'s guarded fetcher for ActivityPub documents.
    pub(crate) fn fetcher(&self, signer: Option<Signer>) -> anyhow::Result<Fetcher> {
        Fetcher::new(self.fetch_config(signer)).context("cannot set up the HTTP client")
    }

    /// The settings of the WebFinger and NodeInfo clients.
    pub(crate) fn http_config(&self) -> HttpConfig {
        HttpConfig::default()
            .with_timeout(self.timeout())
            .with_max_body_bytes(self.max_body_bytes)
            .with_max_redirects(self.max_redirects)
            .with_user_agent(USER_AGENT)
            .with_danger_allow_http(self.danger_allow_http)
            .with_danger_allow_private_addresses(self.danger_allow_private_addresses)
    }

    /// The WebFinger client.
    pub(crate) fn webfinger(&self) -> anyhow::Result<webfinger::client::Client> {
        webfinger::client::Client::from_config(self.http_config())
            .context("cannot set up the HTTP client")
    }

    /// A plain HTTP client under the same guards (scheme, addresses, time, no proxy, no
    /// redirects: callers that follow them check each hop), for the requests the guarded
    /// fetchers cannot make (POSTs, deliberately malformed requests, reading every header).
    pub(crate) fn raw_client(&self) -> anyhow::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout())
            .connect_timeout(self.timeout().min(Duration::from_secs(5)))
            .user_agent(USER_AGENT)
            .no_proxy()
            .https_only(!self.danger_allow_http);
        if !self.danger_allow_private_addresses {
            builder = builder.dns_resolver(PublicOnlyResolver::new());
        }
        builder.build().context("cannot set up the HTTP client")
    }
}

/// What kind of network failure `error` is, when it is one: `DNS`, `TLS`, `connection`,
/// `timeout`. Read from the chain of causes (reqwest, hyper and rustls say it only in words).
pub(crate) fn failure_kind(error: &(dyn StdError + 'static)) -> Option<&'static str> {
    let mut text = String::new();
    let mut current = Some(error);
    while let Some(error) = current {
        text.push_str(&error.to_string().to_ascii_lowercase());
        text.push('\n');
        current = error.source();
    }
    if text.contains("dns error") || text.contains("failed to lookup address") {
        Some("DNS")
    } else if [
        // rustls's words for a failed handshake.
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "peer sent",
    ]
    .iter()
    .any(|word| text.contains(word))
    {
        Some("TLS")
    } else if text.contains("connection refused") || text.contains("could not connect") {
        Some("connection")
    } else if text.contains("did not answer within") || text.contains("timed out") {
        Some("timeout")
    } else {
        None
    }
}

/// `error` and its causes on one line, with its [`failure_kind`] in front.
pub(crate) fn explain(error: &anyhow::Error) -> String {
    let chain = format!("{error:#}");
    match failure_kind(error.as_ref()) {
        Some(kind) => format!("{kind} failure: {chain}"),
        None => chain,
    }
}

/// A tokio runtime for one command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
