//! Moving an account, from the pages: the settings page (`/profile/moving`) lists the
//! person's other accounts ("also known as", added by `@name@server` or an address, each with
//! a button to take it off) and moves the account to another one; a moved person's page says
//! where they went.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use instance_state::moves::MoveError;
use instance_web::{CsrfForm, Viewer, csrf_field};
use maud::{Markup, html};
use serde::Deserialize;

use super::{back, message, page_or_error, person_href, sentence};
use crate::moving::AliasRefused;
use crate::web::Site;

/// The banner of a person's page when the person moved: "This account has moved to …", with a
/// link to the new account's page. Empty otherwise.
pub(crate) async fn moved_banner(site: &Site, id: &str) -> anyhow::Result<Markup> {
    let Some(target) = site.instance.state().moved_to(id).await? else {
        return Ok(html! {});
    };
    let (name, handle) = site.instance.actor_label(&target).await;
    Ok(html! {
        p class="moved" role="status" {
            "This account has moved to "
            a href=(person_href(site, &target)) { (name) }
            @if handle != name { " (" (handle) ")" }
            "."
        }
    })
}

/// `GET /profile/moving`.
pub(crate) async fn page(State(site): State<Site>, viewer: Viewer) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let result = async {
        let actor = site.instance.state().live_actor(&name).await?;
        let mut aliases = Vec::new();
        for alias in &actor.also_known_as {
            let (label, handle) = site.instance.actor_label(alias).await;
            aliases.push((alias.clone(), label, handle));
        }
        let id = site.instance.actor_id(&name).to_string();
        let banner = moved_banner(&site, &id).await?;
        Ok(site.web.page(
            Some(&viewer),
            "Moving your account",
            html! {
                h1 { "Moving your account" }
                (banner)
                h2 { "Your other accounts" }
                p { "An account listed here may move to this one: its followers then follow you here." }
                @if aliases.is_empty() { p { "None yet." } }
                ul class="aliases" {
                    @for (alias, label, handle) in &aliases {
                        li {
                            a href=(person_href(&site, alias)) { (label) }
                            @if handle != label { " (" (handle) ")" }
                            form method="post" action="/profile/aliases" {
                                (csrf_field(&viewer))
                                input type="hidden" name="account" value=(alias);
                                input type="hidden" name="remove" value="1";
                                button type="submit" { "Remove" }
                            }
                        }
                    }
                }
                form method="post" action="/profile/aliases" {
                    (csrf_field(&viewer))
                    label for="alias" { "This account is also known as (@name@server or its address)" }
                    input type="text" id="alias" name="account" required;
                    button type="submit" { "Add alias" }
                }
                h2 { "Move to another account" }
                p { "The other account must list this one among its other accounts first. Your followers will follow it instead; this page will say where you went. You can move once every 30 days." }
                form method="post" action="/profile/move" {
                    (csrf_field(&viewer))
                    label for="target" { "The account to move to (@name@server or its address)" }
                    input type="text" id="target" name="account" required;
                    button type="submit" { "Move this account" }
                }
            },
        ))
    }
    .await;
    page_or_error(&site, result)
}

/// The alias and move forms: `account`, and `remove` to take an alias off.
#[derive(Debug, Deserialize)]
pub(crate) struct AccountForm {
    account: String,
    #[serde(default)]
    remove: Option<String>,
}

/// `POST /profile/aliases`.
pub(crate) async fn aliases(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let result = if form.remove.is_some() {
        site.instance.remove_alias(&name, &form.account).await
    } else {
        let alias = match site.moderation.resolve_actor(&form.account).await {
            Ok(alias) => alias,
            Err(reason) => return not_found(&site, &viewer, &reason),
        };
        site.instance.add_alias(&name, &alias).await
    };
    match result {
        Ok(_) => back("/profile/moving"),
        Err(error) => refused(&site, &viewer, error),
    }
}

/// `POST /profile/move`.
pub(crate) async fn move_account(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Response {
    let Some(name) = viewer.identity_name().map(str::to_owned) else {
        return back("/");
    };
    let target = match site.moderation.resolve_actor(&form.account).await {
        Ok(target) => target,
        Err(reason) => return not_found(&site, &viewer, &reason),
    };
    match site.instance.move_account(&name, &target).await {
        Ok(_) => back("/profile/moving"),
        Err(error) => refused(&site, &viewer, error),
    }
}

fn not_found(site: &Site, viewer: &Viewer, reason: &str) -> Response {
    message(
        site,
        Some(viewer),
        StatusCode::UNPROCESSABLE_ENTITY,
        "Not found",
        reason,
    )
}

/// A refused alias or move, as a `422` page saying why; any other error is the server's.
fn refused(site: &Site, viewer: &Viewer, error: anyhow::Error) -> Response {
    let reason = match (
        error.downcast_ref::<MoveError>(),
        error.downcast_ref::<AliasRefused>(),
    ) {
        (Some(MoveError::State(_) | MoveError::Publish(_)), _) | (None, None) => {
            return page_or_error(site, Err(error));
        }
        (Some(MoveError::TooSoon { .. }), _) => {
            "this account moved less than 30 days ago".to_owned()
        }
        (Some(refused), _) => refused.to_string(),
        (None, Some(refused)) => refused.to_string(),
    };
    message(
        site,
        Some(viewer),
        StatusCode::UNPROCESSABLE_ENTITY,
        "That did not work",
        &sentence(&reason),
    )
}
