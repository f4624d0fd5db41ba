//! Security headers on every page, and pages that work without script on a phone.

use http::{StatusCode, header};
use instance_state::accounts::Role;
use instance_web::{CONTENT_SECURITY_POLICY, STYLESHEET_PATH, SignupMode};

use crate::support::{Instance, Page};

fn assert_secure(path: &str, page: &Page) {
    let get = |name: header::HeaderName| {
        page.headers
            .get(&name)
            .unwrap_or_else(|| panic!("{path}: no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        get(header::CONTENT_SECURITY_POLICY),
        CONTENT_SECURITY_POLICY
    );
    assert_eq!(get(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(get(header::REFERRER_POLICY), "same-origin");
    assert_eq!(get(header::X_FRAME_OPTIONS), "DENY");
}

#[tokio::test]
async fn every_page_has_the_security_headers_and_no_script() {
    let instance = Instance::start(|c| c.with_signup(SignupMode::Open)).await;
    instance.account("mod", Role::Moderator).await;
    let csp = CONTENT_SECURITY_POLICY;
    for required in [
        "default-src 'none'",
        "style-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(required), "{required}");
    }
    assert!(!csp.contains("script-src") && !csp.contains("unsafe"));

    let mut anonymous = instance.browser();
    for path in ["/", "/login", "/signup", "/login?next=%2Fx"] {
        let page = anonymous.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_secure(path, &page);
        check_markup(path, &page);
    }
    // Redirects and refusals too.
    assert_secure("/private", &anonymous.get("/private").await);
    assert_secure("/notes", &anonymous.post("/notes", &[]).await);

    let mut moderator = instance.signed_in("mod").await;
    for path in [
        "/",
        "/account/password",
        "/account/identities",
        "/admin/signups",
    ] {
        let page = moderator.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_secure(path, &page);
        check_markup(path, &page);
        assert_eq!(
            page.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store",
            "{path}"
        );
    }

    let css = anonymous.get(STYLESHEET_PATH).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(
        css.headers.get(header::CONTENT_TYPE).unwrap(),
        "text/css; charset=utf-8"
    );
    assert_secure(STYLESHEET_PATH, &css);
}

/// No script or inline style (the policy forbids them), a viewport for phones, a label for
/// every visible input.
fn check_markup(path: &str, page: &Page) {
    let body = &page.body;
    assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
    assert!(!body.contains("<script"), "{path}");
    assert!(
        !body.contains("<style") && !body.contains("style=\""),
        "{path}"
    );
    assert!(
        body.contains("name=\"viewport\" content=\"width=device-width, initial-scale=1\""),
        "{path}"
    );
    assert!(
        body.contains(&format!("href=\"{STYLESHEET_PATH}\"")),
        "{path}"
    );
    for input in body.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap()];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = tag
            .split("id=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{path}: an input without id: {tag}"));
        assert!(
            body.contains(&format!("<label for=\"{id}\"")),
            "{path}: no label for {id}"
        );
    }
}
