//! The guarded fetcher against wiremock servers (and two raw TCP peers) on loopback.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use activitypub_core::{AnyObject, reference_id};
use federation::fetch::{
    ACCEPT_ACTIVITYPUB, BudgetLimit, FetchBudget, FetchConfig, FetchError, Fetcher,
    is_activitypub_media_type,
};
use http_signatures::{Policy, Signer, SigningKey, Standard, Verifier};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The repository's `fixtures/` folder; a failure names it if it is missing.
pub(crate) fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    assert!(dir.is_dir(), "missing fixtures folder {}", dir.display());
    dir
}

/// A configuration that may reach the wiremock servers: plain http on loopback.
pub(crate) fn local_config() -> FetchConfig {
    FetchConfig::default()
        .with_danger_allow_http(true)
        .with_danger_allow_private_addresses(true)
}

pub(crate) fn local_fetcher() -> Fetcher {
    Fetcher::new(local_config()).unwrap()
}

/// A 200 answer with `body` as `application/activity+json`.
pub(crate) fn activity(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        serde_json::to_vec(body).unwrap(),
        "application/activity+json",
    )
}

pub(crate) fn url(server: &MockServer, path: &str) -> Url {
    Url::parse(&format!("{}{path}", server.uri())).unwrap()
}

pub(crate) async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn note(id: &Url) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id.as_str(),
        "type": "Note",
        "content": "hello",
    })
}

fn reply(id: &Url, parent: &Url) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id.as_str(),
        "type": "Note",
        "inReplyTo": parent.as_str(),
    })
}

async fn serve(server: &MockServer, at: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(response)
        .mount(server)
        .await;
}

fn redirect(to: &str) -> ResponseTemplate {
    ResponseTemplate::new(302).insert_header("location", to)
}

fn parent(object: &AnyObject) -> Option<Url> {
    let parent = object.props().in_reply_to.as_ref()?.first()?;
    Url::parse(reference_id(parent)?.as_str()).ok()
}

#[tokio::test]
async fn fetches_with_the_activitypub_accept_header() {
    let server = MockServer::start().await;
    let id = url(&server, "/notes/1");
    serve(&server, "/notes/1", activity(&note(&id))).await;

    let mut budget = FetchBudget::default();
    let fetched = local_fetcher().fetch(&id, &mut budget).await.unwrap();

    assert_eq!(fetched.url, id);
    assert_eq!(fetched.id, id.as_str());
    assert_eq!(fetched.redirects, 0);
    assert_eq!(fetched.object().type_name(), "Note");
    assert_eq!(budget.requests_used(), 1);
    assert_eq!(budget.bytes_used(), fetched.document.bytes().len());
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].headers["accept"], ACCEPT_ACTIVITYPUB);
    // Unsigned without a signer.
    assert!(!received[0].headers.contains_key("signature"));
}

#[tokio::test]
async fn the_fragment_is_not_sent() {
    let server = MockServer::start().await;
    let id = url(&server, "/notes/1");
    serve(&server, "/notes/1", activity(&note(&id))).await;
    let with_fragment = url(&server, "/notes/1#part");

    let fetched = local_fetcher()
        .fetch(&with_fragment, &mut FetchBudget::default())
        .await
        .unwrap();
    assert_eq!(fetched.requested, id);
}

/// The RSA-2048 key pair PeerTube uses in its tests.
pub(crate) fn rsa_key() -> SigningKey {
    let pair: Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("signatures/peertube-test-keypair.json")).unwrap(),
    )
    .unwrap();
    SigningKey::from_pem(pair["privateKey"].as_str().unwrap()).unwrap()
}

/// Checks every request `server` received against `key` with the fediverse policy, and returns
/// the covered components of each.
async fn verify_all(server: &MockServer, key: &SigningKey) -> Vec<Vec<String>> {
    let verifier = Verifier::new(Policy::fediverse());
    let mut covered = Vec::new();
    for received in server.received_requests().await.unwrap() {
        // wiremock writes `localhost` for the host of the URL it saw: rebuild it from `Host`.
        let host = received.headers["host"].to_str().unwrap();
        let target = format!(
            "http://{host}{}",
            &received.url[url::Position::BeforePath..]
        );
        let mut request = http::Request::get(target).body(Vec::<u8>::new()).unwrap();
        *request.headers_mut() = received.headers.clone();
        let verified = verifier
            .parse_request(&request, SystemTime::now())
            .unwrap()
            .verify(&key.verifying_key())
            .unwrap();
        assert_eq!(verified.key_id, "https://local.example/actor#main-key");
        covered.push(verified.covered.iter().map(|c| c.to_string()).collect());
    }
    covered
}

#[tokio::test]
async fn signed_fetches_verify_on_every_hop() {
    let key = rsa_key();
    let signer = Signer::new(key.clone(), "https://local.example/actor#main-key")
        .with_standard(Standard::Cavage);
    let fetcher = Fetcher::new(local_config().with_signer(signer)).unwrap();

    let server = MockServer::start().await;
    let id = url(&server, "/notes/2?page=1");
    serve(&server, "/notes/1", redirect("/notes/2?page=1")).await;
    serve(&server, "/notes/2", activity(&note(&id))).await;

    fetcher
        .fetch(&url(&server, "/notes/1"), &mut FetchBudget::default())
        .await
        .unwrap();

    // Both hops were signed, each for its own target, as Mastodon's secure mode wants.
    let covered = verify_all(&server, &key).await;
    assert_eq!(covered.len(), 2);
    for components in covered {
        assert_eq!(components, ["(request-target)", "host", "date"]);
    }
    let received = server.received_requests().await.unwrap();
    assert!(
        received
            .iter()
            .all(|r| r.headers["accept"] == ACCEPT_ACTIVITYPUB)
    );
}

#[tokio::test]
async fn signed_fetches_with_rfc9421() {
    let key = SigningKey::generate_ed25519().unwrap();
    let signer = Signer::new(key.clone(), "https://local.example/actor#main-key");
    let fetcher = Fetcher::new(local_config().with_signer(signer)).unwrap();
    let server = MockServer::start().await;
    let id = url(&server, "/notes/1");
    serve(&server, "/notes/1", activity(&note(&id))).await;

    fetcher
        .fetch(&id, &mut FetchBudget::default())
        .await
        .unwrap();

    let covered = verify_all(&server, &key).await;
    assert_eq!(covered, [["@method", "@target-uri", "@authority", "date"]]);
}

#[tokio::test]
async fn redirects_are_followed_and_the_id_is_checked_against_the_final_url() {
    let start = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let final_url = url(&elsewhere, "/objects/1");
    serve(&start, "/go", redirect(final_url.as_str())).await;
    serve(&elsewhere, "/objects/1", activity(&note(&final_url))).await;

    let fetched = local_fetcher()
        .fetch(&url(&start, "/go"), &mut FetchBudget::default())
        .await
        .unwrap();
    assert_eq!(fetched.url, final_url);
    assert_eq!(fetched.requested, url(&start, "/go"));
    assert_eq!(fetched.redirects, 1);

    // The same target claiming an id on the origin first asked for: the origin that answered
    // is another one, so the claim is refused.
    let claimed = url(&start, "/objects/1");
    serve(&elsewhere, "/objects/2", activity(&note(&claimed))).await;
    serve(
        &start,
        "/go2",
        redirect(url(&elsewhere, "/objects/2").as_str()),
    )
    .await;
    let error = local_fetcher()
        .fetch(&url(&start, "/go2"), &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::IdOriginMismatch { url: at, id }
            if *at == url(&elsewhere, "/objects/2") && *id == claimed.as_str()),
        "{error:?}"
    );
}

#[tokio::test]
async fn too_many_redirects() {
    let server = MockServer::start().await;
    serve(&server, "/loop", redirect("/loop")).await;
    let fetcher = Fetcher::new(local_config().with_max_redirects(2)).unwrap();

    let error = fetcher
        .fetch(&url(&server, "/loop"), &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::TooManyRedirects { limit: 2, .. }),
        "{error:?}"
    );
    // The request and two redirects followed.
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn redirects_to_a_refused_scheme_or_nowhere() {
    let server = MockServer::start().await;
    serve(&server, "/file", redirect("file:///etc/passwd")).await;
    serve(&server, "/gopher", redirect("gopher://127.0.0.1:70/")).await;
    serve(&server, "/nowhere", ResponseTemplate::new(301)).await;
    let fetcher = local_fetcher();

    for (from, refused) in [
        ("/file", "file:///etc/passwd"),
        ("/gopher", "gopher://127.0.0.1:70/"),
    ] {
        let error = fetcher
            .fetch(&url(&server, from), &mut FetchBudget::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, FetchError::RefusedScheme { url } if url.as_str() == refused),
            "{from}: {error:?}"
        );
    }
    let error = fetcher
        .fetch(&url(&server, "/nowhere"), &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::BadRedirect { location: None, .. }),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn plain_http_is_refused_by_default() {
    let server = MockServer::start().await;
    let fetcher = Fetcher::new(FetchConfig::default()).unwrap();
    let error = fetcher
        .fetch(&url(&server, "/x"), &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::RefusedScheme { .. }),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 0);
}

#[tokio::test]
async fn documents_without_an_id_or_with_a_foreign_one_are_refused() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/anonymous",
        activity(&json!({"type": "Note", "content": "who am I?"})),
    )
    .await;
    let foreign = Url::parse("https://elsewhere.example/notes/1").unwrap();
    serve(&server, "/foreign", activity(&note(&foreign))).await;
    // Same host, other port: another origin.
    let other_port = Url::parse(&format!(
        "http://127.0.0.1:{}/notes/1",
        server.address().port().wrapping_add(1)
    ))
    .unwrap();
    serve(&server, "/port", activity(&note(&other_port))).await;
    let fetcher = local_fetcher();

    let error = fetcher
        .fetch(&url(&server, "/anonymous"), &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::IdMissing { .. }), "{error:?}");
    for (at, claimed) in [("/foreign", &foreign), ("/port", &other_port)] {
        let error = fetcher
            .fetch(&url(&server, at), &mut FetchBudget::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, FetchError::IdOriginMismatch { id, .. } if *id == claimed.as_str()),
            "{at}: {error:?}"
        );
    }
}

#[test]
fn activitypub_media_types() {
    for (content_type, accepted) in [
        ("application/activity+json", true),
        ("application/activity+json; charset=utf-8", true),
        ("Application/Activity+JSON", true),
        (
            r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#,
            true,
        ),
        (
            r#"application/ld+json;charset=utf-8;PROFILE="https://example.com/p https://www.w3.org/ns/activitystreams""#,
            true,
        ),
        (
            "application/ld+json; profile=https://www.w3.org/ns/activitystreams",
            true,
        ),
        ("application/ld+json", false),
        (
            r#"application/ld+json; profile="https://example.com/p""#,
            false,
        ),
        ("application/json", false),
        ("application/jrd+json", false),
        ("text/html; charset=utf-8", false),
        ("", false),
    ] {
        assert_eq!(
            is_activitypub_media_type(content_type),
            accepted,
            "{content_type:?}"
        );
    }
}

#[tokio::test]
async fn other_content_types_are_refused() {
    let server = MockServer::start().await;
    let id = url(&server, "/notes/1");
    let body = serde_json::to_vec(&note(&id)).unwrap();
    serve(
        &server,
        "/json",
        ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json"),
    )
    .await;
    serve(
        &server,
        "/html",
        ResponseTemplate::new(200).set_body_raw(body.clone(), "text/html"),
    )
    .await;
    serve(
        &server,
        "/ld",
        ResponseTemplate::new(200).set_body_raw(
            body,
            r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#,
        ),
    )
    .await;
    let fetcher = local_fetcher();

    for (at, content_type) in [("/json", "application/json"), ("/html", "text/html")] {
        let error = fetcher
            .fetch(&url(&server, at), &mut FetchBudget::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, FetchError::WrongContentType { content_type: Some(found), .. }
                if found == content_type),
            "{at}: {error:?}"
        );
    }
    // The same document with the JSON-LD type and profile is fine. (The id is on /notes/1, the
    // same origin.)
    fetcher
        .fetch(&url(&server, "/ld"), &mut FetchBudget::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn not_found_gone_and_other_statuses_are_told_apart() {
    let server = MockServer::start().await;
    serve(&server, "/missing", ResponseTemplate::new(404)).await;
    serve(&server, "/deleted", ResponseTemplate::new(410)).await;
    serve(&server, "/locked", ResponseTemplate::new(401)).await;
    let fetcher = local_fetcher();
    let mut budget = FetchBudget::default();

    let error = fetcher
        .fetch(&url(&server, "/missing"), &mut budget)
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::NotFound { .. }), "{error:?}");
    let error = fetcher
        .fetch(&url(&server, "/deleted"), &mut budget)
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Gone { .. }), "{error:?}");
    let error = fetcher
        .fetch(&url(&server, "/locked"), &mut budget)
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Status { status, .. } if status == 401),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_body_announced_over_the_cap_is_refused() {
    let server = MockServer::start().await;
    let id = url(&server, "/big");
    let mut big = note(&id);
    big["content"] = Value::String("x".repeat(4096));
    serve(&server, "/big", activity(&big)).await;
    let fetcher = Fetcher::new(local_config().with_max_body_bytes(1024)).unwrap();

    let error = fetcher
        .fetch(&id, &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::BodyTooLarge { limit: 1024, .. }),
        "{error:?}"
    );
}

/// A peer that answers any request with an endless body without `Content-Length`, and reports
/// how many bytes it managed to write before the client hung up.
async fn endless_peer() -> (Url, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = [0_u8; 4096];
        let _ = socket.read(&mut head).await.unwrap();
        socket
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/activity+json\r\nconnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        let chunk = vec![b' '; 64 * 1024];
        let mut written = 0_usize;
        // At most 64 MiB, so that a client that reads everything ends the test too.
        while written < 64 * 1024 * 1024 {
            if socket.write_all(&chunk).await.is_err() {
                break;
            }
            written += chunk.len();
        }
        written
    });
    (
        Url::parse(&format!("http://{address}/endless")).unwrap(),
        peer,
    )
}

#[tokio::test]
async fn reading_stops_past_the_cap() {
    let (endless, peer) = endless_peer().await;
    let fetcher = Fetcher::new(local_config().with_max_body_bytes(64 * 1024)).unwrap();

    let error = fetcher
        .fetch(&endless, &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::BodyTooLarge { limit: 65536, .. }),
        "{error:?}"
    );
    // The client hung up: the peer could not write its 64 MiB (only what the socket buffers
    // took).
    let written = peer.await.unwrap();
    assert!(written < 64 * 1024 * 1024, "the peer wrote {written} bytes");
}

/// A peer that accepts connections and never answers.
async fn silent_peer() -> (Url, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    (
        Url::parse(&format!("http://{address}/silent")).unwrap(),
        listener,
    )
}

#[tokio::test]
async fn slow_peers_time_out() {
    let (silent, _listener) = silent_peer().await;
    let fetcher = Fetcher::new(local_config().with_timeout(Duration::from_millis(200))).unwrap();
    let error = fetcher
        .fetch(&silent, &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::Timeout { limit, .. } if limit == Duration::from_millis(200)),
        "{error:?}"
    );

    // The budget's deadline stops a fetch that the per-request timeout would let go on.
    let mut budget = FetchBudget::default().with_time_limit(Duration::from_millis(200));
    let error = local_fetcher()
        .fetch(&silent, &mut budget)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            FetchError::BudgetExhausted {
                limit: BudgetLimit::Time,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_budget_limits_requests() {
    let server = MockServer::start().await;
    let id = url(&server, "/c");
    serve(&server, "/a", redirect("/b")).await;
    serve(&server, "/b", redirect("/c")).await;
    serve(&server, "/c", activity(&note(&id))).await;
    let fetcher = local_fetcher();

    let mut budget = FetchBudget::default().with_max_requests(2);
    let error = fetcher
        .fetch(&url(&server, "/a"), &mut budget)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::BudgetExhausted { url: at, limit: BudgetLimit::Requests { max: 2 } }
            if *at == id),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 2);
    assert_eq!(budget.remaining_requests(), 0);

    // Three requests are enough; the spent budget stays spent.
    let mut budget = FetchBudget::default().with_max_requests(3);
    fetcher
        .fetch(&url(&server, "/a"), &mut budget)
        .await
        .unwrap();
    let error = fetcher.fetch(&id, &mut budget).await.unwrap_err();
    assert!(
        matches!(
            error,
            FetchError::BudgetExhausted {
                limit: BudgetLimit::Requests { max: 3 },
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 5);
}

#[tokio::test]
async fn the_budget_limits_bytes() {
    let server = MockServer::start().await;
    let id = url(&server, "/notes/1");
    let body = serde_json::to_vec(&note(&id)).unwrap();
    serve(&server, "/notes/1", activity(&note(&id))).await;
    let fetcher = local_fetcher();

    // Room for one document and a half: the second is refused (its announced length is over
    // what is left, so nothing of it is read).
    let mut budget = FetchBudget::default().with_max_bytes(body.len() * 3 / 2);
    fetcher.fetch(&id, &mut budget).await.unwrap();
    assert_eq!(budget.bytes_used(), body.len());
    let error = fetcher.fetch(&id, &mut budget).await.unwrap_err();
    assert!(
        matches!(error, FetchError::BudgetExhausted { limit: BudgetLimit::Bytes { max }, .. }
            if max == body.len() * 3 / 2),
        "{error:?}"
    );
    assert_eq!(budget.bytes_used(), body.len());
    assert_eq!(requests(&server).await, 2);

    // Room for exactly one: with nothing left, the next fetch is not even sent.
    let mut budget = FetchBudget::default().with_max_bytes(body.len());
    fetcher.fetch(&id, &mut budget).await.unwrap();
    assert_eq!(budget.remaining_bytes(), 0);
    let before = requests(&server).await;
    let error = fetcher.fetch(&id, &mut budget).await.unwrap_err();
    assert!(
        matches!(
            error,
            FetchError::BudgetExhausted {
                limit: BudgetLimit::Bytes { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, before);
}

#[tokio::test(start_paused = true)]
async fn a_budget_kept_as_configuration_is_renewed_for_each_request() {
    let template = FetchBudget::default()
        .with_max_requests(3)
        .with_max_bytes(1000)
        .with_max_depth(2)
        .with_time_limit(Duration::from_secs(15));
    tokio::time::advance(Duration::from_secs(60)).await;

    // The template's own deadline has passed; a renewal's is its time limit from now.
    assert!(template.deadline() <= tokio::time::Instant::now());
    let renewed = template.renewed();
    assert_eq!(
        renewed.deadline(),
        tokio::time::Instant::now() + Duration::from_secs(15)
    );
    assert_eq!(renewed.time_limit(), Duration::from_secs(15));
    assert_eq!(
        (
            renewed.max_requests(),
            renewed.max_bytes(),
            renewed.max_depth()
        ),
        (3, 1000, 2)
    );
    assert_eq!((renewed.requests_used(), renewed.bytes_used()), (0, 0));

    // A deadline set as an instant renews as the time that was left when it was set.
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    let template = FetchBudget::default().with_deadline(until);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(template.renewed().time_limit(), Duration::from_secs(5));
}

#[tokio::test]
async fn a_spent_deadline_sends_nothing() {
    let server = MockServer::start().await;
    let mut budget = FetchBudget::default().with_time_limit(Duration::ZERO);
    let error = local_fetcher()
        .fetch(&url(&server, "/x"), &mut budget)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            FetchError::BudgetExhausted {
                limit: BudgetLimit::Time,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 0);
}

/// Serves `/n0` replying to `/n1` ... replying to `/n{len - 1}`, the root.
async fn thread(server: &MockServer, len: usize) {
    for i in 0..len {
        let id = url(server, &format!("/n{i}"));
        let body = if i + 1 == len {
            note(&id)
        } else {
            reply(&id, &url(server, &format!("/n{}", i + 1)))
        };
        serve(server, &format!("/n{i}"), activity(&body)).await;
    }
}

#[tokio::test]
async fn chains_follow_links_within_the_depth() {
    let server = MockServer::start().await;
    thread(&server, 4).await;
    let fetcher = local_fetcher();

    let mut budget = FetchBudget::default().with_max_depth(3);
    let chain = fetcher
        .fetch_chain(&url(&server, "/n0"), parent, &mut budget)
        .await
        .unwrap();
    let ids: Vec<&str> = chain.iter().map(|fetched| fetched.id.as_str()).collect();
    assert_eq!(
        ids,
        (0..4)
            .map(|i| url(&server, &format!("/n{i}")).to_string())
            .collect::<Vec<_>>()
    );

    let mut budget = FetchBudget::default().with_max_depth(2);
    let error = fetcher
        .fetch_chain(&url(&server, "/n0"), parent, &mut budget)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::BudgetExhausted { url: at, limit: BudgetLimit::Depth { max: 2 } }
            if *at == url(&server, "/n3")),
        "{error:?}"
    );
    // The second chain stopped before /n3: only the first one asked for it.
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(asked.iter().filter(|p| *p == "/n3").count(), 1);
    assert_eq!(asked.len(), 4 + 3);
}

#[tokio::test]
async fn chains_detect_cycles() {
    let server = MockServer::start().await;
    let a = url(&server, "/a");
    let b = url(&server, "/b");
    serve(&server, "/a", activity(&reply(&a, &b))).await;
    serve(&server, "/b", activity(&reply(&b, &a))).await;

    let error = local_fetcher()
        .fetch_chain(&a, parent, &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Cycle { url } if *url == a),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 2);

    // A redirect back to a document already in the chain is a cycle too.
    let c = url(&server, "/c");
    serve(&server, "/c", activity(&reply(&c, &url(&server, "/to-c")))).await;
    serve(&server, "/to-c", redirect("/c")).await;
    let error = local_fetcher()
        .fetch_chain(&c, parent, &mut FetchBudget::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Cycle { url } if *url == c),
        "{error:?}"
    );
}

#[tokio::test]
async fn private_addresses_are_refused_before_any_request() {
    let server = MockServer::start().await;
    let port = server.address().port();
    let fetcher = Fetcher::new(FetchConfig::default().with_danger_allow_http(true)).unwrap();

    for target in [
        format!("http://127.0.0.1:{port}/x"),
        format!("http://localhost:{port}/x"),
        format!("http://[::1]:{port}/x"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
        format!("http://10.0.0.1:{port}/x"),
        format!("http://169.254.169.254:{port}/latest/meta-data/"),
    ] {
        let error = fetcher
            .fetch(&Url::parse(&target).unwrap(), &mut FetchBudget::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, FetchError::RefusedAddress { address, .. } if !address.is_unspecified()),
            "{target}: {error:?}"
        );
    }
    assert_eq!(requests(&server).await, 0);
}

/// Reads a media response's whole body.
async fn media_body(response: federation::fetch::MediaResponse) -> Vec<u8> {
    use futures::StreamExt as _;
    let mut stream = std::pin::pin!(response.bytes_stream());
    let mut body = Vec::new();
    while let Some(piece) = stream.next().await {
        body.extend_from_slice(&piece.unwrap());
    }
    body
}

#[tokio::test]
async fn a_media_file_is_fetched_through_redirects_its_body_left_to_the_caller() {
    let server = MockServer::start().await;
    let bytes: Vec<u8> = (0..200_000_u32).map(|n| (n % 251) as u8).collect();
    serve(
        &server,
        "/static/video.mp4",
        ResponseTemplate::new(200).set_body_raw(bytes.clone(), "video/mp4"),
    )
    .await;
    serve(&server, "/download", redirect("/static/video.mp4")).await;
    let fetcher = local_fetcher();
    let mut budget = FetchBudget::default();
    let response = fetcher
        .fetch_media(&url(&server, "/download#t=10"), 1 << 20, &mut budget)
        .await
        .unwrap();
    assert_eq!(response.url, url(&server, "/static/video.mp4"));
    assert_eq!(response.redirects, 1);
    assert_eq!(response.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(response.content_length, Some(200_000));
    assert_eq!(budget.requests_used(), 2);
    assert_eq!(media_body(response).await, bytes);
    // Asked for any type, unsigned here.
    let received = server.received_requests().await.unwrap();
    assert!(
        received
            .iter()
            .all(|r| r.headers.get("accept").is_some_and(|a| a == "*/*")),
        "{received:?}"
    );
}

#[tokio::test]
async fn a_media_file_over_its_limit_or_missing_or_private_is_refused() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/big.mp4",
        ResponseTemplate::new(200).set_body_raw(vec![0u8; 10_000], "video/mp4"),
    )
    .await;
    let fetcher = local_fetcher();
    // A declared length over the limit: refused before the body is read.
    let error = fetcher
        .fetch_media(
            &url(&server, "/big.mp4"),
            9_999,
            &mut FetchBudget::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::BodyTooLarge { limit: 9_999, .. }),
        "{error:?}"
    );
    // Missing.
    let error = fetcher
        .fetch_media(
            &url(&server, "/gone.mp4"),
            1 << 20,
            &mut FetchBudget::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::NotFound { .. }), "{error:?}");
    // A loopback address, for a fetcher that keeps to the public network: refused without a
    // request.
    let before = requests(&server).await;
    let public_only = Fetcher::new(FetchConfig::default().with_danger_allow_http(true)).unwrap();
    let error = public_only
        .fetch_media(
            &url(&server, "/big.mp4"),
            1 << 20,
            &mut FetchBudget::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::RefusedAddress { .. }),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, before);
    // Plain http, for a fetcher that keeps to https.
    let https_only = Fetcher::new(FetchConfig::default()).unwrap();
    let error = https_only
        .fetch_media(
            &url(&server, "/big.mp4"),
            1 << 20,
            &mut FetchBudget::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::RefusedScheme { .. }),
        "{error:?}"
    );
}
