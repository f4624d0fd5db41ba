//! Why a document was rejected.

use crate::json::JsonKind;
use crate::values::IriError;

/// Why a document could not be read. Each variant names what was wrong; an optional member with
/// a bad value never causes one (it stays raw in `props.extra`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The document is larger than [`crate::Limits::max_bytes`].
    #[error("the document is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Size of the document.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The document nests arrays and objects deeper than [`crate::Limits::max_depth`].
    #[error("the document nests deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// The bytes are not JSON (or not UTF-8, or have trailing data).
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The document is not a JSON object (a top-level array, a string...).
    #[error("the document is {found}, not a JSON object")]
    NotAnObject {
        /// What it is instead.
        found: JsonKind,
    },
    /// There is no `type` member.
    #[error("field `type` is missing")]
    MissingType,
    /// `type` is neither a string nor an array of strings.
    #[error("field `type` is {found}, expected a string or an array of strings")]
    InvalidType {
        /// What it is instead.
        found: JsonKind,
    },
    /// `type` is an array with an entry that is not a string.
    #[error("field `type` holds {found}, expected only strings")]
    InvalidTypeEntry {
        /// What the entry is instead.
        found: JsonKind,
    },
    /// `type` is an empty array.
    #[error("field `type` is an empty array")]
    EmptyType,
    /// `id` is not a string.
    #[error("field `id` is {found}, expected a string")]
    IdNotAString {
        /// What it is instead.
        found: JsonKind,
    },
    /// `id` is a string but not an absolute IRI.
    #[error("field `id` ({value:?}) is not an absolute IRI: {reason}")]
    InvalidId {
        /// The value.
        value: String,
        /// What is wrong with it.
        #[source]
        reason: IriError,
    },
}
