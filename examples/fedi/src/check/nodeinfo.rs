//! The NodeInfo checks: discovery, and the document against the schema of its version.
//!
//! The `nodeinfo` crate reads documents leniently (as servers write them) and checks the
//! schema only when building one to serve, so the schema rules a received document must
//! follow are spelt out here, from the official JSON schemas of versions 1.0 to 2.2
//! (<https://github.com/jhass/nodeinfo/tree/main/schemas>).

use nodeinfo::DiscoveryDocument;
use serde_json::Value;

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
                let violations = schema_violations(&document, version.as_str());
                if violations.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{url} (linked as {version}):\n{}",
                        violations.join("\n")
                    ))
                }
            }
            _ => Err(answer.summary()),
        },
        Err(error) => Err(crate::net::explain(&error)),
    };
    report.check("nodeinfo.schema", result);
}

/// The protocols schema 2.x lists.
const PROTOCOLS_2: &[&str] = &[
    "activitypub",
    "buddycloud",
    "dfrn",
    "diaspora",
    "libertree",
    "ostatus",
    "pumpio",
    "tent",
    "xmpp",
    "zot",
];

/// What in `document` breaks the schema of `version` (empty: valid). Each entry names the
/// member (as a JSON pointer) and the rule.
pub(crate) fn schema_violations(document: &Value, version: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(map) = document.as_object() else {
        return vec!["the document is not a JSON object".to_owned()];
    };
    let v1 = version.starts_with("1.");
    let mut require = |name: &str| {
        if !map.contains_key(name) {
            out.push(format!("/{name}: required, missing"));
        }
    };
    for name in [
        "version",
        "software",
        "protocols",
        "services",
        "openRegistrations",
        "usage",
        "metadata",
    ] {
        require(name);
    }
    match map.get("version").and_then(Value::as_str) {
        Some(found) if found == version => {}
        Some(found) => out.push(format!(
            "/version: {found:?}, but the document is linked as {version}"
        )),
        None if map.contains_key("version") => out.push("/version: not a string".to_owned()),
        None => {}
    }
    if let Some(software) = map.get("software") {
        match software.as_object() {
            None => out.push("/software: not an object".to_owned()),
            Some(software) => {
                match software.get("name").and_then(Value::as_str) {
                    Some(name)
                        if !name.is_empty()
                            && name.chars().all(|c| {
                                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
                            }) => {}
                    Some(name) => out.push(format!(
                        "/software/name: {name:?} does not match ^[a-z0-9-]+$"
                    )),
                    None => out.push("/software/name: required string, missing".to_owned()),
                }
                if !software.get("version").is_some_and(Value::is_string) {
                    out.push("/software/version: required string, missing".to_owned());
                }
                for name in ["repository", "homepage"] {
                    if let Some(value) = software.get(name) {
                        if v1 || version == "2.0" {
                            out.push(format!("/software/{name}: not part of NodeInfo {version}"));
                        } else if !value.is_string() {
                            out.push(format!("/software/{name}: not a string"));
                        }
                    }
                }
            }
        }
    }
    if let Some(protocols) = map.get("protocols") {
        if v1 {
            // 1.x: {"inbound": [...], "outbound": [...]}.
            match protocols.as_object() {
                Some(p) => {
                    for direction in ["inbound", "outbound"] {
                        // The 1.x schemas list other names; only the shape is checked.
                        check_list(
                            &mut out,
                            p.get(direction),
                            &format!("/protocols/{direction}"),
                            None,
                            false,
                        );
                    }
                }
                None => out.push("/protocols: not an object (NodeInfo 1.x)".to_owned()),
            }
        } else {
            check_list(
                &mut out,
                Some(protocols),
                "/protocols",
                Some(PROTOCOLS_2),
                true,
            );
        }
    }
    if let Some(services) = map.get("services") {
        match services.as_object() {
            Some(s) => {
                for direction in ["inbound", "outbound"] {
                    match s.get(direction) {
                        Some(Value::Array(items)) => {
                            if items.iter().any(|i| !i.is_string()) {
                                out.push(format!("/services/{direction}: not a list of strings"));
                            }
                        }
                        Some(_) => out.push(format!("/services/{direction}: not a list")),
                        None => out.push(format!("/services/{direction}: required, missing")),
                    }
                }
            }
            None => out.push("/services: not an object".to_owned()),
        }
    }
    if let Some(open) = map.get("openRegistrations")
        && !open.is_boolean()
    {
        out.push(format!("/openRegistrations: {open}, not a boolean"));
    }
    if let Some(usage) = map.get("usage") {
        match usage.as_object() {
            Some(usage) => {
                match usage.get("users") {
                    Some(Value::Object(users)) => {
                        let mut counts = vec!["total", "activeHalfyear", "activeMonth"];
                        if version == "2.2" {
                            counts.push("activeWeek");
                        }
                        for (name, value) in users {
                            if counts.contains(&name.as_str()) {
                                if value.as_u64().is_none() {
                                    out.push(format!(
                                        "/usage/users/{name}: {value}, not an integer ≥ 0"
                                    ));
                                }
                            } else {
                                out.push(format!(
                                    "/usage/users/{name}: not part of NodeInfo {version}"
                                ));
                            }
                        }
                    }
                    Some(_) => out.push("/usage/users: not an object".to_owned()),
                    None => out.push("/usage/users: required, missing".to_owned()),
                }
                for name in ["localPosts", "localComments"] {
                    if let Some(value) = usage.get(name)
                        && value.as_u64().is_none()
                    {
                        out.push(format!("/usage/{name}: {value}, not an integer ≥ 0"));
                    }
                }
            }
            None => out.push("/usage: not an object".to_owned()),
        }
    }
    if let Some(metadata) = map.get("metadata")
        && !metadata.is_object()
    {
        out.push("/metadata: not an object".to_owned());
    }
    if let Some(instance) = map.get("instance") {
        if version != "2.2" {
            out.push(format!("/instance: not part of NodeInfo {version}"));
        } else if !instance.is_object() {
            out.push("/instance: not an object".to_owned());
        }
    }
    out
}

/// A list of strings from `allowed` (at least one when `non_empty`).
fn check_list(
    out: &mut Vec<String>,
    value: Option<&Value>,
    pointer: &str,
    allowed: Option<&[&str]>,
    non_empty: bool,
) {
    match value {
        Some(Value::Array(items)) => {
            if non_empty && items.is_empty() {
                out.push(format!("{pointer}: empty, the schema wants at least one"));
            }
            for item in items {
                match (item.as_str(), allowed) {
                    (Some(_), None) => {}
                    (Some(name), Some(allowed)) if allowed.contains(&name) => {}
                    (Some(_), Some(_)) => {
                        out.push(format!("{pointer}: {item} is not one the schema lists"));
                    }
                    (None, _) => out.push(format!("{pointer}: {item} is not a string")),
                }
            }
        }
        Some(_) => out.push(format!("{pointer}: not a list")),
        None => out.push(format!("{pointer}: required, missing")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::schema_violations;

    fn valid() -> serde_json::Value {
        json!({
            "version": "2.1",
            "software": {"name": "mobilizon", "version": "5.1.0", "repository": "https://x"},
            "protocols": ["activitypub"],
            "services": {"inbound": [], "outbound": ["atom1.0"]},
            "openRegistrations": true,
            "usage": {"users": {"total": 12, "activeMonth": 3}, "localPosts": 3},
            "metadata": {},
        })
    }

    #[test]
    fn a_valid_document_has_no_violation() {
        assert_eq!(schema_violations(&valid(), "2.1"), Vec::<String>::new());
    }

    #[test]
    fn each_rule_names_its_member() {
        let cases = [
            (
                "/software/name",
                json!({"name": "Mobilizon", "version": "1"}),
            ),
            ("/protocols: empty", json!([])),
            ("/openRegistrations", json!("yes")),
            ("/usage/users/total", json!({"users": {"total": -1}})),
        ];
        for (expected, value) in cases {
            let mut document = valid();
            let member = expected
                .trim_start_matches('/')
                .split(['/', ':'])
                .next()
                .unwrap();
            document[member] = value;
            let violations = schema_violations(&document, "2.1");
            assert!(
                violations.iter().any(|v| v.starts_with(expected)),
                "{expected}: {violations:?}"
            );
        }
        // A member of a later version, and a version that is not the linked one.
        let violations = schema_violations(&valid(), "2.0");
        assert!(
            violations
                .iter()
                .any(|v| v.starts_with("/software/repository")),
            "{violations:?}"
        );
        assert!(
            violations.iter().any(|v| v.starts_with("/version")),
            "{violations:?}"
        );
        let mut missing = valid();
        missing.as_object_mut().unwrap().remove("usage");
        assert_eq!(
            schema_violations(&missing, "2.1"),
            ["/usage: required, missing"]
        );
    }
}
