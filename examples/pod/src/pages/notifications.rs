//! The notifications page, and the count of unseen ones every page shows a signed-in person.
//!
//! The layout (`instance-web`'s, drawn without I/O) cannot read the database, so a middleware
//! counts the viewer's unseen notifications before the page is made and hands the number to
//! the layout through a task-local value; the notifications page, which marks them seen, sets
//! it back to zero.

use std::cell::Cell;

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use instance_state::moderation::Notification;
use instance_web::{Layout, MaybeViewer, Viewer};
use maud::{Markup, html};

use super::{page_or_error, person_href, post_href, when};
use crate::notifications::kind;
use crate::web::Site;

/// The most notifications the page shows, and counted.
const PAGE: u64 = 100;

tokio::task_local! {
    /// The signed-in viewer's unseen notifications, for the layout.
    static UNSEEN: Cell<u64>;
}

/// The pod's layout: instance-web's, with the number of unseen notifications at the top of
/// the page of a signed-in person who has some.
pub(crate) struct PodLayout(pub(crate) instance_web::DefaultLayout);

impl Layout for PodLayout {
    fn page(&self, viewer: Option<&Viewer>, title: &str, head: Markup, body: Markup) -> Markup {
        let unseen = UNSEEN.try_with(Cell::get).unwrap_or(0);
        let body = html! {
            @if viewer.is_some() && unseen > 0 {
                p class="notice" role="status" {
                    a href="/notifications" {
                        (unseen) @if unseen >= PAGE { "+" }
                        " new notification" @if unseen != 1 { "s" }
                    }
                }
            }
            (body)
        };
        self.0.page(viewer, title, head, body)
    }
}

/// Around the pages: counts the signed-in viewer's unseen notifications for the layout.
pub(crate) async fn count_unseen(
    State(site): State<Site>,
    request: Request,
    next: Next,
) -> Response {
    let signed_in = request
        .headers()
        .get(http::header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.contains("session="));
    if !signed_in {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let identity = match MaybeViewer::from_request_parts(&mut parts, &site).await {
        Ok(MaybeViewer(Some(viewer))) => viewer.identity.map(|actor| actor.name),
        _ => None,
    };
    let request = Request::from_parts(parts, body);
    let unseen = match identity {
        Some(name) => {
            let me = site.instance.actor_id(&name).to_string();
            match site.instance.state().notifications(&me, true, PAGE).await {
                Ok(unseen) => unseen.len() as u64,
                Err(error) => {
                    tracing::warn!(%error, "counting notifications");
                    0
                }
            }
        }
        None => 0,
    };
    UNSEEN.scope(Cell::new(unseen), next.run(request)).await
}

/// `GET /notifications`: the newest notifications, the unseen ones marked; seen from then on.
pub(crate) async fn page(State(site): State<Site>, viewer: Viewer) -> Response {
    let result = async {
        let Some(name) = viewer.identity_name() else {
            return Ok(super::back("/"));
        };
        let me = site.instance.actor_id(name).to_string();
        let state = site.instance.state();
        let notifications = state.notifications(&me, false, PAGE).await?;
        state.mark_notifications_seen(&me).await?;
        let _ = UNSEEN.try_with(|unseen| unseen.set(0));
        let mut items = Vec::new();
        for notification in &notifications {
            items.push(item(&site, notification).await);
        }
        Ok(site.web.page(
            Some(&viewer),
            "Notifications",
            html! {
                h1 { "Notifications" }
                @if items.is_empty() { p { "Nothing yet." } }
                ul class="notifications" {
                    @for item in items { (item) }
                }
            },
        ))
    }
    .await;
    page_or_error(&site, result)
}

/// One notification: who did what, with links to them and to the post.
async fn item(site: &Site, notification: &Notification) -> Markup {
    let (name, handle) = site.instance.actor_label(&notification.actor).await;
    let (what, link) = match notification.kind.as_str() {
        kind::MENTION => ("mentioned you in", "a post"),
        kind::ADDRESSED => ("wrote to you:", "see the post"),
        kind::REPLY => ("commented on your post:", "see the comment"),
        kind::LIKE => ("liked", "your post"),
        kind::RESHARE => ("reshared", "your post"),
        "follow" => ("started following you", ""),
        "follow_request" => ("asks to follow you", ""),
        _ => ("did something about", "this"),
    };
    let object = notification
        .object
        .as_deref()
        .filter(|_| !matches!(notification.kind.as_str(), "follow" | "follow_request"));
    html! {
        li class=(if notification.seen.is_none() { "unseen" } else { "seen" }) {
            a href=(person_href(site, &notification.actor)) { strong { (name) } }
            " (" (handle) ") " (what)
            @if let Some(object) = object {
                " " a href=(post_href(site, object)) { (link) }
            }
            " · " (when(notification.created))
        }
    }
}
