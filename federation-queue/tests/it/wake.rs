//! The worker is woken for enqueues without losing one: an enqueue that commits while a claim
//! is under way (after the claim read the store) still wakes the worker, though enqueues that
//! come while a wake-up is pending do not wake it again. Time is tokio's paused clock, and the
//! poll interval an hour: a lost wake-up would leave the delivery waiting for the poll.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use federation_queue::{
    BreakerPolicy, ClaimRequest, ClaimedDelivery, Completion, DeadLetter, DeliveryId, Enqueue,
    HostChange, HostState, MemoryStore, NewActivity, Queue, QueueCounts, Recipient, Requeue, Store,
    StoreError, Transport, TransportError, TransportResponse,
};
use http::StatusCode;
use tokio::sync::Notify;

use crate::support::{Worker, keys, quick_config};

/// A memory store whose next claim, once armed, reads the store and then waits for the test.
#[derive(Clone, Default)]
struct HeldClaims {
    inner: Arc<MemoryStore>,
    /// Hold the next claim after its read.
    hold: Arc<AtomicBool>,
    /// A held claim has read the store.
    held: Arc<Notify>,
    /// Lets the held claim return.
    release: Arc<Notify>,
}

impl Store for HeldClaims {
    async fn enqueue(
        &self,
        activities: &[NewActivity],
        now: SystemTime,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        self.inner.enqueue(activities, now).await
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let claims = self.inner.claim(request).await?;
        if self.hold.swap(false, Ordering::SeqCst) {
            self.held.notify_one();
            self.release.notified().await;
        }
        Ok(claims)
    }

    async fn complete(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        now: SystemTime,
    ) -> Result<Vec<HostChange>, StoreError> {
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

/// Answers at once, except that requests to `hang.test` take two hours; counts the others.
#[derive(Clone, Default)]
struct HangingHost {
    answered: Arc<AtomicU64>,
}

impl Transport for HangingHost {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<TransportResponse, TransportError> {
        if request.uri().host() == Some("hang.test") {
            tokio::time::sleep(Duration::from_secs(7200)).await;
        } else {
            self.answered.fetch_add(1, Ordering::SeqCst);
        }
        Ok(TransportResponse::new(StatusCode::ACCEPTED))
    }
}

fn item(host: &str, n: u32) -> Enqueue {
    let inbox = format!("https://{host}/inbox").parse().unwrap();
    Enqueue::new(format!("{{\"n\":{n}}}"), "alice").with_recipient(Recipient::new(inbox))
}

/// An enqueue committed after a claim read the store, while that claim is still under way,
/// is claimed soon after (the worker's next look), not at the next poll an hour later. The
/// first activity of each round goes to a host that never answers in time, so that no
/// finished attempt wakes the worker instead: only the enqueue's wake-up can.
#[tokio::test(start_paused = true)]
async fn an_enqueue_during_a_claim_wakes_the_worker() {
    let store = HeldClaims::default();
    let transport = HangingHost::default();
    let queue = Queue::with_config(
        store.clone(),
        transport.clone(),
        keys(),
        quick_config()
            .with_poll_interval(Duration::from_secs(3600))
            .with_drain_timeout(Duration::from_millis(10)),
    );
    let worker = Worker::start(&queue);
    // The worker's first claim finds nothing; it then waits for a wake-up or the poll.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for round in 0..3_u64 {
        let started = tokio::time::Instant::now();
        store.hold.store(true, Ordering::SeqCst);
        queue.enqueue(item("hang.test", 0)).await.unwrap();
        // The worker, woken, claims: its read has seen only the first activity.
        store.held.notified().await;
        queue.enqueue(item("fast.test", 1)).await.unwrap();
        store.release.notify_one();
        for _ in 0..1000 {
            if transport.answered.load(Ordering::SeqCst) > round {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            transport.answered.load(Ordering::SeqCst),
            round + 1,
            "round {round}: the activity enqueued during a claim waited for the poll"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    worker.stop().await;
}

/// Many enqueues one after another while attempts are in flight (a wake-up pending most of
/// the time, so most enqueues do not notify) are all delivered soon, without any poll.
#[tokio::test(start_paused = true)]
async fn enqueues_one_after_another_are_all_claimed_without_polling() {
    const ACTIVITIES: u32 = 300;
    let store = HeldClaims::default();
    let transport = HangingHost::default();
    let queue = Queue::with_config(
        store.clone(),
        transport.clone(),
        keys(),
        quick_config()
            .with_poll_interval(Duration::from_secs(3600))
            .with_drain_timeout(Duration::from_millis(10)),
    );
    // One attempt in flight all along: the worker is never idle.
    queue.enqueue(item("hang.test", 0)).await.unwrap();
    let worker = Worker::start(&queue);
    let started = tokio::time::Instant::now();
    for n in 0..ACTIVITIES {
        queue
            .enqueue(item(&format!("h{}.test", n % 7), n))
            .await
            .unwrap();
        if n % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
    for _ in 0..1000 {
        if transport.answered.load(Ordering::SeqCst) == u64::from(ACTIVITIES) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        transport.answered.load(Ordering::SeqCst),
        u64::from(ACTIVITIES)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    worker.stop().await;
}
