//! [`StaticFiles`]: the requests an instance answers before its router and the middleware
//! around it.
//!
//! A media file is asked for in many ranges (a player reads a video 64 KiB to a few MiB at a
//! time), and each range is a request. Through the router, each also pays for the matching of
//! every page's route, the middleware of every page and the extractors; for a file whose bytes
//! go out by `sendfile(2)` that is most of the CPU the request costs. [`Front`] recognises
//! `GET` and `HEAD` of the static prefix first and hands them to the instance's handler
//! directly, then adds the security headers the router's middleware would have added
//! (`instance_web::add_security_headers`), so the answer is the same either way. Every other
//! request (another method on the prefix too) goes to the router as before.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{Result, bail};
use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::{Service, ServiceExt as _};

type Handler =
    dyn Fn(String, Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync;

/// `GET` and `HEAD` of the paths under a prefix (`/static/`), answered by a handler of the
/// instance before its router and the middleware around it
/// ([`Application::static_files`](crate::Application::static_files)); the answers get the
/// security headers all the same (`instance_web::add_security_headers`). For files served in
/// many small requests (the ranges a video player asks for). Cheap to clone.
#[derive(Clone)]
pub struct StaticFiles {
    prefix: &'static str,
    handler: Arc<Handler>,
}

impl std::fmt::Debug for StaticFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticFiles")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl StaticFiles {
    /// `GET` and `HEAD` of the paths starting with `prefix` (which starts and ends with `/`:
    /// `/static/`) answered by `handler`, given the rest of the path, percent-decoded
    /// (`videos/UUID/original.mp4` for `/static/videos/UUID/original.mp4`), and the request.
    /// A rest that does not decode to UTF-8 is answered `400` without the handler, as axum's
    /// path extractor answers it.
    pub fn new<F, Fut>(prefix: &'static str, handler: F) -> Result<Self>
    where
        F: Fn(String, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        if !prefix.starts_with('/') || !prefix.ends_with('/') || prefix.len() < 2 {
            bail!("a static prefix starts and ends with `/` (`/static/`), not {prefix:?}");
        }
        Ok(Self {
            prefix,
            handler: Arc::new(move |rest, request| Box::pin(handler(rest, request))),
        })
    }

    /// The prefix.
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    /// The rest of the path of `request` after the prefix, if the request is one of these.
    fn matches<'r>(&self, request: &'r Request) -> Option<&'r str> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return None;
        }
        request.uri().path().strip_prefix(self.prefix)
    }
}

/// The service an instance is served as: [`StaticFiles`] first, if the instance has some,
/// then its router (with its middleware).
#[derive(Clone, Debug)]
pub(crate) struct Front {
    router: Router,
    files: Option<StaticFiles>,
}

impl Front {
    pub(crate) fn new(router: Router, files: Option<StaticFiles>) -> Self {
        Self { router, files }
    }
}

impl Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready (axum's `Router::poll_ready`); it is called through
        // `oneshot`, which asks it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let rest = self.files.as_ref().and_then(|files| {
            files
                .matches(&request)
                .map(|rest| (files.handler.clone(), decode(rest)))
        });
        match rest {
            Some((handler, Some(rest))) => Box::pin(async move {
                let mut response = handler(rest, request).await;
                instance_web::add_security_headers(response.headers_mut());
                Ok(response)
            }),
            Some((_, None)) => Box::pin(async move {
                let mut response = (StatusCode::BAD_REQUEST, "Invalid URL").into_response();
                instance_web::add_security_headers(response.headers_mut());
                Ok(response)
            }),
            None => Box::pin(self.router.clone().oneshot(request)),
        }
    }
}

/// `rest` percent-decoded; `None` if that is not UTF-8.
fn decode(rest: &str) -> Option<String> {
    if !rest.contains('%') {
        return Some(rest.to_owned());
    }
    percent_encoding::percent_decode_str(rest)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::routing::get;

    use super::*;

    fn front() -> Front {
        let router = Router::new()
            .route(
                "/static/{*key}",
                get(|| async { "router" }).post(|| async { "posted" }),
            )
            .route("/page", get(|| async { "page" }))
            .layer(axum::middleware::from_fn(instance_web::security_headers));
        let files = StaticFiles::new("/static/", |rest, request: Request| async move {
            format!("{} {rest}", request.method()).into_response()
        })
        .unwrap();
        Front::new(router, Some(files))
    }

    async fn ask(method: Method, path: &str) -> (Response, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = front().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, 1 << 16).await.unwrap();
        (
            Response::from_parts(parts, Body::empty()),
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn get_and_head_of_the_prefix_skip_the_router_and_keep_the_security_headers() {
        let (through_router, _) = ask(Method::GET, "/page").await;
        for (method, path, expected) in [
            (Method::GET, "/static/a/b.mp4", "GET a/b.mp4"),
            (Method::HEAD, "/static/a/b.mp4", "HEAD a/b.mp4"),
            (Method::GET, "/static/a%2Db.mp4", "GET a-b.mp4"),
            (Method::GET, "/static/a/b.mp4?x=1", "GET a/b.mp4"),
            (Method::GET, "/static/", "GET "),
        ] {
            let (response, body) = ask(method.clone(), path).await;
            assert_eq!(response.status(), StatusCode::OK, "{method} {path}");
            if method == Method::GET {
                assert_eq!(body, expected, "{method} {path}");
            }
            for name in [
                "content-security-policy",
                "x-content-type-options",
                "referrer-policy",
                "x-frame-options",
            ] {
                assert_eq!(
                    response.headers().get(name),
                    through_router.headers().get(name),
                    "{name} of {method} {path}"
                );
                assert!(response.headers().contains_key(name), "{name}");
            }
        }
    }

    #[tokio::test]
    async fn other_methods_and_paths_go_through_the_router() {
        for (method, path, status, expected) in [
            (Method::POST, "/static/a/b.mp4", StatusCode::OK, "posted"),
            (Method::GET, "/page", StatusCode::OK, "page"),
            (Method::GET, "/static", StatusCode::NOT_FOUND, ""),
            (Method::GET, "/staticfile", StatusCode::NOT_FOUND, ""),
            (
                Method::DELETE,
                "/static/a",
                StatusCode::METHOD_NOT_ALLOWED,
                "",
            ),
        ] {
            let (response, body) = ask(method.clone(), path).await;
            assert_eq!(response.status(), status, "{method} {path}");
            assert_eq!(body, expected, "{method} {path}");
            assert!(
                response.headers().contains_key("content-security-policy"),
                "{method} {path}"
            );
        }
    }

    #[tokio::test]
    async fn a_path_that_is_not_utf8_is_refused() {
        let (response, _) = ask(Method::GET, "/static/%FF%FE").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().contains_key("x-frame-options"));
    }

    #[test]
    fn a_prefix_must_be_a_directory() {
        for prefix in ["static/", "/static", "/", ""] {
            assert!(
                StaticFiles::new(prefix, |_, _| async { StatusCode::OK.into_response() }).is_err(),
                "{prefix:?}"
            );
        }
    }
}
