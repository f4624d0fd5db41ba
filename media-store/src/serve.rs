//! Answering `GET` and `HEAD` of stored files as a static file server does.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};

use crate::body::{FileBody, Piece};
use crate::conditional::{self, Plan, Validators};
use crate::error::StoreError;
use crate::key::Key;
use crate::sendfile::Sendfile;
use crate::store::MediaStore;

/// How to present a file: what the caller knows about it (the store guesses nothing from
/// names or contents).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeOptions {
    /// The `Content-Type` (from the caller's record of what was uploaded, e.g. after probing).
    pub content_type: HeaderValue,
    /// The `Cache-Control`, if any (`public, max-age=31536000, immutable` for content-addressed
    /// keys, for instance).
    pub cache_control: Option<HeaderValue>,
}

impl ServeOptions {
    /// Options with a content type and no `Cache-Control`.
    pub fn new(content_type: HeaderValue) -> Self {
        Self {
            content_type,
            cache_control: None,
        }
    }

    /// Sets [`ServeOptions::cache_control`].
    pub fn with_cache_control(mut self, value: HeaderValue) -> Self {
        self.cache_control = Some(value);
        self
    }
}

/// Why a file was not served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// No file is stored under the key.
    #[error("no media stored under {0}")]
    NotFound(Key),
    /// Opening or reading the file failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServeError {
    /// `404` or `500`.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl MediaStore {
    /// Answers a request for the file under `key`, as nginx answers for a static file:
    ///
    /// - `GET` and `HEAD` only (anything else: `405` with `Allow`);
    /// - `Accept-Ranges: bytes`; one range gives `206` with `Content-Range`, several give a
    ///   `206` `multipart/byteranges` (sorted, overlapping and adjacent ranges merged, at most
    ///   [`MAX_PARTS`](crate::range::MAX_PARTS) parts, else the whole file); a range past the
    ///   end gives `416` with `Content-Range: bytes */LEN`; a malformed `Range` is ignored;
    ///   `Range` on `HEAD` is ignored (RFC 9110 defines it for `GET` only), and a zero-length
    ///   file is always sent whole;
    /// - a strong `ETag` (the SHA-256 in hex) and `Last-Modified`; `If-Match`,
    ///   `If-Unmodified-Since` (`412`), `If-None-Match`, `If-Modified-Since` (`304`) and
    ///   `If-Range` evaluated as RFC 9110 §13.2.2 orders;
    /// - `Content-Type` and `Cache-Control` from `options`, `Content-Length`, and
    ///   `X-Content-Type-Options: nosniff`.
    ///
    /// The body streams from the file (see [`FileBody`]). The file is opened once, so a commit
    /// replacing it meanwhile does not mix two versions in one answer.
    pub async fn serve(
        &self,
        key: &Key,
        method: &Method,
        headers: &HeaderMap,
        options: &ServeOptions,
    ) -> Result<Response<FileBody>, ServeError> {
        self.respond(key, method, headers, None, options).await
    }

    /// [`MediaStore::serve`] for a request that may carry a [`Sendfile`] handle in its
    /// extensions (put there by a server accepting connections as
    /// [`SendfileStream`](crate::SendfileStream)s): with one, the file's bytes go to the
    /// socket by `sendfile`, without a copy through user space.
    ///
    /// The future borrows the request's method and headers only, so it is `Send` whatever the
    /// body is (axum's `Body` is not `Sync`).
    pub fn serve_request<'a, B>(
        &'a self,
        key: &'a Key,
        request: &'a Request<B>,
        options: &'a ServeOptions,
    ) -> impl Future<Output = Result<Response<FileBody>, ServeError>> + Send + 'a {
        let sendfile = request.extensions().get::<Sendfile>().cloned();
        self.respond(key, request.method(), request.headers(), sendfile, options)
    }

    async fn respond(
        &self,
        key: &Key,
        method: &Method,
        headers: &HeaderMap,
        sendfile: Option<Sendfile>,
        options: &ServeOptions,
    ) -> Result<Response<FileBody>, ServeError> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = Response::new(FileBody::empty());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            return Ok(response);
        }
        let opened = match self.inner.try_open_cached(key) {
            Some(opened) => opened?,
            None => {
                let inner = self.inner.clone();
                let owned = key.clone();
                tokio::task::spawn_blocking(move || inner.open_file(&owned))
                    .await
                    .map_err(StoreError::from)??
            }
        };
        let Some((file, metadata)) = opened else {
            return Err(ServeError::NotFound(key.clone()));
        };
        let validators = Validators::new(metadata.sha256.to_hex(), metadata.modified);
        let len = metadata.size;
        let plan = conditional::plan(method, headers, &validators, len);
        let mut builder = Response::builder();
        let out = builder.headers_mut().ok_or_else(|| StoreError::Corrupt {
            path: self.path_of(key),
            reason: "response builder",
        })?;
        out.insert(header::ETAG, value(validators.etag_header()));
        out.insert(
            header::LAST_MODIFIED,
            value(validators.last_modified_header()),
        );
        if let Some(cache_control) = &options.cache_control {
            out.insert(header::CACHE_CONTROL, cache_control.clone());
        }
        let head = method == Method::HEAD;
        let (status, body, length) = match plan {
            Plan::NotModified => (StatusCode::NOT_MODIFIED, FileBody::empty(), None),
            Plan::PreconditionFailed => {
                (StatusCode::PRECONDITION_FAILED, FileBody::empty(), Some(0))
            }
            Plan::Unsatisfiable => {
                out.insert(header::CONTENT_RANGE, value(format!("bytes */{len}")));
                (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    FileBody::empty(),
                    Some(0),
                )
            }
            Plan::Whole => {
                common(out);
                out.insert(header::CONTENT_TYPE, options.content_type.clone());
                let body = if head {
                    FileBody::empty()
                } else {
                    FileBody::new(file, vec![Piece::File { offset: 0, len }], sendfile)
                };
                (StatusCode::OK, body, Some(len))
            }
            Plan::Partial(ranges) => {
                common(out);
                match ranges.as_slice() {
                    [range] => {
                        out.insert(header::CONTENT_TYPE, options.content_type.clone());
                        out.insert(header::CONTENT_RANGE, value(range.content_range(len)));
                        let piece = Piece::File {
                            offset: range.start,
                            len: range.len(),
                        };
                        (
                            StatusCode::PARTIAL_CONTENT,
                            FileBody::new(file, vec![piece], sendfile),
                            Some(range.len()),
                        )
                    }
                    ranges => {
                        let boundary =
                            format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
                        out.insert(
                            header::CONTENT_TYPE,
                            value(format!("multipart/byteranges; boundary={boundary}")),
                        );
                        let mut pieces = Vec::with_capacity(ranges.len() * 2 + 1);
                        let mut total = 0u64;
                        for range in ranges {
                            let mut part =
                                format!("\r\n--{boundary}\r\nContent-Type: ").into_bytes();
                            part.extend_from_slice(options.content_type.as_bytes());
                            let _ = write!(
                                Header(&mut part),
                                "\r\nContent-Range: {}\r\n\r\n",
                                range.content_range(len)
                            );
                            total += part.len() as u64 + range.len();
                            pieces.push(Piece::Bytes(Bytes::from(part)));
                            pieces.push(Piece::File {
                                offset: range.start,
                                len: range.len(),
                            });
                        }
                        let end = Bytes::from(format!("\r\n--{boundary}--\r\n"));
                        total += end.len() as u64;
                        pieces.push(Piece::Bytes(end));
                        (
                            StatusCode::PARTIAL_CONTENT,
                            FileBody::new(file, pieces, sendfile),
                            Some(total),
                        )
                    }
                }
            }
        };
        if let Some(length) = length {
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        builder.status(status).body(body).map_err(|_| {
            ServeError::Store(StoreError::Corrupt {
                path: self.path_of(key),
                reason: "response builder",
            })
        })
    }

    /// A [`tower::Service`] answering requests whose path (after the prefix a router strips,
    /// as axum's `nest_service` does) is a key, with the options `options` gives for it: `None`
    /// and invalid keys get `404`. For example
    /// `Router::new().nest_service("/media", store.service(|_| Some(opts.clone())))`.
    pub fn service<F>(&self, options: F) -> MediaService<F>
    where
        F: Fn(&Key) -> Option<ServeOptions> + Send + Sync + 'static,
    {
        MediaService {
            store: self.clone(),
            options: Arc::new(options),
        }
    }
}

/// The headers of `200` and `206` answers.
fn common(out: &mut HeaderMap) {
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A header value from text this module wrote (digits, hex, dates, ASCII).
fn value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

struct Header<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Header<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The service of [`MediaStore::service`].
pub struct MediaService<F> {
    store: MediaStore,
    options: Arc<F>,
}

impl<F> Clone for MediaService<F> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            options: self.options.clone(),
        }
    }
}

impl<F, B> tower::Service<Request<B>> for MediaService<F>
where
    F: Fn(&Key) -> Option<ServeOptions> + Send + Sync + 'static,
{
    type Response = Response<FileBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<FileBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let store = self.store.clone();
        let found = Key::new(request.uri().path().trim_start_matches('/'))
            .ok()
            .and_then(|key| (self.options)(&key).map(|options| (key, options)));
        let (parts, _) = request.into_parts();
        Box::pin(async move {
            let Some((key, options)) = found else {
                return Ok(status(StatusCode::NOT_FOUND));
            };
            let sendfile = parts.extensions.get::<Sendfile>().cloned();
            match store
                .respond(&key, &parts.method, &parts.headers, sendfile, &options)
                .await
            {
                Ok(response) => Ok(response),
                Err(error) => {
                    if let ServeError::Store(error) = &error {
                        tracing::error!(%error, "serving media failed");
                    }
                    Ok(status(error.status()))
                }
            }
        })
    }
}

fn status(status: StatusCode) -> Response<FileBody> {
    let mut response = Response::new(FileBody::empty());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}
