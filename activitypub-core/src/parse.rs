//! Reading documents from bytes, within limits, and keeping the bytes.

use serde::de::DeserializeSeed;
use serde_json::Value;

use crate::AnyObject;
use crate::error::ParseError;
use crate::json::{DEPTH_EXCEEDED, DepthLimited, JsonKind, Raw, Scratch};

/// Bounds on an untrusted document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest document accepted, in bytes. Default: 1 MiB.
    pub max_bytes: usize,
    /// The deepest nesting of arrays and objects accepted (the top-level object is level 1).
    /// Default: 64. Values above 127 are cut by the JSON reader's own limit of 128.
    pub max_depth: usize,
}

impl Limits {
    /// The default limits: 1 MiB, 64 levels.
    pub const DEFAULT: Self = Self {
        max_bytes: 1024 * 1024,
        max_depth: 64,
    };

    /// Limits of `max_bytes` and `max_depth`.
    pub fn new(max_bytes: usize, max_depth: usize) -> Self {
        Self {
            max_bytes,
            max_depth,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Reads JSON bytes into a `Value` within `limits`. A UTF-8 byte order mark is skipped.
pub fn read_json(bytes: &[u8], limits: &Limits) -> Result<Value, ParseError> {
    read_raw(bytes, limits).map(Raw::into_value)
}

fn read_raw(bytes: &[u8], limits: &Limits) -> Result<Raw, ParseError> {
    if bytes.len() > limits.max_bytes {
        return Err(ParseError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut scratch = Scratch::default();
    let value = DepthLimited {
        remaining: limits.max_depth,
        scratch: &mut scratch,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v))
    .map_err(|e| {
        let message = e.to_string();
        if message.starts_with(DEPTH_EXCEEDED) || message.starts_with("recursion limit exceeded") {
            ParseError::TooDeep {
                limit: limits.max_depth,
            }
        } else {
            ParseError::Json(e)
        }
    })?;
    Ok(value)
}

impl AnyObject {
    /// Reads a document from JSON bytes with the default [`Limits`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ParseError> {
        Self::from_slice_with(bytes, &Limits::DEFAULT)
    }

    /// Reads a document from JSON bytes within `limits`.
    pub fn from_slice_with(bytes: &[u8], limits: &Limits) -> Result<Self, ParseError> {
        Self::from_raw(read_raw(bytes, limits)?)
    }

    /// Reads a document from a JSON value (no size or depth limit: the value is already in
    /// memory).
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        Self::from_raw(Raw::from(value))
    }

    fn from_raw(raw: Raw) -> Result<Self, ParseError> {
        match raw {
            Raw::Object(members) => Self::from_map(members).map_err(|(_, e)| e),
            other => Err(ParseError::NotAnObject {
                found: JsonKind::of_raw(&other),
            }),
        }
    }

    /// The document as a JSON value.
    pub fn to_value(&self) -> Value {
        crate::json::back_to_json(self)
    }

    /// The document as compact JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        // Serializing our types into a Vec cannot fail: every map key is a string and no
        // serializer error is ever raised.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A document as received: the typed object and the exact bytes it was read from, for signature
/// checks (digests are over the bytes) and for forwarding unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    object: AnyObject,
    bytes: Vec<u8>,
}

impl Received {
    /// Reads `bytes` within `limits`, keeping them.
    pub fn parse(bytes: impl Into<Vec<u8>>, limits: &Limits) -> Result<Self, ParseError> {
        let bytes = bytes.into();
        let object = AnyObject::from_slice_with(&bytes, limits)?;
        Ok(Self { object, bytes })
    }

    /// The typed object.
    pub fn object(&self) -> &AnyObject {
        &self.object
    }

    /// The exact bytes received.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Splits into the object and the bytes.
    pub fn into_parts(self) -> (AnyObject, Vec<u8>) {
        (self.object, self.bytes)
    }
}
