//! Serving NodeInfo: the responses for `/.well-known/nodeinfo` and for the document itself.
//! Both allow any origin (`Access-Control-Allow-Origin: *`), as browsers' fediverse tools
//! read them.

use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use serde::Serialize;

use crate::discovery::DiscoveryDocument;
use crate::document::NodeInfo;

/// The response carrying a NodeInfo document, with
/// `Content-Type: application/json; profile="http://nodeinfo.diaspora.software/ns/schema/<version>#"`
/// as the protocol says.
pub fn nodeinfo_response(info: &NodeInfo) -> Response<Vec<u8>> {
    let content_type = HeaderValue::from_str(&info.version.content_type())
        .unwrap_or_else(|_| HeaderValue::from_static("application/json"));
    json_response(info, content_type)
}

/// The response carrying the discovery document (`application/json`).
pub fn discovery_response(document: &DiscoveryDocument) -> Response<Vec<u8>> {
    json_response(document, HeaderValue::from_static("application/json"))
}

fn json_response<T: Serialize>(value: &T, content_type: HeaderValue) -> Response<Vec<u8>> {
    let mut response = match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = Response::new(body);
            response.headers_mut().insert(CONTENT_TYPE, content_type);
            response
        }
        // These documents have string keys and JSON values only, so this does not happen; if
        // it ever does, the client gets a 500 rather than a broken document.
        Err(error) => {
            let mut response =
                Response::new(format!("could not serialize: {error}\n").into_bytes());
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
    };
    response
        .headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}
