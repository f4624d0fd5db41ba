//! Channel and account pages, and following from the pages.
//!
//! A local channel's page (`/c/{name}`) and an account's (`/a/{name}`), also served to a
//! browser asking for the actor's id (`/actors/{name}`), show its profile, its followers'
//! number, its feeds and the videos the reader may see, with a Follow or Unfollow button for
//! whoever is signed in. `/follow` lets a signed-in person follow a channel or an account, here
//! or on another server, by its handle (`@name@host`) or its address, and lists and undoes what
//! its identity follows. Following a remote channel is what brings its videos here (the inbox
//! keeps what followed actors send).

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::StatusCode;
use instance_state::actors::{ActorKind, LocalActor};
use instance_state::follows::FollowState;
use instance_web::{CsrfForm, MaybeViewer, Viewer, csrf_field};
use maud::{Markup, PreEscaped, html};
use tracing::warn;

use crate::db::Listing;
use crate::pages::{host_name, message_page, scope_of, video_card};
use crate::web::Site;
use instance_server::WithParts as _;

/// How many videos an actor's page lists.
const PAGE_VIDEOS: i64 = 48;

/// How many follows the follow page lists.
const LISTED_FOLLOWS: u64 = 500;

/// The path of local actor `name`'s page: `/c/{name}` for a channel, `/a/{name}` for an
/// account.
pub(crate) fn page_path(actor: &LocalActor) -> String {
    match actor.kind {
        ActorKind::Group => format!("/c/{}", actor.name),
        _ => format!("/a/{}", actor.name),
    }
}

/// Whether local actor `name` has a page here: a channel or an account, not deleted.
pub(crate) async fn has_page(site: &Site, name: &str) -> bool {
    matches!(
        site.instance.state().actor(name).await,
        Ok(Some(actor)) if !actor.deleted && matches!(actor.kind, ActorKind::Group | ActorKind::Person)
    )
}

/// `GET /c/{name}`: a local channel's page.
pub(crate) async fn channel_page(
    State(site): State<Site>,
    MaybeViewer(viewer): MaybeViewer,
    Path(name): Path<String>,
) -> Response {
    actor_page(&site, viewer.as_ref(), &name, Some(ActorKind::Group)).await
}

/// `GET /a/{name}`: a local account's page.
pub(crate) async fn account_page(
    State(site): State<Site>,
    MaybeViewer(viewer): MaybeViewer,
    Path(name): Path<String>,
) -> Response {
    actor_page(&site, viewer.as_ref(), &name, Some(ActorKind::Person)).await
}

/// The page of local actor `name` (a channel or an account; of `kind` when given), or a `404`
/// page.
pub(crate) async fn actor_page(
    site: &Site,
    viewer: Option<&Viewer>,
    name: &str,
    kind: Option<ActorKind>,
) -> Response {
    let not_found = || {
        message_page(
            site,
            viewer,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no channel or account here by that name.",
        )
    };
    let actor = match site.instance.state().actor(name).await {
        Ok(Some(actor)) => actor,
        Ok(None) => return not_found(),
        Err(error) => return internal(site, viewer, &error.into()),
    };
    let shown = matches!(actor.kind, ActorKind::Group | ActorKind::Person)
        && kind.is_none_or(|kind| kind == actor.kind)
        && !actor.deleted;
    if !shown {
        return not_found();
    }
    match actor_body(site, viewer, &actor).await {
        Ok((head, body)) => {
            let page = site
                .web
                .layout()
                .page(viewer, &actor.display_name, head, body);
            Html(page.into_string()).into_response()
        }
        Err(error) => internal(site, viewer, &error),
    }
}

/// A `500` page; the cause is logged.
fn internal(site: &Site, viewer: Option<&Viewer>, error: &anyhow::Error) -> Response {
    warn!(error = %format!("{error:#}"), "a channel or account page failed");
    message_page(
        site,
        viewer,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not show this page. Please try again later.",
    )
}

/// The page's head (the actor document and feeds) and body.
async fn actor_body(
    site: &Site,
    viewer: Option<&Viewer>,
    actor: &LocalActor,
) -> anyhow::Result<(Markup, Markup)> {
    let instance = &site.instance;
    let id = instance.actor_id(&actor.name).to_string();
    let channel = actor.kind == ActorKind::Group;
    let owner = if channel {
        instance.db().channel_owner(&actor.name).await?
    } else {
        None
    };
    let channels = if channel {
        Vec::new()
    } else {
        instance.db().channels_of(&actor.name).await?
    };
    let followers = instance
        .state()
        .follower_count(&id, FollowState::Accepted)
        .await?;
    let scope = scope_of(site, viewer).await?;
    let listing = if channel {
        Listing {
            channel: Some(id.clone()),
            ..Listing::default()
        }
    } else {
        Listing {
            account: Some(id.clone()),
            ..Listing::default()
        }
    };
    let videos = instance
        .db()
        .videos(&listing, &scope, 0, PAGE_VIDEOS)
        .await?;
    // The viewer's identity and its follow of this actor, unless it is this actor itself.
    let follow = match viewer.and_then(|v| v.identity.as_ref().map(|i| (v, i))) {
        Some((viewer, identity)) if identity.name != actor.name => {
            let me = instance.actor_id(&identity.name).to_string();
            let state = instance
                .state()
                .follow(&me, &id)
                .await?
                .map(|follow| follow.state);
            Some((viewer, state))
        }
        _ => None,
    };
    let feed_parameter = if channel {
        "videoChannelName"
    } else {
        "accountName"
    };
    let feed =
        |extension: &str| format!("/feeds/videos.{extension}?{feed_parameter}={}", actor.name);
    let head = html! {
        link rel="alternate" type="application/activity+json" href=(id);
        link rel="alternate" type="application/rss+xml" title=(format!("{} (RSS)", actor.display_name))
            href=(feed("xml"));
        link rel="alternate" type="application/atom+xml" title=(format!("{} (Atom)", actor.display_name))
            href=(feed("atom"));
    };
    let body = html! {
        h1 { (actor.display_name) }
        p.handle { "@" (host_name(&id)) }
        p.kind {
            @if channel { "A channel" } @else { "An account" }
            @if let Some(owner) = &owner {
                " of " a href=(format!("/a/{owner}")) { (owner) }
            }
            " · " span.followers { (followers) " follower" @if followers != 1 { "s" } }
            " · " a href=(feed("xml")) { "RSS feed" }
        }
        @if !actor.summary.is_empty() {
            // Made safe when it was stored, and again here.
            div.summary { (PreEscaped(federation::sanitize::sanitize_html(&actor.summary))) }
        }
        @match &follow {
            Some((viewer, Some(state))) => {
                form method="post" action="/unfollow" {
                    (csrf_field(viewer))
                    input type="hidden" name="handle" value=(id);
                    input type="hidden" name="back" value=(page_path(actor));
                    @if *state == FollowState::Pending {
                        p { "Your follow request waits for approval. "
                            button type="submit" { "Withdraw the request" } }
                    } @else {
                        p { "You follow " (actor.display_name) ". "
                            button type="submit" { "Unfollow" } }
                    }
                }
            }
            Some((viewer, None)) => {
                form method="post" action="/follow" {
                    (csrf_field(viewer))
                    input type="hidden" name="handle" value=(id);
                    input type="hidden" name="back" value=(page_path(actor));
                    p { button type="submit" { "Follow" } }
                }
            }
            None => {
                @if viewer.is_none() {
                    p { "Follow it from any server that speaks ActivityPub (Mastodon, PeerTube and others) at "
                        code { "@" (host_name(&id)) } ", or " a href="/login" { "sign in" } " to follow it from here." }
                }
            }
        }
        @if !channels.is_empty() {
            section aria-labelledby="channels-title" {
                h2 #channels-title { "Channels" }
                ul.channels {
                    @for name in &channels { li { a href=(format!("/c/{name}")) { (name) } } }
                }
            }
        }
        section aria-labelledby="videos-title" {
            h2 #videos-title { "Videos" }
            @if videos.is_empty() {
                p { "No videos yet." }
            } @else {
                ul.videos { @for video in &videos { li { (video_card(video)) } } }
            }
        }
    };
    Ok((head, body))
}

/// What the follow forms send.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct FollowForm {
    /// `@name@host`, or an actor's address.
    handle: String,
    /// Where to go after (a path here); the follow page when absent.
    #[serde(default)]
    back: Option<String>,
}

/// What the follow page is told after an action.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Notice {
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /follow`: the form and what the identity follows.
pub(crate) async fn follow_page(
    State(site): State<Site>,
    viewer: Viewer,
    Query(notice): Query<Notice>,
) -> Response {
    let notice = match notice.notice.as_deref() {
        Some("following") => Some("Follow sent."),
        Some("unfollowed") => Some("You no longer follow it."),
        _ => None,
    };
    follow_response(&site, &viewer, "", None, notice).await
}

async fn follow_response(
    site: &Site,
    viewer: &Viewer,
    handle: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let Some(identity) = viewer.identity.as_ref() else {
        return no_identity(site, viewer);
    };
    let me = site.instance.actor_id(&identity.name).to_string();
    let mut follows = Vec::new();
    for state in [FollowState::Accepted, FollowState::Pending] {
        match site
            .instance
            .state()
            .following(&me, state, 0, LISTED_FOLLOWS)
            .await
        {
            Ok(found) => follows.extend(found),
            Err(error) => return internal(site, Some(viewer), &error.into()),
        }
    }
    let body = html! {
        h1 { "Follow" }
        @if let Some(notice) = notice { p role="status" { (notice) } }
        form method="post" action="/follow" {
            (csrf_field(viewer))
            p {
                label for="handle" { "Channel or account (@name@server, or its address)" }
                " "
                input id="handle" name="handle" required value=(handle)
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "handle-error")];
            }
            @if let Some(error) = error { p #handle-error role="alert" { (error) } }
            p { button type="submit" { "Follow" } }
        }
        section aria-labelledby="following-title" {
            h2 #following-title { "You follow" }
            @if follows.is_empty() {
                p { "Nothing yet. Follow a channel to see its videos here." }
            } @else {
                ul.following {
                    @for follow in &follows {
                        li {
                            a href=(follow.followed) { (host_name(&follow.followed)) }
                            @if follow.state == FollowState::Pending { " (waiting for approval)" }
                            " "
                            form.inline method="post" action="/unfollow" {
                                (csrf_field(viewer))
                                input type="hidden" name="handle" value=(follow.followed);
                                button type="submit" aria-label=(format!("Unfollow {}", host_name(&follow.followed))) {
                                    "Unfollow"
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = site
        .web
        .layout()
        .page(Some(viewer), "Follow", html! {}, body);
    (status, Html(page.into_string())).into_response()
}

fn no_identity(site: &Site, viewer: &Viewer) -> Response {
    message_page(
        site,
        Some(viewer),
        StatusCode::FORBIDDEN,
        "No identity",
        "Your account has no identity to follow with.",
    )
}

/// Where to go back to: a path here, never another site.
fn back_to(back: Option<&str>, default: &str) -> String {
    match back {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => default.to_owned(),
    }
}

/// `POST /follow`: the identity follows the actor the form names.
pub(crate) async fn follow(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<FollowForm>,
) -> Response {
    let Some(identity) = viewer.identity.as_ref() else {
        return no_identity(&site, &viewer);
    };
    let target = match site.moderation.resolve_actor(&form.handle).await {
        Ok(target) => target,
        Err(message) => {
            return follow_response(&site, &viewer, &form.handle, Some(&message), None).await;
        }
    };
    let me = site.instance.actor_id(&identity.name);
    if target == me.as_str() {
        return follow_response(
            &site,
            &viewer,
            &form.handle,
            Some("You cannot follow yourself."),
            None,
        )
        .await;
    }
    if let Err(message) = followable(&site, &target).await {
        return follow_response(&site, &viewer, &form.handle, Some(&message), None).await;
    }
    match site.instance.follow(&identity.name, &target).await {
        Ok(()) => {
            Redirect::to(&back_to(form.back.as_deref(), "/follow?notice=following")).into_response()
        }
        Err(error) => internal(&site, Some(&viewer), &error),
    }
}

/// Whether `target` is an actor that can be followed: a local channel or account, or a remote
/// actor (fetched, within the fetcher's bounds) with an inbox. The error is for people.
async fn followable(site: &Site, target: &str) -> Result<(), String> {
    let state = site.instance.state();
    if let Some(name) = state.local_name(target) {
        return match state.actor(&name).await {
            Ok(Some(actor))
                if !actor.deleted && matches!(actor.kind, ActorKind::Group | ActorKind::Person) =>
            {
                Ok(())
            }
            Ok(_) => Err("There is no channel or account here by that name.".to_owned()),
            Err(error) => {
                warn!(%error, "reading a local actor");
                Err("The server could not check this account. Please try again later.".to_owned())
            }
        };
    }
    match site.instance.remote_actor(target).await {
        Ok(_) => Ok(()),
        Err(error) => Err(format!(
            "No account could be read at this address ({error:#})."
        )),
    }
}

/// `POST /unfollow`: the identity stops following the actor the form names (or withdraws its
/// request).
pub(crate) async fn unfollow(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<FollowForm>,
) -> Response {
    let Some(identity) = viewer.identity.as_ref() else {
        return no_identity(&site, &viewer);
    };
    match site
        .instance
        .unfollow(&identity.name, form.handle.trim())
        .await
    {
        Ok(_) => Redirect::to(&back_to(form.back.as_deref(), "/follow?notice=unfollowed"))
            .into_response(),
        Err(error) => internal(&site, Some(&viewer), &error),
    }
}

#[cfg(test)]
mod tests {
    use super::back_to;

    #[test]
    fn going_back_stays_on_this_site() {
        assert_eq!(back_to(Some("/c/films"), "/follow"), "/c/films");
        assert_eq!(back_to(None, "/follow"), "/follow");
        assert_eq!(back_to(Some("//evil.example/x"), "/follow"), "/follow");
        assert_eq!(back_to(Some("https://evil.example/"), "/follow"), "/follow");
        assert_eq!(back_to(Some("/\\evil.example"), "/follow"), "/follow");
    }
}
