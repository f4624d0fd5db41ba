//! Several identities per account, switching between them, and escaping what people write.

use http::StatusCode;
use instance_state::accounts::Role;

use crate::support::Instance;

#[tokio::test]
async fn make_another_identity_and_switch_to_it() {
    let instance = Instance::start(|c| c.with_max_identities(2)).await;
    let alice = instance.account("alice", Role::User).await;
    instance.account("bob", Role::User).await;
    let mut browser = instance.signed_in("alice").await;

    let made = browser
        .submit(
            "/account/identities",
            "/account/identities",
            &[("name", "Alice-Club"), ("display_name", "Alice's club")],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let identities = instance.state().identities(&alice.id).await.unwrap();
    let names: Vec<&str> = identities.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["alice", "alice-club"]);

    let page = browser.get("/account/identities").await;
    assert!(page.body.contains("Alice&#39;s club") || page.body.contains("Alice's club"));
    assert!(
        page.body
            .contains("as many identities as this server allows")
    );
    assert!(
        browser
            .get("/private")
            .await
            .body
            .contains("acting as alice")
    );

    let switched = browser
        .submit(
            "/account/identities",
            "/account/identities/switch",
            &[("name", "alice-club")],
        )
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);
    assert!(
        browser
            .get("/private")
            .await
            .body
            .contains("acting as alice-club")
    );
    let token = browser.get("/private").await.csrf();
    let note = browser
        .post("/notes", &[("text", "x"), ("csrf", &token)])
        .await;
    assert_eq!(note.body, "alice-club posted x");

    // Another account's identity is not one to switch to.
    let refused = browser
        .submit(
            "/account/identities",
            "/account/identities/switch",
            &[("name", "bob")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        browser
            .get("/private")
            .await
            .body
            .contains("acting as alice-club")
    );

    // Over the limit.
    let over = browser
        .submit(
            "/account/identities",
            "/account/identities",
            &[("name", "third")],
        )
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(instance.state().actor("third").await.unwrap().is_none());
}

#[tokio::test]
async fn identity_names_follow_the_actor_name_rules() {
    let instance = Instance::start(|c| c).await;
    instance.account("alice", Role::User).await;
    instance.account("bob", Role::User).await;
    let mut browser = instance.signed_in("alice").await;
    for (name, message) in [
        ("with space", "letters a to z"),
        ("é", "letters a to z"),
        ("", "letters a to z"),
        (&"x".repeat(65), "letters a to z"),
        ("bob", "This name is taken"),
    ] {
        let page = browser
            .submit(
                "/account/identities",
                "/account/identities",
                &[("name", name), ("display_name", "kept")],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(page.body.contains(message), "{name:?}: {}", page.body);
        assert!(page.body.contains("value=\"kept\""), "values kept");
    }
}

#[tokio::test]
async fn a_hostile_display_name_is_shown_as_text() {
    let instance = Instance::start(|c| c).await;
    instance.account("alice", Role::User).await;
    let mut browser = instance.signed_in("alice").await;
    let hostile = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let made = browser
        .submit(
            "/account/identities",
            "/account/identities",
            &[("name", "evil"), ("display_name", hostile)],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    browser
        .submit(
            "/account/identities",
            "/account/identities/switch",
            &[("name", "evil")],
        )
        .await;
    // In the list and in the default layout's navigation (the current identity).
    let page = browser.get("/account/identities").await;
    assert!(!page.body.contains("<script"), "{}", page.body);
    assert!(!page.body.contains("<img"), "{}", page.body);
    let escaped =
        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;";
    assert!(
        page.body.matches(escaped).count() >= 2,
        "shown escaped in the list and the navigation: {}",
        page.body
    );
}
