//! The pages people use in a browser: the events, the groups, following, moderation.
//!
//! Every page is drawn on the server and works without JavaScript. The accounts (sign-up,
//! sign-in, password, identities) come from `instance-web`, with its sessions, its CSRF checks
//! (every form here is a [`CsrfForm`]), its sign-in limits and its security headers; this
//! module adds the events instance's own pages, each acting as the session's identity.
//!
//! Every action goes through the same code as the client-to-server API
//! ([`Instance::client_post`]): creating an event from the form is posting a `Create(Event)`
//! to the identity's outbox, joining is posting a `Join`. What a page shows is judged with the
//! same scope as the documents and collections: the identity's own.
//!
//! The pages of an event (`/events/{uuid}`) and of an actor (`/actors/{name}`) are the same
//! addresses as their ActivityPub documents: a browser (which asks for HTML) gets the page, a
//! server gets the document (see [`html_pages`]).

mod event_form;
pub(crate) mod layout;
mod queries;
mod views;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use federation::routes::Representation;
use instance_state::objects::Scope;
use instance_web::{CsrfForm, MaybeViewer, Viewer, Web, account_routes};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::warn;
use url::Url;

use self::event_form::{EventForm, FormErrors, Purpose, time_zones};
use self::layout::{EVENTS_STYLESHEET, EVENTS_STYLESHEET_PATH};
use self::views::{EventFormView, FollowingView, GroupManageView, MemberView, ParticipantView};
use instance_server::moderation::Moderation;

use crate::activities::ClientError;
use crate::app::{INSTANCE_ACTOR, Instance};
use crate::db::{ObjectRow, now};
use crate::html::{Commenting, Page};

/// What the pages need: the instance, the accounts' side of the web, and the time zone new
/// events start in.
#[derive(Clone)]
pub(crate) struct Pages {
    instance: Instance,
    web: Web,
    default_zone: String,
    moderation: Moderation,
}

impl FromRef<Pages> for Moderation {
    fn from_ref(pages: &Pages) -> Moderation {
        pages.moderation.clone()
    }
}

impl FromRef<Pages> for Web {
    fn from_ref(pages: &Pages) -> Web {
        pages.web.clone()
    }
}

impl Pages {
    /// The pages of `instance`, with `web`'s accounts and layout and the shared `moderation`
    /// pages (whose resolver reads the handles people type); new events start in
    /// `default_zone` (an IANA name, refused when unknown).
    pub(crate) fn new(
        instance: Instance,
        web: Web,
        default_zone: &str,
        moderation: Moderation,
    ) -> anyhow::Result<Self> {
        if jiff::tz::TimeZone::get(default_zone).is_err() {
            anyhow::bail!(
                "{default_zone:?} is no time zone this server knows (an IANA name, such as Europe/Paris)"
            );
        }
        Ok(Self {
            instance,
            web,
            default_zone: default_zone.to_owned(),
            moderation,
        })
    }

    /// The actor `text` names (`@name@host` or an address), as every instance reads it.
    async fn resolve_handle(&self, text: &str) -> Result<String, String> {
        self.moderation.resolve_actor(text).await
    }

    fn page(&self, viewer: Option<&Viewer>, title: &str, body: Markup) -> Response {
        self.web.page(viewer, title, body)
    }

    fn render(&self, viewer: Option<&Viewer>, page: &Page) -> Response {
        html_response(StatusCode::OK, page.render(self.web.layout(), viewer))
    }

    /// A page saying why an action could not be done, with the status it deserves.
    fn refusal(&self, viewer: Option<&Viewer>, error: ClientError) -> Response {
        let (status, title, message) = match error {
            ClientError::Bad(m) => (StatusCode::BAD_REQUEST, "Not done", m),
            ClientError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            ClientError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            ClientError::Internal(e) => {
                warn!(error = %format!("{e:#}"), "a page's action failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server could not do this. Please try again later.".to_owned(),
                )
            }
        };
        self.web.page_with_status(
            status,
            viewer,
            title,
            views::message(title, &capitalized(&message), Some(("/", "Home"))),
        )
    }

    fn internal(&self, viewer: Option<&Viewer>, error: &anyhow::Error) -> Response {
        self.refusal(viewer, ClientError::Internal(anyhow::anyhow!("{error:#}")))
    }

    fn not_found(&self, viewer: Option<&Viewer>) -> Response {
        self.refusal(
            viewer,
            ClientError::NotFound("There is nothing here.".into()),
        )
    }

    /// The identity a signed-in person acts as: its name and id; `None` when the account has
    /// none left (see [`no_identity`]).
    fn identity(&self, viewer: &Viewer) -> Option<(String, String)> {
        viewer
            .identity_name()
            .map(|name| (name.to_owned(), self.instance.actor_id(name).to_string()))
    }

    /// Posts `activity` as `viewer`'s identity through the client-to-server code, then sends
    /// the browser to `back`; the refusal page when the instance refuses.
    async fn post_as(&self, viewer: &Viewer, activity: Value, back: &str) -> Response {
        let Some((name, _)) = self.identity(viewer) else {
            return no_identity();
        };
        match self.instance.client_post(&name, activity).await {
            Ok(_) => see_other(back),
            Err(error) => self.refusal(Some(viewer), error),
        }
    }

    /// What `viewer` (or nobody) may see.
    async fn scope(&self, viewer: Option<&Viewer>) -> anyhow::Result<Scope> {
        let reader = match viewer.and_then(Viewer::identity_name) {
            Some(name) => crate::web::Reader::Account(vec![name.to_owned()]),
            None => crate::web::Reader::Anonymous,
        };
        self.instance.scope(&reader).await
    }
}

/// The router of the pages (the accounts' included), to merge with the federation routes;
/// [`html_pages`] goes around the latter.
pub(crate) fn router(pages: Pages) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/events/new", get(new_event_page).post(create_event))
        .route("/events/{uuid}/edit", get(edit_event_page).post(edit_event))
        .route("/events/{uuid}/cancel", post(cancel_event))
        .route(
            "/events/{uuid}/manage",
            get(participants_page).post(decide_participant),
        )
        .route("/event", get(any_event_page))
        .route("/event/join", post(join_event))
        .route("/event/leave", post(leave_event))
        .route("/event/comment", post(comment))
        .route("/groups", get(groups_page))
        .route("/groups/new", get(new_group_page).post(create_group))
        .route("/groups/{name}/members", get(members_page))
        .route("/groups/{name}/requests", post(decide_request))
        .route("/groups/{name}/invite", post(invite))
        .route("/groups/{name}/openness", post(set_openness))
        .route("/group/join", post(join_group))
        .route("/group/leave", post(leave_group))
        .route("/group/invitation", post(answer_invitation))
        .route("/follow", get(follow_page).post(follow))
        .route(EVENTS_STYLESHEET_PATH, get(stylesheet))
        .merge(account_routes())
        .merge(Moderation::routes())
        .with_state(pages)
}

/// Around the federation routes: a browser's `GET` of an event (`/events/{uuid}`) or a group
/// (`/actors/{name}`) gets the page, with what the signed-in person can do there; every other
/// request (servers asking for the documents) goes on to the federation routes.
pub(crate) async fn html_pages(
    State(pages): State<Pages>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != http::Method::GET
        || Representation::negotiate(request.headers()) != Representation::Html
    {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (mut parts, body) = request.into_parts();
    let viewer = match MaybeViewer::from_request_parts(&mut parts, &pages).await {
        Ok(MaybeViewer(viewer)) => viewer,
        Err(rejection) => return rejection.into_response(),
    };
    let response = match segments.as_slice() {
        ["events", uuid] if !uuid.is_empty() => {
            let id = pages.instance.url(&format!("events/{uuid}"));
            Some(event_response(&pages, viewer.as_ref(), id.as_str()).await)
        }
        ["actors", name] if !name.is_empty() => group_response(&pages, viewer.as_ref(), name).await,
        _ => None,
    };
    match response {
        Some(response) => response,
        None => next.run(Request::from_parts(parts, body)).await,
    }
}

fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept, Cookie"));
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        EVENTS_STYLESHEET,
    )
        .into_response()
}

fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Where a person without an identity (all deleted) makes one.
fn no_identity() -> Response {
    Redirect::to("/account/identities").into_response()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The local page of an event: its own address for ours, `/event?id=` for another server's.
pub(crate) fn event_path(instance: &Instance, id: &str) -> String {
    if instance.is_local(id) {
        Url::parse(id).map_or_else(|_| "/".to_owned(), |url| url.path().to_owned())
    } else {
        let mut url = Url::parse("http://localhost/event").unwrap_or_else(|_| unreachable_url());
        url.query_pairs_mut().append_pair("id", id);
        format!("/event?{}", url.query().unwrap_or_default())
    }
}

fn unreachable_url() -> Url {
    // `http://localhost/` parses; this is never reached.
    Url::parse("http://localhost/").unwrap_or_else(|_| unreachable_url())
}

// ---------------------------------------------------------------------------------------------
// The home page.

async fn home(
    State(pages): State<Pages>,
    MaybeViewer(viewer): MaybeViewer,
    headers: http::HeaderMap,
) -> Response {
    let viewer = viewer.as_ref();
    // Without a session, a client of the API may read the page with its bearer token.
    let scope = match viewer {
        Some(_) => match pages.scope(viewer).await {
            Ok(scope) => scope,
            Err(e) => return pages.internal(viewer, &e),
        },
        None => match crate::web::page_scope(&pages.instance, &headers).await {
            Ok(scope) => scope,
            Err(response) => return response,
        },
    };
    let instance = &pages.instance;
    let rows = match instance
        .db()
        .upcoming_events(now() - 86_400, None, &scope, 200)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return pages.internal(viewer, &e),
    };
    let before = match viewer {
        Some(viewer) => match signed_in_home(&pages, viewer).await {
            Ok(markup) => Some(markup),
            Err(e) => return pages.internal(Some(viewer), &e),
        },
        None => None,
    };
    let page = crate::html::upcoming_page(
        &instance.0.settings.name,
        &instance.summaries(&rows),
        before,
    );
    pages.render(viewer, &page)
}

/// The top of the home page for a signed-in person: the events of those the identity follows,
/// and where to start.
async fn signed_in_home(pages: &Pages, viewer: &Viewer) -> anyhow::Result<Markup> {
    let Some(name) = viewer.identity_name() else {
        return Ok(html! {
            p.notice { "You have no identity yet: " a href="/account/identities" { "create one" } "." }
        });
    };
    let instance = &pages.instance;
    let scope = pages.scope(Some(viewer)).await?;
    let followed = instance.db().following(name, 0, 500).await?;
    let mut rows = Vec::new();
    for target in &followed {
        rows.extend(
            instance
                .db()
                .upcoming_events(now() - 86_400, Some(target), &scope, 50)
                .await?,
        );
    }
    rows.sort_by_key(|row| row.start_time);
    rows.dedup_by(|a, b| a.id == b.id);
    let summaries = instance.summaries(&rows);
    Ok(html! {
        section aria-labelledby="followed" {
            h2 #followed { "From those you follow" }
            @if followed.is_empty() {
                p { "You follow nobody yet. " a href="/follow" { "Follow a group or a person" } ", here or on another server." }
            } @else if summaries.is_empty() {
                p { "No upcoming events from those you follow." }
            } @else {
                ol.events {
                    @for e in &summaries {
                        li { a href=(e.page_url) { strong { (e.title) } } }
                    }
                }
            }
        }
        p.actions {
            a href="/events/new" { "Create an event" } " · " a href="/groups/new" { "Create a group" }
        }
        h2 { "Upcoming here" }
    })
}

// ---------------------------------------------------------------------------------------------
// Events.

/// The groups `me` may publish events for: `(id, display name)`.
async fn organized_groups(instance: &Instance, me: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut groups = Vec::new();
    for (group, role) in queries::memberships(instance, me).await? {
        if matches!(role.as_str(), "administrator" | "moderator") {
            let id = instance.actor_id(&group).to_string();
            let name = instance
                .db()
                .actor(&group)
                .await?
                .map_or_else(|| group.clone(), |a| a.display_name);
            groups.push((id, name));
        }
    }
    Ok(groups)
}

async fn new_event_page(State(pages): State<Pages>, viewer: Viewer) -> Response {
    let (_, me) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let groups = match organized_groups(&pages.instance, &me).await {
        Ok(groups) => groups,
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let form = EventForm::blank(&pages.default_zone);
    event_form_response(
        &pages,
        &viewer,
        &form,
        &FormErrors::default(),
        &groups,
        None,
    )
}

fn event_form_response(
    pages: &Pages,
    viewer: &Viewer,
    form: &EventForm,
    errors: &FormErrors,
    groups: &[(String, String)],
    editing: Option<&str>,
) -> Response {
    let zones = time_zones();
    let action = editing.map_or_else(|| "/events/new".to_owned(), |path| format!("{path}/edit"));
    let body = views::event_form(&EventFormView {
        form,
        errors,
        zones: &zones,
        groups,
        action: &action,
        editing: editing.is_some(),
        csrf: &viewer.csrf_token,
    });
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = if editing.is_some() {
        "Edit the event"
    } else {
        "New event"
    };
    pages
        .web
        .page_with_status(status, Some(viewer), title, body)
}

async fn create_event(
    State(pages): State<Pages>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<EventForm>,
) -> Response {
    let (name, me) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let groups = match organized_groups(&pages.instance, &me).await {
        Ok(groups) => groups,
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let group_ids: Vec<String> = groups.iter().map(|(id, _)| id.clone()).collect();
    let object = match form.to_object(Purpose::Create {
        me: &me,
        groups: &group_ids,
    }) {
        Ok(object) => object,
        Err(errors) => {
            return event_form_response(&pages, &viewer, &form, &errors, &groups, None);
        }
    };
    match pages
        .instance
        .client_post(&name, json!({"type": "Create", "object": object}))
        .await
    {
        Ok(activity) => {
            let id = activity
                .get("object")
                .and_then(|o| o.get("id"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            see_other(&event_path(&pages.instance, id))
        }
        Err(error) => pages.refusal(Some(&viewer), error),
    }
}

/// A local event by its uuid, if `viewer` may manage it.
async fn managed_event(pages: &Pages, viewer: &Viewer, uuid: &str) -> Result<ObjectRow, Response> {
    let (_, me) = pages.identity(viewer).ok_or_else(no_identity)?;
    let id = pages.instance.url(&format!("events/{uuid}"));
    let row = match pages.instance.event(id.as_str()).await {
        Ok(Some(row)) if row.local && !row.deleted => row,
        Ok(_) => return Err(pages.not_found(Some(viewer))),
        Err(e) => return Err(pages.internal(Some(viewer), &e)),
    };
    match pages.instance.may_manage(&row, &me).await {
        Ok(true) => Ok(row),
        Ok(false) => Err(pages.refusal(
            Some(viewer),
            ClientError::Forbidden("only the event's organizers may do this".into()),
        )),
        Err(e) => Err(pages.internal(Some(viewer), &e)),
    }
}

async fn edit_event_page(
    State(pages): State<Pages>,
    viewer: Viewer,
    Path(uuid): Path<String>,
) -> Response {
    let row = match managed_event(&pages, &viewer, &uuid).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let form = EventForm::of_event(&row.document);
    let path = event_path(&pages.instance, &row.id);
    event_form_response(
        &pages,
        &viewer,
        &form,
        &FormErrors::default(),
        &[],
        Some(&path),
    )
}

async fn edit_event(
    State(pages): State<Pages>,
    viewer: Viewer,
    Path(uuid): Path<String>,
    CsrfForm(form): CsrfForm<EventForm>,
) -> Response {
    let row = match managed_event(&pages, &viewer, &uuid).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let path = event_path(&pages.instance, &row.id);
    let mut object = match form.to_object(Purpose::Edit) {
        Ok(object) => object,
        Err(errors) => {
            return event_form_response(&pages, &viewer, &form, &errors, &[], Some(&path));
        }
    };
    if let Some(map) = object.as_object_mut() {
        map.insert("id".into(), json!(row.id));
    }
    pages
        .post_as(&viewer, json!({"type": "Update", "object": object}), &path)
        .await
}

/// A form that only carries its CSRF token.
#[derive(Debug, Deserialize)]
struct Empty {}

async fn cancel_event(
    State(pages): State<Pages>,
    viewer: Viewer,
    Path(uuid): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Response {
    let row = match managed_event(&pages, &viewer, &uuid).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let update = json!({
        "type": "Update",
        "object": {"id": row.id, "type": "Event", "ical:status": "CANCELLED"},
    });
    let back = event_path(&pages.instance, &row.id);
    pages.post_as(&viewer, update, &back).await
}

async fn participants_page(
    State(pages): State<Pages>,
    viewer: Viewer,
    Path(uuid): Path<String>,
) -> Response {
    let row = match managed_event(&pages, &viewer, &uuid).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let instance = &pages.instance;
    let mut lists = Vec::new();
    for state in ["pending", "accepted"] {
        let ids = match instance.db().participants(&row.id, state).await {
            Ok(ids) => ids,
            Err(e) => return pages.internal(Some(&viewer), &e),
        };
        let mut people = Vec::new();
        for id in ids {
            people.push(ParticipantView {
                actor: instance.actor_view(&id).await,
                id,
            });
        }
        lists.push(people);
    }
    let accepted = lists.pop().unwrap_or_default();
    let pending = lists.pop().unwrap_or_default();
    let title = row
        .document
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("the event")
        .to_owned();
    let path = event_path(instance, &row.id);
    let capacity = row
        .document
        .get("maximumAttendeeCapacity")
        .and_then(Value::as_u64);
    let body = views::participants(
        &title,
        &path,
        &format!("{path}/manage"),
        &pending,
        &accepted,
        capacity,
        &viewer.csrf_token,
    );
    pages.page(Some(&viewer), &format!("Participants of {title}"), body)
}

#[derive(Debug, Deserialize)]
struct Decision {
    actor: String,
    decision: String,
}

async fn decide_participant(
    State(pages): State<Pages>,
    viewer: Viewer,
    Path(uuid): Path<String>,
    CsrfForm(form): CsrfForm<Decision>,
) -> Response {
    let row = match managed_event(&pages, &viewer, &uuid).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let participation = match pages
        .instance
        .db()
        .participation(&row.id, &form.actor)
        .await
    {
        Ok(Some(p)) => p,
        Ok(None) => {
            return pages.refusal(
                Some(&viewer),
                ClientError::NotFound("this person did not ask to take part".into()),
            );
        }
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let kind = match form.decision.as_str() {
        "accept" => "Accept",
        "reject" => "Reject",
        _ => return pages.refusal(Some(&viewer), ClientError::Bad("no such decision".into())),
    };
    let answer = json!({"type": kind, "object": participation.join_id});
    let back = format!("{}/manage", event_path(&pages.instance, &row.id));
    pages.post_as(&viewer, answer, &back).await
}

#[derive(Debug, Deserialize)]
struct EventQuery {
    id: String,
}

async fn any_event_page(
    State(pages): State<Pages>,
    MaybeViewer(viewer): MaybeViewer,
    Query(query): Query<EventQuery>,
) -> Response {
    event_response(&pages, viewer.as_ref(), &query.id).await
}

/// The page of event `id` (ours or a copy of another server's) for `viewer`: what it may see,
/// and the forms it may use.
async fn event_response(pages: &Pages, viewer: Option<&Viewer>, id: &str) -> Response {
    let instance = &pages.instance;
    let scope = match pages.scope(viewer).await {
        Ok(scope) => scope,
        Err(e) => return pages.internal(viewer, &e),
    };
    let row = match instance.event(id).await {
        Ok(Some(row)) => row,
        Ok(None) => return pages.not_found(viewer),
        Err(e) => return pages.internal(viewer, &e),
    };
    match instance.db().is_visible(&row.id, &scope).await {
        Ok(true) => {}
        Ok(false) => return pages.not_found(viewer),
        Err(e) => return pages.internal(viewer, &e),
    }
    if row.deleted {
        return pages.web.page_with_status(
            StatusCode::GONE,
            viewer,
            "Event deleted",
            views::message(
                "Event deleted",
                "This event was deleted.",
                Some(("/", "Home")),
            ),
        );
    }
    let (actions, commenting) = match viewer {
        Some(viewer) => match event_actions(pages, viewer, &row).await {
            Ok(found) => found,
            Err(response) => return response,
        },
        None => (
            Some(html! {
                p.actions { a href={ "/login?next=" (percent(&event_path(instance, &row.id))) } { "Sign in to join or comment" } }
            }),
            None,
        ),
    };
    match instance.event_page(&row, &scope, actions, commenting).await {
        Some(page) => pages.render(viewer, &page),
        None => pages.not_found(viewer),
    }
}

/// What `viewer` may do on the page of `row`: join or leave, and for its organizers, edit,
/// cancel and decide on participants; the comment forms.
async fn event_actions(
    pages: &Pages,
    viewer: &Viewer,
    row: &ObjectRow,
) -> Result<(Option<Markup>, Option<Commenting>), Response> {
    let (_, me) = pages.identity(viewer).ok_or_else(no_identity)?;
    let instance = &pages.instance;
    let participation = instance
        .participation_state(&row.id, &me)
        .await
        .map_err(|e| pages.internal(Some(viewer), &e))?;
    let manages = row.local
        && instance
            .may_manage(row, &me)
            .await
            .map_err(|e| pages.internal(Some(viewer), &e))?;
    let cancelled = row.document.get("ical:status").and_then(Value::as_str) == Some("CANCELLED");
    let csrf = viewer.csrf_token.as_str();
    let path = event_path(instance, &row.id);
    let join_mode = row.document.get("joinMode").and_then(Value::as_str);
    let actions = html! {
        div.actions {
            @match participation.as_deref() {
                Some("accepted") => {
                    span.state { "You take part." }
                    (post_button("/event/leave", csrf, &[("event", &row.id)], "Leave the event"))
                },
                Some("pending") => {
                    span.state { "Your request to join is waiting for the organizer." }
                    (post_button("/event/leave", csrf, &[("event", &row.id)], "Withdraw the request"))
                },
                Some("rejected") => { span.state { "The organizer declined your request." } },
                _ if cancelled => {},
                _ if join_mode == Some("invite") => { span.state { "By invitation only." } },
                _ => {
                    (post_button("/event/join", csrf, &[("event", &row.id)],
                        if join_mode == Some("restricted") { "Ask to join" } else { "Join the event" }))
                },
            }
            @if manages {
                a href={ (path) "/edit" } { "Edit the event" }
                a href={ (path) "/manage" } { "Participants" }
                @if !cancelled {
                    (post_button(&format!("{path}/cancel"), csrf, &[], "Cancel the event"))
                }
            }
        }
    };
    let commenting = Commenting {
        action: "/event/comment".into(),
        event: row.id.clone(),
        csrf: csrf.to_owned(),
        hide_action: viewer.moderates().then(|| "/moderation/hide".to_owned()),
        report: !manages,
    };
    Ok((Some(actions), Some(commenting)))
}

/// A form made of one button that posts `fields`.
fn post_button(action: &str, csrf: &str, fields: &[(&str, &str)], label: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            (views::csrf_input(csrf))
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { (label) }
        }
    }
}

fn percent(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(Debug, Deserialize)]
struct EventField {
    event: String,
}

async fn join_event(
    State(pages): State<Pages>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<EventField>,
) -> Response {
    act_on_event(&pages, &viewer, "Join", &form.event).await
}

async fn leave_event(
    State(pages): State<Pages>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<EventField>,
) -> Response {
    act_on_event(&pages, &viewer, "Leave", &form.event).await
}

async fn act_on_event(pages: &Pages, viewer: &Viewer, kind: &str, event: &str) -> Response {
    let back = event_path(&pages.instance, event);
    pages
        .post_as(viewer, json!({"type": kind, "object": event}), &back)
        .await
}

#[derive(Debug, Deserialize)]
struct CommentForm {
    event: String,
    #[serde(default)]
    in_reply_to: Option<String>,
    content: String,
}

/// The longest comment, in characters.
const MAX_COMMENT: usize = 5_000;

async fn comment(
    State(pages): State<Pages>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<CommentForm>,
) -> Response {
    let content = form.content.trim();
    if content.is_empty() || content.chars().count() > MAX_COMMENT {
        return pages.refusal(
            Some(&viewer),
            ClientError::Bad(format!(
                "a comment has between 1 and {MAX_COMMENT} characters"
            )),
        );
    }
    let in_reply_to = form
        .in_reply_to
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or(&form.event);
    let note = json!({
        "type": "Note",
        "content": event_form::paragraphs(content),
        "inReplyTo": in_reply_to,
    });
    let back = format!("{}#comments", event_path(&pages.instance, &form.event));
    pages.post_as(&viewer, note, &back).await
}

// ---------------------------------------------------------------------------------------------
// Groups.

/// The page of local group `name` for a browser, with what `viewer` can do there; `None`
/// when `name` is no group here (the federation routes answer then).
async fn group_response(pages: &Pages, viewer: Option<&Viewer>, name: &str) -> Option<Response> {
    let instance = &pages.instance;
    let actions = match viewer {
        Some(viewer) => match pages.identity(viewer) {
            Some((_, me)) => {
                let role = match instance.db().member_role(name, &me).await {
                    Ok(role) => role,
                    Err(e) => return Some(pages.internal(Some(viewer), &e)),
                };
                let group = instance.actor_id(name).to_string();
                let csrf = viewer.csrf_token.as_str();
                Some(html! {
                    div.actions {
                        @match role.as_deref() {
                            Some("administrator" | "moderator") => {
                                span.state { "You are " (role.as_deref().unwrap_or_default()) " of this group." }
                                a href={ "/groups/" (name) "/members" } { "Members and requests" }
                            },
                            Some("member") => {
                                span.state { "You are a member." }
                                a href={ "/groups/" (name) "/members" } { "Members" }
                                (post_button("/group/leave", csrf, &[("group", &group)], "Leave the group"))
                            },
                            Some("not_approved") => { span.state { "Your request to join is waiting for approval." } },
                            Some("invited") => {
                                span.state { "You are invited." }
                                (post_button("/group/invitation", csrf, &[("group", &group), ("decision", "accept")], "Accept the invitation"))
                                (post_button("/group/invitation", csrf, &[("group", &group), ("decision", "reject")], "Decline the invitation"))
                            },
                            _ => { (post_button("/group/join", csrf, &[("group", &group)], "Join the group")) },
                        }
                    }
                })
            }
            None => None,
        },
        None => None,
    };
    let scope = match pages.scope(viewer).await {
        Ok(scope) => scope,
        Err(e) => return Some(pages.internal(viewer, &e)),
    };
    let page = match instance.group_page(name, &scope, actions).await {
        Ok(Some(page)) => page,
        Ok(None) => return None,
        Err(e) => return Some(pages.internal(viewer, &e)),
    };
    Some(pages.render(viewer, &page))
}

async fn groups_page(State(pages): State<Pages>, viewer: Viewer) -> Response {
    let (_, me) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let instance = &pages.instance;
    let memberships = match queries::memberships(instance, &me).await {
        Ok(m) => m,
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let mut groups = Vec::new();
    for (group, role) in memberships {
        let display = match instance.db().actor(&group).await {
            Ok(Some(actor)) => actor.display_name,
            Ok(None) => continue,
            Err(e) => return pages.internal(Some(&viewer), &e),
        };
        groups.push((group, display, role));
    }
    let body = html! {
        h1 { "Groups" }
        p { a href="/groups/new" { "Create a group" } }
        @if groups.is_empty() {
            p { "You are in no group here yet." }
        } @else {
            ul.people {
                @for (name, display, role) in &groups {
                    li {
                        a href={ "/actors/" (name) } { (display) }
                        " " span.role { "(" (role_text(role)) ")" }
                    }
                }
            }
        }
    };
    pages.page(Some(&viewer), "Groups", body)
}

fn role_text(role: &str) -> &str {
    match role {
        "not_approved" => "asked to join",
        "invited" => "invited",
        other => other,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GroupForm {
    name: String,
    display_name: String,
    summary: String,
    openness: String,
}

async fn new_group_page(State(pages): State<Pages>, viewer: Viewer) -> Response {
    let body = views::group_form(
        "",
        "",
        "",
        "moderated",
        &FormErrors::default(),
        &viewer.csrf_token,
    );
    pages.page(Some(&viewer), "New group", body)
}

async fn create_group(
    State(pages): State<Pages>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Response {
    let (_, me) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let name = form.name.trim().to_lowercase();
    let display_name = form.display_name.trim();
    let mut errors = FormErrors::default();
    if !instance_state::actors::valid_name(&name) || name == INSTANCE_ACTOR {
        errors.add(
            "name",
            "1 to 64 characters: letters a to z, digits, and _ - . only.",
        );
    }
    if display_name.is_empty() || display_name.chars().count() > 200 {
        errors.add(
            "display_name",
            "Give the group a name (at most 200 characters).",
        );
    }
    if !views::OPENNESS.iter().any(|(v, _)| *v == form.openness) {
        errors.add("openness", "Choose who can join.");
    }
    if errors.is_empty() {
        match pages
            .instance
            .create_group(
                &name,
                display_name,
                form.summary.trim(),
                &me,
                &form.openness,
            )
            .await
        {
            Ok(true) => return see_other(&format!("/groups/{name}/members")),
            Ok(false) => errors.add("name", "This name is taken."),
            Err(e) => return pages.internal(Some(&viewer), &e),
        }
    }
    let body = views::group_form(
        &form.name,
        &form.display_name,
        &form.summary,
        &form.openness,
        &errors,
        &viewer.csrf_token,
    );
    pages.web.page_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(&viewer),
        "New group",
        body,
    )
}

#[derive(Debug, Deserialize)]
struct Notice {
    #[serde(default)]
    notice: Option<String>,
}

async fn members_page(
    State(pages): State<Pages>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(notice): Query<Notice>,
) -> Response {
    let (_, me) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let instance = &pages.instance;
    let group = match instance
        .local_group(instance.actor_id(&name).as_str())
        .await
    {
        Ok(Some(_)) => match instance.db().actor(&name).await {
            Ok(Some(actor)) => actor,
            Ok(None) => return pages.not_found(Some(&viewer)),
            Err(e) => return pages.internal(Some(&viewer), &e),
        },
        Ok(None) => return pages.not_found(Some(&viewer)),
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let role = match instance.db().member_role(&name, &me).await {
        Ok(role) => role,
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let staff = matches!(role.as_deref(), Some("administrator" | "moderator"));
    if !staff && role.as_deref() != Some("member") {
        return pages.refusal(
            Some(&viewer),
            ClientError::Forbidden("the members of a group are shown to its members".into()),
        );
    }
    let roles = match queries::member_roles(instance, &name).await {
        Ok(roles) => roles,
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let mut members = Vec::new();
    for (id, role) in roles {
        members.push(MemberView {
            actor: instance.actor_view(&id).await,
            id,
            role,
        });
    }
    let openness = match instance.group_openness(&name).await {
        Ok(o) => o,
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let notice = notice.notice.as_deref().and_then(notice_text);
    let page = format!("/actors/{name}");
    let body = views::group_manage(&GroupManageView {
        name: &name,
        display_name: &group.display_name,
        page: &page,
        openness: &openness,
        members: &members,
        staff,
        notice,
        csrf: &viewer.csrf_token,
    });
    pages.page(
        Some(&viewer),
        &format!("Members of {}", group.display_name),
        body,
    )
}

/// The messages an action leaves for the page it goes back to (never text from the request).
fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "invited" => "The invitation was sent.",
        "decided" => "Done.",
        "openness" => "Saved.",
        "following" => {
            "Follow request sent. Their events will show on your home page once accepted."
        }
        _ => return None,
    })
}

async fn decide_request(
    State(pages): State<Pages>,
    viewer: Viewer,
    Path(name): Path<String>,
    CsrfForm(form): CsrfForm<Decision>,
) -> Response {
    let (identity, _) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let group = pages.instance.actor_id(&name).to_string();
    let participation = match pages.instance.db().participation(&group, &form.actor).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return pages.refusal(
                Some(&viewer),
                ClientError::NotFound("this person did not ask to join".into()),
            );
        }
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let kind = match form.decision.as_str() {
        "accept" => "Accept",
        "reject" => "Reject",
        _ => return pages.refusal(Some(&viewer), ClientError::Bad("no such decision".into())),
    };
    match pages
        .instance
        .client_post(
            &identity,
            json!({"type": kind, "object": participation.join_id}),
        )
        .await
    {
        Ok(_) => see_other(&format!("/groups/{name}/members?notice=decided")),
        Err(error) => pages.refusal(Some(&viewer), error),
    }
}

#[derive(Debug, Deserialize)]
struct HandleForm {
    handle: String,
}

async fn invite(
    State(pages): State<Pages>,
    viewer: Viewer,
    Path(name): Path<String>,
    CsrfForm(form): CsrfForm<HandleForm>,
) -> Response {
    let (identity, _) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let target = match pages.resolve_handle(&form.handle).await {
        Ok(target) => target,
        Err(message) => return pages.refusal(Some(&viewer), ClientError::Bad(message)),
    };
    let group = pages.instance.actor_id(&name).to_string();
    match pages
        .instance
        .client_post(
            &identity,
            json!({"type": "Invite", "object": group, "target": target}),
        )
        .await
    {
        Ok(_) => see_other(&format!("/groups/{name}/members?notice=invited")),
        Err(error) => pages.refusal(Some(&viewer), error),
    }
}

#[derive(Debug, Deserialize)]
struct OpennessForm {
    openness: String,
}

async fn set_openness(
    State(pages): State<Pages>,
    viewer: Viewer,
    Path(name): Path<String>,
    CsrfForm(form): CsrfForm<OpennessForm>,
) -> Response {
    let (_, me) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    match pages.instance.db().member_role(&name, &me).await {
        Ok(Some(role)) if role == "administrator" => {}
        Ok(_) => {
            return pages.refusal(
                Some(&viewer),
                ClientError::Forbidden("only a group's administrators change who can join".into()),
            );
        }
        Err(e) => return pages.internal(Some(&viewer), &e),
    }
    if !views::OPENNESS.iter().any(|(v, _)| *v == form.openness) {
        return pages.refusal(Some(&viewer), ClientError::Bad("no such choice".into()));
    }
    match crate::groups::set_openness(pages.instance.db(), &name, &form.openness).await {
        Ok(()) => see_other(&format!("/groups/{name}/members?notice=openness")),
        Err(e) => pages.internal(Some(&viewer), &e),
    }
}

#[derive(Debug, Deserialize)]
struct GroupField {
    group: String,
}

async fn join_group(
    State(pages): State<Pages>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<GroupField>,
) -> Response {
    group_activity(&pages, &viewer, "Join", &form.group).await
}

async fn leave_group(
    State(pages): State<Pages>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<GroupField>,
) -> Response {
    group_activity(&pages, &viewer, "Leave", &form.group).await
}

async fn group_activity(pages: &Pages, viewer: &Viewer, kind: &str, group: &str) -> Response {
    let back = group_path(&pages.instance, group);
    pages
        .post_as(viewer, json!({"type": kind, "object": group}), &back)
        .await
}

fn group_path(instance: &Instance, group: &str) -> String {
    match instance.local_actor_name(group) {
        Some(name) => format!("/actors/{name}"),
        None => "/groups".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
struct InvitationAnswer {
    group: String,
    decision: String,
}

async fn answer_invitation(
    State(pages): State<Pages>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<InvitationAnswer>,
) -> Response {
    let (name, me) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let invitation = match pages.instance.db().participation(&form.group, &me).await {
        Ok(Some(p)) if p.state == "invited" => p,
        Ok(_) => {
            return pages.refusal(
                Some(&viewer),
                ClientError::NotFound("no invitation to answer".into()),
            );
        }
        Err(e) => return pages.internal(Some(&viewer), &e),
    };
    let kind = if form.decision == "accept" {
        "Accept"
    } else {
        "Reject"
    };
    match pages
        .instance
        .client_post(&name, json!({"type": kind, "object": invitation.join_id}))
        .await
    {
        Ok(_) => see_other(&group_path(&pages.instance, &form.group)),
        Err(error) => pages.refusal(Some(&viewer), error),
    }
}

// ---------------------------------------------------------------------------------------------
// Following.

async fn follow_page(
    State(pages): State<Pages>,
    viewer: Viewer,
    Query(notice): Query<Notice>,
) -> Response {
    follow_response(
        &pages,
        &viewer,
        "",
        None,
        notice.notice.as_deref().and_then(notice_text),
    )
    .await
}

async fn follow_response(
    pages: &Pages,
    viewer: &Viewer,
    handle: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let (name, _) = match pages.identity(viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let instance = &pages.instance;
    let targets = match queries::following_with_states(instance, &name).await {
        Ok(targets) => targets,
        Err(e) => return pages.internal(Some(viewer), &e),
    };
    let mut following = Vec::new();
    for (target, state) in targets {
        following.push(FollowingView {
            actor: instance.actor_view(&target).await,
            state,
        });
    }
    let body = views::follow_page(handle, error, notice, &following, &viewer.csrf_token);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    pages
        .web
        .page_with_status(status, Some(viewer), "Follow", body)
}

async fn follow(
    State(pages): State<Pages>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<HandleForm>,
) -> Response {
    let (name, _) = match pages.identity(&viewer) {
        Some(identity) => identity,
        None => return no_identity(),
    };
    let target = match pages.resolve_handle(&form.handle).await {
        Ok(target) => target,
        Err(message) => {
            return follow_response(&pages, &viewer, &form.handle, Some(&message), None).await;
        }
    };
    match pages
        .instance
        .client_post(&name, json!({"type": "Follow", "object": target}))
        .await
    {
        Ok(_) => see_other("/follow?notice=following"),
        Err(ClientError::Internal(e)) => pages.internal(Some(&viewer), &e),
        Err(error) => {
            let message = capitalized(&error.to_string());
            follow_response(&pages, &viewer, &form.handle, Some(&message), None).await
        }
    }
}
