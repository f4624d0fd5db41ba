//! The compose form, a post's page with its comments, the edit form, and the actions on posts
//! (comment, like, reshare, edit, delete), each a form with its CSRF token.

use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use instance_web::forms::Errors;
use instance_web::{CsrfForm, MaybeViewer, Viewer, csrf_field};
use maud::html;
use media_store::Limits;
use serde::Deserialize;

use super::{
    act_then_back, back, message, page_or_error, post_card, post_cards, post_href, refused_or_error,
};
use crate::PostAudience;
use crate::photos::{MAX_DESCRIPTION, MAX_PHOTOS};
use crate::posts::MAX_COMMENTS;
use crate::web::Site;

/// `GET /compose`: the form, with the audience: public, followers, or some aspects.
pub(crate) async fn compose_page(State(site): State<Site>, viewer: Viewer) -> Response {
    compose_form(&site, &viewer, "", &Errors::default(), StatusCode::OK).await
}

async fn compose_form(
    site: &Site,
    viewer: &Viewer,
    text: &str,
    errors: &Errors,
    status: StatusCode,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let aspects = match site.instance.db().aspects(&name).await {
        Ok(aspects) => aspects,
        Err(error) => return page_or_error(site, Err(error)),
    };
    site.web.page_with_status(
        status,
        Some(viewer),
        "Write a post",
        html! {
            h1 { "Write a post" }
            (errors.summary())
            form method="post" action="/posts" enctype="multipart/form-data" {
                (csrf_field(viewer))
                label for="text" { "Your post (Markdown)" }
                @if let Some(error) = errors.get("text") { span class="error" id="text-error" { (error) } }
                textarea id="text" name="text" rows="8" required aria-describedby="text-hint" { (text) }
                p class="hint" id="text-hint" {
                    "Mention people with @name (here) or @name@server (anywhere); tag with #tag."
                }
                fieldset {
                    legend { "Who can see it" }
                    input type="radio" id="audience-public" name="audience" value="public" checked;
                    label for="audience-public" { "Public" }
                    input type="radio" id="audience-followers" name="audience" value="followers";
                    label for="audience-followers" { "My followers" }
                    input type="radio" id="audience-aspects" name="audience" value="aspects";
                    label for="audience-aspects" { "Only the aspects chosen below" }
                    @if let Some(error) = errors.get("aspects") { span class="error" { (error) } }
                    @if aspects.is_empty() {
                        p class="hint" { "You have no aspects yet: " a href="/aspects" { "make one" } "." }
                    }
                    @for aspect in &aspects {
                        div {
                            input type="checkbox" id=(format!("aspect-{}", aspect.id)) name="aspect" value=(aspect.id);
                            label for=(format!("aspect-{}", aspect.id)) { "Aspect: " (aspect.name) }
                        }
                    }
                }
                fieldset {
                    legend { "Photos (up to " (MAX_PHOTOS) ", JPEG, PNG, WebP or GIF)" }
                    @if let Some(error) = errors.get("photo") { span class="error" { (error) } }
                    label for="description" { "Describe the photos (for people who cannot see them)" }
                    input type="text" id="description" name="description" maxlength=(MAX_DESCRIPTION);
                    label for="photo" { "Photo" }
                    input type="file" id="photo" name="photo" accept="image/jpeg,image/png,image/webp,image/gif" multiple;
                }
                button type="submit" { "Post" }
            }
        },
    )
}

/// The compose form's fields. `aspect` repeats: read from pairs.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct ComposeForm(Vec<(String, String)>);

/// `POST /posts`: the compose form, as a multipart form (`csrf` first, then the text, the
/// audience, the aspects, the description, and the photos), or without photos as an
/// urlencoded one.
pub(crate) async fn create(State(site): State<Site>, viewer: Viewer, request: Request) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        return match CsrfForm::<ComposeForm>::from_request(request, &site).await {
            Ok(CsrfForm(ComposeForm(pairs))) => {
                compose(&site, &viewer, &name, &pairs, Vec::new()).await
            }
            Err(rejection) => rejection.into_response(),
        };
    }
    let refuse = |status: StatusCode, reason: &str| {
        message(&site, Some(&viewer), status, "The post was refused", reason)
    };
    let (parts, body) = request.into_parts();
    let check_parts = parts.clone();
    let Ok(mut form) = Multipart::from_request(Request::from_parts(parts, body), &site).await
    else {
        return refuse(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    let mut token_checked = false;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut photos = Vec::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return refuse(StatusCode::BAD_REQUEST, "The form could not be read."),
        };
        let field_name = field.name().unwrap_or_default().to_owned();
        // Nothing is read before the token is checked.
        if !token_checked {
            let token = if field_name == instance_web::CSRF_FIELD {
                field.text().await.unwrap_or_default()
            } else {
                String::new()
            };
            if let Err(rejection) = instance_web::check_post(&site.web, &check_parts, &token) {
                return rejection.into_response();
            }
            token_checked = true;
            continue;
        }
        if field_name != "photo" {
            let Ok(value) = field.text().await else {
                return refuse(StatusCode::BAD_REQUEST, "The form could not be read.");
            };
            if pairs.len() > 1_000 {
                return refuse(StatusCode::BAD_REQUEST, "The form has too many fields.");
            }
            pairs.push((field_name, value));
            continue;
        }
        // A file input left empty still sends a part, without a name or bytes.
        if field.file_name().is_none_or(str::is_empty) {
            let _ = field.bytes().await;
            continue;
        }
        if photos.len() >= MAX_PHOTOS {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                &super::sentence(&crate::Refused::TooManyPhotos.to_string()),
            );
        }
        let limits = Limits::new(site.instance.options().max_image_bytes)
            .with_stall_time(std::time::Duration::from_secs(30));
        let staged = match site.instance.media().stage(field, None, &limits).await {
            Ok(staged) => staged,
            Err(error) => {
                let status = error.status();
                if status.is_server_error() {
                    return page_or_error(&site, Err(error.into()));
                }
                return refuse(status, &format!("The photo was refused: {error}."));
            }
        };
        let description = pairs
            .iter()
            .rev()
            .find(|(k, _)| k == "description")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        match site.instance.inspect_photo(staged, &description).await {
            Ok(photo) => photos.push(photo),
            Err(error) => {
                return match error.downcast_ref::<crate::Refused>() {
                    Some(crate::Refused::NotAPhoto) => refuse(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        &super::sentence(&crate::Refused::NotAPhoto.to_string()),
                    ),
                    Some(_) => refused_or_error(&site, &viewer, error),
                    None => page_or_error(&site, Err(error)),
                };
            }
        }
    }
    if !token_checked {
        return refuse(
            StatusCode::FORBIDDEN,
            "This form has no token: reload the page.",
        );
    }
    compose(&site, &viewer, &name, &pairs, photos).await
}

/// Makes the post the compose form's `pairs` describe, with `photos`; back to the form with
/// the reason when refused.
async fn compose(
    site: &Site,
    viewer: &Viewer,
    name: &str,
    pairs: &[(String, String)],
    photos: Vec<crate::photos::Photo>,
) -> Response {
    let field = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let text = field("text");
    let audience = match field("audience") {
        "followers" => PostAudience::Followers,
        "aspects" => PostAudience::Aspects(
            pairs
                .iter()
                .filter(|(k, _)| k == "aspect")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
        _ => PostAudience::Public,
    };
    match site.instance.new_post(name, text, &audience, photos).await {
        Ok(row) => back(&post_href(site, &row.id)),
        Err(error) => match error.downcast_ref::<crate::Refused>() {
            Some(refused) => {
                let mut errors = Errors::default();
                let field = match refused {
                    crate::Refused::NoAspect | crate::Refused::NobodyInAspects => "aspects",
                    crate::Refused::TooManyPhotos
                    | crate::Refused::NotAPhoto
                    | crate::Refused::DescriptionTooLong => "photo",
                    _ => "text",
                };
                errors.add(field, refused.to_string());
                compose_form(
                    site,
                    viewer,
                    text,
                    &errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => page_or_error(site, Err(error)),
        },
    }
}

/// The page of post (or comment) `id` for `viewer`: the post, its comments the viewer may
/// read, and the comment form. Not found when the viewer may not read it.
pub(crate) async fn post_page(site: &Site, viewer: Option<&Viewer>, id: &str) -> Response {
    let result = async {
        let instance = &site.instance;
        let identity = viewer
            .and_then(|v| v.identity.as_ref())
            .map(|i| i.name.as_str());
        let scope = instance.viewer_scope(identity).await?;
        let Some(post) = instance.db().visible_post(id, &scope).await? else {
            return Ok(message(
                site,
                viewer,
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such post, or it is not for you.",
            ));
        };
        if let Some(root) = &post.root {
            // A comment's page is its post's.
            if instance.db().visible_post(root, &scope).await?.is_some() {
                return Ok(back(&post_href(site, root)));
            }
        }
        let card = post_card(site, viewer, &post, false).await?;
        let comments = instance
            .db()
            .comments(&post.id, &scope, MAX_COMMENTS)
            .await?;
        let comment_cards = post_cards(site, viewer, &comments, false).await?;
        let href = post_href(site, &post.id);
        Ok(site.web.page(
            viewer,
            "Post",
            html! {
                h1 { "Post" }
                (card)
                section class="comments" {
                    h2 { (comments.len()) " comment" @if comments.len() != 1 { "s" } }
                    @for card in comment_cards { (card) }
                    @if let Some(viewer) = viewer.filter(|v| v.identity.is_some()) {
                        form method="post" action="/posts/comment" {
                            (csrf_field(viewer))
                            input type="hidden" name="post" value=(post.id);
                            input type="hidden" name="back" value=(href);
                            label for="comment" { "Your comment" }
                            textarea id="comment" name="text" rows="3" required {}
                            button type="submit" { "Comment" }
                        }
                    }
                }
            },
        ))
    }
    .await;
    page_or_error(site, result)
}

/// `?id=` of a page.
#[derive(Debug, Deserialize)]
pub(crate) struct IdQuery {
    id: String,
}

/// `GET /posts/remote?id=`: the page of a post from elsewhere kept here.
pub(crate) async fn remote_post_page(
    State(site): State<Site>,
    MaybeViewer(viewer): MaybeViewer,
    Query(query): Query<IdQuery>,
) -> Response {
    post_page(&site, viewer.as_ref(), &query.id).await
}

/// A form about a post.
#[derive(Debug, Deserialize)]
pub(crate) struct PostForm {
    post: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    undo: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

/// `POST /posts/comment`.
pub(crate) async fn comment(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PostForm>,
) -> Response {
    let (instance, form) = (&site.instance, &form);
    let to = form.back.as_deref().unwrap_or("/");
    act_then_back(&site, &viewer, to, |name| async move {
        instance.write_comment(&name, &form.post, &form.text).await
    })
    .await
}

/// `POST /posts/like` (with `undo`: unlike).
pub(crate) async fn like(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PostForm>,
) -> Response {
    let (instance, form) = (&site.instance, &form);
    let to = form.back.as_deref().unwrap_or("/");
    act_then_back(&site, &viewer, to, |name| async move {
        if form.undo.is_some() {
            instance.unlike(&name, &form.post).await
        } else {
            instance.like(&name, &form.post).await
        }
    })
    .await
}

/// `POST /posts/reshare` (with `undo`: take the reshare back).
pub(crate) async fn reshare(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PostForm>,
) -> Response {
    let (instance, form) = (&site.instance, &form);
    let to = form.back.as_deref().unwrap_or("/");
    act_then_back(&site, &viewer, to, |name| async move {
        if form.undo.is_some() {
            instance.unshare(&name, &form.post).await
        } else {
            instance.reshare(&name, &form.post).await
        }
    })
    .await
}

/// `POST /posts/delete`.
pub(crate) async fn delete(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PostForm>,
) -> Response {
    let (instance, form) = (&site.instance, &form);
    act_then_back(&site, &viewer, "/", |name| async move {
        instance.delete_post(&name, &form.post).await
    })
    .await
}

/// `GET /posts/edit?id=`: the form rewriting the viewer's own post or comment `id`, with its
/// Markdown. Not found for anyone else's.
pub(crate) async fn edit_page(
    State(site): State<Site>,
    viewer: Viewer,
    Query(query): Query<IdQuery>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    match site.instance.own_post_source(&name, &query.id).await {
        Ok(Some(source)) => edit_form(&site, &viewer, &query.id, &source, &Errors::default()),
        Ok(None) => message(
            &site,
            Some(&viewer),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such post of yours.",
        ),
        Err(error) => page_or_error(&site, Err(error)),
    }
}

fn edit_form(site: &Site, viewer: &Viewer, id: &str, source: &str, errors: &Errors) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    site.web.page_with_status(
        status,
        Some(viewer),
        "Edit",
        html! {
            h1 { "Edit" }
            (errors.summary())
            form method="post" action="/posts/edit" {
                (csrf_field(viewer))
                input type="hidden" name="post" value=(id);
                label for="text" { "Your text (Markdown)" }
                @if let Some(error) = errors.get("text") { span class="error" id="text-error" { (error) } }
                textarea id="text" name="text" rows="8" required aria-describedby="text-hint" { (source) }
                p class="hint" id="text-hint" {
                    "Who can see it stays as it was. A mention added here notifies only people who could see it already."
                }
                button type="submit" { "Save" }
            }
            p { a href=(post_href(site, id)) { "Back to the post" } }
        },
    )
}

/// `POST /posts/edit`: the edit form; back to the post (a comment's post), or the form again
/// with what is wrong.
pub(crate) async fn edit(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PostForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let instance = &site.instance;
    match instance.edit_post(&name, &form.post, &form.text).await {
        Ok(()) => {
            let root = match instance.db().post(&form.post).await {
                Ok(post) => post.and_then(|p| p.root),
                Err(error) => return page_or_error(&site, Err(error)),
            };
            back(&post_href(&site, root.as_deref().unwrap_or(&form.post)))
        }
        Err(error) => match error.downcast_ref::<crate::Refused>() {
            Some(refused @ (crate::Refused::Empty | crate::Refused::TooLong)) => {
                let mut errors = Errors::default();
                errors.add("text", super::sentence(&refused.to_string()));
                edit_form(&site, &viewer, &form.post, &form.text, &errors)
            }
            _ => refused_or_error(&site, &viewer, error),
        },
    }
}
