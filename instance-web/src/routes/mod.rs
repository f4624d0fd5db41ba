//! [`account_routes`]: the pages of accounts, identities and sign-up moderation.

mod accounts;
mod admin;
mod identities;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, header};
use instance_state::accounts::Account;

use crate::cookies;
use crate::layout::{STYLESHEET, STYLESHEET_PATH};
use crate::web::{Rejection, Web};

/// The routes of this crate, to merge at the root of the app's router:
///
/// | route | what |
/// |---|---|
/// | `GET`, `POST /signup` | sign up, as [`WebConfig::signup`](crate::WebConfig::signup) allows |
/// | `GET`, `POST /login` | sign in (`?next=/a/local/path` to come back to) |
/// | `POST /logout` | sign out (the session is revoked) |
/// | `GET`, `POST /account/password` | change the password (every other session is revoked) |
/// | `GET`, `POST /account/identities` | the account's identities; make another |
/// | `POST /account/identities/switch` | act as another identity |
/// | `GET`, `POST /admin/signups` | moderators: approve or reject sign-ups |
/// | `GET /assets/instance-web.css` | [`DefaultLayout`](crate::DefaultLayout)'s stylesheet |
///
/// Every post takes a [`CsrfForm`](crate::CsrfForm); every response gets
/// [`security_headers`](crate::security_headers).
pub fn account_routes<S>() -> Router<S>
where
    Web: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            "/signup",
            get(accounts::signup_page).post(accounts::signup_submit),
        )
        .route(
            "/login",
            get(accounts::login_page).post(accounts::login_submit),
        )
        .route("/logout", post(accounts::logout))
        .route(
            "/account/password",
            get(accounts::password_page).post(accounts::password_submit),
        )
        .route(
            "/account/identities",
            get(identities::page).post(identities::create),
        )
        .route("/account/identities/switch", post(identities::switch))
        .route("/admin/signups", get(admin::page).post(admin::decide))
        .route(STYLESHEET_PATH, get(stylesheet))
        .layer(axum::middleware::from_fn(crate::security_headers))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// The client's address (see [`WebConfig::trusted_proxies`](crate::WebConfig)).
pub(crate) struct Client(pub(crate) Option<IpAddr>);

impl<S> FromRequestParts<S> for Client
where
    Web: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let web = Web::from_ref(state);
        let address = web.client_address(parts);
        static WARNED: AtomicBool = AtomicBool::new(false);
        if address.is_none() && !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "a request without ConnectInfo: sign-in attempts of every client are counted \
                 together (serve with federation::serve, or axum's \
                 into_make_service_with_connect_info)"
            );
        }
        Ok(Self(address))
    }
}

/// A `303 See Other` to `to`.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Signs `account` in: a new session acting as `identity` (or its first identity), its
/// cookie, and a `303` to `next`. A session the browser held before is revoked: it is being
/// replaced, and nothing should stay live that no browser holds.
pub(crate) async fn start_session(
    web: &Web,
    account: &Account,
    identity: Option<&str>,
    headers: &HeaderMap,
    next: &str,
) -> Result<Response, Rejection> {
    let state = web.state();
    let name = cookies::session_name(web.config());
    if let Some(previous) = cookies::read(headers, name).filter(|s| !s.is_empty()) {
        state
            .revoke_secret(&previous)
            .await
            .map_err(|e| web.internal("revoking the previous session", &e))?;
    }
    let identity = match identity {
        Some(name) => Some(name.to_owned()),
        None => state
            .identities(&account.id)
            .await
            .map_err(|e| web.internal("listing identities", &e))?
            .into_iter()
            .next()
            .map(|actor| actor.name),
    };
    let lifetime = web.config().session_lifetime;
    let micros = i64::try_from(lifetime.as_micros()).unwrap_or(i64::MAX);
    let (secret, _) = state
        .new_session(&account.id, identity.as_deref(), &label(headers), micros)
        .await
        .map_err(|e| web.internal("starting a session", &e))?;
    let cookie = cookies::set(web.config(), name, secret.expose(), Some(lifetime));
    let mut response = see_other(crate::local_path(next).unwrap_or("/"));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// A session's label: the browser's `User-Agent`, shortened.
fn label(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .map(|ua| ua.chars().filter(|c| !c.is_control()).take(120).collect())
        .filter(|ua: &String| !ua.is_empty())
        .unwrap_or_else(|| "a browser".to_owned())
}

/// Removes the session cookie.
pub(crate) fn clear_session(web: &Web, response: &mut Response) {
    let cookie: HeaderValue = cookies::remove(web.config(), cookies::session_name(web.config()));
    response.headers_mut().append(header::SET_COOKIE, cookie);
}
