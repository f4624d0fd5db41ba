//! The one error type of the crate.

use http_signatures::{KeyError, KeyKind};

/// Why a Linked Data signature could not be verified or made.
///
/// Each variant says which check failed, so that an operator reading a log knows whether the
/// document, the signature, the key or a limit was at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is not a JSON object.
    #[error("the document is not a JSON object")]
    NotAnObject,
    /// The document has no `signature` member.
    #[error("the document has no `signature`")]
    NoSignature,
    /// The `signature` member is not a JSON object.
    #[error("the document's `signature` is not a JSON object")]
    SignatureNotObject,
    /// The signature's `type` is not `RsaSignature2017`.
    #[error("unsupported signature type {found:?} (only RsaSignature2017 is)")]
    UnsupportedType {
        /// The `type` found, as JSON (`null` when absent).
        found: String,
    },
    /// A member the signature needs is absent or not a string.
    #[error("the signature's `{member}` is missing or not a string")]
    MissingMember {
        /// `creator` or `signatureValue`.
        member: &'static str,
    },
    /// `signatureValue` is not base64.
    #[error("the signature's `signatureValue` is not base64: {reason}")]
    BadBase64 {
        /// What the decoder found.
        reason: String,
    },
    /// The key is not an RSA key, so it cannot check or make an `RsaSignature2017`.
    #[error("a {kind} key cannot check or make an RsaSignature2017 (RSA only)")]
    KeyNotRsa {
        /// The key's kind.
        kind: KeyKind,
    },
    /// The signature does not match the document under this key: the document was changed,
    /// or another key signed it.
    #[error(
        "the signature by {creator} does not match the document under this key \
         (canonical hashes: options {options_hash}, document {document_hash})"
    )]
    Mismatch {
        /// The signature's `creator`.
        creator: String,
        /// SHA-256 (hex) of the canonical signature options.
        options_hash: String,
        /// SHA-256 (hex) of the canonical document.
        document_hash: String,
    },
    /// Signing failed in the cryptographic backend.
    #[error("signing failed: {0}")]
    Sign(#[source] KeyError),
    /// The serialized document is larger than [`Limits::max_bytes`](crate::Limits::max_bytes).
    #[error("the document is {size} bytes long, more than the {limit} allowed")]
    TooLarge {
        /// The document's size as compact JSON.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// The document nests arrays and objects deeper than
    /// [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("the document nests deeper than {limit} levels")]
    TooDeep {
        /// The bound.
        limit: usize,
    },
    /// The document's RDF has more statements than
    /// [`Limits::max_quads`](crate::Limits::max_quads).
    #[error("the document's RDF has more than {limit} statements")]
    TooManyQuads {
        /// The bound.
        limit: usize,
    },
    /// A blank node is linked, through the same property, to more indistinguishable blank
    /// nodes than [`Limits::max_alike_blank_nodes`](crate::Limits::max_alike_blank_nodes):
    /// canonicalization would try every ordering of them.
    #[error(
        "{count} indistinguishable blank nodes share one property of one node (at most {limit}): \
         canonicalization would try all their orderings"
    )]
    TooManyAlikeBlankNodes {
        /// How many there are.
        count: usize,
        /// The bound.
        limit: usize,
    },
    /// Canonicalization stopped after
    /// [`Limits::max_hndq_calls`](crate::Limits::max_hndq_calls) steps of its "Hash N-Degree
    /// Quads" algorithm (a crafted, "poison" graph of blank nodes).
    #[error("canonicalization stopped after {limit} Hash N-Degree Quads steps")]
    CanonicalizationLimit {
        /// The bound.
        limit: usize,
    },
    /// Canonicalization failed for another reason (an internal inconsistency of the
    /// algorithm's implementation).
    #[error("RDF canonicalization failed: {reason}")]
    Canonicalization {
        /// What the implementation reported.
        reason: String,
    },
    /// The document references a context that is not bundled. Contexts are never fetched.
    #[error("the JSON-LD context <{url}> is not bundled, and contexts are never fetched")]
    RemoteContext {
        /// The context URL as written.
        url: String,
    },
    /// The document or one of its inline contexts is not valid JSON-LD.
    #[error("invalid JSON-LD ({code}): {message}")]
    InvalidJsonLd {
        /// The [JSON-LD error code](https://www.w3.org/TR/json-ld11-api/#jsonlderrorcode).
        code: String,
        /// What the processor reported.
        message: String,
    },
    /// An IRI, blank node or language tag produced by JSON-LD processing is not a valid RDF
    /// term.
    #[error("the RDF term `{term}` is not valid: {reason}")]
    InvalidTerm {
        /// The term.
        term: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The signed statements do not have the document's shape, so a reader of the JSON could
    /// be shown something the signature does not say (see [`Structure`]).
    #[error("the signed document is not shaped as signed documents are: {0}")]
    Structure(#[from] Structure),
}

/// How a document's statements fail to match the JSON a reader sees.
///
/// A Linked Data signature covers RDF statements, not JSON. Mastodon merges named graphs into
/// the default graph before hashing (CVE-2026-46349): a signed `Undo{Announce}` can be
/// rearranged into a top-level `Announce` with the `Undo` in a named `@graph` and still verify.
/// Embedding a node or referencing it gives the same statement too, so the same signed
/// statements can be arranged with a nested node at the top. These checks make sure that the
/// node at the top of the JSON is the one the signer put there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Structure {
    /// The document has statements in a named graph (`@graph` on a node with an id).
    #[error("it has statements in the named graph {graph}")]
    NamedGraph {
        /// The graph's name, as N-Quads.
        graph: String,
    },
    /// The top-level object has no `id` that is an absolute IRI.
    #[error("its top-level object has no absolute `id`")]
    NoId,
    /// The top-level object's `id` is the object of another node's statement: it is a nested
    /// node that was moved to the top.
    #[error("its top-level node <{id}> is the object of a statement ({statement})")]
    RootReferenced {
        /// The top-level `id`.
        id: String,
        /// The statement pointing at it, as N-Quads.
        statement: String,
    },
    /// A node is not reachable from the top-level node: the document has several roots.
    #[error("the node {node} is not reachable from the top-level node <{id}>")]
    Detached {
        /// The top-level `id`.
        id: String,
        /// The detached node, as N-Quads.
        node: String,
    },
}
