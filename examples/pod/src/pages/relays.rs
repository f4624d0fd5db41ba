//! The administrators' page of relays (`/admin/relays`, linked from the layout for them): the
//! relays the instance actor subscribes to, the state of each and the tags whose posts alone
//! it is sent, and the tag relay with the state of its subscription and of the follow of
//! each tag followed here; forms to subscribe to a relay, to unsubscribe, to limit what a
//! Mastodon-style relay is sent to some tags (or not), to name the tag relay (again, which
//! retries what it did not accept) and to stop using it: what `pod admin relay-add`,
//! `relay-remove`, `relays`, `add-tag-relay`, `tag-relays` and `remove-tag-relay` do.
//! Administrators only (others get `404`, and their forms do nothing); every form carries
//! the CSRF token.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use instance_web::{CsrfForm, Viewer, csrf_field};
use maud::{Markup, html};
use serde::Deserialize;

use super::{back, message, page_or_error};
use crate::relays::{Relay, RelayKind, relay_tags};
use crate::tag_relay::TagRelayState;
use crate::web::Site;

/// Where every form of the page comes back to.
const PAGE: &str = "/admin/relays";

fn not_found(site: &Site, viewer: &Viewer) -> Response {
    message(
        site,
        Some(viewer),
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page.",
    )
}

fn unprocessable(site: &Site, viewer: &Viewer, title: &str, text: &str) -> Response {
    message(
        site,
        Some(viewer),
        StatusCode::UNPROCESSABLE_ENTITY,
        title,
        text,
    )
}

/// `GET /admin/relays`.
pub(crate) async fn page(State(site): State<Site>, viewer: Viewer) -> Response {
    if !viewer.administers() {
        return not_found(&site, &viewer);
    }
    let result = async {
        let relays = site.instance.relays().await?;
        let tag_relay = site.instance.tag_relay_state().await?;
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
                        tr { th { "Address" } th { "Kind" } th { "State" } th { "Posts sent" } th {} }
                        @for relay in &relays {
                            (relay_row(&viewer, relay))
                        }
                    }
                }
                h2 { "Subscribe to a relay" }
                form method="post" action=(PAGE) {
                    (csrf_field(&viewer))
                    label { "Address (a Mastodon-style relay's inbox, a LitePub relay's actor) "
                        input type="url" name="address" required;
                    }
                    label { input type="checkbox" name="litepub" value="1"; " LitePub relay" }
                    button type="submit" { "Subscribe" }
                }
                (tag_relay_section(&viewer, tag_relay.as_ref()))
            },
        ))
    }
    .await;
    page_or_error(&site, result)
}

/// A relay's row: its address, kind, state, what it is sent (with a form to limit it to
/// some tags, for a Mastodon-style relay) and the button to unsubscribe.
fn relay_row(viewer: &Viewer, relay: &Relay) -> Markup {
    html! {
        tr {
            td { (relay.address) }
            td { @match relay.kind { RelayKind::Litepub => "LitePub", _ => "Mastodon-style" } }
            td { (relay.state) }
            td {
                @match relay.kind {
                    RelayKind::Litepub => "None (it announces what others send it)",
                    _ => {
                        @match &relay.tags {
                            None => "Every public post",
                            Some(tags) => { "Public posts tagged " (tag_list(tags)) }
                        }
                        form method="post" action="/admin/relays/tags" {
                            (csrf_field(viewer))
                            input type="hidden" name="address" value=(relay.address);
                            label { "Only the tags (separated by commas; empty for every public post) "
                                input type="text" name="tags" value=(relay.tags.as_deref().map(|t| t.join(", ")).unwrap_or_default());
                            }
                            button type="submit" { "Change" }
                        }
                    },
                }
            }
            td {
                form method="post" action="/admin/relays/remove" {
                    (csrf_field(viewer))
                    input type="hidden" name="address" value=(relay.address);
                    button type="submit" { "Unsubscribe" }
                }
            }
        }
    }
}

fn tag_list(tags: &[String]) -> String {
    tags.iter()
        .map(|tag| format!("#{tag}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tag relay: which, its subscription, each followed tag's follow there, and its forms.
fn tag_relay_section(viewer: &Viewer, tag_relay: Option<&TagRelayState>) -> Markup {
    html! {
        h2 { "Tag relay" }
        p { "A tag relay has one actor per hashtag; the instance actor follows the actor of every tag followed here, and the pod sends it its public posts." }
        @match tag_relay {
            None => p { "No tag relay." },
            Some(state) => {
                p {
                    "Tag relay: " (state.tag_relay) ". Subscription: "
                    @match &state.subscription {
                        Some(relay) => {
                            (relay.state) "; sent "
                            @match &relay.tags {
                                None => "every public post",
                                Some(tags) => { "the public posts tagged " (tag_list(tags)) }
                            }
                        }
                        None => "none (name it again to subscribe)",
                    }
                    "."
                }
                @if state.tags.is_empty() {
                    p { "No tag is followed here." }
                } @else {
                    table {
                        tr { th { "Tag" } th { "Its actor on the relay" } th { "Follow" } }
                        @for tag in &state.tags {
                            tr {
                                td { "#" (tag.tag) }
                                td { @match &tag.actor { Some(actor) => (actor), None => "not found" } }
                                td { (tag.state) }
                            }
                        }
                    }
                }
                form method="post" action="/admin/tag-relay/remove" {
                    (csrf_field(viewer))
                    button type="submit" { "Stop using the tag relay" }
                }
            },
        }
        form method="post" action="/admin/tag-relay" {
            (csrf_field(viewer))
            label { "Tag relay's address (its base URL; naming it again retries the follows it did not accept) "
                input type="url" name="address" required value=(tag_relay.map(|s| s.tag_relay.as_str()).unwrap_or_default());
            }
            button type="submit" { "Use this tag relay" }
        }
    }
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
    if !viewer.administers() {
        return not_found(&site, &viewer);
    }
    let Some(address) = http_url(&form.address) else {
        return unprocessable(
            &site,
            &viewer,
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
        Ok(back(PAGE))
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
    if !viewer.administers() {
        return not_found(&site, &viewer);
    }
    let result = async {
        if let Ok(address) = url::Url::parse(&form.address) {
            site.instance.remove_relay(&address).await?;
        }
        Ok(back(PAGE))
    }
    .await;
    page_or_error(&site, result)
}

/// The form limiting a relay to some tags.
#[derive(Debug, Deserialize)]
pub(crate) struct TagsForm {
    address: String,
    #[serde(default)]
    tags: String,
}

/// `POST /admin/relays/tags`: limits what the pod sends a Mastodon-style relay to its public
/// posts with one of the tags given (separated by commas or spaces, with or without `#`), or
/// with none sends it every public post again. A name that is not a tag, too many tags or a
/// LitePub relay: `422`, nothing changed.
pub(crate) async fn limit_tags(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<TagsForm>,
) -> Response {
    if !viewer.administers() {
        return not_found(&site, &viewer);
    }
    let given: Vec<String> = form
        .tags
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect();
    let tags = if given.is_empty() {
        None
    } else {
        match relay_tags(&given) {
            Ok(tags) => Some(tags),
            Err(error) => {
                return unprocessable(&site, &viewer, "Not those tags", &format!("{error}."));
            }
        }
    };
    let relay = match (url::Url::parse(&form.address), site.instance.relays().await) {
        (Ok(address), Ok(relays)) => relays
            .into_iter()
            .find(|r| r.address == address.as_str())
            .map(|relay| (address, relay)),
        (_, Err(error)) => return page_or_error(&site, Err(error)),
        (Err(_), _) => None,
    };
    let Some((address, relay)) = relay else {
        return unprocessable(&site, &viewer, "No such relay", "There is no such relay.");
    };
    if relay.kind != RelayKind::Mastodon {
        return unprocessable(
            &site,
            &viewer,
            "Not a Mastodon-style relay",
            "A LitePub relay announces what others send it: the pod sends it nothing to limit.",
        );
    }
    let result = async {
        site.instance
            .set_relay_tags(&address, tags.as_deref())
            .await?;
        Ok(back(PAGE))
    }
    .await;
    page_or_error(&site, result)
}

/// The form naming the tag relay.
#[derive(Debug, Deserialize)]
pub(crate) struct TagRelayForm {
    address: String,
}

/// `POST /admin/tag-relay`: names the tag relay (its base URL), or names it again: the pod
/// subscribes to it and follows the actors of the tags followed here (looked up now;
/// [`crate::Instance::set_tag_relay`]). What it is sent is left as chosen.
pub(crate) async fn name_tag_relay(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<TagRelayForm>,
) -> Response {
    if !viewer.administers() {
        return not_found(&site, &viewer);
    }
    let Some(base) = http_url(&form.address) else {
        return unprocessable(
            &site,
            &viewer,
            "Not an address",
            "A tag relay's address is an http(s) URL.",
        );
    };
    let result = async {
        site.instance.set_tag_relay(&base).await?;
        Ok(back(PAGE))
    }
    .await;
    page_or_error(&site, result)
}

/// A form with no field but its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct NoFields {}

/// `POST /admin/tag-relay/remove`: stops using the tag relay
/// ([`crate::Instance::remove_tag_relay`]); the posts it brought stay.
pub(crate) async fn remove_tag_relay(
    State(site): State<Site>,
    viewer: Viewer,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    if !viewer.administers() {
        return not_found(&site, &viewer);
    }
    let result = async {
        site.instance.remove_tag_relay().await?;
        Ok(back(PAGE))
    }
    .await;
    page_or_error(&site, result)
}

/// `text` as an http(s) URL with a host.
fn http_url(text: &str) -> Option<url::Url> {
    url::Url::parse(text.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
}
