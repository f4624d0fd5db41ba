//! Feeds (RSS 2.0, Atom 1.0 and JSON Feed 1.1) of what an instance publishes, for feed
//! readers and for the sites that list an instance's videos, events or posts.
//!
//! An instance fills a [`Feed`] with what its anonymous readers may see and renders it in the
//! [`FeedFormat`] asked for. The XML is written through `quick-xml` (escaped, well formed) and
//! every text is cleaned of the characters XML 1.0 cannot carry (control characters other than
//! tab and line breaks, U+FFFE, U+FFFF), which a remote server's title may hold.

use std::borrow::Cow;
use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

/// A feed's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FeedFormat {
    /// RSS 2.0, with Media RSS thumbnails and Dublin Core creators (`application/rss+xml`).
    #[default]
    Rss,
    /// Atom 1.0 (`application/atom+xml`).
    Atom,
    /// JSON Feed 1.1 (`application/feed+json`).
    Json,
}

impl FeedFormat {
    /// The format a name asks for: `rss` (or `xml`), `atom`, `json`; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "rss" | "xml" | "rss2" => Some(Self::Rss),
            "atom" | "atom1" => Some(Self::Atom),
            "json" | "json1" => Some(Self::Json),
            _ => None,
        }
    }

    /// Its media type, for `Content-Type` and `<link rel="alternate">`.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Rss => "application/rss+xml",
            Self::Atom => "application/atom+xml",
            Self::Json => "application/feed+json",
        }
    }
}

/// A feed. Built field by field, with `..Feed::default()` for what is left out (which keeps
/// working when fields are added).
#[derive(Debug, Clone, Default)]
pub struct Feed {
    /// Its title.
    pub title: String,
    /// The page it follows (a channel's, the instance's).
    pub link: String,
    /// The feed's own address.
    pub self_link: String,
    /// What it is.
    pub description: String,
    /// The language of its items (BCP 47), if one.
    pub language: Option<String>,
    /// When it last changed (Unix seconds): the newest item's date, say.
    pub updated: i64,
    /// Its items, newest first.
    pub items: Vec<FeedItem>,
}

/// An item of a feed, built like [`Feed`].
#[derive(Debug, Clone, Default)]
pub struct FeedItem {
    /// Its id: the object's ActivityPub id (also its `guid`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// The page that shows it.
    pub link: String,
    /// Its content as sanitized HTML (the feed escapes it).
    pub content_html: String,
    /// When it was published (Unix seconds).
    pub published: i64,
    /// When it last changed (Unix seconds).
    pub updated: i64,
    /// Its author: a name and an address.
    pub author: Option<(String, String)>,
    /// A file to download with it (a video's file).
    pub enclosure: Option<Enclosure>,
    /// An image showing it.
    pub thumbnail: Option<String>,
    /// Its tags.
    pub categories: Vec<String>,
}

/// A file attached to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enclosure {
    /// Its address.
    pub url: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub length: u64,
}

impl Enclosure {
    /// A file at `url` of `media_type` and `length` bytes.
    pub fn new(url: impl Into<String>, media_type: impl Into<String>, length: u64) -> Self {
        Self {
            url: url.into(),
            media_type: media_type.into(),
            length,
        }
    }
}

impl Feed {
    /// The feed in `format`.
    pub fn render(&self, format: FeedFormat) -> String {
        match format {
            FeedFormat::Rss => self.to_rss(),
            FeedFormat::Atom => self.to_atom(),
            FeedFormat::Json => self.to_json(),
        }
    }

    /// RSS 2.0, with Media RSS thumbnails and an Atom self link.
    pub fn to_rss(&self) -> String {
        write_xml(|w| {
            w.create_element("rss")
                .with_attributes([
                    ("version", "2.0"),
                    ("xmlns:atom", "http://www.w3.org/2005/Atom"),
                    ("xmlns:media", "http://search.yahoo.com/mrss/"),
                    ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
                ])
                .write_inner_content(|w| {
                    w.create_element("channel").write_inner_content(|w| {
                        text(w, "title", &self.title)?;
                        text(w, "link", &self.link)?;
                        text(w, "description", &self.description)?;
                        if let Some(language) = &self.language {
                            text(w, "language", language)?;
                        }
                        text(w, "lastBuildDate", &rfc2822(self.updated))?;
                        w.create_element("atom:link")
                            .with_attributes([
                                ("href", clean(&self.self_link).as_ref()),
                                ("rel", "self"),
                                ("type", FeedFormat::Rss.media_type()),
                            ])
                            .write_empty()?;
                        for item in &self.items {
                            rss_item(w, item)?;
                        }
                        Ok(())
                    })?;
                    Ok(())
                })?;
            Ok(())
        })
    }

    /// Atom 1.0.
    pub fn to_atom(&self) -> String {
        write_xml(|w| {
            w.create_element("feed")
                .with_attribute(("xmlns", "http://www.w3.org/2005/Atom"))
                .write_inner_content(|w| {
                    text(w, "id", &self.self_link)?;
                    text(w, "title", &self.title)?;
                    text(w, "subtitle", &self.description)?;
                    text(w, "updated", &rfc3339(self.updated))?;
                    link(w, "alternate", &self.link, Some("text/html"))?;
                    link(
                        w,
                        "self",
                        &self.self_link,
                        Some(FeedFormat::Atom.media_type()),
                    )?;
                    for item in &self.items {
                        atom_entry(w, item)?;
                    }
                    Ok(())
                })?;
            Ok(())
        })
    }

    /// JSON Feed 1.1.
    pub fn to_json(&self) -> String {
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|item| {
                let mut entry = Map::new();
                entry.insert("id".into(), json!(item.id));
                entry.insert("url".into(), json!(item.link));
                entry.insert("title".into(), json!(item.title));
                entry.insert("content_html".into(), json!(item.content_html));
                entry.insert("date_published".into(), json!(rfc3339(item.published)));
                entry.insert("date_modified".into(), json!(rfc3339(item.updated)));
                if let Some((name, url)) = &item.author {
                    entry.insert("authors".into(), json!([{ "name": name, "url": url }]));
                }
                if let Some(image) = &item.thumbnail {
                    entry.insert("image".into(), json!(image));
                }
                if !item.categories.is_empty() {
                    entry.insert("tags".into(), json!(item.categories));
                }
                if let Some(file) = &item.enclosure {
                    entry.insert(
                        "attachments".into(),
                        json!([{
                            "url": file.url,
                            "mime_type": file.media_type,
                            "size_in_bytes": file.length,
                        }]),
                    );
                }
                Value::Object(entry)
            })
            .collect();
        let mut feed = json!({
            "version": "https://jsonfeed.org/version/1.1",
            "title": self.title,
            "home_page_url": self.link,
            "feed_url": self.self_link,
            "description": self.description,
            "items": items,
        });
        if let (Some(language), Some(fields)) = (&self.language, feed.as_object_mut()) {
            fields.insert("language".into(), json!(language));
        }
        feed.to_string()
    }
}

fn write_xml(body: impl FnOnce(&mut Writer<Vec<u8>>) -> io::Result<()>) -> String {
    let mut writer = Writer::new(Vec::new());
    // Writing into a Vec fails only if memory runs out, which aborts anyway.
    let written = writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|()| body(&mut writer));
    debug_assert!(written.is_ok());
    String::from_utf8(writer.into_inner()).unwrap_or_default()
}

fn rss_item(w: &mut Writer<Vec<u8>>, item: &FeedItem) -> io::Result<()> {
    w.create_element("item").write_inner_content(|w| {
        text(w, "title", &item.title)?;
        text(w, "link", &item.link)?;
        w.create_element("guid")
            .with_attribute(("isPermaLink", "false"))
            .write_text_content(BytesText::new(&clean(&item.id)))?;
        text(w, "description", &item.content_html)?;
        text(w, "pubDate", &rfc2822(item.published))?;
        if let Some((name, _)) = &item.author {
            // RSS's own `author` is an e-mail address: a name is Dublin Core's creator.
            text(w, "dc:creator", name)?;
        }
        for category in &item.categories {
            text(w, "category", category)?;
        }
        if let Some(file) = &item.enclosure {
            w.create_element("enclosure")
                .with_attributes([
                    ("url", clean(&file.url).as_ref()),
                    ("type", clean(&file.media_type).as_ref()),
                    ("length", file.length.to_string().as_str()),
                ])
                .write_empty()?;
        }
        if let Some(image) = &item.thumbnail {
            w.create_element("media:thumbnail")
                .with_attribute(("url", clean(image).as_ref()))
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn atom_entry(w: &mut Writer<Vec<u8>>, item: &FeedItem) -> io::Result<()> {
    w.create_element("entry").write_inner_content(|w| {
        text(w, "id", &item.id)?;
        text(w, "title", &item.title)?;
        link(w, "alternate", &item.link, Some("text/html"))?;
        text(w, "published", &rfc3339(item.published))?;
        text(w, "updated", &rfc3339(item.updated))?;
        if let Some((name, url)) = &item.author {
            w.create_element("author").write_inner_content(|w| {
                text(w, "name", name)?;
                text(w, "uri", url)?;
                Ok(())
            })?;
        }
        w.create_element("content")
            .with_attribute(("type", "html"))
            .write_text_content(BytesText::new(&clean(&item.content_html)))?;
        for category in &item.categories {
            w.create_element("category")
                .with_attribute(("term", clean(category).as_ref()))
                .write_empty()?;
        }
        if let Some(file) = &item.enclosure {
            w.create_element("link")
                .with_attributes([
                    ("rel", "enclosure"),
                    ("href", clean(&file.url).as_ref()),
                    ("type", clean(&file.media_type).as_ref()),
                    ("length", file.length.to_string().as_str()),
                ])
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn text(w: &mut Writer<Vec<u8>>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(&clean(value)))?;
    Ok(())
}

fn link(
    w: &mut Writer<Vec<u8>>,
    rel: &str,
    href: &str,
    media_type: Option<&str>,
) -> io::Result<()> {
    let mut element = w
        .create_element("link")
        .with_attributes([("rel", rel), ("href", clean(href).as_ref())]);
    if let Some(media_type) = media_type {
        element = element.with_attribute(("type", media_type));
    }
    element.write_empty()?;
    Ok(())
}

/// `text` without the characters XML 1.0 cannot carry, even escaped.
fn clean(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|c| allowed(*c)).collect())
    }
}

fn datetime(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn rfc2822(seconds: i64) -> String {
    datetime(seconds).format(&Rfc2822).unwrap_or_default()
}

fn rfc3339(seconds: i64) -> String {
    datetime(seconds).format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sample() -> Feed {
        Feed {
            title: "Videos of <Tube> & co".into(),
            link: "https://tube.example/".into(),
            self_link: "https://tube.example/feeds/videos.xml".into(),
            description: "The newest videos".into(),
            language: Some("fr".into()),
            updated: 1_700_000_000,
            items: vec![FeedItem {
                id: "https://tube.example/videos/watch/1".into(),
                title: "Waves \u{1}at <dusk>".into(),
                link: "https://tube.example/videos/watch/1".into(),
                content_html: "<p>Filmed &amp; cut</p>".into(),
                published: 1_699_999_000,
                updated: 1_700_000_000,
                author: Some((
                    "Maya".into(),
                    "https://tube.example/video-channels/m".into(),
                )),
                enclosure: Some(Enclosure::new(
                    "https://tube.example/static/1.webm?a=1&b=2",
                    "video/webm",
                    1234,
                )),
                thumbnail: Some("https://tube.example/t.png".into()),
                categories: vec!["sea".into()],
            }],
        }
    }

    /// Reads `xml` back with quick-xml: every element's text, in order, as `name=text`.
    fn texts(xml: &str) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut out = Vec::new();
        let mut current = String::new();
        let mut buffer = String::new();
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) => {
                    current = e.name().as_ref().to_owned();
                    buffer.clear();
                }
                Event::Text(t) => {
                    buffer.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0));
                }
                Event::GeneralRef(r) => {
                    buffer.push_str(quick_xml::escape::resolve_predefined_entity(&r).unwrap());
                }
                Event::End(_) if !buffer.is_empty() => {
                    out.push(format!("{current}={buffer}"));
                    buffer.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    #[test]
    fn rss_is_well_formed_escaped_and_complete() {
        let xml = sample().to_rss();
        assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0""#));
        let texts = texts(&xml).join("\n");
        assert!(texts.contains("title=Videos of <Tube> & co"), "{texts}");
        assert!(texts.contains("title=Waves at <dusk>"), "{texts}");
        assert!(
            texts.contains("description=<p>Filmed &amp; cut</p>"),
            "{texts}"
        );
        assert!(
            texts.contains("pubDate=Tue, 14 Nov 2023 21:56:40 +0000"),
            "{texts}"
        );
        assert!(
            xml.contains(r#"url="https://tube.example/static/1.webm?a=1&amp;b=2""#),
            "{xml}"
        );
        assert!(xml.contains(r#"<media:thumbnail url="https://tube.example/t.png"/>"#));
        assert!(texts.contains("dc:creator=Maya"), "{texts}");
        assert!(!xml.contains('\u{1}'));
    }

    #[test]
    fn atom_has_ids_dates_authors_and_enclosures() {
        let xml = sample().to_atom();
        let texts = texts(&xml).join("\n");
        assert!(
            texts.contains("id=https://tube.example/feeds/videos.xml"),
            "{texts}"
        );
        assert!(texts.contains("updated=2023-11-14T22:13:20Z"), "{texts}");
        assert!(texts.contains("name=Maya"), "{texts}");
        assert!(texts.contains("content=<p>Filmed &amp; cut</p>"), "{texts}");
        assert!(xml.contains(r#"rel="enclosure""#) && xml.contains(r#"length="1234""#));
    }

    #[test]
    fn json_feed_has_its_version_and_attachments() {
        let feed: Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(feed["language"], "fr");
        let item = &feed["items"][0];
        assert_eq!(item["title"], "Waves \u{1}at <dusk>");
        assert_eq!(item["attachments"][0]["size_in_bytes"], 1234);
        assert_eq!(item["authors"][0]["name"], "Maya");
    }

    #[test]
    fn formats_are_named_as_peertube_names_them() {
        assert_eq!(FeedFormat::from_name("xml"), Some(FeedFormat::Rss));
        assert_eq!(FeedFormat::from_name("ATOM"), Some(FeedFormat::Atom));
        assert_eq!(FeedFormat::from_name("json"), Some(FeedFormat::Json));
        assert_eq!(FeedFormat::from_name("podcast"), None);
    }
}
