//! Schema versions, protocols and services: open vocabularies.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use webfinger::Rel;

/// A NodeInfo schema version.
///
/// Ordered by age, so the newest of a set is its maximum. Versions this crate does not know
/// are carried as [`Version::Other`] and sort after the known ones.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Version {
    /// 1.0: protocols split into inbound and outbound; read leniently.
    V1_0,
    /// 1.1: as 1.0 with more software names; read leniently.
    V1_1,
    /// 2.0.
    V2_0,
    /// 2.1: adds `software.repository` and `software.homepage`.
    V2_1,
    /// 2.2: adds `instance` (name, description), `usage.users.activeWeek` and the `nostr`
    /// protocol.
    V2_2,
    /// A version this crate does not know, as written.
    Other(String),
}

impl Version {
    /// Every version this crate can read, oldest first.
    pub const KNOWN: [Version; 5] = [
        Version::V1_0,
        Version::V1_1,
        Version::V2_0,
        Version::V2_1,
        Version::V2_2,
    ];

    /// The version as written in documents: `"2.1"`.
    pub fn as_str(&self) -> &str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V2_0 => "2.0",
            Version::V2_1 => "2.1",
            Version::V2_2 => "2.2",
            Version::Other(other) => other,
        }
    }

    /// Reads a version string; unknown ones are carried.
    pub fn parse(version: &str) -> Version {
        match version {
            "1.0" => Version::V1_0,
            "1.1" => Version::V1_1,
            "2.0" => Version::V2_0,
            "2.1" => Version::V2_1,
            "2.2" => Version::V2_2,
            other => Version::Other(other.to_owned()),
        }
    }

    /// The link relation of this version in the discovery document:
    /// `http://nodeinfo.diaspora.software/ns/schema/2.1`.
    pub fn rel(&self) -> Rel {
        Rel::new(format!("{SCHEMA_REL_PREFIX}{}", self.as_str()))
    }

    /// The version a discovery link relation names. Lenient: `https:` and a trailing `#` or `/`
    /// are accepted, as some servers write them.
    pub fn from_rel(rel: &Rel) -> Option<Version> {
        let rel = rel.as_str();
        let rest = rel
            .strip_prefix(SCHEMA_REL_PREFIX)
            .or_else(|| rel.strip_prefix("https://nodeinfo.diaspora.software/ns/schema/"))?;
        let version = rest.trim_end_matches(['#', '/']);
        (!version.is_empty()).then(|| Version::parse(version))
    }

    /// The `Content-Type` to serve a document of this version with:
    /// `application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"`.
    pub fn content_type(&self) -> String {
        format!(
            "application/json; profile=\"{SCHEMA_REL_PREFIX}{}#\"",
            self.as_str()
        )
    }

    /// Whether this crate knows the version (it is not [`Version::Other`]).
    pub fn is_known(&self) -> bool {
        !matches!(self, Version::Other(_))
    }

    /// Whether documents of this version have the 1.x shape.
    pub fn is_1x(&self) -> bool {
        matches!(self, Version::V1_0 | Version::V1_1)
    }
}

const SCHEMA_REL_PREFIX: &str = "http://nodeinfo.diaspora.software/ns/schema/";

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Version, D::Error> {
        String::deserialize(deserializer).map(|version| Version::parse(&version))
    }
}

/// Which way a [`Service`] connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The server reads from the service.
    Inbound,
    /// The server publishes to the service.
    Outbound,
}

macro_rules! open_vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$cmeta:meta])* $constant:ident = $value:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Cow<'static, str>);

        impl $name {
            $( $(#[$cmeta])* pub const $constant: $name = $name(Cow::Borrowed($value)); )*

            /// A value from any string, carried as it is.
            pub fn new(value: impl Into<String>) -> $name {
                $name(Cow::Owned(value.into()))
            }

            /// The value as written in documents.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> $name {
                $name::new(value)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                String::deserialize(deserializer).map($name::new)
            }
        }
    };
}

open_vocabulary! {
    /// A federation protocol a server speaks (`protocols`). The constants are the values the
    /// 2.x schemas list; any other value is carried as it is when reading.
    Protocol {
        /// ActivityPub.
        ACTIVITYPUB = "activitypub",
        /// Buddycloud.
        BUDDYCLOUD = "buddycloud",
        /// DFRN (Friendica).
        DFRN = "dfrn",
        /// diaspora*.
        DIASPORA = "diaspora",
        /// Libertree.
        LIBERTREE = "libertree",
        /// Nostr (schema 2.2 only).
        NOSTR = "nostr",
        /// OStatus.
        OSTATUS = "ostatus",
        /// pump.io.
        PUMPIO = "pumpio",
        /// Tent.
        TENT = "tent",
        /// XMPP.
        XMPP = "xmpp",
        /// Zot (Hubzilla).
        ZOT = "zot",
    }
}

open_vocabulary! {
    /// A third-party service a server connects to (`services.inbound`, `services.outbound`).
    /// The constants are the values the 2.x schemas list; any other value is carried.
    Service {
        /// Atom 1.0 feeds.
        ATOM1_0 = "atom1.0",
        /// Blogger.
        BLOGGER = "blogger",
        /// Buddycloud.
        BUDDYCLOUD = "buddycloud",
        /// diaspora*.
        DIASPORA = "diaspora",
        /// Dreamwidth.
        DREAMWIDTH = "dreamwidth",
        /// Drupal.
        DRUPAL = "drupal",
        /// Facebook.
        FACEBOOK = "facebook",
        /// Friendica.
        FRIENDICA = "friendica",
        /// GNU social.
        GNUSOCIAL = "gnusocial",
        /// Google.
        GOOGLE = "google",
        /// IMAP.
        IMAP = "imap",
        /// InsaneJournal.
        INSANEJOURNAL = "insanejournal",
        /// Libertree.
        LIBERTREE = "libertree",
        /// LinkedIn.
        LINKEDIN = "linkedin",
        /// LiveJournal.
        LIVEJOURNAL = "livejournal",
        /// MediaGoblin.
        MEDIAGOBLIN = "mediagoblin",
        /// Myspace.
        MYSPACE = "myspace",
        /// Pinterest.
        PINTEREST = "pinterest",
        /// pnut.
        PNUT = "pnut",
        /// POP3.
        POP3 = "pop3",
        /// Posterous.
        POSTEROUS = "posterous",
        /// pump.io.
        PUMPIO = "pumpio",
        /// RedMatrix.
        REDMATRIX = "redmatrix",
        /// RSS 2.0 feeds.
        RSS2_0 = "rss2.0",
        /// SMTP.
        SMTP = "smtp",
        /// Tent.
        TENT = "tent",
        /// Tumblr.
        TUMBLR = "tumblr",
        /// Twitter.
        TWITTER = "twitter",
        /// WordPress.
        WORDPRESS = "wordpress",
        /// XMPP.
        XMPP = "xmpp",
    }
}

impl Protocol {
    /// Whether the official schema of `version` lists this protocol (2.x only).
    pub fn is_in_schema(&self, version: &Version) -> bool {
        match self.as_str() {
            "activitypub" | "buddycloud" | "dfrn" | "diaspora" | "libertree" | "ostatus"
            | "pumpio" | "tent" | "xmpp" | "zot" => {
                matches!(version, Version::V2_0 | Version::V2_1 | Version::V2_2)
            }
            "nostr" => *version == Version::V2_2,
            _ => false,
        }
    }
}

impl Service {
    /// Whether the official 2.x schemas list this service in `direction`.
    pub fn is_in_schema(&self, direction: Direction) -> bool {
        match direction {
            Direction::Inbound => matches!(
                self.as_str(),
                "atom1.0"
                    | "gnusocial"
                    | "imap"
                    | "pnut"
                    | "pop3"
                    | "pumpio"
                    | "rss2.0"
                    | "twitter"
            ),
            Direction::Outbound => matches!(
                self.as_str(),
                "atom1.0"
                    | "blogger"
                    | "buddycloud"
                    | "diaspora"
                    | "dreamwidth"
                    | "drupal"
                    | "facebook"
                    | "friendica"
                    | "gnusocial"
                    | "google"
                    | "insanejournal"
                    | "libertree"
                    | "linkedin"
                    | "livejournal"
                    | "mediagoblin"
                    | "myspace"
                    | "pinterest"
                    | "pnut"
                    | "posterous"
                    | "pumpio"
                    | "redmatrix"
                    | "rss2.0"
                    | "smtp"
                    | "tent"
                    | "tumblr"
                    | "twitter"
                    | "wordpress"
                    | "xmpp"
            ),
        }
    }
}
