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
        let url = url::Url::parse(iri.as_str()).ok()?;
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

/// Whether `a` and `b` have the same origin. IRIs without a host never match.
pub fn same_origin(a: &Iri, b: &Iri) -> bool {
    matches!((Origin::of(a), Origin::of(b)), (Some(x), Some(y)) if x == y)
}

/// Checks that `iri` (the value of `field`) has the same origin as `against` (the value of
/// `against_field`).
pub fn check_same_origin(
    field: &'static str,
    iri: &Iri,
    against_field: &'static str,
    against: &Iri,
) -> Result<(), OriginError> {
    let expected = Origin::of(against).ok_or_else(|| OriginError::NoOrigin {
        field: against_field,
        iri: against.to_string(),
    })?;
    let found = Origin::of(iri).ok_or_else(|| OriginError::NoOrigin {
        field,
        iri: iri.to_string(),
    })?;
    if found == expected {
        Ok(())
    } else {
        Err(OriginError::Mismatch {
            field,
            iri: iri.to_string(),
            found: found.to_string(),
            against: against_field,
            expected: expected.to_string(),
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
