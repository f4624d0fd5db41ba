//! Embedding in other sites, as PeerTube offers it: the embed page (`/videos/embed/{uuid}`, a
//! bare player that other sites may frame) and oEmbed (`/services/oembed?url=…`, the JSON that
//! tells a site how to embed a watch page's video), announced by the watch page's
//! `<link rel="alternate" type="application/json+oembed">`.
//!
//! Only what anyone may see is embedded: a public video listed here, local or remote.

use axum::extract::{Path, Query, Request, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use instance_state::objects::{Addressing, Scope, Visibility};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::json;
use tracing::warn;

use crate::db::VideoRow;
use crate::web::Site;
use instance_server::WithParts as _;

/// Where the embed page's stylesheet is served.
pub(crate) const EMBED_STYLESHEET_PATH: &str = "/assets/embed.css";

/// The embed page's stylesheet: the player fills the frame.
pub(crate) const EMBED_STYLESHEET: &str = "html,body{margin:0;height:100%;background:#000}\
body{display:flex;flex-direction:column}\
video{flex:1;width:100%;min-height:0;background:#000}\
p{margin:0;padding:.3em .6em;font:14px/1.4 system-ui,sans-serif;background:#111;color:#eee}\
a{color:#9cf}";

/// The width of an embed when the consumer sets no bound (PeerTube's: 560 × 315).
const DEFAULT_WIDTH: u32 = 560;

/// The public video listed here with `uuid`, and its stored document.
async fn public_video(site: &Site, uuid: &str) -> anyhow::Result<Option<VideoRow>> {
    let Some(video) = site.instance.db().video_by_uuid(uuid).await? else {
        return Ok(None);
    };
    let visible = site
        .instance
        .state()
        .visible_object(&video.id, &Scope::anonymous())
        .await?
        .filter(|stored| {
            !stored.deleted && Addressing::of(&stored.document).visibility() == Visibility::Public
        });
    Ok(visible.map(|_| video))
}

/// The embed page's content security policy: the watch page's, with framing by any site
/// (what an embed is for).
pub(crate) fn embed_policy(site: &Site) -> String {
    crate::pages::watch_policy(site).replace("frame-ancestors 'none'", "frame-ancestors *")
}

/// `GET /videos/embed/{uuid}`: the player alone, with the title linking to the watch page.
pub(crate) async fn embed_page(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    request: Request,
) -> Response {
    let video = match public_video(&site, &uuid).await {
        Ok(Some(video)) => video,
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "There is no public video here at this address.",
            )
                .into_response();
        }
        Err(error) => {
            warn!(%error, "an embed page failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let files = match site.instance.db().files(&video.id).await {
        Ok(files) => files,
        Err(error) => {
            warn!(%error, "an embed page failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let document = match site.instance.state().object(&video.id).await {
        Ok(Some(stored)) => stored.document,
        _ => serde_json::Value::Null,
    };
    let playable = crate::pages::playable_files(&files, &document, video.local);
    let poster = files
        .iter()
        .any(|f| f.role == "thumbnail")
        .then(|| site.instance.thumbnail(&files).url);
    // An embed counts a view as the watch page does: one per address per hour.
    let (parts, _) = request.into_parts();
    if let Some(address) = site.web.client_address(&parts)
        && let Err(error) = site.instance.count_view(&video, &address.to_string()).await
    {
        warn!(%error, "counting a view");
    }
    let watch = video.id.clone();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (video.name) }
                link rel="stylesheet" href=(EMBED_STYLESHEET_PATH);
            }
            body {
                @if playable.is_empty() {
                    p { "This video plays on its own server: "
                        a href=(watch) target="_blank" rel="noopener" { (video.name) } }
                } @else {
                    video #player controls preload="metadata" poster=[poster] {
                        @for (src, media_type) in &playable {
                            source src=(src) type=(media_type);
                        }
                    }
                    p { a href=(watch) target="_blank" rel="noopener" { (video.name) } }
                }
            }
        }
    };
    let mut response = Html(page.into_string()).into_response();
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&embed_policy(&site)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The watch page's `<link>` to its oEmbed answer.
pub(crate) fn oembed_link(site: &Site, video: &VideoRow) -> Markup {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("url", &video.id)
        .append_pair("format", "json")
        .finish();
    let mut href = site.instance.url("services/oembed");
    href.set_query(Some(&query));
    html! {
        link rel="alternate" type="application/json+oembed" href=(href) title=(video.name);
    }
}

/// What a site asks oEmbed.
#[derive(Debug, Deserialize)]
pub(crate) struct OembedQuery {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    maxwidth: Option<String>,
    #[serde(default)]
    maxheight: Option<String>,
}

fn oembed_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_owned(),
    )
        .into_response()
}

/// The embed's size within `maxwidth` × `maxheight` (oEmbed §2.2), 16:9 as the player is.
fn embed_size(max_width: Option<u32>, max_height: Option<u32>) -> (u32, u32) {
    let mut width = DEFAULT_WIDTH.min(max_width.unwrap_or(DEFAULT_WIDTH)).max(1);
    let mut height = (width * 9 / 16).max(1);
    if let Some(max_height) = max_height
        && height > max_height
    {
        height = max_height.max(1);
        width = (height * 16 / 9).clamp(1, width);
    }
    (width, height)
}

/// A channel's name as people read it: its display name, else its name, else its address.
async fn channel_name(site: &Site, channel: &str) -> String {
    let state = site.instance.state();
    if let Some(name) = state.local_name(channel) {
        if let Ok(Some(actor)) = state.actor(&name).await {
            return if actor.display_name.is_empty() {
                actor.name
            } else {
                actor.display_name
            };
        }
    } else if let Ok(Some(actor)) = state.remote_actor(channel).await
        && !actor.name.is_empty()
    {
        return actor.name;
    }
    channel.to_owned()
}

/// The uuid of a watch page's address on this server (`/videos/watch/{uuid}` or PeerTube's
/// short `/w/{uuid}`).
fn watched_uuid(site: &Site, address: &str) -> Option<String> {
    let url = url::Url::parse(address).ok()?;
    if url.origin() != site.instance.base_url().origin() {
        return None;
    }
    let path = url.path();
    let uuid = path
        .strip_prefix("/videos/watch/")
        .or_else(|| path.strip_prefix("/w/"))?;
    (!uuid.is_empty() && !uuid.contains('/')).then(|| uuid.to_owned())
}

/// `GET /services/oembed?url=…` (oEmbed 1.0): a `video` answer with the embed's `<iframe>`,
/// for a public video's watch page here. `404` for anything else, `501` for `format=xml` (the
/// spec's answer to a format not offered), `400` without `url`.
pub(crate) async fn oembed(State(site): State<Site>, Query(query): Query<OembedQuery>) -> Response {
    if query.format.as_deref().is_some_and(|f| f != "json") {
        return oembed_error(StatusCode::NOT_IMPLEMENTED, "only format=json is offered");
    }
    let Some(address) = query.url.as_deref() else {
        return oembed_error(StatusCode::BAD_REQUEST, "the url parameter is missing");
    };
    let bound = |value: Option<&str>| value.and_then(|v| v.trim().parse::<u32>().ok());
    let (width, height) = embed_size(
        bound(query.maxwidth.as_deref()),
        bound(query.maxheight.as_deref()),
    );
    if let Some(answer) =
        crate::playlists::embed::oembed_answer(&site, address, width, height).await
    {
        return answer;
    }
    let Some(uuid) = watched_uuid(&site, address) else {
        return oembed_error(StatusCode::NOT_FOUND, "not a video's page on this server");
    };
    let video = match public_video(&site, &uuid).await {
        Ok(Some(video)) => video,
        Ok(None) => return oembed_error(StatusCode::NOT_FOUND, "no public video there"),
        Err(error) => {
            warn!(%error, "oEmbed failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let files = site
        .instance
        .db()
        .files(&video.id)
        .await
        .unwrap_or_default();
    let thumbnail = site.instance.thumbnail(&files);
    let embed = site.instance.url(&format!("videos/embed/{}", video.uuid));
    let iframe = html! {
        iframe width=(width) height=(height) sandbox="allow-same-origin allow-scripts allow-popups"
            title=(video.name) src=(embed) frameborder="0" allowfullscreen {}
    };
    let author = channel_name(&site, &video.channel).await;
    let answer = json!({
        "type": "video",
        "version": "1.0",
        "title": video.name,
        "author_name": author,
        "author_url": video.channel,
        "provider_name": site.instance.name(),
        "provider_url": site.instance.base_url().as_str(),
        "thumbnail_url": thumbnail.url,
        "thumbnail_width": thumbnail.width,
        "thumbnail_height": thumbnail.height,
        "html": iframe.into_string(),
        "width": width,
        "height": height,
    });
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(answer),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embed_keeps_its_shape_within_the_bounds() {
        assert_eq!(embed_size(None, None), (560, 315));
        assert_eq!(embed_size(Some(320), None), (320, 180));
        assert_eq!(embed_size(Some(1000), None), (560, 315));
        assert_eq!(embed_size(None, Some(180)), (320, 180));
        assert_eq!(embed_size(Some(0), Some(0)), (1, 1));
    }
}
