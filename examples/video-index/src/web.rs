//! What the index serves: the federation routes' questions (`App`: its instance actor, its
//! follows, NodeInfo), PeerTube's search API, and the search page.

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use federation::routes::{
    App, AppError, CollectionItems, CollectionKind, ObjectState, Representation,
};
use instance_server::WithParts as _;
use instance_web::Web;
use url::Url;

use crate::api;
use crate::app::Index;
use crate::pages;

fn app_error(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AppError {
    AppError::new(error)
}

/// The state of the pages: the index and its browser side.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub(crate) index: Index,
    pub(crate) web: Web,
}

impl FromRef<Site> for Web {
    fn from_ref(site: &Site) -> Web {
        site.web.clone()
    }
}

impl FromRef<Site> for Index {
    fn from_ref(site: &Site) -> Index {
        site.index.clone()
    }
}

/// The search page and API, instance-web's account pages (for its stylesheet and the
/// layout's links; sign-up is closed), then the federation routes.
pub(crate) fn routes(index: Index, web: Web, federation: Router) -> Router {
    let site = Site { index, web };
    Router::new()
        .route("/", get(pages::search_page))
        .route(
            "/api/v1/search/videos",
            get(api::videos_get).post(api::videos_post),
        )
        .route(
            "/api/v1/search/video-channels",
            get(api::channels_get).post(api::channels_post),
        )
        .route(
            "/api/v1/search/video-playlists",
            get(api::playlists_get).post(api::playlists_post),
        )
        .merge(instance_web::account_routes::<Site>())
        .with_state(site)
        .merge(federation)
}

impl App for Index {
    async fn actor(
        &self,
        name: &str,
        _representation: Representation,
    ) -> Result<Option<ObjectState>, AppError> {
        self.state().actor_state(name).await.map_err(app_error)
    }

    async fn object(
        &self,
        url: &Url,
        _representation: Representation,
    ) -> Result<ObjectState, AppError> {
        self.state()
            .object_state(url, None)
            .await
            .map_err(app_error)
    }

    async fn collection(
        &self,
        name: &str,
        kind: CollectionKind,
        offset: u64,
        limit: u64,
    ) -> Result<Option<CollectionItems>, AppError> {
        self.state()
            .collection_items(name, kind, offset, limit, None)
            .await
            .map_err(app_error)
    }

    async fn nodeinfo(&self) -> Result<nodeinfo::NodeInfo, AppError> {
        // The index publishes nothing of its own: no local posts, no users.
        nodeinfo::NodeInfoBuilder::new(
            nodeinfo::Version::V2_2,
            "video-index",
            env!("CARGO_PKG_VERSION"),
        )
        .protocol(nodeinfo::Protocol::ACTIVITYPUB)
        .open_registrations(false)
        .users(nodeinfo::Users::new().with_total(0))
        .local_posts(0)
        .instance_name(self.name().to_owned())
        .build()
        .map_err(app_error)
    }
}
