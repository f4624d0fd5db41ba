//! Shared helpers: a store in a temporary directory, chunk streams, a loopback server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use bytes::Bytes;
use futures::Stream;
use media_store::{Key, Limits, MediaStore, ServeOptions};
use tempfile::TempDir;

pub(crate) async fn store() -> (TempDir, MediaStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = MediaStore::open(dir.path().join("media")).await.unwrap();
    (dir, store)
}

/// Deterministic bytes that are not a repeated pattern.
pub(crate) fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `data` cut in chunks of varying sizes, counting how many were pulled.
pub(crate) fn chunks(
    data: &[u8],
    pulled: Arc<AtomicUsize>,
) -> impl Stream<Item = Result<Bytes, Infallible>> + use<> {
    let mut pieces = Vec::new();
    let mut rest = Bytes::copy_from_slice(data);
    let mut size = 1;
    while !rest.is_empty() {
        pieces.push(rest.split_to(size.min(rest.len())));
        size = size * 7 % 65_537 + 1;
    }
    futures::stream::iter(pieces).map(move |piece| {
        pulled.fetch_add(1, Ordering::SeqCst);
        Ok(piece)
    })
}

use futures::StreamExt as _;

/// The files in a directory and below, relative paths.
pub(crate) fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let root = dir;
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

/// Nothing staged, nothing stored.
pub(crate) fn assert_empty(store: &MediaStore) {
    for sub in ["tmp", "data", "meta"] {
        assert_eq!(
            files_under(&store.root().join(sub)),
            Vec::<String>::new(),
            "{sub}/ is not empty"
        );
    }
}

pub(crate) fn options() -> ServeOptions {
    ServeOptions::new(HeaderValue::from_static("video/mp4"))
        .with_cache_control(HeaderValue::from_static("public, max-age=3600"))
}

/// A loopback server: `/media/KEY` served by the store's service, `PUT /upload/KEY` staging the
/// body (limit `limit`) and committing it.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    /// Bytes sent by `sendfile` on all connections (`start_sendfile` only).
    pub(crate) sendfile_handles: Arc<std::sync::Mutex<Vec<media_store::Sendfile>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub(crate) async fn start(store: MediaStore, limit: u64) -> Self {
        let app = app(store, limit);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            sendfile_handles: Arc::default(),
            _task: task,
        }
    }

    /// The same routes on hyper directly, each connection a `SendfileStream` whose handle goes
    /// into its requests.
    pub(crate) async fn start_sendfile(store: MediaStore, limit: u64) -> Self {
        use tower::ServiceExt as _;
        let app = app(store, limit);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sendfile_handles: Arc<std::sync::Mutex<Vec<media_store::Sendfile>>> = Arc::default();
        let handles = sendfile_handles.clone();
        let task = tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (stream, handle) = media_store::SendfileStream::new(stream);
                handles.lock().unwrap().push(handle.clone());
                let app = app.clone();
                let service = hyper::service::service_fn(
                    move |mut request: hyper::Request<hyper::body::Incoming>| {
                        request.extensions_mut().insert(handle.clone());
                        app.clone().oneshot(request)
                    },
                );
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            sendfile_handles,
            _task: task,
        }
    }
}

fn app(store: MediaStore, limit: u64) -> Router {
    {
        Router::new()
            .route("/upload/{*key}", put(upload))
            .route("/direct/{*key}", get(direct))
            .with_state((store.clone(), limit))
            .nest_service("/media", store.service(|_| Some(options())))
    }
}

impl Server {
    /// Bytes sent by `sendfile` on all connections so far (`start_sendfile` only).
    pub(crate) fn sendfile_bytes(&self) -> u64 {
        self.sendfile_handles
            .lock()
            .unwrap()
            .iter()
            .map(|h| h.bytes_sent())
            .sum()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self._task.abort();
    }
}

/// The function form in an axum handler.
async fn direct(
    State((store, _)): State<(MediaStore, u64)>,
    UrlPath(key): UrlPath<String>,
    request: Request,
) -> Result<Response<media_store::FileBody>, StatusCode> {
    let key = Key::new(key).map_err(|_| StatusCode::NOT_FOUND)?;
    store
        .serve_request(&key, &request, &options())
        .await
        .map_err(|error| error.status())
}

async fn upload(
    State((store, limit)): State<(MediaStore, u64)>,
    UrlPath(key): UrlPath<String>,
    request: Request,
) -> Response {
    let Ok(key) = Key::new(key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let staged = match store.stage_request(request, &Limits::new(limit)).await {
        Ok(staged) => staged,
        Err(error) => return (error.status(), error.to_string()).into_response(),
    };
    match staged.commit(&key).await {
        Ok(metadata) => (StatusCode::CREATED, metadata.sha256.to_hex()).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}
