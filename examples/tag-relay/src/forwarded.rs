//! Posts a subscriber forwards (a Mastodon-style relay subscribed to this one passing on its
//! subscribers' `Create`s): signed over HTTP by the subscriber, not by the author, which the
//! federation inbox refuses. A layer in front of `/inbox` takes such a delivery when the
//! signer is a subscriber's actor, checks that signature (`federation::relayed::Forwarded`),
//! and believes the post only from its author's LD signature or its own server
//! (`federation::relayed::verify_create`), as the pod does with what relays forward: a forged
//! signature is answered `401` and nothing is relayed.

use activitypub_core::Iri;
use anyhow::Result;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use federation::inbox::InboxConfig;
use federation::relayed::Forwarded;
use http::{Method, StatusCode};
use instance_server::WithParts as _;
use serde_json::Value;
use tracing::{info, warn};

use crate::app::{Relay, Relayed};
use crate::ingest::actor_of;

/// The state of [`intercept`]: the relay and its inbox's configuration.
#[derive(Debug, Clone)]
pub(crate) struct ForwardInbox {
    pub(crate) relay: Relay,
    pub(crate) config: InboxConfig,
}

fn status(code: StatusCode, text: &'static str) -> Response {
    (code, text).into_response()
}

/// Before the federation inbox: a POST to the shared inbox signed by a subscriber's actor for
/// an activity whose actor is on another server is handled here; everything else goes on.
pub(crate) async fn intercept(
    State(inbox): State<ForwardInbox>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || request.uri().path() != "/inbox" {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, inbox.config.max_body_bytes).await else {
        return status(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    };
    let request = http::Request::from_parts(parts, bytes);
    match forwarded(&inbox, &request).await {
        Ok(Some(response)) => response,
        Ok(None) => {
            let (parts, bytes) = request.into_parts();
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(error) => {
            warn!(%error, "handling a forwarded activity");
            status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "forwarded activity failed",
            )
        }
    }
}

/// The answer to a forwarded delivery, `None` when it is not one from a subscriber.
async fn forwarded(
    inbox: &ForwardInbox,
    request: &http::Request<axum::body::Bytes>,
) -> Result<Option<Response>> {
    let relay = &inbox.relay;
    let Some(forwarded) = Forwarded::read(request, &inbox.config) else {
        return Ok(None);
    };
    let Ok(signer) = Iri::parse(forwarded.key_id()) else {
        return Ok(None);
    };
    let Some(subscriber) = relay.subscriber_of(&signer).await? else {
        return Ok(None);
    };
    let mut budget = inbox.config.fetch_budget.renewed();
    let key = match forwarded
        .verify(&inbox.config, relay.keys(), &mut budget)
        .await
    {
        Ok(key) => key,
        Err(error) => {
            info!(key_id = %signer, %error, "a forwarded delivery refused");
            return Ok(Some(status(StatusCode::UNAUTHORIZED, "signature")));
        }
    };
    if key.owner.as_str() != subscriber {
        info!(key_id = %signer, owner = %key.owner, "a forward not signed by the subscriber");
        return Ok(Some(status(StatusCode::UNAUTHORIZED, "signature")));
    }
    let activity = forwarded.activity();
    if activity.get("type").and_then(Value::as_str) != Some("Create") {
        return Ok(Some(status(StatusCode::ACCEPTED, "ignored")));
    }
    if let Some(actor) = actor_of(activity)
        && relay.state().is_blocked(None, actor.as_str()).await?
    {
        return Ok(Some(status(StatusCode::UNAUTHORIZED, "blocked here")));
    }
    Ok(Some(match relay.on_forwarded_create(activity).await? {
        Ok(Relayed::Announced(_)) => status(StatusCode::ACCEPTED, "relayed"),
        Ok(Relayed::Dropped(why)) => {
            info!(subscriber, why, "a forwarded post not relayed");
            status(StatusCode::ACCEPTED, "not relayed")
        }
        Err(error) => {
            warn!(subscriber, %error, "a forwarded post refused");
            status(StatusCode::UNAUTHORIZED, error.reason())
        }
    }))
}
