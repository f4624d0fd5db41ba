//! Sign-in, sign-out, `next`, cookies, and the password change.

use http::StatusCode;
use instance_state::accounts::Role;
use instance_web::local_path;

use crate::support::{Db, Instance, PASSWORD};

async fn sign_in_and_out(db: Db) {
    let Some(instance) = Instance::start_on(db, "http://localhost", |c| c).await else {
        return;
    };
    instance.account("alice", Role::User).await;
    let mut browser = instance.browser();

    // Signed out, a private page sends to the sign-in page, which comes back after.
    let private = browser.get("/private?tab=notes").await;
    assert_eq!(private.status, StatusCode::SEE_OTHER);
    assert_eq!(private.location(), "/login?next=%2Fprivate%3Ftab%3Dnotes");
    let form = browser.get(private.location()).await;
    assert_eq!(form.hidden("next").as_deref(), Some("/private?tab=notes"));

    let wrong = browser
        .submit(
            "/login?next=%2Fprivate",
            "/login",
            &[
                ("username", "alice"),
                ("password", "not the password"),
                ("next", "/private"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("Wrong username or password"));
    assert!(wrong.body.contains("value=\"alice\""), "username kept");
    let unknown = browser
        .submit(
            "/login",
            "/login",
            &[("username", "nobody"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.body.contains("Wrong username or password"));

    let right = browser
        .submit(
            "/login",
            "/login",
            &[
                ("username", "Alice"),
                ("password", PASSWORD),
                ("next", "/private?tab=notes"),
            ],
        )
        .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_eq!(right.location(), "/private?tab=notes");
    let session = browser.cookies.get("session").cloned().unwrap();
    let private = browser.get("/private").await;
    assert_eq!(private.status, StatusCode::OK);
    assert!(private.body.contains("acting as alice"));
    // Signed in, the sign-in page goes on to `next`.
    assert_eq!(browser.get("/login").await.status, StatusCode::SEE_OTHER);

    // Signing in again (the form posted from another tab) replaces the session: the old one
    // is revoked, not left live with no browser holding it.
    let token = browser.get("/private").await.csrf();
    let again = browser
        .post(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf", &token),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(
        instance
            .state()
            .authenticate(&session)
            .await
            .unwrap()
            .is_none()
    );
    let session = browser.cookies.get("session").cloned().unwrap();

    // The old session's token went with it.
    let stale = private.csrf();
    let refused = browser.post("/logout", &[("csrf", &stale)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Signing out revokes the session in the database, not only in this browser.
    let token = browser.get("/private").await.csrf();
    let out = browser.post("/logout", &[("csrf", &token)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!browser.cookies.contains_key("session"), "cookie removed");
    assert!(
        instance
            .state()
            .authenticate(&session)
            .await
            .unwrap()
            .is_none()
    );
    browser.cookies.insert("session".to_owned(), session);
    assert_eq!(browser.get("/private").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_in_wrong_password_and_sign_out() {
    sign_in_and_out(Db::Sqlite).await;
}

#[tokio::test]
async fn sign_in_and_out_on_postgres() {
    sign_in_and_out(Db::Postgres).await;
}

#[tokio::test]
async fn next_goes_only_to_local_paths() {
    for bad in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "evil.example",
        "javascript:alert(1)",
        "",
    ] {
        assert_eq!(local_path(bad), None, "{bad:?}");
    }
    for good in ["/", "/events/12?x=%2F%2Fy", "/a//b", "/@alice"] {
        assert_eq!(local_path(good), Some(good));
    }

    let instance = Instance::start(|c| c).await;
    instance.account("alice", Role::User).await;
    let mut browser = instance.browser();
    let form = browser.get("/login?next=%2F%2Fevil.example%2F").await;
    assert_eq!(form.hidden("next").as_deref(), Some("/"));
    for next in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let mut browser = instance.browser();
        let page = browser
            .submit(
                "/login",
                "/login",
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(page.location(), "/", "{next:?}");
    }
}

#[tokio::test]
async fn cookie_attributes_follow_the_base_url() {
    for (base, name, secure) in [
        ("http://localhost", "session", false),
        ("https://social.example", "__Host-session", true),
    ] {
        let instance = Instance::start_on(Db::Sqlite, base, |c| {
            c.with_session_lifetime(std::time::Duration::from_secs(3600))
        })
        .await
        .unwrap();
        instance.account("alice", Role::User).await;
        let mut browser = instance.browser();
        let form = browser.get("/login").await;
        let presession = form.set_cookies();
        assert_eq!(presession.len(), 1);
        let presession = cookie::Cookie::parse(presession[0].clone()).unwrap();
        assert_eq!(
            presession.name(),
            if secure { "__Host-csrf" } else { "csrf" }
        );
        assert_eq!(presession.http_only(), Some(true));
        assert_eq!(presession.same_site(), Some(cookie::SameSite::Lax));
        assert_eq!(presession.secure().unwrap_or(false), secure);
        assert_eq!(presession.path(), Some("/"));

        let page = browser
            .submit(
                "/login",
                "/login",
                &[("username", "alice"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{base}: {}", page.body);
        let set = page.set_cookies();
        assert_eq!(set.len(), 1, "{set:?}");
        let session = cookie::Cookie::parse(set[0].clone()).unwrap();
        assert_eq!(session.name(), name);
        assert_eq!(session.http_only(), Some(true));
        assert_eq!(session.same_site(), Some(cookie::SameSite::Lax));
        assert_eq!(session.secure().unwrap_or(false), secure, "{}", set[0]);
        assert_eq!(session.path(), Some("/"));
        assert_eq!(session.domain(), None, "host-only");
        assert_eq!(
            session.max_age(),
            Some(cookie::time::Duration::seconds(3600))
        );
        assert!(set[0].contains("HttpOnly") && set[0].contains("SameSite=Lax"));
        assert_eq!(set[0].contains("Secure"), secure);

        // The session is what the store made: 256 random bits, only its hash kept.
        let (credential, account) = instance
            .state()
            .authenticate(session.value())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(account.username, "alice");
        assert_eq!(credential.actor.as_deref(), Some("alice"));
        assert_eq!(browser.get("/private").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn changing_the_password_signs_out_every_other_session() {
    let instance = Instance::start(|c| c).await;
    instance.account("alice", Role::User).await;
    let mut here = instance.signed_in("alice").await;
    let mut elsewhere = instance.signed_in("alice").await;
    let new_password = "a brand new passphrase";

    let wrong = here
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current", "not it at all"),
                ("password", new_password),
                ("password_again", new_password),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("not the current password"));
    assert_eq!(elsewhere.get("/private").await.status, StatusCode::OK);

    let changed = here
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", new_password),
                ("password_again", new_password),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert_eq!(changed.location(), "/account/password?changed=1");
    let notice = here.get(changed.location()).await;
    assert_eq!(
        notice.status,
        StatusCode::OK,
        "this browser stays signed in"
    );
    assert!(notice.body.contains("every other session"));
    assert_eq!(
        elsewhere.get("/private").await.status,
        StatusCode::SEE_OTHER,
        "the other session is revoked"
    );

    let mut browser = instance.browser();
    let old = browser
        .submit(
            "/login",
            "/login",
            &[("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(old.status, StatusCode::UNPROCESSABLE_ENTITY);
    let new = browser
        .submit(
            "/login",
            "/login",
            &[("username", "alice"), ("password", new_password)],
        )
        .await;
    assert_eq!(new.status, StatusCode::SEE_OTHER);
}
