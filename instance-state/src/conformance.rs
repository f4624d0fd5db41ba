//! The behaviour suite of [`InstanceState`], run on each database.
//!
//! [`suite`] runs every check on a fresh database (one per check, from the opener it is
//! given), with a clock it moves by hand: actors and keys, accounts, passwords, sessions and
//! tokens, follows, blocks, objects and their visibility, readers' scopes, activities and outboxes, the inbox's
//! processed ids, remote actors, notifications, reports, the moderation log and moves.
//! [`concurrent_writers`] has many tasks write at once through one state. The crate runs both
//! on SQLite and PostgreSQL (`tests/it/conformance.rs`); a deployment can run them against its
//! own database with the `conformance` feature:
//!
//! ```no_run
//! # async fn example() {
//! use instance_state::InstanceState;
//!
//! instance_state::conformance::suite(|check, options| async move {
//!     let path = std::env::temp_dir().join(format!("state-{check}.db"));
//!     let _ = std::fs::remove_file(&path);
//!     InstanceState::open(path.to_str().unwrap(), options).await.unwrap()
//! })
//! .await;
//! # }
//! ```
//!
//! The checks panic, as tests do, at the first thing that is wrong.

// Test support: a check fails by panicking, as a test does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use federation::inbox::InboxStore;
use federation::outbox::Audience;
use federation::routes::{CollectionKind, ObjectState};
use federation_queue::KeyProvider;
use http_signatures::SigningKey;
use serde_json::{Value, json};
use sqlx::Row as _;
use url::Url;

use crate::accounts::{AccountState, Login, Role};
use crate::actors::{ActorKind, NewActor, ProfileUpdate};
use crate::blocks::BlockTarget;
use crate::follows::FollowState;
use crate::moderation::{NewReport, ReportState};
use crate::objects::{PUBLIC, Scope, Visibility};
use crate::remote::RemoteActor;
use crate::{Clock, Error, InstanceState, Options};

/// The base URL of the suite's instance.
pub const BASE: &str = "https://state.test";

/// One second, in the clock's microseconds.
pub const SECOND: i64 = 1_000_000;

/// A clock the suite moves by hand (Unix microseconds).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock at 2026-01-01.
    pub fn new() -> Self {
        Self(Arc::new(AtomicI64::new(1_767_225_600 * SECOND)))
    }

    /// Moves it on by `micros`.
    pub fn advance(&self, micros: i64) {
        self.0.fetch_add(micros, Ordering::SeqCst);
    }

    /// The [`Clock`] reading it.
    pub fn clock(&self) -> Clock {
        let now = self.0.clone();
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

/// The options of the suite's instance: [`BASE`], the clock `clock`.
pub fn options(clock: &ManualClock) -> Options {
    Options::new(Url::parse(BASE).unwrap()).with_clock(clock.clock())
}

/// One RSA and one Ed25519 key (PKCS#8 PEM), made once: most checks give them to the actors
/// they create rather than wait for new RSA keys.
pub fn shared_keys() -> (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = SigningKey::generate_rsa(2048)
            .unwrap()
            .to_pkcs8_pem()
            .unwrap();
        let ed = SigningKey::generate_ed25519()
            .unwrap()
            .to_pkcs8_pem()
            .unwrap();
        (rsa, ed)
    })
    .clone()
}

/// A new actor `name` of `kind` with the [`shared_keys`].
pub fn actor(name: &str, kind: ActorKind) -> NewActor {
    let (rsa, ed) = shared_keys();
    NewActor::new(name, kind, name.to_uppercase()).with_keys(rsa, ed)
}

/// The id of local actor `name` of the suite's instance.
pub fn local(name: &str) -> String {
    format!("{BASE}/actors/{name}")
}

/// The id of remote actor `name` on `remote.test`.
pub fn remote(name: &str) -> String {
    format!("https://remote.test/users/{name}")
}

/// Creates the local actor `new`.
async fn add(state: &InstanceState, new: NewActor) {
    state.create_actor(new).await.unwrap();
}

/// `remote("fan")` follows `followed` (accepted).
async fn fan_follows(state: &InstanceState, followed: &str) {
    let fan = remote("fan");
    state
        .put_follow(&fan, followed, &format!("{fan}/f"), FollowState::Accepted)
        .await
        .unwrap();
}

/// Runs every check, each on the state `open(check_name, options)` returns for it (a fresh
/// database, at the options given).
pub async fn suite<F, Fut>(open: F)
where
    F: Fn(&'static str, Options) -> Fut,
    Fut: Future<Output = InstanceState>,
{
    macro_rules! check {
        ($name:ident) => {{
            let clock = ManualClock::new();
            let state = open(stringify!($name), options(&clock)).await;
            $name(&state, &clock).await;
            state.close().await;
        }};
    }
    check!(migrated_from_empty);
    check!(actors_and_keys);
    check!(actor_names);
    check!(deleted_actors);
    check!(accounts_and_passwords);
    check!(sessions_and_tokens);
    check!(follows_and_states);
    check!(blocks);
    check!(objects_and_visibility);
    check!(scopes_and_follows);
    check!(activities_and_outboxes);
    check!(processed_ids);
    check!(processed_ids_at_once);
    check!(remote_actors);
    check!(notifications);
    check!(reports_and_log);
    check!(hidden_objects);
    check!(shared_rate_limits);
    check!(moves);
}

/// The schema is at its last version, and every table is empty.
pub async fn migrated_from_empty(state: &InstanceState, _: &ManualClock) {
    assert_eq!(
        state.schema_versions().await.unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    for table in [
        "st_settings",
        "st_accounts",
        "st_credentials",
        "st_actors",
        "st_follows",
        "st_blocks",
        "st_objects",
        "st_activities",
        "st_addressing",
        "st_processed",
        "st_remote_actors",
        "st_notifications",
        "st_reports",
        "st_moderation_log",
        "st_rate_limits",
        "st_moves",
    ] {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table}"
        )))
        .fetch_one(state.pool())
        .await
        .unwrap();
        assert_eq!(row.try_get::<i64, _>("n").unwrap(), 0, "{table}");
    }
    // The app's settings.
    assert_eq!(state.setting("registrations").await.unwrap(), None);
    state.set_setting("registrations", "open").await.unwrap();
    state
        .set_setting("registrations", "approval")
        .await
        .unwrap();
    assert_eq!(
        state.setting("registrations").await.unwrap().as_deref(),
        Some("approval")
    );
}

/// Actors get RSA-2048 and Ed25519 keys, published in their documents and used to sign.
pub async fn actors_and_keys(state: &InstanceState, _: &ManualClock) {
    // Fresh keys, once.
    let alice = state
        .create_actor(NewActor::new("alice", ActorKind::Person, "Alice").with_summary("<p>hi</p>"))
        .await
        .unwrap();
    assert_eq!(alice.kind, ActorKind::Person);
    let keys = state.signing_keys("alice").await.unwrap().unwrap();
    assert_eq!(
        keys.rsa.kind(),
        http_signatures::KeyKind::Rsa { bits: 2048 }
    );
    assert_eq!(keys.ed25519.kind(), http_signatures::KeyKind::Ed25519);
    let document = state.actor_document(&alice).await.unwrap();
    assert_eq!(document["id"], local("alice"));
    assert_eq!(document["type"], "Person");
    assert_eq!(document["preferredUsername"], "alice");
    assert_eq!(document["inbox"], format!("{}/inbox", local("alice")));
    assert_eq!(
        document["followers"],
        format!("{}/followers", local("alice"))
    );
    assert_eq!(
        document["endpoints"]["sharedInbox"],
        format!("{BASE}/inbox")
    );
    assert_eq!(document["manuallyApprovesFollowers"], false);
    assert_eq!(
        document["publicKey"]["id"],
        format!("{}#main-key", local("alice"))
    );
    assert_eq!(
        document["publicKey"]["publicKeyPem"],
        keys.rsa.verifying_key().to_spki_pem().unwrap()
    );
    assert_eq!(
        document["assertionMethod"][0]["publicKeyMultibase"],
        keys.ed25519.verifying_key().to_multikey().unwrap()
    );
    // The private keys are nowhere in the document.
    assert!(!document.to_string().contains("PRIVATE"));
    // The queue's key provider signs with them.
    let signer = state.signer("alice").await.unwrap();
    assert_eq!(signer.key_id, format!("{}#main-key", local("alice")));
    let signer = state.signer("alice#ed25519-key").await.unwrap();
    assert_eq!(signer.key_id, format!("{}#ed25519-key", local("alice")));
    assert!(matches!(
        state.signer("nobody").await,
        Err(federation_queue::KeyLookupError::NotFound { .. })
    ));
    // Every kind.
    for (name, kind) in [
        ("club", ActorKind::Group),
        ("instance", ActorKind::Application),
        ("bot", ActorKind::Service),
    ] {
        let created = state.create_actor(actor(name, kind)).await.unwrap();
        let document = state.actor_document(&created).await.unwrap();
        assert_eq!(document["type"], kind.as_str());
    }
    assert_eq!(state.actor_count(ActorKind::Person).await.unwrap(), 1);
    assert_eq!(state.actor_count(ActorKind::Group).await.unwrap(), 1);
    // Profile changes.
    let updated = state
        .update_profile(
            "club",
            ProfileUpdate::new()
                .with_display_name("The Club")
                .with_summary("All about clubs")
                .with_manually_approves_followers(true),
        )
        .await
        .unwrap();
    assert!(updated.manually_approves_followers);
    let reread = state.actor("club").await.unwrap().unwrap();
    assert_eq!(reread, updated);
    let document = state.actor_document(&reread).await.unwrap();
    assert_eq!(document["name"], "The Club");
    assert_eq!(document["manuallyApprovesFollowers"], true);
    // Kept keys are kept.
    let (rsa, _) = shared_keys();
    let kept = state.signing_keys("club").await.unwrap().unwrap();
    assert_eq!(kept.rsa.to_pkcs8_pem().unwrap(), rsa);
    // Unreadable kept keys are refused before anything is stored.
    let bad = NewActor::new("broken", ActorKind::Person, "B").with_keys("not a key", "nor this");
    assert!(matches!(state.create_actor(bad).await, Err(Error::Key(_))));
    assert!(state.actor("broken").await.unwrap().is_none());
}

/// Names are checked, and taken once.
pub async fn actor_names(state: &InstanceState, _: &ManualClock) {
    for bad in ["", "a b", "x/y", "é", "a#b", &"n".repeat(65)] {
        assert!(
            matches!(
                state.create_actor(actor(bad, ActorKind::Person)).await,
                Err(Error::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    add(state, actor("bob", ActorKind::Person)).await;
    assert!(matches!(
        state.create_actor(actor("bob", ActorKind::Group)).await,
        Err(Error::NameTaken { .. })
    ));
    assert_eq!(state.local_name(&local("bob")).as_deref(), Some("bob"));
    assert_eq!(
        state.local_name(&format!("{}/followers", local("bob"))),
        None
    );
    assert_eq!(state.local_name(&remote("bob")), None);
    assert!(state.is_local(&local("bob")));
    assert!(!state.is_local(&remote("bob")));
}

/// A deleted actor is a Tombstone, loses its follows, and keeps its name taken.
pub async fn deleted_actors(state: &InstanceState, _: &ManualClock) {
    add(state, actor("carol", ActorKind::Person)).await;
    state
        .put_follow(
            &remote("x"),
            &local("carol"),
            "https://remote.test/f/1",
            FollowState::Accepted,
        )
        .await
        .unwrap();
    assert!(state.delete_actor("carol").await.unwrap());
    let Some(ObjectState::Gone { tombstone }) = state.actor_state("carol").await.unwrap() else {
        panic!("a deleted actor is gone");
    };
    assert_eq!(tombstone["type"], "Tombstone");
    assert_eq!(tombstone["formerType"], "Person");
    assert_eq!(
        state
            .follower_count(&local("carol"), FollowState::Accepted)
            .await
            .unwrap(),
        0
    );
    assert!(matches!(
        state.create_actor(actor("carol", ActorKind::Person)).await,
        Err(Error::NameTaken { .. })
    ));
    assert!(matches!(
        state.delete_actor("carol").await,
        Err(Error::NoSuchActor { .. })
    ));
    // Its key still signs (the Delete announcing it must be signed).
    assert!(state.signer("carol").await.is_ok());
    assert!(state.actor_state("nobody").await.unwrap().is_none());
    assert!(
        state
            .collection_items("carol", CollectionKind::Followers, 0, 10, None)
            .await
            .unwrap()
            .is_none()
    );
}

/// Accounts sign in with argon2id-hashed passwords; several identities per account.
pub async fn accounts_and_passwords(state: &InstanceState, _: &ManualClock) {
    let account = state
        .create_account(
            "Dana",
            Some("dana@example.test"),
            Some("correct horse"),
            Role::User,
            AccountState::Active,
        )
        .await
        .unwrap();
    assert_eq!(account.username, "dana");
    assert!(matches!(
        state
            .create_account("DANA", None, Some("x"), Role::User, AccountState::Active)
            .await,
        Err(Error::NameTaken { .. })
    ));
    // Only the hash is stored: argon2id with OWASP's parameters.
    let row = sqlx::query("SELECT password_hash FROM st_accounts WHERE id = $1")
        .bind(&account.id)
        .fetch_one(state.pool())
        .await
        .unwrap();
    let hash: String = row.try_get("password_hash").unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains("correct horse"));
    assert_eq!(
        state.login("dana", "correct horse").await.unwrap(),
        Login::Ok(account.clone())
    );
    assert_eq!(
        state.login(" DANA ", "correct horse").await.unwrap(),
        Login::Ok(account.clone())
    );
    assert_eq!(state.login("dana", "wrong").await.unwrap(), Login::Invalid);
    assert_eq!(
        state.login("nobody", "correct horse").await.unwrap(),
        Login::Invalid
    );
    state
        .set_password(&account.id, Some("battery staple"))
        .await
        .unwrap();
    assert_eq!(
        state.login("dana", "correct horse").await.unwrap(),
        Login::Invalid
    );
    assert!(matches!(
        state.login("dana", "battery staple").await.unwrap(),
        Login::Ok(_)
    ));
    state.set_password(&account.id, None).await.unwrap();
    assert_eq!(
        state.login("dana", "battery staple").await.unwrap(),
        Login::Invalid
    );
    // Sign-ups awaiting approval cannot sign in until approved.
    let pending = state
        .create_account("erin", None, Some("pw"), Role::User, AccountState::Pending)
        .await
        .unwrap();
    assert!(matches!(
        state.login("erin", "pw").await.unwrap(),
        Login::NotActive(_)
    ));
    assert_eq!(
        state
            .accounts_in_state(AccountState::Pending)
            .await
            .unwrap(),
        vec![pending.clone()]
    );
    state
        .set_account_state(&pending.id, AccountState::Active)
        .await
        .unwrap();
    assert!(matches!(
        state.login("erin", "pw").await.unwrap(),
        Login::Ok(_)
    ));
    state.set_role(&pending.id, Role::Moderator).await.unwrap();
    assert!(
        state
            .account(&pending.id)
            .await
            .unwrap()
            .unwrap()
            .role
            .moderates()
    );
    // Identities.
    add(
        state,
        actor("dana", ActorKind::Person).with_account(&account.id),
    )
    .await;
    add(
        state,
        actor("dana-club", ActorKind::Group).with_account(&account.id),
    )
    .await;
    let names: Vec<String> = state
        .identities(&account.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["dana", "dana-club"]);
    assert!(matches!(
        state
            .create_actor(actor("ghost", ActorKind::Person).with_account("no-such-account"))
            .await,
        Err(Error::NoSuchAccount { .. })
    ));
    assert!(matches!(
        state.set_password("no-such-account", Some("x")).await,
        Err(Error::NoSuchAccount { .. })
    ));
}

/// Sessions and tokens: only hashes stored, expiry, revocation, identity switching.
pub async fn sessions_and_tokens(state: &InstanceState, clock: &ManualClock) {
    let account = state
        .create_account("frank", None, Some("pw"), Role::User, AccountState::Active)
        .await
        .unwrap();
    add(
        state,
        actor("frank", ActorKind::Person).with_account(&account.id),
    )
    .await;
    add(
        state,
        actor("frank-2", ActorKind::Person).with_account(&account.id),
    )
    .await;
    add(state, actor("someone-else", ActorKind::Person)).await;
    let (secret, _) = state
        .new_session(&account.id, Some("frank"), "a browser", 3600 * SECOND)
        .await
        .unwrap();
    assert_eq!(secret.expose().len(), 43, "256 bits in URL-safe base64");
    // Only the hash is stored.
    let rows = sqlx::query("SELECT hash, label FROM st_credentials")
        .fetch_all(state.pool())
        .await
        .unwrap();
    for row in &rows {
        let hash: String = row.try_get("hash").unwrap();
        assert_ne!(hash, secret.expose());
        assert_eq!(hash, crate::accounts::hash_secret(secret.expose()));
    }
    let (credential, who) = state.authenticate(secret.expose()).await.unwrap().unwrap();
    assert_eq!(who.id, account.id);
    assert_eq!(credential.actor.as_deref(), Some("frank"));
    assert!(state.authenticate("not a secret").await.unwrap().is_none());
    // Use is recorded to the minute: not a write per request.
    let last_used = |state: &InstanceState| {
        let state = state.clone();
        let account = account.id.clone();
        async move { state.credentials(&account).await.unwrap()[0].last_used }
    };
    let made = last_used(state).await;
    clock.advance(30 * SECOND);
    state.authenticate(secret.expose()).await.unwrap().unwrap();
    assert_eq!(last_used(state).await, made);
    clock.advance(31 * SECOND);
    state.authenticate(secret.expose()).await.unwrap().unwrap();
    assert_eq!(last_used(state).await, made + 61 * SECOND);
    // Switch identity: only to the account's own.
    assert!(
        state
            .switch_identity(secret.expose(), "frank-2")
            .await
            .unwrap()
    );
    let (credential, _) = state.authenticate(secret.expose()).await.unwrap().unwrap();
    assert_eq!(credential.actor.as_deref(), Some("frank-2"));
    assert!(matches!(
        state.switch_identity(secret.expose(), "someone-else").await,
        Err(Error::NotAnIdentity { .. })
    ));
    assert!(matches!(
        state
            .new_session(&account.id, Some("someone-else"), "x", SECOND)
            .await,
        Err(Error::NotAnIdentity { .. })
    ));
    // Expiry.
    clock.advance(3599 * SECOND - 61 * SECOND);
    assert!(state.authenticate(secret.expose()).await.unwrap().is_some());
    clock.advance(2 * SECOND);
    assert!(state.authenticate(secret.expose()).await.unwrap().is_none());
    // Tokens without expiry live on; revocation ends them.
    let (token, stored) = state.new_token(&account.id, "script", None).await.unwrap();
    assert_eq!(stored.expires, None);
    clock.advance(365 * 24 * 3600 * SECOND);
    assert!(state.authenticate(token.expose()).await.unwrap().is_some());
    assert!(
        state
            .revoke_credential(&account.id, &stored.hash)
            .await
            .unwrap()
    );
    assert!(
        !state
            .revoke_credential(&account.id, &stored.hash)
            .await
            .unwrap()
    );
    assert!(state.authenticate(token.expose()).await.unwrap().is_none());
    // Signing out.
    let (other, _) = state
        .new_session(&account.id, None, "phone", 3600 * SECOND)
        .await
        .unwrap();
    assert!(state.revoke_secret(other.expose()).await.unwrap());
    assert!(state.authenticate(other.expose()).await.unwrap().is_none());
    // Everything at once, and suspension.
    let (a, _) = state.new_token(&account.id, "a", None).await.unwrap();
    let (b, _) = state
        .new_session(&account.id, None, "b", 3600 * SECOND)
        .await
        .unwrap();
    // The expired session is revoked too.
    assert_eq!(state.revoke_all_credentials(&account.id).await.unwrap(), 3);
    assert!(state.authenticate(a.expose()).await.unwrap().is_none());
    assert!(state.authenticate(b.expose()).await.unwrap().is_none());
    let (c, _) = state.new_token(&account.id, "c", None).await.unwrap();
    state
        .set_account_state(&account.id, AccountState::Suspended)
        .await
        .unwrap();
    assert!(state.authenticate(c.expose()).await.unwrap().is_none());
    assert_eq!(state.credentials(&account.id).await.unwrap().len(), 6);
    clock.advance(SECOND);
    assert_eq!(state.purge_credentials(state.now()).await.unwrap(), 6);
    assert!(matches!(
        state.new_token("no-such-account", "x", None).await,
        Err(Error::NoSuchAccount { .. })
    ));
    // A token carried over from an older database keeps working.
    state
        .set_account_state(&account.id, AccountState::Active)
        .await
        .unwrap();
    let old_secret = "a-token-from-the-previous-release";
    state
        .import_token(
            &account.id,
            "imported",
            &crate::accounts::hash_secret(old_secret),
        )
        .await
        .unwrap();
    assert_eq!(
        state.authenticate(old_secret).await.unwrap().unwrap().1.id,
        account.id
    );
    assert!(matches!(
        state.import_token(&account.id, "bad", "not hex").await,
        Err(Error::InvalidDocument { .. })
    ));
}

/// Follows in both directions with their states; the collections list accepted ones.
pub async fn follows_and_states(state: &InstanceState, clock: &ManualClock) {
    add(state, actor("gus", ActorKind::Person)).await;
    let gus = local("gus");
    let f1 = state
        .put_follow(
            &remote("a"),
            &gus,
            "https://remote.test/follows/1",
            FollowState::Pending,
        )
        .await
        .unwrap();
    assert_eq!(f1.state, FollowState::Pending);
    clock.advance(SECOND);
    state
        .put_follow(
            &remote("b"),
            &gus,
            "https://remote.test/follows/2",
            FollowState::Accepted,
        )
        .await
        .unwrap();
    clock.advance(SECOND);
    state
        .put_follow(
            &gus,
            &remote("c"),
            &format!("{BASE}/activities/3"),
            FollowState::Pending,
        )
        .await
        .unwrap();
    assert_eq!(
        state
            .follower_count(&gus, FollowState::Accepted)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        state
            .follower_count(&gus, FollowState::Pending)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        state
            .following_count(&gus, FollowState::Pending)
            .await
            .unwrap(),
        1
    );
    // Accepting.
    let accepted = state
        .set_follow_state(&remote("a"), &gus, FollowState::Accepted)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(accepted.state, FollowState::Accepted);
    let followers: Vec<String> = state
        .followers(&gus, FollowState::Accepted, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.follower)
        .collect();
    assert_eq!(followers, [remote("b"), remote("a")], "newest first");
    // Paging.
    let page: Vec<String> = state
        .followers(&gus, FollowState::Accepted, 1, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.follower)
        .collect();
    assert_eq!(page, [remote("a")]);
    // A Follow sent again keeps an accepted follow accepted, under its new id.
    let again = state
        .put_follow(
            &remote("a"),
            &gus,
            "https://remote.test/follows/1b",
            FollowState::Pending,
        )
        .await
        .unwrap();
    assert_eq!(again.state, FollowState::Accepted);
    assert_eq!(again.follow_id, "https://remote.test/follows/1b");
    assert_eq!(
        state
            .follow_by_id("https://remote.test/follows/1b")
            .await
            .unwrap()
            .unwrap()
            .follower,
        remote("a")
    );
    assert!(
        state
            .follow_by_id("https://remote.test/follows/1")
            .await
            .unwrap()
            .is_none()
    );
    // Rejection.
    state
        .set_follow_state(&gus, &remote("c"), FollowState::Rejected)
        .await
        .unwrap();
    assert_eq!(
        state
            .follow(&gus, &remote("c"))
            .await
            .unwrap()
            .unwrap()
            .state,
        FollowState::Rejected
    );
    assert!(
        state
            .set_follow_state(&gus, &remote("z"), FollowState::Accepted)
            .await
            .unwrap()
            .is_none()
    );
    // The routes' collections.
    let items = state
        .collection_items("gus", CollectionKind::Followers, 0, 10, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(items.total, 2);
    assert_eq!(
        items.items,
        [json!(remote("b")), json!(remote("a"))],
        "newest first"
    );
    let items = state
        .collection_items("gus", CollectionKind::Following, 0, 10, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(items.total, 0);
    // The outbox's audience: accepted followers of local actors only.
    let members = state
        .expand(&activitypub_core::Iri::parse(format!("{gus}/followers")).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut members: Vec<String> = members.into_iter().map(|m| m.to_string()).collect();
    members.sort();
    assert_eq!(members, [remote("a"), remote("b")]);
    assert!(
        state
            .expand(&activitypub_core::Iri::parse(format!("{}/followers", remote("a"))).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    // Unfollowing.
    assert!(state.remove_follow(&remote("a"), &gus).await.unwrap());
    assert!(!state.remove_follow(&remote("a"), &gus).await.unwrap());
    assert_eq!(
        state
            .follower_count(&gus, FollowState::Accepted)
            .await
            .unwrap(),
        1
    );
}

/// Blocks of actors and domains: the inbox refuses them, the audience leaves them out, the
/// follows end.
pub async fn blocks(state: &InstanceState, _: &ManualClock) {
    add(state, actor("hana", ActorKind::Person)).await;
    let hana = local("hana");
    for name in ["a", "b", "c"] {
        state
            .put_follow(
                &remote(name),
                &hana,
                &format!("{}/follow", remote(name)),
                FollowState::Accepted,
            )
            .await
            .unwrap();
    }
    state
        .put_follow(
            "https://spam.bad.test/users/s",
            &hana,
            "https://spam.bad.test/f",
            FollowState::Accepted,
        )
        .await
        .unwrap();
    // Nothing blocked yet.
    assert!(!state.refuses(&remote("a")).await.unwrap());
    // A domain, with its subdomains, for the whole instance.
    assert!(
        state
            .block(None, &BlockTarget::domain("Bad.Test."), "spam")
            .await
            .unwrap()
    );
    assert!(
        !state
            .block(None, &BlockTarget::domain("bad.test"), "again")
            .await
            .unwrap()
    );
    assert!(
        state
            .refuses("https://spam.bad.test/users/s#main-key")
            .await
            .unwrap()
    );
    assert!(state.refuses("https://bad.test/users/s").await.unwrap());
    assert!(!state.refuses("https://notbad.test/users/s").await.unwrap());
    // An actor, for the whole instance: its follows end.
    assert!(
        state
            .block(None, &BlockTarget::Actor(remote("b")), "abuse")
            .await
            .unwrap()
    );
    assert!(
        state
            .refuses(&format!("{}#main-key", remote("b")))
            .await
            .unwrap()
    );
    assert!(!state.refuses(&remote("a")).await.unwrap());
    assert!(state.follow(&remote("b"), &hana).await.unwrap().is_none());
    // An actor, by one local actor: not refused by the inbox, but left out of its audience.
    assert!(
        state
            .block(Some(&hana), &BlockTarget::Actor(remote("c")), "")
            .await
            .unwrap()
    );
    assert!(!state.refuses(&remote("c")).await.unwrap());
    assert!(state.is_blocked(Some(&hana), &remote("c")).await.unwrap());
    assert!(!state.is_blocked(None, &remote("c")).await.unwrap());
    let members = state
        .expand(&activitypub_core::Iri::parse(format!("{hana}/followers")).unwrap())
        .await
        .unwrap()
        .unwrap();
    let members: Vec<String> = members.into_iter().map(|m| m.to_string()).collect();
    assert_eq!(
        members,
        [remote("a")],
        "blocked actors and domains are left out"
    );
    // Read at once, for long lists.
    let list = state.block_list(Some(&hana)).await.unwrap();
    assert!(list.blocks(&remote("c")));
    assert!(list.blocks(&format!("{}#main-key", remote("b"))));
    assert!(list.blocks("https://spam.bad.test/users/s"));
    assert!(!list.blocks(&remote("a")));
    let instance = state.block_list(None).await.unwrap();
    assert!(
        !instance.blocks(&remote("c")),
        "hana's own block is hers only"
    );
    // Listing and lifting.
    let instance_blocks = state.blocks(None).await.unwrap();
    assert_eq!(instance_blocks.len(), 2);
    assert!(
        instance_blocks
            .iter()
            .any(|b| b.target == BlockTarget::Domain("bad.test".into()) && b.reason == "spam")
    );
    assert_eq!(state.blocks(Some(&hana)).await.unwrap().len(), 1);
    assert!(
        state
            .unblock(None, &BlockTarget::domain("bad.test"))
            .await
            .unwrap()
    );
    assert!(
        !state
            .unblock(None, &BlockTarget::domain("bad.test"))
            .await
            .unwrap()
    );
    assert!(
        !state
            .refuses("https://spam.bad.test/users/s")
            .await
            .unwrap()
    );
}

/// A reader sees what the actors it follows (accepted) addressed to their followers: however
/// many it follows, at the collection each one's document names; not what an actor it only
/// asked to follow, or does not follow, addressed there; and never another origin's collection
/// a remote actor names as its own. The scope's query and its judgement in memory agree.
pub async fn scopes_and_follows(state: &InstanceState, _: &ManualClock) {
    add(state, actor("rea", ActorKind::Person)).await;
    add(state, actor("other", ActorKind::Person)).await;
    add(state, actor("ida", ActorKind::Person)).await;
    let rea = local("rea");
    let other = local("other");
    let ida = local("ida");
    // A followers-only note by `author` to `to`, stored as received.
    let note = |id: &str, author: &str, to: &str| {
        let id = id.to_owned();
        let document = json!({"id": id, "type": "Note", "attributedTo": author, "to": [to],
            "content": "for my followers"});
        async move {
            state.put_object(&document, false).await.unwrap();
            id
        }
    };
    // What `scope` reads of `author`'s objects, through the query and in memory; both agree.
    let read = |author: String, scope: Scope| async move {
        let listed: Vec<String> = state
            .objects_by(&author, &scope, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        // All of them: the author sees its own.
        let all = Scope::of([author.clone()]);
        let mut judged = Vec::new();
        for object in state.objects_by(&author, &all, 0, 10).await.unwrap() {
            if state
                .visible_object(&object.id, &scope)
                .await
                .unwrap()
                .is_some()
            {
                judged.push(object.id);
            }
        }
        assert_eq!(listed, judged, "{author}: the query and sees disagree");
        listed
    };

    // 250 remote actors followed, each with its collection at `{actor}/followers`.
    let followed = |n: usize| format!("https://server{}.test/users/u{n}", n % 7);
    for n in 1..=250 {
        let id = followed(n);
        state
            .put_remote_actor(
                &RemoteActor::new(&id, format!("u{n}")).with_followers(format!("{id}/followers")),
            )
            .await
            .unwrap();
        state
            .put_follow(
                &rea,
                &id,
                &format!("{rea}/follows/{n}"),
                FollowState::Accepted,
            )
            .await
            .unwrap();
    }
    let last = followed(250);
    let post = note(
        "https://server5.test/notes/250",
        &last,
        &format!("{last}/followers"),
    )
    .await;
    // An address shorter than `/followers` is looked up too, and names no collection.
    note("https://server5.test/notes/short", &last, "x").await;
    let scope = state.scope_of(&rea).await.unwrap();
    assert_eq!(scope.followed_collections().count(), 250);
    assert_eq!(read(last.clone(), scope).await, std::slice::from_ref(&post));
    assert!(
        read(last.clone(), state.scope_of(&other).await.unwrap())
            .await
            .is_empty()
    );

    // A collection elsewhere than `{actor}/followers` (as Friendica keeps it), read from the
    // actor's record; the address the actor's id would give is not its followers.
    let fri = "https://friendica.test/profile/fri".to_owned();
    state
        .put_remote_actor(
            &RemoteActor::new(&fri, "Fri").with_followers("https://friendica.test/followers/fri"),
        )
        .await
        .unwrap();
    let theirs = note(
        "https://friendica.test/objects/1",
        &fri,
        "https://friendica.test/followers/fri",
    )
    .await;
    note(
        "https://friendica.test/objects/2",
        &fri,
        &format!("{fri}/followers"),
    )
    .await;
    assert!(
        read(fri.clone(), state.scope_of(&rea).await.unwrap())
            .await
            .is_empty()
    );
    state
        .put_follow(
            &rea,
            &fri,
            &format!("{rea}/follows/fri"),
            FollowState::Accepted,
        )
        .await
        .unwrap();
    state
        .put_follow(
            &other,
            &fri,
            &format!("{other}/follows/fri"),
            FollowState::Pending,
        )
        .await
        .unwrap();
    assert_eq!(
        read(fri.clone(), state.scope_of(&rea).await.unwrap()).await,
        std::slice::from_ref(&theirs)
    );
    // A follow not (yet) accepted shows nothing.
    assert!(
        read(fri.clone(), state.scope_of(&other).await.unwrap())
            .await
            .is_empty()
    );
    // The record updated without a collection keeps it.
    state
        .put_remote_actor(&RemoteActor::new(&fri, "Fri Renamed"))
        .await
        .unwrap();
    assert_eq!(
        state
            .remote_actor(&fri)
            .await
            .unwrap()
            .unwrap()
            .followers
            .as_deref(),
        Some("https://friendica.test/followers/fri")
    );

    // Local actors followed: their own collections, as before.
    let ida_post = note(
        &format!("{BASE}/notes/ida"),
        &ida,
        &format!("{ida}/followers"),
    )
    .await;
    assert!(
        read(ida.clone(), state.scope_of(&other).await.unwrap())
            .await
            .is_empty()
    );
    state
        .put_follow(
            &other,
            &ida,
            &format!("{other}/follows/ida"),
            FollowState::Accepted,
        )
        .await
        .unwrap();
    assert_eq!(
        read(ida.clone(), state.scope_of(&other).await.unwrap()).await,
        std::slice::from_ref(&ida_post)
    );

    // A remote actor naming another server's collection (here, ida's followers) or the public
    // one as its own: not recorded, and its followers see nothing more.
    let liar = "https://liar.test/users/liar".to_owned();
    for claimed in [format!("{ida}/followers"), PUBLIC.to_owned()] {
        state
            .put_remote_actor(&RemoteActor::new(&liar, "Liar").with_followers(claimed))
            .await
            .unwrap();
        assert_eq!(
            state.remote_actor(&liar).await.unwrap().unwrap().followers,
            None
        );
    }
    state
        .put_follow(
            &rea,
            &liar,
            &format!("{rea}/follows/liar"),
            FollowState::Accepted,
        )
        .await
        .unwrap();
    assert!(
        read(ida.clone(), state.scope_of(&rea).await.unwrap())
            .await
            .is_empty()
    );

    // An account's identities merged: each one's follows count.
    let mut both = state.scope_of(&rea).await.unwrap();
    both.merge(state.scope_of(&other).await.unwrap());
    assert_eq!(read(ida.clone(), both.clone()).await, [ida_post]);
    assert_eq!(read(fri.clone(), both.clone()).await, [theirs]);
    assert_eq!(read(last, both).await, [post]);
}

/// Objects keep their addressing; visibility is derived from it and judged against readers.
pub async fn objects_and_visibility(state: &InstanceState, _: &ManualClock) {
    add(state, actor("ida", ActorKind::Person)).await;
    let ida = local("ida");
    let followers = format!("{ida}/followers");
    fan_follows(state, &ida).await;
    let note = |n: u32, to: Value, cc: Value| {
        json!({
            "id": format!("{BASE}/notes/{n}"),
            "type": "Note",
            "attributedTo": ida,
            "content": "hello",
            "published": "2026-01-02T03:04:05Z",
            "to": to,
            "cc": cc,
        })
    };
    let public = state
        .put_object(&note(1, json!(["as:Public"]), json!([followers])), true)
        .await
        .unwrap();
    assert_eq!(public.visibility, Visibility::Public);
    assert_eq!(public.addressing.to, [PUBLIC]);
    assert_eq!(public.published, 1_767_323_045 * SECOND);
    let unlisted = state
        .put_object(&note(2, json!([followers]), json!(PUBLIC)), true)
        .await
        .unwrap();
    assert_eq!(unlisted.visibility, Visibility::Unlisted);
    let private = state
        .put_object(&note(3, json!([followers]), json!([])), true)
        .await
        .unwrap();
    assert_eq!(private.visibility, Visibility::Followers);
    let mut direct = note(
        4,
        json!([{"id": remote("friend"), "type": "Mention"}]),
        json!([]),
    );
    direct["bcc"] = json!([remote("secret")]);
    let direct = state.put_object(&direct, true).await.unwrap();
    assert_eq!(direct.visibility, Visibility::Direct);
    // bto and bcc are never served, but their recipients may read.
    assert!(direct.document.get("bcc").is_none());
    assert_eq!(direct.addressing.bcc, [remote("secret")]);
    let stored = state.object(&direct.id).await.unwrap().unwrap();
    assert!(stored.document.get("bcc").is_none());
    assert_eq!(stored.addressing, direct.addressing);
    assert_eq!(stored.attributed_to.as_deref(), Some(ida.as_str()));
    // Who sees what.
    let anonymous = Scope::anonymous();
    let fan = state.scope_of(&remote("fan")).await.unwrap();
    assert!(fan.followed_collections().any(|c| c == followers));
    assert!(!fan.addresses().contains(&followers));
    let friend = state.scope_of(&remote("friend")).await.unwrap();
    let secret = state.scope_of(&remote("secret")).await.unwrap();
    let author = state.scope_of(&ida).await.unwrap();
    let sees = |scope: &Scope| {
        let scope = scope.clone();
        async move {
            let mut seen = Vec::new();
            for n in 1..=4 {
                if state
                    .visible_object(&format!("{BASE}/notes/{n}"), &scope)
                    .await
                    .unwrap()
                    .is_some()
                {
                    seen.push(n);
                }
            }
            seen
        }
    };
    assert_eq!(sees(&anonymous).await, [1, 2]);
    assert_eq!(sees(&fan).await, [1, 2, 3]);
    assert_eq!(sees(&friend).await, [1, 2, 4]);
    assert_eq!(sees(&secret).await, [1, 2, 4]);
    assert_eq!(sees(&author).await, [1, 2, 3, 4]);
    let listed: Vec<String> = state
        .objects_by(&ida, &fan, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(listed.len(), 3);
    // The routes' answer: NotFound to whoever may not read it.
    let url = |n: u32| Url::parse(&format!("{BASE}/notes/{n}")).unwrap();
    assert!(matches!(
        state.object_state(&url(3), None).await.unwrap(),
        ObjectState::NotFound
    ));
    assert!(matches!(
        state
            .object_state(&url(3), Some(&remote("fan")))
            .await
            .unwrap(),
        ObjectState::Found { .. }
    ));
    // An update replaces the document and the addressing.
    state
        .put_object(&note(3, json!([PUBLIC]), json!([])), true)
        .await
        .unwrap();
    assert!(matches!(
        state.object_state(&url(3), None).await.unwrap(),
        ObjectState::Found { .. }
    ));
    // Tombstones keep the audience of what they replace.
    let tombstone = state.tombstone(&private.id).await.unwrap().unwrap();
    assert!(tombstone.deleted);
    assert_eq!(tombstone.document["type"], "Tombstone");
    assert_eq!(tombstone.document["formerType"], "Note");
    let ObjectState::Gone { tombstone } = state.object_state(&url(3), None).await.unwrap() else {
        panic!("a deleted object is gone");
    };
    assert_eq!(tombstone["type"], "Tombstone");
    state.tombstone(&direct.id).await.unwrap();
    assert!(matches!(
        state.object_state(&url(4), None).await.unwrap(),
        ObjectState::NotFound
    ));
    assert!(matches!(
        state
            .object_state(&url(4), Some(&remote("friend")))
            .await
            .unwrap(),
        ObjectState::Gone { .. }
    ));
    assert!(
        state
            .tombstone(&format!("{BASE}/notes/99"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        state.object_state(&url(99), None).await.unwrap(),
        ObjectState::NotFound
    ));
    // A thread, by context, oldest first, as each reader may see it.
    for (n, to) in [(10, PUBLIC.to_owned()), (11, followers.clone())] {
        state
            .put_object(
                &json!({"id": format!("{BASE}/comments/{n}"), "type": "Note", "attributedTo": ida,
                    "context": format!("{BASE}/events/1"), "to": [to],
                    "published": format!("2026-01-0{}T00:00:00Z", n - 9)}),
                true,
            )
            .await
            .unwrap();
    }
    let thread = |scope: Scope| async move {
        state
            .objects_in_context(&format!("{BASE}/events/1"), &scope, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        thread(Scope::anonymous()).await,
        [format!("{BASE}/comments/10")]
    );
    assert_eq!(
        thread(fan.clone()).await,
        [format!("{BASE}/comments/10"), format!("{BASE}/comments/11")]
    );
    assert_eq!(
        state.local_object_count("Note").await.unwrap(),
        4,
        "two notes were deleted"
    );
    // Remote objects.
    let remote_note = json!({
        "id": "https://remote.test/notes/1",
        "type": "Note",
        "attributedTo": remote("fan"),
        "inReplyTo": format!("{BASE}/notes/1"),
        "to": "https://www.w3.org/ns/activitystreams#Public",
    });
    let stored = state.put_object(&remote_note, false).await.unwrap();
    assert!(!stored.local);
    assert_eq!(
        stored.in_reply_to.as_deref(),
        Some(format!("{BASE}/notes/1").as_str())
    );
    assert!(matches!(
        state.put_object(&json!({"type": "Note"}), true).await,
        Err(Error::InvalidDocument { .. })
    ));
}

/// Activities are stored once; the outbox shows each reader what it may read.
pub async fn activities_and_outboxes(state: &InstanceState, clock: &ManualClock) {
    add(state, actor("jo", ActorKind::Person)).await;
    let jo = local("jo");
    let followers = format!("{jo}/followers");
    fan_follows(state, &jo).await;
    let create = |n: u32, to: Value| {
        json!({
            "id": format!("{BASE}/activities/{n}"),
            "type": "Create",
            "actor": jo,
            "to": to,
            "bcc": [remote("hidden")],
            "object": {"id": format!("{BASE}/notes/{n}"), "type": "Note", "bcc": [remote("hidden")]},
        })
    };
    assert!(
        state
            .put_activity(&create(1, json!([PUBLIC])), true)
            .await
            .unwrap()
    );
    assert!(
        !state
            .put_activity(&create(1, json!([])), true)
            .await
            .unwrap(),
        "stored once"
    );
    clock.advance(SECOND);
    assert!(
        state
            .put_activity(&create(2, json!([followers])), true)
            .await
            .unwrap()
    );
    clock.advance(SECOND);
    let remote_activity = json!({
        "id": "https://remote.test/activities/1",
        "type": "Like",
        "actor": remote("fan"),
        "object": format!("{BASE}/notes/1"),
    });
    assert!(state.put_activity(&remote_activity, false).await.unwrap());
    let stored = state
        .activity(&format!("{BASE}/activities/1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.visibility, Visibility::Public);
    assert!(stored.document.get("bcc").is_none());
    assert!(stored.document["object"].get("bcc").is_none());
    assert_eq!(
        stored.object.as_deref(),
        Some(format!("{BASE}/notes/1").as_str())
    );
    let anonymous = state
        .collection_items("jo", CollectionKind::Outbox, 0, 10, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(anonymous.total, 1);
    assert_eq!(anonymous.items[0]["id"], format!("{BASE}/activities/1"));
    let fan = state
        .collection_items("jo", CollectionKind::Outbox, 0, 10, Some(&remote("fan")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fan.total, 2);
    assert_eq!(
        fan.items[0]["id"],
        format!("{BASE}/activities/2"),
        "newest first"
    );
    let hidden = state.scope_of(&remote("hidden")).await.unwrap();
    assert_eq!(state.outbox_count(&jo, &hidden).await.unwrap(), 2);
    // A remote activity is in no outbox.
    assert_eq!(
        state
            .outbox_count(&remote("fan"), &Scope::anonymous())
            .await
            .unwrap(),
        0
    );
    assert!(
        state
            .visible_activity(&format!("{BASE}/activities/2"), &Scope::anonymous())
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        state
            .object_state(&Url::parse(&format!("{BASE}/activities/1")).unwrap(), None)
            .await
            .unwrap(),
        ObjectState::Found { .. }
    ));
}

/// The inbox's idempotency record.
pub async fn processed_ids(state: &InstanceState, clock: &ManualClock) {
    assert!(state.record("https://remote.test/a/1").await.unwrap());
    assert!(!state.record("https://remote.test/a/1").await.unwrap());
    state.forget("https://remote.test/a/1").await.unwrap();
    assert!(state.record("https://remote.test/a/1").await.unwrap());
    clock.advance(10 * SECOND);
    assert!(state.record("https://remote.test/a/2").await.unwrap());
    assert_eq!(state.processed_count().await.unwrap(), 2);
    assert_eq!(
        state.purge_processed(state.now() - SECOND).await.unwrap(),
        1
    );
    assert!(state.record("https://remote.test/a/1").await.unwrap());
    assert!(!state.record("https://remote.test/a/2").await.unwrap());
}

/// Records of one id at once (the record writes those that arrive together in one
/// transaction): exactly one of them is new, none of an id recorded before; every id is
/// there once they resolved.
pub async fn processed_ids_at_once(state: &InstanceState, _: &ManualClock) {
    let id = |n: usize| format!("https://remote.test/b/{n}");
    assert!(state.record_processed(&id(0)).await.unwrap());
    let tasks: Vec<_> = (0..40)
        .map(|k| {
            let state = state.clone();
            let id = id(k % 10);
            tokio::spawn(async move { (k % 10, state.record_processed(&id).await.unwrap()) })
        })
        .collect();
    let mut new = [0; 10];
    for task in tasks {
        let (n, is_new) = task.await.unwrap();
        new[n] += usize::from(is_new);
    }
    assert_eq!(new, [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert_eq!(state.processed_count().await.unwrap(), 10);
}

/// Remote actors' names and handles; which actors the server knows.
pub async fn remote_actors(state: &InstanceState, _: &ManualClock) {
    add(state, actor("kim", ActorKind::Person)).await;
    assert!(
        !InboxStore::knows_actor(state, &remote("lee"))
            .await
            .unwrap()
    );
    state
        .put_remote_actor(
            &RemoteActor::new(remote("lee"), "Lee")
                .with_kind("Person")
                .with_handle("@lee@remote.test")
                .with_inbox(format!("{}/inbox", remote("lee"))),
        )
        .await
        .unwrap();
    let lee = state.remote_actor(&remote("lee")).await.unwrap().unwrap();
    assert_eq!(lee.name, "Lee");
    assert_eq!(lee.handle.as_deref(), Some("@lee@remote.test"));
    assert_eq!(
        state
            .remote_actor_by_handle("@lee@remote.test")
            .await
            .unwrap()
            .unwrap()
            .id,
        remote("lee")
    );
    assert_eq!(lee.key, None);
    // Its key, once seen, is kept when the actor is recorded again without one, and replaced
    // by a new one.
    let key = crate::remote::RemoteKeyRecord::new(
        format!("{}#main-key", remote("lee")),
        "-----BEGIN PUBLIC KEY-----\nfirst\n-----END PUBLIC KEY-----\n",
    );
    state
        .put_remote_actor(&RemoteActor::new(remote("lee"), "Lee").with_key(key.clone()))
        .await
        .unwrap();
    state
        .put_remote_actor(&RemoteActor::new(remote("lee"), "Lee Renamed"))
        .await
        .unwrap();
    let renamed = state.remote_actor(&remote("lee")).await.unwrap().unwrap();
    assert_eq!(renamed.name, "Lee Renamed");
    assert_eq!(renamed.key.as_ref(), Some(&key));
    let rotated = crate::remote::RemoteKeyRecord::new(
        format!("{}#key-2", remote("lee")),
        "-----BEGIN PUBLIC KEY-----\nsecond\n-----END PUBLIC KEY-----\n",
    );
    state
        .put_remote_actor(&RemoteActor::new(remote("lee"), "Lee Renamed").with_key(rotated.clone()))
        .await
        .unwrap();
    assert_eq!(
        state
            .remote_actor(&remote("lee"))
            .await
            .unwrap()
            .unwrap()
            .key,
        Some(rotated)
    );
    assert!(
        InboxStore::knows_actor(state, &remote("lee"))
            .await
            .unwrap()
    );
    // Following makes an actor known too.
    state
        .put_follow(
            &remote("max"),
            &local("kim"),
            "https://remote.test/f",
            FollowState::Pending,
        )
        .await
        .unwrap();
    assert!(
        InboxStore::knows_actor(state, &remote("max"))
            .await
            .unwrap()
    );
    // A deleted actor is forgotten.
    state.forget_remote_actor(&remote("max")).await.unwrap();
    state.forget_remote_actor(&remote("lee")).await.unwrap();
    assert!(
        !InboxStore::knows_actor(state, &remote("max"))
            .await
            .unwrap()
    );
    assert!(state.remote_actor(&remote("lee")).await.unwrap().is_none());
}

/// Notifications: an actor, a kind, the activity.
pub async fn notifications(state: &InstanceState, clock: &ManualClock) {
    let me = local("nia");
    state
        .notify(
            &me,
            "follow",
            &remote("a"),
            Some("https://remote.test/f/1"),
            None,
        )
        .await
        .unwrap();
    clock.advance(SECOND);
    state
        .notify(
            &me,
            "reply",
            &remote("b"),
            Some("https://remote.test/c/1"),
            Some("https://remote.test/n/1"),
        )
        .await
        .unwrap();
    state
        .notify(&local("other"), "follow", &remote("a"), None, None)
        .await
        .unwrap();
    let all = state.notifications(&me, false, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].kind, "reply", "newest first");
    assert_eq!(all[0].object.as_deref(), Some("https://remote.test/n/1"));
    assert_eq!(all[1].activity.as_deref(), Some("https://remote.test/f/1"));
    assert_eq!(state.mark_notifications_seen(&me).await.unwrap(), 2);
    assert!(state.notifications(&me, true, 10).await.unwrap().is_empty());
    assert_eq!(state.notifications(&me, false, 10).await.unwrap().len(), 2);
    assert_eq!(
        state
            .notifications(&local("other"), true, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Once per recipient, kind, actor and object, however often it is asked for.
    let note = "https://remote.test/n/2";
    let first = state
        .notify_once(
            &me,
            "mention",
            &remote("b"),
            Some("https://remote.test/c/2"),
            note,
        )
        .await
        .unwrap();
    assert!(first.is_some());
    let again = state
        .notify_once(
            &me,
            "mention",
            &remote("b"),
            Some("https://remote.test/u/2"),
            note,
        )
        .await
        .unwrap();
    assert_eq!(again, None);
    assert!(
        state
            .notify_once(&me, "like", &remote("b"), None, note)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        state
            .notify_once(&local("other"), "mention", &remote("b"), None, note)
            .await
            .unwrap()
            .is_some()
    );
    let unseen = state.notifications(&me, true, 10).await.unwrap();
    assert_eq!(unseen.len(), 2);
    assert!(
        unseen.iter().any(
            |n| n.kind == "mention" && n.activity.as_deref() == Some("https://remote.test/c/2")
        )
    );
}

/// Reports and their states; the moderation log says who did what, when.
pub async fn reports_and_log(state: &InstanceState, clock: &ManualClock) {
    let report = state
        .file_report(
            NewReport::new(remote("reporter"), local("troll"))
                .with_activity("https://remote.test/flags/1")
                .with_objects(vec![format!("{BASE}/notes/1")])
                .with_content("spam"),
        )
        .await
        .unwrap();
    assert_eq!(report.state, ReportState::Open);
    let again = state
        .file_report(
            NewReport::new(remote("reporter"), local("troll"))
                .with_activity("https://remote.test/flags/1"),
        )
        .await
        .unwrap();
    assert_eq!(again.id, report.id, "one report per Flag");
    state
        .file_report(NewReport::new(local("mod"), remote("other")))
        .await
        .unwrap();
    assert_eq!(state.reports(ReportState::Open, 10).await.unwrap().len(), 2);
    clock.advance(SECOND);
    assert!(
        state
            .decide_report(
                &report.id,
                ReportState::Resolved,
                "admin-account",
                "suspended"
            )
            .await
            .unwrap()
    );
    assert!(
        !state
            .decide_report("no-such-report", ReportState::Resolved, "a", "")
            .await
            .unwrap()
    );
    let decided = state.report(&report.id).await.unwrap().unwrap();
    assert_eq!(decided.state, ReportState::Resolved);
    assert_eq!(decided.objects, [format!("{BASE}/notes/1")]);
    assert_eq!(decided.content, "spam");
    clock.advance(SECOND);
    state
        .log_moderation("mod-account", "block_domain", "bad.test", None, "spam wave")
        .await
        .unwrap();
    let log = state.moderation_log(0, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, "block_domain");
    assert_eq!(log[0].moderator, "mod-account");
    assert_eq!(log[1].action, "report_resolved");
    assert_eq!(log[1].target, local("troll"));
    assert_eq!(log[1].report.as_deref(), Some(report.id.as_str()));
    assert!(log[0].at > log[1].at);
}

/// A moderator hides an object: nobody sees it, its author neither, in a single read or in a
/// listing; the decision is logged; showing it again restores what each reader saw.
pub async fn hidden_objects(state: &InstanceState, clock: &ManualClock) {
    add(state, actor("ida", ActorKind::Person)).await;
    let ida = local("ida");
    let note = |n: u32| {
        json!({
            "id": format!("{BASE}/notes/{n}"),
            "type": "Note",
            "attributedTo": ida,
            "content": "hello",
            "to": [PUBLIC],
        })
    };
    let shown = state.put_object(&note(1), true).await.unwrap();
    state.put_object(&note(2), true).await.unwrap();
    let anonymous = Scope::anonymous();
    let own = state.scope_of(&ida).await.unwrap();
    let listed = async |scope: &Scope| {
        state
            .objects_by(&ida, scope, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&anonymous).await.len(), 2);
    clock.advance(SECOND);
    assert!(state.hide_object(&shown.id, "mod-account").await.unwrap());
    assert!(
        !state.hide_object(&shown.id, "mod-account").await.unwrap(),
        "hidden once"
    );
    assert!(
        !state
            .hide_object("https://nowhere.test/x", "m")
            .await
            .unwrap()
    );
    for scope in [&anonymous, &own] {
        assert!(
            state
                .visible_object(&shown.id, scope)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(listed(scope).await, [format!("{BASE}/notes/2")]);
    }
    // Kept, and said so to those who read the store directly (moderators).
    let stored = state.object(&shown.id).await.unwrap().unwrap();
    assert!(stored.hidden);
    assert_eq!(stored.document["content"], "hello");
    let log = state.moderation_log(0, 10).await.unwrap();
    assert_eq!(log[0].action, "hide");
    assert_eq!(log[0].target, shown.id);
    clock.advance(SECOND);
    assert!(state.unhide_object(&shown.id, "mod-account").await.unwrap());
    assert!(!state.unhide_object(&shown.id, "mod-account").await.unwrap());
    assert!(
        state
            .visible_object(&shown.id, &anonymous)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(listed(&anonymous).await.len(), 2);
    assert_eq!(
        state.moderation_log(0, 10).await.unwrap()[0].action,
        "unhide"
    );
}

/// Rate-limit times: each event moves a key's time by the interval from the later of its time
/// and now, concurrent events all count, a key is forgotten on demand, and keys whose time has
/// passed are dropped as others are written.
pub async fn shared_rate_limits(state: &InstanceState, _: &ManualClock) {
    let now = 1_000 * SECOND;
    assert_eq!(state.limit_time("logins", "alice").await.unwrap(), None);
    state
        .advance_limit("logins", "alice", now, SECOND)
        .await
        .unwrap();
    assert_eq!(
        state.limit_time("logins", "alice").await.unwrap(),
        Some(now + SECOND)
    );
    // Ten at once, as ten processes would: every one counts.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move { state.advance_limit("logins", "alice", now, SECOND).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        state.limit_time("logins", "alice").await.unwrap(),
        Some(now + 11 * SECOND)
    );
    // A time in the past starts again from now.
    state
        .advance_limit("logins", "bob", now - 100 * SECOND, SECOND)
        .await
        .unwrap();
    state
        .advance_limit("logins", "bob", now, SECOND)
        .await
        .unwrap();
    assert_eq!(
        state.limit_time("logins", "bob").await.unwrap(),
        Some(now + SECOND)
    );
    // Limiters do not meet.
    assert_eq!(state.limit_time("signups", "alice").await.unwrap(), None);
    state.forget_limit("logins", "alice").await.unwrap();
    assert_eq!(state.limit_time("logins", "alice").await.unwrap(), None);
    // Later, bob's time has passed: writing another key drops it.
    state
        .advance_limit("logins", "carol", now + 60 * SECOND, SECOND)
        .await
        .unwrap();
    assert_eq!(state.limit_time("logins", "bob").await.unwrap(), None);
    assert!(state.limit_time("logins", "carol").await.unwrap().is_some());
}

/// Moves: aliases in documents, the moves recorded, where an actor moved, the rules a move's
/// target must pass (not itself, listing the origin, no move back within 30 days), and blocks
/// carried over.
pub async fn moves(state: &InstanceState, clock: &ManualClock) {
    use crate::moves::{MOVE_COOLDOWN, MoveError};
    use federation::fetch::FetchBudget;

    add(state, actor("old", ActorKind::Person)).await;
    add(state, actor("new", ActorKind::Person)).await;
    let (old, new) = (local("old"), local("new"));
    let mut budget = FetchBudget::default();

    // Aliases: each once, in the document; cleared, gone from it.
    let aka = state
        .set_also_known_as("new", &[old.clone(), old.clone()])
        .await
        .unwrap();
    assert_eq!(aka.also_known_as, std::slice::from_ref(&old));
    let stored = state.actor("new").await.unwrap().unwrap();
    assert_eq!(stored.also_known_as, std::slice::from_ref(&old));
    let document = state.actor_document(&stored).await.unwrap();
    assert_eq!(document["alsoKnownAs"], json!([old]));
    assert!(document.get("movedTo").is_none());
    let not_an_address = state
        .set_also_known_as("new", &["@old@state.test".to_owned()])
        .await
        .unwrap_err();
    assert!(
        matches!(not_an_address, Error::InvalidDocument { .. }),
        "{not_an_address}"
    );
    assert_eq!(
        state.actor("new").await.unwrap().unwrap().also_known_as,
        std::slice::from_ref(&old)
    );

    // The target's rules.
    let same = state
        .check_move_target(None, &old, &old, &mut budget)
        .await
        .unwrap_err();
    assert!(matches!(same, MoveError::SameActor { .. }), "{same}");
    let unlisted = state
        .check_move_target(None, &new, &old, &mut budget)
        .await
        .unwrap_err();
    assert!(
        matches!(unlisted, MoveError::NotListed { .. }),
        "{unlisted}"
    );
    let nobody = state
        .check_move_target(None, &old, &local("nobody"), &mut budget)
        .await
        .unwrap_err();
    assert!(matches!(nobody, MoveError::NoTarget { .. }), "{nobody}");
    let remote_target = state
        .check_move_target(None, &old, &remote("elsewhere"), &mut budget)
        .await
        .unwrap_err();
    assert!(
        matches!(remote_target, MoveError::NoFetcher { .. }),
        "{remote_target}"
    );
    state
        .check_move_target(None, &old, &new, &mut budget)
        .await
        .unwrap();

    // A move recorded; a move back within 30 days refused, after that accepted.
    assert_eq!(state.move_time(&old, &new).await.unwrap(), None);
    assert!(state.record_move(&old, &new).await.unwrap());
    assert!(!state.record_move(&old, &new).await.unwrap());
    assert!(state.move_time(&old, &new).await.unwrap().is_some());
    state
        .set_also_known_as("old", std::slice::from_ref(&new))
        .await
        .unwrap();
    let back = state
        .check_move_target(None, &new, &old, &mut budget)
        .await
        .unwrap_err();
    assert!(matches!(back, MoveError::MovedBack { .. }), "{back}");
    clock.advance(MOVE_COOLDOWN + SECOND);
    state
        .check_move_target(None, &new, &old, &mut budget)
        .await
        .unwrap();

    // Where a remote actor moved: kept when its record is written again.
    let gone = remote("gone");
    assert_eq!(state.moved_to(&gone).await.unwrap(), None);
    state.set_remote_moved_to(&gone, &new).await.unwrap();
    assert_eq!(
        state.moved_to(&gone).await.unwrap().as_deref(),
        Some(new.as_str())
    );
    state
        .put_remote_actor(&RemoteActor::new(&gone, "Gone").with_handle("@gone@remote.test"))
        .await
        .unwrap();
    let record = state.remote_actor(&gone).await.unwrap().unwrap();
    assert_eq!(record.moved_to.as_deref(), Some(new.as_str()));
    assert_eq!(record.name, "Gone");
    assert_eq!(state.moved_to(&old).await.unwrap(), None);

    // The local actors' blocks of a moved actor carry over to its new account, once.
    add(state, actor("wary", ActorKind::Person)).await;
    let wary = local("wary");
    let (troll, again) = (remote("troll"), remote("troll-again"));
    state
        .block(Some(&wary), &BlockTarget::Actor(troll.clone()), "")
        .await
        .unwrap();
    assert_eq!(state.carry_blocks(&troll, &again).await.unwrap(), 1);
    assert!(state.is_blocked(Some(&wary), &again).await.unwrap());
    assert_eq!(state.carry_blocks(&troll, &again).await.unwrap(), 0);
    assert!(!state.is_blocked(Some(&local("old")), &again).await.unwrap());

    state.set_also_known_as("new", &[]).await.unwrap();
    let cleared = state.actor("new").await.unwrap().unwrap();
    assert!(cleared.also_known_as.is_empty());
    assert!(
        state
            .actor_document(&cleared)
            .await
            .unwrap()
            .get("alsoKnownAs")
            .is_none()
    );
}

/// `tasks` tasks write through `state` at once: each follows, is accepted, records the same
/// processed ids, files the same report and notifies. Nothing is lost or doubled.
pub async fn concurrent_writers(state: &InstanceState, tasks: usize) {
    add(state, actor("popular", ActorKind::Group)).await;
    let popular = local("popular");
    let mut handles = Vec::new();
    for n in 0..tasks {
        let state = state.clone();
        let popular = popular.clone();
        handles.push(tokio::spawn(async move {
            let follower = remote(&format!("crowd{n}"));
            let follow_id = format!("{follower}/follows/1");
            let mut firsts = 0;
            for round in 0..5 {
                // Everyone records the same ids: each is first exactly once overall.
                if state
                    .record(&format!("https://remote.test/activities/{round}"))
                    .await
                    .unwrap()
                {
                    firsts += 1;
                }
                if state
                    .record(&format!("{follower}/activities/{round}"))
                    .await
                    .unwrap()
                {
                    firsts += 1;
                }
            }
            state
                .put_follow(&follower, &popular, &follow_id, FollowState::Pending)
                .await
                .unwrap();
            state
                .set_follow_state(&follower, &popular, FollowState::Accepted)
                .await
                .unwrap()
                .unwrap();
            // A Follow re-sent after acceptance keeps it accepted.
            state
                .put_follow(&follower, &popular, &follow_id, FollowState::Pending)
                .await
                .unwrap();
            state
                .file_report(
                    NewReport::new(follower.clone(), popular.clone())
                        .with_activity("https://remote.test/flags/same"),
                )
                .await
                .unwrap();
            state
                .notify(&popular, "follow", &follower, Some(&follow_id), None)
                .await
                .unwrap();
            firsts
        }));
    }
    let mut firsts = 0;
    for handle in handles {
        firsts += handle.await.unwrap();
    }
    // 5 shared ids, and 5 of each task's own.
    assert_eq!(firsts, 5 + 5 * tasks);
    assert_eq!(
        state.processed_count().await.unwrap(),
        (5 + 5 * tasks) as u64
    );
    let accepted = state
        .followers(&popular, FollowState::Accepted, 0, 1000)
        .await
        .unwrap();
    assert_eq!(accepted.len(), tasks, "every follow accepted, none doubled");
    assert_eq!(
        state
            .follower_count(&popular, FollowState::Pending)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        state.reports(ReportState::Open, 1000).await.unwrap().len(),
        1
    );
    assert_eq!(
        state
            .notifications(&popular, false, 1000)
            .await
            .unwrap()
            .len(),
        tasks
    );
}
