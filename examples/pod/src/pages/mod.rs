//! The pages people use, on instance-web's sessions, CSRF and layout: the stream, a person's
//! page, a post's page with its comments, the compose form, the aspects and the profile.
//! Every list of posts is read for the viewer's scope; HTML from posts was sanitized when
//! stored and is sanitized again when shown.

pub(crate) mod archive;
pub(crate) mod aspects;
pub(crate) mod moving;
pub(crate) mod notifications;
pub(crate) mod people;
pub(crate) mod posts;
pub(crate) mod profile;
pub(crate) mod relays;
pub(crate) mod stream;
pub(crate) mod tags;

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use federation::routes::Representation;
use http::{HeaderValue, StatusCode, header};
use instance_web::{MaybeViewer, Viewer, csrf_field};
use maud::{Markup, PreEscaped, html};
use tracing::warn;

use crate::db::{Audience, PostRow};
use crate::web::Site;

/// A page, or a `500` saying nothing of the error (logged).
pub(crate) fn page_or_error(site: &Site, result: anyhow::Result<Response>) -> Response {
    match result {
        Ok(response) => response,
        Err(error) => {
            warn!(%error, "a page failed");
            site.web.page_with_status(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "Something went wrong",
                html! { h1 { "Something went wrong" } p { "Please try again later." } },
            )
        }
    }
}

/// A page saying `message`, with `status`.
pub(crate) fn message(
    site: &Site,
    viewer: Option<&Viewer>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    site.web.page_with_status(
        status,
        viewer,
        title,
        html! { h1 { (title) } p role="alert" { (message) } p { a href="/" { "Back to the stream" } } },
    )
}

/// What an action refused by the pod's rules answers: the reason, as a `422` page. Other
/// errors are the server's.
pub(crate) fn refused_or_error(site: &Site, viewer: &Viewer, error: anyhow::Error) -> Response {
    match error.downcast_ref::<crate::Refused>() {
        Some(refused) => message(
            site,
            Some(viewer),
            StatusCode::UNPROCESSABLE_ENTITY,
            "That did not work",
            &sentence(&refused.to_string()),
        ),
        None => page_or_error(site, Err(error)),
    }
}

/// A reason (lowercase, as errors say them) as a sentence for a page.
pub(crate) fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    let mut out: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// What a form's action answers: `act` run as the viewer's identity, then back to `to`, or
/// the refusal or error page; back to the stream for a viewer without an identity.
pub(crate) async fn act_then_back<T, F, Fut>(
    site: &Site,
    viewer: &Viewer,
    to: &str,
    act: F,
) -> Response
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    match act(name).await {
        Ok(_) => back(to),
        Err(error) => refused_or_error(site, viewer, error),
    }
}

/// Back to `to` (a local path) after a form.
pub(crate) fn back(to: &str) -> Response {
    Redirect::to(instance_web::local_path(to).unwrap_or("/")).into_response()
}

/// The page's path of a post (local or remote): its id's path for a local one.
pub(crate) fn post_href(site: &Site, id: &str) -> String {
    if site.instance.state().is_local(id) {
        url::Url::parse(id).map_or_else(|_| "/".to_owned(), |u| u.path().to_owned())
    } else {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id", id)
            .finish();
        format!("/posts/remote?{query}")
    }
}

/// The page's path of a person (local or remote).
pub(crate) fn person_href(site: &Site, id: &str) -> String {
    match site.instance.state().local_name(id) {
        Some(name) => format!("/actors/{name}"),
        None => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("id", id)
                .finish();
            format!("/people?{query}")
        }
    }
}

/// When, in words (UTC).
pub(crate) fn when(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(micros.div_euclid(1_000_000))
        .ok()
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

/// Who may read a post, in words.
pub(crate) fn audience_label(audience: Audience, aspects: &[String]) -> String {
    match audience {
        Audience::Public => "Public".to_owned(),
        Audience::Unlisted => "Public, unlisted".to_owned(),
        Audience::Followers => "Followers".to_owned(),
        Audience::Aspects if aspects.is_empty() => "Limited".to_owned(),
        Audience::Aspects => format!("Limited to {}", aspects.join(", ")),
        Audience::Limited => "Limited".to_owned(),
    }
}

/// A card's kind, in words.
fn card_kind(kind: &str) -> &'static str {
    match kind {
        "Video" => "Video",
        "Event" => "Event",
        "Article" => "Article",
        _ => "Page",
    }
}

/// A post (or comment) as the pages show it: its author, its HTML (sanitized again), when,
/// who may read it, its counts, and for a signed-in viewer the like and reshare buttons.
pub(crate) async fn post_card(
    site: &Site,
    viewer: Option<&Viewer>,
    post: &PostRow,
    link: bool,
) -> anyhow::Result<Markup> {
    let mut cards = post_cards(site, viewer, std::slice::from_ref(post), link).await?;
    Ok(cards.pop().unwrap_or_default())
}

/// The cards of `posts`, in order, as [`post_card`] makes each one, with what they show
/// (reactions, aspects, attachments, cards of remote objects, authors' names) read for all of
/// them at once: a page of posts takes a handful of queries, not a handful for each post.
pub(crate) async fn post_cards(
    site: &Site,
    viewer: Option<&Viewer>,
    posts: &[PostRow],
    link: bool,
) -> anyhow::Result<Vec<Markup>> {
    let instance = &site.instance;
    let ids: Vec<String> = posts.iter().map(|p| p.id.clone()).collect();
    let local: Vec<String> = posts
        .iter()
        .filter(|p| p.local)
        .map(|p| p.id.clone())
        .collect();
    let me = viewer
        .and_then(|v| v.identity.as_ref())
        .map(|identity| instance.actor_id(&identity.name).to_string());
    let counts = instance.db().reaction_counts_of(&ids).await?;
    let mut aspects_of = instance.db().post_aspect_names_of(&local).await?;
    let mine = match &me {
        Some(me) => instance.db().reactions_of(me, &ids).await?,
        None => std::collections::HashSet::new(),
    };
    let mut attachments_of = instance.db().attachments_of(&ids).await?;
    let mut cards_of = instance.db().cards_of(&ids).await?;
    let authors: Vec<String> = posts.iter().map(|p| p.author.clone()).collect();
    let labels = instance.actor_labels(&authors).await?;
    let mut out = Vec::with_capacity(posts.len());
    for post in posts {
        let (name, handle) = labels.get(&post.author).cloned().unwrap_or_default();
        let (likes, shares) = counts.get(&post.id).copied().unwrap_or_default();
        let aspects = aspects_of.remove(&post.id).unwrap_or_default();
        let reacted = |kind: &str| mine.contains(&(post.id.clone(), kind.to_owned()));
        let (liked, shared) = (reacted("like"), reacted("share"));
        let href = post_href(site, &post.id);
        let content = federation::sanitize::sanitize_html(&post.content);
        // Local photos, or a received Note's attachments at their http(s) address.
        let attachments = attachments_of.remove(&post.id).unwrap_or_default();
        // A video, an event, an article or a page from elsewhere.
        let card = cards_of.remove(&post.id);
        out.push(html! {
                article class="post" {
                    header {
                        a href=(person_href(site, &post.author)) { strong { (name) } } " "
                        span class="handle" { (handle) }
                    }
                    @if let Some(card) = &card {
                        div class={ "card card-" (card.kind.to_lowercase()) } {
                            p class="card-kind" { (card_kind(&card.kind)) }
                            @if let Some(image) = &card.image {
                                a href=(card.link) rel="noopener noreferrer nofollow" {
                                    img class="card-image" src=(image) alt="" loading="lazy";
                                }
                            }
                            h2 class="card-title" {
                                a href=(card.link) rel="noopener noreferrer nofollow" {
                                    @if card.name.is_empty() { (card.link) } @else { (card.name) }
                                }
                            }
                            @if let Some(starts) = card.starts {
                                p class="card-starts" { "Starts " time { (when(starts)) } }
                            }
                        }
                    }
                    div class="content" { (PreEscaped(content)) }
                    @if let Some(card) = &card {
                        p class="card-link" {
                            a href=(card.link) rel="noopener noreferrer nofollow" { "See it at its origin" }
                        }
                    }
                    @if !attachments.is_empty() {
                        div class="attachments" {
                            @for attachment in &attachments {
                                a href=(attachment.url) rel="noopener noreferrer nofollow" {
                                    @if attachment.media_type.starts_with("image/") {
                                        img src=(attachment.url) alt=(attachment.description)
                                            width=[attachment.width] height=[attachment.height] loading="lazy";
                                    } @else {
                                        "Attachment (" (attachment.media_type) ")"
                                    }
                                }
                            }
                        }
                    }
                    footer {
                        @if link { a href=(href) { (when(post.published)) } } @else { (when(post.published)) }
                        " · " span class="audience" { (audience_label(post.audience, &aspects)) }
                        " · " (likes) " like" @if likes != 1 { "s" }
                        @if post.root.is_none() { " · " (shares) " reshare" @if shares != 1 { "s" } }
                    }
                    @if let Some(viewer) = viewer.filter(|v| v.identity.is_some()) {
                        div class="actions" {
                            form method="post" action="/posts/like" {
                                (csrf_field(viewer))
                                input type="hidden" name="post" value=(post.id);
                                input type="hidden" name="back" value=(href);
                                @if liked {
                                    input type="hidden" name="undo" value="1";
                                    button type="submit" { "Unlike" }
                                } @else {
                                    button type="submit" { "Like" }
                                }
                            }
                            @if post.root.is_none() && post.audience.is_public() && me.as_deref() != Some(post.author.as_str()) {
                                form method="post" action="/posts/reshare" {
                                    (csrf_field(viewer))
                                    input type="hidden" name="post" value=(post.id);
                                    input type="hidden" name="back" value=(href);
                                    @if shared {
                                        input type="hidden" name="undo" value="1";
                                        button type="submit" { "Undo reshare" }
                                    } @else {
                                        button type="submit" { "Reshare" }
                                    }
                                }
                            }
                            @if me.as_deref() == Some(post.author.as_str()) && post.local {
                                a class="edit" href=(format!("/posts/edit?{}", url::form_urlencoded::Serializer::new(String::new()).append_pair("id", &post.id).finish())) { "Edit" }
                            }
                            @if me.as_deref() == Some(post.author.as_str()) {
                                form method="post" action="/posts/delete" {
                                    (csrf_field(viewer))
                                    input type="hidden" name="post" value=(post.id);
                                    button type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            });
    }
    Ok(out)
}

/// Around the federation routes: a browser (asking for HTML) at a local post's or person's
/// address gets its page; everything else goes on to the routes.
pub(crate) async fn html_pages(State(site): State<Site>, request: Request, next: Next) -> Response {
    if request.method() != http::Method::GET
        || Representation::negotiate(request.headers()) != Representation::Html
    {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let person = path
        .strip_prefix("/actors/")
        .filter(|name| !name.is_empty() && !name.contains('/') && *name != crate::INSTANCE_ACTOR)
        .map(str::to_owned);
    let post = path
        .strip_prefix("/posts/")
        .filter(|uuid| !uuid.is_empty() && !uuid.contains('/'))
        .is_some();
    if person.is_none() && !post {
        return next.run(request).await;
    }
    let (mut parts, _) = request.into_parts();
    let viewer = match MaybeViewer::from_request_parts(&mut parts, &site).await {
        Ok(MaybeViewer(viewer)) => viewer,
        Err(rejection) => return rejection.into_response(),
    };
    let mut response = match person {
        Some(name) => people::local_person(&site, viewer.as_ref(), &name).await,
        None => {
            let id = site.instance.url(&path).to_string();
            posts::post_page(&site, viewer.as_ref(), &id).await
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept, Cookie"));
    response
}
