//! The checks of the actor document: both media types, the required members, `id` equal to
//! its URL, the key (`owner`, a PEM that parses) and the collections.

use activitypub_core::origin::Origin;
use activitypub_core::{AnyObject, Iri, Limits, Received};
use federation::fetch::is_activitypub_media_type;
use http_signatures::VerifyingKey;
use serde_json::Value;
use url::Url;
use webfinger::fetch::media_type_essence;

use super::context::{ACCEPT_ACTIVITY_JSON, LoadedActor};
use super::{Ctx, Report};
use crate::probe::Answer;

const IDS: &[&str] = &[
    "actor.activity-json",
    "actor.ld-json",
    "actor.id-matches-url",
    "actor.required",
    "actor.key-owner",
    "actor.key-pem",
    "actor.collections",
];

const ACCEPT_LD_JSON: &str =
    r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#;

/// Runs the actor checks.
pub(super) async fn run(ctx: &mut Ctx, report: &mut Report) {
    if ctx.actor_url.is_none() {
        ctx.actor_url = ctx.instance_actor.clone();
    }
    ctx.load_actor().await;
    let Some(actor) = ctx.actor.clone() else {
        let reason = ctx
            .actor_error
            .clone()
            .unwrap_or_else(|| "no actor".to_owned());
        if reason.starts_with("the actor cannot be had") {
            report.check("actor.activity-json", Err(reason.clone()));
        }
        report.skip_all(IDS, &reason);
        return;
    };
    let content_type = actor.answer.header("content-type").unwrap_or_default();
    report.check(
        "actor.activity-json",
        if media_type_essence(content_type) == "application/activity+json" {
            Ok(())
        } else {
            Err(format!(
                "{} answered with content type {content_type:?}",
                actor.answer.url
            ))
        },
    );
    let ld = match ctx.get_activitypub(&actor.url, ACCEPT_LD_JSON).await {
        Ok((answer, _)) => served_as_activitypub(&answer).and_then(|()| {
            if answer.json().and_then(|d| d.get("id").cloned()) != actor.document.get("id").cloned()
            {
                Err(format!("not the same document: {}", answer.body_excerpt()))
            } else {
                Ok(())
            }
        }),
        Err(error) => Err(crate::net::explain(&error)),
    };
    report.check("actor.ld-json", ld);
    let id = actor
        .document
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    report.check(
        "actor.id-matches-url",
        if id == actor.answer.url.as_str() {
            Ok(())
        } else {
            Err(format!(
                "the id is {id:?}, the document was served from {}",
                actor.answer.url
            ))
        },
    );
    report.check("actor.required", required(&actor));
    let (owner, pem) = key(&actor);
    report.check("actor.key-owner", owner);
    report.check("actor.key-pem", pem);
    let collections = collections(ctx, &actor).await;
    report.check("actor.collections", collections);
}

/// `id`, an actor type, `inbox`, `outbox`.
fn required(actor: &LoadedActor) -> Result<(), String> {
    let parsed = Received::parse(actor.answer.body.clone(), &Limits::DEFAULT)
        .map_err(|error| format!("the document cannot be read: {error}"))?;
    let mut missing = Vec::new();
    if !matches!(parsed.object(), AnyObject::Actor(_)) {
        missing.push(format!(
            "type {:?} is not an actor type",
            parsed.object().type_name()
        ));
    }
    for name in ["id", "inbox", "outbox"] {
        match actor.document.get(name).and_then(Value::as_str) {
            Some(value) if Url::parse(value).is_ok() => {}
            Some(value) => missing.push(format!("{name} {value:?} is not a URL")),
            None => missing.push(format!("{name} is missing")),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("; "))
    }
}

/// The `publicKey` entries' `owner`, and their PEMs.
fn key(actor: &LoadedActor) -> (Result<(), String>, Result<(), String>) {
    let keys: Vec<&Value> = match actor.document.get("publicKey") {
        Some(Value::Array(keys)) => keys.iter().collect(),
        Some(key @ Value::Object(_)) => vec![key],
        Some(other) => {
            let evidence = format!("publicKey is {other}, not an object");
            return (Err(evidence.clone()), Err(evidence));
        }
        None => {
            let evidence = "the actor has no publicKey".to_owned();
            return (Err(evidence.clone()), Err(evidence));
        }
    };
    let id = actor
        .document
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let actor_origin = Iri::parse(id).ok().and_then(|iri| Origin::of(&iri));
    let mut owners = Vec::new();
    let mut pems = Vec::new();
    for key in keys {
        let key_id = key.get("id").and_then(Value::as_str).unwrap_or("(no id)");
        match key.get("owner").and_then(Value::as_str) {
            Some(owner) if owner == id => {}
            Some(owner) => owners.push(format!(
                "key {key_id}: owner {owner:?}, the actor is {id:?}"
            )),
            None => owners.push(format!("key {key_id}: no owner")),
        }
        let key_origin = Iri::parse(key_id).ok().and_then(|iri| Origin::of(&iri));
        if key_origin.is_none() || key_origin != actor_origin {
            owners.push(format!("key {key_id}: not on the actor's origin"));
        }
        match key.get("publicKeyPem").and_then(Value::as_str) {
            Some(pem) => {
                if let Err(error) = VerifyingKey::from_pem(pem) {
                    pems.push(format!("key {key_id}: the PEM does not parse: {error}"));
                }
            }
            None => pems.push(format!("key {key_id}: no publicKeyPem")),
        }
    }
    let result = |problems: Vec<String>| {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    };
    (result(owners), result(pems))
}

/// Each collection the actor names (`outbox` must be there): a collection, and its `first`
/// page, when it names one, a page.
async fn collections(ctx: &mut Ctx, actor: &LoadedActor) -> Result<(), String> {
    let mut problems = Vec::new();
    for name in ["outbox", "followers", "following"] {
        let Some(url) = actor.document.get(name).and_then(Value::as_str) else {
            if name == "outbox" {
                problems.push("outbox: missing".to_owned());
            }
            continue;
        };
        let Ok(url) = Url::parse(url) else {
            problems.push(format!("{name}: {url:?} is not a URL"));
            continue;
        };
        let collection = match fetch_json(ctx, &url).await {
            Ok(collection) => collection,
            Err(evidence) => {
                problems.push(format!("{name}: {evidence}"));
                continue;
            }
        };
        let kind = collection
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !matches!(kind, "Collection" | "OrderedCollection") {
            problems.push(format!("{name}: type {kind:?} is not a collection"));
            continue;
        }
        let page = match collection.get("first") {
            None => continue,
            Some(Value::String(first)) => match Url::parse(first) {
                Ok(first) => match fetch_json(ctx, &first).await {
                    Ok(page) => page,
                    Err(evidence) => {
                        problems.push(format!("{name}: its first page: {evidence}"));
                        continue;
                    }
                },
                Err(_) => {
                    problems.push(format!("{name}: first {first:?} is not a URL"));
                    continue;
                }
            },
            Some(page) => page.clone(),
        };
        let kind = page.get("type").and_then(Value::as_str).unwrap_or_default();
        if !matches!(kind, "CollectionPage" | "OrderedCollectionPage") {
            problems.push(format!(
                "{name}: its first page has type {kind:?}, not a page"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// GETs an ActivityPub document (signed when the server requires it) and reads its JSON.
async fn fetch_json(ctx: &mut Ctx, url: &Url) -> Result<Value, String> {
    match ctx.get_activitypub(url, ACCEPT_ACTIVITY_JSON).await {
        Ok((answer, _)) => served_as_activitypub(&answer)
            .and_then(|()| answer.json().ok_or_else(|| answer.summary())),
        Err(error) => Err(crate::net::explain(&error)),
    }
}

/// Whether `answer` is a success with an ActivityPub media type; what is wrong when it is not.
fn served_as_activitypub(answer: &Answer) -> Result<(), String> {
    let content_type = answer.header("content-type").unwrap_or_default();
    if !answer.status.is_success() {
        Err(answer.summary())
    } else if !is_activitypub_media_type(content_type) {
        Err(format!(
            "{} answered with content type {content_type:?}",
            answer.url
        ))
    } else {
        Ok(())
    }
}
