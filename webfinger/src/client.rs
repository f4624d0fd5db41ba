//! Resolving over HTTPS (feature `client`): from what a person typed to an ActivityPub actor
//! id, the way Mastodon does it.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use webfinger::Resource;
//! use webfinger::client::Client;
//! use webfinger::fetch::HttpConfig;
//!
//! let client = Client::from_config(HttpConfig::default())?;
//! let resolved = client
//!     .resolve(&Resource::from_user_input("@Gargron@mastodon.social")?)
//!     .await?;
//! println!("{} is {}", resolved.subject, resolved.actor_id);
//! # Ok(())
//! # }
//! ```

// The errors carry the URLs involved, which makes them large; they are made once per failed
// network request, where their size costs nothing next to the I/O.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use http::StatusCode;
use url::Url;

use crate::actor::{ActorHandle, ActorLinkError, RoundTripError, SubjectCheck, subject_check};
use crate::fetch::{
    BuildError, FetchError, Fetched, Fetcher, HttpConfig, is_json_media_type, is_xml_media_type,
};
use crate::jrd::{Jrd, JrdError};
use crate::rel::Rel;
use crate::resource::{AcctUri, Host, Resource, ResourceError};
use crate::xrd::{self, TemplateError, XrdError};

/// The `Accept` header of a WebFinger request.
const ACCEPT_JRD: &str = "application/jrd+json, application/json;q=0.9";
/// The `Accept` header of a host-meta request: XRD first, JRD accepted.
const ACCEPT_HOST_META: &str = "application/xrd+xml, application/xml;q=0.9, text/xml;q=0.8, application/jrd+json;q=0.5, application/json;q=0.4";

/// A WebFinger client: lookups with the host-meta fallback, resolution to an actor id with the
/// subject hop, and Mastodon's round-trip check. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    fetcher: Fetcher,
    max_subject_hops: usize,
    total_timeout: Duration,
    host_meta_fallback: bool,
}

/// The outcome of [`Client::resolve`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resolved {
    /// The canonical name of the account: the JRD's `acct:` subject (after any hop), or the
    /// resource asked for when the subject confirms it or is not an `acct:` URI.
    pub subject: Resource,
    /// The ActivityPub actor id, from the `self` link.
    pub actor_id: Url,
    /// The JRD the actor id came from.
    pub jrd: Jrd,
}

/// Why a WebFinger lookup ([`Client::lookup`]) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The resource names no host to ask (a `mailto:` URI, say).
    #[error("cannot look up this resource")]
    NoHost {
        /// Why.
        source: ResourceError,
    },
    /// The WebFinger request failed (refused, timed out, wrong status or content type, too
    /// large).
    #[error("the WebFinger request failed")]
    Fetch {
        /// What went wrong.
        source: FetchError,
    },
    /// The server answered 410 Gone: the account existed and was deleted.
    #[error("`{url}` says the resource is gone (410)")]
    Gone {
        /// The URL that answered 410.
        url: Url,
    },
    /// The server's answer is not a JRD.
    #[error("`{url}` did not answer with a valid JRD")]
    InvalidJrd {
        /// The URL that answered.
        url: Url,
        /// Why the body is not a JRD.
        source: JrdError,
    },
    /// WebFinger answered 404 and fetching host-meta failed too.
    #[error("WebFinger answered 404 and the host-meta request failed")]
    HostMetaFetch {
        /// What went wrong with host-meta.
        source: FetchError,
    },
    /// host-meta is XML but not an XRD.
    #[error("`{url}` is not a valid host-meta XRD")]
    InvalidHostMetaXrd {
        /// The host-meta URL.
        url: Url,
        /// Why.
        source: XrdError,
    },
    /// host-meta is JSON but not a JRD.
    #[error("`{url}` is not a valid host-meta JRD")]
    InvalidHostMetaJrd {
        /// The host-meta URL.
        url: Url,
        /// Why.
        source: JrdError,
    },
    /// host-meta has no `lrdd` link with a template.
    #[error("`{url}` has no lrdd link with a template")]
    NoLrddTemplate {
        /// The host-meta URL.
        url: Url,
    },
    /// host-meta's `lrdd` template is unusable.
    #[error("the lrdd template of `{url}` is unusable")]
    InvalidLrddTemplate {
        /// The host-meta URL.
        url: Url,
        /// Why.
        source: TemplateError,
    },
}

/// Why [`Client::resolve`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// A lookup on the way failed.
    #[error("looking up `{resource}` failed")]
    Lookup {
        /// The resource being looked up (after any subject hop).
        resource: Resource,
        /// Why.
        source: LookupError,
    },
    /// The subjects kept naming other accounts.
    #[error("`{resource}` still named another account (`{last}`) after {limit} subject hop(s)")]
    TooManySubjectHops {
        /// The resource first asked for.
        resource: Resource,
        /// The subject that would have been the next hop.
        last: AcctUri,
        /// The limit.
        limit: usize,
    },
    /// The JRD has no usable ActivityPub `self` link.
    #[error("`{resource}` has no ActivityPub actor")]
    NoActor {
        /// The resource whose JRD it is.
        resource: Resource,
        /// What is missing.
        source: ActorLinkError,
    },
    /// The whole resolution took longer than the client's total time limit.
    #[error("resolving `{resource}` took longer than {limit:?}")]
    Timeout {
        /// The resource first asked for.
        resource: Resource,
        /// The limit.
        limit: Duration,
    },
}

/// Why [`Client::verify_actor`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The actor's `preferredUsername` and id give no `acct:` URI.
    #[error(transparent)]
    Handle(#[from] RoundTripError),
    /// Resolving `preferredUsername@host` failed.
    #[error("resolving the actor's handle failed")]
    Resolve {
        /// Why.
        #[from]
        source: ResolveError,
    },
    /// `preferredUsername@host` resolves to another actor: the actor's handle cannot be
    /// trusted.
    #[error("`{handle}` resolves to `{found}`, not to the actor `{actor_id}`")]
    Mismatch {
        /// The actor that was checked.
        actor_id: Url,
        /// The handle that was resolved.
        handle: AcctUri,
        /// The actor id it resolved to.
        found: Url,
    },
}

impl Client {
    /// A client using `fetcher` (share one with the `nodeinfo` client to share connections),
    /// following at most one subject hop (as Mastodon), with a total time limit of 30 s per
    /// resolution and the host-meta fallback on.
    pub fn new(fetcher: Fetcher) -> Client {
        Client {
            fetcher,
            max_subject_hops: 1,
            total_timeout: Duration::from_secs(30),
            host_meta_fallback: true,
        }
    }

    /// A client with its own [`Fetcher`].
    ///
    /// # Errors
    ///
    /// [`BuildError`] when the HTTP client cannot be built.
    pub fn from_config(config: HttpConfig) -> Result<Client, BuildError> {
        Fetcher::new(config).map(Client::new)
    }

    /// Sets how many times [`Client::resolve`] follows a subject naming another account.
    #[must_use]
    pub fn with_max_subject_hops(mut self, hops: usize) -> Client {
        self.max_subject_hops = hops;
        self
    }

    /// Sets the time limit for a whole [`Client::resolve`] (all its requests together).
    #[must_use]
    pub fn with_total_timeout(mut self, limit: Duration) -> Client {
        self.total_timeout = limit;
        self
    }

    /// Turns the host-meta fallback on a 404 on or off.
    #[must_use]
    pub fn with_host_meta_fallback(mut self, enabled: bool) -> Client {
        self.host_meta_fallback = enabled;
        self
    }

    /// The fetcher, to share with other clients.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// One WebFinger query: `GET https://host/.well-known/webfinger?resource=...` (with `rel`
    /// filters, if any). On 404, reads `/.well-known/host-meta` (XRD or JRD) and queries the
    /// `lrdd` template instead, once.
    ///
    /// # Errors
    ///
    /// [`LookupError`] saying which step failed.
    pub async fn lookup(&self, resource: &Resource, rels: &[Rel]) -> Result<Jrd, LookupError> {
        let host = resource.host().ok_or_else(|| LookupError::NoHost {
            source: ResourceError::NoHostToAsk {
                resource: resource.to_string(),
            },
        })?;
        let path = resource.webfinger_path_and_query(rels);
        match self.fetcher.get_from_host(&host, &path, ACCEPT_JRD).await {
            Ok(fetched) => parse_jrd(fetched),
            Err(FetchError::Status { status, .. })
                if status == StatusCode::NOT_FOUND && self.host_meta_fallback =>
            {
                self.lookup_via_host_meta(&host, resource, rels).await
            }
            Err(error) => Err(status_error(error)),
        }
    }

    /// Resolves a resource to its ActivityPub actor: looks it up, follows a subject naming
    /// another account (at most [`Client::with_max_subject_hops`] times, then the last subject
    /// must confirm itself), and reads the actor id from the `self` link.
    ///
    /// # Errors
    ///
    /// [`ResolveError`] saying which step failed.
    pub async fn resolve(&self, resource: &Resource) -> Result<Resolved, ResolveError> {
        tokio::time::timeout(self.total_timeout, self.resolve_within_time(resource))
            .await
            .unwrap_or_else(|_| {
                Err(ResolveError::Timeout {
                    resource: resource.clone(),
                    limit: self.total_timeout,
                })
            })
    }

    /// Mastodon's round trip: resolves `preferredUsername@host-of-the-id` and checks that it
    /// leads back to the actor's id. Returns the canonical `acct:` URI to show for the actor.
    ///
    /// The caller fetches the actor (or reads `id` and `preferredUsername` from JSON it has with
    /// [`ActorHandle::from_actor_json`]).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Mismatch`] when the handle belongs to another actor; other variants when
    /// it cannot be checked.
    pub async fn verify_actor(&self, actor: &ActorHandle) -> Result<AcctUri, VerifyError> {
        let handle = actor.round_trip_resource()?;
        let resolved = self.resolve(&Resource::Acct(handle.clone())).await?;
        if resolved.actor_id != actor.id {
            return Err(VerifyError::Mismatch {
                actor_id: actor.id.clone(),
                handle,
                found: resolved.actor_id,
            });
        }
        Ok(match resolved.subject {
            Resource::Acct(canonical) => canonical,
            Resource::Uri(_) => handle,
        })
    }

    async fn resolve_within_time(&self, resource: &Resource) -> Result<Resolved, ResolveError> {
        let mut current = resource.clone();
        let mut hops = 0;
        loop {
            let jrd = self
                .lookup(&current, &[])
                .await
                .map_err(|source| ResolveError::Lookup {
                    resource: current.clone(),
                    source,
                })?;
            let subject = match &current {
                Resource::Acct(acct) => match subject_check(acct, &jrd) {
                    SubjectCheck::Confirmed(canonical) => Resource::Acct(canonical),
                    SubjectCheck::Redirect(next) => {
                        if hops >= self.max_subject_hops {
                            return Err(ResolveError::TooManySubjectHops {
                                resource: resource.clone(),
                                last: next,
                                limit: self.max_subject_hops,
                            });
                        }
                        hops += 1;
                        current = Resource::Acct(next);
                        continue;
                    }
                },
                // Looked up by URL: the server's acct: subject, when it gives one, is the name.
                Resource::Uri(_) => match jrd.subject_resource() {
                    Some(Ok(named @ Resource::Acct(_))) => named,
                    _ => current.clone(),
                },
            };
            let actor_id = jrd
                .activitypub_id()
                .map_err(|source| ResolveError::NoActor {
                    resource: subject.clone(),
                    source,
                })?;
            return Ok(Resolved {
                subject,
                actor_id,
                jrd,
            });
        }
    }

    async fn lookup_via_host_meta(
        &self,
        host: &Host,
        resource: &Resource,
        rels: &[Rel],
    ) -> Result<Jrd, LookupError> {
        let fetched = self
            .fetcher
            .get_from_host(host, crate::HOST_META_PATH, ACCEPT_HOST_META)
            .await
            .map_err(|source| LookupError::HostMetaFetch { source })?;
        let media_type = fetched.media_type();
        let looks_like_xml =
            fetched.body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'<');
        let host_meta = match media_type.as_deref() {
            Some(json) if is_json_media_type(json) => {
                Jrd::from_slice(&fetched.body).map_err(|source| {
                    LookupError::InvalidHostMetaJrd {
                        url: fetched.url.clone(),
                        source,
                    }
                })?
            }
            Some(xml) if is_xml_media_type(xml) => {
                xrd::parse(&fetched.body).map_err(|source| LookupError::InvalidHostMetaXrd {
                    url: fetched.url.clone(),
                    source,
                })?
            }
            // Some servers send host-meta as text/plain or with no type; XML is what it is.
            _ if looks_like_xml => {
                xrd::parse(&fetched.body).map_err(|source| LookupError::InvalidHostMetaXrd {
                    url: fetched.url.clone(),
                    source,
                })?
            }
            _ => {
                return Err(LookupError::HostMetaFetch {
                    source: FetchError::UnexpectedContentType {
                        url: fetched.url,
                        content_type: fetched.content_type,
                        expected: "application/xrd+xml or application/json",
                    },
                });
            }
        };
        let template = host_meta
            .lrdd_template()
            .ok_or_else(|| LookupError::NoLrddTemplate {
                url: fetched.url.clone(),
            })?;
        let mut url = xrd::expand_lrdd_template(template, resource).map_err(|source| {
            LookupError::InvalidLrddTemplate {
                url: fetched.url.clone(),
                source,
            }
        })?;
        if !rels.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for rel in rels {
                pairs.append_pair("rel", rel.as_str());
            }
        }
        match self.fetcher.get(&url, ACCEPT_JRD).await {
            Ok(fetched) => parse_jrd(fetched),
            Err(error) => Err(status_error(error)),
        }
    }
}

fn parse_jrd(fetched: Fetched) -> Result<Jrd, LookupError> {
    fetched
        .require_json()
        .map_err(|source| LookupError::Fetch { source })?;
    Jrd::from_slice(&fetched.body).map_err(|source| LookupError::InvalidJrd {
        url: fetched.url,
        source,
    })
}

fn status_error(error: FetchError) -> LookupError {
    match error {
        FetchError::Status { url, status } if status == StatusCode::GONE => {
            LookupError::Gone { url }
        }
        source => LookupError::Fetch { source },
    }
}
