//! Optional [JSON-LD 1.1] processing (feature `jsonld`): expansion, conversion to RDF and
//! [RDF Dataset Canonicalization] (RDFC-1.0, the successor of URDNA2015) to canonical N-Quads.
//!
//! Remote contexts are **never fetched**. The contexts the fediverse uses are bundled with the
//! crate (see [`BUNDLED_CONTEXTS`]); a document that references any other context URL fails
//! with [`JsonLdError::UnknownContext`]. Inline term definitions (how Mastodon, Mobilizon and
//! PeerTube describe their extensions) need nothing bundled. As ActivityStreams requires, the
//! ActivityStreams context applies to every document, also one with no `@context` at all.
//!
//! ```
//! use serde_json::json;
//!
//! let note = json!({
//!     "@context": ["https://www.w3.org/ns/activitystreams", {"sensitive": "as:sensitive"}],
//!     "id": "https://example.com/notes/1",
//!     "type": "Note",
//!     "sensitive": true
//! });
//! let expanded = activitypub_core::jsonld::expand(&note)?;
//! assert_eq!(
//!     expanded[0]["@type"][0],
//!     "https://www.w3.org/ns/activitystreams#Note"
//! );
//! assert!(expanded[0]["https://www.w3.org/ns/activitystreams#sensitive"].is_array());
//!
//! let nquads = activitypub_core::jsonld::canonicalize(&note)?;
//! assert!(nquads.contains("<https://example.com/notes/1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://www.w3.org/ns/activitystreams#Note> .\n"));
//! # Ok::<(), activitypub_core::jsonld::JsonLdError>(())
//! ```
//!
//! The input is an already parsed [`serde_json::Value`]: read untrusted bytes with
//! [`read_json`](crate::read_json) and its [`Limits`](crate::Limits) first. Canonicalization
//! bounds its own work on crafted ("poison") graphs and fails with
//! [`JsonLdError::TooComplex`] past that bound.
//!
//! [JSON-LD 1.1]: https://www.w3.org/TR/json-ld11-api/
//! [RDF Dataset Canonicalization]: https://www.w3.org/TR/rdf-canon/

use std::cell::OnceCell;
use std::fmt;

use json_ld::rdf_types::{self, LiteralType, generator};
use json_ld::syntax::{IntoJsonWithContext, Parse};
use json_ld::{
    ExpandError, IriBuf, JsonLdProcessor, LoadError, Loader, Options, RemoteContextReference,
    RemoteDocument, ValidId,
};
use oxrdf::{BlankNode, Dataset, GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};

/// A JSON-LD context document carried by this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundledContext {
    /// The URL documents use to reference the context, as published.
    pub url: &'static str,
    /// The context document, byte for byte as published (see `contexts/README.md`).
    pub document: &'static str,
}

/// Every context this crate serves without a network request.
///
/// Each is also found under its `http://` spelling and with or without a trailing `#`. Besides
/// these, `https://HOST/schemas/litepub-0.1.jsonld` on any host is Pleroma's LitePub context:
/// every Pleroma instance serves the same file from that path, and documents name their own
/// instance's copy.
pub const BUNDLED_CONTEXTS: &[BundledContext] = &[
    BundledContext {
        url: AS2_CONTEXT,
        document: include_str!("../contexts/activitystreams.jsonld"),
    },
    BundledContext {
        url: "https://w3id.org/security/v1",
        document: include_str!("../contexts/security-v1.jsonld"),
    },
    BundledContext {
        url: "https://w3id.org/security/data-integrity/v1",
        document: include_str!("../contexts/data-integrity-v1.jsonld"),
    },
    BundledContext {
        url: "https://w3id.org/security/data-integrity/v2",
        document: include_str!("../contexts/data-integrity-v2.jsonld"),
    },
    BundledContext {
        url: "https://w3id.org/security/multikey/v1",
        document: include_str!("../contexts/multikey-v1.jsonld"),
    },
    BundledContext {
        url: "https://litepub.social/litepub/context.jsonld",
        document: include_str!("../contexts/litepub.jsonld"),
    },
    BundledContext {
        url: PLEROMA_LITEPUB_URL,
        document: include_str!("../contexts/litepub-pleroma.jsonld"),
    },
];

const AS2_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";

/// The name under which Pleroma's per-instance LitePub context is listed in
/// [`BUNDLED_CONTEXTS`]; any host's `/schemas/litepub-0.1.jsonld` resolves to it.
const PLEROMA_LITEPUB_URL: &str = "https://pleroma.social/schemas/litepub-0.1.jsonld";
const PLEROMA_LITEPUB_PATH: &str = "/schemas/litepub-0.1.jsonld";

/// How much work RDFC-1.0 may do on one document, in calls of its "Hash N-Degree Quads"
/// step. Real activities need a handful; crafted graphs of interlinked blank nodes need
/// exponentially many. This is the bound `rdf-canon` applies by default.
pub const CANONICALIZATION_LIMIT: usize = 4000;

/// Why JSON-LD processing of a document failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonLdError {
    /// The document (or a bundled context) references a remote context this crate does not
    /// carry. Contexts are never fetched over the network.
    #[error("the JSON-LD context <{url}> is not bundled, and contexts are never fetched")]
    UnknownContext {
        /// The context URL, as the document wrote it.
        url: String,
    },
    /// The document or one of its inline contexts is not valid JSON-LD.
    #[error("invalid JSON-LD ({code}): {message}")]
    Invalid {
        /// The error code the [JSON-LD API](https://www.w3.org/TR/json-ld11-api/#jsonlderrorcode)
        /// assigns, such as `invalid @id value`.
        code: String,
        /// What the processor reported.
        message: String,
    },
    /// An IRI, blank node or language tag from the document was rejected by the RDF model.
    #[error("the RDF term `{term}` is not valid: {reason}")]
    InvalidTerm {
        /// The term as produced by JSON-LD processing.
        term: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Canonicalization gave up: the document's blank-node graph needs more than
    /// [`CANONICALIZATION_LIMIT`] steps (a "poison" dataset).
    #[error(
        "canonicalization stopped after {limit} Hash N-Degree Quads steps: the blank-node \
         graph is too complex"
    )]
    TooComplex {
        /// The bound that was reached.
        limit: usize,
    },
    /// The canonicalization algorithm failed for another reason (an internal inconsistency).
    #[error("RDF canonicalization failed: {0}")]
    Canonicalization(#[source] CanonicalizationFailure),
}

/// An internal failure of the canonicalization algorithm, kept opaque so that the RDF
/// libraries stay out of this crate's public API.
#[derive(Debug)]
pub struct CanonicalizationFailure(rdf_canon::CanonicalizationError);

impl fmt::Display for CanonicalizationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CanonicalizationFailure {}

/// Expands a JSON-LD document ([JSON-LD 1.1 API §4.1](https://www.w3.org/TR/json-ld11-api/#expansion)):
/// every term becomes a full IRI, every value an array, every context is gone.
///
/// The result is the expanded form, always a JSON array; entries are processed in
/// lexicographic order, so the output does not depend on the input's key order.
pub fn expand(document: &serde_json::Value) -> Result<serde_json::Value, JsonLdError> {
    let input = remote_document(document)?;
    let loader = BundledLoader::default();
    let options = Options {
        ordered: true,
        ..options()?
    };
    let expanded = futures::executor::block_on(input.expand_using(&loader, options))
        .map_err(|e| loader.expand_error(e))?;
    let objects = expanded
        .into_iter()
        .map(|object| object.into_json_with(&()))
        .collect::<Vec<_>>();
    from_json_syntax(json_ld::syntax::Value::Array(objects))
}

/// Converts a JSON-LD document to RDF ([JSON-LD 1.1 API §4.5](https://www.w3.org/TR/json-ld11-api/#serialize-rdf-as-json-ld))
/// and serializes the dataset as N-Quads, one statement per line in the order they were
/// produced, blank nodes labelled `_:b0`, `_:b1`... in order of appearance.
///
/// This is not a canonical form: use [`canonicalize`] to compare or sign documents.
pub fn to_nquads(document: &serde_json::Value) -> Result<String, JsonLdError> {
    let mut out = String::new();
    for quad in quads(document)? {
        out.push_str(&quad.to_string());
        out.push_str(" .\n");
    }
    Ok(out)
}

/// Canonical N-Quads of a JSON-LD document: converts it to RDF and applies
/// [RDF Dataset Canonicalization (RDFC-1.0)](https://www.w3.org/TR/rdf-canon/) with SHA-256,
/// the algorithm published earlier as URDNA2015.
///
/// Two documents that differ only in key order, compaction, context or blank-node labels
/// give the same string. This is the input Linked Data Signatures (`RsaSignature2017`) and
/// Data Integrity `*-rdfc-*` cryptosuites hash.
pub fn canonicalize(document: &serde_json::Value) -> Result<String, JsonLdError> {
    let dataset = quads(document)?.into_iter().collect::<Dataset>();
    rdf_canon::canonicalize(&dataset).map_err(|e| match e {
        rdf_canon::CanonicalizationError::HndqCallLimitExceeded(limit) => {
            JsonLdError::TooComplex { limit }
        }
        other => JsonLdError::Canonicalization(CanonicalizationFailure(other)),
    })
}

/// The bundled context document for `url`, if there is one (see [`BUNDLED_CONTEXTS`] for the
/// spellings accepted).
pub fn bundled_context(url: &str) -> Option<&'static BundledContext> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let rest = rest.strip_suffix('#').unwrap_or(rest);
    if let Some(found) = BUNDLED_CONTEXTS
        .iter()
        .filter(|c| c.url != PLEROMA_LITEPUB_URL)
        .find(|c| c.url.strip_prefix("https://") == Some(rest))
    {
        return Some(found);
    }
    if is_pleroma_litepub(url) {
        return BUNDLED_CONTEXTS
            .iter()
            .find(|c| c.url == PLEROMA_LITEPUB_URL);
    }
    None
}

/// `http(s)://HOST/schemas/litepub-0.1.jsonld`, nothing more (no query, no fragment, no
/// credentials).
fn is_pleroma_litepub(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    matches!(parsed.scheme(), "https" | "http")
        && parsed.host().is_some()
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.path() == PLEROMA_LITEPUB_PATH
        && parsed.query().is_none()
        && parsed.fragment().is_none()
}

/// Expands `document` and lists its RDF quads as the RDF model's values.
fn quads(document: &serde_json::Value) -> Result<Vec<Quad>, JsonLdError> {
    let input = remote_document(document)?;
    let loader = BundledLoader::default();
    let generator = generator::Blank::new_with_prefix("b".to_owned());
    let mut rdf = futures::executor::block_on(input.to_rdf_using(generator, &loader, options()?))
        .map_err(|e| {
        let json_ld::ToRdfError::Expand(e) = e;
        loader.expand_error(e)
    })?;
    rdf.cloned_quads()
        .map(|json_ld::rdf_types::Quad(s, p, o, g)| {
            Ok(Quad::new(
                subject(s)?,
                predicate(p)?,
                object(o)?,
                match g {
                    None => GraphName::DefaultGraph,
                    Some(g) => match subject(g)? {
                        NamedOrBlankNode::NamedNode(n) => GraphName::NamedNode(n),
                        NamedOrBlankNode::BlankNode(b) => GraphName::BlankNode(b),
                    },
                },
            ))
        })
        .collect()
}

fn subject(id: ValidId) -> Result<NamedOrBlankNode, JsonLdError> {
    Ok(match id {
        ValidId::Iri(iri) => named_node(iri)?.into(),
        ValidId::Blank(blank) => BlankNode::new(blank.suffix())
            .map_err(|e| JsonLdError::InvalidTerm {
                term: blank.to_string(),
                reason: e.to_string(),
            })?
            .into(),
    })
}

fn predicate(id: ValidId) -> Result<NamedNode, JsonLdError> {
    match id {
        ValidId::Iri(iri) => named_node(iri),
        // Only generalized RDF has blank-node predicates, and it is not requested.
        ValidId::Blank(blank) => Err(JsonLdError::InvalidTerm {
            term: blank.to_string(),
            reason: "a blank node cannot be a predicate".to_owned(),
        }),
    }
}

fn object(term: rdf_types::Term<ValidId, rdf_types::Literal>) -> Result<Term, JsonLdError> {
    Ok(match term {
        rdf_types::Term::Id(id) => match subject(id)? {
            NamedOrBlankNode::NamedNode(n) => n.into(),
            NamedOrBlankNode::BlankNode(b) => b.into(),
        },
        rdf_types::Term::Literal(literal) => match literal.type_ {
            LiteralType::Any(datatype) => {
                Literal::new_typed_literal(literal.value, named_node(datatype)?).into()
            }
            // The tag was validated by the JSON-LD processor. It is kept as written (not
            // lower-cased) because that is what other JSON-LD implementations hash.
            LiteralType::LangString(tag) => {
                Literal::new_language_tagged_literal_unchecked(literal.value, tag.as_str()).into()
            }
        },
    })
}

fn named_node(iri: IriBuf) -> Result<NamedNode, JsonLdError> {
    NamedNode::new(iri.as_str()).map_err(|e| JsonLdError::InvalidTerm {
        term: iri.to_string(),
        reason: e.to_string(),
    })
}

/// Processing options: the ActivityStreams context applies to every document.
///
/// [AS2 Core §2.1](https://www.w3.org/TR/activitystreams-core/#jsonld): a document served as
/// `application/activity+json` whose `@context` does not reference the ActivityStreams context
/// must be processed as if it did. Applying it first as the `expandContext` is that rule, and
/// changes nothing for documents that name it themselves (the same definitions again).
fn options() -> Result<Options, JsonLdError> {
    let as2 = IriBuf::new(AS2_CONTEXT.to_owned()).map_err(|e| JsonLdError::InvalidTerm {
        term: AS2_CONTEXT.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Options::default().with_expand_context(RemoteContextReference::iri(as2)))
}

/// The input as the JSON-LD processor's own JSON value, with no document URL (relative IRIs
/// stay relative and are dropped, as the JSON-LD API specifies without a base).
fn remote_document(
    document: &serde_json::Value,
) -> Result<RemoteDocument<IriBuf, json_ld::syntax::Value>, JsonLdError> {
    refuse_undecodable_iris(document, None)?;
    // `serde_json::Value` always serializes: its keys are strings.
    let text = document.to_string();
    let (value, _) =
        json_ld::syntax::Value::parse_str(&text).map_err(|e| JsonLdError::Invalid {
            code: "loading document failed".to_owned(),
            message: e.to_string(),
        })?;
    Ok(RemoteDocument::new(None, None, value))
}

/// Refuses IRIs whose percent-encoded bytes are not UTF-8 (`https://example.com/?q=%ac`): the
/// IRI library under the JSON-LD processor panics when it compares them. A string counts as an
/// IRI when it is a member name, the value of a member that holds ids or types, or when it has
/// an IRI's delimiters (`:`, `/`, `?`, `#`); text such as `100%beautiful` is left alone.
fn refuse_undecodable_iris(
    value: &serde_json::Value,
    member: Option<&str>,
) -> Result<(), JsonLdError> {
    const ID_MEMBERS: [&str; 6] = ["@id", "id", "@base", "@vocab", "@type", "type"];
    let refuse = |term: &str| JsonLdError::InvalidTerm {
        term: term.to_owned(),
        reason: "its percent-encoded bytes are not UTF-8".to_owned(),
    };
    match value {
        serde_json::Value::String(text) => {
            let iri_like = member.is_some_and(|m| ID_MEMBERS.contains(&m))
                || text.contains([':', '/', '?', '#']);
            if iri_like && !percent_decodes_to_utf8(text) {
                return Err(refuse(text));
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                refuse_undecodable_iris(item, member)?;
            }
        }
        serde_json::Value::Object(members) => {
            for (name, value) in members {
                if !percent_decodes_to_utf8(name) {
                    return Err(refuse(name));
                }
                refuse_undecodable_iris(value, Some(name))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether the `%XX` escapes of `text` decode to UTF-8 (a `%` not followed by two hex digits
/// is taken as it is).
fn percent_decodes_to_utf8(text: &str) -> bool {
    !text.contains('%') || std::str::from_utf8(&percent_decode(text.as_bytes())).is_ok()
}

fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%'
            && let [high, low, after @ ..] = tail
            && let (Some(high), Some(low)) = (hex(*high), hex(*low))
        {
            // Two hex digits are below 256.
            out.push(u8::try_from(high * 16 + low).unwrap_or(u8::MAX));
            rest = after;
            continue;
        }
        out.push(first);
        rest = tail;
    }
    out
}

fn from_json_syntax(value: json_ld::syntax::Value) -> Result<serde_json::Value, JsonLdError> {
    serde_json::from_str(&value.to_string()).map_err(|e| JsonLdError::Invalid {
        code: "invalid JSON-LD syntax".to_owned(),
        message: e.to_string(),
    })
}

/// A document loader that serves the bundled contexts and nothing else. It remembers the
/// first URL it could not serve, so the caller gets [`JsonLdError::UnknownContext`] instead
/// of the processor's generic loading error.
#[derive(Default)]
struct BundledLoader {
    unknown: OnceCell<String>,
}

impl BundledLoader {
    fn expand_error(&self, error: ExpandError) -> JsonLdError {
        match self.unknown.get() {
            Some(url) => JsonLdError::UnknownContext { url: url.clone() },
            None => JsonLdError::Invalid {
                code: error.code().as_str().to_owned(),
                message: error.to_string(),
            },
        }
    }
}

impl Loader for BundledLoader {
    async fn load(&self, url: &json_ld::Iri) -> Result<RemoteDocument<IriBuf>, LoadError> {
        let Some(context) = bundled_context(url.as_str()) else {
            // Only the first failure matters: processing stops there.
            let _ = self.unknown.set(url.as_str().to_owned());
            return Err(LoadError::new(url.to_owned(), NotBundled));
        };
        let (value, _) = json_ld::syntax::Value::parse_str(context.document)
            .map_err(|e| LoadError::new(url.to_owned(), e))?;
        Ok(RemoteDocument::new(Some(url.to_owned()), None, value))
    }
}

/// The cause given to the JSON-LD processor when a context is not bundled.
#[derive(Debug, thiserror::Error)]
#[error("context not bundled (contexts are never fetched)")]
struct NotBundled;
