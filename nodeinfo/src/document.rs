//! The NodeInfo document ([schema 2.x](https://github.com/jhass/nodeinfo/tree/main/schemas)).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::vocabulary::{Protocol, Service, Version};

/// A NodeInfo document, in the shape of schema 2.x.
///
/// Reading ([`NodeInfo::from_slice`]) is lenient, for documents as servers write them:
///
/// * 1.0 and 1.1 documents are read into this shape: their `protocols.inbound` and
///   `protocols.outbound` become [`NodeInfo::protocols`] (both lists, without repeats), and
///   their `services` list becomes [`Services::outbound`].
/// * protocols and services outside the schema's lists are carried ([`Protocol::new`]).
/// * `software.name` is taken as written (Mobilizon sends `"Mobilizon"`; the schema wants lower
///   case): compare with [`Software::canonical_name`].
/// * a missing `services`, `usage` or `metadata`, or a `null` one, reads as empty; a missing
///   `openRegistrations` reads as `false`; a count that is not a non-negative integer reads as
///   absent.
/// * members this type does not model are kept in the `extra` maps and written back.
///
/// To serve a document, build it with [`NodeInfo::builder`], which checks it against the
/// schema of its version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NodeInfo {
    /// The schema version.
    pub version: Version,
    /// The instance's name and description (2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Instance>,
    /// The server software.
    pub software: Software,
    /// The federation protocols the server speaks.
    #[serde(default, deserialize_with = "lenient_protocols")]
    pub protocols: Vec<Protocol>,
    /// The third-party services it connects to.
    #[serde(default, deserialize_with = "lenient_services")]
    pub services: Services,
    /// Whether anyone may sign up.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub open_registrations: bool,
    /// Usage statistics.
    #[serde(default, deserialize_with = "null_as_default")]
    pub usage: Usage,
    /// Free-form, software-specific values.
    #[serde(default, deserialize_with = "lenient_object")]
    pub metadata: BTreeMap<String, Value>,
    /// Members this type does not model, kept as they came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The instance (schema 2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Instance {
    /// The name the administrator gave the instance (at most 500 characters, one line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The administrator's description of the instance (at most 5000 characters, one line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Members this type does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The server software.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Software {
    /// The software's name, as written (the schema wants `^[a-z0-9-]+$`).
    pub name: String,
    /// The software's version (empty when the document has none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    /// Where its source code is (2.1 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Its homepage (2.1 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// Members this type does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The third-party services a server connects to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Services {
    /// Services the server reads from.
    #[serde(default, deserialize_with = "lenient_list")]
    pub inbound: Vec<Service>,
    /// Services the server publishes to.
    #[serde(default, deserialize_with = "lenient_list")]
    pub outbound: Vec<Service>,
    /// Members this type does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Usage statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Usage {
    /// User counts.
    #[serde(default, deserialize_with = "null_as_default")]
    pub users: Users,
    /// Posts made by local users.
    #[serde(
        default,
        deserialize_with = "lenient_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_posts: Option<u64>,
    /// Comments made by local users.
    #[serde(
        default,
        deserialize_with = "lenient_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_comments: Option<u64>,
    /// Members this type does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// User counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Users {
    /// Registered users.
    #[serde(
        default,
        deserialize_with = "lenient_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub total: Option<u64>,
    /// Users active in the last 180 days.
    #[serde(
        default,
        deserialize_with = "lenient_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub active_halfyear: Option<u64>,
    /// Users active in the last 30 days.
    #[serde(
        default,
        deserialize_with = "lenient_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub active_month: Option<u64>,
    /// Users active in the last 7 days (2.2).
    #[serde(
        default,
        deserialize_with = "lenient_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub active_week: Option<u64>,
    /// Members this type does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Why bytes are not a NodeInfo document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not JSON, or missing what even a lenient reader needs (`version`, `software.name`); the
    /// message names the member.
    #[error("not a NodeInfo document")]
    Json {
        /// What the JSON parser said.
        #[from]
        source: serde_json::Error,
    },
}

impl NodeInfo {
    /// Reads a NodeInfo document of any version, leniently (see the type's documentation).
    ///
    /// # Errors
    ///
    /// [`ParseError::Json`] when the bytes are not JSON, or `version` or `software.name` is
    /// missing.
    pub fn from_slice(bytes: &[u8]) -> Result<NodeInfo, ParseError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// Starts a document to serve; see [`NodeInfoBuilder`](crate::NodeInfoBuilder).
    pub fn builder(
        version: Version,
        software_name: impl Into<String>,
        software_version: impl Into<String>,
    ) -> crate::NodeInfoBuilder {
        crate::NodeInfoBuilder::new(version, software_name, software_version)
    }
}

impl Software {
    /// Software with a name and a version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Software {
        Software {
            name: name.into(),
            version: version.into(),
            repository: None,
            homepage: None,
            extra: BTreeMap::new(),
        }
    }

    /// The name in lower case, for comparisons (`"Mobilizon"` gives `"mobilizon"`).
    pub fn canonical_name(&self) -> String {
        self.name.to_lowercase()
    }

    /// Whether the name matches the schema's pattern `^[a-z0-9-]+$`.
    pub fn has_schema_name(&self) -> bool {
        is_schema_name(&self.name)
    }
}

impl Users {
    /// No counts.
    pub fn new() -> Users {
        Users::default()
    }

    /// Sets the total.
    #[must_use]
    pub fn with_total(mut self, total: u64) -> Users {
        self.total = Some(total);
        self
    }

    /// Sets the count of users active in the last 180 days.
    #[must_use]
    pub fn with_active_halfyear(mut self, count: u64) -> Users {
        self.active_halfyear = Some(count);
        self
    }

    /// Sets the count of users active in the last 30 days.
    #[must_use]
    pub fn with_active_month(mut self, count: u64) -> Users {
        self.active_month = Some(count);
        self
    }

    /// Sets the count of users active in the last 7 days (2.2 only).
    #[must_use]
    pub fn with_active_week(mut self, count: u64) -> Users {
        self.active_week = Some(count);
        self
    }
}

pub(crate) fn is_schema_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A list of strings; entries that are not strings are dropped, and anything but a list reads
/// as empty.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: for<'a> From<&'a str>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(strings(&value).map(T::from).collect())
}

/// 2.x: a list. 1.x: `{"inbound": [...], "outbound": [...]}`, read as both lists without
/// repeats.
fn lenient_protocols<'de, D>(deserializer: D) -> Result<Vec<Protocol>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    let mut protocols: Vec<Protocol> = Vec::new();
    let lists: Vec<&Value> = match &value {
        Value::Object(split) => ["inbound", "outbound"]
            .iter()
            .filter_map(|key| split.get(*key))
            .collect(),
        other => vec![other],
    };
    for protocol in lists.into_iter().flat_map(strings) {
        let protocol = Protocol::new(protocol);
        if !protocols.contains(&protocol) {
            protocols.push(protocol);
        }
    }
    Ok(protocols)
}

/// 2.x: `{"inbound": [...], "outbound": [...]}`. 1.x: a list of outbound services.
fn lenient_services<'de, D>(deserializer: D) -> Result<Services, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    match value {
        Value::Array(_) => Ok(Services {
            outbound: strings(&value).map(Service::new).collect(),
            ..Services::default()
        }),
        Value::Object(_) => serde_json::from_value(value).map_err(serde::de::Error::custom),
        _ => Ok(Services::default()),
    }
}

/// A count: a non-negative integer (or a float with an integral value); anything else reads as
/// absent.
fn lenient_count<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && *float >= 0.0 && *float < 1.8e19)
                // The filter keeps the value integral and in range, so the cast is exact.
                .map(|float| float as u64)
        }),
        _ => None,
    })
}

/// `true`/`false`; the strings `"true"`/`"false"` are read too; anything else is `false`.
fn lenient_bool<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::Bool(flag) => flag,
        Value::String(text) => text.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

/// An object; `null` and anything else read as empty (PHP servers write `[]` for an empty
/// object).
fn lenient_object<'de, D>(deserializer: D) -> Result<BTreeMap<String, Value>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::Object(map) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    })
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}
