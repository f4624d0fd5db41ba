//! The stream: for someone signed in, their posts, those of the people they follow (and what
//! those reshared) and the public posts with the tags they follow (listed above them), as
//! their scope lets them read; for the signed out, the pod's public posts.

use axum::extract::State;
use axum::response::Response;
use instance_web::MaybeViewer;
use maud::html;

use super::{page_or_error, post_card};
use crate::web::Site;

/// How many posts a page of the stream shows.
const PAGE: i64 = 40;

/// `GET /`.
pub(crate) async fn home(State(site): State<Site>, MaybeViewer(viewer): MaybeViewer) -> Response {
    let result = async {
        let instance = &site.instance;
        let identity = viewer
            .as_ref()
            .and_then(|v| v.identity.as_ref())
            .map(|i| i.name.clone());
        let (posts, tags) = match &identity {
            Some(name) => {
                let me = instance.actor_id(name).to_string();
                let scope = instance.scope_of(&me).await?;
                (
                    instance.db().stream(&me, &scope, 0, PAGE).await?,
                    instance.db().followed_tags(&me).await?,
                )
            }
            None => (instance.db().public_posts(0, PAGE).await?, Vec::new()),
        };
        let tag_path = |tag: &str| {
            url::Url::parse(&instance.tag_url(tag))
                .map_or_else(|_| "/".to_owned(), |url| url.path().to_owned())
        };
        let mut cards = Vec::new();
        for post in &posts {
            cards.push(post_card(&site, viewer.as_ref(), post, true).await?);
        }
        let title = if identity.is_some() {
            "Stream"
        } else {
            "Public posts"
        };
        Ok(site.web.page(
            viewer.as_ref(),
            title,
            html! {
                h1 { (title) }
                @if identity.is_some() { p { a href="/compose" { "Write a post" } } }
                @if !tags.is_empty() {
                    p class="followed-tags" {
                        "Tags you follow:"
                        @for tag in &tags { " " a href=(tag_path(tag)) { "#" (tag) } }
                    }
                }
                @if cards.is_empty() {
                    p { "Nothing here yet." }
                }
                @for card in cards { (card) }
            },
        ))
    }
    .await;
    page_or_error(&site, result)
}
