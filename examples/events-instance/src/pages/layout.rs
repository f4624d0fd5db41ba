//! The events instance's frame around every page: the navigation (upcoming events, a new
//! event, groups, following, moderation for moderators, the identity and its switch), and the
//! stylesheets. No inline script or style: the pages keep to `instance-web`'s
//! Content-Security-Policy.

use instance_web::{Layout, STYLESHEET_PATH, Viewer, csrf_field};
use maud::{DOCTYPE, Markup, html};

/// Where the events instance's own stylesheet is served.
pub(crate) const EVENTS_STYLESHEET_PATH: &str = "/assets/events.css";

/// The events instance's stylesheet (on top of `instance-web`'s).
pub(crate) const EVENTS_STYLESHEET: &str = include_str!("events.css");

/// The layout of an events instance named `site_name`.
#[derive(Debug, Clone)]
pub(crate) struct EventsLayout {
    site_name: String,
}

impl EventsLayout {
    /// The layout of the instance named `site_name`.
    pub(crate) fn new(site_name: impl Into<String>) -> Self {
        Self {
            site_name: site_name.into(),
        }
    }
}

impl Layout for EventsLayout {
    fn page(&self, viewer: Option<&Viewer>, title: &str, head: Markup, body: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (self.site_name) }
                    link rel="stylesheet" href=(STYLESHEET_PATH);
                    link rel="stylesheet" href=(EVENTS_STYLESHEET_PATH);
                    (head)
                }
                body {
                    a.skip href="#main" { "Skip to content" }
                    header.site {
                        nav aria-label="Site" {
                            ul {
                                li { a href="/" { strong { (self.site_name) } } }
                                @if let Some(viewer) = viewer {
                                    li { a href="/events/new" { "New event" } }
                                    li { a href="/groups" { "Groups" } }
                                    li { a href="/follow" { "Follow" } }
                                    @if viewer.moderates() {
                                        li { a href="/moderation" { "Moderation" } }
                                        li { a href="/admin/signups" { "Sign-ups" } }
                                    }
                                    li {
                                        a href="/account/identities" title="Your identities: switch or add one" {
                                            @match &viewer.identity {
                                                Some(actor) => { (actor.display_name) " (@" (actor.name) ")" }
                                                None => { (viewer.account.username) }
                                            }
                                        }
                                    }
                                    li { a href="/account/password" { "Password" } }
                                    li {
                                        form method="post" action="/logout" {
                                            (csrf_field(viewer))
                                            button.link type="submit" { "Sign out" }
                                        }
                                    }
                                } @else {
                                    li { a href="/login" { "Sign in" } }
                                    li { a href="/signup" { "Sign up" } }
                                }
                            }
                        }
                    }
                    main #main { (body) }
                }
            }
        }
    }
}
