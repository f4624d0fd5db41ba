//! The adaptive per-host cap against loopback hosts: one that answers fast (its cap grows to
//! the ceiling and the host never sees more requests at once), one that answers 429 and 503
//! (its cap shrinks to the floor), one that answers slowly (its cap shrinks). Every wait polls
//! a condition with a deadline.

use std::time::Duration;

use federation_queue::{
    BreakerPolicy, Enqueue, MemoryStore, Queue, QueueConfig, Recipient, StaticKeys, SystemClock,
};

use crate::sink::{Reply, Sink};
use crate::support::{LoopbackTransport, Worker, eventually, keys, quick_config};

type TestQueue = Queue<MemoryStore, LoopbackTransport, StaticKeys, SystemClock>;

const WAIT: Duration = Duration::from_secs(30);

/// A worker over `sink`, starting hosts at 4 in flight, adapting between 2 and 12.
fn start(sink: &Sink, config: QueueConfig) -> (TestQueue, Worker) {
    let transport = LoopbackTransport::new(sink.addr, Duration::from_secs(5));
    let config = config
        .with_in_flight(256, 4)
        .with_per_host_range(2, 12)
        // The breaker would stop the failing host's requests: these tests watch the cap.
        .with_breaker(BreakerPolicy::new().with_failure_threshold(1_000));
    let queue = Queue::with_config(MemoryStore::new(), transport, keys(), config);
    let worker = Worker::start(&queue);
    (queue, worker)
}

async fn enqueue(queue: &TestQueue, host: &str, n: usize) {
    let items: Vec<Enqueue> = (0..n)
        .map(|i| {
            Enqueue::new(format!("{{\"n\":{i}}}"), "alice").with_recipient(Recipient::new(
                format!("https://{host}/users/{i}/inbox").parse().unwrap(),
            ))
        })
        .collect();
    queue.enqueue_batch(&items).await.unwrap();
}

fn cap(queue: &TestQueue, host: &str) -> u64 {
    queue.metrics().hosts.get(host).map_or(0, |h| h.cap)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_host_earns_the_ceiling_and_never_more() {
    let sink = Sink::start_with(false).await;
    // Slow means slower than 5 s: a loaded test machine answers loopback far faster.
    let (queue, worker) = start(
        &sink,
        quick_config().with_slow_answer(Duration::from_secs(5)),
    );
    enqueue(&queue, "fast.test", 1_500).await;
    let mut highest = 0;
    eventually(WAIT, "all delivered", || {
        highest = highest.max(cap(&queue, "fast.test"));
        let delivered = queue.metrics().delivered;
        async move { delivered == 1_500 }
    })
    .await;
    worker.stop().await;
    assert_eq!(
        highest.max(cap(&queue, "fast.test")),
        12,
        "the cap grew to the ceiling"
    );
    assert!(
        sink.most_in_flight("fast.test") <= 12,
        "the host saw {} requests at once",
        sink.most_in_flight("fast.test")
    );
}

#[tokio::test]
async fn a_host_answering_429_and_503_gets_the_floor() {
    let sink = Sink::start().await;
    sink.script(
        "busy.test",
        (0..400).map(|i| Reply::status(if i % 2 == 0 { 429 } else { 503 })),
    );
    let (queue, worker) = start(&sink, quick_config());
    enqueue(&queue, "busy.test", 40).await;
    eventually(WAIT, "the cap at the floor", || {
        let cap = cap(&queue, "busy.test");
        async move { cap == 2 }
    })
    .await;
    worker.stop().await;
}

#[tokio::test]
async fn a_slow_host_gets_less() {
    let sink = Sink::start().await;
    sink.default_reply(Reply::status(202).with_delay(Duration::from_millis(300)));
    let (queue, worker) = start(
        &sink,
        quick_config().with_slow_answer(Duration::from_millis(100)),
    );
    enqueue(&queue, "slow.test", 40).await;
    eventually(WAIT, "the cap shrunk", || {
        let cap = cap(&queue, "slow.test");
        async move { (1..4).contains(&cap) }
    })
    .await;
    worker.stop().await;
    assert!(sink.most_in_flight("slow.test") <= 4);
}

/// What a store would refuse (a NUL in a key, an empty key reference, an over-long ordering
/// key) fails its own enqueue before it joins a group: the enqueues written at the same time
/// get their ids.
#[tokio::test]
async fn a_bad_enqueue_fails_alone() {
    // No worker: only the enqueues are looked at.
    let transport = LoopbackTransport::new(([127, 0, 0, 1], 9).into(), Duration::from_secs(5));
    let queue: TestQueue =
        Queue::with_config(MemoryStore::new(), transport, keys(), quick_config());
    let item = |key: &str, ordering: Option<String>| {
        let mut item = Enqueue::new("{}", key)
            .with_recipient(Recipient::new("https://a.test/inbox".parse().unwrap()));
        if let Some(ordering) = ordering {
            item = item.with_ordering_key(ordering);
        }
        item
    };
    let bad = [
        (item("ali\0ce", None), "key_ref"),
        (item("", None), "key_ref"),
        (
            item(
                "alice",
                Some("x".repeat(federation_queue::MAX_KEY_BYTES + 1)),
            ),
            "ordering_key",
        ),
        (item("alice", Some("a\0b".into())), "ordering_key"),
    ];
    for (bad, expected) in bad {
        let good: Vec<_> = (0..8)
            .map(|i| {
                let queue = queue.clone();
                tokio::spawn(
                    async move { queue.enqueue(item("alice", Some(format!("o{i}")))).await },
                )
            })
            .collect();
        match queue.enqueue(bad).await {
            Err(federation_queue::EnqueueError::InvalidField { field, .. }) => {
                assert_eq!(field, expected);
            }
            other => panic!("{other:?}"),
        }
        for good in good {
            assert_eq!(good.await.unwrap().unwrap().len(), 1);
        }
    }
}
