//! The NodeInfo checks: discovery, and the document against the schema of its version (the
//! `nodeinfo` crate's `schema_violations`).

use nodeinfo::{DiscoveryDocument, schema_violations};

use super::{Ctx, Report};

const ACCEPT_JSON: &str = "application/json";

/// Runs the NodeInfo checks; learns the instance actor (FEP-2677).
pub(super) async fn run(ctx: &mut Ctx, report: &mut Report) {
    let answer = match ctx
        .get_from_host("/.well-known/nodeinfo", ACCEPT_JSON)
        .await
    {
        Ok(answer) => answer,
        Err(error) => {
            report.check("nodeinfo.discovery", Err(crate::net::explain(&error)));
            report.skip("nodeinfo.schema", "NodeInfo discovery failed");
            return;
        }
    };
    let discovery = match DiscoveryDocument::from_slice(&answer.body) {
        Ok(document) if answer.status.is_success() => document,
        Ok(_) => {
            report.check("nodeinfo.discovery", Err(answer.summary()));
            report.skip("nodeinfo.schema", "NodeInfo discovery failed");
            return;
        }
        Err(error) => {
            report.check(
                "nodeinfo.discovery",
                Err(format!(
                    "not a discovery document ({error}): {}",
                    answer.summary()
                )),
            );
            report.skip("nodeinfo.schema", "NodeInfo discovery failed");
            return;
        }
    };
    ctx.instance_actor = discovery.instance_actor();
    let Some((version, url)) = discovery.best_nodeinfo() else {
        report.check(
            "nodeinfo.discovery",
            Err(format!(
                "no link to a NodeInfo schema version this tool knows: {}",
                answer.body_excerpt()
            )),
        );
        report.skip("nodeinfo.schema", "NodeInfo discovery failed");
        return;
    };
    report.check("nodeinfo.discovery", Ok(()));
    let result = match ctx.probe.get(&url, ACCEPT_JSON, None).await {
        Ok(answer) => match answer.json() {
            Some(document) if answer.status.is_success() => {
                let violations = schema_violations(&document, &version);
                if violations.is_empty() {
                    Ok(())
                } else {
                    let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
                    Err(format!(
                        "{url} (linked as {version}):\n{}",
                        lines.join("\n")
                    ))
                }
            }
            _ => Err(answer.summary()),
        },
        Err(error) => Err(crate::net::explain(&error)),
    };
    report.check("nodeinfo.schema", result);
}
