//! [`Layout`]: the frame around every page, which each instance draws its own way.

use maud::{DOCTYPE, Markup, html};

use crate::csrf::csrf_field;
use crate::session::Viewer;

/// Where [`DefaultLayout`]'s stylesheet is served (by [`account_routes`](crate::account_routes)).
pub const STYLESHEET_PATH: &str = "/assets/instance-web.css";

/// The stylesheet served at [`STYLESHEET_PATH`].
pub(crate) const STYLESHEET: &str = include_str!("../assets/instance-web.css");

/// Draws a whole page around `body`: the instance's look and navigation. The account pages
/// of this crate, its refusals and the app's own pages go through the same layout.
///
/// A layout must keep to [`CONTENT_SECURITY_POLICY`](crate::CONTENT_SECURITY_POLICY): no
/// inline `<script>` or `<style>`, no `style` attribute; stylesheets are served from this
/// site. Everything it shows from a person (a display name) goes through maud's escaping.
pub trait Layout: Send + Sync + 'static {
    /// The page titled `title` with `body` (which holds its own `<h1>`), for `viewer`; `head`
    /// goes in `<head>` after the layout's own elements (a page's `link rel="alternate"` to
    /// its ActivityPub document, say; empty for most pages).
    fn page(&self, viewer: Option<&Viewer>, title: &str, head: Markup, body: Markup) -> Markup;
}

/// A plain layout: a navigation bar (the site's name and the app's links; signed in, the
/// current identity, the account pages, the moderators' links for moderators, the
/// administrators' links for administrators and a sign-out button; signed out, sign in and
/// sign up), a viewport for phones, a skip link for keyboards, and the stylesheet at
/// [`STYLESHEET_PATH`].
#[derive(Debug, Clone)]
pub struct DefaultLayout {
    site_name: String,
    links: Vec<(String, String)>,
    moderator_links: Vec<(String, String)>,
    admin_links: Vec<(String, String)>,
}

impl DefaultLayout {
    /// The layout of a site named `site_name`.
    pub fn new(site_name: impl Into<String>) -> Self {
        Self {
            site_name: site_name.into(),
            links: Vec::new(),
            moderator_links: vec![("/admin/signups".to_owned(), "Sign-ups".to_owned())],
            admin_links: Vec::new(),
        }
    }

    /// Adds a link shown to everyone after the site's name (`("/search", "Search")`).
    pub fn with_link(mut self, path: impl Into<String>, label: impl Into<String>) -> Self {
        self.links.push((path.into(), label.into()));
        self
    }

    /// Adds a link shown to moderators only, after the sign-ups (`("/moderation",
    /// "Moderation")`).
    pub fn with_moderator_link(
        mut self,
        path: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        self.moderator_links.push((path.into(), label.into()));
        self
    }

    /// Adds a link shown to administrators only, after the moderators' links
    /// (`("/admin/relays", "Relays")`).
    pub fn with_admin_link(mut self, path: impl Into<String>, label: impl Into<String>) -> Self {
        self.admin_links.push((path.into(), label.into()));
        self
    }
}

impl Layout for DefaultLayout {
    fn page(&self, viewer: Option<&Viewer>, title: &str, head: Markup, body: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (self.site_name) }
                    link rel="stylesheet" href=(STYLESHEET_PATH);
                    (head)
                }
                body {
                    a class="skip" href="#main" { "Skip to content" }
                    header class="site" {
                        nav aria-label="Site" {
                            ul {
                                li { a href="/" { strong { (self.site_name) } } }
                                @for (path, label) in &self.links {
                                    li { a href=(path) { (label) } }
                                }
                                @if let Some(viewer) = viewer {
                                    li {
                                        a href="/account/identities" {
                                            @match &viewer.identity {
                                                Some(actor) => { (actor.display_name) " (@" (actor.name) ")" }
                                                None => { (viewer.account.username) }
                                            }
                                        }
                                    }
                                    li { a href="/account/password" { "Password" } }
                                    @if viewer.moderates() {
                                        @for (path, label) in &self.moderator_links {
                                            li { a href=(path) { (label) } }
                                        }
                                    }
                                    @if viewer.administers() {
                                        @for (path, label) in &self.admin_links {
                                            li { a href=(path) { (label) } }
                                        }
                                    }
                                    li {
                                        form method="post" action="/logout" {
                                            (csrf_field(viewer))
                                            button class="link" type="submit" { "Sign out" }
                                        }
                                    }
                                } @else {
                                    li { a href="/login" { "Sign in" } }
                                    li { a href="/signup" { "Sign up" } }
                                }
                            }
                        }
                    }
                    main id="main" { (body) }
                }
            }
        }
    }
}
