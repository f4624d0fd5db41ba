//! What the instance serves: its ActivityPub documents (through `federation::routes`), the
//! client-to-server outbox, web pages and calendars.
//!
//! Every page, calendar, document and collection shows its reader only what the reader may
//! see: a [`Reader`] becomes a [`Scope`] (the addresses that name it), and the database judges
//! each object by its stored addressing against it (instance-state's `Scope`, the one
//! judgment).
//! Anonymous readers (web pages, unsigned GETs) see public content; a signed GET (authorized
//! fetch, or a signature the routes identify) also what is addressed to its signer or to a
//! collection of this instance it is in; a local account's bearer token (`/` and the
//! calendars) also what is addressed to its identities or their collections, and to the
//! followers of the remote actors they follow.

use activitypub_core::{AnyObject, Event};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use federation::keys::RemoteKey;
use federation::routes::{
    App, AppError, CollectionItems, CollectionKind, ObjectState, Representation,
};
use instance_state::objects::Scope;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::warn;
use url::Url;

use crate::activities::ClientError;
use crate::app::{INSTANCE_ACTOR, Instance};
use crate::db::{ObjectRow, now};
use crate::html::{
    self, ActorView, CommentView, Commenting, EventSummary, EventView, GroupView, Page,
};
use crate::ics;
use crate::pages::layout::EventsLayout;

fn app_error(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AppError {
    AppError::new(error)
}

fn typed_event(document: &Value) -> Option<Event> {
    match AnyObject::from_value(document.clone()) {
        Ok(AnyObject::Event(event)) => Some(*event),
        _ => None,
    }
}

/// Who reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reader {
    /// Nobody known: public content only.
    Anonymous,
    /// The actor that signed a GET (its key's owner).
    Signed(String),
    /// A local account (its bearer token): the names of its identities.
    Account(Vec<String>),
}

impl Reader {
    /// The reader of a GET the routes verified: its key's owner, or nobody.
    fn of(requester: Option<&RemoteKey>) -> Self {
        requester.map_or(Self::Anonymous, |key| Self::Signed(key.owner.to_string()))
    }
}

/// Items per page of the collections served here, as in `federation::routes`.
const PAGE_SIZE: u64 = 20;

/// A paged `OrderedCollection` of this instance's page size (see
/// [`federation::routes::paged_collection`]).
fn paged_collection(id: &str, page: Option<u64>, total: u64, items: Vec<Value>) -> Value {
    federation::routes::paged_collection(id, page, PAGE_SIZE, total, items)
}

/// The items of page `page` of `all` (none for the collection itself), when the reader is
/// `entitled` to see them.
fn items_of_page(
    all: impl Iterator<Item = String>,
    page: Option<u64>,
    entitled: bool,
) -> Vec<Value> {
    let Some(n) = page.filter(|_| entitled) else {
        return Vec::new();
    };
    let skip = usize::try_from(n.saturating_sub(1).saturating_mul(PAGE_SIZE)).unwrap_or(usize::MAX);
    let take = usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    all.skip(skip).take(take).map(Value::String).collect()
}

/// The offset and limit of page `page` (none for the collection itself).
fn window(page: Option<u64>) -> (i64, i64) {
    match page {
        Some(n) => (
            i64::try_from(n.saturating_sub(1).saturating_mul(PAGE_SIZE)).unwrap_or(i64::MAX),
            i64::try_from(PAGE_SIZE).unwrap_or(i64::MAX),
        ),
        None => (0, 0),
    }
}

impl Instance {
    /// What `reader` may see.
    pub(crate) async fn scope(&self, reader: &Reader) -> anyhow::Result<Scope> {
        match reader {
            Reader::Anonymous => Ok(Scope::anonymous()),
            Reader::Signed(actor) => self.db().scope_of(actor).await,
            Reader::Account(names) => {
                let mut scope = Scope::anonymous();
                // Each identity's scope: the followers collections of whom it follows (local
                // and remote, as their documents name them) come with it.
                for name in names {
                    let id = self.actor_id(name);
                    scope.merge(self.db().scope_of(id.as_str()).await?);
                }
                Ok(scope)
            }
        }
    }

    /// The reader a request's `Authorization: Bearer` names: a local account, or nobody without
    /// the header. `Err` for a token that is no account's.
    pub(crate) async fn bearer_reader(&self, headers: &HeaderMap) -> Result<Reader, Response> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(Reader::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "only bearer tokens are understood here",
            ));
        };
        match self.db().identities_by_token(token).await {
            Ok(names) if !names.is_empty() => Ok(Reader::Account(names)),
            Ok(_) => Err(error(StatusCode::UNAUTHORIZED, "unknown token")),
            Err(e) => {
                warn!(error = %e, "token lookup failed");
                Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
            }
        }
    }

    /// The object at `url` (an event, a comment, an activity, or a collection they name) as a
    /// reader in `scope` may see it: what it may not see is [`ObjectState::NotFound`], so that
    /// whether it exists is not given away.
    async fn object_in(
        &self,
        url: &Url,
        representation: Representation,
        scope: &Scope,
    ) -> anyhow::Result<ObjectState> {
        let segments: Vec<&str> = url
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        match segments.as_slice() {
            ["events", uuid, collection @ ("replies" | "participants")] => {
                let Ok(page) = federation::routes::page_of(url) else {
                    return Ok(ObjectState::NotFound);
                };
                let event = self.url(&format!("events/{uuid}"));
                let Some(row) = self.event(event.as_str()).await?.filter(|r| r.local) else {
                    return Ok(ObjectState::NotFound);
                };
                if !self.db().is_visible(&row.id, scope).await? {
                    return Ok(ObjectState::NotFound);
                }
                let id = format!("{}/{collection}", row.id);
                let document = if *collection == "replies" {
                    self.replies_collection(&row, &id, page, scope).await?
                } else {
                    self.participants_collection(&row, &id, page, scope).await?
                };
                Ok(ObjectState::Found {
                    document,
                    html: None,
                })
            }
            ["actors", name, "members"] => {
                let Ok(page) = federation::routes::page_of(url) else {
                    return Ok(ObjectState::NotFound);
                };
                match self.db().actor(name).await? {
                    Some(group) if group.kind == "Group" => Ok(ObjectState::Found {
                        document: self.members_collection(name, page, scope).await?,
                        html: None,
                    }),
                    _ => Ok(ObjectState::NotFound),
                }
            }
            _ if url.query().is_some() => Ok(ObjectState::NotFound),
            ["activities", _] => {
                let id = url.as_str();
                match self.db().activity(id).await? {
                    Some(document) if self.db().is_visible(id, scope).await? => {
                        Ok(ObjectState::Found {
                            document,
                            html: None,
                        })
                    }
                    _ => Ok(ObjectState::NotFound),
                }
            }
            ["events", _] | ["comments", _] => {
                let id = url.as_str();
                let Some(row) = self.db().object(id).await?.filter(|r| r.local) else {
                    return Ok(ObjectState::NotFound);
                };
                if !self.db().is_visible(id, scope).await? {
                    return Ok(ObjectState::NotFound);
                }
                if row.deleted {
                    return Ok(ObjectState::Gone {
                        tombstone: row.document,
                    });
                }
                let html = if representation == Representation::Html && row.kind == "Event" {
                    self.event_html(&row, scope).await
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

    /// The `replies` of a local event: the ids of the comments and replies on it that `scope`
    /// may see, oldest first.
    async fn replies_collection(
        &self,
        event: &ObjectRow,
        id: &str,
        page: Option<u64>,
        scope: &Scope,
    ) -> anyhow::Result<Value> {
        let total = self.db().visible_comment_count(&event.id, scope).await?;
        let (offset, limit) = window(page);
        let items = if page.is_some() {
            self.db()
                .visible_comments(&event.id, scope, offset, limit)
                .await?
                .into_iter()
                .map(|c| Value::String(c.id))
                .collect()
        } else {
            Vec::new()
        };
        Ok(paged_collection(
            id,
            page,
            u64::try_from(total).unwrap_or(0),
            items,
        ))
    }

    /// The `participants` of a local event. How many there are is public (the event's
    /// `participantCount` says it); who they are is shown to the event's organizers and to
    /// the participants themselves (each participation is told to the others, as Mobilizon
    /// does), and to nobody else.
    async fn participants_collection(
        &self,
        event: &ObjectRow,
        id: &str,
        page: Option<u64>,
        scope: &Scope,
    ) -> anyhow::Result<Value> {
        let participants = self.db().participants(&event.id, "accepted").await?;
        let mut entitled = is_among(scope, &participants);
        if !entitled {
            for reader in scope.addresses().iter().skip(1) {
                if self.may_manage(event, reader).await? {
                    entitled = true;
                    break;
                }
            }
        }
        let items = items_of_page(participants.iter().cloned(), page, entitled);
        Ok(paged_collection(id, page, participants.len() as u64, items))
    }

    /// The `members` of local group `name`: how many is public (its page shows it); who they
    /// are is shown to its members only, as Mobilizon does.
    async fn members_collection(
        &self,
        name: &str,
        page: Option<u64>,
        scope: &Scope,
    ) -> anyhow::Result<Value> {
        let members = self.db().members(name).await?;
        let entitled = is_among(scope, &members);
        let id = format!("{}/members", self.actor_id(name));
        let items = items_of_page(members.iter().cloned(), page, entitled);
        Ok(paged_collection(&id, page, members.len() as u64, items))
    }

    pub(crate) async fn actor_view(&self, id: &str) -> ActorView {
        let (name, handle) = self.actor_name(id).await;
        ActorView {
            name,
            url: id.to_owned(),
            handle,
        }
    }

    /// The instance's layout (its navigation and stylesheets), for pages drawn without a
    /// signed-in reader.
    pub(crate) fn layout(&self) -> EventsLayout {
        EventsLayout::new(self.0.settings.name.clone())
    }

    async fn event_html(&self, row: &ObjectRow, scope: &Scope) -> Option<String> {
        let page = self.event_page(row, scope, None, None).await?;
        Some(page.render(&self.layout(), None))
    }

    /// The page of event `row` as a reader in `scope` sees it, with that reader's `actions`
    /// and comment forms (`commenting`), if signed in.
    pub(crate) async fn event_page(
        &self,
        row: &ObjectRow,
        scope: &Scope,
        actions: Option<maud::Markup>,
        commenting: Option<Commenting>,
    ) -> Option<Page> {
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
        let comments_seen = self
            .db()
            .visible_comments(&row.id, scope, 0, i64::MAX)
            .await
            .unwrap_or_default();
        for comment in comments_seen {
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
        let origin = (!row.local).then(|| {
            event
                .props
                .url
                .as_ref()
                .and_then(|u| u.iter().next())
                .and_then(|u| u.href())
                .map_or_else(|| row.id.clone(), ToString::to_string)
        });
        Some(html::event_page(&EventView {
            event: &event,
            group,
            organizer,
            participants,
            comments,
            ics_url,
            actions,
            commenting,
            origin,
        }))
    }

    /// The page of local group `name` as a reader in `scope` sees it (its upcoming events),
    /// with that reader's `actions`; `None` when `name` is no group here.
    pub(crate) async fn group_page(
        &self,
        name: &str,
        scope: &Scope,
        actions: Option<maud::Markup>,
    ) -> anyhow::Result<Option<Page>> {
        let Some(row) = self.db().actor(name).await? else {
            return Ok(None);
        };
        if row.kind != "Group" {
            return Ok(None);
        }
        let id = self.actor_id(name);
        let events = self
            .db()
            .upcoming_events(now() - 86_400, Some(id.as_str()), scope, 100)
            .await?;
        let members = self.db().member_count(name).await?;
        let (_, handle) = self.actor_name(id.as_str()).await;
        Ok(Some(html::group_page(
            &GroupView {
                id: id.to_string(),
                name: row.display_name.clone(),
                handle: handle.unwrap_or_default(),
                summary_html: row.summary.clone(),
                member_count: u64::try_from(members).ok(),
                ics_url: format!("{id}/calendar.ics"),
            },
            &self.summaries(&events),
            actions,
        )))
    }

    /// The lines of an event list: each links to the event's page here (another server's
    /// event too: its copy here is where people join it and comment).
    pub(crate) fn summaries(&self, rows: &[ObjectRow]) -> Vec<EventSummary> {
        rows.iter()
            .filter_map(|row| {
                let event = typed_event(&row.document)?;
                Some(EventSummary::of(
                    &event,
                    crate::pages::event_path(self, &row.id),
                ))
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
        let document = self.actor_document(&row).await.map_err(app_error)?;
        let html = if representation == Representation::Html && row.kind == "Group" {
            // Browsers are not identified here (the pages module answers those that are): the
            // page shows what anyone may see.
            self.group_page(name, &Scope::anonymous(), None)
                .await
                .map_err(app_error)?
                .map(|page| page.render(&self.layout(), None))
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
        self.object_for(url, representation, None).await
    }

    async fn object_for(
        &self,
        url: &Url,
        representation: Representation,
        requester: Option<&RemoteKey>,
    ) -> Result<ObjectState, AppError> {
        let scope = self
            .scope(&Reader::of(requester))
            .await
            .map_err(app_error)?;
        self.object_in(url, representation, &scope)
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
        if self.db().actor(name).await.map_err(app_error)?.is_none() {
            return Ok(None);
        }
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let db = self.db();
        let (total, items) = match kind {
            CollectionKind::Outbox => {
                let scope = self
                    .scope(&Reader::of(requester))
                    .await
                    .map_err(app_error)?;
                (
                    db.outbox_count(name, &scope).await.map_err(app_error)?,
                    db.outbox(name, &scope, offset, limit)
                        .await
                        .map_err(app_error)?,
                )
            }
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
            nodeinfo::Version::V2_2,
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
        match self.db().identities_by_token(token).await {
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

/// The calendars (the pages people use are [`crate::pages`]').
pub(crate) fn calendars(instance: Instance) -> Router {
    Router::new()
        .route("/events/{uuid}/calendar.ics", get(event_calendar))
        .route("/actors/{name}/calendar.ics", get(group_calendar))
        .with_state(instance)
}

fn calendar(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    response
}

/// Whether the reader of `scope` is one of `actors` (ids).
fn is_among(scope: &Scope, actors: &[String]) -> bool {
    scope.addresses().iter().any(|a| actors.contains(a))
}

/// The scope of the reader a page request names (see [`Instance::bearer_reader`]), or the
/// response refusing it.
pub(crate) async fn page_scope(
    instance: &Instance,
    headers: &HeaderMap,
) -> Result<Scope, Response> {
    let reader = instance.bearer_reader(headers).await?;
    instance.scope(&reader).await.map_err(|e| {
        warn!(error = %e, "finding what a reader may see failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}

async fn event_calendar(
    State(instance): State<Instance>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let scope = match page_scope(&instance, &headers).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let id = instance.url(&format!("events/{uuid}"));
    let found = match instance.event(id.as_str()).await {
        Ok(Some(row)) => instance
            .db()
            .is_visible(&row.id, &scope)
            .await
            .map(|visible| visible.then_some(row)),
        other => other,
    };
    let row = match found {
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

async fn group_calendar(
    State(instance): State<Instance>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let scope = match page_scope(&instance, &headers).await {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let row = match instance.db().actor(&name).await {
        Ok(Some(row)) if row.kind == "Group" || row.name == INSTANCE_ACTOR => row,
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            warn!(error = %e, "reading a group failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let id = instance.actor_id(&name);
    let rows = match instance.db().group_events(id.as_str(), &scope, 1000).await {
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
