//! The usual shape of a signed request's `Signature-Input` and `Signature` fields (one
//! signature, plain component names, the parameters this crate knows, each once), read with
//! `sfv`'s visitors: the fields are still parsed by `sfv`, but without building dictionaries and
//! copying each string on the way.
//!
//! [`read_signature`] answers only when the general reading ([`super::parse_signature_input`]
//! and [`super::parse_signature`]) would accept the fields and give the same signature; for
//! anything else it answers `None`, and the general reading decides and explains.

use std::convert::Infallible;

use base64::Engine as _;

use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef};

use super::{Component, ParamName, SignatureParams};

/// A signature read from the usual shape of the fields.
pub(crate) struct QuickSignature {
    pub(crate) label: String,
    pub(crate) params: SignatureParams,
    pub(crate) signature: Vec<u8>,
}

/// Reads the only signature of `signature_input` and `signature`, if the fields have the usual
/// shape and its label is `wanted` (when given).
pub(crate) fn read_signature(
    signature_input: &str,
    signature: &str,
    wanted: Option<&str>,
) -> Option<QuickSignature> {
    let mut input = InputReader::default();
    sfv::Parser::new(signature_input)
        .with_version(sfv::Version::Rfc8941)
        .parse_dictionary_with_visitor(&mut input)
        .ok()?;
    let label = input.label.filter(|_| input.usual && input.members == 1)?;
    if wanted.is_some_and(|wanted| wanted != label) {
        return None;
    }
    let signature = match plain_member(signature, label) {
        Some(bytes) => bytes,
        None => {
            let mut bytes = SignatureReader::default();
            sfv::Parser::new(signature)
                .with_version(sfv::Version::Rfc8941)
                .parse_dictionary_with_visitor(&mut bytes)
                .ok()?;
            if bytes.members != 1 || bytes.label != Some(label) {
                return None;
            }
            bytes.bytes?
        }
    };
    let mut params = input.params;
    params
        .serialize_in_order(input.order.get(..input.order_len)?)
        .ok()?;
    Some(QuickSignature {
        label: label.to_owned(),
        params,
        signature,
    })
}

/// The bytes of a `Signature` field that is exactly `<label>=:<base64>:`, the base64 in its
/// canonical padded form: what signers write. `sfv` would read the same bytes from it (it
/// decodes the same alphabet, and also accepts missing padding and trailing bits, which this
/// leaves to it), but checks each character on the way; this finds the closing colon at once
/// and decodes in one pass. `None` for any other text.
fn plain_member(signature: &str, label: &str) -> Option<Vec<u8>> {
    let encoded = signature
        .strip_prefix(label)?
        .strip_prefix("=:")?
        .strip_suffix(':')?;
    // A colon inside would end the byte sequence early: another member or parameters follow.
    if encoded.contains(':') {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
}

/// Collects the members of `Signature-Input`; `usual` turns false at anything the general
/// reading has to look at.
struct InputReader<'de> {
    members: usize,
    label: Option<&'de str>,
    usual: bool,
    params: SignatureParams,
    /// The signature parameters in the order received, which the serialization keeps.
    order: [ParamName; 6],
    order_len: usize,
}

impl Default for InputReader<'_> {
    fn default() -> Self {
        Self {
            members: 0,
            label: None,
            usual: true,
            params: SignatureParams::default(),
            order: [ParamName::Created; 6],
            order_len: 0,
        }
    }
}

impl<'de> DictionaryVisitor<'de> for &mut InputReader<'de> {
    type Out = ();
    type Error = Infallible;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Self::Error> {
        self.members += 1;
        self.label = Some(key.as_str());
        Ok(InputEntry(self))
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok(())
    }
}

struct InputEntry<'r, 'de>(&'r mut InputReader<'de>);

impl<'de> EntryVisitor<'de> for InputEntry<'_, 'de> {
    type Error = Infallible;

    fn item(self) -> Result<impl ItemVisitor<'de>, Self::Error> {
        self.0.usual = false;
        Ok(Ignored)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Self::Error> {
        Ok(self)
    }
}

impl<'de> InnerListVisitor<'de> for InputEntry<'_, 'de> {
    type Error = Infallible;

    fn item(&mut self) -> Result<impl ItemVisitor<'de>, Self::Error> {
        Ok(InputEntry(&mut *self.0))
    }

    fn finish(self) -> Result<impl ParameterVisitor<'de>, Self::Error> {
        Ok(SignatureParameters(self.0))
    }
}

/// A component identifier: a string that is a valid component name, without parameters.
impl<'de> ItemVisitor<'de> for InputEntry<'_, 'de> {
    type Out = ();
    type Error = Infallible;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = Self::Out>, Self::Error> {
        let reader = self.0;
        match bare_item {
            BareItemFromInput::String(name)
                if !name.as_str().is_empty()
                    && !name.as_str().bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                reader.params.components.push(Component {
                    name: name.as_str().to_owned(),
                    parameters: Vec::new(),
                });
            }
            _ => reader.usual = false,
        }
        Ok(NoParameters(reader))
    }
}

/// Parameters of a component identifier: left to the general reading.
struct NoParameters<'r, 'de>(&'r mut InputReader<'de>);

impl<'de> ParameterVisitor<'de> for NoParameters<'_, 'de> {
    type Out = ();
    type Error = Infallible;

    fn parameter(
        &mut self,
        _key: &'de KeyRef,
        _value: BareItemFromInput<'de>,
    ) -> Result<(), Self::Error> {
        self.0.usual = false;
        Ok(())
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok(())
    }
}

/// The signature parameters: those this crate knows, each once and of the right type.
struct SignatureParameters<'r, 'de>(&'r mut InputReader<'de>);

impl<'de> ParameterVisitor<'de> for SignatureParameters<'_, 'de> {
    type Out = ();
    type Error = Infallible;

    fn parameter(
        &mut self,
        key: &'de KeyRef,
        value: BareItemFromInput<'de>,
    ) -> Result<(), Self::Error> {
        let reader = &mut *self.0;
        let params = &mut reader.params;
        let name = match (key.as_str(), value) {
            ("created", BareItemFromInput::Integer(value)) if params.created.is_none() => {
                params.created = Some(value.into());
                ParamName::Created
            }
            ("expires", BareItemFromInput::Integer(value)) if params.expires.is_none() => {
                params.expires = Some(value.into());
                ParamName::Expires
            }
            (name, BareItemFromInput::String(value)) => {
                let (slot, name) = match name {
                    "keyid" => (&mut params.keyid, ParamName::Keyid),
                    "alg" => (&mut params.alg, ParamName::Alg),
                    "nonce" => (&mut params.nonce, ParamName::Nonce),
                    "tag" => (&mut params.tag, ParamName::Tag),
                    _ => {
                        reader.usual = false;
                        return Ok(());
                    }
                };
                if slot.is_some() {
                    reader.usual = false;
                    return Ok(());
                }
                *slot = Some(value.as_str().to_owned());
                name
            }
            _ => {
                reader.usual = false;
                return Ok(());
            }
        };
        match reader.order.get_mut(reader.order_len) {
            Some(slot) => {
                *slot = name;
                reader.order_len += 1;
            }
            None => reader.usual = false,
        }
        Ok(())
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok(())
    }
}

/// Collects the members of `Signature`: a byte sequence each.
#[derive(Default)]
struct SignatureReader<'de> {
    members: usize,
    label: Option<&'de str>,
    bytes: Option<Vec<u8>>,
}

impl<'de> DictionaryVisitor<'de> for &mut SignatureReader<'de> {
    type Out = ();
    type Error = Infallible;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Self::Error> {
        self.members += 1;
        self.label = Some(key.as_str());
        Ok(SignatureEntry(self))
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok(())
    }
}

struct SignatureEntry<'r, 'de>(&'r mut SignatureReader<'de>);

impl<'de> EntryVisitor<'de> for SignatureEntry<'_, 'de> {
    type Error = Infallible;

    fn item(self) -> Result<impl ItemVisitor<'de>, Self::Error> {
        Ok(self)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Self::Error> {
        self.0.bytes = None;
        Ok(Ignored)
    }
}

impl<'de> ItemVisitor<'de> for SignatureEntry<'_, 'de> {
    type Out = ();
    type Error = Infallible;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = Self::Out>, Self::Error> {
        self.0.bytes = match bare_item {
            BareItemFromInput::ByteSequence(bytes) => Some(bytes),
            _ => None,
        };
        // Parameters of a `Signature` member mean nothing to the general reading either.
        Ok(Ignored)
    }
}

// Test code: a failed unwrap is a failed test.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::rfc9421::{parse_signature, parse_signature_input};

    const SIGNATURE: &str = "sig1=:dGhlIHNpZ25hdHVyZSBieXRlcw==:";

    /// What the general reading gives for the label asked for (or the first).
    fn general(
        input: &str,
        signature: &str,
        wanted: Option<&str>,
    ) -> Option<(String, SignatureParams, Vec<u8>)> {
        let inputs = parse_signature_input(input).ok()?;
        let signatures = parse_signature(signature).ok()?;
        let (label, params) = match wanted {
            Some(wanted) => inputs.into_iter().find(|(l, _)| l == wanted)?,
            None => inputs.into_iter().next()?,
        };
        let (_, bytes) = signatures.into_iter().find(|(l, _)| *l == label)?;
        Some((label, params, bytes))
    }

    #[test]
    fn the_usual_signature_field_is_read_directly() {
        assert_eq!(plain_member("sig1=:YWI=:", "sig1"), Some(b"ab".to_vec()));
        assert_eq!(plain_member("sig1=::", "sig1"), Some(Vec::new()));
        for other in [
            "sig1=:YWI:",
            "sig1=:YWJ=:",
            "sig1=:YWI=:;x=1",
            " sig1=:YWI=:",
            "sig1=:YWI=: ",
            "sig10=:YWI=:",
            "sig1=:YWI=:, sig2=:YWI=:",
        ] {
            assert_eq!(plain_member(other, "sig1"), None, "{other}");
        }
    }

    #[test]
    fn the_quick_reading_agrees_with_the_general_one() {
        // (Signature-Input, Signature, label asked for, whether the quick reading answers)
        let cases: &[(&str, &str, Option<&str>, bool)] = &[
            (
                r#"sig1=("@method" "@target-uri" "@authority" "date" "content-digest");created=1700000000;keyid="https://alice.example/actor#main-key""#,
                SIGNATURE,
                None,
                true,
            ),
            (
                r#"sig1=("@method" "date");keyid="k";alg="ed25519";created=1;expires=2;nonce="n";tag="t""#,
                SIGNATURE,
                Some("sig1"),
                true,
            ),
            (r#"sig1=()"#, SIGNATURE, None, true),
            (
                r#"sig1=(  "date"   "@path" );created=0017"#,
                SIGNATURE,
                None,
                true,
            ),
            (r#"sig1=("date");keyid="a\"b\\c""#, SIGNATURE, None, true),
            (r#"sig1=("date");created=-5"#, "sig1=:AAAA:;x=1", None, true),
            (r#"sig1=("date")"#, SIGNATURE, Some("sig2"), false),
            (r#"sig1=("Date")"#, SIGNATURE, None, false),
            (r#"sig1=("")"#, SIGNATURE, None, false),
            (r#"sig1=("content-digest";sf)"#, SIGNATURE, None, false),
            (r#"sig1=("date" @method)"#, SIGNATURE, None, false),
            (
                r#"sig1=("date");created=1;created=2"#,
                SIGNATURE,
                None,
                false,
            ),
            (
                r#"sig1=("date");keyid="a";keyid="b""#,
                SIGNATURE,
                None,
                false,
            ),
            (r#"sig1=("date");created="1""#, SIGNATURE, None, false),
            (r#"sig1=("date");keyid=k"#, SIGNATURE, None, false),
            (r#"sig1=("date");unknown=1"#, SIGNATURE, None, false),
            (r#"sig1=("date"), sig2=("@method")"#, SIGNATURE, None, false),
            (r#"sig1=("date"), sig1=("@method")"#, SIGNATURE, None, false),
            (r#"sig1="date""#, SIGNATURE, None, false),
            (r#"sig1=("date")"#, "sig1=:AAAA:, sig2=:AAAA:", None, false),
            (r#"sig1=("date")"#, "sig2=:AAAA:", None, false),
            (r#"sig1=("date")"#, "sig1=\"AAAA\"", None, false),
            (r#"sig1=("date")"#, "sig1=(:AAAA:)", None, false),
            (r#"sig1=("date")"#, "sig1=:AAAA", None, false),
            // Byte sequences the direct reading leaves to `sfv`: unpadded, trailing bits,
            // spaces around, an empty one.
            (r#"sig1=("date")"#, "sig1=:YWI:", None, true),
            (r#"sig1=("date")"#, "sig1=:YWJ=:", None, true),
            (r#"sig1=("date")"#, " sig1=:YWI=: ", None, true),
            (r#"sig1=("date")"#, "sig1=::", None, true),
            (r#"sig1=("date")"#, "sig1=:YW I=:", None, false),
            (r#"sig1=("date")"#, "sig1=:YWI=:, sig1=:YWI=:", None, false),
            (r#"sig1=("date")"#, "sig1=:YWI=:,", None, false),
            (r#"sig10=("date")"#, "sig1=:YWI=:", None, false),
            (r#"sig1=("date")"#, "sig10=:YWI=:", None, false),
            (r#"sig1=("date")"#, "sig1=:Y!I=:", None, false),
            (r#"sig1=("date""#, SIGNATURE, None, false),
        ];
        for (input, signature, wanted, answers) in cases {
            let quick = read_signature(input, signature, *wanted);
            assert_eq!(quick.is_some(), *answers, "{input} / {signature}");
            if let Some(quick) = quick {
                let general = general(input, signature, *wanted);
                assert_eq!(
                    Some((quick.label, quick.params, quick.signature)),
                    general,
                    "{input} / {signature}"
                );
            }
        }
    }
}
