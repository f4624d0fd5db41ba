//! Reports and the moderators' pages, the same on every instance.
//!
//! - `GET /report?object=…` (or `?actor=…`): a signed-in person reports something they can
//!   see, or an actor, with a reason and optionally one of PeerTube's categories. `POST
//!   /report` files it for this instance's moderators and, when what is reported lives on
//!   another server, sends that server a `Flag` from the instance actor (as Mastodon and
//!   PeerTube do: the reporter's name is not sent), unless the reporter unticks it.
//! - `GET /moderation`: the reports (open ones first), the blocks and the moderation log.
//! - `POST /moderation/hide` and `/moderation/unhide`: content hidden from everyone (kept
//!   stored, logged); `/moderation/block` and `/moderation/unblock`: an actor or a whole domain
//!   (its deliveries and fetches refused by the inbox, its followers left out of deliveries); a
//!   local actor is not blocked but its account suspended; `/moderation/close`: a report closed
//!   without action.
//!
//! An instance adds [`Moderation::routes`] to its router; its state gives both
//! [`Moderation`] and [`Web`] (`FromRef`). Links to the report form: [`report_path`].

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use federation::outbox::Outbox;
use instance_state::InstanceState;
use instance_state::accounts::AccountState;
use instance_state::blocks::BlockTarget;
use instance_state::moderation::{NewReport, Report, ReportState};
use instance_state::objects::Scope;
use instance_web::forms::{Errors, Field};
use instance_web::{CsrfForm, Rejection, RejectionKind, Viewer, Web, csrf_field};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::{ErasedQueue, INSTANCE_ACTOR, Parts};

/// The largest reason accepted with a report, in characters.
pub const MAX_REASON_CHARS: usize = 3000;

/// PeerTube's predefined report categories (activitypub-core's
/// [`ABUSE_REASONS`](activitypub_core::ext::peertube::ABUSE_REASONS)), sent as the `Flag`'s
/// `tag` (`{"type": "Hashtag", "name": …}`), with the words the form shows.
pub const CATEGORIES: &[(&str, &str)] = activitypub_core::ext::peertube::ABUSE_REASONS;

/// The moderation pages' state: the instance's web side, its social state and its outbox.
#[derive(Clone, Debug)]
pub struct Moderation {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    web: Web,
    state: InstanceState,
    outbox: Outbox<ErasedQueue>,
    webfinger: webfinger::client::Client,
    base_url: Url,
    shown_or_hidden: Option<VisibilityHook>,
    /// The instance's own moderation pages (path, label), linked from `/moderation`.
    pages: Vec<(String, String)>,
}

/// Called with an object's id after a moderator hid it or showed it again.
pub type VisibilityHook =
    Arc<dyn Fn(String) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moderation")
            .field("base_url", &self.base_url.as_str())
            .field("shown_or_hidden", &self.shown_or_hidden.is_some())
            .finish_non_exhaustive()
    }
}

/// The path of the report form for `object` (a stored object's id) or an actor's id.
pub fn report_path(object_or_actor: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("object", object_or_actor)
        .finish();
    format!("/report?{query}")
}

impl Moderation {
    /// The moderation pages of the instance `parts` make, drawn by `web`.
    pub fn new(parts: &Parts, web: Web) -> anyhow::Result<Self> {
        let danger = parts.danger_allow_private_addresses();
        let webfinger = webfinger::client::Client::from_config(
            webfinger::fetch::HttpConfig::default()
                .with_danger_allow_http(danger)
                .with_danger_allow_private_addresses(danger),
        )?
        .with_total_timeout(std::time::Duration::from_secs(10));
        Ok(Self {
            inner: Arc::new(Inner {
                web,
                state: parts.state.clone(),
                outbox: parts.outbox.clone(),
                webfinger,
                base_url: parts.base_url.clone(),
                shown_or_hidden: None,
                pages: Vec::new(),
            }),
        })
    }

    /// Calls `hook` with an object's id after a moderator hid it or showed it again (what an
    /// instance derives from its objects, a search index say, follows).
    pub fn with_visibility_hook<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: VisibilityHook = Arc::new(move |id| Box::pin(hook(id)));
        Arc::make_mut(&mut self.inner).shown_or_hidden = Some(hook);
        self
    }

    /// Links a moderation page of the instance's own (at `path`, named `label`) from
    /// `/moderation`. The page checks who may see it itself.
    pub fn with_page(mut self, path: impl Into<String>, label: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner)
            .pages
            .push((path.into(), label.into()));
        self
    }

    async fn visibility_changed(&self, id: &str) {
        if let Some(hook) = &self.inner.shown_or_hidden {
            hook(id.to_owned()).await;
        }
    }

    /// The routes: `/report`, `/moderation` and the moderators' actions.
    pub fn routes<S>() -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
        Moderation: FromRef<S>,
        Web: FromRef<S>,
    {
        Router::new()
            .route("/report", get(report_page).post(file_report))
            .route("/moderation", get(moderation_page))
            .route("/moderation/hide", post(hide))
            .route("/moderation/unhide", post(unhide))
            .route("/moderation/block", post(block))
            .route("/moderation/unblock", post(unblock))
            .route("/moderation/close", post(close_report))
    }

    fn web(&self) -> &Web {
        &self.inner.web
    }

    fn state(&self) -> &InstanceState {
        &self.inner.state
    }

    /// Files a report by `reporter` (a local actor's id) of `subject` and, when `forward` and
    /// the reported actor is on another server, sends that server a `Flag` from the instance
    /// actor. The report filed here.
    pub async fn report(
        &self,
        reporter: &str,
        subject: &Subject,
        reason: &str,
        category: Option<&str>,
        forward: bool,
    ) -> anyhow::Result<Report> {
        let objects: Vec<String> = subject.object.iter().cloned().collect();
        let content = match category.and_then(category_label) {
            Some(label) if reason.is_empty() => label.to_owned(),
            Some(label) => format!("{label}: {reason}"),
            None => reason.to_owned(),
        };
        let report = self
            .state()
            .file_report(
                NewReport::new(reporter, &subject.actor)
                    .with_objects(objects.clone())
                    .with_content(content),
            )
            .await?;
        if forward && !self.state().is_local(&subject.actor) {
            let id = self
                .inner
                .base_url
                .join(&format!("reports/{}", report.id))?;
            let mut flag = json!({
                "@context": activitypub_core::context::ACTIVITYSTREAMS,
                "id": id.as_str(),
                "type": "Flag",
                "actor": self.state().actor_id(INSTANCE_ACTOR).as_str(),
                // Mastodon reads the account first, then the statuses; PeerTube the object.
                "object": std::iter::once(subject.actor.clone()).chain(objects).collect::<Vec<_>>(),
                "content": reason,
                "to": [subject.actor],
            });
            if let Some(category) = category.filter(|c| category_label(c).is_some())
                && let Some(fields) = flag.as_object_mut()
            {
                fields.insert(
                    "tag".to_owned(),
                    json!([{ "type": "Hashtag", "name": category }]),
                );
            }
            self.state()
                .publish(&self.inner.outbox, INSTANCE_ACTOR, flag, None)
                .await?;
        }
        Ok(report)
    }

    /// What `address` names for a reader in `scope`: a stored object it may see (and its
    /// author), or an actor known here. `None`: nothing this reader may report.
    pub async fn subject(&self, address: &str, scope: &Scope) -> anyhow::Result<Option<Subject>> {
        let state = self.state();
        if let Some(object) = state.visible_object(address, scope).await? {
            let Some(author) = object.attributed_to.clone() else {
                return Ok(None);
            };
            return Ok(Some(Subject {
                actor: author,
                object: Some(object.id),
                excerpt: excerpt(&object.document),
            }));
        }
        if let Some(name) = state.local_name(address) {
            return Ok(state
                .actor(&name)
                .await?
                .filter(|actor| !actor.deleted)
                .map(|_| Subject::actor(address)));
        }
        if state.remote_actor(address).await?.is_some() || state.knows_actor(address).await? {
            return Ok(Some(Subject::actor(address)));
        }
        Ok(None)
    }

    /// The host of the base URL, with its port if it has one (as handles write it).
    fn authority(&self) -> String {
        let url = &self.inner.base_url;
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// An actor as a page shows it: its name and handle when known here, else its address.
    async fn actor_label(&self, id: &str) -> String {
        self.actor_names(id).await.1
    }

    /// An actor's short name (for a button) and its label (name and handle, or its address).
    async fn actor_names(&self, id: &str) -> (String, String) {
        let state = self.state();
        if let Some(name) = state.local_name(id) {
            if let Ok(Some(actor)) = state.actor(&name).await {
                let host = self.authority();
                let shown = if actor.display_name.is_empty() {
                    actor.name.clone()
                } else {
                    actor.display_name.clone()
                };
                let label = format!("{shown} (@{}@{host})", actor.name);
                return (shown, label);
            }
        } else if let Ok(Some(actor)) = state.remote_actor(id).await {
            return match actor.handle {
                Some(handle) if !actor.name.is_empty() => {
                    let label = format!("{} ({handle})", actor.name);
                    (actor.name, label)
                }
                Some(handle) => (handle.clone(), handle),
                None if !actor.name.is_empty() => {
                    let label = format!("{} ({id})", actor.name);
                    (actor.name, label)
                }
                None => (id.to_owned(), id.to_owned()),
            };
        }
        (id.to_owned(), id.to_owned())
    }

    /// The actor `text` names: `@name@host` (found with WebFinger; this server's own actors
    /// directly), or an actor's `https:` address. The error is for people. The follow and block
    /// forms of every instance read actors with it.
    pub async fn resolve_actor(&self, text: &str) -> Result<String, String> {
        let text = text.trim();
        if text.starts_with("https://") || text.starts_with("http://") {
            return Url::parse(text)
                .map(|url| url.to_string())
                .map_err(|_| "This address is not a valid URL.".to_owned());
        }
        let handle = text.strip_prefix('@').unwrap_or(text);
        let acct = webfinger::AcctUri::from_handle(handle)
            .map_err(|e| format!("Write the address as @name@server ({e})."))?;
        if acct
            .host()
            .to_string()
            .eq_ignore_ascii_case(&self.authority())
        {
            return match self.state().actor(acct.user()).await {
                Ok(Some(_)) => Ok(self.state().actor_id(acct.user()).to_string()),
                Ok(None) => Err(format!("There is nobody called {} here.", acct.user())),
                Err(e) => {
                    tracing::warn!(error = %e, "looking up a local actor failed");
                    Err("The server could not look this up. Please try again later.".to_owned())
                }
            };
        }
        match self
            .inner
            .webfinger
            .resolve(&webfinger::Resource::Acct(acct.clone()))
            .await
        {
            Ok(resolved) => Ok(resolved.actor_id.to_string()),
            Err(e) => Err(format!("@{} could not be found: {e}.", acct.handle())),
        }
    }

    /// What a moderator typed in the block form: an actor (`@name@host` or its address) or a
    /// domain.
    async fn block_target(&self, text: &str) -> Result<BlockTarget, String> {
        let text = text.trim();
        if text.starts_with("http://")
            || text.starts_with("https://")
            || text.trim_start_matches('@').contains('@')
        {
            return self.resolve_actor(text).await.map(BlockTarget::Actor);
        }
        let domain = text.trim_end_matches('.').to_lowercase();
        let valid = !domain.is_empty()
            && domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if valid {
            Ok(BlockTarget::domain(&domain))
        } else {
            Err(
                "Give an actor (@name@server or its address) or a domain (spam.example)."
                    .to_owned(),
            )
        }
    }
}

/// What a report is about: an actor, and the object of theirs reported, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subject {
    /// The reported actor (an object's author).
    pub actor: String,
    /// The reported object, if an object is reported.
    pub object: Option<String>,
    /// The start of the object's text (its name, else its content), for the form.
    pub excerpt: Option<String>,
}

impl Subject {
    /// An actor reported for themselves.
    pub fn actor(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            object: None,
            excerpt: None,
        }
    }
}

fn category_label(name: &str) -> Option<&'static str> {
    activitypub_core::ext::peertube::abuse_reason_label(name)
}

/// The start of a document's text: its `name`, else its `content` as plain text, cut at 300
/// characters.
fn excerpt(document: &Value) -> Option<String> {
    let text = match document.get("name").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => name.trim().to_owned(),
        _ => federation::sanitize::plain_text(document.get("content")?.as_str()?),
    };
    Some(match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text,
    })
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Marks `report` (if the action came from one) resolved by `moderator`, with `note`.
async fn resolve_report(
    web: &Web,
    state: &InstanceState,
    report: Option<&str>,
    moderator: &str,
    note: &str,
) -> Result<(), Rejection> {
    if let Some(report) = report.filter(|r| !r.is_empty()) {
        state
            .decide_report(report, ReportState::Resolved, moderator, note)
            .await
            .map_err(|e| web.internal("resolving a report", &e))?;
    }
    Ok(())
}

fn bad(web: &Web, viewer: &Viewer, message: &str) -> Rejection {
    web.refuse(RejectionKind::BadForm, Some(viewer), message)
}

/// What the viewer may see: the public, and what is addressed to its current identity.
async fn scope_of(moderation: &Moderation, viewer: &Viewer) -> Result<Scope, Rejection> {
    match viewer.identity_name() {
        Some(name) => {
            let id = moderation.state().actor_id(name);
            moderation
                .state()
                .scope_of(id.as_str())
                .await
                .map_err(|e| moderation.web().internal("reading a reader's scope", &e))
        }
        None => Ok(Scope::anonymous()),
    }
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

async fn report_page(
    State(moderation): State<Moderation>,
    viewer: Viewer,
    Query(query): Query<ReportQuery>,
) -> Result<Response, Rejection> {
    let web = moderation.web();
    if query.done.is_some() {
        let body = html! {
            h1 { "Report sent" }
            p role="status" { "Thank you. The moderators will look at your report." }
            p { a href="/" { "Home" } }
        };
        return Ok(web.page(Some(&viewer), "Report sent", body));
    }
    let address = query.object.or(query.actor).unwrap_or_default();
    let scope = scope_of(&moderation, &viewer).await?;
    let subject = moderation
        .subject(&address, &scope)
        .await
        .map_err(|e| web.internal("finding what is reported", &e))?
        .ok_or_else(|| {
            bad(
                web,
                &viewer,
                "There is nothing here to report by this address.",
            )
        })?;
    let body = report_form(&moderation, &viewer, &address, &subject, &Errors::default()).await;
    Ok(web.page(Some(&viewer), "Report", body))
}

async fn report_form(
    moderation: &Moderation,
    viewer: &Viewer,
    address: &str,
    subject: &Subject,
    errors: &Errors,
) -> Markup {
    let author = moderation.actor_label(&subject.actor).await;
    let remote_host = (!moderation.state().is_local(&subject.actor))
        .then(|| {
            Url::parse(&subject.actor)
                .ok()?
                .host_str()
                .map(str::to_owned)
        })
        .flatten();
    html! {
        h1 { "Report" }
        (errors.summary())
        @match &subject.object {
            Some(_) => {
                p { "You report this, by " (author) ":" }
                @if let Some(excerpt) = &subject.excerpt { blockquote { (excerpt) } }
            }
            None => p { "You report " (author) "." },
        }
        form method="post" action="/report" novalidate {
            (csrf_field(viewer))
            input type="hidden" name="object" value=(address);
            label for="category" { "What is wrong" }
            select id="category" name="category" {
                option value="" { "Something else" }
                @for (name, label) in CATEGORIES {
                    option value=(name) { (label) }
                }
            }
            label for="reason" { "Tell the moderators more" }
            @if let Some(message) = errors.get("reason") {
                p.error id="reason-error" { (message) }
            }
            textarea id="reason" name="reason" maxlength=(MAX_REASON_CHARS) rows="5" {}
            @if let Some(host) = &remote_host {
                label {
                    input type="checkbox" name="forward" value="yes" checked;
                    " Also send this report to the moderators of " (host)
                    " (without your name)"
                }
            }
            button type="submit" { "Send the report" }
        }
    }
}

#[derive(Debug, Deserialize)]
struct ReportForm {
    object: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    forward: Option<String>,
}

async fn file_report(
    State(moderation): State<Moderation>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ReportForm>,
) -> Result<Response, Rejection> {
    let web = moderation.web();
    let Some(identity) = viewer.identity_name() else {
        return Err(bad(
            web,
            &viewer,
            "Your account has no identity to report with.",
        ));
    };
    let reporter = moderation.state().actor_id(identity).to_string();
    let scope = scope_of(&moderation, &viewer).await?;
    let subject = moderation
        .subject(&form.object, &scope)
        .await
        .map_err(|e| web.internal("finding what is reported", &e))?
        .ok_or_else(|| {
            bad(
                web,
                &viewer,
                "There is nothing here to report by this address.",
            )
        })?;
    let reason = form.reason.trim();
    let category = Some(form.category.as_str()).filter(|c| !c.is_empty());
    let mut errors = Errors::default();
    if category.is_some_and(|c| category_label(c).is_none()) {
        errors.add("category", "Choose one of the listed categories.");
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        errors.add(
            "reason",
            format!("Say it in at most {MAX_REASON_CHARS} characters."),
        );
    }
    if reason.is_empty() && category.is_none() {
        errors.add(
            "reason",
            "Say what is wrong: choose a category or write a few words.",
        );
    }
    if !errors.is_empty() {
        let body = report_form(&moderation, &viewer, &form.object, &subject, &errors).await;
        return Ok(web.page_with_status(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            Some(&viewer),
            "Report",
            body,
        ));
    }
    moderation
        .report(
            &reporter,
            &subject,
            reason,
            category,
            form.forward.is_some(),
        )
        .await
        .map_err(|e| web.internal("filing a report", &e))?;
    Ok(see_other("/report?done=1"))
}

#[derive(Debug, Deserialize)]
struct Notice {
    #[serde(default)]
    notice: Option<String>,
}

fn notice_text(notice: &str) -> Option<&'static str> {
    Some(match notice {
        "hidden" => "The content is hidden.",
        "shown" => "The content is shown again.",
        "blocked" => "Blocked.",
        "suspended" => "The account is suspended.",
        "unblocked" => "Unblocked.",
        "closed" => "The report is closed.",
        _ => return None,
    })
}

/// One report as the moderators' page shows it.
struct ReportView {
    report: Report,
    reporter: String,
    reported: String,
    /// The reported actor's short name, for the buttons.
    reported_name: String,
    reported_is_local: bool,
    /// Each reported object: its id, its text if stored here, whether it is hidden.
    objects: Vec<(String, Option<String>, bool)>,
}

async fn moderation_page(
    State(moderation): State<Moderation>,
    viewer: Viewer,
    Query(notice): Query<Notice>,
) -> Result<Response, Rejection> {
    let web = moderation.web();
    web.require_moderator(&viewer)?;
    let state = moderation.state();
    let failed = |e: instance_state::Error| web.internal("reading the moderation page", &e);
    let mut reports = Vec::new();
    for wanted in [
        ReportState::Open,
        ReportState::Resolved,
        ReportState::Dismissed,
    ] {
        reports.extend(state.reports(wanted, 100).await.map_err(failed)?);
    }
    let mut views = Vec::new();
    for report in reports {
        let mut objects = Vec::new();
        // A Flag names the reported actor among its objects (Mastodon's do): not content.
        for object in report.objects.iter().filter(|o| **o != report.target) {
            let stored = state.object(object).await.map_err(failed)?;
            let text = stored.as_ref().and_then(|o| excerpt(&o.document));
            let hidden = stored.as_ref().is_some_and(|o| o.hidden);
            objects.push((object.clone(), text, hidden));
        }
        let reported = moderation.actor_names(&report.target).await;
        views.push(ReportView {
            reporter: moderation.actor_label(&report.reporter).await,
            reported: reported.1,
            reported_name: reported.0,
            reported_is_local: state.is_local(&report.target),
            objects,
            report,
        });
    }
    let blocks: Vec<String> = state
        .blocks(None)
        .await
        .map_err(failed)?
        .iter()
        .map(|b| target_text(&b.target))
        .collect();
    let mut log = Vec::new();
    for entry in state.moderation_log(0, 50).await.map_err(failed)? {
        let who = match state.account(&entry.moderator).await.map_err(failed)? {
            Some(account) => account.username,
            None => entry.moderator.clone(),
        };
        log.push((entry, who));
    }
    let open = views
        .iter()
        .filter(|v| v.report.state == ReportState::Open)
        .count();
    let csrf = csrf_field(&viewer);
    let none = Errors::default();
    let body = html! {
        h1 { "Moderation" }
        @if let Some(text) = notice.notice.as_deref().and_then(notice_text) {
            p.notice role="status" { (text) }
        }
        @if !moderation.inner.pages.is_empty() {
            nav.moderation-pages aria-label="More moderation" {
                ul {
                    @for (path, label) in &moderation.inner.pages {
                        li { a href=(path) { (label) } }
                    }
                }
            }
        }
        section aria-labelledby="reports" {
            h2 #reports { "Reports (" (open) ")" }
            @if views.is_empty() {
                p { "No reports." }
            } @else {
                ul.reports {
                    @for view in &views {
                        li {
                            p {
                                (view.reporter) " reported, "
                                (rfc3339(view.report.created)) " ("
                                span.state { (view.report.state.as_str()) } ")"
                            }
                            @if !view.report.content.is_empty() {
                                blockquote { (view.report.content) }
                            }
                            p {
                                "Reported: " (view.reported) " "
                                form.inline method="post" action="/moderation/block" {
                                    (csrf)
                                    input type="hidden" name="target" value=(view.report.target);
                                    input type="hidden" name="report" value=(view.report.id);
                                    button type="submit" {
                                        @if view.reported_is_local { "Suspend " } @else { "Block " }
                                        (view.reported_name)
                                    }
                                }
                            }
                            @for (object, text, hidden) in &view.objects {
                                div.reported {
                                    @match text {
                                        Some(text) => blockquote { (text) },
                                        None => p.meta { (object) " (not stored here)" },
                                    }
                                    @if *hidden {
                                        p.state { "Hidden." }
                                        form.inline method="post" action="/moderation/unhide" {
                                            (csrf)
                                            input type="hidden" name="object" value=(object);
                                            button type="submit" { "Show it again" }
                                        }
                                    } @else if text.is_some() {
                                        form.inline method="post" action="/moderation/hide" {
                                            (csrf)
                                            input type="hidden" name="object" value=(object);
                                            input type="hidden" name="report" value=(view.report.id);
                                            button type="submit" { "Hide this content" }
                                        }
                                    }
                                }
                            }
                            @if view.report.state == ReportState::Open {
                                form.inline method="post" action="/moderation/close" {
                                    (csrf)
                                    input type="hidden" name="report" value=(view.report.id);
                                    button type="submit" { "Close without action" }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="block" {
            h2 #block { "Block" }
            form method="post" action="/moderation/block" novalidate {
                (csrf)
                (Field::text("target", "An actor (@name@server or its address) or a domain", "")
                    .hint("A domain (spam.example) blocks everyone on it: their deliveries and fetches are refused.")
                    .required()
                    .max_length(300)
                    .render(&none))
                button type="submit" { "Block" }
            }
            @if !blocks.is_empty() {
                h3 { "Blocked" }
                ul {
                    @for b in &blocks {
                        li {
                            (b) " "
                            form.inline method="post" action="/moderation/unblock" {
                                (csrf)
                                input type="hidden" name="target" value=(b);
                                button type="submit" { "Unblock " (b) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="log" {
            h2 #log { "Moderation log" }
            @if log.is_empty() {
                p { "Nothing done yet." }
            } @else {
                table {
                    thead { tr { th { "When" } th { "Who" } th { "Did" } th { "To" } } }
                    tbody {
                        @for (entry, who) in &log {
                            tr {
                                td { (rfc3339(entry.at)) }
                                td { (who) }
                                td { (entry.action) }
                                td { (entry.target) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(web.page(Some(&viewer), "Moderation", body))
}

/// Unix microseconds as an RFC 3339 UTC time, to the second.
fn rfc3339(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A block's target as the moderation page shows it (and its unblock form sends back).
fn target_text(target: &BlockTarget) -> String {
    match target {
        BlockTarget::Actor(id) => id.clone(),
        BlockTarget::Domain(domain) => domain.clone(),
        _ => String::new(),
    }
}

#[derive(Debug, Deserialize)]
struct ObjectForm {
    object: String,
    #[serde(default)]
    report: Option<String>,
}

async fn hide(
    State(moderation): State<Moderation>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ObjectForm>,
) -> Result<Response, Rejection> {
    let web = moderation.web();
    web.require_moderator(&viewer)?;
    let state = moderation.state();
    let moderator = viewer.account.id.clone();
    let hidden = state
        .hide_object(&form.object, &moderator)
        .await
        .map_err(|e| web.internal("hiding content", &e))?;
    if !hidden {
        return Err(bad(web, &viewer, "There is no such content shown here."));
    }
    moderation.visibility_changed(&form.object).await;
    resolve_report(
        web,
        state,
        form.report.as_deref(),
        &moderator,
        "content hidden",
    )
    .await?;
    Ok(see_other("/moderation?notice=hidden"))
}

async fn unhide(
    State(moderation): State<Moderation>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ObjectForm>,
) -> Result<Response, Rejection> {
    let web = moderation.web();
    web.require_moderator(&viewer)?;
    let shown = moderation
        .state()
        .unhide_object(&form.object, &viewer.account.id)
        .await
        .map_err(|e| web.internal("showing content again", &e))?;
    if !shown {
        return Err(bad(web, &viewer, "This content is not hidden."));
    }
    moderation.visibility_changed(&form.object).await;
    Ok(see_other("/moderation?notice=shown"))
}

#[derive(Debug, Deserialize)]
struct BlockForm {
    target: String,
    #[serde(default)]
    report: Option<String>,
}

async fn block(
    State(moderation): State<Moderation>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<BlockForm>,
) -> Result<Response, Rejection> {
    let web = moderation.web();
    web.require_moderator(&viewer)?;
    let state = moderation.state();
    let failed = |e: instance_state::Error| web.internal("blocking", &e);
    // A reported object: its author is blocked.
    let mut text = form.target.clone();
    if let Some(author) = state
        .object(&form.target)
        .await
        .map_err(failed)?
        .and_then(|object| object.attributed_to)
    {
        text = author;
    }
    let target = moderation
        .block_target(&text)
        .await
        .map_err(|message| bad(web, &viewer, &message))?;
    let moderator = viewer.account.id.clone();
    let report = form.report.as_deref().filter(|r| !r.is_empty());
    // Someone of this server is not blocked but suspended: the account signs in no more.
    if let BlockTarget::Actor(actor) = &target
        && let Some(name) = state.local_name(actor)
    {
        let account = state
            .actor(&name)
            .await
            .map_err(failed)?
            .and_then(|a| a.account)
            .filter(|account| *account != viewer.account.id)
            .ok_or_else(|| {
                bad(
                    web,
                    &viewer,
                    "This actor has no account that can be suspended.",
                )
            })?;
        state
            .set_account_state(&account, AccountState::Suspended)
            .await
            .map_err(failed)?;
        state
            .log_moderation(&moderator, "suspend", actor, report, "")
            .await
            .map_err(failed)?;
        if let Some(report) = report {
            state
                .decide_report(
                    report,
                    ReportState::Resolved,
                    &moderator,
                    "account suspended",
                )
                .await
                .map_err(failed)?;
        }
        return Ok(see_other("/moderation?notice=suspended"));
    }
    state
        .block(None, &target, "blocked by a moderator")
        .await
        .map_err(failed)?;
    state
        .log_moderation(&moderator, "block", &target_text(&target), report, "")
        .await
        .map_err(failed)?;
    resolve_report(web, state, report, &moderator, "blocked").await?;
    Ok(see_other("/moderation?notice=blocked"))
}

async fn unblock(
    State(moderation): State<Moderation>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<BlockForm>,
) -> Result<Response, Rejection> {
    let web = moderation.web();
    web.require_moderator(&viewer)?;
    let target = moderation
        .block_target(&form.target)
        .await
        .map_err(|message| bad(web, &viewer, &message))?;
    let state = moderation.state();
    let failed = |e: instance_state::Error| web.internal("unblocking", &e);
    state.unblock(None, &target).await.map_err(failed)?;
    state
        .log_moderation(
            &viewer.account.id,
            "unblock",
            &target_text(&target),
            None,
            "",
        )
        .await
        .map_err(failed)?;
    Ok(see_other("/moderation?notice=unblocked"))
}

#[derive(Debug, Deserialize)]
struct ReportField {
    report: String,
}

async fn close_report(
    State(moderation): State<Moderation>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ReportField>,
) -> Result<Response, Rejection> {
    let web = moderation.web();
    web.require_moderator(&viewer)?;
    let closed = moderation
        .state()
        .decide_report(&form.report, ReportState::Dismissed, &viewer.account.id, "")
        .await
        .map_err(|e| web.internal("closing a report", &e))?;
    if !closed {
        return Err(bad(web, &viewer, "There is no such report."));
    }
    Ok(see_other("/moderation?notice=closed"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn report_paths_carry_the_address_encoded() {
        assert_eq!(
            report_path("https://a.example/videos/watch/1?x=1&y=2"),
            "/report?object=https%3A%2F%2Fa.example%2Fvideos%2Fwatch%2F1%3Fx%3D1%26y%3D2"
        );
    }

    #[test]
    fn excerpts_prefer_the_name_and_cut_long_texts() {
        assert_eq!(
            excerpt(&json!({"name": " A video ", "content": "<p>text</p>"})).as_deref(),
            Some("A video")
        );
        assert_eq!(
            excerpt(&json!({"content": "<p>Buy <b>pills</b></p>"})).as_deref(),
            Some("Buy pills")
        );
        let long = "é".repeat(400);
        let cut = excerpt(&json!({ "content": long })).unwrap();
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt(&json!({})), None);
    }

    #[test]
    fn every_category_has_words() {
        for (name, label) in CATEGORIES {
            assert_eq!(category_label(name), Some(*label));
        }
        assert_eq!(category_label("other"), None);
    }
}
