//! Fault tests: a real worker, the reqwest transport and a loopback sink that misbehaves as
//! scripted. Delays are milliseconds; every wait polls a condition with a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use federation_queue::{
    BreakerState, DeadReason, Enqueue, Event, MemoryStore, Queue, QueueConfig, Recipient, Requeue,
    StaticKeys, SystemClock, collapse_recipients,
};

use crate::sink::{Reply, Sink};
use crate::support::{LoopbackTransport, Worker, eventually, keys, quick_config};

type TestQueue = Queue<MemoryStore, LoopbackTransport, StaticKeys, SystemClock>;

const WAIT: Duration = Duration::from_secs(20);

struct Running {
    queue: TestQueue,
    worker: Worker,
}

impl Running {
    fn start(transport: LoopbackTransport, config: QueueConfig) -> Running {
        let queue = Queue::with_config(MemoryStore::new(), transport, keys(), config);
        let worker = Worker::start(&queue);
        Running { queue, worker }
    }

    async fn stop(self) -> TestQueue {
        self.worker.stop().await;
        self.queue
    }
}

fn to(host: &str) -> Recipient {
    Recipient::new(format!("https://{host}/inbox").parse().unwrap())
}

async fn send(queue: &TestQueue, body: &str, host: &str) {
    queue
        .enqueue(Enqueue::new(body.to_owned(), "alice").with_recipient(to(host)))
        .await
        .unwrap();
}

fn transport(sink: &Sink) -> LoopbackTransport {
    LoopbackTransport::new(sink.addr, Duration::from_millis(300))
}

#[tokio::test]
async fn server_errors_then_success() {
    let sink = Sink::start().await;
    sink.script(
        "a.test",
        [Reply::status(500), Reply::status(502), Reply::status(200)],
    );
    let running = Running::start(transport(&sink), quick_config());
    send(&running.queue, r#"{"type":"Create"}"#, "a.test").await;
    eventually(WAIT, "delivery after two errors", || async {
        running.queue.metrics().delivered == 1
    })
    .await;
    let received = sink.received_for("a.test");
    assert_eq!(received.len(), 3);
    // Signed at every attempt, same delivery, same bytes.
    assert!(received.iter().all(|r| r.signed && r.date.is_some()));
    assert!(
        received
            .iter()
            .all(|r| r.delivery_id == received[0].delivery_id)
    );
    assert!(
        received
            .iter()
            .all(|r| &r.body[..] == br#"{"type":"Create"}"#)
    );
    let metrics = running.queue.metrics();
    assert_eq!((metrics.retried, metrics.dead), (2, 0));
    assert_eq!(metrics.hosts["a.test"].delivered, 1);
    let queue = running.stop().await;
    assert_eq!(queue.counts().await.unwrap(), Default::default());
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let sink = Sink::start().await;
    sink.script(
        "a.test",
        [Reply::status(429).with_retry_after("1"), Reply::status(202)],
    );
    let running = Running::start(transport(&sink), quick_config());
    send(&running.queue, "{}", "a.test").await;
    eventually(WAIT, "delivery after 429", || async {
        running.queue.metrics().delivered == 1
    })
    .await;
    let received = sink.received_for("a.test");
    assert_eq!(received.len(), 2);
    let waited = received[1].at - received[0].at;
    assert!(
        waited >= Duration::from_millis(900),
        "retried after {waited:?}"
    );
    // Throttling is not a failure.
    let hosts = running.queue.hosts().await.unwrap();
    assert_eq!(hosts[0].consecutive_failures, 0);
    running.stop().await;
}

#[tokio::test]
async fn service_unavailable_with_an_http_date_retry_after() {
    let sink = Sink::start().await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    sink.script("a.test", [Reply::status(503).with_retry_after(&date)]);
    let running = Running::start(transport(&sink), quick_config());
    send(&running.queue, "{}", "a.test").await;
    eventually(WAIT, "delivery after 503", || async {
        running.queue.metrics().delivered == 1
    })
    .await;
    let received = sink.received_for("a.test");
    let waited = received[1].at - received[0].at;
    // The date has a one-second resolution.
    assert!(
        waited >= Duration::from_millis(900),
        "retried after {waited:?}"
    );
    running.stop().await;
}

#[tokio::test]
async fn gone_is_reported_and_not_retried() {
    let sink = Sink::start().await;
    sink.script("a.test", [Reply::status(410)]);
    let running = Running::start(transport(&sink), quick_config());
    let mut events = running.queue.subscribe();
    send(&running.queue, "{}", "a.test").await;
    let event = tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Gone { inbox, .. } = events.recv().await.unwrap() {
                return inbox;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(event, "https://a.test/inbox");
    // The durable report: a dead letter naming the inbox, which a restart does not lose.
    let counts = running.queue.counts().await.unwrap();
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (0, 0, 1));
    let dead = running.queue.dead_letters(None, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, DeadReason::Gone);
    assert_eq!(dead[0].inbox.as_str(), "https://a.test/inbox");
    assert_eq!(sink.received_for("a.test").len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn other_client_errors_are_dead_letters_that_can_be_requeued() {
    let sink = Sink::start().await;
    sink.script("a.test", [Reply::status(403)]);
    let running = Running::start(transport(&sink), quick_config());
    send(&running.queue, "{}", "a.test").await;
    eventually(WAIT, "a dead letter", || async {
        running.queue.metrics().dead == 1
    })
    .await;
    let dead = running.queue.dead_letters(None, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, DeadReason::Rejected { status: 403 });
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(running.queue.requeue(&Requeue::All).await.unwrap(), 1);
    eventually(WAIT, "the requeued delivery", || async {
        running.queue.metrics().delivered == 1
    })
    .await;
    running.stop().await;
}

#[tokio::test]
async fn slow_responses_past_the_timeout_are_retried() {
    let sink = Sink::start().await;
    sink.script(
        "a.test",
        [
            Reply::status(200).with_delay(Duration::from_secs(3)),
            Reply::status(200),
        ],
    );
    let running = Running::start(transport(&sink), quick_config());
    send(&running.queue, "{}", "a.test").await;
    eventually(WAIT, "delivery after a timeout", || async {
        running.queue.metrics().delivered == 1
    })
    .await;
    assert!(running.queue.metrics().retried >= 1);
    running.stop().await;
}

fn refused_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

#[tokio::test]
async fn connection_refused_is_retried_without_blocking_other_hosts() {
    let sink = Sink::start().await;
    let transport = transport(&sink).with_route("down.test", refused_port());
    let running = Running::start(transport, quick_config());
    send(&running.queue, "{}", "down.test").await;
    send(&running.queue, "{}", "up.test").await;
    eventually(WAIT, "retries of the refused host", || async {
        running
            .queue
            .metrics()
            .hosts
            .get("down.test")
            .is_some_and(|h| h.retried >= 2)
    })
    .await;
    eventually(WAIT, "the other host", || async {
        running.queue.metrics().delivered == 1
    })
    .await;
    let hosts = running.queue.hosts().await.unwrap();
    let down = hosts.iter().find(|h| h.host == "down.test").unwrap();
    assert!(down.consecutive_failures >= 2);
    running.stop().await;
}

#[tokio::test]
async fn a_host_that_never_recovers_opens_its_breaker_and_attempts_stop() {
    let sink = Sink::start().await;
    sink.default_reply(Reply::status(503));
    let config = quick_config().with_breaker(
        federation_queue::BreakerPolicy::new()
            .with_failure_threshold(3)
            .with_pause(Duration::from_millis(300), Duration::from_millis(300)),
    );
    let running = Running::start(transport(&sink), config);
    let mut events = running.queue.subscribe();
    for i in 0..20 {
        send(&running.queue, &format!("{{\"n\":{i}}}"), "dead.test").await;
    }
    tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Host(change) = events.recv().await.unwrap()
                && change.to == BreakerState::Open
            {
                return;
            }
        }
    })
    .await
    .unwrap();
    // Watch for a while: at most one probe per pause goes out.
    let opened = sink.received_for("dead.test").len();
    eventually(WAIT, "two probes", || async {
        sink.received_for("dead.test").len() >= opened + 2
    })
    .await;
    let after_two_probes = sink.received_for("dead.test").len();
    assert!(
        after_two_probes <= opened + 3,
        "{opened} then {after_two_probes}"
    );
    // 20 deliveries × 8 attempts would be 160 requests without the breaker; and the waiting
    // deliveries keep their attempts: none died.
    let counts = running.queue.counts().await.unwrap();
    assert_eq!(counts.dead, 0);
    let host = running.queue.hosts().await.unwrap().remove(0);
    assert_ne!(host.breaker, BreakerState::Closed);
    assert!(host.consecutive_failures >= 3);
    // The host comes back: everything is delivered.
    sink.default_reply(Reply::status(202));
    eventually(WAIT, "recovery", || async {
        running.queue.metrics().delivered == 20
    })
    .await;
    let host = running.queue.hosts().await.unwrap().remove(0);
    assert_eq!(host.breaker, BreakerState::Closed);
    running.stop().await;
}

#[tokio::test]
async fn a_hung_connection_times_out_without_stalling_the_worker() {
    let sink = Sink::start().await;
    // Accepts connections and never answers.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_addr = hung.local_addr().unwrap();
    let _holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hung.accept().await {
            held.push(stream);
        }
    });
    let transport = transport(&sink).with_route("hung.test", hung_addr);
    let running = Running::start(transport, quick_config());
    send(&running.queue, "{}", "hung.test").await;
    send(&running.queue, "{}", "ok.test").await;
    eventually(WAIT, "the healthy host", || async {
        running.queue.metrics().delivered == 1
    })
    .await;
    eventually(WAIT, "a timed-out retry", || async {
        running
            .queue
            .metrics()
            .hosts
            .get("hung.test")
            .is_some_and(|h| h.retried >= 1)
    })
    .await;
    running.stop().await;
}

#[tokio::test]
async fn same_ordering_key_arrives_in_enqueue_order() {
    let sink = Sink::start().await;
    sink.script("a.test", [Reply::status(500), Reply::status(500)]);
    let running = Running::start(transport(&sink), quick_config());
    for body in ["create", "update", "delete"] {
        running
            .queue
            .enqueue(
                Enqueue::new(body, "alice")
                    .with_ordering_key("https://origin.test/notes/1")
                    .with_recipient(to("a.test")),
            )
            .await
            .unwrap();
    }
    eventually(WAIT, "three deliveries", || async {
        running.queue.metrics().delivered == 3
    })
    .await;
    let order: Vec<_> = sink
        .received_for("a.test")
        .into_iter()
        .filter(|r| r.status < 300)
        .map(|r| String::from_utf8(r.body.to_vec()).unwrap())
        .collect();
    assert_eq!(order, ["create", "update", "delete"]);
    running.stop().await;
}

#[tokio::test]
async fn shutdown_drains_requests_in_flight() {
    let sink = Sink::start().await;
    sink.default_reply(Reply::status(202).with_delay(Duration::from_millis(200)));
    let running = Running::start(transport(&sink), quick_config());
    for i in 0..5 {
        send(&running.queue, "{}", &format!("h{i}.test")).await;
    }
    eventually(WAIT, "requests in flight", || async {
        sink.counts().0 == 5
    })
    .await;
    let queue = running.stop().await;
    assert_eq!(queue.metrics().delivered, 5);
    assert_eq!(queue.counts().await.unwrap(), Default::default());
}

#[test]
fn recipients_sharing_a_shared_inbox_get_one_delivery() {
    let shared: url::Url = "https://big.test/inbox".parse().unwrap();
    let recipients = vec![
        to("big.test").with_shared_inbox(shared.clone()),
        Recipient::new("https://big.test/users/b/inbox".parse().unwrap())
            .with_shared_inbox(shared.clone()),
        to("small.test"),
        to("small.test"),
        Recipient::new("https://other.test:8443/inbox".parse().unwrap()),
    ];
    let deliveries = collapse_recipients(&recipients).unwrap();
    let got: Vec<(&str, &str)> = deliveries
        .iter()
        .map(|d| (d.inbox.as_str(), d.host.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("https://big.test/inbox", "big.test"),
            ("https://small.test/inbox", "small.test"),
            ("https://other.test:8443/inbox", "other.test:8443"),
        ]
    );
    let bad = Recipient::new("mailto:someone@example.test".parse().unwrap());
    assert!(collapse_recipients(&[bad]).is_err());
}

#[tokio::test]
async fn a_lease_shorter_than_a_request_is_refused() {
    let transport = federation_queue::ReqwestTransport::new(
        federation_queue::TransportConfig::new().with_timeouts(
            Duration::from_secs(1),
            Duration::from_secs(5),
            Duration::from_secs(10),
        ),
    )
    .unwrap();
    let queue = Queue::with_config(
        MemoryStore::new(),
        transport,
        keys(),
        quick_config().with_lease(Duration::from_secs(10)),
    );
    let error = queue.run(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(
            error,
            federation_queue::RunError::LeaseTooShort { lease, request }
                if lease == Duration::from_secs(10) && request == Duration::from_secs(10)
        ),
        "{error}"
    );
}
