//! The JSON Resource Descriptor ([RFC 7033 §4.4](https://www.rfc-editor.org/rfc/rfc7033#section-4.4)).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::rel::Rel;

/// A JSON Resource Descriptor: what a WebFinger query returns, and what host-meta and the
/// NodeInfo discovery document are made of.
///
/// Reading is lenient (`null` where a list or object is expected reads as empty) and lossless:
/// members this type does not model are kept in [`Jrd::extra`] and written back. Empty lists and
/// objects are left out when writing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jrd {
    /// The URI the document describes (§4.4.1). RFC 7033 says SHOULD, and some servers leave it
    /// out, so it is optional; [`Jrd::subject_resource`] parses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Other URIs for the same entity (§4.4.2), such as the actor id and the profile page.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    /// Properties of the subject (§4.4.3): URIs mapped to a string or `null`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub properties: BTreeMap<String, Option<String>>,
    /// The links (§4.4.4), in the order the server gave them.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub links: Vec<Link>,
    /// Members this type does not model, kept as they came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A link of a JRD ([RFC 7033 §4.4.4](https://www.rfc-editor.org/rfc/rfc7033#section-4.4.4)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Link {
    /// The relation type.
    pub rel: Rel,
    /// The media type of the target, as given (parameters included).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The target URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// A URI template instead of `href` (OStatus subscribe, host-meta `lrdd`), holding `{uri}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Titles by language tag (`und` when the language is not known).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub titles: BTreeMap<String, String>,
    /// Properties of the link: URIs mapped to a string or `null`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub properties: BTreeMap<String, Option<String>>,
    /// Members this type does not model, kept as they came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Why bytes are not a JRD.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JrdError {
    /// Not JSON, or JSON of the wrong shape (the message names the line, column and member).
    #[error("not a valid JRD")]
    Json {
        /// What the JSON parser said.
        #[from]
        source: serde_json::Error,
    },
}

impl Jrd {
    /// A JRD about `subject`, with no aliases, properties or links.
    pub fn new(subject: impl Into<String>) -> Jrd {
        Jrd {
            subject: Some(subject.into()),
            ..Jrd::default()
        }
    }

    /// Adds an alias at the end, unless the JRD already lists it: an alias names another URI
    /// for the subject, and saying it twice says nothing more (a server whose profile page is
    /// its actor id would otherwise list that URL twice).
    #[must_use]
    pub fn with_alias(mut self, alias: impl Into<String>) -> Jrd {
        let alias = alias.into();
        if !self.aliases.contains(&alias) {
            self.aliases.push(alias);
        }
        self
    }

    /// Adds a property.
    #[must_use]
    pub fn with_property(mut self, uri: impl Into<String>, value: Option<String>) -> Jrd {
        self.properties.insert(uri.into(), value);
        self
    }

    /// Adds a link at the end.
    #[must_use]
    pub fn with_link(mut self, link: Link) -> Jrd {
        self.links.push(link);
        self
    }

    /// Parses a JRD from JSON bytes.
    ///
    /// # Errors
    ///
    /// [`JrdError::Json`] when the bytes are not JSON or not shaped like a JRD (for instance a
    /// link without `rel`).
    pub fn from_slice(bytes: &[u8]) -> Result<Jrd, JrdError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The subject parsed as a [`Resource`](crate::Resource), if there is one.
    pub fn subject_resource(&self) -> Option<Result<crate::Resource, crate::ResourceError>> {
        self.subject.as_deref().map(str::parse)
    }

    /// The links with relation `rel`, in document order.
    pub fn links_with_rel(&self, rel: &Rel) -> impl Iterator<Item = &Link> {
        let rel = rel.clone();
        self.links.iter().filter(move |link| link.rel == rel)
    }

    /// The first link with relation `rel`.
    pub fn link(&self, rel: &Rel) -> Option<&Link> {
        self.links.iter().find(|link| link.rel == *rel)
    }

    /// Keeps only the links whose relation is in `rels`, as a server does for a query with `rel`
    /// parameters ([RFC 7033 §4.3](https://www.rfc-editor.org/rfc/rfc7033#section-4.3)). An
    /// empty `rels` keeps every link.
    pub fn retain_rels(&mut self, rels: &[Rel]) {
        if !rels.is_empty() {
            self.links.retain(|link| rels.contains(&link.rel));
        }
    }

    /// The `template` of the first `lrdd` link, the WebFinger endpoint a host-meta document
    /// points at.
    pub fn lrdd_template(&self) -> Option<&str> {
        self.links
            .iter()
            .filter(|link| link.rel == Rel::LRDD)
            .find_map(|link| link.template.as_deref())
    }
}

impl Link {
    /// A link with relation `rel` and nothing else.
    pub fn new(rel: impl Into<Rel>) -> Link {
        Link {
            rel: rel.into(),
            media_type: None,
            href: None,
            template: None,
            titles: BTreeMap::new(),
            properties: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Sets the media type.
    #[must_use]
    pub fn with_media_type(mut self, media_type: impl Into<String>) -> Link {
        self.media_type = Some(media_type.into());
        self
    }

    /// Sets the target URI.
    #[must_use]
    pub fn with_href(mut self, href: impl Into<String>) -> Link {
        self.href = Some(href.into());
        self
    }

    /// Sets the URI template.
    #[must_use]
    pub fn with_template(mut self, template: impl Into<String>) -> Link {
        self.template = Some(template.into());
        self
    }

    /// Adds a title in a language (`und` when not known).
    #[must_use]
    pub fn with_title(mut self, language: impl Into<String>, title: impl Into<String>) -> Link {
        self.titles.insert(language.into(), title.into());
        self
    }

    /// Adds a property.
    #[must_use]
    pub fn with_property(mut self, uri: impl Into<String>, value: Option<String>) -> Link {
        self.properties.insert(uri.into(), value);
        self
    }
}

/// Reads `null` as the type's default (an empty list or map): several servers write `null`
/// where RFC 7033 has an empty member or none.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
