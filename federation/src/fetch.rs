//! A guarded fetcher for remote ActivityPub objects.
//!
//! Servers fetch URLs that strangers chose: the object of an `Announce`, the parent of a reply,
//! the key that signed a request. [`Fetcher::fetch`] makes each such GET safe to do:
//!
//! * **Addresses**: hosts that are, or resolve to, loopback, private, link-local or other
//!   non-public addresses are refused when the connection is made (the resolver of
//!   [`webfinger::fetch::PublicOnlyResolver`], and a check of IP-literal hosts, which never reach
//!   a resolver), on the first request and on every redirect, unless
//!   [`FetchConfig::danger_allow_private_addresses`] is set. No proxy is taken from the
//!   environment: a proxy would resolve names where the check cannot see.
//! * **Scheme**: `https` only, unless [`FetchConfig::danger_allow_http`] is set.
//! * **Redirects**: followed by hand, at most [`FetchConfig::max_redirects`], each one checked
//!   as above and, with a [`FetchConfig::signer`], signed afresh (a signature names the URL it
//!   was made for, and carries the current time).
//! * **Content type**: `application/activity+json`, or `application/ld+json` with the
//!   ActivityStreams profile. Plain `application/json` is refused, as Mastodon refuses it: a
//!   server that lets users upload files serves them as `application/json` or anything else,
//!   never as an ActivityPub type, so the content type is what tells a document the server
//!   publishes from a file someone uploaded to it.
//! * **Size and time**: the body is streamed and reading stops past
//!   [`FetchConfig::max_body_bytes`]; each request has [`FetchConfig::timeout`].
//! * **Origin**: the document must have an `id`, with the same origin (scheme, host, port) as
//!   the URL it was finally served from. Only then does the server vouch for it.
//! * **Budget**: every fetch spends from a [`FetchBudget`], what one incoming request may cost
//!   (requests, bytes, time, and the length of a chain of links), so that one activity cannot
//!   make the server fetch without end.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use activitypub_core::origin::Origin;
use activitypub_core::{AnyObject, Iri, Limits, ParseError, Received};
use http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_signatures::{SignError, Signer};
use tokio::time::Instant;
use url::Url;
use webfinger::fetch::{
    CappedBody, NonPublicAddress, PublicOnlyResolver, check_ip_literal, media_type_essence,
    read_body_capped,
};

/// The `Accept` header of every fetch: the two ActivityPub media types ([ActivityPub §3.2]).
///
/// [ActivityPub §3.2]: https://www.w3.org/TR/activitypub/#retrieving-objects
pub const ACCEPT_ACTIVITYPUB: &str = r#"application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams""#;

/// The ActivityStreams profile that `application/ld+json` must carry.
pub const ACTIVITYSTREAMS_PROFILE: &str = "https://www.w3.org/ns/activitystreams";

/// The limits and switches of a [`Fetcher`]. The defaults are safe for a server on the
/// fediverse; the two `danger_` switches exist for tests and local development.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchConfig {
    /// The time limit for one request, from connecting to the end of the body. Default 10 s.
    pub timeout: Duration,
    /// The time limit for connecting (DNS, TCP and TLS). Default 5 s.
    pub connect_timeout: Duration,
    /// The largest body read, in bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// The deepest nesting of arrays and objects accepted in a document (see
    /// [`Limits::max_depth`]). Default 64.
    pub max_json_depth: usize,
    /// The most redirects followed for one fetch. Default 5.
    pub max_redirects: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The key to sign every request with (the instance actor's key), for servers that require
    /// signed fetches (Mastodon's secure mode). Each request, redirects included, is signed
    /// afresh with the current time, under the standard and components the signer is
    /// configured with; a GET has no body, so no digest is added. Mastodon in secure mode
    /// expects draft-cavage (`Standard::Cavage`), whose default components for a GET are
    /// `(request-target) host date`. Default: none (unsigned).
    pub signer: Option<Signer>,
    /// **Dangerous.** Allows plain `http:` URLs. For tests and local development only: over
    /// plain http anyone on the path can answer for the server.
    pub danger_allow_http: bool,
    /// **Dangerous.** Allows hosts that are or resolve to loopback, private, link-local or other
    /// non-public addresses. For tests and local development only: on a server, it lets anyone
    /// who can make you fetch a URL probe your internal network.
    pub danger_allow_private_addresses: bool,
}

impl Default for FetchConfig {
    fn default() -> FetchConfig {
        FetchConfig {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_body_bytes: 1024 * 1024,
            max_json_depth: Limits::DEFAULT.max_depth,
            max_redirects: 5,
            user_agent: concat!("fediverse-toolkit-federation/", env!("CARGO_PKG_VERSION"))
                .to_owned(),
            signer: None,
            danger_allow_http: false,
            danger_allow_private_addresses: false,
        }
    }
}

impl FetchConfig {
    /// Sets [`FetchConfig::timeout`].
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> FetchConfig {
        self.timeout = timeout;
        self
    }

    /// Sets [`FetchConfig::connect_timeout`].
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> FetchConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`FetchConfig::max_body_bytes`].
    #[must_use]
    pub fn with_max_body_bytes(mut self, limit: usize) -> FetchConfig {
        self.max_body_bytes = limit;
        self
    }

    /// Sets [`FetchConfig::max_json_depth`].
    #[must_use]
    pub fn with_max_json_depth(mut self, limit: usize) -> FetchConfig {
        self.max_json_depth = limit;
        self
    }

    /// Sets [`FetchConfig::max_redirects`].
    #[must_use]
    pub fn with_max_redirects(mut self, limit: usize) -> FetchConfig {
        self.max_redirects = limit;
        self
    }

    /// Sets [`FetchConfig::user_agent`].
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> FetchConfig {
        self.user_agent = user_agent.into();
        self
    }

    /// Sets [`FetchConfig::signer`].
    #[must_use]
    pub fn with_signer(mut self, signer: Signer) -> FetchConfig {
        self.signer = Some(signer);
        self
    }

    /// **Dangerous**: sets [`FetchConfig::danger_allow_http`].
    #[must_use]
    pub fn with_danger_allow_http(mut self, allow: bool) -> FetchConfig {
        self.danger_allow_http = allow;
        self
    }

    /// **Dangerous**: sets [`FetchConfig::danger_allow_private_addresses`].
    #[must_use]
    pub fn with_danger_allow_private_addresses(mut self, allow: bool) -> FetchConfig {
        self.danger_allow_private_addresses = allow;
        self
    }
}

/// What one incoming request (an inbox delivery, a page view) may spend on fetching: a number
/// of requests, of body bytes, a deadline, and the number of links a chain may follow.
///
/// Every [`Fetcher::fetch`] spends from it (each redirect is a request), and
/// [`Fetcher::fetch_chain`] counts its links against [`FetchBudget::max_depth`]; a fetch that
/// would go over a limit fails with [`FetchError::BudgetExhausted`] naming it. Pass the same
/// budget to every fetch made for one incoming request.
///
/// The deadline is a [`tokio::time::Instant`], so tests can pause time.
///
/// A budget kept as configuration (an [`InboxConfig`](crate::inbox::InboxConfig)'s, an
/// [`Outbox`](crate::outbox::Outbox)'s) is a template: [`FetchBudget::renewed`] makes from it the
/// budget of each request, with nothing spent and the deadline its time limit from then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchBudget {
    max_requests: usize,
    max_bytes: usize,
    deadline: Instant,
    time_limit: Duration,
    max_depth: usize,
    requests: usize,
    bytes: usize,
}

/// The limit of a [`FetchBudget`] that ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BudgetLimit {
    /// All the requests it allows were made.
    Requests {
        /// [`FetchBudget::max_requests`].
        max: usize,
    },
    /// All the body bytes it allows were read, or the next body would go over.
    Bytes {
        /// [`FetchBudget::max_bytes`].
        max: usize,
    },
    /// The deadline passed.
    Time,
    /// A chain of links is longer than it allows.
    Depth {
        /// [`FetchBudget::max_depth`].
        max: usize,
    },
}

impl fmt::Display for BudgetLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetLimit::Requests { max } => write!(f, "the limit of {max} requests"),
            BudgetLimit::Bytes { max } => write!(f, "the limit of {max} bytes"),
            BudgetLimit::Time => f.write_str("the deadline"),
            BudgetLimit::Depth { max } => write!(f, "the limit of {max} links in a chain"),
        }
    }
}

impl Default for FetchBudget {
    /// 10 requests, 2 MiB, 15 seconds from now, chains of 5 links.
    fn default() -> FetchBudget {
        FetchBudget {
            max_requests: 10,
            max_bytes: 2 * 1024 * 1024,
            deadline: deadline_in(Duration::from_secs(15)),
            time_limit: Duration::from_secs(15),
            max_depth: 5,
            requests: 0,
            bytes: 0,
        }
    }
}

impl FetchBudget {
    /// Sets the number of requests allowed (redirects count).
    #[must_use]
    pub fn with_max_requests(mut self, max: usize) -> FetchBudget {
        self.max_requests = max;
        self
    }

    /// Sets the number of body bytes allowed, over all fetches.
    #[must_use]
    pub fn with_max_bytes(mut self, max: usize) -> FetchBudget {
        self.max_bytes = max;
        self
    }

    /// Sets the deadline (and the time limit to the time from now until then).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> FetchBudget {
        self.deadline = deadline;
        self.time_limit = deadline.saturating_duration_since(Instant::now());
        self
    }

    /// Sets the time limit, and the deadline to `time` from now.
    #[must_use]
    pub fn with_time_limit(mut self, time: Duration) -> FetchBudget {
        self.deadline = deadline_in(time);
        self.time_limit = time;
        self
    }

    /// A budget with the same limits and nothing spent, whose deadline is
    /// [`FetchBudget::time_limit`] from now: the budget of one request, made from a budget kept
    /// as configuration.
    #[must_use]
    pub fn renewed(&self) -> FetchBudget {
        FetchBudget {
            deadline: deadline_in(self.time_limit),
            requests: 0,
            bytes: 0,
            ..self.clone()
        }
    }

    /// Sets the number of links a chain may follow (see [`Fetcher::fetch_chain`]).
    #[must_use]
    pub fn with_max_depth(mut self, max: usize) -> FetchBudget {
        self.max_depth = max;
        self
    }

    /// The number of requests allowed.
    pub fn max_requests(&self) -> usize {
        self.max_requests
    }

    /// The number of body bytes allowed.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// How long after its making (or [renewal](FetchBudget::renewed)) the budget lasts.
    pub fn time_limit(&self) -> Duration {
        self.time_limit
    }

    /// The number of links a chain may follow.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// The requests made so far.
    pub fn requests_used(&self) -> usize {
        self.requests
    }

    /// The body bytes read so far.
    pub fn bytes_used(&self) -> usize {
        self.bytes
    }

    /// The requests still allowed.
    pub fn remaining_requests(&self) -> usize {
        self.max_requests.saturating_sub(self.requests)
    }

    /// The body bytes still allowed.
    pub fn remaining_bytes(&self) -> usize {
        self.max_bytes.saturating_sub(self.bytes)
    }

    /// Takes one request from the budget, or says which limit forbids it.
    fn take_request(&mut self, url: &Url) -> Result<(), FetchError> {
        let exhausted = |limit| FetchError::BudgetExhausted {
            url: url.clone(),
            limit,
        };
        if Instant::now() >= self.deadline {
            return Err(exhausted(BudgetLimit::Time));
        }
        if self.requests >= self.max_requests {
            return Err(exhausted(BudgetLimit::Requests {
                max: self.max_requests,
            }));
        }
        if self.bytes >= self.max_bytes {
            return Err(exhausted(BudgetLimit::Bytes {
                max: self.max_bytes,
            }));
        }
        self.requests = self.requests.saturating_add(1);
        Ok(())
    }
}

/// Fetches remote ActivityPub objects within the guards described in the [module
/// documentation](self). Cheap to clone: the connection pool and the configuration are shared.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: Arc<FetchConfig>,
}

/// A document fetched and checked: served with an ActivityPub content type, parsed, with an
/// `id` on the origin of the URL it came from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Fetched {
    /// The URL asked for (without its fragment).
    pub requested: Url,
    /// The URL the document was served from, after redirects.
    pub url: Url,
    /// The number of redirects followed.
    pub redirects: usize,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The document's `id`, on the origin of [`Fetched::url`].
    pub id: Iri,
    /// The document and its exact bytes.
    pub document: Received,
}

impl Fetched {
    /// The typed document.
    pub fn object(&self) -> &AnyObject {
        self.document.object()
    }
}

/// Why a [`Fetcher`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The HTTP client could not be built (TLS set-up, for instance).
    #[error("could not build the HTTP client")]
    Client {
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
}

/// Why a fetch failed. Every variant names the URL at fault: for a redirect, the URL that was
/// refused or that answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL (or a redirect's target) is not `https:` (or `http:` with
    /// [`FetchConfig::danger_allow_http`]).
    #[error("refused to fetch `{url}`: only https is allowed (see FetchConfig::danger_allow_http)")]
    RefusedScheme {
        /// The refused URL.
        url: Url,
    },
    /// The host is, or resolves to, a loopback, private or otherwise non-public address.
    #[error(
        "refused to fetch `{url}`: its host is or resolves to the non-public address {address} (see FetchConfig::danger_allow_private_addresses)"
    )]
    RefusedAddress {
        /// The refused URL.
        url: Url,
        /// The address that was refused.
        address: IpAddr,
    },
    /// The URL cannot be written as an HTTP request target.
    #[error("`{url}` cannot be requested over HTTP")]
    InvalidUrl {
        /// The URL.
        url: Url,
    },
    /// More redirects than [`FetchConfig::max_redirects`].
    #[error("`{url}` redirected more than {limit} times")]
    TooManyRedirects {
        /// The URL first asked for.
        url: Url,
        /// The limit.
        limit: usize,
    },
    /// A redirect without a `Location`, or with one that is not a URL.
    #[error("`{url}` redirected to {location:?}, which is not a URL")]
    BadRedirect {
        /// The URL that answered with the redirect.
        url: Url,
        /// The `Location` header, if there was one and it was text.
        location: Option<String>,
    },
    /// 404 Not Found: the server does not know the object (perhaps not yet, or not to us).
    #[error("`{url}` answered 404 Not Found")]
    NotFound {
        /// The URL that answered.
        url: Url,
    },
    /// 410 Gone: the object was deleted; forget what you kept of it.
    #[error("`{url}` answered 410 Gone: the object was deleted")]
    Gone {
        /// The URL that answered.
        url: Url,
    },
    /// Another status that is not 2xx or a redirect (401 and 403 from servers that require
    /// signed fetches, 5xx...).
    #[error("`{url}` answered {status}")]
    Status {
        /// The URL that answered.
        url: Url,
        /// The status.
        status: StatusCode,
    },
    /// The `Content-Type` is not `application/activity+json` nor `application/ld+json` with the
    /// ActivityStreams profile.
    #[error(
        "`{url}` answered with content type {content_type:?}, expected application/activity+json or application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\""
    )]
    WrongContentType {
        /// The URL that answered.
        url: Url,
        /// The `Content-Type` header, if there was one and it was text.
        content_type: Option<String>,
    },
    /// The body is larger than [`FetchConfig::max_body_bytes`]; reading stopped there.
    #[error("the body of `{url}` is larger than {limit} bytes")]
    BodyTooLarge {
        /// The URL that answered.
        url: Url,
        /// The limit.
        limit: usize,
    },
    /// The request took longer than [`FetchConfig::timeout`] (or connecting took longer than
    /// [`FetchConfig::connect_timeout`]).
    #[error("`{url}` did not answer within {limit:?}")]
    Timeout {
        /// The URL.
        url: Url,
        /// The limit that ran out.
        limit: Duration,
    },
    /// The connection could not be made (DNS, TCP, TLS).
    #[error("could not connect to fetch `{url}`")]
    Connect {
        /// The URL.
        url: Url,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP exchange failed after connecting.
    #[error("fetching `{url}` failed")]
    Transport {
        /// The URL.
        url: Url,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The request could not be signed with [`FetchConfig::signer`].
    #[error("could not sign the request for `{url}`")]
    Sign {
        /// The URL.
        url: Url,
        /// What the signer said (boxed: it is large, and rare).
        #[source]
        source: Box<SignError>,
    },
    /// The body is not an ActivityStreams document.
    #[error("the document at `{url}` cannot be read")]
    Parse {
        /// The URL that answered.
        url: Url,
        /// Why (boxed: it is large, and rare).
        #[source]
        source: Box<ParseError>,
    },
    /// The document has no `id`: nothing says which object it is, so it is not trusted.
    #[error("the document at `{url}` has no id")]
    IdMissing {
        /// The URL that answered.
        url: Url,
    },
    /// The document's `id` is on another origin than the URL it was served from: a server
    /// only speaks for its own objects.
    #[error("the document at `{url}` claims the id `{id}`, which is on another origin")]
    IdOriginMismatch {
        /// The URL that answered (after redirects).
        url: Url,
        /// The `id` it claimed.
        id: Iri,
    },
    /// The [`FetchBudget`] does not allow this fetch.
    #[error("fetching `{url}` would go over {limit} of this request's fetch budget")]
    BudgetExhausted {
        /// The URL that was not fetched, or whose fetch was stopped.
        url: Url,
        /// The limit.
        limit: BudgetLimit,
    },
    /// [`Fetcher::fetch_chain`] came back to a URL it had already fetched.
    #[error("the chain of links comes back to `{url}`")]
    Cycle {
        /// The URL seen twice.
        url: Url,
    },
}

impl FetchError {
    /// The URL the error is about.
    pub fn url(&self) -> &Url {
        match self {
            FetchError::RefusedScheme { url }
            | FetchError::RefusedAddress { url, .. }
            | FetchError::InvalidUrl { url }
            | FetchError::TooManyRedirects { url, .. }
            | FetchError::BadRedirect { url, .. }
            | FetchError::NotFound { url }
            | FetchError::Gone { url }
            | FetchError::Status { url, .. }
            | FetchError::WrongContentType { url, .. }
            | FetchError::BodyTooLarge { url, .. }
            | FetchError::Timeout { url, .. }
            | FetchError::Connect { url, .. }
            | FetchError::Transport { url, .. }
            | FetchError::Sign { url, .. }
            | FetchError::Parse { url, .. }
            | FetchError::IdMissing { url }
            | FetchError::IdOriginMismatch { url, .. }
            | FetchError::BudgetExhausted { url, .. }
            | FetchError::Cycle { url } => url,
        }
    }
}

impl Fetcher {
    /// A fetcher with these limits and switches.
    ///
    /// # Errors
    ///
    /// [`BuildError::Client`] when the TLS stack cannot be set up.
    pub fn new(config: FetchConfig) -> Result<Fetcher, BuildError> {
        let mut builder = reqwest::Client::builder()
            // Redirects are followed by `fetch`, which checks and signs each hop.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .no_proxy()
            .https_only(!config.danger_allow_http);
        if !config.danger_allow_private_addresses {
            builder = builder.dns_resolver(PublicOnlyResolver::new());
        }
        let client = builder
            .build()
            .map_err(|source| BuildError::Client { source })?;
        Ok(Fetcher {
            client,
            config: Arc::new(config),
        })
    }

    /// The limits and switches in force.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// GETs the ActivityPub document at `url` (its fragment dropped), following redirects, and
    /// checks it as the [module documentation](self) describes. Spends from `budget`.
    ///
    /// # Errors
    ///
    /// A [`FetchError`] naming the check that failed.
    pub async fn fetch(&self, url: &Url, budget: &mut FetchBudget) -> Result<Fetched, FetchError> {
        let requested = without_fragment(url);
        let deadline = budget.deadline();
        match tokio::time::timeout_at(deadline, self.fetch_within(&requested, budget)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(FetchError::BudgetExhausted {
                url: requested,
                limit: BudgetLimit::Time,
            }),
        }
    }

    /// Fetches `start`, then the link `next` finds in each document, until `next` returns
    /// `None`: the ancestors of a reply (`inReplyTo`), the object of an `Announce`, a
    /// collection's pages. Returns the documents in the order fetched.
    ///
    /// The chain is followed in a loop, never by recursion. It may follow at most
    /// [`FetchBudget::max_depth`] links (so it holds at most `max_depth + 1` documents), and
    /// each fetch spends from `budget` as [`Fetcher::fetch`] does.
    ///
    /// A chain that comes back to a URL it already fetched (compared without fragments, the
    /// URLs asked for, the URLs redirected to and the documents' ids all count) is an error,
    /// [`FetchError::Cycle`], rather than a silent stop: a cycle of replies or announces is never
    /// legitimate, and the caller should not store half of one.
    ///
    /// # Errors
    ///
    /// The first [`FetchError`]; [`FetchError::BudgetExhausted`] with [`BudgetLimit::Depth`]
    /// when the chain is too long, [`FetchError::Cycle`] for a cycle. The documents fetched
    /// before the error are dropped.
    pub async fn fetch_chain<F>(
        &self,
        start: &Url,
        mut next: F,
        budget: &mut FetchBudget,
    ) -> Result<Vec<Fetched>, FetchError>
    where
        F: FnMut(&AnyObject) -> Option<Url>,
    {
        let mut chain: Vec<Fetched> = Vec::new();
        let mut seen: HashSet<Url> = HashSet::new();
        let mut url = without_fragment(start);
        loop {
            if !seen.insert(url.clone()) {
                return Err(FetchError::Cycle { url });
            }
            let fetched = self.fetch(&url, budget).await?;
            if fetched.url != url && !seen.insert(fetched.url.clone()) {
                return Err(FetchError::Cycle { url: fetched.url });
            }
            // An id that differs from its URL (an alias on the same origin) is marked too, so
            // that a link back to it is caught before it is fetched.
            if let Ok(id) = Url::parse(fetched.id.as_str()) {
                seen.insert(without_fragment(&id));
            }
            let link = next(fetched.object());
            chain.push(fetched);
            let Some(link) = link else {
                return Ok(chain);
            };
            // `chain.len()` documents fetched means `chain.len() - 1` links followed; this one
            // would be the `chain.len()`-th.
            if chain.len() > budget.max_depth() {
                return Err(FetchError::BudgetExhausted {
                    url: link,
                    limit: BudgetLimit::Depth {
                        max: budget.max_depth(),
                    },
                });
            }
            url = without_fragment(&link);
        }
    }

    async fn fetch_within(
        &self,
        requested: &Url,
        budget: &mut FetchBudget,
    ) -> Result<Fetched, FetchError> {
        let accept = HeaderValue::from_static(ACCEPT_ACTIVITYPUB);
        let (url, redirects, mut response) = self
            .send_following_redirects(requested, &accept, Some(self.config.timeout), budget)
            .await?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let content_type = match content_type {
            Some(value) if is_activitypub_media_type(&value) => value,
            content_type => return Err(FetchError::WrongContentType { url, content_type }),
        };
        let body = self.read_body(&url, &mut response, budget).await?;
        self.check_document(requested, url, redirects, content_type, body)
    }

    /// GETs a media file (a video, an image, a playlist) at `url` under the same guards as
    /// [`Fetcher::fetch`]: the scheme, the addresses (on every hop), the signature when the
    /// fetcher signs, the redirects (each one spends from `budget`) and the time to the
    /// response's headers ([`FetchConfig::timeout`]). The body is not read: the caller streams
    /// it ([`MediaResponse::bytes_stream`]) within its own limits of size and time, such as
    /// media-store's. A declared `Content-Length` over `max_bytes` is refused before any byte
    /// of the body is read.
    ///
    /// # Errors
    ///
    /// A [`FetchError`] naming the check that failed ([`FetchError::BodyTooLarge`] for the
    /// declared length).
    pub async fn fetch_media(
        &self,
        url: &Url,
        max_bytes: u64,
        budget: &mut FetchBudget,
    ) -> Result<MediaResponse, FetchError> {
        let requested = without_fragment(url);
        let accept = HeaderValue::from_static("*/*");
        let deadline = budget.deadline();
        let sent = tokio::time::timeout_at(
            deadline,
            self.send_following_redirects(&requested, &accept, None, budget),
        )
        .await;
        let (url, redirects, response) = match sent {
            Ok(result) => result?,
            Err(_elapsed) => {
                return Err(FetchError::BudgetExhausted {
                    url: requested,
                    limit: BudgetLimit::Time,
                });
            }
        };
        let content_length = response.content_length();
        if content_length.is_some_and(|length| length > max_bytes) {
            return Err(FetchError::BodyTooLarge {
                url,
                limit: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(MediaResponse {
            url,
            redirects,
            content_type,
            content_length,
            response,
        })
    }

    /// Sends a GET of `requested`, following redirects under the checks; the final URL, the
    /// redirects followed and the (successful) response, its body unread. `timeout` bounds each
    /// request whole, body included (`None`: only the time to the headers, by
    /// [`FetchConfig::timeout`]).
    async fn send_following_redirects(
        &self,
        requested: &Url,
        accept: &HeaderValue,
        timeout: Option<Duration>,
        budget: &mut FetchBudget,
    ) -> Result<(Url, usize, reqwest::Response), FetchError> {
        let mut url = requested.clone();
        let mut redirects = 0_usize;
        loop {
            self.check_url(&url)?;
            budget.take_request(&url)?;
            let headers = self.request_headers(&url, accept)?;
            tracing::debug!(%url, redirects, "fetching");
            let mut request = self.client.get(url.clone()).headers(headers);
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            let response = match tokio::time::timeout(self.config.timeout, request.send()).await {
                Ok(sent) => sent.map_err(|error| self.map_error(&url, error))?,
                Err(_elapsed) => {
                    return Err(FetchError::Timeout {
                        url,
                        limit: self.config.timeout,
                    });
                }
            };
            let status = response.status();
            if is_followed_redirect(status) {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|value| value.to_str().ok());
                let Some(target) = location.and_then(|location| url.join(location).ok()) else {
                    return Err(FetchError::BadRedirect {
                        url,
                        location: location.map(str::to_owned),
                    });
                };
                if redirects >= self.config.max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        url: requested.clone(),
                        limit: self.config.max_redirects,
                    });
                }
                redirects = redirects.saturating_add(1);
                url = without_fragment(&target);
                continue;
            }
            match status {
                StatusCode::NOT_FOUND => return Err(FetchError::NotFound { url }),
                StatusCode::GONE => return Err(FetchError::Gone { url }),
                status if !status.is_success() => return Err(FetchError::Status { url, status }),
                _ => {}
            }
            return Ok((url, redirects, response));
        }
    }

    /// Reads the body within the smaller of the per-fetch cap and what the budget has left.
    async fn read_body(
        &self,
        url: &Url,
        response: &mut reqwest::Response,
        budget: &mut FetchBudget,
    ) -> Result<Vec<u8>, FetchError> {
        let remaining = budget.remaining_bytes();
        let cap = self.config.max_body_bytes.min(remaining);
        let read = read_body_capped(response, cap)
            .await
            .map_err(|error| self.map_error(url, error))?;
        match read {
            CappedBody::Complete(body) => {
                budget.bytes = budget.bytes.saturating_add(body.len());
                Ok(body)
            }
            CappedBody::TooLarge { read } => {
                budget.bytes = budget.bytes.saturating_add(read);
                if self.config.max_body_bytes <= remaining {
                    Err(FetchError::BodyTooLarge {
                        url: url.clone(),
                        limit: self.config.max_body_bytes,
                    })
                } else {
                    Err(FetchError::BudgetExhausted {
                        url: url.clone(),
                        limit: BudgetLimit::Bytes {
                            max: budget.max_bytes(),
                        },
                    })
                }
            }
            // `CappedBody` may grow; anything else is a body that cannot be used.
            _ => Err(FetchError::BodyTooLarge {
                url: url.clone(),
                limit: cap,
            }),
        }
    }

    fn check_document(
        &self,
        requested: &Url,
        url: Url,
        redirects: usize,
        content_type: String,
        body: Vec<u8>,
    ) -> Result<Fetched, FetchError> {
        let limits = Limits::new(self.config.max_body_bytes, self.config.max_json_depth);
        let document = match Received::parse(body, &limits) {
            Ok(document) => document,
            Err(source) => {
                return Err(FetchError::Parse {
                    url,
                    source: Box::new(source),
                });
            }
        };
        let Some(id) = document.object().id().cloned() else {
            return Err(FetchError::IdMissing { url });
        };
        let served_from = Iri::parse(url.as_str()).ok();
        let same_origin = match (Origin::of(&id), served_from.as_ref().and_then(Origin::of)) {
            (Some(id_origin), Some(url_origin)) => id_origin == url_origin,
            _ => false,
        };
        if !same_origin {
            return Err(FetchError::IdOriginMismatch { url, id });
        }
        Ok(Fetched {
            requested: requested.clone(),
            url,
            redirects,
            content_type,
            id,
            document,
        })
    }

    fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        match url.scheme() {
            "https" => {}
            "http" if self.config.danger_allow_http => {}
            _ => return Err(FetchError::RefusedScheme { url: url.clone() }),
        }
        if !self.config.danger_allow_private_addresses {
            check_ip_literal(url).map_err(|refusal| FetchError::RefusedAddress {
                url: url.clone(),
                address: refusal.address,
            })?;
        }
        Ok(())
    }

    /// `Accept`, and with a signer `Host`, `Date` and the signature headers, made now.
    fn request_headers(&self, url: &Url, accept: &HeaderValue) -> Result<HeaderMap, FetchError> {
        let Some(signer) = &self.config.signer else {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, accept.clone());
            return Ok(headers);
        };
        let mut request = http::Request::get(url.as_str())
            .header(ACCEPT, accept.clone())
            .body(Vec::<u8>::new())
            .map_err(|_| FetchError::InvalidUrl { url: url.clone() })?;
        signer
            .sign(&mut request, SystemTime::now())
            .map_err(|source| FetchError::Sign {
                url: url.clone(),
                source: Box::new(source),
            })?;
        Ok(request.into_parts().0.headers)
    }

    fn map_error(&self, url: &Url, error: reqwest::Error) -> FetchError {
        if let Some(refusal) = NonPublicAddress::find_in(&error) {
            return FetchError::RefusedAddress {
                url: url.clone(),
                address: refusal.address,
            };
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
        if error.is_connect() {
            FetchError::Connect {
                url: url.clone(),
                source: error,
            }
        } else {
            FetchError::Transport {
                url: url.clone(),
                source: error,
            }
        }
    }
}

/// A media file's response from [`Fetcher::fetch_media`]: its headers checked, its body not
/// read yet.
#[derive(Debug)]
#[non_exhaustive]
pub struct MediaResponse {
    /// The URL that answered, after the redirects.
    pub url: Url,
    /// How many redirects were followed.
    pub redirects: usize,
    /// The `Content-Type` it declared, if any (not trusted: the caller checks the bytes).
    pub content_type: Option<String>,
    /// The `Content-Length` it declared, if any (at most the `max_bytes` asked for; the
    /// caller checks that the body keeps to it).
    pub content_length: Option<u64>,
    response: reqwest::Response,
}

impl MediaResponse {
    /// The body, as it arrives.
    pub fn bytes_stream(
        self,
    ) -> impl futures::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send {
        self.response.bytes_stream()
    }
}

/// Whether a `Content-Type` is an ActivityPub media type: `application/activity+json` (any
/// parameters), or `application/ld+json` whose `profile` parameter lists the ActivityStreams
/// profile (names are case-insensitive, the value may be quoted and may list several
/// profiles). Plain `application/json` is not: see the [module documentation](self).
pub fn is_activitypub_media_type(content_type: &str) -> bool {
    match media_type_essence(content_type).as_str() {
        "application/activity+json" => true,
        "application/ld+json" => content_type.split(';').skip(1).any(|parameter| {
            parameter.split_once('=').is_some_and(|(name, value)| {
                name.trim().eq_ignore_ascii_case("profile")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|profile| profile == ACTIVITYSTREAMS_PROFILE)
            })
        }),
        _ => false,
    }
}

/// `time` from now, or about thirty years from now when that cannot be represented.
fn deadline_in(time: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(time)
        .or_else(|| now.checked_add(Duration::from_secs(30 * 365 * 24 * 60 * 60)))
        .unwrap_or(now)
}

/// The redirect statuses `fetch` follows (a GET stays a GET for all of them).
fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

/// `url` without its fragment: the fragment is not sent, and `#main-key` names a part of the
/// document at the URL before it.
pub(crate) fn without_fragment(url: &Url) -> Url {
    let mut url = url.clone();
    url.set_fragment(None);
    url
}
