//! The event form people fill in a browser, and the ActivityStreams `Event` it becomes.
//!
//! The form speaks as people do: a day and a time in the event's own time zone, a place with
//! its address, a link for online events, a number of seats. [`EventForm::to_object`] checks
//! every field (each error names its field, so the page shows it beside the input and keeps what
//! was typed) and writes the object the client-to-server API takes: `startTime` and `endTime`
//! as RFC 3339 with the zone's offset at that date (daylight saving included), the zone's name
//! in `timezone`, the place as a `Place` with a `PostalAddress`, the online link as Mobilizon
//! writes it (an attachment `Link` named `Website`). [`EventForm::of_event`] reads an event
//! back into the form, to edit it.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;

/// The public collection (`as:Public`).
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The longest title, in characters.
pub(crate) const MAX_TITLE: usize = 200;
/// The longest description, in characters.
pub(crate) const MAX_DESCRIPTION: usize = 20_000;
/// The longest place name or address line, in characters.
pub(crate) const MAX_LINE: usize = 200;
/// The longest online link, in bytes.
pub(crate) const MAX_LINK: usize = 2_000;
/// The most seats an event may offer.
pub(crate) const MAX_CAPACITY: u64 = 1_000_000;

/// The fields of the event form, as the browser posts them (every field a string, empty when
/// left blank).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct EventForm {
    /// The event's name.
    pub(crate) title: String,
    /// What it is about, as plain text (blank lines separate paragraphs).
    pub(crate) description: String,
    /// When it starts, in `timezone` (`YYYY-MM-DDTHH:MM`, an HTML `datetime-local` value).
    pub(crate) starts: String,
    /// When it ends, in `timezone`; may be blank.
    pub(crate) ends: String,
    /// The IANA time zone the times are in (`Europe/Paris`).
    pub(crate) timezone: String,
    /// The place's name (`Salle des fêtes`); blank for no place.
    pub(crate) place_name: String,
    /// The street address.
    pub(crate) street: String,
    /// The postal code.
    pub(crate) postal_code: String,
    /// The town or city.
    pub(crate) locality: String,
    /// The region.
    pub(crate) region: String,
    /// The country.
    pub(crate) country: String,
    /// The link to join online (`https://…`); blank for an event that is not online.
    pub(crate) online_link: String,
    /// How many people may take part; blank or 0 for no limit.
    pub(crate) capacity: String,
    /// `free` (anyone joins), `restricted` (the organizer approves each participant) or
    /// `invite` (by invitation only).
    pub(crate) join_mode: String,
    /// The id of the group that organizes the event; blank when the identity organizes it.
    pub(crate) group: String,
    /// Who sees the event: `public`, `unlisted` (anyone with the link, not listed) or
    /// `followers`. Only read when the event is created.
    pub(crate) visibility: String,
}

/// The join modes an event can have, as the form offers them.
pub(crate) const JOIN_MODES: &[(&str, &str)] = &[
    ("free", "Anyone can join"),
    ("restricted", "The organizer approves each participant"),
    ("invite", "By invitation only"),
];

/// Who sees a new event, as the form offers it.
pub(crate) const VISIBILITIES: &[(&str, &str)] = &[
    (
        "public",
        "Public: listed on this instance and sent to followers",
    ),
    ("unlisted", "Unlisted: anyone with the link"),
    ("followers", "Followers only"),
];

/// What was wrong with a submitted form, by field (the messages are for people).
pub(crate) type FormErrors = instance_web::forms::Errors;

/// Whether a new event is being created or an existing one edited: what an edit may not change
/// (the organizer, the audience) is not written, and what an edit clears is written as `null`
/// so the stored event loses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose<'a> {
    /// A new event by the actor `me` (its id), who may organize for `groups` (their ids).
    Create {
        /// The acting identity's id.
        me: &'a str,
        /// The groups the identity may publish events for.
        groups: &'a [String],
    },
    /// The existing event's new fields.
    Edit,
}

impl EventForm {
    /// The form as a new event would have it: the times blank, the zone `timezone`, anyone
    /// may join, public.
    pub(crate) fn blank(timezone: &str) -> Self {
        Self {
            timezone: timezone.to_owned(),
            join_mode: "free".into(),
            visibility: "public".into(),
            ..Self::default()
        }
    }

    /// The event object this form describes, or what is wrong with it.
    pub(crate) fn to_object(&self, purpose: Purpose<'_>) -> Result<Value, FormErrors> {
        let mut errors = FormErrors::default();
        let mut event = Map::new();
        event.insert("type".into(), json!("Event"));

        let title = self.title.trim();
        if title.is_empty() {
            errors.add("title", "An event needs a title.");
        } else if title.chars().count() > MAX_TITLE {
            errors.add("title", format!("At most {MAX_TITLE} characters."));
        }
        event.insert("name".into(), json!(title));

        let description = self.description.trim();
        if description.chars().count() > MAX_DESCRIPTION {
            errors.add(
                "description",
                format!("At most {MAX_DESCRIPTION} characters."),
            );
        }
        if !description.is_empty() {
            event.insert("content".into(), json!(paragraphs(description)));
            event.insert("mediaType".into(), json!("text/html"));
        } else if purpose == Purpose::Edit {
            event.insert("content".into(), Value::Null);
        }

        let zone = self.timezone.trim();
        let tz = match TimeZone::get(zone) {
            Ok(tz) if !zone.is_empty() => Some(tz),
            _ => {
                errors.add("timezone", "Choose a time zone from the list.");
                None
            }
        };
        event.insert("timezone".into(), json!(zone));
        let start = match parse_local(&self.starts) {
            Some(start) => Some(start),
            None => {
                errors.add("starts", "Give the day and time the event starts.");
                None
            }
        };
        let end = match self.ends.trim() {
            "" => None,
            text => match parse_local(text) {
                Some(end) => Some(end),
                None => {
                    errors.add(
                        "ends",
                        "Give the day and time the event ends, or leave it blank.",
                    );
                    None
                }
            },
        };
        if let Some(tz) = &tz {
            let start = start.and_then(|start| zoned_text(start, tz));
            let end = end.and_then(|end| zoned_text(end, tz));
            if let Some((start_text, start_ts)) = &start {
                event.insert("startTime".into(), json!(start_text));
                if let Some((end_text, end_ts)) = &end {
                    if end_ts < start_ts {
                        errors.add("ends", "The event ends before it starts.");
                    }
                    event.insert("endTime".into(), json!(end_text));
                } else if purpose == Purpose::Edit {
                    event.insert("endTime".into(), Value::Null);
                }
            }
        }

        let lines = [
            ("place_name", self.place_name.trim()),
            ("street", self.street.trim()),
            ("postal_code", self.postal_code.trim()),
            ("locality", self.locality.trim()),
            ("region", self.region.trim()),
            ("country", self.country.trim()),
        ];
        for (field, text) in lines {
            if text.chars().count() > MAX_LINE {
                errors.add(field, format!("At most {MAX_LINE} characters."));
            } else if text.chars().any(char::is_control) {
                errors.add(field, "One line only.");
            }
        }
        let mut address = Map::new();
        for (key, text) in [
            ("streetAddress", self.street.trim()),
            ("postalCode", self.postal_code.trim()),
            ("addressLocality", self.locality.trim()),
            ("addressRegion", self.region.trim()),
            ("addressCountry", self.country.trim()),
        ] {
            if !text.is_empty() {
                address.insert(key.into(), json!(text));
            }
        }
        let place_name = self.place_name.trim();
        if !place_name.is_empty() || !address.is_empty() {
            let mut place = Map::new();
            place.insert("type".into(), json!("Place"));
            // A place needs a name to be listed: the first address line stands in for it.
            let name = if place_name.is_empty() {
                address
                    .get("streetAddress")
                    .or_else(|| address.get("addressLocality"))
                    .cloned()
                    .unwrap_or_else(|| json!(""))
            } else {
                json!(place_name)
            };
            place.insert("name".into(), name);
            if !address.is_empty() {
                address.insert("type".into(), json!("PostalAddress"));
                place.insert("address".into(), Value::Object(address));
            }
            event.insert("location".into(), Value::Object(place));
        } else if purpose == Purpose::Edit {
            event.insert("location".into(), Value::Null);
        }

        let link = self.online_link.trim();
        let online = !link.is_empty();
        if online {
            match Url::parse(link) {
                Ok(url)
                    if matches!(url.scheme(), "https" | "http")
                        && url.host().is_some()
                        && link.len() <= MAX_LINK =>
                {
                    event.insert(
                        "attachment".into(),
                        json!([{
                            "type": "Link",
                            "name": "Website",
                            "mediaType": "text/html",
                            "href": url.as_str(),
                        }]),
                    );
                }
                _ => errors.add("online_link", "Give a web address starting with https://."),
            }
        } else if purpose == Purpose::Edit {
            event.insert("attachment".into(), json!([]));
        }
        event.insert("isOnline".into(), json!(online));

        let capacity = match self.capacity.trim() {
            "" => Some(0),
            text => text.parse::<u64>().ok().filter(|n| *n <= MAX_CAPACITY),
        };
        match capacity {
            Some(capacity) => {
                event.insert("maximumAttendeeCapacity".into(), json!(capacity));
            }
            None => errors.add(
                "capacity",
                format!("A whole number of seats, at most {MAX_CAPACITY} (0 for no limit)."),
            ),
        }

        match self.join_mode.as_str() {
            mode @ ("free" | "restricted" | "invite") => {
                event.insert("joinMode".into(), json!(mode));
            }
            _ => errors.add("join_mode", "Choose who can join."),
        }

        if let Purpose::Create { me, groups } = purpose {
            let group = self.group.trim();
            if !group.is_empty() {
                if groups.iter().any(|g| g == group) {
                    event.insert("attributedTo".into(), json!(group));
                } else {
                    errors.add("group", "You do not organize events for this group.");
                }
            }
            let (to, cc) = match self.visibility.as_str() {
                "public" => (json!([PUBLIC]), json!([])),
                "unlisted" => (json!([]), json!([PUBLIC])),
                "followers" => (json!([format!("{me}/followers")]), json!([])),
                _ => {
                    errors.add("visibility", "Choose who sees the event.");
                    (json!([]), json!([]))
                }
            };
            event.insert("to".into(), to);
            event.insert("cc".into(), cc);
        }

        if errors.is_empty() {
            Ok(Value::Object(event))
        } else {
            Err(errors)
        }
    }

    /// The form filled from a stored `event`, to edit it. Times are shown in the event's own
    /// zone (UTC when it names none or one this server does not know).
    pub(crate) fn of_event(event: &Value) -> Self {
        let text = |key: &str| {
            event
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let zone = text("timezone");
        let tz = TimeZone::get(&zone).unwrap_or(TimeZone::UTC);
        let local = |key: &str| {
            event
                .get(key)
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map(|ts| {
                    ts.to_zoned_datetime(tz.clone())
                        .strftime("%Y-%m-%dT%H:%M")
                        .to_string()
                })
                .unwrap_or_default()
        };
        let place = event.get("location").filter(|p| p.is_object());
        let address = place
            .and_then(|p| p.get("address"))
            .filter(|a| a.is_object());
        let of = |value: Option<&Value>, key: &str| {
            value
                .and_then(|v| v.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let online_link = event
            .get("attachment")
            .and_then(Value::as_array)
            .and_then(|links| {
                links.iter().find(|l| {
                    l.get("type").and_then(Value::as_str) == Some("Link")
                        && l.get("name").and_then(Value::as_str) == Some("Website")
                })
            })
            .and_then(|l| l.get("href"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let capacity = match event.get("maximumAttendeeCapacity").and_then(Value::as_u64) {
            Some(n) if n > 0 => n.to_string(),
            _ => String::new(),
        };
        Self {
            title: text("name"),
            description: event
                .get("content")
                .and_then(Value::as_str)
                .map(federation::sanitize::plain_text)
                .unwrap_or_default(),
            starts: local("startTime"),
            ends: local("endTime"),
            timezone: tz.iana_name().unwrap_or("UTC").to_owned(),
            place_name: of(place, "name"),
            street: of(address, "streetAddress"),
            postal_code: of(address, "postalCode"),
            locality: of(address, "addressLocality"),
            region: of(address, "addressRegion"),
            country: of(address, "addressCountry"),
            online_link,
            capacity,
            join_mode: match text("joinMode").as_str() {
                mode @ ("restricted" | "invite") => mode.to_owned(),
                _ => "free".into(),
            },
            group: String::new(),
            visibility: String::new(),
        }
    }
}

/// The time zones the form offers, by IANA name, sorted.
pub(crate) fn time_zones() -> Vec<String> {
    let mut zones: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.to_string())
        // The legacy aliases (`US/Pacific`, `Etc/GMT+3`, `EST5EDT`) only make the list longer.
        .filter(|name| name == "UTC" || (name.contains('/') && !name.starts_with("Etc/")))
        .filter(|name| !name.starts_with("US/") && !name.starts_with("SystemV/"))
        .collect();
    zones.sort();
    zones.dedup();
    zones
}

/// A `datetime-local` value (`2026-12-24T18:30`, seconds allowed).
fn parse_local(text: &str) -> Option<DateTime> {
    let text = text.trim();
    if text.is_empty() || text.len() > 32 {
        return None;
    }
    text.parse::<DateTime>().ok()
}

/// `local` in `tz` as RFC 3339 with the zone's offset at that moment, and the instant. A time
/// that a daylight-saving change skips is moved forward by the gap, as calendars do.
fn zoned_text(local: DateTime, tz: &TimeZone) -> Option<(String, jiff::Timestamp)> {
    let zoned = local.to_zoned_datetime(tz.clone()).ok()?;
    Some((
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        zoned.timestamp(),
    ))
}

/// Plain text as HTML paragraphs: blank lines separate paragraphs, line breaks stay, every
/// character escaped.
pub(crate) fn paragraphs(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut html = String::new();
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        html.push_str("<p>");
        for (i, line) in paragraph.lines().enumerate() {
            if i > 0 {
                html.push_str("<br>");
            }
            html.push_str(&maud::html! { (line) }.into_string());
        }
        html.push_str("</p>");
    }
    html
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn filled() -> EventForm {
        EventForm {
            title: "  Repair café  ".into(),
            description: "Bring what is broken.\r\nTools provided.\r\n\r\n<b>Free</b> & open"
                .into(),
            starts: "2026-07-04T14:00".into(),
            ends: "2026-07-04T18:30".into(),
            timezone: "Europe/Paris".into(),
            place_name: "Salle des fêtes".into(),
            street: "1 rue de la Mairie".into(),
            postal_code: "35000".into(),
            locality: "Rennes".into(),
            country: "France".into(),
            capacity: "12".into(),
            join_mode: "restricted".into(),
            visibility: "public".into(),
            ..EventForm::default()
        }
    }

    const ME: &str = "https://events.example/actors/alice";

    fn create(form: &EventForm) -> Result<Value, FormErrors> {
        form.to_object(Purpose::Create {
            me: ME,
            groups: &["https://events.example/actors/club".to_owned()],
        })
    }

    #[test]
    fn a_filled_form_becomes_an_event_in_its_zone() {
        let event = create(&filled()).unwrap();
        assert_eq!(event["type"], "Event");
        assert_eq!(event["name"], "Repair café");
        // Paris is at +02:00 in July.
        assert_eq!(event["startTime"], "2026-07-04T14:00:00+02:00");
        assert_eq!(event["endTime"], "2026-07-04T18:30:00+02:00");
        assert_eq!(event["timezone"], "Europe/Paris");
        assert_eq!(
            event["content"],
            "<p>Bring what is broken.<br>Tools provided.</p><p>&lt;b&gt;Free&lt;/b&gt; &amp; open</p>"
        );
        assert_eq!(event["location"]["name"], "Salle des fêtes");
        assert_eq!(event["location"]["address"]["type"], "PostalAddress");
        assert_eq!(event["location"]["address"]["addressLocality"], "Rennes");
        assert!(event["location"]["address"].get("addressRegion").is_none());
        assert_eq!(event["maximumAttendeeCapacity"], 12);
        assert_eq!(event["joinMode"], "restricted");
        assert_eq!(event["isOnline"], false);
        assert_eq!(event["to"], json!([PUBLIC]));
        assert!(event.get("attributedTo").is_none());
    }

    #[test]
    fn winter_times_take_the_winter_offset() {
        let form = EventForm {
            starts: "2026-12-24T18:00".into(),
            ends: String::new(),
            ..filled()
        };
        let event = create(&form).unwrap();
        assert_eq!(event["startTime"], "2026-12-24T18:00:00+01:00");
        assert!(event.get("endTime").is_none());
    }

    #[test]
    fn a_time_skipped_by_daylight_saving_moves_forward() {
        // Clocks in Paris go from 02:00 to 03:00 on 2026-03-29.
        let form = EventForm {
            starts: "2026-03-29T02:30".into(),
            ends: String::new(),
            ..filled()
        };
        let event = create(&form).unwrap();
        assert_eq!(event["startTime"], "2026-03-29T03:30:00+02:00");
    }

    #[test]
    fn every_wrong_field_is_named() {
        let form = EventForm {
            title: " ".into(),
            starts: "tomorrow".into(),
            ends: "2026-07-04T12:00:99".into(),
            timezone: "Mars/Olympus_Mons".into(),
            online_link: "javascript:alert(1)".into(),
            capacity: "-3".into(),
            join_mode: "whoever".into(),
            visibility: "everyone".into(),
            group: "https://events.example/actors/not-mine".into(),
            street: "line\nbreak".into(),
            ..filled()
        };
        let errors = create(&form).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f).collect();
        for field in [
            "title",
            "starts",
            "ends",
            "timezone",
            "online_link",
            "capacity",
            "join_mode",
            "visibility",
            "group",
            "street",
        ] {
            assert!(fields.contains(&field), "{field} not reported: {fields:?}");
        }
        assert_eq!(errors.get("description"), None);
    }

    #[test]
    fn an_event_cannot_end_before_it_starts() {
        let form = EventForm {
            ends: "2026-07-04T13:59".into(),
            ..filled()
        };
        let errors = create(&form).unwrap_err();
        assert_eq!(errors.get("ends"), Some("The event ends before it starts."));
        assert_eq!(errors.iter().count(), 1);
    }

    #[test]
    fn too_long_fields_are_refused() {
        let form = EventForm {
            title: "x".repeat(MAX_TITLE + 1),
            description: "y".repeat(MAX_DESCRIPTION + 1),
            place_name: "z".repeat(MAX_LINE + 1),
            online_link: format!("https://example.org/{}", "a".repeat(MAX_LINK)),
            capacity: (MAX_CAPACITY + 1).to_string(),
            ..filled()
        };
        let errors = create(&form).unwrap_err();
        for field in [
            "title",
            "description",
            "place_name",
            "online_link",
            "capacity",
        ] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn online_events_carry_their_link_as_mobilizon_does() {
        let form = EventForm {
            place_name: String::new(),
            street: String::new(),
            postal_code: String::new(),
            locality: String::new(),
            country: String::new(),
            online_link: "https://meet.example/room?x=1".into(),
            ..filled()
        };
        let event = create(&form).unwrap();
        assert_eq!(event["isOnline"], true);
        assert!(event.get("location").is_none());
        assert_eq!(
            event["attachment"],
            json!([{"type": "Link", "name": "Website", "mediaType": "text/html", "href": "https://meet.example/room?x=1"}])
        );
    }

    #[test]
    fn audience_and_group_follow_the_choices() {
        let unlisted = EventForm {
            visibility: "unlisted".into(),
            group: "https://events.example/actors/club".into(),
            ..filled()
        };
        let event = create(&unlisted).unwrap();
        assert_eq!(event["to"], json!([]));
        assert_eq!(event["cc"], json!([PUBLIC]));
        assert_eq!(event["attributedTo"], "https://events.example/actors/club");
        let followers = EventForm {
            visibility: "followers".into(),
            ..filled()
        };
        let event = create(&followers).unwrap();
        assert_eq!(event["to"], json!([format!("{ME}/followers")]));
    }

    #[test]
    fn an_edit_clears_what_was_emptied_and_leaves_the_audience() {
        let form = EventForm {
            description: String::new(),
            ends: String::new(),
            place_name: String::new(),
            street: String::new(),
            postal_code: String::new(),
            locality: String::new(),
            country: String::new(),
            visibility: "nonsense: not read on edit".into(),
            ..filled()
        };
        let event = form.to_object(Purpose::Edit).unwrap();
        assert_eq!(event["content"], Value::Null);
        assert_eq!(event["endTime"], Value::Null);
        assert_eq!(event["location"], Value::Null);
        assert_eq!(event["attachment"], json!([]));
        assert!(event.get("to").is_none() && event.get("cc").is_none());
        assert!(event.get("attributedTo").is_none());
    }

    #[test]
    fn an_event_reads_back_into_the_form() {
        let form = filled();
        let event = create(&form).unwrap();
        let back = EventForm::of_event(&event);
        assert_eq!(back.title, "Repair café");
        assert_eq!(back.starts, form.starts);
        assert_eq!(back.ends, form.ends);
        assert_eq!(back.timezone, "Europe/Paris");
        assert_eq!(back.place_name, form.place_name);
        assert_eq!(back.street, form.street);
        assert_eq!(back.postal_code, form.postal_code);
        assert_eq!(back.locality, form.locality);
        assert_eq!(back.country, form.country);
        assert_eq!(back.capacity, "12");
        assert_eq!(back.join_mode, "restricted");
        assert_eq!(back.online_link, "");
        // Submitting the form unchanged gives the same event back.
        let again = back.to_object(Purpose::Edit).unwrap();
        for key in [
            "name",
            "startTime",
            "endTime",
            "timezone",
            "location",
            "maximumAttendeeCapacity",
            "joinMode",
            "content",
        ] {
            assert_eq!(again[key], event[key], "{key}");
        }
    }

    #[test]
    fn a_remote_event_in_another_zone_reads_in_its_zone() {
        let event: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/mobilizon/event.json"
        )))
        .unwrap();
        let form = EventForm::of_event(&event);
        assert_eq!(form.timezone, "Europe/London");
        assert_eq!(form.starts, "2022-12-11T19:00");
        assert_eq!(form.ends, "2022-12-11T21:00");
        assert_eq!(form.place_name, "The Kenn Centre");
        assert_eq!(form.postal_code, "EX6 7TW");
        assert_eq!(form.capacity, "");
        assert_eq!(form.join_mode, "free");
    }

    #[test]
    fn the_zone_list_is_usable() {
        let zones = time_zones();
        assert!(zones.iter().any(|z| z == "Europe/Paris"));
        assert!(zones.iter().any(|z| z == "America/Argentina/Buenos_Aires"));
        assert!(zones.iter().any(|z| z == "UTC"));
        assert!(
            !zones
                .iter()
                .any(|z| z.starts_with("Etc/") || z.starts_with("US/"))
        );
        assert!(zones.windows(2).all(|w| w[0] < w[1]));
        assert!(zones.len() > 300, "{}", zones.len());
    }
}
