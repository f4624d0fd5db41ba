//! Uploads: a multipart post (PeerTube's `/api/v1/videos/upload` with a bearer token, or the
//! upload page's form with a session), its file streamed to the media store within the size
//! limit, recognised from its bytes, then published.

use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Multipart, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, header};
use instance_state::actors::LocalActor;
use instance_web::MaybeViewer;
use media_probe::Container;
use media_store::{Key, Limits, Staged, UploadError};
use serde_json::json;
use tracing::{info, warn};

use crate::db::{FileRow, VideoRow};
use crate::web::Site;
use instance_server::WithParts as _;

/// The longest text field accepted (a description).
const MAX_TEXT_FIELD: usize = 10_000;
/// The most tags.
const MAX_TAGS: usize = 5;
/// How long an upload may pause before it is abandoned.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// Why a request was refused: a status and a message for the person or the client, answered
/// to API clients as PeerTube answers them (`{"status", "error"}`).
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        warn!(%error, "an upload failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the upload could not be stored",
        )
    }
}

impl axum::response::IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"status": self.status.as_u16(), "error": self.message})),
        )
            .into_response()
    }
}

impl From<UploadError> for Refusal {
    fn from(error: UploadError) -> Self {
        let status = error.status();
        if status.is_server_error() {
            return Self::internal(error);
        }
        Self::new(status, format!("the file was refused: {error}"))
    }
}

/// The fields of an upload.
#[derive(Debug, Default)]
struct Fields {
    csrf: Option<String>,
    channel: Option<String>,
    name: Option<String>,
    description: String,
    sensitive: bool,
    language: Option<String>,
    category: Option<i64>,
    licence: Option<i64>,
    tags: Vec<String>,
    comments_policy: Option<i64>,
    download_enabled: Option<bool>,
    file: Option<Staged>,
}

/// PeerTube's booleans in forms: `true`/`false`, and a checkbox's `on`.
fn truthy(text: &str) -> bool {
    matches!(text, "true" | "1" | "on")
}

/// Reads a text field, at most [`MAX_TEXT_FIELD`] bytes of UTF-8.
async fn text_field(field: &mut axum::extract::multipart::Field<'_>) -> Result<String, Refusal> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| Refusal::bad(format!("the form could not be read: {e}")))?
    {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the field {name:?} is longer than {MAX_TEXT_FIELD} bytes"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| Refusal::bad(format!("the field {name:?} is not UTF-8")))
}

/// Reads the fields and streams the file (`videofile`) to the store. `check_csrf` is given the
/// `csrf` field when it comes, before any later field is read (the upload page sends it
/// first); the file is refused if it comes before a token `check_csrf` requires.
async fn read_fields(
    site: &Site,
    mut multipart: Multipart,
    require_csrf: bool,
    check_csrf: impl Fn(&str) -> Result<(), Refusal>,
) -> Result<Fields, Refusal> {
    let mut fields = Fields::default();
    let limits = Limits::new(site.instance.0.options.max_upload_bytes).with_stall_time(STALL_LIMIT);
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| Refusal::bad(format!("the form could not be read: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if require_csrf && name != "csrf" && fields.csrf.is_none() {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "this form has expired or did not come from this site: reload the page",
            ));
        }
        match name.as_str() {
            "videofile" => {
                if fields.file.is_some() {
                    return Err(Refusal::bad("one file per upload"));
                }
                let staged = site.instance.media().stage(field, None, &limits).await?;
                fields.file = Some(staged);
            }
            "csrf" => {
                let token = text_field(&mut field).await?;
                check_csrf(&token)?;
                fields.csrf = Some(token);
            }
            "channel" | "channelName" => fields.channel = Some(text_field(&mut field).await?),
            "name" => fields.name = Some(text_field(&mut field).await?),
            "description" => fields.description = text_field(&mut field).await?,
            "nsfw" => fields.sensitive = truthy(&text_field(&mut field).await?),
            "language" => {
                let language = text_field(&mut field).await?;
                if !language.is_empty() {
                    fields.language = Some(language);
                }
            }
            "category" => fields.category = text_field(&mut field).await?.parse().ok(),
            "licence" => fields.licence = text_field(&mut field).await?.parse().ok(),
            "tags" | "tags[]" => {
                let text = text_field(&mut field).await?;
                for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if fields.tags.len() >= MAX_TAGS {
                        return Err(Refusal::bad(format!("at most {MAX_TAGS} tags")));
                    }
                    fields.tags.push(tag.to_owned());
                }
            }
            "commentsPolicy" => {
                fields.comments_policy = text_field(&mut field).await?.parse().ok();
            }
            "downloadEnabled" => {
                fields.download_enabled = Some(truthy(&text_field(&mut field).await?));
            }
            // Fields of PeerTube's API this instance does not use (privacy, support...) are
            // read and left.
            _ => {
                text_field(&mut field).await?;
            }
        }
    }
    Ok(fields)
}

/// The file name extension of a container's files.
fn extension(container: Container) -> &'static str {
    match container {
        Container::Mp4 => "mp4",
        Container::WebM => "webm",
        Container::Matroska => "mkv",
        _ => "ogv",
    }
}

/// Checks, probes, stores and publishes an upload by `person` (one of the uploader's
/// identities, all of which are given in `identities`).
async fn publish_upload(
    site: &Site,
    identities: &[LocalActor],
    fields: Fields,
) -> Result<VideoRow, Refusal> {
    let staged = fields
        .file
        .ok_or_else(|| Refusal::bad("the upload has no file (field \"videofile\")"))?;
    let name = fields
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| (3..=120).contains(&n.chars().count()))
        .ok_or_else(|| Refusal::bad("a video needs a name of 3 to 120 characters"))?;
    if (1..3).contains(&fields.description.trim().chars().count()) {
        return Err(Refusal::bad(
            "a description has at least 3 characters (or none at all)",
        ));
    }
    let channel = fields
        .channel
        .ok_or_else(|| Refusal::bad("say which channel the video goes in (field \"channel\")"))?;
    let instance = &site.instance;
    let owner = instance
        .db()
        .channel_owner(&channel)
        .await
        .map_err(Refusal::internal)?
        .filter(|owner| identities.iter().any(|i| &i.name == owner))
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::FORBIDDEN,
                format!("there is no channel {channel:?} of yours"),
            )
        })?;
    // What the file is, from its bytes.
    let path = staged.path().to_owned();
    let size = staged.size();
    let probed = tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        Ok::<_, std::io::Error>(media_probe::probe(&mut file, size))
    })
    .await
    .map_err(Refusal::internal)?
    .map_err(Refusal::internal)?
    .map_err(|e| {
        Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("this file is not a video this server reads: {e}"),
        )
    })?;
    if probed.truncated {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this video file is truncated: its container says it goes on past its end",
        ));
    }
    let Some(picture) = probed.video() else {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this file has no video track",
        ));
    };
    let (width, height) = (i64::from(picture.width), i64::from(picture.height));
    let fps_milli = picture
        .frame_rate
        .map(|rate| i64::from(rate.num) * 1000 / i64::from(rate.den.max(1)));
    let uuid = uuid::Uuid::new_v4().to_string();
    let key = Key::new(format!(
        "videos/{uuid}/original.{}",
        extension(probed.container)
    ))
    .map_err(Refusal::internal)?;
    let sha256 = staged.sha256().to_hex();
    let now = instance.state().options().clock.now() / 1_000_000;
    let video = VideoRow {
        id: instance.video_id(&uuid).to_string(),
        uuid: uuid.clone(),
        local: true,
        account: instance.actor_id(&owner).to_string(),
        channel: instance.actor_id(&channel).to_string(),
        name,
        description: fields.description,
        category: fields.category,
        licence: fields.licence,
        tags: fields.tags,
        duration: probed
            .duration
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0),
        state: 1,
        sensitive: fields.sensitive,
        comments_policy: fields
            .comments_policy
            .filter(|p| (1..=3).contains(p))
            .unwrap_or(1),
        download_enabled: fields.download_enabled.unwrap_or(true),
        is_live: false,
        language: fields.language,
        views: 0,
        likes: 0,
        dislikes: 0,
        published: now,
        updated: now,
    };
    let original = FileRow {
        video: video.id.clone(),
        key: key.as_str().to_owned(),
        role: "original".to_owned(),
        media_type: probed.mime().to_owned(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        sha256,
        width: Some(width),
        height: Some(height),
        fps_milli,
    };
    // What PeerTube would refuse is refused here, before anything is stored.
    instance
        .video_document(&video, std::slice::from_ref(&original))
        .map_err(|e| Refusal::bad(format!("this video cannot be published: {e}")))?;
    staged.commit(&key).await.map_err(Refusal::internal)?;
    if let Err(error) = instance.publish_new_video(&video, &[original]).await {
        // Nothing half-stored: the file goes with the failed publication.
        let _ = instance.media().remove(&key).await;
        return Err(Refusal::internal(error));
    }
    // A thumbnail and an HLS rendition are made in the background; the original is served
    // meanwhile.
    if let Err(error) = instance
        .enqueue_processing(&video.id, probed.duration)
        .await
    {
        warn!(%error, video = %video.id, "queueing the video's processing");
    }
    info!(video = %video.id, size, "video uploaded");
    Ok(video)
}

/// `POST /api/v1/videos/upload`, as PeerTube's API: a bearer token, multipart fields
/// `channel`, `name`, the optional ones, and the file in `videofile`. Answers
/// `{"video": {"id", "uuid", "shortUUID", "url"}}`.
pub(crate) async fn api_upload(State(site): State<Site>, request: Request) -> Response {
    let identities = match token_identities(&site, request.headers()).await {
        Ok(identities) => identities,
        Err(refusal) => return refusal.into_response(),
    };
    let multipart = match Multipart::from_request(request, &site).await {
        Ok(multipart) => multipart,
        Err(rejection) => return Refusal::bad(rejection.body_text()).into_response(),
    };
    let outcome = async {
        let fields = read_fields(&site, multipart, false, |_| Ok(())).await?;
        publish_upload(&site, &identities, fields).await
    }
    .await;
    match outcome {
        Ok(video) => axum::Json(json!({"video": {
            "id": video.uuid, "uuid": video.uuid, "shortUUID": video.uuid, "url": video.id,
        }}))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// The identities of the account whose bearer token the request carries.
pub(crate) async fn token_identities(
    site: &Site,
    headers: &HeaderMap,
) -> Result<Vec<LocalActor>, Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| Refusal::new(StatusCode::UNAUTHORIZED, "a bearer token is needed"))?;
    let state = site.instance.state();
    let (_, account) = state
        .authenticate(token)
        .await
        .map_err(Refusal::internal)?
        .ok_or_else(|| Refusal::new(StatusCode::UNAUTHORIZED, "this token is not valid"))?;
    state
        .identities(&account.id)
        .await
        .map_err(Refusal::internal)
}

/// `POST /videos/upload`: the upload page's form (signed in; its first field is the CSRF
/// token). Redirects to the new video's page, or shows why the file was refused.
pub(crate) async fn form_upload(State(site): State<Site>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let viewer = match MaybeViewer::from_request_parts(&mut parts, &site).await {
        Ok(MaybeViewer(Some(viewer))) => viewer,
        Ok(MaybeViewer(None)) => return Redirect::to("/login?next=/videos/upload").into_response(),
        Err(rejection) => return rejection.into_response(),
    };
    // The token and site checks need the request's headers once the token is read.
    let mut check = http::Request::new(());
    *check.headers_mut() = parts.headers.clone();
    let (check_parts, ()) = check.into_parts();
    let multipart = match Multipart::from_request(Request::from_parts(parts, body), &site).await {
        Ok(multipart) => multipart,
        Err(rejection) => {
            return crate::pages::message_page(
                &site,
                Some(&viewer),
                StatusCode::BAD_REQUEST,
                "Upload refused",
                &rejection.body_text(),
            );
        }
    };
    let web = site.web.clone();
    let outcome = async {
        let fields = read_fields(&site, multipart, true, |token| {
            instance_web::check_post(&web, &check_parts, token).map_err(|_| {
                Refusal::new(
                    StatusCode::FORBIDDEN,
                    "this form has expired or did not come from this site: reload the page",
                )
            })
        })
        .await?;
        publish_upload(&site, &viewer.identities, fields).await
    }
    .await;
    match outcome {
        Ok(video) => Redirect::to(&format!("/videos/watch/{}", video.uuid)).into_response(),
        Err(refusal) => crate::pages::message_page(
            &site,
            Some(&viewer),
            refusal.status,
            "Upload refused",
            &refusal.message,
        ),
    }
}

/// `DELETE /api/v1/videos/{uuid}`, as PeerTube's API: deletes a video of the token's account
/// (`204`), or `404`.
pub(crate) async fn api_delete(
    State(site): State<Site>,
    axum::extract::Path(uuid): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let identities = match token_identities(&site, &headers).await {
        Ok(identities) => identities,
        Err(refusal) => return (refusal.status, refusal.message).into_response(),
    };
    let names: Vec<String> = identities.into_iter().map(|i| i.name).collect();
    match site.instance.delete_local_video(&uuid, &names).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, "no such video of yours").into_response(),
        Err(error) => {
            warn!(%error, "deleting a video");
            (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
        }
    }
}
