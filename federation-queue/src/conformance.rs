//! The conformance suite every [`Store`] passes, for stores of your own.
//!
//! [`suite`] runs each check on a fresh store, passing time by hand (nothing sleeps): claims,
//! leases, retries, per-host limits, ordering keys, breakers and probes, `Retry-After`, dead
//! letters, expiry, stale completions, and [`Store::complete_and_claim`].
//! [`concurrent_claims_never_overlap`] checks two handles on one store claiming at once. The
//! crate runs both against its own stores (`tests/it/conformance.rs`); a store of yours can run
//! them from its tests with the `conformance` feature:
//!
//! ```no_run
//! # async fn example() {
//! use federation_queue::MemoryStore;
//!
//! federation_queue::conformance::suite(|_check| async { MemoryStore::new() }).await;
//! # }
//! ```
//!
//! The checks panic, as tests do, at the first thing a store gets wrong.

// Test support: a check fails by panicking, as a test does, so the crate's rules against
// panics on untrusted input do not apply here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{
    BreakerPolicy, BreakerState, ClaimRequest, ClaimedDelivery, Completion, DeadReason, DeliveryId,
    HostEvent, NewActivity, NewDelivery, Outcome, Requeue, Store,
};

/// The lease of every claim the suite makes.
pub const LEASE: Duration = Duration::from_secs(60);

/// A fixed instant `secs` seconds into the suite's timeline (the suite passes time by hand).
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

/// An activity with `body` for the inboxes `(host, path)`, each at `https://{host}{path}`.
pub fn activity(body: &str, inboxes: &[(&str, &str)]) -> NewActivity {
    let mut activity = NewActivity::new(body.to_owned(), "alice");
    for (host, path) in inboxes {
        activity = activity.with_delivery(NewDelivery::new(format!("https://{host}{path}"), *host));
    }
    activity
}

/// A claim at `now` of at most `limit` deliveries, `per_host` per host, leased for [`LEASE`].
pub fn claim_at(now: SystemTime, limit: usize, per_host: usize) -> ClaimRequest {
    ClaimRequest::new(now, limit, per_host, LEASE)
}

/// The breaker policy of the suite: open after 2 failures, for 10 s.
pub fn policy() -> BreakerPolicy {
    BreakerPolicy::new()
        .with_failure_threshold(2)
        .with_pause(Duration::from_secs(10), Duration::from_secs(10))
}

/// The completion of `claim` with `outcome`, having learnt `event` about its host.
pub fn done(claim: &ClaimedDelivery, outcome: Outcome, event: HostEvent) -> Completion {
    Completion::new(claim, outcome, event)
}

/// Runs every check, each on a fresh, empty store from `make` (called with the check's name,
/// which a store may use for a file or schema of its own). Panics, as a test does, at the first
/// check a store fails.
pub async fn suite<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = S>,
{
    enqueue_claim_deliver(&make("enqueue").await).await;
    batches_keep_bytes_and_order(&make("batch").await).await;
    retries_wait_their_turn(&make("retries").await).await;
    lapsed_leases_come_back(&make("leases").await).await;
    mixed_batches_and_stale_claims(&make("mixed").await).await;
    per_host_limit_holds(&make("per_host").await).await;
    complete_and_claim_in_one_step(&make("refill").await).await;
    ordering_key_keeps_order(&make("ordering").await).await;
    breaker_opens_probes_and_closes(&make("breaker").await).await;
    throttling_pauses_the_host(&make("throttle").await).await;
    dead_letters_list_and_requeue(&make("dead").await).await;
    old_deliveries_expire(&make("expire").await).await;
    host_can_be_marked_available(&make("available").await).await;
}

async fn enqueue_claim_deliver(store: &impl Store) {
    let ids = store
        .enqueue(
            &[activity(
                r#"{"type":"Create"}"#,
                &[("a.test", "/inbox"), ("b.test", "/inbox")],
            )],
            at(0),
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
    let counts = store.counts(at(0)).await.unwrap();
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (2, 0, 0));
    // Not due before it was enqueued.
    assert!(
        store
            .claim(&claim_at(at(0) - Duration::from_secs(1), 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    let claims = store.claim(&claim_at(at(0), 10, 10)).await.unwrap();
    assert_eq!(claims.len(), 2);
    assert_eq!(claims[0].id, ids[0]);
    assert_eq!(&claims[0].body[..], br#"{"type":"Create"}"#);
    assert_eq!(claims[0].key_ref, "alice");
    assert_eq!(claims[0].attempts, 1);
    assert_eq!(claims[0].inbox, "https://a.test/inbox");
    assert_eq!(claims[1].host, "b.test");
    assert!(!claims[0].probe);
    assert!(
        store
            .claim(&claim_at(at(1), 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    let counts = store.counts(at(1)).await.unwrap();
    assert_eq!((counts.pending, counts.in_flight), (0, 2));
    let completions: Vec<_> = claims
        .iter()
        .map(|c| done(c, Outcome::Delivered, HostEvent::Answered))
        .collect();
    store
        .complete(&completions, &policy(), at(1))
        .await
        .unwrap();
    let counts = store.counts(at(1)).await.unwrap();
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (0, 0, 0));
    // Completing twice changes nothing.
    store
        .complete(&completions, &policy(), at(2))
        .await
        .unwrap();
    assert!(
        store
            .claim(&claim_at(at(1000), 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    let hosts = store.hosts().await.unwrap();
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0].host, "a.test");
    assert_eq!(hosts[0].last_answer, Some(at(1)));
    // An empty batch and an activity without deliveries are fine.
    assert!(store.enqueue(&[], at(0)).await.unwrap().is_empty());
    assert!(
        store
            .enqueue(&[activity("{}", &[])], at(0))
            .await
            .unwrap()
            .is_empty()
    );
}

/// One enqueue of several activities: every body comes back byte for byte (not only text),
/// and the returned ids follow the order of the activities and their deliveries.
async fn batches_keep_bytes_and_order(store: &impl Store) {
    let binary: Vec<u8> = (0..=255u8).chain([0, b'"', b'\\', 0xff]).collect();
    let mut first = NewActivity::new(binary.clone(), "alice");
    for host in ["c.test", "a.test"] {
        first = first.with_delivery(NewDelivery::new(format!("https://{host}/in"), host));
    }
    let second = activity(r#"{"n":2}"#, &[("b.test", "/inbox")]).with_ordering_key("obj");
    let third = activity("", &[("a.test", "/other"), ("d.test", "/inbox")]);
    let ids = store
        .enqueue(&[first, activity("{}", &[]), second, third], at(0))
        .await
        .unwrap();
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let claims = store.claim(&claim_at(at(0), 10, 10)).await.unwrap();
    let by_id = |id: DeliveryId| claims.iter().find(|c| c.id == id).unwrap();
    let expected: [(&str, &[u8]); 5] = [
        ("https://c.test/in", &binary),
        ("https://a.test/in", &binary),
        ("https://b.test/inbox", br#"{"n":2}"#),
        ("https://a.test/other", b""),
        ("https://d.test/inbox", b""),
    ];
    for (id, (inbox, body)) in ids.iter().zip(expected) {
        let claim = by_id(*id);
        assert_eq!(claim.inbox, inbox);
        assert_eq!(&claim.body[..], body, "body of {inbox}");
        assert_eq!(claim.key_ref, "alice");
    }
}

async fn retries_wait_their_turn(store: &impl Store) {
    store
        .enqueue(&[activity("{}", &[("a.test", "/inbox")])], at(0))
        .await
        .unwrap();
    let claim = store
        .claim(&claim_at(at(0), 10, 10))
        .await
        .unwrap()
        .remove(0);
    let retry = Outcome::Retry {
        at: at(30),
        error: "status 500".into(),
    };
    store
        .complete(
            &[done(&claim, retry, HostEvent::Failed { until: None })],
            &policy(),
            at(1),
        )
        .await
        .unwrap();
    assert!(
        store
            .claim(&claim_at(at(29), 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim(&claim_at(at(30), 10, 10)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert_ne!(again[0].token, claim.token);
    // A release gives the attempt back.
    let release = Outcome::Release { at: at(31) };
    store
        .complete(
            &[done(&again[0], release, HostEvent::Nothing)],
            &policy(),
            at(31),
        )
        .await
        .unwrap();
    let third = store.claim(&claim_at(at(31), 10, 10)).await.unwrap();
    assert_eq!(third[0].attempts, 2);
}

async fn lapsed_leases_come_back(store: &impl Store) {
    store
        .enqueue(&[activity("{}", &[("a.test", "/inbox")])], at(0))
        .await
        .unwrap();
    let first = store
        .claim(&claim_at(at(0), 10, 10))
        .await
        .unwrap()
        .remove(0);
    assert!(
        store
            .claim(&claim_at(at(59), 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    // The worker died: after the lease another worker takes the delivery.
    let second = store
        .claim(&claim_at(at(60), 10, 10))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempts, 2);
    // The first worker's late completion is ignored.
    store
        .complete(
            &[done(&first, Outcome::Delivered, HostEvent::Answered)],
            &policy(),
            at(61),
        )
        .await
        .unwrap();
    assert_eq!(store.counts(at(61)).await.unwrap().in_flight, 1);
    store
        .complete(
            &[done(&second, Outcome::Delivered, HostEvent::Answered)],
            &policy(),
            at(62),
        )
        .await
        .unwrap();
    assert_eq!(store.counts(at(62)).await.unwrap(), Default::default());
}

/// One `complete` call with every kind of outcome applies each, and a batch of completions
/// whose claims lapsed changes nothing at all.
async fn mixed_batches_and_stale_claims(store: &impl Store) {
    let hosts = ["a.test", "b.test", "c.test", "d.test", "e.test"];
    let inboxes: Vec<(&str, &str)> = hosts.iter().map(|h| (*h, "/inbox")).collect();
    store
        .enqueue(&[activity(r#"{"n":1}"#, &inboxes)], at(0))
        .await
        .unwrap();
    let outcomes = |claims: &[ClaimedDelivery]| -> Vec<Completion> {
        let failed = HostEvent::Failed { until: None };
        let kinds = [
            (Outcome::Delivered, HostEvent::Answered),
            (
                Outcome::Retry {
                    at: at(100),
                    error: "status 503".into(),
                },
                failed,
            ),
            (
                Outcome::Dead {
                    reason: DeadReason::Rejected { status: 403 },
                    error: "status 403".into(),
                },
                HostEvent::Answered,
            ),
            (Outcome::Release { at: at(61) }, HostEvent::Nothing),
            (Outcome::Gone, HostEvent::Answered),
        ];
        claims
            .iter()
            .zip(kinds)
            .map(|(claim, (outcome, event))| done(claim, outcome, event))
            .collect()
    };
    let first = store.claim(&claim_at(at(0), 10, 10)).await.unwrap();
    assert_eq!(first.len(), 5);
    // The leases lapse and the deliveries are claimed again.
    let second = store.claim(&claim_at(at(60), 10, 10)).await.unwrap();
    assert_eq!(second.len(), 5);
    assert!(second.iter().all(|c| c.attempts == 2));
    let before = store.hosts().await.unwrap();
    assert!(
        store
            .complete(&outcomes(&first), &policy(), at(61))
            .await
            .unwrap()
            .is_empty()
    );
    let counts = store.counts(at(61)).await.unwrap();
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (0, 5, 0));
    assert_eq!(
        store.hosts().await.unwrap(),
        before,
        "stale completions moved a host"
    );
    // The current claims, all outcomes in one call.
    store
        .complete(&outcomes(&second), &policy(), at(62))
        .await
        .unwrap();
    let counts = store.counts(at(62)).await.unwrap();
    // Delivered and Gone are finished; only the rejection is a dead letter here (the queue
    // itself keeps a 410 as a dead letter by completing it as `Dead`).
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (2, 0, 1));
    let dead = store.dead_letters(None, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].host, "c.test");
    assert_eq!(dead[0].reason, DeadReason::Rejected { status: 403 });
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(dead[0].died_at, at(62));
    assert_eq!(dead[0].last_error.as_deref(), Some("status 403"));
    // The release gave its attempt back; the retry waits for its time with its error kept.
    let released = store.claim(&claim_at(at(62), 10, 10)).await.unwrap();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].host, "d.test");
    assert_eq!(released[0].attempts, 2);
    assert_eq!(&released[0].body[..], br#"{"n":1}"#);
    let retried = store.claim(&claim_at(at(100), 10, 10)).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].host, "b.test");
    assert_eq!(retried[0].attempts, 3);
    let states = store.hosts().await.unwrap();
    let state = |host: &str| states.iter().find(|s| s.host == host).unwrap().clone();
    assert_eq!(state("a.test").last_answer, Some(at(62)));
    assert_eq!(state("b.test").consecutive_failures, 1);
    assert_eq!(state("d.test").last_answer, None);
}

async fn per_host_limit_holds(store: &impl Store) {
    let inboxes: Vec<(&str, String)> = (0..5).map(|i| ("a.test", format!("/u{i}"))).collect();
    let inboxes: Vec<(&str, &str)> = inboxes.iter().map(|(h, p)| (*h, p.as_str())).collect();
    let mut batch = vec![activity("{}", &inboxes)];
    batch.push(activity("{}", &[("b.test", "/inbox")]));
    store.enqueue(&batch, at(0)).await.unwrap();
    let claims = store.claim(&claim_at(at(0), 10, 2)).await.unwrap();
    let on_a = claims.iter().filter(|c| c.host == "a.test").count();
    assert_eq!(on_a, 2);
    assert_eq!(claims.len(), 3);
    // Live claims count against the limit on the next round (another worker, say).
    assert!(
        store
            .claim(&claim_at(at(1), 10, 2))
            .await
            .unwrap()
            .is_empty()
    );
    let a = claims.iter().find(|c| c.host == "a.test").unwrap();
    store
        .complete(
            &[done(a, Outcome::Delivered, HostEvent::Answered)],
            &policy(),
            at(1),
        )
        .await
        .unwrap();
    let next = store.claim(&claim_at(at(1), 10, 2)).await.unwrap();
    assert_eq!(next.len(), 1);
    // The global limit too.
    assert!(
        store
            .claim(&claim_at(at(1), 0, 2))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Enqueues, at 0, one activity for `on_a` inboxes on a.test and one for an inbox on b.test.
async fn enqueue_on_a_and_b(store: &impl Store, on_a: usize) {
    let inboxes: Vec<String> = (0..on_a).map(|i| format!("/u{i}")).collect();
    let on_a: Vec<(&str, &str)> = inboxes.iter().map(|p| ("a.test", p.as_str())).collect();
    store
        .enqueue(
            &[
                activity("{}", &on_a),
                activity("{}", &[("b.test", "/inbox")]),
            ],
            at(0),
        )
        .await
        .unwrap();
}

/// A worker's refill: the outcomes are recorded before the claim is planned, so a slot that a
/// completion frees is claimable in the same call, and breaker changes are reported.
async fn complete_and_claim_in_one_step(store: &impl Store) {
    enqueue_on_a_and_b(store, 3).await;
    let first = store.claim(&claim_at(at(0), 10, 2)).await.unwrap();
    assert_eq!(first.len(), 3);
    let a = first.iter().find(|c| c.host == "a.test").unwrap();
    let b = first.iter().find(|c| c.host == "b.test").unwrap();
    let failed = |claim: &ClaimedDelivery, secs: u64| {
        done(
            claim,
            Outcome::Retry {
                at: at(secs),
                error: "status 503".into(),
            },
            HostEvent::Failed { until: None },
        )
    };
    let outcomes = [
        done(a, Outcome::Delivered, HostEvent::Answered),
        failed(b, 5),
    ];
    let (changes, claims) = store
        .complete_and_claim(&outcomes, &policy(), &claim_at(at(1), 10, 2))
        .await
        .unwrap();
    assert!(
        changes.is_empty(),
        "one failure opened a breaker: {changes:?}"
    );
    // Only the third delivery to a.test: the slot the completion freed; b.test waits.
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].host, "a.test");
    assert!(first.iter().all(|c| c.id != claims[0].id));
    let counts = store.counts(at(1)).await.unwrap();
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (1, 2, 0));
    // The same outcomes again (their claims are gone) and no room to claim: nothing changes.
    let (changes, claims) = store
        .complete_and_claim(&outcomes, &policy(), &claim_at(at(2), 0, 2))
        .await
        .unwrap();
    assert!(changes.is_empty() && claims.is_empty());
    assert_eq!(store.counts(at(2)).await.unwrap(), counts);
    // b.test's retry: claimed with nothing to record, fails again, and its breaker opens
    // (threshold 2) in the call that records it.
    let (_, retried) = store
        .complete_and_claim(&[], &policy(), &claim_at(at(5), 10, 2))
        .await
        .unwrap();
    let b = retried.iter().find(|c| c.host == "b.test").unwrap();
    let (changes, _) = store
        .complete_and_claim(&[failed(b, 50)], &policy(), &claim_at(at(6), 10, 2))
        .await
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].host, "b.test");
    assert_eq!(changes[0].to, BreakerState::Open);
}

async fn ordering_key_keeps_order(store: &impl Store) {
    let ordered = |body: &str| {
        activity(body, &[("a.test", "/inbox"), ("b.test", "/inbox")])
            .with_ordering_key("https://origin.test/notes/1")
    };
    store
        .enqueue(&[ordered("create"), ordered("update")], at(0))
        .await
        .unwrap();
    store.enqueue(&[ordered("delete")], at(1)).await.unwrap();
    // One per host: the Create.
    let claims = store.claim(&claim_at(at(5), 10, 10)).await.unwrap();
    assert_eq!(claims.len(), 2);
    assert!(claims.iter().all(|c| &c.body[..] == b"create"));
    let (a, b) = (&claims[0], &claims[1]);
    // a.test's Create fails and waits: its Update must wait too. b.test moves on.
    let retry = Outcome::Retry {
        at: at(100),
        error: "status 502".into(),
    };
    store
        .complete(
            &[
                done(a, retry, HostEvent::Failed { until: None }),
                done(b, Outcome::Delivered, HostEvent::Answered),
            ],
            &policy(),
            at(6),
        )
        .await
        .unwrap();
    let claims = store.claim(&claim_at(at(7), 10, 10)).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(
        (claims[0].host.as_str(), &claims[0].body[..]),
        ("b.test", &b"update"[..])
    );
    store
        .complete(
            &[done(&claims[0], Outcome::Delivered, HostEvent::Answered)],
            &policy(),
            at(8),
        )
        .await
        .unwrap();
    let claims = store.claim(&claim_at(at(100), 10, 10)).await.unwrap();
    let mut got: Vec<(String, Vec<u8>)> = claims
        .iter()
        .map(|c| (c.host.clone(), c.body.to_vec()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a.test".to_owned(), b"create".to_vec()),
            ("b.test".to_owned(), b"delete".to_vec())
        ]
    );
    // A dead letter does not block the key.
    let a = claims.iter().find(|c| c.host == "a.test").unwrap();
    let dead = Outcome::Dead {
        reason: DeadReason::Rejected { status: 400 },
        error: "status 400".into(),
    };
    store
        .complete(&[done(a, dead, HostEvent::Answered)], &policy(), at(101))
        .await
        .unwrap();
    let claims = store.claim(&claim_at(at(101), 10, 10)).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(&claims[0].body[..], b"update");
}

async fn breaker_opens_probes_and_closes(store: &impl Store) {
    enqueue_on_a_and_b(store, 4).await;
    let claims = store.claim(&claim_at(at(0), 10, 2)).await.unwrap();
    let failing: Vec<_> = claims.iter().filter(|c| c.host == "a.test").collect();
    assert_eq!(failing.len(), 2);
    let completions: Vec<_> = failing
        .iter()
        .map(|c| {
            let retry = Outcome::Retry {
                at: at(1),
                error: "connection refused".into(),
            };
            done(c, retry, HostEvent::Failed { until: None })
        })
        .collect();
    let changes = store
        .complete(&completions, &policy(), at(1))
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].to, BreakerState::Open);
    let host = store
        .hosts()
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.host == "a.test")
        .unwrap();
    assert_eq!(host.breaker, BreakerState::Open);
    assert_eq!(host.consecutive_failures, 2);
    assert_eq!(host.blocked_until, Some(at(11)));
    // While open nothing is claimed for a.test, and nothing burns an attempt.
    assert!(
        store
            .claim(&claim_at(at(5), 10, 2))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim(&claim_at(at(10), 10, 2))
            .await
            .unwrap()
            .is_empty()
    );
    // After the pause: exactly one probe.
    let probe = store.claim(&claim_at(at(11), 10, 2)).await.unwrap();
    assert_eq!(probe.len(), 1);
    assert!(probe[0].probe);
    let host = store
        .hosts()
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.host == "a.test")
        .unwrap();
    assert_eq!(host.breaker, BreakerState::HalfOpen);
    assert!(
        store
            .claim(&claim_at(at(12), 10, 2))
            .await
            .unwrap()
            .is_empty()
    );
    // The probe answers: closed, and the waiting deliveries are due at once, with the
    // attempts they had.
    let changes = store
        .complete(
            &[done(&probe[0], Outcome::Delivered, HostEvent::Answered)],
            &policy(),
            at(13),
        )
        .await
        .unwrap();
    assert_eq!(changes[0].to, BreakerState::Closed);
    let rest = store.claim(&claim_at(at(13), 10, 10)).await.unwrap();
    assert_eq!(rest.len(), 3);
    let never_tried: Vec<_> = rest.iter().filter(|c| c.attempts == 1).collect();
    assert_eq!(never_tried.len(), 2);
}

async fn throttling_pauses_the_host(store: &impl Store) {
    store
        .enqueue(
            &[activity("{}", &[("a.test", "/1"), ("a.test", "/2")])],
            at(0),
        )
        .await
        .unwrap();
    let claims = store.claim(&claim_at(at(0), 1, 10)).await.unwrap();
    let retry = Outcome::Retry {
        at: at(120),
        error: "status 429".into(),
    };
    store
        .complete(
            &[done(
                &claims[0],
                retry,
                HostEvent::Throttled { until: at(120) },
            )],
            &policy(),
            at(1),
        )
        .await
        .unwrap();
    assert!(
        store
            .claim(&claim_at(at(119), 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.claim(&claim_at(at(120), 10, 10)).await.unwrap().len(),
        2
    );
}

async fn dead_letters_list_and_requeue(store: &impl Store) {
    store
        .enqueue(
            &[activity("{}", &[("a.test", "/1"), ("b.test", "/2")])],
            at(0),
        )
        .await
        .unwrap();
    let claims = store.claim(&claim_at(at(0), 10, 10)).await.unwrap();
    let completions: Vec<_> = claims
        .iter()
        .map(|c| {
            let dead = Outcome::Dead {
                reason: DeadReason::Rejected { status: 403 },
                error: "status 403".into(),
            };
            done(c, dead, HostEvent::Answered)
        })
        .collect();
    store
        .complete(&completions, &policy(), at(2))
        .await
        .unwrap();
    let dead = store.dead_letters(None, 10).await.unwrap();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].reason, DeadReason::Rejected { status: 403 });
    assert_eq!(dead[0].died_at, at(2));
    assert_eq!(dead[0].last_error.as_deref(), Some("status 403"));
    assert_eq!(dead[0].key_ref, "alice");
    assert_eq!(
        store
            .dead_letters(Some(dead[0].id), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.counts(at(2)).await.unwrap().dead, 2);
    assert!(
        store
            .claim(&claim_at(at(3), 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .requeue(&Requeue::Host("a.test".into()), at(4))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .requeue(&Requeue::Ids(vec![DeliveryId(-5)]), at(4))
            .await
            .unwrap(),
        0
    );
    let again = store.claim(&claim_at(at(4), 10, 10)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].enqueued_at, at(4));
    assert_eq!(store.requeue(&Requeue::All, at(5)).await.unwrap(), 1);
    // Purging dead letters.
    let claims = store.claim(&claim_at(at(5), 10, 10)).await.unwrap();
    let dead = Outcome::Dead {
        reason: DeadReason::MaxAttempts,
        error: "status 500".into(),
    };
    store
        .complete(
            &[done(&claims[0], dead, HostEvent::Nothing)],
            &policy(),
            at(6),
        )
        .await
        .unwrap();
    assert_eq!(store.purge_dead(at(7)).await.unwrap(), 1);
    assert!(store.dead_letters(None, 10).await.unwrap().is_empty());
}

async fn old_deliveries_expire(store: &impl Store) {
    store
        .enqueue(&[activity("{}", &[("a.test", "/1")])], at(0))
        .await
        .unwrap();
    store
        .enqueue(&[activity("{}", &[("a.test", "/2")])], at(100))
        .await
        .unwrap();
    assert_eq!(store.expire(at(50), at(200)).await.unwrap(), 1);
    let dead = store.dead_letters(None, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, DeadReason::Expired);
    assert_eq!(dead[0].inbox, "https://a.test/1");
}

async fn host_can_be_marked_available(store: &impl Store) {
    store
        .enqueue(
            &[activity("{}", &[("a.test", "/1"), ("a.test", "/2")])],
            at(0),
        )
        .await
        .unwrap();
    // Two failures in a row open the breaker.
    for now in 1..=2 {
        let claims = store.claim(&claim_at(at(now - 1), 1, 10)).await.unwrap();
        let failed = Outcome::Retry {
            at: at(now),
            error: "timed out".into(),
        };
        store
            .complete(
                &[done(&claims[0], failed, HostEvent::Failed { until: None })],
                &policy(),
                at(now),
            )
            .await
            .unwrap();
    }
    assert!(
        store
            .claim(&claim_at(at(3), 10, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.mark_host_available("a.test", at(3)).await.unwrap());
    assert!(
        !store
            .mark_host_available("nowhere.test", at(3))
            .await
            .unwrap()
    );
    let host = &store.hosts().await.unwrap()[0];
    assert_eq!(host.breaker, BreakerState::Closed);
    assert_eq!(
        store.claim(&claim_at(at(3), 10, 10)).await.unwrap().len(),
        2
    );
}

/// Two handles on one store (two workers, in one process or two) claiming at the same moment,
/// round after round: no delivery is ever claimed by both, and per-host limits hold across
/// them. For stores that serve several workers; `a` and `b` must start empty.
pub async fn concurrent_claims_never_overlap<S: Store>(a: &S, b: &S) {
    let inboxes: Vec<String> = (0..200).map(|i| format!("/u{i}")).collect();
    let batch: Vec<NewActivity> = (0..10)
        .map(|h| {
            let host = format!("h{h}.test");
            let list: Vec<(&str, &str)> = inboxes[h * 20..h * 20 + 20]
                .iter()
                .map(|p| (Box::leak(host.clone().into_boxed_str()) as &str, p.as_str()))
                .collect();
            activity("{}", &list)
        })
        .collect();
    a.enqueue(&batch, at(0)).await.unwrap();
    let mut seen = std::collections::HashSet::new();
    loop {
        let request = claim_at(at(0), 17, 3);
        let (x, y) = tokio::join!(a.claim(&request), b.claim(&request));
        let (x, y) = (x.unwrap(), y.unwrap());
        if x.is_empty() && y.is_empty() {
            break;
        }
        // Per-host limits hold across both workers.
        let mut per_host = std::collections::HashMap::new();
        for claim in x.iter().chain(&y) {
            assert!(seen.insert(claim.id), "claimed twice: {}", claim.id);
            *per_host.entry(claim.host.clone()).or_insert(0) += 1;
        }
        assert!(per_host.values().all(|n| *n <= 3), "{per_host:?}");
        let completions: Vec<_> = x
            .iter()
            .map(|c| done(c, Outcome::Delivered, HostEvent::Answered))
            .collect();
        a.complete(&completions, &policy(), at(0)).await.unwrap();
        let completions: Vec<_> = y
            .iter()
            .map(|c| done(c, Outcome::Delivered, HostEvent::Answered))
            .collect();
        b.complete(&completions, &policy(), at(0)).await.unwrap();
    }
    assert_eq!(seen.len(), 200);
}
