//! Serving WebFinger: from the query string to a complete response
//! ([RFC 7033 §4.2](https://www.rfc-editor.org/rfc/rfc7033#section-4.2)).
//!
//! The lookup of the local account is the caller's: a closure for [`respond`], or, for an
//! asynchronous lookup, [`Query::parse`] then your lookup then [`Query::respond`].
//!
//! ```
//! use url::Url;
//! use webfinger::server::{self, account_jrd};
//!
//! let response = server::respond(Some("resource=acct%3Aalice%40example.com"), |query| {
//!     let acct = query.resource.as_acct()?;
//!     (acct.user() == "alice" && acct.host().to_string() == "example.com").then(|| {
//!         let id = Url::parse("https://example.com/users/alice").ok()?;
//!         Some(account_jrd(acct, &id, None))
//!     })?
//! });
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["content-type"], "application/jrd+json");
//! assert_eq!(response.headers()["access-control-allow-origin"], "*");
//! ```

use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use url::Url;

use crate::actor::ACTIVITY_JSON;
use crate::jrd::{Jrd, Link};
use crate::rel::Rel;
use crate::resource::{AcctUri, Resource, ResourceError};

/// A parsed WebFinger query: the resource and the `rel` filters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Query {
    /// The `resource` parameter, read leniently ([`Resource::from_user_input`]): clients send
    /// `acct:` URIs, `https:` URLs and, now and then, bare `user@host`.
    pub resource: Resource,
    /// The `rel` parameters, in order. Empty means every link.
    pub rels: Vec<Rel>,
}

/// Why a query string is not a WebFinger query. Each answers 400 Bad Request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// There is no `resource` parameter.
    #[error("the query has no resource parameter")]
    MissingResource,
    /// There is more than one `resource` parameter.
    #[error("the query has more than one resource parameter")]
    DuplicateResource,
    /// A parameter's percent-encoding is not UTF-8.
    #[error("the `{name}` parameter is not percent-encoded UTF-8")]
    InvalidEncoding {
        /// The parameter's name.
        name: String,
    },
    /// The `resource` parameter is not a resource.
    #[error("the resource `{value}` is not valid")]
    InvalidResource {
        /// The decoded value.
        value: String,
        /// Why it is not valid.
        source: ResourceError,
    },
}

impl Query {
    /// Parses the query string of a request to the WebFinger endpoint (without the `?`).
    ///
    /// Values are percent-decoded; `+` is kept as a plus sign (this is a URI query, not a form).
    /// Parameters other than `resource` and `rel` are ignored.
    ///
    /// # Errors
    ///
    /// [`QueryError`] saying what is wrong; [`error_response`] turns it into the 400 response.
    pub fn parse(query: Option<&str>) -> Result<Query, QueryError> {
        let mut resource = None;
        let mut rels = Vec::new();
        for pair in query.unwrap_or_default().split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name, name)?;
            match name.as_str() {
                "resource" => {
                    if resource.is_some() {
                        return Err(QueryError::DuplicateResource);
                    }
                    resource = Some(decode(&name, value)?);
                }
                "rel" => rels.push(Rel::new(decode(&name, value)?)),
                _ => {}
            }
        }
        let value = resource.ok_or(QueryError::MissingResource)?;
        let resource = Resource::from_user_input(&value)
            .map_err(|source| QueryError::InvalidResource { value, source })?;
        Ok(Query { resource, rels })
    }

    /// The response to this query: 200 with the JRD (its links filtered by the `rel`
    /// parameters) when `found` is `Some`, 404 when it is `None`.
    pub fn respond(&self, found: Option<Jrd>) -> Response<Vec<u8>> {
        match found {
            None => text_response(
                StatusCode::NOT_FOUND,
                format!("no such resource: {}\n", self.resource),
            ),
            Some(mut jrd) => {
                jrd.retain_rels(&self.rels);
                jrd_response(&jrd)
            }
        }
    }
}

/// The whole exchange: parses the query string, asks `lookup` for the JRD of the resource, and
/// answers 200, 400 (bad or missing resource) or 404 (`lookup` returned `None`).
pub fn respond<F>(query: Option<&str>, lookup: F) -> Response<Vec<u8>>
where
    F: FnOnce(&Query) -> Option<Jrd>,
{
    match Query::parse(query) {
        Ok(query) => {
            let found = lookup(&query);
            query.respond(found)
        }
        Err(error) => error_response(&error),
    }
}

/// Like [`respond`], for a whole request: `GET` and `HEAD` (which has the same headers and no
/// body) are answered, other methods get 405 Method Not Allowed.
pub fn respond_to_request<B, F>(request: &Request<B>, lookup: F) -> Response<Vec<u8>>
where
    F: FnOnce(&Query) -> Option<Jrd>,
{
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        let mut response = text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "WebFinger answers GET and HEAD\n".to_owned(),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let mut response = respond(request.uri().query(), lookup);
    if method == Method::HEAD {
        response.body_mut().clear();
    }
    response
}

/// The 400 Bad Request response for a query that could not be parsed, with the reason as text.
pub fn error_response(error: &QueryError) -> Response<Vec<u8>> {
    text_response(StatusCode::BAD_REQUEST, format!("{error}\n"))
}

/// The 200 response carrying a JRD, with `Content-Type: application/jrd+json` and
/// `Access-Control-Allow-Origin: *` ([RFC 7033 §5](https://www.rfc-editor.org/rfc/rfc7033#section-5)).
pub fn jrd_response(jrd: &Jrd) -> Response<Vec<u8>> {
    match serde_json::to_vec(jrd) {
        Ok(body) => {
            let mut response = Response::new(body);
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(crate::JRD_MEDIA_TYPE),
            );
            response
                .headers_mut()
                .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            response
        }
        // A JRD has string keys and JSON values only, so this does not happen; if it ever
        // does, the client gets a 500 rather than a broken document.
        Err(error) => text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not serialize the JRD: {error}\n"),
        ),
    }
}

/// The JRD a fediverse server usually serves for one of its accounts, shaped as Mastodon's:
/// the `acct:` subject, the actor id (and the profile page, if any) as aliases, a `self` link of
/// type `application/activity+json`, and a profile-page link. Add more with
/// [`Jrd::with_link`].
pub fn account_jrd(acct: &AcctUri, actor_id: &Url, profile_page: Option<&Url>) -> Jrd {
    let mut jrd = Jrd::new(acct.to_string());
    if let Some(page) = profile_page {
        jrd = jrd.with_alias(page.as_str()).with_link(
            Link::new(Rel::PROFILE_PAGE)
                .with_media_type("text/html")
                .with_href(page.as_str()),
        );
    }
    jrd.with_alias(actor_id.as_str()).with_link(
        Link::new(Rel::SELF)
            .with_media_type(ACTIVITY_JSON)
            .with_href(actor_id.as_str()),
    )
}

fn decode(name: &str, value: &str) -> Result<String, QueryError> {
    percent_decode_str(value)
        .decode_utf8()
        .map(|value| value.into_owned())
        .map_err(|_| QueryError::InvalidEncoding {
            name: name.to_owned(),
        })
}

fn text_response(status: StatusCode, text: String) -> Response<Vec<u8>> {
    let mut response = Response::new(text.into_bytes());
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}
