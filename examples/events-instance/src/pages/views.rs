//! The bodies of the pages people act on: forms and lists. Each returns the page's `main`
//! content; the layout (`instance-web`'s, with the navigation) wraps it.
//!
//! Every form posts to this server with the session's CSRF token, every input has a `<label>`,
//! a wrong field says why beside it (`aria-describedby`, `aria-invalid`) and keeps what was
//! typed. Text is escaped by maud; nothing from the network is written unescaped here.

use maud::{Markup, html};

use instance_web::forms::Field;

use super::event_form::{EventForm, FormErrors, JOIN_MODES, MAX_LINE, MAX_TITLE, VISIBILITIES};
use crate::html::{ActorView, actor_link};

/// The hidden field every state-changing form carries.
pub(crate) fn csrf_input(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// One labelled input (instance-web's), with its hint and its error when it was wrong.
fn field(input: Field<'_>, errors: &FormErrors) -> Markup {
    html! { div.field { (input.render(errors)) } }
}

/// A labelled `select` of `(value, text)` options.
fn select(
    name: &str,
    label: &str,
    options: &[(String, String)],
    chosen: &str,
    errors: &FormErrors,
) -> Markup {
    let error = errors.get(name);
    html! {
        div.field.invalid[error.is_some()] {
            label for=(name) { (label) }
            select #(name) name=(name) aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| format!("{name}-error"))] {
                @for (value, text) in options {
                    option value=(value) selected[value == chosen] { (text) }
                }
            }
            @if let Some(error) = error {
                p.error #{ (name) "-error" } { (error) }
            }
        }
    }
}

/// The summary of what was wrong, at the top of a form, linking to each field.
fn error_summary(errors: &FormErrors) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.errors role="alert" {
                p { "Please correct the following:" }
                ul {
                    @for (field, message) in errors.iter() {
                        li { a href={ "#" (field) } { (message) } }
                    }
                }
            }
        }
    }
}

/// What the event form needs besides the fields.
pub(crate) struct EventFormView<'a> {
    /// The form's values.
    pub(crate) form: &'a EventForm,
    /// What was wrong with them.
    pub(crate) errors: &'a FormErrors,
    /// The time zones offered.
    pub(crate) zones: &'a [String],
    /// The groups the identity may organize for: `(id, name)`.
    pub(crate) groups: &'a [(String, String)],
    /// Where the form posts.
    pub(crate) action: &'a str,
    /// Whether an existing event is edited (no group or audience choice then).
    pub(crate) editing: bool,
    /// The CSRF token.
    pub(crate) csrf: &'a str,
}

/// The form that creates or edits an event.
pub(crate) fn event_form(view: &EventFormView<'_>) -> Markup {
    let form = view.form;
    let errors = view.errors;
    let zones: Vec<(String, String)> = view.zones.iter().map(|z| (z.clone(), z.clone())).collect();
    let join_modes: Vec<(String, String)> = JOIN_MODES
        .iter()
        .map(|(v, t)| ((*v).to_owned(), (*t).to_owned()))
        .collect();
    let visibilities: Vec<(String, String)> = VISIBILITIES
        .iter()
        .map(|(v, t)| ((*v).to_owned(), (*t).to_owned()))
        .collect();
    let mut organizers = vec![(String::new(), "Myself".to_owned())];
    organizers.extend(view.groups.iter().cloned());
    html! {
        h1 { @if view.editing { "Edit the event" } @else { "New event" } }
        (error_summary(errors))
        form.event method="post" action=(view.action) novalidate {
            (csrf_input(view.csrf))
            fieldset {
                legend { "What" }
                (field(Field::text("title", "Title", &form.title).required().max_length(MAX_TITLE), errors))
                div.field.invalid[errors.get("description").is_some()] {
                    label for="description" { "Description" }
                    textarea #description name="description" rows="8"
                        aria-describedby="description-hint" { (form.description) }
                    @if let Some(error) = errors.get("description") {
                        p.error #description-error { (error) }
                    } @else {
                        p.hint #description-hint { "Plain text; leave a blank line between paragraphs." }
                    }
                }
            }
            fieldset {
                legend { "When" }
                (field(Field::text("starts", "Starts", &form.starts).kind("datetime-local").required(), errors))
                (field(Field::text("ends", "Ends (optional)", &form.ends).kind("datetime-local"), errors))
                (select("timezone", "Time zone", &zones, &form.timezone, errors))
            }
            fieldset {
                legend { "Where" }
                (field(Field::text("place_name", "Place", &form.place_name).hint("The venue's name; leave the place blank for an online event.").max_length(MAX_LINE), errors))
                (field(Field::text("street", "Street address", &form.street).max_length(MAX_LINE), errors))
                (field(Field::text("postal_code", "Postal code", &form.postal_code).max_length(MAX_LINE), errors))
                (field(Field::text("locality", "Town or city", &form.locality).max_length(MAX_LINE), errors))
                (field(Field::text("region", "Region", &form.region).max_length(MAX_LINE), errors))
                (field(Field::text("country", "Country", &form.country).max_length(MAX_LINE), errors))
                (field(Field::text("online_link", "Online link", &form.online_link).kind("url").hint("Where to join online (https://…); makes it an online event."), errors))
            }
            fieldset {
                legend { "Who" }
                (field(Field::text("capacity", "Seats", &form.capacity).kind("number").hint("Leave blank for no limit."), errors))
                (select("join_mode", "Who can join", &join_modes, &form.join_mode, errors))
                @if !view.editing {
                    (select("group", "Organized by", &organizers, &form.group, errors))
                    (select("visibility", "Who sees it", &visibilities, &form.visibility, errors))
                }
            }
            button type="submit" { @if view.editing { "Save the event" } @else { "Publish the event" } }
        }
    }
}

/// A participant waiting for, or holding, a seat.
pub(crate) struct ParticipantView {
    /// Who.
    pub(crate) actor: ActorView,
    /// The actor's id, which the decision form names.
    pub(crate) id: String,
}

/// The organizer's page of an event's participants: approve or reject those waiting.
pub(crate) fn participants(
    title: &str,
    event_page: &str,
    action: &str,
    pending: &[ParticipantView],
    accepted: &[ParticipantView],
    capacity: Option<u64>,
    csrf: &str,
) -> Markup {
    html! {
        h1 { "Participants of " a href=(event_page) { (title) } }
        @if let Some(capacity) = capacity.filter(|c| *c > 0) {
            p { (accepted.len()) " of " (capacity) " seats taken." }
        }
        section aria-labelledby="pending" {
            h2 #pending { "Waiting for approval (" (pending.len()) ")" }
            @if pending.is_empty() {
                p { "Nobody is waiting." }
            } @else {
                ul.people {
                    @for p in pending {
                        li {
                            (actor_link(&p.actor))
                            form.inline method="post" action=(action) {
                                (csrf_input(csrf))
                                input type="hidden" name="actor" value=(p.id);
                                button type="submit" name="decision" value="accept" { "Approve " (p.actor.name) }
                                " "
                                button type="submit" name="decision" value="reject" { "Reject " (p.actor.name) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="accepted" {
            h2 #accepted { "Taking part (" (accepted.len()) ")" }
            @if accepted.is_empty() {
                p { "Nobody yet." }
            } @else {
                ul.people { @for p in accepted { li { (actor_link(&p.actor)) } } }
            }
        }
    }
}

/// A short message page (after an action, or when it was refused).
pub(crate) fn message(title: &str, text: &str, back: Option<(&str, &str)>) -> Markup {
    html! {
        h1 { (title) }
        p { (text) }
        @if let Some((href, label)) = back {
            p { a href=(href) { (label) } }
        }
    }
}

/// The form that creates a group.
pub(crate) fn group_form(
    name: &str,
    display_name: &str,
    summary: &str,
    openness: &str,
    errors: &FormErrors,
    csrf: &str,
) -> Markup {
    let options: Vec<(String, String)> = OPENNESS
        .iter()
        .map(|(v, t)| ((*v).to_owned(), (*t).to_owned()))
        .collect();
    html! {
        h1 { "New group" }
        (error_summary(errors))
        form method="post" action="/groups/new" novalidate {
            (csrf_input(csrf))
            (field(Field::text("name", "Address name", name).hint("Letters a to z, digits, and the signs _ - and . only: the group's address is @name@this-server.").required().max_length(64), errors))
            (field(Field::text("display_name", "Display name", display_name).required().max_length(MAX_TITLE), errors))
            div.field {
                label for="summary" { "About the group" }
                textarea #summary name="summary" rows="4" { (summary) }
            }
            (select("openness", "Who can join", &options, openness, errors))
            button type="submit" { "Create the group" }
        }
    }
}

/// How people get into a group, as the forms offer it.
pub(crate) const OPENNESS: &[(&str, &str)] = &[
    (
        "moderated",
        "Anyone can ask; administrators and moderators approve",
    ),
    ("open", "Anyone can join at once"),
    ("invite_only", "By invitation only"),
];

/// A member of a group, or someone asking or invited.
pub(crate) struct MemberView {
    /// Who.
    pub(crate) actor: ActorView,
    /// The actor's id, which forms name.
    pub(crate) id: String,
    /// `administrator`, `moderator`, `member`, `not_approved` (asking) or `invited`.
    pub(crate) role: String,
}

/// What the group page shows a member about the group, and what staff may do there.
pub(crate) struct GroupManageView<'a> {
    /// The group's name (the local part of its address).
    pub(crate) name: &'a str,
    /// Its display name.
    pub(crate) display_name: &'a str,
    /// The group's page.
    pub(crate) page: &'a str,
    /// How people join it.
    pub(crate) openness: &'a str,
    /// Its members and the people asking or invited.
    pub(crate) members: &'a [MemberView],
    /// Whether the viewer may decide (administrator or moderator).
    pub(crate) staff: bool,
    /// A message from the last action (an invitation sent, a request decided).
    pub(crate) notice: Option<&'a str>,
    /// The CSRF token.
    pub(crate) csrf: &'a str,
}

/// The members of a group; for its staff, the requests to decide, the invitation form and
/// the openness setting.
pub(crate) fn group_manage(view: &GroupManageView<'_>) -> Markup {
    let base = format!("/groups/{}", view.name);
    let asking: Vec<&MemberView> = view
        .members
        .iter()
        .filter(|m| m.role == "not_approved")
        .collect();
    let invited: Vec<&MemberView> = view
        .members
        .iter()
        .filter(|m| m.role == "invited")
        .collect();
    let members: Vec<&MemberView> = view
        .members
        .iter()
        .filter(|m| matches!(m.role.as_str(), "administrator" | "moderator" | "member"))
        .collect();
    let options: Vec<(String, String)> = OPENNESS
        .iter()
        .map(|(v, t)| ((*v).to_owned(), (*t).to_owned()))
        .collect();
    let none = FormErrors::default();
    html! {
        h1 { "Members of " a href=(view.page) { (view.display_name) } }
        @if let Some(notice) = view.notice {
            p.notice role="status" { (notice) }
        }
        @if view.staff {
            section aria-labelledby="requests" {
                h2 #requests { "Asking to join (" (asking.len()) ")" }
                @if asking.is_empty() {
                    p { "Nobody is asking." }
                } @else {
                    ul.people {
                        @for m in &asking {
                            li {
                                (actor_link(&m.actor))
                                form.inline method="post" action={ (base) "/requests" } {
                                    (csrf_input(view.csrf))
                                    input type="hidden" name="actor" value=(m.id);
                                    button type="submit" name="decision" value="accept" { "Accept " (m.actor.name) }
                                    " "
                                    button type="submit" name="decision" value="reject" { "Refuse " (m.actor.name) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="invite" {
                h2 #invite { "Invite someone" }
                form method="post" action={ (base) "/invite" } {
                    (csrf_input(view.csrf))
                    (field(Field::text("handle", "Their address", "").hint("@name@server, on this server or another one.").required().max_length(300), &none))
                    button type="submit" { "Invite" }
                }
                @if !invited.is_empty() {
                    p { "Invited, not answered yet:" }
                    ul.people { @for m in &invited { li { (actor_link(&m.actor)) } } }
                }
            }
            section aria-labelledby="openness" {
                h2 #openness { "Who can join" }
                form method="post" action={ (base) "/openness" } {
                    (csrf_input(view.csrf))
                    (select("openness", "Joining", &options, view.openness, &none))
                    button type="submit" { "Save" }
                }
            }
        }
        section aria-labelledby="members" {
            h2 #members { "Members (" (members.len()) ")" }
            ul.people {
                @for m in &members {
                    li {
                        (actor_link(&m.actor))
                        @if m.role != "member" { " " span.role { "(" (m.role) ")" } }
                    }
                }
            }
        }
    }
}

/// An actor followed, or asked to be followed, by the viewer's identity.
pub(crate) struct FollowingView {
    /// Whom.
    pub(crate) actor: ActorView,
    /// `pending`, `accepted` or `rejected`.
    pub(crate) state: String,
}

/// The page that follows someone on another server by `@name@host`, and lists whom the
/// identity follows.
pub(crate) fn follow_page(
    handle: &str,
    error: Option<&str>,
    notice: Option<&str>,
    following: &[FollowingView],
    csrf: &str,
) -> Markup {
    let mut errors = FormErrors::default();
    if let Some(error) = error {
        errors.add("handle", error);
    }
    html! {
        h1 { "Follow" }
        @if let Some(notice) = notice {
            p.notice role="status" { (notice) }
        }
        form method="post" action="/follow" novalidate {
            (csrf_input(csrf))
            (field(Field::text("handle", "Address of a group or a person", handle).hint("@name@server (a Mobilizon group, a PeerTube channel, a person on any server).").required().max_length(300), &errors))
            button type="submit" { "Follow" }
        }
        section aria-labelledby="following" {
            h2 #following { "You follow" }
            @if following.is_empty() {
                p { "Nobody yet." }
            } @else {
                ul.people {
                    @for f in following {
                        li {
                            (actor_link(&f.actor))
                            @match f.state.as_str() {
                                "pending" => { " " span.state { "(waiting for approval)" } },
                                "rejected" => { " " span.state { "(refused)" } },
                                _ => {},
                            }
                        }
                    }
                }
            }
        }
    }
}
