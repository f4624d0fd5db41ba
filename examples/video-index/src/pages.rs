//! The search page: a form with the filters (language, sensitive videos, duration, published
//! after, host, channel, order), and the results linking to each video on its own instance.
//! Plain HTML through instance-web's layout, no script.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;
use time::OffsetDateTime;
use tracing::warn;
use video_search::{Page, Sensitive, Sort, SortKey, VideoQuery};

use crate::web::Site;

/// Results per page.
const PER_PAGE: usize = 20;

/// The furthest result a page may start at (the index's window).
const MAX_START: usize = 1_000;

/// What the search page is asked (every field optional: an empty form lists the newest).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SearchForm {
    search: String,
    /// A language code, or empty for any.
    language: String,
    /// `exclude` (default), `include` or `only`.
    sensitive: String,
    /// Minutes, empty for no bound.
    duration_min: String,
    duration_max: String,
    /// `YYYY-MM-DD`, empty for any.
    published_after: String,
    host: String,
    /// A channel's handle (`name@host`) or address.
    channel: String,
    /// `relevance` (default), `date` or `views`.
    sort: String,
    start: usize,
}

impl SearchForm {
    /// The index's query for this form; the filters the form cannot read are named in the
    /// error.
    fn query(&self) -> Result<VideoQuery, String> {
        let mut query = VideoQuery::new(self.search.trim());
        let language = self.language.trim();
        if !language.is_empty() {
            query.languages = vec![language.to_owned()];
        }
        query.sensitive = match self.sensitive.as_str() {
            "" | "exclude" => Sensitive::Exclude,
            "include" => Sensitive::Include,
            "only" => Sensitive::Only,
            other => return Err(format!("unknown choice for sensitive videos: {other:?}")),
        };
        let minutes = |text: &str, what: &str| -> Result<Option<u64>, String> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<u64>()
                .map(|m| Some(m.saturating_mul(60)))
                .map_err(|_| format!("the {what} duration is a number of minutes"))
        };
        query.duration_min = minutes(&self.duration_min, "shortest")?;
        query.duration_max = minutes(&self.duration_max, "longest")?;
        let after = self.published_after.trim();
        if !after.is_empty() {
            let date = parse_date(after)
                .ok_or_else(|| "the publication date is written YYYY-MM-DD".to_owned())?;
            query.published_after = Some(date.midnight().assume_utc());
        }
        let host = self.host.trim();
        if !host.is_empty() {
            query.hosts = vec![host.to_ascii_lowercase()];
        }
        let channel = self.channel.trim().trim_start_matches('@');
        if !channel.is_empty() {
            query.channels = vec![channel.to_owned()];
        }
        query.sort = match self.sort.as_str() {
            "" | "relevance" => Sort::RELEVANCE,
            "date" => Sort::new(SortKey::PublishedAt, true),
            "views" => Sort::new(SortKey::Views, true),
            other => return Err(format!("unknown order {other:?}")),
        };
        query.page = Page::new(self.start.min(MAX_START), PER_PAGE);
        Ok(query)
    }

    /// This form's query string with `start` moved.
    fn at(&self, start: usize) -> String {
        let pairs = [
            ("search", self.search.as_str()),
            ("language", self.language.as_str()),
            ("sensitive", self.sensitive.as_str()),
            ("duration_min", self.duration_min.as_str()),
            ("duration_max", self.duration_max.as_str()),
            ("published_after", self.published_after.as_str()),
            ("host", self.host.as_str()),
            ("channel", self.channel.as_str()),
            ("sort", self.sort.as_str()),
        ];
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in pairs {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        query.append_pair("start", &start.to_string());
        format!("/?{}", query.finish())
    }
}

/// `GET /`: the search page.
pub(crate) async fn search_page(
    State(site): State<Site>,
    Query(form): Query<SearchForm>,
) -> Response {
    let (status, results) = match form.query() {
        Ok(query) => match site.index.search_videos(query).await {
            Ok(results) => (StatusCode::OK, Ok(results)),
            Err(error) => {
                warn!(%error, "the search page's search failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Err("the search failed".to_owned()),
                )
            }
        },
        Err(problem) => (StatusCode::BAD_REQUEST, Err(problem)),
    };
    let body = html! {
        h1 { "Search videos" }
        (search_form(&form))
        @match &results {
            Err(problem) => { p role="alert" { (problem) } }
            Ok(results) => {
                p.total { (results.total) " video" @if results.total != 1 { "s" } }
                ol.videos {
                    @for hit in &results.hits {
                        @let video = &hit.document;
                        li {
                            @if let Some(thumbnail) = &video.thumbnail_url {
                                img src=(thumbnail) alt="" width="160" loading="lazy";
                            }
                            a href=(video.id) { (video.name) }
                            " "
                            span.duration { (duration_text(video.duration)) }
                            @if video.nsfw { " " span.sensitive { "sensitive" } }
                            br;
                            span.channel { (video.channel.display_name) " (" (video.channel.handle()) ")" }
                            " · " span.views { (video.views) " views" }
                            " · " span.published { (date_text(video.published_at)) }
                            @if let Some(language) = &video.language {
                                " · " span.language { (language.label) }
                            }
                        }
                    }
                }
                nav aria-label="Pages" {
                    @if form.start > 0 {
                        a href=(form.at(form.start.saturating_sub(PER_PAGE))) { "Previous" }
                        " "
                    }
                    @let next = form.start.saturating_add(PER_PAGE);
                    @if (next as u64) < results.total && next <= MAX_START {
                        a href=(form.at(next)) { "Next" }
                    }
                }
            }
        }
    };
    let page = site.web.layout().page(None, "Search", html! {}, body);
    (status, Html(page.into_string())).into_response()
}

/// The form, filled with what was asked.
fn search_form(form: &SearchForm) -> Markup {
    let option = |value: &str, label: &str, current: &str| {
        html! { option value=(value) selected[value == current] { (label) } }
    };
    html! {
        form method="get" action="/" role="search" {
            p {
                label for="search" { "Words" }
                " "
                input id="search" type="search" name="search" value=(form.search);
                " "
                button type="submit" { "Search" }
            }
            details open[has_filters(form)] {
                summary { "Filters" }
                p {
                    label for="language" { "Language code" }
                    " "
                    input id="language" name="language" value=(form.language) size="6";
                }
                p {
                    label for="sensitive" { "Sensitive videos" }
                    " "
                    select id="sensitive" name="sensitive" {
                        (option("exclude", "Hide them", &form.sensitive))
                        (option("include", "Show them", &form.sensitive))
                        (option("only", "Only them", &form.sensitive))
                    }
                }
                p {
                    label for="duration_min" { "At least (minutes)" }
                    " "
                    input id="duration_min" name="duration_min" inputmode="numeric" value=(form.duration_min) size="4";
                    " "
                    label for="duration_max" { "At most (minutes)" }
                    " "
                    input id="duration_max" name="duration_max" inputmode="numeric" value=(form.duration_max) size="4";
                }
                p {
                    label for="published_after" { "Published after" }
                    " "
                    input id="published_after" type="date" name="published_after" value=(form.published_after);
                }
                p {
                    label for="host" { "Instance" }
                    " "
                    input id="host" name="host" value=(form.host) placeholder="videos.example";
                }
                p {
                    label for="channel" { "Channel" }
                    " "
                    input id="channel" name="channel" value=(form.channel) placeholder="name@videos.example";
                }
                p {
                    label for="sort" { "Order" }
                    " "
                    select id="sort" name="sort" {
                        (option("relevance", "Best match", &form.sort))
                        (option("date", "Newest", &form.sort))
                        (option("views", "Most viewed", &form.sort))
                    }
                }
            }
        }
    }
}

fn has_filters(form: &SearchForm) -> bool {
    [
        &form.language,
        &form.duration_min,
        &form.duration_max,
        &form.published_after,
        &form.host,
        &form.channel,
    ]
    .iter()
    .any(|v| !v.is_empty())
        || !matches!(form.sensitive.as_str(), "" | "exclude")
        || !matches!(form.sort.as_str(), "" | "relevance")
}

/// `1:02:03` or `2:03`.
fn duration_text(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// `2026-12-06`.
fn date_text(at: OffsetDateTime) -> String {
    format!("{}-{:02}-{:02}", at.year(), u8::from(at.month()), at.day())
}

/// A `YYYY-MM-DD` date (what a date input sends).
fn parse_date(text: &str) -> Option<time::Date> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(parts.next()?.parse::<u8>().ok()?).ok()?;
    let day = parts.next()?.parse().ok()?;
    time::Date::from_calendar_date(year, month, day).ok()
}
