//! The playlists' pages: the list (`/video-playlists`: the public ones, and the reader's own
//! with the form making one), a playlist's page at its id (`/video-playlists/{uuid}`, for a
//! browser; its videos in order, with the owner's forms to move, remove, edit and delete), an
//! actor's playlists (`/actors/{name}/playlists`, for a browser), and the watch page's "Save to
//! playlist" forms. Every form carries a CSRF token and works without JavaScript.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};
use instance_web::{CsrfForm, MaybeViewer, Viewer, csrf_field};
use maud::{Markup, html};
use serde::Deserialize;
use tracing::warn;

use super::{PlaylistFields, PlaylistRow, Privacy, Refused, Shown, privacy_of};
use crate::db::VideoRow;
use crate::pages::{duration_text, host_name, message_page, scope_of};
use crate::web::Site;
use instance_server::WithParts as _;

/// The playlists' page routes (the embed and the API are in their modules).
pub(crate) fn router() -> Router<Site> {
    Router::new()
        .route("/video-playlists", get(list_page))
        .route("/video-playlists/create", post(create))
        .route("/video-playlists/add", post(add))
        .route("/video-playlists/{uuid}/move", post(move_element))
        .route("/video-playlists/{uuid}/remove", post(remove))
        .route("/video-playlists/{uuid}/edit", post(edit))
        .route("/video-playlists/{uuid}/delete", post(delete))
        .route(
            "/video-playlists/embed/{uuid}",
            get(super::embed::embed_page),
        )
}

/// The most of a person's playlists listed (per identity).
const MAX_OWN_PLAYLISTS: i64 = 200;

/// The names of `viewer`'s identities.
fn identities(viewer: Option<&Viewer>) -> Vec<String> {
    viewer
        .map(|v| v.identities.iter().map(|i| i.name.clone()).collect())
        .unwrap_or_default()
}

/// The privacy choices of a form, `selected` chosen.
fn privacy_select(selected: Privacy) -> Markup {
    html! {
        label for="privacy" { "Privacy" }
        select id="privacy" name="privacy" {
            @for (privacy, text) in [
                (Privacy::Public, "Public: listed and federated"),
                (Privacy::Unlisted, "Unlisted: anyone with the link"),
                (Privacy::Private, "Private: only me"),
            ] {
                option value=(privacy.number()) selected[privacy == selected] { (text) }
            }
        }
    }
}

/// A page, or the `500` that says nothing of the cause (logged).
fn page_response(page: anyhow::Result<Markup>) -> Response {
    match page {
        Ok(markup) => {
            let mut response = Html(markup.into_string()).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::VARY, HeaderValue::from_static("Accept, Cookie"));
            response
        }
        Err(error) => {
            warn!(%error, "a playlist page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
        }
    }
}

/// The page of a refused change: why, with the status it deserves.
fn refused(site: &Site, viewer: &Viewer, error: Refused) -> Response {
    let (status, message) = match &error {
        Refused::NotFound(message) => (StatusCode::NOT_FOUND, (*message).to_owned()),
        Refused::Invalid(message) => (StatusCode::UNPROCESSABLE_ENTITY, message.clone()),
        Refused::Internal(cause) => {
            warn!(error = %cause, "a playlist change failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong".to_owned(),
            )
        }
    };
    message_page(site, Some(viewer), status, "Playlist not changed", &message)
}

/// A playlist in a list: its name linking to its page, its owner, its privacy when not public.
fn playlist_card(playlist: &PlaylistRow) -> Markup {
    html! {
        a href=(page_path(playlist)) { (playlist.name) }
        " " span.owner { "by " (host_name(&playlist.owner)) }
        @if playlist.privacy != Privacy::Public {
            " " span.privacy { "(" (playlist.privacy.label()) ")" }
        }
    }
}

/// The path of a playlist's page here.
pub(crate) fn page_path(playlist: &PlaylistRow) -> String {
    format!("/video-playlists/{}", playlist.uuid)
}

/// The form making a playlist of `viewer`'s current identity, in one of `channels`; with
/// `video`, the video goes in it at once (the watch page's form).
fn create_form(viewer: &Viewer, channels: &[String], video: Option<&str>) -> Markup {
    html! {
        form.playlist-create method="post" action="/video-playlists/create" {
            (csrf_field(viewer))
            @if let Some(video) = video {
                input type="hidden" name="video" value=(video);
            }
            p {
                label for="playlist-name" { "New playlist name" }
                input id="playlist-name" name="name" required maxlength="120";
            }
            @if video.is_none() {
                p {
                    label for="playlist-description" { "Description" }
                    textarea id="playlist-description" name="description" maxlength="1000" {}
                }
            }
            p { (privacy_select(Privacy::Public)) }
            @if !channels.is_empty() {
                p {
                    label for="playlist-channel" { "Channel" }
                    select id="playlist-channel" name="channel" {
                        @for (i, channel) in channels.iter().enumerate() {
                            option value=(channel) selected[i == 0] { (channel) }
                        }
                        option value="" { "None (not public)" }
                    }
                }
            }
            p { button type="submit" {
                @if video.is_some() { "Save to a new playlist" } @else { "Create the playlist" }
            } }
        }
    }
}

/// The channels of `viewer`'s current identity.
async fn channels_of(site: &Site, viewer: &Viewer) -> anyhow::Result<Vec<String>> {
    match &viewer.identity {
        Some(identity) => site.instance.db().channels_of(&identity.name).await,
        None => Ok(Vec::new()),
    }
}

/// The playlists of `viewer`'s identities, every privacy.
async fn own_playlists(site: &Site, viewer: &Viewer) -> anyhow::Result<Vec<PlaylistRow>> {
    let mut own = Vec::new();
    for identity in &viewer.identities {
        let id = site.instance.actor_id(&identity.name).to_string();
        own.extend(
            site.instance
                .playlists(Some(&id), None, false, MAX_OWN_PLAYLISTS)
                .await?,
        );
    }
    Ok(own)
}

/// The watch page's "Save to playlist" forms for `video`: one of the viewer's playlists, or a
/// new one. Nothing for someone signed out.
pub(crate) async fn save_form(
    site: &Site,
    viewer: Option<&Viewer>,
    video: &VideoRow,
) -> anyhow::Result<Markup> {
    let Some(viewer) = viewer else {
        return Ok(html! {});
    };
    let own = own_playlists(site, viewer).await?;
    let channels = channels_of(site, viewer).await?;
    Ok(html! {
        section.save-to-playlist aria-labelledby="save-title" {
            h2 #save-title { "Save to playlist" }
            @if !own.is_empty() {
                form method="post" action="/video-playlists/add" {
                    (csrf_field(viewer))
                    input type="hidden" name="video" value=(video.uuid);
                    p {
                        label for="playlist" { "Playlist" }
                        select id="playlist" name="playlist" {
                            @for playlist in &own {
                                option value=(playlist.uuid) { (playlist.name) }
                            }
                        }
                        " "
                        button type="submit" { "Save" }
                    }
                }
            }
            (create_form(viewer, &channels, Some(&video.uuid)))
        }
    })
}

/// `GET /video-playlists`: the public playlists (local, and those received from the servers
/// followed here); signed in, the reader's own too, and the form making one.
async fn list_page(State(site): State<Site>, MaybeViewer(viewer): MaybeViewer) -> Response {
    page_response(
        async {
            let public = site.instance.playlists(None, None, true, 48).await?;
            let (own, channels) = match &viewer {
                Some(viewer) => (
                    own_playlists(&site, viewer).await?,
                    channels_of(&site, viewer).await?,
                ),
                None => (Vec::new(), Vec::new()),
            };
            let body = html! {
                h1 { "Playlists" }
                @if let Some(viewer) = &viewer {
                    section aria-labelledby="own-title" {
                        h2 #own-title { "Your playlists" }
                        @if own.is_empty() {
                            p { "You have no playlist yet." }
                        } @else {
                            ul.playlists { @for p in &own { li { (playlist_card(p)) } } }
                        }
                        (create_form(viewer, &channels, None))
                    }
                }
                section aria-labelledby="public-title" {
                    h2 #public-title { "Public playlists" }
                    @if public.is_empty() {
                        p { "No public playlists yet." }
                    } @else {
                        ul.playlists { @for p in &public { li { (playlist_card(p)) } } }
                    }
                }
            };
            Ok(site
                .web
                .layout()
                .page(viewer.as_ref(), "Playlists", html! {}, body))
        }
        .await,
    )
}

/// The page a browser gets at a playlist's address (`/video-playlists/{uuid}`) or an actor's
/// `playlists` collection (`/actors/{name}/playlists`); `Err` gives the request back when its
/// path is neither.
pub(crate) async fn html_page(site: &Site, request: Request) -> Result<Response, Request> {
    let path = request.uri().path().to_owned();
    let playlist_uuid = path
        .strip_prefix("/video-playlists/")
        .filter(|uuid| !uuid.is_empty() && !uuid.contains('/'))
        .map(str::to_owned);
    let actor = path
        .strip_prefix("/actors/")
        .and_then(|rest| rest.strip_suffix("/playlists"))
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .map(str::to_owned);
    if playlist_uuid.is_none() && actor.is_none() {
        return Err(request);
    }
    let (mut parts, _) = request.into_parts();
    let viewer = match <MaybeViewer as axum::extract::FromRequestParts<Site>>::from_request_parts(
        &mut parts, site,
    )
    .await
    {
        Ok(MaybeViewer(viewer)) => viewer,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    Ok(match (playlist_uuid, actor) {
        (Some(uuid), _) => playlist_page(site, viewer.as_ref(), &uuid).await,
        (None, Some(name)) => actor_page(site, viewer.as_ref(), &name).await,
        (None, None) => StatusCode::NOT_FOUND.into_response(),
    })
}

/// A playlist's page, as `viewer` may see it.
async fn playlist_page(site: &Site, viewer: Option<&Viewer>, uuid: &str) -> Response {
    let names = identities(viewer);
    let playlist = match site.instance.playlist_by_uuid(uuid).await {
        Ok(Some(playlist)) if site.instance.may_see(&playlist, &names) => playlist,
        Ok(_) => {
            return message_page(
                site,
                viewer,
                StatusCode::NOT_FOUND,
                "No such playlist",
                "There is no playlist here at this address, or it is not shown to you.",
            );
        }
        Err(error) => return page_response(Err(error)),
    };
    page_response(
        async {
            let owner = site.instance.owns(&playlist, &names);
            let scope = scope_of(site, viewer).await?;
            let shown = site.instance.shown_elements(&playlist, &scope).await?;
            let channels = match (owner, viewer) {
                (true, Some(viewer)) => channels_of(site, viewer).await?,
                _ => Vec::new(),
            };
            let body = html! {
                h1 { (playlist.name) }
                p.meta {
                    "A playlist by " a href=(playlist.owner) { (host_name(&playlist.owner)) }
                    @if let Some(channel) = &playlist.channel {
                        " in " a href=(channel) { (host_name(channel)) }
                    }
                    " · " span.privacy { (playlist.privacy.label()) }
                    @if !playlist.local {
                        " · From " a href=(playlist.id) { (crate::pages::host_of(&playlist.id)) }
                    }
                }
                @if let Some(name) = site.instance.state().local_name(&playlist.owner) {
                    p { a href=(format!("/actors/{name}/playlists")) { "All playlists of " (host_name(&playlist.owner)) } }
                }
                @if !playlist.description.is_empty() {
                    div.description { @for line in playlist.description.lines() { (line) br; } }
                }
                @if playlist.privacy != Privacy::Private {
                    p { a href=(format!("/video-playlists/embed/{}", playlist.uuid)) { "Embed this playlist" } }
                }
                (elements_list(&playlist, &shown, owner, viewer))
                @if let (true, Some(viewer)) = (owner, viewer) {
                    (owner_forms(&playlist, viewer, &channels))
                }
            };
            let head = html! {
                @if playlist.local && playlist.privacy != Privacy::Private {
                    link rel="alternate" type="application/activity+json" href=(playlist.id);
                }
                @if playlist.privacy == Privacy::Public {
                    (super::embed::oembed_link(site, &playlist))
                }
            };
            Ok(site.web.layout().page(viewer, &playlist.name, head, body))
        }
        .await,
    )
}

/// The videos of a playlist in order: those the reader may see; a remote playlist's videos not
/// listed here by their address; to the owner, the unavailable ones too, with the forms that
/// move and remove them.
fn elements_list(
    playlist: &PlaylistRow,
    shown: &[Shown],
    owner: bool,
    viewer: Option<&Viewer>,
) -> Markup {
    let last = shown.len();
    html! {
        @if shown.is_empty() {
            p { "This playlist is empty." }
        } @else {
            ol.playlist-videos {
                @for (i, item) in shown.iter().enumerate() {
                    // A remote playlist's video not listed here: its link, to watch it there.
                    @let elsewhere = item.video.is_none() && !item.known && !playlist.local;
                    @if item.video.is_some() || owner || elsewhere {
                        li data-position=(item.element.position) {
                            @if let Some(video) = &item.video {
                                a href=(format!("/videos/watch/{}", video.uuid)) { (video.name) }
                                " " span.duration { (duration_text(video.duration)) }
                            } @else if owner {
                                "Unavailable video"
                            } @else {
                                a.remote href=(item.element.video) {
                                    "A video on " (crate::pages::host_of(&item.element.video))
                                }
                            }
                            @if let (true, Some(viewer)) = (owner, viewer) {
                                @let name = item.video.as_ref().map_or("the unavailable video", |v| v.name.as_str());
                                @if i > 0 {
                                    (element_button(playlist, viewer, &item.element.id, ("move", Some("up")), "Move up", name))
                                }
                                @if i + 1 < last {
                                    (element_button(playlist, viewer, &item.element.id, ("move", Some("down")), "Move down", name))
                                }
                                (element_button(playlist, viewer, &item.element.id, ("remove", None), "Remove", name))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One of the owner's buttons on an element: `(action, direction)`, its text, and the video's
/// name, said to screen readers only (the buttons of the list being alike).
fn element_button(
    playlist: &PlaylistRow,
    viewer: &Viewer,
    element: &str,
    (action, direction): (&str, Option<&str>),
    text: &str,
    name: &str,
) -> Markup {
    html! {
        form.inline method="post" action=(format!("/video-playlists/{}/{action}", playlist.uuid)) {
            (csrf_field(viewer))
            input type="hidden" name="element" value=(element);
            @if let Some(direction) = direction {
                input type="hidden" name="direction" value=(direction);
            }
            button type="submit" { (text) " " span.visually-hidden { (name) } }
        }
    }
}

/// The owner's forms: edit and delete.
fn owner_forms(playlist: &PlaylistRow, viewer: &Viewer, channels: &[String]) -> Markup {
    let own_channel = playlist
        .channel
        .as_deref()
        .map(|c| c.rsplit('/').next().unwrap_or_default().to_owned());
    html! {
        section.edit aria-labelledby="edit-title" {
            h2 #edit-title { "Edit this playlist" }
            form method="post" action=(format!("/video-playlists/{}/edit", playlist.uuid)) {
                (csrf_field(viewer))
                p {
                    label for="edit-name" { "Name" }
                    input id="edit-name" name="name" required maxlength="120" value=(playlist.name);
                }
                p {
                    label for="edit-description" { "Description" }
                    textarea id="edit-description" name="description" maxlength="1000" { (playlist.description) }
                }
                p { (privacy_select(playlist.privacy)) }
                p {
                    label for="edit-channel" { "Channel" }
                    select id="edit-channel" name="channel" {
                        option value="" { "None (not public)" }
                        @for channel in channels {
                            option value=(channel) selected[own_channel.as_deref() == Some(channel.as_str())] { (channel) }
                        }
                    }
                }
                p { button type="submit" { "Save the changes" } }
            }
            form method="post" action=(format!("/video-playlists/{}/delete", playlist.uuid)) {
                (csrf_field(viewer))
                p { button type="submit" { "Delete this playlist" } }
            }
        }
    }
}

/// An actor's playlists, for a browser: the public ones, and all of them to their owner.
async fn actor_page(site: &Site, viewer: Option<&Viewer>, name: &str) -> Response {
    let actor = match site.instance.state().actor(name).await {
        Ok(Some(actor)) if !actor.deleted => actor,
        Ok(_) => {
            return message_page(
                site,
                viewer,
                StatusCode::NOT_FOUND,
                "No such account",
                "There is no account or channel here by that name.",
            );
        }
        Err(error) => return page_response(Err(error.into())),
    };
    page_response(
        async {
            let id = site.instance.actor_id(name).to_string();
            let group = actor.kind == instance_state::actors::ActorKind::Group;
            let names = identities(viewer);
            let (owner, channel) = if group {
                (None, Some(id.as_str()))
            } else {
                (Some(id.as_str()), None)
            };
            let all = site
                .instance
                .playlists(owner, channel, false, MAX_OWN_PLAYLISTS)
                .await?;
            let shown: Vec<&PlaylistRow> = all
                .iter()
                .filter(|p| p.privacy == Privacy::Public || site.instance.owns(p, &names))
                .collect();
            let title = format!("Playlists of {}", host_name(&id));
            let body = html! {
                h1 { (title) }
                @if shown.is_empty() {
                    p { "No playlists." }
                } @else {
                    ul.playlists { @for p in &shown { li { (playlist_card(p)) } } }
                }
            };
            Ok(site.web.layout().page(viewer, &title, html! {}, body))
        }
        .await,
    )
}

/// The form making a playlist (and, from the watch page, saving a video in it).
#[derive(Debug, Deserialize)]
pub(crate) struct CreateForm {
    name: String,
    #[serde(default)]
    description: String,
    privacy: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    video: Option<String>,
}

fn fields(
    name: String,
    description: String,
    privacy: &str,
    channel: String,
) -> Result<PlaylistFields, Refused> {
    let privacy = privacy_of(privacy.trim().parse().unwrap_or(0))?;
    Ok(PlaylistFields {
        name,
        description,
        privacy,
        channel: Some(channel).filter(|c| !c.is_empty()),
    })
}

/// `POST /video-playlists/create`: makes a playlist of the current identity; back to its page.
async fn create(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Response {
    let Some(identity) = viewer.identity.as_ref() else {
        return refused(&site, &viewer, Refused::NotFound("you have no identity"));
    };
    let outcome = async {
        let fields = fields(form.name, form.description, &form.privacy, form.channel)?;
        let playlist = site
            .instance
            .create_playlist(&identity.name, &fields)
            .await?;
        if let Some(video) = form.video.as_deref().filter(|v| !v.is_empty()) {
            site.instance
                .add_to_playlist(
                    &playlist.uuid,
                    &identities(Some(&viewer)),
                    video,
                    None,
                    None,
                )
                .await?;
        }
        Ok::<_, Refused>(playlist)
    }
    .await;
    match outcome {
        Ok(playlist) => Redirect::to(&page_path(&playlist)).into_response(),
        Err(error) => refused(&site, &viewer, error),
    }
}

/// The watch page's form saving a video in a playlist.
#[derive(Debug, Deserialize)]
pub(crate) struct AddForm {
    playlist: String,
    video: String,
}

/// `POST /video-playlists/add`: puts a video at the end of one of the viewer's playlists;
/// back to the playlist's page.
async fn add(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<AddForm>,
) -> Response {
    match site
        .instance
        .add_to_playlist(
            &form.playlist,
            &identities(Some(&viewer)),
            &form.video,
            None,
            None,
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/video-playlists/{}", form.playlist)).into_response(),
        Err(error) => refused(&site, &viewer, error),
    }
}

/// The owner's move or remove of an element.
#[derive(Debug, Deserialize)]
pub(crate) struct ElementForm {
    element: String,
    #[serde(default)]
    direction: String,
}

/// `POST /video-playlists/{uuid}/move`: one place up or down.
async fn move_element(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ElementForm>,
) -> Response {
    let names = identities(Some(&viewer));
    let outcome = async {
        let playlist_id = site.instance.playlist_id(&uuid);
        let elements = site.instance.elements(&playlist_id).await?;
        let position = elements
            .iter()
            .find(|e| e.id == form.element)
            .map(|e| e.position)
            .ok_or(Refused::NotFound("no such video in this playlist"))?;
        let after = match form.direction.as_str() {
            "up" => position - 2,
            "down" => position + 1,
            _ => return Err(Refused::Invalid("move up or down".into())),
        };
        let last = i64::try_from(elements.len()).unwrap_or(0);
        site.instance
            .reorder_playlist(&uuid, &names, position, after.clamp(0, last), 1)
            .await
    }
    .await;
    match outcome {
        Ok(()) => Redirect::to(&format!("/video-playlists/{uuid}")).into_response(),
        Err(error) => refused(&site, &viewer, error),
    }
}

/// `POST /video-playlists/{uuid}/remove`.
async fn remove(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ElementForm>,
) -> Response {
    match site
        .instance
        .remove_from_playlist(&uuid, &identities(Some(&viewer)), &form.element)
        .await
    {
        Ok(()) => Redirect::to(&format!("/video-playlists/{uuid}")).into_response(),
        Err(error) => refused(&site, &viewer, error),
    }
}

/// The owner's edit of a playlist.
#[derive(Debug, Deserialize)]
pub(crate) struct EditForm {
    name: String,
    #[serde(default)]
    description: String,
    privacy: String,
    #[serde(default)]
    channel: String,
}

/// `POST /video-playlists/{uuid}/edit`.
async fn edit(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<EditForm>,
) -> Response {
    let outcome = async {
        let fields = fields(form.name, form.description, &form.privacy, form.channel)?;
        site.instance
            .edit_playlist(&uuid, &identities(Some(&viewer)), &fields)
            .await
    }
    .await;
    match outcome {
        Ok(playlist) => Redirect::to(&page_path(&playlist)).into_response(),
        Err(error) => refused(&site, &viewer, error),
    }
}

/// A form with nothing but its token.
#[derive(Debug, Deserialize)]
pub(crate) struct Nothing {}

/// `POST /video-playlists/{uuid}/delete`: back to the list.
async fn delete(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    viewer: Viewer,
    CsrfForm(Nothing {}): CsrfForm<Nothing>,
) -> Response {
    match site
        .instance
        .delete_playlist(&uuid, &identities(Some(&viewer)))
        .await
    {
        Ok(()) => Redirect::to("/video-playlists").into_response(),
        Err(error) => refused(&site, &viewer, error),
    }
}
