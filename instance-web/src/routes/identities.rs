//! The account's identities: list, make another, switch.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use instance_state::Error as StateError;
use instance_state::actors::{ActorKind, NewActor};
use maud::{Markup, html};
use serde::Deserialize;

use super::see_other;
use crate::csrf::{CsrfForm, csrf_field};
use crate::forms::{Errors, Field, NAME_RULE, check_display_name, normalize_name, valid_name};
use crate::session::Viewer;
use crate::web::{Rejection, RejectionKind, Web};

/// The form making an identity.
#[derive(Debug, Default, Deserialize)]
pub(super) struct IdentityForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
}

/// The form switching identity.
#[derive(Debug, Deserialize)]
pub(super) struct SwitchForm {
    name: String,
}

pub(super) async fn page(State(web): State<Web>, viewer: Viewer) -> Response {
    let body = identities(&web, &viewer, &IdentityForm::default(), &Errors::default());
    web.page(Some(&viewer), "Identities", body)
}

fn identities(web: &Web, viewer: &Viewer, form: &IdentityForm, errors: &Errors) -> Markup {
    let current = viewer.identity_name();
    let room = viewer.identities.len() < web.config().max_identities;
    html! {
        h1 { "Identities" }
        p {
            "Each identity is a profile of its own, followed and addressed on its own; "
            "this account acts as one at a time."
        }
        @if viewer.identities.is_empty() {
            p class="notice" { "This account has no identity yet: make one below." }
        }
        ul class="items" {
            @for actor in &viewer.identities {
                li {
                    span {
                        strong { (actor.display_name) } " @" (actor.name)
                        @if Some(actor.name.as_str()) == current { " — " em { "current" } }
                    }
                    @if Some(actor.name.as_str()) != current {
                        form method="post" action="/account/identities/switch" {
                            (csrf_field(viewer))
                            input type="hidden" name="name" value=(actor.name);
                            button type="submit" {
                                "Act as " span { (actor.display_name) }
                            }
                        }
                    }
                }
            }
        }
        h2 id="new-identity" { "New identity" }
        @if room {
            (errors.summary())
            form class="stacked" method="post" action="/account/identities"
                aria-labelledby="new-identity" {
                (csrf_field(viewer))
                (Field::text("name", "Name", &form.name).hint(NAME_RULE).required().render(errors))
                (Field::text("display_name", "Display name (optional)", &form.display_name)
                    .render(errors))
                button type="submit" { "Make identity" }
            }
        } @else {
            p { "This account has as many identities as this server allows." }
        }
    }
}

pub(super) async fn create(
    State(web): State<Web>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<IdentityForm>,
) -> Result<Response, Rejection> {
    let mut errors = Errors::default();
    if viewer.identities.len() >= web.config().max_identities {
        errors.add(
            "",
            "This account has as many identities as this server allows.",
        );
    }
    let name = normalize_name(&form.name);
    if !valid_name(&name) {
        errors.add("name", NAME_RULE);
    }
    let display_name = check_display_name("display_name", &form.display_name, &mut errors);
    let state = web.state();
    if errors.is_empty() {
        let taken = state
            .actor(&name)
            .await
            .map_err(|e| web.internal("reading an actor", &e))?
            .is_some();
        if taken {
            errors.add("name", "This name is taken.");
        }
    }
    if errors.is_empty() {
        let display_name = if display_name.is_empty() {
            name.clone()
        } else {
            display_name
        };
        let new = NewActor::new(&name, ActorKind::Person, display_name)
            .with_account(viewer.account.id.clone());
        match state.create_actor(new).await {
            Ok(_) => return Ok(see_other("/account/identities")),
            Err(StateError::NameTaken { .. }) => errors.add("name", "This name is taken."),
            Err(StateError::InvalidName { .. }) => errors.add("name", NAME_RULE),
            Err(e) => return Err(web.internal("creating an identity", &e)),
        }
    }
    let body = identities(&web, &viewer, &form, &errors);
    Ok(web.page_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(&viewer),
        "Identities",
        body,
    ))
}

pub(super) async fn switch(
    State(web): State<Web>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> Result<Response, Rejection> {
    match web
        .state()
        .switch_identity(viewer.secret(), &form.name)
        .await
    {
        Ok(true) => Ok(see_other("/account/identities")),
        Ok(false) => Err(Rejection::sign_in(None)),
        Err(StateError::NotAnIdentity { .. }) => Err(web.refuse(
            RejectionKind::Forbidden,
            Some(&viewer),
            "That is not one of this account's identities.",
        )),
        Err(e) => Err(web.internal("switching identity", &e)),
    }
}
