//! The instance's HTML pages: an event, a group, the upcoming events.
//!
//! Pure functions from view structs that the server fills to a complete HTML5 document. Text is
//! escaped by maud. HTML that came from other servers (event descriptions, group summaries,
//! comments) goes through `federation::sanitize` first (again: it was sanitized when stored)
//! and is never written as received. Links taken from remote data are written only when they
//! are `http(s)` URLs or local paths, so a `javascript:` URL from a remote actor never becomes
//! a link.

use std::collections::HashMap;

use activitypub_core::{AnyObject, Event, EventStatus, JoinMode, Place, PlaceAddress};
use federation::sanitize::sanitize_html as sanitize;
use instance_server::moderation::report_path;
use maud::{Markup, PreEscaped, html};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use url::Url;

/// How deep replies nest on an event page. The replies below a comment at this depth are shown
/// flat under it, in thread order, each saying whom it answers.
pub(crate) const MAX_REPLY_DEPTH: usize = 8;

/// An actor (a person or a group) as a page links to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActorView {
    /// The display name (falls back to the handle when the actor has none).
    pub(crate) name: String,
    /// Where people see the actor: its profile page (`url`), or its id.
    pub(crate) url: String,
    /// `@user@host`, when known.
    pub(crate) handle: Option<String>,
}

/// A comment on an event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CommentView {
    /// The comment's id; replies name it in `in_reply_to`.
    pub(crate) id: String,
    /// Who wrote it.
    pub(crate) author: ActorView,
    /// The body as received (HTML from any server): it is sanitized before it is shown.
    pub(crate) content_html: String,
    /// When it was published.
    pub(crate) published: Option<OffsetDateTime>,
    /// The id of the comment it answers; `None` (or an id not among the comments, such as the
    /// event's) for a top-level comment.
    pub(crate) in_reply_to: Option<String>,
}

/// What the event page shows besides the event itself.
#[derive(Debug, Clone)]
pub(crate) struct EventView<'a> {
    /// The event.
    pub(crate) event: &'a Event,
    /// The group that organizes it, if any.
    pub(crate) group: Option<ActorView>,
    /// The person who organizes it.
    pub(crate) organizer: Option<ActorView>,
    /// How many people take part (as this instance counts them).
    pub(crate) participants: u64,
    /// The comments, in the order they are to be shown (oldest first); replies are placed under
    /// the comment they answer.
    pub(crate) comments: Vec<CommentView>,
    /// Where the event's iCalendar file is served.
    pub(crate) ics_url: String,
    /// What the signed-in reader can do (join, leave, manage), drawn by the pages.
    pub(crate) actions: Option<Markup>,
    /// The comment and reply forms, for a signed-in reader.
    pub(crate) commenting: Option<Commenting>,
    /// Where the event comes from, when it is another server's.
    pub(crate) origin: Option<String>,
}

/// What the comment and reply forms of an event page post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Commenting {
    /// Where they post.
    pub(crate) action: String,
    /// The event's id (a hidden field).
    pub(crate) event: String,
    /// The session's CSRF token.
    pub(crate) csrf: String,
    /// Where a moderator's "hide" button posts, for a moderator.
    pub(crate) hide_action: Option<String>,
    /// Whether the reader is offered to report the event (not to its organizers).
    pub(crate) report: bool,
}

impl Commenting {
    /// The form for a comment on the event (`in_reply_to` `None`) or a reply to a comment.
    fn form(&self, in_reply_to: Option<&str>, label_id: &str) -> Markup {
        html! {
            form.comment method="post" action=(self.action) {
                input type="hidden" name="csrf" value=(self.csrf);
                input type="hidden" name="event" value=(self.event);
                @if let Some(parent) = in_reply_to {
                    input type="hidden" name="in_reply_to" value=(parent);
                }
                div.field {
                    label for=(label_id) { @if in_reply_to.is_some() { "Your reply" } @else { "Your comment" } }
                    textarea id=(label_id) name="content" rows="3" required maxlength="5000" {}
                }
                button type="submit" { @if in_reply_to.is_some() { "Send the reply" } @else { "Send the comment" } }
            }
        }
    }
}

/// A group, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupView {
    /// The group actor's id (linked as the page's ActivityPub alternate).
    pub(crate) id: String,
    /// The display name.
    pub(crate) name: String,
    /// `@group@host`.
    pub(crate) handle: String,
    /// The group's `summary` as received (HTML): it is sanitized before it is shown.
    pub(crate) summary_html: String,
    /// How many members it has, when known.
    pub(crate) member_count: Option<u64>,
    /// Where the group's iCalendar feed is served.
    pub(crate) ics_url: String,
}

/// One line of an event list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventSummary {
    /// The event's name.
    pub(crate) title: String,
    /// The page that shows the event (a local path or an `http(s)` URL).
    pub(crate) page_url: String,
    /// When it starts.
    pub(crate) start: Option<OffsetDateTime>,
    /// When it ends.
    pub(crate) end: Option<OffsetDateTime>,
    /// The IANA time zone it happens in, as the organizer's server gave it.
    pub(crate) timezone: Option<String>,
    /// Where it happens, on one line.
    pub(crate) place: Option<String>,
    /// Whether it is confirmed, tentative or cancelled.
    pub(crate) status: Option<EventStatus>,
    /// Whether it happens online.
    pub(crate) is_online: bool,
}

impl EventSummary {
    /// The summary of `event`, whose page is at `page_url`.
    pub(crate) fn of(event: &Event, page_url: impl Into<String>) -> Self {
        Self {
            title: event_title(event).to_owned(),
            page_url: page_url.into(),
            start: event.props.start_time.as_deref().map(|t| t.time()),
            end: event.props.end_time.as_deref().map(|t| t.time()),
            timezone: event.timezone.clone(),
            place: event.place().and_then(place_label),
            status: event.event_status().cloned(),
            is_online: event.is_online == Some(true),
        }
    }
}

/// The page of one event.
pub(crate) fn event_page(view: &EventView<'_>) -> Page {
    let event = view.event;
    let title = event_title(event);
    let status = event.event_status();
    let page_title = match status {
        Some(EventStatus::Cancelled) => format!("{title} (cancelled)"),
        _ => title.to_owned(),
    };
    let start = event.props.start_time.as_deref().map(|t| t.time());
    let end = event.props.end_time.as_deref().map(|t| t.time());
    let links = attachment_links(event);
    let online = event.is_online == Some(true);
    let online_link = online
        .then(|| {
            links
                .iter()
                .find(|(name, _)| name.as_deref() == Some("Website"))
                .or(links.first())
        })
        .flatten();
    let description = event
        .props
        .content
        .as_deref()
        .or_else(|| {
            event
                .props
                .content_map
                .as_ref()?
                .values()
                .next()
                .map(String::as_str)
        })
        .or(event.props.summary.as_deref())
        .filter(|d| !d.trim().is_empty());
    let lang = event.in_language.as_deref().filter(|l| is_language_tag(l));

    let head = html! {
        @if let Some(id) = event.props.id.as_ref().and_then(|id| safe_href(id.as_str())) {
            link rel="alternate" type="application/activity+json" href=(id);
        }
        link rel="alternate" type="text/calendar" href=(view.ics_url);
    };
    let body = html! {
        header {
            h1 { (title) }
            (status_banner(status))
            @if let Some(origin) = view.origin.as_deref().and_then(safe_href) {
                p.meta { "From another server: " a href=(origin) { "see the original" } }
            }
        }
        @if let Some(actions) = &view.actions {
            (actions)
        }
        section aria-labelledby="when" {
            h2 #when { "When" }
            p { (when(start, end, event.timezone.as_deref())) }
        }
        section aria-labelledby="where" {
            h2 #where { "Where" }
            @if online {
                p {
                    "Online event"
                    @if let Some((_, href)) = online_link {
                        ": " a href=(href) { (href) }
                    }
                }
            }
            @if let Some(place) = event.place() {
                (place_block(place))
            } @else if !online {
                p { "Place to be announced" }
            }
        }
        section aria-labelledby="participation" {
            h2 #participation { "Participation" }
            p { (join_mode_text(event.join_mode.as_ref())) }
            p.capacity { (capacity_text(view.participants, event.maximum_attendee_capacity)) }
        }
        @if let Some(description) = description {
            section aria-labelledby="description" {
                h2 #description { "Description" }
                div.content lang=[lang] { (PreEscaped(sanitize(description))) }
            }
        }
        @if !links.is_empty() {
            section aria-labelledby="links" {
                h2 #links { "Links" }
                ul {
                    @for (name, href) in &links {
                        li { a href=(href) { (name.as_deref().unwrap_or(href)) } }
                    }
                }
            }
        }
        @if view.organizer.is_some() || view.group.is_some() {
            section aria-labelledby="organizers" {
                h2 #organizers { "Organized by" }
                ul {
                    @if let Some(organizer) = &view.organizer {
                        li { (actor_link(organizer)) }
                    }
                    @if let Some(group) = &view.group {
                        li { "Group: " (actor_link(group)) }
                    }
                }
            }
        }
        p { a href=(view.ics_url) download { "Add to your calendar (.ics)" } }
        // For someone signed in (who may comment): the moderators are told of what is wrong.
        @if let (Some(commenting), Some(id)) = (&view.commenting, event.props.id.as_ref()) {
            @if commenting.report {
                p.actions { a href=(report_path(id.as_str())) { "Report this event" } }
            }
        }
        section aria-labelledby="comments" {
            h2 #comments { "Comments (" (view.comments.len()) ")" }
            @if view.comments.is_empty() {
                p { "No comments yet." }
            } @else {
                (Thread::new(&view.comments, view.commenting.as_ref()).render())
            }
            @if let Some(commenting) = &view.commenting {
                (commenting.form(None, "comment"))
            }
        }
    };
    Page {
        title: page_title,
        head,
        body,
    }
}

/// The page of a group, with its upcoming events.
pub(crate) fn group_page(
    group: &GroupView,
    events: &[EventSummary],
    actions: Option<Markup>,
) -> Page {
    let head = html! {
        @if let Some(id) = safe_href(&group.id) {
            link rel="alternate" type="application/activity+json" href=(id);
        }
        link rel="alternate" type="text/calendar" href=(group.ics_url);
    };
    let body = html! {
        header {
            h1 { (group.name) }
            p.handle { (group.handle) }
        }
        @if let Some(actions) = actions { (actions) }
        @if !group.summary_html.trim().is_empty() {
            div.content { (PreEscaped(sanitize(&group.summary_html))) }
        }
        @if let Some(count) = group.member_count {
            p { (plural(count, "member", "members")) }
        }
        p { a href=(group.ics_url) { "Subscribe to the group's calendar (.ics)" } }
        section aria-labelledby="upcoming" {
            h2 #upcoming { "Upcoming events" }
            (event_list(events))
        }
    };
    Page {
        title: group.name.clone(),
        head,
        body,
    }
}

/// The instance's page of upcoming events.
pub(crate) fn upcoming_page(
    instance_name: &str,
    events: &[EventSummary],
    before: Option<Markup>,
) -> Page {
    let body = html! {
        header {
            h1 { "Upcoming events" }
            p { "On " (instance_name) }
        }
        @if let Some(before) = before { (before) }
        (event_list(events))
    };
    Page {
        title: format!("Upcoming events on {instance_name}"),
        head: html! {},
        body,
    }
}

/// A one-line description of a place: its name and postal address.
pub(crate) fn place_label(place: &Place) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(name) = place.props.name.as_deref() {
        push_text(&mut parts, name);
    }
    for line in address_lines(place) {
        // Mobilizon repeats the street as the place's name when it has no other name.
        if !parts.contains(&line) {
            parts.push(line);
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The lines of a place's postal address, from the street to the country.
pub(crate) fn address_lines(place: &Place) -> Vec<String> {
    let mut lines = Vec::new();
    match place.address.as_ref() {
        Some(PlaceAddress::Postal(address)) => {
            if let Some(street) = address.street_address.as_deref() {
                push_text(&mut lines, street);
            }
            let city = [
                address.postal_code.as_deref(),
                address.address_locality.as_deref(),
            ]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
            push_text(&mut lines, &city);
            for part in [
                address.address_region.as_deref(),
                address.address_country.as_deref(),
            ]
            .into_iter()
            .flatten()
            {
                push_text(&mut lines, part);
            }
        }
        Some(PlaceAddress::Text(text)) => push_text(&mut lines, text),
        None => {}
    }
    lines
}

/// The coordinates of a place, when both are given and on the globe.
pub(crate) fn coordinates(place: &Place) -> Option<(f64, f64)> {
    place.coordinates().filter(|(lat, lon)| {
        lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(lat)
            && (-180.0..=180.0).contains(lon)
    })
}

/// The event's name, or a placeholder for an event that has none.
pub(crate) fn event_title(event: &Event) -> &str {
    event
        .props
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Untitled event")
}

/// `href` when it may be written as a link: an `http(s)` URL (normalized), or a path on this
/// instance. Anything else (`javascript:`, `data:`, a protocol-relative `//host`) is dropped.
pub(crate) fn safe_href(href: &str) -> Option<String> {
    if href.starts_with('/') {
        // `//host` and `/\host` are both read by browsers as another host.
        let second = href.chars().nth(1);
        return (!matches!(second, Some('/' | '\\'))
            && !href.chars().any(|c| c.is_control() || c.is_whitespace()))
        .then(|| href.to_owned());
    }
    let url = Url::parse(href).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.into())
}

/// A page's parts: the layout (the instance's, with its navigation and stylesheets) draws the
/// frame around them.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// The page's title (the layout adds the site's name).
    pub(crate) title: String,
    /// What goes in `<head>` besides the title: the ActivityPub and iCalendar alternates.
    pub(crate) head: Markup,
    /// The content of `<main>`.
    pub(crate) body: Markup,
}

impl Page {
    /// The page in a bare frame (no navigation, no stylesheet), for the unit tests of the
    /// parts.
    #[cfg(test)]
    pub(crate) fn plain(&self) -> String {
        maud::html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { (self.title) } (self.head) }
                body { main { (self.body) } }
            }
        }
        .into_string()
    }

    /// The whole page in `layout`, for `viewer`.
    pub(crate) fn render(
        &self,
        layout: &dyn instance_web::Layout,
        viewer: Option<&instance_web::Viewer>,
    ) -> String {
        layout
            .page(viewer, &self.title, self.head.clone(), self.body.clone())
            .into_string()
    }
}

fn status_banner(status: Option<&EventStatus>) -> Markup {
    html! {
        @match status {
            Some(EventStatus::Cancelled) => p.status.cancelled role="status" {
                "Cancelled: this event will not take place."
            },
            Some(EventStatus::Tentative) => p.status.tentative role="status" {
                "Tentative: this event is not confirmed yet."
            },
            _ => {},
        }
    }
}

/// "Sunday 11 December 2022, 19:00 – 21:00 (Europe/London, UTC+00:00)". Times are shown in the
/// offset the start was given with: without a time zone database, that is the one the organizer's
/// server chose for the event's time zone.
fn when(
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    timezone: Option<&str>,
) -> Markup {
    let Some(start) = start else {
        return html! { "Date to be announced" };
    };
    let end = end
        .map(|e| e.to_offset(start.offset()))
        .filter(|e| *e > start);
    let zone = match timezone.map(str::trim).filter(|t| !t.is_empty()) {
        Some(tz) => format!("{tz}, {}", offset_label(start.offset())),
        None => offset_label(start.offset()),
    };
    html! {
        time datetime=[rfc3339(start)] { (long_date(start)) ", " (clock(start)) }
        @if let Some(end) = end {
            " – "
            time datetime=[rfc3339(end)] {
                @if end.date() != start.date() { (long_date(end)) ", " }
                (clock(end))
            }
        }
        " (" (zone) ")"
    }
}

fn place_block(place: &Place) -> Markup {
    let name = place
        .props
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let lines = address_lines(place);
    let map = coordinates(place).and_then(|(lat, lon)| osm_link(lat, lon));
    html! {
        @if let Some(name) = name { p { strong { (name) } } }
        @if !lines.is_empty() {
            address {
                @for (i, line) in lines.iter().enumerate() {
                    @if i > 0 { br; }
                    (line)
                }
            }
        }
        @if let Some(map) = map {
            p { a href=(map) { "Show on OpenStreetMap" } }
        }
    }
}

fn osm_link(lat: f64, lon: f64) -> Option<String> {
    let mut url = Url::parse_with_params(
        "https://www.openstreetmap.org/",
        &[("mlat", lat.to_string()), ("mlon", lon.to_string())],
    )
    .ok()?;
    url.set_fragment(Some(&format!("map=16/{lat}/{lon}")));
    Some(url.into())
}

fn join_mode_text(mode: Option<&JoinMode>) -> String {
    match mode {
        None | Some(JoinMode::Free) => "Anyone can join.".to_owned(),
        Some(JoinMode::Restricted) => "Participation needs the organizer's approval.".to_owned(),
        Some(JoinMode::Invite) => "By invitation only.".to_owned(),
        Some(JoinMode::External) => "Participation is handled on another site.".to_owned(),
        Some(other) => format!("Join mode: {}", other.as_str()),
    }
}

fn capacity_text(participants: u64, maximum: Option<u64>) -> String {
    match maximum.filter(|m| *m > 0) {
        Some(max) => format!("{participants} / {max} participants"),
        None => plural(participants, "participant", "participants"),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The `Link` attachments of an event (Mobilizon puts the online address and the metadata links
/// there), as (name, href) with a safe href.
fn attachment_links(event: &Event) -> Vec<(Option<String>, String)> {
    event
        .props
        .attachment
        .iter()
        .flatten()
        .filter_map(|a| match a.as_object()? {
            AnyObject::Link(link) => Some((
                link.props
                    .name
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
                safe_href(link.href.as_ref()?.as_str())?,
            )),
            _ => None,
        })
        .collect()
}

/// A link to an actor (only an `http(s)` or local one), with its handle.
pub(crate) fn actor_link(actor: &ActorView) -> Markup {
    html! {
        @match safe_href(&actor.url) {
            Some(href) => a href=(href) { (actor.name) },
            None => (actor.name),
        }
        @if let Some(handle) = &actor.handle {
            " " span.handle { (handle) }
        }
    }
}

fn event_list(events: &[EventSummary]) -> Markup {
    html! {
        @if events.is_empty() {
            p { "No upcoming events." }
        } @else {
            ol.events {
                @for e in events {
                    li {
                        @match safe_href(&e.page_url) {
                            Some(href) => a href=(href) { strong { (e.title) } },
                            None => strong { (e.title) },
                        }
                        @match &e.status {
                            Some(EventStatus::Cancelled) => { " " span.status.cancelled { "Cancelled" } },
                            Some(EventStatus::Tentative) => { " " span.status.tentative { "Tentative" } },
                            _ => {},
                        }
                        br;
                        span.meta { (when(e.start, e.end, e.timezone.as_deref())) }
                        @if e.is_online || e.place.is_some() {
                            br;
                            span.meta {
                                @if e.is_online { "Online" }
                                @if e.is_online && e.place.is_some() { " · " }
                                @if let Some(place) = &e.place { (place) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Comments arranged by `in_reply_to`.
struct Thread<'a> {
    comments: &'a [CommentView],
    /// The reply forms, for a signed-in reader.
    commenting: Option<&'a Commenting>,
    /// The indices of the direct replies to each comment, in the given order.
    replies: Vec<Vec<usize>>,
    /// The comments that answer no comment of the list.
    roots: Vec<usize>,
}

impl<'a> Thread<'a> {
    fn new(comments: &'a [CommentView], commenting: Option<&'a Commenting>) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, c) in comments.iter().enumerate() {
            index.entry(c.id.as_str()).or_insert(i);
        }
        let mut replies = vec![Vec::new(); comments.len()];
        let mut roots = Vec::new();
        for (i, c) in comments.iter().enumerate() {
            let parent = c
                .in_reply_to
                .as_deref()
                .and_then(|p| index.get(p).copied())
                .filter(|&p| p != i);
            match parent.and_then(|p| replies.get_mut(p)) {
                Some(siblings) => siblings.push(i),
                None => roots.push(i),
            }
        }
        Self {
            comments,
            commenting,
            replies,
            roots,
        }
    }

    fn render(&self) -> Markup {
        let mut shown = vec![false; self.comments.len()];
        // Comments in a cycle of replies answer each other and none is a root: they are shown
        // as roots after the others, so that every comment appears exactly once.
        let order: Vec<usize> = self
            .roots
            .iter()
            .copied()
            .chain(0..self.comments.len())
            .collect();
        let mut items = Vec::new();
        for i in order {
            if !shown.get(i).copied().unwrap_or(true) {
                items.push(self.comment(i, 0, &mut shown));
            }
        }
        html! { ol.comments { @for item in items { (item) } } }
    }

    /// Renders comment `i` at `depth` with its replies, marking what it shows in `shown`.
    fn comment(&self, i: usize, depth: usize, shown: &mut [bool]) -> Markup {
        mark(shown, i);
        let replies: Vec<Markup> = if depth + 1 < MAX_REPLY_DEPTH {
            let direct: Vec<usize> = self
                .children(i)
                .iter()
                .copied()
                .filter(|&r| !shown.get(r).copied().unwrap_or(true))
                .collect();
            let mut out = Vec::with_capacity(direct.len());
            for r in direct {
                // A reply may have been shown meanwhile under a sibling (only in a malformed
                // thread where it answers twice): skip it then.
                if !shown.get(r).copied().unwrap_or(true) {
                    out.push(self.comment(r, depth + 1, shown));
                }
            }
            out
        } else {
            self.descendants(i, shown)
                .into_iter()
                .map(|(r, parent)| self.single(r, self.comments.get(parent)))
                .collect()
        };
        html! {
            li.comment {
                (self.body(i, None))
                @if !replies.is_empty() {
                    ol.replies { @for reply in replies { (reply) } }
                }
            }
        }
    }

    /// A comment shown alone (in a flattened deep thread), saying whom it answers.
    fn single(&self, i: usize, parent: Option<&CommentView>) -> Markup {
        html! { li.comment { (self.body(i, parent)) } }
    }

    fn body(&self, i: usize, answers: Option<&CommentView>) -> Markup {
        let Some(c) = self.comments.get(i) else {
            return html! {};
        };
        html! {
            article {
                p.meta {
                    (actor_link(&c.author))
                    @if let Some(published) = c.published {
                        ", "
                        time datetime=[rfc3339(published)] {
                            (long_date(published)) ", " (clock(published)) " " (offset_label(published.offset()))
                        }
                    }
                    @if let Some(parent) = answers {
                        ", in reply to " (parent.author.name)
                    }
                }
                div.content { (PreEscaped(sanitize(&c.content_html))) }
                @if let Some(action) = self.commenting.and_then(|c| c.hide_action.as_deref()) {
                    form.inline method="post" action=(action) {
                        input type="hidden" name="csrf" value=(self.commenting.map(|c| c.csrf.as_str()).unwrap_or_default());
                        input type="hidden" name="object" value=(c.id);
                        button type="submit" { "Hide the comment of " (c.author.name) }
                    }
                }
                @if self.commenting.is_some() {
                    p.actions { a href=(report_path(&c.id)) { "Report this comment" } }
                }
                @if let Some(commenting) = self.commenting {
                    details.reply {
                        summary { "Reply to " (c.author.name) }
                        (commenting.form(Some(&c.id), &format!("reply-{i}")))
                    }
                }
            }
        }
    }

    fn children(&self, i: usize) -> &[usize] {
        self.replies.get(i).map(Vec::as_slice).unwrap_or_default()
    }

    /// All replies under `i`, depth first in thread order, each with the comment it answers;
    /// iterative, so a long chain of replies cannot exhaust the stack.
    fn descendants(&self, i: usize, shown: &mut [bool]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, usize)> =
            self.children(i).iter().rev().map(|&r| (r, i)).collect();
        while let Some((r, parent)) = stack.pop() {
            if shown.get(r).copied().unwrap_or(true) {
                continue;
            }
            mark(shown, r);
            out.push((r, parent));
            stack.extend(self.children(r).iter().rev().map(|&c| (c, r)));
        }
        out
    }
}

fn mark(shown: &mut [bool], i: usize) {
    if let Some(s) = shown.get_mut(i) {
        *s = true;
    }
}

fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
}

fn long_date(t: OffsetDateTime) -> String {
    format!("{} {} {} {}", t.weekday(), t.day(), t.month(), t.year())
}

fn clock(t: OffsetDateTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

fn offset_label(offset: UtcOffset) -> String {
    if offset.is_utc() {
        return "UTC".to_owned();
    }
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!(
        "UTC{sign}{:02}:{:02}",
        offset.whole_hours().unsigned_abs(),
        offset.minutes_past_hour().unsigned_abs()
    )
}

/// Whether `tag` looks like a BCP 47 language tag, so it may go in a `lang` attribute.
fn is_language_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && tag.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
}

/// Pushes `text` trimmed, when something remains.
fn push_text(parts: &mut Vec<String>, text: &str) {
    let text = text.trim();
    if !text.is_empty() {
        parts.push(text.to_owned());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::PathBuf;

    use activitypub_core::{AnyObject, Event, EventStatus};

    use super::*;

    /// The repository's `fixtures/` folder, found from the real location of this file (the
    /// tests may be built from a crate that links to it).
    pub(crate) fn fixtures_dir() -> PathBuf {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/html.rs");
        let here = std::fs::canonicalize(&here).unwrap_or(here);
        here.ancestors()
            .map(|dir| dir.join("fixtures"))
            .find(|dir| dir.join("MANIFEST.tsv").is_file())
            .expect("no fixtures/MANIFEST.tsv above the crate")
    }

    /// The Event in the fixture `path`: the document itself, or the object of an activity.
    pub(crate) fn fixture_event(path: &str) -> Event {
        let bytes = std::fs::read(fixtures_dir().join(path)).expect("fixture");
        event_of(AnyObject::from_slice(&bytes).expect("fixture parses"))
    }

    pub(crate) fn event_from_json(json: serde_json::Value) -> Event {
        event_of(AnyObject::from_value(json).expect("event parses"))
    }

    fn event_of(doc: AnyObject) -> Event {
        match doc {
            AnyObject::Event(e) => *e,
            AnyObject::Activity(a) => match a.embedded_object() {
                Some(AnyObject::Event(e)) => (**e).clone(),
                other => panic!("not an event: {other:?}"),
            },
            other => panic!("not an event: {other:?}"),
        }
    }

    /// Every Event of the fixtures: bare, or inside a `Create`.
    pub(crate) const EVENT_FIXTURES: &[&str] = &[
        "mobilizon/event.json",
        "mobilizon/create-event.json",
        "mobilizon/create-event-in-group.json",
        "gancio/create-event.json",
    ];

    fn actor(name: &str, url: &str) -> ActorView {
        ActorView {
            name: name.to_owned(),
            url: url.to_owned(),
            handle: Some(format!("@{}@example.org", name.to_lowercase())),
        }
    }

    fn view(event: &Event) -> EventView<'_> {
        EventView {
            event,
            group: None,
            organizer: None,
            participants: 0,
            comments: Vec::new(),
            ics_url: "/events/1.ics".to_owned(),
            actions: None,
            commenting: None,
            origin: None,
        }
    }

    fn comment(id: &str, parent: Option<&str>, text: &str) -> CommentView {
        CommentView {
            id: id.to_owned(),
            author: actor("Alice", "https://example.org/@alice"),
            content_html: format!("<p>{text}</p>"),
            // 2022-10-01T12:00:00Z
            published: OffsetDateTime::from_unix_timestamp(1_664_625_600).ok(),
            in_reply_to: parent.map(str::to_owned),
        }
    }

    fn position(haystack: &str, needle: &str) -> usize {
        haystack
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in the page"))
    }

    #[test]
    fn every_fixture_event_renders() {
        for path in EVENT_FIXTURES {
            let event = fixture_event(path);
            let html = event_page(&view(&event)).plain();
            assert!(
                html.starts_with("<!DOCTYPE html><html lang=\"en\">"),
                "{path}"
            );
            assert!(html.contains(event_title(&event)), "{path}: title");
            let id = event.props.id.as_ref().expect("id").as_str();
            assert!(
                html.contains(&format!(
                    "<link rel=\"alternate\" type=\"application/activity+json\" href=\"{id}\">"
                )),
                "{path}: alternate"
            );
            assert!(html.contains("href=\"/events/1.ics\""), "{path}: ics");
        }
    }

    #[test]
    fn mobilizon_event_page_shows_when_where_and_description() {
        let event = fixture_event("mobilizon/event.json");
        let html = event_page(&view(&event)).plain();
        assert!(html.contains("<title>Caledonian scottish dance class</title>"));
        assert!(html.contains(
            "<time datetime=\"2022-12-11T19:00:00Z\">Sunday 11 December 2022, 19:00</time> – \
             <time datetime=\"2022-12-11T21:00:00Z\">21:00</time> (Europe/London, UTC)"
        ));
        assert!(html.contains("<strong>The Kenn Centre</strong>"));
        assert!(html.contains(
            "<address>Devon Expressway<br>EX6 7TW Teignbridge<br>England<br>United Kingdom</address>"
        ));
        assert!(html.contains(
            "href=\"https://www.openstreetmap.org/?mlat=50.66881615&amp;mlon=-3.537739788359949#map=16/50.66881615/-3.537739788359949\""
        ));
        // The description keeps its links, marked as user content, and loses `target`.
        assert!(html.contains("<p>£6 each.</p>"));
        assert!(html.contains(
            "<a href=\"https://www.exeterceilidhs.net/\" rel=\"noopener noreferrer nofollow ugc\">ceilidhs</a>"
        ));
        assert!(!html.contains("target="));
        assert!(html.contains("lang=\"en\""));
        assert!(html.contains("Anyone can join."));
        assert!(html.contains("0 participants"));
    }

    #[test]
    fn gancio_event_page_shows_offset_and_place_name() {
        let event = fixture_event("gancio/create-event.json");
        let html = event_page(&view(&event)).plain();
        assert!(html.contains(
            "<time datetime=\"2021-07-14T17:30:57+02:00\">Wednesday 14 July 2021, 17:30</time> – \
             <time datetime=\"2021-07-14T18:30:57+02:00\">18:30</time> (UTC+02:00)"
        ));
        assert!(html.contains("<strong>Colosseo</strong>"));
        assert!(!html.contains("openstreetmap"));
    }

    #[test]
    fn online_event_links_its_address() {
        let mut event = fixture_event("mobilizon/create-event.json");
        event.is_online = Some(true);
        let html = event_page(&view(&event)).plain();
        assert!(html.contains("Online event: <a href=\"https://google.com/\">"));
        assert!(html.contains("<li><a href=\"https://something.org/\">Another link</a></li>"));
    }

    #[test]
    fn name_is_escaped_and_scripts_are_removed() {
        let event = event_from_json(serde_json::json!({
            "type": "Event",
            "id": "https://remote.example/events/1",
            "name": "<b>Rock & roll</b>",
            "startTime": "2024-03-01T20:00:00+01:00",
            "content": "<p onclick=\"steal()\">Hi<script>alert(1)</script></p>\
                        <a href=\"javascript:alert(2)\">x</a><img src=\"/local.png\">",
            "url": "javascript:alert(3)",
        }));
        let html = event_page(&view(&event)).plain();
        assert!(html.contains("<h1>&lt;b&gt;Rock &amp; roll&lt;/b&gt;</h1>"));
        assert!(!html.contains("<b>Rock"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("alert"));
        assert!(!html.contains("onclick"));
        assert!(!html.contains("/local.png"));
        assert!(html.contains("<p>Hi</p>"));
    }

    #[test]
    fn status_and_capacity_are_shown() {
        let mut event = fixture_event("mobilizon/event.json");
        event.ical_status = Some(EventStatus::Cancelled);
        event.maximum_attendee_capacity = Some(20);
        let mut v = view(&event);
        v.participants = 12;
        let html = event_page(&v).plain();
        assert!(html.contains("<title>Caledonian scottish dance class (cancelled)</title>"));
        assert!(html.contains(
            "<p class=\"status cancelled\" role=\"status\">Cancelled: this event will not take place.</p>"
        ));
        assert!(html.contains("12 / 20 participants"));

        event.ical_status = Some(EventStatus::Tentative);
        event.join_mode = Some(JoinMode::Restricted);
        let html = event_page(&view(&event)).plain();
        assert!(html.contains("Tentative: this event is not confirmed yet."));
        assert!(html.contains("Participation needs the organizer's approval."));
        assert!(html.contains("0 / 20 participants"));
    }

    #[test]
    fn organizer_and_group_are_linked_safely() {
        let event = fixture_event("mobilizon/create-event-in-group.json");
        let mut v = view(&event);
        v.organizer = Some(actor("User", "http://mobilizon1.com/@user"));
        v.group = Some(actor("Group", "javascript:alert(1)"));
        let html = event_page(&v).plain();
        assert!(html.contains(
            "<a href=\"http://mobilizon1.com/@user\">User</a> <span class=\"handle\">@user@example.org</span>"
        ));
        assert!(html.contains("Group: Group <span class=\"handle\">"));
        assert!(!html.contains("javascript"));
    }

    #[test]
    fn replies_nest_under_their_parent_in_order() {
        let event = fixture_event("mobilizon/event.json");
        let mut v = view(&event);
        v.comments = vec![
            comment("c1", None, "first"),
            comment(
                "c2",
                Some(event.props.id.as_ref().expect("id").as_str()),
                "second",
            ),
            comment("r1", Some("c1"), "reply to first"),
            comment("r2", Some("r1"), "reply to reply"),
            comment("r3", Some("c1"), "another reply to first"),
            comment(
                "<script>",
                Some("c2"),
                "<script>alert(1)</script>reply to second",
            ),
        ];
        let html = event_page(&v).plain();
        assert!(html.contains("Comments (6)"));
        let order = [
            "first",
            "reply to first",
            "reply to reply",
            "another reply to first",
            "second",
            "reply to second",
        ]
        .map(|t| position(&html, &format!("<p>{t}</p>")));
        assert!(order.is_sorted(), "{order:?}");
        // r1 and r3 are in one list nested in c1's item, r2 one level deeper.
        let c1 = position(&html, "<p>first</p>");
        let between = html
            .get(c1..position(&html, "<p>reply to reply</p>"))
            .unwrap_or("");
        assert_eq!(between.matches("<ol class=\"replies\">").count(), 2);
        assert!(!html.contains("alert"));
    }

    #[test]
    fn deep_and_cyclic_threads_show_every_comment_once() {
        let event = fixture_event("mobilizon/event.json");
        let mut v = view(&event);
        v.comments.push(comment("c0", None, "n0"));
        for i in 1..30 {
            let parent = format!("c{}", i - 1);
            v.comments
                .push(comment(&format!("c{i}"), Some(&parent), &format!("n{i}")));
        }
        // Two comments answering each other, and one answering itself.
        v.comments.push(comment("x", Some("y"), "cycle x"));
        v.comments.push(comment("y", Some("x"), "cycle y"));
        v.comments.push(comment("z", Some("z"), "self"));
        let html = event_page(&v).plain();
        for i in 0..30 {
            assert_eq!(html.matches(&format!("<p>n{i}</p>")).count(), 1, "n{i}");
        }
        for t in ["cycle x", "cycle y", "self"] {
            assert_eq!(html.matches(&format!("<p>{t}</p>")).count(), 1, "{t}");
        }
        // The chain nests MAX_REPLY_DEPTH lists deep (the last one flat), the cycle one.
        assert_eq!(
            html.matches("<ol class=\"replies\">").count(),
            MAX_REPLY_DEPTH + 1
        );
        assert!(html.contains(", in reply to Alice"));
        let n8 = position(&html, "<p>n8</p>");
        assert!(n8 < position(&html, "<p>n29</p>"));
    }

    #[test]
    fn group_page_lists_upcoming_events() {
        let event = fixture_event("mobilizon/event.json");
        let mut cancelled = fixture_event("gancio/create-event.json");
        cancelled.status = Some(EventStatus::Cancelled);
        let group = GroupView {
            id: "https://mobilizon.fr/@contribateliers".to_owned(),
            name: "Contribateliers".to_owned(),
            handle: "@contribateliers@mobilizon.fr".to_owned(),
            summary_html: "<p>Des ateliers <script>x()</script>pour contribuer</p>".to_owned(),
            member_count: Some(13),
            ics_url: "/@contribateliers/events.ics".to_owned(),
        };
        let events = [
            EventSummary::of(&event, "/events/b81c0531"),
            EventSummary::of(&cancelled, "javascript:alert(1)"),
        ];
        let html = group_page(&group, &events, None).plain();
        assert!(html.contains("<title>Contribateliers</title>"));
        assert!(html.contains("<p>Des ateliers pour contribuer</p>"));
        assert!(html.contains("13 members"));
        assert!(html.contains(
            "<link rel=\"alternate\" type=\"application/activity+json\" href=\"https://mobilizon.fr/@contribateliers\">"
        ));
        assert!(html.contains("href=\"/@contribateliers/events.ics\""));
        assert!(html.contains(
            "<a href=\"/events/b81c0531\"><strong>Caledonian scottish dance class</strong></a>"
        ));
        assert!(html.contains(
            "The Kenn Centre, Devon Expressway, EX6 7TW Teignbridge, England, United Kingdom"
        ));
        assert!(html.contains(
            "<strong>Demo event</strong> <span class=\"status cancelled\">Cancelled</span>"
        ));
        assert!(!html.contains("javascript") && !html.contains("x()"));
    }

    #[test]
    fn upcoming_page_lists_events_or_says_there_are_none() {
        let html = upcoming_page("Events & more", &[], None).plain();
        assert!(html.contains("<title>Upcoming events on Events &amp; more</title>"));
        assert!(html.contains("No upcoming events."));

        let event = fixture_event("mobilizon/create-event.json");
        let html = upcoming_page(
            "Events",
            &[EventSummary::of(&event, "/events/39a0c4a6")],
            None,
        )
        .plain();
        assert!(html.contains("<a href=\"/events/39a0c4a6\"><strong>My first event</strong></a>"));
        assert!(html.contains("Monday 12 February 2018, 14:08"));
        assert!(html.contains("Locaux de Framasoft, 10 Rue Jangot, 69007 Lyon"));
    }

    #[test]
    fn hrefs_are_http_or_local() {
        for (href, expected) in [
            ("https://a.example/x?y=1", Some("https://a.example/x?y=1")),
            ("HTTP://A.example", Some("http://a.example/")),
            ("/events/1", Some("/events/1")),
            ("//evil.example/", None),
            ("/\\evil.example/", None),
            ("javascript:alert(1)", None),
            ("data:text/html,x", None),
            ("relative/path", None),
        ] {
            assert_eq!(safe_href(href).as_deref(), expected, "{href}");
        }
    }
}
