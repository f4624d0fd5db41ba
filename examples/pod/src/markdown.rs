//! Markdown (CommonMark, with strikethrough and tables) to the HTML a post, a comment or a bio
//! is stored and shown as, with the mentions (`@name`, `@name@host`) and hashtags (`#tag`) a
//! post's text holds. Pure: no I/O.
//!
//! HTML written in the Markdown is shown as text, not taken as markup, and the result goes
//! through `federation::sanitize` anyway (the one sanitizer of every instance): whatever
//! someone types, the page gets no script, no style, no event handler and no relative link.
//!
//! Mentions and hashtags are read from the text only: never inside code (spans or blocks),
//! links or images, and never where the `@` or `#` follows a letter, a digit, `_`, `=` or `/`
//! (so an email address, `a=#b` or a URL's fragment is none). A mention is made a link only
//! when the caller found whom it names; a hashtag always is, to the pod's tag page. Both in
//! Mastodon's markup, which the sanitizer keeps:
//! `<span class="h-card"><a class="u-url mention" href="…">@<span>name</span></a></span>` and
//! `<a class="mention hashtag" href="…" rel="tag">#<span>tag</span></a>`.

use std::collections::BTreeMap;

use activitypub_core::hashtag;
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, TextMergeStream};
use unicode_normalization::char::is_combining_mark;

/// The longest Markdown source accepted, in bytes.
pub(crate) const MAX_SOURCE: usize = 20_000;

/// A mention as written: `@user` or `@user@host`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mention {
    pub(crate) user: String,
    pub(crate) host: Option<String>,
}

impl Mention {
    /// How it is looked up: user and host in lowercase.
    pub(crate) fn key(&self) -> Mention {
        Mention {
            user: self.user.to_lowercase(),
            host: self.host.as_ref().map(|h| h.to_lowercase()),
        }
    }
}

/// What a text mentions and tags, each once, in the order written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The mentions (as [`Mention::key`]s).
    pub(crate) mentions: Vec<Mention>,
    /// The hashtags, normalized (`activitypub_core::hashtag::normalize`).
    pub(crate) tags: Vec<String>,
}

/// What the mentions and hashtags of a text link to.
pub(crate) struct Links<'a> {
    /// The address of each mention found (by [`Mention::key`]); others stay text.
    pub(crate) mentions: &'a BTreeMap<Mention, String>,
    /// The address of a (normalized) tag's page.
    pub(crate) tag_href: &'a dyn Fn(&str) -> String,
}

/// `source` rendered and sanitized, mentions and hashtags left as text (bios).
pub(crate) fn to_html(source: &str) -> String {
    let events = events(source).map(|event| match event {
        // Raw HTML is text here: people write Markdown, and `<b>` shows as typed.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    federation::sanitize::sanitize_html(&html)
}

/// The mentions and hashtags of `source`.
pub(crate) fn find(source: &str) -> Found {
    let mut found = Found::default();
    let mut outside = Outside::default();
    for event in events(source) {
        let Some(text) = outside.text(&event) else {
            continue;
        };
        for piece in pieces(text) {
            match piece {
                Piece::Mention { mention, .. } => {
                    let key = mention.key();
                    if !found.mentions.contains(&key) {
                        found.mentions.push(key);
                    }
                }
                Piece::Tag { name, .. } => {
                    let tag = hashtag::normalize(name);
                    if !found.tags.contains(&tag) {
                        found.tags.push(tag);
                    }
                }
                Piece::Text(_) => {}
            }
        }
    }
    found
}

/// `source` rendered and sanitized, with its mentions and hashtags made links as `links` say.
pub(crate) fn render(source: &str, links: &Links<'_>) -> String {
    let mut out: Vec<Event<'_>> = Vec::new();
    let mut outside = Outside::default();
    for event in events(source) {
        let event = match event {
            Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
            other => other,
        };
        let Some(text) = outside.text(&event) else {
            out.push(event);
            continue;
        };
        for piece in pieces(text) {
            out.push(match piece {
                Piece::Text(text) => Event::Text(CowStr::from(text.to_owned())),
                Piece::Mention { raw, mention } => match links.mentions.get(&mention.key()) {
                    Some(href) => Event::InlineHtml(CowStr::from(format!(
                        "<span class=\"h-card\"><a class=\"u-url mention\" href=\"{}\">@<span>{}</span></a></span>",
                        escape(href),
                        escape(&mention.user)
                    ))),
                    None => Event::Text(CowStr::from(raw.to_owned())),
                },
                Piece::Tag { name, .. } => Event::InlineHtml(CowStr::from(format!(
                    "<a class=\"mention hashtag\" href=\"{}\" rel=\"tag\">#<span>{}</span></a>",
                    escape(&(links.tag_href)(&hashtag::normalize(name))),
                    escape(name)
                ))),
            });
        }
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    federation::sanitize::sanitize_html(&html)
}

fn events(source: &str) -> TextMergeStream<'_, Parser<'_>> {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    TextMergeStream::new(Parser::new_ext(source, options))
}

/// Tracks whether the events are inside code blocks, links or images, where nothing is a
/// mention or a hashtag.
#[derive(Default)]
struct Outside {
    depth: usize,
}

impl Outside {
    /// The text of `event` if it is text outside code, links and images.
    fn text<'e>(&mut self, event: &'e Event<'_>) -> Option<&'e str> {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::Link { .. } | Tag::Image { .. }) => {
                self.depth += 1;
                None
            }
            Event::End(TagEnd::CodeBlock | TagEnd::Link | TagEnd::Image) => {
                self.depth = self.depth.saturating_sub(1);
                None
            }
            Event::Text(text) if self.depth == 0 => Some(text),
            _ => None,
        }
    }
}

/// A piece of a text.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Mention { raw: &'a str, mention: Mention },
    Tag { name: &'a str },
}

/// Whether `c` counts as part of a word before a mention or a hashtag.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || is_combining_mark(c)
}

/// Whether a `@` or `#` after `previous` may start a mention or a hashtag.
fn starts_after(previous: Option<char>) -> bool {
    previous.is_none_or(|p| !is_word(p) && !matches!(p, '=' | '/' | '@' | '#' | ')'))
}

/// `text` cut into text, mentions and hashtags.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut pending = 0;
    let mut previous = None;
    let mut at = 0;
    while let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) {
        let rest = text.get(at + 1..).unwrap_or_default();
        let found = match c {
            '@' if starts_after(previous) => {
                mention_at(rest).map(|(len, mention)| (len, Some(mention)))
            }
            '#' if starts_after(previous) => hashtag::name_length(rest).map(|len| (len, None)),
            _ => None,
        };
        let Some((len, mention)) = found else {
            previous = Some(c);
            at += c.len_utf8();
            continue;
        };
        let end = at + 1 + len;
        if let Some(before) = text.get(pending..at).filter(|t| !t.is_empty()) {
            out.push(Piece::Text(before));
        }
        let raw = text.get(at..end).unwrap_or_default();
        out.push(match mention {
            Some(mention) => Piece::Mention { raw, mention },
            None => Piece::Tag {
                name: text.get(at + 1..end).unwrap_or_default(),
            },
        });
        previous = raw.chars().last();
        at = end;
        pending = end;
    }
    if let Some(after) = text.get(pending..).filter(|t| !t.is_empty()) {
        out.push(Piece::Text(after));
    }
    out
}

/// The mention that `rest` (what follows a `@`) starts with, and its length: a user name
/// (ASCII letters, digits, `_`, and `.` or `-` inside), then perhaps `@` and a host (letters,
/// digits, `.` and `-`, perhaps a `:port`).
fn mention_at(rest: &str) -> Option<(usize, Mention)> {
    let user_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .unwrap_or(rest.len());
    let user = rest.get(..user_end)?.trim_end_matches(['.', '-']);
    if !user.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mention = |host: Option<&str>| Mention {
        user: user.to_owned(),
        host: host.map(str::to_owned),
    };
    let Some(after) = rest.get(user.len()..).and_then(|r| r.strip_prefix('@')) else {
        return Some((user.len(), mention(None)));
    };
    let host_end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':')))
        .unwrap_or(after.len());
    // A sentence's punctuation after the host is not part of it: `@bob@b.example:` or `.`.
    let written = after.get(..host_end)?.trim_end_matches(['.', '-', ':']);
    let host = match written.split_once(':') {
        Some((name, port))
            if !port.is_empty()
                && port.len() <= 5
                && port.chars().all(|c| c.is_ascii_digit())
                && !name.ends_with(['.', '-']) =>
        {
            written
        }
        Some((name, _)) => name,
        None => written,
    }
    .trim_end_matches(['.', '-']);
    if !host.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some((user.len(), mention(None)));
    }
    Some((user.len() + 1 + host.len(), mention(Some(host))))
}

/// `text` escaped for HTML text and double-quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Found, Links, Mention, find, render, to_html};

    fn mention(user: &str, host: Option<&str>) -> Mention {
        Mention {
            user: user.to_owned(),
            host: host.map(str::to_owned),
        }
    }

    #[test]
    fn markdown_becomes_sanitized_html() {
        assert_eq!(
            to_html("Hello *there*, **you**."),
            "<p>Hello <em>there</em>, <strong>you</strong>.</p>\n"
        );
        let link = to_html("[site](https://example.org/)");
        assert!(link.contains("href=\"https://example.org/\""), "{link}");
        assert!(
            link.contains("rel=\"noopener noreferrer nofollow ugc\""),
            "{link}"
        );
        // Raw HTML is shown as text.
        let raw = to_html("<script>alert(1)</script> <b>bold</b>");
        assert!(!raw.contains("<script"), "{raw}");
        assert!(!raw.contains("<b>"), "{raw}");
        assert!(raw.contains("&lt;b&gt;bold"), "{raw}");
        // A javascript: link loses its address.
        let js = to_html("[x](javascript:alert(1))");
        assert!(!js.contains("javascript:"), "{js}");
        // Relative links would point here: removed.
        let relative = to_html("[x](/admin)");
        assert!(!relative.contains("href"), "{relative}");
    }

    #[test]
    fn mentions_and_tags_are_found_in_text_only() {
        let found = find(
            "Hi @bob and @Carol@B.example:8443, @dave@host. #Rust #rust #café\n\n\
             mail me at me@example.org, see https://x.example/@eve#frag, a=#b, \
             `@code #code` and\n\n```\n@block #block\n```\n\n[@link #link](https://x.example/) \
             @ alone, # alone, #123, @bob again, (@erin), @fay@f.example:, @gus@g.example:80:",
        );
        assert_eq!(
            found,
            Found {
                mentions: vec![
                    mention("bob", None),
                    mention("carol", Some("b.example:8443")),
                    mention("dave", Some("host")),
                    mention("erin", None),
                    mention("fay", Some("f.example")),
                    mention("gus", Some("g.example:80")),
                ],
                tags: vec!["rust".to_owned(), "café".to_owned()],
            }
        );
    }

    #[test]
    fn tags_are_normalized_as_mastodon_compares_them() {
        // A composed é and an E followed by a combining acute are one tag (activitypub-core's
        // `hashtag` tests the rest of the normalization).
        assert_eq!(find("#Café and #CAFE\u{301}").tags, vec!["café".to_owned()]);
    }

    #[test]
    fn mentions_found_become_links_and_others_stay_text() {
        let mut mentions = BTreeMap::new();
        mentions.insert(
            mention("bob", Some("b.example")),
            "https://b.example/users/bob".to_owned(),
        );
        let tag_href = |name: &str| format!("https://a.example/tags/{name}");
        let links = Links {
            mentions: &mentions,
            tag_href: &tag_href,
        };
        let html = render(
            "Hi @Bob@b.example and @nobody, *see* #Rust. `@bob@b.example` me@b.example",
            &links,
        );
        assert_eq!(
            html,
            "<p>Hi <span class=\"h-card\"><a class=\"u-url mention\" \
             href=\"https://b.example/users/bob\" rel=\"noopener noreferrer nofollow ugc\">@<span>Bob</span></a></span> \
             and @nobody, <em>see</em> <a class=\"mention hashtag\" href=\"https://a.example/tags/rust\" \
             rel=\"noopener noreferrer nofollow ugc\">#<span>Rust</span></a>. \
             <code>@bob@b.example</code> me@b.example</p>\n"
        );
        // Raw HTML around a mention stays text.
        let html = render("<b>@bob@b.example</b>", &links);
        assert!(
            html.starts_with("<p>&lt;b&gt;<span class=\"h-card\">"),
            "{html}"
        );
    }
}
