//! [`Site`]: the state an instance's pages are served with.

use axum::extract::FromRef;
use instance_web::Web;

use crate::moderation::Moderation;

/// What an instance's pages are served with: its state, its browser side and the moderation
/// pages, which instance-web's extractors ([`Viewer`](instance_web::Viewer),
/// [`CsrfForm`](instance_web::CsrfForm)) and [`Moderation::routes`] find in it through
/// [`FromRef`]: `Router::new().route(...).with_state(Site::new(instance, web, moderation))`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Site<I> {
    /// The instance's own state.
    pub instance: I,
    /// The browser side (sessions, CSRF, the layout).
    pub web: Web,
    /// The report form and the moderators' pages.
    pub moderation: Moderation,
}

impl<I> Site<I> {
    /// The pages' state for `instance`.
    pub fn new(instance: I, web: Web, moderation: Moderation) -> Self {
        Self {
            instance,
            web,
            moderation,
        }
    }
}

impl<I> FromRef<Site<I>> for Web {
    fn from_ref(site: &Site<I>) -> Web {
        site.web.clone()
    }
}

impl<I> FromRef<Site<I>> for Moderation {
    fn from_ref(site: &Site<I>) -> Moderation {
        site.moderation.clone()
    }
}
