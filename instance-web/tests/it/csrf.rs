//! Every form post checks its CSRF token and refuses other sites.

use axum::body::Body;
use http::{HeaderValue, Request, StatusCode, header};
use instance_state::accounts::Role;

use crate::support::{Instance, PASSWORD};

#[tokio::test]
async fn a_signed_in_form_needs_its_own_token() {
    let instance = Instance::start(|c| c).await;
    instance.account("alice", Role::User).await;
    instance.account("mallory", Role::User).await;
    let mut alice = instance.signed_in("alice").await;
    let mut mallory = instance.signed_in("mallory").await;
    let token = alice.get("/private").await.csrf();

    let posted = alice
        .post("/notes", &[("text", "hi"), ("csrf", &token)])
        .await;
    assert_eq!(posted.status, StatusCode::OK);
    assert_eq!(posted.body, "alice posted hi");

    let missing = alice.post("/notes", &[("text", "hi")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(
        missing
            .body
            .contains("expired or did not come from this site")
    );

    let wrong = alice
        .post(
            "/notes",
            &[
                ("text", "hi"),
                ("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let garbage = alice
        .post("/notes", &[("text", "hi"), ("csrf", "%%%")])
        .await;
    assert_eq!(garbage.status, StatusCode::FORBIDDEN);

    // Another session's token is no good here.
    let mallorys = mallory.get("/private").await.csrf();
    assert_ne!(mallorys, token);
    let foreign = alice
        .post("/notes", &[("text", "hi"), ("csrf", &mallorys)])
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);

    // Two tokens: the form is refused rather than guessed at.
    let doubled = alice
        .post("/notes", &[("text", "hi"), ("csrf", "x"), ("csrf", &token)])
        .await;
    assert_eq!(doubled.status, StatusCode::FORBIDDEN);

    // Sign-out is a form too: without the token the session stays.
    let out = alice.post("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    assert_eq!(alice.get("/private").await.status, StatusCode::OK);
}

#[tokio::test]
async fn cross_site_posts_are_refused_even_with_the_token() {
    let instance = Instance::start(|c| c).await;
    instance.account("alice", Role::User).await;
    let mut alice = instance.signed_in("alice").await;
    let token = alice.get("/private").await.csrf();

    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "http://localhost:8080"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let mut forged = alice.clone();
        forged.headers.insert(name, HeaderValue::from_static(value));
        let page = forged
            .post("/notes", &[("text", "hi"), ("csrf", &token)])
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(
            page.body.contains("sent from another site"),
            "{}",
            page.body
        );
    }

    // A browser that sends neither header relies on the token alone.
    let cookie = alice
        .cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let bare = Request::post("/notes")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie.clone())
        .body(Body::from(format!("text=hi&csrf={token}")))
        .unwrap();
    assert_eq!(alice.send(bare).await.status, StatusCode::OK);

    // Not a form.
    let json = Request::post("/notes")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, cookie)
        .body(Body::from(format!(
            "{{\"text\":\"hi\",\"csrf\":\"{token}\"}}"
        )))
        .unwrap();
    assert_eq!(
        alice.send(json).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn the_signed_out_forms_are_protected_too() {
    let instance = Instance::start(|c| c).await;
    instance.account("alice", Role::User).await;
    let fields = [("username", "alice"), ("password", PASSWORD)];

    // No pre-session cookie, no token: a login forged from elsewhere (login CSRF) fails.
    let mut stranger = instance.browser();
    let page = stranger.post("/login", &fields).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!stranger.cookies.contains_key("session"));

    // The token of one browser's pre-session cookie is no good with another's.
    let mut victim = instance.browser();
    let mut attacker = instance.browser();
    let attackers = attacker.get("/login").await.csrf();
    victim.get("/login").await;
    let mut with_token = fields.to_vec();
    with_token.push(("csrf", &attackers));
    let page = victim.post("/login", &with_token).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // Cross-site, with the right token.
    let token = victim.get("/login").await.csrf();
    let mut forged = victim.clone();
    forged
        .headers
        .insert("origin", HeaderValue::from_static("https://evil.example"));
    let mut with_token = fields.to_vec();
    with_token.push(("csrf", &token));
    assert_eq!(
        forged.post("/login", &with_token).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        victim.post("/login", &with_token).await.status,
        StatusCode::SEE_OTHER
    );
}
