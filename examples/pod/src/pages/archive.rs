//! Export and import from the pages: `/profile/archive` has a button that downloads the
//! person's archive (a POST with its CSRF token, answered with the `.tar.gz`, as FEP-9091's
//! export endpoint answers a POST) and an upload form that imports one (a multipart post whose
//! first field is the token; the file is streamed to the media store's staging within the
//! archive limit, checked whole, then imported or refused with the reason).

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use instance_web::{CsrfForm, Viewer, csrf_field};
use maud::html;
use media_store::{Key, Limits, ServeOptions};
use serde::Deserialize;

use super::{back, message, page_or_error, sentence};
use crate::archive::{ArchiveError, ImportLimits};
use crate::web::Site;

/// `GET /profile/archive`.
pub(crate) async fn page(State(site): State<Site>, viewer: Viewer) -> Response {
    if viewer.identity_name().is_none() {
        return back("/");
    }
    let limit = ImportLimits::default().max_archive_bytes >> 20;
    site.web.page(
        Some(&viewer),
        "Export and import",
        html! {
            h1 { "Export and import" }
            h2 { "Export" }
            p { "Your archive holds your profile and images, your aspects and who is in them, the people you follow, your followers, your posts (with their Markdown), your comments and likes. It is a .tar.gz file; docs/pod.md describes it." }
            form method="post" action="/profile/archive/export" {
                (csrf_field(&viewer))
                label for="move-to" { "The account you move to (optional: @name@host or its address)" }
                input type="text" id="move-to" name="move_to" placeholder="@you@new.example";
                p { "Naming it puts in the archive a move to that account signed with this account's key, so that the new account can tell your followers you moved even once this pod is gone. It is good for that account only." }
                button type="submit" { "Download your archive" }
            }
            h2 { "Import" }
            p { "An archive from another pod: your profile, images and aspects are set from it, the people it follows are followed from this account, and its posts are made again here with their dates and a link to where they were first published (they are not sent to anyone). Then you can move your old account here from its own settings." }
            form method="post" action="/profile/archive/import" enctype="multipart/form-data" {
                (csrf_field(&viewer))
                label for="archive-file" { "Archive (.tar.gz, at most " (limit) " MiB)" }
                label {
                    input type="checkbox" name="send_move" value="on";
                    " Tell the old account's followers that I moved here (when the archive names this account as the one it moves to)"
                }
                input type="file" id="archive-file" name="file" accept=".tar.gz,.tgz,.tar,application/gzip,application/x-tar" required;
                button type="submit" { "Import this archive" }
            }
        },
    )
}

/// The export form: the account moved to, if any.
#[derive(Debug, Deserialize)]
pub(crate) struct ExportForm {
    #[serde(default)]
    move_to: String,
}

/// `POST /profile/archive/export`: the archive, as a download. It is written to a staging
/// folder, kept in the media store just long enough to be opened, and streamed from there.
pub(crate) async fn export(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(ExportForm { move_to }): CsrfForm<ExportForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let target = match move_to.trim() {
        "" => None,
        account => match site.moderation.resolve_actor(account).await {
            Ok(target) if target == site.instance.actor_id(&name).as_str() => {
                return message(
                    &site,
                    Some(&viewer),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "No move to itself",
                    "An account cannot move to itself.",
                );
            }
            Ok(target) => Some(target),
            Err(reason) => {
                return message(
                    &site,
                    Some(&viewer),
                    StatusCode::NOT_FOUND,
                    "No such account",
                    &sentence(&reason),
                );
            }
        },
    };
    let result = async {
        let media = site.instance.media();
        let staging = tempfile::Builder::new()
            .prefix("export-")
            .tempdir_in(media.root().join("tmp"))?;
        let path = staging.path().join("archive.tar.gz");
        site.instance
            .export_archive_moving(&name, &path, target.as_deref())
            .await?;
        let key = Key::new(format!("exports/{}.tar.gz", uuid::Uuid::new_v4()))?;
        media
            .store_file(&key, &path, &Limits::new(u64::MAX))
            .await?;
        drop(staging);
        let options = ServeOptions::new(HeaderValue::from_static("application/gzip"))
            .with_cache_control(HeaderValue::from_static("no-store"));
        let served = media
            .serve(&key, &Method::GET, &HeaderMap::new(), &options)
            .await;
        // The answer holds the file open: its name can go now, whatever happened.
        media.remove(&key).await?;
        let mut response = served?.map(axum::body::Body::new).into_response();
        let filename = format!("attachment; filename=\"{name}-archive.tar.gz\"");
        response.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&filename)?,
        );
        Ok(response)
    }
    .await;
    page_or_error(&site, result)
}

/// `POST /profile/archive/import`: `csrf` first, then `file`.
pub(crate) async fn import(State(site): State<Site>, viewer: Viewer, request: Request) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let refuse = |status: StatusCode, reason: &str| {
        message(
            &site,
            Some(&viewer),
            status,
            "The archive was refused",
            reason,
        )
    };
    let (parts, body) = request.into_parts();
    let check_parts = parts.clone();
    let Ok(mut multipart) = Multipart::from_request(Request::from_parts(parts, body), &site).await
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "This address takes an upload form.",
        );
    };
    let mut token_checked = false;
    let mut send_move = false;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return refuse(StatusCode::BAD_REQUEST, "The form could not be read."),
        };
        let field_name = field.name().unwrap_or_default().to_owned();
        // Nothing is read before the token is checked.
        if !token_checked && field_name != instance_web::CSRF_FIELD {
            return refuse(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site: reload the page.",
            );
        }
        match field_name.as_str() {
            "csrf" => {
                let token = match field.bytes().await {
                    Ok(bytes) if bytes.len() <= 1024 => {
                        String::from_utf8(bytes.to_vec()).unwrap_or_default()
                    }
                    _ => String::new(),
                };
                if let Err(rejection) = instance_web::check_post(&site.web, &check_parts, &token) {
                    return rejection.into_response();
                }
                token_checked = true;
            }
            "send_move" => send_move = true,
            "file" => {
                let limits = ImportLimits::default();
                let staging = Limits::new(limits.max_archive_bytes)
                    .with_stall_time(std::time::Duration::from_secs(60));
                let staged = match site.instance.media().stage(field, None, &staging).await {
                    Ok(staged) => staged,
                    Err(error) => {
                        let status = error.status();
                        if status.is_server_error() {
                            return page_or_error(&site, Err(error.into()));
                        }
                        return refuse(status, &format!("The archive was refused: {error}."));
                    }
                };
                let result = site
                    .instance
                    .import_archive_moving(&name, staged.path(), &limits, send_move)
                    .await;
                // Dropping the staged upload removes it.
                drop(staged);
                return match result {
                    Ok(summary) => site.web.page(
                        Some(&viewer),
                        "Archive imported",
                        html! {
                            h1 { "Archive imported" }
                            p role="status" {
                                "Posts: " (summary.posts) ". Comments: " (summary.comments)
                                ". Likes: " (summary.likes) ". Aspects: " (summary.aspects)
                                ". Images: " (summary.images) ". Follows sent: " (summary.follows_sent) "."
                            }
                            @if let Some(old) = &summary.moved_from {
                                p role="status" {
                                    "This account now lists " (old) " among its other accounts."
                                    @if let Some(sent) = &summary.move_sent {
                                        " The move was sent to " (sent.queued) " of its followers' inboxes"
                                        @if sent.local > 0 { " and " (sent.local) " followers here moved" }
                                        @if sent.unreachable > 0 { "; " (sent.unreachable) " could not be reached yet: the pod tries again for seven days" }
                                        "."
                                    }
                                }
                            }
                            p { a href=(format!("/actors/{name}")) { "See your page" } }
                            p { a href="/profile/moving" { "Moving your old account here" } }
                        },
                    ),
                    Err(error) => match error.downcast_ref::<ArchiveError>() {
                        Some(ArchiveError::Io(_)) | None => page_or_error(&site, Err(error)),
                        Some(ArchiveError::TooLarge { .. }) => {
                            refuse(StatusCode::PAYLOAD_TOO_LARGE, &sentence(&error.to_string()))
                        }
                        Some(refused) => refuse(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            &sentence(&refused.to_string()),
                        ),
                    },
                };
            }
            _ => return refuse(StatusCode::BAD_REQUEST, "The form has an unknown field."),
        }
    }
    refuse(StatusCode::BAD_REQUEST, "The form has no file.")
}
