//! The conformance suite every [`Store`] passes, for stores of your own.
//!
//! [`suite`] runs each check on a fresh store, passing time by hand (nothing sleeps): claims,
//! leases, retries, per-host limits, ordering keys, breakers and probes, `Retry-After`, dead
//! letters, expiry, stale completions, [`Store::complete_and_claim`], and the group commit of
//! [`Queue::enqueue`](crate::Queue::enqueue) over the store ([`group_commit`]).
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
use std::sync::Arc;
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
    one_at_a_time_matches_a_batch(&make("one_by_one").await, &make("as_batch").await).await;
    retries_wait_their_turn(&make("retries").await).await;
    lapsed_leases_come_back(&make("leases").await).await;
    mixed_batches_and_stale_claims(&make("mixed").await).await;
    per_host_limit_holds(&make("per_host").await).await;
    complete_and_claim_in_one_step(&make("refill").await).await;
    refill_claims_what_its_completions_free(&make("refill_frees").await).await;
    ordering_key_keeps_order(&make("ordering").await).await;
    breaker_opens_probes_and_closes(&make("breaker").await).await;
    throttling_pauses_the_host(&make("throttle").await).await;
    dead_letters_list_and_requeue(&make("dead").await).await;
    old_deliveries_expire(&make("expire").await).await;
    host_can_be_marked_available(&make("available").await).await;
    group_commit(make("group").await).await;
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

/// Activities enqueued one at a time (a call each, as a lone
/// [`Queue::enqueue`](crate::Queue::enqueue) reaches the store) are stored exactly as the same
/// activities enqueued in one call: the same deliveries in the same order, with the same bodies
/// (any bytes, empty too), key references, ordering keys, hosts and times. A store may write an
/// activity with one delivery by a path of its own (the SQLite store does); this holds that
/// path to the batch's.
async fn one_at_a_time_matches_a_batch<S: Store>(one_by_one: &S, batch: &S) {
    let binary: Vec<u8> = (0..=255u8).chain([0, b'"', b'\\', 0xff]).collect();
    let activities = [
        NewActivity::new(binary, "alice")
            .with_delivery(NewDelivery::new("https://a.test/in", "a.test")),
        activity("", &[("b.test", "/inbox")]),
        activity(r#"{"n":1}"#, &[("c.test", "/inbox")]).with_ordering_key("obj"),
        // Held behind the one before (same ordering key and host) until it is delivered.
        activity(r#"{"n":2}"#, &[("c.test", "/inbox")]).with_ordering_key("obj"),
        activity("{}", &[]),
        activity(r#"{"n":3}"#, &[("a.test", "/x"), ("d.test", "/y")]),
        NewActivity::new("{\"k\":\"\u{e9}\"}", "bob")
            .with_ordering_key("other")
            .with_delivery(NewDelivery::new("https://e.test:8443/inbox", "e.test:8443")),
    ];
    let mut ids_one = Vec::new();
    for activity in &activities {
        let ids = one_by_one
            .enqueue(std::slice::from_ref(activity), at(0))
            .await
            .unwrap();
        assert_eq!(ids.len(), activity.deliveries.len());
        ids_one.extend(ids);
    }
    let ids_batch = batch.enqueue(&activities, at(0)).await.unwrap();
    assert_eq!(ids_one.len(), 7);
    assert_eq!(ids_batch.len(), 7);
    for ids in [&ids_one, &ids_batch] {
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }
    type Row = (String, String, String, Vec<u8>, u32, SystemTime);
    let rows = |claims: &[ClaimedDelivery], ids: &[DeliveryId]| -> Vec<Row> {
        let mut claims: Vec<&ClaimedDelivery> = claims.iter().collect();
        claims.sort_by_key(|c| c.id);
        // Claimed oldest first: the ids the enqueues returned, in their order.
        let claimed: Vec<DeliveryId> = claims.iter().map(|c| c.id).collect();
        let mut expected = ids.to_vec();
        expected.retain(|id| claimed.contains(id));
        assert_eq!(claimed, expected);
        claims
            .iter()
            .map(|c| {
                (
                    c.inbox.clone(),
                    c.host.clone(),
                    c.key_ref.clone(),
                    c.body.to_vec(),
                    c.attempts,
                    c.enqueued_at,
                )
            })
            .collect()
    };
    let claims_one = one_by_one.claim(&claim_at(at(0), 100, 100)).await.unwrap();
    let claims_batch = batch.claim(&claim_at(at(0), 100, 100)).await.unwrap();
    let first = rows(&claims_one, &ids_one);
    assert_eq!(first, rows(&claims_batch, &ids_batch));
    assert_eq!(first.len(), 6, "all but the second of the ordering key");
    assert!(!first.iter().any(|row| row.3 == br#"{"n":2}"#));
    assert_eq!(&first[1].3[..], b"");
    // Once the first of the ordering key is delivered, the second comes, in both.
    let mut second = Vec::new();
    for (store, claims, ids) in [
        (one_by_one, &claims_one, &ids_one),
        (batch, &claims_batch, &ids_batch),
    ] {
        let n1 = claims
            .iter()
            .find(|c| &c.body[..] == br#"{"n":1}"#)
            .unwrap();
        store
            .complete(
                &[done(n1, Outcome::Delivered, HostEvent::Answered)],
                &policy(),
                at(1),
            )
            .await
            .unwrap();
        let next = store.claim(&claim_at(at(1), 100, 100)).await.unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].id, ids[3]);
        second.push(rows(&next, ids));
        let mut hosts: Vec<String> = store
            .hosts()
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.host)
            .collect();
        hosts.sort();
        assert_eq!(
            hosts,
            ["a.test", "b.test", "c.test", "d.test", "e.test:8443"]
        );
        let counts = store.counts(at(1)).await.unwrap();
        assert_eq!((counts.pending, counts.in_flight), (0, 6));
    }
    assert_eq!(second[0], second[1]);
    assert_eq!(&second[0][0].3[..], br#"{"n":2}"#);
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
    // A host's own limit (the worker's adaptive cap) replaces the common one: c.test may
    // have 4 in flight, d.test 1, the others 2.
    let mut batch = Vec::new();
    for host in ["c.test", "d.test", "e.test"] {
        let inboxes: Vec<String> = (0..6).map(|i| format!("/u{i}")).collect();
        let inboxes: Vec<(&str, &str)> = inboxes.iter().map(|p| (host, p.as_str())).collect();
        batch.push(activity("{}", &inboxes));
    }
    store.enqueue(&batch, at(2)).await.unwrap();
    let request = claim_at(at(2), 100, 2).with_host_limits(
        [("c.test".to_owned(), 4), ("d.test".to_owned(), 1)]
            .into_iter()
            .collect(),
    );
    let claims = store.claim(&request).await.unwrap();
    let on = |host: &str| claims.iter().filter(|c| c.host == host).count();
    assert_eq!((on("c.test"), on("d.test"), on("e.test")), (4, 1, 2));
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

/// A refill records its outcomes before it plans its claim, in the one call: it claims the
/// next delivery of an ordering key whose delivery it finished (and not the one after, while
/// the next waits for its retry), and the deliveries of a host whose breaker it closes.
async fn refill_claims_what_its_completions_free(store: &impl Store) {
    let ordered = |body: &str| {
        activity(body, &[("a.test", "/inbox")]).with_ordering_key("https://origin.test/notes/1")
    };
    store
        .enqueue(
            &[ordered("create"), ordered("update"), ordered("delete")],
            at(0),
        )
        .await
        .unwrap();
    let create = store.claim(&claim_at(at(0), 10, 10)).await.unwrap();
    assert_eq!(create.len(), 1);
    assert_eq!(&create[0].body[..], b"create");
    let (changes, update) = store
        .complete_and_claim(
            &[done(&create[0], Outcome::Delivered, HostEvent::Answered)],
            &policy(),
            &claim_at(at(1), 10, 10),
        )
        .await
        .unwrap();
    assert!(changes.is_empty(), "{changes:?}");
    assert_eq!(
        update.len(),
        1,
        "the Update is next once the Create is done"
    );
    assert_eq!(&update[0].body[..], b"update");
    // The Update fails and waits for its retry, and the Delete waits behind it.
    let retry = Outcome::Retry {
        at: at(30),
        error: "status 503".into(),
    };
    let (_, none) = store
        .complete_and_claim(
            &[done(&update[0], retry, HostEvent::Nothing)],
            &policy(),
            &claim_at(at(2), 10, 10),
        )
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    let counts = store.counts(at(2)).await.unwrap();
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (2, 0, 0));
    let again = store.claim(&claim_at(at(30), 10, 10)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((&again[0].body[..], again[0].attempts), (&b"update"[..], 2));
    assert!(store.dead_letters(None, 10).await.unwrap().is_empty());
    let (_, delete) = store
        .complete_and_claim(
            &[done(&again[0], Outcome::Delivered, HostEvent::Answered)],
            &policy(),
            &claim_at(at(31), 10, 10),
        )
        .await
        .unwrap();
    assert_eq!(delete.len(), 1);
    assert_eq!(&delete[0].body[..], b"delete");

    // b.test fails twice in one batch: its breaker opens in the refill that records it, which
    // claims nothing of it.
    let inboxes = [("b.test", "/1"), ("b.test", "/2"), ("b.test", "/3")];
    store
        .enqueue(&[activity("{}", &inboxes)], at(40))
        .await
        .unwrap();
    let two = store.claim(&claim_at(at(40), 2, 10)).await.unwrap();
    assert_eq!(two.len(), 2);
    let failed: Vec<_> = two
        .iter()
        .map(|c| {
            let retry = Outcome::Retry {
                at: at(41),
                error: "connection refused".into(),
            };
            done(c, retry, HostEvent::Failed { until: None })
        })
        .collect();
    let (changes, claims) = store
        .complete_and_claim(&failed, &policy(), &claim_at(at(41), 10, 10))
        .await
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].to, BreakerState::Open);
    assert!(claims.is_empty(), "claimed on an open breaker: {claims:?}");
    // The probe after the pause; its success closes the breaker, and the same refill claims
    // the host's other deliveries, which the probe had pushed to the end of its lease.
    let probe = store.claim(&claim_at(at(51), 10, 10)).await.unwrap();
    assert_eq!(probe.len(), 1);
    assert!(probe[0].probe);
    let (changes, rest) = store
        .complete_and_claim(
            &[done(&probe[0], Outcome::Delivered, HostEvent::Answered)],
            &policy(),
            &claim_at(at(52), 10, 10),
        )
        .await
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].to, BreakerState::Closed);
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert!(rest.iter().all(|c| c.host == "b.test" && !c.probe));
    let counts = store.counts(at(52)).await.unwrap();
    assert_eq!((counts.pending, counts.in_flight, counts.dead), (0, 3, 0));
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

/// [`Queue::enqueue`](crate::Queue::enqueue)'s group commit over `store` (a fresh, empty
/// one): concurrent enqueues that arrive while another is written go into the store together,
/// in one [`Store::enqueue`] call, and each caller gets its own ids and rows; a failure of that
/// call reaches every caller in it and stores none of them; a caller that stops waiting does
/// not lose or mix up the others; ordering keys hold across the callers of one group. A store
/// between the queue and `store` holds the first write back, so that the next callers gather
/// behind it (nothing sleeps: the callers are polled once each, in one task).
pub async fn group_commit<S: Store>(store: S) {
    use crate::{Enqueue, EnqueueError, ManualClock, Queue, QueueConfig, Recipient, StaticKeys};

    let gate = Arc::new(Gate::default());
    let queue = Queue::with_clock(
        Gated {
            inner: store,
            gate: Arc::clone(&gate),
        },
        NoTransport,
        StaticKeys::new(),
        ManualClock::new(at(0)),
        QueueConfig::new(),
    );
    let item = |body: &str, host: &str, inboxes: &[&str]| {
        Enqueue::new(body.to_owned(), "alice").with_recipients(
            inboxes
                .iter()
                .map(|path| Recipient::new(format!("https://{host}{path}").parse().unwrap())),
        )
    };

    // A lone enqueue is written on its own, at once.
    let lone = queue
        .enqueue(item("lone", "lone.test", &["/inbox"]))
        .await
        .unwrap();
    assert_eq!(lone.len(), 1);
    assert_eq!(gate.calls(), vec![1]);

    // Concurrent enqueues that arrive during a write are written together, each getting its
    // own ids and rows.
    let (first, blocker) =
        hold_behind(&queue, &gate, item("first", "group.test", &["/first"])).await;
    let callers: Vec<_> = (0..16)
        .map(|i| {
            let queue = queue.clone();
            let item = item(
                &format!("caller {i}"),
                "group.test",
                &[&format!("/{i}/a"), &format!("/{i}/b")],
            );
            Box::pin(async move { queue.enqueue(item).await })
        })
        .collect();
    let results = poll_once_then_release(callers, &first).await;
    assert_eq!(blocker.await.unwrap().unwrap().len(), 1);
    assert_eq!(
        gate.calls(),
        vec![1, 1, 16],
        "the 16 callers share one transaction"
    );
    let mut all = Vec::new();
    for result in &results {
        let ids = result.as_ref().unwrap();
        assert_eq!(ids.len(), 2);
        assert!(ids[0] < ids[1]);
        all.extend(ids.iter().copied());
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 32, "no id handed out twice");
    let store = &queue.store().inner;
    assert_eq!(store.counts(at(0)).await.unwrap().pending, 34);
    let claims = store.claim(&claim_at(at(0), 100, 100)).await.unwrap();
    assert_eq!(claims.len(), 34);
    for (i, result) in results.iter().enumerate() {
        let ids = result.as_ref().unwrap();
        for (id, path) in ids.iter().zip(["a", "b"]) {
            let claim = claims.iter().find(|c| c.id == *id).unwrap();
            assert_eq!(&claim.body[..], format!("caller {i}").as_bytes());
            assert_eq!(claim.inbox, format!("https://group.test/{i}/{path}"));
        }
    }
    deliver_all(store, &claims, at(0)).await;

    // A failure of the group's transaction reaches every caller in it, and stores none.
    let (first, blocker) =
        hold_behind(&queue, &gate, item("first", "fail.test", &["/first"])).await;
    gate.fail_next();
    let callers: Vec<_> = (0..3)
        .map(|i| {
            let queue = queue.clone();
            let item = item(&format!("doomed {i}"), "fail.test", &["/inbox"]);
            Box::pin(async move { queue.enqueue(item).await })
        })
        .collect();
    let results = poll_once_then_release(callers, &first).await;
    assert!(blocker.await.unwrap().is_ok());
    for result in results {
        assert!(
            matches!(result, Err(EnqueueError::Group { .. })),
            "every caller of the failed transaction gets an error: {result:?}"
        );
    }
    let counts = store.counts(at(0)).await.unwrap();
    assert_eq!(
        counts.pending, 1,
        "only the first caller's delivery is stored"
    );
    let claims = store.claim(&claim_at(at(0), 100, 100)).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(&claims[0].body[..], b"first");
    deliver_all(store, std::slice::from_ref(&claims[0]), at(0)).await;
    // The next enqueue is written as usual.
    let after = queue
        .enqueue(item("after", "fail.test", &["/inbox"]))
        .await
        .unwrap();
    let claims = store.claim(&claim_at(at(0), 100, 100)).await.unwrap();
    assert_eq!(claims.iter().map(|c| c.id).collect::<Vec<_>>(), after);
    deliver_all(store, std::slice::from_ref(&claims[0]), at(0)).await;

    // A caller that stops waiting (its future dropped, or its task aborted) neither loses nor
    // mixes up the others; ordering keys hold across the callers of one group.
    let (first, blocker) = hold_behind(
        &queue,
        &gate,
        item("first", "order.test", &["/first"]).with_ordering_key("note"),
    )
    .await;
    let mut callers: Vec<_> = ["create", "update", "delete"]
        .into_iter()
        .map(|body| {
            let queue = queue.clone();
            let item = item(body, "order.test", &["/inbox"]).with_ordering_key("note");
            Box::pin(async move { queue.enqueue(item).await })
        })
        .collect();
    poll_once(&mut callers).await;
    // The caller of the write under way, and one of the group waiting, stop waiting.
    blocker.abort();
    drop(callers.remove(1));
    first.release();
    let mut ids = Vec::new();
    for caller in callers {
        ids.push(caller.await.unwrap());
    }
    assert_eq!(ids.len(), 2);
    // Whatever became of the callers that stopped waiting, the others' rows are whole, and
    // ordering holds: the oldest unfinished delivery of the key goes first, one at a time.
    let mut order = Vec::new();
    let mut now = 1;
    loop {
        let claims = store.claim(&claim_at(at(now), 100, 100)).await.unwrap();
        if claims.is_empty() {
            break;
        }
        assert_eq!(
            claims.len(),
            1,
            "one delivery of the ordering key at a time"
        );
        order.push((
            claims[0].id,
            String::from_utf8_lossy(&claims[0].body).into_owned(),
        ));
        deliver_all(store, std::slice::from_ref(&claims[0]), at(now)).await;
        now += 1;
    }
    let bodies: Vec<&str> = order.iter().map(|(_, body)| body.as_str()).collect();
    let expected: Vec<&str> = ["first", "create", "update", "delete"]
        .into_iter()
        .filter(|body| bodies.contains(body))
        .collect();
    assert_eq!(bodies, expected, "enqueue order, across the group");
    assert!(bodies.contains(&"create") && bodies.contains(&"delete"));
    assert_eq!(
        order.iter().find(|(_, b)| b == "create").unwrap().0,
        ids[0][0]
    );
    assert_eq!(
        order.iter().find(|(_, b)| b == "delete").unwrap().0,
        ids[1][0]
    );
}

/// Records `claims` as delivered at `now`.
async fn deliver_all(store: &impl Store, claims: &[ClaimedDelivery], now: SystemTime) {
    let delivered: Vec<_> = claims
        .iter()
        .map(|c| done(c, Outcome::Delivered, HostEvent::Answered))
        .collect();
    store.complete(&delivered, &policy(), now).await.unwrap();
}

/// Starts an enqueue of `item` in a task of its own, and waits until its write is held back
/// by `gate` (the enqueues that come next gather behind it).
async fn hold_behind<S: Store>(
    queue: &crate::Queue<Gated<S>, NoTransport, crate::StaticKeys, crate::ManualClock>,
    gate: &Gate,
    item: crate::Enqueue,
) -> (
    Arc<Held>,
    tokio::task::JoinHandle<Result<Vec<crate::DeliveryId>, crate::EnqueueError>>,
) {
    let held = gate.hold_next();
    let blocker = tokio::spawn({
        let queue = queue.clone();
        async move { queue.enqueue(item).await }
    });
    held.entered().await;
    (held, blocker)
}

/// Polls each of `callers` once: each joins the group waiting behind a held write.
async fn poll_once<F: Future>(callers: &mut [std::pin::Pin<Box<F>>]) {
    std::future::poll_fn(|cx| {
        for caller in callers.iter_mut() {
            assert!(caller.as_mut().poll(cx).is_pending());
        }
        std::task::Poll::Ready(())
    })
    .await;
}

/// Polls each of `callers` once (each joins the group waiting behind the held write), lets
/// the held write go on, and waits for all of them.
async fn poll_once_then_release<F, T>(
    mut callers: Vec<std::pin::Pin<Box<F>>>,
    held: &Held,
) -> Vec<T>
where
    F: Future<Output = T>,
{
    poll_once(&mut callers).await;
    held.release();
    let mut results = Vec::with_capacity(callers.len());
    for caller in callers {
        results.push(caller.await);
    }
    results
}

/// What the store between the queue and the store under test does to the next
/// [`Store::enqueue`] calls, and what it saw.
#[derive(Default)]
struct Gate {
    state: std::sync::Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    /// The number of activities of each `enqueue` call.
    calls: Vec<usize>,
    /// The next call waits for this to be released, after saying it entered.
    hold: Option<Arc<Held>>,
    /// The next call fails.
    fail: bool,
}

/// A write held back.
struct Held {
    entered: tokio::sync::Semaphore,
    released: tokio::sync::Semaphore,
}

impl Default for Held {
    fn default() -> Self {
        Self {
            entered: tokio::sync::Semaphore::new(0),
            released: tokio::sync::Semaphore::new(0),
        }
    }
}

impl Held {
    async fn entered(&self) {
        self.entered.acquire().await.unwrap().forget();
    }

    fn release(&self) {
        self.released.add_permits(1);
    }
}

impl Gate {
    fn calls(&self) -> Vec<usize> {
        self.state.lock().unwrap().calls.clone()
    }

    fn hold_next(&self) -> Arc<Held> {
        let held = Arc::new(Held::default());
        self.state.lock().unwrap().hold = Some(Arc::clone(&held));
        held
    }

    fn fail_next(&self) {
        self.state.lock().unwrap().fail = true;
    }
}

/// A store that lets [`Gate`] hold back or fail its `enqueue` calls, and passes everything to
/// `inner`.
struct Gated<S> {
    inner: S,
    gate: Arc<Gate>,
}

impl<S: Store> Store for Gated<S> {
    async fn enqueue(
        &self,
        activities: &[NewActivity],
        now: SystemTime,
    ) -> Result<Vec<crate::DeliveryId>, crate::StoreError> {
        let (hold, fail) = {
            let mut state = self.gate.state.lock().unwrap();
            state.calls.push(activities.len());
            // A write held back fails if asked, once let go.
            let hold = state.hold.take();
            let fail = hold.is_none() && std::mem::take(&mut state.fail);
            (hold, fail)
        };
        if let Some(held) = hold {
            held.entered.add_permits(1);
            held.released.acquire().await.unwrap().forget();
        }
        if fail {
            return Err(crate::StoreError::Database {
                operation: "a write the conformance suite makes fail",
                source: sqlx::Error::Protocol("failed on purpose".into()),
            });
        }
        self.inner.enqueue(activities, now).await
    }

    async fn claim(
        &self,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimedDelivery>, crate::StoreError> {
        self.inner.claim(request).await
    }

    async fn complete(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        now: SystemTime,
    ) -> Result<Vec<crate::HostChange>, crate::StoreError> {
        self.inner.complete(completions, policy, now).await
    }

    async fn complete_and_claim(
        &self,
        completions: &[Completion],
        policy: &BreakerPolicy,
        request: &ClaimRequest,
    ) -> Result<(Vec<crate::HostChange>, Vec<ClaimedDelivery>), crate::StoreError> {
        self.inner
            .complete_and_claim(completions, policy, request)
            .await
    }

    async fn expire(&self, cutoff: SystemTime, now: SystemTime) -> Result<u64, crate::StoreError> {
        self.inner.expire(cutoff, now).await
    }

    async fn dead_letters(
        &self,
        after: Option<crate::DeliveryId>,
        limit: usize,
    ) -> Result<Vec<crate::DeadLetter>, crate::StoreError> {
        self.inner.dead_letters(after, limit).await
    }

    async fn requeue(&self, which: &Requeue, now: SystemTime) -> Result<u64, crate::StoreError> {
        self.inner.requeue(which, now).await
    }

    async fn purge_dead(&self, cutoff: SystemTime) -> Result<u64, crate::StoreError> {
        self.inner.purge_dead(cutoff).await
    }

    async fn hosts(&self) -> Result<Vec<crate::HostState>, crate::StoreError> {
        self.inner.hosts().await
    }

    async fn mark_host_available(
        &self,
        host: &str,
        now: SystemTime,
    ) -> Result<bool, crate::StoreError> {
        self.inner.mark_host_available(host, now).await
    }

    async fn counts(&self, now: SystemTime) -> Result<crate::QueueCounts, crate::StoreError> {
        self.inner.counts(now).await
    }
}

/// The suite runs no worker: nothing is sent.
struct NoTransport;

impl crate::Transport for NoTransport {
    async fn send(
        &self,
        _request: http::Request<bytes::Bytes>,
    ) -> Result<crate::TransportResponse, crate::TransportError> {
        Err(crate::TransportError::Protocol {
            source: "the conformance suite sends nothing".into(),
        })
    }
}
