//! The worker records outcomes in batches: attempts that finish one after the other within the
//! flush delay share one store call, instead of one call each. Time is tokio's paused clock, so
//! the spacing of the finishes is exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use federation_queue::{
    BreakerPolicy, ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeliveryId, Enqueue,
    HostChange, HostState, MemoryStore, NewActivity, Queue, QueueCounts, Recipient, Requeue, Store,
    StoreError, Transport, TransportError, TransportResponse,
};
use http::StatusCode;

use crate::support::{Worker, keys, quick_config};

/// A memory store that counts `claim` and `complete` calls and the completions they carried.
#[derive(Clone, Default)]
struct CountingStore {
    inner: Arc<MemoryStore>,
    claim_calls: Arc<AtomicU64>,
    complete_calls: Arc<AtomicU64>,
    completions: Arc<AtomicU64>,
}

impl Store for CountingStore {
    async fn enqueue(
        &self,
        activities: &[NewActivity],
        now: SystemTime,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        self.inner.enqueue(activities, now).await
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.claim_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.claim(request).await
    }

    async fn complete(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        now: SystemTime,
    ) -> Result<Vec<HostChange>, StoreError> {
        self.complete_calls.fetch_add(1, Ordering::SeqCst);
        self.completions
            .fetch_add(completions.len() as u64, Ordering::SeqCst);
        self.inner.complete(completions, policy, now).await
    }

    async fn expire(&self, cutoff: SystemTime, now: SystemTime) -> Result<u64, StoreError> {
        self.inner.expire(cutoff, now).await
    }

    async fn dead_letters(
        &self,
        after: Option<DeliveryId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.dead_letters(after, limit).await
    }

    async fn requeue(&self, which: &Requeue, now: SystemTime) -> Result<u64, StoreError> {
        self.inner.requeue(which, now).await
    }

    async fn purge_dead(&self, cutoff: SystemTime) -> Result<u64, StoreError> {
        self.inner.purge_dead(cutoff).await
    }

    async fn hosts(&self) -> Result<Vec<HostState>, StoreError> {
        self.inner.hosts().await
    }

    async fn mark_host_available(&self, host: &str, now: SystemTime) -> Result<bool, StoreError> {
        self.inner.mark_host_available(host, now).await
    }

    async fn counts(&self, now: SystemTime) -> Result<QueueCounts, StoreError> {
        self.inner.counts(now).await
    }
}

/// Answers the n-th request it receives (from 0) after `delay(n)`, counting requests.
#[derive(Clone)]
struct Delayed {
    received: Arc<AtomicU64>,
    delay: fn(u64) -> Duration,
}

impl Delayed {
    fn new(delay: fn(u64) -> Duration) -> Self {
        Self {
            received: Arc::default(),
            delay,
        }
    }
}

impl Transport for Delayed {
    async fn send(
        &self,
        _request: http::Request<Bytes>,
    ) -> Result<TransportResponse, TransportError> {
        let n = self.received.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep((self.delay)(n)).await;
        Ok(TransportResponse::new(StatusCode::ACCEPTED))
    }
}

#[tokio::test(start_paused = true)]
async fn outcomes_finishing_apart_share_a_store_call() {
    const DELIVERIES: u64 = 40;
    let store = CountingStore::default();
    let queue = Queue::with_config(
        store.clone(),
        // Attempts started together finish one millisecond apart.
        Delayed::new(|n| Duration::from_millis(n + 1)),
        keys(),
        quick_config().with_in_flight(64, 1).with_claim_batch(64),
    );
    let items: Vec<Enqueue> = (0..DELIVERIES)
        .map(|i| {
            let inbox = format!("https://h{i}.test/inbox").parse().unwrap();
            Enqueue::new(format!("{{\"n\":{i}}}"), "alice").with_recipient(Recipient::new(inbox))
        })
        .collect();
    queue.enqueue_batch(&items).await.unwrap();
    let worker = Worker::start(&queue);
    // The 40 attempts finish over 40 ms of (paused) time.
    for _ in 0..1000 {
        if store.completions.load(Ordering::SeqCst) >= DELIVERIES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    worker.stop().await;
    assert_eq!(store.completions.load(Ordering::SeqCst), DELIVERIES);
    assert_eq!(queue.metrics().delivered, DELIVERIES);
    // Outcomes go with the claims made as slots free up (every 10 ms here, the pause after a
    // claim that found nothing) or with a flush, not one call per attempt.
    let calls = store.complete_calls.load(Ordering::SeqCst);
    assert!(
        (2..=8).contains(&calls),
        "{calls} store calls recorded {DELIVERIES} outcomes finishing 1 ms apart"
    );
}

/// Batching must not starve a busy host: with its per-host cap reached, each finished attempt
/// lets the next delivery to that host start at once (the outcome is recorded first, so the
/// store sees the free slot), rather than after a flush or claim pause.
#[tokio::test(start_paused = true)]
async fn a_capped_host_stays_busy() {
    const DELIVERIES: u64 = 100;
    const PER_HOST: usize = 4;
    let store = CountingStore::default();
    // One to two milliseconds each, so that attempts started together finish apart.
    let transport = Delayed::new(|n| Duration::from_micros(1000 + (n % 4) * 300));
    let queue = Queue::with_config(
        store.clone(),
        transport.clone(),
        keys(),
        quick_config().with_in_flight(256, PER_HOST),
    );
    let items: Vec<Enqueue> = (0..DELIVERIES)
        .map(|i| {
            let inbox = "https://busy.test/inbox".parse().unwrap();
            Enqueue::new(format!("{{\"n\":{i}}}"), "alice").with_recipient(Recipient::new(inbox))
        })
        .collect();
    queue.enqueue_batch(&items).await.unwrap();
    let started = tokio::time::Instant::now();
    let worker = Worker::start(&queue);
    for _ in 0..10_000 {
        if store.completions.load(Ordering::SeqCst) >= DELIVERIES {
            break;
        }
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
    let elapsed = started.elapsed();
    worker.stop().await;
    assert_eq!(queue.metrics().delivered, DELIVERIES);
    assert_eq!(transport.received.load(Ordering::SeqCst), DELIVERIES);
    // 100 requests of 1 to 1.9 ms, four at a time: under 40 ms if the host is never idle.
    assert!(
        elapsed <= Duration::from_millis(60),
        "the capped host took {elapsed:?} for {DELIVERIES} deliveries"
    );
}

/// While an attempt hangs on a slow host and nothing else is due, the worker asks the store at
/// the poll interval, not after every short pause.
#[tokio::test(start_paused = true)]
async fn a_hanging_attempt_does_not_make_the_worker_poll_fast() {
    let store = CountingStore::default();
    let transport = Delayed::new(|_| Duration::from_secs(5));
    let queue = Queue::with_config(
        store.clone(),
        transport.clone(),
        keys(),
        quick_config().with_poll_interval(Duration::from_secs(1)),
    );
    let inbox = "https://slow.test/inbox".parse().unwrap();
    queue
        .enqueue(Enqueue::new("{}", "alice").with_recipient(Recipient::new(inbox)))
        .await
        .unwrap();
    let worker = Worker::start(&queue);
    tokio::time::sleep(Duration::from_millis(4900)).await;
    let while_hanging = store.claim_calls.load(Ordering::SeqCst);
    for _ in 0..100 {
        if store.completions.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.stop().await;
    assert_eq!(queue.metrics().delivered, 1);
    assert_eq!(transport.received.load(Ordering::SeqCst), 1);
    // The claim that found the delivery, then one empty claim per second: 6 in 4.9 s.
    assert!(
        (2..=7).contains(&while_hanging),
        "{while_hanging} claims while one attempt hung for 4.9 s with a 1 s poll interval"
    );
}
