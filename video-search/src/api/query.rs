//! PeerTube's search queries (`VideosSearchQuery`, `VideoChannelsSearchQuery`,
//! `VideoPlaylistsSearchQuery` of `packages/models/src/search/`), read from a query string or
//! a JSON body, and their conversion into the index's queries.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::wire::{self, JsDate};
use super::{ApiContext, ApiError};
use crate::query::{ChannelQuery, Page, PlaylistQuery, Sensitive, Sort, SortKey, VideoQuery};

/// Most bytes of a query string read.
pub const MAX_QUERY_STRING_BYTES: usize = 16 * 1024;
/// Most `key=value` pairs of a query string read.
pub const MAX_QUERY_PAIRS: usize = 512;
/// PeerTube's page size when `count` is absent.
pub const DEFAULT_COUNT: u64 = 15;

/// PeerTube's `BooleanBothQuery` for `nsfw`: `true` (only sensitive), `false` (none), `both`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BooleanBoth {
    /// Only sensitive videos.
    True,
    /// No sensitive video.
    False,
    /// Both.
    Both,
}

fn boolean_both<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<BooleanBoth>, D::Error> {
    use serde::de::Error;
    match wire::opt_string(d)?.as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(BooleanBoth::True)),
        Some("false") => Ok(Some(BooleanBoth::False)),
        Some("both") => Ok(Some(BooleanBoth::Both)),
        Some(other) => Err(D::Error::invalid_value(
            serde::de::Unexpected::Str(other),
            &"true, false or both",
        )),
    }
}

/// `GET/POST /api/v1/search/videos`: PeerTube's `VideosSearchQuery` with the members a
/// PeerTube instance adds when it asks a search index (`blockedHosts`, `blockedAccounts`).
/// Members this crate does not use (`include`, `privacyOneOf`, `hasHLSFiles`...) are read and
/// ignored; `host` takes one host or several.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideosSearchQuery {
    /// The typed text, or a video's URL.
    #[serde(
        default,
        deserialize_with = "wire::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub search: Option<String>,
    /// Results to skip.
    #[serde(
        default,
        deserialize_with = "wire::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<u64>,
    /// Results to return.
    #[serde(
        default,
        deserialize_with = "wire::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<u64>,
    /// The order (`-match`, `-publishedAt`, `-views`...).
    #[serde(
        default,
        deserialize_with = "wire::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub sort: Option<String>,
    /// Sensitive videos.
    #[serde(
        default,
        deserialize_with = "boolean_both",
        skip_serializing_if = "Option::is_none"
    )]
    pub nsfw: Option<BooleanBoth>,
    /// Live streams only, or none.
    #[serde(
        default,
        deserialize_with = "wire::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_live: Option<bool>,
    /// This instance's videos only (or, `false`, only the others').
    #[serde(
        default,
        deserialize_with = "wire::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_local: Option<bool>,
    /// Categories.
    #[serde(
        default,
        deserialize_with = "wire::u32s",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub category_one_of: Vec<u32>,
    /// Licences.
    #[serde(
        default,
        deserialize_with = "wire::u32s",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub licence_one_of: Vec<u32>,
    /// Languages (`_unknown`: none given).
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub language_one_of: Vec<String>,
    /// At least one of these tags.
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags_one_of: Vec<String>,
    /// All these tags.
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags_all_of: Vec<String>,
    /// From this host (or these hosts).
    #[serde(
        default,
        deserialize_with = "wire::strings",
        serialize_with = "wire::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub host: Vec<String>,
    /// Published at or after.
    #[serde(
        default,
        deserialize_with = "wire::opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_date: Option<JsDate>,
    /// Published at or before.
    #[serde(
        default,
        deserialize_with = "wire::opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_date: Option<JsDate>,
    /// Originally published at or after.
    #[serde(
        default,
        deserialize_with = "wire::opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub originally_published_start_date: Option<JsDate>,
    /// Originally published at or before.
    #[serde(
        default,
        deserialize_with = "wire::opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub originally_published_end_date: Option<JsDate>,
    /// Shortest, seconds.
    #[serde(
        default,
        deserialize_with = "wire::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration_min: Option<u64>,
    /// Longest, seconds.
    #[serde(
        default,
        deserialize_with = "wire::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration_max: Option<u64>,
    /// These videos only (UUIDs or short UUIDs).
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub uuids: Vec<String>,
    /// `local` or `search-index`: which engine the asking instance meant; read, not used.
    #[serde(
        default,
        deserialize_with = "wire::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub search_target: Option<String>,
    /// Hosts the asker blocks.
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub blocked_hosts: Vec<String>,
    /// Accounts (`name@host`) the asker blocks.
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub blocked_accounts: Vec<String>,
}

/// `GET/POST /api/v1/search/video-channels`: PeerTube's `VideoChannelsSearchQuery`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideoChannelsSearchQuery {
    /// The typed text, or a channel's URL.
    #[serde(
        default,
        deserialize_with = "wire::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub search: Option<String>,
    /// Results to skip.
    #[serde(
        default,
        deserialize_with = "wire::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<u64>,
    /// Results to return.
    #[serde(
        default,
        deserialize_with = "wire::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<u64>,
    /// The order (`-match`, `-createdAt`, `displayName`...).
    #[serde(
        default,
        deserialize_with = "wire::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub sort: Option<String>,
    /// From this host (or these hosts).
    #[serde(
        default,
        deserialize_with = "wire::strings",
        serialize_with = "wire::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub host: Vec<String>,
    /// These channels only (`name@host`).
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub handles: Vec<String>,
    /// `local` or `search-index`; read, not used.
    #[serde(
        default,
        deserialize_with = "wire::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub search_target: Option<String>,
    /// Hosts the asker blocks.
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub blocked_hosts: Vec<String>,
    /// Accounts the asker blocks.
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub blocked_accounts: Vec<String>,
}

/// `GET/POST /api/v1/search/video-playlists`: PeerTube's `VideoPlaylistsSearchQuery`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VideoPlaylistsSearchQuery {
    /// The typed text, or a playlist's URL.
    #[serde(
        default,
        deserialize_with = "wire::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub search: Option<String>,
    /// Results to skip.
    #[serde(
        default,
        deserialize_with = "wire::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<u64>,
    /// Results to return.
    #[serde(
        default,
        deserialize_with = "wire::opt_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<u64>,
    /// The order.
    #[serde(
        default,
        deserialize_with = "wire::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub sort: Option<String>,
    /// From this host (or these hosts).
    #[serde(
        default,
        deserialize_with = "wire::strings",
        serialize_with = "wire::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub host: Vec<String>,
    /// These playlists only (UUIDs or short UUIDs).
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub uuids: Vec<String>,
    /// `local` or `search-index`; read, not used.
    #[serde(
        default,
        deserialize_with = "wire::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub search_target: Option<String>,
    /// Hosts the asker blocks.
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub blocked_hosts: Vec<String>,
    /// Accounts the asker blocks.
    #[serde(
        default,
        deserialize_with = "wire::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub blocked_accounts: Vec<String>,
}

impl VideosSearchQuery {
    /// Reads a query string as PeerTube's client sends it (repeated keys for lists, as
    /// Angular's `HttpParams.append` writes them; `key[]=` accepted too).
    pub fn from_query_string(query: &str) -> Result<Self, ApiError> {
        from_query_string(query)
    }

    /// Reads a JSON body (what a PeerTube instance POSTs to its search index). The body is
    /// read whole: bound its size in the route (a few kilobytes is plenty).
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        serde_json::from_slice(body).map_err(ApiError::Json)
    }

    /// The index query this asks for.
    pub fn to_index_query(&self, ctx: &ApiContext) -> Result<VideoQuery, ApiError> {
        let mut q = VideoQuery::new("");
        let (text, ids) = text_or_url(self.search.as_deref());
        q.text = text;
        q.ids = ids;
        q.sort = sort(self.sort.as_deref(), VIDEO_SORTS)?;
        q.page = page(self.start, self.count);
        q.sensitive = match self.nsfw {
            Some(BooleanBoth::True) => Sensitive::Only,
            Some(BooleanBoth::False) => Sensitive::Exclude,
            Some(BooleanBoth::Both) => Sensitive::Include,
            None => ctx.default_sensitive,
        };
        q.is_live = self.is_live;
        q.categories = self.category_one_of.clone();
        q.licences = self.licence_one_of.clone();
        q.languages = self.language_one_of.clone();
        q.tags_one_of = self.tags_one_of.clone();
        q.tags_all_of = self.tags_all_of.clone();
        q.hosts = self.host.clone();
        q.exclude_hosts = self.blocked_hosts.clone();
        q.exclude_accounts = self.blocked_accounts.clone();
        local_hosts(self.is_local, ctx, &mut q.hosts, &mut q.exclude_hosts)?;
        q.published_after = self.start_date.map(|d| d.0);
        q.published_before = self.end_date.map(|d| d.0);
        q.originally_published_after = self.originally_published_start_date.map(|d| d.0);
        q.originally_published_before = self.originally_published_end_date.map(|d| d.0);
        q.duration_min = self.duration_min;
        q.duration_max = self.duration_max;
        q.uuids = self.uuids.clone();
        Ok(q)
    }
}

impl VideoChannelsSearchQuery {
    /// Reads a query string (see [`VideosSearchQuery::from_query_string`]).
    pub fn from_query_string(query: &str) -> Result<Self, ApiError> {
        from_query_string(query)
    }

    /// Reads a JSON body.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        serde_json::from_slice(body).map_err(ApiError::Json)
    }

    /// The index query this asks for.
    pub fn to_index_query(&self, _ctx: &ApiContext) -> Result<ChannelQuery, ApiError> {
        let mut q = ChannelQuery::new("");
        let (text, ids) = text_or_url(self.search.as_deref());
        q.text = text;
        q.ids = ids;
        q.sort = sort(self.sort.as_deref(), LIST_SORTS)?;
        q.page = page(self.start, self.count);
        q.hosts = self.host.clone();
        q.handles = self.handles.clone();
        q.exclude_hosts = self.blocked_hosts.clone();
        q.exclude_accounts = self.blocked_accounts.clone();
        Ok(q)
    }
}

impl VideoPlaylistsSearchQuery {
    /// Reads a query string (see [`VideosSearchQuery::from_query_string`]).
    pub fn from_query_string(query: &str) -> Result<Self, ApiError> {
        from_query_string(query)
    }

    /// Reads a JSON body.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        serde_json::from_slice(body).map_err(ApiError::Json)
    }

    /// The index query this asks for.
    pub fn to_index_query(&self, _ctx: &ApiContext) -> Result<PlaylistQuery, ApiError> {
        let mut q = PlaylistQuery::new("");
        let (text, ids) = text_or_url(self.search.as_deref());
        q.text = text;
        q.ids = ids;
        q.sort = sort(self.sort.as_deref(), LIST_SORTS)?;
        q.page = page(self.start, self.count);
        q.hosts = self.host.clone();
        q.uuids = self.uuids.clone();
        q.exclude_hosts = self.blocked_hosts.clone();
        q.exclude_accounts = self.blocked_accounts.clone();
        Ok(q)
    }
}

/// PeerTube's `SORTABLE_COLUMNS.VIDEOS_SEARCH`.
const VIDEO_SORTS: &[SortKey] = &[
    SortKey::Relevance,
    SortKey::Name,
    SortKey::Duration,
    SortKey::CreatedAt,
    SortKey::PublishedAt,
    SortKey::OriginallyPublishedAt,
    SortKey::Views,
    SortKey::Likes,
];

/// PeerTube's `VIDEO_CHANNELS_SEARCH` and `VIDEO_PLAYLISTS_SEARCH`.
const LIST_SORTS: &[SortKey] = &[SortKey::Relevance, SortKey::Name, SortKey::CreatedAt];

fn sort(text: Option<&str>, allowed: &[SortKey]) -> Result<Sort, ApiError> {
    let Some(text) = text else {
        return Ok(Sort::RELEVANCE);
    };
    match Sort::parse(text) {
        Some(s) if allowed.contains(&s.key) => Ok(s),
        _ => Err(ApiError::Sort {
            sort: text.chars().take(64).collect(),
        }),
    }
}

fn page(start: Option<u64>, count: Option<u64>) -> Page {
    let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    Page::new(
        clamp(start.unwrap_or(0)),
        clamp(count.unwrap_or(DEFAULT_COUNT)),
    )
}

/// A search for an `http(s)://` URL looks the document up by ActivityPub id, as PeerTube
/// does, instead of searching its words.
fn text_or_url(search: Option<&str>) -> (String, Vec<String>) {
    match search.map(str::trim) {
        Some(s) if s.starts_with("https://") || s.starts_with("http://") => {
            (String::new(), vec![s.to_owned()])
        }
        Some(s) => (s.to_owned(), Vec::new()),
        None => (String::new(), Vec::new()),
    }
}

fn local_hosts(
    is_local: Option<bool>,
    ctx: &ApiContext,
    hosts: &mut Vec<String>,
    exclude: &mut Vec<String>,
) -> Result<(), ApiError> {
    let Some(local) = is_local else {
        return Ok(());
    };
    let Some(host) = &ctx.local_host else {
        // A global index has no videos of its own: "local only" matches nothing (no document
        // has an empty host).
        if local {
            *hosts = vec![String::new()];
        }
        return Ok(());
    };
    if local {
        if hosts.is_empty() || hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            *hosts = vec![host.clone()];
        } else {
            // Another host and "local only": nothing can match.
            hosts.clear();
            hosts.push(host.clone());
            exclude.push(host.clone());
        }
    } else {
        exclude.push(host.clone());
    }
    Ok(())
}

/// A query string as a JSON object: each key once, its values a string or (repeated key, or
/// `key[]`) an array of strings.
fn query_object(query: &str) -> Result<Map<String, Value>, ApiError> {
    if query.len() > MAX_QUERY_STRING_BYTES {
        return Err(ApiError::QueryTooLarge);
    }
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut object = Map::new();
    for (n, (key, value)) in url::form_urlencoded::parse(query.as_bytes()).enumerate() {
        if n >= MAX_QUERY_PAIRS {
            return Err(ApiError::QueryTooLarge);
        }
        let (key, bracketed) = match key.find('[') {
            Some(at) => (key.get(..at).unwrap_or(&key).to_owned(), true),
            None => (key.into_owned(), false),
        };
        let value = Value::String(value.into_owned());
        match object.get_mut(&key) {
            Some(Value::Array(values)) => values.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None if bracketed => {
                object.insert(key, Value::Array(vec![value]));
            }
            None => {
                object.insert(key, value);
            }
        }
    }
    Ok(object)
}

fn from_query_string<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let object = query_object(query)?;
    serde_json::from_value(Value::Object(object)).map_err(ApiError::Json)
}
