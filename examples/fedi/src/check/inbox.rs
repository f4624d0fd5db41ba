//! The inbox checks, with `fedi`'s ephemeral actor as the sender: what the inbox must refuse
//! (unsigned, a body that does not match its digest, an old date, another actor's key) and
//! what it must accept (a Follow, answered with a signed Accept; both signature standards;
//! Ed25519).
//!
//! The refusals are only meaningful next to an acceptance: a server that cannot fetch `fedi`'s
//! key refuses everything. So they run only after `inbox.follow-accept` passed, each with the
//! standard that worked there, and differ from that accepted request in one thing only.

use std::time::{Duration, SystemTime};

use http_signatures::{Signer, Standard};
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use super::{Ctx, Report};
use crate::actor::Ephemeral;
use crate::deliver::{ACTIVITY_JSON, Delivery, Signing, deliver};
use crate::field;
use crate::probe::{Answer, post_request};

const IDS: &[&str] = &[
    "inbox.refuses-unsigned",
    "inbox.follow-accept",
    "inbox.refuses-digest-mismatch",
    "inbox.refuses-expired-date",
    "inbox.refuses-foreign-key",
    "inbox.cavage",
    "inbox.rfc9421",
    "inbox.ed25519",
];

const REFUSALS: &[&str] = &[
    "inbox.refuses-digest-mismatch",
    "inbox.refuses-expired-date",
    "inbox.refuses-foreign-key",
];

/// Runs the inbox checks.
pub(super) async fn run(ctx: &mut Ctx, report: &mut Report) {
    if !IDS.iter().any(|id| report.wants(id)) {
        return;
    }
    let Some(actor) = ctx.actor.clone() else {
        let reason = ctx
            .actor_error
            .clone()
            .unwrap_or_else(|| "no actor".to_owned());
        report.skip_all(IDS, &reason);
        return;
    };
    let Some(inbox) = actor
        .document
        .get("inbox")
        .and_then(Value::as_str)
        .and_then(|u| Url::parse(u).ok())
    else {
        report.skip_all(IDS, "the actor has no inbox");
        return;
    };
    let target = actor.answer.url.clone();
    let Some(ephemeral) = ctx.ephemeral.as_ref() else {
        report.skip_all(
            IDS,
            &ctx.cannot_reach_back()
                .unwrap_or_else(|| "fedi's actor is not running".to_owned()),
        );
        return;
    };

    // Unsigned: needs nothing of fedi's actor.
    if report.wants("inbox.refuses-unsigned") {
        let follow = ephemeral.follow_activity(ephemeral.main(), &target);
        let result = refused(ctx, &inbox, body(&follow), None, SystemTime::now()).await;
        report.check("inbox.refuses-unsigned", result);
    }
    if let Some(reason) = ctx.cannot_reach_back() {
        report.skip_all(IDS, &reason);
        return;
    }

    // The acceptance every refusal is compared with. draft-cavage first: every server that
    // verifies signatures takes it (RFC 9421 has its own check).
    let signing = Signing::DoubleKnock {
        base: ephemeral.main().rsa_signer(Standard::Cavage),
        first: Standard::Cavage,
    };
    let accepted = match ephemeral.follow(&target, &inbox, &signing).await {
        Ok((id, delivery)) if delivery.answer.status.is_success() => {
            let outcome = wait_for_accept(ephemeral, &id, ctx.wait).await;
            report.check("inbox.follow-accept", outcome);
            Some(delivery.standard)
        }
        Ok((_, delivery)) => {
            report.check(
                "inbox.follow-accept",
                Err(format!(
                    "{}\n{}",
                    describe(&delivery),
                    what_the_server_fetched(ephemeral)
                )),
            );
            None
        }
        Err(error) => {
            report.check("inbox.follow-accept", Err(crate::net::explain(&error)));
            None
        }
    };

    for (id, signer) in [
        (
            "inbox.cavage",
            ephemeral.main().rsa_signer(Standard::Cavage),
        ),
        (
            "inbox.rfc9421",
            ephemeral.main().rsa_signer(Standard::Rfc9421),
        ),
    ] {
        if report.wants(id) {
            let result = accepts(ctx, ephemeral, &target, &inbox, &[signer]).await;
            report.check(id, result);
        }
    }
    if report.wants("inbox.ed25519") {
        let signers = [
            ephemeral.main().ed25519_signer(Standard::Rfc9421),
            ephemeral.main().ed25519_signer(Standard::Cavage),
        ];
        let result = accepts(ctx, ephemeral, &target, &inbox, &signers).await;
        report.check("inbox.ed25519", result);
    }

    let Some(standard) = accepted else {
        report.skip_all(
            REFUSALS,
            "a correctly signed Follow was not accepted (inbox.follow-accept), so a refusal \
             would prove nothing",
        );
        return;
    };
    let signer = ephemeral.main().rsa_signer(standard);

    if report.wants("inbox.refuses-digest-mismatch") {
        let follow = ephemeral.follow_activity(ephemeral.main(), &target);
        let result = match post_request(
            &inbox,
            ACTIVITY_JSON,
            body(&follow),
            Some(&signer),
            SystemTime::now(),
        ) {
            Ok((mut request, _)) => {
                // The signed digest is of the first body; another Follow is sent in its place.
                let other = ephemeral.follow_activity(ephemeral.main(), &target);
                *request.body_mut() = body(&other);
                match ctx.probe.send(request).await {
                    Ok(answer) => expect_refusal(&answer, "a body that does not match its digest"),
                    Err(error) => Err(crate::net::explain(&error)),
                }
            }
            Err(error) => Err(format!("{error:#}")),
        };
        report.check("inbox.refuses-digest-mismatch", result);
    }
    if report.wants("inbox.refuses-expired-date") {
        let follow = ephemeral.follow_activity(ephemeral.main(), &target);
        let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
        let result = refused(ctx, &inbox, body(&follow), Some(&signer), two_hours_ago).await;
        report.check("inbox.refuses-expired-date", result);
    }
    if report.wants("inbox.refuses-foreign-key") {
        // `other`'s Follow, signed with `main`'s key.
        let follow = ephemeral.follow_activity(ephemeral.other(), &target);
        let result = refused(ctx, &inbox, body(&follow), Some(&signer), SystemTime::now()).await;
        report.check("inbox.refuses-foreign-key", result);
    }
}

fn body(activity: &Value) -> Vec<u8> {
    serde_json::to_vec(activity).unwrap_or_default()
}

/// POSTs `body` (signed by `signer` at `at`, when given); passes when refused with a 4xx.
async fn refused(
    ctx: &Ctx,
    inbox: &Url,
    body: Vec<u8>,
    signer: Option<&Signer>,
    at: SystemTime,
) -> Result<(), String> {
    match ctx.probe.post(inbox, ACTIVITY_JSON, body, signer, at).await {
        Ok((answer, signing_string)) => {
            expect_refusal(&answer, "").map_err(|evidence| match signing_string {
                Some(s) => format!("{evidence}\nsigning string:\n{s}"),
                None => evidence,
            })
        }
        Err(error) => Err(crate::net::explain(&error)),
    }
}

fn expect_refusal(answer: &Answer, what: &str) -> Result<(), String> {
    if answer.status.is_client_error() {
        Ok(())
    } else {
        let what = if what.is_empty() {
            String::new()
        } else {
            format!("{what}: ")
        };
        Err(format!("{what}{}", answer.summary()))
    }
}

/// Sends a new Follow signed by each of `signers` in turn; passes at the first 2xx.
async fn accepts(
    ctx: &Ctx,
    ephemeral: &Ephemeral,
    target: &Url,
    inbox: &Url,
    signers: &[Signer],
) -> Result<(), String> {
    let mut refusals = Vec::new();
    for signer in signers {
        let follow = ephemeral.follow_activity(ephemeral.main(), target);
        match deliver(
            &ctx.probe,
            inbox,
            &body(&follow),
            &Signing::One(signer.clone()),
        )
        .await
        {
            Ok(delivery) if delivery.answer.status.is_success() => return Ok(()),
            Ok(delivery) => refusals.push(describe(&delivery)),
            Err(error) => refusals.push(crate::net::explain(&error)),
        }
    }
    Err(refusals.join("\n"))
}

/// A refused delivery, for evidence.
fn describe(delivery: &Delivery) -> String {
    let mut out = String::new();
    for knock in &delivery.knocks {
        out.push_str(&format!(
            "{}: {}\n",
            knock.standard.name(),
            knock.answer.summary()
        ));
    }
    out.push_str(&format!(
        "{}: {}",
        delivery.standard.name(),
        delivery.answer.summary()
    ));
    out
}

/// Waits for the Accept of the Follow `id`; the evidence when none comes.
async fn wait_for_accept(ephemeral: &Ephemeral, id: &Url, wait: Duration) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    let id = id.as_str();
    let found = ephemeral
        .events()
        .wait_for(deadline, |e| {
            e["event"] == "received"
                && (e["type"] == "Accept" || e["type"] == "Reject")
                && e["object_id"] == id
        })
        .await;
    match found {
        Some(event) if crate::field(&event, "type") == "Accept" => Ok(()),
        Some(event) => Err(format!("the server rejected the Follow: {event}")),
        None => {
            let refused: Vec<String> = ephemeral
                .events()
                .snapshot()
                .into_iter()
                .filter(|e| e["event"] == "inbox" && e["outcome"] == "rejected")
                .map(|e| {
                    format!(
                        "fedi's inbox refused a {} from {}: {}",
                        field(&e, "activity_type"),
                        field(&e, "actor"),
                        field(&e, "reason")
                    )
                })
                .collect();
            Err(format!(
                "no signed Accept of {id} reached fedi's inbox within {wait:?} (--wait)\n{}{}",
                what_the_server_fetched(ephemeral),
                if refused.is_empty() {
                    String::new()
                } else {
                    format!("\n{}", refused.join("\n"))
                }
            ))
        }
    }
}

/// What the server fetched from fedi's actor so far, for evidence.
fn what_the_server_fetched(ephemeral: &Ephemeral) -> String {
    let fetched: Vec<String> = ephemeral
        .events()
        .snapshot()
        .into_iter()
        .filter(|e| e["event"] == "request")
        .map(|e| {
            format!(
                "{} {} → {}",
                field(&e, "method"),
                field(&e, "target"),
                field(&e, "status")
            )
        })
        .collect();
    if fetched.is_empty() {
        "the server fetched nothing from fedi's actor (not its key either)".to_owned()
    } else {
        format!(
            "the server fetched from fedi's actor: {}",
            fetched.join(", ")
        )
    }
}
