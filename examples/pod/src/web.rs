//! What the pod serves: the federation routes' questions (`App`), and the pages.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use federation::keys::RemoteKey;
use federation::routes::{
    App, AppError, CollectionItems, CollectionKind, ObjectState, Representation,
};
use instance_server::moderation::Moderation;
use instance_state::actors::ActorKind;
use instance_web::Web;
use url::Url;

use crate::app::Instance;
use crate::pages;

fn app_error(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AppError {
    AppError::new(error)
}

/// The state of the pages: the pod, its browser side and the moderation pages.
pub(crate) type Site = instance_server::Site<Instance>;

/// The pages and the images, then the federation routes, around which a browser asking for
/// a post's or a person's address gets its page.
pub(crate) fn routes(
    instance: Instance,
    web: Web,
    moderation: Moderation,
    federation: Router,
) -> Router {
    // The photos within the image limit each, and the text and fields beside them; media-store
    // holds each file to the image limit as it streams in.
    let photos_limit = usize::try_from(instance.options().max_image_bytes)
        .unwrap_or(usize::MAX)
        .saturating_mul(crate::photos::MAX_PHOTOS)
        .saturating_add(1 << 20);
    let site = Site::new(instance, web, moderation);
    Router::new()
        .route("/", get(pages::stream::home))
        .route("/compose", get(pages::posts::compose_page))
        .route(
            "/posts",
            post(pages::posts::create).layer(DefaultBodyLimit::max(photos_limit)),
        )
        .route("/posts/remote", get(pages::posts::remote_post_page))
        .route("/posts/comment", post(pages::posts::comment))
        .route("/posts/like", post(pages::posts::like))
        .route("/posts/reshare", post(pages::posts::reshare))
        .route("/posts/delete", post(pages::posts::delete))
        .route(
            "/posts/edit",
            get(pages::posts::edit_page).post(pages::posts::edit),
        )
        .route("/people", get(pages::people::remote_person))
        .route(
            "/follow",
            get(pages::people::follow_page).post(pages::people::follow),
        )
        .route("/unfollow", post(pages::people::unfollow))
        .route(
            "/aspects",
            get(pages::aspects::page).post(pages::aspects::create),
        )
        .route("/aspects/rename", post(pages::aspects::rename))
        .route("/aspects/delete", post(pages::aspects::delete))
        .route("/aspects/members", post(pages::aspects::members))
        .route(
            "/profile",
            get(pages::profile::page).post(pages::profile::save),
        )
        .route(
            "/profile/image",
            post(pages::profile::upload_image).layer(DefaultBodyLimit::disable()),
        )
        .route("/profile/archive", get(pages::archive::page))
        .route("/profile/archive/export", post(pages::archive::export))
        .route(
            "/profile/archive/import",
            post(pages::archive::import).layer(DefaultBodyLimit::disable()),
        )
        .route("/profile/moving", get(pages::moving::page))
        .route("/profile/aliases", post(pages::moving::aliases))
        .route("/profile/move", post(pages::moving::move_account))
        .route("/media/{*key}", get(pages::profile::serve_image))
        .route("/notifications", get(pages::notifications::page))
        .route("/tags/follow", post(pages::tags::follow))
        .route("/tags/{name}", get(pages::tags::page))
        .route(
            "/admin/relays",
            get(pages::relays::page).post(pages::relays::add),
        )
        .route("/admin/relays/remove", post(pages::relays::remove))
        .route("/admin/relays/tags", post(pages::relays::limit_tags))
        .route("/admin/tag-relay", post(pages::relays::name_tag_relay))
        .route(
            "/admin/tag-relay/remove",
            post(pages::relays::remove_tag_relay),
        )
        .merge(instance_web::account_routes::<Site>())
        .merge(Moderation::routes::<Site>())
        .layer(axum::middleware::from_fn_with_state(
            site.clone(),
            pages::notifications::count_unseen,
        ))
        .with_state(site.clone())
        .merge(federation.layer(axum::middleware::from_fn_with_state(
            site,
            pages::html_pages,
        )))
}

impl App for Instance {
    async fn actor(
        &self,
        name: &str,
        _representation: Representation,
    ) -> Result<Option<ObjectState>, AppError> {
        let Some(actor) = self.state().actor(name).await.map_err(app_error)? else {
            return Ok(None);
        };
        let document = self.actor_document(&actor).await.map_err(app_error)?;
        Ok(Some(ObjectState::found_or_gone(document, actor.deleted)))
    }

    async fn object(
        &self,
        url: &Url,
        representation: Representation,
    ) -> Result<ObjectState, AppError> {
        self.object_for(url, representation, None).await
    }

    /// A post, a comment or an activity as the signer of the GET may read it: a post to
    /// aspects only for its members (their own signature), never anonymously.
    async fn object_for(
        &self,
        url: &Url,
        _representation: Representation,
        requester: Option<&RemoteKey>,
    ) -> Result<ObjectState, AppError> {
        let segments: Vec<&str> = url
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        if let ["posts", uuid, kind @ ("replies" | "likes" | "shares")] = segments.as_slice() {
            let Ok(page) = federation::routes::page_of(url) else {
                return Ok(ObjectState::NotFound);
            };
            let post = self.url(&format!("posts/{uuid}"));
            return self
                .post_collection(post.as_str(), kind, page, requester)
                .await
                .map_err(app_error);
        }
        self.state()
            .object_state(url, requester.map(|key| key.owner.as_str()))
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
        self.collection_for(name, kind, offset, limit, None).await
    }

    async fn collection_for(
        &self,
        name: &str,
        kind: CollectionKind,
        offset: u64,
        limit: u64,
        requester: Option<&RemoteKey>,
    ) -> Result<Option<CollectionItems>, AppError> {
        self.state()
            .collection_items(
                name,
                kind,
                offset,
                limit,
                requester.map(|key| key.owner.as_str()),
            )
            .await
            .map_err(app_error)
    }

    async fn nodeinfo(&self) -> Result<nodeinfo::NodeInfo, AppError> {
        let state = self.state();
        let people = state
            .actor_count(ActorKind::Person)
            .await
            .map_err(app_error)?;
        let notes = state.local_object_count("Note").await.map_err(app_error)?;
        nodeinfo::NodeInfoBuilder::new(nodeinfo::Version::V2_2, "pod", env!("CARGO_PKG_VERSION"))
            .protocol(nodeinfo::Protocol::ACTIVITYPUB)
            .open_registrations(false)
            .users(nodeinfo::Users::new().with_total(people))
            .local_posts(notes)
            .instance_name(self.name().to_owned())
            .build()
            .map_err(app_error)
    }
}
