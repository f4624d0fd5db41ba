//! Keys: the names files are stored under, valid by construction.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// The longest segment of a key, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 128;
/// The most segments a key may have.
pub const MAX_SEGMENTS: usize = 8;

/// The name a file is stored under: one to [`MAX_SEGMENTS`] segments joined by `/`, each made
/// of ASCII letters, digits, `_`, `-` and `.`, not starting with `.` (so neither `.` nor `..`
/// nor a hidden file), at most [`MAX_SEGMENT_BYTES`] bytes, the whole at most
/// [`MAX_KEY_BYTES`].
///
/// A `Key` can only hold such a value, so the path it names always stays inside the store:
/// no `..`, no absolute path, no backslash, no NUL, nothing that a filesystem or a URL reads
/// in two ways. `videos/3f2a/720.mp4` is a key; `../etc/passwd`, `/x`, `a//b` and `a/.b` are
/// not.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

/// Why a string is not a [`Key`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is empty.
    #[error("a media key cannot be empty")]
    Empty,
    /// The key is longer than [`MAX_KEY_BYTES`].
    #[error("a media key is at most {MAX_KEY_BYTES} bytes; this one has {len}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The key has more than [`MAX_SEGMENTS`] segments.
    #[error("a media key has at most {MAX_SEGMENTS} segments")]
    TooManySegments,
    /// A segment is empty (a leading, trailing or doubled `/`).
    #[error("segment {index} of a media key is empty (leading, trailing or doubled '/')")]
    EmptySegment {
        /// Its index, from 0.
        index: usize,
    },
    /// A segment is longer than [`MAX_SEGMENT_BYTES`].
    #[error("segment {index} of a media key is longer than {MAX_SEGMENT_BYTES} bytes")]
    SegmentTooLong {
        /// Its index, from 0.
        index: usize,
    },
    /// A segment starts with `.` (`.`, `..` or a hidden name).
    #[error("segment {index} of a media key starts with '.'")]
    DotSegment {
        /// Its index, from 0.
        index: usize,
    },
    /// A byte outside the allowed set.
    #[error(
        "a media key cannot hold byte {byte:#04x} (at {position}); allowed: A-Z a-z 0-9 _ - . /"
    )]
    InvalidByte {
        /// The byte.
        byte: u8,
        /// Its position in the key.
        position: usize,
    },
}

impl Key {
    /// Parses a key.
    pub fn new(key: impl Into<String>) -> Result<Self, KeyError> {
        let key = key.into();
        check(&key)?;
        Ok(Self(key))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The key as a relative path (its segments joined with the platform's separator).
    pub(crate) fn relative_path(&self) -> PathBuf {
        self.segments().collect()
    }
}

fn check(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong { len: key.len() });
    }
    if let Some((position, &byte)) = key
        .as_bytes()
        .iter()
        .enumerate()
        .find(|(_, b)| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/')))
    {
        return Err(KeyError::InvalidByte { byte, position });
    }
    let mut count = 0;
    for (index, segment) in key.split('/').enumerate() {
        count += 1;
        if count > MAX_SEGMENTS {
            return Err(KeyError::TooManySegments);
        }
        if segment.is_empty() {
            return Err(KeyError::EmptySegment { index });
        }
        if segment.len() > MAX_SEGMENT_BYTES {
            return Err(KeyError::SegmentTooLong { index });
        }
        if segment.starts_with('.') {
            return Err(KeyError::DotSegment { index });
        }
    }
    Ok(())
}

impl FromStr for Key {
    type Err = KeyError;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        Self::new(key)
    }
}

impl TryFrom<String> for Key {
    type Error = KeyError;

    fn try_from(key: String) -> Result<Self, Self::Error> {
        Self::new(key)
    }
}

impl TryFrom<&str> for Key {
    type Error = KeyError;

    fn try_from(key: &str) -> Result<Self, Self::Error> {
        Self::new(key)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in ["a", "videos/3f2a/720.mp4", "x_y-z.webm", "a/b/c/d/e/f/g/h"] {
            assert_eq!(Key::new(key).map(|k| k.to_string()), Ok(key.to_owned()));
        }
    }

    #[test]
    fn refuses_paths_that_leave_the_store() {
        let cases: &[(&str, KeyError)] = &[
            ("", KeyError::Empty),
            ("..", KeyError::DotSegment { index: 0 }),
            ("../etc/passwd", KeyError::DotSegment { index: 0 }),
            ("a/../../b", KeyError::DotSegment { index: 1 }),
            ("a/./b", KeyError::DotSegment { index: 1 }),
            (".hidden", KeyError::DotSegment { index: 0 }),
            ("/etc/passwd", KeyError::EmptySegment { index: 0 }),
            ("a//b", KeyError::EmptySegment { index: 1 }),
            ("a/", KeyError::EmptySegment { index: 1 }),
            (
                "a\\..\\b",
                KeyError::InvalidByte {
                    byte: b'\\',
                    position: 1,
                },
            ),
            (
                "a\0b",
                KeyError::InvalidByte {
                    byte: 0,
                    position: 1,
                },
            ),
            (
                "caf\u{e9}",
                KeyError::InvalidByte {
                    byte: 0xc3,
                    position: 3,
                },
            ),
            ("a/b/c/d/e/f/g/h/i", KeyError::TooManySegments),
            (
                "a b",
                KeyError::InvalidByte {
                    byte: b' ',
                    position: 1,
                },
            ),
            (
                "a%2f..",
                KeyError::InvalidByte {
                    byte: b'%',
                    position: 1,
                },
            ),
        ];
        for (key, error) in cases {
            assert_eq!(Key::new(*key).as_ref().err(), Some(error), "{key:?}");
        }
        assert!(matches!(
            Key::new("a".repeat(129)),
            Err(KeyError::SegmentTooLong { index: 0 })
        ));
        let long = vec!["a".repeat(100); 6].join("/");
        assert!(matches!(
            Key::new(long),
            Err(KeyError::TooLong { len: 605 })
        ));
    }
}
