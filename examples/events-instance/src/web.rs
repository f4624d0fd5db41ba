//! What the instance serves: its ActivityPub documents (through `federation::routes`), the
//! client-to-server outbox, web pages and calendars.

use activitypub_core::{AnyObject, Event};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use federation::routes::{
    App, AppError, CollectionItems, CollectionKind, ObjectState, Representation,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::warn;
use url::Url;

use crate::activities::ClientError;
use crate::app::{INSTANCE_ACTOR, Instance, hash_token};
use crate::db::{ObjectRow, now};
use crate::html::{self, ActorView, CommentView, EventSummary, EventView, GroupView};
use crate::ics;

fn app_error(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AppError {
    AppError::new(error)
}

fn typed_event(document: &Value) -> Option<Event> {
    match AnyObject::from_value(document.clone()) {
        Ok(AnyObject::Event(event)) => Some(*event),
        _ => None,
    }
}

impl Instance {
    async fn actor_view(&self, id: &str) -> ActorView {
        let (name, handle) = self.actor_name(id).await;
        ActorView {
            name,
            url: id.to_owned(),
            handle,
        }
    }

    async fn event_html(&self, row: &ObjectRow) -> Option<String> {
        let event = typed_event(&row.document)?;
        let group = match row.context.as_deref() {
            Some(group) => Some(self.actor_view(group).await),
            None => None,
        };
        let organizer = match row.document.get("actor").and_then(Value::as_str) {
            Some(actor) => Some(self.actor_view(actor).await),
            None => None,
        };
        let participants = if row.local {
            self.db()
                .participants(&row.id, "accepted")
                .await
                .map(|p| p.len() as u64)
                .unwrap_or(0)
        } else {
            event.participant_count.unwrap_or(0)
        };
        let mut comments = Vec::new();
        for comment in self.db().comments(&row.id).await.unwrap_or_default() {
            let author = match comment.attributed_to.as_deref() {
                Some(author) => self.actor_view(author).await,
                None => ActorView {
                    name: "someone".into(),
                    url: comment.id.clone(),
                    handle: None,
                },
            };
            comments.push(CommentView {
                id: comment.id.clone(),
                author,
                content_html: comment
                    .document
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                published: OffsetDateTime::from_unix_timestamp(comment.published).ok(),
                in_reply_to: comment.in_reply_to.clone(),
            });
        }
        let ics_url = if row.local {
            format!("{}/calendar.ics", row.id)
        } else {
            format!("/calendar.ics?event={}", row.id)
        };
        Some(html::event_page(&EventView {
            event: &event,
            group,
            organizer,
            participants,
            comments,
            ics_url,
        }))
    }

    fn summaries(&self, rows: &[ObjectRow]) -> Vec<EventSummary> {
        rows.iter()
            .filter_map(|row| {
                let event = typed_event(&row.document)?;
                let page = if row.local {
                    row.id.clone()
                } else {
                    event
                        .props
                        .url
                        .as_ref()
                        .and_then(|u| u.iter().next())
                        .and_then(|u| u.href())
                        .map_or_else(|| row.id.clone(), ToString::to_string)
                };
                Some(EventSummary::of(&event, page))
            })
            .collect()
    }
}

impl App for Instance {
    async fn actor(
        &self,
        name: &str,
        representation: Representation,
    ) -> Result<Option<ObjectState>, AppError> {
        let Some(row) = self.db().actor(name).await.map_err(app_error)? else {
            return Ok(None);
        };
        let document = self.actor_document(&row).map_err(app_error)?;
        let html = if representation == Representation::Html && row.kind == "Group" {
            let id = self.actor_id(name);
            let events = self
                .db()
                .upcoming_events(now() - 86_400, Some(id.as_str()), 100)
                .await
                .map_err(app_error)?;
            let members = self.db().member_count(name).await.map_err(app_error)?;
            let (_, handle) = self.actor_name(id.as_str()).await;
            Some(html::group_page(
                &GroupView {
                    id: id.to_string(),
                    name: row.display_name.clone(),
                    handle: handle.unwrap_or_default(),
                    summary_html: row.summary.clone(),
                    member_count: u64::try_from(members).ok(),
                    ics_url: format!("{id}/calendar.ics"),
                },
                &self.summaries(&events),
            ))
        } else {
            None
        };
        Ok(Some(ObjectState::Found { document, html }))
    }

    async fn object(
        &self,
        url: &Url,
        representation: Representation,
    ) -> Result<ObjectState, AppError> {
        let id = url.as_str();
        let segments: Vec<&str> = url
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        match segments.as_slice() {
            ["activities", _] => Ok(match self.db().activity(id).await.map_err(app_error)? {
                Some(document) => ObjectState::Found {
                    document,
                    html: None,
                },
                None => ObjectState::NotFound,
            }),
            ["events", _] | ["comments", _] => {
                let Some(row) = self
                    .db()
                    .object(id)
                    .await
                    .map_err(app_error)?
                    .filter(|r| r.local)
                else {
                    return Ok(ObjectState::NotFound);
                };
                if row.deleted {
                    return Ok(ObjectState::Gone {
                        tombstone: row.document,
                    });
                }
                let html = if representation == Representation::Html && row.kind == "Event" {
                    self.event_html(&row).await
                } else {
                    None
                };
                Ok(ObjectState::Found {
                    document: row.document,
                    html,
                })
            }
            _ => Ok(ObjectState::NotFound),
        }
    }

    async fn collection(
        &self,
        name: &str,
        kind: CollectionKind,
        offset: u64,
        limit: u64,
    ) -> Result<Option<CollectionItems>, AppError> {
        if self.db().actor(name).await.map_err(app_error)?.is_none() {
            return Ok(None);
        }
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let db = self.db();
        let (total, items) = match kind {
            CollectionKind::Outbox => (
                db.outbox_count(name).await.map_err(app_error)?,
                db.outbox(name, offset, limit).await.map_err(app_error)?,
            ),
            CollectionKind::Followers => (
                db.follower_count(name).await.map_err(app_error)?,
                db.followers(name, offset, limit)
                    .await
                    .map_err(app_error)?
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            ),
            CollectionKind::Following => (
                db.following_count(name).await.map_err(app_error)?,
                db.following(name, offset, limit)
                    .await
                    .map_err(app_error)?
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            ),
        };
        Ok(Some(CollectionItems::new(
            u64::try_from(total).unwrap_or(0),
            items,
        )))
    }

    async fn nodeinfo(&self) -> Result<nodeinfo::NodeInfo, AppError> {
        let people = self.db().count_actors("Person").await.map_err(app_error)?;
        let events = self
            .db()
            .count_local_objects("Event")
            .await
            .map_err(app_error)?;
        let comments = self
            .db()
            .count_local_objects("Note")
            .await
            .map_err(app_error)?;
        nodeinfo::NodeInfoBuilder::new(
            nodeinfo::Version::V2_1,
            "events-instance",
            env!("CARGO_PKG_VERSION"),
        )
        .protocol(nodeinfo::Protocol::ACTIVITYPUB)
        .open_registrations(false)
        .users(nodeinfo::Users::new().with_total(u64::try_from(people).unwrap_or(0)))
        .local_posts(u64::try_from(events).unwrap_or(0))
        .local_comments(u64::try_from(comments).unwrap_or(0))
        .instance_name(self.0.settings.name.clone())
        .build()
        .map_err(app_error)
    }

    async fn post_outbox(&self, name: &str, headers: &HeaderMap, body: Bytes) -> Response {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(token) = token else {
            return error(StatusCode::UNAUTHORIZED, "a bearer token is required");
        };
        match self.db().identities_by_token(&hash_token(token)).await {
            Ok(identities) if identities.iter().any(|i| i == name) => {}
            Ok(_) => {
                return error(
                    StatusCode::FORBIDDEN,
                    "this token is not of this identity's account",
                );
            }
            Err(e) => {
                warn!(error = %e, "token lookup failed");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        }
        let body: Value = match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("not JSON: {e}")),
        };
        match self.client_post(name, body).await {
            Ok(activity) => {
                let location = activity
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let mut response = federation::routes::json_response(
                    StatusCode::CREATED,
                    &activity,
                    federation::routes::ACTIVITY_JSON,
                );
                if let Ok(value) = HeaderValue::from_str(location) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                response
            }
            Err(ClientError::Bad(m)) => error(StatusCode::BAD_REQUEST, &m),
            Err(ClientError::Forbidden(m)) => error(StatusCode::FORBIDDEN, &m),
            Err(ClientError::NotFound(m)) => error(StatusCode::NOT_FOUND, &m),
            Err(ClientError::Internal(e)) => {
                warn!(error = %format!("{e:#}"), "client request failed");
                error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    federation::routes::json_response(status, &json!({"error": message}), "application/json")
}

/// The routes for people: the upcoming events and the calendars.
pub(crate) fn pages(instance: Instance) -> Router {
    Router::new()
        .route("/", get(upcoming))
        .route("/events/{uuid}/calendar.ics", get(event_calendar))
        .route("/actors/{name}/calendar.ics", get(group_calendar))
        .with_state(instance)
}

fn html_page(page: String) -> Response {
    let mut response = (StatusCode::OK, page).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn calendar(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    response
}

async fn upcoming(State(instance): State<Instance>) -> Response {
    match instance
        .db()
        .upcoming_events(now() - 86_400, None, 200)
        .await
    {
        Ok(rows) => html_page(html::upcoming_page(
            &instance.0.settings.name,
            &instance.summaries(&rows),
        )),
        Err(e) => {
            warn!(error = %e, "listing events failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn event_calendar(State(instance): State<Instance>, Path(uuid): Path<String>) -> Response {
    let id = instance.url(&format!("events/{uuid}"));
    let row = match instance.event(id.as_str()).await {
        Ok(Some(row)) => row,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            warn!(error = %e, "reading an event failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Some(event) = typed_event(&row.document) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match ics::event_calendar(&event, OffsetDateTime::now_utc()) {
        Ok(body) => calendar(body),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    }
}

async fn group_calendar(State(instance): State<Instance>, Path(name): Path<String>) -> Response {
    let row = match instance.db().actor(&name).await {
        Ok(Some(row)) if row.kind == "Group" || row.name == INSTANCE_ACTOR => row,
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            warn!(error = %e, "reading a group failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let id = instance.actor_id(&name);
    let rows = match instance.db().group_events(id.as_str(), 1000).await {
        Ok(rows) => rows,
        Err(e) => {
            warn!(error = %e, "listing events failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let events: Vec<Event> = rows
        .iter()
        .filter_map(|r| typed_event(&r.document))
        .collect();
    let refs: Vec<&Event> = events.iter().collect();
    calendar(ics::group_calendar(
        &row.display_name,
        &refs,
        OffsetDateTime::now_utc(),
    ))
}
