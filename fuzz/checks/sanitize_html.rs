// Invariants of the HTML sanitizer (`federation::sanitize`), for the `sanitize_html` fuzz target
// and the replay test in `federation/tests/it/fuzz_replay.rs` (which `include!`s this file).
//
// The output is scanned here, independently of ammonia: the sanitizer escapes every `<` of text,
// so each `<` in its output opens a tag, and the serializer double-quotes every attribute value.

/// Sanitizes `data` (as text) and checks what survives: no script, style, frame, form or other
/// active element; no `on*` event handler and no `style` attribute; no `javascript:`, `vbscript:`
/// or `data:` URL (nor a relative one) in a URL attribute; every link marked as user content;
/// the same output again when sanitized again. The plain text of `data` has trimmed lines, no
/// control characters and no more than one blank line in a row.
#[allow(dead_code)]
pub(crate) fn check(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    let clean = federation::sanitize::sanitize_html(&html);
    scan(&clean);
    assert_eq!(
        federation::sanitize::sanitize_html(&clean),
        clean,
        "sanitizing is not idempotent"
    );
    let text = federation::sanitize::plain_text(&html);
    assert!(
        !text.contains("\n\n\n"),
        "more than one blank line: {text:?}"
    );
    for line in text.split('\n') {
        assert_eq!(line, line.trim(), "an untrimmed line: {line:?}");
        assert!(
            !line.chars().any(char::is_control),
            "a control character in the text: {line:?}"
        );
    }
}

/// Elements that run code, load other documents or take input.
const ACTIVE: &[&str] = &[
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
    "button", "select", "textarea", "option", "link", "meta", "base", "svg", "math", "noscript",
    "template", "audio", "video", "source", "track", "portal",
];

/// Attributes holding a URL.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "cite",
    "action",
    "formaction",
    "poster",
    "background",
    "longdesc",
    "usemap",
    "srcset",
    "xlink:href",
    "data",
];

fn scan(clean: &str) {
    let mut rest = clean;
    while let Some(at) = rest.find('<') {
        let tag = &rest[at + 1..];
        let end = tag
            .find('>')
            .unwrap_or_else(|| panic!("an unclosed tag in {clean:?}"));
        let (inside, after) = (&tag[..end], &tag[end + 1..]);
        rest = after;
        let inside = inside.strip_prefix('/').unwrap_or(inside);
        let name_end = inside
            .find(|c: char| c.is_ascii_whitespace() || c == '/')
            .unwrap_or(inside.len());
        let name = inside[..name_end].to_ascii_lowercase();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "not a tag: <{inside}> in {clean:?}"
        );
        assert!(
            !ACTIVE.contains(&name.as_str()),
            "<{name}> survived in {clean:?}"
        );
        let attributes = attributes(&inside[name_end..], clean);
        for (attribute, value) in &attributes {
            assert!(
                !attribute.starts_with("on"),
                "the event handler {attribute} survived in {clean:?}"
            );
            assert_ne!(
                attribute, "style",
                "a style attribute survived in {clean:?}"
            );
            if URL_ATTRIBUTES.contains(&attribute.as_str()) {
                check_url(&decode(value), clean);
            }
        }
        if name == "a" && attributes.iter().any(|(a, _)| a == "href") {
            assert!(
                attributes
                    .iter()
                    .any(|(a, v)| a == "rel" && v == federation::sanitize::LINK_REL),
                "a link without rel=\"{}\" in {clean:?}",
                federation::sanitize::LINK_REL
            );
        }
    }
}

/// The attributes of a start tag as the serializer writes them: `name="value"` or `name`.
fn attributes(mut text: &str, clean: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        text = text.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if text.is_empty() {
            return out;
        }
        let name_end = text
            .find(|c: char| c.is_ascii_whitespace() || c == '=')
            .unwrap_or(text.len());
        let name = text[..name_end].to_ascii_lowercase();
        text = &text[name_end..];
        let value = if let Some(quoted) = text.strip_prefix("=\"") {
            let close = quoted
                .find('"')
                .unwrap_or_else(|| panic!("an unquoted attribute value in {clean:?}"));
            text = &quoted[close + 1..];
            quoted[..close].to_owned()
        } else {
            assert!(
                !text.starts_with('='),
                "an attribute value not in double quotes in {clean:?}"
            );
            String::new()
        };
        out.push((name, value));
    }
}

/// A URL as a browser would read it: no dangerous scheme, however spelled, and not relative.
fn check_url(url: &str, clean: &str) {
    let squeezed: String = url
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    for scheme in ["javascript:", "vbscript:", "data:"] {
        assert!(
            !squeezed.starts_with(scheme),
            "a {scheme} URL survived in {clean:?}"
        );
    }
    let scheme = squeezed.split_once(':').map(|(scheme, _)| scheme);
    assert!(
        scheme.is_some_and(|s| !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))),
        "a relative URL {url:?} survived in {clean:?}"
    );
}

/// The character references the serializer writes in attribute values, and numeric ones.
fn decode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let entity = &rest[at..];
        let Some(semicolon) = entity.find(';') else {
            out.push_str(entity);
            return out;
        };
        let name = &entity[1..semicolon];
        let decoded = match name {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "nbsp" => Some('\u{a0}'),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &entity[semicolon + 1..];
            }
            None => {
                out.push('&');
                rest = &entity[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
