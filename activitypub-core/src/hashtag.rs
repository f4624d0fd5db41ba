//! Hashtag names as Mastodon compares them, so that `#Café`, `#CAFE\u{301}` and `#ｃａｆé` are one
//! tag wherever it is written, stored, followed or relayed.
//!
//! A name is compared after Unicode NFKC (full-width letters, ligatures and a letter followed by
//! a combining accent become one form) and full case folding (`Straße` is `strasse`). A name a
//! text may hold is made of letters, digits, `_`, combining marks, and `·` or a zero-width
//! non-joiner inside, with at least one letter or `_`, at most [`MAX_CHARS`] characters.
//! Pure: no I/O.

use serde_json::Value;
use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

/// The longest hashtag name, in characters (a longer one is not a hashtag).
pub const MAX_CHARS: usize = 100;

/// `name` (without `#`) as Mastodon compares hashtags: NFKC, then case-folded.
///
/// ```
/// use activitypub_core::hashtag::normalize;
/// assert_eq!(normalize("Café"), normalize("CAFE\u{301}"));
/// assert_eq!(normalize("ＲＵＳＴ"), "rust");
/// ```
pub fn normalize(name: &str) -> String {
    let composed: String = name.nfkc().collect();
    caseless::default_case_fold_str(&composed)
}

/// The prefix of an [`ascii_name`] of a tag with letters outside ASCII.
const PUNYCODE_PREFIX: &str = "xn--";

/// Normalized tag `tag` as a word of ASCII letters, digits, `_` and `-`, for where only those
/// go (an actor's name, which `acct:` URIs and every server's URLs take unescaped): the tag
/// itself when it is ASCII, otherwise `xn--` and its Punycode (RFC 3492), as a domain label is
/// written. `None` for what is not a normalized tag. The two forms never meet: an ASCII tag has
/// no `-`. [`from_ascii_name`] reads it back.
///
/// ```
/// use activitypub_core::hashtag::{ascii_name, from_ascii_name};
/// assert_eq!(ascii_name("climate").as_deref(), Some("climate"));
/// assert_eq!(ascii_name("café").as_deref(), Some("xn--caf-dma"));
/// assert_eq!(from_ascii_name("xn--caf-dma").as_deref(), Some("café"));
/// assert_eq!(ascii_name("Café"), None);
/// ```
pub fn ascii_name(tag: &str) -> Option<String> {
    if received(tag).as_deref() != Some(tag) {
        return None;
    }
    if tag.is_ascii() {
        return Some(tag.to_owned());
    }
    idna::punycode::encode_str(tag).map(|code| format!("{PUNYCODE_PREFIX}{code}"))
}

/// The normalized tag an [`ascii_name`] names, when `name` is one as it writes them (and only
/// then: `Climate` or an `xn--` form of an ASCII tag is none).
pub fn from_ascii_name(name: &str) -> Option<String> {
    let tag = match name.strip_prefix(PUNYCODE_PREFIX) {
        Some(code) => idna::punycode::decode_to_string(code)?,
        None => name.to_owned(),
    };
    (ascii_name(&tag).as_deref() == Some(name)).then_some(tag)
}

/// A hashtag name received from elsewhere (`#name` or `name`), normalized, if it is one a text
/// could hold ([`name_length`] takes all of it).
///
/// ```
/// use activitypub_core::hashtag::received;
/// assert_eq!(received("#Moo").as_deref(), Some("moo"));
/// assert_eq!(received("#two words"), None);
/// ```
pub fn received(name: &str) -> Option<String> {
    let name = name.strip_prefix('#').unwrap_or(name);
    let tag = normalize(name);
    (name_length(&tag) == Some(tag.len())).then_some(tag)
}

/// Whether `name` is a normalized hashtag name: what [`received`] gives back unchanged.
pub fn is_normalized(name: &str) -> bool {
    received(name).as_deref() == Some(name)
}

/// Whether `c` may be part of a hashtag name.
pub fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || is_combining_mark(c) || matches!(c, '\u{b7}' | '\u{200c}')
}

/// The length in bytes of the hashtag name `rest` (what follows a `#` in a text) starts with,
/// `None` when it starts with none: name characters, not ending with `·` or a zero-width
/// non-joiner, at least one a letter or `_`, at most [`MAX_CHARS`].
pub fn name_length(rest: &str) -> Option<usize> {
    let end = rest
        .char_indices()
        .find(|(_, c)| !is_name_char(*c))
        .map_or(rest.len(), |(i, _)| i);
    let name = rest.get(..end)?.trim_end_matches(['\u{b7}', '\u{200c}']);
    let valid =
        name.chars().any(|c| c.is_alphabetic() || c == '_') && name.chars().count() <= MAX_CHARS;
    valid.then_some(name.len())
}

/// The hashtags of an object document: the normalized names of the `Hashtag` entries of its
/// `tag` member, each once, in order, reading at most `max_entries` entries (the network
/// decides how many there are).
///
/// ```
/// let note = serde_json::json!({"type": "Note", "tag": [
///     {"type": "Hashtag", "name": "#Climate"},
///     {"type": "Mention", "name": "@bob"},
///     {"type": "Hashtag", "name": "#CLIMATE"},
/// ]});
/// assert_eq!(activitypub_core::hashtag::names_in(&note, 100), vec!["climate".to_owned()]);
/// ```
pub fn names_in(document: &Value, max_entries: usize) -> Vec<String> {
    let entries: Box<dyn Iterator<Item = &Value>> = match document.get("tag") {
        Some(Value::Array(items)) => Box::new(items.iter()),
        Some(one @ Value::Object(_)) => Box::new(std::iter::once(one)),
        _ => Box::new(std::iter::empty()),
    };
    let mut names: Vec<String> = Vec::new();
    for entry in entries.take(max_entries) {
        if entry.get("type").and_then(Value::as_str) != Some("Hashtag") {
            continue;
        }
        if let Some(name) = entry.get("name").and_then(Value::as_str).and_then(received)
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::{is_normalized, name_length, normalize, received};

    #[test]
    fn names_are_compared_as_mastodon_compares_them() {
        assert_eq!(normalize("Café"), normalize("CAFE\u{301}"));
        assert_eq!(normalize("Café"), "café");
        assert_eq!(normalize("ＲＵＳＴ"), "rust");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(received("#"), None);
        assert_eq!(received("#2026"), None);
        assert_eq!(received("a·"), None);
        assert!(is_normalized("climate"));
        assert!(!is_normalized("Climate"));
        assert!(!is_normalized("tag-climate"));
        assert_eq!(name_length("rust, and"), Some(4));
        assert_eq!(name_length(&"a".repeat(101)), None);
    }
}
