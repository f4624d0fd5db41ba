//! Crash safety: a worker process is killed with SIGKILL mid-run and restarted; every
//! delivery still arrives, at least once.
//!
//! The worker is this test binary itself, run again with only `crash::worker_process`
//! selected (an ignored test that does nothing unless the environment names its job).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use federation_queue::{Enqueue, Queue, QueueConfig, Recipient, SqliteStore};

use crate::sink::{Reply, Sink};
use crate::support::{LoopbackTransport, eventually, keys, quick_config, remove_db, temp_db};

const DELIVERIES: usize = 400;

fn spawn_worker(db: &std::path::Path, sink: &Sink) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FQ_CRASH_DB", db)
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
        let items: Vec<Enqueue> = (0..DELIVERIES)
            .map(|i| {
                Enqueue::new(format!("{{\"n\":{i}}}"), "alice").with_recipient(Recipient::new(
                    format!("https://h{}.test/users/{i}/inbox", i % 8)
                        .parse()
                        .unwrap(),
                ))
            })
            .collect();
        assert_eq!(queue.enqueue_batch(&items).await.unwrap().len(), DELIVERIES);
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

/// The worker process of `killed_worker_loses_nothing`.
#[test]
#[ignore = "run by killed_worker_loses_nothing as a child process"]
fn worker_process() {
    let (Some(db), Some(sink)) = (
        std::env::var_os("FQ_CRASH_DB"),
        std::env::var("FQ_CRASH_SINK").ok(),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = SqliteStore::open(std::path::Path::new(&db)).await.unwrap();
        let transport = LoopbackTransport::new(sink.parse().unwrap(), Duration::from_secs(5));
        let queue = Queue::with_config(store, transport, keys(), quick_config());
        queue.run(std::future::pending()).await.unwrap();
    });
}
