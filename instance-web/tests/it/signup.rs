//! Sign-up in each mode, and its form's checks.

use http::StatusCode;
use instance_state::accounts::{AccountState, Role};
use instance_state::actors::ActorKind;
use instance_web::SignupMode;

use crate::support::{Db, Instance};

const NEW_PASSWORD: &str = "a long enough password";

fn signup_fields<'a>(username: &'a str, display_name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("username", username),
        ("display_name", display_name),
        ("email", "someone@example.org"),
        ("password", NEW_PASSWORD),
        ("password_again", NEW_PASSWORD),
    ]
}

async fn open_signup(db: Db) {
    let Some(instance) =
        Instance::start_on(db, "http://localhost", |c| c.with_signup(SignupMode::Open)).await
    else {
        return;
    };
    let mut browser = instance.browser();
    let page = browser
        .submit("/signup", "/signup", &signup_fields("  Alice ", "Alice A."))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), "/");

    // Signed in at once, as the new identity.
    let private = browser.get("/private").await;
    assert_eq!(private.status, StatusCode::OK);
    assert!(private.body.contains("acting as alice"), "{}", private.body);

    let state = instance.state();
    let account = state.account_by_username("alice").await.unwrap().unwrap();
    assert_eq!(account.state, AccountState::Active);
    assert_eq!(account.role, Role::User);
    assert_eq!(account.email.as_deref(), Some("someone@example.org"));
    let identities = state.identities(&account.id).await.unwrap();
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0].name, "alice");
    assert_eq!(identities[0].kind, ActorKind::Person);
    assert_eq!(identities[0].display_name, "Alice A.");
}

#[tokio::test]
async fn open_sign_up_makes_an_active_account_with_its_identity_and_signs_in() {
    open_signup(Db::Sqlite).await;
}

#[tokio::test]
async fn open_sign_up_on_postgres() {
    open_signup(Db::Postgres).await;
}

async fn approval_signup(db: Db) {
    let Some(instance) = Instance::start_on(db, "http://localhost", |c| {
        c.with_signup(SignupMode::Approval)
    })
    .await
    else {
        return;
    };
    let mut browser = instance.browser();
    let form = browser.get("/signup").await;
    assert!(form.body.contains("approves each new account"));
    let page = browser
        .submit("/signup", "/signup", &signup_fields("bob", ""))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("waits for a moderator"), "{}", page.body);
    assert!(browser.get("/private").await.status == StatusCode::SEE_OTHER);

    let state = instance.state();
    let bob = state.account_by_username("bob").await.unwrap().unwrap();
    assert_eq!(bob.state, AccountState::Pending);
    assert!(
        state.identities(&bob.id).await.unwrap().is_empty(),
        "no actor is served before approval"
    );

    // The right password says the account waits; it does not sign in.
    let login = browser
        .submit(
            "/login",
            "/login",
            &[("username", "bob"), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert!(login.body.contains("waits for a moderator"));

    // A sign-up to reject.
    browser
        .submit("/signup", "/signup", &signup_fields("spam", ""))
        .await;
    let spam = state.account_by_username("spam").await.unwrap().unwrap();

    // A user is not a moderator.
    instance.account("carol", Role::User).await;
    let mut carol = instance.signed_in("carol").await;
    assert_eq!(
        carol.get("/admin/signups").await.status,
        StatusCode::FORBIDDEN
    );

    instance.account("mod", Role::Moderator).await;
    let mut moderator = instance.signed_in("mod").await;
    let list = moderator.get("/admin/signups").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("bob") && list.body.contains("spam"));

    // Carol cannot decide either, even with a valid form of her own.
    let token = carol.get("/private").await.csrf();
    let refused = carol
        .post(
            "/admin/signups",
            &[
                ("account", &bob.id),
                ("decision", "approve"),
                ("csrf", &token),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let approved = moderator
        .submit(
            "/admin/signups",
            "/admin/signups",
            &[("account", &bob.id), ("decision", "approve")],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let rejected = moderator
        .submit(
            "/admin/signups",
            "/admin/signups",
            &[("account", &spam.id), ("decision", "reject")],
        )
        .await;
    assert_eq!(rejected.status, StatusCode::SEE_OTHER);
    assert!(!moderator.get("/admin/signups").await.body.contains("spam"));

    let bob = state.account(&bob.id).await.unwrap().unwrap();
    assert_eq!(bob.state, AccountState::Active);
    let identities = state.identities(&bob.id).await.unwrap();
    assert_eq!(identities.len(), 1, "approval makes the first identity");
    assert_eq!(identities[0].name, "bob");
    let spam = state.account(&spam.id).await.unwrap().unwrap();
    assert_eq!(spam.state, AccountState::Suspended);
    let log = state.moderation_log(0, 10).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"approve_signup") && actions.contains(&"reject_signup"));

    let login = browser
        .submit(
            "/login",
            "/login",
            &[("username", "bob"), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert!(browser.get("/private").await.body.contains("acting as bob"));
}

#[tokio::test]
async fn approval_sign_up_waits_for_a_moderator() {
    approval_signup(Db::Sqlite).await;
}

#[tokio::test]
async fn approval_sign_up_on_postgres() {
    approval_signup(Db::Postgres).await;
}

#[tokio::test]
async fn closed_sign_up_says_so_and_refuses_the_post() {
    let instance = Instance::start(|c| c.with_signup(SignupMode::Closed)).await;
    let mut browser = instance.browser();
    let page = browser.get("/signup").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign-up is closed"));
    assert!(!page.body.contains("action=\"/signup\""), "no form");
    // A valid token (the sign-in page's) does not open it.
    let token = browser.get("/login").await.csrf();
    let mut fields = signup_fields("eve", "");
    fields.push(("csrf", &token));
    let refused = browser.post("/signup", &fields).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        instance
            .state()
            .account_by_username("eve")
            .await
            .unwrap()
            .is_none()
    );
    // The default is closed.
    let default = Instance::start(|c| c).await;
    assert!(
        default
            .browser()
            .get("/signup")
            .await
            .body
            .contains("Sign-up is closed")
    );
}

#[tokio::test]
async fn a_wrong_sign_up_form_says_why_and_keeps_the_values() {
    let instance = Instance::start(|c| c.with_signup(SignupMode::Open)).await;
    instance.account("taken", Role::User).await;
    let mut browser = instance.browser();

    let page = browser
        .submit(
            "/signup",
            "/signup",
            &[
                ("username", "no spaces"),
                ("display_name", "Dana \"D\" <b>"),
                ("email", "dana@example.org"),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("letters a to z"), "{}", page.body);
    assert!(page.body.contains("At least 10 characters"));
    assert!(page.body.contains("value=\"no spaces\""), "username kept");
    assert!(
        page.body.contains("value=\"Dana &quot;D&quot; &lt;b&gt;\""),
        "display name kept, escaped: {}",
        page.body
    );
    assert!(page.body.contains("value=\"dana@example.org\""));
    assert!(
        !page.body.contains("value=\"short\""),
        "passwords never echoed"
    );
    assert!(page.body.contains("aria-invalid=\"true\""));

    let mismatch = browser
        .submit(
            "/signup",
            "/signup",
            &[
                ("username", "dana"),
                ("password", NEW_PASSWORD),
                ("password_again", "another long password"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mismatch.body.contains("The two passwords differ"));

    // Taken, whatever its case.
    let taken = browser
        .submit("/signup", "/signup", &signup_fields("TAKEN", ""))
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.body.contains("This name is taken"));

    // A group's name is taken for accounts too: the first identity could not have it.
    instance
        .state()
        .create_actor(instance_state::actors::NewActor::new(
            "club",
            ActorKind::Group,
            "Club",
        ))
        .await
        .unwrap();
    let group = browser
        .submit("/signup", "/signup", &signup_fields("club", ""))
        .await;
    assert_eq!(group.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(group.body.contains("This name is taken"));
    assert!(
        instance
            .state()
            .account_by_username("club")
            .await
            .unwrap()
            .is_none()
    );
}
