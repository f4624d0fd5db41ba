//! RFC 9421 HTTP Message Signatures: component identifiers, `Signature-Input`, `Signature`,
//! `Accept-Signature`, and the signature base.
//!
//! Structured fields are parsed and serialized with the `sfv` crate, as RFC 8941 values; the
//! usual signature parameters (plain names and strings, integers) are written directly, which
//! gives the same text for less work.

use std::fmt;
use std::fmt::Write as _;

use crate::message::Message;

mod quick;

pub(crate) use quick::read_signature;

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
        let mut name = name.into();
        name.make_ascii_lowercase();
        Self {
            name,
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
        let mut out = String::new();
        self.serialize_into(&mut out)?;
        Ok(out)
    }

    /// Appends the serialized identifier to `out`.
    fn append_identifier(&self, out: &mut Vec<u8>) -> Result<(), Rfc9421ParseError> {
        if self.is_plain() {
            out.push(b'"');
            out.extend_from_slice(self.name.as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(self.serialize()?.as_bytes());
        }
        Ok(())
    }

    fn serialize_into(&self, out: &mut String) -> Result<(), Rfc9421ParseError> {
        if self.is_plain() {
            out.push('"');
            out.push_str(&self.name);
            out.push('"');
            return Ok(());
        }
        let ser = sfv::ItemSerializer::with_buffer(out).bare_item(self.sf_name()?);
        let _ = self.serialize_parameters(ser)?;
        Ok(())
    }

    /// The name as an RFC 8941 string.
    fn sf_name(&self) -> Result<&sfv::StringRef, Rfc9421ParseError> {
        sfv::StringRef::from_str(&self.name).map_err(|_| self.invalid_name())
    }

    /// Writes the parameters after the name.
    fn serialize_parameters<W: std::borrow::BorrowMut<String>>(
        &self,
        mut ser: sfv::ParameterSerializer<W>,
    ) -> Result<sfv::ParameterSerializer<W>, Rfc9421ParseError> {
        for parameter in &self.parameters {
            let (key, value): (&str, sfv::RefBareItem<'_>) = match parameter {
                ComponentParameter::Sf => ("sf", true.into()),
                ComponentParameter::Bs => ("bs", true.into()),
                ComponentParameter::Req => ("req", true.into()),
                ComponentParameter::Tr => ("tr", true.into()),
                ComponentParameter::Key(k) => (
                    "key",
                    sfv::StringRef::from_str(k)
                        .map_err(|_| self.invalid_name())?
                        .into(),
                ),
                ComponentParameter::Name(n) => (
                    "name",
                    sfv::StringRef::from_str(n)
                        .map_err(|_| self.invalid_name())?
                        .into(),
                ),
            };
            ser = ser.parameter(sfv::KeyRef::constant(key), value);
        }
        Ok(ser)
    }

    fn invalid_name(&self) -> Rfc9421ParseError {
        Rfc9421ParseError::InvalidComponentName {
            name: self.name.clone(),
        }
    }

    /// The usual identifier: a name without parameters that serializes as an RFC 8941 string
    /// with nothing to escape (printable ASCII other than `"` and `\\`).
    fn is_plain(&self) -> bool {
        self.parameters.is_empty()
            && self
                .name
                .bytes()
                .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
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
        if self.parameters.is_empty() {
            return f.write_str(&self.name);
        }
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
        self.serialize_in_order(&ParamName::ALL)?;
        Ok(&self.serialized)
    }

    /// Serializes the inner list with the parameters that are set, in `order`, into
    /// `serialized`.
    pub(crate) fn serialize_in_order(
        &mut self,
        order: &[ParamName],
    ) -> Result<(), Rfc9421ParseError> {
        match self.serialize_plain(order) {
            Some(serialized) => {
                self.serialized = serialized;
                Ok(())
            }
            None => self.serialize_with_sfv(order),
        }
    }

    /// The usual parameters written directly, without `sfv`'s serializer: component names
    /// without parameters and string parameters that are printable ASCII other than `"` and
    /// `\` (an RFC 8941 string with nothing to escape: its text between quotes), integers
    /// within RFC 8941's range (their decimal text). That is exactly what `sfv` writes for them
    /// (a unit test compares the two); `None` for anything else, which `sfv` then writes or
    /// refuses.
    fn serialize_plain(&self, order: &[ParamName]) -> Option<String> {
        /// RFC 8941 §3.3.1: at most 15 digits.
        const INTEGER_LIMIT: i64 = 999_999_999_999_999;
        let plain = |text: &str| {
            text.bytes()
                .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
        };
        let mut out = String::with_capacity(SERIALIZED_PARAMS_CAPACITY);
        out.push('(');
        for (i, component) in self.components.iter().enumerate() {
            if !component.parameters.is_empty() || !plain(&component.name) {
                return None;
            }
            if i > 0 {
                out.push(' ');
            }
            out.push('"');
            out.push_str(&component.name);
            out.push('"');
        }
        out.push(')');
        for &name in order {
            let Some(value) = self.parameter(name) else {
                continue;
            };
            out.push(';');
            out.push_str(name.as_str());
            out.push('=');
            match value {
                ParamValue::Integer(value) => {
                    if !(-INTEGER_LIMIT..=INTEGER_LIMIT).contains(&value) {
                        return None;
                    }
                    // Writing to a `String` cannot fail.
                    let _ = write!(out, "{value}");
                }
                ParamValue::String(value) => {
                    if !plain(value) {
                        return None;
                    }
                    out.push('"');
                    out.push_str(value);
                    out.push('"');
                }
            }
        }
        Some(out)
    }

    /// [`SignatureParams::serialize_in_order`] through `sfv`'s serializer, which escapes what
    /// needs it and refuses what cannot be written.
    fn serialize_with_sfv(&mut self, order: &[ParamName]) -> Result<(), Rfc9421ParseError> {
        fn string<'v>(name: &str, value: &'v str) -> Result<&'v sfv::StringRef, Rfc9421ParseError> {
            sfv::StringRef::from_str(value).map_err(|_| invalid_parameter(name))
        }
        fn integer(name: &str, value: i64) -> Result<sfv::Integer, Rfc9421ParseError> {
            sfv::Integer::try_from(value).map_err(|_| invalid_parameter(name))
        }
        let mut serialized = String::with_capacity(SERIALIZED_PARAMS_CAPACITY);
        let mut list = sfv::ListSerializer::with_buffer(&mut serialized);
        let mut inner = list.inner_list();
        for component in &self.components {
            let ser = inner.bare_item(component.sf_name()?);
            let _ = component.serialize_parameters(ser)?;
        }
        let mut params = inner.finish();
        for &name in order {
            let key = sfv::KeyRef::constant(name.as_str());
            params = match self.parameter(name) {
                Some(ParamValue::Integer(value)) => {
                    params.parameter(key, integer(name.as_str(), value)?)
                }
                Some(ParamValue::String(value)) => {
                    params.parameter(key, string(name.as_str(), value)?)
                }
                None => params,
            };
        }
        let _ = params.finish();
        let _ = list.finish();
        self.serialized = serialized;
        Ok(())
    }

    fn parameter(&self, name: ParamName) -> Option<ParamValue<'_>> {
        match name {
            ParamName::Created => self.created.map(ParamValue::Integer),
            ParamName::Expires => self.expires.map(ParamValue::Integer),
            ParamName::Keyid => self.keyid.as_deref().map(ParamValue::String),
            ParamName::Alg => self.alg.as_deref().map(ParamValue::String),
            ParamName::Nonce => self.nonce.as_deref().map(ParamValue::String),
            ParamName::Tag => self.tag.as_deref().map(ParamValue::String),
        }
    }

    /// Reads the `Signature-Input` member labelled `label`.
    fn from_entry(label: &str, entry: &sfv::ListEntry) -> Result<Self, Rfc9421ParseError> {
        let sfv::ListEntry::InnerList(list) = entry else {
            return Err(Rfc9421ParseError::NotInnerList {
                label: label.to_owned(),
            });
        };
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
        ser.members([entry]);
        params.serialized = ser.finish().unwrap_or_else(|| "()".to_owned());
        Ok(params)
    }
}

/// Room for the usual serialized signature parameters (five components, `created`, a key id
/// URL and `alg`), so that writing them allocates once.
const SERIALIZED_PARAMS_CAPACITY: usize = 192;

/// The signature parameters this crate reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamName {
    Created,
    Expires,
    Keyid,
    Alg,
    Nonce,
    Tag,
}

impl ParamName {
    /// The order in which [`SignatureParams::serialize`] writes them.
    const ALL: [ParamName; 6] = [
        ParamName::Created,
        ParamName::Expires,
        ParamName::Keyid,
        ParamName::Alg,
        ParamName::Nonce,
        ParamName::Tag,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ParamName::Created => "created",
            ParamName::Expires => "expires",
            ParamName::Keyid => "keyid",
            ParamName::Alg => "alg",
            ParamName::Nonce => "nonce",
            ParamName::Tag => "tag",
        }
    }
}

/// The value of a signature parameter.
enum ParamValue<'a> {
    Integer(i64),
    String(&'a str),
}

fn invalid_parameter(name: &str) -> Rfc9421ParseError {
    Rfc9421ParseError::InvalidParameter {
        parameter: name.to_owned(),
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
        .map(|(label, entry)| {
            let params = SignatureParams::from_entry(label.as_str(), entry)?;
            Ok((label.as_str().to_owned(), params))
        })
        .collect()
}

/// Parses an RFC 9421 `Signature` field value into labelled signature bytes.
pub fn parse_signature(value: &str) -> Result<Vec<(String, Vec<u8>)>, Rfc9421ParseError> {
    parse_dictionary(value)?
        .into_iter()
        .map(|(label, entry)| match entry {
            sfv::ListEntry::Item(sfv::Item {
                bare_item: sfv::BareItem::ByteSequence(bytes),
                ..
            }) => Ok((String::from(label), bytes)),
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
    let mut base = Vec::with_capacity(SIGNATURE_BASE_CAPACITY);
    for (i, component) in params.components.iter().enumerate() {
        if params.components.iter().take(i).any(|c| c == component) {
            return Err(ComponentError::Duplicate {
                component: component.to_string(),
            });
        }
        component.append_identifier(&mut base)?;
        base.extend_from_slice(b": ");
        append_component_value(message, component, &mut base)?;
        base.push(b'\n');
    }
    base.extend_from_slice(b"\"@signature-params\": ");
    base.extend_from_slice(params.serialized.as_bytes());
    Ok(base)
}

/// Room for a typical signature base (method, target URI, authority, date, content digest and
/// the parameters), so that building one allocates once.
const SIGNATURE_BASE_CAPACITY: usize = 512;

/// Appends the value of `component` to `out`.
fn append_component_value(
    message: &Message<'_>,
    component: &Component,
    out: &mut Vec<u8>,
) -> Result<(), ComponentError> {
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
        match derived {
            "method" => {
                request_only()?;
                let method = message.method.ok_or_else(missing)?;
                out.extend_from_slice(method.as_str().as_bytes());
            }
            "target-uri" => {
                request_only()?;
                if !message.append_target_uri(out) {
                    return Err(missing());
                }
            }
            "authority" => {
                request_only()?;
                if !message.append_authority(out) {
                    return Err(missing());
                }
            }
            "scheme" => {
                request_only()?;
                out.extend_from_slice(message.scheme().as_bytes());
            }
            "request-target" => {
                request_only()?;
                message.append_request_target(out);
            }
            "path" => {
                request_only()?;
                out.extend_from_slice(message.path().as_bytes());
            }
            "query" => {
                request_only()?;
                out.push(b'?');
                out.extend_from_slice(message.query().unwrap_or_default().as_bytes());
            }
            "query-param" => {
                request_only()?;
                let wanted = component
                    .name_parameter()
                    .ok_or_else(|| unsupported("@query-param needs a name parameter"))?;
                let value = query_param(message.query().unwrap_or_default(), wanted, component)?;
                out.extend_from_slice(value.as_bytes());
            }
            "status" => {
                let status = message
                    .status
                    .ok_or_else(|| unsupported("only a response has a status"))?;
                out.extend_from_slice(status.as_str().as_bytes());
            }
            _ => return Err(unsupported("unknown derived component")),
        }
        return Ok(());
    }

    // A field.
    if component
        .parameters
        .iter()
        .any(|p| matches!(p, ComponentParameter::Name(_)))
    {
        return Err(unsupported("`name` is for @query-param only"));
    }
    let sf = component.has(&ComponentParameter::Sf);
    let bs = component.has(&ComponentParameter::Bs);
    let key = component.key_parameter();
    if !sf && !bs && key.is_none() {
        // The usual case: the field's lines, joined.
        return if message.append_header(name, out) {
            Ok(())
        } else {
            Err(missing())
        };
    }
    if !message.has_header(name) {
        return Err(missing());
    }
    if bs && (sf || key.is_some()) {
        return Err(unsupported("`bs` cannot be combined with `sf` or `key`"));
    }
    if bs {
        let lines = message.header_lines(name).ok_or_else(missing)?;
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            out.push(b':');
            out.extend_from_slice(crate::digest::base64_encode(line).as_bytes());
            out.push(b':');
        }
        return Ok(());
    }
    let joined = message.header_joined(name).ok_or_else(missing)?;
    let invalid = |reason: String| ComponentError::InvalidStructuredField {
        component: component.to_string(),
        reason,
    };
    if let Some(key) = key {
        let dict = sfv::Parser::new(&*joined)
            .with_version(sfv::Version::Rfc8941)
            .parse_dictionary::<sfv::Dictionary>()
            .map_err(|e| invalid(e.to_string()))?;
        let member = dict.get(key).ok_or_else(missing)?;
        let serialized = match member {
            sfv::ListEntry::Item(item) => sfv::FieldType::serialize(item),
            sfv::ListEntry::InnerList(_) => {
                let mut ser = sfv::ListSerializer::new();
                ser.members([member]);
                ser.finish().unwrap_or_default()
            }
        };
        out.extend_from_slice(serialized.as_bytes());
        return Ok(());
    }
    let serialized = match structured_field_type(name) {
        Some(FieldKind::Dictionary) => sfv::Parser::new(&*joined)
            .with_version(sfv::Version::Rfc8941)
            .parse_dictionary::<sfv::Dictionary>()
            .map(|d| sfv::FieldType::serialize(&d).unwrap_or_default()),
        Some(FieldKind::List) => sfv::Parser::new(&*joined)
            .with_version(sfv::Version::Rfc8941)
            .parse_list::<sfv::List>()
            .map(|l| sfv::FieldType::serialize(&l).unwrap_or_default()),
        Some(FieldKind::Item) => sfv::Parser::new(&*joined)
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
    out.extend_from_slice(serialized.as_bytes());
    Ok(())
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

// Test code: a failed unwrap is a failed test.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params(components: &[&str]) -> SignatureParams {
        SignatureParams::new(components.iter().map(|c| Component::new(*c)).collect())
    }

    /// The direct writer gives what `sfv` gives, and leaves to `sfv` whatever it cannot write
    /// as plain text.
    #[test]
    fn the_direct_writer_agrees_with_sfv() {
        let key_id = "https://alice.example/actor#main-key";
        // (parameters, whether the direct writer answers)
        let cases: Vec<(SignatureParams, bool)> = vec![
            (
                params(&[
                    "@method",
                    "@target-uri",
                    "@authority",
                    "date",
                    "content-digest",
                ])
                .with_created(1_700_000_000)
                .with_keyid(key_id)
                .with_alg("rsa-v1_5-sha256"),
                true,
            ),
            (params(&[]), true),
            (params(&[""]).with_created(0), true),
            (
                params(&["date"])
                    .with_created(-5)
                    .with_expires(999_999_999_999_999)
                    .with_nonce("n 1~!#$%&'()*+,-./:;<=>?@[]^_`{|}")
                    .with_tag("t"),
                true,
            ),
            (params(&["date"]).with_created(-999_999_999_999_999), true),
            (params(&["date"]).with_created(1_000_000_000_000_000), false),
            (
                params(&["date"]).with_created(-1_000_000_000_000_000),
                false,
            ),
            (params(&["date"]).with_created(i64::MIN), false),
            (params(&["date"]).with_keyid("a\"b"), false),
            (params(&["date"]).with_keyid("a\\b"), false),
            (params(&["date"]).with_keyid("é"), false),
            (params(&["date"]).with_tag("tab\there"), false),
            (params(&["a\"b"]), false),
            (params(&["x-\u{7f}"]), false),
            (
                SignatureParams::new(vec![Component::query_param("Pet")]),
                false,
            ),
            (
                SignatureParams::new(vec![
                    Component::new("content-digest").with_parameter(ComponentParameter::Sf),
                ]),
                false,
            ),
        ];
        for (params, answers) in cases {
            let direct = params.serialize_plain(&ParamName::ALL);
            assert_eq!(direct.is_some(), answers, "{params:?}");
            let mut with_sfv = params.clone();
            let sfv_result = with_sfv.serialize_with_sfv(&ParamName::ALL);
            if let Some(direct) = direct {
                assert_eq!(sfv_result, Ok(()), "{params:?}");
                assert_eq!(direct, with_sfv.serialized, "{params:?}");
            }
            // The public entry point gives `sfv`'s answer in every case.
            let mut serialized = params.clone();
            assert_eq!(
                serialized.serialize().map(str::to_owned),
                sfv_result.map(|()| with_sfv.serialized.clone()),
                "{params:?}"
            );
        }
        // A parameter order as received is kept.
        let p = params(&["date"]).with_keyid("k").with_created(1);
        let order = [ParamName::Keyid, ParamName::Created];
        let mut with_sfv = p.clone();
        with_sfv.serialize_with_sfv(&order).unwrap();
        assert_eq!(p.serialize_plain(&order).unwrap(), with_sfv.serialized);
        assert_eq!(with_sfv.serialized, r#"("date");keyid="k";created=1"#);
    }
}
