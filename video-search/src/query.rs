//! What to search for: the index's own query types, independent of any HTTP API.

use time::OffsetDateTime;

/// What to do with videos marked sensitive (PeerTube's `nsfw`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sensitive {
    /// Leave them out (the default).
    #[default]
    Exclude,
    /// Show them with the others.
    Include,
    /// Show only them.
    Only,
}

/// A key to order results by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SortKey {
    /// Relevance to the text (PeerTube's `match`); without text, the newest first.
    Relevance,
    /// Publication date (videos).
    PublishedAt,
    /// The date first published elsewhere (videos; those without one come last).
    OriginallyPublishedAt,
    /// The date the origin created it.
    CreatedAt,
    /// Views (videos).
    Views,
    /// Likes (videos).
    Likes,
    /// Duration (videos).
    Duration,
    /// The name or display name, folded.
    Name,
}

/// An order: a key and a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sort {
    /// What to order by.
    pub key: SortKey,
    /// Largest (or latest, or last in the alphabet) first.
    pub descending: bool,
}

impl Sort {
    /// By relevance (`-match`).
    pub const RELEVANCE: Sort = Sort {
        key: SortKey::Relevance,
        descending: true,
    };

    /// An order from its key and direction.
    pub fn new(key: SortKey, descending: bool) -> Self {
        Self { key, descending }
    }

    /// Reads PeerTube's notation: a column name, `-` in front for descending (`-match`,
    /// `-publishedAt`, `publishedAt`, `-views`, `-likes`, `name`, `displayName`...). Names are
    /// those of PeerTube's search sorts; `None` for any other.
    pub fn parse(text: &str) -> Option<Sort> {
        let (descending, column) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let key = match column {
            "match" => SortKey::Relevance,
            "publishedAt" => SortKey::PublishedAt,
            "originallyPublishedAt" => SortKey::OriginallyPublishedAt,
            "createdAt" => SortKey::CreatedAt,
            "views" => SortKey::Views,
            "likes" => SortKey::Likes,
            "duration" => SortKey::Duration,
            "name" | "displayName" => SortKey::Name,
            _ => return None,
        };
        Some(Sort { key, descending })
    }
}

impl Default for Sort {
    fn default() -> Self {
        Sort::RELEVANCE
    }
}

/// A window of results: skip `start`, return up to `count` (both bounded by the index's
/// [`Limits`](crate::Limits)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// Results to skip.
    pub start: usize,
    /// Results to return.
    pub count: usize,
}

impl Page {
    /// A page.
    pub fn new(start: usize, count: usize) -> Self {
        Self { start, count }
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new(0, 15)
    }
}

/// A search over videos. Empty lists mean "no filter"; several values in one list are
/// alternatives.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct VideoQuery {
    /// The typed text: words, all of which must match (in the name, tags, description or
    /// channel), and `"quoted phrases"`. Empty lists everything that passes the filters.
    pub text: String,
    /// Language codes (`fr`, `en`...); `_unknown` for videos without one, as in PeerTube.
    pub languages: Vec<String>,
    /// Sensitive videos.
    pub sensitive: Sensitive,
    /// Shortest duration, seconds, inclusive.
    pub duration_min: Option<u64>,
    /// Longest duration, seconds, inclusive.
    pub duration_max: Option<u64>,
    /// Published at or after.
    pub published_after: Option<OffsetDateTime>,
    /// Published at or before.
    pub published_before: Option<OffsetDateTime>,
    /// Originally published at or after.
    pub originally_published_after: Option<OffsetDateTime>,
    /// Originally published at or before.
    pub originally_published_before: Option<OffsetDateTime>,
    /// Only from these hosts.
    pub hosts: Vec<String>,
    /// Never from these hosts (the asker's blocked servers).
    pub exclude_hosts: Vec<String>,
    /// Only in these channels (handles `name@host` or ActivityPub ids).
    pub channels: Vec<String>,
    /// Only by these accounts (handles or ActivityPub ids).
    pub accounts: Vec<String>,
    /// Never by these accounts (handles or ActivityPub ids; the asker's blocked accounts).
    pub exclude_accounts: Vec<String>,
    /// Only live streams (`true`) or only the others (`false`).
    pub is_live: Option<bool>,
    /// Only in these categories.
    pub categories: Vec<u32>,
    /// Only under these licences.
    pub licences: Vec<u32>,
    /// With at least one of these tags (folded).
    pub tags_one_of: Vec<String>,
    /// With all of these tags (folded).
    pub tags_all_of: Vec<String>,
    /// Only these videos (UUIDs or short UUIDs).
    pub uuids: Vec<String>,
    /// Only these documents, by ActivityPub id (a search by URL).
    pub ids: Vec<String>,
    /// The order.
    pub sort: Sort,
    /// The window.
    pub page: Page,
}

impl VideoQuery {
    /// A search for `text`, no filter, by relevance, first page.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// A search over channels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelQuery {
    /// The typed text (display name, name, description, owner).
    pub text: String,
    /// Only from these hosts.
    pub hosts: Vec<String>,
    /// Never from these hosts.
    pub exclude_hosts: Vec<String>,
    /// Only these channels (handles `name@host` or ActivityPub ids).
    pub handles: Vec<String>,
    /// Only these documents, by ActivityPub id (a search by URL).
    pub ids: Vec<String>,
    /// Never owned by these accounts (handles or ActivityPub ids).
    pub exclude_accounts: Vec<String>,
    /// The order (relevance, `createdAt`, `displayName`).
    pub sort: Sort,
    /// The window.
    pub page: Page,
}

impl ChannelQuery {
    /// A search for `text`, no filter.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// A search over playlists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlaylistQuery {
    /// The typed text (display name, description, owner and channel).
    pub text: String,
    /// Only from these hosts.
    pub hosts: Vec<String>,
    /// Never from these hosts.
    pub exclude_hosts: Vec<String>,
    /// Only these playlists (UUIDs or short UUIDs).
    pub uuids: Vec<String>,
    /// Only these documents, by ActivityPub id (a search by URL).
    pub ids: Vec<String>,
    /// Never owned by these accounts (handles or ActivityPub ids).
    pub exclude_accounts: Vec<String>,
    /// The order (relevance, `createdAt`, `displayName`).
    pub sort: Sort,
    /// The window.
    pub page: Page,
}

impl PlaylistQuery {
    /// A search for `text`, no filter.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}
