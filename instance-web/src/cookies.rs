//! The two cookies: the session's secret and the pre-session secret behind signed-out forms.

use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue, header};

use crate::config::WebConfig;

/// The session cookie's name: `__Host-session` over https (the browser then refuses it unless
/// it is `Secure`, `Path=/` and set by this very host, so no sibling subdomain can plant one),
/// `session` over plain http, where browsers refuse `__Host-` names.
pub(crate) fn session_name(config: &WebConfig) -> &'static str {
    if config.is_https() {
        "__Host-session"
    } else {
        "session"
    }
}

/// The pre-session cookie's name (`__Host-csrf` or `csrf`): the secret signed-out forms'
/// tokens derive from.
pub(crate) fn presession_name(config: &WebConfig) -> &'static str {
    if config.is_https() {
        "__Host-csrf"
    } else {
        "csrf"
    }
}

/// The value of the cookie `name` in `headers` (the first, if several).
pub(crate) fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// `Set-Cookie` for the cookie `name` holding `value`: `HttpOnly` (no script reads it),
/// `SameSite=Lax` (not sent with another site's posts), `Secure` over https, `Path=/`;
/// lasting `max_age`, or the browser's session when `None`.
pub(crate) fn set(
    config: &WebConfig,
    name: &'static str,
    value: &str,
    max_age: Option<Duration>,
) -> HeaderValue {
    let mut cookie = Cookie::build((name, value.to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .path("/");
    if let Some(max_age) = max_age {
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        cookie = cookie.max_age(cookie::time::Duration::seconds(seconds));
    }
    header_value(&cookie.build())
}

/// `Set-Cookie` removing the cookie `name` (same attributes, so that the browser matches it).
pub(crate) fn remove(config: &WebConfig, name: &'static str) -> HeaderValue {
    let cookie = Cookie::build((name, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .path("/")
        .removal()
        .build();
    header_value(&cookie)
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // Names are ours and values URL-safe base64: always a valid header value.
    HeaderValue::try_from(cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}
