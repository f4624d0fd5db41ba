//! The client against wiremock servers on loopback, with the `danger_` switches on explicitly.

use std::time::Duration;

use nodeinfo::client::{Client, DiscoverError, NodeInfoError};
use nodeinfo::{Protocol, Version};
use webfinger::Host;
use webfinger::fetch::{FetchError, HttpConfig};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::fixture;

fn client() -> Client {
    Client::from_config(
        HttpConfig::default()
            .with_danger_allow_http(true)
            .with_danger_allow_private_addresses(true)
            .with_timeout(Duration::from_secs(5)),
    )
    .unwrap()
}

fn host(server: &MockServer) -> Host {
    Host::parse(&server.address().to_string()).unwrap()
}

#[tokio::test]
async fn discovers_then_fetches_the_newest() {
    let server = MockServer::start().await;
    let discovery = serde_json::json!({"links": [
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{}/nodeinfo/2.0", server.uri())},
        {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{}/nodeinfo/2.1", server.uri())},
        {"rel": "https://www.w3.org/ns/activitystreams#Application", "href": format!("{}/actor", server.uri())},
    ]});
    Mock::given(path("/.well-known/nodeinfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(discovery))
        .mount(&server)
        .await;
    Mock::given(path("/nodeinfo/2.1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("nodeinfo/mobilizon-2.1.json"),
            "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let report = client().fetch(&host(&server)).await.unwrap();
    assert_eq!(report.linked_version, Version::V2_1);
    assert_eq!(report.nodeinfo.software.canonical_name(), "mobilizon");
    assert_eq!(report.nodeinfo.protocols, [Protocol::ACTIVITYPUB]);
    assert_eq!(report.instance_actor.unwrap().path(), "/actor");
}

#[tokio::test]
async fn not_supported() {
    let server = MockServer::start().await;
    let error = client().fetch(&host(&server)).await.unwrap_err();
    assert!(
        matches!(
            error,
            NodeInfoError::Discover(DiscoverError::NotSupported { .. })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn no_known_version() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/nodeinfo"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"links": [
                {"rel": "http://nodeinfo.diaspora.software/ns/schema/9.9", "href": "https://x/"}
            ]})),
        )
        .mount(&server)
        .await;
    let error = client().fetch(&host(&server)).await.unwrap_err();
    assert!(
        matches!(error, NodeInfoError::NoNodeInfoLink { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn bad_answers() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/nodeinfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{}/ni", server.uri())}
        ]})))
        .mount(&server)
        .await;
    Mock::given(path("/ni"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{\"version\":", "application/json"))
        .mount(&server)
        .await;
    let error = client().fetch(&host(&server)).await.unwrap_err();
    assert!(matches!(error, NodeInfoError::Invalid { .. }), "{error:?}");

    let html = MockServer::start().await;
    Mock::given(path("/.well-known/nodeinfo"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html/>", "text/html"))
        .mount(&html)
        .await;
    let error = client().discover(&host(&html)).await.unwrap_err();
    assert!(
        matches!(
            error,
            DiscoverError::Fetch {
                source: FetchError::UnexpectedContentType { .. }
            }
        ),
        "{error:?}"
    );
}
