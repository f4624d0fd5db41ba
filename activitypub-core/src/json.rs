//! The conversion machinery between `serde_json::Value` and the typed vocabulary.
//!
//! Every typed field is read with [`FromJson`], which takes the value by move (so strings are not
//! copied) and hands it back untouched when it does not fit. The caller then keeps the raw value in
//! the object's extension map: that is how an odd optional field degrades instead of failing the
//! whole document, and how nothing is ever lost.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Number, Value};

/// A parsed JSON value whose objects are plain vectors of members.
///
/// Documents are read into this first: it is cheaper to build than `serde_json::Value` (no map
/// per object), typed fields are moved straight out of it, and only the members the model does
/// not know are turned into `serde_json::Value` maps for the extension map.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Raw>),
    /// Members in document order. A repeated name is kept twice here; readers let the last one
    /// win, as `serde_json::Value` does.
    Object(Vec<(String, Raw)>),
}

impl Raw {
    /// Converts into a `serde_json::Value`.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(b),
            Self::Number(n) => Value::Number(n),
            Self::String(s) => Value::String(s),
            Self::Array(items) => Value::Array(items.into_iter().map(Self::into_value).collect()),
            Self::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect(),
            ),
        }
    }
}

impl From<Value> for Raw {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(b),
            Value::Number(n) => Self::Number(n),
            Value::String(s) => Self::String(s),
            Value::Array(items) => Self::Array(items.into_iter().map(Self::from).collect()),
            Value::Object(map) => {
                Self::Object(map.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

/// The last member named `key`.
pub(crate) fn member<'a>(members: &'a [(String, Raw)], key: &str) -> Option<&'a Raw> {
    members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Reads a typed value out of a parsed JSON value, handing the value back when it does not fit.
pub(crate) trait FromJson: Sized {
    /// Converts `raw`, or returns it unchanged when it has the wrong shape.
    fn from_json(raw: Raw) -> Result<Self, Raw>;
}

impl FromJson for String {
    fn from_json(raw: Raw) -> Result<Self, Raw> {
        match raw {
            Raw::String(s) => Ok(s),
            other => Err(other),
        }
    }
}

impl FromJson for bool {
    fn from_json(raw: Raw) -> Result<Self, Raw> {
        match raw {
            Raw::Bool(b) => Ok(b),
            other => Err(other),
        }
    }
}

impl FromJson for u64 {
    fn from_json(raw: Raw) -> Result<Self, Raw> {
        // Only integers written as integers: `3.0` would not serialize back to the same JSON.
        match &raw {
            Raw::Number(n) if n.is_u64() => n.as_u64().ok_or(raw),
            _ => Err(raw),
        }
    }
}

impl FromJson for Number {
    fn from_json(raw: Raw) -> Result<Self, Raw> {
        match raw {
            Raw::Number(n) => Ok(n),
            other => Err(other),
        }
    }
}

impl FromJson for BTreeMap<String, String> {
    fn from_json(raw: Raw) -> Result<Self, Raw> {
        match raw {
            Raw::Object(members) if members.iter().all(|(_, v)| matches!(v, Raw::String(_))) => {
                Ok(members
                    .into_iter()
                    .filter_map(|(k, v)| match v {
                        Raw::String(s) => Some((k, s)),
                        _ => None,
                    })
                    .collect())
            }
            other => Err(other),
        }
    }
}

impl<T: FromJson> FromJson for Box<T> {
    fn from_json(raw: Raw) -> Result<Self, Raw> {
        T::from_json(raw).map(Box::new)
    }
}

/// Serializes an already-typed value back to JSON, for the rare path where a half-converted value
/// must be handed back. Our types serialize to exactly what they were read from, so this is
/// lossless; it falls back to `null` only if a serializer error occurred, which our types never
/// produce.
pub(crate) fn back_to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// [`back_to_json`], as a [`Raw`].
pub(crate) fn back_to_raw<T: Serialize>(value: &T) -> Raw {
    Raw::from(back_to_json(value))
}

/// Names the shape of a JSON value, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonKind {
    /// `null`
    Null,
    /// `true` or `false`
    Bool,
    /// a number
    Number,
    /// a string
    String,
    /// an array
    Array,
    /// an object
    Object,
}

impl JsonKind {
    /// The shape of `value`.
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(_) => Self::Number,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }
}

impl JsonKind {
    pub(crate) fn of_raw(raw: &Raw) -> Self {
        match raw {
            Raw::Null => Self::Null,
            Raw::Bool(_) => Self::Bool,
            Raw::Number(_) => Self::Number,
            Raw::String(_) => Self::String,
            Raw::Array(_) => Self::Array,
            Raw::Object(_) => Self::Object,
        }
    }
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Null => "null",
            Self::Bool => "a boolean",
            Self::Number => "a number",
            Self::String => "a string",
            Self::Array => "an array",
            Self::Object => "an object",
        })
    }
}

/// A [`Raw`] reader that refuses to nest deeper than a limit, reporting [`DEPTH_EXCEEDED`]
/// instead of recursing without bound (serde_json's own fixed limit of 128 stays as a backstop).
pub(crate) struct DepthLimited<'s> {
    pub(crate) remaining: usize,
    /// One stack of members and items for the whole document: containers push onto it and take
    /// their own exact-size vector off its top when they end, instead of growing a vector each.
    pub(crate) scratch: &'s mut Scratch,
}

/// The shared stacks of [`DepthLimited`].
#[derive(Default)]
pub(crate) struct Scratch {
    members: Vec<(String, Raw)>,
    items: Vec<Raw>,
}

/// The message used to recognise a depth-limit failure coming back through serde_json.
pub(crate) const DEPTH_EXCEEDED: &str = "activitypub-core: nesting depth limit exceeded";

impl<'de> DeserializeSeed<'de> for DepthLimited<'_> {
    type Value = Raw;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DepthLimited<'_> {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Number::from_f64(v).map_or(Raw::Null, Raw::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::String(v))
    }

    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let child = self.child::<A::Error>()?;
        let start = self.scratch.items.len();
        while let Some(item) = seq.next_element_seed(DepthLimited {
            remaining: child,
            scratch: &mut *self.scratch,
        })? {
            self.scratch.items.push(item);
        }
        Ok(Raw::Array(self.scratch.items.drain(start..).collect()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Raw, A::Error> {
        let child = self.child::<A::Error>()?;
        let start = self.scratch.members.len();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(DepthLimited {
                remaining: child,
                scratch: &mut *self.scratch,
            })?;
            self.scratch.members.push((key, value));
        }
        Ok(Raw::Object(self.scratch.members.drain(start..).collect()))
    }
}

impl DepthLimited<'_> {
    fn child<E: de::Error>(&self) -> Result<usize, E> {
        self.remaining
            .checked_sub(1)
            .ok_or_else(|| E::custom(DEPTH_EXCEEDED))
    }
}

/// Writes one optional entry.
pub(crate) fn write_opt<M: SerializeMap, T: Serialize>(
    map: &mut M,
    key: &str,
    value: Option<&T>,
) -> Result<(), M::Error> {
    match value {
        Some(v) => map.serialize_entry(key, v),
        None => Ok(()),
    }
}

/// Serializes a value through a map writer closure.
pub(crate) fn serialize_with<S, F>(serializer: S, write: F) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    F: FnOnce(&mut S::SerializeMap) -> Result<(), S::Error>,
{
    let mut map = serializer.serialize_map(None)?;
    write(&mut map)?;
    map.end()
}

/// Declares a group of optional typed fields read from and written to JSON object members.
///
/// It generates the struct (every field an `Option`) and three crate-private methods: `take`
/// offers one member and gives it back when it is not one of the group's keys or does not convert
/// (so the caller keeps it raw); `write` serializes the fields that are set, in declaration order;
/// `is_set` says whether a typed field currently holds the member `key`, so that the extension map
/// never writes a key twice.
macro_rules! field_group {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $key:literal => $field:ident : $ty:ty $(| $conv:path)?,
            )*
        }
        $(
            plain {
                $( $(#[$pmeta:meta])* $pvis:vis $pfield:ident : $pty:ty, )*
            }
        )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        #[non_exhaustive]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                pub $field: Option<$ty>,
            )*
            $($( $(#[$pmeta])* $pvis $pfield: $pty, )*)?
        }

        impl $name {
            /// The JSON member names this group reads.
            #[allow(dead_code)]
            pub(crate) const KEYS: &'static [&'static str] = &[$($key),*];

            #[allow(unused_variables)]
            pub(crate) fn take(
                &mut self,
                key: String,
                value: $crate::json::Raw,
            ) -> Option<(String, $crate::json::Raw)> {
                match key.as_str() {
                    $(
                        $key => match $crate::json::converter!($ty $(, $conv)?)(value) {
                            Ok(typed) => {
                                self.$field = Some(typed);
                                None
                            }
                            Err(raw) => {
                                // The last member of a name wins, even when it does not fit.
                                self.$field = None;
                                Some((key, raw))
                            }
                        },
                    )*
                    _ => Some((key, value)),
                }
            }

            #[allow(unused_variables)]
            pub(crate) fn write<M: ::serde::ser::SerializeMap>(
                &self,
                map: &mut M,
            ) -> Result<(), M::Error> {
                $( $crate::json::write_opt(map, $key, self.$field.as_ref())?; )*
                Ok(())
            }

            #[allow(unused_variables)]
            pub(crate) fn is_set(&self, key: &str) -> bool {
                match key {
                    $( $key => self.$field.is_some(), )*
                    _ => false,
                }
            }
        }
    };
}

/// Declares a small JSON object that is not an ActivityStreams object (a public key, a postal
/// address, endpoints...): a [`field_group!`] plus an `extra` map that keeps every other member,
/// with `FromJson` and `Serialize`. `required` fields make the whole value degrade (stay raw) when
/// they are absent or malformed.
macro_rules! data_object {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            required { $( $(#[$rmeta:meta])* $rkey:literal => $rfield:ident : $rty:ty, )* }
            optional { $( $(#[$ometa:meta])* $okey:literal => $ofield:ident : $oty:ty, )* }
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        $vis struct $name {
            $( $(#[$rmeta])* pub $rfield: $rty, )*
            $( $(#[$ometa])* pub $ofield: Option<$oty>, )*
            /// Members this type does not model, kept as received.
            pub extra: ::serde_json::Map<String, ::serde_json::Value>,
        }

        impl $crate::json::FromJson for $name {
            #[allow(unused_mut)]
            fn from_json(raw: $crate::json::Raw) -> Result<Self, $crate::json::Raw> {
                let $crate::json::Raw::Object(members) = raw else { return Err(raw) };
                $( let mut $rfield: Option<$rty> = None; )*
                $( let mut $ofield: Option<$oty> = None; )*
                let mut extra = ::serde_json::Map::new();
                for (key, value) in members {
                    match key.as_str() {
                        $(
                            $rkey => match <$rty as $crate::json::FromJson>::from_json(value) {
                                Ok(v) => $rfield = Some(v),
                                Err(raw) => {
                                    $rfield = None;
                                    extra.insert(key, raw.into_value());
                                }
                            },
                        )*
                        $(
                            $okey => match <$oty as $crate::json::FromJson>::from_json(value) {
                                Ok(v) => $ofield = Some(v),
                                Err(raw) => {
                                    $ofield = None;
                                    extra.insert(key, raw.into_value());
                                }
                            },
                        )*
                        _ => { extra.insert(key, value.into_value()); }
                    }
                }
                // With a repeated member name, an earlier value that did not fit may be in `extra`
                // while a later one filled the field: the field wins.
                extra.retain(|k, _| {
                    !(false
                        $( || (k == $rkey && $rfield.is_some()) )*
                        $( || (k == $okey && $ofield.is_some()) )*)
                });
                #[allow(unreachable_patterns)]
                match ($($rfield,)*) {
                    ($(Some($rfield),)*) => Ok(Self { $($rfield,)* $($ofield,)* extra }),
                    ($($rfield,)*) => {
                        // A required member is missing or malformed: give back the object as
                        // received.
                        let mut members = Vec::new();
                        $( if let Some(v) = &$rfield { members.push(($rkey.to_owned(), $crate::json::back_to_raw(v))); } )*
                        $( if let Some(v) = &$ofield { members.push(($okey.to_owned(), $crate::json::back_to_raw(v))); } )*
                        members.extend(extra.into_iter().map(|(k, v)| (k, $crate::json::Raw::from(v))));
                        Err($crate::json::Raw::Object(members))
                    }
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                $( map.serialize_entry($rkey, &self.$rfield)?; )*
                $( $crate::json::write_opt(&mut map, $okey, self.$ofield.as_ref())?; )*
                for (key, value) in &self.extra {
                    let shadowed = false $( || key == $rkey )* $( || (key == $okey && self.$ofield.is_some()) )*;
                    if !shadowed {
                        map.serialize_entry(key, value)?;
                    }
                }
                map.end()
            }
        }
    };
}

/// The function that reads a field: its type's `FromJson`, or the converter the field names.
macro_rules! converter {
    ($ty:ty) => {
        <$ty as $crate::json::FromJson>::from_json
    };
    ($ty:ty, $conv:path) => {
        $conv
    };
}

pub(crate) use converter;
pub(crate) use data_object;
pub(crate) use field_group;
