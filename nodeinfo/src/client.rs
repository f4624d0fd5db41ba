//! Discovering and fetching NodeInfo (feature `client`), through the guarded
//! [`Fetcher`] of the `webfinger` crate: https only, public addresses only, bounded size, time
//! and redirects, unless its `danger_` switches say otherwise.

use http::StatusCode;
use url::Url;
use webfinger::Host;
use webfinger::fetch::{BuildError, FetchError, Fetcher, HttpConfig};

use crate::discovery::{DiscoveryDocument, DiscoveryError};
use crate::document::{NodeInfo, ParseError};
use crate::vocabulary::Version;

const ACCEPT_JSON: &str = "application/json, application/jrd+json;q=0.9";

/// A NodeInfo client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    fetcher: Fetcher,
}

/// A fetched discovery document.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Discovered {
    /// Where it came from (after redirects).
    pub url: Url,
    /// The document.
    pub document: DiscoveryDocument,
}

/// A server's NodeInfo, with how it was found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// The discovery document and its URL.
    pub discovery: Discovered,
    /// The version of the link that was followed.
    pub linked_version: Version,
    /// Where the NodeInfo document came from (after redirects).
    pub nodeinfo_url: Url,
    /// The document.
    pub nodeinfo: NodeInfo,
    /// The instance actor (FEP-2677), if the discovery document links to one.
    pub instance_actor: Option<Url>,
}

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// The server answered 404, 400 or 410: it does not support NodeInfo (the protocol says to
    /// give up).
    #[error("`{url}` answered {status}: the server does not support NodeInfo")]
    NotSupported {
        /// The URL.
        url: Url,
        /// The status.
        status: StatusCode,
    },
    /// The request failed.
    #[error("fetching the NodeInfo discovery document failed")]
    Fetch {
        /// Why.
        source: FetchError,
    },
    /// The answer is not a discovery document.
    #[error("`{url}` is not a valid discovery document")]
    Invalid {
        /// The URL.
        url: Url,
        /// Why.
        source: DiscoveryError,
    },
}

/// Why [`Client::fetch`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeInfoError {
    /// Discovery failed.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    /// The discovery document links to no NodeInfo version this crate reads.
    #[error("`{url}` links to no NodeInfo document of a known version")]
    NoNodeInfoLink {
        /// The discovery document's URL.
        url: Url,
    },
    /// Fetching the NodeInfo document failed.
    #[error("fetching the NodeInfo document failed")]
    Fetch {
        /// Why.
        source: FetchError,
    },
    /// The answer is not a NodeInfo document.
    #[error("`{url}` is not a valid NodeInfo document")]
    Invalid {
        /// The URL.
        url: Url,
        /// Why.
        source: ParseError,
    },
}

impl Client {
    /// A client using `fetcher` (share one with the WebFinger client to share connections).
    pub fn new(fetcher: Fetcher) -> Client {
        Client { fetcher }
    }

    /// A client with its own [`Fetcher`].
    ///
    /// # Errors
    ///
    /// [`BuildError`] when the HTTP client cannot be built.
    pub fn from_config(config: HttpConfig) -> Result<Client, BuildError> {
        Fetcher::new(config).map(Client::new)
    }

    /// Fetches `https://host/.well-known/nodeinfo`.
    ///
    /// # Errors
    ///
    /// [`DiscoverError`].
    pub async fn discover(&self, host: &Host) -> Result<Discovered, DiscoverError> {
        let fetched = match self
            .fetcher
            .get_from_host(host, crate::WELL_KNOWN_PATH, ACCEPT_JSON)
            .await
        {
            Ok(fetched) => fetched,
            Err(FetchError::Status { url, status })
                if matches!(
                    status,
                    StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST | StatusCode::GONE
                ) =>
            {
                return Err(DiscoverError::NotSupported { url, status });
            }
            Err(source) => return Err(DiscoverError::Fetch { source }),
        };
        fetched
            .require_json()
            .map_err(|source| DiscoverError::Fetch { source })?;
        let document = DiscoveryDocument::from_slice(&fetched.body).map_err(|source| {
            DiscoverError::Invalid {
                url: fetched.url.clone(),
                source,
            }
        })?;
        Ok(Discovered {
            url: fetched.url,
            document,
        })
    }

    /// Discovers, then fetches the newest NodeInfo version the server links to.
    ///
    /// # Errors
    ///
    /// [`NodeInfoError`] saying which step failed.
    pub async fn fetch(&self, host: &Host) -> Result<Report, NodeInfoError> {
        let discovery = self.discover(host).await?;
        let (linked_version, url) =
            discovery
                .document
                .best_nodeinfo()
                .ok_or_else(|| NodeInfoError::NoNodeInfoLink {
                    url: discovery.url.clone(),
                })?;
        let fetched = self
            .fetcher
            .get(&url, ACCEPT_JSON)
            .await
            .map_err(|source| NodeInfoError::Fetch { source })?;
        fetched
            .require_json()
            .map_err(|source| NodeInfoError::Fetch { source })?;
        let nodeinfo =
            NodeInfo::from_slice(&fetched.body).map_err(|source| NodeInfoError::Invalid {
                url: fetched.url.clone(),
                source,
            })?;
        let instance_actor = discovery.document.instance_actor();
        Ok(Report {
            discovery,
            linked_version,
            nodeinfo_url: fetched.url,
            nodeinfo,
            instance_actor,
        })
    }
}
