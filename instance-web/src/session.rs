//! Who is signed in: [`Viewer`] and [`MaybeViewer`], read from the session cookie.

use std::fmt;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::Method;
use http::request::Parts;
use instance_state::accounts::{Account, Credential, CredentialKind};
use instance_state::actors::LocalActor;

use crate::cookies;
use crate::csrf::token_for;
use crate::web::{Rejection, Web};

/// The signed-in person: the account, the identity the session acts as, the account's
/// identities and the session's CSRF token. As an extractor it refuses a request without a
/// live session with a redirect to `/login` (coming back to the page after, for a `GET`);
/// [`MaybeViewer`] takes anyone.
///
/// A live session is one [`InstanceState::authenticate`](instance_state::InstanceState::authenticate)
/// accepts (not expired, not revoked, its account active) and that is a browser session, not
/// an API token.
#[derive(Clone)]
#[non_exhaustive]
pub struct Viewer {
    /// The account.
    pub account: Account,
    /// The session (its hash and label, never its secret).
    pub session: Credential,
    /// The identity the session acts as: the session's actor, or the account's first identity
    /// if the session names none that is still the account's. `None` when the account has no
    /// identity left.
    pub identity: Option<LocalActor>,
    /// The account's identities (not deleted), by name.
    pub identities: Vec<LocalActor>,
    /// The session's CSRF token (see [`csrf_field`](crate::csrf_field)).
    pub csrf_token: String,
    /// The session's secret, to sign out and switch identity with.
    secret: String,
}

impl Viewer {
    /// The name of the identity the session acts as.
    pub fn identity_name(&self) -> Option<&str> {
        self.identity.as_ref().map(|actor| actor.name.as_str())
    }

    /// Whether the account may moderate.
    pub fn moderates(&self) -> bool {
        self.account.role.moderates()
    }

    /// Whether the account is an administrator's.
    pub fn administers(&self) -> bool {
        self.account.role == instance_state::accounts::Role::Admin
    }

    /// The session's secret.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }

    /// The viewer of the request, if its session cookie is live.
    pub(crate) async fn load(web: &Web, parts: &Parts) -> Result<Option<Self>, Rejection> {
        let name = cookies::session_name(web.config());
        let Some(secret) = cookies::read(&parts.headers, name).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let state = web.state();
        let found = state
            .authenticate(&secret)
            .await
            .map_err(|e| web.internal("reading a session", &e))?;
        let Some((session, account)) = found else {
            return Ok(None);
        };
        if session.kind != CredentialKind::Session {
            return Ok(None);
        }
        let identities = state
            .identities(&account.id)
            .await
            .map_err(|e| web.internal("listing identities", &e))?;
        let identity = session
            .actor
            .as_deref()
            .and_then(|name| identities.iter().find(|actor| actor.name == name))
            .or_else(|| identities.first())
            .cloned();
        Ok(Some(Self {
            account,
            session,
            identity,
            identities,
            csrf_token: token_for(&secret),
            secret,
        }))
    }
}

impl fmt::Debug for Viewer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Viewer")
            .field("account", &self.account.username)
            .field("identity", &self.identity_name())
            .field("session", &self.session.hash)
            .finish_non_exhaustive()
    }
}

/// The viewer once read, so that two extractors of one request read the session once.
#[derive(Clone)]
struct Loaded(Option<Viewer>);

async fn viewer_of<S>(parts: &mut Parts, state: &S) -> Result<Option<Viewer>, Rejection>
where
    Web: FromRef<S>,
    S: Send + Sync,
{
    if let Some(Loaded(viewer)) = parts.extensions.get::<Loaded>() {
        return Ok(viewer.clone());
    }
    let web = Web::from_ref(state);
    let viewer = Viewer::load(&web, parts).await?;
    parts.extensions.insert(Loaded(viewer.clone()));
    Ok(viewer)
}

impl<S> FromRequestParts<S> for Viewer
where
    Web: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match viewer_of(parts, state).await? {
            Some(viewer) => Ok(viewer),
            None => {
                // Back to the page after signing in; a post cannot be replayed as a GET.
                let next = (parts.method == Method::GET)
                    .then(|| parts.uri.path_and_query().map(|pq| pq.as_str()))
                    .flatten();
                Err(Rejection::sign_in(next))
            }
        }
    }
}

impl<S> OptionalFromRequestParts<S> for Viewer
where
    Web: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        viewer_of(parts, state).await
    }
}

/// The signed-in person if there is one: for pages anyone may see, which show more to the
/// signed-in.
#[derive(Debug, Clone)]
pub struct MaybeViewer(pub Option<Viewer>);

impl<S> FromRequestParts<S> for MaybeViewer
where
    Web: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        viewer_of(parts, state).await.map(Self)
    }
}
