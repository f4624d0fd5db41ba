//! The files of the videos, served from the media store with ranges, ETags and conditional
//! requests.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use media_store::{Key, ServeOptions};
use tracing::warn;

use crate::web::Site;

/// `GET /static/{key}`: a file of a video kept here (an upload, a rendition, a thumbnail, a
/// mirrored copy). Files are named by a fresh uuid and never change, so they are cached for a
/// long time.
pub(crate) async fn serve_file(
    State(site): State<Site>,
    Path(key): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such file").into_response();
    let Ok(key) = Key::new(key) else {
        return not_found();
    };
    let row = match site.instance.db().file(key.as_str()).await {
        Ok(Some(row)) => row,
        Ok(None) => return not_found(),
        Err(error) => {
            warn!(%error, "looking a file up");
            return (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response();
        }
    };
    let Ok(content_type) = HeaderValue::from_str(&row.media_type) else {
        return not_found();
    };
    let options = ServeOptions::new(content_type).with_cache_control(HeaderValue::from_static(
        "public, max-age=31536000, immutable",
    ));
    match site
        .instance
        .media()
        .serve(&key, &method, &headers, &options)
        .await
    {
        Ok(response) => {
            let mut response = response.map(axum::body::Body::new).into_response();
            // Public files, fetched by other sites' players too (an HLS player reads the
            // playlists, hashes and ranges with fetch), as PeerTube serves them.
            response.headers_mut().insert(
                http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            response
        }
        Err(error) => {
            let status = error.status();
            if status.is_server_error() {
                warn!(%error, "serving a file");
            }
            (status, status.canonical_reason().unwrap_or("error")).into_response()
        }
    }
}
