//! host-meta ([RFC 6415](https://www.rfc-editor.org/rfc/rfc6415)): the XRD document in XML
//! ([XRD 1.0](https://docs.oasis-open.org/xri/xrd/v1.0/xrd-1.0.html)) read into a [`Jrd`], and
//! the `lrdd` template that points at the WebFinger endpoint.
//!
//! Servers from before WebFinger's RFC (and some since) answer 404 on `/.well-known/webfinger`
//! and say where their endpoint is in `/.well-known/host-meta`; Mastodon falls back to it.
//!
//! The XML reader does not load external entities or DTDs and expands only the five predefined
//! entities and character references, so a hostile document cannot make it fetch anything or
//! grow without bound.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use url::Url;

use crate::jrd::{Jrd, Link};
use crate::rel::Rel;
use crate::resource::Resource;

/// The media type of an XRD document.
pub const XRD_MEDIA_TYPE: &str = "application/xrd+xml";

/// RFC 6570 simple expansion: everything but the unreserved characters is percent-encoded.
const TEMPLATE_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How deep the XML may nest: an XRD is three levels deep; the margin is for extensions.
const MAX_DEPTH: usize = 32;

/// Why bytes are not an XRD document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XrdError {
    /// The bytes are not UTF-8 (XRD documents are UTF-8).
    #[error("the XRD is not UTF-8 text")]
    NotUtf8,
    /// The XML is not well formed.
    #[error("the XRD is not well-formed XML at byte {position}")]
    Xml {
        /// Where the parser stopped.
        position: u64,
        /// What the XML parser said.
        source: quick_xml::Error,
    },
    /// The root element is not `XRD`.
    #[error("the root element is `{found}`, not `XRD`")]
    NotXrd {
        /// The root element's name.
        found: String,
    },
    /// A `Link` element has no `rel` attribute.
    #[error("a Link element has no rel attribute")]
    LinkWithoutRel,
    /// The document nests deeper than any XRD does.
    #[error("the XRD nests deeper than {MAX_DEPTH} elements")]
    TooDeep,
    /// The document ends before its root element does.
    #[error("the XRD ends before its root element is closed")]
    Truncated,
}

/// Why an `lrdd` template does not give a WebFinger URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template has no `{uri}` to fill in.
    #[error("the lrdd template `{template}` has no {{uri}} variable")]
    NoUriVariable {
        /// The template.
        template: String,
    },
    /// Filled in, the template is not an absolute URL.
    #[error("the lrdd template `{template}` does not give an absolute URL")]
    InvalidUrl {
        /// The template.
        template: String,
        /// What the URL parser said.
        source: url::ParseError,
    },
}

/// Parses a host-meta XRD document into the equivalent JRD
/// ([RFC 6415 Appendix A](https://www.rfc-editor.org/rfc/rfc6415#appendix-A)): `Subject`,
/// `Alias`, `Property` (`xsi:nil` gives `null`), and `Link` with `rel`, `type`, `href`,
/// `template`, `Title` (by `xml:lang`) and `Property`. Unknown elements are skipped.
///
/// # Errors
///
/// [`XrdError`] when the XML is malformed or is not an XRD.
pub fn parse(bytes: &[u8]) -> Result<Jrd, XrdError> {
    let text = std::str::from_utf8(bytes).map_err(|_| XrdError::NotUtf8)?;
    let mut reader = quick_xml::Reader::from_str(text);
    // Text is trimmed when an element closes, not per event: trimming events would eat the
    // spaces around an entity (`v &amp; w`).
    reader.config_mut().check_end_names = true;

    let mut jrd = Jrd::default();
    // The path of element names from the root, and the text of the current leaf.
    let mut path: Vec<String> = Vec::new();
    let mut text_buf = String::new();
    let mut current_link: Option<Link> = None;
    // The attributes of the Title or Property element being read.
    let mut pending_attr: Option<PendingLeaf> = None;
    let mut seen_root = false;

    loop {
        let event = reader.read_event().map_err(|source| XrdError::Xml {
            position: reader.error_position(),
            source,
        })?;
        match event {
            Event::Start(start) => {
                let name = local_name(&start);
                if !seen_root {
                    if name != "XRD" {
                        return Err(XrdError::NotXrd { found: name });
                    }
                    seen_root = true;
                } else {
                    open_element(&name, &start, &path, &mut current_link, &mut pending_attr)?;
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(XrdError::TooDeep);
                }
                text_buf.clear();
            }
            Event::Empty(start) => {
                let name = local_name(&start);
                if !seen_root {
                    if name != "XRD" {
                        return Err(XrdError::NotXrd { found: name });
                    }
                    return Ok(jrd);
                }
                open_element(&name, &start, &path, &mut current_link, &mut pending_attr)?;
                text_buf.clear();
                close_element(
                    &name,
                    &path,
                    &mut jrd,
                    &mut current_link,
                    &mut pending_attr,
                    "",
                );
            }
            Event::Text(text) => text_buf.push_str(&text.xml_content(XmlVersion::Implicit1_0)),
            Event::CData(data) => text_buf.push_str(&data),
            Event::GeneralRef(reference) => {
                if let Ok(Some(character)) = reference.resolve_char_ref() {
                    text_buf.push(character);
                } else if let Some(resolved) =
                    quick_xml::escape::resolve_predefined_entity(&reference)
                {
                    text_buf.push_str(resolved);
                }
                // Other entities would need a DTD, which this reader never loads.
            }
            Event::End(_) => {
                let Some(name) = path.pop() else {
                    return Err(XrdError::Truncated);
                };
                close_element(
                    &name,
                    &path,
                    &mut jrd,
                    &mut current_link,
                    &mut pending_attr,
                    text_buf.trim(),
                );
                text_buf.clear();
                if path.is_empty() {
                    return Ok(jrd);
                }
            }
            Event::Eof => {
                return if seen_root {
                    Err(XrdError::Truncated)
                } else {
                    Err(XrdError::NotXrd {
                        found: String::new(),
                    })
                };
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

/// Fills the `{uri}` variables of an `lrdd` template with the percent-encoded resource
/// ([RFC 6415 §4.2](https://www.rfc-editor.org/rfc/rfc6415#section-4.2)).
///
/// # Errors
///
/// [`TemplateError`] when there is no `{uri}` or the result is not an absolute URL.
pub fn expand_lrdd_template(template: &str, resource: &Resource) -> Result<Url, TemplateError> {
    if !template.contains("{uri}") {
        return Err(TemplateError::NoUriVariable {
            template: template.to_owned(),
        });
    }
    let encoded = utf8_percent_encode(&resource.to_string(), TEMPLATE_VALUE).to_string();
    let expanded = template.replace("{uri}", &encoded);
    Url::parse(&expanded).map_err(|source| TemplateError::InvalidUrl {
        template: template.to_owned(),
        source,
    })
}

struct PendingLeaf {
    /// `xml:lang` of a Title, or `type` of a Property.
    key: String,
    /// Whether a Property has `xsi:nil="true"`.
    nil: bool,
}

fn local_name(start: &BytesStart<'_>) -> String {
    start.local_name().as_ref().to_owned()
}

fn attribute(start: &BytesStart<'_>, wanted: &str) -> Option<String> {
    start.attributes().flatten().find_map(|attr| {
        let key = attr.key;
        let matches = key.as_ref() == wanted
            || (wanted == "lang" && key.as_ref() == "xml:lang")
            || key.local_name().as_ref() == wanted;
        if matches {
            attr.normalized_value(XmlVersion::Implicit1_0)
                .ok()
                .map(|value| value.into_owned())
        } else {
            None
        }
    })
}

fn open_element(
    name: &str,
    start: &BytesStart<'_>,
    path: &[String],
    current_link: &mut Option<Link>,
    pending: &mut Option<PendingLeaf>,
) -> Result<(), XrdError> {
    match (path.len(), name) {
        (1, "Link") => {
            let rel = attribute(start, "rel").ok_or(XrdError::LinkWithoutRel)?;
            let mut link = Link::new(Rel::new(rel));
            link.media_type = attribute(start, "type");
            link.href = attribute(start, "href");
            link.template = attribute(start, "template");
            *current_link = Some(link);
        }
        (1 | 2, "Property") => {
            *pending = Some(PendingLeaf {
                key: attribute(start, "type").unwrap_or_default(),
                nil: attribute(start, "nil").is_some_and(|nil| nil.trim() == "true"),
            });
        }
        (2, "Title") => {
            *pending = Some(PendingLeaf {
                key: attribute(start, "lang").unwrap_or_else(|| "und".to_owned()),
                nil: false,
            });
        }
        _ => {}
    }
    Ok(())
}

fn close_element(
    name: &str,
    parent_path: &[String],
    jrd: &mut Jrd,
    current_link: &mut Option<Link>,
    pending: &mut Option<PendingLeaf>,
    text: &str,
) {
    match (parent_path.len(), name) {
        (1, "Subject") => jrd.subject = Some(text.to_owned()),
        (1, "Alias") => jrd.aliases.push(text.to_owned()),
        (1, "Property") => {
            if let Some(leaf) = pending.take() {
                let value = (!leaf.nil).then(|| text.to_owned());
                jrd.properties.insert(leaf.key, value);
            }
        }
        (1, "Link") => {
            if let Some(link) = current_link.take() {
                jrd.links.push(link);
            }
        }
        (2, "Title") => {
            if let (Some(leaf), Some(link)) = (pending.take(), current_link.as_mut()) {
                link.titles.insert(leaf.key, text.to_owned());
            }
        }
        (2, "Property") => {
            if let (Some(leaf), Some(link)) = (pending.take(), current_link.as_mut()) {
                let value = (!leaf.nil).then(|| text.to_owned());
                link.properties.insert(leaf.key, value);
            }
        }
        _ => {}
    }
}
