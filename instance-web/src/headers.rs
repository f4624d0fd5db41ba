//! [`security_headers`]: what every page answers with ([`add_security_headers`] outside the
//! middleware).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, header};

/// The `Content-Security-Policy` of every response that sets none of its own: nothing but
/// this site's stylesheets, images from this site, https or `data:`, forms posting only
/// here, and no framing, no `<base>`, no script at all (the pages need none).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A middleware setting the security headers on every response that does not set its own:
/// `Content-Security-Policy` ([`CONTENT_SECURITY_POLICY`]), `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: same-origin` and `X-Frame-Options: DENY`. A page that needs another
/// policy (a video player's `media-src`) sets its own header, which is kept; one whose policy
/// lets sites frame it (`frame-ancestors` other than `'none'`) gets no `X-Frame-Options`.
///
/// ```ignore
/// let app = Router::new()
///     .merge(instance_web::account_routes())
///     .layer(axum::middleware::from_fn(instance_web::security_headers));
/// ```
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    add_security_headers(response.headers_mut());
    response
}

/// What [`security_headers`] does to a response's headers, for a response made outside the
/// middleware (an instance's static files answered before its router): the security headers
/// that `headers` does not set already.
pub fn add_security_headers(headers: &mut HeaderMap) {
    let defaults: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    // A response whose own policy lets some sites frame it (an embeddable player) gets no
    // `X-Frame-Options: DENY`, which would forbid what its `frame-ancestors` allows in the
    // browsers that read only the older header.
    let frameable = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|policy| policy.to_str().ok())
        .is_some_and(|policy| {
            policy.split(';').any(|directive| {
                let mut words = directive.split_ascii_whitespace();
                words.next() == Some("frame-ancestors") && words.next() != Some("'none'")
            })
        });
    for (name, value) in defaults {
        if name == header::X_FRAME_OPTIONS && frameable {
            continue;
        }
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}
