//! A person's page (local, at its actor's address; remote, at `/people?id=`), and following:
//! the follow form (`@name@host` found with WebFinger, or an address) and the buttons.

use axum::extract::{Query, State};
use axum::response::Response;
use http::StatusCode;
use instance_state::follows::FollowState;
use instance_web::{CsrfForm, MaybeViewer, Viewer, csrf_field};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::{back, message, page_or_error, person_href, post_cards};
use crate::web::Site;

/// How many posts a person's page shows.
const PAGE: i64 = 40;

/// The page of local person `name`.
pub(crate) async fn local_person(site: &Site, viewer: Option<&Viewer>, name: &str) -> Response {
    let result = async {
        let instance = &site.instance;
        let Some(actor) = instance.state().actor(name).await?.filter(|a| !a.deleted) else {
            return Ok(message(
                site,
                viewer,
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nobody by that name here.",
            ));
        };
        let id = instance.actor_id(name).to_string();
        let fields = instance.db().profile_fields(&id).await?;
        let head = html! {
            @if let Some(banner) = &actor.image {
                img class="banner" src=(banner) alt="";
            }
            @if let Some(avatar) = &actor.icon {
                img class="avatar" src=(avatar) alt="" width="96" height="96";
            }
            h1 { (actor.display_name) }
            p class="handle" { "@" (actor.name) "@" (instance.authority()) }
            div class="bio" { (PreEscaped(federation::sanitize::sanitize_html(&actor.summary))) }
            @if !fields.is_empty() {
                dl class="fields" {
                    @for field in &fields {
                        dt { (field.name) }
                        dd { (PreEscaped(federation::sanitize::sanitize_html(&field.value))) }
                    }
                }
            }
        };
        person_page(site, viewer, &id, &actor.display_name, head).await
    }
    .await;
    page_or_error(site, result)
}

/// `?id=`.
#[derive(Debug, Deserialize)]
pub(crate) struct IdQuery {
    id: String,
}

/// `GET /people?id=`: a person from elsewhere, and their posts kept here.
pub(crate) async fn remote_person(
    State(site): State<Site>,
    MaybeViewer(viewer): MaybeViewer,
    Query(query): Query<IdQuery>,
) -> Response {
    let result = async {
        let (name, handle) = site.instance.actor_label(&query.id).await;
        let head = html! {
            h1 { (name) }
            p class="handle" { (handle) }
            @if query.id.starts_with("https://") || query.id.starts_with("http://") {
                p { a href=(query.id) rel="noopener noreferrer nofollow" { "Their profile on their server" } }
            }
        };
        person_page(&site, viewer.as_ref(), &query.id, &name, head).await
    }
    .await;
    page_or_error(&site, result)
}

/// A person's page: `head`, the follow button, and the posts the viewer may read.
async fn person_page(
    site: &Site,
    viewer: Option<&Viewer>,
    id: &str,
    title: &str,
    head: Markup,
) -> anyhow::Result<Response> {
    let instance = &site.instance;
    let identity = viewer
        .and_then(|v| v.identity.as_ref())
        .map(|i| i.name.clone());
    let scope = instance.viewer_scope(identity.as_deref()).await?;
    let posts = instance.db().posts_by(id, &scope, 0, PAGE).await?;
    let cards = post_cards(site, viewer, &posts, true).await?;
    let followers = instance
        .state()
        .follower_count(id, FollowState::Accepted)
        .await?;
    let me = identity
        .as_deref()
        .map(|n| instance.actor_id(n).to_string());
    let follow = match &me {
        Some(me) if me != id => Some(instance.state().follow(me, id).await?.map(|f| f.state)),
        _ => None,
    };
    let href = person_href(site, id);
    let moved = super::moving::moved_banner(site, id).await?;
    Ok(site.web.page(
        viewer,
        title,
        html! {
            (head)
            (moved)
            p { (followers) " follower" @if followers != 1 { "s" } }
            @if let (Some(viewer), Some(follow)) = (viewer, follow) {
                @match follow {
                    Some(FollowState::Accepted) | Some(FollowState::Pending) => {
                        form method="post" action="/unfollow" {
                            (csrf_field(viewer))
                            input type="hidden" name="actor" value=(id);
                            input type="hidden" name="back" value=(href);
                            @if follow == Some(FollowState::Pending) { p { "Your follow request waits for approval." } }
                            button type="submit" { "Unfollow" }
                        }
                    }
                    _ => {
                        form method="post" action="/follow" {
                            (csrf_field(viewer))
                            input type="hidden" name="actor" value=(id);
                            input type="hidden" name="back" value=(href);
                            button type="submit" { "Follow" }
                        }
                    }
                }
            }
            h2 { "Posts" }
            @if cards.is_empty() { p { "No posts to show." } }
            @for card in cards { (card) }
        },
    ))
}

/// `GET /follow`: follow someone by their address.
pub(crate) async fn follow_page(State(site): State<Site>, viewer: Viewer) -> Response {
    site.web.page(
        Some(&viewer),
        "Follow someone",
        html! {
            h1 { "Follow someone" }
            form method="post" action="/follow" {
                (csrf_field(&viewer))
                label for="actor" { "Their address (@name@server)" }
                input type="text" id="actor" name="actor" required;
                button type="submit" { "Follow" }
            }
        },
    )
}

/// The follow and unfollow forms.
#[derive(Debug, Deserialize)]
pub(crate) struct FollowForm {
    actor: String,
    #[serde(default)]
    back: Option<String>,
}

/// `POST /follow`.
pub(crate) async fn follow(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<FollowForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let target = match site.moderation.resolve_actor(&form.actor).await {
        Ok(target) => target,
        Err(reason) => {
            return message(
                &site,
                Some(&viewer),
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not found",
                &reason,
            );
        }
    };
    if target == site.instance.actor_id(&name).as_str() {
        return message(
            &site,
            Some(&viewer),
            StatusCode::UNPROCESSABLE_ENTITY,
            "That is you",
            "You cannot follow yourself.",
        );
    }
    let result = async {
        site.instance.follow(&name, &target).await?;
        if let Err(error) = site.instance.remember_actor(&target).await {
            tracing::debug!(%error, %target, "naming a followed actor");
        }
        Ok(back(
            form.back
                .as_deref()
                .unwrap_or(&super::person_href(&site, &target)),
        ))
    }
    .await;
    page_or_error(&site, result)
}

/// `POST /unfollow`.
pub(crate) async fn unfollow(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<FollowForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let result = async {
        site.instance.unfollow(&name, &form.actor).await?;
        Ok(back(form.back.as_deref().unwrap_or("/")))
    }
    .await;
    page_or_error(&site, result)
}
