//! Value shapes of PeerTube's wire format: JavaScript dates, and the lenient readers of query
//! parameters (a query string gives every value as text, a JSON body gives numbers and
//! booleans; PeerTube's server accepts both, and so do these).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

/// A date as PeerTube writes it: JavaScript's `Date.toISOString()`, UTC with milliseconds
/// (`2021-08-09T17:15:43.847Z`). Reads any RFC 3339 date-time, or a plain `YYYY-MM-DD`
/// (midnight UTC), as PeerTube's date filters accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JsDate(pub OffsetDateTime);

impl JsDate {
    /// Reads a date from text.
    pub fn parse(text: &str) -> Option<JsDate> {
        if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
            return Some(JsDate(at));
        }
        let mut parts = text.splitn(3, '-');
        let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
        if year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return None;
        }
        let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
        Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?)
            .ok()
            .map(|d| JsDate(d.midnight().assume_utc()))
    }
}

impl fmt::Display for JsDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.0.to_offset(UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.millisecond()
        )
    }
}

impl Serialize for JsDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JsDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        JsDate::parse(&text).ok_or_else(|| {
            de::Error::invalid_value(de::Unexpected::Str(&text), &"an ISO 8601 date")
        })
    }
}

/// Reads `Some(None)` for `null` and `Some(Some(v))` for a value; an absent member stays
/// `None` through `#[serde(default)]`. For members PeerTube sometimes writes as `null` and
/// sometimes leaves out.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A scalar of a query: text, number or boolean, kept as text.
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A scalar or a list of scalars, as text; empty texts dropped.
struct Scalars(Vec<String>);

impl<'de> Deserialize<'de> for Scalars {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            Many(Vec<Scalar>),
            One(Scalar),
        }
        let values = match OneOrMany::deserialize(deserializer)? {
            OneOrMany::Many(v) => v,
            OneOrMany::One(v) => vec![v],
        };
        Ok(Scalars(
            values
                .into_iter()
                .filter_map(|s| s.0)
                .filter(|s| !s.is_empty())
                .collect(),
        ))
    }
}

fn scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Scalar::deserialize(deserializer)?
        .0
        .filter(|s| !s.is_empty()))
}

pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar(d)
}

pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    scalar(d)?
        .map(|s| {
            s.trim().parse::<u64>().map_err(|_| {
                de::Error::invalid_value(de::Unexpected::Str(&s), &"a non-negative integer")
            })
        })
        .transpose()
}

pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    scalar(d)?
        .map(|s| match s.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(de::Error::invalid_value(
                de::Unexpected::Str(&s),
                &"true or false",
            )),
        })
        .transpose()
}

pub(crate) fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<JsDate>, D::Error> {
    scalar(d)?
        .map(|s| {
            JsDate::parse(&s).ok_or_else(|| {
                de::Error::invalid_value(de::Unexpected::Str(&s), &"an ISO 8601 date")
            })
        })
        .transpose()
}

pub(crate) fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Scalars::deserialize(d)?.0)
}

pub(crate) fn u32s<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    Scalars::deserialize(d)?
        .0
        .into_iter()
        .map(|s| {
            s.trim().parse::<u32>().map_err(|_| {
                de::Error::invalid_value(de::Unexpected::Str(&s), &"a non-negative integer")
            })
        })
        .collect()
}

/// Writes a list of one as the value alone (`host` is one host in PeerTube, several here).
pub(crate) fn one_or_many<S: Serializer>(values: &[String], s: S) -> Result<S::Ok, S::Error> {
    match values {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}
