//! The schema is made by numbered migrations, from an empty database, and opening it again
//! changes nothing.

use instance_state::InstanceState;
use instance_state::actors::ActorKind;
use instance_state::conformance::{ManualClock, actor, options};

use crate::support::{postgres_schema, postgres_url, remove_db, sqlite_at, temp_db};

async fn reopens_with_everything(location: &str) {
    let clock = ManualClock::new();
    let state = InstanceState::open(location, options(&clock))
        .await
        .unwrap();
    assert_eq!(state.schema_versions().await.unwrap(), [1, 2, 3, 4, 5]);
    state
        .create_actor(actor("kept", ActorKind::Person))
        .await
        .unwrap();
    state.close().await;
    let state = InstanceState::open(location, options(&clock))
        .await
        .unwrap();
    assert_eq!(state.schema_versions().await.unwrap(), [1, 2, 3, 4, 5]);
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
