//! schema.org's `PropertyValue`, the profile metadata fields of Mastodon and others.
//!
//! Servers declare the `schema` prefix as `http://schema.org#` (Mastodon) or `http://schema.org/`
//! (PeerTube's `sc`); both, and the bare `PropertyValue`, are read as this type.

use crate::object::{object_type, single_kind};

single_kind!(
    /// The `PropertyValue` type.
    PropertyValueType = "PropertyValue"
);

object_type! {
    /// A `PropertyValue`: `name` (in `props`) and `value`, usually HTML.
    pub struct PropertyValue: PropertyValueType {
        /// `value` (`schema:value`).
        "value" => value: String,
    }
}

impl PropertyValue {
    /// A field `name` = `value`.
    pub fn field(name: impl Into<String>, value: impl Into<String>) -> Self {
        let mut pv = Self::new(PropertyValueType);
        pv.props.name = Some(name.into());
        pv.value = Some(value.into());
        pv
    }
}
