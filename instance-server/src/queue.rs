//! The outbox's queue, whatever store it runs on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use federation::outbox::Enqueuer;
use federation_queue::{DeliveryId, Enqueue, EnqueueError};

/// Enqueues on whatever store the delivery queue runs on (SQLite or PostgreSQL, chosen at
/// start), so that an instance's types need not carry the store's type.
#[derive(Clone)]
pub struct ErasedQueue(EnqueueFn);

/// A boxed `enqueue`.
type EnqueueFn = Arc<dyn Fn(Enqueue) -> EnqueueFuture + Send + Sync>;

/// What a boxed `enqueue` returns.
type EnqueueFuture = Pin<Box<dyn Future<Output = Result<Vec<DeliveryId>, EnqueueError>> + Send>>;

impl ErasedQueue {
    /// Erases `queue`'s type.
    pub fn new<E: Enqueuer + Clone + 'static>(queue: E) -> Self {
        Self(Arc::new(move |item| {
            let queue = queue.clone();
            Box::pin(async move { queue.enqueue(item).await })
        }))
    }
}

impl std::fmt::Debug for ErasedQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErasedQueue")
    }
}

impl Enqueuer for ErasedQueue {
    async fn enqueue(&self, item: Enqueue) -> Result<Vec<DeliveryId>, EnqueueError> {
        (self.0)(item).await
    }
}
