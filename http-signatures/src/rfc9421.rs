//! RFC 9421 HTTP Message Signatures: component identifiers, `Signature-Input`, `Signature`,
//! `Accept-Signature`, and the signature base.
//!
//! Structured fields are parsed and serialized with the `sfv` crate, as RFC 8941 values.

use std::fmt;

use crate::message::Message;

/// The `Signature-Input` header name.
pub const SIGNATURE_INPUT: http::HeaderName = http::HeaderName::from_static("signature-input");
/// The `Signature` header name (shared with draft-cavage's header of the same name).
pub const SIGNATURE: http::HeaderName = http::HeaderName::from_static("signature");
/// The `Accept-Signature` header name.
pub const ACCEPT_SIGNATURE: http::HeaderName = http::HeaderName::from_static("accept-signature");

/// A parameter of a component identifier ([RFC 9421 §2.1], §2.2.8).
///
/// [RFC 9421 §2.1]: https://www.rfc-editor.org/rfc/rfc9421#section-2.1
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ComponentParameter {
    /// `sf`: re-serialize the field as a structured field.
    Sf,
    /// `key="..."`: one member of a dictionary field.
    Key(String),
    /// `bs`: each field line wrapped as a byte sequence.
    Bs,
    /// `req`: the component comes from the request this response answers (not supported).
    Req,
    /// `tr`: the field comes from the trailers (not supported).
    Tr,
    /// `name="..."`: the query parameter of `@query-param`.
    Name(String),
}

/// A component identifier: a lowercase field name or a derived component (`@method`, ...),
/// with its parameters in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Component {
    /// The name: a lowercase field name, or `@` and a derived component name.
    pub name: String,
    /// Parameters, in the order they are serialized.
    pub parameters: Vec<ComponentParameter>,
}

impl Component {
    /// A component without parameters. Field names are lowercased.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into().to_ascii_lowercase(),
            parameters: Vec::new(),
        }
    }

    /// `"@query-param";name="<name>"`.
    pub fn query_param(name: impl Into<String>) -> Self {
        Self::new("@query-param").with_parameter(ComponentParameter::Name(name.into()))
    }

    /// Adds a parameter.
    pub fn with_parameter(mut self, parameter: ComponentParameter) -> Self {
        self.parameters.push(parameter);
        self
    }

    /// Parses one component identifier as it appears in `Signature-Input`
    /// (`"@query-param";name="Pet"`), or a bare name (`@method`, `content-digest`).
    pub fn parse(text: &str) -> Result<Self, Rfc9421ParseError> {
        let text = text.trim();
        if !text.starts_with('"') {
            return Ok(Self::new(text));
        }
        let item = sfv::Parser::new(text)
            .with_version(sfv::Version::Rfc8941)
            .parse_item::<sfv::Item>()
            .map_err(|e| Rfc9421ParseError::StructuredField {
                reason: e.to_string(),
            })?;
        Self::from_item(&item)
    }

    fn from_item(item: &sfv::Item) -> Result<Self, Rfc9421ParseError> {
        let sfv::BareItem::String(name) = &item.bare_item else {
            return Err(Rfc9421ParseError::ComponentNotString);
        };
        let name = name.as_str();
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(Rfc9421ParseError::InvalidComponentName {
                name: name.to_owned(),
            });
        }
        let mut parameters = Vec::new();
        for (key, value) in &item.params {
            let string = || {
                value
                    .as_string()
                    .map(|s| s.as_str().to_owned())
                    .ok_or_else(|| Rfc9421ParseError::InvalidComponentParameter {
                        component: name.to_owned(),
                        parameter: key.as_str().to_owned(),
                    })
            };
            let flag = || {
                if value.as_boolean() == Some(true) {
                    Ok(())
                } else {
                    Err(Rfc9421ParseError::InvalidComponentParameter {
                        component: name.to_owned(),
                        parameter: key.as_str().to_owned(),
                    })
                }
            };
            let parameter = match key.as_str() {
                "sf" => flag().map(|()| ComponentParameter::Sf)?,
                "bs" => flag().map(|()| ComponentParameter::Bs)?,
                "req" => flag().map(|()| ComponentParameter::Req)?,
                "tr" => flag().map(|()| ComponentParameter::Tr)?,
                "key" => ComponentParameter::Key(string()?),
                "name" => ComponentParameter::Name(string()?),
                other => {
                    return Err(Rfc9421ParseError::InvalidComponentParameter {
                        component: name.to_owned(),
                        parameter: other.to_owned(),
                    });
                }
            };
            parameters.push(parameter);
        }
        Ok(Self {
            name: name.to_owned(),
            parameters,
        })
    }

    /// The identifier as serialized in a signature base and in `Signature-Input`.
    pub fn serialize(&self) -> Result<String, Rfc9421ParseError> {
        let invalid = || Rfc9421ParseError::InvalidComponentName {
            name: self.name.clone(),
        };
        let mut out = String::new();
        let name = sfv::StringRef::from_str(&self.name).map_err(|_| invalid())?;
        let mut ser = sfv::ItemSerializer::with_buffer(&mut out).bare_item(name);
        for parameter in &self.parameters {
            let (key, value): (&str, sfv::RefBareItem<'_>) = match parameter {
                ComponentParameter::Sf => ("sf", true.into()),
                ComponentParameter::Bs => ("bs", true.into()),
                ComponentParameter::Req => ("req", true.into()),
                ComponentParameter::Tr => ("tr", true.into()),
                ComponentParameter::Key(k) => (
                    "key",
                    sfv::StringRef::from_str(k).map_err(|_| invalid())?.into(),
                ),
                ComponentParameter::Name(n) => (
                    "name",
                    sfv::StringRef::from_str(n).map_err(|_| invalid())?.into(),
                ),
            };
            let key = sfv::KeyRef::from_str(key).map_err(|_| invalid())?;
            ser = ser.parameter(key, value);
        }
        let _ = ser.finish();
        Ok(out)
    }

    fn has(&self, parameter: &ComponentParameter) -> bool {
        self.parameters.contains(parameter)
    }

    fn key_parameter(&self) -> Option<&str> {
        self.parameters.iter().find_map(|p| match p {
            ComponentParameter::Key(k) => Some(k.as_str()),
            _ => None,
        })
    }

    fn name_parameter(&self) -> Option<&str> {
        self.parameters.iter().find_map(|p| match p {
            ComponentParameter::Name(n) => Some(n.as_str()),
            _ => None,
        })
    }
}

impl fmt::Display for Component {
    /// The name followed by its parameters, without quoting the name: `@query-param;name="Pet"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.serialize() {
            Ok(serialized) => {
                let unquoted = serialized
                    .strip_prefix('"')
                    .and_then(|s| s.split_once('"'))
                    .map(|(name, params)| format!("{name}{params}"));
                f.write_str(unquoted.as_deref().unwrap_or(&serialized))
            }
            Err(_) => f.write_str(&self.name),
        }
    }
}

/// The signature parameters of one signature ([RFC 9421 §2.3]): the covered components and the
/// metadata.
///
/// [RFC 9421 §2.3]: https://www.rfc-editor.org/rfc/rfc9421#section-2.3
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureParams {
    /// The covered components, in order.
    pub components: Vec<Component>,
    /// `created`: creation time, Unix seconds.
    pub created: Option<i64>,
    /// `expires`: expiry time, Unix seconds.
    pub expires: Option<i64>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `alg`: the algorithm name as given.
    pub alg: Option<String>,
    /// `keyid`.
    pub keyid: Option<String>,
    /// `tag`.
    pub tag: Option<String>,
    /// The parameters as serialized (for a parsed value: in the order received, unknown ones
    /// included), which is what `@signature-params` covers.
    pub serialized: String,
}

impl SignatureParams {
    /// Parameters covering `components`, serialized in the order `created`, `expires`, `keyid`,
    /// `alg`, `nonce`, `tag`.
    pub fn new(components: Vec<Component>) -> Self {
        Self {
            components,
            ..Self::default()
        }
    }

    /// Sets `created`.
    pub fn with_created(mut self, created: i64) -> Self {
        self.created = Some(created);
        self
    }

    /// Sets `expires`.
    pub fn with_expires(mut self, expires: i64) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Sets `nonce`.
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Sets `alg`.
    pub fn with_alg(mut self, alg: impl Into<String>) -> Self {
        self.alg = Some(alg.into());
        self
    }

    /// Sets `keyid`.
    pub fn with_keyid(mut self, keyid: impl Into<String>) -> Self {
        self.keyid = Some(keyid.into());
        self
    }

    /// Sets `tag`.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Serializes the inner list with its parameters and stores it in `serialized`.
    pub fn serialize(&mut self) -> Result<&str, Rfc9421ParseError> {
        let invalid = |what: &str| Rfc9421ParseError::InvalidParameter {
            parameter: what.to_owned(),
        };
        let mut items = Vec::with_capacity(self.components.len());
        for component in &self.components {
            let serialized = component.serialize()?;
            let item = sfv::Parser::new(&serialized)
                .parse_item::<sfv::Item>()
                .map_err(|_| invalid(&component.name))?;
            items.push(item);
        }
        let mut params = sfv::Parameters::new();
        let mut put = |key: &str, value: sfv::BareItem| -> Result<(), Rfc9421ParseError> {
            let key = sfv::Key::from_string(key.to_owned()).map_err(|_| invalid(key))?;
            params.insert(key, value);
            Ok(())
        };
        let string = |name: &str, value: &str| -> Result<sfv::BareItem, Rfc9421ParseError> {
            sfv::String::from_string(value.to_owned())
                .map(sfv::BareItem::String)
                .map_err(|_| invalid(name))
        };
        let integer = |name: &str, value: i64| -> Result<sfv::BareItem, Rfc9421ParseError> {
            sfv::Integer::try_from(value)
                .map(sfv::BareItem::Integer)
                .map_err(|_| invalid(name))
        };
        if let Some(created) = self.created {
            put("created", integer("created", created)?)?;
        }
        if let Some(expires) = self.expires {
            put("expires", integer("expires", expires)?)?;
        }
        if let Some(keyid) = &self.keyid {
            put("keyid", string("keyid", keyid)?)?;
        }
        if let Some(alg) = &self.alg {
            put("alg", string("alg", alg)?)?;
        }
        if let Some(nonce) = &self.nonce {
            put("nonce", string("nonce", nonce)?)?;
        }
        if let Some(tag) = &self.tag {
            put("tag", string("tag", tag)?)?;
        }
        let list = sfv::InnerList::with_params(items, params);
        let mut ser = sfv::ListSerializer::new();
        ser.members([&sfv::ListEntry::InnerList(list)]);
        self.serialized = ser.finish().unwrap_or_else(|| "()".to_owned());
        Ok(&self.serialized)
    }

    fn from_inner_list(list: &sfv::InnerList) -> Result<Self, Rfc9421ParseError> {
        let mut params = SignatureParams::default();
        for item in &list.items {
            params.components.push(Component::from_item(item)?);
        }
        let invalid = |name: &str| Rfc9421ParseError::InvalidParameter {
            parameter: name.to_owned(),
        };
        for (key, value) in &list.params {
            let name = key.as_str();
            let string = || {
                value
                    .as_string()
                    .map(|s| s.as_str().to_owned())
                    .ok_or_else(|| invalid(name))
            };
            let integer = || {
                value
                    .as_integer()
                    .map(i64::from)
                    .ok_or_else(|| invalid(name))
            };
            match name {
                "created" => params.created = Some(integer()?),
                "expires" => params.expires = Some(integer()?),
                "nonce" => params.nonce = Some(string()?),
                "alg" => params.alg = Some(string()?),
                "keyid" => params.keyid = Some(string()?),
                "tag" => params.tag = Some(string()?),
                // RFC 9421 §2.3: parameters this implementation does not know are covered by
                // the serialization below but otherwise ignored.
                _ => {}
            }
        }
        let mut ser = sfv::ListSerializer::new();
        ser.members([&sfv::ListEntry::InnerList(list.clone())]);
        params.serialized = ser.finish().unwrap_or_else(|| "()".to_owned());
        Ok(params)
    }
}

/// One signature found in a message: its label, parameters and signature bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageSignature {
    /// The dictionary key shared by `Signature-Input` and `Signature`.
    pub label: String,
    /// The parameters from `Signature-Input`.
    pub params: SignatureParams,
    /// The signature bytes from `Signature`.
    pub signature: Vec<u8>,
}

/// A `Signature-Input`, `Signature` or `Accept-Signature` field, or a component identifier, is
/// malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rfc9421ParseError {
    /// Not a valid RFC 8941 structured field.
    #[error("not a valid structured field: {reason}")]
    StructuredField {
        /// What the structured-field parser reported.
        reason: String,
    },
    /// A `Signature-Input` or `Accept-Signature` member is not an inner list.
    #[error("member {label:?} is not an inner list of component identifiers")]
    NotInnerList {
        /// The member's label.
        label: String,
    },
    /// A `Signature` member is not a byte sequence.
    #[error("member {label:?} is not a byte sequence")]
    NotByteSequence {
        /// The member's label.
        label: String,
    },
    /// A component identifier is not a string.
    #[error("a component identifier is not a string")]
    ComponentNotString,
    /// A component name is empty or has uppercase letters.
    #[error("invalid component name {name:?}")]
    InvalidComponentName {
        /// The name.
        name: String,
    },
    /// A component parameter is unknown or has the wrong type.
    #[error("invalid parameter {parameter:?} on component {component:?}")]
    InvalidComponentParameter {
        /// The component.
        component: String,
        /// The parameter.
        parameter: String,
    },
    /// A signature parameter has the wrong type.
    #[error("signature parameter {parameter:?} has the wrong type")]
    InvalidParameter {
        /// The parameter.
        parameter: String,
    },
    /// A label is in `Signature-Input` but not in `Signature`, or the other way round.
    #[error("label {label:?} is in {present_in} but not in the other header")]
    UnmatchedLabel {
        /// The label.
        label: String,
        /// The header it was found in.
        present_in: &'static str,
    },
    /// The field has no member.
    #[error("the field is empty")]
    Empty,
}

fn parse_dictionary(value: &str) -> Result<sfv::Dictionary, Rfc9421ParseError> {
    let dict = sfv::Parser::new(value)
        .with_version(sfv::Version::Rfc8941)
        .parse_dictionary::<sfv::Dictionary>()
        .map_err(|e| Rfc9421ParseError::StructuredField {
            reason: e.to_string(),
        })?;
    if dict.is_empty() {
        return Err(Rfc9421ParseError::Empty);
    }
    Ok(dict)
}

/// Parses a `Signature-Input` field value into labelled signature parameters.
pub fn parse_signature_input(
    value: &str,
) -> Result<Vec<(String, SignatureParams)>, Rfc9421ParseError> {
    parse_dictionary(value)?
        .iter()
        .map(|(label, entry)| match entry {
            sfv::ListEntry::InnerList(list) => Ok((
                label.as_str().to_owned(),
                SignatureParams::from_inner_list(list)?,
            )),
            sfv::ListEntry::Item(_) => Err(Rfc9421ParseError::NotInnerList {
                label: label.as_str().to_owned(),
            }),
        })
        .collect()
}

/// Parses an RFC 9421 `Signature` field value into labelled signature bytes.
pub fn parse_signature(value: &str) -> Result<Vec<(String, Vec<u8>)>, Rfc9421ParseError> {
    parse_dictionary(value)?
        .iter()
        .map(|(label, entry)| match entry {
            sfv::ListEntry::Item(sfv::Item {
                bare_item: sfv::BareItem::ByteSequence(bytes),
                ..
            }) => Ok((label.as_str().to_owned(), bytes.clone())),
            _ => Err(Rfc9421ParseError::NotByteSequence {
                label: label.as_str().to_owned(),
            }),
        })
        .collect()
}

/// Pairs the members of `Signature-Input` and `Signature` by label, in `Signature-Input` order.
pub fn parse_signatures(
    signature_input: &str,
    signature: &str,
) -> Result<Vec<MessageSignature>, Rfc9421ParseError> {
    let inputs = parse_signature_input(signature_input)?;
    let mut signatures = parse_signature(signature)?;
    let mut out = Vec::with_capacity(inputs.len());
    for (label, params) in inputs {
        let position = signatures
            .iter()
            .position(|(l, _)| *l == label)
            .ok_or_else(|| Rfc9421ParseError::UnmatchedLabel {
                label: label.clone(),
                present_in: "Signature-Input",
            })?;
        let (_, bytes) = signatures.swap_remove(position);
        out.push(MessageSignature {
            label,
            params,
            signature: bytes,
        });
    }
    if let Some((label, _)) = signatures.into_iter().next() {
        return Err(Rfc9421ParseError::UnmatchedLabel {
            label,
            present_in: "Signature",
        });
    }
    Ok(out)
}

/// One signature an `Accept-Signature` field asks for ([RFC 9421 §5.1]).
///
/// [RFC 9421 §5.1]: https://www.rfc-editor.org/rfc/rfc9421#section-5.1
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureRequest {
    /// The label the signature should have.
    pub label: String,
    /// The components it should cover.
    pub components: Vec<Component>,
    /// The key it should be made with, if the asker says.
    pub keyid: Option<String>,
    /// The algorithm it should use, if the asker says.
    pub alg: Option<String>,
    /// The `tag` it should carry.
    pub tag: Option<String>,
    /// The `nonce` it should carry (a value the asker chose).
    pub nonce: Option<String>,
    /// Whether `created` is asked for.
    pub created: bool,
    /// Whether `expires` is asked for.
    pub expires: bool,
}

/// Parses an `Accept-Signature` field value.
pub fn parse_accept_signature(value: &str) -> Result<Vec<SignatureRequest>, Rfc9421ParseError> {
    parse_dictionary(value)?
        .iter()
        .map(|(label, entry)| {
            let sfv::ListEntry::InnerList(list) = entry else {
                return Err(Rfc9421ParseError::NotInnerList {
                    label: label.as_str().to_owned(),
                });
            };
            let mut request = SignatureRequest {
                label: label.as_str().to_owned(),
                components: Vec::with_capacity(list.items.len()),
                keyid: None,
                alg: None,
                tag: None,
                nonce: None,
                created: false,
                expires: false,
            };
            for item in &list.items {
                request.components.push(Component::from_item(item)?);
            }
            for (key, value) in &list.params {
                let string = || value.as_string().map(|s| s.as_str().to_owned());
                match key.as_str() {
                    "keyid" => request.keyid = string(),
                    "alg" => request.alg = string(),
                    "tag" => request.tag = string(),
                    "nonce" => request.nonce = string(),
                    // §5.1: a bare `created`/`expires` asks for the parameter; a value is the
                    // asker's example and is ignored.
                    "created" => request.created = true,
                    "expires" => request.expires = true,
                    _ => {}
                }
            }
            Ok(request)
        })
        .collect()
}

/// Why a component could not be given a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ComponentError {
    /// A covered field is absent from the message.
    #[error("covered component {component} is absent from the message")]
    Missing {
        /// The component.
        component: String,
    },
    /// A component that this crate, or this kind of message, cannot produce.
    #[error("component {component} is not supported here: {reason}")]
    Unsupported {
        /// The component.
        component: String,
        /// Why.
        reason: &'static str,
    },
    /// A component is covered twice.
    #[error("component {component} is covered twice")]
    Duplicate {
        /// The component.
        component: String,
    },
    /// A field that `;sf` or `;key` asks to parse is not a valid structured field.
    #[error("field of component {component} is not a valid structured field: {reason}")]
    InvalidStructuredField {
        /// The component.
        component: String,
        /// What the parser reported.
        reason: String,
    },
    /// The component identifier itself cannot be serialized.
    #[error(transparent)]
    Identifier(#[from] Rfc9421ParseError),
}

/// Builds the signature base ([RFC 9421 §2.5]) for `params` over `message`.
///
/// [RFC 9421 §2.5]: https://www.rfc-editor.org/rfc/rfc9421#section-2.5
pub(crate) fn signature_base(
    message: &Message<'_>,
    params: &SignatureParams,
) -> Result<Vec<u8>, ComponentError> {
    let mut base = Vec::with_capacity(256);
    for (i, component) in params.components.iter().enumerate() {
        if params.components.iter().take(i).any(|c| c == component) {
            return Err(ComponentError::Duplicate {
                component: component.to_string(),
            });
        }
        let identifier = component.serialize()?;
        let value = component_value(message, component)?;
        base.extend_from_slice(identifier.as_bytes());
        base.extend_from_slice(b": ");
        base.extend_from_slice(&value);
        base.push(b'\n');
    }
    base.extend_from_slice(b"\"@signature-params\": ");
    base.extend_from_slice(params.serialized.as_bytes());
    Ok(base)
}

fn component_value(
    message: &Message<'_>,
    component: &Component,
) -> Result<Vec<u8>, ComponentError> {
    let unsupported = |reason: &'static str| ComponentError::Unsupported {
        component: component.to_string(),
        reason,
    };
    let missing = || ComponentError::Missing {
        component: component.to_string(),
    };
    if component.has(&ComponentParameter::Req) {
        return Err(unsupported(
            "`req` needs the request a response answers; this crate signs one message at a time",
        ));
    }
    if component.has(&ComponentParameter::Tr) {
        return Err(unsupported("trailers are not available to this crate"));
    }
    let is_request = message.method.is_some();
    let request_only = || {
        if is_request {
            Ok(())
        } else {
            Err(unsupported("only a request has this component"))
        }
    };
    let name = component.name.as_str();
    if let Some(derived) = name.strip_prefix('@') {
        let only_name_param = match derived {
            "query-param" => component
                .parameters
                .iter()
                .all(|p| matches!(p, ComponentParameter::Name(_))),
            _ => component.parameters.is_empty(),
        };
        if !only_name_param {
            return Err(unsupported(
                "this derived component takes no such parameter",
            ));
        }
        let value = match derived {
            "method" => {
                request_only()?;
                message
                    .method
                    .map(|m| m.as_str().to_owned())
                    .ok_or_else(missing)?
            }
            "target-uri" => {
                request_only()?;
                message.target_uri().ok_or_else(missing)?
            }
            "authority" => {
                request_only()?;
                message.authority().ok_or_else(missing)?
            }
            "scheme" => {
                request_only()?;
                message.scheme()
            }
            "request-target" => {
                request_only()?;
                message.request_target()
            }
            "path" => {
                request_only()?;
                message.path().to_owned()
            }
            "query" => {
                request_only()?;
                format!("?{}", message.query().unwrap_or_default())
            }
            "query-param" => {
                request_only()?;
                let wanted = component
                    .name_parameter()
                    .ok_or_else(|| unsupported("@query-param needs a name parameter"))?;
                query_param(message.query().unwrap_or_default(), wanted, component)?
            }
            "status" => {
                let status = message
                    .status
                    .ok_or_else(|| unsupported("only a response has a status"))?;
                status.as_str().to_owned()
            }
            _ => return Err(unsupported("unknown derived component")),
        };
        return Ok(value.into_bytes());
    }

    // A field.
    if component
        .parameters
        .iter()
        .any(|p| matches!(p, ComponentParameter::Name(_)))
    {
        return Err(unsupported("`name` is for @query-param only"));
    }
    let lines = message.header_lines(name).ok_or_else(missing)?;
    let sf = component.has(&ComponentParameter::Sf);
    let bs = component.has(&ComponentParameter::Bs);
    let key = component.key_parameter();
    if bs && (sf || key.is_some()) {
        return Err(unsupported("`bs` cannot be combined with `sf` or `key`"));
    }
    if bs {
        let encoded: Vec<String> = lines
            .iter()
            .map(|line| format!(":{}:", crate::digest::base64_encode(line)))
            .collect();
        return Ok(encoded.join(", ").into_bytes());
    }
    let joined = lines.join(&b", "[..]);
    if !sf && key.is_none() {
        return Ok(joined);
    }
    let invalid = |reason: String| ComponentError::InvalidStructuredField {
        component: component.to_string(),
        reason,
    };
    if let Some(key) = key {
        let dict = sfv::Parser::new(&joined)
            .with_version(sfv::Version::Rfc8941)
            .parse_dictionary::<sfv::Dictionary>()
            .map_err(|e| invalid(e.to_string()))?;
        let member = dict.get(key).ok_or_else(missing)?;
        let serialized = match member {
            sfv::ListEntry::Item(item) => sfv::FieldType::serialize(item),
            sfv::ListEntry::InnerList(list) => {
                let mut ser = sfv::ListSerializer::new();
                ser.members([&sfv::ListEntry::InnerList(list.clone())]);
                ser.finish().unwrap_or_default()
            }
        };
        return Ok(serialized.into_bytes());
    }
    let serialized = match structured_field_type(name) {
        Some(FieldKind::Dictionary) => sfv::Parser::new(&joined)
            .with_version(sfv::Version::Rfc8941)
            .parse_dictionary::<sfv::Dictionary>()
            .map(|d| sfv::FieldType::serialize(&d).unwrap_or_default()),
        Some(FieldKind::List) => sfv::Parser::new(&joined)
            .with_version(sfv::Version::Rfc8941)
            .parse_list::<sfv::List>()
            .map(|l| sfv::FieldType::serialize(&l).unwrap_or_default()),
        Some(FieldKind::Item) => sfv::Parser::new(&joined)
            .with_version(sfv::Version::Rfc8941)
            .parse_item::<sfv::Item>()
            .map(|i| sfv::FieldType::serialize(&i)),
        None => {
            return Err(unsupported(
                "`sf` on a field whose structured type this crate does not know",
            ));
        }
    }
    .map_err(|e| invalid(e.to_string()))?;
    Ok(serialized.into_bytes())
}

enum FieldKind {
    Dictionary,
    List,
    Item,
}

/// Structured types of the fields a signature is likely to cover with `;sf`.
fn structured_field_type(name: &str) -> Option<FieldKind> {
    match name {
        "content-digest"
        | "repr-digest"
        | "want-content-digest"
        | "want-repr-digest"
        | "signature"
        | "signature-input"
        | "accept-signature"
        | "priority"
        | "cache-status"
        | "proxy-status"
        | "example-dict" => Some(FieldKind::Dictionary),
        "accept-ch" | "example-list" | "cdn-cache-control" => Some(FieldKind::List),
        "example-item" => Some(FieldKind::Item),
        _ => None,
    }
}

/// The value of `@query-param;name=...` (RFC 9421 §2.2.8): names and values are form-decoded,
/// then percent-encoded again; a name that occurs more than once is an error.
fn query_param(query: &str, wanted: &str, component: &Component) -> Result<String, ComponentError> {
    let mut found = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_encode(&form_decode(name)) != wanted {
            continue;
        }
        if found.is_some() {
            return Err(ComponentError::Unsupported {
                component: component.to_string(),
                reason: "the query parameter occurs more than once; cover @query instead",
            });
        }
        found = Some(percent_encode(&form_decode(value)));
    }
    found.ok_or_else(|| ComponentError::Missing {
        component: component.to_string(),
    })
}

fn form_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(decoded) = hex {
                    out.push(decoded);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// Percent-encodes everything but `A-Z a-z 0-9 * - . _`, the application/x-www-form-urlencoded
/// percent-encode set's complement; spaces become `%20`.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
