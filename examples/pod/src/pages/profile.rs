//! The profile page: the display name, the bio, the fields, and the avatar and banner uploads
//! (a multipart form, its CSRF token read first, the file streamed to the media store within
//! the size limit and recognised from its bytes); and the images, served.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use instance_web::{CsrfForm, Viewer, csrf_field};
use maud::html;
use media_store::{Key, Limits, ServeOptions};
use serde::Deserialize;
use tracing::warn;

use super::{back, message, page_or_error};
use crate::profile::{ImageRole, MAX_FIELDS, Profile, ProfileError};
use crate::web::Site;

/// The longest text field of the upload form, in bytes.
const MAX_TEXT_FIELD: usize = 1024;

/// `GET /profile`.
pub(crate) async fn page(State(site): State<Site>, viewer: Viewer) -> Response {
    let Some(identity) = viewer.identity.clone() else {
        return back("/");
    };
    let result = async {
        let id = site.instance.actor_id(&identity.name).to_string();
        let bio = site.instance.db().bio_source(&id).await?;
        let fields = site.instance.db().profile_fields(&id).await?;
        let text = |html: &str| federation::sanitize::plain_text(html);
        Ok(site.web.page(
            Some(&viewer),
            "Your profile",
            html! {
                h1 { "Your profile" }
                p { a href=(format!("/actors/{}", identity.name)) { "See your page" } }
                p { a href="/profile/moving" { "Moving your account" } }
                p { a href="/profile/archive" { "Export or import your account" } }
                form method="post" action="/profile" {
                    (csrf_field(&viewer))
                    label for="display_name" { "Display name" }
                    input type="text" id="display_name" name="display_name" value=(identity.display_name) required maxlength="100";
                    label for="bio" { "Bio (Markdown)" }
                    textarea id="bio" name="bio" rows="5" { (bio) }
                    fieldset {
                        legend { "Profile fields" }
                        @for n in 0..MAX_FIELDS {
                            @let field = fields.get(n);
                            label for=(format!("field_name_{n}")) { "Field " (n + 1) " name" }
                            input type="text" id=(format!("field_name_{n}")) name=(format!("field_name_{n}"))
                                value=(field.map(|f| f.name.clone()).unwrap_or_default()) maxlength="255";
                            label for=(format!("field_value_{n}")) { "Field " (n + 1) " value" }
                            input type="text" id=(format!("field_value_{n}")) name=(format!("field_value_{n}"))
                                value=(field.map(|f| text(&f.value)).unwrap_or_default()) maxlength="255";
                        }
                    }
                    button type="submit" { "Save profile" }
                }
                h2 { "Images" }
                @for (role, label) in [("avatar", "Avatar"), ("banner", "Banner")] {
                    form method="post" action="/profile/image" enctype="multipart/form-data" {
                        (csrf_field(&viewer))
                        input type="hidden" name="role" value=(role);
                        label for=(format!("{role}-file")) { (label) " (JPEG, PNG, WebP or GIF)" }
                        input type="file" id=(format!("{role}-file")) name="file" accept="image/jpeg,image/png,image/webp,image/gif" required;
                        button type="submit" { "Upload " (role) }
                    }
                }
            },
        ))
    }
    .await;
    page_or_error(&site, result)
}

/// The profile form: `display_name`, `bio`, `field_name_N`, `field_value_N`.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct ProfileForm(Vec<(String, String)>);

/// `POST /profile`.
pub(crate) async fn save(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(ProfileForm(pairs)): CsrfForm<ProfileForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let field = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut profile = Profile::new(field("display_name")).with_bio(field("bio"));
    for n in 0..MAX_FIELDS {
        profile = profile.with_field(
            field(&format!("field_name_{n}")),
            field(&format!("field_value_{n}")),
        );
    }
    match site.instance.set_profile(&name, &profile).await {
        Ok(()) => back("/profile"),
        Err(error) => match error.downcast_ref::<ProfileError>() {
            Some(refused) => message(
                &site,
                Some(&viewer),
                StatusCode::UNPROCESSABLE_ENTITY,
                "That did not work",
                &refused.to_string(),
            ),
            None => page_or_error(&site, Err(error)),
        },
    }
}

/// Reads a short text field.
async fn text_field(field: axum::extract::multipart::Field<'_>) -> Option<String> {
    let bytes = field.bytes().await.ok()?;
    if bytes.len() > MAX_TEXT_FIELD {
        return None;
    }
    String::from_utf8(bytes.to_vec()).ok()
}

/// `POST /profile/image`: `csrf` first, then `role` (`avatar` or `banner`), then `file`.
pub(crate) async fn upload_image(
    State(site): State<Site>,
    viewer: Viewer,
    request: Request,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let refuse = |status: StatusCode, reason: &str| {
        message(
            &site,
            Some(&viewer),
            status,
            "The image was refused",
            reason,
        )
    };
    let (parts, body) = request.into_parts();
    let check_parts = parts.clone();
    let mut multipart = match Multipart::from_request(Request::from_parts(parts, body), &site).await
    {
        Ok(multipart) => multipart,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "This address takes an upload form.",
            );
        }
    };
    let mut token_checked = false;
    let mut role = None;
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
                let token = text_field(field).await.unwrap_or_default();
                if let Err(rejection) = instance_web::check_post(&site.web, &check_parts, &token) {
                    return rejection.into_response();
                }
                token_checked = true;
            }
            "role" => {
                role = text_field(field)
                    .await
                    .as_deref()
                    .and_then(ImageRole::parse)
            }
            "file" => {
                let Some(role) = role else {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        "Say whether this is the avatar or the banner.",
                    );
                };
                let limits = Limits::new(site.instance.options().max_image_bytes)
                    .with_stall_time(std::time::Duration::from_secs(30));
                let staged = match site.instance.media().stage(field, None, &limits).await {
                    Ok(staged) => staged,
                    Err(error) => {
                        let status = error.status();
                        if status.is_server_error() {
                            return page_or_error(&site, Err(error.into()));
                        }
                        return refuse(status, &format!("The image was refused: {error}."));
                    }
                };
                return match site.instance.set_image(&name, role, staged).await {
                    Ok(_) => back("/profile"),
                    Err(error) => match error.downcast_ref::<ProfileError>() {
                        Some(refused) => refuse(
                            StatusCode::UNSUPPORTED_MEDIA_TYPE,
                            &super::sentence(&refused.to_string()),
                        ),
                        None => page_or_error(&site, Err(error)),
                    },
                };
            }
            _ => {
                let _ = text_field(field).await;
            }
        }
    }
    refuse(StatusCode::BAD_REQUEST, "The form has no file.")
}

/// `GET /media/{key}`: an uploaded image. Files are named by a fresh uuid and never change,
/// so they are cached for a long time.
pub(crate) async fn serve_image(
    State(site): State<Site>,
    Path(key): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such file").into_response();
    let Ok(key) = Key::new(key) else {
        return not_found();
    };
    let row = match site.instance.db().image(key.as_str()).await {
        Ok(Some(row)) => row,
        Ok(None) => return not_found(),
        Err(error) => {
            warn!(%error, "looking an image up");
            return (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response();
        }
    };
    let Ok(content_type) = HeaderValue::from_str(&row.media_type) else {
        return not_found();
    };
    let options = ServeOptions::new(content_type).with_cache_control(HeaderValue::from_static(
        "public, max-age=31536000, immutable",
    ));
    match site
        .instance
        .media()
        .serve(&key, &method, &headers, &options)
        .await
    {
        Ok(response) => response.map(axum::body::Body::new).into_response(),
        Err(error) => {
            let status = error.status();
            if status.is_server_error() {
                warn!(%error, "serving an image");
            }
            (status, status.canonical_reason().unwrap_or("error")).into_response()
        }
    }
}
