//! The WebFinger checks: the `acct:` resource and the actor's URL as resources, the subject,
//! the `self` link, the content type and CORS.

use federation::fetch::is_activitypub_media_type;
use serde_json::Value;
use url::Url;
use webfinger::fetch::media_type_essence;
use webfinger::{AcctUri, Resource};

use super::{Ctx, Report};

const IDS: &[&str] = &[
    "webfinger.acct",
    "webfinger.content-type",
    "webfinger.cors",
    "webfinger.subject",
    "webfinger.self-link",
    "webfinger.url-resource",
];

const ACCEPT_JRD: &str = "application/jrd+json, application/json;q=0.9";

/// Runs the WebFinger checks; for a handle, learns the actor's URL from the `self` link.
pub(super) async fn run(ctx: &mut Ctx, report: &mut Report) {
    if ctx.acct.is_none() {
        if ctx.actor_url.is_none() {
            ctx.actor_url = ctx.instance_actor.clone();
        }
        ctx.load_actor().await;
        let name = ctx
            .actor
            .as_ref()
            .and_then(|actor| actor.document.get("preferredUsername"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(name) = name {
            ctx.acct = AcctUri::new(name, ctx.host.clone()).ok();
        }
    }
    let Some(acct) = ctx.acct.clone() else {
        let reason = match &ctx.actor_error {
            Some(error) => format!("no account to look up: {error}"),
            None => "no account to look up: the actor has no preferredUsername".to_owned(),
        };
        report.skip_all(IDS, &reason);
        return;
    };
    let resource = Resource::Acct(acct.clone());
    let answer = match ctx
        .get_from_host(&resource.webfinger_path_and_query(&[]), ACCEPT_JRD)
        .await
    {
        Ok(answer) => answer,
        Err(error) => {
            report.check("webfinger.acct", Err(crate::net::explain(&error)));
            report.skip_all(IDS, "WebFinger did not answer the acct: resource");
            return;
        }
    };
    let jrd = match answer.json() {
        Some(jrd) if answer.status.is_success() && jrd.is_object() => jrd,
        _ => {
            report.check("webfinger.acct", Err(answer.summary()));
            report.skip_all(
                IDS,
                "WebFinger did not answer the acct: resource with a JRD",
            );
            return;
        }
    };
    report.check("webfinger.acct", Ok(()));
    let content_type = answer.header("content-type").unwrap_or_default();
    report.check(
        "webfinger.content-type",
        if media_type_essence(content_type) == "application/jrd+json" {
            Ok(())
        } else {
            Err(format!(
                "{} answered with content type {content_type:?}",
                answer.url
            ))
        },
    );
    report.check("webfinger.cors", cors(&answer));
    let subject = jrd
        .get("subject")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let same = Resource::from_user_input(subject)
        .ok()
        .and_then(|s| s.as_acct().map(|s| s.same_account(&acct)))
        .unwrap_or(false);
    report.check(
        "webfinger.subject",
        if same {
            Ok(())
        } else {
            Err(format!("asked for {resource}, the subject is {subject:?}"))
        },
    );
    let link = self_link(&jrd);
    match (&link, &ctx.actor_url) {
        (Ok(link), Some(actor)) if link != actor => report.check(
            "webfinger.self-link",
            Err(format!(
                "the self link names {link}, the actor checked is {actor}"
            )),
        ),
        (Ok(link), _) => {
            report.check("webfinger.self-link", Ok(()));
            ctx.actor_url = Some(link.clone());
        }
        (Err(evidence), _) => report.check("webfinger.self-link", Err(evidence.clone())),
    }
    let Some(actor) = ctx.actor_url.clone() else {
        report.skip("webfinger.url-resource", "no actor URL is known");
        return;
    };
    let by_url = Resource::Uri(actor.clone());
    let result = match ctx
        .get_from_host(&by_url.webfinger_path_and_query(&[]), ACCEPT_JRD)
        .await
    {
        Ok(answer) => match answer.json() {
            Some(jrd) if answer.status.is_success() => match self_link(&jrd) {
                Ok(link) if link == actor => Ok(()),
                Ok(link) => Err(format!("asked for {actor}, the self link names {link}")),
                Err(evidence) => Err(evidence),
            },
            _ => Err(answer.summary()),
        },
        Err(error) => Err(crate::net::explain(&error)),
    };
    report.check("webfinger.url-resource", result);
}

/// `Access-Control-Allow-Origin: *`.
fn cors(answer: &crate::probe::Answer) -> Result<(), String> {
    match answer.header("access-control-allow-origin") {
        Some("*") => Ok(()),
        Some(other) => Err(format!(
            "Access-Control-Allow-Origin is {other:?}, not \"*\": a web client on another origin cannot read it"
        )),
        None => Err(format!(
            "{} answered without Access-Control-Allow-Origin",
            answer.url
        )),
    }
}

/// The `href` of the `self` link with an ActivityPub type.
fn self_link(jrd: &Value) -> Result<Url, String> {
    let links = jrd
        .get("links")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let selves: Vec<&Value> = links.iter().filter(|l| l["rel"] == "self").collect();
    let found = selves.iter().find(|link| {
        link.get("type")
            .and_then(Value::as_str)
            .is_some_and(is_activitypub_media_type)
    });
    match found {
        Some(link) => {
            let href = link.get("href").and_then(Value::as_str).unwrap_or_default();
            Url::parse(href).map_err(|_| format!("the self link's href {href:?} is not a URL"))
        }
        None if selves.is_empty() => Err("the JRD has no self link".to_owned()),
        None => Err(format!(
            "no self link has an ActivityPub type: {}",
            Value::Array(selves.into_iter().cloned().collect())
        )),
    }
}
