//! [`Web`]: what the pages share; [`Rejection`]: how a request is refused.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderValue, StatusCode, header};
use instance_state::InstanceState;
use maud::{Markup, html};

use crate::config::WebConfig;
use crate::layout::Layout;
use crate::limit::{AddressKey, Limit};
use crate::session::Viewer;

/// What the pages share: the instance's state, the configuration, the sign-in limiters and
/// the layout. Cheap to clone. An app's state hands it to the extractors through
/// [`FromRef`](axum::extract::FromRef) (or is it).
#[derive(Clone)]
pub struct Web {
    inner: Arc<Inner>,
}

struct Inner {
    state: InstanceState,
    config: WebConfig,
    layout: Arc<dyn Layout>,
    limits: Limits,
}

/// The limiters, each bounded by [`WebConfig::tracked_keys`].
pub(crate) struct Limits {
    /// Failed sign-ins and wrong current passwords, by username.
    pub(crate) account: Limit<String>,
    /// Failed sign-ins, by client address.
    pub(crate) address: Limit<AddressKey>,
    /// Accounts made, by client address.
    pub(crate) signup: Limit<AddressKey>,
}

impl fmt::Debug for Web {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Web")
            .field("state", &self.inner.state)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Web {
    /// The pages of `state`'s instance under `config`, drawn by `layout`.
    pub fn new(state: InstanceState, config: WebConfig, layout: Arc<dyn Layout>) -> Self {
        let keys = config.tracked_keys;
        let shared = |scope: &'static str| config.shared_limits.then(|| (state.clone(), scope));
        let limits = Limits {
            account: Limit::new(
                config.failed_logins_per_account,
                keys,
                shared("web_failed_logins_per_account"),
            ),
            address: Limit::new(
                config.failed_logins_per_address,
                keys,
                shared("web_failed_logins_per_address"),
            ),
            signup: Limit::new(
                config.signups_per_address,
                keys,
                shared("web_signups_per_address"),
            ),
        };
        Self {
            inner: Arc::new(Inner {
                state,
                config,
                layout,
                limits,
            }),
        }
    }

    /// The instance's state.
    pub fn state(&self) -> &InstanceState {
        &self.inner.state
    }

    /// The configuration.
    pub fn config(&self) -> &WebConfig {
        &self.inner.config
    }

    /// The layout.
    pub fn layout(&self) -> &dyn Layout {
        self.inner.layout.as_ref()
    }

    /// A `200` page: `body` in the layout, as HTML that no cache keeps (pages carry CSRF
    /// tokens and personal data).
    pub fn page(&self, viewer: Option<&Viewer>, title: &str, body: Markup) -> Response {
        self.page_with_status(StatusCode::OK, viewer, title, body)
    }

    /// A page with `status`.
    pub fn page_with_status(
        &self,
        status: StatusCode,
        viewer: Option<&Viewer>,
        title: &str,
        body: Markup,
    ) -> Response {
        let markup = self.layout().page(viewer, title, html! {}, body);
        (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            markup.into_string(),
        )
            .into_response()
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The current time of the instance's clock (Unix microseconds).
    pub(crate) fn now(&self) -> i64 {
        self.state().options().clock.now()
    }

    /// The client address of a request (see [`WebConfig::trusted_proxies`]).
    pub fn client_address(&self, parts: &http::request::Parts) -> Option<IpAddr> {
        crate::limit::client_address(parts, &self.config().trusted_proxies)
    }

    /// `Ok` if `viewer` may moderate, else the refusal of a moderators' page (`403`).
    pub fn require_moderator(&self, viewer: &Viewer) -> Result<(), Rejection> {
        if viewer.moderates() {
            Ok(())
        } else {
            Err(self.refuse(
                RejectionKind::Forbidden,
                Some(viewer),
                "This page is for moderators.",
            ))
        }
    }

    /// A refusal of `kind`, as a page (in the instance's layout) explaining `message`.
    pub fn refuse(&self, kind: RejectionKind, viewer: Option<&Viewer>, message: &str) -> Rejection {
        let (status, title) = match kind {
            RejectionKind::SignInRequired => (StatusCode::UNAUTHORIZED, "Sign in required"),
            RejectionKind::CrossSite | RejectionKind::BadToken => {
                (StatusCode::FORBIDDEN, "Form refused")
            }
            RejectionKind::Forbidden => (StatusCode::FORBIDDEN, "Not allowed"),
            RejectionKind::BadForm => (StatusCode::UNPROCESSABLE_ENTITY, "Form not understood"),
            RejectionKind::UnsupportedForm => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Form not understood")
            }
            RejectionKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Form too large"),
            RejectionKind::TooManyAttempts => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts"),
            RejectionKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
        };
        let body = html! {
            h1 { (title) }
            p { (message) }
            p { a href="/" { "Home" } }
        };
        Rejection {
            kind,
            response: Box::new(self.page_with_status(status, viewer, title, body)),
        }
    }

    /// The refusal of an error of ours: logged with what was being done, shown to nobody (the
    /// page says only that the server failed).
    pub fn internal(&self, doing: &str, error: &dyn fmt::Display) -> Rejection {
        tracing::error!(%error, "{doing}");
        self.refuse(
            RejectionKind::Internal,
            None,
            "The server could not do this. Please try again later.",
        )
    }

    /// `429 Too Many Requests` with `Retry-After`.
    pub(crate) fn too_many(&self, wait: Duration) -> Rejection {
        let seconds = wait
            .as_secs()
            .saturating_add(u64::from(wait.subsec_nanos() > 0));
        let mut rejection = self.refuse(
            RejectionKind::TooManyAttempts,
            None,
            &format!(
                "Too many attempts. Please wait {} before trying again.",
                duration_words(seconds)
            ),
        );
        rejection
            .response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        rejection
    }
}

fn duration_words(seconds: u64) -> String {
    match seconds {
        0..=1 => "a second".to_owned(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// Why an extractor of this crate, or one of its routes, refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// Nobody is signed in: a redirect to the sign-in page (`303`, with a `next` back for a
    /// `GET`).
    SignInRequired,
    /// A form posted from another site (`Origin` or `Sec-Fetch-Site` say so): `403`.
    CrossSite,
    /// A form without its CSRF token, or with a wrong one (an expired page, or a forged
    /// post): `403`.
    BadToken,
    /// The signed-in account may not do this (a moderator's page): `403`.
    Forbidden,
    /// A form whose fields could not be read: `422`.
    BadForm,
    /// A post that is not `application/x-www-form-urlencoded`: `415`.
    UnsupportedForm,
    /// A form larger than [`WebConfig::max_form_bytes`]: `413`.
    TooLarge,
    /// Too many failed attempts: `429` with `Retry-After`.
    TooManyAttempts,
    /// The server failed (a database error, logged): `500`.
    Internal,
}

/// A refused request: its [`RejectionKind`] and the page (or redirect) that answers it.
pub struct Rejection {
    kind: RejectionKind,
    /// Boxed: a `Result<_, Rejection>` stays small on the success path.
    response: Box<Response>,
}

impl Rejection {
    /// Why.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// A redirect to the sign-in page, coming back to `next` (a local path) after.
    pub(crate) fn sign_in(next: Option<&str>) -> Self {
        let target = match next.and_then(crate::local_path) {
            Some(next) if next != "/" => {
                let query: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("next", next)
                    .finish();
                format!("/login?{query}")
            }
            _ => "/login".to_owned(),
        };
        Self {
            kind: RejectionKind::SignInRequired,
            response: Box::new(Redirect::to(&target).into_response()),
        }
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("kind", &self.kind)
            .field("status", &self.response.status())
            .finish()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request refused: {:?}", self.kind)
    }
}

impl std::error::Error for Rejection {}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        *self.response
    }
}
