//! CSRF protection: tokens derived from a cookie's secret, checked with the `Origin` and
//! `Sec-Fetch-Site` headers on every form post.
//!
//! A token is `HMAC-SHA256(key = the cookie's secret, "instance-web csrf v1")`, URL-safe
//! base64: only a page of this site, which the browser sent the cookie with, can hold it, and
//! it reveals nothing of the secret. Signed in, the cookie is the session's; signed out, it is
//! the pre-session cookie set with the form (double submit, tied to a secret the attacker
//! cannot read). A post must carry a token matching one of the two cookies it comes with.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponseParts, ResponseParts};
use base64::Engine as _;
use http::request::Parts;
use http::{HeaderValue, header};
use maud::{Markup, html};
use ring::hmac;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::cookies;
use crate::session::Viewer;
use crate::web::{Rejection, RejectionKind, Web};

/// The form field the token travels in.
pub const CSRF_FIELD: &str = "csrf";

const CONTEXT: &[u8] = b"instance-web csrf v1";

/// The token of the cookie secret `secret`.
pub(crate) fn token_for(secret: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hmac::sign(&key, CONTEXT))
}

/// Whether `token` is the token of `secret` (compared in constant time by `ring`).
fn token_matches(secret: &str, token: &str) -> bool {
    let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, CONTEXT, &tag).is_ok()
}

/// The hidden field carrying the signed-in `viewer`'s CSRF token: put it in every form that
/// posts to a route taking [`CsrfForm`].
pub fn csrf_field(viewer: &Viewer) -> Markup {
    hidden_token(&viewer.csrf_token)
}

fn hidden_token(token: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}

/// A form body, accepted only when it carries the CSRF token of the cookies it came with and
/// was not posted from another site.
///
/// Refused (with a page saying why): `Origin` present and not the base URL's origin, or
/// `Sec-Fetch-Site` present and neither `same-origin` nor `none` ([`RejectionKind::CrossSite`],
/// `403`); no token or a wrong one ([`RejectionKind::BadToken`], `403`); not
/// `application/x-www-form-urlencoded` (`415`); larger than
/// [`WebConfig::max_form_bytes`](crate::WebConfig::max_form_bytes) (`413`); fields that do not
/// fit `T` (`422`). `T` is read with `serde_urlencoded`, as axum's `Form`; the token field is
/// ignored by it unless `T` denies unknown fields.
#[derive(Debug, Clone)]
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct TokenField {
    #[serde(rename = "csrf")]
    token: Option<String>,
}

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    Web: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let web = Web::from_ref(state);
        let (parts, body) = request.into_parts();
        check_same_site(&web, &parts)?;
        let form_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form_type {
            return Err(web.refuse(
                RejectionKind::UnsupportedForm,
                None,
                "This address takes a form (application/x-www-form-urlencoded).",
            ));
        }
        let limit = web.config().max_form_bytes;
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
            web.refuse(
                RejectionKind::TooLarge,
                None,
                "The form is larger than this server accepts.",
            )
        })?;
        check_token(&web, &parts, &bytes)?;
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|error| {
            web.refuse(
                RejectionKind::BadForm,
                None,
                &format!("The form could not be read: {error}."),
            )
        })?;
        Ok(Self(form))
    }
}

fn check_same_site(web: &Web, parts: &Parts) -> Result<(), Rejection> {
    let cross_site = || {
        web.refuse(
            RejectionKind::CrossSite,
            None,
            "This form was sent from another site, so it was refused. \
             If you sent it yourself, go back to this site's page and send it from there.",
        )
    };
    if let Some(site) = parts.headers.get("sec-fetch-site") {
        let same = site
            .to_str()
            .is_ok_and(|s| s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none"));
        if !same {
            return Err(cross_site());
        }
    }
    if let Some(origin) = parts.headers.get(header::ORIGIN) {
        let ours = web.config().base_url.origin().ascii_serialization();
        if origin.to_str().ok() != Some(ours.as_str()) {
            return Err(cross_site());
        }
    }
    Ok(())
}

fn check_token(web: &Web, parts: &Parts, bytes: &Bytes) -> Result<(), Rejection> {
    let token = serde_urlencoded::from_bytes::<TokenField>(bytes)
        .ok()
        .and_then(|field| field.token)
        .unwrap_or_default();
    check_token_value(web, parts, &token)
}

/// Checks a post that is not a url-encoded form (a multipart upload, read as a stream, whose
/// first field holds the token): the same checks as [`CsrfForm`], the site (`Origin`,
/// `Sec-Fetch-Site`) and `token`, which the app read from the post, against the cookies.
pub fn check_post(web: &Web, parts: &Parts, token: &str) -> Result<(), Rejection> {
    check_same_site(web, parts)?;
    check_token_value(web, parts, token)
}

fn check_token_value(web: &Web, parts: &Parts, token: &str) -> Result<(), Rejection> {
    let config = web.config();
    let valid = !token.is_empty()
        && [
            cookies::session_name(config),
            cookies::presession_name(config),
        ]
        .iter()
        .filter_map(|name| cookies::read(&parts.headers, name))
        .any(|secret| token_matches(&secret, token));
    if valid {
        Ok(())
    } else {
        Err(web.refuse(
            RejectionKind::BadToken,
            None,
            "This form has expired or did not come from this site. \
             Go back, reload the page and send it again (cookies must be allowed).",
        ))
    }
}

/// The CSRF token for a form shown to someone who may not be signed in (sign-in, sign-up, or
/// an app's public form): derived from the pre-session cookie, which it sets when the
/// browser has none. Return it among the response's parts so that the cookie is set:
/// `(token, web.page(...))`.
#[derive(Debug, Clone)]
pub struct CsrfToken {
    token: String,
    set_cookie: Option<HeaderValue>,
}

impl CsrfToken {
    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The hidden field carrying it.
    pub fn field(&self) -> Markup {
        hidden_token(&self.token)
    }
}

impl<S> FromRequestParts<S> for CsrfToken
where
    Web: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let web = Web::from_ref(state);
        let name = cookies::presession_name(web.config());
        if let Some(secret) = cookies::read(&parts.headers, name).filter(|s| !s.is_empty()) {
            return Ok(Self {
                token: token_for(&secret),
                set_cookie: None,
            });
        }
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| web.internal("making a pre-session secret", &"no randomness"))?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Ok(Self {
            token: token_for(&secret),
            set_cookie: Some(cookies::set(web.config(), name, &secret, None)),
        })
    }
}

impl IntoResponseParts for CsrfToken {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Some(cookie) = self.set_cookie {
            res.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(res)
    }
}
