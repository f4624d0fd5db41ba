//! The client against wiremock servers on loopback (OS-assigned ports). Every test turns on the
//! two `danger_` switches explicitly: the servers speak plain http on 127.0.0.1.

use std::time::Duration;

use url::Url;
use webfinger::actor::ActorHandle;
use webfinger::client::{Client, LookupError, ResolveError, VerifyError};
use webfinger::fetch::{FetchError, Fetcher, HttpConfig};
use webfinger::server::account_jrd;
use webfinger::{AcctUri, ActorLinkError, Resource};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::fixture;

fn local_config() -> HttpConfig {
    HttpConfig::default()
        .with_danger_allow_http(true)
        .with_danger_allow_private_addresses(true)
        .with_timeout(Duration::from_secs(5))
}

fn client() -> Client {
    Client::from_config(local_config()).unwrap()
}

fn acct(server: &MockServer, user: &str) -> AcctUri {
    AcctUri::from_handle(&format!("{user}@{}", server.address())).unwrap()
}

fn actor_id(server: &MockServer, user: &str) -> Url {
    Url::parse(&format!("{}/users/{user}", server.uri())).unwrap()
}

fn jrd_response(acct: &AcctUri, id: &Url) -> ResponseTemplate {
    let body = serde_json::to_vec(&account_jrd(acct, id, None)).unwrap();
    ResponseTemplate::new(200).set_body_raw(body, "application/jrd+json")
}

/// Serves the account `user` on `server` at the standard endpoint.
async fn serve_account(server: &MockServer, user: &str) -> (AcctUri, Url) {
    let acct = acct(server, user);
    let id = actor_id(server, user);
    Mock::given(method("GET"))
        .and(path("/.well-known/webfinger"))
        .and(query_param("resource", acct.to_string()))
        .respond_with(jrd_response(&acct, &id))
        .mount(server)
        .await;
    (acct, id)
}

#[tokio::test]
async fn resolves_an_account() {
    let server = MockServer::start().await;
    let (acct, id) = serve_account(&server, "alice").await;
    let input = format!("@alice@{}", server.address());
    let resolved = client()
        .resolve(&Resource::from_user_input(&input).unwrap())
        .await
        .unwrap();
    assert_eq!(resolved.actor_id, id);
    assert_eq!(resolved.subject, Resource::Acct(acct));
}

#[tokio::test]
async fn real_jrd_bodies() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("webfinger/gancio-jrd.json"),
            "application/json; charset=utf-8",
        ))
        .mount(&server)
        .await;
    let jrd = client()
        .lookup(&acct(&server, "gancio").into(), &[])
        .await
        .unwrap();
    assert_eq!(
        jrd.activitypub_id().unwrap().as_str(),
        "https://demo.gancio.org/federation/u/gancio"
    );
}

#[tokio::test]
async fn follows_redirects() {
    let server = MockServer::start().await;
    let acct = acct(&server, "alice");
    let id = actor_id(&server, "alice");
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(
            ResponseTemplate::new(301)
                .insert_header("location", format!("{}/moved/webfinger", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(path("/moved/webfinger"))
        .respond_with(jrd_response(&acct, &id))
        .mount(&server)
        .await;
    let resolved = client().resolve(&acct.into()).await.unwrap();
    assert_eq!(resolved.actor_id, id);
}

#[tokio::test]
async fn too_many_redirects() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop"))
        .mount(&server)
        .await;
    Mock::given(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop"))
        .mount(&server)
        .await;
    let client = Client::from_config(local_config().with_max_redirects(2)).unwrap();
    let error = client
        .lookup(&acct(&server, "alice").into(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            LookupError::Fetch {
                source: FetchError::TooManyRedirects { limit: 2, .. }
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn host_meta_xrd_after_404() {
    let server = MockServer::start().await;
    let acct = acct(&server, "alice");
    let id = actor_id(&server, "alice");
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let xrd = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="lrdd" template="{}/legacy/webfinger?q={{uri}}"/>
</XRD>"#,
        server.uri()
    );
    Mock::given(path("/.well-known/host-meta"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(xrd, "application/xrd+xml; charset=utf-8"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/legacy/webfinger"))
        .and(query_param("q", acct.to_string()))
        .respond_with(jrd_response(&acct, &id))
        .mount(&server)
        .await;
    let resolved = client().resolve(&acct.into()).await.unwrap();
    assert_eq!(resolved.actor_id, id);
}

#[tokio::test]
async fn host_meta_json_after_404() {
    let server = MockServer::start().await;
    let acct = acct(&server, "alice");
    let id = actor_id(&server, "alice");
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let host_meta = serde_json::json!({
        "links": [{"rel": "lrdd", "type": "application/jrd+json",
                   "template": format!("{}/wf?resource={{uri}}", server.uri())}]
    });
    Mock::given(path("/.well-known/host-meta"))
        .respond_with(ResponseTemplate::new(200).set_body_json(host_meta))
        .mount(&server)
        .await;
    Mock::given(path("/wf"))
        .respond_with(jrd_response(&acct, &id))
        .mount(&server)
        .await;
    assert_eq!(client().resolve(&acct.into()).await.unwrap().actor_id, id);
}

#[tokio::test]
async fn host_meta_without_lrdd() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(path("/.well-known/host-meta"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<XRD/>", "application/xrd+xml"))
        .mount(&server)
        .await;
    let error = client()
        .lookup(&acct(&server, "a").into(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, LookupError::NoLrddTemplate { .. }),
        "{error:?}"
    );

    let without_fallback = client().with_host_meta_fallback(false);
    let error = without_fallback
        .lookup(&acct(&server, "a").into(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, LookupError::Fetch { source: FetchError::Status { status, .. } } if status == 404),
        "{error:?}"
    );
}

#[tokio::test]
async fn both_404() {
    let server = MockServer::start().await;
    let error = client()
        .lookup(&acct(&server, "a").into(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, LookupError::HostMetaFetch { source: FetchError::Status { status, .. } } if status == 404),
        "{error:?}"
    );
}

#[tokio::test]
async fn gone() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&server)
        .await;
    let error = client()
        .lookup(&acct(&server, "a").into(), &[])
        .await
        .unwrap_err();
    assert!(matches!(error, LookupError::Gone { .. }), "{error:?}");
}

#[tokio::test]
async fn subject_on_another_host() {
    let first = MockServer::start().await;
    let second = MockServer::start().await;
    let asked = acct(&first, "alice");
    let (canonical, id) = serve_account(&second, "alice").await;
    // The first host answers for alice with a subject on the second host.
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(jrd_response(&canonical, &id))
        .mount(&first)
        .await;
    let resolved = client().resolve(&asked.into()).await.unwrap();
    assert_eq!(resolved.subject, Resource::Acct(canonical));
    assert_eq!(resolved.actor_id, id);
}

#[tokio::test]
async fn subject_hops_are_bounded() {
    let first = MockServer::start().await;
    let second = MockServer::start().await;
    let third = MockServer::start().await;
    let id = actor_id(&third, "alice");
    // first -> second -> third: one hop too many for the default limit of one.
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(jrd_response(&acct(&second, "alice"), &id))
        .mount(&first)
        .await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(jrd_response(&acct(&third, "alice"), &id))
        .mount(&second)
        .await;
    serve_account(&third, "alice").await;
    let error = client()
        .resolve(&acct(&first, "alice").into())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ResolveError::TooManySubjectHops { limit: 1, last, .. } if *last == acct(&third, "alice")),
        "{error:?}"
    );
    let patient = client().with_max_subject_hops(2);
    assert_eq!(
        patient
            .resolve(&acct(&first, "alice").into())
            .await
            .unwrap()
            .actor_id,
        id
    );
}

#[tokio::test]
async fn wrong_content_type() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>hello</html>", "text/html"))
        .mount(&server)
        .await;
    let error = client()
        .lookup(&acct(&server, "a").into(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LookupError::Fetch { source: FetchError::UnexpectedContentType { content_type: Some(ct), .. } } if ct == "text/html"),
        "{error:?}"
    );
}

#[tokio::test]
async fn oversized_body() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(vec![b' '; 64 * 1024], "application/jrd+json"),
        )
        .mount(&server)
        .await;
    let client = Client::from_config(local_config().with_max_body_bytes(4096)).unwrap();
    let error = client
        .lookup(&acct(&server, "a").into(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            LookupError::Fetch {
                source: FetchError::BodyTooLarge { limit: 4096, .. }
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn slow_server() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let impatient =
        Client::from_config(local_config().with_timeout(Duration::from_millis(300))).unwrap();
    let error = impatient
        .lookup(&acct(&server, "a").into(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            LookupError::Fetch {
                source: FetchError::Timeout { .. }
            }
        ),
        "{error:?}"
    );

    // The total limit of a resolution holds whatever the per-request limit is.
    let patient_requests = client().with_total_timeout(Duration::from_millis(300));
    let error = patient_requests
        .resolve(&acct(&server, "a").into())
        .await
        .unwrap_err();
    assert!(matches!(error, ResolveError::Timeout { .. }), "{error:?}");
}

#[tokio::test]
async fn malformed_json() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("{\"subject\": ", "application/jrd+json"),
        )
        .mount(&server)
        .await;
    let error = client()
        .lookup(&acct(&server, "a").into(), &[])
        .await
        .unwrap_err();
    assert!(matches!(error, LookupError::InvalidJrd { .. }), "{error:?}");
}

#[tokio::test]
async fn no_activitypub_link() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/webfinger"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"links":[{"rel":"self","type":"text/html","href":"https://x/"}]}"#,
            "application/jrd+json",
        ))
        .mount(&server)
        .await;
    let error = client()
        .resolve(&acct(&server, "a").into())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ResolveError::NoActor {
                source: ActorLinkError::NoActivityPubLink { .. },
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn round_trip() {
    let server = MockServer::start().await;
    let (acct, id) = serve_account(&server, "alice").await;
    let client = client();
    let verified = client
        .verify_actor(&ActorHandle::new(id.clone(), "alice"))
        .await
        .unwrap();
    assert_eq!(verified, acct);

    // An actor that claims alice's name with another id fails the check.
    let impostor = Url::parse(&format!("{}/users/mallory", server.uri())).unwrap();
    let error = client
        .verify_actor(&ActorHandle::new(impostor, "alice"))
        .await
        .unwrap_err();
    assert!(matches!(error, VerifyError::Mismatch { .. }), "{error:?}");

    // From actor JSON the caller already has.
    let json =
        serde_json::json!({"id": id.as_str(), "preferredUsername": "alice", "type": "Person"});
    let actor = ActorHandle::from_actor_json(json.to_string().as_bytes()).unwrap();
    assert_eq!(client.verify_actor(&actor).await.unwrap(), acct);
}

#[tokio::test]
async fn refuses_loopback_and_http_by_default() {
    let server = MockServer::start().await;
    serve_account(&server, "alice").await;
    let default = Client::from_config(HttpConfig::default()).unwrap();
    let error = default
        .lookup(&acct(&server, "alice").into(), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            LookupError::Fetch {
                source: FetchError::NonPublicAddress { .. }
            }
        ),
        "{error:?}"
    );

    // A name that resolves to loopback is refused after resolution.
    let by_name =
        Resource::from_user_input(&format!("alice@localhost:{}", server.address().port())).unwrap();
    let error = default.lookup(&by_name, &[]).await.unwrap_err();
    assert!(
        matches!(&error, LookupError::Fetch { source: FetchError::NonPublicAddress { host, .. } } if host == "localhost"),
        "{error:?}"
    );

    // Private addresses allowed but not http.
    let fetcher =
        Fetcher::new(HttpConfig::default().with_danger_allow_private_addresses(true)).unwrap();
    let error = fetcher
        .get(&Url::parse(&server.uri()).unwrap(), "application/json")
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::InsecureScheme { .. }),
        "{error:?}"
    );
}
