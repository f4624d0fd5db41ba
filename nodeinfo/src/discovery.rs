//! The discovery document at `/.well-known/nodeinfo`
//! ([protocol](https://github.com/jhass/nodeinfo/blob/main/PROTOCOL.md)), with the instance
//! actor link of [FEP-2677](https://codeberg.org/fediverse/fep/src/branch/main/fep/2677/fep-2677.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use url::Url;
use webfinger::{Link, Rel};

use crate::vocabulary::Version;

/// The FEP-2677 relation of the link to the instance actor: the `Application` actor that
/// represents the server itself (it signs fetches and relay subscriptions).
pub const INSTANCE_ACTOR_REL: Rel =
    Rel::from_static("https://www.w3.org/ns/activitystreams#Application");

/// The `/.well-known/nodeinfo` document: a JRD whose links point at the NodeInfo documents,
/// one per schema version, and maybe at the instance actor.
///
/// Links with other relations are kept, as are members this type does not model.
///
/// ```
/// use nodeinfo::{DiscoveryDocument, Version};
/// use url::Url;
///
/// let document = DiscoveryDocument::new()
///     .with_nodeinfo(Version::V2_1, &Url::parse("https://example.org/nodeinfo/2.1")?)
///     .with_instance_actor(&Url::parse("https://example.org/actor")?);
/// let (version, url) = document.best_nodeinfo().expect("a link");
/// assert_eq!((version, url.as_str()), (Version::V2_1, "https://example.org/nodeinfo/2.1"));
/// assert_eq!(document.instance_actor().map(|url| url.to_string()).as_deref(),
///            Some("https://example.org/actor"));
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiscoveryDocument {
    /// The links, in the order the server gave them.
    #[serde(default, deserialize_with = "null_as_default")]
    pub links: Vec<Link>,
    /// Members this type does not model, kept as they came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Why bytes are not a discovery document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Not JSON, or not shaped like a JRD (a link without `rel`, say).
    #[error("not a NodeInfo discovery document")]
    Json {
        /// What the JSON parser said.
        #[from]
        source: serde_json::Error,
    },
}

impl DiscoveryDocument {
    /// A document with no links.
    pub fn new() -> DiscoveryDocument {
        DiscoveryDocument::default()
    }

    /// Adds a link to the NodeInfo document of `version` at `href`.
    #[must_use]
    pub fn with_nodeinfo(mut self, version: Version, href: &Url) -> DiscoveryDocument {
        self.links
            .push(Link::new(version.rel()).with_href(href.as_str()));
        self
    }

    /// Adds the FEP-2677 link to the instance actor at `href`.
    #[must_use]
    pub fn with_instance_actor(mut self, href: &Url) -> DiscoveryDocument {
        self.links
            .push(Link::new(INSTANCE_ACTOR_REL).with_href(href.as_str()));
        self
    }

    /// Reads a discovery document.
    ///
    /// # Errors
    ///
    /// [`DiscoveryError::Json`] when it is not JSON or not shaped like a JRD.
    pub fn from_slice(bytes: &[u8]) -> Result<DiscoveryDocument, DiscoveryError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The links to NodeInfo documents, with the version each names.
    pub fn nodeinfo_links(&self) -> impl Iterator<Item = (Version, &Link)> {
        self.links
            .iter()
            .filter_map(|link| Version::from_rel(&link.rel).map(|version| (version, link)))
    }

    /// The newest version this crate can read that has a link with an absolute `http(s)` URL,
    /// as the protocol says a client should pick.
    pub fn best_nodeinfo(&self) -> Option<(Version, Url)> {
        self.nodeinfo_links()
            .filter(|(version, _)| version.is_known())
            .filter_map(|(version, link)| {
                link.href
                    .as_deref()
                    .and_then(absolute_http_url)
                    .map(|url| (version, url))
            })
            .max_by(|(a, _), (b, _)| a.cmp(b))
    }

    /// The instance actor's URL (FEP-2677), if the document links to one.
    pub fn instance_actor(&self) -> Option<Url> {
        self.links
            .iter()
            .filter(|link| link.rel == INSTANCE_ACTOR_REL)
            .find_map(|link| link.href.as_deref().and_then(absolute_http_url))
    }
}

fn absolute_http_url(href: &str) -> Option<Url> {
    Url::parse(href)
        .ok()
        .filter(|url| matches!(url.scheme(), "https" | "http") && url.host().is_some())
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
