//! Why a value was refused ([`FieldError`], [`Problem`]).

/// A value that was refused, and where. A reader returns one when a value the document cannot
/// do without is missing or wrong (the whole document is refused); it lists those it left out
/// of a summary in the summary's `dropped`; a builder returns one for a value the application
/// gave that the readers of this module (and PeerTube) would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
#[non_exhaustive]
pub struct FieldError {
    /// The member, as a path into the document (`duration`, `url[3].size`, `icon[0]`).
    pub field: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl FieldError {
    /// `field` has `problem`.
    pub fn new(field: impl Into<String>, problem: Problem) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }
}

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The member is absent (or `null`).
    #[error("is missing")]
    Missing,
    /// The value has the wrong JSON shape.
    #[error("is not {expected}")]
    WrongType {
        /// What was expected (`"an integer"`, `"a string"`...).
        expected: &'static str,
    },
    /// A number that must not be negative is.
    #[error("is negative")]
    Negative,
    /// A number is larger than its bound.
    #[error("is {value}, over the limit of {max}")]
    TooLarge {
        /// The value.
        value: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// A number is smaller than its bound.
    #[error("is {value}, under the minimum of {min}")]
    TooSmall {
        /// The value.
        value: u64,
        /// The smallest value accepted.
        min: u64,
    },
    /// A text is longer than its bound, in characters.
    #[error("has {chars} characters, over the limit of {max}")]
    TooLong {
        /// Its length in characters.
        chars: usize,
        /// The longest accepted.
        max: usize,
    },
    /// A text is shorter than its bound, in characters.
    #[error("has {chars} characters, under the minimum of {min}")]
    TooShort {
        /// Its length in characters.
        chars: usize,
        /// The shortest accepted.
        min: usize,
    },
    /// A URL that must be an absolute `http` or `https` URL with a host is not one.
    #[error("is not an http(s) URL: {value:?}")]
    NotHttpUrl {
        /// The value (cut to 200 characters).
        value: String,
    },
    /// A `uuid` is not a UUID (`8-4-4-4-12` hexadecimal digits).
    #[error("is not a UUID: {value:?}")]
    NotUuid {
        /// The value (cut to 200 characters).
        value: String,
    },
    /// A duration is not an ISO 8601 duration of a fixed length (no years or months), or is
    /// negative.
    #[error("is not a non-negative ISO 8601 duration of fixed length: {value:?}")]
    BadDuration {
        /// The value (cut to 200 characters).
        value: String,
    },
    /// A media type is not one this value may have.
    #[error("has media type {media_type:?}, expected {expected}")]
    WrongMediaType {
        /// The media type received (empty when there was none).
        media_type: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An entry repeats one already kept (a second icon of the same size).
    #[error("repeats an earlier entry")]
    Duplicate,
}

/// `value`, cut to 200 characters, for an error message.
pub(crate) fn excerpt(value: &str) -> String {
    value.chars().take(200).collect()
}
