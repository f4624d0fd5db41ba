//! What the relay serves: the federation routes' questions (`App`: its instance actor, the
//! tag actors, made on their first lookup, their followers and outboxes, NodeInfo), and a page
//! that says how to subscribe and how to follow a tag.

use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::Response;
use axum::routing::get;
use federation::routes::{
    App, AppError, CollectionItems, CollectionKind, ObjectState, Representation,
};
use instance_server::WithParts as _;
use instance_state::actors::ActorKind;
use instance_web::Web;
use maud::html;
use url::Url;

use crate::app::Relay;

fn app_error(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AppError {
    AppError::new(error)
}

/// The state of the page: the relay and its browser side.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub(crate) relay: Relay,
    pub(crate) web: Web,
}

impl FromRef<Site> for Web {
    fn from_ref(site: &Site) -> Web {
        site.web.clone()
    }
}

/// The front page, instance-web's account pages (for its stylesheet; sign-up is closed), then
/// the federation routes.
pub(crate) fn routes(relay: Relay, web: Web, federation: Router) -> Router {
    let site = Site { relay, web };
    Router::new()
        .route("/", get(front_page))
        .merge(instance_web::account_routes::<Site>())
        .with_state(site)
        .merge(federation)
}

/// `GET /`: how to use the relay.
async fn front_page(State(site): State<Site>) -> Response {
    let relay = &site.relay;
    let tags = relay
        .state()
        .actor_count(ActorKind::Group)
        .await
        .unwrap_or_default();
    let inbox = relay.url("/inbox");
    let host = relay.base_url().host_str().unwrap_or_default().to_owned();
    let handle = match relay.base_url().port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    site.web.page(
        None,
        relay.name(),
        html! {
            h1 { (relay.name()) }
            p { "A tag relay: one account per hashtag, which announces the public posts with that \
                 hashtag from the servers subscribed here." }
            h2 { "Subscribe a server" }
            p {
                "Add this relay's inbox as a relay (Mastodon: Administration, Relays): "
                code { (inbox) }
            }
            h2 { "Follow a tag" }
            p { "Search for and follow " code { "@tag-NAME@" (handle) } " (for example "
                code { "@tag-climate@" (handle) } ")." }
            p { (tags) " tag" @if tags != 1 { "s" } " followed or looked up so far." }
        },
    )
}

impl App for Relay {
    async fn actor(
        &self,
        name: &str,
        _representation: Representation,
    ) -> Result<Option<ObjectState>, AppError> {
        // A tag actor is made when first looked up (WebFinger or its address).
        if self.tag_actor(name).await.map_err(app_error)?.is_none() {
            return Ok(None);
        }
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
        // The relay publishes nothing of its own: no posts, no users.
        nodeinfo::NodeInfoBuilder::new(
            nodeinfo::Version::V2_2,
            "tag-relay",
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
