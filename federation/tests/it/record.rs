//! The durable idempotency record (`federation::record`) on SQLite: group commit, exact
//! duplicates, durability once a record resolves, a busy database waited for and a failed
//! write refused; and the inbox on it. (instance-state runs it on PostgreSQL too, as its
//! `InboxStore`.)

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use activitypub_core::ActivityType;
use federation::inbox::{
    Accepted, Dispatcher, Inbox, InboxConfig, InboxStore, Incoming, Rejection, StoreError,
};
use federation::record::{MAX_GROUP, RecordError, SqlRecord, SqlRecordOptions};
use futures::future::join_all;
use http::StatusCode;
use http_signatures::Standard;
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};
use url::Url;

use crate::support::{Remote, fetcher, key_cache, now, signed_post};

/// A database with the table instance-state keeps (`st_processed`), and the record on it.
async fn open(dir: &Path) -> SqlRecord {
    let path = dir.join("record.db");
    let mut conn = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS processed (id TEXT PRIMARY KEY, at BIGINT NOT NULL) \
         WITHOUT ROWID",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    SqlRecord::open(path.to_str().unwrap(), "processed", SqlRecordOptions::new())
        .await
        .unwrap()
}

/// The rows of the table, read on a connection of their own.
async fn rows(dir: &Path) -> Vec<(String, i64)> {
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.join("record.db"))
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let rows = sqlx::query_as("SELECT id, at FROM processed ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows
}

fn id(n: usize) -> String {
    format!("https://remote.test/activities/{n}")
}

// One thread: every record below is joined before the first write starts, so the grouping is
// deterministic.
#[tokio::test(flavor = "current_thread")]
async fn records_that_arrive_together_are_one_transaction_and_a_lone_one_is_written_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let record = open(dir.path()).await;
    let answers = join_all((0..16).map(|n| {
        let record = record.clone();
        async move { record.record(&id(n), 7).await }
    }))
    .await;
    assert!(answers.into_iter().all(|a| a.unwrap()));
    assert_eq!(record.transactions(), 1, "16 records, one transaction");
    // A lone record: nothing else arrives, and it resolves, in a transaction of its own.
    assert!(record.record(&id(16), 8).await.unwrap());
    assert_eq!(record.transactions(), 2);
    assert!(!record.record(&id(16), 9).await.unwrap());
    assert_eq!(record.transactions(), 3);
    let rows = rows(dir.path()).await;
    assert_eq!(rows.len(), 17);
    assert!(
        rows.contains(&(id(16), 8)),
        "the first record's time is kept"
    );
    assert!(rows.contains(&(id(3), 7)));
}

#[tokio::test(flavor = "current_thread")]
async fn an_id_recorded_several_times_at_once_is_new_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let record = open(dir.path()).await;
    assert!(record.record(&id(0), 1).await.unwrap());
    // In one group: an id already there, an id three times, another once.
    let ids = [id(1), id(0), id(1), id(2), id(1)];
    let answers: Vec<bool> = join_all(ids.iter().map(|i| record.record(i, 2)))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(answers, [true, false, false, true, false]);
    assert_eq!(record.transactions(), 2);
    assert_eq!(rows(dir.path()).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_records_from_many_tasks_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let record = open(dir.path()).await;
    // 8 tasks, each recording the same 50 ids (in its own order) and 50 of its own.
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let record = record.clone();
            tokio::spawn(async move {
                let mut new = 0;
                for k in 0..50 {
                    let shared = id((k * 7 + task * 13) % 50);
                    let own = id(1000 + task * 50 + k);
                    let (a, b) = tokio::join!(record.record(&shared, 1), record.record(&own, 1));
                    assert!(b.unwrap(), "an id of this task's own is new");
                    new += usize::from(a.unwrap());
                }
                new
            })
        })
        .collect();
    let mut new = 0;
    for task in tasks {
        new += task.await.unwrap();
    }
    assert_eq!(new, 50, "each shared id is new exactly once overall");
    assert_eq!(rows(dir.path()).await.len(), 50 + 8 * 50);
    assert!(record.transactions() <= 8 * 50 * 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_resolved_record_is_in_the_database_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let record = open(dir.path()).await;
    let answers = join_all((0..20).map(|n| {
        let record = record.clone();
        async move { record.record(&id(n), 5).await }
    }))
    .await;
    assert!(answers.into_iter().all(|a| a.unwrap()));
    // Resolved: another connection reads every row, with the record still open (nothing
    // waits in a buffer of this process).
    assert_eq!(rows(dir.path()).await.len(), 20);
    // The record dropped without closing (as when the process dies), then opened again: the
    // ids are known.
    drop(record);
    let record = open(dir.path()).await;
    for n in 0..20 {
        assert!(!record.record(&id(n), 6).await.unwrap(), "{} known", id(n));
    }
    record.forget(&id(3)).await.unwrap();
    assert!(record.record(&id(3), 6).await.unwrap(), "forgotten, so new");
    record.close().await;
    assert!(matches!(
        record.record(&id(99), 6).await,
        Err(RecordError::Closed)
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn a_group_larger_than_the_bound_is_written_in_several_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let record = open(dir.path()).await;
    let count = MAX_GROUP + MAX_GROUP / 2;
    let answers = join_all((0..count).map(|n| {
        let record = record.clone();
        async move { record.record(&id(n), 1).await }
    }))
    .await;
    assert!(answers.into_iter().all(|a| a.unwrap()));
    assert_eq!(record.transactions(), 2);
    assert_eq!(rows(dir.path()).await.len(), count);
}

#[tokio::test]
async fn a_table_name_that_is_not_a_plain_identifier_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.db");
    for table in ["", "1processed", "processed; DROP TABLE x", "a.b", "p\"q"] {
        assert!(
            matches!(
                SqlRecord::open(path.to_str().unwrap(), table, SqlRecordOptions::new()).await,
                Err(RecordError::TableName(_))
            ),
            "{table:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_write_fails_every_record_of_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.db");
    // No table: the write fails.
    let record = SqlRecord::open(path.to_str().unwrap(), "missing", SqlRecordOptions::new())
        .await
        .unwrap();
    let answers = join_all((0..3).map(|n| {
        let record = record.clone();
        async move { record.record(&id(n), 1).await }
    }))
    .await;
    for answer in answers {
        assert!(matches!(answer, Err(RecordError::Database { .. })));
    }
    assert_eq!(record.transactions(), 0);
}

/// A connection of its own holding SQLite's write lock (`BEGIN IMMEDIATE`), with a row of
/// its own written, until it commits.
async fn hold_write_lock(dir: &Path) -> sqlx::SqliteConnection {
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.join("record.db"))
        .connect()
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO processed (id, at) VALUES ('https://other.test/x', 1)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

#[tokio::test(flavor = "current_thread")]
async fn a_record_waits_for_another_writer_off_the_runtime_thread_then_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let record = open(dir.path()).await;
    let mut other = hold_write_lock(dir.path()).await;
    let waiting = tokio::spawn({
        let record = record.clone();
        async move { record.record(&id(1), 3).await }
    });
    // The runtime's one thread stays free while the record waits for the lock: this task
    // runs, many times over, and the record is still waiting.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(
        !waiting.is_finished(),
        "resolved while another held the lock"
    );
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    assert!(waiting.await.unwrap().unwrap());
    let rows = rows(dir.path()).await;
    assert!(rows.contains(&(id(1), 3)), "{rows:?}");
    assert_eq!(rows.len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn a_write_that_cannot_be_done_is_an_error_to_every_caller_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).await.close().await;
    let mut options = SqlRecordOptions::new();
    options.busy_timeout = Duration::from_millis(50);
    let path = dir.path().join("record.db");
    let record = SqlRecord::open(path.to_str().unwrap(), "processed", options)
        .await
        .unwrap();
    // Another connection keeps the write lock past the busy timeout.
    let mut other = hold_write_lock(dir.path()).await;
    let answers = join_all((0..3).map(|n| {
        let record = record.clone();
        async move { record.record(&id(n), 1).await }
    }))
    .await;
    for answer in answers {
        assert!(
            matches!(answer, Err(RecordError::Database { .. })),
            "{answer:?}"
        );
    }
    assert_eq!(record.transactions(), 0);
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    assert_eq!(rows(dir.path()).await, []);
    // The lock released, the same ids are written and new.
    assert!(record.record(&id(0), 2).await.unwrap());
}

/// The inbox's store on the record, as instance-state keeps it; every actor known.
#[derive(Clone)]
struct Durable(SqlRecord);

impl InboxStore for Durable {
    async fn record(&self, activity_id: &str) -> Result<bool, StoreError> {
        self.0
            .record(activity_id, 1)
            .await
            .map_err(|e| StoreError::new("recording", e))
    }

    async fn forget(&self, activity_id: &str) -> Result<(), StoreError> {
        self.0
            .forget(activity_id)
            .await
            .map_err(|e| StoreError::new("forgetting", e))
    }

    async fn knows_actor(&self, _actor: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
}

fn local_base() -> Url {
    Url::parse("http://local.example/").unwrap()
}

/// An inbox at `http://local.example/` on `record`, counting the `Follow`s it dispatches.
fn inbox_on(record: SqlRecord) -> (Inbox<Arc<AtomicUsize>, Durable>, Arc<AtomicUsize>) {
    let dispatched = Arc::new(AtomicUsize::new(0));
    let dispatcher = Dispatcher::new().on(
        ActivityType::Follow,
        |count: Arc<AtomicUsize>, _: Incoming| async move {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(())
        },
    );
    let inbox = inbox_with(record, dispatcher, Arc::clone(&dispatched));
    (inbox, dispatched)
}

/// An inbox at `http://local.example/` on `record`, dispatching to `dispatcher` with `count`.
fn inbox_with(
    record: SqlRecord,
    dispatcher: Dispatcher<Arc<AtomicUsize>>,
    count: Arc<AtomicUsize>,
) -> Inbox<Arc<AtomicUsize>, Durable> {
    Inbox::new(
        InboxConfig::new(&local_base()),
        key_cache(),
        fetcher(),
        Durable(record),
        dispatcher,
        count,
    )
}

/// A `Follow` by `actor_id`, numbered `n`.
fn follow(actor: &crate::support::TestActor, n: u32) -> serde_json::Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": actor.url(&format!("/activities/follow-{n}")).as_str(),
        "type": "Follow",
        "actor": actor.id.as_str(),
        "object": local_base().join("/actors/bob").unwrap().as_str(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_activity_delivered_twice_at_once_is_dispatched_once() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let (inbox, dispatched) = inbox_on(open(dir.path()).await);
    let inbox = Arc::new(inbox);
    for n in 0..10 {
        let activity = follow(&alice, n);
        let at = now();
        // Signed apart (as a retry through two inboxes would be), received together.
        let requests = [Standard::Cavage, Standard::Rfc9421].map(|standard| {
            signed_post(
                &alice.signer(standard),
                &local_base().join("/inbox").unwrap(),
                &activity,
                at,
            )
        });
        let answers = join_all(requests.into_iter().map(|request| {
            let inbox = Arc::clone(&inbox);
            tokio::spawn(async move { inbox.receive_at(&request, None, at).await })
        }))
        .await;
        let mut processed = 0;
        for answer in answers {
            match answer.unwrap().unwrap() {
                Accepted::Processed { .. } => processed += 1,
                Accepted::Duplicate { .. } => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(processed, 1, "activity {n}");
    }
    assert_eq!(dispatched.load(Ordering::SeqCst), 10);
    assert_eq!(rows(dir.path()).await.len(), 10);
}

#[tokio::test(flavor = "current_thread")]
async fn an_activity_accepted_is_known_when_the_inbox_is_opened_again() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let activity = follow(&alice, 1);
    let at = now();
    let request = signed_post(
        &alice.signer(Standard::Cavage),
        &local_base().join("/inbox").unwrap(),
        &activity,
        at,
    );
    {
        let (inbox, dispatched) = inbox_on(open(dir.path()).await);
        let accepted = inbox.receive_at(&request, None, at).await.unwrap();
        assert!(
            matches!(accepted, Accepted::Processed { .. }),
            "{accepted:?}"
        );
        assert_eq!(dispatched.load(Ordering::SeqCst), 1);
        // Dropped without closing, as when the process dies.
    }
    let (inbox, dispatched) = inbox_on(open(dir.path()).await);
    let again = inbox.receive_at(&request, None, at).await.unwrap();
    assert!(matches!(again, Accepted::Duplicate { .. }), "{again:?}");
    assert_eq!(dispatched.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn an_activity_whose_record_fails_is_refused_and_not_dispatched() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.db");
    // No such table: every write fails.
    let record = SqlRecord::open(path.to_str().unwrap(), "missing", SqlRecordOptions::new())
        .await
        .unwrap();
    let (inbox, dispatched) = inbox_on(record);
    let at = now();
    let request = signed_post(
        &alice.signer(Standard::Cavage),
        &local_base().join("/inbox").unwrap(),
        &follow(&alice, 1),
        at,
    );
    match inbox.receive_at(&request, None, at).await {
        Err(rejection @ Rejection::Store(_)) => {
            assert_eq!(rejection.status(), StatusCode::SERVICE_UNAVAILABLE);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dispatched.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_abandoned_while_its_activity_is_handled_is_still_processed() {
    let remote = Remote::start().await;
    let alice = remote.served_actor("alice").await;
    let dir = tempfile::tempdir().unwrap();
    // A handler that waits for the gate, then counts.
    let (started, mut start) = tokio::sync::mpsc::channel::<()>(1);
    let gate = Arc::new(tokio::sync::Notify::new());
    let dispatched = Arc::new(AtomicUsize::new(0));
    let dispatcher = Dispatcher::new().on(ActivityType::Follow, {
        let (gate, started) = (Arc::clone(&gate), started.clone());
        move |count: Arc<AtomicUsize>, _: Incoming| {
            let (gate, started) = (Arc::clone(&gate), started.clone());
            async move {
                let _ = started.send(()).await;
                gate.notified().await;
                count.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    });
    let inbox = inbox_with(open(dir.path()).await, dispatcher, Arc::clone(&dispatched));
    let activity = follow(&alice, 1);
    let at = now();
    let request = signed_post(
        &alice.signer(Standard::Cavage),
        &local_base().join("/inbox").unwrap(),
        &activity,
        at,
    );
    // The request's future is dropped while the handler waits (as a server drops it when its
    // sender hangs up): the activity is recorded by then.
    tokio::select! {
        _ = inbox.receive_at(&request, None, at) => panic!("the handler waits for the gate"),
        _ = start.recv() => {}
    }
    assert_eq!(rows(dir.path()).await.len(), 1, "recorded");
    gate.notify_one();
    for _ in 0..200 {
        if dispatched.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        dispatched.load(Ordering::SeqCst),
        1,
        "the handling went on after the request was abandoned"
    );
    // The sender's retry is a duplicate of an activity processed.
    let again = inbox.receive_at(&request, None, at).await.unwrap();
    assert!(matches!(again, Accepted::Duplicate { .. }), "{again:?}");
}
