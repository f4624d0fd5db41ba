//! Markdown (CommonMark, with strikethrough and tables) to the HTML a post, a comment or a bio
//! is stored and shown as. Pure: no I/O.
//!
//! HTML written in the Markdown is shown as text, not taken as markup, and the result goes
//! through `federation::sanitize` anyway (the one sanitizer of every instance): whatever
//! someone types, the page gets no script, no style, no event handler and no relative link.

use pulldown_cmark::{Event, Options, Parser};

/// The longest Markdown source accepted, in bytes.
pub(crate) const MAX_SOURCE: usize = 20_000;

/// `source` rendered and sanitized.
pub(crate) fn to_html(source: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let events = Parser::new_ext(source, options).map(|event| match event {
        // Raw HTML is text here: people write Markdown, and `<b>` shows as typed.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    federation::sanitize::sanitize_html(&html)
}

#[cfg(test)]
mod tests {
    use super::to_html;

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
}
