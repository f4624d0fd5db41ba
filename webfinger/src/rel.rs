//! Link relation types: an open vocabulary.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A link relation type ([RFC 7033 §4.4.4.1](https://www.rfc-editor.org/rfc/rfc7033#section-4.4.4.1)):
/// a registered name such as `self` or a URI.
///
/// The vocabulary is open: the constants name the relations this toolkit acts on, and
/// [`Rel::new`] carries any other one unchanged. Relations compare as exact strings.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rel(Cow<'static, str>);

impl Rel {
    /// `self`: the ActivityPub actor, when the link's type is an ActivityStreams media type.
    pub const SELF: Rel = Rel::from_static("self");
    /// The profile page meant for people (HTML).
    pub const PROFILE_PAGE: Rel = Rel::from_static("http://webfinger.net/rel/profile-page");
    /// The avatar image.
    pub const AVATAR: Rel = Rel::from_static("http://webfinger.net/rel/avatar");
    /// The OStatus remote-follow template (`template` with `{uri}`), still used for remote
    /// interaction by Mastodon, Pleroma and PeerTube.
    pub const SUBSCRIBE: Rel = Rel::from_static("http://ostatus.org/schema/1.0/subscribe");
    /// The host-meta link to the WebFinger endpoint ([RFC 6415 §3.1.1](https://www.rfc-editor.org/rfc/rfc6415#section-3.1.1)),
    /// with a `template` holding `{uri}`.
    pub const LRDD: Rel = Rel::from_static("lrdd");

    /// A relation from a string known at compile time.
    pub const fn from_static(rel: &'static str) -> Rel {
        Rel(Cow::Borrowed(rel))
    }

    /// A relation from any string, carried as it is.
    pub fn new(rel: impl Into<String>) -> Rel {
        Rel(Cow::Owned(rel.into()))
    }

    /// The relation as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Rel {
    fn from(rel: &str) -> Rel {
        Rel::new(rel)
    }
}

impl From<String> for Rel {
    fn from(rel: String) -> Rel {
        Rel::new(rel)
    }
}

impl PartialEq<str> for Rel {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Rel {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Rel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Rel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rel, D::Error> {
        String::deserialize(deserializer).map(Rel::new)
    }
}
