//! PeerTube's search API, as a search index answers it: `/api/v1/search/videos`,
//! `/video-channels` and `/video-playlists`, each by `GET` with a query string and by `POST`
//! with a JSON body (how a PeerTube instance asks its index), answering
//! `{"total": N, "data": [...]}` in PeerTube's REST shapes with absolute URLs. The queries and
//! answers are `video_search::api`'s; this module is only their routes.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use serde_json::json;
use tracing::warn;
use video_search::api::{
    ApiContext, ApiError, VideoChannelsSearchQuery, VideoPlaylistsSearchQuery, VideosSearchQuery,
    channels_response, playlists_response, videos_response,
};

use crate::app::Index;

/// Which of the three searches.
#[derive(Debug, Clone, Copy)]
enum Search {
    Videos,
    Channels,
    Playlists,
}

/// Where a query came from.
enum Source<'a> {
    QueryString(&'a str),
    Json(&'a [u8]),
}

/// `400` with PeerTube's error shape.
fn refuse(error: &ApiError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"status": 400, "error": error.to_string()})),
    )
        .into_response()
}

fn answer<T: Serialize>(result: anyhow::Result<T>) -> Response {
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(error) => {
            warn!(%error, "searching");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"status": 500, "error": "the search failed"})),
            )
                .into_response()
        }
    }
}

async fn search(index: &Index, search: Search, source: Source<'_>) -> Response {
    let context = ApiContext::index();
    match search {
        Search::Videos => {
            let query = match source {
                Source::QueryString(q) => VideosSearchQuery::from_query_string(q),
                Source::Json(b) => VideosSearchQuery::from_json(b),
            };
            match query.and_then(|q| q.to_index_query(&context)) {
                Ok(query) => answer(
                    index
                        .search_videos(query)
                        .await
                        .map(|r| videos_response(&r, &context)),
                ),
                Err(error) => refuse(&error),
            }
        }
        Search::Channels => {
            let query = match source {
                Source::QueryString(q) => VideoChannelsSearchQuery::from_query_string(q),
                Source::Json(b) => VideoChannelsSearchQuery::from_json(b),
            };
            match query.and_then(|q| q.to_index_query(&context)) {
                Ok(query) => answer(
                    index
                        .search_channels(query)
                        .await
                        .map(|r| channels_response(&r, &context)),
                ),
                Err(error) => refuse(&error),
            }
        }
        Search::Playlists => {
            let query = match source {
                Source::QueryString(q) => VideoPlaylistsSearchQuery::from_query_string(q),
                Source::Json(b) => VideoPlaylistsSearchQuery::from_json(b),
            };
            match query.and_then(|q| q.to_index_query(&context)) {
                Ok(query) => answer(
                    index
                        .search_playlists(query)
                        .await
                        .map(|r| playlists_response(&r, &context)),
                ),
                Err(error) => refuse(&error),
            }
        }
    }
}

/// `GET /api/v1/search/videos?search=...`.
pub(crate) async fn videos_get(State(index): State<Index>, RawQuery(q): RawQuery) -> Response {
    search(
        &index,
        Search::Videos,
        Source::QueryString(q.as_deref().unwrap_or_default()),
    )
    .await
}

/// `POST /api/v1/search/videos` with a JSON body.
pub(crate) async fn videos_post(State(index): State<Index>, body: Bytes) -> Response {
    search(&index, Search::Videos, Source::Json(&body)).await
}

/// `GET /api/v1/search/video-channels?search=...`.
pub(crate) async fn channels_get(State(index): State<Index>, RawQuery(q): RawQuery) -> Response {
    search(
        &index,
        Search::Channels,
        Source::QueryString(q.as_deref().unwrap_or_default()),
    )
    .await
}

/// `POST /api/v1/search/video-channels` with a JSON body.
pub(crate) async fn channels_post(State(index): State<Index>, body: Bytes) -> Response {
    search(&index, Search::Channels, Source::Json(&body)).await
}

/// `GET /api/v1/search/video-playlists?search=...`.
pub(crate) async fn playlists_get(State(index): State<Index>, RawQuery(q): RawQuery) -> Response {
    search(
        &index,
        Search::Playlists,
        Source::QueryString(q.as_deref().unwrap_or_default()),
    )
    .await
}

/// `POST /api/v1/search/video-playlists` with a JSON body.
pub(crate) async fn playlists_post(State(index): State<Index>, body: Bytes) -> Response {
    search(&index, Search::Playlists, Source::Json(&body)).await
}
