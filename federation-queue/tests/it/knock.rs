//! Double-knocking at delivery: a host that refuses one signature standard gets the other within
//! the same attempt, and the queue remembers what the host accepted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use federation_queue::{
    Enqueue, MemoryStore, Queue, Recipient, StaticKeys, Transport, TransportError,
    TransportResponse,
};
use http::StatusCode;
use http_signatures::{PeerPreference, Signer, SigningKey, Standard};

use crate::support::{Worker, eventually, quick_config};

/// Accepts only the standard it is told to, answering 401 to the other; records every request's
/// standard.
#[derive(Clone)]
struct PickyHost {
    accepts: Standard,
    seen: Arc<Mutex<Vec<Standard>>>,
}

impl Transport for PickyHost {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<TransportResponse, TransportError> {
        let standard = if request.headers().contains_key("signature-input") {
            Standard::Rfc9421
        } else {
            assert!(
                request.headers().contains_key("signature"),
                "unsigned request"
            );
            Standard::Cavage
        };
        self.seen.lock().unwrap().push(standard);
        let status = if standard == self.accepts {
            StatusCode::ACCEPTED
        } else {
            StatusCode::UNAUTHORIZED
        };
        Ok(TransportResponse::new(status))
    }
}

fn keys(first: Standard) -> StaticKeys {
    let key = SigningKey::generate_ed25519().unwrap();
    StaticKeys::new().with_signer(
        "alice",
        Signer::new(key, "https://origin.test/users/alice#main-key").with_standard(first),
    )
}

/// Runs `queue`'s worker until `done` holds (polled with a deadline), then stops it.
async fn work_until<T: Transport, F, Fut>(
    queue: &Queue<MemoryStore, T, StaticKeys>,
    what: &str,
    mut done: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let worker = Worker::start(queue);
    eventually(Duration::from_secs(10), what, &mut done).await;
    worker.stop().await;
}

fn picky_inbox() -> Recipient {
    Recipient::new("https://picky.test/inbox".parse().unwrap())
}

async fn deliver_twice(first: Standard, accepts: Standard) -> (Vec<Standard>, Option<Standard>) {
    let host = PickyHost {
        accepts,
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let queue = Queue::with_config(
        MemoryStore::new(),
        host.clone(),
        keys(first),
        quick_config(),
    );
    // One after the other: the second delivery starts from what the first learnt.
    for (n, body) in ["{\"n\":1}", "{\"n\":2}"].into_iter().enumerate() {
        queue
            .enqueue(Enqueue::new(body, "alice").with_recipient(picky_inbox()))
            .await
            .unwrap();
        work_until(&queue, "delivery", || async {
            queue.metrics().delivered > n as u64
        })
        .await;
    }
    let preference = queue
        .peer_preferences()
        .get("picky.test")
        .and_then(|p| p.standard);
    let seen = host.seen.lock().unwrap().clone();
    (seen, preference)
}

#[tokio::test]
async fn a_host_refusing_rfc9421_gets_cavage_and_is_remembered() {
    let (seen, preference) = deliver_twice(Standard::Rfc9421, Standard::Cavage).await;
    // First delivery: knock with RFC 9421, refused, knock again with cavage. Second: cavage only.
    assert_eq!(
        seen,
        [Standard::Rfc9421, Standard::Cavage, Standard::Cavage]
    );
    assert_eq!(preference, Some(Standard::Cavage));
}

#[tokio::test]
async fn a_host_refusing_cavage_gets_rfc9421_and_is_remembered() {
    let (seen, preference) = deliver_twice(Standard::Cavage, Standard::Rfc9421).await;
    assert_eq!(
        seen,
        [Standard::Cavage, Standard::Rfc9421, Standard::Rfc9421]
    );
    assert_eq!(preference, Some(Standard::Rfc9421));
}

#[tokio::test]
async fn a_known_preference_is_used_from_the_first_knock() {
    let host = PickyHost {
        accepts: Standard::Cavage,
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let queue = Queue::with_config(
        MemoryStore::new(),
        host.clone(),
        keys(Standard::Rfc9421),
        quick_config(),
    );
    queue.set_peer_preference("picky.test", PeerPreference::new(Standard::Cavage));
    queue
        .enqueue(Enqueue::new("{}", "alice").with_recipient(picky_inbox()))
        .await
        .unwrap();
    work_until(&queue, "delivery", || async {
        queue.metrics().delivered >= 1
    })
    .await;
    assert_eq!(*host.seen.lock().unwrap(), [Standard::Cavage]);
}

/// Refuses every signature, counting requests.
#[derive(Clone, Default)]
struct Nobody(Arc<Mutex<u32>>);

impl Transport for Nobody {
    async fn send(
        &self,
        _request: http::Request<Bytes>,
    ) -> Result<TransportResponse, TransportError> {
        *self.0.lock().unwrap() += 1;
        Ok(TransportResponse::new(StatusCode::UNAUTHORIZED))
    }
}

#[tokio::test]
async fn a_host_refusing_both_gets_two_knocks_then_a_dead_letter() {
    let nobody = Nobody::default();
    let queue = Queue::with_config(
        MemoryStore::new(),
        nobody.clone(),
        keys(Standard::Rfc9421),
        quick_config(),
    );
    queue
        .enqueue(Enqueue::new("{}", "alice").with_recipient(picky_inbox()))
        .await
        .unwrap();
    work_until(&queue, "the dead letter", || async {
        queue.metrics().dead >= 1
    })
    .await;
    // One knock per standard, then a 401 is a permanent failure: no third request.
    assert_eq!(*nobody.0.lock().unwrap(), 2);
    assert!(queue.peer_preferences().is_empty());
}
