//! The compose form, a post's page with its comments, and the actions on posts (comment,
//! like, reshare, delete), each a form with its CSRF token.

use axum::extract::{Query, State};
use axum::response::Response;
use http::StatusCode;
use instance_web::forms::Errors;
use instance_web::{CsrfForm, MaybeViewer, Viewer, csrf_field};
use maud::html;
use serde::Deserialize;

use super::{back, message, page_or_error, post_card, post_href, refused_or_error};
use crate::PostAudience;
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
            form method="post" action="/posts" {
                (csrf_field(viewer))
                label for="text" { "Your post (Markdown)" }
                @if let Some(error) = errors.get("text") { span class="error" id="text-error" { (error) } }
                textarea id="text" name="text" rows="8" required { (text) }
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
                button type="submit" { "Post" }
            }
        },
    )
}

/// The compose form's fields. `aspect` repeats: read from pairs.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct ComposeForm(Vec<(String, String)>);

/// `POST /posts`.
pub(crate) async fn create(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(ComposeForm(pairs)): CsrfForm<ComposeForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
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
    match site.instance.write_post(&name, text, &audience).await {
        Ok(id) => back(&post_href(&site, &id)),
        Err(error) => match error.downcast_ref::<crate::Refused>() {
            Some(refused) => {
                let mut errors = Errors::default();
                let field = match refused {
                    crate::Refused::NoAspect | crate::Refused::NobodyInAspects => "aspects",
                    _ => "text",
                };
                errors.add(field, refused.to_string());
                compose_form(
                    &site,
                    &viewer,
                    text,
                    &errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => page_or_error(&site, Err(error)),
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
        let mut comment_cards = Vec::new();
        for comment in &comments {
            comment_cards.push(post_card(site, viewer, comment, false).await?);
        }
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
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    match site
        .instance
        .write_comment(&name, &form.post, &form.text)
        .await
    {
        Ok(_) => back(form.back.as_deref().unwrap_or("/")),
        Err(error) => refused_or_error(&site, &viewer, error),
    }
}

/// `POST /posts/like` (with `undo`: unlike).
pub(crate) async fn like(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PostForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let done = if form.undo.is_some() {
        site.instance.unlike(&name, &form.post).await
    } else {
        site.instance.like(&name, &form.post).await
    };
    match done {
        Ok(_) => back(form.back.as_deref().unwrap_or("/")),
        Err(error) => refused_or_error(&site, &viewer, error),
    }
}

/// `POST /posts/reshare` (with `undo`: take the reshare back).
pub(crate) async fn reshare(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PostForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let done = if form.undo.is_some() {
        site.instance.unshare(&name, &form.post).await
    } else {
        site.instance.reshare(&name, &form.post).await
    };
    match done {
        Ok(_) => back(form.back.as_deref().unwrap_or("/")),
        Err(error) => refused_or_error(&site, &viewer, error),
    }
}

/// `POST /posts/delete`.
pub(crate) async fn delete(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PostForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    match site.instance.delete_post(&name, &form.post).await {
        Ok(()) => back("/"),
        Err(error) => refused_or_error(&site, &viewer, error),
    }
}
