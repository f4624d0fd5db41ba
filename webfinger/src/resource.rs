//! The thing a WebFinger query asks about: an `acct:` URI ([RFC 7565]) or another URI
//! ([RFC 7033 §4.1]), and the host it is asked of.
//!
//! [RFC 7565]: https://www.rfc-editor.org/rfc/rfc7565
//! [RFC 7033 §4.1]: https://www.rfc-editor.org/rfc/rfc7033#section-4.1

use std::fmt;
use std::str::FromStr;

use percent_encoding::{
    AsciiSet, CONTROLS, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use crate::rel::Rel;

/// A WebFinger resource: what the `resource` query parameter names.
///
/// Build one from what a person typed with [`Resource::from_user_input`], or from a URI with
/// [`str::parse`]. Both normalise the host (lower case, IDNs in their ASCII form), so two
/// spellings of the same account compare equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// An `acct:user@host` URI ([RFC 7565](https://www.rfc-editor.org/rfc/rfc7565)).
    Acct(AcctUri),
    /// Any other absolute URI, usually the `https:` id or profile page of an actor. URIs of other
    /// schemes (`mailto:`, `did:`, ...) are carried too: a server may know them.
    Uri(Url),
}

/// An `acct:` URI ([RFC 7565](https://www.rfc-editor.org/rfc/rfc7565)): a user part and a host.
///
/// The user part is stored decoded (`acct:juliet%40capulet.example@shopping.example` has the
/// user `juliet@capulet.example`) and is encoded again when displayed. The host is normalised.
/// Two `acct:` URIs are equal when their user parts are equal and their hosts are equal; use
/// [`AcctUri::same_account`] for the case-insensitive comparison that Mastodon makes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AcctUri {
    user: String,
    host: Host,
}

/// A host with an optional port, as found in an `acct:` URI or an `https:` URL.
///
/// Domain names are lower case and in their ASCII (punycode) form; IP addresses are in their
/// canonical form; IPv6 addresses display in brackets.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Host {
    host: url::Host<String>,
    port: Option<u16>,
}

/// Why a string is not a WebFinger resource, an `acct:` URI or a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// The input is empty (or only white space).
    #[error("the resource is empty")]
    Empty,
    /// An `acct:` URI, or a handle, without the `@` between the user and the host.
    #[error("`{input}` has no `@` between the user and the host")]
    MissingAt {
        /// The input.
        input: String,
    },
    /// The user part is empty.
    #[error("`{input}` has an empty user part")]
    EmptyUser {
        /// The input.
        input: String,
    },
    /// The user part holds a character that an `acct:` URI cannot carry unencoded.
    #[error(
        "the user part of `{input}` holds the character {character:?}, which must be percent-encoded or is not allowed"
    )]
    InvalidUserCharacter {
        /// The input.
        input: String,
        /// The offending character.
        character: char,
    },
    /// The user part's percent-encoding does not decode to UTF-8 text without control characters.
    #[error("the user part of `{input}` is not valid percent-encoded UTF-8 text")]
    InvalidUserEncoding {
        /// The input.
        input: String,
    },
    /// The host part is empty.
    #[error("`{input}` has an empty host")]
    EmptyHost {
        /// The input.
        input: String,
    },
    /// The host is not a valid domain name (after IDNA processing) or IP address.
    #[error("`{host}` is not a valid host")]
    InvalidHost {
        /// The host as given.
        host: String,
        /// What the URL parser said.
        source: url::ParseError,
    },
    /// The port is not a number from 0 to 65535.
    #[error("`{port}` is not a valid port")]
    InvalidPort {
        /// The port as given.
        port: String,
    },
    /// The input is neither a handle nor an absolute URI.
    #[error("`{input}` is not an absolute URI")]
    NotAUri {
        /// The input.
        input: String,
        /// What the URL parser said.
        source: url::ParseError,
    },
    /// The resource does not name a host to send the query to (a `mailto:` or `did:` URI, say).
    #[error("`{resource}` does not name a host to ask")]
    NoHostToAsk {
        /// The resource.
        resource: String,
    },
}

impl Resource {
    /// Parses what a person typed: `acct:user@host`, `@user@host`, `user@host`, or an absolute
    /// URI such as `https://host/@user`. Surrounding white space is ignored.
    ///
    /// # Errors
    ///
    /// A [`ResourceError`] saying which part is wrong.
    pub fn from_user_input(input: &str) -> Result<Resource, ResourceError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ResourceError::Empty);
        }
        if let Some(handle) = input.strip_prefix('@') {
            return AcctUri::from_handle(handle).map(Resource::Acct);
        }
        if has_scheme(input) {
            return input.parse();
        }
        AcctUri::from_handle(input).map(Resource::Acct)
    }

    /// The host a WebFinger query for this resource goes to: the host of an `acct:` URI or of an
    /// `http(s):` URI. `None` for other schemes.
    pub fn host(&self) -> Option<Host> {
        match self {
            Resource::Acct(acct) => Some(acct.host.clone()),
            Resource::Uri(url) => match url.scheme() {
                "http" | "https" => url.host().map(|host| Host {
                    host: host.to_owned(),
                    port: url.port(),
                }),
                _ => None,
            },
        }
    }

    /// The `acct:` URI, if this is one.
    pub fn as_acct(&self) -> Option<&AcctUri> {
        match self {
            Resource::Acct(acct) => Some(acct),
            Resource::Uri(_) => None,
        }
    }

    /// The WebFinger query URL for this resource on its own host, over HTTPS
    /// ([RFC 7033 §4](https://www.rfc-editor.org/rfc/rfc7033#section-4)), with optional `rel`
    /// filters ([§4.3](https://www.rfc-editor.org/rfc/rfc7033#section-4.3)).
    ///
    /// # Errors
    ///
    /// [`ResourceError::NoHostToAsk`] when the resource names no host.
    pub fn webfinger_url(&self, rels: &[Rel]) -> Result<Url, ResourceError> {
        let host = self.host().ok_or_else(|| ResourceError::NoHostToAsk {
            resource: self.to_string(),
        })?;
        host.url_with_scheme("https", &self.webfinger_path_and_query(rels))
    }

    /// The path and query of the WebFinger request for this resource:
    /// `/.well-known/webfinger?resource=...&rel=...`.
    pub fn webfinger_path_and_query(&self, rels: &[Rel]) -> String {
        let mut out = format!(
            "{}?resource={}",
            crate::WEBFINGER_PATH,
            utf8_percent_encode(&self.to_string(), QUERY_VALUE)
        );
        for rel in rels {
            out.push_str("&rel=");
            out.push_str(&utf8_percent_encode(rel.as_str(), QUERY_VALUE).to_string());
        }
        out
    }
}

impl FromStr for Resource {
    type Err = ResourceError;

    /// Parses a URI: `acct:` URIs become [`Resource::Acct`], other absolute URIs
    /// [`Resource::Uri`]. Use [`Resource::from_user_input`] for handles without a scheme.
    fn from_str(input: &str) -> Result<Resource, ResourceError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ResourceError::Empty);
        }
        if input
            .get(..5)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("acct:"))
        {
            return input.parse().map(Resource::Acct);
        }
        // The URL parser gives `http:` and `https:` URLs a non-empty host or fails.
        let url = Url::parse(input).map_err(|source| ResourceError::NotAUri {
            input: input.to_owned(),
            source,
        })?;
        // It also drops leading control characters, which hide the `acct:` scheme from the
        // test above: an `acct:` URI is read as one however it was spelled.
        if url.scheme() == "acct" {
            return url.as_str().parse().map(Resource::Acct);
        }
        Ok(Resource::Uri(url))
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Acct(acct) => acct.fmt(f),
            Resource::Uri(url) => f.write_str(url.as_str()),
        }
    }
}

impl From<AcctUri> for Resource {
    fn from(acct: AcctUri) -> Resource {
        Resource::Acct(acct)
    }
}

impl From<Url> for Resource {
    fn from(url: Url) -> Resource {
        Resource::Uri(url)
    }
}

impl AcctUri {
    /// An `acct:` URI from a (decoded) user part and a host.
    ///
    /// # Errors
    ///
    /// [`ResourceError::EmptyUser`] or [`ResourceError::InvalidUserEncoding`] (control
    /// characters) for a user part that cannot be carried.
    pub fn new(user: impl Into<String>, host: Host) -> Result<AcctUri, ResourceError> {
        let user = user.into();
        if user.is_empty() {
            return Err(ResourceError::EmptyUser { input: user });
        }
        if user.chars().any(char::is_control) {
            return Err(ResourceError::InvalidUserEncoding { input: user });
        }
        Ok(AcctUri { user, host })
    }

    /// Parses a handle as people write it, `user@host` (no `acct:` and no leading `@`).
    ///
    /// # Errors
    ///
    /// A [`ResourceError`] saying which part is wrong.
    pub fn from_handle(handle: &str) -> Result<AcctUri, ResourceError> {
        let handle = handle.trim();
        let (user, host) = handle
            .rsplit_once('@')
            .ok_or_else(|| ResourceError::MissingAt {
                input: handle.to_owned(),
            })?;
        let user = decode_user(handle, user)?;
        let host = Host::parse_for(handle, host)?;
        Ok(AcctUri { user, host })
    }

    /// The user part, decoded.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The host (with its port, if any).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The handle as people write it: `user@host`.
    pub fn handle(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }

    /// Whether two `acct:` URIs name the same account the way Mastodon compares them: user parts
    /// equal ignoring ASCII case, hosts equal.
    pub fn same_account(&self, other: &AcctUri) -> bool {
        self.user.eq_ignore_ascii_case(&other.user) && self.host == other.host
    }
}

impl FromStr for AcctUri {
    type Err = ResourceError;

    /// Parses `acct:user@host` (the scheme is case-insensitive). The user part is split off at
    /// the last `@`.
    fn from_str(input: &str) -> Result<AcctUri, ResourceError> {
        let input = input.trim();
        let rest = input
            .get(..5)
            .filter(|scheme| scheme.eq_ignore_ascii_case("acct:"))
            .and_then(|_| input.get(5..))
            .ok_or_else(|| ResourceError::NotAUri {
                input: input.to_owned(),
                source: url::ParseError::RelativeUrlWithoutBase,
            })?;
        let (user, host) = rest
            .rsplit_once('@')
            .ok_or_else(|| ResourceError::MissingAt {
                input: input.to_owned(),
            })?;
        let user = decode_user(input, user)?;
        let host = Host::parse_for(input, host)?;
        Ok(AcctUri { user, host })
    }
}

impl fmt::Display for AcctUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "acct:{}@{}",
            utf8_percent_encode(&self.user, USERPART),
            self.host
        )
    }
}

impl Host {
    /// Parses `host` or `host:port`: a domain name (IDNs allowed, case-insensitive), an IPv4
    /// address or a bracketed IPv6 address.
    ///
    /// # Errors
    ///
    /// [`ResourceError::EmptyHost`], [`ResourceError::InvalidHost`] or
    /// [`ResourceError::InvalidPort`].
    pub fn parse(input: &str) -> Result<Host, ResourceError> {
        Host::parse_for(input, input)
    }

    /// The host without the port.
    pub fn host(&self) -> &url::Host<String> {
        &self.host
    }

    /// The port, if one was given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The URL `scheme://host[:port]` followed by `path_and_query` (which starts with `/`).
    pub(crate) fn url_with_scheme(
        &self,
        scheme: &str,
        path_and_query: &str,
    ) -> Result<Url, ResourceError> {
        Url::parse(&format!("{scheme}://{self}{path_and_query}")).map_err(|source| {
            ResourceError::InvalidHost {
                host: self.to_string(),
                source,
            }
        })
    }

    fn parse_for(input: &str, host: &str) -> Result<Host, ResourceError> {
        if host.is_empty() {
            return Err(ResourceError::EmptyHost {
                input: input.to_owned(),
            });
        }
        let (name, port) = split_port(host).ok_or_else(|| ResourceError::InvalidHost {
            host: host.to_owned(),
            source: url::ParseError::InvalidDomainCharacter,
        })?;
        if name.is_empty() {
            return Err(ResourceError::EmptyHost {
                input: input.to_owned(),
            });
        }
        let port = match port {
            None => None,
            Some(port) => Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|_| port.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| ResourceError::InvalidPort {
                        port: port.to_owned(),
                    })?,
            ),
        };
        // url::Host::parse applies IDNA (UTS #46) and lower-cases, rejects forbidden code points
        // and parses the IPv4 forms browsers accept into their canonical form.
        let parsed = url::Host::parse(name).map_err(|source| ResourceError::InvalidHost {
            host: name.to_owned(),
            source,
        })?;
        Ok(Host { host: parsed, port })
    }
}

impl FromStr for Host {
    type Err = ResourceError;

    fn from_str(input: &str) -> Result<Host, ResourceError> {
        Host::parse(input)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(Resource);
string_serde!(AcctUri);
string_serde!(Host);

/// What may stay unencoded in the user part of an `acct:` URI: RFC 3986 unreserved characters
/// and sub-delims (RFC 7565 §7).
const USERPART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// What is encoded in a query parameter value: everything that would end the value or is not
/// allowed in a query. `:`, `@` and `/` stay as they are, as Mastodon and most servers send
/// them, so logs stay readable.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn decode_user(input: &str, raw: &str) -> Result<String, ResourceError> {
    if raw.is_empty() {
        return Err(ResourceError::EmptyUser {
            input: input.to_owned(),
        });
    }
    if let Some(character) = raw
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '[' | ']'))
    {
        return Err(ResourceError::InvalidUserCharacter {
            input: input.to_owned(),
            character,
        });
    }
    let decoded =
        percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| ResourceError::InvalidUserEncoding {
                input: input.to_owned(),
            })?;
    if decoded.chars().any(char::is_control) {
        return Err(ResourceError::InvalidUserEncoding {
            input: input.to_owned(),
        });
    }
    Ok(decoded.into_owned())
}

/// Splits `host:port` and `[v6]:port`; `None` for an unbracketed IPv6 address or text after `]`
/// that is not a port.
fn split_port(host: &str) -> Option<(&str, Option<&str>)> {
    if host.starts_with('[') {
        let end = host.find(']')?;
        let (name, rest) = host.split_at(end + 1);
        return match rest {
            "" => Some((name, None)),
            _ => rest.strip_prefix(':').map(|port| (name, Some(port))),
        };
    }
    match host.split_once(':') {
        None => Some((host, None)),
        Some((_, port)) if port.contains(':') => None,
        Some((name, port)) => Some((name, Some(port))),
    }
}

/// Whether the text starts with `scheme:` (RFC 3986 §3.1) that is not the start of a handle.
fn has_scheme(input: &str) -> bool {
    let Some((scheme, _)) = input.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}
