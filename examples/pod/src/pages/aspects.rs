//! The aspects page: a person's aspects (make, rename, delete) and their contacts (the people
//! they follow or who follow them, here or elsewhere), each put in or taken out of each aspect.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use instance_web::{CsrfForm, Viewer, csrf_field};
use maud::html;
use serde::Deserialize;

use super::{back, message, page_or_error, person_href};
use crate::web::Site;

/// The longest aspect name, in characters.
const MAX_NAME: usize = 60;

/// `GET /aspects`.
pub(crate) async fn page(State(site): State<Site>, viewer: Viewer) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let result = async {
        let instance = &site.instance;
        let aspects = instance.db().aspects(&name).await?;
        let mut contacts = Vec::new();
        for contact in instance.contacts(&name).await? {
            let (display, handle) = instance.actor_label(&contact).await;
            let holding = instance.db().aspects_holding(&name, &contact).await?;
            contacts.push((contact, display, handle, holding));
        }
        Ok(site.web.page(
            Some(&viewer),
            "Aspects",
            html! {
                h1 { "Aspects" }
                p { "Sort the people you follow and who follow you into aspects, then write posts only they can read." }
                form method="post" action="/aspects" {
                    (csrf_field(&viewer))
                    label for="name" { "New aspect" }
                    input type="text" id="name" name="name" required maxlength=(MAX_NAME);
                    button type="submit" { "Make aspect" }
                }
                @for aspect in &aspects {
                    section class="aspect" {
                        h2 { (aspect.name) }
                        form method="post" action="/aspects/rename" {
                            (csrf_field(&viewer))
                            input type="hidden" name="aspect" value=(aspect.id);
                            label for=(format!("rename-{}", aspect.id)) { "Rename " (aspect.name) }
                            input type="text" id=(format!("rename-{}", aspect.id)) name="name" value=(aspect.name) required maxlength=(MAX_NAME);
                            button type="submit" { "Rename" }
                        }
                        form method="post" action="/aspects/delete" {
                            (csrf_field(&viewer))
                            input type="hidden" name="aspect" value=(aspect.id);
                            button type="submit" { "Delete " (aspect.name) }
                        }
                    }
                }
                h2 { "Contacts" }
                @if contacts.is_empty() {
                    p { "Nobody yet: " a href="/follow" { "follow someone" } "." }
                }
                @for (id, display, handle, holding) in &contacts {
                    section class="contact" {
                        h3 { a href=(person_href(&site, id)) { (display) } " " span class="handle" { (handle) } }
                        @for aspect in &aspects {
                            @let inside = holding.contains(&aspect.id);
                            form method="post" action="/aspects/members" {
                                (csrf_field(&viewer))
                                input type="hidden" name="aspect" value=(aspect.id);
                                input type="hidden" name="member" value=(id);
                                @if inside {
                                    input type="hidden" name="included" value="0";
                                    button type="submit" { "Remove " (handle) " from " (aspect.name) }
                                } @else {
                                    input type="hidden" name="included" value="1";
                                    button type="submit" { "Add " (handle) " to " (aspect.name) }
                                }
                            }
                        }
                    }
                }
            },
        ))
    }
    .await;
    page_or_error(&site, result)
}

/// An aspect's form.
#[derive(Debug, Deserialize)]
pub(crate) struct AspectForm {
    #[serde(default)]
    aspect: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    member: String,
    #[serde(default)]
    included: String,
}

/// A name for an aspect, or why not.
fn aspect_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        Err("An aspect needs a name.")
    } else if name.chars().count() > MAX_NAME {
        Err("An aspect's name has at most 60 characters.")
    } else if name.chars().any(char::is_control) {
        Err("An aspect's name cannot hold control characters.")
    } else {
        Ok(name.to_owned())
    }
}

fn refused(site: &Site, viewer: &Viewer, reason: &str) -> Response {
    message(
        site,
        Some(viewer),
        StatusCode::UNPROCESSABLE_ENTITY,
        "That did not work",
        reason,
    )
}

/// `POST /aspects`: a new aspect.
pub(crate) async fn create(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<AspectForm>,
) -> Response {
    let Some(owner) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let name = match aspect_name(&form.name) {
        Ok(name) => name,
        Err(reason) => return refused(&site, &viewer, reason),
    };
    match site.instance.create_aspect(&owner, &name).await {
        Ok(_) => back("/aspects"),
        Err(error) => match error.downcast_ref::<crate::AspectError>() {
            Some(reason) => refused(&site, &viewer, &super::sentence(&reason.to_string())),
            None => page_or_error(&site, Err(error)),
        },
    }
}

/// `POST /aspects/rename`.
pub(crate) async fn rename(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<AspectForm>,
) -> Response {
    let Some(owner) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let name = match aspect_name(&form.name) {
        Ok(name) => name,
        Err(reason) => return refused(&site, &viewer, reason),
    };
    match site
        .instance
        .db()
        .rename_aspect(&owner, &form.aspect, &name)
        .await
    {
        Ok(true) => back("/aspects"),
        Ok(false) => refused(
            &site,
            &viewer,
            "No such aspect of yours, or you have one of that name already.",
        ),
        Err(error) => page_or_error(&site, Err(error)),
    }
}

/// `POST /aspects/delete`.
pub(crate) async fn delete(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<AspectForm>,
) -> Response {
    let Some(owner) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    match site.instance.db().delete_aspect(&owner, &form.aspect).await {
        Ok(true) => back("/aspects"),
        Ok(false) => refused(&site, &viewer, "No such aspect of yours."),
        Err(error) => page_or_error(&site, Err(error)),
    }
}

/// `POST /aspects/members`: a contact put in an aspect (`included=1`) or taken out.
pub(crate) async fn members(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<AspectForm>,
) -> Response {
    let Some(owner) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let result = async {
        let done = if form.included == "1" {
            site.instance
                .add_to_aspect(&owner, &form.aspect, &form.member)
                .await
        } else {
            site.instance
                .remove_from_aspect(&owner, &form.aspect, &form.member)
                .await
        };
        match done {
            Ok(()) => Ok(back("/aspects")),
            Err(error) => match error.downcast_ref::<crate::AspectError>() {
                Some(reason) => Ok(refused(
                    &site,
                    &viewer,
                    &super::sentence(&reason.to_string()),
                )),
                None => Err(error),
            },
        }
    }
    .await;
    page_or_error(&site, result)
}
