//! The pages people use, on `instance-web`'s sessions, CSRF tokens and layout.

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use federation::routes::Representation;
use http::{HeaderValue, StatusCode, header};
use instance_server::moderation::report_path;
use instance_state::objects::Scope;
use instance_web::{MaybeViewer, Viewer, csrf_field};
use maud::{Markup, PreEscaped, html};
use tracing::warn;

use crate::db::{Listing, VideoRow};
use crate::web::Site;
use instance_server::WithParts as _;

/// The pages' routes.
pub(crate) fn router() -> Router<Site> {
    Router::new().route("/", get(home))
}

/// What `viewer` may see: the public, and what is addressed to its current identity.
pub(crate) async fn scope_of(site: &Site, viewer: Option<&Viewer>) -> anyhow::Result<Scope> {
    match viewer.and_then(|v| v.identity.as_ref()) {
        Some(identity) => {
            let id = site.instance.actor_id(&identity.name);
            Ok(site.instance.state().scope_of(id.as_str()).await?)
        }
        None => Ok(Scope::anonymous()),
    }
}

/// A page, or a `500` that says nothing of the cause (which is logged).
fn page_or_error(page: anyhow::Result<Markup>) -> Response {
    match page {
        Ok(markup) => Html(markup.into_string()).into_response(),
        Err(error) => {
            warn!(%error, "a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
        }
    }
}

/// The catalogue: the newest videos the viewer may see, local and from the instances and
/// channels followed here.
async fn home(State(site): State<Site>, MaybeViewer(viewer): MaybeViewer) -> Response {
    page_or_error(
        async {
            let scope = scope_of(&site, viewer.as_ref()).await?;
            let videos = site
                .instance
                .db()
                .videos(&Listing::default(), &scope, 0, 48)
                .await?;
            let body = html! {
                h1 { (site.instance.name()) }
                nav aria-label="Videos" {
                    form method="get" action="/search" role="search" {
                        label for="search" { "Search videos" }
                        " "
                        input id="search" type="search" name="search";
                        " "
                        button type="submit" { "Search" }
                    }
                    @if viewer.is_some() {
                        p { a href="/videos/upload" { "Upload a video" } }
                    }
                }
                @if videos.is_empty() {
                    p { "No videos yet." }
                } @else {
                    ul.videos { @for video in &videos { li { (video_card(video)) } } }
                }
            };
            let head = html! {
                link rel="alternate" type="application/rss+xml" title="Videos (RSS)"
                    href="/feeds/videos.xml";
                link rel="alternate" type="application/atom+xml" title="Videos (Atom)"
                    href="/feeds/videos.atom";
            };
            Ok(site
                .web
                .layout()
                .page(viewer.as_ref(), site.instance.name(), head, body))
        }
        .await,
    )
}

/// A video in a list: its name (linking to its page) and duration.
pub(crate) fn video_card(video: &VideoRow) -> Markup {
    html! {
        a href=(format!("/videos/watch/{}", video.uuid)) { (video.name) }
        " "
        @if video.is_live {
            span.live { @match video.state { 1 => "Live", 5 => "Live ended", _ => "Live, not started" } }
        } @else {
            span.duration { (duration_text(video.duration)) }
        }
    }
}

/// `1:02:03` or `2:03`.
pub(crate) fn duration_text(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A page saying `message` (why something was refused), with `status`.
pub(crate) fn message_page(
    site: &Site,
    viewer: Option<&Viewer>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    let body = html! {
        h1 { (title) }
        p role="alert" { (message) }
        p { a href="/" { "Back to the videos" } }
    };
    let page = site.web.layout().page(viewer, title, html! {}, body);
    (status, Html(page.into_string())).into_response()
}

/// `GET /videos/upload`: the upload form, for someone signed in with a channel.
pub(crate) async fn upload_page(
    State(site): State<Site>,
    MaybeViewer(viewer): MaybeViewer,
) -> Response {
    let Some(viewer) = viewer else {
        return axum::response::Redirect::to("/login?next=/videos/upload").into_response();
    };
    page_or_error(
        async {
            // A person signed up in the browser gets a default channel, as PeerTube makes one
            // at registration.
            if let Some(identity) = &viewer.identity {
                site.instance.ensure_default_channel(&identity.name).await?;
            }
            let mut channels = Vec::new();
            for identity in &viewer.identities {
                channels.extend(site.instance.db().channels_of(&identity.name).await?);
            }
            let body = html! {
                h1 { "Upload a video" }
                @if channels.is_empty() {
                    p { "You have no channel to publish in yet." }
                } @else {
                    form method="post" action="/videos/upload" enctype="multipart/form-data" {
                        // The token comes first: the server checks it before it reads the file.
                        (csrf_field(&viewer))
                        p {
                            label for="channel" { "Channel" }
                            select id="channel" name="channel" {
                                @for channel in &channels { option value=(channel) { (channel) } }
                            }
                        }
                        p {
                            label for="name" { "Title" }
                            input id="name" name="name" required minlength="3" maxlength="120";
                        }
                        p {
                            label for="description" { "Description" }
                            textarea id="description" name="description" maxlength="10000" {}
                        }
                        p {
                            label for="tags" { "Tags (separated by commas, at most 5)" }
                            input id="tags" name="tags";
                        }
                        p {
                            input id="nsfw" type="checkbox" name="nsfw";
                            label for="nsfw" { "Sensitive content" }
                        }
                        p {
                            label for="commentsPolicy" { "Comments" }
                            select id="commentsPolicy" name="commentsPolicy" {
                                option value="1" { "Anyone may comment" }
                                option value="3" { "Comments wait for my approval" }
                                option value="2" { "No comments" }
                            }
                        }
                        p {
                            label for="videofile" { "Video file" }
                            input id="videofile" type="file" name="videofile" required
                                accept="video/mp4,video/webm,video/ogg,video/x-matroska";
                        }
                        p { button type="submit" { "Upload" } }
                    }
                }
            };
            Ok(site
                .web
                .layout()
                .page(Some(&viewer), "Upload a video", html! {}, body))
        }
        .await,
    )
}

/// Around the federation routes: a browser's `GET` of a video's address
/// (`/videos/watch/{uuid}`) gets its page; every other request (servers asking for the
/// documents) goes on to the federation routes.
pub(crate) async fn html_pages(State(site): State<Site>, request: Request, next: Next) -> Response {
    if request.method() != http::Method::GET
        || Representation::negotiate(request.headers()) != Representation::Html
    {
        return next.run(request).await;
    }
    let request = match crate::playlists::pages::html_page(&site, request).await {
        Ok(page) => return page,
        Err(request) => request,
    };
    let path = request.uri().path().to_owned();
    // A local channel's or account's address: its page (other actors, such as the instance's,
    // are served their document).
    if let Some(name) = path
        .strip_prefix("/actors/")
        .filter(|name| !name.is_empty() && !name.contains('/'))
        && crate::channels::has_page(&site, name).await
    {
        let (mut parts, _) = request.into_parts();
        let viewer = match MaybeViewer::from_request_parts(&mut parts, &site).await {
            Ok(MaybeViewer(viewer)) => viewer,
            Err(rejection) => return rejection.into_response(),
        };
        let mut response = crate::channels::actor_page(&site, viewer.as_ref(), name, None).await;
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::VARY, HeaderValue::from_static("Accept, Cookie"));
        return response;
    }
    let Some(uuid) = path
        .strip_prefix("/videos/watch/")
        .filter(|uuid| !uuid.is_empty() && !uuid.contains('/'))
    else {
        return next.run(request).await;
    };
    let (mut parts, _) = request.into_parts();
    let viewer = match MaybeViewer::from_request_parts(&mut parts, &site).await {
        Ok(MaybeViewer(viewer)) => viewer,
        Err(rejection) => return rejection.into_response(),
    };
    // The local video with that uuid, or the remote one listed here.
    let video = match site.instance.db().video_by_uuid(uuid).await {
        Ok(video) => video,
        Err(error) => return page_or_error(Err(error)),
    };
    // Who watches, for counting one view per viewer: the identity, else the address.
    let watcher = match viewer.as_ref().and_then(|v| v.identity.as_ref()) {
        Some(identity) => Some(site.instance.actor_id(&identity.name).to_string()),
        None => site.web.client_address(&parts).map(|a| a.to_string()),
    };
    let mut response = watch_page(&site, viewer.as_ref(), video.as_ref()).await;
    if response.status() == StatusCode::OK
        && let (Some(watcher), Some(video)) = (watcher, &video)
        && let Err(error) = site.instance.count_view(video, &watcher).await
    {
        warn!(%error, "counting a view");
    }
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept, Cookie"));
    if let Ok(policy) = HeaderValue::from_str(&watch_policy(&site)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// The watch page's content security policy: instance-web's, with videos played from here
/// and from other servers over https (and http, on loopback tests with the danger switch).
pub(crate) fn watch_policy(site: &Site) -> String {
    let remote = if site.instance.0.danger_allow_private_addresses {
        "https: http:"
    } else {
        "https:"
    };
    format!(
        "{}; media-src 'self' {remote}",
        instance_web::CONTENT_SECURITY_POLICY
    )
}

/// The files a page plays: `(address, media type)`, those kept here first (the HLS stream and
/// its rendition before the original), then the origin's
/// for a remote video (read from its stored document).
pub(crate) fn playable_files(
    files: &[crate::db::FileRow],
    document: &serde_json::Value,
    local: bool,
) -> Vec<(String, String)> {
    // HLS first (played natively where it is, as in Safari), then its H.264 rendition, which
    // every browser plays, then the original.
    let rank = |role: &str| match role {
        "hls" | "mirror-hls" => Some(0),
        "hls-file" | "mirror-file" => Some(1),
        "original" | "rendition" | "mirror" => Some(2),
        _ => None,
    };
    let mut kept: Vec<&crate::db::FileRow> =
        files.iter().filter(|f| rank(&f.role).is_some()).collect();
    kept.sort_by_key(|f| rank(&f.role));
    let mut out: Vec<(String, String)> = kept
        .into_iter()
        .map(|f| (format!("/static/{}", f.key), f.media_type.clone()))
        .collect();
    if local
        && let Ok(activitypub_core::AnyObject::Video(video)) =
            activitypub_core::AnyObject::from_value(document.clone())
        && let Ok(summary) = activitypub_core::ext::peertube::VideoSummary::read(&video)
    {
        // The copies other servers announced: their HLS streams, then their renditions (the
        // rendition's name in the copy's directory), after this server's own files.
        let renditions: Vec<&str> = files
            .iter()
            .filter(|f| f.role == "hls-file")
            .filter_map(|f| f.key.rsplit('/').next())
            .collect();
        for mirror in summary.hls.iter().flat_map(|h| &h.mirrors) {
            out.push((mirror.to_string(), "application/x-mpegURL".into()));
        }
        for mirror in summary.hls.iter().flat_map(|h| &h.mirrors) {
            if let Some((dir, _)) = mirror.as_str().rsplit_once('/') {
                for name in &renditions {
                    out.push((format!("{dir}/{name}"), "video/mp4".into()));
                }
            }
        }
    }
    if !local
        && let Ok(activitypub_core::AnyObject::Video(video)) =
            activitypub_core::AnyObject::from_value(document.clone())
        && let Ok(summary) = activitypub_core::ext::peertube::VideoSummary::read(&video)
    {
        // The origin's HLS stream and its renditions too, in the same order.
        let hls = summary.hls.iter();
        out.extend(
            hls.clone()
                .map(|h| (h.href.to_string(), "application/x-mpegURL".into())),
        );
        out.extend(
            hls.flat_map(|h| &h.files)
                .chain(&summary.files)
                .map(|f| (f.href.to_string(), f.media_type.clone())),
        );
    }
    out
}

/// The watch page of `video` (none: not listed here), as `viewer` may see it.
async fn watch_page(site: &Site, viewer: Option<&Viewer>, video: Option<&VideoRow>) -> Response {
    let outcome = async {
        let Some(video) = video else {
            return Ok(None);
        };
        let id = video.id.as_str();
        let scope = scope_of(site, viewer).await?;
        let Some(stored) = site.instance.state().visible_object(id, &scope).await? else {
            return Ok(None);
        };
        if stored.deleted {
            return Ok(None);
        }
        let files = site.instance.db().files(id).await?;
        let playable = playable_files(&files, &stored.document, video.local);
        let owner = viewer.is_some_and(|v| {
            v.identities
                .iter()
                .any(|i| site.instance.actor_id(&i.name).as_str() == video.account)
        });
        let comments = site.instance.comments(&video.id, &scope, owner).await?;
        let poster = files
            .iter()
            .any(|f| f.role == "thumbnail")
            .then(|| site.instance.thumbnail(&files).url);
        let processing = if video.local {
            Some(crate::processing::status(&site.instance, &video.id, &video.uuid, owner).await)
        } else {
            None
        };
        // Where else the video is served: the copies other servers announced of a local
        // video, or this server's own copy of a remote one.
        let copies = if video.local {
            site.instance.known_copies(&video.id).await?
        } else {
            Vec::new()
        };
        let mirrored_here = !video.local && files.iter().any(|f| f.role == "mirror-hls");
        let content = stored
            .document
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_owned();
        let save = crate::playlists::pages::save_form(site, viewer, video).await?;
        let body = html! {
            h1 { (video.name) }
            @if playable.is_empty() {
                p { "This video is kept on its own server: "
                    a href=(video.id) { "watch it there" } "." }
            } @else {
                video #player controls preload="metadata" width="100%" poster=[poster] {
                    @for (src, media_type) in &playable {
                        source src=(src) type=(media_type);
                    }
                    "Your browser cannot play this video: "
                    @if let Some((src, _)) = playable.first() {
                        a href=(src) { "download it" }
                    }
                }
                @if !video.local {
                    p.origin { "From " a href=(video.id) { (host_of(&video.id)) } "." }
                }
                @if mirrored_here {
                    p.mirrored { "A copy is kept and served by this server." }
                }
                @if !copies.is_empty() {
                    p.mirrors {
                        "Also served by other servers (the player tries them after this one): "
                        @for (i, copy) in copies.iter().enumerate() {
                            @if i > 0 { ", " }
                            a.mirror href=(copy.href) data-media-type=(copy.media_type) {
                                (host_of(&copy.href))
                            }
                        }
                        "."
                    }
                }
            }
            p.byline {
                "In " a href=(actor_link(site, &video.channel)) { (host_name(&video.channel)) }
                " by " a href=(actor_link(site, &video.account)) { (host_name(&video.account)) }
            }
            @if let Some(live) = live_state(video) { p.live role="status" { (live) } }
            @if let Some(processing) = processing { (processing) }
            p.meta {
                span.duration { (duration_text(video.duration)) }
                " · " span.views { (video.views) " views" }
                @if viewer.is_some() {
                    " · " a href=(report_path(&video.id)) { "Report this video" }
                }
            }
            (save)
            @if !content.is_empty() {
                // The description is shown as text: Markdown is not rendered as HTML here.
                div.description { @for line in content.lines() { (line) br; } }
            }
            section.comments aria-labelledby="comments-title" {
                h2 #comments-title { (comments.len()) " comment" @if comments.len() != 1 { "s" } }
                @for comment in &comments {
                    article.comment id=(comment_anchor(&comment.id)) {
                        p.author {
                            a href=(comment.author) { (host_name(&comment.author)) }
                            @if comment.in_reply_to != video.id {
                                " in reply to "
                                a href=(format!("#{}", comment_anchor(&comment.in_reply_to))) { "a comment" }
                            }
                            @if !comment.approved { " (waiting for approval)" }
                        }
                        div.content { (PreEscaped(comment.content.clone())) }
                        @if let (false, true, Some(viewer)) = (comment.approved, owner && video.local, viewer) {
                            @for (decision, label) in [("approve", "Approve"), ("reject", "Reject")] {
                                form.inline method="post" action="/videos/comment/decide" {
                                    (csrf_field(viewer))
                                    input type="hidden" name="comment" value=(comment.id);
                                    input type="hidden" name="video" value=(video.uuid);
                                    input type="hidden" name="decision" value=(decision);
                                    button type="submit" { (label) " this comment" }
                                }
                            }
                        }
                        @if viewer.is_some() {
                            p.actions { a href=(report_path(&comment.id)) { "Report this comment" } }
                        }
                    }
                }
                @if video.comments_policy == 2 {
                    p { "Comments are off for this video." }
                } @else if let Some(viewer) = viewer {
                    form method="post" action="/videos/comment" {
                        (csrf_field(viewer))
                        input type="hidden" name="parent" value=(video.id);
                        p {
                            label for="comment" { "Your comment" }
                            textarea id="comment" name="text" required maxlength="10000" {}
                        }
                        p { button type="submit" { "Comment" } }
                    }
                } @else {
                    p { a href="/login" { "Sign in" } " to comment." }
                }
            }
        };
        let head = html! {
            link rel="alternate" type="application/activity+json" href=(video.id);
            (crate::embed::oembed_link(site, video))
            link rel="alternate" type="application/rss+xml" title="Comments (RSS)"
                href=(format!("/feeds/video-comments.xml?videoId={}", video.uuid));
        };
        Ok(Some(site.web.layout().page(
            viewer,
            &video.name,
            head,
            body,
        )))
    }
    .await;
    match outcome {
        Ok(Some(page)) => Html(page.into_string()).into_response(),
        Ok(None) => message_page(
            site,
            viewer,
            StatusCode::NOT_FOUND,
            "No such video",
            "There is no video here at this address, or it is not shown to you.",
        ),
        Err(error) => page_or_error(Err(error)),
    }
}

/// Where a byline links an actor: its page here when it is local, its address elsewhere.
pub(crate) fn actor_link(site: &Site, id: &str) -> String {
    match site.instance.state().local_name(id) {
        Some(name) => format!("/actors/{name}"),
        None => id.to_owned(),
    }
}

/// What a live video's page says of its state (PeerTube's `isLiveBroadcast` and `state`);
/// `None` for a video that is no live.
pub(crate) fn live_state(video: &VideoRow) -> Option<&'static str> {
    if !video.is_live {
        return None;
    }
    Some(match video.state {
        // Published: the stream is on.
        1 => "Live now: this video is being streamed from its server.",
        4 => "A live video that has not started yet: its stream will play here once it begins.",
        5 => "This live video has ended.",
        _ => "A live video, not playable at the moment.",
    })
}

/// The host (and port) of `url`, to name a server.
pub(crate) fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| {
                u.port()
                    .map_or_else(|| h.to_owned(), |p| format!("{h}:{p}"))
            })
        })
        .unwrap_or_default()
}

/// What the search page is asked.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct SearchForm {
    #[serde(default)]
    search: String,
}

/// `GET /search?search=...`: the videos whose title, description or tags match, as the
/// search index ranks them (public videos only).
pub(crate) async fn search_page(
    State(site): State<Site>,
    MaybeViewer(viewer): MaybeViewer,
    axum::extract::Query(form): axum::extract::Query<SearchForm>,
) -> Response {
    page_or_error(
        async {
            let text = form.search.trim().to_owned();
            let results = if text.is_empty() {
                None
            } else {
                Some(
                    site.instance
                        .search_videos(video_search::VideoQuery::new(text.clone()))
                        .await?,
                )
            };
            let body = html! {
                h1 { "Search" }
                form method="get" action="/search" role="search" {
                    label for="search" { "Search videos" }
                    " "
                    input id="search" type="search" name="search" value=(text);
                    " "
                    button type="submit" { "Search" }
                }
                @if let Some(results) = &results {
                    p { (results.total) " result" @if results.total != 1 { "s" } }
                    ul.videos {
                        @for hit in &results.hits {
                            li {
                                a href=(format!("/videos/watch/{}", hit.document.uuid)) {
                                    (hit.document.name)
                                }
                                " "
                                span.duration {
                                    (duration_text(i64::try_from(hit.document.duration).unwrap_or(0)))
                                }
                                " " span.host { (hit.document.host) }
                            }
                        }
                    }
                }
            };
            Ok(site
                .web
                .layout()
                .page(viewer.as_ref(), "Search", html! {}, body))
        }
        .await,
    )
}

/// The page anchor of comment `id`.
pub(crate) fn comment_anchor(id: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    let hex: String = digest
        .as_ref()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("comment-{hex}")
}

/// `name@host` of an actor id, for a byline (`/actors/alice` on `a.example` is
/// `alice@a.example`).
pub(crate) fn host_name(id: &str) -> String {
    let name = id.rsplit('/').next().unwrap_or_default();
    format!("{name}@{}", host_of(id))
}

/// The comment form.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CommentForm {
    parent: String,
    text: String,
}

/// `POST /videos/comment`: the signed-in identity comments; back to the video's page.
pub(crate) async fn comment(
    State(site): State<Site>,
    viewer: Viewer,
    instance_web::CsrfForm(form): instance_web::CsrfForm<CommentForm>,
) -> Response {
    let Some(identity) = viewer.identity.as_ref() else {
        return message_page(
            &site,
            Some(&viewer),
            StatusCode::FORBIDDEN,
            "Comment refused",
            "Your account has no identity to comment as.",
        );
    };
    match site
        .instance
        .comment(&identity.name, &form.parent, &form.text)
        .await
    {
        Ok(_) => {
            let uuid = match site.instance.db().video(&form.parent).await {
                Ok(Some(video)) => video.uuid,
                _ => String::new(),
            };
            axum::response::Redirect::to(&format!("/videos/watch/{uuid}#comments-title"))
                .into_response()
        }
        Err(error) => message_page(
            &site,
            Some(&viewer),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Comment refused",
            &error.to_string(),
        ),
    }
}

/// The owner's decision on a held comment.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct DecisionForm {
    comment: String,
    video: String,
    decision: String,
}

/// `POST /videos/comment/decide`: the video's owner approves or rejects a held comment; back
/// to the video's page.
pub(crate) async fn decide_comment(
    State(site): State<Site>,
    viewer: Viewer,
    instance_web::CsrfForm(form): instance_web::CsrfForm<DecisionForm>,
) -> Response {
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return message_page(
                &site,
                Some(&viewer),
                StatusCode::UNPROCESSABLE_ENTITY,
                "Decision refused",
                "Approve or reject.",
            );
        }
    };
    for identity in &viewer.identities {
        match site
            .instance
            .decide_comment(&form.comment, &identity.name, approve)
            .await
        {
            Ok(true) => {
                return axum::response::Redirect::to(&format!(
                    "/videos/watch/{}#comments-title",
                    form.video
                ))
                .into_response();
            }
            Ok(false) => {}
            Err(error) => return page_or_error(Err(error)),
        }
    }
    message_page(
        &site,
        Some(&viewer),
        StatusCode::FORBIDDEN,
        "Decision refused",
        "Only the video's owner decides on its held comments, once.",
    )
}
