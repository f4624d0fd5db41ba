//! The stream: for someone signed in, their posts, those of the people they follow (and what
//! those reshared) and the public posts with the tags they follow (listed above them), as
//! their scope lets them read; for the signed out, the pod's public posts.

use axum::extract::{Query, State};
use axum::response::Response;
use instance_web::MaybeViewer;
use maud::html;

use super::{page_or_error, post_cards};
use crate::web::Site;

/// How many posts a page of the stream shows.
const PAGE: i64 = 40;

/// Where a page of the stream starts: after the post published at `older_than` (Unix
/// microseconds) with id `after`, as the "Older posts" link says.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Older {
    older_than: Option<i64>,
    after: Option<String>,
}

/// `GET /` (and `GET /?older_than=...&after=...`, the pages after the first).
pub(crate) async fn home(
    State(site): State<Site>,
    MaybeViewer(viewer): MaybeViewer,
    Query(older): Query<Older>,
) -> Response {
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
                let before = older.older_than.zip(older.after.clone());
                (
                    instance
                        .db()
                        .stream(&me, &scope, before.as_ref(), PAGE)
                        .await?,
                    instance.db().followed_tags(&me).await?,
                )
            }
            None => (instance.db().public_posts(0, PAGE).await?, Vec::new()),
        };
        let tag_path = |tag: &str| {
            url::Url::parse(&instance.tag_url(tag))
                .map_or_else(|_| "/".to_owned(), |url| url.path().to_owned())
        };
        let next = match (&identity, posts.last()) {
            (Some(_), Some(last)) if posts.len() as i64 == PAGE => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("older_than", &last.published.to_string())
                    .append_pair("after", &last.id)
                    .finish();
                Some(format!("/?{query}"))
            }
            _ => None,
        };
        let cards = post_cards(&site, viewer.as_ref(), &posts, true).await?;
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
                @if let Some(next) = &next {
                    p class="older" { a href=(next) rel="next" { "Older posts" } }
                }
            },
        ))
    }
    .await;
    page_or_error(&site, result)
}
