//! iCalendar ([RFC 5545]) files of an event and of a group's events.
//!
//! The `icalendar` crate writes the file: it escapes TEXT values, folds lines longer than 75
//! octets and ends them with CRLF ([RFC 5545 §3.1]). Times are written in UTC (`FORM #2`): the
//! ActivityPub timestamps carry an offset, not a time zone, so a `TZID` could not be given
//! truthfully without a time zone database.
//!
//! [RFC 5545]: https://www.rfc-editor.org/rfc/rfc5545
//! [RFC 5545 §3.1]: https://www.rfc-editor.org/rfc/rfc5545#section-3.1

use std::fmt;

use activitypub_core::{AnyObject, Event, EventStatus, LinkType};
use federation::sanitize::plain_text;
use icalendar::{Calendar, Component, DatePerhapsTime, EventLike, Property};
use time::OffsetDateTime;

use crate::html::{coordinates, event_title, place_label, safe_href};

/// The `PRODID` of the calendars this instance writes ([RFC 5545 §3.7.3]).
///
/// [RFC 5545 §3.7.3]: https://www.rfc-editor.org/rfc/rfc5545#section-3.7.3
pub(crate) const PRODID: &str = "-//fediverse-toolkit//events-instance//EN";

/// Why an event cannot be written as a calendar entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IcsError {
    /// The event has no `id`, which its `VEVENT` needs as `UID`.
    MissingId,
    /// The event has no `startTime` (or one that is not a date-time): a `VEVENT` in a calendar
    /// without `METHOD` must have a `DTSTART` (RFC 5545 §3.6.1).
    MissingStartTime {
        /// The event's id.
        event: String,
    },
}

impl fmt::Display for IcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingId => {
                f.write_str("the event has no `id`, which its calendar entry needs as UID")
            }
            Self::MissingStartTime { event } => write!(
                f,
                "the event {event} has no valid `startTime`: a calendar entry needs a start"
            ),
        }
    }
}

impl std::error::Error for IcsError {}

/// A calendar holding `event` alone. `now` stamps the entry when the event tells neither when it
/// was updated nor when it was published.
pub(crate) fn event_calendar(event: &Event, now: OffsetDateTime) -> Result<String, IcsError> {
    let mut calendar = empty_calendar();
    calendar.push(vevent(event, now)?);
    Ok(calendar.to_string())
}

/// The calendar feed of a group called `name`, with one entry per event. Events that cannot be
/// entries (no `id` or no `startTime`) are left out: one odd remote event must not break the
/// feed.
pub(crate) fn group_calendar(name: &str, events: &[&Event], now: OffsetDateTime) -> String {
    let mut calendar = empty_calendar();
    // The Apple extension that most clients read as the calendar's name.
    calendar.append_property(Property::new("X-WR-CALNAME", one_line(name)));
    for event in events {
        if let Ok(entry) = vevent(event, now) {
            calendar.push(entry);
        }
    }
    calendar.to_string()
}

fn empty_calendar() -> Calendar {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", PRODID))
        .append_property(Property::new("CALSCALE", "GREGORIAN"));
    calendar
}

fn vevent(event: &Event, now: OffsetDateTime) -> Result<icalendar::Event, IcsError> {
    let props = &event.props;
    let id = props.id.as_ref().ok_or(IcsError::MissingId)?;
    let start = props
        .start_time
        .as_deref()
        .ok_or_else(|| IcsError::MissingStartTime {
            event: id.to_string(),
        })?
        .time();

    let mut entry = icalendar::Event::new();
    entry.uid(id.as_str());
    // DTSTAMP: when the information was last revised (RFC 5545 §3.8.7.2, no METHOD).
    let stamp = props
        .updated
        .as_ref()
        .or(props.published.as_ref())
        .map_or(now, |t| t.time());
    entry.append_property(utc("DTSTAMP", stamp));
    if let Some(published) = &props.published {
        entry.append_property(utc("CREATED", published.time()));
    }
    if let Some(updated) = &props.updated {
        entry.append_property(utc("LAST-MODIFIED", updated.time()));
    }
    entry.starts(DatePerhapsTime::from(start));
    if let Some(end) = end_time(event, start) {
        entry.ends(DatePerhapsTime::from(end));
    }
    entry.summary(&one_line(event_title(event)));
    if let Some(description) = props
        .content
        .as_deref()
        .or(props.summary.as_deref())
        .map(plain_text)
        .filter(|d| !d.is_empty())
    {
        entry.description(&description);
    }
    let place = event.place();
    if let Some(location) = place.and_then(place_label) {
        entry.location(&one_line(&location));
    }
    if let Some((lat, lon)) = place.and_then(coordinates) {
        // GEO is "latitude;longitude" (RFC 5545 §3.8.1.6); `f64`'s Display never uses an exponent.
        entry.append_property(Property::new("GEO", format!("{lat};{lon}")));
    }
    let url = props
        .url
        .iter()
        .flatten()
        .filter_map(|u| u.href())
        .find_map(|href| safe_href(href.as_str()).filter(|h| h.starts_with("http")))
        .or_else(|| safe_href(id.as_str()).filter(|h| h.starts_with("http")));
    if let Some(url) = url {
        entry.url(&url);
    }
    match event.event_status() {
        Some(EventStatus::Confirmed) => {
            entry.status(icalendar::EventStatus::Confirmed);
        }
        Some(EventStatus::Tentative) => {
            entry.status(icalendar::EventStatus::Tentative);
        }
        Some(EventStatus::Cancelled) => {
            entry.status(icalendar::EventStatus::Cancelled);
        }
        // An unknown status is better left out than guessed.
        _ => {}
    }
    let tags = hashtags(event);
    if !tags.is_empty() {
        entry.categories(tags);
    }
    Ok(entry.done())
}

/// A `DATE-TIME` property in UTC.
fn utc(key: &str, time: OffsetDateTime) -> Property {
    DatePerhapsTime::from(time).to_property(key)
}

/// The end: `endTime`, else `startTime` plus `duration`; only when after the start, as DTEND
/// must be (RFC 5545 §3.8.2.2).
fn end_time(event: &Event, start: OffsetDateTime) -> Option<OffsetDateTime> {
    let props = &event.props;
    let end = match props.end_time.as_deref() {
        Some(end) => end.time(),
        None => {
            let duration = props.duration.as_deref()?.to_std()?;
            start.checked_add(time::Duration::try_from(duration).ok()?)?
        }
    };
    (end > start).then_some(end)
}

/// The names of the event's hashtags, without `#`.
fn hashtags(event: &Event) -> Vec<String> {
    event
        .props
        .tag
        .iter()
        .flatten()
        .filter_map(|t| match t.as_object()? {
            AnyObject::Link(link) if link.kind == LinkType::Hashtag => link.props.name.as_deref(),
            _ => None,
        })
        .map(|name| one_line(name.trim_start_matches('#')))
        .filter(|name| !name.is_empty())
        .collect()
}

/// `text` on one line: control characters (line breaks included) become spaces, runs of
/// whitespace one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use icalendar::parser::{read_calendar, unfold};
    use icalendar::{CalendarComponent, EventLike};

    use super::*;
    use crate::html::tests::{EVENT_FIXTURES, event_from_json, fixture_event};

    /// 2024-01-01T00:00:00Z.
    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_704_067_200).unwrap()
    }

    /// Checks the RFC 5545 §3.1 line rules and parses the file back.
    fn parse(ics: &str) -> Calendar {
        assert!(ics.ends_with("\r\n"), "ends with CRLF");
        for line in ics.split_terminator("\r\n") {
            assert!(line.len() <= 75, "line of {} octets: {line:?}", line.len());
            assert!(!line.contains(['\r', '\n']), "bare line break in {line:?}");
        }
        let unfolded = unfold(ics);
        Calendar::from(read_calendar(&unfolded).expect("the calendar parses"))
    }

    fn only_event(calendar: &Calendar) -> &icalendar::Event {
        let events: Vec<_> = calendar.events().collect();
        assert_eq!(events.len(), 1);
        events.first().copied().unwrap()
    }

    /// Whether the file has the (unfolded) content line `line`.
    fn has(ics: &str, line: &str) -> bool {
        lines(ics).iter().any(|l| l == line)
    }

    /// The unfolded content lines.
    fn lines(ics: &str) -> Vec<String> {
        unfold(ics).lines().map(str::to_owned).collect()
    }

    #[test]
    fn every_fixture_event_has_a_calendar() {
        for path in EVENT_FIXTURES {
            let event = fixture_event(path);
            let ics = event_calendar(&event, now()).unwrap();
            let calendar = parse(&ics);
            assert_eq!(calendar.property_value("PRODID"), Some(PRODID), "{path}");
            assert_eq!(calendar.property_value("VERSION"), Some("2.0"), "{path}");
            let entry = only_event(&calendar);
            assert_eq!(
                entry.get_uid(),
                Some(event.props.id.as_ref().unwrap().as_str()),
                "{path}"
            );
            assert_eq!(entry.get_summary(), Some(event_title(&event)), "{path}");
            assert!(entry.get_start().is_some(), "{path}");
            assert!(entry.property_value("DTSTAMP").is_some(), "{path}");
        }
    }

    #[test]
    fn mobilizon_event_entry() {
        let event = fixture_event("mobilizon/event.json");
        let ics = event_calendar(&event, now()).unwrap();
        for expected in [
            "BEGIN:VEVENT",
            "UID:https://rendezvous.nomagic.uk/events/b81c0531-a57c-497d-93ba-af0f8b255498",
            "DTSTAMP:20220927T143918Z",
            "CREATED:20220927T143314Z",
            "LAST-MODIFIED:20220927T143918Z",
            "DTSTART:20221211T190000Z",
            "DTEND:20221211T210000Z",
            "SUMMARY:Caledonian scottish dance class",
            "GEO:50.66881615;-3.537739788359949",
            "URL:https://rendezvous.nomagic.uk/events/b81c0531-a57c-497d-93ba-af0f8b255498",
            "STATUS:CONFIRMED",
            "CATEGORIES:Dance,Caledonian,Lesson",
        ] {
            assert!(has(&ics, expected), "{expected} not in\n{ics}");
        }
        let calendar = parse(&ics);
        let entry = only_event(&calendar);
        assert_eq!(
            entry.get_location(),
            Some("The Kenn Centre, Devon Expressway, EX6 7TW Teignbridge, England, United Kingdom")
        );
        let description = entry.get_description().unwrap();
        assert!(
            description.starts_with("£6 each.\n\nThe dance style is like a posh ceilidh"),
            "{description:?}"
        );
        assert!(description.contains("For anyone unfamiliar with ceilidhs, they're very social"));
        assert!(!description.contains('<'));
    }

    #[test]
    fn offsets_become_utc() {
        let event = fixture_event("gancio/create-event.json");
        let ics = event_calendar(&event, now()).unwrap();
        assert!(has(&ics, "DTSTART:20210714T153057Z"), "{ics}");
        assert!(has(&ics, "DTEND:20210714T163057Z"), "{ics}");
        assert!(has(&ics, "LOCATION:Colosseo"), "{ics}");
        // Gancio's text content keeps its lines.
        let calendar = parse(&ics);
        let entry = only_event(&calendar);
        assert_eq!(
            entry.get_description(),
            Some("📍 Colosseo\n📅 Wednesday, 14 July (17:30)")
        );

        let mut json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(crate::html::tests::fixtures_dir().join("mobilizon/event.json"))
                .unwrap(),
        )
        .unwrap();
        json["startTime"] = "2022-12-11T19:00:00+01:00".into();
        json["endTime"] = "2022-12-12T00:30:00+01:00".into();
        let ics = event_calendar(&event_from_json(json), now()).unwrap();
        assert!(has(&ics, "DTSTART:20221211T180000Z"), "{ics}");
        assert!(has(&ics, "DTEND:20221211T233000Z"), "{ics}");
    }

    #[test]
    fn status_is_written() {
        let mut event = fixture_event("mobilizon/event.json");
        event.ical_status = None;
        event.status = Some(EventStatus::Cancelled);
        let ics = event_calendar(&event, now()).unwrap();
        assert!(has(&ics, "STATUS:CANCELLED"));
        event.status = Some(EventStatus::Tentative);
        let ics = event_calendar(&event, now()).unwrap();
        assert!(has(&ics, "STATUS:TENTATIVE"));
        event.status = Some(EventStatus::Other("POSTPONED".to_owned()));
        let ics = event_calendar(&event, now()).unwrap();
        assert!(!ics.contains("STATUS"));
    }

    #[test]
    fn description_is_plain_text() {
        let event = event_from_json(serde_json::json!({
            "type": "Event",
            "id": "https://remote.example/events/1",
            "name": "Line\nbreak; and, commas",
            "startTime": "2024-03-01T20:00:00+01:00",
            "content": "<h2>Programme</h2><p>1 &lt; 2 &amp;&amp; 3 &gt; 2&nbsp;!<br>next <b>line</b></p>\
                        <script>alert(1)</script><style>p{}</style>\
                        <ul><li>one</li><li>two</li></ul><p>&amp;lt; stays</p>",
        }));
        let ics = event_calendar(&event, now()).unwrap();
        assert!(!ics.contains("alert") && !ics.contains("p{}"));
        assert!(has(&ics, "SUMMARY:Line break\\; and\\, commas"), "{ics}");
        // No updated nor published: stamped with `now`.
        assert!(has(&ics, "DTSTAMP:20240101T000000Z"), "{ics}");
        assert!(!ics.contains("DTEND"));
        let calendar = parse(&ics);
        let entry = only_event(&calendar);
        assert_eq!(
            entry.get_description(),
            Some("Programme\n\n1 < 2 && 3 > 2 !\nnext line\n\n- one\n- two\n\n&lt; stays")
        );
    }

    #[test]
    fn long_lines_are_folded() {
        let long = "Une soirée très longue à Montréal, où l'on danse 🎉 jusqu'au matin. ".repeat(8);
        let event = event_from_json(serde_json::json!({
            "type": "Event",
            "id": "https://remote.example/events/2",
            "name": long.trim(),
            "startTime": "2024-03-01T20:00:00Z",
            "duration": "PT2H30M",
            "content": format!("<p>{long}</p>"),
        }));
        let ics = event_calendar(&event, now()).unwrap();
        // `parse` checks that no line exceeds 75 octets.
        let calendar = parse(&ics);
        let continuation = ics.split("\r\n").filter(|l| l.starts_with(' ')).count();
        assert!(continuation > 10, "{ics}");
        let entry = only_event(&calendar);
        assert_eq!(entry.get_summary(), Some(long.trim()));
        assert_eq!(entry.get_description(), Some(long.trim()));
        assert!(has(&ics, "DTEND:20240301T223000Z"), "{ics}");
    }

    #[test]
    fn event_without_start_is_an_error_alone_and_skipped_in_a_group() {
        let undated = event_from_json(serde_json::json!({
            "type": "Event",
            "id": "https://remote.example/events/3",
            "name": "Some day",
        }));
        assert_eq!(
            event_calendar(&undated, now()),
            Err(IcsError::MissingStartTime {
                event: "https://remote.example/events/3".to_owned()
            })
        );
        let anonymous = event_from_json(serde_json::json!({
            "type": "Event",
            "startTime": "2024-03-01T20:00:00Z",
        }));
        assert_eq!(event_calendar(&anonymous, now()), Err(IcsError::MissingId));

        let dance = fixture_event("mobilizon/event.json");
        let demo = fixture_event("gancio/create-event.json");
        let ics = group_calendar(
            "Devon; dance, and more\nclubs",
            &[&dance, &undated, &anonymous, &demo],
            now(),
        );
        assert!(
            has(&ics, "X-WR-CALNAME:Devon\\; dance\\, and more clubs"),
            "{ics}"
        );
        let calendar = parse(&ics);
        let uids: Vec<_> = calendar
            .components
            .iter()
            .filter_map(|c| match c {
                CalendarComponent::Event(e) => e.get_uid(),
                _ => None,
            })
            .collect();
        assert_eq!(
            uids,
            [
                "https://rendezvous.nomagic.uk/events/b81c0531-a57c-497d-93ba-af0f8b255498",
                "https://demo.gancio.org/federation/m/1"
            ]
        );
    }
}
