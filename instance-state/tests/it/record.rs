//! The inbox's idempotency record (`InboxStore::record`, group commit on connections of its
//! own): what resolved is in the database, for another connection and after reopening.

use federation::inbox::InboxStore as _;
use instance_state::InstanceState;
use instance_state::conformance::{ManualClock, options};

use crate::support::{postgres_schema, postgres_url, remove_db, temp_db};

fn id(n: usize) -> String {
    format!("https://remote.test/activities/{n}")
}

/// Records 30 ids at once through the inbox's store; once they resolved, a second state on the
/// same database (another set of connections, as another process would have) knows every one,
/// with the first one never closed (as when the process dies); so does a third, after both
/// are closed.
async fn resolved_records_are_durable(location: &str) {
    let clock = ManualClock::new();
    let state = InstanceState::open(location, options(&clock))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..30)
        .map(|n| {
            let state = state.clone();
            tokio::spawn(async move { state.record(&id(n)).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap(), "a new id is new");
    }
    let other = InstanceState::open(location, options(&clock))
        .await
        .unwrap();
    assert_eq!(other.processed_count().await.unwrap(), 30);
    for n in 0..30 {
        assert!(!other.record(&id(n)).await.unwrap(), "{} known", id(n));
    }
    // Forgotten through one, new again through the other.
    state.forget(&id(7)).await.unwrap();
    assert!(other.record(&id(7)).await.unwrap());
    assert!(!state.record(&id(7)).await.unwrap());
    other.close().await;
    state.close().await;
    let reopened = InstanceState::open(location, options(&clock))
        .await
        .unwrap();
    assert_eq!(reopened.processed_count().await.unwrap(), 30);
    assert!(!reopened.record(&id(29)).await.unwrap());
    reopened.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_resolved_records_are_durable() {
    let path = temp_db("record_durable");
    resolved_records_are_durable(path.to_str().unwrap()).await;
    remove_db(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_resolved_records_are_durable() {
    let Some(url) = postgres_url() else {
        return;
    };
    let location = postgres_schema(&url, "record_durable").await;
    resolved_records_are_durable(&location).await;
}
