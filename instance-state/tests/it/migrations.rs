//! The schema is made by numbered migrations, from an empty database, and opening it again
//! changes nothing.

use instance_state::InstanceState;
use instance_state::actors::ActorKind;
use instance_state::conformance::{ManualClock, actor, options};

use crate::support::{postgres_schema, postgres_url, remove_db, sqlite_at, temp_db};

/// The migrations of the release before the followers collections of remote actors were kept.
const BEFORE_FOLLOWERS: &[(i64, &str, &str)] = &[
    (1, "state", include_str!("../../migrations/0001_state.sql")),
    (
        2,
        "hidden",
        include_str!("../../migrations/0002_hidden.sql"),
    ),
    (
        3,
        "rate_limits",
        include_str!("../../migrations/0003_rate_limits.sql"),
    ),
    (4, "moves", include_str!("../../migrations/0004_moves.sql")),
    (
        5,
        "remote_keys",
        include_str!("../../migrations/0005_remote_keys.sql"),
    ),
];

/// A database of the release before (at `url` for sqlx, `location` for the state), with a
/// local reader following two remote actors (one accepted, one pending) and having met a
/// third, is migrated: the actor followed gets the conventional collection until its document
/// says otherwise, the others none; the reader sees what the actor followed addressed there.
async fn followers_are_filled_for_the_actors_followed(url: &str, location: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    instance_state::app_migrator("instance_state_migrations", BEFORE_FOLLOWERS)
        .run(&pool)
        .await
        .unwrap();
    let reader = format!("{}/actors/reader", instance_state::conformance::BASE);
    let actor = |name: &str| format!("https://old.test/users/{name}");
    for name in ["accepted", "pending", "met"] {
        sqlx::query("INSERT INTO st_remote_actors (id, name, updated) VALUES ($1, $2, 0)")
            .bind(actor(name))
            .bind(name)
            .execute(&pool)
            .await
            .unwrap();
    }
    for name in ["accepted", "pending"] {
        sqlx::query(
            "INSERT INTO st_follows (follower, followed, follow_id, state, created, updated)
             VALUES ($1, $2, $3, $4, 0, 0)",
        )
        .bind(&reader)
        .bind(actor(name))
        .bind(format!("{reader}/follows/{name}"))
        .bind(name)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let clock = ManualClock::new();
    let state = InstanceState::open(location, options(&clock))
        .await
        .unwrap();
    assert_eq!(
        state.schema_versions().await.unwrap(),
        [1, 2, 3, 4, 5, 6, 7]
    );
    let followers = |name: &'static str| {
        let state = state.clone();
        async move {
            state
                .remote_actor(&actor(name))
                .await
                .unwrap()
                .unwrap()
                .followers
        }
    };
    assert_eq!(
        followers("accepted").await,
        Some(format!("{}/followers", actor("accepted")))
    );
    assert_eq!(followers("pending").await, None);
    assert_eq!(followers("met").await, None);
    for name in ["accepted", "pending"] {
        state
            .put_object(
                &serde_json::json!({"id": format!("{}/notes/1", actor(name)), "type": "Note",
                    "attributedTo": actor(name), "to": [format!("{}/followers", actor(name))]}),
                false,
            )
            .await
            .unwrap();
    }
    let scope = state.scope_of(&reader).await.unwrap();
    for (name, seen) in [("accepted", 1), ("pending", 0)] {
        let listed = state.objects_by(&actor(name), &scope, 0, 10).await.unwrap();
        assert_eq!(listed.len(), seen, "{name}");
    }
    state.close().await;
}

#[tokio::test]
async fn sqlite_followers_filled_from_the_release_before() {
    let path = temp_db("followers_before");
    let location = path.to_str().unwrap();
    followers_are_filled_for_the_actors_followed(
        &format!("sqlite://{location}?mode=rwc"),
        location,
    )
    .await;
    remove_db(&path);
}

#[tokio::test]
async fn postgres_followers_filled_from_the_release_before() {
    let Some(url) = postgres_url() else {
        return;
    };
    let location = postgres_schema(&url, "followers_before").await;
    followers_are_filled_for_the_actors_followed(&location, &location).await;
}

/// A database of the release before the record lost its rowid on SQLite (version 6), with
/// activities processed: after the upgrade they are still duplicates, a new one is not, and
/// on SQLite the table is keyed by the id alone.
async fn processed_ids_kept_through_the_rebuild(url: &str, location: &str, sqlite: bool) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let mut before = BEFORE_FOLLOWERS.to_vec();
    before.push((
        6,
        "followers",
        include_str!("../../migrations/0006_followers.sql"),
    ));
    instance_state::app_migrator("instance_state_migrations", &before)
        .run(&pool)
        .await
        .unwrap();
    let old = |n: u32| format!("https://old.test/activities/{n}");
    for n in 0..300 {
        sqlx::query("INSERT INTO st_processed (id, at) VALUES ($1, $2)")
            .bind(old(n))
            .bind(i64::from(n))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;

    let clock = ManualClock::new();
    let state = InstanceState::open(location, options(&clock))
        .await
        .unwrap();
    assert_eq!(
        state.schema_versions().await.unwrap(),
        [1, 2, 3, 4, 5, 6, 7]
    );
    for n in [0, 150, 299] {
        assert!(
            !state.record_processed(&old(n)).await.unwrap(),
            "{} was processed before the upgrade",
            old(n)
        );
    }
    assert!(
        state
            .record_processed("https://old.test/activities/new")
            .await
            .unwrap()
    );
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM st_processed WHERE at < 300")
        .fetch_one(state.pool())
        .await
        .unwrap();
    assert_eq!(kept, 300, "every id and its time copied over");
    if sqlite {
        let without_rowid: i64 =
            sqlx::query_scalar("SELECT wr FROM pragma_table_list WHERE name = 'st_processed'")
                .fetch_one(state.pool())
                .await
                .unwrap();
        assert_eq!(without_rowid, 1, "st_processed is a WITHOUT ROWID table");
    }
    state.close().await;
}

#[tokio::test]
async fn sqlite_processed_ids_kept_through_the_rebuild() {
    let path = temp_db("processed_before");
    let location = path.to_str().unwrap();
    processed_ids_kept_through_the_rebuild(
        &format!("sqlite://{location}?mode=rwc"),
        location,
        true,
    )
    .await;
    remove_db(&path);
}

#[tokio::test]
async fn postgres_processed_ids_kept_through_the_rebuild() {
    let Some(url) = postgres_url() else {
        return;
    };
    let location = postgres_schema(&url, "processed_before").await;
    processed_ids_kept_through_the_rebuild(&location, &location, false).await;
}

async fn reopens_with_everything(location: &str) {
    let clock = ManualClock::new();
    let state = InstanceState::open(location, options(&clock))
        .await
        .unwrap();
    assert_eq!(
        state.schema_versions().await.unwrap(),
        [1, 2, 3, 4, 5, 6, 7]
    );
    state
        .create_actor(actor("kept", ActorKind::Person))
        .await
        .unwrap();
    state.close().await;
    let state = InstanceState::open(location, options(&clock))
        .await
        .unwrap();
    assert_eq!(
        state.schema_versions().await.unwrap(),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert!(state.actor("kept").await.unwrap().is_some());
    state.close().await;
}

#[tokio::test]
async fn sqlite_schema_from_empty_and_reopened() {
    let path = temp_db("reopen");
    reopens_with_everything(path.to_str().unwrap()).await;
    remove_db(&path);
}

#[tokio::test]
async fn postgres_schema_from_empty_and_reopened() {
    let Some(url) = postgres_url() else {
        return;
    };
    let location = postgres_schema(&url, "reopen").await;
    reopens_with_everything(&location).await;
}

#[tokio::test]
async fn a_bad_location_is_an_error() {
    let clock = ManualClock::new();
    let error = InstanceState::open("postgres://user@host:notaport/db", options(&clock))
        .await
        .unwrap_err();
    assert!(
        matches!(error, instance_state::Error::Location { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn an_apps_migrations_keep_their_own_table() {
    let clock = ManualClock::new();
    let (state, path) = sqlite_at("app_migrations", options(&clock)).await;
    let own = state.schema_versions().await.unwrap();
    const APP: &[(i64, &str, &str)] = &[
        (1, "things", "CREATE TABLE app_things (id TEXT PRIMARY KEY)"),
        (2, "more", "ALTER TABLE app_things ADD COLUMN n BIGINT"),
    ];
    let migrator = instance_state::app_migrator("app_migrations", APP);
    migrator.run(state.pool()).await.unwrap();
    // Run again: nothing to do.
    migrator.run(state.pool()).await.unwrap();
    sqlx::query("INSERT INTO app_things (id, n) VALUES ('a', 1)")
        .execute(state.pool())
        .await
        .unwrap();
    // The crate's own record is untouched by the app's.
    assert_eq!(state.schema_versions().await.unwrap(), own);
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM app_migrations ORDER BY version")
            .fetch_all(state.pool())
            .await
            .unwrap();
    assert_eq!(versions, [1, 2]);
    state.close().await;
    remove_db(&path);
}
