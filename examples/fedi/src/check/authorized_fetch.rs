//! The authorized-fetch checks, run when the server requires signed fetches (it says so with
//! `--authorized-fetch`, or it refused an unsigned GET of the actor).

use http::StatusCode;
use http_signatures::Standard;
use serde_json::Value;
use url::Url;

use super::context::ACCEPT_ACTIVITY_JSON;
use super::{Ctx, Report};

const IDS: &[&str] = &[
    "authorized-fetch.refuses-unsigned",
    "authorized-fetch.accepts-signed",
];

/// Runs the authorized-fetch checks.
pub(super) async fn run(ctx: &mut Ctx, report: &mut Report) {
    if !ctx.authorized_fetch {
        report.skip_all(
            IDS,
            "the server does not require signed fetches (it answered an unsigned GET of the \
             actor; pass --authorized-fetch if it claims to)",
        );
        return;
    }
    let Some(actor) = ctx.actor_url.clone() else {
        report.skip_all(IDS, "no actor to fetch");
        return;
    };
    // The outbox rather than the actor: some servers (ours among them) serve actors unsigned
    // even in this mode, so that peers can read the keys they need to verify signed fetches.
    let outbox = ctx
        .actor
        .as_ref()
        .and_then(|a| a.document.get("outbox"))
        .and_then(Value::as_str)
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| actor.clone());
    let result = match ctx.probe.get(&outbox, ACCEPT_ACTIVITY_JSON, None).await {
        Ok(answer)
            if matches!(
                answer.status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            ) =>
        {
            Ok(())
        }
        Ok(answer) => Err(format!("an unsigned GET: {}", answer.summary())),
        Err(error) => Err(crate::net::explain(&error)),
    };
    report.check("authorized-fetch.refuses-unsigned", result);
    let Some(signer) = ctx.signer(Standard::Cavage) else {
        let reason = ctx
            .cannot_reach_back()
            .unwrap_or_else(|| "fedi's actor is not running".to_owned());
        report.skip("authorized-fetch.accepts-signed", reason);
        return;
    };
    let result = match ctx
        .probe
        .get(&actor, ACCEPT_ACTIVITY_JSON, Some(&signer))
        .await
    {
        Ok(answer) if answer.status.is_success() => Ok(()),
        Ok(answer) => Err(format!(
            "a GET signed by {} (draft-cavage): {}",
            signer.key_id,
            answer.summary()
        )),
        Err(error) => Err(crate::net::explain(&error)),
    };
    report.check("authorized-fetch.accepts-signed", result);
}
