//! Crash safety: a worker process is killed with SIGKILL mid-run and restarted (SQLite), or
//! killed while another worker goes on (PostgreSQL, where the dead worker's claims come back
//! when their leases lapse); every delivery still arrives, at least once.
//!
//! The worker is this test binary itself, run again with only `crash::worker_process`
//! selected (an ignored test that does nothing unless the environment names its job).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use federation_queue::{
    Enqueue, PostgresOptions, PostgresStore, Queue, QueueConfig, Recipient, SqliteStore, Store,
};

use crate::sink::{Reply, Sink};
use crate::support::{
    LoopbackTransport, eventually, keys, postgres_url, quick_config, remove_db, temp_db,
    unique_schema,
};

const DELIVERIES: usize = 400;

/// The lease of the PostgreSQL workers: how long a killed worker's claims stay taken.
const PG_LEASE: Duration = Duration::from_secs(3);

/// `n` single-recipient activities over eight hosts.
fn deliveries(n: usize) -> Vec<Enqueue> {
    (0..n)
        .map(|i| {
            let inbox = format!("https://h{}.test/users/{i}/inbox", i % 8);
            Enqueue::new(format!("{{\"n\":{i}}}"), "alice")
                .with_recipient(Recipient::new(inbox.parse().unwrap()))
        })
        .collect()
}

fn spawn_worker(db: &std::path::Path, sink: &Sink) -> Child {
    spawn_worker_with(&[("FQ_CRASH_DB", db.as_os_str())], sink)
}

fn spawn_worker_with(env: &[(&str, &std::ffi::OsStr)], sink: &Sink) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(env.iter().copied())
        .env("FQ_CRASH_SINK", sink.addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_loses_nothing() {
    let sink = Sink::start().await;
    // Slow enough that the kill lands mid-run.
    sink.default_reply(Reply::status(202).with_delay(Duration::from_millis(20)));
    let db = temp_db("crash");
    {
        let store = SqliteStore::open(&db).await.unwrap();
        let queue = Queue::with_config(
            store.clone(),
            LoopbackTransport::new(sink.addr, Duration::from_secs(5)),
            keys(),
            QueueConfig::new(),
        );
        let ids = queue.enqueue_batch(&deliveries(DELIVERIES)).await.unwrap();
        assert_eq!(ids.len(), DELIVERIES);
        store.close().await;
    }
    let mut worker = spawn_worker(&db, &sink);
    eventually(Duration::from_secs(60), "some deliveries", || async {
        sink.counts().1 >= (DELIVERIES / 4) as u64
    })
    .await;
    worker.kill().unwrap(); // SIGKILL
    worker.wait().unwrap();
    let at_kill = sink.counts().1;
    assert!(
        at_kill < DELIVERIES as u64,
        "the worker finished before it was killed"
    );
    let mut worker = spawn_worker(&db, &sink);
    eventually(Duration::from_secs(90), "every delivery", || async {
        sink.counts().1 == DELIVERIES as u64
    })
    .await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    let (total, unique) = sink.counts();
    assert_eq!(unique, DELIVERIES as u64);
    // Duplicates are bounded by what was in flight at the kill (the global cap).
    let duplicates = total - unique;
    assert!(
        duplicates <= QueueConfig::new().max_in_flight as u64,
        "{duplicates} duplicates"
    );
    remove_db(&db);
}

/// Two PostgreSQL workers share a queue; one is killed mid-run. The other delivers everything,
/// the dead worker's claims included once their leases lapse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_claims_of_a_killed_worker_come_back() {
    const DELIVERIES: usize = 1600;
    let Some(url) = postgres_url() else {
        return;
    };
    let schema = unique_schema("crash");
    let sink = Sink::start().await;
    // Each worker holds up to 256 requests for 200 ms: the kill, right after the first of them
    // arrive, finds the killed worker with requests sent and not yet recorded.
    sink.default_reply(Reply::status(202).with_delay(Duration::from_millis(200)));
    {
        let options = PostgresOptions::new(url.clone()).with_schema(schema.clone());
        let store = PostgresStore::connect_with(options).await.unwrap();
        let queue = Queue::new(
            store.clone(),
            LoopbackTransport::new(sink.addr, Duration::from_secs(1)),
            keys(),
        );
        let ids = queue.enqueue_batch(&deliveries(DELIVERIES)).await.unwrap();
        assert_eq!(ids.len(), DELIVERIES);
        store.close().await;
    }
    let env = [
        ("FQ_CRASH_PG_URL", std::ffi::OsStr::new(&url)),
        ("FQ_CRASH_PG_SCHEMA", std::ffi::OsStr::new(&schema)),
    ];
    let mut killed = spawn_worker_with(&env, &sink);
    let mut survivor = spawn_worker_with(&env, &sink);
    eventually(Duration::from_secs(60), "some deliveries", || async {
        sink.counts().1 >= (DELIVERIES / 4) as u64
    })
    .await;
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    let at_kill = tokio::time::Instant::now();
    assert!(
        sink.counts().1 < DELIVERIES as u64,
        "the workers finished before one was killed"
    );
    // The survivor sends everything, and the dead worker's claims again once their leases
    // lapse: the queue empties only then.
    let options = PostgresOptions::new(url).with_schema(schema);
    let store = PostgresStore::connect_with(options).await.unwrap();
    eventually(Duration::from_secs(90), "an empty queue", || async {
        let counts = store.counts(std::time::SystemTime::now()).await.unwrap();
        counts.pending + counts.in_flight == 0
    })
    .await;
    let waited = at_kill.elapsed();
    survivor.kill().unwrap();
    survivor.wait().unwrap();
    store.close().await;
    let (total, unique) = sink.counts();
    assert_eq!(unique, DELIVERIES as u64);
    // What the dead worker had sent without recording it went out again, and no more than its
    // cap.
    let duplicates = total - unique;
    assert!(
        (1..=QueueConfig::new().max_in_flight as u64).contains(&duplicates),
        "{duplicates} duplicates"
    );
    assert!(
        waited >= PG_LEASE - Duration::from_millis(500),
        "the queue emptied {waited:?} after the kill, before the dead worker's leases lapsed"
    );
}

/// The worker process of the crash tests: SQLite (`FQ_CRASH_DB`) or PostgreSQL
/// (`FQ_CRASH_PG_URL`, `FQ_CRASH_PG_SCHEMA`), delivering to `FQ_CRASH_SINK`.
#[test]
#[ignore = "run by the crash tests as a child process"]
fn worker_process() {
    let Some(sink) = std::env::var("FQ_CRASH_SINK").ok() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let sink = sink.parse().unwrap();
        if let Some(db) = std::env::var_os("FQ_CRASH_DB") {
            let store = SqliteStore::open(std::path::Path::new(&db)).await.unwrap();
            let transport = LoopbackTransport::new(sink, Duration::from_secs(5));
            let queue = Queue::with_config(store, transport, keys(), quick_config());
            queue.run(std::future::pending()).await.unwrap();
        } else {
            let url = std::env::var("FQ_CRASH_PG_URL").unwrap();
            let schema = std::env::var("FQ_CRASH_PG_SCHEMA").unwrap();
            let options = PostgresOptions::new(url).with_schema(schema);
            let store = PostgresStore::connect_with(options).await.unwrap();
            let transport = LoopbackTransport::new(sink, Duration::from_secs(1));
            // Room for both workers on the eight hosts: each holds claims when one is killed.
            let config = quick_config().with_lease(PG_LEASE).with_in_flight(256, 64);
            let queue = Queue::with_config(store, transport, keys(), config);
            queue.run(std::future::pending()).await.unwrap();
        }
    });
}
