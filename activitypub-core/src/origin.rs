//! Origin checks: does this id belong to the same server as that actor or key?
//!
//! An ActivityPub server must not believe a server about objects it does not host: an activity
//! from `a.example` that creates a note with an id on `b.example` is forged (or must be fetched
//! from `b.example` to be believed). These functions compare origins (scheme, host, port) the way
//! browsers do, after normalizing case, IDNs and default ports.

use std::fmt;

use crate::{Activity, ActivityType, AnyObject, Iri, reference_id};

/// The origin of an IRI: scheme, normalized host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// The origin of `iri`, or `None` when it has no host (`urn:`, `acct:`, a malformed URL).
    pub fn of(iri: &Iri) -> Option<Self> {
        match Plain::of(iri.as_str()) {
            Some(plain) => Some(plain.to_origin()),
            None => Self::parsed(iri.as_str()),
        }
    }

    /// [`Origin::of`] through the URL parser, whatever the IRI looks like.
    fn parsed(iri: &str) -> Option<Self> {
        let url = url::Url::parse(iri).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        Some(Self {
            scheme: url.scheme().to_owned(),
            port: url.port_or_known_default(),
            host,
        })
    }

    /// The scheme (`https`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, lowercase, IDNs in ASCII (punycode) form.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The host with the port when it is not the scheme's default (`example.com`,
    /// `127.0.0.1:8443`): the part of a handle after the `@`.
    pub fn authority(&self) -> String {
        match self.port {
            Some(443) if self.scheme == "https" => self.host.clone(),
            Some(80) if self.scheme == "http" => self.host.clone(),
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority())
    }
}

/// Why an origin check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// The IRI in `field` has no origin (no host, or not a URL).
    #[error("`{field}` ({iri}) has no host to compare")]
    NoOrigin {
        /// The field.
        field: &'static str,
        /// Its value.
        iri: String,
    },
    /// The IRI in `field` is on another server than the one it is checked against.
    #[error("`{field}` ({iri}) is on {found}, not on {expected} like `{against}`")]
    Mismatch {
        /// The field checked.
        field: &'static str,
        /// Its value.
        iri: String,
        /// Its origin.
        found: String,
        /// The field it was checked against.
        against: &'static str,
        /// The origin it should have had.
        expected: String,
    },
    /// A field that the check needs is missing.
    #[error("`{field}` is missing")]
    Missing {
        /// The field.
        field: &'static str,
    },
}

/// The origin of a plain `http` or `https` URL, borrowed from its text: the scheme in lowercase,
/// then `://`, then a host of ASCII letters, digits, `-` and `.` (no empty label, no IDN in
/// `xn--` form, a last label starting with a letter, so never an IPv4 address), then an optional
/// port of digits, then the end or `/`, `?` or `#`. Every server's ids look like this; for such
/// a text the URL parser's origin is exactly this one (the host lowercased, the port or the
/// scheme's default), without parsing and allocating the whole URL. Anything else (`None`) goes
/// through the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plain<'a> {
    scheme: &'static str,
    /// As written: compared without case.
    host: &'a str,
    port: u16,
}

impl<'a> Plain<'a> {
    fn of(iri: &'a str) -> Option<Self> {
        let (scheme, default_port, rest) = if let Some(rest) = iri.strip_prefix("https://") {
            ("https", 443, rest)
        } else if let Some(rest) = iri.strip_prefix("http://") {
            ("http", 80, rest)
        } else {
            return None;
        };
        let end = rest
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let authority = rest.get(..end)?;
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let port = match port {
            None => default_port,
            // 1 to 5 digits, at most 65535 (the parser refuses more, and reads an empty port
            // as none: both left to it).
            Some(digits)
                if !digits.is_empty()
                    && digits.len() <= 5
                    && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                digits.parse::<u16>().ok()?
            }
            Some(_) => return None,
        };
        let mut last_label = "";
        for label in host.split('.') {
            let plain = !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label
                    .get(..4)
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case("xn--"));
            if !plain {
                return None;
            }
            last_label = label;
        }
        // A last label starting with a digit may make the host an IPv4 address (or refused).
        if !last_label
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
        {
            return None;
        }
        Some(Self { scheme, host, port })
    }

    fn to_origin(self) -> Origin {
        Origin {
            scheme: self.scheme.to_owned(),
            host: self.host.to_ascii_lowercase(),
            port: Some(self.port),
        }
    }
}

/// An origin for comparing, borrowed when the IRI is [`Plain`].
enum Compared<'a> {
    Plain(Plain<'a>),
    Parsed(Origin),
}

impl<'a> Compared<'a> {
    fn of(iri: &'a Iri) -> Option<Self> {
        match Plain::of(iri.as_str()) {
            Some(plain) => Some(Self::Plain(plain)),
            None => Origin::parsed(iri.as_str()).map(Self::Parsed),
        }
    }

    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Plain(a), Self::Plain(b)) => {
                a.scheme == b.scheme && a.port == b.port && a.host.eq_ignore_ascii_case(b.host)
            }
            (Self::Plain(plain), Self::Parsed(parsed))
            | (Self::Parsed(parsed), Self::Plain(plain)) => {
                parsed.scheme == plain.scheme
                    && parsed.port == Some(plain.port)
                    && parsed.host.eq_ignore_ascii_case(plain.host)
            }
            (Self::Parsed(a), Self::Parsed(b)) => a == b,
        }
    }

    fn into_origin(self) -> Origin {
        match self {
            Self::Plain(plain) => plain.to_origin(),
            Self::Parsed(origin) => origin,
        }
    }
}

/// The host of the URL `text`, exactly as `url::Url::parse(text)` and `Url::host_str` give it
/// (for an `http` or `https` URL: lowercase, IDNs in ASCII form), or `None` when it is not a
/// URL with a host. Borrowed from `text` for a plain URL (see [`Origin::of`]), without parsing
/// the whole URL.
pub fn url_host(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    match Plain::of(text) {
        Some(plain) if plain.host.bytes().any(|b| b.is_ascii_uppercase()) => {
            Some(std::borrow::Cow::Owned(plain.host.to_ascii_lowercase()))
        }
        Some(plain) => Some(std::borrow::Cow::Borrowed(plain.host)),
        None => url::Url::parse(text)
            .ok()?
            .host_str()
            .map(|host| std::borrow::Cow::Owned(host.to_owned())),
    }
}

/// Whether `a` and `b` have the same origin. IRIs without a host never match.
pub fn same_origin(a: &Iri, b: &Iri) -> bool {
    matches!((Compared::of(a), Compared::of(b)), (Some(x), Some(y)) if x.same(&y))
}

/// Checks that `iri` (the value of `field`) has the same origin as `against` (the value of
/// `against_field`).
pub fn check_same_origin(
    field: &'static str,
    iri: &Iri,
    against_field: &'static str,
    against: &Iri,
) -> Result<(), OriginError> {
    let expected = Compared::of(against).ok_or_else(|| OriginError::NoOrigin {
        field: against_field,
        iri: against.to_string(),
    })?;
    let found = Compared::of(iri).ok_or_else(|| OriginError::NoOrigin {
        field,
        iri: iri.to_string(),
    })?;
    if found.same(&expected) {
        Ok(())
    } else {
        Err(OriginError::Mismatch {
            field,
            iri: iri.to_string(),
            found: found.into_origin().to_string(),
            against: against_field,
            expected: expected.into_origin().to_string(),
        })
    }
}

/// Checks that a signing key belongs to the server of the actor it claims (`key_id` is
/// `https://host/users/a#main-key` for actor `https://host/users/a`).
pub fn check_key_owner(key_id: &Iri, actor: &Iri) -> Result<(), OriginError> {
    check_same_origin("keyId", key_id, "actor", actor)
}

/// Checks that an incoming activity is about what its actor's server may speak for:
///
/// - the activity's `id`, when present, is on the actor's server, and so is every other actor
///   it names (`"actor": [a, b]`: the signature speaks for the first, so a second actor from
///   another server would be believed on the first one's word);
/// - for `Create`, `Update` and `Delete`, the object (embedded or referenced) is on the actor's
///   server, and so is an embedded object's `attributedTo`;
/// - for `Undo`, an embedded activity was performed by an actor on the same server.
///
/// `Announce`, `Like` and the rest reference other servers' objects by design and are not
/// checked beyond the activity id. An embedded object that passes is still only as trustworthy as
/// the signature on the whole activity.
pub fn check_activity_origin(activity: &Activity) -> Result<(), OriginError> {
    let actor = activity
        .actor_id()
        .ok_or(OriginError::Missing { field: "actor" })?;
    if let Some(id) = &activity.props.id {
        check_same_origin("id", id, "actor", actor)?;
    }
    for other in activity.actor.iter().flatten().filter_map(reference_id) {
        check_same_origin("actor", other, "actor", actor)?;
    }
    let objects = activity.object.iter().flatten();
    match activity.kind {
        ActivityType::Create | ActivityType::Update | ActivityType::Delete => {
            for object in objects {
                if let Some(id) = reference_id(object) {
                    check_same_origin("object.id", id, "actor", actor)?;
                }
                if let Some(embedded) = object.as_object() {
                    for author in embedded.props().attributed_to.iter().flatten() {
                        if let Some(author) = reference_id(author) {
                            check_same_origin("object.attributedTo", author, "actor", actor)?;
                        }
                    }
                }
            }
        }
        ActivityType::Undo => {
            for object in objects {
                if let Some(AnyObject::Activity(inner)) = object.as_object() {
                    let inner_actor = inner.actor_id().ok_or(OriginError::Missing {
                        field: "object.actor",
                    })?;
                    check_same_origin("object.actor", inner_actor, "actor", actor)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the fast reading says about `text`, next to the parser's answer: when the fast
    /// reading applies, its origin is the parser's.
    fn agrees(text: &str) {
        let parsed = Origin::parsed(text);
        if let Some(plain) = Plain::of(text) {
            assert_eq!(Some(plain.to_origin()), parsed, "{text:?}");
        }
        let expected_host = url::Url::parse(text)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned));
        assert_eq!(
            url_host(text).map(std::borrow::Cow::into_owned),
            expected_host,
            "{text:?}"
        );
        let Ok(iri) = Iri::parse(text) else {
            return;
        };
        assert_eq!(Origin::of(&iri), parsed, "{text:?}");
        // Comparisons, against a few others of each kind.
        for other in [
            "https://example.com/x",
            "https://EXAMPLE.com:443/y",
            "https://example.com:8443/",
            "http://example.com/",
            "https://xn--bcher-kva.example/",
            "https://127.0.0.1/",
            "urn:x:y",
        ] {
            let other = Iri::parse(other).unwrap();
            let expected =
                matches!((&parsed, Origin::parsed(other.as_str())), (Some(a), Some(b)) if *a == b);
            assert_eq!(same_origin(&iri, &other), expected, "{text:?} / {other:?}");
            assert_eq!(same_origin(&other, &iri), expected, "{other:?} / {text:?}");
            assert_eq!(
                check_same_origin("id", &iri, "actor", &other).is_ok(),
                expected,
                "{text:?} / {other:?}"
            );
        }
    }

    #[test]
    fn the_fast_reading_agrees_with_the_url_parser() {
        for text in [
            "https://example.com/users/a",
            "https://Example.COM/users/a#main-key",
            "https://example.com",
            "https://example.com?q",
            "https://example.com#f",
            "https://example.com:443/x",
            "https://example.com:0443/x",
            "https://example.com:8443/x",
            "https://example.com:0/x",
            "https://example.com:65535/x",
            "https://example.com:65536/x",
            "https://example.com:99999/x",
            "https://example.com:/x",
            "https://example.com:44a/x",
            "https://example.com:443:1/x",
            "http://example.com:80/x",
            "http://example.com:443/x",
            "https://example.com./x",
            "https://.example.com/x",
            "https://example..com/x",
            "https://-example-.com/x",
            "https://ex--ample.com/x",
            "https://xn--bcher-kva.example/x",
            "https://XN--bcher-kva.example/x",
            "https://xn--invalid-.example/x",
            "https://a.xn--/x",
            "https://127.0.0.1/x",
            "https://example.123/x",
            "https://example.0x1/x",
            "https://1.2.3.4.example/x",
            "https://0x7f.1/x",
            "https://user@example.com/x",
            "https://user:pw@example.com/x",
            "https://[::1]:8443/x",
            "https://ex%41mple.com/x",
            "https://exa_mple.com/x",
            "https://bücher.example/x",
            "https:example.com/x",
            "https:/example.com/x",
            "https:///example.com/x",
            "https://example.com\\x",
            "HTTPS://example.com/x",
            "ftp://example.com/x",
            "wss://example.com/x",
            "foo://example.com/x",
            "https:///",
            "https://",
            "http://a/x",
            "urn:uuid:1",
            "acct:a@example.com",
        ] {
            agrees(text);
        }
    }

    #[test]
    fn plain_urls_take_the_fast_reading() {
        for text in [
            "https://example.com/users/a",
            "https://Mastodon.Social:8443/users/a?x#y",
            "http://localhost:3000/inbox",
        ] {
            assert!(Plain::of(text).is_some(), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text_of_url_characters_agrees(
            scheme in prop_oneof![Just("https://"), Just("http://"), Just("HTTPS://"), Just("https:/")],
            authority in "[a-zA-Z0-9.:@%_\\[\\]-]{0,24}",
            rest in prop_oneof![Just(""), Just("/"), Just("/users/a"), Just("?q"), Just("#k"), Just("\\x")],
        ) {
            agrees(&format!("{scheme}{authority}{rest}"));
        }

        #[test]
        fn host_like_texts_agree(
            labels in prop::collection::vec("(xn--)?[a-zA-Z0-9-]{0,6}", 1..5),
            port in prop::option::of("[0-9]{0,6}"),
        ) {
            let host = labels.join(".");
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            agrees(&format!("https://{host}{port}/x"));
        }
    }
}
