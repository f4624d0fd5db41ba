//! Embedding a playlist, as PeerTube offers it: `/video-playlists/embed/{uuid}` plays one of
//! its videos (the first, or the one at `?playlistPosition=n`) with the list of the others,
//! and any site may frame it (the video embed's policy); oEmbed answers for a playlist's
//! address. Public and unlisted playlists are embedded (an unlisted one by whoever has its
//! address), with the videos anyone may see.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use instance_state::objects::Scope;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::json;
use tracing::warn;

use super::{PlaylistRow, Privacy};
use crate::embed::{EMBED_STYLESHEET_PATH, embed_policy};
use crate::web::Site;
use instance_server::WithParts as _;

/// Which video of the playlist plays.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbedQuery {
    #[serde(default, rename = "playlistPosition")]
    playlist_position: Option<String>,
}

/// The public or unlisted playlist listed here with `uuid`.
async fn embeddable(site: &Site, uuid: &str) -> anyhow::Result<Option<PlaylistRow>> {
    Ok(site
        .instance
        .playlist_by_uuid(uuid)
        .await?
        .filter(|p| p.privacy != Privacy::Private))
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "There is no public playlist here at this address.",
    )
        .into_response()
}

/// `GET /video-playlists/embed/{uuid}`: the player with the playlist's list.
pub(crate) async fn embed_page(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    Query(query): Query<EmbedQuery>,
) -> Response {
    let outcome = async {
        let Some(playlist) = embeddable(&site, &uuid).await? else {
            return Ok(None);
        };
        let videos: Vec<_> = site
            .instance
            .shown_elements(&playlist, &Scope::anonymous())
            .await?
            .into_iter()
            .filter_map(|shown| shown.video.map(|video| (shown.element, video)))
            .collect();
        let chosen = query
            .playlist_position
            .as_deref()
            .and_then(|p| p.trim().parse::<usize>().ok())
            .filter(|p| (1..=videos.len()).contains(p))
            .unwrap_or(1);
        let mut playable = Vec::new();
        if let Some((_, video)) = videos.get(chosen - 1) {
            let files = site.instance.db().files(&video.id).await?;
            let document = match site.instance.state().object(&video.id).await? {
                Some(stored) => stored.document,
                None => serde_json::Value::Null,
            };
            playable = crate::pages::playable_files(&files, &document, video.local);
        }
        Ok::<_, anyhow::Error>(Some(page(&playlist, &videos, chosen, &playable)))
    }
    .await;
    match outcome {
        Ok(Some(page)) => {
            let mut response = Html(page.into_string()).into_response();
            let headers = response.headers_mut();
            if let Ok(policy) = HeaderValue::from_str(&embed_policy(&site)) {
                headers.insert(header::CONTENT_SECURITY_POLICY, policy);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(None) => not_found(),
        Err(error) => {
            warn!(%error, "a playlist embed failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The embed page: the chosen video's player (a start and stop as a media fragment), then the
/// list, the chosen one marked.
fn page(
    playlist: &PlaylistRow,
    videos: &[(super::ElementRow, crate::db::VideoRow)],
    chosen: usize,
    playable: &[(String, String)],
) -> Markup {
    let fragment = videos
        .get(chosen - 1)
        .map(
            |(element, _)| match (element.start_secs, element.stop_secs) {
                (None, None) => String::new(),
                (start, None) => format!("#t={}", start.unwrap_or(0)),
                (start, Some(stop)) => format!("#t={},{stop}", start.unwrap_or(0)),
            },
        )
        .unwrap_or_default();
    let page_link = if playlist.local {
        playlist.id.clone()
    } else {
        format!("/video-playlists/{}", playlist.uuid)
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (playlist.name) }
                link rel="stylesheet" href=(EMBED_STYLESHEET_PATH);
            }
            body {
                @if videos.is_empty() {
                    p { "This playlist has no video to play." }
                } @else if playable.is_empty() {
                    @if let Some((_, video)) = videos.get(chosen - 1) {
                        p { "This video plays on its own server: "
                            a href=(video.id) target="_blank" rel="noopener" { (video.name) } }
                    }
                } @else {
                    video #player controls preload="metadata" {
                        @for (src, media_type) in playable {
                            source src=(format!("{src}{fragment}")) type=(media_type);
                        }
                    }
                }
                p { a href=(page_link) target="_blank" rel="noopener" { (playlist.name) } }
                ol.playlist {
                    @for (i, (_, video)) in videos.iter().enumerate() {
                        li {
                            @if i + 1 == chosen {
                                strong aria-current="true" { (video.name) }
                            } @else {
                                a href=(format!("/video-playlists/embed/{}?playlistPosition={}", playlist.uuid, i + 1)) {
                                    (video.name)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The playlist page's `<link>` to its oEmbed answer.
pub(crate) fn oembed_link(site: &Site, playlist: &PlaylistRow) -> Markup {
    let address = site.instance.playlist_id(&playlist.uuid);
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("url", &address)
        .append_pair("format", "json")
        .finish();
    let mut href = site.instance.url("services/oembed");
    href.set_query(Some(&query));
    html! {
        link rel="alternate" type="application/json+oembed" href=(href) title=(playlist.name);
    }
}

/// The uuid of a playlist's address on this server (`/video-playlists/{uuid}`, or PeerTube's
/// `/w/p/{uuid}` and `/videos/watch/playlist/{uuid}`).
fn playlist_uuid(site: &Site, address: &str) -> Option<String> {
    let url = url::Url::parse(address).ok()?;
    if url.origin() != site.instance.base_url().origin() {
        return None;
    }
    let path = url.path();
    let uuid = path
        .strip_prefix("/video-playlists/")
        .or_else(|| path.strip_prefix("/w/p/"))
        .or_else(|| path.strip_prefix("/videos/watch/playlist/"))?;
    (!uuid.is_empty() && !uuid.contains('/')).then(|| uuid.to_owned())
}

/// oEmbed's answer for `address` when it is a public playlist's here (a `video` answer whose
/// `<iframe>` is the playlist's embed, `width` × `height`); `None` when it is no playlist's
/// address.
pub(crate) async fn oembed_answer(
    site: &Site,
    address: &str,
    width: u32,
    height: u32,
) -> Option<Response> {
    let uuid = playlist_uuid(site, address)?;
    let playlist = match site.instance.playlist_by_uuid(&uuid).await {
        Ok(Some(playlist)) if playlist.local && playlist.privacy == Privacy::Public => playlist,
        Ok(_) => {
            return Some(
                (
                    StatusCode::NOT_FOUND,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    "no public playlist there",
                )
                    .into_response(),
            );
        }
        Err(error) => {
            warn!(%error, "oEmbed failed");
            return Some(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    };
    let elements = site
        .instance
        .public_elements(&playlist)
        .await
        .unwrap_or_default();
    let thumbnail = site
        .instance
        .playlist_thumbnail(&playlist, &elements)
        .await
        .ok()
        .flatten();
    let embed = site
        .instance
        .url(&format!("video-playlists/embed/{}", playlist.uuid));
    let iframe = html! {
        iframe width=(width) height=(height) sandbox="allow-same-origin allow-scripts allow-popups"
            title=(playlist.name) src=(embed) frameborder="0" allowfullscreen {}
    };
    let mut answer = json!({
        "type": "video",
        "version": "1.0",
        "title": playlist.name,
        "author_name": crate::pages::host_name(&playlist.owner),
        "author_url": playlist.owner,
        "provider_name": site.instance.name(),
        "provider_url": site.instance.base_url().as_str(),
        "html": iframe.into_string(),
        "width": width,
        "height": height,
    });
    if let (Some((thumbnail, _)), Some(map)) = (thumbnail, answer.as_object_mut()) {
        map.insert("thumbnail_url".into(), json!(thumbnail.url));
        map.insert("thumbnail_width".into(), json!(thumbnail.width));
        map.insert("thumbnail_height".into(), json!(thumbnail.height));
    }
    Some(
        (
            [(header::CACHE_CONTROL, "public, max-age=300")],
            axum::Json(answer),
        )
            .into_response(),
    )
}
