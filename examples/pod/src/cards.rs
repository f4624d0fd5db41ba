//! Objects other than Notes that the pod keeps as posts and shows as cards: PeerTube's
//! `Video`s, Mobilizon's `Event`s, `Article`s and `Page`s. Pure: what a card shows is read
//! from the object's document here; `activities.rs` decides whether to keep it.

use activitypub_core::Iri;
use serde_json::Value;

/// The object types kept as cards.
pub(crate) const KINDS: &[&str] = &["Video", "Event", "Article", "Page"];

/// The most characters of a card's title kept.
const MAX_NAME: usize = 300;

/// The most authors of an object read.
const MAX_AUTHORS: usize = 10;

/// What a card shows of an object (and who may speak for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Card {
    /// `Video`, `Event`, `Article` or `Page`.
    pub(crate) kind: String,
    /// Its title (`name`), '' when it has none.
    pub(crate) name: String,
    /// An event's start (`startTime`), Unix microseconds.
    pub(crate) starts: Option<i64>,
    /// A video's thumbnail (its first http(s) `icon`).
    pub(crate) image: Option<String>,
    /// Its page at its origin: its `url` of media type `text/html` (or a bare `url`), else its
    /// id; always http(s).
    pub(crate) link: String,
    /// Its authors of its own origin: `attributedTo` (for a PeerTube video its account and its
    /// channel) and Mobilizon's `actor` (an event's organizer). A comment is addressed to
    /// them, and only they update or delete it.
    pub(crate) authors: Vec<String>,
}

/// Whether `text` is an http(s) URL.
fn http(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
}

/// The ids a member holds (strings, objects with an `id`, or arrays of those).
fn ids(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(id)) => vec![id.clone()],
        Some(Value::Object(map)) => map
            .get("id")
            .and_then(Value::as_str)
            .map(|id| vec![id.to_owned()])
            .unwrap_or_default(),
        Some(Value::Array(items)) => items.iter().flat_map(|item| ids(Some(item))).collect(),
        _ => Vec::new(),
    }
}

/// The first text of a member or of its `…Map` (language map).
fn text(document: &Value, member: &str) -> Option<String> {
    match document.get(member) {
        Some(Value::String(text)) => Some(text.clone()),
        _ => document
            .get(format!("{member}Map"))
            .and_then(Value::as_object)
            .and_then(|map| map.values().find_map(Value::as_str))
            .map(str::to_owned),
    }
}

/// The card of `document` when it is one of [`KINDS`] with an http(s) id.
pub(crate) fn card_of(document: &Value) -> Option<Card> {
    let kind = document.get("type").and_then(Value::as_str)?;
    if !KINDS.contains(&kind) {
        return None;
    }
    let id = document.get("id").and_then(Value::as_str)?;
    let object = Iri::parse(id).ok()?;
    if !http(id) {
        return None;
    }
    let name: String = text(document, "name")
        .unwrap_or_default()
        .chars()
        .take(MAX_NAME)
        .collect();
    let starts = document
        .get("startTime")
        .and_then(Value::as_str)
        .and_then(crate::posts::micros);
    let image = if kind == "Video" {
        icon(document.get("icon"))
    } else {
        None
    };
    let mut authors: Vec<String> = Vec::new();
    for author in ids(document.get("attributedTo"))
        .into_iter()
        .chain(ids(document.get("actor")))
    {
        let same_origin = Iri::parse(author.as_str())
            .is_ok_and(|a| activitypub_core::origin::same_origin(&a, &object));
        if same_origin && !authors.contains(&author) && authors.len() < MAX_AUTHORS {
            authors.push(author);
        }
    }
    Some(Card {
        kind: kind.to_owned(),
        name,
        starts,
        image,
        link: page(document.get("url")).unwrap_or_else(|| id.to_owned()),
        authors,
    })
}

/// The first http(s) image of an `icon` (an `Image`, a URL, or an array of them).
fn icon(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(url) => http(url).then(|| url.clone()),
        Value::Array(items) => items.iter().find_map(|item| icon(Some(item))),
        Value::Object(map) => match map.get("url")? {
            Value::String(url) => http(url).then(|| url.clone()),
            Value::Object(link) => link
                .get("href")
                .and_then(Value::as_str)
                .filter(|url| http(url))
                .map(str::to_owned),
            _ => None,
        },
        _ => None,
    }
}

/// The HTML page of a `url` member: a `Link` of media type `text/html` (PeerTube's first),
/// or a bare URL.
fn page(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(url) => http(url).then(|| url.clone()),
        Value::Array(items) => {
            let links = || items.iter().filter_map(Value::as_object);
            links()
                .find(|link| link.get("mediaType").and_then(Value::as_str) == Some("text/html"))
                .and_then(|link| link.get("href").and_then(Value::as_str))
                .filter(|url| http(url))
                .map(str::to_owned)
                .or_else(|| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .find(|url| http(url))
                        .map(str::to_owned)
                })
        }
        Value::Object(link) => link
            .get("href")
            .and_then(Value::as_str)
            .filter(|url| http(url))
            .filter(|_| {
                link.get("mediaType")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t == "text/html")
            })
            .map(str::to_owned),
        _ => None,
    }
}

/// The text a card shows: the object's `summary`, else its `content` (sanitized by the
/// caller).
pub(crate) fn description(document: &Value) -> String {
    text(document, "summary")
        .filter(|s| !s.trim().is_empty())
        .or_else(|| text(document, "content"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../../fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_peertube_video_gives_its_title_thumbnail_page_and_both_authors() {
        let video = fixture("peertube/video.json");
        let card = card_of(&video).unwrap();
        assert_eq!(card.kind, "Video");
        assert!(card.name.starts_with("Mesa, Wayland"), "{card:?}");
        assert_eq!(
            card.image.as_deref(),
            Some(
                "https://tilvids.com/lazy-static/thumbnails/904efceb-0715-476f-b0dc-b5fba6769851.jpg"
            )
        );
        assert_eq!(
            card.link,
            "https://tilvids.com/videos/watch/e7946124-7b72-4ad7-9d22-844a84bb2de1"
        );
        assert_eq!(card.authors.len(), 2, "{card:?}");
        assert!(card.authors[0].ends_with("/accounts/thelinuxexperiment"));
        assert_eq!(card.starts, None);
    }

    #[test]
    fn a_mobilizon_event_gives_its_start_and_organizer() {
        let create = fixture("mobilizon/create-event-in-group.json");
        let card = card_of(&create["object"]).unwrap();
        assert_eq!(card.kind, "Event");
        assert_eq!(card.name, "My first event");
        // 2018-02-12T14:08:20Z
        assert_eq!(card.starts, Some(1_518_444_500_000_000));
        assert_eq!(
            card.authors,
            [
                "http://mobilizon1.com/@group",
                "http://mobilizon1.com/@user"
            ]
        );
        assert_eq!(card.image, None);
        assert_eq!(
            card.link,
            "http://mobilizon1.com/events/f270ae07-7991-453c-9bb7-3d2122ededae"
        );
    }

    #[test]
    fn authors_of_another_origin_and_non_http_addresses_are_dropped() {
        let card = card_of(&serde_json::json!({
            "type": "Article",
            "id": "https://blog.example/a/1",
            "attributedTo": ["https://blog.example/u/me", "https://elsewhere.example/u/x"],
            "url": {"type": "Link", "mediaType": "text/html", "href": "javascript:alert(1)"},
            "icon": {"type": "Image", "url": "https://blog.example/i.png"},
        }))
        .unwrap();
        assert_eq!(card.authors, ["https://blog.example/u/me"]);
        assert_eq!(card.link, "https://blog.example/a/1");
        // An icon is a video's thumbnail only.
        assert_eq!(card.image, None);
        assert!(
            card_of(&serde_json::json!({"type": "Note", "id": "https://a.example/n"})).is_none()
        );
    }
}
