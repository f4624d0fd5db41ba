//! The moderators' mirrors page, as PeerTube's administration has its "Redundancy" pages:
//! `GET /moderation/mirrors` lists the remote videos this instance mirrors (video, origin,
//! state, why it failed, size, the CacheFile's expiry) with forms to mirror one again, to stop
//! one and to mirror a remote video by its address, and the copies other servers announced of
//! this instance's videos (server, video, copy, expiry, live, lapsed, withdrawn, hidden or
//! blocked) with forms to hide one copy, show it again, or refuse all of a server's copies (a
//! block of its domain, through the moderation page's own form). Every form carries the CSRF
//! token; everything is refused (`403`) to those who do not moderate. The actions are the
//! ones the `admin mirror-video`, `stop-mirror` and `mirrors` commands run.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use instance_web::{CsrfForm, Rejection, RejectionKind, Viewer, csrf_field};
use maud::html;
use serde::Deserialize;

use crate::pages::host_of;
use crate::web::Site;
use instance_server::WithParts as _;

/// Where the page is.
pub(crate) const MIRRORS_PATH: &str = "/moderation/mirrors";

/// The most received copies listed.
const MAX_COPIES_SHOWN: i64 = 500;

/// The page's routes.
pub(crate) fn router() -> axum::Router<Site> {
    axum::Router::new()
        .route(MIRRORS_PATH, get(mirrors_page))
        .route("/moderation/mirrors/mirror", post(mirror))
        .route("/moderation/mirrors/stop", post(stop))
        .route("/moderation/mirrors/hide-copy", post(hide_copy))
        .route("/moderation/mirrors/show-copy", post(show_copy))
}

#[derive(Debug, Deserialize)]
struct Notice {
    #[serde(default)]
    notice: Option<String>,
}

fn notice_text(notice: &str) -> Option<&'static str> {
    Some(match notice {
        "mirroring" => "The video will be mirrored: a serving process copies it shortly.",
        "stopped" => "The mirror is stopped: its files are removed and its origin is told.",
        "hidden" => "The copy is hidden: it is no longer listed with the video.",
        "shown" => "The copy is listed with the video again.",
        _ => return None,
    })
}

/// Unix seconds as an RFC 3339 UTC time.
fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Bytes in words a person reads.
fn size_text(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"TiB"))
}

fn internal(site: &Site, error: &anyhow::Error) -> Rejection {
    site.web.internal("the mirrors page", error)
}

async fn mirrors_page(
    State(site): State<Site>,
    viewer: Viewer,
    Query(notice): Query<Notice>,
) -> Result<Response, Rejection> {
    site.web.require_moderator(&viewer)?;
    let instance = &site.instance;
    let now = instance.state().options().clock.now() / 1_000_000;
    let mut mirrors = Vec::new();
    for mirror in instance.mirrors().await.map_err(|e| internal(&site, &e))? {
        let name = instance
            .db()
            .video(&mirror.video)
            .await
            .map_err(|e| internal(&site, &e))?
            .map(|v| v.name);
        mirrors.push((mirror, name));
    }
    let mut copies = Vec::new();
    for copy in instance
        .received_copies(MAX_COPIES_SHOWN)
        .await
        .map_err(|e| internal(&site, &e))?
    {
        let video = instance
            .db()
            .video(&copy.video)
            .await
            .map_err(|e| internal(&site, &e))?;
        copies.push((copy, video));
    }
    let csrf = csrf_field(&viewer);
    let body = html! {
        h1 { "Mirrors (redundancy)" }
        p { a href="/moderation" { "Back to moderation" } }
        @if let Some(text) = notice.notice.as_deref().and_then(notice_text) {
            p.notice role="status" { (text) }
        }
        section aria-labelledby="mirrored-here" {
            h2 #mirrored-here { "Remote videos duplicated by this instance" }
            form method="post" action="/moderation/mirrors/mirror" {
                (csrf)
                label for="mirror-video" { "Mirror a remote video (its address or uuid)" }
                " "
                input #mirror-video type="text" name="video" required maxlength="2000";
                " "
                button type="submit" { "Mirror it" }
            }
            @if mirrors.is_empty() {
                p { "No video is mirrored here." }
            } @else {
                table.mirrors {
                    thead { tr {
                        th { "Video" } th { "Origin" } th { "State" } th { "Size" }
                        th { "CacheFile expires" } th { "Actions" }
                    } }
                    tbody {
                        @for (mirror, name) in &mirrors {
                            tr.mirror data-video=(mirror.video) {
                                td { a href=(mirror.video) { (name.as_deref().unwrap_or(&mirror.video)) } }
                                td.origin { (host_of(&mirror.video)) }
                                td {
                                    span.state { (mirror.state) }
                                    @if let Some(error) = &mirror.error {
                                        p.error { (error) }
                                    }
                                }
                                td.size { (size_text(mirror.size)) }
                                td.expires {
                                    @match mirror.expires {
                                        Some(at) => { time datetime=(when(at)) { (when(at)) } }
                                        None => { "—" }
                                    }
                                    @if let Some(cache_file) = &mirror.cache_file {
                                        br; a.cache-file href=(cache_file) { "CacheFile" }
                                    }
                                }
                                td {
                                    @if matches!(mirror.state.as_str(), "failed" | "stopped") {
                                        form.inline method="post" action="/moderation/mirrors/mirror" {
                                            (csrf)
                                            input type="hidden" name="video" value=(mirror.video);
                                            button type="submit" { "Mirror again" }
                                        }
                                    }
                                    @if mirror.state != "stopped" {
                                        form.inline method="post" action="/moderation/mirrors/stop" {
                                            (csrf)
                                            input type="hidden" name="video" value=(mirror.video);
                                            button type="submit" { "Stop mirroring" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="copies-elsewhere" {
            h2 #copies-elsewhere { "My videos duplicated by remote instances" }
            @if copies.is_empty() {
                p { "No other server announced a copy of a video of this instance." }
            } @else {
                table.copies {
                    thead { tr {
                        th { "Server" } th { "Video" } th { "Copy" } th { "Expires" }
                        th { "State" } th { "Actions" }
                    } }
                    tbody {
                        @for (copy, video) in &copies {
                            @let server = host_of(&copy.actor);
                            @let lapsed = copy.expires.is_some_and(|e| e <= now);
                            tr.copy data-copy=(copy.id) {
                                td.server { (server) }
                                td {
                                    @match video {
                                        Some(video) => { a href=(format!("/videos/watch/{}", video.uuid)) { (video.name) } }
                                        None => { (copy.video) }
                                    }
                                }
                                td { a href=(copy.href) { (copy.href) } }
                                td.expires {
                                    @match copy.expires {
                                        Some(at) => { time datetime=(when(at)) { (when(at)) } }
                                        None => { "until withdrawn" }
                                    }
                                }
                                td.state {
                                    @if copy.blocked { "server blocked" }
                                    @else if copy.withdrawn.is_some() { "withdrawn" }
                                    @else if copy.hidden.is_some() { "hidden" }
                                    @else if lapsed { "lapsed" }
                                    @else { "live" }
                                }
                                td {
                                    @if copy.hidden.is_some() {
                                        form.inline method="post" action="/moderation/mirrors/show-copy" {
                                            (csrf)
                                            input type="hidden" name="copy" value=(copy.id);
                                            button type="submit" { "Show this copy again" }
                                        }
                                    } @else if copy.withdrawn.is_none() {
                                        form.inline method="post" action="/moderation/mirrors/hide-copy" {
                                            (csrf)
                                            input type="hidden" name="copy" value=(copy.id);
                                            button type="submit" { "Hide this copy" }
                                        }
                                    }
                                    @if !copy.blocked {
                                        // The moderation page's block: every copy of the server,
                                        // and everything else it sends, refused.
                                        form.inline method="post" action="/moderation/block" {
                                            (csrf)
                                            input type="hidden" name="target" value=(server);
                                            button type="submit" { "Refuse " (server) "'s copies (block it)" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(site
        .web
        .page(Some(&viewer), "Mirrors (redundancy)", body)
        .into_response())
}

#[derive(Debug, Deserialize)]
struct VideoForm {
    video: String,
}

#[derive(Debug, Deserialize)]
struct CopyForm {
    copy: String,
}

fn bad(site: &Site, viewer: &Viewer, message: &str) -> Rejection {
    site.web
        .refuse(RejectionKind::BadForm, Some(viewer), message)
}

/// Logs what a moderator did.
async fn log(site: &Site, viewer: &Viewer, action: &str, target: &str) -> Result<(), Rejection> {
    site.instance
        .state()
        .log_moderation(&viewer.account.id, action, target, None, "")
        .await
        .map(|_| ())
        .map_err(|e| site.web.internal("logging a moderation", &e))
}

async fn mirror(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<VideoForm>,
) -> Result<Response, Rejection> {
    site.web.require_moderator(&viewer)?;
    let video = form.video.trim();
    if video.is_empty() || video.len() > 2000 {
        return Err(bad(
            &site,
            &viewer,
            "Give a remote video's address or uuid.",
        ));
    }
    // Its refusals say what is wrong (not listed here, a video of this instance, a live).
    let id = site
        .instance
        .mirror_video(video)
        .await
        .map_err(|e| bad(&site, &viewer, &format!("{e:#}")))?;
    log(&site, &viewer, "mirror", &id).await?;
    Ok(Redirect::to(&format!("{MIRRORS_PATH}?notice=mirroring")).into_response())
}

async fn stop(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<VideoForm>,
) -> Result<Response, Rejection> {
    site.web.require_moderator(&viewer)?;
    let stopped = site
        .instance
        .stop_mirror(form.video.trim())
        .await
        .map_err(|e| bad(&site, &viewer, &format!("{e:#}")))?;
    if !stopped {
        return Err(bad(&site, &viewer, "This video is not mirrored here."));
    }
    log(&site, &viewer, "stop-mirror", form.video.trim()).await?;
    Ok(Redirect::to(&format!("{MIRRORS_PATH}?notice=stopped")).into_response())
}

async fn set_hidden(
    site: Site,
    viewer: Viewer,
    form: CopyForm,
    hide: bool,
) -> Result<Response, Rejection> {
    site.web.require_moderator(&viewer)?;
    let changed = site
        .instance
        .set_copy_hidden(&form.copy, hide)
        .await
        .map_err(|e| internal(&site, &e))?;
    if !changed {
        let message = if hide {
            "There is no such copy shown here."
        } else {
            "This copy is not hidden."
        };
        return Err(bad(&site, &viewer, message));
    }
    let (action, notice) = if hide {
        ("hide-copy", "hidden")
    } else {
        ("show-copy", "shown")
    };
    log(&site, &viewer, action, &form.copy).await?;
    Ok(Redirect::to(&format!("{MIRRORS_PATH}?notice={notice}")).into_response())
}

async fn hide_copy(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<CopyForm>,
) -> Result<Response, Rejection> {
    set_hidden(site, viewer, form, true).await
}

async fn show_copy(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<CopyForm>,
) -> Result<Response, Rejection> {
    set_hidden(site, viewer, form, false).await
}
