//! Checking a received document, as JSON, against the official JSON schema of a 2.x version.
//!
//! [`NodeInfo::from_slice`](crate::NodeInfo::from_slice) reads leniently, as servers write, and
//! [`NodeInfoBuilder`](crate::NodeInfoBuilder) checks the schema of what this crate serves; a
//! conformance checker needs the third thing: what in a document someone else serves breaks its
//! schema. [`schema_violations`] answers that member by member, with the rules of the schemas
//! (`additionalProperties`, `required`, types, the software-name pattern, the protocol and
//! service lists, non-negative counts, and for 2.2 the `instance` object).

use std::fmt;

use serde_json::{Map, Value};

use crate::document::is_schema_name;
use crate::vocabulary::{Direction, Protocol, Service, Version};

/// One rule of the schema that a document breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaViolation {
    /// Where, as a JSON pointer (`/software/name`; empty for the document itself).
    pub pointer: String,
    /// Which rule, in words.
    pub rule: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(the document)"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.rule)
    }
}

/// What in `document` breaks the official JSON schema of `version` (2.0, 2.1 or 2.2; schema 2.2
/// as on the NodeInfo repository's main branch, which has not tagged it). Empty: the document
/// validates. For other versions, one violation saying that no schema is known.
///
/// ```
/// use nodeinfo::{Version, schema_violations};
/// use serde_json::json;
///
/// let document = json!({
///     "version": "2.0",
///     "software": {"name": "Mobilizon", "version": "5.1.0"},
///     "protocols": ["activitypub"],
///     "services": {"inbound": [], "outbound": []},
///     "openRegistrations": true,
///     "usage": {"users": {"total": 3}},
///     "metadata": {},
/// });
/// let violations = schema_violations(&document, &Version::V2_0);
/// assert_eq!(violations.len(), 1);
/// assert_eq!(violations[0].pointer, "/software/name");
/// ```
pub fn schema_violations(document: &Value, version: &Version) -> Vec<SchemaViolation> {
    let mut out = Violations(Vec::new());
    if !matches!(version, Version::V2_0 | Version::V2_1 | Version::V2_2) {
        out.push(
            "/version",
            format!("no schema is known for NodeInfo {version} (2.0, 2.1 and 2.2 are)"),
        );
        return out.0;
    }
    let v2_2 = *version == Version::V2_2;
    let Some(map) = out.object(document, "") else {
        return out.0;
    };
    let mut members = vec![
        "version",
        "software",
        "protocols",
        "services",
        "openRegistrations",
        "usage",
        "metadata",
    ];
    if v2_2 {
        members.push("instance");
    }
    out.members(map, "", &members, &members);
    if let Some(found) = map.get("version")
        && found.as_str() != Some(version.as_str())
    {
        out.push("/version", format!("{found}, not \"{version}\""));
    }
    if let Some(software) = map.get("software").and_then(|v| out.object(v, "/software")) {
        let allowed: &[&str] = if *version == Version::V2_0 {
            &["name", "version"]
        } else {
            &["name", "version", "repository", "homepage"]
        };
        out.members(software, "/software", allowed, &["name", "version"]);
        match software.get("name") {
            Some(Value::String(name)) if is_schema_name(name) => {}
            Some(Value::String(name)) => out.push(
                "/software/name",
                format!("{name:?} does not match ^[a-z0-9-]+$"),
            ),
            Some(_) => out.push("/software/name", "not a string"),
            None => {}
        }
        for member in allowed.iter().skip(1) {
            if let Some(value) = software.get(*member)
                && !value.is_string()
            {
                out.push(&format!("/software/{member}"), "not a string");
            }
        }
    }
    match map.get("protocols") {
        Some(Value::Array(protocols)) => {
            if protocols.is_empty() {
                out.push("/protocols", "empty; the schema wants at least one");
            }
            for (n, protocol) in protocols.iter().enumerate() {
                let listed = protocol
                    .as_str()
                    .is_some_and(|p| Protocol::new(p).is_in_schema(version));
                if !listed {
                    out.push(
                        &format!("/protocols/{n}"),
                        format!("{protocol} is not a protocol schema {version} lists"),
                    );
                }
            }
        }
        Some(_) => out.push("/protocols", "not an array"),
        None => {}
    }
    if let Some(services) = map.get("services").and_then(|v| out.object(v, "/services")) {
        let directions = ["inbound", "outbound"];
        out.members(services, "/services", &directions, &directions);
        for (name, direction) in [
            ("inbound", Direction::Inbound),
            ("outbound", Direction::Outbound),
        ] {
            match services.get(name) {
                Some(Value::Array(list)) => {
                    for (n, service) in list.iter().enumerate() {
                        let listed = service
                            .as_str()
                            .is_some_and(|s| Service::new(s).is_in_schema(direction));
                        if !listed {
                            out.push(
                                &format!("/services/{name}/{n}"),
                                format!("{service} is not an {name} service the schema lists"),
                            );
                        }
                    }
                }
                Some(_) => out.push(&format!("/services/{name}"), "not an array"),
                None => {}
            }
        }
    }
    if let Some(open) = map.get("openRegistrations")
        && !open.is_boolean()
    {
        out.push("/openRegistrations", format!("{open}, not a boolean"));
    }
    if let Some(usage) = map.get("usage").and_then(|v| out.object(v, "/usage")) {
        out.members(
            usage,
            "/usage",
            &["users", "localPosts", "localComments"],
            &["users"],
        );
        if let Some(users) = usage
            .get("users")
            .and_then(|v| out.object(v, "/usage/users"))
        {
            let mut counts = vec!["total", "activeHalfyear", "activeMonth"];
            if v2_2 {
                counts.push("activeWeek");
            }
            out.members(users, "/usage/users", &counts, &[]);
            for count in counts {
                out.count(users.get(count), &format!("/usage/users/{count}"));
            }
        }
        for count in ["localPosts", "localComments"] {
            out.count(usage.get(count), &format!("/usage/{count}"));
        }
    }
    if let Some(metadata) = map.get("metadata") {
        out.object(metadata, "/metadata");
    }
    if v2_2 && let Some(instance) = map.get("instance").and_then(|v| out.object(v, "/instance")) {
        out.members(instance, "/instance", &["name", "description"], &[]);
        for (member, limit) in [("name", 500), ("description", 5000)] {
            match instance.get(member) {
                Some(Value::String(text)) => {
                    // As the schema's ECMA-262 pattern `^.{0,N}$` reads it: `.` matches no line
                    // terminator, and N counts UTF-16 code units.
                    if text.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
                        out.push(&format!("/instance/{member}"), "more than one line");
                    }
                    if text.encode_utf16().count() > limit {
                        out.push(
                            &format!("/instance/{member}"),
                            format!("longer than {limit} UTF-16 code units"),
                        );
                    }
                }
                Some(_) => out.push(&format!("/instance/{member}"), "not a string"),
                None => {}
            }
        }
    }
    out.0
}

struct Violations(Vec<SchemaViolation>);

impl Violations {
    fn push(&mut self, pointer: &str, rule: impl Into<String>) {
        self.0.push(SchemaViolation {
            pointer: pointer.to_owned(),
            rule: rule.into(),
        });
    }

    /// `value` as an object, or a violation.
    fn object<'a>(&mut self, value: &'a Value, pointer: &str) -> Option<&'a Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            self.push(pointer, "not an object");
        }
        object
    }

    /// `required` members present, and no member outside `allowed`.
    fn members(
        &mut self,
        object: &Map<String, Value>,
        pointer: &str,
        allowed: &[&str],
        required: &[&str],
    ) {
        for member in required {
            if !object.contains_key(*member) {
                self.push(&format!("{pointer}/{member}"), "required, missing");
            }
        }
        for member in object.keys() {
            if !allowed.contains(&member.as_str()) {
                self.push(
                    &format!("{pointer}/{member}"),
                    "not a member the schema allows here",
                );
            }
        }
    }

    /// An integer ≥ 0, when present.
    fn count(&mut self, value: Option<&Value>, pointer: &str) {
        if let Some(value) = value
            && value.as_u64().is_none()
        {
            self.push(pointer, format!("{value}, not an integer ≥ 0"));
        }
    }
}
