//! A guarded HTTP GET for discovery documents (feature `client`).
//!
//! Every request made by this crate's [`Client`](crate::client::Client) and by the `nodeinfo`
//! client goes through a [`Fetcher`], which
//!
//! * refuses plain `http:` URLs, first and after redirects, unless
//!   [`HttpConfig::danger_allow_http`] is set;
//! * refuses hosts that are, or resolve to, loopback, private, link-local and other
//!   non-public addresses (checked on the resolved addresses, so DNS cannot point it at the
//!   local network), unless [`HttpConfig::danger_allow_private_addresses`] is set;
//! * follows at most [`HttpConfig::max_redirects`] redirects, each checked as above;
//! * gives up after [`HttpConfig::timeout`] for the whole request, body included;
//! * reads at most [`HttpConfig::max_body_bytes`] of the body, streamed, and stops reading as
//!   soon as the limit is passed;
//! * uses no proxy from the environment, since a proxy would resolve names where these checks
//!   cannot see.
//!
//! The pieces of that guard are public so that other clients (the `federation` crate's fetcher
//! of ActivityPub objects) build on the same code: [`PublicOnlyResolver`] for names,
//! [`check_ip_literal`] for IP-literal hosts (which never reach a resolver),
//! [`NonPublicAddress::find_in`] to recognise the resolver's refusal in a reqwest error, and
//! [`read_body_capped`] for bodies.

// The errors carry the URLs involved, which makes them large; they are made once per failed
// network request, where their size costs nothing next to the I/O.
#![allow(clippy::result_large_err)]

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use http::header::{ACCEPT, CONTENT_TYPE};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use crate::resource::{Host, ResourceError};

/// The limits and switches of a [`Fetcher`]. The defaults are safe for talking to the
/// fediverse; the two `danger_` switches exist for tests and local development.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The time limit for one request, from connecting to the end of the body. Default 10 s.
    pub timeout: Duration,
    /// The time limit for connecting (DNS, TCP and TLS). Default 5 s.
    pub connect_timeout: Duration,
    /// The largest body read, in bytes. Default 1 MiB: a JRD is a few KiB, a NodeInfo document
    /// rarely more than 50 KiB.
    pub max_body_bytes: usize,
    /// The most redirects followed for one request. Default 3.
    pub max_redirects: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// **Dangerous.** Allows plain `http:` URLs, and makes requests to a host (`acct:` host,
    /// NodeInfo host) fall back to `http:` when `https:` cannot connect. For tests and local
    /// development only: over plain http anyone on the path can answer for the server.
    pub danger_allow_http: bool,
    /// **Dangerous.** Allows hosts that are or resolve to loopback, private, link-local or other
    /// non-public addresses. For tests and local development only: on a server, it lets anyone
    /// who can make you resolve a handle probe your internal network.
    pub danger_allow_private_addresses: bool,
}

/// Makes guarded GET requests; cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: Arc<HttpConfig>,
}

/// A successful (2xx) response, its body read in full within the size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fetched {
    /// The URL of the response, after redirects.
    pub url: Url,
    /// The `Content-Type` header, if it was there and was text.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a [`Fetcher`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The HTTP client could not be built (TLS set-up, for instance).
    #[error("could not build the HTTP client")]
    Client {
        /// What reqwest said.
        source: reqwest::Error,
    },
}

/// Why a guarded GET failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL (or a redirect's target) is not `https:`, and plain http is not allowed.
    #[error("refused to fetch `{url}`: only https is allowed (see HttpConfig::danger_allow_http)")]
    InsecureScheme {
        /// The refused URL.
        url: Url,
    },
    /// The host is or resolves to a loopback, private or otherwise non-public address.
    #[error(
        "refused to fetch `{url}`: `{host}` is or resolves to the non-public address {address} (see HttpConfig::danger_allow_private_addresses)"
    )]
    NonPublicAddress {
        /// The URL whose host was refused.
        url: Url,
        /// The host.
        host: String,
        /// The address that was refused.
        address: IpAddr,
    },
    /// The host could not be turned into a URL.
    #[error("cannot make a URL for that host")]
    InvalidHost {
        /// Why.
        source: ResourceError,
    },
    /// More redirects than [`HttpConfig::max_redirects`].
    #[error("`{url}` redirected more than {limit} times")]
    TooManyRedirects {
        /// The URL first asked for.
        url: Url,
        /// The limit.
        limit: usize,
    },
    /// The request took longer than [`HttpConfig::timeout`] (or connecting took longer than
    /// [`HttpConfig::connect_timeout`]).
    #[error("`{url}` did not answer within {limit:?}")]
    Timeout {
        /// The URL.
        url: Url,
        /// The limit that ran out.
        limit: Duration,
    },
    /// Connecting, TLS or the HTTP exchange failed.
    #[error("fetching `{url}` failed")]
    Transport {
        /// The URL.
        url: Url,
        /// What reqwest said.
        source: reqwest::Error,
    },
    /// The server answered with a status other than 2xx (after redirects).
    #[error("`{url}` answered {status}")]
    Status {
        /// The URL that answered.
        url: Url,
        /// The status.
        status: StatusCode,
    },
    /// The body is larger than [`HttpConfig::max_body_bytes`]; reading stopped there.
    #[error("the body of `{url}` is larger than {limit} bytes")]
    BodyTooLarge {
        /// The URL.
        url: Url,
        /// The limit.
        limit: usize,
    },
    /// The `Content-Type` is not one the caller accepts.
    #[error("`{url}` answered with content type {content_type:?}, expected {expected}")]
    UnexpectedContentType {
        /// The URL.
        url: Url,
        /// The `Content-Type` header, if any.
        content_type: Option<String>,
        /// What was expected, for the message.
        expected: &'static str,
    },
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_body_bytes: 1024 * 1024,
            max_redirects: 3,
            user_agent: concat!("fediverse-toolkit-webfinger/", env!("CARGO_PKG_VERSION"))
                .to_owned(),
            danger_allow_http: false,
            danger_allow_private_addresses: false,
        }
    }
}

impl HttpConfig {
    /// Sets [`HttpConfig::timeout`].
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> HttpConfig {
        self.timeout = timeout;
        self
    }

    /// Sets [`HttpConfig::connect_timeout`].
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> HttpConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`HttpConfig::max_body_bytes`].
    #[must_use]
    pub fn with_max_body_bytes(mut self, limit: usize) -> HttpConfig {
        self.max_body_bytes = limit;
        self
    }

    /// Sets [`HttpConfig::max_redirects`].
    #[must_use]
    pub fn with_max_redirects(mut self, limit: usize) -> HttpConfig {
        self.max_redirects = limit;
        self
    }

    /// Sets [`HttpConfig::user_agent`].
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> HttpConfig {
        self.user_agent = user_agent.into();
        self
    }

    /// **Dangerous**: sets [`HttpConfig::danger_allow_http`].
    #[must_use]
    pub fn with_danger_allow_http(mut self, allow: bool) -> HttpConfig {
        self.danger_allow_http = allow;
        self
    }

    /// **Dangerous**: sets [`HttpConfig::danger_allow_private_addresses`].
    #[must_use]
    pub fn with_danger_allow_private_addresses(mut self, allow: bool) -> HttpConfig {
        self.danger_allow_private_addresses = allow;
        self
    }
}

impl Fetcher {
    /// A fetcher with these limits and switches.
    ///
    /// # Errors
    ///
    /// [`BuildError::Client`] when the TLS stack cannot be set up.
    pub fn new(config: HttpConfig) -> Result<Fetcher, BuildError> {
        let config = Arc::new(config);
        let policy_config = Arc::clone(&config);
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > policy_config.max_redirects {
                return attempt.error(Refusal::TooManyRedirects);
            }
            match check_url(attempt.url(), &policy_config) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            }
        });
        let mut builder = reqwest::Client::builder()
            .redirect(policy)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .no_proxy()
            .https_only(!config.danger_allow_http);
        if !config.danger_allow_private_addresses {
            builder = builder.dns_resolver(PublicOnlyResolver);
        }
        let client = builder
            .build()
            .map_err(|source| BuildError::Client { source })?;
        Ok(Fetcher { client, config })
    }

    /// The limits and switches in force.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// GETs `url` with the `Accept` header `accept`.
    ///
    /// # Errors
    ///
    /// A [`FetchError`]; a non-2xx answer is [`FetchError::Status`].
    pub async fn get(&self, url: &Url, accept: &str) -> Result<Fetched, FetchError> {
        check_url(url, &self.config).map_err(|refusal| refusal.into_error(url, &self.config))?;
        let mut response = self
            .client
            .get(url.clone())
            .header(ACCEPT, accept)
            .send()
            .await
            .map_err(|error| self.map_error(url, error))?;
        let final_url = response.url().clone();
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: final_url,
                status,
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let limit = self.config.max_body_bytes;
        let body = match read_body_capped(&mut response, limit)
            .await
            .map_err(|error| self.map_error(&final_url, error))?
        {
            CappedBody::Complete(body) => body,
            CappedBody::TooLarge { .. } => {
                return Err(FetchError::BodyTooLarge {
                    url: final_url,
                    limit,
                });
            }
        };
        Ok(Fetched {
            url: final_url,
            content_type,
            body,
        })
    }

    /// GETs `path_and_query` (starting with `/`) on `host` over https; with
    /// [`HttpConfig::danger_allow_http`], falls back to plain http when https cannot connect, as
    /// the NodeInfo protocol describes.
    ///
    /// # Errors
    ///
    /// As [`Fetcher::get`].
    pub async fn get_from_host(
        &self,
        host: &Host,
        path_and_query: &str,
        accept: &str,
    ) -> Result<Fetched, FetchError> {
        let https = host
            .url_with_scheme("https", path_and_query)
            .map_err(|source| FetchError::InvalidHost { source })?;
        match self.get(&https, accept).await {
            Err(FetchError::Transport { source, .. })
                if self.config.danger_allow_http && source.is_connect() =>
            {
                let http = host
                    .url_with_scheme("http", path_and_query)
                    .map_err(|source| FetchError::InvalidHost { source })?;
                self.get(&http, accept).await
            }
            result => result,
        }
    }

    fn map_error(&self, url: &Url, error: reqwest::Error) -> FetchError {
        if let Some(refusal) = NonPublicAddress::find_in(&error) {
            return Refusal::NonPublic(refusal.clone())
                .into_error(error.url().unwrap_or(url), &self.config);
        }
        let mut source: Option<&(dyn StdError + 'static)> = Some(&error);
        while let Some(current) = source {
            if let Some(refusal) = current.downcast_ref::<Refusal>() {
                let refused_url = error.url().unwrap_or(url);
                return match refusal {
                    Refusal::TooManyRedirects => FetchError::TooManyRedirects {
                        url: url.clone(),
                        limit: self.config.max_redirects,
                    },
                    other => other.clone().into_error(refused_url, &self.config),
                };
            }
            source = current.source();
        }
        if error.is_timeout() {
            let limit = if error.is_connect() {
                self.config.connect_timeout
            } else {
                self.config.timeout
            };
            return FetchError::Timeout {
                url: url.clone(),
                limit,
            };
        }
        FetchError::Transport {
            url: url.clone(),
            source: error,
        }
    }
}

impl Fetched {
    /// The media type without parameters, lower case (`application/json` for
    /// `application/json; charset=utf-8`).
    pub fn media_type(&self) -> Option<String> {
        self.content_type.as_deref().map(essence)
    }

    /// Checks that the content type is JSON: `application/json` or any `+json` type
    /// (`application/jrd+json`, `application/activity+json`, ...).
    ///
    /// # Errors
    ///
    /// [`FetchError::UnexpectedContentType`] otherwise (a missing header included).
    pub fn require_json(&self) -> Result<(), FetchError> {
        match self.media_type() {
            Some(media_type) if is_json_media_type(&media_type) => Ok(()),
            _ => Err(FetchError::UnexpectedContentType {
                url: self.url.clone(),
                content_type: self.content_type.clone(),
                expected: "application/json or a +json type",
            }),
        }
    }
}

/// What [`read_body_capped`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CappedBody {
    /// The whole body, within the limit.
    Complete(Vec<u8>),
    /// The body is larger than the limit: `Content-Length` said so (`read` is 0), or reading
    /// stopped at the first chunk that went past it (`read` counts the bytes received, that
    /// chunk included).
    TooLarge {
        /// The bytes received before reading stopped.
        read: usize,
    },
}

/// Reads the body of `response`, streamed, and stops as soon as more than `limit` bytes have
/// come: a `Content-Length` over the limit is refused before reading anything, and a body that
/// lies about its length (or has none) is cut at the first chunk past the limit.
///
/// # Errors
///
/// What reqwest reports while reading (a timeout, a broken connection).
pub async fn read_body_capped(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<CappedBody, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Ok(CappedBody::TooLarge { read: 0 });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let read = body.len().saturating_add(chunk.len());
        if read > limit {
            return Ok(CappedBody::TooLarge { read });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(CappedBody::Complete(body))
}

/// The media type without parameters, trimmed and lower case (`application/json` for
/// `Application/JSON; charset=utf-8`).
pub fn media_type_essence(media_type: &str) -> String {
    essence(media_type)
}

/// Whether a media type (parameters allowed) is JSON: `application/json` or `*/*+json`.
pub fn is_json_media_type(media_type: &str) -> bool {
    let essence = essence(media_type);
    essence == "application/json" || essence.ends_with("+json")
}

/// Whether a media type (parameters allowed) is XML: `application/xml`, `text/xml` or
/// `*/*+xml`.
pub fn is_xml_media_type(media_type: &str) -> bool {
    let essence = essence(media_type);
    essence == "application/xml" || essence == "text/xml" || essence.ends_with("+xml")
}

/// Whether an address is one a public server can have: not loopback, private (RFC 1918, IPv6
/// unique local), link-local, shared (RFC 6598), unspecified, broadcast, multicast,
/// documentation, benchmarking or reserved. IPv4 addresses embedded in IPv6 (mapped, NAT64,
/// 6to4) are judged as IPv4.
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
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
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let [s0, s1, s2, s3, s4, s5, s6, s7] = address.segments();
    let embedded_v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address that decides.
    if s0 == 0x64 && s1 == 0xff9b && s2 == 0 && s3 == 0 && s4 == 0 && s5 == 0 {
        return is_public_v4(embedded_v4(s6, s7));
    }
    if s0 == 0x2002 {
        return is_public_v4(embedded_v4(s1, s2));
    }
    !(address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
        // IPv4-compatible (::a.b.c.d, deprecated).
        || (s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0 && s4 == 0 && s5 == 0)
        || (s0 & 0xfe00) == 0xfc00
        || (s0 & 0xffc0) == 0xfe80
        || (s0 & 0xffc0) == 0xfec0
        || (s0 == 0x2001 && s1 == 0x0db8)
        || (s0 == 0x2001 && s1 < 0x0200 && s1 != 0))
}

/// A host refused because it is, or resolves to, a loopback, private or otherwise non-public
/// address (see [`is_public_address`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{host}` is or resolves to the non-public address {address}")]
#[non_exhaustive]
pub struct NonPublicAddress {
    /// The host, as written in the URL or as given to the resolver.
    pub host: String,
    /// The address that was refused.
    pub address: IpAddr,
}

impl NonPublicAddress {
    /// The refusal of a [`PublicOnlyResolver`] in the source chain of `error` (reqwest wraps
    /// it in its connect error), if that is why the request failed.
    pub fn find_in<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a NonPublicAddress> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(refusal) = error.downcast_ref::<NonPublicAddress>() {
                return Some(refusal);
            }
            if let Some(Refusal::NonPublic(refusal)) = error.downcast_ref::<Refusal>() {
                return Some(refusal);
            }
            current = error.source();
        }
        None
    }
}

/// Refuses a URL whose host is an IP literal (`https://127.0.0.1/`, `https://[::1]/`) that is
/// not a public address. Such hosts never reach a resolver, so a client that relies on
/// [`PublicOnlyResolver`] must check them itself, before each request and each redirect. A
/// host name passes: the resolver judges it at connect time.
///
/// # Errors
///
/// [`NonPublicAddress`] for a non-public IP literal.
pub fn check_ip_literal(url: &Url) -> Result<(), NonPublicAddress> {
    let address = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if is_public_address(address) {
        Ok(())
    } else {
        Err(NonPublicAddress {
            host: url.host_str().unwrap_or_default().to_owned(),
            address,
        })
    }
}

fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A refusal made inside reqwest (redirect policy, resolver), found again in its error chain.
#[derive(Debug, Clone, thiserror::Error)]
enum Refusal {
    #[error("only https is allowed")]
    Insecure,
    #[error(transparent)]
    NonPublic(NonPublicAddress),
    #[error("too many redirects")]
    TooManyRedirects,
}

impl Refusal {
    fn into_error(self, url: &Url, config: &HttpConfig) -> FetchError {
        match self {
            Refusal::Insecure => FetchError::InsecureScheme { url: url.clone() },
            Refusal::NonPublic(NonPublicAddress { host, address }) => {
                FetchError::NonPublicAddress {
                    url: url.clone(),
                    host,
                    address,
                }
            }
            Refusal::TooManyRedirects => FetchError::TooManyRedirects {
                url: url.clone(),
                limit: config.max_redirects,
            },
        }
    }
}

fn check_url(url: &Url, config: &HttpConfig) -> Result<(), Refusal> {
    match url.scheme() {
        "https" => {}
        "http" if config.danger_allow_http => {}
        _ => return Err(Refusal::Insecure),
    }
    if !config.danger_allow_private_addresses {
        check_ip_literal(url).map_err(Refusal::NonPublic)?;
    }
    Ok(())
}

/// A reqwest resolver ([`reqwest::ClientBuilder::dns_resolver`]) that resolves names with the
/// system resolver and refuses a name if *any* of its addresses is not public, so that a name
/// cannot lead a client to the local network. The check happens when a connection is made, so
/// it covers redirects and DNS that changes between requests.
///
/// The refusal is a [`NonPublicAddress`] inside reqwest's connect error; find it with
/// [`NonPublicAddress::find_in`]. IP-literal hosts are not resolved and so not seen here: check
/// them with [`check_ip_literal`].
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct PublicOnlyResolver;

impl PublicOnlyResolver {
    /// The resolver.
    pub fn new() -> PublicOnlyResolver {
        PublicOnlyResolver
    }
}

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
                // Boxed as the refusal itself (not a box in a box), so that `map_error` finds
                // it in the error chain.
                let refusal: Box<dyn StdError + Send + Sync> =
                    Box::new(NonPublicAddress { host, address });
                return Err(refusal);
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}
