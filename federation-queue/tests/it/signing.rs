//! Where attempts sign: RSA keys on the queue's signing threads (or inline when configured
//! so), Ed25519 inline; either way every request carries a signature its receiver can verify
//! with the sender's public key, made fresh for the attempt.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use federation_queue::{
    Enqueue, MemoryStore, Queue, QueueConfig, Recipient, StaticKeys, Transport, TransportError,
    TransportResponse,
};
use http::StatusCode;
use http_signatures::{Policy, Signer, SigningKey, Verifier, VerifyingKey};

use crate::support::{Worker, eventually, quick_config};

/// Verifies every request with the sender's public key and answers 202 to the good ones,
/// 401 to the others; keeps what it found.
#[derive(Clone)]
struct VerifyingInbox {
    public: VerifyingKey,
    seen: Arc<Mutex<Vec<Result<String, String>>>>,
}

impl Transport for VerifyingInbox {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<TransportResponse, TransportError> {
        let verified = Verifier::new(Policy::fediverse())
            .verify_request(&request, &self.public, SystemTime::now())
            .map(|v| v.key_id)
            .map_err(|e| e.to_string());
        let status = if verified.is_ok() {
            StatusCode::ACCEPTED
        } else {
            StatusCode::UNAUTHORIZED
        };
        self.seen.lock().unwrap().push(verified);
        Ok(TransportResponse::new(status))
    }
}

/// Threads of this process named like the queue's signing threads (Linux; elsewhere none).
fn signing_threads_running() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("fq-sign-"))
        .count()
}

/// Delivers 12 activities to 3 hosts signed with `key`; returns what the inboxes found and
/// how many signing threads were running once they were delivered.
async fn deliver_with(
    key: SigningKey,
    config: QueueConfig,
) -> (Vec<Result<String, String>>, usize) {
    let inbox = VerifyingInbox {
        public: key.verifying_key(),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let keys = StaticKeys::new().with_signer(
        "alice",
        Signer::new(key, "https://origin.test/users/alice#main-key"),
    );
    let queue = Queue::with_config(MemoryStore::new(), inbox.clone(), keys, config);
    for n in 0..12 {
        let recipient = format!("https://h{}.test/users/bob/inbox", n % 3);
        queue
            .enqueue(
                Enqueue::new(format!(r#"{{"type":"Create","n":{n}}}"#), "alice")
                    .with_recipient(Recipient::new(recipient.parse().unwrap())),
            )
            .await
            .unwrap();
    }
    let worker = Worker::start(&queue);
    eventually(Duration::from_secs(30), "12 deliveries", || async {
        queue.metrics().delivered == 12
    })
    .await;
    let threads = signing_threads_running();
    worker.stop().await;
    let seen = inbox.seen.lock().unwrap().clone();
    (seen, threads)
}

fn all_verified(seen: &[Result<String, String>]) {
    assert_eq!(seen.len(), 12, "one request per delivery: {seen:?}");
    for found in seen {
        assert_eq!(
            found.as_deref(),
            Ok("https://origin.test/users/alice#main-key")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_signatures_made_on_the_signing_threads_verify() {
    let key = SigningKey::generate_rsa(2048).unwrap();
    let (seen, threads) = deliver_with(key, quick_config().with_signing_threads(2)).await;
    all_verified(&seen);
    if cfg!(target_os = "linux") {
        // At least this queue's two (other tests of this binary may run theirs meanwhile).
        assert!(threads >= 2, "{threads} signing threads");
    }
}

#[tokio::test]
async fn rsa_signatures_made_inline_verify() {
    let key = SigningKey::generate_rsa(2048).unwrap();
    all_verified(
        &deliver_with(key, quick_config().with_signing_threads(0))
            .await
            .0,
    );
}

#[tokio::test]
async fn ed25519_signatures_verify_whatever_the_signing_threads() {
    let key = SigningKey::generate_ed25519().unwrap();
    all_verified(
        &deliver_with(key, quick_config().with_signing_threads(1))
            .await
            .0,
    );
}

#[test]
fn the_default_is_one_signing_thread_per_core() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(QueueConfig::new().signing_threads, cores);
}
