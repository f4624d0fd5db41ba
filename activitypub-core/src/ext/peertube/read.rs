//! Checks shared by the readers and the builders of this module.

use serde_json::{Map, Value};

use super::error::{FieldError, Problem, excerpt};
use super::limits::{MAX_DURATION_SECS, MAX_URL_CHARS};
use crate::values::{Address, IsoDuration, OneOrMany, PUBLIC};
use crate::{AnyObject, Iri, Reference, reference_id};

/// Checks that `iri` is an absolute `http` or `https` URL with a host, of at most
/// [`MAX_URL_CHARS`] characters, as PeerTube's `isActivityPubUrlValid` wants.
pub(crate) fn http_url(iri: &Iri) -> Result<(), Problem> {
    let chars = iri.as_str().chars().count();
    if chars > MAX_URL_CHARS {
        return Err(Problem::TooLong {
            chars,
            max: MAX_URL_CHARS,
        });
    }
    match iri.origin() {
        Some(origin) if matches!(origin.scheme(), "http" | "https") => Ok(()),
        _ => Err(Problem::NotHttpUrl {
            value: excerpt(iri.as_str()),
        }),
    }
}

/// [`http_url`] for a text that may not even be an IRI.
pub(crate) fn http_url_str(text: &str) -> Result<Iri, Problem> {
    let iri = Iri::parse(text).map_err(|_| Problem::NotHttpUrl {
        value: excerpt(text),
    })?;
    http_url(&iri)?;
    Ok(iri)
}

/// Checks that `text` is a UUID: 32 hexadecimal digits in groups of 8-4-4-4-12.
pub(crate) fn uuid(text: &str) -> Result<(), Problem> {
    let groups: Vec<&str> = text.split('-').collect();
    let shape_ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if shape_ok {
        Ok(())
    } else {
        Err(Problem::NotUuid {
            value: excerpt(text),
        })
    }
}

/// Checks that `text` has between `min` and `max` characters.
pub(crate) fn length(text: &str, min: usize, max: usize) -> Result<(), Problem> {
    let chars = text.chars().count();
    if chars < min {
        Err(Problem::TooShort { chars, min })
    } else if chars > max {
        Err(Problem::TooLong { chars, max })
    } else {
        Ok(())
    }
}

/// `text` cut to `max` characters.
pub(crate) fn truncate(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((end, _)) => (text.get(..end).unwrap_or(text).to_owned(), true),
        None => (text.to_owned(), false),
    }
}

/// Checks that `value` is at most `max`.
pub(crate) fn at_most(value: u64, max: u64) -> Result<u64, Problem> {
    if value > max {
        Err(Problem::TooLarge { value, max })
    } else {
        Ok(value)
    }
}

/// The length of `duration` in whole seconds (a fraction is dropped, as PeerTube does), when it
/// has a fixed length, is not negative and is at most [`MAX_DURATION_SECS`].
pub(crate) fn duration_secs(duration: &IsoDuration) -> Result<u64, Problem> {
    let std = duration.to_std().ok_or_else(|| Problem::BadDuration {
        value: excerpt(duration.as_str()),
    })?;
    at_most(std.as_secs(), MAX_DURATION_SECS)
}

/// Why the typed field for `key` is empty: what `extra` holds under that name.
pub(crate) fn why_absent(extra: &Map<String, Value>, key: &str, expected: &'static str) -> Problem {
    match extra.get(key) {
        None | Some(Value::Null) => Problem::Missing,
        Some(value) => shape_problem(value, expected),
    }
}

/// Why `value` is not what was `expected`.
pub(crate) fn shape_problem(value: &Value, expected: &'static str) -> Problem {
    match value {
        Value::Null => Problem::Missing,
        Value::Number(n) if n.as_i64().is_some_and(|i| i < 0) => Problem::Negative,
        Value::Number(n) if n.as_f64().is_some_and(|f| f < 0.0) => Problem::Negative,
        _ => Problem::WrongType { expected },
    }
}

/// A bounded count from a typed `u64` field or, when it did not fit, the reason found in
/// `extra`. `Ok(None)` when the member is absent.
pub(crate) fn count(
    typed: Option<u64>,
    extra: &Map<String, Value>,
    key: &str,
    max: u64,
) -> Result<Option<u64>, Problem> {
    match typed {
        Some(v) => at_most(v, max).map(Some),
        None => match why_absent(extra, key, "a non-negative integer") {
            Problem::Missing => Ok(None),
            problem => Err(problem),
        },
    }
}

/// A non-negative integer member of a plain JSON map, bounded by `max`. `Ok(None)` when absent.
pub(crate) fn map_count(
    map: &Map<String, Value>,
    key: &str,
    max: u64,
) -> Result<Option<u64>, Problem> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => match n.as_u64() {
            Some(v) => at_most(v, max).map(Some),
            None => Err(Problem::WrongType {
                expected: "a non-negative integer",
            }),
        },
        Some(other) => Err(shape_problem(other, "a non-negative integer")),
    }
}

/// The id of a reference, checked as an http(s) URL.
pub(crate) fn reference_url(reference: &Reference<AnyObject>) -> Result<Iri, Problem> {
    let id = reference_id(reference).ok_or(Problem::Missing)?;
    http_url(id)?;
    Ok(id.clone())
}

/// The ids an addressing property names, the public collection written in full.
pub(crate) fn addresses(list: Option<&OneOrMany<Address>>) -> Vec<Iri> {
    list.into_iter()
        .flatten()
        .filter_map(|address| match address {
            Address::Public(_) => Some(Iri::from_checked(PUBLIC.to_owned())),
            other => other.id().cloned(),
        })
        .collect()
}

/// Collects dropped values.
#[derive(Debug, Default)]
pub(crate) struct Dropped(pub(crate) Vec<FieldError>);

impl Dropped {
    /// Records that `field` was left out because of `problem`.
    pub(crate) fn push(&mut self, field: impl Into<String>, problem: Problem) {
        self.0.push(FieldError::new(field, problem));
    }

    /// The value of `result`, or `None` after recording its problem under `field`.
    pub(crate) fn keep<T>(&mut self, field: &str, result: Result<T, Problem>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(problem) => {
                self.push(field, problem);
                None
            }
        }
    }

    /// Like [`Dropped::keep`] for a result that may also be empty.
    pub(crate) fn keep_opt<T>(
        &mut self,
        field: &str,
        result: Result<Option<T>, Problem>,
    ) -> Option<T> {
        self.keep(field, result).flatten()
    }
}

/// Turns a problem with `field` into the error that refuses the document.
pub(crate) fn refuse<T>(field: &str, result: Result<T, Problem>) -> Result<T, FieldError> {
    result.map_err(|problem| FieldError::new(field, problem))
}
