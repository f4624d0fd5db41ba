//! The durable idempotency record (`federation::record`) on SQLite: group commit, exact
//! duplicates, durability once a record resolves. (instance-state runs it on PostgreSQL too,
//! as its `InboxStore`.)

use std::path::Path;

use federation::record::{MAX_GROUP, RecordError, SqlRecord, SqlRecordOptions};
use futures::future::join_all;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

/// A database with the table instance-state keeps (`st_processed`), and the record on it.
async fn open(dir: &Path) -> SqlRecord {
    let path = dir.join("record.db");
    let mut conn = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE IF NOT EXISTS processed (id TEXT PRIMARY KEY, at BIGINT NOT NULL)")
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
