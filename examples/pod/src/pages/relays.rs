//! The administrators' page of relays (`/admin/relays`): the relays the instance actor
//! subscribes to and the state of each, a form to subscribe to one and a button to
//! unsubscribe. Administrators only (others get `404`).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use instance_state::accounts::Role;
use instance_web::{CsrfForm, Viewer, csrf_field};
use maud::html;
use serde::Deserialize;

use super::{back, message, page_or_error};
use crate::relays::RelayKind;
use crate::web::Site;

fn not_found(site: &Site, viewer: &Viewer) -> Response {
    message(
        site,
        Some(viewer),
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page.",
    )
}

/// `GET /admin/relays`.
pub(crate) async fn page(State(site): State<Site>, viewer: Viewer) -> Response {
    if viewer.account.role != Role::Admin {
        return not_found(&site, &viewer);
    }
    let result = async {
        let relays = site.instance.relays().await?;
        Ok(site.web.page(
            Some(&viewer),
            "Relays",
            html! {
                h1 { "Relays" }
                p { "Relays forward the public posts of the servers subscribed to them: followed tags then bring posts from servers nobody here hears from." }
                @if relays.is_empty() {
                    p { "No relay." }
                } @else {
                    table {
                        tr { th { "Address" } th { "Kind" } th { "State" } th {} }
                        @for relay in &relays {
                            tr {
                                td { (relay.address) }
                                td { @match relay.kind { RelayKind::Litepub => "LitePub", _ => "Mastodon-style" } }
                                td { (relay.state) }
                                td {
                                    form method="post" action="/admin/relays/remove" {
                                        (csrf_field(&viewer))
                                        input type="hidden" name="address" value=(relay.address);
                                        button type="submit" { "Unsubscribe" }
                                    }
                                }
                            }
                        }
                    }
                }
                h2 { "Subscribe to a relay" }
                form method="post" action="/admin/relays" {
                    (csrf_field(&viewer))
                    label { "Address (a Mastodon-style relay's inbox, a LitePub relay's actor) "
                        input type="url" name="address" required;
                    }
                    label { input type="checkbox" name="litepub" value="1"; " LitePub relay" }
                    button type="submit" { "Subscribe" }
                }
            },
        ))
    }
    .await;
    page_or_error(&site, result)
}

/// The relay forms.
#[derive(Debug, Deserialize)]
pub(crate) struct RelayForm {
    address: String,
    #[serde(default)]
    litepub: Option<String>,
}

/// `POST /admin/relays`: subscribes to a relay.
pub(crate) async fn add(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<RelayForm>,
) -> Response {
    if viewer.account.role != Role::Admin {
        return not_found(&site, &viewer);
    }
    let Ok(address) = url::Url::parse(form.address.trim()) else {
        return message(
            &site,
            Some(&viewer),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not an address",
            "A relay's address is an http(s) URL.",
        );
    };
    let kind = if form.litepub.is_some() {
        RelayKind::Litepub
    } else {
        RelayKind::Mastodon
    };
    let result = async {
        site.instance.add_relay(&address, kind).await?;
        Ok(back("/admin/relays"))
    }
    .await;
    page_or_error(&site, result)
}

/// `POST /admin/relays/remove`: unsubscribes from a relay.
pub(crate) async fn remove(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<RelayForm>,
) -> Response {
    if viewer.account.role != Role::Admin {
        return not_found(&site, &viewer);
    }
    let result = async {
        if let Ok(address) = url::Url::parse(&form.address) {
            site.instance.remove_relay(&address).await?;
        }
        Ok(back("/admin/relays"))
    }
    .await;
    page_or_error(&site, result)
}
