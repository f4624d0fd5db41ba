//! Shared test helpers: a transport that sends every fake host to the loopback sink, keys,
//! quick configurations, PostgreSQL set-up and polling with a deadline.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use federation_queue::{
    BreakerPolicy, Clock, KeyProvider, Queue, QueueConfig, ReqwestTransport, RetryPolicy,
    StaticKeys, Store, Transport, TransportConfig, TransportError, TransportResponse,
};
use http_signatures::{Signer, SigningKey};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Sends requests for any host to `target`, keeping the Host header the signer wrote.
pub struct LoopbackTransport {
    pub inner: ReqwestTransport,
    pub target: SocketAddr,
    pub routes: std::collections::HashMap<String, SocketAddr>,
}

impl LoopbackTransport {
    pub fn new(target: SocketAddr, timeout: Duration) -> Self {
        let config = TransportConfig::new()
            .with_timeouts(timeout, timeout, timeout * 2)
            .with_danger_allow_http(true)
            .with_danger_allow_private_addresses(true);
        Self {
            inner: ReqwestTransport::new(config).unwrap(),
            target,
            routes: std::collections::HashMap::new(),
        }
    }

    /// Sends requests for `host` to `addr` instead.
    pub fn with_route(mut self, host: &str, addr: SocketAddr) -> Self {
        self.routes.insert(host.to_owned(), addr);
        self
    }
}

impl Transport for LoopbackTransport {
    async fn send(
        &self,
        mut request: http::Request<Bytes>,
    ) -> Result<TransportResponse, TransportError> {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let host = request.uri().host().unwrap_or_default().to_owned();
        let target = self.routes.get(&host).copied().unwrap_or(self.target);
        *request.uri_mut() = format!("http://{target}{path}").parse().unwrap();
        self.inner.send(request).await
    }
}

/// A queue's worker (`Queue::run`) running as a task until stopped.
pub struct Worker {
    stop: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

impl Worker {
    pub fn start<S: Store, T: Transport, K: KeyProvider, C: Clock>(
        queue: &Queue<S, T, K, C>,
    ) -> Worker {
        let (stop, stopped) = oneshot::channel::<()>();
        let queue = queue.clone();
        let handle = tokio::spawn(async move {
            queue
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Worker { stop, handle }
    }

    /// Asks the worker to stop and waits until it has drained.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap();
    }
}

pub fn keys() -> StaticKeys {
    let key = SigningKey::generate_ed25519().unwrap();
    StaticKeys::new().with_signer(
        "alice",
        Signer::new(key, "https://origin.test/users/alice#main-key"),
    )
}

/// Tiny delays everywhere, so fault tests take milliseconds.
pub fn quick_config() -> QueueConfig {
    QueueConfig::new()
        .with_poll_interval(Duration::from_millis(10))
        .with_lease(Duration::from_secs(30))
        .with_drain_timeout(Duration::from_secs(5))
        .with_retry(
            RetryPolicy::new()
                .with_delays(Duration::from_millis(5), Duration::from_millis(40))
                .with_max_attempts(8),
        )
        .with_breaker(
            BreakerPolicy::new()
                .with_failure_threshold(3)
                .with_pause(Duration::from_millis(200), Duration::from_millis(400)),
        )
        .with_delivery_id_header(http::HeaderName::from_static("x-delivery-id"))
}

/// Polls `condition` until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if condition().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A fresh path for a SQLite database, removed by the caller with `remove_db`.
pub fn temp_db(name: &str) -> std::path::PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "federation-queue-{}-{n}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("queue.db")
}

pub fn remove_db(path: &std::path::Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The PostgreSQL URL for tests, or `None` (outside CI only) after saying loudly why the
/// PostgreSQL tests are skipped. In CI a missing URL fails the test.
pub fn postgres_url() -> Option<String> {
    match std::env::var("FEDERATION_QUEUE_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "FEDERATION_QUEUE_PG_URL is not set: in CI the PostgreSQL tests must run \
                 (scripts/test runs them under scripts/with-postgres)"
            );
            eprintln!(
                "\n!!! SKIPPING PostgreSQL tests: FEDERATION_QUEUE_PG_URL is not set. \
                 Run them with: scripts/with-postgres cargo test -p federation-queue !!!\n"
            );
            None
        }
    }
}

/// A schema name unique to this test run.
pub fn unique_schema(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("fq_{test}_{}_{n}_{nanos}", std::process::id())
}
