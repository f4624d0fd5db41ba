//! A hashtag's page (`/tags/{name}`): the public posts the pod knows with it, newest first,
//! as HTML for browsers and as an ActivityStreams `OrderedCollection` of their ids when asked
//! with an ActivityPub `Accept`; never a post for followers or for some people, whoever asks.
//! A signed-in person follows or unfollows the tag there.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use federation::routes::Representation;
use http::{HeaderMap, HeaderValue, header};
use instance_web::{CsrfForm, MaybeViewer, Viewer, csrf_field};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::{back, page_or_error, post_cards};
use crate::web::Site;

/// How many posts the page and the collection show.
const PAGE: i64 = 40;

/// `GET /tags/{name}`.
pub(crate) async fn page(
    State(site): State<Site>,
    MaybeViewer(viewer): MaybeViewer,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let tag = activitypub_core::hashtag::normalize(&name);
    let result = async {
        let instance = &site.instance;
        let (posts, total) = instance.db().tagged(&tag, 0, PAGE).await?;
        let mut response = if Representation::negotiate(&headers) == Representation::Html {
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
                    @if cards.is_empty() { p { "No public posts with this tag yet." } }
                    @for card in cards { (card) }
                },
            )
        } else {
            let collection = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": instance.tag_url(&tag),
                "type": "OrderedCollection",
                "totalItems": total,
                "orderedItems": posts.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
            });
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
