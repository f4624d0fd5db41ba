//! The files of the videos, served from the media store with ranges, ETags and conditional
//! requests.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use federation::serve::Connector;
use http::{HeaderValue, StatusCode};
use instance_server::StaticFiles;
use media_store::{Key, Sendfile, SendfileStream, ServeOptions};
use tokio::net::TcpStream;
use tracing::warn;

use crate::app::Instance;
use crate::web::Site;

/// The prefix of the files' paths.
pub(crate) const PREFIX: &str = "/static/";

/// `GET /static/{key}` through the router: [`answer`]. The server answers `GET` and `HEAD` of
/// the files before the router ([`static_files`]); this route serves them to whoever serves the
/// router alone, and answers the other methods (`405`).
pub(crate) async fn serve_file(
    State(site): State<Site>,
    Path(key): Path<String>,
    request: Request,
) -> Response {
    answer(&site.instance, key, request).await
}

/// `GET` and `HEAD` of `/static/...` answered before the router and its middleware
/// (`instance_server::StaticFiles`, which adds the security headers the middleware would):
/// a range of a video costs the range's work and little more.
pub(crate) fn static_files(instance: &Instance) -> anyhow::Result<StaticFiles> {
    let instance = instance.clone();
    StaticFiles::new(PREFIX, move |key, request| {
        let instance = instance.clone();
        async move { answer(&instance, key, request).await }
    })
}

/// A file of a video kept here (an upload, a rendition, a thumbnail, a mirrored copy), `key`
/// its path under `/static/`. Files are named by a fresh uuid and never change, so they are
/// cached for a long time.
async fn answer(instance: &Instance, key: String, request: Request) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such file").into_response();
    let Ok(key) = Key::new(key) else {
        return not_found();
    };
    let media = instance.media();
    let content_type = match instance.media_types().get(&key) {
        Some(content_type) => content_type,
        None => {
            let row = match instance.db().file(key.as_str()).await {
                Ok(Some(row)) => row,
                Ok(None) => return not_found(),
                Err(error) => {
                    warn!(%error, "looking a file up");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong")
                        .into_response();
                }
            };
            let Ok(content_type) = HeaderValue::from_str(&row.media_type) else {
                return not_found();
            };
            instance.media_types().remember(&key, &content_type);
            content_type
        }
    };
    let options = ServeOptions::new(content_type).with_cache_control(HeaderValue::from_static(
        "public, max-age=31536000, immutable",
    ));
    // The request carries its connection's `Sendfile` handle ([`SendfileConnector`]): the
    // file's bytes then go out by `sendfile(2)`.
    match media.serve_request(&key, &request, &options).await {
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
            instance.media_types().forget(&key);
            let status = error.status();
            if status.is_server_error() {
                warn!(%error, "serving a file");
            }
            (status, status.canonical_reason().unwrap_or("error")).into_response()
        }
    }
}

/// How many files' media types [`MediaTypes`] keeps (then it starts again).
const CACHED_FILES: usize = 16_384;

/// The media types of the files served lately, by key. A player asks for a file in many
/// ranges, and reading its row from the database for each (through sqlx's SQLite thread: two
/// thread switches) cost more than sending the range. A file's row never changes (its key is
/// fresh, its media type fixed); a file whose row is removed is removed from the store too,
/// and the store's `404` drops it from here.
#[derive(Debug, Default)]
pub(crate) struct MediaTypes(Mutex<HashMap<String, HeaderValue>>);

impl MediaTypes {
    fn get(&self, key: &Key) -> Option<HeaderValue> {
        let cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(key.as_str()).cloned()
    }

    fn remember(&self, key: &Key, content_type: &HeaderValue) {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHED_FILES {
            cache.clear();
        }
        cache.insert(key.as_str().to_owned(), content_type.clone());
    }

    fn forget(&self, key: &Key) {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache.remove(key.as_str());
    }
}

/// Accepts the instance's connections as media-store's [`SendfileStream`], each request
/// carrying the connection's [`Sendfile`] handle, so that [`serve_file`] sends files with
/// `sendfile(2)` rather than copying them through user space. Sound because nothing between
/// [`serve_file`] and the connection reads or transforms the response body: the routes have no
/// compression or other body layer (only header layers), and `federation::serve` keeps
/// hyper's vectored writes on plain TCP.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SendfileConnector;

impl Connector for SendfileConnector {
    type Io = SendfileStream;
    type Extension = Sendfile;

    fn connect(&self, stream: TcpStream) -> (SendfileStream, Option<Sendfile>) {
        let (stream, handle) = SendfileStream::new(stream);
        (stream, Some(handle))
    }
}
