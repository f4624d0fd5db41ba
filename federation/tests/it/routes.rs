//! The axum routes, called in process (`tower::ServiceExt::oneshot`), over a test app; signed
//! fetches by remote actors served on loopback.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use federation::inbox::{Dispatcher, DomainPolicy, Inbox, InboxConfig, MemoryInboxStore};
use federation::keys::RemoteKey;
use federation::routes::{
    App, AppError, CollectionItems, CollectionKind, ObjectState, Representation, RoutesConfig,
    Server, router,
};
use http::{HeaderMap, StatusCode, header};
use http_signatures::{Signer, Standard};
use nodeinfo::{DiscoveryDocument, NodeInfo, Protocol, Users, Version};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use url::Url;

use crate::fetch::fixtures;
use crate::support::{
    ACTIVITY_JSON, Remote, fetcher, get, key_cache, now, origin_form, signed_post, unsigned_post,
};

const AS: &str = "https://www.w3.org/ns/activitystreams";
const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const FOLLOWERS: u64 = 45;

/// An app with the actors `alice` (with a profile page), `instance` (the instance actor) and
/// `gone` (deleted), some notes, and alice's 45 followers.
#[derive(Clone)]
struct TestApp {
    base: Url,
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        self.base.join(path).unwrap().to_string()
    }

    fn note(&self, path: &str, extra: Value) -> Value {
        let mut note = json!({
            "@context": AS,
            "id": self.url(path),
            "type": "Note",
            "attributedTo": self.url("/actors/alice"),
            "content": "a note for signed fetches only",
        });
        if let (Some(note), Value::Object(extra)) = (note.as_object_mut(), extra) {
            note.extend(extra);
        }
        note
    }
}

impl App for TestApp {
    async fn actor(
        &self,
        name: &str,
        representation: Representation,
    ) -> Result<Option<ObjectState>, AppError> {
        let id = self.url(&format!("/actors/{name}"));
        Ok(match name {
            "alice" => Some(ObjectState::Found {
                document: json!({
                    "@context": AS,
                    "id": id,
                    "type": "Person",
                    "preferredUsername": "alice",
                    "inbox": format!("{id}/inbox"),
                    "followers": format!("{id}/followers"),
                }),
                html: (representation == Representation::Html).then(|| "<h1>Alice</h1>".to_owned()),
            }),
            "instance" => Some(ObjectState::Found {
                document: json!({"@context": AS, "id": id, "type": "Application"}),
                html: None,
            }),
            "gone" => Some(ObjectState::Gone {
                tombstone: json!({"@context": AS, "id": id, "type": "Tombstone"}),
            }),
            _ => None,
        })
    }

    async fn object(
        &self,
        url: &Url,
        representation: Representation,
    ) -> Result<ObjectState, AppError> {
        Ok(match url.path() {
            // No page of its own.
            "/notes/1" => ObjectState::Found {
                document: self.note("/notes/1", json!({})),
                html: None,
            },
            "/notes/2" => ObjectState::Found {
                document: self.note("/notes/2", json!({})),
                html: (representation == Representation::Html)
                    .then(|| "<p>note 2</p>".to_owned()),
            },
            // Its page is elsewhere.
            "/notes/3" => ObjectState::Found {
                document: self.note(
                    "/notes/3",
                    json!({"url": [
                        {"type": "Link", "mediaType": "application/activity+json", "href": self.url("/notes/3")},
                        {"type": "Link", "mediaType": "text/html", "href": self.url("/@alice/3")},
                    ]}),
                ),
                html: None,
            },
            "/notes/deleted" => ObjectState::Gone {
                tombstone: json!({
                    "@context": AS,
                    "id": self.url("/notes/deleted"),
                    "type": "Tombstone",
                    "formerType": "Note",
                }),
            },
            "/broken" => return Err(AppError::new("the database is down")),
            _ => ObjectState::NotFound,
        })
    }

    /// `/notes/for-readers` exists for actors named `reader` only, addressed to the one asking;
    /// everything else is `object`'s.
    async fn object_for(
        &self,
        url: &Url,
        representation: Representation,
        requester: Option<&RemoteKey>,
    ) -> Result<ObjectState, AppError> {
        if url.path() != "/notes/for-readers" {
            return self.object(url, representation).await;
        }
        Ok(match requester {
            Some(key) if key.owner.as_str().ends_with("/users/reader") => ObjectState::Found {
                document: self.note(
                    "/notes/for-readers",
                    json!({"to": key.owner.as_str(), "signedWith": key.key_id.as_str()}),
                ),
                html: None,
            },
            _ => ObjectState::NotFound,
        })
    }

    /// Alice's outbox is shown to actors named `reader` only.
    async fn collection_for(
        &self,
        name: &str,
        kind: CollectionKind,
        offset: u64,
        limit: u64,
        requester: Option<&RemoteKey>,
    ) -> Result<Option<CollectionItems>, AppError> {
        let reader = requester.is_some_and(|key| key.owner.as_str().ends_with("/users/reader"));
        if kind == CollectionKind::Outbox && !reader {
            return Ok(None);
        }
        self.collection(name, kind, offset, limit).await
    }

    async fn collection(
        &self,
        name: &str,
        kind: CollectionKind,
        offset: u64,
        limit: u64,
    ) -> Result<Option<CollectionItems>, AppError> {
        if name != "alice" {
            return Ok(None);
        }
        let total = match kind {
            CollectionKind::Followers => FOLLOWERS,
            _ => 0,
        };
        let items = (offset..offset.saturating_add(limit).min(total))
            .map(|n| json!(format!("https://remote.example/users/{n}")))
            .collect();
        Ok(Some(CollectionItems::new(total, items)))
    }

    /// The richest version, with what only 2.2 has: the routes write it in each version
    /// they serve.
    async fn nodeinfo(&self) -> Result<NodeInfo, AppError> {
        NodeInfo::builder(Version::V2_2, "federation-tests", "0.1.0")
            .protocol(Protocol::ACTIVITYPUB)
            .users(
                Users::new()
                    .with_total(1)
                    .with_active_month(1)
                    .with_active_week(1),
            )
            .local_posts(3)
            .repository("https://example.org/federation-tests.git")
            .instance_name("Local example")
            .build()
            .map_err(AppError::new)
    }
}

/// The router of a server at `base`, with a 1 KiB inbox limit.
fn site(base: &str, configure: impl FnOnce(RoutesConfig) -> RoutesConfig) -> Router {
    site_with(base, configure, DomainPolicy::default())
}

fn site_with(
    base: &str,
    configure: impl FnOnce(RoutesConfig) -> RoutesConfig,
    domains: DomainPolicy,
) -> Router {
    let base = Url::parse(base).unwrap();
    let app = TestApp { base: base.clone() };
    let inbox = Inbox::new(
        InboxConfig::new(&base)
            .with_max_body_bytes(1024)
            .with_domains(domains),
        key_cache(),
        fetcher(),
        MemoryInboxStore::new(),
        Dispatcher::new(),
        app.clone(),
    );
    router(Arc::new(Server {
        config: configure(RoutesConfig::new(base)),
        app,
        inbox,
    }))
}

fn base() -> Url {
    Url::parse("http://local.example/").unwrap()
}

fn at(path: &str) -> Url {
    base().join(path).unwrap()
}

/// The answer of `router` to `request`.
async fn call(router: &Router, request: http::Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, body)
}

async fn get_as(
    router: &Router,
    url: &Url,
    accept: &str,
    signer: Option<&Signer>,
) -> (StatusCode, HeaderMap, Bytes) {
    call(router, get(url, accept, signer).map(Body::from)).await
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn webfinger_finds_local_actors_by_acct_and_by_url() {
    // (server, resource, status)
    let cases = [
        (
            "http://local.example:8080/",
            "acct:alice@local.example:8080",
            200,
        ),
        (
            "http://local.example:8080/",
            "acct:alice@LOCAL.example:8080",
            200,
        ),
        (
            "http://local.example:8080/",
            "alice@local.example:8080",
            200,
        ),
        (
            "http://local.example:8080/",
            "http://local.example:8080/actors/alice",
            200,
        ),
        // Another port is another server.
        (
            "http://local.example:8080/",
            "acct:alice@local.example",
            404,
        ),
        (
            "http://local.example:8080/",
            "acct:alice@other.example:8080",
            404,
        ),
        (
            "http://local.example:8080/",
            "acct:bob@local.example:8080",
            404,
        ),
        (
            "http://local.example:8080/",
            "acct:gone@local.example:8080",
            404,
        ),
        (
            "http://local.example:8080/",
            "http://local.example:8080/actors/alice/followers",
            404,
        ),
        (
            "http://local.example:8080/",
            "http://other.example:8080/actors/alice",
            404,
        ),
        // The scheme's default port may be written or not.
        ("http://local.example/", "acct:alice@local.example", 200),
        ("http://local.example/", "acct:alice@local.example:80", 200),
        (
            "http://local.example/",
            "acct:alice@local.example:8080",
            404,
        ),
        (
            "https://local.example/",
            "acct:alice@local.example:443",
            200,
        ),
    ];
    for (server, resource, status) in cases {
        let site = site(server, |config| config);
        let url = Url::parse(server)
            .unwrap()
            .join(&format!("/.well-known/webfinger?resource={resource}"))
            .unwrap();
        let (got, headers, body) = get_as(&site, &url, "application/jrd+json", None).await;
        assert_eq!(got.as_u16(), status, "{server} {resource}");
        if status != 200 {
            continue;
        }
        assert_eq!(content_type(&headers), "application/jrd+json");
        let jrd = json_of(&body);
        let handle_host = Url::parse(server).unwrap();
        let handle_host = match handle_host.port() {
            Some(port) => format!("{}:{port}", handle_host.host_str().unwrap()),
            None => handle_host.host_str().unwrap().to_owned(),
        };
        assert_eq!(
            jrd["subject"],
            format!("acct:alice@{handle_host}"),
            "{resource}"
        );
        let actor = Url::parse(server).unwrap().join("/actors/alice").unwrap();
        let links = jrd["links"].as_array().unwrap();
        assert!(
            links.iter().any(|link| link["rel"] == "self"
                && link["type"] == ACTIVITY_JSON
                && link["href"] == actor.as_str()),
            "{jrd}"
        );
    }
    let site = site("http://local.example/", |config| config);
    let (status, _, _) = get_as(
        &site,
        &at("/.well-known/webfinger"),
        "application/jrd+json",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn nodeinfo_links_its_document_and_the_instance_actor() {
    let site = site("http://local.example/", |config| {
        config.with_instance_actor("instance")
    });

    let (status, headers, body) = get_as(
        &site,
        &at("/.well-known/nodeinfo"),
        "application/json",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type(&headers), "application/json");
    let discovery = DiscoveryDocument::from_slice(&body).unwrap();
    assert_eq!(
        discovery.best_nodeinfo(),
        Some((Version::V2_1, at("/nodeinfo/2.1")))
    );
    assert_eq!(discovery.instance_actor(), Some(at("/actors/instance")));

    // Each version linked is served, and validates against its own schema.
    let linked: Vec<(Version, Url)> = discovery
        .nodeinfo_links()
        .map(|(version, link)| (version, Url::parse(link.href.as_deref().unwrap()).unwrap()))
        .collect();
    assert_eq!(
        linked,
        [
            (Version::V2_0, at("/nodeinfo/2.0")),
            (Version::V2_1, at("/nodeinfo/2.1")),
        ]
    );
    for (version, url) in linked {
        let (status, headers, body) = get_as(&site, &url, "application/json", None).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_eq!(
            content_type(&headers),
            format!(
                r#"application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{}#""#,
                version.as_str()
            )
        );
        let document = json_of(&body);
        let schema: Value = serde_json::from_slice(
            &std::fs::read(fixtures().join(format!("nodeinfo/schema-{}.json", version.as_str())))
                .unwrap(),
        )
        .unwrap();
        let validator = jsonschema::draft4::new(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{url}: {document}\n{errors:#?}");
        let info = NodeInfo::from_slice(&body).unwrap();
        assert_eq!(info.version, version);
        assert_eq!(info.software.name, "federation-tests");
        // The instance's name, which only 2.2 has a member for, is in the metadata.
        assert_eq!(info.metadata["nodeName"], "Local example", "{url}");
    }
    // Versions not linked are not served.
    for path in ["/nodeinfo/2.2", "/nodeinfo/1.0", "/nodeinfo/x"] {
        let (status, _, _) = get_as(&site, &at(path), "application/json", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn an_actor_is_json_for_programs_and_a_page_for_browsers() {
    let site = site("http://local.example/", |config| config);
    let alice = at("/actors/alice");
    for accept in [
        ACTIVITY_JSON,
        r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#,
        "*/*",
    ] {
        let (status, headers, body) = get_as(&site, &alice, accept, None).await;
        assert_eq!(status, StatusCode::OK, "{accept}");
        assert_eq!(content_type(&headers), ACTIVITY_JSON, "{accept}");
        assert_eq!(headers[header::VARY], "Accept");
        assert_eq!(json_of(&body)["id"], alice.as_str());
    }

    let (status, headers, body) = get_as(&site, &alice, HTML, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type(&headers), "text/html; charset=utf-8");
    assert_eq!(headers[header::VARY], "Accept");
    assert_eq!(body, "<h1>Alice</h1>");

    let (status, _, _) = get_as(&site, &at("/actors/nobody"), ACTIVITY_JSON, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, headers, body) = get_as(&site, &at("/actors/gone"), ACTIVITY_JSON, None).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(content_type(&headers), ACTIVITY_JSON);
    assert_eq!(json_of(&body)["type"], "Tombstone");
}

#[tokio::test]
async fn objects_are_served_gone_or_not_found() {
    let site = site("http://local.example/", |config| config);

    let (status, headers, body) = get_as(&site, &at("/notes/1"), ACTIVITY_JSON, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type(&headers), ACTIVITY_JSON);
    assert_eq!(json_of(&body)["id"], at("/notes/1").as_str());

    let (status, headers, body) = get_as(&site, &at("/notes/deleted"), ACTIVITY_JSON, None).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(content_type(&headers), ACTIVITY_JSON);
    let tombstone = json_of(&body);
    assert_eq!(tombstone["type"], "Tombstone");
    assert_eq!(tombstone["id"], at("/notes/deleted").as_str());

    let (status, _, _) = get_as(&site, &at("/notes/nope"), ACTIVITY_JSON, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = get_as(&site, &at("/broken"), ACTIVITY_JSON, None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !String::from_utf8_lossy(&body).contains("database"),
        "internal detail leaked"
    );

    // For browsers: the page, or the page the document names, or (this server not requiring
    // signatures) the JSON.
    let (status, _, body) = get_as(&site, &at("/notes/2"), HTML, None).await;
    assert_eq!(
        (status, body.as_ref()),
        (StatusCode::OK, b"<p>note 2</p>".as_ref())
    );
    let (status, headers, _) = get_as(&site, &at("/notes/3"), HTML, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], at("/@alice/3").as_str());
    let (status, headers, _) = get_as(&site, &at("/notes/1"), HTML, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type(&headers), ACTIVITY_JSON);

    let request = origin_form(
        http::Request::delete(at("/notes/1").as_str())
            .body(Body::empty())
            .unwrap(),
    );
    let (status, _, _) = call(&site, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn collections_are_paged() {
    let site = site("http://local.example/", |config| config);
    let followers = at("/actors/alice/followers");
    let page = |n: u64| format!("{followers}?page={n}");

    let (status, headers, body) = get_as(&site, &followers, ACTIVITY_JSON, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type(&headers), ACTIVITY_JSON);
    let collection = json_of(&body);
    assert_eq!(collection["id"], followers.as_str());
    assert_eq!(collection["type"], "OrderedCollection");
    assert_eq!(collection["totalItems"], FOLLOWERS);
    assert_eq!(collection["first"], page(1));
    assert_eq!(collection["last"], page(3));
    assert!(collection.get("orderedItems").is_none());
    assert!(
        collection["@context"]
            .as_array()
            .unwrap()
            .contains(&json!(AS))
    );

    // (page, first item, items, prev, next)
    let expected = [
        (1, 0, 20, None, Some(2)),
        (2, 20, 20, Some(1), Some(3)),
        (3, 40, 5, Some(2), None),
        (4, 0, 0, Some(3), None),
    ];
    for (n, first, count, prev, next) in expected {
        let url = Url::parse(&page(n)).unwrap();
        let (status, _, body) = get_as(&site, &url, ACTIVITY_JSON, None).await;
        assert_eq!(status, StatusCode::OK);
        let document = json_of(&body);
        assert_eq!(document["id"], page(n));
        assert_eq!(document["type"], "OrderedCollectionPage");
        assert_eq!(document["partOf"], followers.as_str());
        let items = document["orderedItems"].as_array().unwrap();
        assert_eq!(items.len(), count, "page {n}");
        if count > 0 {
            assert_eq!(items[0], format!("https://remote.example/users/{first}"));
        }
        assert_eq!(
            document.get("prev"),
            prev.map(|p| json!(page(p))).as_ref(),
            "page {n}"
        );
        assert_eq!(
            document.get("next"),
            next.map(|p| json!(page(p))).as_ref(),
            "page {n}"
        );
    }

    // An empty collection has a first page and no last.
    let (_, _, body) = get_as(&site, &at("/actors/alice/following"), ACTIVITY_JSON, None).await;
    let following = json_of(&body);
    assert_eq!(following["totalItems"], 0);
    assert!(following.get("first").is_some());
    assert!(following.get("last").is_none());
    for path in ["/actors/nobody/followers", "/actors/nobody/outbox"] {
        let (status, _, _) = get_as(&site, &at(path), ACTIVITY_JSON, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn authorized_fetch_requires_a_signature_for_json_only() {
    let remote = Remote::start().await;
    let reader = remote.served_actor("reader").await;
    let site = site("http://local.example/", |config| {
        config
            .with_authorized_fetch(true)
            .with_instance_actor("instance")
    });
    let guarded = [
        "/actors/alice",
        "/notes/1",
        "/actors/alice/followers",
        "/actors/alice/outbox?page=1",
    ];

    for path in guarded {
        let (status, headers, body) = get_as(&site, &at(path), ACTIVITY_JSON, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(content_type(&headers), "application/json");
        assert_eq!(json_of(&body)["error"], "authorized-fetch");
    }
    for standard in [Standard::Cavage, Standard::Rfc9421] {
        let signer = reader.signer(standard);
        for path in guarded {
            let (status, _, body) = get_as(&site, &at(path), ACTIVITY_JSON, Some(&signer)).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{path} signed with {standard}: {body:?}"
            );
        }
    }
    // The reader's key was fetched once, then cached.
    assert_eq!(remote.requests().await, 1);

    // The instance actor, WebFinger and NodeInfo stay readable.
    for path in [
        "/actors/instance",
        "/.well-known/webfinger?resource=acct:alice@local.example",
        "/.well-known/nodeinfo",
        "/nodeinfo/2.1",
    ] {
        let (status, _, _) = get_as(&site, &at(path), ACTIVITY_JSON, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }

    // Browsers get pages without signing, never the JSON.
    let (status, _, body) = get_as(&site, &at("/actors/alice"), HTML, None).await;
    assert_eq!(
        (status, body.as_ref()),
        (StatusCode::OK, b"<h1>Alice</h1>".as_ref())
    );
    let (status, _, body) = get_as(&site, &at("/notes/2"), HTML, None).await;
    assert_eq!(
        (status, body.as_ref()),
        (StatusCode::OK, b"<p>note 2</p>".as_ref())
    );
    let (status, headers, _) = get_as(&site, &at("/notes/3"), HTML, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], at("/@alice/3").as_str());
    for path in ["/notes/1", "/actors/instance", "/notes/deleted"] {
        let (status, headers, body) = get_as(&site, &at(path), HTML, None).await;
        let text = String::from_utf8_lossy(&body);
        assert!(
            status == StatusCode::NOT_ACCEPTABLE || status == StatusCode::GONE,
            "{path}: {status}"
        );
        assert_ne!(content_type(&headers), ACTIVITY_JSON, "{path}");
        assert!(!text.contains(at(path).as_str()), "{path} leaked: {text}");
        assert!(
            !text.contains("signed fetches only"),
            "{path} leaked: {text}"
        );
    }
    let (status, _, _) = get_as(&site, &at("/notes/deleted"), HTML, None).await;
    assert_eq!(status, StatusCode::GONE);
    let (status, _, _) = get_as(&site, &at("/notes/deleted"), ACTIVITY_JSON, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn authorized_fetch_tells_the_app_who_signed() {
    let remote = Remote::start().await;
    let reader = remote.served_actor("reader").await;
    let stranger = remote.served_actor("stranger").await;
    let open = site("http://local.example/", |config| config);
    let site = site("http://local.example/", |config| {
        config.with_authorized_fetch(true)
    });

    for standard in [Standard::Cavage, Standard::Rfc9421] {
        let (status, _, body) = get_as(
            &site,
            &at("/notes/for-readers"),
            ACTIVITY_JSON,
            Some(&reader.signer(standard)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{standard}: {body:?}");
        let note = json_of(&body);
        assert_eq!(note["to"], reader.id.as_str());
        assert_eq!(note["signedWith"], reader.key_id.as_str());
        let (status, _, body) = get_as(
            &site,
            &at("/actors/alice/outbox?page=1"),
            ACTIVITY_JSON,
            Some(&reader.signer(standard)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{standard}: {body:?}");
    }
    // Another actor, validly signed, is told there is no such thing.
    for path in ["/notes/for-readers", "/actors/alice/outbox"] {
        let (status, _, _) = get_as(
            &site,
            &at(path),
            ACTIVITY_JSON,
            Some(&stranger.signer(Standard::Cavage)),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // What is for everyone stays so.
    let (status, _, _) = get_as(
        &site,
        &at("/actors/alice/followers"),
        ACTIVITY_JSON,
        Some(&stranger.signer(Standard::Cavage)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Without authorized fetch nobody is known, even from a signed request, and the web page
    // (served unsigned) never is.
    let (status, _, _) = get_as(
        &open,
        &at("/notes/for-readers"),
        ACTIVITY_JSON,
        Some(&reader.signer(Standard::Cavage)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get_as(&site, &at("/notes/for-readers"), HTML, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn signed_fetches_can_be_identified_without_authorized_fetch() {
    let remote = Remote::start().await;
    let reader = remote.served_actor("reader").await;
    let stranger = remote.served_actor("stranger").await;
    let impostor = remote.actor("reader"); // the reader's key id, another key
    let site = site("http://local.example/", |config| {
        config.with_identify_signed_fetches(true)
    });
    let get_signed = |path: &'static str, signer: Option<Signer>| {
        let site = site.clone();
        async move { get_as(&site, &at(path), ACTIVITY_JSON, signer.as_ref()).await }
    };

    for standard in [Standard::Cavage, Standard::Rfc9421] {
        let (status, _, body) =
            get_signed("/notes/for-readers", Some(reader.signer(standard))).await;
        assert_eq!(status, StatusCode::OK, "{standard}: {body:?}");
        assert_eq!(json_of(&body)["to"], reader.id.as_str());
    }
    // A stranger, an impostor and nobody are all anonymous here: not refused, not let in.
    for signer in [
        Some(stranger.signer(Standard::Cavage)),
        Some(impostor.signer(Standard::Cavage)),
        None,
    ] {
        let (status, _, _) = get_signed("/notes/for-readers", signer.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // What is public stays public, whoever asks.
        let (status, _, _) = get_signed("/notes/1", signer).await;
        assert_eq!(status, StatusCode::OK);
    }

    // A blocked domain is anonymous too.
    let blocking = site_with(
        "http://local.example/",
        |config| config.with_identify_signed_fetches(true),
        DomainPolicy::block(["127.0.0.1"]),
    );
    let (status, _, _) = get_as(
        &blocking,
        &at("/notes/for-readers"),
        ACTIVITY_JSON,
        Some(&reader.signer(Standard::Cavage)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn authorized_fetch_refuses_bad_signatures_and_blocked_domains() {
    let remote = Remote::start().await;
    let reader = remote.served_actor("reader").await;
    let impostor = remote.actor("reader"); // the reader's key id, another key
    let site = site("http://local.example/", |config| {
        config.with_authorized_fetch(true)
    });

    let (status, _, _) = get_as(
        &site,
        &at("/notes/1"),
        ACTIVITY_JSON,
        Some(&impostor.signer(Standard::Cavage)),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Signed for another path: the signature covers the request target.
    let mut request = get(
        &at("/notes/2"),
        ACTIVITY_JSON,
        Some(&reader.signer(Standard::Cavage)),
    );
    *request.uri_mut() = "/notes/1".parse().unwrap();
    let (status, _, _) = call(&site, request.map(Body::from)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let blocking = site_with(
        "http://local.example/",
        |config| config.with_authorized_fetch(true),
        DomainPolicy::block(["127.0.0.1"]),
    );
    let before = remote.requests().await;
    let (status, _, body) = get_as(
        &blocking,
        &at("/notes/1"),
        ACTIVITY_JSON,
        Some(&reader.signer(Standard::Cavage)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(json_of(&body)["error"], "domain-policy");
    assert_eq!(remote.requests().await, before);
}

#[tokio::test]
async fn inboxes_answer_for_their_actors_only() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let site = site("http://local.example/", |config| config);
    let follow = json!({
        "@context": AS,
        "id": alice.url("/activities/1").as_str(),
        "type": "Follow",
        "actor": alice.id.as_str(),
        "object": at("/actors/alice").as_str(),
    });
    let signer = alice.signer(Standard::Cavage);

    for (path, expected) in [
        ("/actors/nobody/inbox", StatusCode::NOT_FOUND),
        ("/actors/gone/inbox", StatusCode::GONE),
        ("/actors/alice/inbox", StatusCode::ACCEPTED),
        ("/inbox", StatusCode::ACCEPTED),
    ] {
        let request = signed_post(&signer, &at(path), &follow, now());
        let (status, _, body) = call(&site, request.map(Body::from)).await;
        assert_eq!(status, expected, "{path}: {body:?}");
    }
    // Refusals say which step failed.
    let (status, headers, body) =
        call(&site, unsigned_post(&at("/inbox"), &follow).map(Body::from)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type(&headers), "application/json");
    assert_eq!(json_of(&body)["error"], "signature");
    // Only POST.
    let (status, _, _) = get_as(&site, &at("/actors/alice/inbox"), ACTIVITY_JSON, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // Client-to-server posting is the app's, refused unless it implements it.
    let request = signed_post(&signer, &at("/actors/alice/outbox"), &follow, now());
    let (status, _, _) = call(&site, request.map(Body::from)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_or_without_a_length() {
    let site = site("http://local.example/", |config| config);
    let big = Bytes::from(vec![b' '; 1025]);
    for path in ["/inbox", "/actors/alice/inbox"] {
        // Announced by Content-Length.
        let request = http::Request::post(path)
            .header(header::HOST, "local.example")
            .header(header::CONTENT_TYPE, ACTIVITY_JSON)
            .header(header::CONTENT_LENGTH, big.len())
            .body(Body::from(big.clone()))
            .unwrap();
        let (status, _, body) = call(&site, request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(json_of(&body)["error"], "body-size");

        // Chunked: no length, only the bytes.
        let chunks = (0..5).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 256])));
        let request = http::Request::post(path)
            .header(header::HOST, "local.example")
            .header(header::CONTENT_TYPE, ACTIVITY_JSON)
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .unwrap();
        assert!(!request.headers().contains_key(header::CONTENT_LENGTH));
        let (status, _, body) = call(&site, request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(json_of(&body)["error"], "body-size");
    }
    // At the limit, the body is read (and then refused for what it is).
    let request = http::Request::post("/inbox")
        .header(header::HOST, "local.example")
        .body(Body::from(vec![b' '; 1024]))
        .unwrap();
    let (status, _, _) = call(&site, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The router of a server at `http://local.example/` that also answers to
/// `internal.example:8080` (the name a reverse proxy passes on).
fn site_behind_proxy(configure: impl FnOnce(RoutesConfig) -> RoutesConfig) -> Router {
    let app = TestApp { base: base() };
    let inbox = Inbox::new(
        InboxConfig::new(&base()).with_accepted_hosts(["internal.example:8080"]),
        key_cache(),
        fetcher(),
        MemoryInboxStore::new(),
        Dispatcher::new(),
        app.clone(),
    );
    router(Arc::new(Server {
        config: configure(RoutesConfig::new(base())),
        app,
        inbox,
    }))
}

#[tokio::test]
async fn a_signed_get_made_for_another_server_is_refused() {
    let remote = Remote::start().await;
    let reader = remote.served_actor("reader").await;
    let guarded = site_behind_proxy(|config| config.with_authorized_fetch(true));
    let identifying = site_behind_proxy(|config| config.with_identify_signed_fetches(true));
    let replayed = Url::parse("http://peer.example/notes/for-readers").unwrap();
    for standard in [Standard::Cavage, Standard::Rfc9421] {
        // A GET the reader signed for peer.example, replayed here: refused in authorized-fetch
        // mode, anonymous otherwise.
        let signer = reader.signer(standard);
        let (status, _, body) = get_as(&guarded, &replayed, ACTIVITY_JSON, Some(&signer)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{standard}");
        let problem = json_of(&body);
        assert_eq!(problem["error"], "authorized-fetch");
        assert!(
            problem["detail"].as_str().unwrap().contains("peer.example"),
            "{problem}"
        );
        let (status, _, _) = get_as(&identifying, &replayed, ACTIVITY_JSON, Some(&signer)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{standard}");
    }
    // Refused before the key was fetched.
    assert_eq!(remote.requests().await, 0);
    // Signed for this server, under its name or the configured one: the reader is known.
    for url in [
        "http://local.example/notes/for-readers",
        "http://internal.example:8080/notes/for-readers",
    ] {
        for standard in [Standard::Cavage, Standard::Rfc9421] {
            let signer = reader.signer(standard);
            let url = Url::parse(url).unwrap();
            for site in [&guarded, &identifying] {
                let (status, _, body) = get_as(site, &url, ACTIVITY_JSON, Some(&signer)).await;
                assert_eq!(status, StatusCode::OK, "{url} with {standard}: {body:?}");
                assert_eq!(json_of(&body)["to"], reader.id.as_str());
            }
        }
    }
}
