//! Serving: status codes, headers, rel filtering, the lookup left to the caller.

use http::{Method, Request, StatusCode};
use url::Url;
use webfinger::server::{self, Query, QueryError, account_jrd};
use webfinger::{Jrd, Rel, Resource};

/// A directory with one account, alice@example.com.
fn lookup(query: &Query) -> Option<Jrd> {
    let acct = match &query.resource {
        Resource::Acct(acct) => acct.clone(),
        Resource::Uri(url) if url.as_str() == "https://example.com/users/alice" => {
            "acct:alice@example.com".parse().unwrap()
        }
        _ => return None,
    };
    if !(acct.user() == "alice" && acct.host().to_string() == "example.com") {
        return None;
    }
    let id = Url::parse("https://example.com/users/alice").unwrap();
    let page = Url::parse("https://example.com/@alice").unwrap();
    Some(account_jrd(&acct, &id, Some(&page)))
}

fn check(query: Option<&str>, status: StatusCode) -> http::Response<Vec<u8>> {
    let response = server::respond(query, lookup);
    assert_eq!(response.status(), status, "{query:?}");
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "*",
        "{query:?}"
    );
    response
}

#[test]
fn found() {
    for query in [
        "resource=acct:alice@example.com",
        "resource=acct%3Aalice%40example.com",
        "resource=acct:alice@EXAMPLE.com",
        "resource=alice@example.com",
        "resource=https%3A%2F%2Fexample.com%2Fusers%2Falice",
        "other=1&resource=acct:alice@example.com&",
    ] {
        let response = check(Some(query), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/jrd+json");
        let jrd = Jrd::from_slice(response.body()).unwrap();
        assert_eq!(jrd.subject.as_deref(), Some("acct:alice@example.com"));
        assert_eq!(
            jrd.activitypub_id().unwrap().as_str(),
            "https://example.com/users/alice"
        );
        assert_eq!(jrd.links.len(), 2);
    }
}

#[test]
fn rel_filter() {
    let response = check(
        Some("resource=acct:alice@example.com&rel=self&rel=http%3A%2F%2Fexample.com%2Fnone"),
        StatusCode::OK,
    );
    let jrd = Jrd::from_slice(response.body()).unwrap();
    assert_eq!(jrd.links.len(), 1);
    assert_eq!(jrd.links[0].rel, Rel::SELF);
    assert_eq!(jrd.aliases.len(), 2);
}

#[test]
fn not_found() {
    for query in [
        "resource=acct:bob@example.com",
        "resource=acct:alice@elsewhere.example",
    ] {
        check(Some(query), StatusCode::NOT_FOUND);
    }
}

#[test]
fn bad_request() {
    for (query, expected) in [
        (None, QueryError::MissingResource),
        (Some(""), QueryError::MissingResource),
        (Some("rel=self"), QueryError::MissingResource),
        (
            Some("resource=acct:a@example.com&resource=acct:b@example.com"),
            QueryError::DuplicateResource,
        ),
    ] {
        let response = check(query, StatusCode::BAD_REQUEST);
        assert_eq!(Query::parse(query).unwrap_err(), expected);
        assert!(
            String::from_utf8(response.into_body())
                .unwrap()
                .contains(&expected.to_string())
        );
    }
    for query in [
        "resource=",
        "resource=alice",
        "resource=%FF",
        "resource=acct:@example.com",
    ] {
        check(Some(query), StatusCode::BAD_REQUEST);
    }
}

#[test]
fn plus_is_not_a_space() {
    let query = Query::parse(Some("resource=acct:a+b@example.com")).unwrap();
    assert_eq!(query.resource.as_acct().unwrap().user(), "a+b");
}

#[test]
fn methods() {
    let get = Request::get("/.well-known/webfinger?resource=acct:alice@example.com")
        .body(())
        .unwrap();
    let response = server::respond_to_request(&get, lookup);
    assert_eq!(response.status(), StatusCode::OK);
    let length = response.body().len();
    assert!(length > 0);

    let head = Request::builder()
        .method(Method::HEAD)
        .uri("/.well-known/webfinger?resource=acct:alice@example.com")
        .body(())
        .unwrap();
    let response = server::respond_to_request(&head, lookup);
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.body().is_empty());
    assert_eq!(response.headers()["content-type"], "application/jrd+json");

    let post = Request::post("/.well-known/webfinger").body(()).unwrap();
    let response = server::respond_to_request(&post, lookup);
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
}

#[test]
fn asynchronous_lookup_in_two_steps() {
    let query = Query::parse(Some("resource=acct:alice@example.com")).unwrap();
    // ... the caller awaits its database here ...
    let found = lookup(&query);
    assert_eq!(query.respond(found).status(), StatusCode::OK);
    assert_eq!(query.respond(None).status(), StatusCode::NOT_FOUND);
}

/// A server whose actor id is also its profile page (content negotiation) lists it once.
#[test]
fn aliases_are_listed_once_in_order() {
    let acct = "acct:alice@example.com".parse().unwrap();
    let id = Url::parse("https://example.com/actors/alice").unwrap();
    let jrd = account_jrd(&acct, &id, Some(&id));
    assert_eq!(jrd.aliases, ["https://example.com/actors/alice"]);
    let page = Url::parse("https://example.com/@alice").unwrap();
    let jrd = account_jrd(&acct, &id, Some(&page))
        .with_alias("https://example.com/@alice")
        .with_alias("https://example.com/users/1")
        .with_alias("https://example.com/actors/alice");
    assert_eq!(
        jrd.aliases,
        [
            "https://example.com/@alice",
            "https://example.com/actors/alice",
            "https://example.com/users/1"
        ]
    );
    // What a server sent is read as it is.
    let read =
        Jrd::from_slice(br#"{"subject":"acct:a@b.example","aliases":["x:1","x:1"]}"#).unwrap();
    assert_eq!(read.aliases, ["x:1", "x:1"]);
}
