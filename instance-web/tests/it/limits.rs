//! Failed sign-ins are limited per account and per client address; a limited attempt is
//! answered `429` with `Retry-After`, before the password is looked at.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use instance_state::accounts::Role;
use instance_web::{RateLimit, SignupMode};

use crate::support::{Browser, Instance, PASSWORD};

const WINDOW: Duration = Duration::from_secs(15 * 60);

async fn login(browser: &mut Browser, name: &str, password: &str) -> crate::support::Page {
    browser
        .submit(
            "/login",
            "/login",
            &[("username", name), ("password", password)],
        )
        .await
}

fn retry_after(page: &crate::support::Page) -> u64 {
    page.headers
        .get(header::RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn failures_on_one_account_limit_it_from_every_address() {
    let instance =
        Instance::start(|c| c.with_failed_logins_per_account(RateLimit::new(3, WINDOW))).await;
    instance.account("alice", Role::User).await;
    instance.account("bob", Role::User).await;
    for _ in 0..3 {
        let page = login(&mut instance.browser(), "alice", "wrong password").await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // The right password, from a fresh address: refused without being checked.
    let limited = login(&mut instance.browser(), "ALICE", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        retry_after(&limited),
        300,
        "one attempt back every 5 minutes"
    );
    assert!(limited.body.contains("Too many attempts"));
    // Another account is not limited.
    let bob = login(&mut instance.browser(), "bob", PASSWORD).await;
    assert_eq!(bob.status, StatusCode::SEE_OTHER);

    // The allowance refills with time.
    instance.advance(Duration::from_secs(300));
    let back = login(&mut instance.browser(), "alice", PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    // A success makes the account's allowance whole.
    for _ in 0..3 {
        login(&mut instance.browser(), "alice", "wrong again").await;
    }
    assert_eq!(
        login(&mut instance.browser(), "alice", PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_limited_attempt_does_not_reach_the_password_check() {
    let instance =
        Instance::start(|c| c.with_failed_logins_per_account(RateLimit::new(1, WINDOW))).await;
    instance.account("alice", Role::User).await;
    login(&mut instance.browser(), "alice", "wrong password").await;
    // With the database closed, a request that checked the password would fail with 500;
    // a limited one never asks.
    instance.state().close().await;
    let limited = login(&mut instance.browser(), "alice", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let checked = login(&mut instance.browser(), "someone-else", PASSWORD).await;
    assert_eq!(checked.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn failures_from_one_address_limit_it_for_every_account() {
    let instance =
        Instance::start(|c| c.with_failed_logins_per_address(RateLimit::new(3, WINDOW))).await;
    instance.account("alice", Role::User).await;
    let address: SocketAddr = "192.0.2.10:1000".parse().unwrap();
    for name in ["u1", "u2", "u3"] {
        let page = login(&mut instance.browser_at(address), name, "guess").await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = login(&mut instance.browser_at(address), "alice", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&limited) > 0);
    // Another port of the same address is the same client; another address is not limited.
    let other_port = "192.0.2.10:2000".parse().unwrap();
    assert_eq!(
        login(&mut instance.browser_at(other_port), "alice", PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let elsewhere = "192.0.2.11:1000".parse().unwrap();
    assert_eq!(
        login(&mut instance.browser_at(elsewhere), "alice", PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    // An IPv6 client counts by its /64.
    for host in ["[2001:db8::1]:1", "[2001:db8::2]:1", "[2001:db8::3]:1"] {
        login(
            &mut instance.browser_at(host.parse().unwrap()),
            "x",
            "guess",
        )
        .await;
    }
    let same_64 = "[2001:db8::ffff]:1".parse().unwrap();
    assert_eq!(
        login(&mut instance.browser_at(same_64), "alice", PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_configured_proxy() {
    let proxy: SocketAddr = "10.0.0.1:3000".parse().unwrap();
    let limit = RateLimit::new(2, WINDOW);

    // Not configured: the header is ignored, and changing it does not escape the limit.
    let direct = Instance::start(|c| c.with_failed_logins_per_address(limit)).await;
    direct.account("alice", Role::User).await;
    for n in 0..2 {
        let mut browser = direct.browser_at(proxy);
        let forwarded = format!("198.51.100.{n}");
        browser.headers.insert(
            "x-forwarded-for",
            HeaderValue::from_str(&forwarded).unwrap(),
        );
        login(&mut browser, "x", "guess").await;
    }
    let mut spoofing = direct.browser_at(proxy);
    spoofing
        .headers
        .insert("x-forwarded-for", HeaderValue::from_static("198.51.100.99"));
    assert_eq!(
        login(&mut spoofing, "alice", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Configured: each forwarded client counts on its own, and a client's own header is not
    // believed past the proxy.
    let behind = Instance::start(|c| {
        c.with_failed_logins_per_address(limit)
            .with_trusted_proxies(vec![proxy.ip()])
    })
    .await;
    behind.account("alice", Role::User).await;
    let client = |forwarded: &'static str| {
        let mut browser = behind.browser_at(proxy);
        browser
            .headers
            .insert("x-forwarded-for", HeaderValue::from_static(forwarded));
        browser
    };
    login(&mut client("198.51.100.1"), "x", "guess").await;
    login(&mut client("203.0.113.5, 198.51.100.1"), "x", "guess").await;
    assert_eq!(
        login(&mut client("198.51.100.1"), "alice", PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login(&mut client("198.51.100.2"), "alice", PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn sign_ups_are_limited_per_address() {
    let instance = Instance::start(|c| {
        c.with_signup(SignupMode::Open)
            .with_signups_per_address(RateLimit::new(1, WINDOW))
    })
    .await;
    let address: SocketAddr = "192.0.2.20:1".parse().unwrap();
    let fields = |name: &'static str| {
        [
            ("username", name),
            ("password", "long enough password"),
            ("password_again", "long enough password"),
        ]
    };
    let first = instance
        .browser_at(address)
        .submit("/signup", "/signup", &fields("first"))
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let second = instance
        .browser_at(address)
        .submit("/signup", "/signup", &fields("second"))
        .await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        instance
            .state()
            .account_by_username("second")
            .await
            .unwrap()
            .is_none()
    );
}

/// With `shared_limits`, the limiters count in the database: two processes serving it limit
/// a client together. Without, each counts alone (one process's default).
#[tokio::test]
async fn shared_limits_count_every_process_together() {
    let shared = |c: instance_web::WebConfig| {
        c.with_failed_logins_per_account(RateLimit::new(4, WINDOW))
            .with_failed_logins_per_address(RateLimit::new(100, WINDOW))
            .with_shared_limits(true)
    };
    let one = Instance::start(shared).await;
    let two = one.beside(shared);
    one.account("alice", Role::User).await;
    for attempt in 0..4 {
        let process = if attempt % 2 == 0 { &one } else { &two };
        let page = login(&mut process.browser(), "alice", "wrong password").await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    for process in [&one, &two] {
        let limited = login(&mut process.browser(), "alice", PASSWORD).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    }
    one.advance(Duration::from_secs(225));
    let back = login(&mut two.browser(), "alice", PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);

    // In memory, the second process knows nothing of the first's failures.
    let alone =
        |c: instance_web::WebConfig| c.with_failed_logins_per_account(RateLimit::new(4, WINDOW));
    let one = Instance::start(alone).await;
    let two = one.beside(alone);
    one.account("alice", Role::User).await;
    for _ in 0..4 {
        login(&mut one.browser(), "alice", "wrong password").await;
    }
    assert_eq!(
        login(&mut one.browser(), "alice", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login(&mut two.browser(), "alice", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}
