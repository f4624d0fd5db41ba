//! The browser side of [`instance_state`]: the sign-up, sign-in, password, identity and
//! sign-up moderation pages every instance needs, and the pieces an app builds its own pages
//! with, so that each reference instance (events, video, a pod) writes only its domain's
//! pages.
//!
//! - [`Web`]: the [`InstanceState`](instance_state::InstanceState), a [`WebConfig`] (base
//!   URL, [`SignupMode`], session lifetime, limits) and the app's [`Layout`]; the extractors
//!   find it in the app's state through [`FromRef`](axum::extract::FromRef).
//! - [`account_routes`]: the pages, to merge into the app's router.
//! - Extractors: [`Viewer`] (the signed-in person, or a redirect to `/login`),
//!   [`MaybeViewer`], [`CsrfForm`] (a form post with its CSRF token checked and cross-site
//!   posts refused) and [`CsrfToken`] (for a form shown to the signed-out).
//! - [`csrf_field`] for the app's forms, [`security_headers`] for its responses, [`Layout`]
//!   and [`DefaultLayout`] for its look.
//!
//! ```ignore
//! #[derive(Clone)]
//! struct App { web: Web /* , the app's own state */ }
//! impl FromRef<App> for Web { fn from_ref(app: &App) -> Web { app.web.clone() } }
//!
//! let web = Web::new(state, WebConfig::new(base_url).with_signup(SignupMode::Approval),
//!     Arc::new(DefaultLayout::new("Events")));
//! let router = Router::new()
//!     .route("/events/new", get(new_event).post(create_event))   // takes Viewer, CsrfForm
//!     .merge(account_routes())
//!     .layer(axum::middleware::from_fn(security_headers))
//!     .with_state(App { web });
//! federation::serve::serve(listener, router, ServeConfig::new(), shutdown).await;
//! ```
//!
//! **Security.** Pages are rendered by maud, which escapes every text. The session secret
//! (from `InstanceState::new_session`, stored only hashed) lives in an `HttpOnly`,
//! `SameSite=Lax` cookie, `Secure` and `__Host-` prefixed when the base URL is https; signing
//! out revokes it in the database. Every state-changing form carries a CSRF token derived
//! from the cookie it came with, signed-out forms included (a pre-session cookie), and a post
//! whose `Origin` or `Sec-Fetch-Site` names another site is refused. Failed sign-ins are
//! counted per account and per client address in limiters of bounded memory; a limited
//! attempt is answered `429` before the password is looked at. Every response gets a strict
//! `Content-Security-Policy`: the pages use no script. `docs/instance-web.md` says why each
//! choice was made.

#![warn(missing_docs)]

mod config;
mod cookies;
mod csrf;
pub mod feed;
pub mod forms;
mod headers;
mod layout;
mod limit;
mod routes;
mod session;
mod web;

pub use config::{RateLimit, SignupMode, WebConfig};
pub use csrf::{CSRF_FIELD, CsrfForm, CsrfToken, check_post, csrf_field};
pub use headers::{CONTENT_SECURITY_POLICY, add_security_headers, security_headers};
pub use layout::{DefaultLayout, Layout, STYLESHEET_PATH};
pub use routes::account_routes;
pub use session::{MaybeViewer, Viewer};
pub use web::{Rejection, RejectionKind, Web};

/// `next` if it is a path on this site to send a browser to after signing in: it starts with
/// one `/` and holds no backslash nor control character (`//evil.example`, `/\evil.example`
/// and `/\t/evil.example` all lead browsers elsewhere). `None` otherwise.
pub fn local_path(next: &str) -> Option<&str> {
    let mut chars = next.chars();
    let local = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/'))
        && next.len() <= 2048
        && !next.chars().any(|c| c == '\\' || c.is_control());
    local.then_some(next)
}
