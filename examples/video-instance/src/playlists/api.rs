//! PeerTube's REST API for playlists, with a bearer token for the changes (as
//! `/api/v1/videos/upload`): create (`POST /api/v1/video-playlists`, JSON), read
//! (`GET /api/v1/video-playlists/{uuid}` and `/videos`), edit (`PUT`), delete, add a video
//! (`POST .../videos`), reorder (`POST .../videos/reorder`, PeerTube's `startPosition`,
//! `insertAfterPosition`, `reorderLength`) and remove an element (`DELETE .../videos/{id}`).
//! Playlists are named by their uuid (PeerTube also takes its numeric ids), channels by their
//! name.
//!
//! And search: public playlists, local and received, go in the search index (as
//! `video-search`'s `PlaylistDocument`s) and `/api/v1/search/video-playlists` answers.

use anyhow::Result;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http::{HeaderMap, StatusCode};
use instance_state::objects::Scope;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::warn;
use video_search::api::{VideoConstant, VideoPlaylistsSearchQuery, playlists_response};
use video_search::{Hit, PlaylistDocument, PlaylistQuery, SearchResults};

use super::{PlaylistFields, PlaylistRow, Privacy, Refused, privacy_of};
use crate::app::Instance;
use crate::upload::{Refusal, token_identities};
use crate::web::Site;
use instance_server::WithParts as _;

/// The API's routes.
pub(crate) fn router() -> Router<Site> {
    Router::new()
        .route("/api/v1/video-playlists", post(api_create))
        .route(
            "/api/v1/video-playlists/{uuid}",
            get(api_playlist).put(api_edit).delete(api_delete),
        )
        .route(
            "/api/v1/video-playlists/{uuid}/videos",
            get(api_elements).post(api_add),
        )
        .route(
            "/api/v1/video-playlists/{uuid}/videos/reorder",
            post(api_reorder),
        )
        .route(
            "/api/v1/video-playlists/{uuid}/videos/{element}",
            delete(api_remove),
        )
        .route(
            "/api/v1/search/video-playlists",
            get(api_search_get).post(api_search_post),
        )
}

impl Instance {
    /// The index's document of `playlist`.
    async fn playlist_search_document(&self, playlist: &PlaylistRow) -> Result<PlaylistDocument> {
        let owner = self.actor_summary(&playlist.owner).await;
        let mut document = PlaylistDocument::new(
            playlist.id.clone(),
            playlist.uuid.clone(),
            playlist.name.clone(),
            crate::pages::host_of(&playlist.id),
            datetime(playlist.published),
            owner,
        );
        let elements = if playlist.local {
            self.public_elements(playlist).await?
        } else {
            self.elements(&playlist.id).await?
        };
        document.description = Some(playlist.description.clone()).filter(|d| !d.is_empty());
        document.videos_length = u64::try_from(elements.len()).unwrap_or(0);
        document.updated_at = datetime(playlist.updated);
        document.thumbnail_url = self
            .playlist_thumbnail(playlist, &elements)
            .await?
            .map(|(thumbnail, _)| thumbnail.url);
        document.embed_url = Some(
            self.url(&format!("video-playlists/embed/{}", playlist.uuid))
                .to_string(),
        );
        if let Some(channel) = &playlist.channel {
            document.video_channel = Some(self.actor_summary(channel).await);
        }
        Ok(document)
    }

    /// Records that `playlist` changed (each process's index then reads it again).
    pub(crate) async fn index_playlist(&self, playlist: &PlaylistRow) -> Result<()> {
        self.search_changed(crate::db::SearchKind::Playlist, &playlist.id)
            .await
    }

    /// Puts `playlist` in this process's index if it is public, else takes it out.
    pub(crate) async fn apply_playlist(&self, playlist: &PlaylistRow) -> Result<()> {
        let Some(index) = self.0.search.clone() else {
            return Ok(());
        };
        if playlist.privacy == Privacy::Public {
            let document = self.playlist_search_document(playlist).await?;
            tokio::task::spawn_blocking(move || index.upsert_playlist(&document)).await??;
        } else {
            let id = playlist.id.clone();
            tokio::task::spawn_blocking(move || index.delete(&id)).await??;
        }
        Ok(())
    }

    /// Puts every public playlist in this process's index (when it is rebuilt).
    pub(crate) async fn index_all_playlists(&self) -> Result<()> {
        for playlist in self.playlists(None, None, true, i64::MAX).await? {
            self.apply_playlist(&playlist).await?;
        }
        Ok(())
    }

    /// Searches the index's playlists.
    async fn search_playlists(
        &self,
        query: PlaylistQuery,
    ) -> Result<SearchResults<PlaylistDocument>> {
        let Some(index) = self.0.search.clone() else {
            return Ok(SearchResults::new(0, Vec::new()));
        };
        Ok(tokio::task::spawn_blocking(move || index.search_playlists(&query)).await??)
    }
}

fn datetime(unix: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// A refused change as the API answers it.
fn refusal(error: Refused) -> Response {
    match error {
        Refused::NotFound(message) => Refusal::new(StatusCode::NOT_FOUND, message),
        Refused::Invalid(message) => Refusal::bad(message),
        Refused::Internal(error) => {
            warn!(%error, "a playlist change failed");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "something went wrong")
        }
    }
    .into_response()
}

/// The names of the identities of the token's account, or the refusal.
async fn token_names(site: &Site, headers: &HeaderMap) -> Result<Vec<String>, Response> {
    match token_identities(site, headers).await {
        Ok(identities) => Ok(identities.into_iter().map(|i| i.name).collect()),
        Err(refusal) => Err(refusal.into_response()),
    }
}

/// A channel named in the API: its name (a string), or nothing.
fn channel_name(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
}

/// A new playlist (PeerTube's `VideoPlaylistCreate`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    display_name: String,
    #[serde(default)]
    description: Option<String>,
    privacy: i64,
    #[serde(default)]
    video_channel_id: Option<Value>,
}

/// `POST /api/v1/video-playlists`: a playlist of the token's first identity.
async fn api_create(
    State(site): State<Site>,
    headers: HeaderMap,
    Json(body): Json<CreateBody>,
) -> Response {
    let names = match token_names(&site, &headers).await {
        Ok(names) => names,
        Err(response) => return response,
    };
    let Some(owner) = names.first() else {
        return refusal(Refused::NotFound("the account has no identity"));
    };
    let outcome = async {
        let fields = PlaylistFields {
            name: body.display_name,
            description: body.description.unwrap_or_default(),
            privacy: privacy_of(body.privacy)?,
            channel: channel_name(body.video_channel_id.as_ref()),
        };
        site.instance.create_playlist(owner, &fields).await
    }
    .await;
    match outcome {
        Ok(playlist) => Json(json!({"videoPlaylist": {
            "uuid": playlist.uuid,
            "shortUUID": playlist.uuid,
            "url": playlist.id,
        }}))
        .into_response(),
        Err(error) => refusal(error),
    }
}

/// A change of a playlist (PeerTube's `VideoPlaylistUpdate`): what is absent stays.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EditBody {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    privacy: Option<i64>,
    #[serde(default)]
    video_channel_id: Option<Value>,
}

/// `PUT /api/v1/video-playlists/{uuid}`.
async fn api_edit(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    Json(body): Json<EditBody>,
) -> Response {
    let names = match token_names(&site, &headers).await {
        Ok(names) => names,
        Err(response) => return response,
    };
    let outcome = async {
        let current = site.instance.own_playlist(&uuid, &names).await?;
        let channel = match &body.video_channel_id {
            Some(value) => channel_name(Some(value)),
            None => current
                .channel
                .as_deref()
                .and_then(|c| site.instance.state().local_name(c)),
        };
        let fields = PlaylistFields {
            name: body.display_name.unwrap_or(current.name),
            description: body.description.unwrap_or(current.description),
            privacy: match body.privacy {
                Some(n) => privacy_of(n)?,
                None => current.privacy,
            },
            channel,
        };
        site.instance.edit_playlist(&uuid, &names, &fields).await
    }
    .await;
    match outcome {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refusal(error),
    }
}

/// `DELETE /api/v1/video-playlists/{uuid}`.
async fn api_delete(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let names = match token_names(&site, &headers).await {
        Ok(names) => names,
        Err(response) => return response,
    };
    match site.instance.delete_playlist(&uuid, &names).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refusal(error),
    }
}

/// A video to add (PeerTube's `VideoPlaylistElementCreate`; `videoId` is its uuid here).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddBody {
    video_id: Value,
    #[serde(default)]
    start_timestamp: Option<i64>,
    #[serde(default)]
    stop_timestamp: Option<i64>,
}

/// `POST /api/v1/video-playlists/{uuid}/videos`: at the end; gives the element's id.
async fn api_add(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    Json(body): Json<AddBody>,
) -> Response {
    let names = match token_names(&site, &headers).await {
        Ok(names) => names,
        Err(response) => return response,
    };
    let video = match &body.video_id {
        Value::String(video) => video.clone(),
        other => other.to_string(),
    };
    match site
        .instance
        .add_to_playlist(
            &uuid,
            &names,
            &video,
            body.start_timestamp,
            body.stop_timestamp,
        )
        .await
    {
        Ok(element) => Json(json!({"videoPlaylistElement": {
            "id": element_key(&element.id),
            "url": element.id,
            "position": element.position,
        }}))
        .into_response(),
        Err(error) => refusal(error),
    }
}

/// The last segment of an element's id: how the API names it.
fn element_key(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// A reorder (PeerTube's `VideoPlaylistReorder`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReorderBody {
    start_position: i64,
    insert_after_position: i64,
    #[serde(default)]
    reorder_length: Option<i64>,
}

/// `POST /api/v1/video-playlists/{uuid}/videos/reorder`.
async fn api_reorder(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    Json(body): Json<ReorderBody>,
) -> Response {
    let names = match token_names(&site, &headers).await {
        Ok(names) => names,
        Err(response) => return response,
    };
    match site
        .instance
        .reorder_playlist(
            &uuid,
            &names,
            body.start_position,
            body.insert_after_position,
            body.reorder_length.unwrap_or(1),
        )
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refusal(error),
    }
}

/// `DELETE /api/v1/video-playlists/{uuid}/videos/{element}`.
async fn api_remove(
    State(site): State<Site>,
    Path((uuid, element)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let names = match token_names(&site, &headers).await {
        Ok(names) => names,
        Err(response) => return response,
    };
    match site
        .instance
        .remove_from_playlist(&uuid, &names, &element)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refusal(error),
    }
}

/// The playlist `uuid` the request's reader may see (a bearer token, if any, names them), with
/// their scope.
async fn readable(
    site: &Site,
    uuid: &str,
    headers: &HeaderMap,
) -> Result<(PlaylistRow, Scope), Response> {
    let names = if headers.contains_key(http::header::AUTHORIZATION) {
        token_names(site, headers).await?
    } else {
        Vec::new()
    };
    let internal = |error: anyhow::Error| {
        warn!(%error, "reading a playlist");
        Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
    };
    let playlist = match site.instance.playlist_by_uuid(uuid).await {
        Ok(Some(playlist)) if site.instance.may_see(&playlist, &names) => playlist,
        Ok(_) => {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no such playlist").into_response());
        }
        Err(error) => return Err(internal(error)),
    };
    let scope = match names.first() {
        Some(name) => {
            let id = site.instance.actor_id(name);
            site.instance
                .state()
                .scope_of(id.as_str())
                .await
                .map_err(|e| internal(e.into()))?
        }
        None => Scope::anonymous(),
    };
    Ok((playlist, scope))
}

/// `GET /api/v1/video-playlists/{uuid}`: PeerTube's `VideoPlaylist`.
async fn api_playlist(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (playlist, _) = match readable(&site, &uuid, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match site.instance.playlist_search_document(&playlist).await {
        Ok(document) => {
            let mut answer = video_search::api::playlist(
                &Hit::new(None, document),
                &site.instance.api_context(),
            );
            answer.privacy = VideoConstant::new(
                u32::try_from(playlist.privacy.number()).ok(),
                playlist.privacy.label(),
            );
            Json(answer).into_response()
        }
        Err(error) => {
            warn!(%error, "reading a playlist");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
        }
    }
}

/// `GET /api/v1/video-playlists/{uuid}/videos`: PeerTube's `VideoPlaylistElement`s, in order;
/// a video the reader may not see is `null` with the type "unavailable" (3).
async fn api_elements(
    State(site): State<Site>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (playlist, scope) = match readable(&site, &uuid, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let shown = match site.instance.shown_elements(&playlist, &scope).await {
        Ok(shown) => shown,
        Err(error) => {
            warn!(%error, "reading a playlist");
            return Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "something went wrong")
                .into_response();
        }
    };
    let context = site.instance.api_context();
    let mut data = Vec::new();
    for item in &shown {
        let video = match &item.video {
            Some(video) => {
                let document = site.instance.search_document(video).await;
                serde_json::to_value(video_search::api::video(
                    &Hit::new(None, document),
                    &context,
                ))
                .unwrap_or(Value::Null)
            }
            None => Value::Null,
        };
        data.push(json!({
            "id": element_key(&item.element.id),
            "position": item.element.position,
            "startTimestamp": item.element.start_secs,
            "stopTimestamp": item.element.stop_secs,
            "type": if video.is_null() { 3 } else { 0 },
            "video": video,
        }));
    }
    Json(json!({"total": data.len(), "data": data})).into_response()
}

async fn answer_search(
    site: &Site,
    query: Result<VideoPlaylistsSearchQuery, video_search::api::ApiError>,
) -> Response {
    let context = site.instance.api_context();
    let query = match query.and_then(|q| q.to_index_query(&context)) {
        Ok(query) => query,
        Err(error) => return Refusal::bad(error.to_string()).into_response(),
    };
    match site.instance.search_playlists(query).await {
        Ok(results) => Json(playlists_response(&results, &context)).into_response(),
        Err(error) => {
            warn!(%error, "searching playlists");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "the search failed").into_response()
        }
    }
}

/// `GET /api/v1/search/video-playlists?search=...`, as PeerTube's API.
async fn api_search_get(State(site): State<Site>, RawQuery(query): RawQuery) -> Response {
    answer_search(
        &site,
        VideoPlaylistsSearchQuery::from_query_string(query.as_deref().unwrap_or_default()),
    )
    .await
}

/// `POST /api/v1/search/video-playlists` with a JSON body.
async fn api_search_post(State(site): State<Site>, body: Bytes) -> Response {
    answer_search(&site, VideoPlaylistsSearchQuery::from_json(&body)).await
}
