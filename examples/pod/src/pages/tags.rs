//! A hashtag's page (`/tags/{name}`, `?page=N` for older ones): the public posts the pod
//! knows with it, newest first, as HTML for browsers and as a paged ActivityStreams
//! `OrderedCollection` of their ids when asked with an ActivityPub `Accept`; never a post for
//! followers or for some people, whoever asks. A signed-in person follows or unfollows the tag
//! there.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use federation::routes::Representation;
use http::{HeaderMap, HeaderValue, header};
use instance_web::{CsrfForm, MaybeViewer, Viewer, csrf_field};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::{back, page_or_error, post_cards};
use crate::web::Site;

/// How many posts a page shows.
const PAGE: i64 = 40;

/// How many post ids a page of the collection holds.
const COLLECTION_PAGE: u64 = 20;

/// `GET /tags/{name}`.
pub(crate) async fn page(
    State(site): State<Site>,
    MaybeViewer(viewer): MaybeViewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let tag = activitypub_core::hashtag::normalize(&name);
    let page = match query
        .map(|q| url::Url::parse(&format!("http://tag.invalid/?{q}")))
        .transpose()
    {
        Ok(None) => Ok(None),
        Ok(Some(url)) => federation::routes::page_of(&url),
        Err(_) => Err(federation::routes::NotAPage),
    };
    let Ok(page) = page else {
        return super::message(
            &site,
            viewer.as_ref(),
            http::StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page of this tag.",
        );
    };
    let html = Representation::negotiate(&headers) == Representation::Html;
    let result = async {
        let instance = &site.instance;
        let (offset, limit) = match (html, page) {
            (true, page) => (
                i64::try_from(page.unwrap_or(1) - 1).unwrap_or(i64::MAX).saturating_mul(PAGE),
                PAGE,
            ),
            (false, Some(n)) => (
                i64::try_from((n - 1).saturating_mul(COLLECTION_PAGE)).unwrap_or(i64::MAX),
                i64::try_from(COLLECTION_PAGE).unwrap_or(i64::MAX),
            ),
            // The collection itself: its count only.
            (false, None) => (0, 0),
        };
        let (posts, total) = instance.db().tagged(&tag, offset, limit).await?;
        let mut response = if html {
            let shown = u64::try_from(offset).unwrap_or(0) + posts.len() as u64;
            let older = (u64::try_from(total).unwrap_or(0) > shown)
                .then(|| format!("?page={}", page.unwrap_or(1) + 1));
            let identity = viewer
                .as_ref()
                .and_then(|v| v.identity.as_ref())
                .map(|i| i.name.clone());
            let following = match &identity {
                Some(name) => {
                    let me = instance.actor_id(name).to_string();
                    Some(instance.db().followed_tags(&me).await?.contains(&tag))
                }
                None => None,
            };
            let cards = post_cards(&site, viewer.as_ref(), &posts, true).await?;
            let title = format!("#{tag}");
            site.web.page(
                viewer.as_ref(),
                &title,
                html! {
                    h1 { (title) }
                    p { (total) " public post" @if total != 1 { "s" } " known here" }
                    @if let (Some(viewer), Some(following)) = (viewer.as_ref(), following) {
                        form method="post" action="/tags/follow" {
                            (csrf_field(viewer))
                            input type="hidden" name="tag" value=(tag);
                            @if following {
                                input type="hidden" name="undo" value="1";
                                button type="submit" { "Unfollow #" (tag) }
                            } @else {
                                button type="submit" { "Follow #" (tag) }
                            }
                        }
                    }
                    @if cards.is_empty() { p { "No public posts with this tag here." } }
                    @for card in cards { (card) }
                    @if let Some(older) = older { p { a rel="next" href=(older) { "Older posts" } } }
                },
            )
        } else {
            let collection = federation::routes::paged_collection(
                &instance.tag_url(&tag),
                page,
                COLLECTION_PAGE,
                u64::try_from(total).unwrap_or(0),
                posts.iter().map(|p| json!(p.id)).collect(),
            );
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/activity+json"),
                )],
                collection.to_string(),
            )
                .into_response()
        };
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept, Cookie"));
        Ok(response)
    }
    .await;
    page_or_error(&site, result)
}

/// The follow form of a tag.
#[derive(Debug, Deserialize)]
pub(crate) struct FollowTagForm {
    tag: String,
    #[serde(default)]
    undo: Option<String>,
}

/// `POST /tags/follow` (with `undo`: unfollow).
pub(crate) async fn follow(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<FollowTagForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let Some(tag) = activitypub_core::hashtag::received(&form.tag) else {
        return super::message(
            &site,
            Some(&viewer),
            http::StatusCode::UNPROCESSABLE_ENTITY,
            "Not a tag",
            "A tag is letters, digits and underscores.",
        );
    };
    let me = site.instance.actor_id(&name).to_string();
    let result = async {
        let follow = form.undo.is_none();
        site.instance.db().follow_tag(&me, &tag, follow).await?;
        // Through the tag relay, if there is one: its actor of the tag followed by the pod.
        if follow {
            site.instance.tag_followed(&tag).await;
        } else {
            site.instance.tag_unfollowed(&tag).await;
        }
        let path = url::Url::parse(&site.instance.tag_url(&tag))
            .map_or_else(|_| "/".to_owned(), |url| url.path().to_owned());
        Ok(back(&path))
    }
    .await;
    page_or_error(&site, result)
}
