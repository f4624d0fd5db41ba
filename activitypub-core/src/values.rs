//! The value types properties are made of: IRIs, timestamps, durations, one-or-many values,
//! references that are either an id or an embedded object, and the `@context`.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use serde_json::{Number, Value};
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::json::{FromJson, Raw, back_to_raw, data_object};

/// An absolute IRI, as ActivityPub uses for every `id` and reference.
///
/// Construction checks what cheaply tells an IRI from anything else: a scheme (a letter, then
/// letters, digits, `+`, `-` or `.`), a colon, and no whitespace or control character. The text is
/// kept exactly as received (no normalization), so it serializes back byte for byte; use
/// [`Iri::origin`] for comparisons that must ignore case and default ports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iri(String);

/// Why a string is not an absolute IRI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IriError {
    /// The string is empty.
    #[error("the IRI is empty")]
    Empty,
    /// There is no `scheme:` at the start (a relative reference, or a bare word).
    #[error("the IRI has no scheme (it must be absolute, like `https://host/path`)")]
    MissingScheme,
    /// A character that no IRI may contain.
    #[error("the IRI contains {character:?} at byte {index}")]
    ForbiddenCharacter {
        /// Byte offset of the character.
        index: usize,
        /// The character.
        character: char,
    },
}

impl Iri {
    /// Checks and wraps `iri`.
    pub fn parse(iri: impl Into<String>) -> Result<Self, IriError> {
        Self::from_string(iri.into()).map_err(|(_, e)| e)
    }

    /// Wraps a string that [`check_iri`] already accepted.
    pub(crate) fn from_checked(iri: String) -> Self {
        Self(iri)
    }

    /// Like [`Iri::parse`], but hands the string back with the error.
    pub(crate) fn from_string(iri: String) -> Result<Self, (String, IriError)> {
        match check_iri(&iri) {
            Ok(()) => Ok(Self(iri)),
            Err(e) => Err((iri, e)),
        }
    }

    /// The IRI as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unwraps the string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The scheme, host and port of this IRI, normalized (lowercase host, IDNs in ASCII form,
    /// default ports made explicit), or `None` when the IRI has no host (`urn:`, `acct:`...).
    pub fn origin(&self) -> Option<crate::origin::Origin> {
        crate::origin::Origin::of(self)
    }
}

pub(crate) fn check_iri(s: &str) -> Result<(), IriError> {
    let bytes = s.as_bytes();
    match bytes.first() {
        None => return Err(IriError::Empty),
        Some(b) if b.is_ascii_alphabetic() => {}
        Some(_) => return Err(IriError::MissingScheme),
    }
    let mut saw_colon = false;
    for &b in bytes.iter().skip(1) {
        if b == b':' {
            saw_colon = true;
            break;
        }
        if !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
            return Err(IriError::MissingScheme);
        }
    }
    if !saw_colon {
        return Err(IriError::MissingScheme);
    }
    // Almost every IRI is printable ASCII (0x21..=0x7e). This fold has no early exit so that it
    // compiles to a vectorized loop; characters are decoded only when it finds another byte.
    let outside = bytes
        .iter()
        .fold(0u8, |acc, &b| acc | u8::from(b.wrapping_sub(0x21) >= 0x5e));
    if outside == 0 {
        return Ok(());
    }
    match s
        .char_indices()
        .find(|(_, c)| c.is_control() || c.is_whitespace())
    {
        Some((index, character)) => Err(IriError::ForbiddenCharacter { index, character }),
        None => Ok(()),
    }
}

impl fmt::Display for Iri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Iri {
    type Err = IriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for Iri {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Iri {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Iri {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for Iri {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl FromJson for Iri {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::String(s) => Self::from_string(s).map_err(|(s, _)| Raw::String(s)),
            other => Err(other),
        }
    }
}

/// A point in time (`xsd:dateTime`), with the text it was read from.
///
/// RFC 3339 is what the specification asks for; a timestamp without an offset, which some servers
/// send, is read as UTC. The original text is what serializes, so `.000Z` stays `.000Z`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    raw: String,
    time: OffsetDateTime,
}

/// Why a string is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 date-time: {text:?}")]
#[non_exhaustive]
pub struct TimestampError {
    /// The rejected text.
    pub text: String,
}

impl Timestamp {
    /// Parses an RFC 3339 date-time (or an ISO 8601 one without offset, taken as UTC).
    pub fn parse(text: impl Into<String>) -> Result<Self, TimestampError> {
        Self::from_string(text.into()).map_err(|text| TimestampError { text })
    }

    fn from_string(raw: String) -> Result<Self, String> {
        let time = match OffsetDateTime::parse(&raw, &Rfc3339) {
            Ok(t) => t,
            Err(_) => match PrimitiveDateTime::parse(&raw, &Iso8601::DEFAULT) {
                Ok(t) => t.assume_utc(),
                Err(_) => return Err(raw),
            },
        };
        Ok(Self { raw, time })
    }

    /// A timestamp for `time`, written in RFC 3339.
    pub fn new(time: OffsetDateTime) -> Self {
        // Formatting an in-range OffsetDateTime as RFC 3339 only fails for years outside 0..=9999
        // or offsets with seconds; fall back to the ISO 8601 form then.
        let raw = time
            .format(&Rfc3339)
            .or_else(|_| time.format(&Iso8601::DEFAULT))
            .unwrap_or_default();
        Self { raw, time }
    }

    /// The point in time.
    pub fn time(&self) -> OffsetDateTime {
        self.time
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl FromJson for Timestamp {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::String(s) => Self::from_string(s).map_err(Raw::String),
            other => Err(other),
        }
    }
}

/// An ISO 8601 duration (`xsd:duration`), such as PeerTube's `"PT1145S"`, with its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IsoDuration {
    raw: String,
    negative: bool,
    years: u64,
    months: u64,
    /// Whole seconds of the day-time part (weeks, days, hours, minutes, seconds).
    seconds: u64,
    nanos: u32,
}

/// Why a string is not an ISO 8601 duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO 8601 duration: {text:?}")]
#[non_exhaustive]
pub struct DurationError {
    /// The rejected text.
    pub text: String,
}

impl IsoDuration {
    /// Parses `PnYnMnWnDTnHnMnS` (each part optional, seconds may have a fraction, an optional
    /// leading `-`).
    pub fn parse(text: impl Into<String>) -> Result<Self, DurationError> {
        let raw = text.into();
        match parse_duration(&raw) {
            Some((negative, years, months, seconds, nanos)) => Ok(Self {
                raw,
                negative,
                years,
                months,
                seconds,
                nanos,
            }),
            None => Err(DurationError { text: raw }),
        }
    }

    /// A duration of exactly `duration`, written as `PT<seconds>S`.
    pub fn from_std(duration: std::time::Duration) -> Self {
        let raw = if duration.subsec_nanos() == 0 {
            format!("PT{}S", duration.as_secs())
        } else {
            let frac = format!("{:09}", duration.subsec_nanos());
            format!("PT{}.{}S", duration.as_secs(), frac.trim_end_matches('0'))
        };
        Self {
            raw,
            negative: false,
            years: 0,
            months: 0,
            seconds: duration.as_secs(),
            nanos: duration.subsec_nanos(),
        }
    }

    /// The exact length, or `None` when the duration counts years or months (whose length depends
    /// on the calendar) or is negative.
    pub fn to_std(&self) -> Option<std::time::Duration> {
        (!self.negative && self.years == 0 && self.months == 0)
            .then(|| std::time::Duration::new(self.seconds, self.nanos))
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

/// Returns (negative, years, months, day-time seconds, nanoseconds).
fn parse_duration(s: &str) -> Option<(bool, u64, u64, u64, u32)> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let rest = rest.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return None;
    }
    let (mut years, mut months, mut seconds, mut nanos) = (0u64, 0u64, 0u64, 0u32);
    for (number, unit) in duration_parts(date)? {
        let n: u64 = number.parse().ok()?;
        match unit {
            'Y' => years = n,
            'M' => months = n,
            'W' => seconds = seconds.checked_add(n.checked_mul(7 * 86_400)?)?,
            'D' => seconds = seconds.checked_add(n.checked_mul(86_400)?)?,
            _ => return None,
        }
    }
    if let Some(time) = time {
        for (number, unit) in duration_parts(time)? {
            if unit == 'S' {
                let (whole, frac) = number.split_once(['.', ',']).unwrap_or((number, ""));
                seconds = seconds.checked_add(whole.parse().ok()?)?;
                if !frac.is_empty() {
                    let digits: String =
                        frac.chars().chain(std::iter::repeat('0')).take(9).collect();
                    nanos = digits.parse().ok()?;
                }
                continue;
            }
            let n: u64 = number.parse().ok()?;
            let factor = match unit {
                'H' => 3600,
                'M' => 60,
                _ => return None,
            };
            seconds = seconds.checked_add(n.checked_mul(factor)?)?;
        }
    }
    Some((negative, years, months, seconds, nanos))
}

/// Splits `12H30M` into `[("12", 'H'), ("30", 'M')]`.
fn duration_parts(s: &str) -> Option<Vec<(&str, char)>> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c.is_ascii_alphabetic() {
            let number = s.get(start..i)?;
            if number.is_empty()
                || !number
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
            {
                return None;
            }
            parts.push((number, c));
            start = i + c.len_utf8();
        }
    }
    (start == s.len()).then_some(parts)
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for IsoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl FromJson for IsoDuration {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::String(s) => Self::parse(s).map_err(|e| Raw::String(e.text)),
            other => Err(other),
        }
    }
}

/// A property that may hold one value or an array of them. The shape it was received in is kept,
/// so it serializes back the same way.
#[derive(Debug, Clone, PartialEq)]
pub enum OneOrMany<T> {
    /// A single value, not in an array.
    One(T),
    /// An array (possibly empty or of one element).
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// Iterates over the values.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }

    /// Iterates mutably over the values.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        match self {
            Self::One(v) => std::slice::from_mut(v).iter_mut(),
            Self::Many(v) => v.iter_mut(),
        }
    }

    /// The values as a slice.
    pub fn as_slice(&self) -> &[T] {
        match self {
            Self::One(v) => std::slice::from_ref(v),
            Self::Many(v) => v,
        }
    }

    /// The first value.
    pub fn first(&self) -> Option<&T> {
        self.as_slice().first()
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there is no value (an empty array).
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Adds a value, turning a single value into an array.
    pub fn push(&mut self, value: T) {
        match self {
            Self::Many(v) => v.push(value),
            Self::One(_) => {
                let Self::One(first) = std::mem::replace(self, Self::Many(Vec::with_capacity(2)))
                else {
                    unreachable!("matched One above")
                };
                if let Self::Many(v) = self {
                    v.push(first);
                    v.push(value);
                }
            }
        }
    }

    /// Keeps only the values for which `keep` returns true (an array stays an array).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match self {
            Self::Many(v) => v.retain(keep),
            Self::One(v) => {
                if !keep(v) {
                    *self = Self::Many(Vec::new());
                }
            }
        }
    }

    /// The values as a vector.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(v) => vec![v],
            Self::Many(v) => v,
        }
    }
}

impl<T> From<T> for OneOrMany<T> {
    fn from(value: T) -> Self {
        Self::One(value)
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(values: Vec<T>) -> Self {
        Self::Many(values)
    }
}

impl<'a, T> IntoIterator for &'a OneOrMany<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> IntoIterator for OneOrMany<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::One(v) => v.serialize(serializer),
            Self::Many(v) => v.serialize(serializer),
        }
    }
}

impl<T: FromJson + Serialize> FromJson for OneOrMany<T> {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        Self::from_json_with(value, T::from_json)
    }
}

impl<T: Serialize> OneOrMany<T> {
    /// Reads one value or an array of them with `read`. When one element does not fit, the whole
    /// property is handed back as received.
    pub(crate) fn from_json_with(
        value: Raw,
        read: impl Fn(Raw) -> Result<T, Raw>,
    ) -> Result<Self, Raw> {
        match value {
            Raw::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut rest = items.into_iter();
                while let Some(item) = rest.next() {
                    match read(item) {
                        Ok(v) => out.push(v),
                        Err(raw) => {
                            let mut back: Vec<Raw> = out.iter().map(back_to_raw).collect();
                            back.push(raw);
                            back.extend(rest);
                            return Err(Raw::Array(back));
                        }
                    }
                }
                Ok(Self::Many(out))
            }
            other => read(other).map(Self::One),
        }
    }
}

/// A reference to another object: its id, or the object itself embedded.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference<T> {
    /// The object's id; fetch it to see it.
    Id(Iri),
    /// The object, embedded.
    Object(T),
}

impl<T> Reference<T> {
    /// The embedded object, when there is one.
    pub fn as_object(&self) -> Option<&T> {
        match self {
            Self::Object(o) => Some(o),
            Self::Id(_) => None,
        }
    }
}

impl<T> From<Iri> for Reference<T> {
    fn from(iri: Iri) -> Self {
        Self::Id(iri)
    }
}

impl<T: Serialize> Serialize for Reference<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Id(iri) => iri.serialize(serializer),
            Self::Object(o) => o.serialize(serializer),
        }
    }
}

impl<T: FromJson> FromJson for Reference<T> {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::String(_) => Iri::from_json(value).map(Self::Id),
            Raw::Object(_) => T::from_json(value).map(Self::Object),
            other => Err(other),
        }
    }
}

/// How the public collection was spelled. All three mean the same; the spelling is kept so the
/// document serializes back as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PublicSpelling {
    /// `https://www.w3.org/ns/activitystreams#Public`
    Full,
    /// `as:Public`
    Compact,
    /// `Public`
    Bare,
}

impl PublicSpelling {
    /// The text of this spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => PUBLIC,
            Self::Compact => "as:Public",
            Self::Bare => "Public",
        }
    }

    /// Recognises one of the three spellings.
    pub fn of(s: &str) -> Option<Self> {
        match s {
            PUBLIC => Some(Self::Full),
            "as:Public" => Some(Self::Compact),
            "Public" => Some(Self::Bare),
            _ => None,
        }
    }
}

/// The IRI of the special public collection.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// One entry of an addressing property (`to`, `cc`, `bto`, `bcc`, `audience`).
#[derive(Debug, Clone, PartialEq)]
pub enum Address {
    /// The public collection, in any of its spellings.
    Public(PublicSpelling),
    /// An actor or a collection, by id.
    Iri(Iri),
    /// An embedded actor or collection.
    Object(crate::AnyObject),
}

impl Address {
    /// The id this address names, when it is not the public collection.
    pub fn id(&self) -> Option<&Iri> {
        match self {
            Self::Public(_) => None,
            Self::Iri(iri) => Some(iri),
            Self::Object(o) => o.id(),
        }
    }

    /// Whether this is the public collection.
    pub fn is_public(&self) -> bool {
        matches!(self, Self::Public(_))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Public(spelling) => serializer.serialize_str(spelling.as_str()),
            Self::Iri(iri) => iri.serialize(serializer),
            Self::Object(o) => o.serialize(serializer),
        }
    }
}

impl FromJson for Address {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::String(s) => match PublicSpelling::of(&s) {
                Some(spelling) => Ok(Self::Public(spelling)),
                None => Iri::from_json(Raw::String(s)).map(Self::Iri),
            },
            Raw::Object(_) => crate::AnyObject::from_json(value).map(Self::Object),
            other => Err(other),
        }
    }
}

/// A `url` entry: a plain IRI or a `Link` with a media type and dimensions.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkRef {
    /// A plain IRI.
    Iri(Iri),
    /// A `Link` object.
    Link(Box<crate::Link>),
}

impl LinkRef {
    /// The IRI this entry points at (`href` for a link).
    pub fn href(&self) -> Option<&Iri> {
        match self {
            Self::Iri(iri) => Some(iri),
            Self::Link(link) => link.href.as_ref(),
        }
    }

    /// The media type, when the entry is a link that gives one.
    pub fn media_type(&self) -> Option<&str> {
        match self {
            Self::Iri(_) => None,
            Self::Link(link) => link.props.media_type.as_deref(),
        }
    }
}

impl Serialize for LinkRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Iri(iri) => iri.serialize(serializer),
            Self::Link(link) => link.serialize(serializer),
        }
    }
}

impl FromJson for LinkRef {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::String(_) => Iri::from_json(value).map(Self::Iri),
            Raw::Object(_) => match crate::AnyObject::from_json(value)? {
                crate::AnyObject::Link(link) => Ok(Self::Link(link)),
                other => Err(back_to_raw(&other)),
            },
            other => Err(other),
        }
    }
}

/// The JSON-LD `@context` of a document, kept as received.
///
/// Compacted ActivityPub JSON does not need the context to be read, so it is not interpreted here;
/// [`crate::context`] builds a correct one for what an object uses, and the `jsonld` feature
/// expands documents with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Context(pub Value);

impl Context {
    /// Whether the context includes the remote context `iri` (`"https://www.w3.org/ns/activitystreams"`...).
    pub fn includes(&self, iri: &str) -> bool {
        match &self.0 {
            Value::String(s) => s == iri,
            Value::Array(items) => items.iter().any(|v| v.as_str() == Some(iri)),
            _ => false,
        }
    }

    /// The definition of `term` in the context's inline term maps, if any (the last one wins, as in
    /// JSON-LD).
    pub fn term(&self, term: &str) -> Option<&Value> {
        match &self.0 {
            Value::Object(map) => map.get(term),
            Value::Array(items) => items
                .iter()
                .rev()
                .filter_map(Value::as_object)
                .find_map(|m| m.get(term)),
            _ => None,
        }
    }
}

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl FromJson for Context {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::Null => Err(value),
            other => Ok(Self(other.into_value())),
        }
    }
}

/// Mastodon's `focalPoint`: where to centre a cropped image, `[x, y]` each in `-1.0..=1.0`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FocalPoint {
    /// Horizontal position, `-1.0` (left) to `1.0` (right).
    pub x: Number,
    /// Vertical position, `-1.0` (bottom) to `1.0` (top).
    pub y: Number,
}

impl FocalPoint {
    /// A focal point at `x`, `y`.
    pub fn new(x: f64, y: f64) -> Option<Self> {
        Some(Self {
            x: Number::from_f64(x)?,
            y: Number::from_f64(y)?,
        })
    }
}

impl Serialize for FocalPoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        [&self.x, &self.y].serialize(serializer)
    }
}

impl FromJson for FocalPoint {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::Array(items)
                if items.len() == 2 && items.iter().all(|i| matches!(i, Raw::Number(_))) =>
            {
                let mut it = items.into_iter();
                match (it.next(), it.next()) {
                    (Some(Raw::Number(x)), Some(Raw::Number(y))) => Ok(Self { x, y }),
                    _ => Err(Raw::Null),
                }
            }
            other => Err(other),
        }
    }
}

/// When a `Question` closed (or closes): a time, a flag, or an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Closed {
    /// The time it closed.
    Time(Timestamp),
    /// Whether it is closed.
    Flag(bool),
    /// An object or link that closed it.
    Reference(Reference<crate::AnyObject>),
}

impl Serialize for Closed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Time(t) => t.serialize(serializer),
            Self::Flag(b) => b.serialize(serializer),
            Self::Reference(r) => r.serialize(serializer),
        }
    }
}

impl FromJson for Closed {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::Bool(b) => Ok(Self::Flag(b)),
            Raw::String(s) => match Timestamp::from_string(s) {
                Ok(t) => Ok(Self::Time(t)),
                Err(s) => Reference::from_json(Raw::String(s)).map(Self::Reference),
            },
            other => Reference::from_json(other).map(Self::Reference),
        }
    }
}

/// The `source` of an object: the text it was written in before rendering to HTML. Most servers
/// send `{"content", "mediaType"}`; older Pleroma versions send the text alone.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The text alone.
    Text(String),
    /// The text with its media type.
    Content(SourceContent),
}

impl Source {
    /// The source text.
    pub fn content(&self) -> &str {
        match self {
            Self::Text(t) => t,
            Self::Content(c) => &c.content,
        }
    }

    /// Its media type (`text/markdown`...), when given.
    pub fn media_type(&self) -> Option<&str> {
        match self {
            Self::Text(_) => None,
            Self::Content(c) => c.media_type.as_deref(),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => t.serialize(serializer),
            Self::Content(c) => c.serialize(serializer),
        }
    }
}

impl FromJson for Source {
    fn from_json(value: Raw) -> Result<Self, Raw> {
        match value {
            Raw::String(s) => Ok(Self::Text(s)),
            other => SourceContent::from_json(other).map(Self::Content),
        }
    }
}

data_object! {
    /// A `source` as an object.
    pub struct SourceContent {
        required {
            /// The source text.
            "content" => content: String,
        }
        optional {
            /// Its media type (`text/markdown`...).
            "mediaType" => media_type: String,
        }
    }
}

impl SourceContent {
    /// A source `content` of type `media_type`.
    pub fn new(content: impl Into<String>, media_type: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            media_type: Some(media_type.into()),
            extra: Default::default(),
        }
    }
}

data_object! {
    /// An identified value with a display name, as PeerTube and Lemmy send a language, category or
    /// licence: `{"identifier": "en", "name": "English"}`.
    pub struct Identifier {
        required {
            /// The machine-readable identifier.
            "identifier" => identifier: String,
        }
        optional {
            /// The display name.
            "name" => name: String,
        }
    }
}

impl Identifier {
    /// An identifier with no name.
    pub fn new(identifier: impl Into<String>) -> Self {
        Self {
            identifier: identifier.into(),
            name: None,
            extra: Default::default(),
        }
    }
}
