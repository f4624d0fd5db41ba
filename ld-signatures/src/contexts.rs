//! The JSON-LD contexts served without a network request, and the loader that serves them.

use std::cell::OnceCell;
use std::sync::OnceLock;

use json_ld::syntax::Parse;
use json_ld::{IriBuf, LoadError, Loader, RemoteDocument};

/// A JSON-LD context document carried by this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundledContext {
    /// The URL documents reference it by.
    pub url: &'static str,
    /// The document, byte for byte the repository's `fixtures/contexts/` file.
    pub document: &'static str,
}

/// The identity v1 context, which the signature options are canonicalized with.
pub const IDENTITY_V1: &str = "https://w3id.org/identity/v1";
/// The security v1 context, which defines `signature`, `signatureValue` and the key terms.
pub const SECURITY_V1: &str = "https://w3id.org/security/v1";
/// The ActivityStreams 2.0 context.
pub const ACTIVITYSTREAMS: &str = "https://www.w3.org/ns/activitystreams";

/// The contexts Linked Data signatures on the fediverse need: ActivityStreams, security v1 and
/// identity v1, as Mastodon preloads them (see `fixtures/MANIFEST.tsv`). Each is also found
/// under its `http://` spelling and with a trailing `#`.
pub const BUNDLED_CONTEXTS: &[BundledContext] = &[
    BundledContext {
        url: ACTIVITYSTREAMS,
        document: include_str!("../../fixtures/contexts/activitystreams.jsonld"),
    },
    BundledContext {
        url: SECURITY_V1,
        document: include_str!("../../fixtures/contexts/security-v1.jsonld"),
    },
    BundledContext {
        url: IDENTITY_V1,
        document: include_str!("../../fixtures/contexts/identity-v1.jsonld"),
    },
];

/// The bundled context for `url`, if there is one.
pub fn bundled_context(url: &str) -> Option<&'static BundledContext> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let rest = rest.strip_suffix('#').unwrap_or(rest);
    BUNDLED_CONTEXTS
        .iter()
        .find(|c| c.url.strip_prefix("https://") == Some(rest))
}

/// A document loader that serves the bundled contexts and nothing else. It remembers the first
/// URL it could not serve, so that the caller reports [`crate::Error::RemoteContext`] rather
/// than the processor's generic loading error.
#[derive(Default)]
pub(crate) struct BundledLoader {
    unknown: OnceCell<String>,
}

impl BundledLoader {
    /// The first URL asked for that is not bundled.
    pub(crate) fn unknown(&self) -> Option<&str> {
        self.unknown.get().map(String::as_str)
    }
}

impl Loader for BundledLoader {
    async fn load(&self, url: &json_ld::Iri) -> Result<RemoteDocument<IriBuf>, LoadError> {
        let Some(context) = bundled_context(url.as_str()) else {
            // Processing stops at the first failure: only that one matters.
            let _ = self.unknown.set(url.as_str().to_owned());
            return Err(LoadError::new(url.to_owned(), NotBundled));
        };
        let value = parsed(context).map_err(|e| LoadError::new(url.to_owned(), e))?;
        Ok(RemoteDocument::new(Some(url.to_owned()), None, value))
    }
}

/// A bundled context parsed once (parsing the ActivityStreams context on every document was a
/// third of the time of a verification).
fn parsed(
    context: &BundledContext,
) -> Result<json_ld::syntax::Value, json_ld::syntax::parse::Error> {
    static PARSED: OnceLock<Vec<(&'static str, Option<json_ld::syntax::Value>)>> = OnceLock::new();
    let all = PARSED.get_or_init(|| {
        BUNDLED_CONTEXTS
            .iter()
            .map(|c| {
                let parsed = json_ld::syntax::Value::parse_str(c.document).ok();
                (c.url, parsed.map(|(value, _)| value))
            })
            .collect()
    });
    match all.iter().find(|(url, _)| *url == context.url) {
        Some((_, Some(value))) => Ok(value.clone()),
        // Not parsed (a bundled file is tested to parse): parse again for the error.
        _ => json_ld::syntax::Value::parse_str(context.document).map(|(value, _)| value),
    }
}

/// The cause handed to the JSON-LD processor when a context is not bundled.
#[derive(Debug, thiserror::Error)]
#[error("context not bundled (contexts are never fetched)")]
struct NotBundled;
