//! `federation::routes` over an app that answers with this crate's documents: actors (and
//! their tombstones), collections, and objects, each as the signed requester may see it; the
//! instance's blocks refuse signed GETs too.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use federation::keys::RemoteKey;
use federation::routes::{
    App as Routes, AppError, CollectionItems, CollectionKind, ObjectState, Representation,
    RoutesConfig, Server, router,
};
use http::StatusCode;
use http_body_util::BodyExt as _;
use http_signatures::{Signer, Standard};
use instance_state::InstanceState;
use instance_state::actors::ActorKind;
use instance_state::blocks::BlockTarget;
use instance_state::conformance::actor;
use instance_state::follows::FollowState;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use url::Url;

use crate::handlers::{App, BASE, Remote, World, local, world};

fn app_error(error: instance_state::Error) -> AppError {
    AppError::new(error)
}

impl Routes for App {
    async fn actor(&self, name: &str, _: Representation) -> Result<Option<ObjectState>, AppError> {
        self.state.actor_state(name).await.map_err(app_error)
    }

    async fn object(&self, url: &Url, _: Representation) -> Result<ObjectState, AppError> {
        self.state.object_state(url, None).await.map_err(app_error)
    }

    async fn object_for(
        &self,
        url: &Url,
        _: Representation,
        requester: Option<&RemoteKey>,
    ) -> Result<ObjectState, AppError> {
        self.state
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
        self.state
            .collection_items(name, kind, offset, limit, None)
            .await
            .map_err(app_error)
    }

    async fn collection_for(
        &self,
        name: &str,
        kind: CollectionKind,
        offset: u64,
        limit: u64,
        requester: Option<&RemoteKey>,
    ) -> Result<Option<CollectionItems>, AppError> {
        self.state
            .collection_items(
                name,
                kind,
                offset,
                limit,
                requester.map(|k| k.owner.as_str()),
            )
            .await
            .map_err(app_error)
    }

    async fn nodeinfo(&self) -> Result<nodeinfo::NodeInfo, AppError> {
        let people = self
            .state
            .actor_count(ActorKind::Person)
            .await
            .map_err(app_error)?;
        nodeinfo::NodeInfoBuilder::new(nodeinfo::Version::V2_1, "test", "1.0")
            .protocol(nodeinfo::Protocol::ACTIVITYPUB)
            .users(nodeinfo::Users::new().with_total(people))
            .build()
            .map_err(AppError::new)
    }
}

/// The routes of `world`'s app, in authorized-fetch mode when `authorized`.
fn routes(world: World, authorized: bool) -> axum::Router {
    let config = RoutesConfig::new(Url::parse(BASE).unwrap()).with_authorized_fetch(authorized);
    router(Arc::new(Server {
        config,
        app: world.app.clone(),
        inbox: world.inbox,
    }))
}

/// A GET of `path`, signed by `signer` when there is one; the status and the JSON body.
async fn get(routes: &axum::Router, path: &str, signer: Option<&Signer>) -> (StatusCode, Value) {
    let mut request = http::Request::get(format!("{BASE}{path}"))
        .header(http::header::ACCEPT, "application/activity+json")
        .body(Vec::new())
        .unwrap();
    if let Some(signer) = signer {
        signer.sign(&mut request, SystemTime::now()).unwrap();
    }
    let (mut parts, body) = request.into_parts();
    parts
        .headers
        .insert(http::header::HOST, "local.test".parse().unwrap());
    parts.uri = path.parse().unwrap();
    let request = http::Request::from_parts(parts, Body::from(body));
    let response = routes.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn signer(remote: &Remote) -> Signer {
    Signer::new(remote.key.clone(), remote.key_id()).with_standard(Standard::Cavage)
}

/// The local group `club`, and the remote actor `fan` who follows it (accepted).
async fn club_and_fan(world: &World) -> Remote {
    world.add(actor("club", ActorKind::Group)).await;
    let fan = Remote::new("remote.test", "fan");
    world
        .state()
        .put_follow(
            &fan.id,
            &local("club"),
            "https://remote.test/f/1",
            FollowState::Accepted,
        )
        .await
        .unwrap();
    fan
}

/// Stores club's local note `{BASE}/notes/{n}`, addressed to `to`.
async fn put_club_note(state: &InstanceState, n: u32, to: &str) {
    state
        .put_object(
            &json!({"id": format!("{BASE}/notes/{n}"), "type": "Note", "attributedTo": local("club"), "to": [to]}),
            true,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn actors_collections_and_objects_are_served_from_the_state() {
    let world = world().await;
    let state = world.state().clone();
    let fan = club_and_fan(&world).await;
    world.add(actor("gone", ActorKind::Person)).await;
    state.delete_actor("gone").await.unwrap();
    for (n, to) in [
        (1, "https://www.w3.org/ns/activitystreams#Public".to_owned()),
        (2, format!("{}/followers", local("club"))),
    ] {
        state
            .put_activity(
                &json!({
                    "id": format!("{BASE}/activities/{n}"),
                    "type": "Create",
                    "actor": local("club"),
                    "to": [to],
                    "object": format!("{BASE}/notes/{n}"),
                }),
                true,
            )
            .await
            .unwrap();
        put_club_note(&state, n, &to).await;
    }
    let routes = routes(world, false);
    let (status, club) = get(&routes, "/actors/club", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(club["type"], "Group");
    assert!(
        club["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .contains("PUBLIC KEY")
    );
    let (status, gone) = get(&routes, "/actors/gone", None).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(gone["type"], "Tombstone");
    let (status, _) = get(&routes, "/actors/nobody", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, followers) = get(&routes, "/actors/club/followers?page=1", None).await;
    assert_eq!(followers["orderedItems"], json!([fan.id]));
    let (_, outbox) = get(&routes, "/actors/club/outbox", None).await;
    assert_eq!(
        outbox["totalItems"], 1,
        "anonymous: the public activity only"
    );
    let (status, _) = get(&routes, "/notes/2", None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "followers-only, not given away"
    );
    let (status, note) = get(&routes, "/notes/1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(note["id"], format!("{BASE}/notes/1"));
}

#[tokio::test]
async fn signed_fetches_see_what_their_actor_may_and_blocked_ones_are_refused() {
    let world = world().await;
    let state = world.state().clone();
    let fan = club_and_fan(&world).await;
    fan.known_to(&world.app.keys);
    put_club_note(&state, 1, &format!("{}/followers", local("club"))).await;
    let routes = routes(world, true);
    let (status, _) = get(&routes, "/notes/1", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "authorized fetch: a signature is required"
    );
    let (status, note) = get(&routes, "/notes/1", Some(&signer(&fan))).await;
    assert_eq!(status, StatusCode::OK, "{note}");
    assert_eq!(note["type"], "Note");
    // Blocked by the instance: refused before its key is looked at.
    state
        .block(None, &BlockTarget::domain("remote.test"), "")
        .await
        .unwrap();
    let (status, problem) = get(&routes, "/notes/1", Some(&signer(&fan))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
}
