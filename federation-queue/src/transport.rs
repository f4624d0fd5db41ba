//! Sending a signed request: the [`Transport`] trait and its default, on reqwest.

use std::error::Error as StdError;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Sends one delivery request and reports the response's status and headers.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` (already signed).
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<TransportResponse, TransportError>> + Send;

    /// The longest one request may take, when the transport bounds it. A worker refuses to run
    /// with a lease no longer than this (another worker would take over deliveries still in
    /// flight). `None`: unbounded or unknown, not checked.
    fn max_request_time(&self) -> Option<Duration> {
        None
    }
}

/// What the inbox answered.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TransportResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers (`Retry-After` is read from them).
    pub headers: HeaderMap,
}

impl TransportResponse {
    /// A response with `status` and no headers.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
        }
    }

    /// Sets the headers.
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }
}

/// A request got no response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No connection could be made (refused, unreachable, DNS, TLS handshake): retried.
    #[error("could not connect: {source}")]
    Connect {
        /// The cause.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// Connecting or waiting for the response took too long: retried.
    #[error("timed out")]
    Timeout,
    /// The exchange broke off (connection reset, malformed response): retried.
    #[error("the exchange failed: {source}")]
    Protocol {
        /// The cause.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The destination is refused by configuration (plain http, or a non-public address):
    /// the delivery is given up.
    #[error("refused to deliver to {url}: {reason}")]
    Refused {
        /// The inbox.
        url: String,
        /// Why.
        reason: Refusal,
    },
}

/// Why a destination was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Only https is allowed (see [`TransportConfig::danger_allow_http`]).
    #[error("only https is allowed")]
    NotHttps,
    /// The host resolves to a loopback, private or otherwise non-public address (see
    /// [`TransportConfig::danger_allow_private_addresses`]).
    #[error("{host} resolves to the non-public address {address}")]
    NonPublic {
        /// The host.
        host: String,
        /// The address.
        address: IpAddr,
    },
}

/// Settings of [`ReqwestTransport`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TransportConfig {
    /// Time to establish a connection, TLS handshake included.
    pub connect_timeout: Duration,
    /// Time a read may wait for the peer (a hung connection is cut after this).
    pub read_timeout: Duration,
    /// Time for the whole exchange.
    pub timeout: Duration,
    /// Bytes of response body read at most (the rest is discarded with the connection).
    pub max_response_bytes: usize,
    /// The `User-Agent`.
    pub user_agent: String,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// Root certificates (DER) trusted besides the platform's, for inboxes behind a private
    /// certificate authority.
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// **Dangerous.** Allows plain-http inboxes, which send activities in clear text. For
    /// tests and local development.
    pub danger_allow_http: bool,
    /// **Dangerous.** Allows inboxes on loopback, private, link-local and other non-public
    /// addresses, which lets whoever names an inbox make your server reach your internal
    /// network. For tests and local development.
    pub danger_allow_private_addresses: bool,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            max_response_bytes: 64 * 1024,
            user_agent: concat!("federation-queue/", env!("CARGO_PKG_VERSION")).to_owned(),
            pool_max_idle_per_host: 8,
            extra_root_certificates: Vec::new(),
            danger_allow_http: false,
            danger_allow_private_addresses: false,
        }
    }
}

impl TransportConfig {
    /// The defaults: 10 s to connect, 30 s between reads, 60 s in all, 64 KiB of response.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the three timeouts.
    pub fn with_timeouts(mut self, connect: Duration, read: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self.timeout = total;
        self
    }

    /// Sets [`TransportConfig::max_response_bytes`].
    pub fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Sets [`TransportConfig::user_agent`].
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sets [`TransportConfig::pool_max_idle_per_host`].
    pub fn with_pool_max_idle_per_host(mut self, idle: usize) -> Self {
        self.pool_max_idle_per_host = idle;
        self
    }

    /// Trusts `der` (a DER-encoded certificate) as a root, besides the platform's roots.
    pub fn with_extra_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_root_certificates.push(der.into());
        self
    }

    /// **Dangerous**: sets [`TransportConfig::danger_allow_http`].
    pub fn with_danger_allow_http(mut self, allow: bool) -> Self {
        self.danger_allow_http = allow;
        self
    }

    /// **Dangerous**: sets [`TransportConfig::danger_allow_private_addresses`].
    pub fn with_danger_allow_private_addresses(mut self, allow: bool) -> Self {
        self.danger_allow_private_addresses = allow;
        self
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("building the HTTP client failed: {0}")]
pub struct TransportBuildError(#[source] reqwest::Error);

/// The default transport: reqwest with rustls, bounded in time and response size, no
/// redirects (a signed POST is not replayed elsewhere) and no proxy from the environment.
///
/// Server certificates are checked against the platform's roots, and
/// [`TransportConfig::extra_root_certificates`].
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    config: TransportConfig,
}

impl ReqwestTransport {
    /// A transport with `config`.
    pub fn new(config: TransportConfig) -> Result<Self, TransportBuildError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(config.user_agent.clone())
            .pool_max_idle_per_host(config.pool_max_idle_per_host);
        if !config.danger_allow_private_addresses {
            builder = builder.dns_resolver(PublicOnlyResolver);
        }
        if !config.extra_root_certificates.is_empty() {
            let roots = config
                .extra_root_certificates
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()
                .map_err(TransportBuildError)?;
            builder = builder.tls_certs_merge(roots);
        }
        let client = builder.build().map_err(TransportBuildError)?;
        Ok(Self { client, config })
    }

    /// The settings.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }
}

impl Transport for ReqwestTransport {
    fn max_request_time(&self) -> Option<Duration> {
        Some(self.config.timeout)
    }

    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<TransportResponse, TransportError> {
        // Written out only for an error (a `Uri` clone shares its bytes).
        let uri = request.uri().clone();
        if uri.scheme_str() != Some("https") && !self.config.danger_allow_http {
            return Err(TransportError::Refused {
                url: uri.to_string(),
                reason: Refusal::NotHttps,
            });
        }
        if !self.config.danger_allow_private_addresses
            && let Some(host) = request.uri().host()
            && let Ok(address) = host.trim_matches(['[', ']']).parse::<IpAddr>()
            && !is_public_address(address)
        {
            return Err(TransportError::Refused {
                url: uri.to_string(),
                reason: Refusal::NonPublic {
                    host: host.to_owned(),
                    address,
                },
            });
        }
        let request =
            reqwest::Request::try_from(request).map_err(|e| TransportError::Protocol {
                source: Box::new(e),
            })?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| map_error(&uri.to_string(), e))?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        // Read (and discard) a bounded body, so the connection can be reused; a larger one
        // is dropped with its connection.
        let mut read = 0_usize;
        while read <= self.config.max_response_bytes {
            match response.chunk().await {
                Ok(Some(chunk)) => read = read.saturating_add(chunk.len()),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(TransportResponse { status, headers })
    }
}

fn map_error(url: &str, error: reqwest::Error) -> TransportError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<Refusal>() {
            return TransportError::Refused {
                url: url.to_owned(),
                reason: refusal.clone(),
            };
        }
        source = cause.source();
    }
    if error.is_timeout() {
        TransportError::Timeout
    } else if error.is_connect() {
        TransportError::Connect {
            source: Box::new(error),
        }
    } else {
        TransportError::Protocol {
            source: Box::new(error),
        }
    }
}

/// Resolves names and refuses any that lead to a non-public address, so that DNS cannot point
/// a delivery at the local network.
struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(address) = addresses
                .iter()
                .map(SocketAddr::ip)
                .find(|address| !is_public_address(*address))
            {
                let refusal: Box<dyn StdError + Send + Sync> =
                    Box::new(Refusal::NonPublic { host, address });
                return Err(refusal);
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Whether `address` is a public unicast address (not loopback, private, link-local, shared,
/// documentation, multicast or reserved).
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    !(a == 0
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_broadcast()
        || address.is_documentation()
        || address.is_multicast()
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    let [s0, s1, ..] = address.segments();
    !(address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
        || (s0 & 0xfe00) == 0xfc00
        || (s0 & 0xffc0) == 0xfe80
        || (s0 & 0xffc0) == 0xfec0
        || (s0 == 0x2001 && s1 == 0x0db8)
        || s0 == 0x0064
        || s0 == 0x2002
        || address.segments().iter().take(6).all(|s| *s == 0))
}
