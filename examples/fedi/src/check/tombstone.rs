//! The check of deleted objects: `410 Gone` with a `Tombstone`.

use http::StatusCode;
use serde_json::Value;
use url::Url;

use super::context::ACCEPT_ACTIVITY_JSON;
use super::{Ctx, Report};

/// Runs the tombstone check on `deleted`, the URL of an object the server deleted.
pub(super) async fn run(ctx: &mut Ctx, report: &mut Report, deleted: Option<&Url>) {
    let Some(deleted) = deleted else {
        report.skip(
            "tombstone.gone",
            "no deleted object to ask for: pass --deleted URL",
        );
        return;
    };
    let result = match ctx.get_activitypub(deleted, ACCEPT_ACTIVITY_JSON).await {
        Ok((answer, _)) if answer.status == StatusCode::GONE => {
            match answer
                .json()
                .as_ref()
                .and_then(|d| d.get("type"))
                .and_then(Value::as_str)
            {
                Some("Tombstone") => Ok(()),
                _ => Err(format!("410 Gone, but no Tombstone: {}", answer.summary())),
            }
        }
        Ok((answer, _)) => Err(answer.summary()),
        Err(error) => Err(crate::net::explain(&error)),
    };
    report.check("tombstone.gone", result);
}
