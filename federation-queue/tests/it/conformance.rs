//! The conformance suite (`federation_queue::conformance`) on every store of the crate, and the
//! checks that only make sense for one of them.

use federation_queue::conformance::{
    activity, at, claim_at, concurrent_claims_never_overlap, suite,
};
use federation_queue::{MemoryStore, PostgresOptions, PostgresStore, SqliteStore, Store};

use crate::support::{postgres_url, remove_db, temp_db, unique_schema};

#[tokio::test]
async fn memory_store_conforms() {
    suite(|_| async { MemoryStore::new() }).await;
}

/// A store built outside the crate, from its public API (`federation_queue::planning`, the
/// public constructors), conforms too.
#[tokio::test]
async fn a_store_built_outside_the_crate_conforms() {
    suite(|_| async { crate::outside_memory::MemoryStore::new() }).await;
    let store = crate::outside_memory::MemoryStore::new();
    concurrent_claims_never_overlap(&store, &store).await;
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let mut paths = Vec::new();
    let paths_cell = std::sync::Mutex::new(&mut paths);
    suite(|name| {
        let path = temp_db(name);
        paths_cell.lock().unwrap().push(path.clone());
        async move { SqliteStore::open(&path).await.unwrap() }
    })
    .await;
    for path in paths {
        remove_db(&path);
    }
}

/// A refill whose caller stops waiting while its first query waits for the database (another
/// connection holds the write lock) leaves its transaction open on the writer; the store's next
/// operation rolls it back first, so nothing of the refill is kept and the store goes on.
#[tokio::test]
async fn sqlite_refill_dropped_midway_is_rolled_back() {
    use federation_queue::conformance::{done, policy};
    use federation_queue::{HostEvent, Outcome};
    use sqlx::{ConnectOptions, Connection};

    let path = temp_db("dropped-refill");
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .enqueue(
            &[activity("{}", &[("a.test", "/1"), ("a.test", "/2")])],
            at(0),
        )
        .await
        .unwrap();
    let claims = store.claim(&claim_at(at(0), 1, 10)).await.unwrap();
    assert_eq!(claims.len(), 1);
    let mut blocker = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    {
        let completions = [done(&claims[0], Outcome::Delivered, HostEvent::Answered)];
        let policy = policy();
        let request = claim_at(at(1), 10, 10);
        let mut refill = std::pin::pin!(store.complete_and_claim(&completions, &policy, &request));
        // One poll sends the first query, which waits for the write lock: the refill cannot
        // have finished.
        let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(refill.as_mut().poll(cx)));
        assert!(polled.await.is_pending());
    }
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    blocker.close().await.unwrap();
    // The completion was not kept: its claim is still in flight, and the other delivery is
    // claimed by the next call, which would fail had the transaction been left open.
    let next = store.claim(&claim_at(at(1), 10, 10)).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].id, claims[0].id);
    let counts = store.counts(at(1)).await.unwrap();
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (0, 2, 0));
    // And the refill, made again, records and claims as it should.
    let (_, more) = store
        .complete_and_claim(
            &[done(&claims[0], Outcome::Delivered, HostEvent::Answered)],
            &policy(),
            &claim_at(at(2), 10, 10),
        )
        .await
        .unwrap();
    assert!(more.is_empty());
    let counts = store.counts(at(2)).await.unwrap();
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (0, 1, 0));
    store.close().await;
    remove_db(&path);
}

#[tokio::test]
async fn sqlite_store_survives_reopening() {
    let path = temp_db("reopen");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .enqueue(
                &[activity("{}", &[("a.test", "/1"), ("b.test", "/2")])],
                at(0),
            )
            .await
            .unwrap();
        // One claimed when the process "dies".
        assert_eq!(store.claim(&claim_at(at(0), 1, 10)).await.unwrap().len(), 1);
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    // Both are due at once: the dead process's claim does not wait for its lease.
    let claims = store.claim(&claim_at(at(1), 10, 10)).await.unwrap();
    assert_eq!(claims.len(), 2);
    store.close().await;
    remove_db(&path);
}

async fn postgres(name: &str) -> Option<PostgresStore> {
    let url = postgres_url()?;
    let options = PostgresOptions::new(url).with_schema(unique_schema(name));
    Some(PostgresStore::connect_with(options).await.unwrap())
}

#[tokio::test]
async fn postgres_store_conforms() {
    if postgres("probe").await.is_none() {
        return;
    }
    suite(|name| async move { postgres(name).await.unwrap() }).await;
}

#[tokio::test]
async fn postgres_workers_never_share_a_claim() {
    let Some(url) = postgres_url() else {
        return;
    };
    // Two handles on the same schema: two workers.
    let options = PostgresOptions::new(url).with_schema(unique_schema("shared"));
    let a = PostgresStore::connect_with(options.clone()).await.unwrap();
    let b = PostgresStore::connect_with(options).await.unwrap();
    concurrent_claims_never_overlap(&a, &b).await;
}
