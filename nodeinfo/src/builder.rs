//! Building a NodeInfo document to serve, checked against the schema of its version.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::document::{Instance, NodeInfo, Services, Software, Usage, Users, is_schema_name};
use crate::vocabulary::{Direction, Protocol, Service, Version};

/// The longest instance name schema 2.2 allows, in characters.
const MAX_INSTANCE_NAME: usize = 500;
/// The longest instance description schema 2.2 allows, in characters.
const MAX_INSTANCE_DESCRIPTION: usize = 5000;

/// Builds a [`NodeInfo`] to serve. [`NodeInfoBuilder::build`] checks everything the official
/// JSON schema of the version checks, so what it returns validates:
///
/// ```
/// use nodeinfo::{NodeInfo, Protocol, Users, Version};
///
/// let info = NodeInfo::builder(Version::V2_1, "my-server", "1.2.3")
///     .protocol(Protocol::ACTIVITYPUB)
///     .open_registrations(false)
///     .users(Users::new().with_total(12).with_active_month(3))
///     .local_posts(4100)
///     .repository("https://example.org/my-server.git")
///     .build()?;
/// let response = nodeinfo::server::nodeinfo_response(&info);
/// assert_eq!(
///     response.headers()["content-type"],
///     "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\""
/// );
/// # Ok::<(), nodeinfo::BuildError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct NodeInfoBuilder {
    version: Version,
    software: Software,
    protocols: Vec<Protocol>,
    services: Services,
    open_registrations: bool,
    usage: Usage,
    metadata: BTreeMap<String, Value>,
    instance: Instance,
}

/// Why a [`NodeInfoBuilder`] would make a document that does not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Documents are served in 2.0, 2.1 or 2.2 only.
    #[error("NodeInfo {version} cannot be served; use 2.0, 2.1 or 2.2")]
    UnservableVersion {
        /// The version asked for.
        version: Version,
    },
    /// The software name does not match `^[a-z0-9-]+$`.
    #[error(
        "the software name `{name}` must match ^[a-z0-9-]+$ (lower-case letters, digits and dashes)"
    )]
    SoftwareName {
        /// The name given.
        name: String,
    },
    /// No protocol: the schema wants at least one.
    #[error("a NodeInfo document lists at least one protocol")]
    NoProtocol,
    /// A protocol the schema of this version does not list.
    #[error("the protocol `{protocol}` is not in the NodeInfo {version} schema")]
    UnlistedProtocol {
        /// The protocol.
        protocol: Protocol,
        /// The version.
        version: Version,
    },
    /// A service the schema does not list for its direction.
    #[error("the {direction:?} service `{service}` is not in the NodeInfo schema")]
    UnlistedService {
        /// The service.
        service: Service,
        /// Its direction.
        direction: Direction,
    },
    /// A field the schema of this version does not have.
    #[error("`{field}` is not part of NodeInfo {version}")]
    FieldNotInVersion {
        /// The field, as a JSON path (`software.homepage`).
        field: &'static str,
        /// The version.
        version: Version,
    },
    /// An instance name or description longer than schema 2.2 allows.
    #[error("`{field}` has {length} characters; NodeInfo 2.2 allows {limit}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length in characters.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// An instance name or description with a line break, which the schema's pattern
    /// (`^.{0,500}$`) does not allow.
    #[error("`{field}` must be one line: NodeInfo 2.2 does not allow line breaks in it")]
    LineBreak {
        /// The field.
        field: &'static str,
    },
}

impl NodeInfoBuilder {
    /// A builder for `version`, with the software's name and version, no protocol yet, closed
    /// registrations and no counts.
    pub fn new(
        version: Version,
        software_name: impl Into<String>,
        software_version: impl Into<String>,
    ) -> NodeInfoBuilder {
        NodeInfoBuilder {
            version,
            software: Software::new(software_name, software_version),
            protocols: Vec::new(),
            services: Services::default(),
            open_registrations: false,
            usage: Usage::default(),
            metadata: BTreeMap::new(),
            instance: Instance::default(),
        }
    }

    /// Adds a protocol (repeats are ignored).
    pub fn protocol(mut self, protocol: Protocol) -> NodeInfoBuilder {
        if !self.protocols.contains(&protocol) {
            self.protocols.push(protocol);
        }
        self
    }

    /// Adds an inbound service.
    pub fn inbound_service(mut self, service: Service) -> NodeInfoBuilder {
        if !self.services.inbound.contains(&service) {
            self.services.inbound.push(service);
        }
        self
    }

    /// Adds an outbound service.
    pub fn outbound_service(mut self, service: Service) -> NodeInfoBuilder {
        if !self.services.outbound.contains(&service) {
            self.services.outbound.push(service);
        }
        self
    }

    /// Sets whether anyone may sign up.
    pub fn open_registrations(mut self, open: bool) -> NodeInfoBuilder {
        self.open_registrations = open;
        self
    }

    /// Sets the user counts.
    pub fn users(mut self, users: Users) -> NodeInfoBuilder {
        self.usage.users = users;
        self
    }

    /// Sets the count of local posts.
    pub fn local_posts(mut self, count: u64) -> NodeInfoBuilder {
        self.usage.local_posts = Some(count);
        self
    }

    /// Sets the count of local comments.
    pub fn local_comments(mut self, count: u64) -> NodeInfoBuilder {
        self.usage.local_comments = Some(count);
        self
    }

    /// Sets the software's source repository (2.1 and later).
    pub fn repository(mut self, url: impl Into<String>) -> NodeInfoBuilder {
        self.software.repository = Some(url.into());
        self
    }

    /// Sets the software's homepage (2.1 and later).
    pub fn homepage(mut self, url: impl Into<String>) -> NodeInfoBuilder {
        self.software.homepage = Some(url.into());
        self
    }

    /// Sets the instance name (2.2).
    pub fn instance_name(mut self, name: impl Into<String>) -> NodeInfoBuilder {
        self.instance.name = Some(name.into());
        self
    }

    /// Sets the instance description (2.2).
    pub fn instance_description(mut self, description: impl Into<String>) -> NodeInfoBuilder {
        self.instance.description = Some(description.into());
        self
    }

    /// Adds a free-form metadata entry (Mastodon puts `nodeName` here, for instance).
    pub fn metadata(mut self, key: impl Into<String>, value: Value) -> NodeInfoBuilder {
        self.metadata.insert(key.into(), value);
        self
    }

    /// Checks the document against the schema of its version and returns it.
    ///
    /// # Errors
    ///
    /// The first [`BuildError`] found.
    pub fn build(self) -> Result<NodeInfo, BuildError> {
        let version = self.version;
        if !matches!(version, Version::V2_0 | Version::V2_1 | Version::V2_2) {
            return Err(BuildError::UnservableVersion { version });
        }
        if !is_schema_name(&self.software.name) {
            return Err(BuildError::SoftwareName {
                name: self.software.name,
            });
        }
        if self.protocols.is_empty() {
            return Err(BuildError::NoProtocol);
        }
        if let Some(protocol) = self.protocols.iter().find(|p| !p.is_in_schema(&version)) {
            return Err(BuildError::UnlistedProtocol {
                protocol: protocol.clone(),
                version,
            });
        }
        for (direction, list) in [
            (Direction::Inbound, &self.services.inbound),
            (Direction::Outbound, &self.services.outbound),
        ] {
            if let Some(service) = list.iter().find(|s| !s.is_in_schema(direction)) {
                return Err(BuildError::UnlistedService {
                    service: service.clone(),
                    direction,
                });
            }
        }
        let not_in = |field| BuildError::FieldNotInVersion {
            field,
            version: version.clone(),
        };
        if version == Version::V2_0 {
            if self.software.repository.is_some() {
                return Err(not_in("software.repository"));
            }
            if self.software.homepage.is_some() {
                return Err(not_in("software.homepage"));
            }
        }
        let instance = if version == Version::V2_2 {
            check_line(
                "instance.name",
                self.instance.name.as_deref(),
                MAX_INSTANCE_NAME,
            )?;
            check_line(
                "instance.description",
                self.instance.description.as_deref(),
                MAX_INSTANCE_DESCRIPTION,
            )?;
            // Schema 2.2 requires the `instance` object, even empty.
            Some(self.instance)
        } else {
            if self.instance.name.is_some() {
                return Err(not_in("instance.name"));
            }
            if self.instance.description.is_some() {
                return Err(not_in("instance.description"));
            }
            if self.usage.users.active_week.is_some() {
                return Err(not_in("usage.users.activeWeek"));
            }
            None
        };
        Ok(NodeInfo {
            version,
            instance,
            software: self.software,
            protocols: self.protocols,
            services: self.services,
            open_registrations: self.open_registrations,
            usage: self.usage,
            metadata: self.metadata,
            extra: BTreeMap::new(),
        })
    }
}

impl NodeInfo {
    /// The same document in NodeInfo `version` (2.0, 2.1 or 2.2), checked as
    /// [`NodeInfoBuilder::build`] checks: for a server that builds one document and serves it
    /// in every version it offers. What `version` has no member for is left out or moved:
    ///
    /// * before 2.2, the instance's name and description (`instance`, 2.2) go to
    ///   `metadata.nodeName` and `metadata.nodeDescription`, where Mastodon and Mobilizon put
    ///   them, unless those are already set; `usage.users.activeWeek` is left out;
    /// * in 2.0, `software.repository` and `software.homepage` are left out;
    /// * protocols the schema of `version` does not list (`nostr` before 2.2) are left out;
    /// * members this crate does not model (the `extra` maps) are left out: the schemas allow
    ///   none outside `metadata`.
    ///
    /// ```
    /// use nodeinfo::{NodeInfo, Protocol, Version};
    ///
    /// let info = NodeInfo::builder(Version::V2_2, "my-server", "1.2.3")
    ///     .protocol(Protocol::ACTIVITYPUB)
    ///     .instance_name("Hikers of the Alps")
    ///     .build()?;
    /// let older = info.to_version(Version::V2_0)?;
    /// assert_eq!(older.instance, None);
    /// assert_eq!(older.metadata["nodeName"], "Hikers of the Alps");
    /// # Ok::<(), nodeinfo::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first [`BuildError`] found: a version that cannot be served, no protocol left, a
    /// software name or service outside the schema, an instance name too long for 2.2.
    pub fn to_version(&self, version: Version) -> Result<NodeInfo, BuildError> {
        let mut builder = NodeInfoBuilder::new(
            version.clone(),
            self.software.name.clone(),
            self.software.version.clone(),
        )
        .open_registrations(self.open_registrations)
        .users(Users {
            total: self.usage.users.total,
            active_halfyear: self.usage.users.active_halfyear,
            active_month: self.usage.users.active_month,
            active_week: self
                .usage
                .users
                .active_week
                .filter(|_| version == Version::V2_2),
            extra: BTreeMap::new(),
        });
        for protocol in self.protocols.iter().filter(|p| p.is_in_schema(&version)) {
            builder = builder.protocol(protocol.clone());
        }
        for service in &self.services.inbound {
            builder = builder.inbound_service(service.clone());
        }
        for service in &self.services.outbound {
            builder = builder.outbound_service(service.clone());
        }
        builder.usage.local_posts = self.usage.local_posts;
        builder.usage.local_comments = self.usage.local_comments;
        if version != Version::V2_0 {
            builder
                .software
                .repository
                .clone_from(&self.software.repository);
            builder
                .software
                .homepage
                .clone_from(&self.software.homepage);
        }
        builder.metadata.clone_from(&self.metadata);
        let instance = self.instance.clone().unwrap_or_default();
        if version == Version::V2_2 {
            builder.instance.name = instance.name;
            builder.instance.description = instance.description;
        } else {
            for (key, value) in [
                ("nodeName", instance.name),
                ("nodeDescription", instance.description),
            ] {
                if let Some(value) = value {
                    builder
                        .metadata
                        .entry(key.to_owned())
                        .or_insert(Value::String(value));
                }
            }
        }
        builder.build()
    }
}

fn check_line(field: &'static str, text: Option<&str>, limit: usize) -> Result<(), BuildError> {
    let Some(text) = text else {
        return Ok(());
    };
    // The schema's `.` (ECMA-262) matches neither of these.
    if text.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
        return Err(BuildError::LineBreak { field });
    }
    // ECMA-262 patterns without the `u` flag count UTF-16 code units.
    let length = text.encode_utf16().count();
    if length > limit {
        return Err(BuildError::TooLong {
            field,
            length,
            limit,
        });
    }
    Ok(())
}
