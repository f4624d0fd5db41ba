//! What the instance serves: the federation routes' questions (`App`), and the pages.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
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
use crate::{channels, comments, embed, feeds, files, pages, search, upload};
use instance_server::WithParts as _;

fn app_error(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AppError {
    AppError::new(error)
}

/// The state of the pages: the instance and its browser side.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub(crate) instance: Instance,
    pub(crate) web: Web,
    pub(crate) moderation: Moderation,
}

impl FromRef<Site> for Web {
    fn from_ref(site: &Site) -> Web {
        site.web.clone()
    }
}

impl FromRef<Site> for Moderation {
    fn from_ref(site: &Site) -> Moderation {
        site.moderation.clone()
    }
}

/// The pages, the uploads and the files, then the federation routes, around which a browser
/// asking for a video's address gets its page.
pub(crate) fn routes(
    instance: Instance,
    web: Web,
    moderation: Moderation,
    federation: Router,
) -> Router {
    let site = Site {
        instance,
        web,
        moderation,
    };
    pages::router()
        .merge(crate::playlists::pages::router())
        .merge(crate::playlists::api::router())
        .merge(instance_web::account_routes::<Site>())
        .merge(Moderation::routes::<Site>())
        .merge(crate::mirror_pages::router())
        .route(
            "/api/v1/videos/upload",
            post(upload::api_upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/videos/upload",
            get(pages::upload_page)
                .post(upload::form_upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/videos/{id}",
            get(crate::api::api_video).delete(upload::api_delete),
        )
        .route("/static/{*key}", get(files::serve_file))
        .route("/videos/embed/{uuid}", get(embed::embed_page))
        .route("/services/oembed", get(embed::oembed))
        .route("/feeds/{name}", get(feeds::feed))
        .route(
            embed::EMBED_STYLESHEET_PATH,
            get(|| async {
                (
                    [
                        (http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (http::header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    embed::EMBED_STYLESHEET,
                )
            }),
        )
        .route(
            "/api/v1/search/videos",
            get(search::api_search_get).post(search::api_search_post),
        )
        .route("/search", get(pages::search_page))
        .route("/c/{name}", get(channels::channel_page))
        .route("/a/{name}", get(channels::account_page))
        .route("/follow", get(channels::follow_page).post(channels::follow))
        .route("/unfollow", post(channels::unfollow))
        .route("/videos/comment", post(pages::comment))
        .route("/videos/comment/decide", post(pages::decide_comment))
        .route(
            "/api/v1/videos/{uuid}/comment-threads",
            post(comments::api_comment),
        )
        .route(
            "/api/v1/videos/{uuid}/comments/{comment}/approve",
            post(comments::api_approve),
        )
        .route(
            crate::videos::PLACEHOLDER_THUMBNAIL_PATH,
            get(|| async {
                (
                    [
                        (http::header::CONTENT_TYPE, "image/png"),
                        (http::header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    crate::videos::PLACEHOLDER_THUMBNAIL,
                )
            }),
        )
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

    async fn object_for(
        &self,
        url: &Url,
        _representation: Representation,
        requester: Option<&RemoteKey>,
    ) -> Result<ObjectState, AppError> {
        if let Some(found) = self.playlist_object(url).await.map_err(app_error)? {
            return Ok(found);
        }
        if let Some(document) = self.cache_file_document(url).await.map_err(app_error)? {
            return Ok(ObjectState::Found {
                document,
                html: None,
            });
        }
        if let Some(collection) = self
            .video_collection(url, requester.map(|key| key.owner.as_str()))
            .await
            .map_err(app_error)?
        {
            return Ok(collection);
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
        let videos = state.local_object_count("Video").await.map_err(app_error)?;
        let comments = state.local_object_count("Note").await.map_err(app_error)?;
        nodeinfo::NodeInfoBuilder::new(
            nodeinfo::Version::V2_2,
            "video-instance",
            env!("CARGO_PKG_VERSION"),
        )
        .protocol(nodeinfo::Protocol::ACTIVITYPUB)
        .open_registrations(false)
        .users(nodeinfo::Users::new().with_total(people))
        .local_posts(videos)
        .local_comments(comments)
        .instance_name(self.name().to_owned())
        .build()
        .map_err(app_error)
    }
}
