//! HTML from other servers, made safe to store and to show.
//!
//! Every server embeds HTML in the documents it sends (`content`, `summary`, an actor's
//! `summary`): a description that carries a `<script>`, an `onclick` attribute or a
//! `javascript:` link must never reach a page as received. Two pure functions, used by every
//! instance of the workspace:
//!
//! - [`sanitize_html`]: HTML kept as HTML, with ammonia's default allow-list (no scripts, styles,
//!   event handlers, forms or frames; only `http`, `https`, `mailto` and a few other URL
//!   schemes), relative URLs removed (they would point at this server) and every link marked as
//!   user content (`rel="noopener noreferrer nofollow ugc"`). The classes of Mastodon's mention
//!   and hashtag markup stay (`h-card` on `span`; `u-url`, `mention` and `hashtag` on `a`), and
//!   no other class: they are how a page tells a mention or a hashtag from another link.
//! - [`plain_text`]: the text of some HTML, for places that take no markup (iCalendar
//!   `DESCRIPTION`, a `summary` written for Mastodon's fallback rendering).
//!
//! Both do no I/O, never panic, and give the same output for the same input on every call;
//! [`sanitize_html`] is idempotent (`sanitize_html(&sanitize_html(x)) == sanitize_html(x)`), so
//! HTML sanitized when stored can be sanitized again when shown without changing.

use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};

/// The `rel` every link gets ([HTML §4.6.6]): no `window.opener`, no `Referer`, and for search
/// engines, a link someone else wrote.
///
/// [HTML §4.6.6]: https://html.spec.whatwg.org/multipage/links.html#linkTypes
pub const LINK_REL: &str = "noopener noreferrer nofollow ugc";

/// How many times [`sanitize_html`] cleans at most while the output still changes (see there).
const MAX_PASSES: usize = 4;

static HTML: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = Builder::default();
    builder
        .url_relative(UrlRelative::Deny)
        .link_rel(Some(LINK_REL))
        .add_allowed_classes("span", &["h-card"])
        .add_allowed_classes("a", &["u-url", "mention", "hashtag"]);
    builder
});

static TEXT: LazyLock<Builder<'static>> = LazyLock::new(Builder::empty);

/// `html` with everything unsafe removed (see the [module](self) documentation for what is
/// kept). Text and allowed markup survive; what is removed is dropped silently, with the content
/// of `script` and `style` elements.
///
/// The result parses back to itself: HTML parsing can rearrange misnested markup (`<b><p>`), and
/// a first pass may produce a tree that a second pass writes differently; the cleaning is
/// repeated (a few times at most) until the output no longer changes.
pub fn sanitize_html(html: &str) -> String {
    let mut clean = keep_pre_newlines(&HTML.clean(html).to_string());
    for _ in 1..MAX_PASSES {
        let again = keep_pre_newlines(&HTML.clean(&clean).to_string());
        if again == clean {
            break;
        }
        clean = again;
    }
    clean
}

/// `html` (the cleaner's output) with one more line break after each `<pre>` whose content
/// starts with one. An HTML parser drops a line break right after `<pre>`, and the serializer
/// does not write it back (HTML's own serialization algorithm does): without this, each
/// parse of the output loses one leading line break of a `<pre>`, and cleaning never settles.
///
/// Every `<` of the cleaner's output opens a tag (text `<` is escaped); attribute values are
/// double-quoted and may hold `>`.
fn keep_pre_newlines(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = find_pre_tag(rest) {
        let (before, tag) = rest.split_at(at);
        out.push_str(before);
        // The end of the start tag, outside quoted attribute values.
        let mut quoted = false;
        let end = tag.char_indices().find_map(|(i, c)| match c {
            '"' => {
                quoted = !quoted;
                None
            }
            '>' if !quoted => Some(i + 1),
            _ => None,
        });
        let Some(end) = end else {
            out.push_str(tag);
            return out;
        };
        let (start_tag, after) = tag.split_at(end);
        out.push_str(start_tag);
        if after.starts_with('\n') {
            out.push('\n');
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Where the next `<pre>` or `<pre ...>` start tag begins in `html`.
fn find_pre_tag(html: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = html.get(from..)?.find("<pre") {
        let at = from + at;
        match html.as_bytes().get(at + 4) {
            Some(b'>' | b' ' | b'\t' | b'\n' | b'/') => return Some(at),
            _ => from = at + 4,
        }
    }
    None
}

/// The text of `html`: every tag removed (with the content of `script` and `style`), paragraphs
/// separated by a blank line, line breaks and the ends of blocks kept as line breaks, list items
/// as `- ` lines, the entities HTML escapes in text decoded, runs of spaces collapsed and the
/// ends of lines trimmed. The result is text, not HTML: escape it before putting it in a page.
pub fn plain_text(html: &str) -> String {
    let text = TEXT.clean(&mark_breaks(html)).to_string();
    let text = decode_entities(&text)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.split('\n').map(one_line) {
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        out.push_str(&line);
        blank = false;
    }
    out
}

/// `text` on one line: control characters (line breaks included) become spaces, runs of
/// whitespace one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Inserts line breaks (as text, which the cleaning keeps) where blocks end, so that the text
/// keeps its paragraphs once the tags are gone.
fn mark_breaks(html: &str) -> String {
    const BREAKS: &[(&str, &str)] = &[
        ("<br", "\n"),
        ("</p", "\n\n"),
        ("</div", "\n"),
        ("<li", "\n- "),
        ("</ul", "\n\n"),
        ("</ol", "\n\n"),
        ("</tr", "\n"),
        ("</h", "\n\n"),
        ("</blockquote", "\n\n"),
        ("</pre", "\n\n"),
    ];
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        let (before, tag) = rest.split_at(at);
        out.push_str(before);
        // Tag names are ASCII: compare the next bytes case-insensitively, and require the name
        // to end there (`<li>` but not `<link>`; `</h2>` but not `</header>`).
        if let Some((_, text)) = BREAKS.iter().find(|(name, _)| {
            tag.get(..name.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(name))
                && tag
                    .get(name.len()..)
                    .and_then(|r| r.bytes().next())
                    .is_some_and(|b| {
                        if *name == "</h" {
                            matches!(b, b'1'..=b'6')
                        } else {
                            !b.is_ascii_alphanumeric()
                        }
                    })
        }) {
            out.push_str(text);
        }
        out.push('<');
        rest = tag.get(1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Decodes what the serializer escapes in text (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`, and `&quot;`
/// for good measure), in one pass so that `&amp;lt;` stays `&lt;`.
fn decode_entities(text: &str) -> String {
    const ENTITIES: &[(&str, char)] = &[
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&quot;", '"'),
        ("&nbsp;", ' '),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        let (before, entity) = rest.split_at(at);
        out.push_str(before);
        match ENTITIES.iter().find(|(name, _)| entity.starts_with(name)) {
            Some((name, c)) => {
                out.push(*c);
                rest = entity.get(name.len()..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = entity.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    /// Pieces of hostile and ordinary HTML; the generated inputs are sequences of them.
    const PIECES: &[&str] = &[
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<scr<script>ipt>alert(2)</script>",
        "<img src=x onerror=alert(3)>",
        "<img src=\"https://a.example/i.png\" alt=\"a\">",
        "<a href=\"javascript:alert(4)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(5)\">x</a>",
        "<a href=\"java\tscript:alert(6)\">x</a>",
        "<a href=\"&#106;avascript:alert(7)\">x</a>",
        "<a href=\"https://ok.example/\" target=\"_blank\" rel=\"me\">ok</a>",
        "<a href=\"/local\">local</a>",
        "<p onclick=\"steal()\" OnMouseOver=x>",
        "</p>",
        "<div style=\"background:url(javascript:alert(8))\">",
        "</div>",
        "<svg><script>alert(9)</script></svg>",
        "<math><mi xlink:href=\"javascript:alert(10)\">m</mi></math>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<object data=x></object><embed src=x>",
        "<form action=x><input name=y></form>",
        "<style>p{color:red}</style>",
        "<!-- comment <script> -->",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(11)>\"></noscript>",
        "<b><p>misnested</b></p>",
        // Nested links around a table: one cleaning writes what the next one parses otherwise.
        "<a><table><a>",
        "<table>",
        "<a href=\"https://a.example/\">",
        "<table><tr><td>cell</td></tr></table>",
        "<ul><li>one<li>two</ul>",
        "<textarea><script>alert(12)</script></textarea>",
        "<template><script>alert(13)</script></template>",
        "<base href=\"javascript:alert(14)//\">",
        "<meta http-equiv=refresh content=\"0;url=javascript:alert(15)\">",
        "<details open ontoggle=alert(16)>",
        "&lt;script&gt;",
        "&amp;",
        "Fish & chips < 3",
        "<br>",
        "\u{0}",
        "<",
        ">",
        "\"",
        "text",
        "<p>",
        "<em>",
        "</em>",
    ];

    /// A small deterministic generator (xorshift), so that the checks below run over the same
    /// thousands of inputs on every run without a dependency.
    struct Inputs(u64);

    impl Iterator for Inputs {
        type Item = String;

        fn next(&mut self) -> Option<String> {
            let mut draw = || {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0
            };
            let len = draw() % 8;
            let mut input = String::new();
            for _ in 0..len {
                let at = usize::try_from(draw()).unwrap() % PIECES.len();
                input.push_str(PIECES[at]);
            }
            Some(input)
        }
    }

    fn inputs() -> impl Iterator<Item = String> {
        PIECES
            .iter()
            .map(|p| (*p).to_owned())
            .chain(Inputs(0x9e37_79b9_7f4a_7c15).take(4000))
    }

    /// What must never survive, whatever the input.
    fn assert_safe(input: &str, output: &str) {
        let lower = output.to_ascii_lowercase();
        for needle in [
            "<script",
            "<iframe",
            "<object",
            "<embed",
            "<form",
            "<style",
            "<svg",
            "<math",
            "<base",
            "<meta",
            "<textarea",
            "<template",
            "<noscript",
        ] {
            assert!(
                !lower.contains(needle),
                "{needle} in {output:?} (from {input:?})"
            );
        }
        for url in ["javascript:", "href=\"/", "src=\"/"] {
            assert!(!lower.contains(url), "{url} in {output:?} (from {input:?})");
        }
        // An event handler is an attribute: ` on...=` inside a tag.
        let mut in_tag = false;
        let mut previous = ' ';
        for (at, c) in lower.char_indices() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                'o' if in_tag && previous.is_whitespace() => {
                    let name: String = lower[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    assert!(
                        !(name.starts_with("on") && lower[at + name.len()..].starts_with('=')),
                        "attribute {name} in {output:?} (from {input:?})"
                    );
                }
                _ => {}
            }
            previous = c;
        }
    }

    #[test]
    fn nothing_unsafe_survives() {
        for input in inputs() {
            assert_safe(&input, &sanitize_html(&input));
        }
    }

    #[test]
    fn line_breaks_leading_a_pre_survive_sanitizing_again() {
        // Found by the fuzzer: each parse dropped one leading line break of the `<pre>`.
        let input = "</ol>\r\r\r\r\r\r\r\r\n<div>c</d></ol><pli><li>4</li></ol><pre\ty  </pre>\r\r\r\r\r\r\r\r\r\r\r\x07\r\r\r\r\r\r\r\rert(1')>\">";
        let clean = sanitize_html(input);
        assert_eq!(sanitize_html(&clean), clean);
        for input in [
            "<pre>\n\n\nx</pre>",
            "<pre title=\"a>b\">\n\ny</pre>",
            "<p>a</p><pre>\nz</pre>",
        ] {
            let clean = sanitize_html(input);
            assert_eq!(sanitize_html(&clean), clean, "{input:?}");
        }
        // The first line break after `<pre>` is markup, the others content.
        assert_eq!(sanitize_html("<pre>\n\nx</pre>"), "<pre>\n\nx</pre>");
        assert_eq!(sanitize_html("<pre>x</pre>"), "<pre>x</pre>");
        assert_eq!(sanitize_html("<prefix>x</prefix>"), "x");
    }

    #[test]
    fn sanitizing_twice_changes_nothing() {
        for input in inputs() {
            let once = sanitize_html(&input);
            assert_eq!(sanitize_html(&once), once, "from {input:?}");
        }
    }

    #[test]
    fn plain_text_is_tidy_lines() {
        for input in inputs() {
            let text = plain_text(&input);
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{text:?} from {input:?}"
            );
            assert!(!text.contains("\n\n\n"), "{text:?} from {input:?}");
            for line in text.split('\n') {
                assert_eq!(line, line.trim(), "{text:?} from {input:?}");
            }
        }
    }

    #[test]
    fn links_are_marked_and_ordinary_markup_kept() {
        assert_eq!(
            sanitize_html(
                "<p>Bring <b>water</b> &amp; a <a href=\"https://map.example/col\" target=\"_blank\">map</a>.</p>"
            ),
            "<p>Bring <b>water</b> &amp; a <a href=\"https://map.example/col\" \
             rel=\"noopener noreferrer nofollow ugc\">map</a>.</p>"
        );
        // Relative links would point at this server: the URL goes, the text stays.
        assert_eq!(
            sanitize_html("<a href=\"/admin\">x</a><img src=\"pic.png\">"),
            "<a rel=\"noopener noreferrer nofollow ugc\">x</a><img>"
        );
        assert_eq!(
            sanitize_html("<p onclick=\"steal()\">Hi<script>alert(1)</script></p>"),
            "<p>Hi</p>"
        );
        assert_eq!(sanitize_html("Fish & chips < 3"), "Fish &amp; chips &lt; 3");
        let link = "<a rel=\"noopener noreferrer nofollow ugc\"></a>";
        assert_eq!(
            sanitize_html("<a><table><a>"),
            format!("{link}{link}<table></table>")
        );
    }

    #[test]
    fn mentions_and_hashtags_keep_their_classes() {
        let mention = "<span class=\"h-card\"><a class=\"u-url mention\" \
             href=\"https://b.example/users/bob\" rel=\"noopener noreferrer nofollow ugc\">\
             @<span>bob</span></a></span>";
        assert_eq!(sanitize_html(mention), mention);
        // Mastodon's own markup: `translate` goes, the classes stay.
        assert_eq!(
            sanitize_html(
                "<span class=\"h-card\" translate=\"no\"><a href=\"https://b.example/users/bob\" \
                 class=\"u-url mention\">@<span>bob</span></a></span>"
            ),
            "<span class=\"h-card\"><a href=\"https://b.example/users/bob\" class=\"u-url mention\" \
             rel=\"noopener noreferrer nofollow ugc\">@<span>bob</span></a></span>"
        );
        assert_eq!(
            sanitize_html(
                "<a href=\"https://a.example/tags/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>Rust</span></a>"
            ),
            "<a href=\"https://a.example/tags/rust\" class=\"mention hashtag\" \
             rel=\"noopener noreferrer nofollow ugc\">#<span>Rust</span></a>"
        );
        // Other classes go, on these elements and on others.
        assert_eq!(
            sanitize_html(
                "<a class=\"evil mention\" href=\"https://x.example/\">x</a><p class=\"h-card\">y</p>"
            ),
            "<a class=\"mention\" href=\"https://x.example/\" rel=\"noopener noreferrer nofollow ugc\">x</a><p>y</p>"
        );
    }

    #[test]
    fn plain_text_keeps_paragraphs_and_decodes_entities() {
        assert_eq!(
            plain_text(
                "<h2>Programme</h2><p>1 &lt; 2 &amp;&amp; 3 &gt; 2&nbsp;!<br>next <b>line</b></p>\
                 <script>alert(1)</script><style>p{}</style>\
                 <ul><li>one</li><li>two</li></ul><p>&amp;lt; stays</p>"
            ),
            "Programme\n\n1 < 2 && 3 > 2 !\nnext line\n\n- one\n- two\n\n&lt; stays"
        );
        assert_eq!(plain_text("  plain\ttext  "), "plain text");
        assert_eq!(plain_text(""), "");
    }

    #[test]
    fn entity_decoding_is_one_pass() {
        assert_eq!(
            decode_entities("a &amp;lt; b &lt; c &foo; &"),
            "a &lt; b < c &foo; &"
        );
        assert_eq!(
            mark_breaks("<P>a</P><link><LI>b<header></H3>"),
            "<P>a\n\n</P><link>\n- <LI>b<header>\n\n</H3>"
        );
    }
}
