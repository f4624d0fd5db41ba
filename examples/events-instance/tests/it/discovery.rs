//! What peers read to learn about the instance and its people: NodeInfo in each version it
//! links, each valid against its official schema, and WebFinger, each alias once.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use test_peer::fixtures_dir as fixtures;

use crate::support::instance_with_identity;

async fn get(http: &reqwest::Client, url: &str) -> anyhow::Result<(u16, String, Value)> {
    let response = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.bytes().await?;
    Ok((
        status,
        content_type,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_nodeinfo_version_linked_is_served_and_valid() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (running, organizer) = instance_with_identity(dir.path(), "events", "organizer").await?;
    organizer
        .post(json!({"type": "Event", "name": "Ridge walk", "startTime": "2031-10-04T09:00:00Z"}))
        .await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let (status, _, discovery) =
        get(&http, &format!("{}.well-known/nodeinfo", running.base_url)).await?;
    assert_eq!(status, 200);
    let mut versions = Vec::new();
    for link in discovery["links"].as_array().unwrap() {
        let rel = link["rel"].as_str().unwrap();
        let Some(version) = rel.strip_prefix("http://nodeinfo.diaspora.software/ns/schema/") else {
            continue;
        };
        let href = link["href"].as_str().unwrap();
        let (status, content_type, document) = get(&http, href).await?;
        assert_eq!(status, 200, "{href}: {document}");
        assert_eq!(
            content_type,
            format!(
                "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/{version}#\""
            )
        );
        let schema: Value = serde_json::from_slice(&std::fs::read(
            fixtures().join(format!("nodeinfo/schema-{version}.json")),
        )?)?;
        let validator = jsonschema::draft4::new(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{href}: {document}\n{errors:#?}");
        assert_eq!(document["version"], version);
        assert_eq!(document["software"]["name"], "events-instance");
        assert_eq!(
            document["metadata"]["nodeName"], "events",
            "the instance's name"
        );
        assert_eq!(document["usage"]["users"]["total"], 1);
        assert_eq!(document["usage"]["localPosts"], 1);
        versions.push(version.to_owned());
    }
    assert_eq!(versions, ["2.0", "2.1"]);
    running.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webfinger_lists_each_alias_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (running, alice) = instance_with_identity(dir.path(), "events", "alice").await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let host = running.base_url.host_str().unwrap();
    let port = running.base_url.port().unwrap();
    for resource in [format!("acct:alice@{host}:{port}"), alice.actor.clone()] {
        let mut url = running.base_url.join(".well-known/webfinger")?;
        url.query_pairs_mut().append_pair("resource", &resource);
        let (status, content_type, jrd) = get(&http, url.as_str()).await?;
        assert_eq!(status, 200, "{resource}");
        assert_eq!(content_type, "application/jrd+json");
        assert_eq!(jrd["subject"], format!("acct:alice@{host}:{port}"));
        let aliases: Vec<&str> = jrd["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let distinct: BTreeSet<&str> = aliases.iter().copied().collect();
        assert_eq!(aliases.len(), distinct.len(), "{resource}: {aliases:?}");
        assert_eq!(aliases, [alice.actor.as_str()]);
    }
    running.stop().await
}

/// A name NodeInfo cannot carry is refused when the instance starts, not answered with a `500`
/// on `/nodeinfo` afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_name_nodeinfo_cannot_carry_is_refused_at_start() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let options = |name: &str| {
        events_instance::Options::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            dir.path()
                .join("events.sqlite")
                .to_string_lossy()
                .into_owned(),
        )
        .with_name(name)
        .with_danger_allow_private_addresses(true)
    };
    for name in ["two\nlines".to_owned(), "x".repeat(501)] {
        let error = events_instance::start(options(&name))
            .await
            .err()
            .ok_or_else(|| anyhow::anyhow!("{name:?} was accepted"))?;
        let message = format!("{error:#}");
        assert!(message.contains("instance name"), "{message}");
    }
    let running = events_instance::start(options(&"é".repeat(500))).await?;
    running.stop().await?;
    Ok(())
}
