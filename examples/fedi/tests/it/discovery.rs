//! `fedi webfinger` and `fedi nodeinfo` against a mock server on loopback.

use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn run(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::fedi(&args)
    })
    .await
    .expect("fedi ran")
}

#[tokio::test(flavor = "multi_thread")]
async fn webfinger_resolves_a_handle_to_its_actor() {
    let server = MockServer::start().await;
    let host = server.address().to_string();
    let actor = format!("http://{host}/users/ana");
    Mock::given(method("GET"))
        .and(path("/.well-known/webfinger"))
        .and(query_param("resource", format!("acct:ana@{host}")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/jrd+json")
                .set_body_json(json!({
                    "subject": format!("acct:ana@{host}"),
                    "links": [
                        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": format!("http://{host}/@ana")},
                        {"rel": "self", "type": "application/activity+json", "href": actor}
                    ]
                })),
        )
        .mount(&server)
        .await;

    let output = run(vec![
        "webfinger".into(),
        "--danger-allow-http".into(),
        format!("@ana@{host}"),
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON value");
    assert_eq!(report["actor_id"], actor.as_str(), "{report}");
    assert_eq!(report["subject"], format!("acct:ana@{host}"), "{report}");

    // Without the switch, plain http and loopback are refused.
    let output = run(vec!["webfinger".into(), format!("@ana@{host}")]).await;
    assert!(!output.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn nodeinfo_discovers_then_fetches() {
    let server = MockServer::start().await;
    let host = server.address().to_string();
    Mock::given(method("GET"))
        .and(path("/.well-known/nodeinfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "links": [{
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": format!("http://{host}/nodeinfo/2.1")
            }]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/nodeinfo/2.1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "content-type",
                    "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
                )
                .set_body_json(json!({
                    "version": "2.1",
                    "software": {"name": "mobilizon", "version": "5.1.0"},
                    "protocols": ["activitypub"],
                    "services": {"inbound": [], "outbound": ["atom1.0"]},
                    "openRegistrations": true,
                    "usage": {"users": {"total": 12}, "localPosts": 3},
                    "metadata": {}
                })),
        )
        .mount(&server)
        .await;

    let output = run(vec![
        "nodeinfo".into(),
        "--danger-allow-http".into(),
        host.clone(),
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("mobilizon") && text.contains("5.1.0"),
        "{text}"
    );
}
